//! `csip automations run` on a real workbook file: a second run as of the
//! same time changes nothing, and the runs' messages, committed before any
//! delivery (as if the process had been killed right after its commits),
//! are delivered once by the next dispatcher, never twice.

#![allow(clippy::unwrap_used)] // tests (and the local Slack) may panic

mod common;

use common::csip;
use std::process::Command;

fn export(db: &std::path::Path, dir: &std::path::Path, table: &str) -> String {
    let out = dir.join(format!("export-{}", std::process::id()));
    let o = csip(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        table,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join(format!("{table}.csv"))).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    text
}

#[test]
fn a_second_run_at_the_same_time_changes_nothing_and_messages_go_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("csip.db");
    let o = csip(&[
        "init",
        "--db",
        db.to_str().unwrap(),
        "--sample",
        "--today",
        "2026-11-30",
    ]);
    assert!(o.status.success());
    let config = dir.path().join("csip.toml");
    std::fs::write(
        &config,
        format!(
            "[slack]\nchannel_interval_ms = 0\n\n[automations.channels]\nalerts = \"#customer-success-alerts\"\nplatform_health = \"#platform-health\"\n\n[automations.backup]\ndir = \"{}\"\n",
            dir.path().join("backups").display()
        ),
    )
    .unwrap();
    let run = || {
        let o = csip(&[
            "automations",
            "run",
            "--db",
            db.to_str().unwrap(),
            "--at",
            "2026-11-30T08:00:00+01:00",
            "--config",
            config.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let first = run();
    assert!(
        first.contains("Renewal Risk Detector (Europe/Oslo) 2026-11-30T07:00Z: Success"),
        "{first}"
    );
    let (tasks, logs) = (
        export(&db, dir.path(), "Tasks"),
        export(&db, dir.path(), "Automation_Logs"),
    );
    let second = run();
    assert!(second.contains("nothing due"), "{second}");
    assert_eq!(export(&db, dir.path(), "Tasks"), tasks);
    assert_eq!(export(&db, dir.path(), "Automation_Logs"), logs);

    // The messages are in the outbox, committed with the runs; none sent.
    // (A past day: a message is due from its commit's time.)
    let outbox = csip_store::Outbox::open(&db).unwrap();
    let pending = outbox
        .list(Some(csip_store::OutboxStatus::Pending), 1000)
        .unwrap()
        .len();
    assert!(pending >= 3, "{pending}");
    let slack = common::fake_slack();
    let (url, seen) = (slack.url.clone(), slack.received.clone());
    let send = || {
        let o = Command::new(env!("CARGO_BIN_EXE_csip"))
            .args([
                "outbox",
                "send",
                "--db",
                db.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ])
            .env("CSIP_SLACK_API_URL", &url)
            .env("CSIP_SLACK_BOT_TOKEN", "xoxb-automations-test")
            .env_remove("CSIP_CONFIG")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    send();
    assert_eq!(seen.lock().unwrap().len(), pending);
    send();
    assert_eq!(seen.lock().unwrap().len(), pending, "delivered once");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, body)| body["channel"] == "#customer-success-alerts")
    );
}

#[test]
fn csip_serve_runs_the_automations_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("csip.db");
    assert!(
        csip(&[
            "init",
            "--db",
            db.to_str().unwrap(),
            "--sample",
            "--today",
            common::TODAY
        ])
        .status
        .success()
    );
    // Without --no-automations: at start the due slots of the last day run,
    // and the change rules over every row.
    let mut child = Command::new(env!("CARGO_BIN_EXE_csip"))
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--today",
            common::TODAY,
        ])
        .env("CSIP_LOG", "warn")
        .env_remove("CSIP_CONFIG")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let logged = || {
        let store =
            csip_store::Store::open(&db, csip_engine::Clock::on(csip_workbook::sample_today()))
                .unwrap();
        let wb = store.workbook();
        let t = wb.table_id("Automation_Logs").unwrap();
        let key = wb.column_id(t, "Run_Key").unwrap();
        let keys: Vec<String> = wb
            .rows(t)
            .unwrap()
            .iter()
            .map(|&r| wb.display(wb.value(key, r).unwrap()))
            .collect();
        keys
    };
    let before = logged().len();
    let started = std::time::Instant::now();
    let mut keys = logged();
    while !keys.iter().any(|k| k.starts_with("API Health Critical/")) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no automation ran: {keys:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        keys = logged();
    }
    let _ = child.kill();
    let _ = child.wait();
    let runs = keys.len() - before;
    assert!(runs >= 1, "{keys:?}");
    // Every key once.
    let unique: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len());
}
