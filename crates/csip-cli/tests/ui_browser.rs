//! The `/ui/` pages of `csip serve` in a real browser (issue 19): Debian's
//! `chromium`, headless, driven through `chromedriver` with fantoccini.
//!
//! One scenario, in order: a CSM logs in and sees Gard AS in the right group
//! of the Command Center; a metric of Gard's changes through the REST API and
//! the open page's card shows the new score without a reload (Server-Sent
//! Events); on the Strategic Alignment Board the CSM moves an objective with
//! its keyboard-reachable form, and drags another, and both are audited
//! under the CSM's name; a viewer sees no edit forms and a forged POST is
//! refused. Screenshots of each page at desktop and phone widths are kept in
//! `target/ui-screenshots/` for people to look at.
//!
//! It fails, and does not skip, when `/usr/bin/chromium` or
//! `/usr/bin/chromedriver` is missing: `.ci/run` installs them
//! (`apt-get install chromium chromium-driver`).

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{Server, ops, pilot};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value as Json, json};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DESKTOP: (u32, u32) = (1440, 900);
const PHONE: (u32, u32) = (390, 844);
/// How long a live update may take to show (the issue asks for < 1 s; the
/// test allows more so that a slow CI machine does not make it flaky).
const LIVE: Duration = Duration::from_secs(5);
const STATUSES: [&str; 5] = [
    "Not Started",
    "In Progress",
    "On Track",
    "At Risk",
    "Achieved",
];

/// `chromedriver` on a free loopback port; on drop, the browser session is
/// ended and chromedriver's process group (chromedriver and the Chromium it
/// started) killed.
struct Driver {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    session: Option<String>,
}

impl Driver {
    fn start() -> Driver {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: this test needs Debian's chromium and chromium-driver \
                 (apt-get install -y --no-install-recommends chromium chromium-driver; .ci/run installs them)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("chromedriver.log");
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().unwrap();
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            session: None,
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = driver.child.try_wait().unwrap() {
                panic!("chromedriver exited ({status}): {}", driver.log());
            }
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send()
                && r.status().is_success()
                && r.json::<Json>().is_ok_and(|j| j["value"]["ready"] == true)
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver is not ready after 20 s: {}",
                driver.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    fn log(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// A new headless Chromium session, with a new empty profile and the
    /// flags that keep it off the network (the machine's network is closed:
    /// without them its background connections are refused, many at a time).
    async fn connect(&mut self) -> Client {
        let profile = self.dir.path().join("profile");
        std::fs::create_dir(&profile).unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
            },
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no Chromium session: {e}\n{}", self.log()));
        self.session = client.session_id().await.unwrap();
        client
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && let Ok(http) = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
        {
            let _ = http
                .delete(format!("{}/session/{session}", self.url))
                .send();
        }
        // chromedriver leads its own process group (process_group(0) above).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 100 ms until it gives `Some`, for at most `limit`.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            started.elapsed() < limit,
            "waited {limit:?} for {what} in vain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn js(c: &Client, script: &str, args: Vec<Json>) -> Json {
    c.execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn text_of(c: &Client, css: &str) -> Option<String> {
    c.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

/// Signs in at /ui/login with `token` and waits until the page has left the
/// login form.
async fn login(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/ui/login")).await.unwrap();
    let form = c.find(Locator::Css("form#login")).await.unwrap();
    assert_eq!(
        form.attr("action").await.unwrap().as_deref(),
        Some("/ui/login")
    );
    let input = form
        .find(Locator::Css("input[name=\"token\"][type=\"password\"]"))
        .await
        .unwrap();
    input.send_keys(token).await.unwrap();
    form.find(Locator::Css("button[type=\"submit\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the page after signing in", LIVE, || async {
        let p = path(c).await;
        (p != "/ui/login").then_some(())
    })
    .await;
}

/// Logs out through the header's form.
async fn logout(c: &Client) {
    c.find(Locator::Css("form#logout button"))
        .await
        .or(c.find(Locator::Css("form#logout [type=\"submit\"]")).await)
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the login page after logging out", LIVE, || async {
        (path(c).await == "/ui/login").then_some(())
    })
    .await;
}

/// Sizes the window so that the page's viewport is `width` × `height` CSS
/// pixels.
async fn viewport(c: &Client, width: u32, height: u32) {
    c.set_window_size(width, height).await.unwrap();
    let inner = js(c, "return [window.innerWidth, window.innerHeight]", vec![]).await;
    let (iw, ih) = (
        inner[0].as_u64().unwrap() as u32,
        inner[1].as_u64().unwrap() as u32,
    );
    if (iw, ih) != (width, height) {
        c.set_window_size(
            width + width.saturating_sub(iw),
            height + height.saturating_sub(ih),
        )
        .await
        .unwrap();
    }
    let inner = js(c, "return window.innerWidth", vec![]).await;
    assert_eq!(
        inner.as_u64(),
        Some(u64::from(width)),
        "the viewport is not {width} px wide"
    );
}

/// `target/ui-screenshots/` of the workspace, whatever CARGO_TARGET_DIR says.
fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots of the open page at desktop and phone widths, the whole page
/// (the window made as tall as the page, up to 6,000 px), as
/// `<name>-desktop.png` and `<name>-phone.png`.
async fn screenshots(c: &Client, name: &str) {
    let dir = screenshots_dir();
    for (label, (w, h)) in [("desktop", DESKTOP), ("phone", PHONE)] {
        viewport(c, w, h).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let tall = js(c, "return document.documentElement.scrollHeight", vec![])
            .await
            .as_u64()
            .unwrap_or(u64::from(h)) as u32;
        if tall > h {
            viewport(c, w, tall.min(6000)).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let png = c.screenshot().await.unwrap();
        let file = dir.join(format!("{name}-{label}.png"));
        std::fs::write(&file, png).unwrap();
        eprintln!("screenshot: {}", file.display());
    }
    viewport(c, DESKTOP.0, DESKTOP.1).await;
}

/// Every page has `<main id="main">`, a `<nav>` with links to the three
/// dashboards and an `<h1>`.
async fn check_frame(c: &Client) {
    assert_eq!(count(c, "main#main").await, 1, "no <main id=\"main\">");
    for href in ["/ui/command-center", "/ui/alignment", "/ui/platform-health"] {
        assert!(
            count(c, &format!("nav a[href^=\"{href}\"]")).await >= 1,
            "the <nav> has no link to {href}"
        );
    }
    assert!(
        text_of(c, "h1").await.is_some_and(|t| !t.trim().is_empty()),
        "no <h1>"
    );
}

/// Waits until the page's htmx SSE connection (the element with
/// `sse-connect`) is open, so that a change made next is sent to it.
async fn wait_for_live(c: &Client) {
    assert!(
        count(c, "[sse-connect]").await >= 1,
        "the page has no element with sse-connect"
    );
    wait_for("the page's event stream to open", LIVE, || async {
        let state = js(
            c,
            "const e = document.querySelector('[sse-connect]');
             const d = e && e['htmx-internal-data'];
             return d && d.sseEventSource ? d.sseEventSource.readyState : null",
            vec![],
        )
        .await;
        (state == json!(1)).then_some(())
    })
    .await;
}

/// Each objective card on the board and the status of the column it is in.
async fn board(c: &Client) -> Vec<(u64, String)> {
    let cards = js(
        c,
        "return [...document.querySelectorAll('article.objective')].map(e => [
             e.dataset.objective,
             (e.closest('section.column') || {dataset: {}}).dataset.status || null])",
        vec![],
    )
    .await;
    cards
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().parse().unwrap(),
                pair[1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn status_on_board(c: &Client, objective: u64) -> Option<String> {
    board(c)
        .await
        .into_iter()
        .find(|(id, _)| *id == objective)
        .map(|(_, status)| status)
}

/// The row of `table` whose `column` is `value`, read with the admin token.
fn row_where(s: &Server, token: &str, table: &str, test: impl Fn(&Json) -> bool) -> Json {
    let (status, page) = s.get(
        &format!("/api/v1/tables/{table}/rows?limit=1000"),
        Some(token),
    );
    assert_eq!(status, 200, "{page}");
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| test(&r["values"]))
        .unwrap_or_else(|| panic!("no such row of {table}"))
        .clone()
}

fn objective_status(s: &Server, token: &str, id: u64) -> String {
    let (status, row) = s.get(
        &format!("/api/v1/tables/Strategic_Objectives/rows/{id}"),
        Some(token),
    );
    assert_eq!(status, 200, "{row}");
    row["values"]["Status"].as_str().unwrap().to_string()
}

/// Every entry of the audit log (admins read it), paged.
fn audit(s: &Server, admin: &str) -> Vec<Json> {
    let (mut entries, mut after) = (Vec::new(), 0);
    loop {
        let (status, page) = s.get(
            &format!("/api/v1/audit?after={after}&limit=500"),
            Some(admin),
        );
        assert_eq!(status, 200, "{page}");
        let got = page["entries"].as_array().unwrap().clone();
        let n = got.len();
        entries.extend(got);
        if n < 500 {
            return entries;
        }
        after = page["next"].as_i64().unwrap();
    }
}

fn assert_audited(s: &Server, admin: &str, objective: u64, new: &str, actor: &str) {
    let entries = audit(s, admin);
    assert!(
        entries.iter().any(|e| e["table"] == "Strategic_Objectives"
            && e["row_id"].as_u64() == Some(objective)
            && e["column"] == "Status"
            && e["new"] == new
            && e["actor"] == actor),
        "no audit entry of objective {objective}'s Status set to {new:?} by {actor}: {:?}",
        entries
            .iter()
            .filter(|e| e["table"] == "Strategic_Objectives")
            .collect::<Vec<_>>()
    );
}

/// A form POST under /ui/ with a session cookie, as a forger would send it.
fn forged_post(s: &Server, path: &str, session: &str, fields: &[(&str, &str)]) -> u16 {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    s.http
        .post(s.url(path))
        .header("Cookie", format!("csip_session={session}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "text/html")
        .body(body)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// The session cookie and the page's CSRF token (from the header's logout
/// form, which every page has).
async fn session_and_csrf(c: &Client) -> (String, String) {
    let cookie = c.get_named_cookie("csip_session").await.unwrap();
    let csrf = c
        .find(Locator::Css("form#logout input[name=\"csrf\"]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    (cookie.value().to_string(), csrf)
}

/// Drags `#objective-<id>` onto the column of `status`: first with real
/// WebDriver pointer actions; when Chromium does not start an HTML5 drag from
/// them (chromedriver is known not to), with the drag events dispatched in the
/// page, which still drives the page's own board.js. Returns how it moved.
async fn drag(c: &Client, id: u64, status: &str) -> &'static str {
    let card_css = format!("#objective-{id}");
    let column_css = format!("section.column[data-status=\"{status}\"]");
    let card = c.find(Locator::Css(&card_css)).await.unwrap();
    let column = c.find(Locator::Css(&column_css)).await.unwrap();
    js(
        c,
        "arguments[0].scrollIntoView({block: 'center'})",
        vec![serde_json::to_value(&card).unwrap()],
    )
    .await;
    let (_, _, _, column_height) = column.rectangle().await.unwrap();
    let mouse = MouseActions::new("mouse".to_string())
        .then(PointerAction::MoveToElement {
            element: card.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(100)),
            x: 8.0,
            y: 8.0,
        })
        .then(PointerAction::MoveToElement {
            element: column.clone(),
            duration: Some(Duration::from_millis(400)),
            x: 0.0,
            // Near the column's top, which is on screen.
            y: -(column_height / 2.0) + 40.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    let performed = c.perform_actions(mouse).await;
    let _ = c.release_actions().await;
    if performed.is_ok() {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            if status_on_board(c, id).await.as_deref() == Some(status) {
                return "WebDriver pointer actions";
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!(
        "HTML5 drag and drop did not happen from WebDriver pointer actions ({}); \
         dispatching the drag events in the page instead",
        match &performed {
            Ok(()) => "performed, but no drag started".to_string(),
            Err(e) => format!("refused: {e}"),
        }
    );
    let card = c.find(Locator::Css(&card_css)).await.unwrap();
    let column = c.find(Locator::Css(&column_css)).await.unwrap();
    js(
        c,
        "const [card, column] = arguments;
         const dt = new DataTransfer();
         const fire = (target, type) => target.dispatchEvent(new DragEvent(type,
             {bubbles: true, cancelable: true, composed: true, dataTransfer: dt}));
         fire(card, 'dragstart');
         fire(column, 'dragenter');
         fire(column, 'dragover');
         fire(column, 'drop');
         fire(card, 'dragend');",
        vec![
            serde_json::to_value(&card).unwrap(),
            serde_json::to_value(&column).unwrap(),
        ],
    )
    .await;
    wait_for(
        &format!("objective {id} to be in the {status} column after the drag events"),
        LIVE,
        || async { (status_on_board(c, id).await.as_deref() == Some(status)).then_some(()) },
    )
    .await;
    "drag events dispatched in the page (board.js)"
}

#[test]
fn the_dashboards_work_in_headless_chromium() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let base = s.base.clone();

    // What the REST API says of Gard AS and of the metric that will change.
    let gard = row_where(&s, &wb.admin, "Account_Master", |v| {
        v["Account_Name"] == "Gard AS"
    });
    let gard_id = gard["row_id"].as_u64().unwrap();
    let risk = gard["values"]["Renewal_Risk_Level"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(risk, "At Risk", "the pilot data changed");
    let metric = row_where(&s, &wb.admin, "Platform_Health_Metrics", |v| {
        v["Account"]["name"] == "Gard AS" && v["Metric_Name"] == "Broker API p95 latency"
    });
    let metric_id = metric["row_id"].as_u64().unwrap();
    // 780 ms against a warning threshold of 600 (lower is better): a
    // Performance metric, so one of Platform_Technical_Health's.
    assert_eq!(metric["values"]["Health_Status"], "🟡 Warning");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut driver = Driver::start();
    let c = rt.block_on(driver.connect());

    // 1. The CSM signs in; /ui/ sends a CSM to the Command Center, where
    // Gard AS is in its Renewal_Risk_Level's group.
    let old_score = rt.block_on(async {
        login(&c, &base, &wb.csm).await;
        assert_eq!(path(&c).await, "/ui/command-center");
        check_frame(&c).await;
        let groups = js(
            &c,
            "return [...document.querySelectorAll('section.group')].map(g => g.dataset.group)",
            vec![],
        )
        .await;
        assert_eq!(
            groups,
            json!(["Critical", "At Risk", "Attention Needed", "Healthy"])
        );
        let card_css = format!(
            "section.group[data-group=\"{risk}\"] article.card[data-account=\"Gard AS\"]"
        );
        let card = match c.find(Locator::Css(&card_css)).await {
            Ok(card) => card,
            Err(_) => panic!(
                "Gard AS is not in the {risk} group; its card is in {}",
                js(
                    &c,
                    "const e = document.querySelector('article.card[data-account=\"Gard AS\"]');
                     return e ? e.closest('section.group').dataset.group : 'no group: there is no card'",
                    vec![]
                )
                .await
            ),
        };
        assert_eq!(
            card.attr("id").await.unwrap(),
            Some(format!("card-{gard_id}"))
        );
        for part in [".score", ".risk", ".days", ".arr", ".last-engagement"] {
            assert!(
                card.find(Locator::Css(part)).await.is_ok(),
                "Gard's card has no {part}"
            );
        }
        assert!(
            card.find(Locator::Css("meter")).await.is_ok(),
            "no gauge <meter> on the card"
        );
        let details = card
            .find(Locator::Css("a.view-details"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert!(details.ends_with(&format!("/ui/accounts/{gard_id}")), "{details}");
        let log = card
            .find(Locator::Css("a.log-engagement"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert!(
            log.ends_with(&format!("/ui/accounts/{gard_id}#log-engagement")),
            "{log}"
        );
        assert!(card.find(Locator::Css("form.generate-qbr")).await.is_ok());
        wait_for_live(&c).await;
        // Set in the page: a reload would lose it.
        js(&c, "window.csipNotReloaded = true", vec![]).await;
        text_of(&c, &format!("#card-{gard_id} .score")).await.unwrap()
    });

    // 2. The metric changes through the REST API; the open page's card shows
    // the new health score without a reload.
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &ops(
            json!([{"op": "set", "table": "Platform_Health_Metrics", "row_id": metric_id,
                     "column": "Current_Value", "value": 350}]),
        ),
    );
    assert_eq!(status, 200, "{answer}");
    let score = answer["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| {
            ch["table"] == "Account_Master"
                && ch["row_id"].as_u64() == Some(gard_id)
                && ch["column"] == "Health_Score"
        })
        .unwrap_or_else(|| panic!("Gard's Health_Score did not change: {answer}"))
        .clone();
    let new_score = score["new"].as_f64().unwrap();
    let changed_at = Instant::now();
    rt.block_on(async {
        let shown = wait_for("Gard's card's .score to change", LIVE, || async {
            text_of(&c, &format!("#card-{gard_id} .score"))
                .await
                .filter(|t| *t != old_score)
        })
        .await;
        eprintln!(
            "the card's score went from {old_score:?} to {shown:?} ({} → {new_score}) in {:?}",
            score["old"],
            changed_at.elapsed()
        );
        assert!(
            shown.contains(&(new_score.trunc() as i64).to_string()),
            "the card shows {shown:?}, the new Health_Score is {new_score}"
        );
        assert_eq!(
            js(&c, "return window.csipNotReloaded === true", vec![]).await,
            json!(true),
            "the page was reloaded"
        );
        screenshots(&c, "command-center").await;

        // The account page, with the Log Engagement form for a CSM.
        c.goto(&format!("{base}/ui/accounts/{gard_id}"))
            .await
            .unwrap();
        check_frame(&c).await;
        let form = c
            .find(Locator::Css("form#log-engagement"))
            .await
            .expect("no form#log-engagement for the CSM");
        assert_eq!(
            form.attr("action").await.unwrap(),
            Some(format!("/ui/accounts/{gard_id}/engagements"))
        );
        for field in [
            "Engagement_Date",
            "Engagement_Type",
            "Summary",
            "Sentiment",
            "Relationship_Depth_Score",
            "csrf",
        ] {
            assert!(
                form.find(Locator::Css(&format!("[name=\"{field}\"]")))
                    .await
                    .is_ok(),
                "the Log Engagement form has no {field}"
            );
        }
        assert!(
            count(&c, "svg").await >= 1,
            "no inline SVG (the health history chart)"
        );
        screenshots(&c, "account-gard").await;

        // The Platform Health Dashboard.
        c.goto(&format!("{base}/ui/platform-health")).await.unwrap();
        check_frame(&c).await;
        for part in [
            "section#kpis .tile[data-tile=\"Overall health\"]",
            "table#metrics",
            "table#heatmap",
        ] {
            assert!(count(&c, part).await >= 1, "the dashboard has no {part}");
        }
        screenshots(&c, "platform-health").await;
    });

    // 3. The Strategic Alignment Board for Gard: one objective moved with its
    // form from the keyboard, another dragged.
    let (moved, moved_to, dragged, dragged_to) = rt.block_on(async {
        c.goto(&format!("{base}/ui/alignment?account={gard_id}"))
            .await
            .unwrap();
        check_frame(&c).await;
        assert!(count(&c, "form#choose-account select[name=\"account\"]").await >= 1);
        assert!(count(&c, "aside#summary").await >= 1);
        let columns = js(
            &c,
            "return [...document.querySelectorAll('section.column')].map(s => s.dataset.status)",
            vec![],
        )
        .await;
        assert_eq!(columns, json!(STATUSES));
        let cards = board(&c).await;
        assert!(cards.len() >= 2, "Gard's board has {cards:?}");
        for (id, status) in &cards {
            assert!(STATUSES.contains(&status.as_str()), "objective {id} in {status:?}");
            let class = c
                .find(Locator::Css(&format!("#objective-{id}")))
                .await
                .unwrap()
                .attr("class")
                .await
                .unwrap()
                .unwrap_or_default();
            if status == "At Risk" {
                assert!(class.contains("at-risk"), "objective {id}: {class}");
            }
            if status == "Achieved" {
                assert!(class.contains("achieved"), "objective {id}: {class}");
            }
        }
        let (moved, from) = cards
            .iter()
            .find(|(_, st)| st != "Achieved")
            .cloned()
            .unwrap();
        let moved_to = "Achieved";
        let (dragged, dragged_from) = cards
            .iter()
            .find(|(id, _)| *id != moved)
            .cloned()
            .unwrap();
        let dragged_to = ["In Progress", "On Track", "Not Started"]
            .into_iter()
            .find(|st| *st != dragged_from)
            .unwrap();
        eprintln!(
            "moving objective {moved} {from} → {moved_to} (form), {dragged} {dragged_from} → {dragged_to} (drag)"
        );

        // The keyboard path: choose the status, then Enter on the Move button.
        let form = c
            .find(Locator::Css(&format!("#objective-{moved} form.move")))
            .await
            .expect("no form.move on the objective for the CSM");
        assert_eq!(
            form.attr("action").await.unwrap(),
            Some(format!("/ui/objectives/{moved}/status"))
        );
        form.find(Locator::Css("select[name=\"status\"]"))
            .await
            .unwrap()
            .select_by_value(moved_to)
            .await
            .unwrap();
        let button = form.find(Locator::Css("button")).await.unwrap();
        assert_eq!(button.text().await.unwrap().trim(), "Move");
        button.send_keys(&Key::Enter.to_string()).await.unwrap();
        wait_for(
            &format!("objective {moved} to be in the {moved_to} column"),
            LIVE,
            || async { (status_on_board(&c, moved).await.as_deref() == Some(moved_to)).then_some(()) },
        )
        .await;
        assert!(
            c.find(Locator::Css(&format!("section.column[data-status=\"{moved_to}\"] #objective-{moved}")))
                .await
                .is_ok()
        );
        let how = drag(&c, dragged, dragged_to).await;
        eprintln!("objective {dragged} dragged by {how}");
        screenshots(&c, "alignment-gard").await;
        (moved, moved_to, dragged, dragged_to)
    });
    assert_eq!(objective_status(&s, &wb.admin, moved), moved_to);
    assert_eq!(objective_status(&s, &wb.admin, dragged), dragged_to);
    assert_audited(&s, &wb.admin, moved, moved_to, "Kari Nordmann");
    assert_audited(&s, &wb.admin, dragged, dragged_to, "Kari Nordmann");

    // A POST without the session's CSRF token is refused, even with the CSM's cookie.
    let (csm_session, csm_csrf) = rt.block_on(session_and_csrf(&c));
    let before = s.last_commit();
    let move_path = format!("/ui/objectives/{moved}/status");
    assert_eq!(
        forged_post(&s, &move_path, &csm_session, &[("status", "Not Started")]),
        403
    );
    assert_eq!(
        forged_post(
            &s,
            &move_path,
            &csm_session,
            &[("csrf", "not-the-token"), ("status", "Not Started")]
        ),
        403
    );
    assert_eq!(s.last_commit(), before);
    assert!(!csm_csrf.is_empty());

    // 4. Log out; the session is over. The viewer signs in: no edit forms,
    // and a forged POST with the viewer's own session and CSRF token is refused.
    let (viewer_session, viewer_csrf, from_page) = rt.block_on(async {
        logout(&c).await;
        c.goto(&format!("{base}/ui/command-center")).await.unwrap();
        assert_eq!(
            path(&c).await,
            "/ui/login",
            "the session outlived the logout"
        );
        login(&c, &base, &wb.viewer).await;
        assert_eq!(path(&c).await, "/ui/platform-health");
        c.goto(&format!("{base}/ui/alignment?account={gard_id}"))
            .await
            .unwrap();
        assert!(!board(&c).await.is_empty(), "the viewer sees no objectives");
        assert_eq!(count(&c, "form.move").await, 0, "a viewer gets move forms");
        let (session, csrf) = session_and_csrf(&c).await;
        // The same forgery from the page itself (same origin, the cookie sent).
        let from_page = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const body = new URLSearchParams({csrf: arguments[1], status: 'Not Started'});
                 fetch(arguments[0], {method: 'POST', body, redirect: 'manual'})
                     .then(r => done(r.status), e => done(String(e)));",
                vec![
                    json!(format!("/ui/objectives/{dragged}/status")),
                    json!(csrf),
                ],
            )
            .await
            .unwrap();
        c.goto(&format!("{base}/ui/accounts/{gard_id}"))
            .await
            .unwrap();
        assert_eq!(
            count(&c, "form#log-engagement").await,
            0,
            "a viewer gets the Log Engagement form"
        );
        assert_eq!(count(&c, "form.generate-qbr").await, 0);
        (session, csrf, from_page)
    });
    assert_eq!(from_page, json!(403), "a viewer's move from the page");
    let before = s.last_commit();
    assert_eq!(
        forged_post(
            &s,
            &format!("/ui/objectives/{dragged}/status"),
            &viewer_session,
            &[("csrf", &viewer_csrf), ("status", "Not Started")]
        ),
        403,
        "a viewer's forged move"
    );
    assert_eq!(
        forged_post(
            &s,
            &format!("/ui/accounts/{gard_id}/engagements"),
            &viewer_session,
            &[
                ("csrf", &viewer_csrf),
                ("Engagement_Date", "2026-11-24"),
                ("Engagement_Type", "Check-in"),
                ("Summary", "forged"),
                ("Sentiment", "Positive"),
                ("Relationship_Depth_Score", "9"),
            ]
        ),
        403,
        "a viewer's forged engagement"
    );
    assert_eq!(s.last_commit(), before, "a forged POST wrote something");
    assert_eq!(objective_status(&s, &wb.admin, dragged), dragged_to);

    rt.block_on(async { c.close().await.unwrap() });
    driver.session = None;
}
