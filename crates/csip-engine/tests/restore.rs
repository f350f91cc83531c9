//! Restoring saved rows (what a store does on open): ids kept with their gaps,
//! relations to rows given later, every rule checked, formulas computed.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnSchema, ColumnType, LoadError, RowId, Schema, TableSchema, Transaction,
    TransactionErrorKind, Value, Workbook,
};

fn clock() -> Clock {
    Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

/// People, and accounts whose CSM is a person; each person counts their accounts.
fn schema() -> Schema {
    Schema::new()
        .with_table(
            TableSchema::new("People")
                .with_column(
                    ColumnSchema::data("Name", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::formula(
                    "Account_Count",
                    ColumnType::Number,
                    "CountIf([Accounts], [CSM] = thisRow)",
                )),
        )
        .with_table(
            TableSchema::new("Accounts")
                .with_column(ColumnSchema::data("Name", ColumnType::Text).required())
                .with_column(ColumnSchema::data(
                    "CSM",
                    ColumnType::Relation {
                        table: "People".into(),
                        multiple: false,
                    },
                )),
        )
}

fn ids(raw: &[u32]) -> Vec<RowId> {
    raw.iter().map(|r| RowId::from_raw(*r)).collect()
}

#[test]
fn ids_gaps_and_relations_to_rows_given_later_come_back() {
    let s = schema();
    let probe = Workbook::new(&s, clock()).unwrap();
    let (people, accounts) = (
        probe.table_id("People").unwrap(),
        probe.table_id("Accounts").unwrap(),
    );
    let (pname, count) = (
        probe.column_id(people, "Name").unwrap(),
        probe.column_id(people, "Account_Count").unwrap(),
    );
    let (aname, csm) = (
        probe.column_id(accounts, "Name").unwrap(),
        probe.column_id(accounts, "CSM").unwrap(),
    );
    let kari = RowId::from_raw(5);
    // Accounts first, pointing at a person given after them; ids with gaps.
    let mut wb = Workbook::restore(
        &s,
        clock(),
        vec![
            (
                accounts,
                vec![
                    (
                        RowId::from_raw(1),
                        vec![
                            (aname, Value::from("Gard AS")),
                            (csm, Value::Row(people, kari)),
                        ],
                    ),
                    (
                        RowId::from_raw(8),
                        vec![
                            (aname, Value::from("Helix")),
                            (csm, Value::Row(people, kari)),
                        ],
                    ),
                ],
            ),
            (
                people,
                vec![
                    (RowId::from_raw(2), vec![(pname, Value::from("Ann"))]),
                    (kari, vec![(pname, Value::from("Kari"))]),
                ],
            ),
        ],
    )
    .unwrap();
    assert_eq!(wb.rows(accounts), ids(&[1, 8]).as_slice());
    assert_eq!(wb.rows(people), ids(&[2, 5]).as_slice());
    assert_eq!(
        wb.value(count, kari),
        Some(&Value::from(2)),
        "formulas computed, relations in place"
    );
    assert!(wb.differences_from_full_recalc().is_empty());
    // A new row takes an id after every restored one, gaps included.
    let added = wb
        .apply(Transaction::new().insert(accounts, vec![(aname, Value::from("Sakura"))]))
        .unwrap();
    assert_eq!(added.inserted[0].1, RowId::from_raw(9));
    // Edits after a restore are incremental as usual.
    let moved = wb
        .apply(Transaction::new().set(
            csm,
            RowId::from_raw(1),
            Value::Row(people, RowId::from_raw(2)),
        ))
        .unwrap();
    assert_eq!(moved.get(count, kari).unwrap().new, Value::from(1));
    assert!(wb.differences_from_full_recalc().is_empty());
}

#[test]
fn saved_rows_that_break_a_rule_are_refused_with_the_place() {
    let s = schema();
    let probe = Workbook::new(&s, clock()).unwrap();
    let (people, accounts) = (
        probe.table_id("People").unwrap(),
        probe.table_id("Accounts").unwrap(),
    );
    let (pname, aname, csm) = (
        probe.column_id(people, "Name").unwrap(),
        probe.column_id(accounts, "Name").unwrap(),
        probe.column_id(accounts, "CSM").unwrap(),
    );
    let kind = |e: LoadError| match e {
        LoadError::Rows(e) => e.kind,
        other => panic!("{other}"),
    };
    // Out of order.
    let e = Workbook::restore(
        &s,
        clock(),
        vec![(
            people,
            vec![
                (RowId::from_raw(4), vec![(pname, Value::from("A"))]),
                (RowId::from_raw(3), vec![(pname, Value::from("B"))]),
            ],
        )],
    )
    .unwrap_err();
    assert_eq!(kind(e), TransactionErrorKind::Duplicate);
    // A duplicate unique value.
    let e = Workbook::restore(
        &s,
        clock(),
        vec![(
            people,
            vec![
                (RowId::from_raw(1), vec![(pname, Value::from("A"))]),
                (RowId::from_raw(2), vec![(pname, Value::from("A"))]),
            ],
        )],
    )
    .unwrap_err();
    assert_eq!(kind(e), TransactionErrorKind::Duplicate);
    // A required value missing.
    let e = Workbook::restore(
        &s,
        clock(),
        vec![(accounts, vec![(RowId::from_raw(1), vec![])])],
    )
    .unwrap_err();
    assert_eq!(kind(e), TransactionErrorKind::Required);
    // Id 0 is no row id, and an id far past the last is a damaged file, not a gap to keep.
    for bad in [0, u32::MAX] {
        let e = Workbook::restore(
            &s,
            clock(),
            vec![(
                people,
                vec![(RowId::from_raw(bad), vec![(pname, Value::from("A"))])],
            )],
        )
        .unwrap_err();
        assert_eq!(kind(e), TransactionErrorKind::UnknownRow, "id {bad}");
    }
    // A relation to a row that was never saved.
    let e = Workbook::restore(
        &s,
        clock(),
        vec![(
            accounts,
            vec![(
                RowId::from_raw(1),
                vec![
                    (aname, Value::from("Gard AS")),
                    (csm, Value::Row(people, RowId::from_raw(10))),
                ],
            )],
        )],
    )
    .unwrap_err();
    let LoadError::Rows(e) = e else { panic!() };
    assert_eq!(e.kind, TransactionErrorKind::UnknownReference);
    assert!(e.message.contains("Accounts"), "{}", e.message);
}

#[test]
fn ids_of_deleted_last_rows_are_not_given_again() {
    let s = schema();
    let probe = Workbook::new(&s, clock()).unwrap();
    let people = probe.table_id("People").unwrap();
    let pname = probe.column_id(people, "Name").unwrap();
    // Rows 1 and 2 were saved; rows 3 to 5 were inserted and deleted since.
    let mut wb = Workbook::restore_with(&s, clock(), |r| {
        r.row(
            people,
            RowId::from_raw(1),
            vec![(pname, Value::from("Ann"))],
        )?;
        r.row(
            people,
            RowId::from_raw(2),
            vec![(pname, Value::from("Kari"))],
        )?;
        r.reserve(people, RowId::from_raw(6));
        Ok::<(), LoadError>(())
    })
    .unwrap();
    assert_eq!(wb.next_row_id(people), RowId::from_raw(6));
    let added = wb
        .apply(Transaction::new().insert(people, vec![(pname, Value::from("Ole"))]))
        .unwrap();
    assert_eq!(added.inserted[0].1, RowId::from_raw(6));
    assert_eq!(wb.rows(people), ids(&[1, 2, 6]).as_slice());
}
