//! Times ingesting one metrics report into a workbook file, end to end
//! (the file read, parsed, checked against the workbook, applied,
//! recalculated and committed durably with its audit rows) and the parse +
//! check alone; and the memory the ingestion adds. Each run is a process of
//! its own on a fresh copy of the file: the parent runs itself as
//! `ingest-report --once DB REPORT` a few times and prints the medians.
//!
//! ```text
//! cargo run --release -p csip-cli -- synth --accounts 10000 --db /tmp/big.db
//! # a report of every metric of the file: Account,Metric Name,Current Value,Measured At
//! cargo run --release -p csip-benches --bin ingest-report -- /tmp/big.db report.csv [RUNS]
//! ```
//!
//! `INGEST_KEPT_VIEWS=1` keeps the views first, as `csip serve` does
//! (`csip ingest` keeps none). Memory: the resident set after the open, then the peak reset
//! (`/proc/self/clear_refs`), so that the peak read after the ingestion
//! is the ingestion's own.

use csip_engine::Clock;
use csip_ingest::{Format, Mapping, Run, Settings, SourceKind};
use csip_store::Store;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// A field of /proc/self/status, in MB (Linux).
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn today() -> csip_engine::NaiveDate {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    csip_engine::NaiveDate::from_num_days_from_ce_opt(
        719_163 + i32::try_from(secs / 86_400).unwrap_or(0),
    )
    .unwrap_or_default()
}

/// One run, printed as `ingest ROWS PARSE_S CHECK_S TOTAL_S GROWTH_MB REPORT_MB`.
fn once(db: &Path, report: &Path) -> Result<String, String> {
    let mut store = Store::open(db, Clock::on(today())).map_err(|e| e.to_string())?;
    // As `csip serve` keeps them; `csip ingest` does not.
    if std::env::var_os("INGEST_KEPT_VIEWS").is_some() {
        store.maintain_views();
    }
    let now = today().and_hms_opt(6, 30, 0).unwrap_or_default();
    // Parse + check alone, the report dropped before the ingestion.
    let bytes = std::fs::read(report).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let read = csip_ingest::read(&bytes, Format::Csv, &Mapping::default(), Default::default())
        .map_err(|e| e.to_string())?;
    let parse = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let plan = read
        .plan(store.workbook(), false, now, "Tableau Report")
        .map_err(|e| e.to_string())?;
    let check = started.elapsed().as_secs_f64();
    let rows = plan.counts.rows;
    // The engine alone: the same transaction applied to a copy of the
    // workbook (copy-on-write), nothing written.
    let engine = if std::env::var_os("INGEST_ENGINE_ALONE").is_some() {
        let mut wb = store.workbook().clone();
        let started = Instant::now();
        let changes = wb.apply(plan.tx.clone()).map_err(|e| e.to_string())?;
        let took = started.elapsed().as_secs_f64();
        eprintln!(
            "engine alone: {took:.3} s, {} cells changed",
            changes.changes.len()
        );
        drop((wb, changes));
        took
    } else {
        0.0
    };
    let _ = engine;
    drop((plan, read, bytes));

    let before = status_mb("VmRSS:");
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| format!("clear_refs: {e}"))?;
    let started = Instant::now();
    let bytes = std::fs::read(report).map_err(|e| e.to_string())?;
    let run = Run::new(SourceKind::File, "report.csv", now);
    let summary = csip_ingest::ingest(
        &mut store,
        &bytes,
        Format::Csv,
        &Settings::default(),
        &run,
        "bench",
        &mut |_| {},
    )
    .map_err(|e| e.to_string())?;
    let total = started.elapsed().as_secs_f64();
    let growth = status_mb("VmHWM:") - before;
    let report_mb = bytes.len() as f64 / 1e6;
    if summary.counts.updated != rows {
        return Err(format!("{} of {rows} rows updated", summary.counts.updated));
    }
    Ok(format!(
        "ingest {rows} {parse:.3} {check:.3} {total:.3} {growth:.0} {report_mb:.1} {}",
        summary.cells_changed
    ))
}

/// The peer: the same upsert by plain SQLite on the same file — the
/// report read with the `csv` crate, each row an `UPDATE … WHERE Account =
/// ? AND Metric_Name = ?` through an index (made before the clock starts),
/// in one transaction with `synchronous=FULL`; no formula recalculated, no
/// audit row. Printed as `peer ROWS SECONDS`.
fn peer(db: &Path, report: &Path) -> Result<String, String> {
    let sql = |e: rusqlite::Error| e.to_string();
    let mut conn = rusqlite::Connection::open(db).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS peer_metric ON \"Platform_Health_Metrics\" (\"Account\", \"Metric_Name\");
         CREATE INDEX IF NOT EXISTS peer_account ON \"Account_Master\" (\"Account_Name\");",
    )
    .map_err(sql)?;
    let started = Instant::now();
    let bytes = std::fs::read(report).map_err(|e| e.to_string())?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let tx = conn.transaction().map_err(sql)?;
    let mut rows = 0u64;
    {
        let mut account = tx
            .prepare("SELECT row_id FROM \"Account_Master\" WHERE \"Account_Name\" = ?1")
            .map_err(sql)?;
        let mut update = tx
            .prepare(
                "UPDATE \"Platform_Health_Metrics\" SET \"Current_Value\" = ?1, \"Last_Measured\" = ?2
                 WHERE \"Account\" = ?3 AND \"Metric_Name\" = ?4",
            )
            .map_err(sql)?;
        let mut ids: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record).map_err(|e| e.to_string())? {
            let name = record.get(0).unwrap_or_default();
            let id = match ids.get(name) {
                Some(&id) => id,
                None => {
                    let id: i64 = account.query_row([name], |r| r.get(0)).map_err(sql)?;
                    ids.insert(name.to_string(), id);
                    id
                }
            };
            let changed = update
                .execute(rusqlite::params![
                    record.get(2).unwrap_or_default(),
                    record.get(3).unwrap_or_default(),
                    id,
                    record.get(1).unwrap_or_default()
                ])
                .map_err(sql)?;
            if changed != 1 {
                return Err(format!("{changed} rows for {name}"));
            }
            rows += 1;
        }
    }
    tx.commit().map_err(sql)?;
    Ok(format!(
        "peer {rows} {:.3}",
        started.elapsed().as_secs_f64()
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(mode @ ("--once" | "--peer")) = args.first().map(String::as_str) {
        let run = if mode == "--once" { once } else { peer };
        return match run(Path::new(&args[1]), Path::new(&args[2])) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (Some(db), Some(report)) = (args.first(), args.get(1)) else {
        eprintln!("usage: ingest-report DB REPORT [RUNS]");
        return ExitCode::FAILURE;
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let copy = PathBuf::from(format!("{db}.ingest-copy"));
    let mut lines = Vec::new();
    let mut peers = Vec::new();
    for mode in std::iter::repeat_n(["--once", "--peer"], runs).flatten() {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", copy.display()));
        }
        if let Err(e) = std::fs::copy(db, &copy) {
            eprintln!("error: cannot copy {db}: {e}");
            return ExitCode::FAILURE;
        }
        let out = Command::new(std::env::current_exe().unwrap_or_default())
            .args([mode, copy.to_str().unwrap_or_default(), report])
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
                println!("{line}");
                if mode == "--peer" {
                    peers.push(line);
                } else {
                    lines.push(line);
                }
            }
            Ok(o) => {
                eprintln!("{}", String::from_utf8_lossy(&o.stderr));
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", copy.display()));
    }
    let col = |i: usize| -> Vec<f64> {
        lines
            .iter()
            .filter_map(|l| l.split_whitespace().nth(i)?.parse().ok())
            .collect()
    };
    let rows = median(col(1));
    let (parse, check, total, growth, mb) = (
        median(col(2)),
        median(col(3)),
        median(col(4)),
        median(col(5)),
        median(col(6)),
    );
    let peer = median(
        peers
            .iter()
            .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
            .collect(),
    );
    println!(
        "median of {runs}: {rows} rows ({mb} MB): parse {parse:.3} s + check {check:.3} s = {:.0} rows/s; end to end {total:.2} s; memory growth {growth:.0} MB ({:.1}× the report); plain SQLite upsert {peer:.2} s (csip {:.1}× its time)",
        rows / (parse + check),
        growth / mb,
        total / peer
    );
    ExitCode::SUCCESS
}
