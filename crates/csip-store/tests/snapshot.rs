//! The workbook's snapshot in its file (`Store::save_snapshot`): an open
//! that reads it equals an open that reads every row; a snapshot older than
//! the file's last commit, of another schema, or damaged is never read.

use csip_engine::{Clock, Transaction, Value, Workbook};
use csip_store::{Loaded, Store};
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

/// Every table's rows and next id, every visible cell (formula cells
/// included) the same value of the same type; each workbook read with its
/// own ids, looked up by name.
fn same(a: &Workbook, b: &Workbook) {
    assert_eq!(a.tables().count(), b.tables().count());
    for ta in a.tables() {
        let name = a.table_name(ta).expect("a table");
        let tb = b.table_id(name).expect("the same table");
        let rows = a.rows(ta).expect("rows");
        assert_eq!(rows, b.rows(tb).expect("rows"), "rows of {name}");
        assert_eq!(a.next_row_id(ta).ok(), b.next_row_id(tb).ok());
        for &ca in a.columns(ta).expect("columns") {
            let column = a.column_name(ca).expect("a column");
            let cb = b.column_id(tb, column).expect("the same column");
            for &r in rows {
                let (x, y) = (a.value(ca, r), b.value(cb, r));
                assert!(
                    x.as_ref()
                        .ok()
                        .zip(y.as_ref().ok())
                        .is_some_and(|(x, y)| x.identical(y)),
                    "{name}.{column} row {r}: {x:?} vs {y:?}"
                );
            }
        }
    }
}

/// Opens the file the slow way: without its snapshot (removed from a copy).
fn open_from_rows(path: &Path, clock: Clock) -> Store {
    let copy = path.with_extension("rows.db");
    let _ = std::fs::remove_file(&copy);
    let conn = rusqlite::Connection::open(path).expect("opens");
    conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])
        .expect("copies");
    drop(conn);
    let conn = rusqlite::Connection::open(&copy).expect("opens the copy");
    conn.execute_batch("DROP TABLE IF EXISTS csip_snapshot")
        .expect("drops");
    drop(conn);
    let store = Store::open(&copy, clock).expect("opens from rows");
    assert!(matches!(store.loaded(), Loaded::Rows { .. }));
    store
}

fn rows_why(store: &Store) -> String {
    match store.loaded() {
        Loaded::Rows { why } => why.clone(),
        other => panic!("opened {other:?}, not from rows"),
    }
}

#[test]
fn opening_from_a_snapshot_equals_opening_from_rows() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    assert!(!store.has_snapshot().expect("reads"));
    let opened = Store::open(&path, Clock::on(today())).expect("opens");
    assert_eq!(rows_why(&opened), "it holds no snapshot");

    let bytes = store.save_snapshot().expect("writes its snapshot");
    assert!(bytes > 1000);
    assert!(store.has_snapshot().expect("reads"));
    let snap = Store::open(&path, Clock::on(today())).expect("opens");
    assert_eq!(snap.loaded(), &Loaded::Snapshot);
    assert!(snap.has_snapshot().expect("reads"));
    let rows = open_from_rows(&path, Clock::on(today()));
    same(rows.workbook(), snap.workbook());
    same(store.workbook(), snap.workbook());
    assert!(snap.workbook().differences_from_full_recalc().is_empty());

    // On another day: the snapshot's day is moved to it.
    let later = Clock::on(today() + csip_engine::TimeDelta::days(9));
    let snap = Store::open(&path, later).expect("opens");
    assert_eq!(snap.loaded(), &Loaded::Snapshot);
    assert_eq!(snap.workbook().clock(), later);
    same(open_from_rows(&path, later).workbook(), snap.workbook());
}

#[test]
fn a_commit_after_the_snapshot_makes_open_read_the_rows() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    store.save_snapshot().expect("writes its snapshot");
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").expect("accounts");
    let arr = wb.column_id(accounts, "ARR").expect("ARR");
    let gard = wb.find_rows(accounts, "Gard AS").expect("finds")[0];
    store
        .commit(Transaction::new().set(arr, gard, 2_000_000), "admin", at())
        .expect("commits");
    assert!(!store.has_snapshot().expect("reads"));

    let opened = Store::open(&path, Clock::on(today())).expect("opens");
    assert!(
        rows_why(&opened).contains("is of commit 0, and its last commit is 1"),
        "{}",
        rows_why(&opened)
    );
    let ids = opened.workbook();
    let arr_there = ids
        .column_id(ids.table_id("Account_Master").expect("accounts"), "ARR")
        .expect("ARR");
    assert_eq!(
        opened.workbook().value(arr_there, gard).ok(),
        Some(&Value::from(2_000_000))
    );
    same(store.workbook(), opened.workbook());

    // Saved again, the snapshot has the commit.
    store.save_snapshot().expect("writes its snapshot");
    let opened = Store::open(&path, Clock::on(today())).expect("opens");
    assert_eq!(opened.loaded(), &Loaded::Snapshot);
    let ids = opened.workbook();
    let arr_there = ids
        .column_id(ids.table_id("Account_Master").expect("accounts"), "ARR")
        .expect("ARR");
    assert_eq!(
        opened.workbook().value(arr_there, gard).ok(),
        Some(&Value::from(2_000_000))
    );
    same(store.workbook(), opened.workbook());
    drop((store, opened));

    // An upgrade is a commit too (and a new schema).
    Store::upgrade(&path, csip_workbook::table_files(), Clock::on(today())).expect("upgrades");
    let opened = Store::open(&path, Clock::on(today())).expect("opens");
    assert!(
        rows_why(&opened).contains("is of commit 1, and its last commit is 2"),
        "{}",
        rows_why(&opened)
    );
}

#[test]
fn a_damaged_snapshot_is_refused_and_the_rows_are_read() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    store.save_snapshot().expect("writes its snapshot");
    let conn = rusqlite::Connection::open(&path).expect("opens");
    // One bit in the middle of the blob flipped.
    let mut bytes: Vec<u8> = conn
        .query_row("SELECT bytes FROM csip_snapshot", [], |r| r.get(0))
        .expect("reads");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    conn.execute("UPDATE csip_snapshot SET bytes = ?1", [bytes])
        .expect("damages");
    drop(conn);
    let opened = Store::open(&path, Clock::on(today())).expect("opens all the same");
    assert!(
        rows_why(&opened).contains("checksum"),
        "{}",
        rows_why(&opened)
    );
    same(store.workbook(), opened.workbook());

    // Not a blob at all: refused too.
    let conn = rusqlite::Connection::open(&path).expect("opens");
    conn.execute("UPDATE csip_snapshot SET bytes = 'text'", [])
        .expect("damages");
    drop(conn);
    let opened = Store::open(&path, Clock::on(today())).expect("opens all the same");
    assert!(
        rows_why(&opened).contains("not a csip workbook snapshot"),
        "{}",
        rows_why(&opened)
    );
}

#[test]
fn a_snapshot_saved_after_another_process_committed_has_that_commit() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    let mut a = Store::open(&path, Clock::on(today())).expect("opens");
    let mut b = Store::open(&path, Clock::on(today())).expect("opens twice");
    let tasks = a.workbook().table_id("Tasks").expect("tasks");
    let title = a.workbook().column_id(tasks, "Title").expect("title");
    a.commit(
        Transaction::new().insert(tasks, vec![(title, Value::from("from a"))]),
        "a",
        at(),
    )
    .expect("a writes");
    b.save_snapshot().expect("b reloads, then writes");
    same(a.workbook(), b.workbook());
    let opened = Store::open(&path, Clock::on(today())).expect("opens");
    assert_eq!(opened.loaded(), &Loaded::Snapshot);
    same(a.workbook(), opened.workbook());
    // a's workbook reflects the last commit: the snapshot is of it.
    assert!(a.has_snapshot().expect("reads"));
}

#[test]
fn a_store_that_reloads_reads_the_snapshot_another_process_saved_and_keeps_its_ids() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    drop(pilot_store(&path));
    let mut a = Store::open(&path, Clock::on(today())).expect("opens");
    let mut b = Store::open(&path, Clock::on(today())).expect("opens twice");
    // Ids b hands out before the reload.
    let tasks = b.workbook().table_id("Tasks").expect("tasks");
    let title = b.workbook().column_id(tasks, "Title").expect("title");
    let ta = a.workbook().table_id("Tasks").expect("tasks");
    let ti = a.workbook().column_id(ta, "Title").expect("title");
    a.commit(
        Transaction::new().insert(ta, vec![(ti, Value::from("from a"))]),
        "a",
        at(),
    )
    .expect("a writes");
    a.save_snapshot().expect("a writes its snapshot");
    assert!(b.refresh().expect("b reloads"));
    assert_eq!(b.loaded(), &Loaded::Snapshot);
    same(a.workbook(), b.workbook());
    // b's ids from before the reload still name its tables and columns.
    let last = *b
        .workbook()
        .rows(tasks)
        .expect("rows")
        .last()
        .expect("a row");
    assert_eq!(
        b.workbook().value(title, last).ok(),
        Some(&Value::from("from a"))
    );
    b.commit(Transaction::new().set(title, last, "from b"), "b", at())
        .expect("b writes with its old ids");
    same(
        b.workbook(),
        open_from_rows(&path, Clock::on(today())).workbook(),
    );
}

#[test]
fn a_snapshot_after_a_schema_change_at_run_time_reads_back_or_is_refused_then_rewritten() {
    use csip_engine::{ColumnSchema, ColumnType, SchemaChange};
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    let mut store = pilot_store(&path);
    let tasks = store.workbook().table_id("Tasks").expect("tasks");
    // A column added at run time takes an id after the hidden ones: a fresh
    // build of the stored schema gives ids in another order.
    store
        .commit(
            Transaction::new().change_schema(SchemaChange::AddColumn {
                table: tasks,
                column: ColumnSchema::formula("Title_Length", ColumnType::Number, "Len([Title])"),
            }),
            "admin",
            at(),
        )
        .expect("the schema changes");
    store.save_snapshot().expect("writes its snapshot");
    let opened = Store::open(&path, Clock::on(today())).expect("opens");
    match opened.loaded() {
        Loaded::Snapshot => {}
        Loaded::Rows { why } => assert!(why.contains("laid out otherwise"), "{why}"),
        other => panic!("{other:?}"),
    }
    same(store.workbook(), opened.workbook());
    // A snapshot saved by a store opened from the file reads back.
    let mut opened = opened;
    opened.save_snapshot().expect("writes its snapshot");
    let again = Store::open(&path, Clock::on(today())).expect("opens");
    assert_eq!(again.loaded(), &Loaded::Snapshot);
    same(store.workbook(), again.workbook());
}

#[test]
fn edits_after_opening_from_a_snapshot_are_durable_and_incremental() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("csip.db");
    pilot_store(&path)
        .save_snapshot()
        .expect("writes its snapshot");
    // The same file opened both ways, then the same edits on each.
    let mut rows = open_from_rows(&path, Clock::on(today()));
    let mut store = Store::open(&path, Clock::on(today())).expect("opens");
    assert_eq!(store.loaded(), &Loaded::Snapshot);
    for s in [&mut store, &mut rows] {
        let wb = s.workbook();
        let metrics = wb.table_id("Platform_Health_Metrics").expect("metrics");
        let value = wb
            .column_id(metrics, "Current_Value")
            .expect("Current_Value");
        let first = wb.rows(metrics).expect("rows")[0];
        let accounts = wb.table_id("Account_Master").expect("accounts");
        let arr = wb.column_id(accounts, "ARR").expect("ARR");
        let gard = wb.find_rows(accounts, "Gard AS").expect("finds")[0];
        let tasks = wb.table_id("Tasks").expect("tasks");
        let title = wb.column_id(tasks, "Title").expect("title");
        let changes = s
            .commit(Transaction::new().set(value, first, 1), "admin", at())
            .expect("commits");
        assert!(changes.changes.len() > 1, "its dependents were recomputed");
        s.commit(
            Transaction::new()
                .set(arr, gard, 1_250_000)
                .insert(tasks, vec![(title, Value::from("Call Gard"))]),
            "admin",
            at(),
        )
        .expect("commits");
        assert!(s.workbook().differences_from_full_recalc().is_empty());
    }
    same(rows.workbook(), store.workbook());
    let reopened = Store::open(&path, Clock::on(today())).expect("opens");
    same(store.workbook(), reopened.workbook());
}
