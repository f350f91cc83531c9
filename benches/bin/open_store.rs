//! Times `Store::open` on a workbook file, from its snapshot and from its
//! rows, each in a process of its own so that its peak resident memory is
//! its own: the parent runs itself as `open_store --once MODE FILE` a few
//! times per mode and prints the medians.
//!
//! ```text
//! cargo run --release -p csip-cli -- synth --accounts 10000 --db /tmp/big.db   # writes the snapshot too
//! cargo run --release -p csip-benches --bin open-store -- /tmp/big.db [RUNS]
//! ```
//!
//! "From its rows" opens a copy of the file without its snapshot
//! (`VACUUM INTO`, then the `csip_snapshot` table dropped), made once next
//! to the file and removed at the end.

use csip_engine::Clock;
use csip_store::{Loaded, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The peak resident memory of this process so far, in MB (Linux).
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The machine's date (UTC), as `csip` reads it by default: a snapshot
/// written today is read for its own day.
fn today() -> csip_engine::NaiveDate {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // 1970-01-01 is day 719,163 of the common era.
    csip_engine::NaiveDate::from_num_days_from_ce_opt(
        719_163 + i32::try_from(secs / 86_400).unwrap_or(0),
    )
    .unwrap_or_default()
}

/// One open, printed as `open MODE SECONDS PEAK_MB`.
fn once(mode: &str, path: &Path) -> ExitCode {
    let started = Instant::now();
    let store = match Store::open(path, Clock::on(today())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let took = started.elapsed().as_secs_f64();
    let how = match store.loaded() {
        Loaded::Snapshot => "snapshot",
        _ => "rows",
    };
    if how != mode {
        eprintln!(
            "error: asked to open from {mode}, opened from {how}: {:?}",
            store.loaded()
        );
        return ExitCode::FAILURE;
    }
    println!("open {mode} {took:.3} {:.0}", peak_mb());
    ExitCode::SUCCESS
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--once") {
        return match (args.get(2), args.get(3)) {
            (Some(mode), Some(path)) => once(mode, Path::new(path)),
            _ => ExitCode::FAILURE,
        };
    }
    let Some(path) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: open-store FILE [RUNS]");
        return ExitCode::FAILURE;
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let rows = path.with_extension("without-snapshot.db");
    let _ = std::fs::remove_file(&rows);
    let copied = rusqlite::Connection::open(&path).and_then(|c| {
        c.execute("VACUUM INTO ?1", [rows.to_string_lossy()])?;
        let copy = rusqlite::Connection::open(&rows)?;
        copy.execute_batch("DROP TABLE IF EXISTS csip_snapshot")
    });
    if let Err(e) = copied {
        eprintln!("error: cannot copy {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    let Ok(me) = std::env::current_exe() else {
        return ExitCode::FAILURE;
    };
    let mut ok = true;
    for (mode, file) in [("snapshot", &path), ("rows", &rows)] {
        let (mut times, mut peaks) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let out = Command::new(&me).args(["--once", mode]).arg(file).output();
            let line = out
                .as_ref()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string());
            let Some(line) = line else {
                eprintln!("error: the {mode} run failed: {out:?}");
                ok = false;
                break;
            };
            print!("{line}");
            let fields: Vec<f64> = line
                .split_whitespace()
                .skip(2)
                .filter_map(|f| f.parse().ok())
                .collect();
            if let [t, p] = fields[..] {
                times.push(t);
                peaks.push(p);
            }
        }
        if !times.is_empty() {
            println!(
                "open from {mode}: median {:.2} s over {} runs (min {:.2}, max {:.2}); peak resident memory median {:.0} MB",
                median(times.clone()),
                times.len(),
                times.iter().copied().fold(f64::INFINITY, f64::min),
                times.iter().copied().fold(0.0, f64::max),
                median(peaks)
            );
        }
    }
    let _ = std::fs::remove_file(&rows);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
