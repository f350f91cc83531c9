//! A real `csip serve` on 127.0.0.1 over a real SQLite file, for the HTTP tests.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // shared by several test binaries; tests may panic

use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const TODAY: &str = "2026-11-24";

pub fn csip(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_csip"))
        .args(args)
        .output()
        .unwrap()
}

/// A workbook file with the pilot data and a token per role.
pub struct Workbook {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub admin: String,
    pub csm: String,
    pub viewer: String,
}

pub fn pilot() -> Workbook {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("csip.db");
    let o = csip(&[
        "init",
        "--db",
        db.to_str().unwrap(),
        "--sample",
        "--today",
        TODAY,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let token = |person: &str, role: &str| {
        let o = csip(&[
            "token",
            "create",
            "--db",
            db.to_str().unwrap(),
            "--person",
            person,
            "--role",
            role,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    Workbook {
        admin: token("Ingrid Solheim", "admin"),
        csm: token("Kari Nordmann", "csm"),
        viewer: token("James Carter", "viewer"),
        dir,
        db,
    }
}

/// A running `csip serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub http: reqwest::blocking::Client,
}

impl Server {
    pub fn start(db: &Path) -> Server {
        Server::start_with(db, &[])
    }

    /// `csip serve` with more flags (`--header-timeout 1`, ...).
    pub fn start_with(db: &Path, flags: &[&str]) -> Server {
        Server::start_env(db, flags, &[])
    }

    /// `csip serve` with more flags and environment variables.
    pub fn start_env(db: &Path, flags: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_csip"))
            .args([
                "serve",
                "--db",
                db.to_str().unwrap(),
                "--addr",
                "127.0.0.1:0",
                "--today",
                TODAY,
                // Their own commits would be counted with the tests' (tests/automations.rs runs them).
                "--no-automations",
            ])
            .args(flags)
            .envs(env.iter().copied())
            .env("CSIP_LOG", "warn") // access logs would flood the test output
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .split("listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("serve printed {line:?}"))
            .trim()
            .to_string();
        let server = Server {
            child,
            base,
            // A connection per request: what each request gets is then its own
            // answer, never a pooled connection's state.
            http: reqwest::blocking::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        };
        // It listens at once and says "loading" until the workbook is open.
        let waited = std::time::Instant::now();
        loop {
            let (status, health) = server.get("/healthz", None);
            if status == 200 {
                break;
            }
            assert_eq!(
                (status, health["status"].as_str()),
                (503, Some("loading")),
                "{health}"
            );
            assert!(
                waited.elapsed().as_secs() < 120,
                "still loading after 2 minutes"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server
    }

    /// `127.0.0.1:PORT`, for raw sockets.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Json) {
        let mut r = self.http.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        answer(r.send().unwrap())
    }

    pub fn post(&self, path: &str, token: &str, body: &Json) -> (u16, Json) {
        answer(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .body(body.to_string())
                .send()
                .unwrap(),
        )
    }

    pub fn post_raw(&self, path: &str, token: &str, body: Vec<u8>) -> (u16, Json) {
        answer(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .body(body)
                .send()
                .unwrap(),
        )
    }

    /// The id of the last commit, from /healthz.
    pub fn last_commit(&self) -> i64 {
        self.get("/healthz", None).1["last_commit"]
            .as_i64()
            .unwrap()
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(r: reqwest::blocking::Response) -> (u16, Json) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })),
    )
}

/// `{"operations": [...]}`.
pub fn ops(list: Json) -> Json {
    json!({ "operations": list })
}

/// A local Slack Web API: answers every `POST /chat.postMessage` with
/// `{"ok": true}` and keeps what it received (authorization header, body).
pub struct FakeSlack {
    pub url: String,
    pub received: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

pub fn fake_slack() -> FakeSlack {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut auth, mut line) = (0usize, String::new(), String::new());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    auth = h["authorization:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            kept.lock().unwrap().push((auth, json));
            let answer = r#"{"ok":true,"channel":"C0UPDATES","ts":"1700000000.000100"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    FakeSlack { url, received }
}
