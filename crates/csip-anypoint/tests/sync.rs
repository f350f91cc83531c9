//! The sync into a real workbook file against the local Anypoint: a Full
//! Sync of an organization with 500 APIs (several versions each) through
//! every retry path; a repeated sync writes nothing; a failure leaves the
//! account as it was; the daily run over several accounts.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // tests may panic; the fake is shared

mod fake;

use chrono::{TimeZone, Utc};
use csip_anypoint::{Client, Scope, sync_account};
use csip_engine::Workbook;
use csip_store::Store;
use fake::{FakeAnypoint, FakeAsset, FakeRow, Fault, catalogue};
use std::time::{Duration, Instant};

const GARD: &str = "a1f0c3d2-0000-4000-8000-00000000gard";

fn pilot(dir: &std::path::Path) -> Store {
    Store::create(
        &dir.join("csip.db"),
        csip_workbook::table_files(),
        csip_workbook::pilot(csip_workbook::sample_today()).unwrap(),
    )
    .unwrap()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

/// API_Portfolio rows of an account: API_ID → (Version, Monthly_Transactions, Needs_Manual_Mapping).
fn apis(
    wb: &Workbook,
    account: &str,
) -> std::collections::BTreeMap<String, (String, String, String)> {
    let t = wb.table_id("API_Portfolio").unwrap();
    let col = |n| wb.column_id(t, n).unwrap();
    wb.rows(t)
        .unwrap()
        .iter()
        .filter(|&&r| wb.display(wb.value(col("Account"), r).unwrap()) == account)
        .map(|&r| {
            let v = |n| wb.display(wb.value(col(n), r).unwrap());
            (
                v("API_ID"),
                (
                    v("Version"),
                    v("Monthly_Transactions"),
                    v("Needs_Manual_Mapping"),
                ),
            )
        })
        .collect()
}

/// Gard's organization: 500 APIs of several versions each, plus Gard's
/// own five, and a day's metrics for every one.
fn gard_org(anypoint: &FakeAnypoint) -> fake::Catalogue {
    anypoint.add_org(GARD);
    let mut cat = catalogue(GARD, 500, 7);
    for (i, id) in [
        "gard-war-risk-quote-papi",
        "gard-broker-portal-eapi",
        "gard-vessel-registry-sapi",
        "gard-claims-sapi",
    ]
    .iter()
    .enumerate()
    {
        for v in ["3.1.0", "3.10.2", "3.9.9"] {
            cat.assets.push(FakeAsset {
                group_id: GARD.into(),
                asset_id: (*id).into(),
                version: v.into(),
                name: format!("Gard API {i}"),
                description: None,
            });
        }
    }
    anypoint.set_assets(GARD, cat.assets.clone());
    let mut rows: Vec<FakeRow> = cat
        .latest
        .keys()
        .map(|id| FakeRow {
            api: id.clone(),
            requests: 30_000,
            errors: 30,
            avg_ms: 120.0,
        })
        .collect();
    rows.push(FakeRow {
        api: "gard-vessel-registry-sapi".into(),
        requests: 1_500_000,
        errors: 90_000,
        avg_ms: 640.0,
    });
    anypoint.set_monitoring(GARD, rows);
    cat
}

#[test]
fn a_full_sync_of_500_apis_through_every_retry_path_then_nothing_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot(dir.path());
    let anypoint = FakeAnypoint::start();
    let cat = gard_org(&anypoint);
    // Every retry path once: a token expiring mid-sync, 429 with
    // Retry-After, 503 twice, an answer slower than the timeout, and a
    // rate limit used up.
    let search = "/exchange/api/v2/assets/search";
    anypoint.fail_next(
        search,
        [
            Fault::Pass,
            Fault::Pass,
            Fault::ExpireTokens,
            Fault::RetryAfter {
                status: 429,
                seconds: 1,
            },
            Fault::Status(503),
            Fault::Status(503),
        ],
    );
    anypoint.fail_next(
        "/observability/api/v1/metrics:search",
        [
            Fault::Slow(Duration::from_secs(3)),
            Fault::RateLimitExhausted { reset_seconds: 1 },
        ],
    );
    let mut settings = anypoint.settings();
    settings.request_timeout = Duration::from_secs(2);
    let mut client = Client::new(settings.clone(), anypoint.credentials()).unwrap();
    let started = Instant::now();
    let synced = sync_account(
        &mut store,
        &mut client,
        "Gard AS",
        Scope::FullSync,
        now(),
        "test",
        csip_anypoint::run::MANUAL,
        Some("#cs-updates"),
    )
    .unwrap();
    let took = started.elapsed();
    println!(
        "full sync of {} APIs: {:.2} s, {} requests, {} retries",
        synced.summary.synced,
        took.as_secs_f64(),
        synced.requests,
        synced.retries
    );
    // 429, two 503s, the slow answer, the expired token: each retried.
    assert!(synced.retries >= 5, "{synced:?}");
    assert_eq!(
        anypoint.issued_tokens().len(),
        2,
        "the token fetched again once, after the 401"
    );
    // APIs Anypoint Monitoring has no data for are skipped with the reason.
    assert_eq!(
        synced.summary.skipped.len(),
        3,
        "{:?}",
        synced.summary.skipped
    );
    assert_eq!(synced.summary.synced, 504);
    assert_eq!(synced.summary.new, 500);
    assert_eq!(synced.summary.gone, ["gard-sanctions-screening-sapi"]);
    assert!(synced.commit.is_some());
    let wb = store.workbook();
    let rows = apis(wb, "Gard AS");
    assert_eq!(rows.len(), 505);
    // The semver-latest of each, not the last listed.
    for (id, (version, _)) in &cat.latest {
        assert_eq!(&rows[id].0, version, "{id}");
    }
    assert_eq!(rows["gard-war-risk-quote-papi"].0, "3.10.2");
    // New APIs and the one gone are flagged; metrics written.
    assert_eq!(rows["api-000"].2, "true");
    assert_eq!(rows["gard-sanctions-screening-sapi"].2, "true");
    assert_eq!(rows["gard-vessel-registry-sapi"].1, "1500000");
    // The Vessel Registry's error rate (6 %) makes it Critical.
    let t = wb.table_id("API_Portfolio").unwrap();
    let vessel = wb.find_rows(t, "gard-vessel-registry-sapi").unwrap()[0];
    assert_eq!(
        wb.display(
            wb.value(wb.column_id(t, "Health_Status").unwrap(), vessel)
                .unwrap()
        ),
        "🔴 Critical"
    );
    // The log row and the message, in the same commit.
    let logs = wb.table_id("Automation_Logs").unwrap();
    let last = *wb.rows(logs).unwrap().iter().max().unwrap();
    let message = wb.display(
        wb.value(wb.column_id(logs, "Message").unwrap(), last)
            .unwrap(),
    );
    assert!(
        message.starts_with("Gard AS: 504 APIs synced, 500 new, 1 gone from Exchange"),
        "{message}"
    );
    let outbox = csip_store::Outbox::open(store.path())
        .unwrap()
        .list(None, 10)
        .unwrap();
    assert_eq!(outbox.len(), 1);

    // Nothing changed in Anypoint: nothing written, no commit.
    let commit = store.last_commit().unwrap();
    let mut client = Client::new(settings, anypoint.credentials()).unwrap();
    let again = sync_account(
        &mut store,
        &mut client,
        "Gard AS",
        Scope::FullSync,
        now() + chrono::Duration::hours(1),
        "test",
        csip_anypoint::run::MANUAL,
        Some("#cs-updates"),
    )
    .unwrap();
    assert_eq!(again.commit, None, "{again:?}");
    assert_eq!(store.last_commit().unwrap(), commit);
}

#[test]
fn a_failed_sync_leaves_the_account_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot(dir.path());
    let anypoint = FakeAnypoint::start();
    gard_org(&anypoint);
    let before = (
        store.last_commit().unwrap(),
        apis(store.workbook(), "Gard AS"),
    );
    // A malformed answer half-way through the pages.
    anypoint.fail_next(
        "/exchange/api/v2/assets/search",
        [Fault::Pass, Fault::Pass, Fault::Malformed],
    );
    let mut client = Client::new(anypoint.settings(), anypoint.credentials()).unwrap();
    let e = sync_account(
        &mut store,
        &mut client,
        "Gard AS",
        Scope::FullSync,
        now(),
        "test",
        csip_anypoint::run::MANUAL,
        None,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("/exchange/api/v2/assets/search"),
        "{e}"
    );
    assert_eq!(
        (
            store.last_commit().unwrap(),
            apis(store.workbook(), "Gard AS")
        ),
        before
    );

    // The server down: an error within the deadline, nothing written.
    let mut settings = anypoint.settings();
    settings.base_url = "http://127.0.0.1:9".into();
    settings.deadline = Duration::from_secs(5);
    let started = Instant::now();
    let mut client = Client::new(settings, anypoint.credentials()).unwrap();
    let e = sync_account(
        &mut store,
        &mut client,
        "Gard AS",
        Scope::FullSync,
        now(),
        "test",
        csip_anypoint::run::MANUAL,
        None,
    )
    .unwrap_err();
    println!(
        "server down: {e} (after {:.2} s)",
        started.elapsed().as_secs_f64()
    );
    assert!(!e.to_string().contains(fake::CLIENT_SECRET));
    assert_eq!(
        (
            store.last_commit().unwrap(),
            apis(store.workbook(), "Gard AS")
        ),
        before
    );
}

#[test]
fn the_daily_run_syncs_each_account_and_one_failure_stops_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot(dir.path());
    let anypoint = FakeAnypoint::start();
    gard_org(&anypoint);
    // Helix's organization is unknown to Anypoint (404); Sakura has no credentials.
    let mut settings = anypoint.settings();
    settings.deadline = Duration::from_secs(20);
    let credentials = anypoint.credentials();
    let helix_before = apis(store.workbook(), "Helix Health Partners");
    let message = csip_anypoint::daily(
        &Held(std::cell::RefCell::new(&mut store)),
        &settings,
        &|org| (org != "c3f2e5d4-0000-4000-8000-000000sakura").then(|| credentials.clone()),
        now(),
        "Daily Anypoint Sync/2026-11-24T01:00:00Z",
        None,
    )
    .unwrap();
    assert!(message.contains("failed"), "{message}");
    let wb = store.workbook();
    assert_eq!(apis(wb, "Gard AS").len(), 505, "Gard synced");
    assert_eq!(apis(wb, "Helix Health Partners").len(), helix_before.len());
    let logs = wb.table_id("Automation_Logs").unwrap();
    let key = wb.column_id(logs, "Run_Key").unwrap();
    let status = wb.column_id(logs, "Status").unwrap();
    let run = wb
        .rows(logs)
        .unwrap()
        .iter()
        .copied()
        .find(|&r| {
            wb.display(wb.value(key, r).unwrap()) == "Daily Anypoint Sync/2026-11-24T01:00:00Z"
        })
        .unwrap();
    assert_eq!(wb.display(wb.value(status, run).unwrap()), "Partial");
}

/// The store, held by the test, as the daily run reads and writes.
struct Held<'s>(std::cell::RefCell<&'s mut Store>);

impl csip_anypoint::run::Access for Held<'_> {
    fn read(&self, f: &mut dyn FnMut(&Workbook)) {
        f(self.0.borrow().workbook());
    }

    fn write(&self, f: &mut dyn FnMut(&mut Store)) {
        f(&mut self.0.borrow_mut());
    }
}
