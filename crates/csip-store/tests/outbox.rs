//! The outbox (DESIGN §5 "Outbox"): a write's messages are in the file
//! exactly when the write is, once per key, and delivered with retries,
//! backoff and a limit.

#![allow(clippy::unwrap_used)] // tests may panic

use csip_engine::{NaiveDateTime, Transaction, Value};
use csip_store::{
    Backoff, Outbox, OutboxMessage, OutboxStatus, Outcome, Settled, Store, Submitted,
};
use serde_json::json;
use std::time::Duration;

fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
    csip_workbook::sample_today().and_hms_opt(h, m, s).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
    arr: csip_engine::ColumnId,
    gard: csip_engine::RowId,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csip.db");
    let today = csip_workbook::sample_today();
    let store = Store::create(
        &path,
        csip_workbook::table_files(),
        csip_workbook::pilot(today).unwrap(),
    )
    .unwrap();
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").unwrap();
    let arr = wb.column_id(accounts, "ARR").unwrap();
    let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
    Fixture {
        _dir: dir,
        path,
        store,
        arr,
        gard,
    }
}

fn message(key: &str, text: &str) -> OutboxMessage {
    OutboxMessage::new(key, "slack", "#cs-updates", json!({ "text": text }))
}

#[test]
fn a_message_is_kept_with_its_write_once_per_key_and_not_without_it() {
    let mut f = fixture();
    let (arr, gard) = (f.arr, f.gard);
    // Built from the workbook as the write left it.
    f.store
        .commit_with_messages(
            Transaction::new().set(arr, gard, 1_000_000),
            "kari",
            at(9, 0, 0),
            |wb, changes| {
                let arr_now = wb.value(arr, gard).unwrap().clone();
                assert_eq!(arr_now, Value::from(1_000_000));
                vec![message(
                    "update-1",
                    &format!("{} cells changed", changes.changes.len()),
                )]
            },
        )
        .unwrap();
    // The same key again (a retried request): the write happens, the
    // message is not doubled.
    f.store
        .commit_with_messages(
            Transaction::new().set(arr, gard, 1_000_001),
            "kari",
            at(9, 0, 1),
            |_, _| vec![message("update-1", "again")],
        )
        .unwrap();
    // A write that is refused leaves no message.
    let refused = f.store.commit_with_messages(
        Transaction::new().set(arr, gard, "not a number"),
        "kari",
        at(9, 0, 2),
        |_, _| vec![message("update-2", "never")],
    );
    assert!(refused.is_err());
    // A write that changes nothing commits nothing and leaves no message.
    f.store
        .commit_with_messages(
            Transaction::new().set(arr, gard, 1_000_001),
            "kari",
            at(9, 0, 3),
            |_, _| vec![message("update-3", "nothing changed")],
        )
        .unwrap();
    drop(f.store);
    let outbox = Outbox::open(&f.path).unwrap();
    let all = outbox.list(None, 100).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].key, "update-1");
    assert!(
        all[0].payload.contains("cells changed"),
        "{}",
        all[0].payload
    );
    assert!(all[0].commit.is_some());
    assert_eq!(all[0].status(), OutboxStatus::Pending);
}

#[test]
fn a_batch_keeps_each_commits_messages_and_a_refused_one_none() {
    let mut f = fixture();
    let (arr, gard) = (f.arr, f.gard);
    let one = |value: Value, key: &'static str| Submitted {
        tx: Transaction::new().set(arr, gard, value),
        actor: "kari".into(),
        at: at(10, 0, 0),
        messages: Some(Box::new(
            move |_: &csip_engine::Workbook, _: &csip_engine::ChangeSet| vec![message(key, key)],
        )),
    };
    let answers = f.store.commit_batch(vec![
        one(Value::from(5), "b-1"),
        one(Value::from("x"), "b-2"),
        one(Value::from(6), "b-3"),
    ]);
    assert!(answers[0].is_ok() && answers[1].is_err() && answers[2].is_ok());
    let outbox = Outbox::open(&f.path).unwrap();
    let keys: Vec<String> = outbox
        .due(at(10, 0, 0), 10)
        .unwrap()
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys, ["b-1", "b-3"]);
}

#[test]
fn failures_are_retried_with_backoff_then_given_up_and_retry_after_is_honoured() {
    let mut f = fixture();
    let (arr, gard) = (f.arr, f.gard);
    f.store
        .commit_with_messages(
            Transaction::new().set(arr, gard, 7),
            "kari",
            at(11, 0, 0),
            |_, _| {
                vec![
                    message("r-1", "retry me"),
                    message("r-2", "rate limited"),
                    message("r-3", "no channel"),
                ]
            },
        )
        .unwrap();
    let outbox = Outbox::open(&f.path).unwrap();
    let backoff = Backoff {
        first: Duration::from_secs(2),
        max: Duration::from_secs(60),
        attempts: 3,
    };
    let due = outbox.due(at(11, 0, 0), 10).unwrap();
    assert_eq!(due.len(), 3);
    let id = |key: &str| due.iter().find(|p| p.key == key).unwrap().id;
    let retry = |after| Outcome::Retry {
        after,
        error: "HTTP 500".into(),
    };
    // A server error: tried again after the backoff (2 s, jitter at its top).
    assert_eq!(
        outbox
            .settle(id("r-1"), &retry(None), at(11, 0, 0), &backoff, 1.0)
            .unwrap(),
        Settled::RetryAt(at(11, 0, 2))
    );
    // Slack's 429 with Retry-After: 30 s, whatever the backoff says.
    assert_eq!(
        outbox
            .settle(
                id("r-2"),
                &retry(Some(Duration::from_secs(30))),
                at(11, 0, 0),
                &backoff,
                0.0
            )
            .unwrap(),
        Settled::RetryAt(at(11, 0, 30))
    );
    // A permanent failure is not retried.
    let failed = Outcome::Failed {
        error: "channel_not_found".into(),
    };
    assert_eq!(
        outbox
            .settle(id("r-3"), &failed, at(11, 0, 0), &backoff, 0.5)
            .unwrap(),
        Settled::Failed("channel_not_found".into())
    );
    // Not due before its time; due after.
    assert!(outbox.due(at(11, 0, 1), 10).unwrap().is_empty());
    assert_eq!(outbox.due(at(11, 0, 2), 10).unwrap().len(), 1);
    // The second failure waits twice as long; the third is the last.
    assert_eq!(
        outbox
            .settle(id("r-1"), &retry(None), at(11, 0, 2), &backoff, 1.0)
            .unwrap(),
        Settled::RetryAt(at(11, 0, 6))
    );
    let last = outbox
        .settle(id("r-1"), &retry(None), at(11, 0, 6), &backoff, 0.5)
        .unwrap();
    assert_eq!(
        last,
        Settled::Failed("gave up after 3 attempts: HTTP 500".into())
    );
    let failed: Vec<String> = outbox
        .list(Some(OutboxStatus::Failed), 10)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {:?}", e.key, e.attempts, e.last_error))
        .collect();
    assert_eq!(
        failed,
        [
            "r-3 1 Some(\"channel_not_found\")",
            "r-1 3 Some(\"gave up after 3 attempts: HTTP 500\")"
        ]
    );
    assert!(
        outbox
            .due(at(12, 0, 0), 10)
            .unwrap()
            .iter()
            .all(|p| p.key == "r-2")
    );
}

#[test]
fn a_message_committed_before_a_crash_is_there_after_it() {
    let mut f = fixture();
    let (arr, gard) = (f.arr, f.gard);
    f.store
        .commit_with_messages(
            Transaction::new().set(arr, gard, 8),
            "kari",
            at(12, 0, 0),
            |_, _| vec![message("c-1", "survives")],
        )
        .unwrap();
    // No clean close: the store is forgotten as a killed process would
    // leave it, and the file opened again.
    std::mem::forget(f.store);
    let store = Store::open(
        &f.path,
        csip_engine::Clock::on(csip_workbook::sample_today()),
    )
    .unwrap();
    // A reopened file is a new workbook: its ids are looked up again.
    let wb = store.workbook();
    let arr = wb
        .column_id(wb.table_id("Account_Master").unwrap(), "ARR")
        .unwrap();
    assert_eq!(wb.value(arr, gard).unwrap(), &Value::from(8));
    let outbox = Outbox::open(&f.path).unwrap();
    assert_eq!(outbox.due(at(12, 0, 0), 10).unwrap()[0].key, "c-1");
}

/// The one window where a message goes out twice (`docs/outbox.md`): a
/// dispatcher that handed a message to its transport and was killed before
/// it settled it leaves it due, and the next dispatcher sends it again.
/// Settled, it is never due again.
#[test]
fn a_message_sent_but_not_settled_before_a_kill_is_due_again() {
    let mut f = fixture();
    let (arr, gard) = (f.arr, f.gard);
    f.store
        .commit_with_messages(
            Transaction::new().set(arr, gard, 9),
            "kari",
            at(13, 0, 0),
            |_, _| vec![message("w-1", "twice?")],
        )
        .unwrap();
    let first = Outbox::open(&f.path).unwrap();
    let taken = first.due(at(13, 0, 0), 10).unwrap();
    assert_eq!(taken.len(), 1);
    // The transport took it here; the dispatcher dies before `settle`.
    drop(first);
    let second = Outbox::open(&f.path).unwrap();
    let again = second.due(at(13, 0, 1), 10).unwrap();
    assert_eq!(again.iter().map(|p| &p.key).collect::<Vec<_>>(), ["w-1"]);
    let settled = second
        .settle(
            again[0].id,
            &Outcome::Delivered,
            at(13, 0, 1),
            &Backoff::default(),
            0.5,
        )
        .unwrap();
    assert_eq!(settled, Settled::Delivered);
    assert!(second.due(at(23, 0, 0), 10).unwrap().is_empty());
    assert_eq!(second.list(None, 10).unwrap()[0].attempts, 1);
}
