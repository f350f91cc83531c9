//! `csip serve` on 127.0.0.1 with a real SQLite file, driven over HTTP.

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{Server, ops, pilot};
use serde_json::{Value as Json, json};

fn metric_row(s: &Server, token: &str) -> (u64, Json) {
    let (status, page) = s.get(
        "/api/v1/tables/Platform_Health_Metrics/rows?limit=1",
        Some(token),
    );
    assert_eq!(status, 200, "{page}");
    let row = page["rows"][0].clone();
    (row["row_id"].as_u64().unwrap(), row)
}

#[test]
fn reads_tables_rows_views_and_formulas() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let (status, health) = s.get("/healthz", None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    let (status, tables) = s.get("/api/v1/tables", Some(&wb.viewer));
    assert_eq!(status, 200);
    let accounts = tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Account_Master")
        .unwrap();
    assert_eq!(accounts["rows"], 3);
    let health_col = accounts["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Health_Score")
        .unwrap();
    assert!(
        health_col["formula"]
            .as_str()
            .unwrap()
            .contains("Platform_Technical_Health")
    );

    // Paging, formula values included, columns in schema order.
    let (status, page) = s.get(
        "/api/v1/tables/Account_Master/rows?offset=1&limit=1",
        Some(&wb.viewer),
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (
            page["total"].as_u64(),
            page["rows"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );
    let (status, all) = s.get("/api/v1/tables/Account_Master/rows", Some(&wb.viewer));
    assert_eq!(status, 200);
    let gard = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["values"]["Account_Name"] == "Gard AS")
        .unwrap();
    assert_eq!(gard["values"]["Health_Score"], json!(63));
    assert_eq!(
        gard["values"]["Customer_Success_Manager"]["name"],
        "Kari Nordmann"
    );
    let first_key = gard["values"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    assert_eq!(first_key, "Account_ID", "values come in column order");
    let id = gard["row_id"].as_u64().unwrap();
    let (status, one) = s.get(
        &format!("/api/v1/tables/Account_Master/rows/{id}"),
        Some(&wb.viewer),
    );
    assert_eq!(
        (status, one["values"]["Account_Name"].as_str()),
        (200, Some("Gard AS"))
    );

    // Views, with and without parameters.
    let (status, risk) = s.get("/api/v1/views/Renewal%20Risk", Some(&wb.viewer));
    assert_eq!(status, 200, "{risk}");
    let names: Vec<&str> = risk["groups"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["values"]["Account_Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Sakura Retail Group", "Gard AS"],
        "at-risk accounts, soonest renewal first"
    );
    let (status, cards) = s.get(
        "/api/v1/views/CSM%20Command%20Center?user=Kari%20Nordmann",
        Some(&wb.viewer),
    );
    assert_eq!(status, 200, "{cards}");
    assert_eq!(cards["row_count"], 1);
    let keys: Vec<&str> = cards["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["Critical", "At Risk", "Attention Needed", "Healthy"],
        "every group, in the view's order"
    );
    assert_eq!(
        cards["groups"][1]["rows"][0]["values"]["Account_Name"],
        "Gard AS"
    );
    let (status, list) = s.get("/api/v1/views", Some(&wb.viewer));
    assert_eq!(status, 200);
    assert!(list["views"].as_array().unwrap().len() > 20);

    // A formula, on a row.
    let (status, v) = s.post(
        "/api/v1/eval",
        &wb.viewer,
        &json!({"formula": "[Health_Score] * 2", "table": "Account_Master", "row": "Gard AS"}),
    );
    assert_eq!((status, &v["value"]), (200, &json!(126)));
}

#[test]
fn unknown_things_and_bad_tokens_get_the_right_status() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let (status, body) = s.get("/api/v1/tables", None);
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
    assert_eq!(s.get("/api/v1/tables", Some("csip_not_a_token")).0, 401);
    let (status, body) = s.get("/api/v1/tables/Acounts/rows", Some(&wb.viewer));
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Account_Master"),
        "{body}"
    );
    assert_eq!(
        s.get("/api/v1/tables/Account_Master/rows/999", Some(&wb.viewer))
            .0,
        404
    );
    assert_eq!(
        s.get("/api/v1/tables/Account_Master/rows/x", Some(&wb.viewer))
            .0,
        404
    );
    assert_eq!(
        s.get("/api/v1/views/Renewal%20Risc", Some(&wb.viewer)).0,
        404
    );
    assert_eq!(
        s.get(
            "/api/v1/tables/Account_Master/rows?limit=0",
            Some(&wb.viewer)
        )
        .0,
        400
    );
    assert_eq!(
        s.get(
            "/api/v1/views/CSM%20Command%20Center?colour=red",
            Some(&wb.viewer)
        )
        .0,
        400
    );
    assert_eq!(s.get("/nowhere", None).0, 404);
    let (status, body) = s.post(
        "/api/v1/eval",
        &wb.viewer,
        &json!({"formula": "[Helth_Score]", "table": "Account_Master", "row": "Gard AS"}),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `Health_Score`"),
        "{body}"
    );
}

#[test]
fn a_csm_metric_edit_answers_every_changed_cell_and_is_audited() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let (id, row) = metric_row(&s, &wb.csm);
    assert_eq!(row["values"]["Account"]["name"], "Gard AS");
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([{"op": "set", "table": "Platform_Health_Metrics", "row_id": id, "column": "Current_Value", "value": 55.5}])),
    );
    assert_eq!(status, 200, "{answer}");
    let changes = answer["changes"].as_array().unwrap();
    let changed = |table: &str, column: &str| {
        changes
            .iter()
            .find(|c| c["table"] == table && c["column"] == column)
            .cloned()
    };
    assert_eq!(
        changed("Platform_Health_Metrics", "Current_Value").unwrap()["new"],
        json!(55.5)
    );
    let score = changed("Account_Master", "Health_Score").expect("the health score moved");
    assert_eq!(
        (score["old"].clone(), score["new"].clone()),
        (json!(63), json!(64.4))
    );
    assert!(
        changed("People_Team", "Avg_Health_Score").is_some(),
        "the CSM's roll-up too"
    );
    let commit = answer["commit"].as_i64().unwrap();
    assert_eq!(s.last_commit(), commit);

    // The audit log: admins only, one entry for the one data cell.
    assert_eq!(s.get("/api/v1/audit", Some(&wb.csm)).0, 403);
    let (status, audit) = s.get("/api/v1/audit", Some(&wb.admin));
    assert_eq!(status, 200);
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    let e = &entries[0];
    assert_eq!(
        (
            e["actor"].as_str(),
            e["table"].as_str(),
            e["column"].as_str()
        ),
        (
            Some("Kari Nordmann"),
            Some("Platform_Health_Metrics"),
            Some("Current_Value")
        )
    );
    assert_eq!(
        (e["old"].as_str(), e["new"].as_str()),
        (Some("780"), Some("55.5"))
    );

    // It is on disk: a new process reads it.
    s.kill();
    let s = Server::start(&wb.db);
    let (_, again) = s.get(
        &format!("/api/v1/tables/Platform_Health_Metrics/rows/{id}"),
        Some(&wb.viewer),
    );
    assert_eq!(again["values"]["Current_Value"], json!(55.5));
}

#[test]
fn bad_and_forbidden_writes_get_the_right_error_and_change_nothing() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let (metric, _) = metric_row(&s, &wb.csm);
    let before = s.last_commit();
    let set = |table: &str, row: Json, column: &str, value: Json| {
        let mut op = json!({"op": "set", "table": table, "column": column, "value": value});
        match row {
            Json::String(name) => op["row"] = Json::String(name),
            id => op["row_id"] = id,
        }
        ops(json!([op]))
    };
    let cases: Vec<(&str, &str, Json, u16)> = vec![
        (
            "viewer writes",
            &wb.viewer,
            set(
                "Platform_Health_Metrics",
                json!(metric),
                "Current_Value",
                json!(1),
            ),
            403,
        ),
        (
            "csm writes an account",
            &wb.csm,
            set(
                "Account_Master",
                json!("Gard AS"),
                "Account_Status",
                json!("Churned"),
            ),
            403,
        ),
        (
            "csm writes a financial field",
            &wb.csm,
            set(
                "Strategic_Objectives",
                json!(1),
                "Business_Value_USD",
                json!(1),
            ),
            403,
        ),
        (
            "unknown column",
            &wb.csm,
            set(
                "Platform_Health_Metrics",
                json!(metric),
                "Curent_Value",
                json!(1),
            ),
            400,
        ),
        (
            "wrong type",
            &wb.csm,
            set(
                "Platform_Health_Metrics",
                json!(metric),
                "Current_Value",
                json!("lots"),
            ),
            400,
        ),
        (
            "formula column",
            &wb.admin,
            set(
                "Account_Master",
                json!("Gard AS"),
                "Health_Score",
                json!(99),
            ),
            400,
        ),
        (
            "unknown table",
            &wb.admin,
            set("Acounts", json!(1), "ARR", json!(1)),
            404,
        ),
        (
            "unknown row",
            &wb.admin,
            set("Account_Master", json!(999), "ARR", json!(1)),
            404,
        ),
        (
            "taken unique name",
            &wb.admin,
            set(
                "Account_Master",
                json!("Gard AS"),
                "Account_Name",
                json!("Helix Health Partners"),
            ),
            409,
        ),
        ("empty", &wb.admin, ops(json!([])), 400),
        (
            "not an operation",
            &wb.admin,
            ops(json!([{"op": "upsert", "table": "Tasks"}])),
            400,
        ),
        // The second operation is bad: the first must not land either.
        (
            "half good",
            &wb.admin,
            ops(json!([
            {"op": "set", "table": "Account_Master", "row": "Gard AS", "column": "ARR", "value": 1},
            {"op": "set", "table": "Account_Master", "row": "Gard AS", "column": "ARR", "value": "x"}])),
            400,
        ),
    ];
    for (what, token, body, expected) in cases {
        let (status, answer) = s.post("/api/v1/transactions", token, &body);
        assert_eq!(status, expected, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.len() > 20,
            "{what}: a sentence, not a code: {answer}"
        );
    }
    // Malformed JSON and a body over the limit.
    let (status, answer) = s.post_raw(
        "/api/v1/transactions",
        &wb.admin,
        b"{\"operations\": [".to_vec(),
    );
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = s.post_raw(
        "/api/v1/transactions",
        &wb.admin,
        vec![b' '; 2 * 1024 * 1024],
    );
    assert_eq!(status, 413, "{answer}");
    assert_eq!(s.last_commit(), before, "nothing was committed");
    let (_, gard) = s.post(
        "/api/v1/eval",
        &wb.viewer,
        &json!({"formula": "[ARR]", "table": "Account_Master", "row": "Gard AS"}),
    );
    assert_eq!(gard["value"], json!(480000));
    // An admin may write the financial field.
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &set("Account_Master", json!("Gard AS"), "ARR", json!(500000)),
    );
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn inserts_and_deletes_keep_row_ids_across_restarts() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([
            {"op": "insert", "table": "Tasks", "values": {"Title": "Call Gard about the renewal", "Account": "Gard AS", "Assigned_To": {"row_id": 1}}},
            {"op": "insert", "table": "Tasks", "values": {"Title": "Send QBR deck", "Account": "Gard AS"}}
        ])),
    );
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<u64> = answer["inserted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row_id"].as_u64().unwrap())
        .collect();
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([{"op": "delete", "table": "Tasks", "row_id": ids[0]}])),
    );
    assert_eq!(status, 200, "{answer}");
    // The audit log has the inserted rows and the deleted one, whole, paged.
    let (status, first) = s.get("/api/v1/audit?limit=2", Some(&wb.admin));
    assert_eq!(status, 200, "{first}");
    let next = first["next"].as_i64().unwrap();
    let (_, rest) = s.get(&format!("/api/v1/audit?after={next}"), Some(&wb.admin));
    let entries: Vec<&Json> = first["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["entries"].as_array().unwrap())
        .collect();
    assert_eq!(entries.len(), 3, "two inserts and a delete: {entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["column"] == "*" && e["actor"] == "Kari Nordmann")
    );
    assert!(
        entries[0]["new"]
            .as_str()
            .unwrap()
            .contains("Call Gard about the renewal")
    );
    assert!(
        entries[2]["new"].is_null()
            && entries[2]["old"]
                .as_str()
                .unwrap()
                .contains("Call Gard about the renewal")
    );
    s.kill();
    let s = Server::start(&wb.db);
    assert_eq!(
        s.get(
            &format!("/api/v1/tables/Tasks/rows/{}", ids[0]),
            Some(&wb.viewer)
        )
        .0,
        404
    );
    let (status, kept) = s.get(
        &format!("/api/v1/tables/Tasks/rows/{}", ids[1]),
        Some(&wb.viewer),
    );
    assert_eq!(
        (status, kept["values"]["Title"].as_str()),
        (200, Some("Send QBR deck"))
    );
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([{"op": "insert", "table": "Tasks", "values": {"Title": "New"}}])),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["inserted"][0]["row_id"].as_u64().unwrap() > ids[1],
        "a deleted id is never reused"
    );
}

#[test]
fn rows_imported_by_another_process_are_seen_before_the_next_write() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let csv = wb.dir.path().join("tasks.csv");
    std::fs::write(&csv, "Title,Account\nImported while serving,Gard AS\n").unwrap();
    let o = common::csip(&[
        "import",
        "--db",
        wb.db.to_str().unwrap(),
        "Tasks",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The next write reloads first: its row gets a new id, and both rows are there.
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([{"op": "insert", "table": "Tasks", "values": {"Title": "Written over HTTP"}}])),
    );
    assert_eq!(status, 200, "{answer}");
    let (_, page) = s.get("/api/v1/tables/Tasks/rows?limit=1000", Some(&wb.viewer));
    let titles: Vec<&str> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["values"]["Title"].as_str().unwrap_or_default())
        .collect();
    assert!(
        titles.contains(&"Imported while serving") && titles.contains(&"Written over HTTP"),
        "{titles:?}"
    );
}

#[test]
fn a_view_read_again_after_a_write_shows_the_write() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let path = "/api/v1/views/Renewal%20Risk";
    let names = |v: &Json| -> Vec<String> {
        v["groups"][0]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["values"]["Account_Name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, first) = s.get(path, Some(&wb.viewer));
    let (_, again) = s.get(path, Some(&wb.viewer));
    assert_eq!(first, again, "the same answer while nothing changes");
    assert_eq!(names(&first), ["Sakura Retail Group", "Gard AS"]);
    // Gard AS (health 63) renews in 96 days: At Risk. Renewing in 2028 makes
    // it Attention Needed, out of the view.
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &ops(json!([{"op": "set", "table": "Account_Master", "row": "Gard AS", "column": "Renewal_Date", "value": "2028-01-01"}])),
    );
    assert_eq!(status, 200, "{answer}");
    let (_, after) = s.get(path, Some(&wb.viewer));
    assert_eq!(
        names(&after),
        ["Sakura Retail Group"],
        "the view follows the write"
    );
    // A viewer's token still goes through the same checks on a cached answer.
    assert_eq!(s.get(path, None).0, 401);
}
