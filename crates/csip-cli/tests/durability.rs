//! Durability and concurrency of `csip serve` over a real SQLite file: a
//! writer process killed with SIGKILL in the middle of a stream of
//! acknowledged transactions loses none of them and leaves no batch half
//! written; clients writing at once lose nothing.

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{Server, TODAY, ops, pilot};
use csip_engine::{Clock, NaiveDate, Value};
use csip_store::Store;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BATCH: usize = 3;

/// Every Tasks title in the file, opened as a fresh process would.
fn titles(db: &Path) -> Vec<String> {
    let today: NaiveDate = TODAY.parse().unwrap();
    let store = Store::open(db, Clock::on(today)).unwrap();
    let wb = store.workbook();
    let t = wb.table_id("Tasks").unwrap();
    let title = wb.column_id(t, "Title").unwrap();
    wb.rows(t)
        .unwrap()
        .iter()
        .map(|r| match wb.value(title, *r).ok() {
            Some(Value::Text(s)) => s.to_string(),
            other => panic!("a task without a title: {other:?}"),
        })
        .collect()
}

#[test]
fn sigkill_in_a_stream_of_writes_loses_nothing_acknowledged_and_no_batch_is_half_there() {
    let wb = pilot();
    let rounds = 10;
    let writers = 4;
    let mut acked_total = 0;
    let mut landed_unacked = 0;
    let mut acked: BTreeSet<String> = BTreeSet::new();
    for round in 0..rounds {
        let server = Server::start(&wb.db);
        let count = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let (base, token, count) = (server.base.clone(), wb.csm.clone(), count.clone());
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap();
                    let mut mine = Vec::new();
                    for n in 0.. {
                        let key = format!("r{round}-w{w}-b{n}");
                        let rows: Vec<_> = (0..BATCH)
                            .map(|i| json!({"op": "insert", "table": "Tasks", "values": {"Title": format!("{key}-{i}"), "Account": "Gard AS"}}))
                            .collect();
                        let sent = http
                            .post(format!("{base}/api/v1/transactions"))
                            .bearer_auth(&token)
                            .body(ops(json!(rows)).to_string())
                            .send();
                        match sent {
                            Ok(r) if r.status().is_success() => {
                                mine.push(key);
                                count.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(r) => panic!("{key}: {} {}", r.status(), r.text().unwrap_or_default()),
                            Err(_) => break, // the server is gone
                        }
                    }
                    mine
                })
            })
            .collect();
        // Let the stream run, then kill the server in the middle of it.
        let target = 40 + 17 * round;
        let started = Instant::now();
        while count.load(Ordering::SeqCst) < target && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2));
        }
        server.kill(); // SIGKILL
        for t in threads {
            acked.extend(t.join().unwrap());
        }
        assert!(
            count.load(Ordering::SeqCst) >= target,
            "round {round}: the writers made progress"
        );
        acked_total = acked.len();

        // Reopen as a new process would and check every batch.
        let mut batches: BTreeMap<String, usize> = BTreeMap::new();
        let titles = titles(&wb.db);
        let unique: BTreeSet<&String> = titles.iter().collect();
        assert_eq!(unique.len(), titles.len(), "no row is written twice");
        for t in titles.iter().filter(|t| t.starts_with('r')) {
            let (key, _) = t.rsplit_once('-').unwrap();
            *batches.entry(key.to_string()).or_default() += 1;
        }
        for key in &acked {
            assert_eq!(
                batches.get(key),
                Some(&BATCH),
                "acknowledged batch {key} is all there"
            );
        }
        for (key, n) in &batches {
            assert_eq!(*n, BATCH, "batch {key} is whole, never half there");
        }
        landed_unacked = batches.len() - acked.len();
    }
    eprintln!(
        "{rounds} SIGKILLs, {acked_total} acknowledged transactions of {BATCH} rows all present, {landed_unacked} in flight at the last kill landed whole"
    );
}

#[test]
fn concurrent_clients_lose_nothing() {
    let wb = pilot();
    let server = Server::start(&wb.db);
    let (_, page) = server.get(
        "/api/v1/tables/Platform_Health_Metrics/rows?limit=8",
        Some(&wb.csm),
    );
    let metrics: Vec<u64> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row_id"].as_u64().unwrap())
        .collect();
    assert_eq!(metrics.len(), 8);
    let before = server.last_commit();
    let clients = 8;
    let each = 20;
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (base, token, metric) = (server.base.clone(), wb.csm.clone(), metrics[c]);
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                for n in 0..each {
                    let body = ops(json!([
                        {"op": "insert", "table": "Tasks", "values": {"Title": format!("c{c}-{n}")}},
                        {"op": "set", "table": "Platform_Health_Metrics", "row_id": metric, "column": "Current_Value", "value": 1000 * c + n}
                    ]));
                    let r = http.post(format!("{base}/api/v1/transactions")).bearer_auth(&token).body(body.to_string()).send().unwrap();
                    assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        server.last_commit(),
        before + (clients * each) as i64,
        "one commit per request"
    );
    let (_, audit) = server.get("/api/v1/audit?limit=1000", Some(&wb.admin));
    assert_eq!(
        audit["entries"].as_array().unwrap().len(),
        clients * each * 2,
        "an insert and a set each"
    );
    server.kill();
    let titles = titles(&wb.db);
    for c in 0..clients {
        for n in 0..each {
            assert!(titles.contains(&format!("c{c}-{n}")), "c{c}-{n} is there");
        }
    }
    let today: NaiveDate = TODAY.parse().unwrap();
    let store = Store::open(&wb.db, Clock::on(today)).unwrap();
    let w = store.workbook();
    let t = w.table_id("Platform_Health_Metrics").unwrap();
    let value = w.column_id(t, "Current_Value").unwrap();
    for (c, m) in metrics.iter().enumerate() {
        let row = csip_engine::RowId::from_raw(u32::try_from(*m).unwrap());
        assert_eq!(
            w.value(value, row).ok(),
            Some(&Value::from((1000 * c + each - 1) as i64)),
            "each client's last write stands"
        );
    }
}
