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
fn a_view_is_answered_a_page_at_a_time_with_links_to_what_it_includes() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let path = "/api/v1/views/Platform%20Health%20Dashboard";
    let (status, whole) = s.get(path, Some(&wb.viewer));
    assert_eq!(status, 200, "{whole}");
    assert_eq!(
        (whole["row_count"].as_u64(), whole["group_count"].as_u64()),
        (Some(22), Some(4))
    );
    // The heat map is a link, not inlined; following it answers the view.
    let link = &whole["included"][0];
    assert_eq!(
        (link["view"].as_str(), link["table"].as_str()),
        (Some("API Heat Map"), Some("API_Portfolio"))
    );
    let href = link["href"].as_str().unwrap();
    assert_eq!(href, "/api/v1/views/API_Portfolio%2FAPI%20Heat%20Map");
    let (status, heat) = s.get(href, Some(&wb.viewer));
    assert_eq!((status, heat["view"].as_str()), (200, Some("API Heat Map")));

    // Two rows of each of groups 2 and 3, from the second; the counts and
    // tiles are the whole view's.
    let (status, page) = s.get(
        &format!("{path}?limit=2&offset=1&group_offset=1&group_limit=2"),
        Some(&wb.viewer),
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["row_count"], 22);
    assert_eq!(page["tiles"], whole["tiles"]);
    let groups = page["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for (p, w) in groups
        .iter()
        .zip(&whole["groups"].as_array().unwrap()[1..3])
    {
        assert_eq!(
            (&p["key"], &p["count"], p["offset"].as_u64()),
            (&w["key"], &w["count"], Some(1))
        );
        let expected: Vec<_> = w["rows"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .take(2)
            .collect();
        assert_eq!(
            p["rows"].as_array().unwrap().iter().collect::<Vec<_>>(),
            expected
        );
    }
    let (status, warning) = s.get(
        &format!("{path}?group=%F0%9F%9F%A1%20Warning"),
        Some(&wb.viewer),
    );
    assert_eq!(status, 200, "{warning}");
    assert_eq!(warning["groups"].as_array().unwrap().len(), 1);
    assert_eq!(warning["groups"][0]["count"], 6);

    // A page past the maximum, or not a number: 400 with what to do.
    for bad in ["limit=1001", "limit=-1", "offset=x", "group_limit=5000"] {
        let (status, e) = s.get(&format!("{path}?{bad}"), Some(&wb.viewer));
        assert_eq!(status, 400, "{bad}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains('`'), "{e}");
    }
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

// ---- the HTTP edge ------------------------------------------------------------------

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One answer read off a raw connection.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: Json,
}

impl RawAnswer {
    /// A header's value (names compared ignoring case).
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A raw HTTP/1.1 connection, for what an HTTP client will not do: send
/// slowly, stop halfway, stay idle.
struct Raw {
    stream: TcpStream,
    read: Vec<u8>,
}

impl Raw {
    fn connect(s: &Server) -> Raw {
        Raw {
            stream: TcpStream::connect(s.addr()).unwrap(),
            read: Vec::new(),
        }
    }

    /// Sends bytes; false if the connection is gone.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Reads more within `until`: Some(true) when bytes came, Some(false)
    /// when the server closed the connection, None on timeout.
    fn fill(&mut self, until: Instant) -> Option<bool> {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        self.stream.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 8192];
        match self.stream.read(&mut buf) {
            Ok(0) => Some(false),
            Ok(n) => {
                self.read.extend_from_slice(&buf[..n]);
                Some(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(_) => Some(false),
        }
    }

    /// The next answer (a `100 Continue` is one), or None if none came
    /// within `wait` or the connection closed first.
    fn answer(&mut self, wait: Duration) -> Option<RawAnswer> {
        let until = Instant::now() + wait;
        let head_end = loop {
            if let Some(i) = self.read.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill(until) != Some(true) {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.read[..head_end]).to_string();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let mut answer = RawAnswer {
            status,
            head,
            body: Json::Null,
        };
        let length: usize = answer
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while self.read.len() < head_end + length {
            if self.fill(until) != Some(true) {
                return None;
            }
        }
        let body: Vec<u8> = self
            .read
            .drain(..head_end + length)
            .skip(head_end)
            .collect();
        answer.body = serde_json::from_slice(&body)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&body)}));
        Some(answer)
    }

    /// Whether the server closed the connection within `wait` (bytes it
    /// sends meanwhile are kept for [`Raw::answer`]).
    fn closed_within(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            match self.fill(until) {
                Some(true) => continue,
                Some(false) => return true,
                None => return false,
            }
        }
    }
}

fn get_request(path: &str, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: csip\r\n{auth}\r\n")
}

/// A POST head for a body of `length` bytes.
fn post_head(path: &str, token: Option<&str>, length: usize, extra: &str) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!("POST {path} HTTP/1.1\r\nHost: csip\r\n{auth}Content-Length: {length}\r\n{extra}\r\n")
}

/// Sends a signal to the server with the `kill` command.
fn signal(s: &Server, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The server's exit status and when it came, waiting at most `wait`.
fn exit_within(s: &mut Server, wait: Duration) -> Option<(std::process::ExitStatus, Instant)> {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if let Some(status) = s.child.try_wait().unwrap() {
            return Some((status, Instant::now()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits until the server refuses new connections (it stopped accepting).
fn refuses_connections_within(s: &Server, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if TcpStream::connect(s.addr()).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_slowloris_of_200_connections_does_not_starve_other_clients_and_is_cut_at_the_header_timeout() {
    let wb = pilot();
    let header_timeout = Duration::from_secs(2);
    let s = Server::start_with(&wb.db, &["--header-timeout", "2"]);
    // 200 connections sending a request head a byte at a time, forever:
    // the request line, then one header whose value never ends.
    let prefix = b"GET /healthz HTTP/1.1\r\nHost: csip\r\nX-Slow: ";
    let mut slow: Vec<(TcpStream, Instant, usize, Option<Duration>)> = (0..200)
        .map(|_| {
            // Connected, so before the server accepts it: the server's
            // clock for it starts later than this one.
            let stream = TcpStream::connect(s.addr()).unwrap();
            let started = Instant::now();
            stream.set_nonblocking(true).unwrap();
            (stream, started, 0, None)
        })
        .collect();
    let attack = Instant::now();
    let mut latencies = Vec::new();
    let mut answered = 0;
    while slow.iter().any(|c| c.3.is_none()) && attack.elapsed() < Duration::from_secs(20) {
        for (stream, started, sent, closed) in slow.iter_mut().filter(|c| c.3.is_none()) {
            let byte = prefix.get(*sent).copied().unwrap_or(b'a');
            match stream.write(&[byte]) {
                Ok(_) => *sent += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => *closed = Some(started.elapsed()),
            }
            let mut buf = [0u8; 256];
            match stream.read(&mut buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Ok(n) if n > 0 => panic!("a slow connection got an answer"),
                _ => *closed = closed.or(Some(started.elapsed())),
            }
        }
        // Meanwhile, before the header timeout, a normal client is served.
        if attack.elapsed() < header_timeout / 2 && answered < 10 {
            let asked = Instant::now();
            let (status, health) = s.get("/healthz", None);
            latencies.push(asked.elapsed());
            assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
            let (status, tables) = s.get("/api/v1/tables", Some(&wb.viewer));
            assert_eq!(status, 200, "{tables}");
            assert!(
                asked.elapsed() < Duration::from_secs(5),
                "answered while under attack"
            );
            answered += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        answered, 10,
        "the normal client was served during the attack"
    );
    let still_open = slow.iter().filter(|c| c.3.is_none()).count();
    assert_eq!(still_open, 0, "every slow connection is closed");
    let (first, last) = slow
        .iter()
        .fold((Duration::MAX, Duration::ZERO), |(lo, hi), c| {
            let at = c.3.unwrap_or_default();
            (lo.min(at), hi.max(at))
        });
    assert!(
        first >= header_timeout,
        "no slow connection is closed before the header timeout ({first:?})"
    );
    latencies.sort();
    eprintln!(
        "slowloris: 200 connections closed {first:?} to {last:?} after they opened; /healthz + /api/v1/tables meanwhile: median {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    assert_eq!(
        s.get("/healthz", None).0,
        200,
        "still serving after the attack"
    );
}

#[test]
fn a_kept_alive_connection_waits_the_idle_timeout_for_its_next_request_not_the_header_timeout() {
    let wb = pilot();
    let s = Server::start_with(&wb.db, &["--header-timeout", "1", "--idle-timeout", "4"]);
    // A connection that says nothing gets the header timeout.
    let mut silent = Raw::connect(&s);
    let opened = Instant::now();
    assert!(silent.closed_within(Duration::from_secs(10)));
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(4),
        "closed by the header timeout, not the idle one: {waited:?}"
    );
    // One that was answered may wait longer than the header timeout for its
    // next request ...
    let mut kept = Raw::connect(&s);
    assert!(kept.send(get_request("/healthz", None).as_bytes()));
    assert_eq!(kept.answer(Duration::from_secs(5)).unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(kept.send(get_request("/api/v1/tables", Some(&wb.viewer)).as_bytes()));
    let asked = Instant::now();
    let second = kept.answer(Duration::from_secs(5));
    assert_eq!(
        second.map(|a| a.status),
        Some(200),
        "answered after 2.5 s idle"
    );
    // ... and is closed once idle past the idle timeout (counted from its
    // answer, which came after it was asked for).
    let idle = asked;
    assert!(kept.closed_within(Duration::from_secs(15)));
    assert!(
        idle.elapsed() >= Duration::from_secs(4),
        "not before the idle timeout: {:?}",
        idle.elapsed()
    );
}

#[test]
fn past_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let wb = pilot();
    let s = Server::start_with(&wb.db, &["--max-connections", "2"]);
    // Two kept-alive connections, each answered once: both are accepted.
    let mut held: Vec<Raw> = (0..2)
        .map(|_| {
            let mut c = Raw::connect(&s);
            assert!(c.send(get_request("/healthz", None).as_bytes()));
            assert_eq!(c.answer(Duration::from_secs(5)).unwrap().status, 200);
            c
        })
        .collect();
    // A third connects (the kernel's backlog takes it) but is not served ...
    let mut third = Raw::connect(&s);
    assert!(third.send(get_request("/healthz", None).as_bytes()));
    assert!(
        third.answer(Duration::from_secs(1)).is_none(),
        "not served while two connections are open"
    );
    // ... until one of the two closes.
    held.pop();
    let answer = third.answer(Duration::from_secs(5));
    assert_eq!(answer.map(|a| a.status), Some(200));
}

#[test]
fn sigterm_lets_a_write_in_progress_finish_closes_idle_connections_and_exits_0() {
    let wb = pilot();
    let mut s = Server::start(&wb.db);
    let (id, _) = metric_row(&s, &wb.csm);
    // A connection halfway through its request head, and an idle one.
    let mut partial = Raw::connect(&s);
    assert!(partial.send(b"GET /healthz HTTP/1.1\r\nHost: csip\r\n"));
    let mut idle = Raw::connect(&s);
    assert!(idle.send(get_request("/healthz", None).as_bytes()));
    assert_eq!(idle.answer(Duration::from_secs(5)).unwrap().status, 200);
    // A write whose handler is reading its body (the server asked for it
    // with 100 Continue) when the signal comes.
    let body = ops(json!([{"op": "set", "table": "Platform_Health_Metrics", "row_id": id, "column": "Current_Value", "value": 42.5}]))
        .to_string();
    let mut write = Raw::connect(&s);
    let head = post_head(
        "/api/v1/transactions",
        Some(&wb.csm),
        body.len(),
        "Content-Type: application/json\r\nExpect: 100-continue\r\n",
    );
    assert!(write.send(head.as_bytes()));
    assert_eq!(write.answer(Duration::from_secs(5)).unwrap().status, 100);
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    assert!(write.send(first));

    signal(&s, "TERM");
    let signalled = Instant::now();
    assert!(
        refuses_connections_within(&s, Duration::from_secs(5)),
        "it stops accepting"
    );
    assert!(
        partial.closed_within(Duration::from_secs(5)),
        "the half-sent head is let go"
    );
    assert!(
        idle.closed_within(Duration::from_secs(5)),
        "the idle connection is closed"
    );
    assert!(write.send(rest));
    let answer = write
        .answer(Duration::from_secs(5))
        .expect("the write is answered");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.header("connection"), Some("close"));
    let (status, exited) = exit_within(&mut s, Duration::from_secs(15)).expect("it exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        exited - signalled < Duration::from_secs(10),
        "within 10 s: {:?}",
        exited - signalled
    );
    // The write is in the file.
    let s = Server::start(&wb.db);
    let (_, row) = s.get(
        &format!("/api/v1/tables/Platform_Health_Metrics/rows/{id}"),
        Some(&wb.viewer),
    );
    assert_eq!(row["values"]["Current_Value"], json!(42.5));
    assert_eq!(s.last_commit(), answer.body["commit"].as_i64().unwrap());
}

#[test]
fn ctrl_c_drops_a_request_still_running_at_the_shutdown_deadline_and_exits_0() {
    let wb = pilot();
    let mut s = Server::start_with(&wb.db, &["--shutdown-timeout", "1", "--body-timeout", "60"]);
    let before = s.last_commit();
    // A write whose body stops halfway and never comes whole.
    let body =
        ops(json!([{"op": "insert", "table": "Tasks", "values": {"Title": "never sent whole"}}]))
            .to_string();
    let mut write = Raw::connect(&s);
    let head = post_head(
        "/api/v1/transactions",
        Some(&wb.csm),
        body.len(),
        "Expect: 100-continue\r\n",
    );
    assert!(write.send(head.as_bytes()));
    assert_eq!(write.answer(Duration::from_secs(5)).unwrap().status, 100);
    assert!(write.send(&body.as_bytes()[..10]));

    signal(&s, "INT");
    let signalled = Instant::now();
    let (status, exited) = exit_within(&mut s, Duration::from_secs(15)).expect("it exits");
    assert_eq!(status.code(), Some(0));
    let took = exited - signalled;
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "it waits for the request until the shutdown timeout, then exits: {took:?}"
    );
    assert!(write.closed_within(Duration::from_secs(5)));
    assert!(
        write.answer(Duration::ZERO).is_none(),
        "the request got no answer"
    );
    let s = Server::start(&wb.db);
    assert_eq!(s.last_commit(), before, "nothing was written");
}

// ---- limits on a transaction ---------------------------------------------------------

#[test]
fn too_many_operations_get_413_and_a_large_change_set_answers_counts_and_the_first_changes() {
    let wb = pilot();
    let s = Server::start_with(&wb.db, &["--max-operations", "3", "--max-changes", "10"]);
    let (_, page) = s.get(
        "/api/v1/tables/Platform_Health_Metrics/rows?limit=3",
        Some(&wb.csm),
    );
    let ids: Vec<u64> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    let set = |id: u64, value: f64| json!({"op": "set", "table": "Platform_Health_Metrics", "row_id": id, "column": "Current_Value", "value": value});
    let before = s.last_commit();
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([
            set(ids[0], 1.0),
            set(ids[1], 2.0),
            set(ids[2], 3.0),
            set(ids[0], 4.0)
        ])),
    );
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("4 operations") && message.contains("at most 3"),
        "{message}"
    );
    assert_eq!(s.last_commit(), before, "nothing was committed");

    // One set: a small change set, whole.
    let (status, small) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([set(ids[0], 10.0)])),
    );
    assert_eq!(status, 200, "{small}");
    let first_commit = small["commit"].as_i64().unwrap();
    assert_eq!(small["truncated"], json!(false));
    assert!(small.get("rest").is_none());
    let small_count = small["changes"].as_array().unwrap().len();
    assert!(small_count <= 10, "{small}");
    assert_eq!(small["counts"]["changes"], json!(small_count));

    // Three sets: more cells change than the answer lists.
    let (status, big) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([
            set(ids[0], 11.0),
            set(ids[1], 12.0),
            set(ids[2], 13.0)
        ])),
    );
    assert_eq!(status, 200, "{big}");
    let commit = big["commit"].as_i64().unwrap();
    assert_eq!(big["truncated"], json!(true), "{big}");
    assert_eq!(big["changes"].as_array().unwrap().len(), 10);
    let total = big["counts"]["changes"].as_u64().unwrap();
    assert!(total > 10, "{big}");
    let by_table: u64 = big["counts"]["by_table"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_table, total, "the counts by table add up");
    assert!(
        big["counts"]["by_table"]["Account_Master"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        big["rest"]["data_cells"],
        json!(format!("/api/v1/audit?commit={commit}"))
    );
    assert!(
        big["rest"]["formula_cells"]
            .as_array()
            .unwrap()
            .contains(&json!("/api/v1/tables/Account_Master/rows")),
        "{big}"
    );
    // A later commit, so that the filter has something to leave out.
    let (status, _) = s.post(
        "/api/v1/transactions",
        &wb.csm,
        &ops(json!([set(ids[1], 14.0)])),
    );
    assert_eq!(status, 200);

    // The data cells of the big commit, from the audit log, paged.
    let (status, page1) = s.get(
        &format!("/api/v1/audit?commit={commit}&limit=2"),
        Some(&wb.admin),
    );
    assert_eq!(status, 200, "{page1}");
    let next = page1["next"].as_i64().unwrap();
    let (_, page2) = s.get(
        &format!("/api/v1/audit?commit={commit}&limit=2&after={next}"),
        Some(&wb.admin),
    );
    let entries: Vec<&Json> = page1["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["entries"].as_array().unwrap())
        .collect();
    let cells: Vec<(u64, &str, &str)> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["commit"].as_i64(), Some(commit), "{e}");
            (
                e["row_id"].as_u64().unwrap(),
                e["column"].as_str().unwrap(),
                e["new"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            (ids[0], "Current_Value", "11"),
            (ids[1], "Current_Value", "12"),
            (ids[2], "Current_Value", "13")
        ]
    );
    let (_, page3) = s.get(
        &format!(
            "/api/v1/audit?commit={commit}&after={}",
            page2["next"].as_i64().unwrap()
        ),
        Some(&wb.admin),
    );
    assert_eq!(page3["entries"], json!([]), "and no more");
    let (_, earlier) = s.get(
        &format!("/api/v1/audit?commit={first_commit}"),
        Some(&wb.admin),
    );
    assert_eq!(earlier["entries"].as_array().unwrap().len(), 1, "{earlier}");
    assert_eq!(
        s.get(&format!("/api/v1/audit?commit={commit}"), Some(&wb.csm))
            .0,
        403,
        "admins only, as the whole log"
    );
    assert_eq!(s.get("/api/v1/audit?commit=x", Some(&wb.admin)).0, 400);
    assert_eq!(s.get("/api/v1/audit?commit=0", Some(&wb.admin)).0, 400);
}

// ---- authentication first -------------------------------------------------------------

#[test]
fn a_missing_or_bad_token_is_401_before_anything_about_the_body_or_the_route() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    for token in [None, Some("csip_not_a_token")] {
        let send = |head: String, body: &[u8]| {
            let mut c = Raw::connect(&s);
            assert!(c.send(head.as_bytes()));
            c.send(body);
            c.answer(Duration::from_secs(5)).unwrap()
        };
        let cases: Vec<(&str, RawAnswer)> = vec![
            (
                "unreadable JSON",
                send(
                    post_head("/api/v1/transactions", token, 16, ""),
                    b"{\"operations\": [",
                ),
            ),
            (
                "a formula body that is not JSON",
                send(post_head("/api/v1/eval", token, 3, ""), b"1+1"),
            ),
            (
                "a body over the limit (declared, not sent)",
                send(post_head("/api/v1/transactions", token, 2 << 20, ""), b""),
            ),
            (
                "the wrong content type",
                send(
                    post_head("/api/v1/eval", token, 2, "Content-Type: text/plain\r\n"),
                    b"{}",
                ),
            ),
            (
                "a repeated key",
                send(
                    post_head("/api/v1/eval", token, 30, ""),
                    br#"{"formula": "1", "formula": 2}"#,
                ),
            ),
            (
                "a bad query",
                send(get_request("/api/v1/audit?limit=abc", token), b""),
            ),
            (
                "a bad path",
                send(get_request("/api/v1/tables/%FF/rows", token), b""),
            ),
            (
                "an unknown route",
                send(get_request("/api/v1/nowhere", token), b""),
            ),
            (
                "a wrong method",
                send(
                    "DELETE /api/v1/tables HTTP/1.1\r\nHost: csip\r\n\r\n"
                        .to_string()
                        .replace(
                            "\r\n\r\n",
                            &token.map_or("\r\n\r\n".to_string(), |t| {
                                format!("\r\nAuthorization: Bearer {t}\r\n\r\n")
                            }),
                        ),
                    b"",
                ),
            ),
        ];
        for (what, answer) in cases {
            assert_eq!(
                answer.status, 401,
                "{what} with {token:?}: {:?}",
                answer.body
            );
            assert_eq!(answer.body["error"]["code"], "unauthorized", "{what}");
        }
    }
    // With a good token the same requests get their own errors.
    let mut c = Raw::connect(&s);
    assert!(c.send(post_head("/api/v1/transactions", Some(&wb.csm), 16, "").as_bytes()));
    assert!(c.send(b"{\"operations\": ["));
    assert_eq!(c.answer(Duration::from_secs(5)).unwrap().status, 400);
}

// ---- one error shape ----------------------------------------------------------------

#[test]
fn every_error_answers_the_api_json_shape() {
    let wb = pilot();
    let s = Server::start_with(&wb.db, &["--body-timeout", "1"]);
    let raw = |request: String, body: &[u8], wait: u64| {
        let mut c = Raw::connect(&s);
        assert!(c.send(request.as_bytes()));
        c.send(body);
        c.answer(Duration::from_secs(wait)).unwrap()
    };
    let admin = Some(wb.admin.as_str());
    let with_token = |method: &str, path: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: csip\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\n\r\n",
            wb.admin
        )
    };
    let cases: Vec<(&str, RawAnswer, u16, &str)> = vec![
        (
            "an unknown route",
            raw(get_request("/nowhere", None), b"", 5),
            404,
            "not_found",
        ),
        (
            "an unknown API route",
            raw(get_request("/api/v1/nowhere", admin), b"", 5),
            404,
            "not_found",
        ),
        (
            "a wrong method",
            raw(with_token("DELETE", "/api/v1/tables"), b"", 5),
            405,
            "method_not_allowed",
        ),
        (
            "a wrong method outside the API",
            raw(with_token("POST", "/healthz"), b"", 5),
            405,
            "method_not_allowed",
        ),
        (
            "a body over the limit",
            raw(
                post_head("/api/v1/transactions", admin, 2 << 20, ""),
                b"",
                5,
            ),
            413,
            "payload_too_large",
        ),
        (
            "a body that is not JSON by its type",
            raw(
                post_head("/api/v1/eval", admin, 16, "Content-Type: text/plain\r\n"),
                br#"{"formula": "1"}"#,
                5,
            ),
            415,
            "unsupported_media_type",
        ),
        (
            "a form body",
            raw(
                post_head(
                    "/api/v1/eval",
                    admin,
                    9,
                    "Content-Type: application/x-www-form-urlencoded\r\n",
                ),
                b"formula=1",
                5,
            ),
            415,
            "unsupported_media_type",
        ),
        (
            "a path segment that is not text",
            raw(get_request("/api/v1/tables/%FF/rows", admin), b"", 5),
            400,
            "bad_request",
        ),
        (
            "a query value that is not a number",
            raw(
                get_request("/api/v1/tables/Account_Master/rows?limit=abc", admin),
                b"",
                5,
            ),
            400,
            "bad_request",
        ),
        (
            "a body that stops coming",
            raw(
                post_head(
                    "/api/v1/eval",
                    admin,
                    100,
                    "Content-Type: application/json\r\n",
                ),
                b"{\"formula\":",
                10,
            ),
            408,
            "request_timeout",
        ),
        (
            "no token",
            raw(get_request("/api/v1/tables", None), b"", 5),
            401,
            "unauthorized",
        ),
        (
            "the audit log for a viewer",
            raw(get_request("/api/v1/audit", Some(&wb.viewer)), b"", 5),
            403,
            "forbidden",
        ),
    ];
    for (what, answer, status, code) in cases {
        assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        let error = &answer.body["error"];
        assert_eq!(error["status"], json!(status), "{what}: {}", answer.body);
        assert_eq!(error["code"], json!(code), "{what}: {}", answer.body);
        assert!(
            error["message"].as_str().is_some_and(|m| m.len() > 10),
            "{what}: a sentence: {}",
            answer.body
        );
        assert_eq!(answer.body.as_object().unwrap().len(), 1, "{what}");
    }
}

// ---- ambiguous input ----------------------------------------------------------------

#[test]
fn ambiguous_input_is_refused_with_a_message_naming_the_field() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let before = s.last_commit();
    let refused = |status: u16, answer: &Json, names: &[&str], what: &str| {
        assert_eq!(status, 400, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        for name in names {
            assert!(
                message.contains(name),
                "{what}: `{name}` named in {message}"
            );
        }
    };
    // A row given both ways.
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &ops(json!([{"op": "set", "table": "Account_Master", "row": "Gard AS", "row_id": 2, "column": "ARR", "value": 1}])),
    );
    refused(
        status,
        &answer,
        &["\"row_id\"", "\"row\"", "operation 1"],
        "set",
    );
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &ops(json!([{"op": "delete", "table": "Tasks", "row": "x", "row_id": 1}])),
    );
    refused(status, &answer, &["\"row_id\"", "\"row\""], "delete");
    let (status, answer) = s.post(
        "/api/v1/eval",
        &wb.viewer,
        &json!({"formula": "[ARR]", "table": "Account_Master", "row": "Gard AS", "row_id": 2}),
    );
    refused(status, &answer, &["\"row_id\"", "\"row\""], "eval");
    // A key twice in an object, at any depth.
    let (status, answer) = s.post_raw(
        "/api/v1/transactions",
        &wb.admin,
        br#"{"operations": [{"op": "set", "table": "Account_Master", "row": "Gard AS", "column": "ARR", "value": 1, "value": 2}]}"#.to_vec(),
    );
    refused(
        status,
        &answer,
        &["`value`", "operations[0]"],
        "a repeated value",
    );
    let (status, answer) = s.post_raw(
        "/api/v1/transactions",
        &wb.admin,
        br#"{"operations": [{"op": "insert", "table": "Tasks", "values": {"Title": "a", "Title": "b"}}]}"#.to_vec(),
    );
    refused(
        status,
        &answer,
        &["`Title`", "operations[0].values"],
        "a repeated column",
    );
    let (status, answer) = s.post_raw(
        "/api/v1/transactions",
        &wb.admin,
        br#"{"operations": [], "operations": [{"op": "delete", "table": "Tasks", "row_id": 1}]}"#
            .to_vec(),
    );
    refused(
        status,
        &answer,
        &["`operations`", "top level"],
        "a repeated top-level key",
    );
    let (status, answer) = s.post_raw(
        "/api/v1/eval",
        &wb.viewer,
        br#"{"formula": "1", "formula": "2"}"#.to_vec(),
    );
    refused(status, &answer, &["`formula`"], "eval");
    assert_eq!(s.last_commit(), before, "nothing was committed");
    // A query parameter twice, in any case.
    let (status, answer) = s.get(
        "/api/v1/views/CSM%20Command%20Center?user=Kari%20Nordmann&user=James%20Carter",
        Some(&wb.viewer),
    );
    refused(
        status,
        &answer,
        &["`user`", "twice"],
        "a view parameter twice",
    );
    let (status, answer) = s.get(
        "/api/v1/views/CSM%20Command%20Center?user=Kari%20Nordmann&User=James%20Carter",
        Some(&wb.viewer),
    );
    refused(
        status,
        &answer,
        &["`User`", "twice"],
        "a view parameter twice, cased",
    );
    let (status, answer) = s.get(
        "/api/v1/tables/Account_Master/rows?limit=1&limit=2",
        Some(&wb.viewer),
    );
    refused(status, &answer, &["`limit`"], "a paging parameter twice");
    // A required view parameter given empty.
    for empty in ["", "%20"] {
        let (status, answer) = s.get(
            &format!("/api/v1/views/CSM%20Command%20Center?user={empty}"),
            Some(&wb.viewer),
        );
        refused(
            status,
            &answer,
            &["`user`", "empty"],
            "a required parameter empty",
        );
    }
    // Given once, with a value, it is answered.
    let (status, answer) = s.get(
        "/api/v1/views/CSM%20Command%20Center?user=Kari%20Nordmann",
        Some(&wb.viewer),
    );
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn a_token_whose_person_left_or_changed_role_is_refused() {
    let wb = pilot();
    let s = Server::start(&wb.db);
    let (status, answer) = s.get("/api/v1/tables", Some(&wb.csm));
    assert_eq!(status, 200, "{answer}");
    // Kari Nordmann moves to sales: her csm token no longer fits.
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &ops(json!([{"op": "set", "table": "People_Team", "row": "Kari Nordmann", "column": "Role", "value": "AE"}])),
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = s.get("/api/v1/tables", Some(&wb.csm));
    assert_eq!(status, 401, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Kari Nordmann"), "{message}");
    // A person who is no longer active: their viewer token is refused too.
    let (status, answer) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &ops(json!([{"op": "set", "table": "People_Team", "row": "James Carter", "column": "Active_Status", "value": false}])),
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = s.get("/api/v1/tables", Some(&wb.viewer));
    assert_eq!(status, 401, "{answer}");
    // Back in her role, Kari's token works again.
    let (status, _) = s.post(
        "/api/v1/transactions",
        &wb.admin,
        &ops(json!([{"op": "set", "table": "People_Team", "row": "Kari Nordmann", "column": "Role", "value": "CSM"}])),
    );
    assert_eq!(status, 200);
    let (status, answer) = s.get("/api/v1/tables", Some(&wb.csm));
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn sigterm_stops_a_long_evaluation_through_its_budget_and_exits_0_at_once() {
    let wb = pilot();
    // A time limit of a minute: only the shutdown can stop this one soon.
    let mut s = Server::start_with(&wb.db, &["--eval-time-limit", "60"]);
    let mut formula = "[Title] != \"\"".to_string();
    for _ in 0..14 {
        formula = format!("CountIf([Tasks], {formula}) > 0");
    }
    let body = json!({ "formula": formula }).to_string();
    let mut eval = Raw::connect(&s);
    let head = post_head(
        "/api/v1/eval",
        Some(&wb.viewer),
        body.len(),
        "Content-Type: application/json\r\n",
    );
    assert!(eval.send(format!("{head}{body}").as_bytes()));
    std::thread::sleep(Duration::from_millis(500));
    signal(&s, "TERM");
    let signalled = Instant::now();
    let answer = eval
        .answer(Duration::from_secs(5))
        .expect("the evaluation is answered, not dropped");
    assert_eq!(answer.status, 422, "{:?}", answer.body);
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cancelled"), "{message}");
    let (status, exited) = exit_within(&mut s, Duration::from_secs(15)).expect("it exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        exited - signalled < Duration::from_secs(5),
        "the evaluation did not hold the shutdown for its minute: {:?}",
        exited - signalled
    );
}
