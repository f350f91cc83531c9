//! Recalculation on the CSIP workbook at portfolio scale, with SQLite doing the
//! same health-score work side by side. Besides criterion's statistics, each
//! latency benchmark prints its p50 / p99 over a fixed run of edits, and the
//! run ends with the ratios against SQLite.
//!
//! `cargo bench -p csip-benches` (sizes from `CSIP_BENCH_SIZES`, default 1000,10000).

use criterion::{BatchSize, BenchmarkId, Criterion};
use csip_benches::{Cells, health_only, percentiles, portfolio, sizes, sqlite, today};
use csip_engine::{Clock, TimeDelta, Transaction, Value, Workbook};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Edits timed one by one for the percentiles.
const LATENCY_EDITS: usize = 20_000;

#[derive(Default)]
struct Summary {
    lines: Vec<String>,
    /// Metric edit (p50, p99) per portfolio size, for the flatness ratio.
    edit_latency: Vec<(usize, f64, f64)>,
}

impl Summary {
    fn add(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
}

fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The median of `runs` timed calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn latency(mut f: impl FnMut(usize)) -> (f64, f64, f64) {
    let mut samples = Vec::with_capacity(LATENCY_EDITS);
    for i in 0..LATENCY_EDITS {
        let t = Instant::now();
        f(i);
        samples.push(t.elapsed());
    }
    percentiles(samples)
}

fn edits(c: &mut Criterion, summary: &mut Summary) {
    for size in sizes() {
        let before = resident_mb();
        let started = Instant::now();
        let mut wb = portfolio(size);
        let loaded = started.elapsed();
        let cells = Cells::of(&wb);
        summary.add(format!(
            "{size} accounts: {} metric rows; generated, loaded and calculated in {:.2} s; resident {:.0} MB (workbook estimate {:.0} MB)",
            cells.metric_rows.len(),
            loaded.as_secs_f64(),
            resident_mb() - before.min(resident_mb()),
            wb.memory_usage().total() as f64 / 1e6
        ));

        let mut group = c.benchmark_group("metric edit");
        group.sample_size(50);
        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                i += 1;
                let (row, value) = cells.metric_edit(&wb, i);
                black_box(
                    wb.apply(Transaction::new().set(cells.current_value, row, value))
                        .expect("a benchmark edit applies (a rejected one would be timed as if it were work)"),
                )
            })
        });
        group.finish();
        let mut changed = 0usize;
        let (p50, p99, max) = latency(|i| {
            let (row, value) = cells.metric_edit(&wb, i);
            let cs = wb
                .apply(Transaction::new().set(cells.current_value, row, value))
                .expect(
                    "a benchmark edit applies (a rejected one would be timed as if it were work)",
                );
            changed += cs.changes.len();
        });
        summary.edit_latency.push((size, p50, p99));
        summary.add(format!(
            "  metric edit, all dependents and the change set ({size} accounts): p50 {p50:.1} µs, p99 {p99:.1} µs, max {max:.0} µs; {:.1} cells changed per edit",
            changed as f64 / LATENCY_EDITS as f64
        ));

        let mut group = c.benchmark_group("ARR edit");
        group.sample_size(50);
        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                i += 1;
                black_box(
                    wb.apply(Transaction::new().set(
                        cells.arr,
                        cells.account(i),
                        Value::from((i % 1000) as i64 * 1000),
                    ))
                    .expect("a benchmark edit applies (a rejected one would be timed as if it were work)"),
                )
            })
        });
        group.finish();
        let (p50, p99, _) = latency(|i| {
            wb.apply(Transaction::new().set(
                cells.arr,
                cells.account(i),
                Value::from((i % 997) as i64 * 1000),
            ))
            .expect("a benchmark edit applies (a rejected one would be timed as if it were work)");
        });
        summary.add(format!(
            "  ARR edit, its CSM's roll-ups ({size} accounts): p50 {p50:.1} µs, p99 {p99:.1} µs"
        ));

        if size > 10_000 {
            continue;
        }

        let mut round = 0usize;
        let mut batch = |wb: &mut Workbook| {
            round += 1;
            let mut tx = Transaction::new();
            for k in 0..10_000 {
                let i = round * 10_000 + k;
                let (row, value) = cells.metric_edit(wb, i * 13);
                tx = tx.set(cells.current_value, row, value);
            }
            wb.apply(tx).expect(
                "a benchmark edit applies (a rejected one would be timed as if it were work)",
            )
        };
        let mut group = c.benchmark_group("batch of 10,000 metric edits");
        group.sample_size(10);
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| black_box(batch(&mut wb)))
        });
        group.finish();
        let mut changed = 0;
        let t = median(9, || changed = batch(&mut wb).changes.len());
        summary.add(format!(
            "  batch of 10,000 metric edits ({size} accounts): median {} ({changed} cells changed)",
            ms(t)
        ));

        deletes(c, summary, &mut wb, &cells, size);
        snapshots(c, summary, &mut wb, &cells, size);

        let mut day = 0i64;
        let mut advance = |wb: &mut Workbook| {
            day += 1;
            wb.set_clock(Clock::on(today() + TimeDelta::days(day)))
        };
        let mut group = c.benchmark_group("clock advanced one day");
        group.sample_size(10);
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| black_box(advance(&mut wb)))
        });
        group.finish();
        let t = median(9, || changed = advance(&mut wb).changes.len());
        summary.add(format!(
            "  clock advanced one day ({size} accounts): median {} ({changed} cells changed)",
            ms(t)
        ));
        wb.set_clock(Clock::on(today()));

        let mut group = c.benchmark_group("views");
        group.sample_size(30);
        group.bench_function(BenchmarkId::new("Renewal Risk", size), |b| {
            b.iter(|| {
                black_box(
                    wb.view("Renewal Risk", &[])
                        .map(|v| v.row_count())
                        .expect("the view evaluates"),
                )
            })
        });
        let user = [("user", cells.first_csm.clone())];
        group.bench_function(BenchmarkId::new("CSM Command Center", size), |b| {
            b.iter(|| {
                black_box(
                    wb.view("CSM Command Center", &user)
                        .map(|v| v.row_count())
                        .expect("the view evaluates"),
                )
            })
        });
        group.finish();
        for (name, params) in [("Renewal Risk", &[][..]), ("CSM Command Center", &user[..])] {
            let mut rows = 0;
            let t = median(31, || {
                rows = wb
                    .view(name, params)
                    .map(|v| v.row_count())
                    .expect("the view evaluates")
            });
            summary.add(format!(
                "  view {name} ({size} accounts): median {} ({rows} rows)",
                ms(t)
            ));
        }

        let mut group = c.benchmark_group("full recalculation");
        group.sample_size(10);
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| wb.recalculate_all())
        });
        group.finish();
        let t = median(5, || wb.recalculate_all());
        summary.add(format!(
            "  full recalculation ({size} accounts): median {}",
            ms(t)
        ));

        let mut group = c.benchmark_group("load, bind and first calculation");
        group.sample_size(10);
        let config = csip_workbook::synth::SynthConfig::new(size);
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter_batched(
                || {
                    let empty =
                        csip_workbook::empty(Clock::on(today())).unwrap_or_else(|e| panic!("{e}"));
                    csip_workbook::synth::rows(&empty, &config, today())
                },
                |rows| {
                    let mut wb =
                        csip_workbook::empty(Clock::on(today())).unwrap_or_else(|e| panic!("{e}"));
                    wb.import(rows).unwrap_or_else(|e| panic!("{e}"));
                    black_box(wb)
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
        let mut loads = Vec::new();
        for _ in 0..3 {
            let empty = csip_workbook::empty(Clock::on(today())).unwrap_or_else(|e| panic!("{e}"));
            let rows = csip_workbook::synth::rows(&empty, &config, today());
            let t = Instant::now();
            let mut fresh =
                csip_workbook::empty(Clock::on(today())).unwrap_or_else(|e| panic!("{e}"));
            fresh.import(rows).unwrap_or_else(|e| panic!("{e}"));
            loads.push(t.elapsed());
        }
        loads.sort();
        summary.add(format!(
            "  load, bind and first calculation ({size} accounts): median {}",
            ms(loads[1])
        ));

        sqlite_side_by_side(c, summary, &wb, &cells, size);
    }
}

/// Deletes: 5,000 tasks in one transaction, and one task, each inserted
/// (untimed) before it is deleted. A delete costs what it changes: no later
/// row is recomputed (ids are `RowId`s, not positions).
fn deletes(
    c: &mut Criterion,
    summary: &mut Summary,
    wb: &mut Workbook,
    cells: &Cells,
    size: usize,
) {
    let tasks = wb.table_id("Tasks").expect("a Tasks table");
    let title = wb.column_id(tasks, "Title").expect("Tasks.Title");
    let account = wb.column_id(tasks, "Account").expect("Tasks.Account");
    let insert = |wb: &mut Workbook, n: usize| -> Vec<csip_engine::RowId> {
        let mut tx = Transaction::new();
        for i in 0..n {
            tx = tx.insert(
                tasks,
                vec![
                    (title, Value::from(format!("Follow up {i}"))),
                    (account, Value::Row(cells.accounts, cells.account(i))),
                ],
            );
        }
        let changes = wb.apply(tx).expect(
            "a benchmark insert applies (a rejected one would be timed as if it were work)",
        );
        changes.inserted.iter().map(|(_, r)| *r).collect()
    };
    let delete = |wb: &mut Workbook, rows: &[csip_engine::RowId]| {
        let mut tx = Transaction::new();
        for &r in rows {
            tx = tx.delete(tasks, r);
        }
        wb.apply(tx)
            .expect("a benchmark delete applies (a rejected one would be timed as if it were work)")
    };
    // Deleted after other tasks, so that the rows after them are many.
    let kept = insert(wb, 20_000);
    let timed = |n: usize, iters: u64, wb: &mut Workbook| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let rows = insert(wb, n);
            let t = Instant::now();
            black_box(delete(wb, &rows));
            total += t.elapsed();
        }
        total
    };
    let mut group = c.benchmark_group("delete");
    group.sample_size(10);
    group.bench_function(
        BenchmarkId::new("5,000 tasks in one transaction", size),
        |b| b.iter_custom(|iters| timed(5_000, iters, wb)),
    );
    group.sample_size(50);
    group.bench_function(BenchmarkId::new("one task", size), |b| {
        b.iter_custom(|iters| timed(1, iters, wb))
    });
    group.finish();
    let mut runs: Vec<Duration> = (0..5).map(|_| timed(5_000, 1, wb)).collect();
    runs.sort();
    summary.add(format!(
        "  delete 5,000 tasks in one transaction ({size} accounts, {} tasks): median {}",
        kept.len() + 5_000,
        ms(runs[2])
    ));
    let mut runs: Vec<Duration> = (0..101).map(|_| timed(1, 1, wb)).collect();
    runs.sort();
    summary.add(format!(
        "  delete one task ({size} accounts): median {:.1} µs",
        runs[50].as_secs_f64() * 1e6
    ));
    delete(wb, &kept);
}

/// Snapshots, as `csip serve` takes them: a clone of the workbook (what a
/// reader gets), and a metric edit right after one (the writer then copies
/// the chunks and index shards the edit touches, since the snapshot shares
/// them).
fn snapshots(
    c: &mut Criterion,
    summary: &mut Summary,
    wb: &mut Workbook,
    cells: &Cells,
    size: usize,
) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(30);
    group.bench_function(BenchmarkId::new("clone of the workbook", size), |b| {
        b.iter(|| black_box(wb.clone()))
    });
    group.finish();
    let t = median(101, || drop(black_box(wb.clone())));
    let mut samples = Vec::with_capacity(LATENCY_EDITS / 4);
    for i in 0..LATENCY_EDITS / 4 {
        let snapshot = wb.clone();
        let (row, value) = cells.metric_edit(wb, i);
        let started = Instant::now();
        wb.apply(Transaction::new().set(cells.current_value, row, value))
            .expect("a benchmark edit applies (a rejected one would be timed as if it were work)");
        samples.push(started.elapsed());
        drop(snapshot);
    }
    let (p50, p99, _) = percentiles(samples);
    summary.add(format!(
        "  snapshot ({size} accounts): a clone of the workbook, median {:.1} µs; a metric edit right after one (copying what it touches): p50 {p50:.1} µs, p99 {p99:.1} µs",
        t.as_secs_f64() * 1e6
    ));
}

/// SQLite with the same inputs and arithmetic, measured in the same run.
fn sqlite_side_by_side(
    c: &mut Criterion,
    summary: &mut Summary,
    wb: &Workbook,
    cells: &Cells,
    size: usize,
) {
    let peer = match sqlite::Peer::from_workbook(wb) {
        Ok(p) => p,
        Err(e) => panic!("SQLite peer: {e}"),
    };
    let stride = |i: usize| (i.wrapping_mul(7919)) % peer.metrics.len();
    let mut group = c.benchmark_group("SQLite metric edit");
    group.sample_size(50);
    let mut i = 0usize;
    group.bench_function(BenchmarkId::from_parameter(size), |b| {
        b.iter(|| {
            i += 1;
            peer.edit_metric(stride(i), 200.0 + ((i * 337) % 900) as f64)
                .expect("the SQLite edit applies")
        })
    });
    group.finish();
    let (sql50, sql99, _) = latency(|i| {
        peer.edit_metric(stride(i + 1_000_000), 200.0 + ((i * 337) % 900) as f64)
            .expect("the SQLite edit applies")
    });

    let mut group = c.benchmark_group("SQLite full recalculation");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter(size), |b| {
        b.iter(|| peer.recompute_all().expect("SQLite recomputes"))
    });
    group.finish();

    // Like for like: a csip workbook holding only what SQLite holds.
    let mut health = health_only(wb);
    let mut group = c.benchmark_group("full recalculation, health score only");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter(size), |b| {
        b.iter(|| health.recalculate_all())
    });
    group.finish();

    // The same two things once more, timed here for the ratios.
    let mut ours = wb.clone();
    let (our50, our99, _) = latency(|i| {
        let (row, value) = cells.metric_edit(&ours, i);
        ours.apply(Transaction::new().set(cells.current_value, row, value))
            .expect("a benchmark edit applies (a rejected one would be timed as if it were work)");
    });
    let our_full = median(5, || ours.recalculate_all()).as_secs_f64();
    let our_health = median(5, || health.recalculate_all()).as_secs_f64();
    let sql_full = median(5, || peer.recompute_all().expect("SQLite recomputes")).as_secs_f64();
    summary.add(format!(
        "  vs SQLite ({size} accounts): metric edit p50 {our50:.1} µs vs {sql50:.1} µs ({:.1}× faster), p99 {our99:.1} µs vs {sql99:.1} µs ({:.1}× faster)",
        sql50 / our50,
        sql99 / our99,
    ));
    summary.add(format!(
        "  vs SQLite ({size} accounts): full recalculation of the health score {our_health:.3} s vs {sql_full:.3} s ({:.2}×); of the whole workbook {our_full:.3} s",
        sql_full / our_health,
    ));
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut summary = Summary::default();
    edits(&mut criterion, &mut summary);
    criterion.final_summary();
    if let Some(&(base, base50, base99)) = summary.edit_latency.first() {
        for &(size, p50, p99) in summary.edit_latency.clone().iter().skip(1) {
            summary.add(format!(
                "metric edit at {size} vs {base} accounts: p50 {:.2}×, p99 {:.2}×",
                p50 / base50,
                p99 / base99
            ));
        }
    }
    println!("\nSummary");
    for line in &summary.lines {
        println!("{line}");
    }
}
