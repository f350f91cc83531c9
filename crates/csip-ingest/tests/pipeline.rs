//! The ingestion pipeline on a real workbook file: what a report writes,
//! and that a report with any bad row writes nothing but its failed run's
//! log row — checked by reopening the file.

#![allow(clippy::unwrap_used)] // tests may panic

use csip_engine::{Clock, NaiveDateTime, Value, Workbook};
use csip_ingest::{
    Format, IngestError, Limits, Mapping, Run, Settings, SourceKind, already_ingested, ingest,
};
use csip_store::{Outbox, Store};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn today() -> csip_engine::NaiveDate {
    csip_workbook::sample_today()
}

fn at() -> NaiveDateTime {
    today().and_hms_opt(7, 30, 0).unwrap()
}

struct File {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn pilot_file() -> File {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csip.db");
    Store::create(
        &path,
        csip_workbook::table_files(),
        csip_workbook::pilot(today()).unwrap(),
    )
    .unwrap();
    File { _dir: dir, path }
}

fn open(path: &Path) -> Store {
    Store::open(path, Clock::on(today())).unwrap()
}

fn settings() -> Settings {
    Settings {
        channel: Some("#cs-updates".into()),
        ..Settings::default()
    }
}

fn run_of(
    store: &mut Store,
    bytes: &[u8],
    format: Format,
    settings: &Settings,
) -> Result<csip_ingest::Summary, IngestError> {
    let run = Run::new(SourceKind::File, "report.csv", at());
    ingest(
        store,
        bytes,
        format,
        settings,
        &run,
        "ops@example.com",
        &mut |_| {},
    )
}

/// Every data cell of Platform_Health_Metrics, as text, by row.
fn metrics(wb: &Workbook) -> Vec<Vec<String>> {
    let t = wb.table_id("Platform_Health_Metrics").unwrap();
    let columns: Vec<_> = wb
        .columns(t)
        .unwrap()
        .iter()
        .copied()
        .filter(|c| !wb.is_formula(*c).unwrap())
        .collect();
    wb.rows(t)
        .unwrap()
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| wb.display(wb.value(*c, *r).unwrap()))
                .collect()
        })
        .collect()
}

/// The metric's (value, Last_Measured, Data_Source) shown.
fn metric(wb: &Workbook, account: &str, name: &str) -> Option<(String, String, String)> {
    let t = wb.table_id("Platform_Health_Metrics").unwrap();
    let col = |n| wb.column_id(t, n).unwrap();
    let accounts = wb.table_id("Account_Master").unwrap();
    let acc = wb.find_rows(accounts, account).unwrap()[0];
    wb.rows(t).unwrap().iter().find_map(|&r| {
        (wb.value(col("Account"), r).unwrap() == &Value::Row(accounts, acc)
            && wb.display(wb.value(col("Metric_Name"), r).unwrap()) == name)
            .then(|| {
                (
                    wb.display(wb.value(col("Current_Value"), r).unwrap()),
                    wb.display(wb.value(col("Last_Measured"), r).unwrap()),
                    wb.display(wb.value(col("Data_Source"), r).unwrap()),
                )
            })
    })
}

/// Automation_Logs rows of ingestion: (status, records, message).
fn logs(wb: &Workbook) -> Vec<(String, String, String)> {
    let t = wb.table_id("Automation_Logs").unwrap();
    let col = |n| wb.column_id(t, n).unwrap();
    wb.rows(t)
        .unwrap()
        .iter()
        .filter(|&&r| {
            wb.display(wb.value(col("Automation"), r).unwrap()) == csip_ingest::AUTOMATION
        })
        .map(|&r| {
            (
                wb.display(wb.value(col("Status"), r).unwrap()),
                wb.display(wb.value(col("Records_Processed"), r).unwrap()),
                wb.display(wb.value(col("Message"), r).unwrap()),
            )
        })
        .collect()
}

#[test]
fn a_report_upserts_its_metrics_logs_the_run_and_tells_slack() {
    let file = pilot_file();
    let mut store = open(&file.path);
    let csv = "Account,Metric Name,Current Value,Measured At,Region\n\
               Gard AS,Broker API p95 latency,\"1,450\",2026-11-24T06:00:00Z,EMEA\n\
               gard  as,Integration error rate,0.4%,,EMEA\n\
               ACC-00001,Peak throughput,(0),24.11.2026,EMEA\n";
    // EU dates: the third row's date is day first.
    let mut s = settings();
    s.mapping.dates = csip_ingest::values::DateOrder::Eu;
    let summary = run_of(&mut store, csv.as_bytes(), Format::Csv, &s).unwrap();
    assert_eq!(
        (
            summary.counts.rows,
            summary.counts.updated,
            summary.counts.created
        ),
        (3, 3, 0)
    );
    assert_eq!(summary.counts.accounts, 1);
    assert_eq!(summary.counts.extra_columns, ["Region"]);
    drop(store);

    let store = open(&file.path);
    let wb = store.workbook();
    // An existing metric keeps its Data_Source.
    assert_eq!(
        metric(wb, "Gard AS", "Broker API p95 latency"),
        Some((
            "1450".into(),
            "2026-11-24T06:00:00".into(),
            "Anypoint Monitoring".into()
        ))
    );
    // No time in the file: the time of ingestion.
    let error_rate = metric(wb, "Gard AS", "Integration error rate").unwrap();
    assert_eq!(
        (error_rate.0.as_str(), error_rate.1.as_str()),
        ("0.4", "2026-11-24T07:30:00")
    );
    assert_eq!(
        metric(wb, "Gard AS", "Peak throughput").unwrap().1,
        "2026-11-24T00:00:00"
    );
    assert_eq!(
        logs(wb),
        [(
            "Success".into(),
            "3".into(),
            "3 metrics processed from report.csv (3 updated, 0 created)".into()
        )]
    );
    assert!(already_ingested(wb, &Run::new(SourceKind::File, "report.csv", at()).key).is_some());

    // One message, in the outbox, committed with the data.
    let outbox = Outbox::open(&file.path).unwrap();
    let messages = outbox.list(None, 10).unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let payload: serde_json::Value = serde_json::from_str(&messages[0].payload).unwrap();
    let text = payload["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("<!channel> Daily metrics updated. 3 metrics processed."),
        "{text}"
    );
    assert!(text.contains("Health score moved: Gard AS "), "{text}");
    assert_eq!(payload["channel"], "#cs-updates");
}

#[test]
fn any_bad_row_rejects_the_report_and_writes_only_the_failed_log_row() {
    let file = pilot_file();
    let before = metrics(open(&file.path).workbook());
    let last_before = open(&file.path).last_commit().unwrap();
    let mut store = open(&file.path);
    let csv = "Account,Metric Name,Current Value\n\
               Gard AS,Broker API p95 latency,1200\n\
               Gard AB,Broker API p95 latency,12\n\
               Gard AS,Broker API p95 latncy,12\n\
               Gard AS,Peak throughput,lots\n\
               Gard AS,Peak throughput,12%\n\
               ,Peak throughput,3\n\
               Gard AS,API reuse rate,40\n\
               Gard AS,API reuse rate,41\n\
               Gard AS,A metric nobody has,1\n\
               \"Gard AS\",\"Mean time\nto recovery\",2\n\
               Gard AS,Mean time to recovery,x\n";
    let e = run_of(&mut store, csv.as_bytes(), Format::Csv, &settings()).unwrap_err();
    let text = e.to_string();
    for expected in [
        "8 of the report's 11 rows cannot be ingested; nothing was written",
        "line 3, Account: there is no account “Gard AB”; did you mean “Gard AS”?",
        "line 4, Metric Name: Gard AS has no metric “Broker API p95 latncy”; did you mean “Broker API p95 latency”?",
        "line 5, Current Value: “lots” is not a number",
        "line 6, Current Value: 12% is a percent, and “Peak throughput” is measured in calls/s",
        "line 7, Account: the Account is empty",
        "line 9, Current Value: “API reuse rate” of “Gard AS” is also on line 8, with another value",
        "line 10, Metric Name: Gard AS has no metric “A metric nobody has”, and this mapping creates none",
        // After a quoted newline (line 11, whose name folds to an existing
        // metric's), a row is told by its own line.
        "line 13, Current Value: “x” is not a number",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let IngestError::Rejected(rejected) = e else {
        panic!("{e}")
    };
    assert_eq!(rejected.bad_rows().len(), 8);
    drop(store);

    let store = open(&file.path);
    assert_eq!(metrics(store.workbook()), before, "no metric changed");
    assert_eq!(
        store.last_commit().unwrap(),
        last_before + 1,
        "one commit: the log row"
    );
    let logged = logs(store.workbook());
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].0, "Failed");
    assert!(
        logged[0].2.starts_with(
            "8 of 11 rows rejected from report.csv; nothing written. First: line 3, Account"
        ),
        "{}",
        logged[0].2
    );
    assert!(
        Outbox::open(&file.path)
            .unwrap()
            .list(None, 10)
            .unwrap()
            .is_empty(),
        "no message"
    );
    let audit = store.audit(0, 10_000).unwrap();
    assert!(
        audit
            .iter()
            .filter(|a| a.commit == last_before + 1)
            .all(|a| a.table == "Automation_Logs"),
        "the only cells written are the log row's"
    );
}

#[test]
fn a_report_as_a_whole_is_refused_in_one_line() {
    let file = pilot_file();
    let mut store = open(&file.path);
    let small = Settings {
        limits: Limits { max_bytes: 64 },
        ..settings()
    };
    let cases: Vec<(&[u8], &Settings, &str)> = vec![
        (b"", &small, "the report is empty"),
        (b" \r\n\t", &small, "the report is empty"),
        (
            b"Account,Metric Name,Current Value\n",
            &small,
            "the report has a header but no rows",
        ),
        (
            b"PK\x03\x04\x14\0\x06\0binary",
            &small,
            "the report is not text",
        ),
        (
            &[b'x'; 65],
            &small,
            "over the limit of 64 (ingest.max_bytes in csip.toml)",
        ),
        (
            b"Account,Value\nGard AS,1\n",
            &small,
            "the report has no column Metric Name (or set metric_name in the mapping)",
        ),
    ];
    for (bytes, s, expected) in cases {
        let e = run_of(&mut store, bytes, Format::Csv, s)
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{expected:?} not in {e:?}");
        assert!(!e.contains('\n'), "one line: {e:?}");
    }
    let e = run_of(&mut store, b"{\"nope\": 1}", Format::Json, &settings())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not the metrics JSON"), "{e}");
    let logged = logs(store.workbook());
    assert_eq!(logged.len(), 7);
    assert!(logged.iter().all(|l| l.0 == "Failed"), "{logged:?}");
}

#[test]
fn encodings_delimiters_and_json_all_reach_the_same_rows() {
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "Account\tMetric Name\tCurrent Value\r\nGard AS\tAPI reuse rate\t41\r\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    let bom_semicolons = "\u{feff}Account;Metric Name;Current Value\nGard AS;API reuse rate;41,0\n"
        .as_bytes()
        .to_vec();
    // Windows-1252: a header with é (0xE9).
    let cp1252 = b"Kund\xe9;Metric Name;Current Value\nGard AS;API reuse rate;41\n".to_vec();
    let json = br#"[{"Account": "Gard AS", "Metric Name": "API reuse rate", "Current Value": 41}]"#
        .to_vec();
    let zapier = br#"{"metrics": [{"account": "Gard AS", "metric_name": "API reuse rate", "current_value": "41"}]}"#.to_vec();
    let eu = Mapping {
        decimal: csip_ingest::values::DecimalMark::Comma,
        ..Mapping::default()
    };
    let windows = Mapping {
        account: Some("Kundé".into()),
        encoding: csip_ingest::text::Encoding::Windows1252,
        ..Mapping::default()
    };
    for (bytes, format, mapping) in [
        (utf16, Format::Csv, Mapping::default()),
        (bom_semicolons, Format::Csv, eu),
        (cp1252, Format::Csv, windows),
        (json, Format::Json, Mapping::default()),
        (zapier, Format::Json, Mapping::default()),
    ] {
        let file = pilot_file();
        let mut store = open(&file.path);
        let s = Settings {
            mapping,
            ..settings()
        };
        let summary = run_of(&mut store, &bytes, format, &s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(summary.counts.updated, 1);
        assert_eq!(
            metric(store.workbook(), "Gard AS", "API reuse rate")
                .unwrap()
                .0,
            "41"
        );
    }
}

#[test]
fn a_new_metric_is_created_only_when_the_mapping_allows_it() {
    let file = pilot_file();
    let mut store = open(&file.path);
    // "Peak throughput" exists on Gard AS; find an account that lacks it.
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").unwrap();
    let names: Vec<String> = wb
        .rows(accounts)
        .unwrap()
        .iter()
        .map(|r| wb.display(&Value::Row(accounts, *r)))
        .collect();
    let other = names
        .iter()
        .find(|n| metric(wb, n, "Peak throughput").is_none())
        .expect("an account without Peak throughput")
        .clone();
    let csv = format!(
        "Account,Metric Name,Current Value\n{other},Peak throughput,250\n{other},Brand new KPI,7\n"
    );
    let e = run_of(&mut store, csv.as_bytes(), Format::Csv, &settings())
        .unwrap_err()
        .to_string();
    assert!(e.contains("creates none"), "{e}");
    let creating = Settings {
        mapping: Mapping {
            create_metrics: true,
            ..Mapping::default()
        },
        ..settings()
    };
    let summary = run_of(&mut store, csv.as_bytes(), Format::Csv, &creating).unwrap();
    assert_eq!((summary.counts.updated, summary.counts.created), (0, 2));
    let wb = store.workbook();
    let t = wb.table_id("Platform_Health_Metrics").unwrap();
    let col = |n| wb.column_id(t, n).unwrap();
    let created: Vec<_> = wb
        .rows(t)
        .unwrap()
        .iter()
        .copied()
        .filter(|&r| wb.display(wb.value(col("Account"), r).unwrap()) == other)
        .filter(|&r| wb.display(wb.value(col("Metric_Name"), r).unwrap()) == "Peak throughput")
        .collect();
    assert_eq!(created.len(), 1);
    // Its settings from Gard AS's Peak throughput.
    assert_eq!(
        wb.display(wb.value(col("Unit"), created[0]).unwrap()),
        "calls/s"
    );
    assert!(
        !wb.value(col("Critical_Threshold"), created[0])
            .unwrap()
            .is_blank()
    );
}

#[test]
fn a_keyed_run_is_recognised_when_it_comes_again() {
    let file = pilot_file();
    let mut store = open(&file.path);
    let run = Run::keyed(
        SourceKind::Mail,
        "Anypoint Daily Metrics",
        "<abc@tableau>",
        at(),
    );
    assert_eq!(already_ingested(store.workbook(), &run.key), None);
    ingest(
        &mut store,
        b"Account,Metric Name,Current Value\nGard AS,API reuse rate,44\n",
        Format::Csv,
        &settings(),
        &run,
        "mail",
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        already_ingested(store.workbook(), &run.key).as_deref(),
        Some("Success")
    );
}

/// A good report of the pilot's metrics, one row per metric.
fn good_rows(wb: &Workbook) -> Vec<String> {
    let t = wb.table_id("Platform_Health_Metrics").unwrap();
    let col = |n| wb.column_id(t, n).unwrap();
    wb.rows(t)
        .unwrap()
        .iter()
        .map(|&r| {
            format!(
                "\"{}\",\"{}\",{}",
                wb.display(wb.value(col("Account"), r).unwrap()),
                wb.display(wb.value(col("Metric_Name"), r).unwrap()),
                r.get() % 97
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// However a good report is cut, one bad row anywhere in it leaves every
    /// metric as it was.
    #[test]
    fn one_bad_row_anywhere_changes_nothing(
        keep in 1usize..40,
        at in 0usize..40,
        kind in 0usize..5,
    ) {
        let file = pilot_file();
        let mut store = open(&file.path);
        let before = metrics(store.workbook());
        let mut rows = good_rows(store.workbook());
        rows.truncate(keep.min(rows.len()));
        let bad = match kind {
            0 => "\"No Such Account\",\"API reuse rate\",1".to_string(),
            1 => "\"Gard AS\",\"API reuse rate\",one".to_string(),
            2 => "\"Gard AS\",\"No such metric at all\",1".to_string(),
            3 => ",\"API reuse rate\",1".to_string(),
            _ => format!("{},999999", rows[0].rsplit_once(',').unwrap().0),
        };
        let at = at.min(rows.len());
        rows.insert(at, bad);
        let csv = format!("Account,Metric Name,Current Value\n{}\n", rows.join("\n"));
        let result = run_of(&mut store, csv.as_bytes(), Format::Csv, &settings());
        prop_assert!(matches!(result, Err(IngestError::Rejected(_))), "{result:?}");
        drop(store);
        prop_assert_eq!(metrics(open(&file.path).workbook()), before);
    }

    /// No byte string makes reading or checking a report panic.
    #[test]
    fn no_bytes_make_it_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), json in any::<bool>()) {
        let wb = csip_workbook::pilot(today()).unwrap();
        let format = if json { Format::Json } else { Format::Csv };
        if let Ok(report) = csip_ingest::read(&bytes, format, &Mapping::default(), Limits::default()) {
            let _ = report.plan(&wb, true, at(), "Tableau Report");
        }
    }

    /// Nor does text shaped like a report, with any cells.
    #[test]
    fn no_cells_make_it_panic(cells in proptest::collection::vec("[ -~é%$€(),.;\"\n-]{0,12}", 0..30)) {
        let wb = csip_workbook::pilot(today()).unwrap();
        let mut csv = String::from("Account,Metric Name,Current Value,Measured At\n");
        for chunk in cells.chunks(4) {
            csv.push_str(&chunk.join(","));
            csv.push('\n');
        }
        for dates in [csip_ingest::values::DateOrder::Us, csip_ingest::values::DateOrder::Eu] {
            let mapping = Mapping { dates, ..Mapping::default() };
            if let Ok(report) = csip_ingest::read(csv.as_bytes(), Format::Csv, &mapping, Limits::default()) {
                let _ = report.plan(&wb, true, at(), "Tableau Report");
            }
        }
    }
}
