//! Metric ingestion end to end: `csip ingest` on a real file, and
//! `POST /api/v1/ingest/metrics` on a real `csip serve`.

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{Server, TODAY, csip, pilot};
use serde_json::Value as Json;

/// `csip view "All Metrics"` as CSV: every metric's shown values.
fn all_metrics(db: &std::path::Path) -> String {
    let o = csip(&[
        "view",
        "All Metrics",
        "--db",
        db.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn csip_ingest_commits_a_good_report_and_refuses_one_bad_row_naming_its_line() {
    let wb = pilot();
    let db = wb.db.to_str().unwrap();
    let good = wb.dir.path().join("report.csv");
    std::fs::write(
        &good,
        "Account;Metric Name;Current Value;Measured At\r\nGard AS;API reuse rate;45%;2026-11-24T05:00:00Z\r\n",
    )
    .unwrap();
    let o = csip(&[
        "ingest",
        "--db",
        db,
        good.to_str().unwrap(),
        "--today",
        TODAY,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("Ingested report.csv: 1 rows, 1 metrics updated, 0 created"),
        "{out}"
    );
    assert!(all_metrics(&wb.db).contains("Gard AS,API reuse rate,Adoption,45,%"));

    let before = all_metrics(&wb.db);
    let bad = wb.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Account,Metric Name,Current Value\nGard AS,API reuse rate,50\nGard AS,Peak throughput,fast\n",
    )
    .unwrap();
    let o = csip(&[
        "ingest",
        "--db",
        db,
        bad.to_str().unwrap(),
        "--today",
        TODAY,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("line 3, Current Value: “fast” is not a number"),
        "{err}"
    );
    assert_eq!(all_metrics(&wb.db), before, "the file is unchanged");

    // A mapping that does not exist is named, with those that do.
    let config = wb.dir.path().join("csip.toml");
    std::fs::write(
        &config,
        "[ingest.mappings.tableau]\naccount = \"Customer\"\n",
    )
    .unwrap();
    let o = csip(&[
        "ingest",
        "--db",
        db,
        good.to_str().unwrap(),
        "--mapping",
        "finance",
        "--config",
        config.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no mapping “finance”") && err.contains("“tableau”"),
        "{err}"
    );
}

fn post(server: &Server, token: &str, content_type: &str, body: &str) -> (u16, Json) {
    let r = reqwest::blocking::Client::new()
        .post(server.url("/api/v1/ingest/metrics"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Json::Null))
}

#[test]
fn the_webhook_takes_csv_and_zapier_json_and_answers_bad_rows_with_400() {
    let wb = pilot();
    let server = Server::start(&wb.db);
    let csv = "Account,Metric Name,Current Value\nGard AS,API reuse rate,47\n";
    let (status, body) = post(&server, &wb.csm, "text/csv; charset=utf-8", csv);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metrics_updated"], 1);
    assert!(body["cells_changed"].as_u64().unwrap() >= 2, "{body}");

    let json = r#"[{"account": "Gard AS", "metric_name": "API reuse rate", "current_value": 48}]"#;
    let (status, body) = post(&server, &wb.admin, "application/json", json);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metrics_updated"], 1);

    let commit = server.last_commit();
    let bad = "Account,Metric Name,Current Value\nGard AS,API reuse rate,49\nNobody Inc,API reuse rate,1\n";
    let (status, body) = post(&server, &wb.csm, "text/csv", bad);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "rejected");
    assert_eq!(body["error"]["bad_rows"][0]["line"], 3);
    assert_eq!(body["error"]["bad_rows"][0]["column"], "Account");
    assert_eq!(
        server.last_commit(),
        commit + 1,
        "the failed run's log row alone"
    );
    assert!(
        all_metrics(&wb.db).contains("Gard AS,API reuse rate,Adoption,48,%"),
        "the rejected report wrote nothing"
    );

    // A viewer reads only; a body that is no report is one line.
    let (status, _) = post(&server, &wb.viewer, "text/csv", csv);
    assert_eq!(status, 403);
    let (status, body) = post(&server, &wb.csm, "text/csv", "");
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("empty"),
        "{body}"
    );
    let (status, _) = post(&server, &wb.csm, "application/xml", csv);
    assert_eq!(status, 415);
}
