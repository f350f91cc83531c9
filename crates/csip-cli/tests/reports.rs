//! The report buttons end to end: `csip qbr` and `csip roi` against a
//! workbook file (the files written, kept and listed on the account), the
//! same through `csip serve`'s actions (a job, then the file's download URL,
//! for any token; a viewer may not run them), and the e-mail through the
//! outbox to a real SMTP server (aiosmtpd, from PyPI, which `.ci/run`
//! installs) that wants a login and keeps what it receives in a maildir.

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{Server, TODAY, csip, pilot};
use serde_json::{Value as Json, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SMTP password the dispatcher is given; it must show up nowhere.
const SMTP_PASSWORD: &str = "smtp-pass-7d1c9e0b5a";

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A local SMTP server (aiosmtpd) that stores every message in a maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: std::path::PathBuf,
}

/// The SMTP server: aiosmtpd's Mailbox handler (a maildir), requiring a
/// login as `reports` with [`SMTP_PASSWORD`] (over plain text: a local test).
const SERVER: &str = r#"
import sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, password = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()

def authenticate(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"reports" and data.password == password
    return AuthResult(success=ok)

controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port,
                        authenticator=authenticate, auth_required=True, auth_require_tls=False)
controller.start()
while True:
    time.sleep(3600)
"#;

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-c", SERVER])
            .arg(port.to_string())
            .arg(&maildir)
            .arg(SMTP_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd; .ci/run does)");
        let waited = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                waited.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// The messages received, as text.
    fn received(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn csip_qbr_and_roi_write_keep_list_and_email_the_reports() {
    let wb = pilot();
    let db = wb.db.to_str().unwrap();
    let out = wb.dir.path().join("reports");
    let o = csip(&[
        "qbr",
        "--db",
        db,
        "--account",
        "gard as",
        "--from",
        "2026-09-01",
        "--to",
        TODAY,
        "--format",
        "both",
        "--out",
        out.to_str().unwrap(),
        "--email",
        "cfo@gard.example",
        "--as",
        "kari@example.com",
        "--today",
        TODAY,
    ]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    let pptx = out.join("QBR Gard AS 2026-09-01 to 2026-11-24.pptx");
    let pdf = out.join("QBR Gard AS 2026-09-01 to 2026-11-24.pdf");
    assert!(pptx.exists() && pdf.exists(), "{said}");
    assert!(
        said.contains("listed in the account's Attachments"),
        "{said}"
    );
    assert!(
        said.contains("E-mail to cfo@gard.example put in the outbox"),
        "{said}"
    );

    // The ROI: its figures printed as JSON, its sums written back.
    let o = csip(&[
        "roi",
        "--db",
        db,
        "--account",
        "ACC-00001",
        "--period",
        "all time",
        "--include-in-progress",
        "--json",
        "--out",
        out.to_str().unwrap(),
        "--today",
        TODAY,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let roi: Json = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(roi["figures"]["simple_roi_percent"].to_string(), "90.8");
    assert_eq!(roi["figures"]["npv_usd"].to_string(), "4008151.77");
    let link = roi["files"][0]["link"].as_str().unwrap().to_string();
    assert!(link.starts_with("/api/v1/files/"), "{link}");

    // The account lists the three files, and holds the ROI's figures.
    let server = Server::start(&wb.db);
    let (status, row) = server.get("/api/v1/tables/Account_Master/rows/1", Some(&wb.viewer));
    assert_eq!(status, 200, "{row}");
    let attachments = row["values"]["Attachments"].to_string();
    assert_eq!(
        attachments.matches("/api/v1/files/").count(),
        3,
        "{attachments}"
    );
    assert!(row.to_string().contains("90.8"), "{row}");
    // Any token that reads the account downloads them.
    let response = reqwest::blocking::Client::new()
        .get(server.url(&link))
        .bearer_auth(&wb.viewer)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.bytes().unwrap().starts_with(b"%PDF"));
    let anonymous = reqwest::blocking::Client::new()
        .get(server.url(&link))
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    drop(server);

    // The outbox sends the e-mail, with both files attached, once.
    let smtp = Smtp::start(wb.dir.path());
    let config = wb.dir.path().join("csip.toml");
    std::fs::write(
        &config,
        format!(
            "[email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"CSIP Reports <csip@example.com>\"\n",
            smtp.port
        ),
    )
    .unwrap();
    let send = || {
        let o = Command::new(env!("CARGO_BIN_EXE_csip"))
            .args([
                "outbox",
                "send",
                "--db",
                db,
                "--config",
                config.to_str().unwrap(),
            ])
            .env_remove("CSIP_SLACK_BOT_TOKEN")
            .env("CSIP_SMTP_USERNAME", "reports")
            .env("CSIP_SMTP_PASSWORD", SMTP_PASSWORD)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(!text(&o).contains(SMTP_PASSWORD));
        text(&o)
    };
    assert!(send().contains("sent 1"));
    let waited = Instant::now();
    while smtp.received().is_empty() && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mail = smtp.received();
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].contains("Subject: Quarterly Business Review: Gard AS"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("cfo@gard.example"));
    assert!(
        mail[0].contains("QBR Gard AS 2026-09-01 to 2026-11-24.pptx"),
        "{}",
        &mail[0][..2000.min(mail[0].len())]
    );
    assert!(mail[0].contains("application/pdf"));
    assert!(send().contains("sent 0"));
    assert_eq!(smtp.received().len(), 1);
    // The password reached neither the message nor the outbox's record of it.
    assert!(!mail[0].contains(SMTP_PASSWORD));
    let o = csip(&["outbox", "list", "--db", db]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(SMTP_PASSWORD));
}

#[test]
fn the_report_buttons_run_as_jobs_through_the_service() {
    let wb = pilot();
    let server = Server::start(&wb.db);
    let (status, actions) = server.get("/api/v1/actions", Some(&wb.viewer));
    assert_eq!(status, 200);
    let names: Vec<&str> = actions["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"generate-qbr-deck") && names.contains(&"calculate-platform-roi"));

    // A viewer may not run them.
    let (status, body) = server.post(
        "/api/v1/actions/calculate-platform-roi",
        &wb.viewer,
        &json!({"account": "Gard AS"}),
    );
    assert_eq!(status, 403, "{body}");
    // Bad parameters are refused at once, saying what to write.
    let (status, body) = server.post(
        "/api/v1/actions/generate-qbr-deck",
        &wb.csm,
        &json!({"account": "Gard AS", "from": "1 Sept", "to": TODAY}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("YYYY-MM-DD"), "{body}");
    let (status, body) = server.post(
        "/api/v1/actions/calculate-platform-roi",
        &wb.csm,
        &json!({"account": "Gard AB", "period": "This Year"}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("did you mean"), "{body}");

    let finished = |job: &Json| -> Json {
        let id = job["job"]["id"].as_u64().unwrap();
        let waited = Instant::now();
        loop {
            let (status, job) = server.get(&format!("/api/v1/jobs/{id}"), Some(&wb.csm));
            assert_eq!(status, 200);
            if job["job"]["status"] != "running" {
                return job;
            }
            assert!(waited.elapsed() < Duration::from_secs(60), "{job}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (status, job) = server.post(
        "/api/v1/actions/generate-qbr-deck",
        &wb.csm,
        &json!({"account": "Helix Health Partners", "from": "2026-09-01", "to": TODAY, "format": "pptx", "appendix": true}),
    );
    assert_eq!(status, 202, "{job}");
    let done = finished(&job);
    assert_eq!(done["job"]["status"], "done", "{done}");
    let url = done["job"]["result"]["files"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let deck = reqwest::blocking::Client::new()
        .get(server.url(&url))
        .bearer_auth(&wb.viewer)
        .send()
        .unwrap();
    assert_eq!(deck.status(), 200);
    assert!(
        deck.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("QBR Helix Health Partners")
    );
    assert!(deck.bytes().unwrap().starts_with(b"PK"));

    let (status, job) = server.post(
        "/api/v1/actions/calculate-platform-roi",
        &wb.csm,
        &json!({"account": "Helix Health Partners", "period": "This Year"}),
    );
    assert_eq!(status, 202, "{job}");
    let done = finished(&job);
    assert_eq!(done["job"]["status"], "done", "{done}");
    let result = &done["job"]["result"];
    assert_eq!(result["figures"]["simple_roi_percent"].to_string(), "316.7");
    assert_eq!(result["figures"]["payback_months"].to_string(), "2.9");
    // The account now lists both files and holds the ROI's sums.
    let (_, row) = server.get("/api/v1/tables/Account_Master/rows/2", Some(&wb.viewer));
    assert_eq!(
        row["values"]["Attachments"].as_array().unwrap().len(),
        2,
        "{row}"
    );
    // A file that is not there is a 404, not an error.
    let (status, _) = server.get(
        "/api/v1/files/0123456789abcdef0123456789abcdef",
        Some(&wb.viewer),
    );
    assert_eq!(status, 404);
}
