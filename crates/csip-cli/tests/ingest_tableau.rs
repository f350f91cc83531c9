//! `csip ingest --tableau` end to end: a local server that speaks Tableau's
//! REST API (sign-in with a personal access token, Query View Data,
//! sign-out) serves the view's CSV, and the report lands in the workbook;
//! the token never reaches the output.

#![allow(clippy::unwrap_used)] // tests (and the local server) may panic

mod common;

use common::{TODAY, pilot};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};

const TOKEN_NAME: &str = "csip-pat";
const TOKEN_SECRET: &str = "pat-secret-7Hq2";
const SITE_ID: &str = "site-0001";
const VIEW: &str = "view-0042";
const SESSION: &str = "session-token-9z";

/// Answers sign-in, the view's data and sign-out; keeps each request line.
fn tableau(csv: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let (mut length, mut auth) = (0usize, String::new());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("x-tableau-auth:") {
                    auth = v.trim().to_string();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8_lossy(&body).to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            kept.lock().unwrap().push(format!(
                "{} {path}",
                line.split_whitespace().next().unwrap_or("")
            ));
            let (status, kind, answer) = if path == "/api/3.22/auth/signin" {
                if body.contains(TOKEN_NAME) && body.contains(TOKEN_SECRET) {
                    (
                        "200 OK",
                        "application/json",
                        format!(
                            r#"{{"credentials":{{"token":"{SESSION}","site":{{"id":"{SITE_ID}","contentUrl":"cs"}},"user":{{"id":"u1"}}}}}}"#
                        ),
                    )
                } else {
                    (
                        "401 Unauthorized",
                        "application/json",
                        r#"{"error":{"summary":"Signin Error","detail":"Error signing in to Tableau Server","code":"401001"}}"#.to_string(),
                    )
                }
            } else if path.starts_with(&format!("/api/3.22/sites/{SITE_ID}/views/{VIEW}/data"))
                && auth == SESSION
            {
                ("200 OK", "text/csv", csv.to_string())
            } else if path == "/api/3.22/auth/signout" {
                ("204 No Content", "text/plain", String::new())
            } else {
                (
                    "404 Not Found",
                    "application/json",
                    r#"{"error":{"summary":"Not Found","detail":"no such view","code":"404011"}}"#
                        .to_string(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (base, seen)
}

fn ingest(
    db: &std::path::Path,
    config: &std::path::Path,
    base: &str,
    secret: &str,
) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_csip"))
        .args([
            "ingest",
            "--db",
            db.to_str().unwrap(),
            "--tableau",
            "--config",
            config.to_str().unwrap(),
            "--today",
            TODAY,
        ])
        .env("CSIP_TABLEAU_URL", base)
        .env("CSIP_TABLEAU_TOKEN_NAME", TOKEN_NAME)
        .env("CSIP_TABLEAU_TOKEN_SECRET", secret)
        .env_remove("CSIP_CONFIG")
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn the_tableau_view_is_pulled_and_ingested() {
    let wb = pilot();
    let (base, seen) = tableau("Customer,KPI,Value\r\nGard AS,API reuse rate,57%\r\n");
    let config = wb.dir.path().join("csip.toml");
    std::fs::write(
        &config,
        format!(
            "[ingest.tableau]\nserver = \"http://127.0.0.1:9\"\nversion = \"3.22\"\nsite = \"cs\"\nview = \"{VIEW}\"\nmapping = \"tableau\"\n\n\
             [ingest.mappings.tableau]\naccount = \"Customer\"\nmetric_name = \"KPI\"\ncurrent_value = \"Value\"\n"
        ),
    )
    .unwrap();
    let (ok, text) = ingest(&wb.db, &config, &base, TOKEN_SECRET);
    assert!(ok, "{text}");
    assert!(text.contains("1 metrics updated"), "{text}");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "POST /api/3.22/auth/signin".to_string(),
            format!("GET /api/3.22/sites/{SITE_ID}/views/{VIEW}/data"),
            "POST /api/3.22/auth/signout".to_string(),
        ]
    );
    assert!(
        !text.contains(TOKEN_SECRET) && !text.contains(SESSION),
        "{text}"
    );

    // A token Tableau refuses: a sentence, no secret.
    let (ok, text) = ingest(&wb.db, &config, &base, "wrong-secret-123");
    assert!(!ok);
    assert!(text.contains("CSIP_TABLEAU_TOKEN_NAME"), "{text}");
    assert!(!text.contains("wrong-secret-123"), "{text}");
}
