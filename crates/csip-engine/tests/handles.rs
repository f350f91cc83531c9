//! Handles that cannot lie: an id of another workbook, of a removed column or
//! of a column whose adding was undone is a `LookupError` (or a refused
//! transaction), never a panic and never a read of another column; names
//! that do not resolve say what was meant; rows say whether a number is an
//! id or a position.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnSchema, ColumnType, LookupError, RowId, Schema, SchemaChange, TableSchema,
    Transaction, TransactionErrorKind, Value, Workbook,
};

fn clock() -> Clock {
    Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

fn schema() -> Schema {
    Schema::new()
        .with_table(
            TableSchema::new("People").with_column(ColumnSchema::data("Name", ColumnType::Text)),
        )
        .with_table(
            TableSchema::new("Deals")
                .with_column(ColumnSchema::data("Title", ColumnType::Text))
                .with_column(ColumnSchema::data("Amount", ColumnType::Number))
                .with_column(ColumnSchema::relation("Owner", "People"))
                .with_column(ColumnSchema::data("Notes", ColumnType::Text)),
        )
}

/// A workbook with one person and two deals.
fn filled() -> Workbook {
    let mut wb = Workbook::new(&schema(), clock()).unwrap();
    let (p, d) = (
        wb.table_id("People").unwrap(),
        wb.table_id("Deals").unwrap(),
    );
    let name = wb.column_id(p, "Name").unwrap();
    let (title, owner) = (
        wb.column_id(d, "Title").unwrap(),
        wb.column_id(d, "Owner").unwrap(),
    );
    wb.import(vec![
        (p, vec![vec![(name, "Kari".into())]]),
        (
            d,
            vec![
                vec![(title, "A".into()), (owner, "Kari".into())],
                vec![(title, "B".into())],
            ],
        ),
    ])
    .unwrap();
    wb
}

#[test]
fn names_that_do_not_resolve_say_what_was_meant() {
    let wb = filled();
    let err = wb.table_id("Deal").unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no table `Deal`; did you mean `Deals`?"
    );
    let d = wb.table_id("deals").unwrap(); // names ignore case
    let err = wb.column_id(d, "Amuont").unwrap_err();
    assert_eq!(
        err,
        LookupError::UnknownColumn {
            table: "Deals".into(),
            name: "Amuont".into(),
            hint: Some("Amount".into()),
        }
    );
    assert_eq!(
        wb.column_id(d, "Zebra").unwrap_err().to_string(),
        "table `Deals` has no column `Zebra`"
    );
}

#[test]
fn ids_of_another_workbook_are_refused_everywhere() {
    // Two workbooks of one schema: the same names, the same indexes.
    let mut mine = filled();
    let theirs = filled();
    let td = theirs.table_id("Deals").unwrap();
    let tamount = theirs.column_id(td, "Amount").unwrap();
    let row = theirs.rows(td).unwrap()[0];

    assert!(matches!(
        mine.rows(td),
        Err(LookupError::ForeignTable { .. })
    ));
    assert!(matches!(
        mine.table_name(td),
        Err(LookupError::ForeignTable { .. })
    ));
    assert!(matches!(
        mine.column_name(tamount),
        Err(LookupError::ForeignColumn { .. })
    ));
    assert!(matches!(
        mine.value(tamount, row),
        Err(LookupError::ForeignColumn { .. })
    ));
    assert!(!mine.contains_row(td, row));
    let message = mine.value(tamount, row).unwrap_err().to_string();
    assert!(message.contains("comes from another workbook"), "{message}");

    // A write through a foreign id is refused and changes nothing.
    let version = mine.version();
    let err = mine
        .apply(Transaction::new().set(tamount, row, 5))
        .unwrap_err();
    assert_eq!(err.kind, TransactionErrorKind::UnknownColumn);
    let err = mine.apply(Transaction::new().delete(td, row)).unwrap_err();
    assert_eq!(err.kind, TransactionErrorKind::UnknownTable);
    assert_eq!(mine.version(), version);

    // A row value of theirs written into a relation of mine is refused too.
    let tp = theirs.table_id("People").unwrap();
    let kari = theirs.rows(tp).unwrap()[0];
    let d = mine.table_id("Deals").unwrap();
    let owner = mine.column_id(d, "Owner").unwrap();
    let mine_row = mine.rows(d).unwrap()[1];
    let err = mine
        .apply(Transaction::new().set(owner, mine_row, Value::Row(tp, kari)))
        .unwrap_err();
    assert_eq!(err.kind, TransactionErrorKind::WrongType);
    assert!(err.message.contains("another workbook"), "{}", err.message);

    // Showing one never panics.
    assert!(!mine.display(&Value::Row(tp, kari)).is_empty());
}

#[test]
fn ids_past_the_end_are_refused_not_a_panic() {
    let mut small = Workbook::new(
        &Schema::new().with_table(
            TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Text)),
        ),
        clock(),
    )
    .unwrap();
    let big = filled();
    let d = big.table_id("Deals").unwrap();
    let notes = big.column_id(d, "Notes").unwrap();
    assert!(matches!(
        small.rows(d),
        Err(LookupError::ForeignTable { .. })
    ));
    assert!(matches!(
        small.column_schema(notes),
        Err(LookupError::ForeignColumn { .. })
    ));
    assert!(matches!(
        small.eval("1", Some((d, RowId::from_raw(1)))),
        Ok(Value::Error(_))
    ));
    let err = small
        .apply(Transaction::new().insert(d, vec![(notes, Value::from("x"))]))
        .unwrap_err();
    assert_eq!(err.kind, TransactionErrorKind::UnknownTable);
}

#[test]
fn a_removed_column_is_refused_as_removed() {
    let mut wb = filled();
    let d = wb.table_id("Deals").unwrap();
    let notes = wb.column_id(d, "Notes").unwrap();
    let row = wb.rows(d).unwrap()[0];
    wb.apply(Transaction::new().change_schema(SchemaChange::RemoveColumn { column: notes }))
        .unwrap();
    assert_eq!(
        wb.value(notes, row).unwrap_err(),
        LookupError::RemovedColumn {
            id: notes,
            name: "Notes".into()
        }
    );
    let err = wb
        .apply(Transaction::new().set(notes, row, "x"))
        .unwrap_err();
    assert_eq!(err.kind, TransactionErrorKind::UnknownColumn);
    assert!(
        err.message.contains("was removed by a schema change"),
        "{}",
        err.message
    );
    // Undone, the column is back under its id.
    wb.undo().unwrap();
    assert_eq!(wb.value(notes, row), Ok(&Value::Blank));
}

#[test]
fn an_undone_column_id_never_reads_the_next_column_at_its_index() {
    let mut wb = filled();
    let d = wb.table_id("Deals").unwrap();
    let row = wb.rows(d).unwrap()[0];
    let add = |name: &str, formula: &str| {
        Transaction::new().change_schema(SchemaChange::AddColumn {
            table: d,
            column: ColumnSchema::formula(name, ColumnType::Text, formula),
        })
    };
    wb.apply(add("Shout", "Upper([Title])")).unwrap();
    let shout = wb.column_id(d, "Shout").unwrap();
    assert_eq!(wb.value(shout, row), Ok(&Value::from("A")));

    // Undo, redo: the same column, under the same id.
    wb.undo().unwrap();
    assert!(matches!(
        wb.value(shout, row),
        Err(LookupError::ForeignColumn { .. })
    ));
    wb.redo().unwrap();
    assert_eq!(wb.value(shout, row), Ok(&Value::from("A")));

    // Undo, then add another column, which takes the same index.
    wb.undo().unwrap();
    wb.apply(add("Whisper", "Lower([Title])")).unwrap();
    let whisper = wb.column_id(d, "Whisper").unwrap();
    assert_eq!(
        format!("{whisper:?}"),
        format!("{shout:?}"),
        "the same index"
    );
    assert_eq!(wb.value(whisper, row), Ok(&Value::from("a")));
    assert!(
        matches!(wb.value(shout, row), Err(LookupError::ForeignColumn { .. })),
        "the old id must not read `Whisper`"
    );
    assert!(wb.apply(Transaction::new().set(shout, row, "x")).is_err());
}

#[test]
fn ids_survive_schema_changes_that_keep_them() {
    let mut wb = filled();
    let d = wb.table_id("Deals").unwrap();
    let title = wb.column_id(d, "Title").unwrap();
    let row = wb.rows(d).unwrap()[0];
    wb.apply(
        Transaction::new().change_schema(SchemaChange::RenameColumn {
            column: title,
            name: "Name".into(),
        }),
    )
    .unwrap();
    assert_eq!(wb.column_name(title), Ok("Name"));
    assert_eq!(wb.value(title, row), Ok(&Value::from("A")));
    // A clone is the same workbook: its ids are this one's.
    let snapshot = wb.clone();
    assert_eq!(snapshot.value(title, row), Ok(&Value::from("A")));
}

#[test]
fn rows_say_whether_a_number_is_an_id_or_a_position() {
    let mut wb = filled();
    let d = wb.table_id("Deals").unwrap();
    let first = wb.rows(d).unwrap()[0];
    wb.apply(Transaction::new().delete(d, first)).unwrap();
    assert_eq!(
        wb.position(d, first).unwrap_err().to_string(),
        "table `Deals` has no row with id 1 (it was deleted, or never inserted)"
    );
    assert_eq!(
        wb.row_at(d, 2).unwrap_err().to_string(),
        "table `Deals` has 1 rows; there is no row at position 2 (positions count from 1)"
    );
    let second = wb.row_at(d, 1).unwrap();
    assert_eq!((second.get(), wb.position(d, second)), (2, Ok(1)));
}

#[test]
fn values_from_rust_types() {
    assert_eq!(Value::from(7u8), Value::from(7i64));
    assert_eq!(Value::from(u64::MAX).to_string(), "18446744073709551615");
    assert_eq!(Value::from(-3isize), Value::from(-3));
    assert_eq!(Value::try_from(0.1).unwrap().to_string(), "0.1");
    assert_eq!(
        Value::try_from(1e20).unwrap().to_string(),
        "100000000000000000000"
    );
    assert_eq!(Value::try_from(-0.0).unwrap().to_string(), "0");
    for bad in [f64::NAN, f64::INFINITY, f64::MAX, 1e-29] {
        let err = Value::try_from(bad).unwrap_err();
        assert!(
            err.to_string().contains("is not a number csip can hold"),
            "{err}"
        );
    }
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    assert_eq!(Value::from(at), Value::DateTime(at));
}
