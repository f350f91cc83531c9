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
