//! The store against a real SQLite file: what is committed comes back, cell
//! for cell, after reopening; rejected transactions leave the file alone;
//! upgrades keep data or refuse.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{Clock, SourceFile, Transaction, Value, Workbook};
use csip_store::{Role, Store, StoreError};
use std::path::Path;

fn today() -> csip_engine::NaiveDate {
    csip_workbook::sample_today()
}

fn at() -> csip_engine::NaiveDateTime {
    today().and_hms_opt(9, 30, 0).expect("a time")
}

fn pilot_store(path: &Path) -> Store {
    let wb = csip_workbook::pilot(today()).expect("the pilot workbook loads");
    Store::create(path, csip_workbook::table_files(), wb).expect("the file is created")
}

/// Every cell of every table, formula cells included, by names and row ids.
fn cells(wb: &Workbook) -> Vec<(String, u32, String, Value)> {
    let mut out = Vec::new();
    for t in wb.tables() {
        for &row in wb.rows(t).unwrap() {
            for &c in wb.columns(t).unwrap() {
                out.push((
                    wb.table_name(t).unwrap().to_string(),
                    row.get(),
                    wb.column_name(c).unwrap().to_string(),
                    wb.value(c, row).ok().cloned().unwrap_or_default(),
                ));
            }
        }
    }
    out
}

fn same(a: &Workbook, b: &Workbook) {
    let (a, b) = (cells(a), cells(b));
    assert_eq!(a.len(), b.len(), "the same number of cells");
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x.0 == y.0 && x.1 == y.1 && x.2 == y.2 && csip_engine::values_equal(&x.3, &y.3),
            "{x:?} != {y:?}"
        );
    }
}

#[test]
fn the_pilot_comes_back_cell_for_cell() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let store = pilot_store(&path);
    let reopened = Store::open(&path, Clock::on(today())).expect("it opens");
    same(store.workbook(), reopened.workbook());
    assert!(
        !reopened
            .workbook()
            .rows(
                reopened
                    .workbook()
                    .table_id("Account_Master")
                    .expect("accounts")
            )
            .unwrap()
            .is_empty()
    );
}

#[test]
fn commits_sets_inserts_and_deletes_durably_and_keeps_row_ids() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    let log = wb.table_id("Engagement_Log").expect("engagements");
    let arr = wb.column_id(accounts, "ARR").expect("ARR");
    let health = wb
        .column_id(accounts, "Health_Score")
        .expect("Health_Score");
    let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
    let first_log = wb.rows(log).unwrap()[0];
    let metrics = wb.table_id("Platform_Health_Metrics").expect("metrics");
    let value = wb
        .column_id(metrics, "Current_Value")
        .expect("Current_Value");
    let metric = wb.rows(metrics).unwrap()[0];
    let account_col = wb.column_id(log, "Account").expect("Account");

    store
        .commit(
            Transaction::new()
                .set(arr, gard, 2_500_000)
                .set(value, metric, 1),
            "admin",
            at(),
        )
        .expect("the edit commits");
    store
        .commit(Transaction::new().delete(log, first_log), "admin", at())
        .expect("the delete commits");
    let date_col = store
        .workbook()
        .column_id(log, "Engagement_Date")
        .expect("Engagement_Date");
    let last_id = *store
        .workbook()
        .rows(log)
        .unwrap()
        .last()
        .expect("engagements");
    let inserted = store
        .commit(
            Transaction::new().insert(
                log,
                vec![
                    (account_col, Value::from("Gard AS")),
                    (date_col, Value::Date(today())),
                ],
            ),
            "admin",
            at(),
        )
        .expect("the insert commits");
    let before = store.workbook().value(health, gard).ok().cloned();
    let reopened = Store::open(&path, Clock::on(today())).expect("it opens");
    same(store.workbook(), reopened.workbook());
    let wb = reopened.workbook();
    // A reopened file is a new workbook: its ids are looked up again.
    let accounts = wb.table_id("Account_Master").expect("accounts");
    let log = wb.table_id("Engagement_Log").expect("engagements");
    let arr = wb.column_id(accounts, "ARR").expect("ARR");
    let health = wb
        .column_id(accounts, "Health_Score")
        .expect("Health_Score");
    assert_eq!(wb.value(arr, gard).ok(), Some(&Value::from(2_500_000)));
    assert!(
        !wb.contains_row(log, first_log),
        "the deleted row stays deleted"
    );
    assert_eq!(wb.value(health, gard).ok().cloned(), before);
    let (_, new) = inserted.inserted[0];
    assert!(wb.contains_row(log, new));
    assert!(
        new.get() > wb.rows(log).unwrap()[0].get(),
        "ids grow; a deleted id is not reused"
    );
    assert_eq!(
        new.get(),
        last_id.get() + 1,
        "the next id after every one used"
    );
    assert_ne!(new, first_log);
}

#[test]
fn the_id_of_a_deleted_last_row_is_not_given_again_after_a_reopen() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let tasks = wb.table_id("Tasks").expect("tasks");
    let title = wb.column_id(tasks, "Title").expect("Title");
    let task = |name: &str| Transaction::new().insert(tasks, vec![(title, Value::from(name))]);
    let first = store
        .commit(task("first"), "admin", at())
        .expect("inserted");
    let (_, first) = first.inserted[0];
    store
        .commit(Transaction::new().delete(tasks, first), "admin", at())
        .expect("deleted");
    drop(store);
    let mut store = Store::open(&path, Clock::on(today())).expect("it opens");
    let wb = store.workbook();
    let tasks = wb.table_id("Tasks").expect("tasks");
    let title = wb.column_id(tasks, "Title").expect("Title");
    let task = |name: &str| Transaction::new().insert(tasks, vec![(title, Value::from(name))]);
    assert_eq!(wb.next_row_id(tasks).unwrap().get(), first.get() + 1);
    let second = store
        .commit(task("second"), "admin", at())
        .expect("inserted");
    assert_eq!(second.inserted[0].1.get(), first.get() + 1, "not {first}");
}

#[test]
fn a_format_1_file_is_migrated_to_ids_that_count_from_1() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let store = pilot_store(&path);
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    let id = wb.column_id(accounts, "Account_ID").expect("Account_ID");
    let first = wb.rows(accounts).unwrap()[0];
    assert_eq!(first.get(), 1);
    assert_eq!(wb.value(id, first).ok(), Some(&Value::from("ACC-00001")));
    // Format 1 as an older csip wrote it: ids from 0, no record of ids issued.
    let conn = rusqlite::Connection::open(&path).expect("opens");
    let mut sql = String::new();
    for t in wb.tables() {
        let name = wb.table_name(t).unwrap();
        sql.push_str(&format!(
            "UPDATE \"{name}\" SET row_id = -row_id; UPDATE \"{name}\" SET row_id = -row_id - 1;"
        ));
        for &c in wb.columns(t).unwrap() {
            let Some((_, many)) = wb.relation_target(c).unwrap() else {
                continue;
            };
            if wb.is_formula(c).unwrap() {
                continue;
            }
            let col = wb.column_name(c).unwrap();
            sql.push_str(&if many {
                format!("UPDATE \"{name}\" SET \"{col}\" = (SELECT json_group_array(value - 1) FROM json_each(\"{col}\")) WHERE \"{col}\" IS NOT NULL;")
            } else {
                format!("UPDATE \"{name}\" SET \"{col}\" = \"{col}\" - 1 WHERE \"{col}\" IS NOT NULL;")
            });
        }
    }
    sql.push_str(
        "UPDATE csip_audit SET row_id = row_id - 1; DROP TABLE csip_row_ids;
         UPDATE csip_meta SET value = '1' WHERE key = 'format';",
    );
    conn.execute_batch(&sql).expect("downgraded");
    let zero: i64 = conn
        .query_row("SELECT min(row_id) FROM \"Account_Master\"", [], |r| {
            r.get(0)
        })
        .expect("a row");
    assert_eq!(zero, 0, "the file numbers rows from 0 now");
    drop(conn);
    let reopened = Store::open(&path, Clock::on(today())).expect("the old file opens");
    same(store.workbook(), reopened.workbook());
    let format: String = rusqlite::Connection::open(&path)
        .expect("opens")
        .query_row(
            "SELECT value FROM csip_meta WHERE key = 'format'",
            [],
            |r| r.get(0),
        )
        .expect("a format");
    assert_eq!(format, "2");
}

#[test]
fn a_rejected_transaction_writes_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    let arr = wb.column_id(accounts, "ARR").expect("ARR");
    let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
    let commits = store.last_commit().expect("the log reads");
    let err = store
        .commit(
            Transaction::new().set(arr, gard, 1).set(arr, gard, "lots"),
            "admin",
            at(),
        )
        .expect_err("text in a currency column");
    assert!(matches!(err, StoreError::Rejected(_)), "{err}");
    assert_eq!(store.last_commit().expect("the log reads"), commits);
    assert!(store.audit(0, 10).expect("the audit reads").is_empty());
    let reopened = Store::open(&path, Clock::on(today())).expect("it opens");
    assert_ne!(
        reopened.workbook().value(arr, gard).ok(),
        Some(&Value::from(1))
    );
}

#[test]
fn every_accepted_write_is_audited() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    let arr = wb.column_id(accounts, "ARR").expect("ARR");
    let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
    let old = wb.display(wb.value(arr, gard).expect("a cell"));
    store
        .commit(
            Transaction::new().set(arr, gard, 2_000_000),
            "Ingrid Berg",
            at(),
        )
        .expect("commits");
    let log = store.audit(0, 10).expect("the audit reads");
    assert_eq!(
        log.len(),
        1,
        "one data cell changed; formula cells are not audited"
    );
    let e = &log[0];
    assert_eq!(
        (e.actor.as_str(), e.table.as_str(), e.column.as_str()),
        ("Ingrid Berg", "Account_Master", "ARR")
    );
    assert_eq!(e.row, gard.get());
    assert_eq!(e.old.as_deref(), Some(old.as_str()));
    assert_eq!(e.new.as_deref(), Some("2000000"));
    assert_eq!(e.at, format!("{}T09:30:00", today()));
}

fn with_extra(files: &[SourceFile], table_file: &str, extra: &str) -> Vec<SourceFile> {
    files
        .iter()
        .map(|f| {
            if f.path.ends_with(table_file) {
                SourceFile::new(f.path.clone(), format!("{}\n{extra}\n", f.text))
            } else {
                f.clone()
            }
        })
        .collect()
}

#[test]
fn an_upgrade_adds_columns_and_tables_and_keeps_data() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let before = cells(pilot_store(&path).workbook());
    let files = with_extra(
        &csip_workbook::table_files(),
        "01_account_master.toml",
        "[[columns]]\nname = \"Region_Code\"\ntype = \"text\"\n",
    );
    let mut files = files;
    files.push(SourceFile::new(
        "tables/99_notes.toml",
        "name = \"Notes\"\n\n[[columns]]\nname = \"Note\"\ntype = \"text\"\n",
    ));
    let store = Store::upgrade(&path, files, Clock::on(today())).expect("an additive upgrade");
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    assert!(wb.column_id(accounts, "Region_Code").is_ok());
    assert!(wb.table_id("Notes").is_ok());
    let after = cells(wb);
    for cell in &before {
        assert!(
            after.iter().any(|c| c.0 == cell.0
                && c.1 == cell.1
                && c.2 == cell.2
                && csip_engine::values_equal(&c.3, &cell.3)),
            "{cell:?} kept"
        );
    }
    drop(store);
    let again = Store::open(&path, Clock::on(today())).expect("reopens with the new schema");
    assert!(again.workbook().table_id("Notes").is_ok());
}

#[test]
fn an_upgrade_that_would_lose_data_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    // ACV holds values in the pilot; a schema without it would drop them.
    let files: Vec<SourceFile> = csip_workbook::table_files()
        .into_iter()
        .map(|f| {
            if f.path.ends_with("01_account_master.toml") {
                let text = f.text.replace(
                    "[[columns]]\nname = \"ACV\"\ntype = \"currency\"\ncomment = \"Annual Contract Value.\"\n",
                    "",
                );
                assert_ne!(text, f.text, "the test removes ACV");
                SourceFile::new(f.path, text)
            } else {
                f
            }
        })
        .collect();
    let err = Store::upgrade(&path, files, Clock::on(today())).expect_err("refused");
    let message = err.to_string();
    assert!(
        message.contains("Account_Master") && message.contains("ACV") && message.contains("lost"),
        "{message}"
    );
    let reopened = Store::open(&path, Clock::on(today())).expect("the file is as it was");
    let wb = reopened.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    assert!(wb.column_id(accounts, "ACV").is_ok());
}

#[test]
fn tokens_are_issued_to_people_and_stored_hashed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let people = store.workbook().table_id("People_Team").expect("people");
    let name_col = store
        .workbook()
        .display_column(people)
        .unwrap()
        .expect("a display column");
    let person = store.workbook().display(
        store
            .workbook()
            .value(name_col, store.workbook().rows(people).unwrap()[0])
            .expect("a name"),
    );
    let token = store
        .create_token(&person, Role::Csm, at())
        .expect("issued");
    let who = store
        .authenticate(&token, at())
        .expect("reads")
        .expect("known");
    assert_eq!(
        (who.person.as_str(), who.role),
        (person.as_str(), Role::Csm)
    );
    assert_eq!(store.authenticate("csip_0000", at()).expect("reads"), None);
    // A second connection tells the same, without the store.
    let tokens = csip_store::Tokens::open(&path).expect("opens");
    assert_eq!(
        tokens.authenticate(&token, at()).expect("reads"),
        Some(who.clone())
    );
    assert_eq!(tokens.authenticate("csip_0000", at()).expect("reads"), None);
    assert!(matches!(
        store.create_token("Nobody Atall", Role::Admin, at()),
        Err(StoreError::NotFound(_))
    ));
    drop(store);
    let raw = std::fs::read(&path).expect("the file");
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    for bytes in [&raw, &wal] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the token itself is never stored"
        );
    }
}

#[test]
fn files_that_are_not_workbooks_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let missing =
        Store::open(&dir.path().join("nope.db"), Clock::on(today())).expect_err("missing");
    assert!(missing.to_string().contains("csip init"), "{missing}");
    let other = dir.path().join("other.db");
    std::fs::write(
        &other,
        b"this is not sqlite at all, not even close to it........",
    )
    .expect("written");
    assert!(Store::open(&other, Clock::on(today())).is_err());
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    assert!(matches!(
        Store::create(
            &path,
            csip_workbook::table_files(),
            csip_workbook::empty(Clock::on(today())).expect("empty")
        ),
        Err(StoreError::Exists(_))
    ));
}

#[test]
fn a_store_sees_commits_of_another_process_before_it_writes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    let mut a = Store::open(&path, Clock::on(today())).expect("opens");
    let mut b = Store::open(&path, Clock::on(today())).expect("opens twice");
    let wb = a.workbook();
    let a_tasks = wb.table_id("Tasks").expect("tasks");
    let title = wb.column_id(a_tasks, "Title").expect("title");
    a.commit(
        Transaction::new().insert(a_tasks, vec![(title, Value::from("from a"))]),
        "a",
        at(),
    )
    .expect("a writes");
    assert!(b.is_stale().expect("reads"));
    // A transaction built on b's old state is not applied; b reloads, and
    // the ids looked up in b before the reload stay good after it.
    let (tasks, title) = {
        let wb = b.workbook();
        let tasks = wb.table_id("Tasks").expect("tasks");
        (tasks, wb.column_id(tasks, "Title").expect("title"))
    };
    let built = Transaction::new().insert(tasks, vec![(title, Value::from("from b"))]);
    assert!(matches!(
        b.commit(built.clone(), "b", at()),
        Err(StoreError::Stale(_))
    ));
    assert!(!b.is_stale().expect("reads"));
    b.commit(built, "b", at())
        .expect("b writes once it is current");
    let titles: Vec<String> = b
        .workbook()
        .rows(tasks)
        .unwrap()
        .iter()
        .filter_map(|r| {
            b.workbook()
                .value(title, *r)
                .ok()
                .map(|v| b.workbook().display(v))
        })
        .collect();
    assert!(
        titles.contains(&"from a".to_string()) && titles.contains(&"from b".to_string()),
        "{titles:?}"
    );
    assert!(a.refresh().expect("a reloads"));
    assert_eq!(
        a.workbook().rows(a_tasks).unwrap().len(),
        b.workbook().rows(tasks).unwrap().len()
    );
}

#[test]
fn a_token_is_issued_on_a_file_without_loading_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    let token = Store::issue_token(&path, "kari nordmann ", Role::Viewer, at()).expect("issued");
    let store = Store::open(&path, Clock::on(today())).expect("opens");
    let who = store
        .authenticate(&token, at())
        .expect("reads")
        .expect("known");
    assert_eq!(
        (who.person.as_str(), who.role),
        ("Kari Nordmann", Role::Viewer)
    );
    assert!(matches!(
        Store::issue_token(&path, "Nobody", Role::Admin, at()),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn a_transaction_that_changes_nothing_writes_no_commit() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    let arr = wb.column_id(accounts, "ARR").expect("ARR");
    let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
    let same_arr = wb.value(arr, gard).ok().cloned().expect("a cell");
    // One real change first, so that there is a commit to stay at.
    let name = wb.column_id(accounts, "Account_Name").expect("name");
    store
        .commit(Transaction::new().set(name, gard, "Gard"), "admin", at())
        .expect("commits");
    let (commit, generation) = (store.last_commit().expect("reads"), store.generation());
    let audited = store.audit(0, 1000).expect("reads").len();

    let changes = store
        .commit(Transaction::new().set(arr, gard, same_arr), "admin", at())
        .expect("answered");
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(store.last_commit().expect("reads"), commit, "no commit row");
    assert_eq!(store.commit_id(), commit);
    assert_eq!(store.generation(), generation, "cached answers stay valid");
    assert_eq!(
        store.audit(0, 1000).expect("reads").len(),
        audited,
        "no audit row"
    );
    // An import of no rows is the same.
    let tasks = store.workbook().table_id("Tasks").expect("tasks");
    store
        .import(vec![(tasks, Vec::new())], 10, "admin", at())
        .expect("answered");
    assert_eq!(store.last_commit().expect("reads"), commit);
}

#[test]
fn the_audit_log_names_related_rows_by_id_and_still_reads_right_after_a_rename() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let people = wb.table_id("People_Team").expect("people");
    let full_name = wb.column_id(people, "Full_Name").expect("Full_Name");
    let kari = wb.find_rows(people, "Kari Nordmann").unwrap()[0];
    let james = wb.find_rows(people, "James Carter").unwrap()[0];
    let log = wb.table_id("Engagement_Log").expect("engagements");
    let attendees = wb
        .column_id(log, "MuleSoft_Attendees")
        .expect("MuleSoft_Attendees");
    let engagement = wb.rows(log).unwrap()[0];
    let tasks = wb.table_id("Tasks").expect("tasks");
    let title = wb.column_id(tasks, "Title").expect("Title");
    let assigned = wb.column_id(tasks, "Assigned_To").expect("Assigned_To");

    store
        .commit(
            Transaction::new()
                .set(
                    attendees,
                    engagement,
                    Value::list(vec![Value::Row(people, kari), Value::Row(people, james)]),
                )
                .insert(
                    tasks,
                    vec![
                        (title, Value::from("Prepare QBR")),
                        (assigned, Value::Row(people, james)),
                    ],
                ),
            "admin",
            at(),
        )
        .expect("commits");
    // James is renamed: the entries written before still say which row they meant.
    store
        .commit(
            Transaction::new().set(full_name, james, "James Carter-Lund"),
            "admin",
            at(),
        )
        .expect("renamed");
    let entries = store.audit(0, 100).expect("reads");
    let cell = entries
        .iter()
        .find(|e| e.table == "Engagement_Log" && e.column == "MuleSoft_Attendees")
        .expect("the attendees are audited");
    let (k, j) = (kari.get(), james.get());
    assert_eq!(
        cell.new.as_deref(),
        Some(format!("Kari Nordmann (row {k}), James Carter (row {j})").as_str())
    );
    let row = entries
        .iter()
        .find(|e| e.table == "Tasks" && e.column == "*")
        .expect("the insert is audited");
    let inserted = row.new.as_deref().unwrap_or_default();
    assert!(
        inserted.contains(&format!("\"Assigned_To\":\"James Carter (row {j})\"")),
        "{inserted}"
    );
    let rename = entries
        .iter()
        .find(|e| e.table == "People_Team" && e.column == "Full_Name")
        .expect("the rename is audited");
    assert_eq!(
        (rename.row, rename.old.as_deref(), rename.new.as_deref()),
        (j, Some("James Carter"), Some("James Carter-Lund"))
    );
    // A relation cell changed after the rename names the new name, the same id.
    store
        .commit(
            Transaction::new().set(attendees, engagement, Value::Row(people, kari)),
            "admin",
            at(),
        )
        .expect("commits");
    let last = store.audit(0, 100).expect("reads").pop().expect("entries");
    assert_eq!(
        (last.old.as_deref(), last.new.as_deref()),
        (
            Some(format!("Kari Nordmann (row {k}), James Carter-Lund (row {j})").as_str()),
            Some(format!("Kari Nordmann (row {k})").as_str())
        )
    );
}

/// A token's row as `csip token list` shows it.
fn listed(path: &Path, id: i64) -> csip_store::TokenInfo {
    Store::tokens(path)
        .expect("the tokens read")
        .into_iter()
        .find(|t| t.id == id)
        .expect("listed")
}

#[test]
fn tokens_record_their_last_use_once_a_minute_and_are_listed_and_revoked() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    let token = Store::issue_token(&path, "Kari Nordmann", Role::Csm, at()).expect("issued");
    let tokens = csip_store::Tokens::open(&path).expect("opens");
    let id = tokens
        .authenticate(&token, at())
        .expect("reads")
        .expect("known")
        .token_id;
    let first = listed(&path, id);
    assert_eq!(
        (
            first.person.as_str(),
            first.role,
            first.created.as_str(),
            first.last_used.as_deref(),
            first.revoked
        ),
        (
            "Kari Nordmann",
            Role::Csm,
            "2026-11-24T09:30:00",
            Some("2026-11-24T09:30:00"),
            false
        )
    );
    assert!(
        !format!("{first:?}").contains(&token[5..]),
        "never the secret"
    );
    // Within the minute: not written again. After it: written.
    let later = |seconds: i64| at() + csip_engine::TimeDelta::seconds(seconds);
    tokens.authenticate(&token, later(59)).expect("reads");
    assert_eq!(
        listed(&path, id).last_used.as_deref(),
        Some("2026-11-24T09:30:00")
    );
    tokens.authenticate(&token, later(61)).expect("reads");
    assert_eq!(
        listed(&path, id).last_used.as_deref(),
        Some("2026-11-24T09:31:01")
    );
    // A caller whose clock is behind does not move it back.
    tokens.authenticate(&token, later(-3600)).expect("reads");
    assert_eq!(
        listed(&path, id).last_used.as_deref(),
        Some("2026-11-24T09:31:01")
    );

    // While another process holds the file's write lock, a request is
    // answered at once; its use is simply not recorded.
    let mut other = rusqlite::Connection::open(&path).expect("opens");
    let lock = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .expect("the write lock");
    let started = std::time::Instant::now();
    let who = tokens
        .authenticate(&token, later(600))
        .expect("not failed by the lock");
    assert!(who.is_some());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(lock);
    assert_eq!(
        listed(&path, id).last_used.as_deref(),
        Some("2026-11-24T09:31:01")
    );

    // Revoked: refused at once, on a connection opened before the revoke.
    let revoked = Store::revoke_token(&path, id, later(700)).expect("revoked");
    assert!(revoked.revoked);
    assert_eq!(revoked.revoked_at.as_deref(), Some("2026-11-24T09:41:40"));
    assert_eq!(
        tokens.authenticate(&token, later(701)).expect("reads"),
        None
    );
    assert_eq!(
        listed(&path, id).revoked_at.as_deref(),
        Some("2026-11-24T09:41:40")
    );
    let twice = Store::revoke_token(&path, id, later(800)).expect_err("already revoked");
    assert!(
        matches!(twice, StoreError::AlreadyRevoked { .. }),
        "{twice:?}"
    );
    assert!(
        twice
            .to_string()
            .contains("already revoked (since 2026-11-24T09:41:40)"),
        "{twice}"
    );
    let unknown = Store::revoke_token(&path, 999, at()).expect_err("no such token");
    assert!(matches!(unknown, StoreError::NotFound(_)), "{unknown:?}");
    assert!(unknown.to_string().contains("csip token list"), "{unknown}");
}

#[test]
fn a_file_written_before_last_used_gains_the_columns_when_opened() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    let token = Store::issue_token(&path, "Kari Nordmann", Role::Admin, at()).expect("issued");
    {
        let conn = rusqlite::Connection::open(&path).expect("opens");
        conn.execute_batch(
            "ALTER TABLE csip_tokens DROP COLUMN last_used;
             ALTER TABLE csip_tokens DROP COLUMN revoked_at;",
        )
        .expect("the columns go, as in a file written before them");
    }
    let tokens = csip_store::Tokens::open(&path).expect("opens and adds them");
    let who = tokens
        .authenticate(&token, at())
        .expect("reads")
        .expect("known");
    assert_eq!(
        listed(&path, who.token_id).last_used.as_deref(),
        Some("2026-11-24T09:30:00")
    );
    let store = Store::open(&path, Clock::on(today())).expect("the rows load as before");
    assert!(store.authenticate(&token, at()).expect("reads").is_some());
}

#[test]
fn a_token_whose_person_left_went_inactive_or_changed_role_no_longer_fits() {
    use csip_store::{Principal, Unfit};
    let mut wb = csip_workbook::pilot(today()).expect("the pilot workbook loads");
    let people = wb.table_id("People_Team").expect("people");
    let role = wb.column_id(people, "Role").expect("Role");
    let active = wb
        .column_id(people, "Active_Status")
        .expect("Active_Status");
    let kari = wb.find_rows(people, "Kari Nordmann").unwrap()[0];
    let lars = wb.find_rows(people, "Lars Berg").unwrap()[0];
    let token = |person: &str, role: Role| Principal {
        token_id: 1,
        person: person.into(),
        role,
    };
    // As issued: the name as People_Team writes it, in any case and spacing.
    for r in [Role::Admin, Role::Csm, Role::Viewer] {
        assert_eq!(
            token("  kari   NORDMANN ", r).still_fits(&wb),
            Ok(()),
            "{r}"
        );
    }
    // Lars is an AE: not a csm.
    assert_eq!(
        token("Lars Berg", Role::Csm).still_fits(&wb),
        Err(Unfit::NotACsm {
            person: "Lars Berg".into(),
            role: "the role AE".into()
        })
    );
    assert_eq!(token("Lars Berg", Role::Viewer).still_fits(&wb), Ok(()));
    // Kari's role changes: her csm token no longer fits; a viewer token does.
    wb.apply(Transaction::new().set(role, kari, "AE"))
        .expect("applies");
    assert!(matches!(
        token("Kari Nordmann", Role::Csm).still_fits(&wb),
        Err(Unfit::NotACsm { .. })
    ));
    assert_eq!(token("Kari Nordmann", Role::Viewer).still_fits(&wb), Ok(()));
    // Inactive: no token fits.
    wb.apply(Transaction::new().set(active, kari, false))
        .expect("applies");
    for r in [Role::Admin, Role::Csm, Role::Viewer] {
        let e = token("Kari Nordmann", r)
            .still_fits(&wb)
            .expect_err("inactive");
        assert!(matches!(e, Unfit::Inactive(_)), "{r}: {e:?}");
        assert!(e.to_string().contains("not active"), "{e}");
    }
    // Deleted from People_Team: gone.
    wb.apply(Transaction::new().delete(people, lars))
        .expect("deleted");
    let e = token("Lars Berg", Role::Admin)
        .still_fits(&wb)
        .expect_err("gone");
    assert_eq!(e, Unfit::Gone("Lars Berg".into()));
    assert!(e.to_string().contains("no longer in People_Team"), "{e}");
}

#[test]
fn a_csm_delete_that_would_clear_cells_a_csm_may_not_write_is_refused_naming_them() {
    let wb = csip_workbook::pilot(today()).expect("the pilot workbook loads");
    let objectives = wb.table_id("Strategic_Objectives").expect("objectives");
    // An objective other tables link to, outside what a csm writes.
    let (objective, outside) = wb
        .rows(objectives)
        .unwrap()
        .iter()
        .map(|&r| {
            let outside: Vec<String> = wb
                .references_to(objectives, r)
                .iter()
                .map(|(c, _)| wb.column_table(*c).unwrap())
                .filter(|t| !csip_store::CSM_TABLES.contains(&wb.table_name(*t).unwrap()))
                .map(|t| format!("`{}`.", wb.table_name(t).unwrap()))
                .collect();
            (r, outside)
        })
        .find(|(_, outside)| !outside.is_empty())
        .expect("a linked objective");
    let delete = Transaction::new().delete(objectives, objective);
    let refused = Role::Csm.check(&wb, &delete).expect_err("refused");
    assert!(
        refused.starts_with("operation 1: deleting this `Strategic_Objectives` row"),
        "{refused}"
    );
    for table in &outside {
        assert!(refused.contains(table.as_str()), "{table} in {refused}");
    }
    assert!(
        refused.contains("`Initiatives`.`Linked_Objectives` (1 row)"),
        "{refused}"
    );
    assert!(
        refused.contains("an admin can make this delete"),
        "{refused}"
    );
    assert_eq!(Role::Admin.check(&wb, &delete), Ok(()));
    // A delete that clears only cells a csm writes (or none) is the csm's to make.
    let tasks = wb.table_id("Tasks").expect("tasks");
    let task = wb.rows(tasks).unwrap()[0];
    assert!(wb.references_to(tasks, task).is_empty());
    assert_eq!(
        Role::Csm.check(&wb, &Transaction::new().delete(tasks, task)),
        Ok(())
    );
}

#[test]
fn a_schema_change_at_run_time_is_durable_and_audited() {
    use csip_engine::{ColumnSchema, ColumnType, SchemaChange};
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let tasks = wb.table_id("Tasks").expect("tasks");
    let title = wb.column_id(tasks, "Title").expect("Title");
    let first = wb.rows(tasks).unwrap()[0];
    let change = |c| Transaction::new().change_schema(c);
    // A csm may not change the schema; an admin may.
    assert!(
        Role::Csm
            .check(
                wb,
                &change(SchemaChange::RenameColumn {
                    column: title,
                    name: "Task".into()
                })
            )
            .is_err()
    );
    store
        .commit(
            change(SchemaChange::AddColumn {
                table: tasks,
                column: ColumnSchema::data("Effort", ColumnType::Number),
            })
            .change_schema(SchemaChange::AddColumn {
                table: tasks,
                column: ColumnSchema::formula("Double", ColumnType::Number, "[Effort] * 2"),
            })
            .change_schema(SchemaChange::RenameColumn {
                column: title,
                name: "Task".into(),
            }),
            "admin",
            at(),
        )
        .expect("the schema changes");
    let effort = store.workbook().column_id(tasks, "Effort").expect("Effort");
    assert_eq!(store.workbook().column_id(tasks, "Task").unwrap(), title);
    store
        .commit(Transaction::new().set(effort, first, 3), "admin", at())
        .expect("the new column is written");
    let reopened = Store::open(&path, Clock::on(today())).expect("it opens");
    same(store.workbook(), reopened.workbook());
    let wb = reopened.workbook();
    let tasks = wb.table_id("Tasks").unwrap();
    let double = wb.column_id(tasks, "Double").unwrap();
    assert_eq!(wb.value(double, first).unwrap(), &Value::from(6));
    assert!(
        wb.column_id(tasks, "Title").is_err(),
        "renamed in the file too"
    );
    let schema_entries: Vec<_> = reopened
        .audit(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.row == 0)
        .map(|e| (e.column, e.old, e.new))
        .collect();
    assert_eq!(
        schema_entries,
        [
            (
                "Task".to_string(),
                Some("Title".to_string()),
                Some("Task".to_string())
            ),
            (
                "Effort".to_string(),
                None,
                Some("number column".to_string())
            ),
        ]
    );
    // Removing the data column the formula reads is refused; the formula
    // first, then the column, is not — and the file drops it.
    let mut store = reopened;
    let effort = store.workbook().column_id(tasks, "Effort").unwrap();
    assert!(
        store
            .commit(
                change(SchemaChange::RemoveColumn { column: effort }),
                "admin",
                at()
            )
            .is_err()
    );
    store
        .commit(
            change(SchemaChange::RemoveColumn { column: double })
                .change_schema(SchemaChange::RemoveColumn { column: effort }),
            "admin",
            at(),
        )
        .expect("removed");
    let reopened = Store::open(&path, Clock::on(today())).expect("it opens");
    let tasks = reopened.workbook().table_id("Tasks").unwrap();
    assert!(reopened.workbook().column_id(tasks, "Effort").is_err());
}

#[test]
fn a_checkpoint_says_when_an_outside_reader_holds_it_back() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let tasks = wb.table_id("Tasks").unwrap();
    let title = wb.column_id(tasks, "Title").unwrap();
    let write = |store: &mut Store, n: usize| {
        for i in 0..n {
            store
                .commit(
                    Transaction::new().insert(tasks, vec![(title, Value::from(format!("t{i}")))]),
                    "admin",
                    at(),
                )
                .expect("written");
        }
    };
    write(&mut store, 3);
    assert!(store.checkpoint().expect("checkpointed").complete());
    // An outside reader in the middle of a read transaction.
    let outside = rusqlite::Connection::open(&path).expect("opened");
    outside.execute_batch("BEGIN").expect("begun");
    let _: i64 = outside
        .query_row("SELECT count(*) FROM \"Tasks\"", [], |r| r.get(0))
        .expect("read");
    write(&mut store, 3);
    let held = store.checkpoint().expect("checkpointed as far as it can");
    assert!(!held.complete(), "{held:?}");
    assert!(held.wal_bytes > 0);
    outside.execute_batch("COMMIT").expect("ended");
    assert!(store.checkpoint().expect("checkpointed").complete());
}

#[test]
fn a_batch_commits_each_transaction_on_its_own_in_one_write() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let wb = store.workbook();
    let tasks = wb.table_id("Tasks").unwrap();
    let title = wb.column_id(tasks, "Title").unwrap();
    let accounts = wb.table_id("Account_Master").unwrap();
    let arr = wb.column_id(accounts, "ARR").unwrap();
    let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
    let before = store.last_commit().unwrap();
    let answers = store.commit_batch(vec![
        (
            Transaction::new().insert(tasks, vec![(title, Value::from("one"))]),
            "kari".into(),
            at(),
        ),
        // Refused on its own: the others are kept.
        (
            Transaction::new().set(arr, gard, "not a number"),
            "ola".into(),
            at(),
        ),
        (
            Transaction::new().set(arr, gard, 3_000_000),
            "ingrid".into(),
            at(),
        ),
    ]);
    assert_eq!(answers.len(), 3);
    let (first, c1) = answers[0].as_ref().expect("the insert");
    assert!(matches!(answers[1], Err(StoreError::Rejected(_))));
    let (_, c3) = answers[2].as_ref().expect("the set");
    assert_eq!((*c1, *c3), (before + 1, before + 2), "a commit each");
    assert_eq!(store.commit_id(), before + 2);
    let new_task = first.inserted[0].1;
    let reopened = Store::open(&path, Clock::on(today())).expect("it opens");
    same(store.workbook(), reopened.workbook());
    let wb = reopened.workbook();
    let tasks = wb.table_id("Tasks").unwrap();
    assert!(wb.contains_row(tasks, new_task));
    let actors: Vec<String> = reopened
        .audit(0, 100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.commit > before)
        .map(|e| e.actor)
        .collect();
    assert!(actors.contains(&"kari".to_string()) && actors.contains(&"ingrid".to_string()));
    assert!(!actors.contains(&"ola".to_string()));
}

#[test]
fn a_store_that_changed_its_schema_keeps_its_ids_when_it_reloads() {
    use csip_engine::{ColumnSchema, ColumnType, SchemaChange};
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut a = pilot_store(&path);
    let tasks = a.workbook().table_id("Tasks").unwrap();
    let title = a.workbook().column_id(tasks, "Title").unwrap();
    a.commit(
        Transaction::new().change_schema(SchemaChange::AddColumn {
            table: tasks,
            column: ColumnSchema::data("Effort", ColumnType::Number),
        }),
        "admin",
        at(),
    )
    .expect("the schema changes");
    let effort = a.workbook().column_id(tasks, "Effort").unwrap();
    // Another process writes; a reloads the file, whose schema is a's own.
    let mut b = Store::open(&path, Clock::on(today())).expect("opens");
    let b_tasks = b.workbook().table_id("Tasks").unwrap();
    let b_title = b.workbook().column_id(b_tasks, "Title").unwrap();
    b.commit(
        Transaction::new().insert(b_tasks, vec![(b_title, Value::from("from b"))]),
        "b",
        at(),
    )
    .expect("b writes");
    assert!(a.refresh().expect("a reloads"));
    // The ids a looked up before the reload are good after it.
    let row = a
        .commit(
            Transaction::new().insert(
                tasks,
                vec![(title, Value::from("from a")), (effort, Value::from(2))],
            ),
            "a",
            at(),
        )
        .expect("a writes with its old ids")
        .inserted[0]
        .1;
    assert_eq!(a.workbook().value(effort, row).unwrap(), &Value::from(2));
}
