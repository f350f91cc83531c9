//! Slack end to end (issue 14): a real `csip serve` with the Slack signing
//! secret and bot token in its environment, requests signed exactly as
//! Slack signs them, and a local server that speaks Slack's Web API JSON
//! (`chat.postMessage`) receiving the outbox's messages.

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{TODAY, fake_slack, pilot};
use csip_store::Secret;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5-test";
const BOT_TOKEN: &str = "xoxb-test-1234-secret-token";

/// `csip serve` with Slack's variables, its log in a file.
struct Served {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path, dir: &Path, slack_url: Option<&str>, bot_token: bool) -> Served {
    serve_with(db, dir, slack_url, bot_token, "")
}

/// [`serve`], with more `[slack]` keys.
fn serve_with(
    db: &Path,
    dir: &Path,
    slack_url: Option<&str>,
    bot_token: bool,
    slack_keys: &str,
) -> Served {
    let config = dir.join("csip.toml");
    std::fs::write(
        &config,
        // Ingrid Solheim (an SE, no CSM) is an admin here.
        format!("[slack]\nupdates_channel = \"#cs-updates\"\nadmins = [\"U02ISOLH06\"]\n{slack_keys}\n[outbox]\npoll_ms = 100\n"),
    )
    .unwrap();
    let log = tempfile::NamedTempFile::new_in(dir)
        .unwrap()
        .into_temp_path()
        .keep()
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_csip"));
    command
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--today",
            TODAY,
            "--no-automations",
        ])
        .args(["--config", config.to_str().unwrap()])
        .env("CSIP_LOG", "info")
        .env("CSIP_SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env(
            "CSIP_SLACK_API_URL",
            slack_url.unwrap_or("http://127.0.0.1:9"),
        )
        .env_remove("CSIP_SLACK_BOT_TOKEN")
        .env_remove("CSIP_CONFIG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    if bot_token {
        command.env("CSIP_SLACK_BOT_TOKEN", BOT_TOKEN);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let started = Instant::now();
    while reqwest::blocking::get(format!("{base}/healthz"))
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(started.elapsed() < Duration::from_secs(120), "not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    Served { child, base, log }
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A slash command's form body, as Slack encodes it.
fn form(command: &str, text: &str, user: &str, trigger: &str) -> String {
    form_to(command, text, user, trigger, "http://127.0.0.1:9/response")
}

/// [`form`], with this `response_url`.
fn form_to(command: &str, text: &str, user: &str, trigger: &str, response_url: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "token=x&team_id=T1&team_domain=t&channel_id=C1&channel_name=cs&user_id={}&user_name=u&command={}&text={}&response_url={}&trigger_id={}",
        enc(user),
        enc(command),
        enc(text),
        enc(response_url),
        enc(trigger)
    )
}

/// Posts to /slack/commands with the given timestamp and signature header
/// (`None`: left out).
fn post(s: &Served, body: &str, stamp: Option<&str>, signature: Option<&str>) -> (u16, Json) {
    let mut r = reqwest::blocking::Client::new()
        .post(format!("{}/slack/commands", s.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(t) = stamp {
        r = r.header("X-Slack-Request-Timestamp", t);
    }
    if let Some(v) = signature {
        r = r.header("X-Slack-Signature", v);
    }
    let answer = r.send().unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.text().unwrap()).unwrap_or(Json::Null),
    )
}

/// Posts a command signed as Slack signs it, now.
fn signed(s: &Served, body: &str) -> (u16, Json) {
    let stamp = unix_now().to_string();
    let signature =
        csip_slack::signature::sign(&Secret::new(SIGNING_SECRET), &stamp, body.as_bytes());
    post(s, body, Some(&stamp), Some(&signature))
}

fn last_commit(s: &Served) -> i64 {
    let health: Json = reqwest::blocking::get(format!("{}/healthz", s.base))
        .unwrap()
        .json()
        .unwrap();
    health["last_commit"].as_i64().unwrap()
}

#[test]
fn signed_commands_answer_forged_ones_are_refused_and_updates_reach_the_channel() {
    let wb = pilot();
    let slack = fake_slack();
    let s = serve(&wb.db, wb.dir.path(), Some(&slack.url), true);
    let secret = Secret::new(SIGNING_SECRET);

    // /mulesoft-health, unquoted name with a space.
    let health = form("/mulesoft-health", "Gard AS", "U02KNORD01", "t-1");
    let (status, answer) = signed(&s, &health);
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .starts_with("Gard AS: health score"),
        "{answer}"
    );

    // Forged, stale, future-dated, unsigned, changed after signing, or
    // signed with another secret: 401, and nothing written.
    let before = last_commit(&s);
    let update = form(
        "/mulesoft-update",
        "\"Gard AS\" \"Quote API availability\" 12",
        "U02KNORD01",
        "t-forged",
    );
    let now = unix_now();
    let sign = |secret: &Secret, stamp: i64, body: &str| {
        csip_slack::signature::sign(secret, &stamp.to_string(), body.as_bytes())
    };
    let other = Secret::new("another-secret");
    let changed = update.replace("12", "13");
    let forged: Vec<(&str, String, Option<String>, Option<String>)> = vec![
        (
            "a wrong signature",
            update.clone(),
            Some(now.to_string()),
            Some(format!("v0={}", "0".repeat(64))),
        ),
        (
            "ten minutes old",
            update.clone(),
            Some((now - 600).to_string()),
            Some(sign(&secret, now - 600, &update)),
        ),
        (
            "ten minutes ahead",
            update.clone(),
            Some((now + 600).to_string()),
            Some(sign(&secret, now + 600, &update)),
        ),
        ("unsigned", update.clone(), None, None),
        (
            "no timestamp",
            update.clone(),
            None,
            Some(sign(&secret, now, &update)),
        ),
        (
            "changed after signing",
            changed,
            Some(now.to_string()),
            Some(sign(&secret, now, &update)),
        ),
        (
            "another secret",
            update.clone(),
            Some(now.to_string()),
            Some(sign(&other, now, &update)),
        ),
    ];
    for (what, body, stamp, signature) in &forged {
        let (status, answer) = post(&s, body, stamp.as_deref(), signature.as_deref());
        assert_eq!(status, 401, "{what}: {answer}");
    }
    assert_eq!(last_commit(&s), before, "a refused request wrote nothing");
    println!("forged requests refused: {}", forged.len());

    // A CSM's update: written as them, answered with the new status and the
    // health score, and confirmed in the updates channel through the outbox.
    let (status, answer) = signed(&s, &update);
    assert_eq!(status, 200, "{answer}");
    let text = answer["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("Quote API availability set to 12") && text.contains("health score"),
        "{text}"
    );
    assert_eq!(last_commit(&s), before + 1);
    let waited = Instant::now();
    let posted = loop {
        if let Some(p) = slack.received.lock().unwrap().first().cloned() {
            break p;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no message reached Slack"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(posted.0, format!("Bearer {BOT_TOKEN}"));
    assert_eq!(posted.1["channel"], "#cs-updates", "{}", posted.1);
    assert!(
        posted.1["text"]
            .as_str()
            .unwrap()
            .contains("Quote API availability"),
        "{}",
        posted.1
    );

    // Mistakes are answered, nothing written.
    for (text, expected) in [
        (
            "\"Gard AB\" \"Quote API availability\" 12",
            "Did you mean “Gard AS”?",
        ),
        (
            "\"Gard AS\" \"Quote API availabilty\" 12",
            "Did you mean “Quote API availability”?",
        ),
        (
            "\"Gard AS\" \"Quote API availability\" lots",
            "is not a number",
        ),
        ("\"Gard AS\" \"Brand new metric\" 5", "add `new` at the end"),
    ] {
        let (status, answer) = signed(&s, &form("/mulesoft-update", text, "U02KNORD01", "t-x"));
        assert_eq!(status, 200);
        assert!(
            answer["text"].as_str().unwrap().contains(expected),
            "{text}: {answer}"
        );
        assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    }
    // An AE reads but does not write; a stranger is refused politely.
    let (_, answer) = signed(
        &s,
        &form(
            "/mulesoft-update",
            "\"Gard AS\" \"Quote API availability\" 1",
            "U02LBERG04",
            "t-ae",
        ),
    );
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("only CSMs and admins"),
        "{answer}"
    );
    let (_, answer) = signed(
        &s,
        &form("/mulesoft-health", "Gard AS", "U0STRANGER", "t-s"),
    );
    assert!(
        answer["text"].as_str().unwrap().starts_with("Sorry"),
        "{answer}"
    );
    assert_eq!(last_commit(&s), before + 1);
    // A member the configuration names as an admin writes, whatever their role.
    let (_, answer) = signed(
        &s,
        &form(
            "/mulesoft-update",
            "\"Gard AS\" \"Quote API availability\" 14",
            "U02ISOLH06",
            "t-admin",
        ),
    );
    let text = answer["text"].as_str().unwrap();
    assert!(
        text.contains("set to 14") && text.contains("(by Ingrid Solheim)"),
        "{answer}"
    );
    assert_eq!(last_commit(&s), before + 2);
    // Help, and the sync that is not configured.
    let (_, answer) = signed(&s, &form("/mulesoft-health", "", "U02KNORD01", "t-h"));
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("/mulesoft-update"),
        "{answer}"
    );
    let (_, answer) = signed(
        &s,
        &form("/mulesoft-sync", "Gard AS Full Sync", "U02KNORD01", "t-y"),
    );
    assert!(
        answer["text"].as_str().unwrap().contains("not configured"),
        "{answer}"
    );

    // No secret in the log.
    let log = s.log.clone();
    drop(s);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("refused a request to /slack/commands"),
        "{log}"
    );
    for secret in [SIGNING_SECRET, BOT_TOKEN] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}

#[test]
fn a_message_committed_before_a_kill_is_delivered_after_the_restart() {
    let wb = pilot();
    // No bot token: the confirmation waits in the outbox.
    let s = serve(&wb.db, wb.dir.path(), None, false);
    let update = form(
        "/mulesoft-update",
        "\"Gard AS\" \"Integration error rate\" 3",
        "U02KNORD01",
        "t-kill",
    );
    let (status, answer) = signed(&s, &update);
    assert_eq!(status, 200, "{answer}");
    // SIGKILL: no clean stop.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let outbox = csip_store::Outbox::open(&wb.db).unwrap();
    let pending = outbox
        .list(Some(csip_store::OutboxStatus::Pending), 10)
        .unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].key, "slack:update:t-kill");
    let listed = common::csip(&[
        "outbox",
        "list",
        "--db",
        wb.db.to_str().unwrap(),
        "--status",
        "pending",
    ]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("pending")
            && listed.contains("slack:#cs-updates")
            && listed.contains("t-kill"),
        "{listed}"
    );
    // Restarted with the token: delivered once.
    let slack = fake_slack();
    let s2 = serve(&wb.db, wb.dir.path(), Some(&slack.url), true);
    let waited = Instant::now();
    while slack.received.lock().unwrap().is_empty() {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "not delivered after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(slack.received.lock().unwrap().len(), 1);
    let delivered = outbox
        .list(Some(csip_store::OutboxStatus::Delivered), 10)
        .unwrap();
    assert_eq!(delivered.len(), 1);
    drop(s2);
}

#[test]
fn a_write_slower_than_the_answer_follows_through_the_response_url() {
    let wb = pilot();
    let slack = fake_slack();
    // Every write counts as slow: answered at once, its outcome posted later.
    let s = serve_with(
        &wb.db,
        wb.dir.path(),
        Some(&slack.url),
        false,
        "answer_within_ms = 0\n",
    );
    let before = last_commit(&s);
    let update = form_to(
        "/mulesoft-update",
        "\"Gard AS\" \"Quote API availability\" 42",
        "U02KNORD01",
        "t-slow",
        &format!("{}/commands/T1/1/secret-hook", slack.url),
    );
    let (status, answer) = signed(&s, &update);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Writing that now"),
        "{answer}"
    );
    let waited = Instant::now();
    let followed = loop {
        if let Some(p) = slack.received.lock().unwrap().first().cloned() {
            break p;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no follow-up reached the response_url"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        followed.0, "",
        "a response_url is posted to without the token"
    );
    let text = followed.1["text"].as_str().unwrap();
    assert!(
        text.contains("Quote API availability set to 42") && text.contains("health score"),
        "{}",
        followed.1
    );
    assert_eq!(last_commit(&s), before + 1, "written once");
    // A mistake is still answered at once, not followed up.
    let (_, answer) = signed(
        &s,
        &form_to(
            "/mulesoft-update",
            "\"Gard AS\" \"Quote API availability\" lots",
            "U02KNORD01",
            "t-slow-2",
            &format!("{}/commands/T1/2/secret-hook", slack.url),
        ),
    );
    assert!(
        !answer["text"]
            .as_str()
            .unwrap()
            .contains("Writing that now"),
        "{answer}"
    );
    let log = s.log.clone();
    drop(s);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains("secret-hook"), "a response_url in the log");
    assert_eq!(slack.received.lock().unwrap().len(), 1);
}
