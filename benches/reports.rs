//! The report buttons' time (DESIGN §5 "Reports": < 2 s, the blueprint
//! allows 30 s): the QBR deck as .pptx and as .pdf, and the Platform ROI
//! (its figures alone, and with its PDF), for a pilot account and for an
//! account of a synthetic portfolio of 10,000 accounts (1,000,000 metric
//! rows), each from the workbook in memory to the file's bytes.
//!
//! `cargo bench -p csip-benches --bench reports`

use criterion::Criterion;
use csip_benches::{portfolio, today};
use csip_engine::{Value, Workbook};
use csip_reports::Format;
use csip_reports::qbr::QbrRequest;
use csip_reports::roi::{Period, RoiRequest};
use std::hint::black_box;
use std::time::Duration;

fn reports(c: &mut Criterion, label: &str, wb: &Workbook, account: &str) {
    let at = today().and_hms_opt(9, 0, 0).unwrap_or_default();
    let from = today() - chrono::Days::new(90);
    let qbr = QbrRequest::new(account, from, today());
    let roi = RoiRequest {
        account: account.into(),
        period: Period::AllTime,
        include_in_progress: true,
    };
    let mut group = c.benchmark_group(format!("reports/{label}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("qbr pptx", |b| {
        b.iter(|| {
            black_box(
                csip_reports::qbr::generate(wb, &qbr, Format::Pptx, at).map(|q| q.files.len()),
            )
        })
    });
    group.bench_function("qbr pdf", |b| {
        b.iter(|| {
            black_box(csip_reports::qbr::generate(wb, &qbr, Format::Pdf, at).map(|q| q.files.len()))
        })
    });
    group.bench_function("roi figures", |b| {
        b.iter(|| black_box(csip_reports::roi::calculate(wb, &roi, at).map(|r| r.0.figures.len())))
    });
    group.bench_function("roi pdf", |b| {
        b.iter(|| black_box(csip_reports::roi::generate(wb, &roi, at).map(|r| r.2.bytes.len())))
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let pilot = csip_workbook::pilot(today()).unwrap_or_else(|e| panic!("{e}"));
    reports(&mut c, "pilot", &pilot, "Gard AS");
    let big = portfolio(10_000);
    let accounts = big
        .table_id("Account_Master")
        .unwrap_or_else(|e| panic!("{e}"));
    let first = big.rows(accounts).unwrap_or_default()[0];
    let name = big.display(&Value::Row(accounts, first));
    reports(&mut c, "10000 accounts", &big, &name);
    c.final_summary();
}
