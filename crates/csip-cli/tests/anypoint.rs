//! `csip anypoint sync` end to end against the local Anypoint of
//! csip-anypoint's tests: an account's APIs into the workbook file, then a
//! second sync that finds nothing new and writes nothing.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // tests may panic; the fake is shared

#[path = "../../csip-anypoint/tests/fake/mod.rs"]
mod fake;

use std::process::Command;

const GARD: &str = "a1f0c3d2-0000-4000-8000-00000000gard";

#[test]
fn csip_anypoint_sync_writes_an_accounts_apis_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("csip.db");
    let o = Command::new(env!("CARGO_BIN_EXE_csip"))
        .args([
            "init",
            "--db",
            db.to_str().unwrap(),
            "--sample",
            "--today",
            "2026-11-24",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let anypoint = fake::FakeAnypoint::start();
    anypoint.add_org(GARD);
    anypoint.set_assets(GARD, fake::catalogue(GARD, 20, 3).assets);
    let sync = || {
        let o = Command::new(env!("CARGO_BIN_EXE_csip"))
            .args([
                "anypoint",
                "sync",
                "--db",
                db.to_str().unwrap(),
                "--account",
                "gard as",
                "--scope",
                "APIs Only",
            ])
            .env("CSIP_ANYPOINT_URL", anypoint.base_url())
            .env("CSIP_ANYPOINT_CLIENT_ID", fake::CLIENT_ID)
            .env("CSIP_ANYPOINT_CLIENT_SECRET", fake::CLIENT_SECRET)
            .env_remove("CSIP_CONFIG")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{text}");
        assert!(!text.contains(fake::CLIENT_SECRET), "{text}");
        text
    };
    let first = sync();
    assert!(first.contains("Gard AS: 20 APIs synced, 20 new"), "{first}");
    assert!(first.contains("Committed as commit"), "{first}");
    let second = sync();
    assert!(
        second.contains("Nothing changed; nothing written."),
        "{second}"
    );

    // Without credentials: a sentence that says which to set.
    let o = Command::new(env!("CARGO_BIN_EXE_csip"))
        .args([
            "anypoint",
            "sync",
            "--db",
            db.to_str().unwrap(),
            "--account",
            "Gard AS",
        ])
        .env_remove("CSIP_ANYPOINT_CLIENT_ID")
        .env_remove("CSIP_ANYPOINT_CLIENT_SECRET")
        .env_remove("CSIP_CONFIG")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("CSIP_ANYPOINT_CLIENT_ID"));
}

mod common;

#[test]
fn the_sync_button_runs_as_a_job_through_the_api() {
    let wb = common::pilot();
    let anypoint = fake::FakeAnypoint::start();
    anypoint.add_org(GARD);
    anypoint.set_assets(GARD, fake::catalogue(GARD, 30, 5).assets);
    let base = anypoint.base_url();
    let server = common::Server::start_env(
        &wb.db,
        &[],
        &[
            ("CSIP_ANYPOINT_URL", base.as_str()),
            ("CSIP_ANYPOINT_CLIENT_ID", fake::CLIENT_ID),
            ("CSIP_ANYPOINT_CLIENT_SECRET", fake::CLIENT_SECRET),
        ],
    );
    let (status, actions) = server.get("/api/v1/actions", Some(&wb.viewer));
    assert_eq!(status, 200);
    assert_eq!(
        actions["actions"][0]["buttons"][0],
        serde_json::json!({"table": "Account_Master", "column": "Sync_from_Anypoint"})
    );
    let body = serde_json::json!({"account": "Gard AS", "scope": "APIs Only"});
    let (status, _) = server.post("/api/v1/actions/sync-from-anypoint", &wb.viewer, &body);
    assert_eq!(status, 403, "a viewer reads only");
    let (status, started) = server.post("/api/v1/actions/sync-from-anypoint", &wb.csm, &body);
    assert_eq!(status, 202, "{started}");
    let id = started["job"]["id"].as_u64().unwrap();
    let began = std::time::Instant::now();
    let job = loop {
        let (_, job) = server.get(&format!("/api/v1/jobs/{id}"), Some(&wb.csm));
        if job["job"]["status"] != "running" {
            break job;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(60),
            "{job}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(job["job"]["status"], "done", "{job}");
    assert_eq!(job["job"]["result"]["apis_synced"], 30, "{job}");
    assert_eq!(job["job"]["result"]["new"], 30, "{job}");
    let (status, _) = server.get("/api/v1/jobs/999", Some(&wb.csm));
    assert_eq!(status, 404);
}
