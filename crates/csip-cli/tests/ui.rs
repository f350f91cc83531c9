//! The dashboards under `/ui/` over real HTTP: signing in, the pages and
//! their ids, roles, CSRF, the forms' writes in the audit log, live updates
//! by Server-Sent Events, signing out. (The browser tests drive the same
//! pages in Chromium.)

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{Server, ops, pilot};
use reqwest::blocking::{Client, Response};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

/// A client that shows redirects instead of following them.
fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn post_form(s: &Server, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Response {
    let mut r = client()
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(fields));
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().unwrap()
}

fn get(s: &Server, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut r = client().get(s.url(path)).header("accept", "text/html");
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    let answer = r.send().unwrap();
    (answer.status().as_u16(), answer.text().unwrap())
}

fn location(r: &Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Signs in with `token`: the session cookie (`csip_session=...`).
fn login(s: &Server, token: &str) -> String {
    let answer = post_form(s, "/ui/login", None, &[("token", token)]);
    assert_eq!(answer.status().as_u16(), 303);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// The CSRF token a page's forms carry.
fn csrf(html: &str) -> String {
    let at = html
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// The number after `prefix` in `html`.
fn id_after(html: &str, prefix: &str) -> u32 {
    let at = html
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in the page"))
        + prefix.len();
    html[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn signing_in_sets_a_strict_http_only_cookie_and_a_wrong_token_is_401() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let (status, page) = get(&s, "/ui/login", None);
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<form id="login" method="post" action="/ui/login">"#),
        "{page}"
    );
    assert!(page.contains(r#"name="token" type="password""#), "{page}");

    let wrong = post_form(&s, "/ui/login", None, &[("token", "not-a-token")]);
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong.text().unwrap().contains(r#"<p class="error""#));

    let answer = post_form(&s, "/ui/login", None, &[("token", &wb.csm)]);
    assert_eq!(
        (answer.status().as_u16(), location(&answer).as_str()),
        (303, "/ui/")
    );
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("csip_session="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "not over TLS: {cookie}");
    let session = cookie.split(';').next().unwrap();

    // A CSM goes to the Command Center, others to Platform Health.
    let home = client()
        .get(s.url("/ui/"))
        .header("cookie", session)
        .send()
        .unwrap();
    assert_eq!(location(&home), "/ui/command-center");
    let admin = login(&s, &wb.admin);
    let home = client()
        .get(s.url("/ui/"))
        .header("cookie", &admin)
        .send()
        .unwrap();
    assert_eq!(location(&home), "/ui/platform-health");

    // Without a session: a browser to the login page, others 401.
    let browser = client()
        .get(s.url("/ui/command-center"))
        .header("accept", "text/html")
        .send()
        .unwrap();
    assert_eq!(
        (browser.status().as_u16(), location(&browser).as_str()),
        (303, "/ui/login")
    );
    let script = client().get(s.url("/ui/command-center")).send().unwrap();
    assert_eq!(script.status().as_u16(), 401);
    // A Bearer token works too.
    let bearer = client()
        .get(s.url("/ui/platform-health"))
        .bearer_auth(&wb.viewer)
        .send()
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 200);
    // Behind a TLS proxy, the cookie is Secure.
    let tls = client()
        .post(s.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(encode(&[("token", &wb.csm)]))
        .send()
        .unwrap();
    assert!(
        tls.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[test]
fn every_page_answers_with_the_contracts_ids_and_gard_is_at_risk() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let session = login(&s, &wb.csm);
    let (status, page) = get(&s, "/ui/command-center", Some(&session));
    assert_eq!(status, 200, "{page}");
    for needle in [
        r#"<main id="main">"#,
        "<nav",
        "<h1>CSM Command Center</h1>",
        r#"<form id="logout" method="post" action="/ui/logout">"#,
        r#"sse-connect="/ui/events?page=command-center"#,
        "<meter",
    ] {
        assert!(page.contains(needle), "{needle} in {page}");
    }
    // The groups in order; Gard AS (Renewal_Risk_Level "At Risk") in its group.
    let groups: Vec<usize> = ["Critical", "At Risk", "Attention Needed", "Healthy"]
        .iter()
        .map(|g| page.find(&format!(r#"data-group="{g}""#)).unwrap())
        .collect();
    assert!(groups.windows(2).all(|w| w[0] < w[1]), "{groups:?}");
    let gard = page.find(r#"data-account="Gard AS""#).unwrap();
    assert!(groups[1] < gard && gard < groups[2], "Gard AS is At Risk");
    let row = id_after(&page, r#"data-account="Gard AS" id="card-"#);
    let card = &page[gard..];
    for class in [
        "score",
        "risk",
        "days",
        "arr",
        "last-engagement",
        "view-details",
        "log-engagement",
        "generate-qbr",
    ] {
        assert!(card.contains(&format!(r#"class="{class}"#)), "{class}");
    }

    let (status, account) = get(&s, &format!("/ui/accounts/{row}"), Some(&session));
    assert_eq!(status, 200, "{account}");
    for needle in [
        "<h1>Gard AS</h1>",
        &format!(
            r#"<form id="log-engagement" method="post" action="/ui/accounts/{row}/engagements">"#
        ),
        r#"name="Engagement_Date""#,
        r#"name="Engagement_Type""#,
        r#"name="Summary""#,
        r#"name="Sentiment""#,
        r#"name="Relationship_Depth_Score""#,
        "<svg",
        r#"id="metrics""#,
        r#"id="objectives""#,
        r#"id="risks""#,
        r#"id="engagements""#,
    ] {
        assert!(account.contains(needle), "{needle}");
    }

    let (status, board) = get(&s, "/ui/alignment?account=Gard%20AS", Some(&session));
    assert_eq!(status, 200, "{board}");
    for needle in [
        r#"<form id="choose-account" method="get" action="/ui/alignment">"#,
        r#"<select name="account">"#,
        r#"data-status="Not Started""#,
        r#"data-status="Achieved""#,
        r#"<aside id="summary""#,
        r#"draggable="true""#,
        r#"class="move" method="post""#,
        r#"<select name="status""#,
        "/ui/assets/board.js",
    ] {
        assert!(board.contains(needle), "{needle}");
    }
    let (status, by_id) = get(&s, &format!("/ui/alignment?account={row}"), Some(&session));
    assert_eq!(status, 200);
    assert_eq!(
        by_id.matches("<article class=\"objective").count(),
        board.matches("<article class=\"objective").count()
    );

    let (status, health) = get(&s, "/ui/platform-health", Some(&session));
    assert_eq!(status, 200, "{health}");
    for needle in [
        r#"<section id="kpis""#,
        r#"data-tile="Overall health""#,
        r#"data-tile="APIs in production""#,
        r#"data-tile="Critical alerts""#,
        r#"data-tile="Average SLA (%)""#,
        r#"<table id="metrics""#,
        r#"<table id="heatmap""#,
    ] {
        assert!(health.contains(needle), "{needle}");
    }

    // An admin picks the CSM whose accounts to show.
    let admin = login(&s, &wb.admin);
    let (status, other) = get(&s, "/ui/command-center?user=Kari%20Nordmann", Some(&admin));
    assert_eq!(status, 200);
    assert!(other.contains(r#"<form id="choose-user""#));
    assert!(other.contains(r#"<option value="Kari Nordmann" selected>"#));
    assert!(other.contains(r#"data-account="Gard AS""#));

    // The assets, from the binary, cached long.
    for (path, kind) in [
        ("/ui/assets/htmx.min.js", "javascript"),
        ("/ui/assets/sse.js", "javascript"),
        ("/ui/assets/board.js", "javascript"),
        ("/ui/assets/ui.css", "text/css"),
    ] {
        let answer = client().get(s.url(path)).send().unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{path}");
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains(kind)
        );
        assert!(
            answer.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
    }
}

#[test]
fn a_viewer_sees_no_form_and_a_forged_post_or_one_without_csrf_is_403() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let viewer = login(&s, &wb.viewer);
    let (_, page) = get(&s, "/ui/command-center?user=Kari%20Nordmann", Some(&viewer));
    let row = id_after(&page, r#"data-account="Gard AS" id="card-"#);
    assert!(!page.contains("generate-qbr"));
    let (status, account) = get(&s, &format!("/ui/accounts/{row}"), Some(&viewer));
    assert_eq!(status, 200);
    assert!(!account.contains(r#"id="log-engagement""#));
    let (_, board) = get(&s, "/ui/alignment?account=Gard%20AS", Some(&viewer));
    assert!(!board.contains(r#"class="move""#));
    let objective = id_after(&board, r#"data-objective=""#);
    // The viewer's forged POST, with its own session's CSRF token: 403.
    let token = csrf(&account);
    let forged = post_form(
        &s,
        &format!("/ui/objectives/{objective}/status"),
        Some(&viewer),
        &[("csrf", &token), ("status", "Achieved")],
    );
    assert_eq!(forged.status().as_u16(), 403);
    let forged = client()
        .post(s.url(&format!("/ui/accounts/{row}/engagements")))
        .bearer_auth(&wb.viewer)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[
            ("Engagement_Date", "2026-11-24"),
            ("Engagement_Type", "Check-in"),
        ]))
        .send()
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);

    // A CSM's POST without the CSRF token, or with another: 403.
    let csm = login(&s, &wb.csm);
    for fields in [
        vec![("status", "Achieved")],
        vec![("status", "Achieved"), ("csrf", token.as_str())],
    ] {
        let answer = post_form(
            &s,
            &format!("/ui/objectives/{objective}/status"),
            Some(&csm),
            &fields,
        );
        assert_eq!(answer.status().as_u16(), 403);
    }
    let (_, audit) = s.get("/api/v1/audit", Some(&wb.admin));
    assert_eq!(audit["entries"].as_array().unwrap().len(), 0, "{audit}");
}

#[test]
fn logging_an_engagement_and_moving_an_objective_are_audited_as_the_person() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let session = login(&s, &wb.csm);
    let (_, page) = get(&s, "/ui/command-center", Some(&session));
    let row = id_after(&page, r#"data-account="Gard AS" id="card-"#);
    let (_, account) = get(&s, &format!("/ui/accounts/{row}"), Some(&session));
    let token = csrf(&account);
    let logged = post_form(
        &s,
        &format!("/ui/accounts/{row}/engagements"),
        Some(&session),
        &[
            ("csrf", &token),
            ("Engagement_Date", "2026-11-24"),
            ("Engagement_Type", "Check-in"),
            ("Summary", "Talked <b>renewal</b> & the roadmap"),
            ("Sentiment", "Positive"),
            ("Relationship_Depth_Score", "7"),
        ],
    );
    assert_eq!(logged.status().as_u16(), 303, "{:?}", logged.text());
    assert!(location(&logged).starts_with(&format!("/ui/accounts/{row}")));
    let (_, account) = get(&s, &format!("/ui/accounts/{row}"), Some(&session));
    assert!(
        account.contains("Talked &lt;b&gt;renewal&lt;/b&gt; &amp; the roadmap"),
        "escaped in the page"
    );

    let (_, board) = get(&s, "/ui/alignment?account=Gard%20AS", Some(&session));
    let objective = id_after(&board, r#"data-objective=""#);
    let moved = post_form(
        &s,
        &format!("/ui/objectives/{objective}/status"),
        Some(&session),
        &[("csrf", &token), ("status", "Achieved")],
    );
    assert_eq!(moved.status().as_u16(), 303);
    assert!(location(&moved).starts_with("/ui/alignment?account="));
    let (_, board) = get(&s, "/ui/alignment?account=Gard%20AS", Some(&session));
    let achieved = board.find(r#"data-status="Achieved""#).unwrap();
    let card = board
        .find(&format!(r#"id="objective-{objective}""#))
        .unwrap();
    assert!(card > achieved, "the objective is in the Achieved column");

    // Generate QBR starts the report action and names its job.
    let qbr = post_form(
        &s,
        &format!("/ui/accounts/{row}/qbr"),
        Some(&session),
        &[("csrf", &token)],
    );
    assert_eq!(qbr.status().as_u16(), 303);
    assert!(
        location(&qbr).starts_with(&format!("/ui/accounts/{row}?qbr=")),
        "{}",
        location(&qbr)
    );

    let (status, audit) = s.get("/api/v1/audit?limit=1000", Some(&wb.admin));
    assert_eq!(status, 200);
    let entries = audit["entries"].as_array().unwrap();
    let by = |table: &str| {
        entries
            .iter()
            .filter(|e| e["table"] == table)
            .map(|e| e["actor"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(!by("Engagement_Log").is_empty(), "{audit}");
    assert!(by("Engagement_Log").iter().all(|a| a == "Kari Nordmann"));
    let status_entries: Vec<_> = entries
        .iter()
        .filter(|e| e["table"] == "Strategic_Objectives" && e["column"] == "Status")
        .collect();
    assert_eq!(status_entries.len(), 1, "{audit}");
    assert_eq!(status_entries[0]["actor"], "Kari Nordmann");
}

/// The lines of an SSE stream, read on a thread.
fn stream(
    s: &Server,
    path: &str,
    cookie: &str,
    last_event: Option<&str>,
) -> std::sync::mpsc::Receiver<String> {
    let mut r = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .get(s.url(path))
        .header("cookie", cookie);
    if let Some(id) = last_event {
        r = r.header("last-event-id", id);
    }
    let answer = r.send().unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(answer).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn a_metric_change_reaches_an_open_command_center_within_a_second() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let session = login(&s, &wb.csm);
    let (_, page) = get(&s, "/ui/command-center", Some(&session));
    let row = id_after(&page, r#"data-account="Gard AS" id="card-"#);
    let lines = stream(&s, "/ui/events?page=command-center", &session, None);
    // Nothing has changed yet: no fragment.
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(300) {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(50)) {
            assert!(!line.starts_with("data:"), "{line}");
        }
    }

    let (status, metrics) = s.get(
        "/api/v1/tables/Platform_Health_Metrics/rows?limit=1",
        Some(&wb.csm),
    );
    assert_eq!(status, 200);
    assert_eq!(metrics["rows"][0]["values"]["Account"]["name"], "Gard AS");
    let metric = metrics["rows"][0]["row_id"].as_u64().unwrap();
    let changed = Instant::now();
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([{"op": "set", "table": "Platform_Health_Metrics", "row_id": metric, "column": "Current_Value", "value": 55.5}])),
    );
    assert_eq!(status, 200, "{answer}");
    let generation = s.get("/healthz", None).1["generation"].clone();
    let mut event = Vec::new();
    let card = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(1).saturating_sub(changed.elapsed()))
            .expect("the card within a second of the change");
        if let Some(data) = line.strip_prefix("data:")
            && data.contains(&format!(r#"id="card-{row}""#))
        {
            break data.to_string();
        }
        event.push(line);
    };
    assert!(card.contains(r#"hx-swap-oob="true""#), "{card}");
    assert!(card.contains("64.4"), "the new score: {card}");
    assert!(event.iter().any(|l| l == "event: fragment"), "{event:?}");
    assert!(event.iter().any(|l| l.starts_with("id:")), "{event:?}");
    if let Some(g) = generation.as_u64() {
        assert!(
            event
                .iter()
                .any(|l| l == &format!("id: {g}") || l == &format!("id:{g}")),
            "{event:?}"
        );
    }

    // A reconnect with Last-Event-ID gets every fragment once.
    let lines = stream(&s, "/ui/events?page=command-center", &session, Some("1"));
    let mut seen = Vec::new();
    let started = Instant::now();
    while seen.len() < 4 && started.elapsed() < Duration::from_secs(5) {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200))
            && let Some(data) = line.strip_prefix("data:")
        {
            seen.push(data.to_string());
        }
    }
    for group in [
        "group-critical",
        "group-at-risk",
        "group-attention-needed",
        "group-healthy",
    ] {
        assert!(
            seen.iter().any(|d| d.contains(&format!(r#"id="{group}""#))),
            "{group} in {seen:?}"
        );
    }
}

#[test]
fn signing_out_ends_the_session() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let session = login(&s, &wb.csm);
    let (status, page) = get(&s, "/ui/platform-health", Some(&session));
    assert_eq!(status, 200);
    let out = post_form(&s, "/ui/logout", Some(&session), &[("csrf", &csrf(&page))]);
    assert_eq!(
        (out.status().as_u16(), location(&out).as_str()),
        (303, "/ui/login")
    );
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = client()
        .get(s.url("/ui/platform-health"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(after.status().as_u16(), 401);
}
