//! Reads the `result ...` lines of a peer's benchmark (`benches/peers/`) from
//! standard input, and for each portfolio size measures the same metric edits
//! on csip, checks both computed the same Health_Score for the first account,
//! and prints the ratio.
//!
//! `node benches/peers/hyperformula/bench.mjs DIR... | cargo run --release -p csip-benches --bin side-by-side`
//! (`benches/peers/hyperformula/run.sh` does all of it).

use csip_benches::{Cells, percentiles, portfolio};
use csip_engine::{Transaction, Value};
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Instant;

const EDITS: usize = 2_000;

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

fn main() -> ExitCode {
    let mut ok = true;
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        println!("{line}");
        let Some(rest) = line.strip_prefix("result ") else {
            continue;
        };
        let parsed = (|| {
            let accounts: usize = field(rest, "accounts")?.parse().ok()?;
            let edit_ms: f64 = field(rest, "edit_ms_p50")?.parse().ok()?;
            let health: f64 = field(rest, "health_first")?.parse().ok()?;
            Some((accounts, edit_ms, health))
        })();
        let Some((accounts, peer_ms, peer_health)) = parsed else {
            eprintln!("cannot read this result line: {line}");
            ok = false;
            continue;
        };

        let started = Instant::now();
        let mut wb = portfolio(accounts);
        let built = started.elapsed();
        let cells = Cells::of(&wb);
        let ours: f64 = match wb.value(cells.health, cells.account_rows[0]).ok() {
            Some(Value::Number(n)) => n.to_string().parse().unwrap_or(f64::NAN),
            _ => f64::NAN,
        };
        if (ours - peer_health).abs() > 1e-6 {
            eprintln!("the first account's Health_Score differs: csip {ours}, peer {peer_health}");
            ok = false;
        }
        // The peer edited the first edits of this same sequence.
        let samples = (0..EDITS)
            .map(|i| {
                let (row, value) = cells.metric_edit(&wb, i);
                let t = Instant::now();
                let _ = wb.apply(Transaction::new().set(cells.current_value, row, value));
                t.elapsed()
            })
            .collect();
        let (p50, p99, _) = percentiles(samples);
        println!(
            "csip   accounts={accounts} load_ms={:.1} edit_us_p50={p50:.1} edit_us_p99={p99:.1} health_first={ours}",
            built.as_secs_f64() * 1e3
        );
        println!(
            "ratio  accounts={accounts}: a metric edit is {:.0}× faster in csip than in the peer (p50 {p50:.1} µs vs {:.1} ms)",
            peer_ms * 1e3 / p50,
            peer_ms
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
