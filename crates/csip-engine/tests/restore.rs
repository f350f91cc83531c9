//! Restoring saved rows (what a store does on open): ids kept with their gaps,
//! relations to rows given later, every rule checked, formulas computed.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnId, ColumnSchema, ColumnType, LoadError, RowId, Schema, TableId, TableSchema,
    Transaction, TransactionErrorKind, Value, Workbook,
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

/// The schema's ids, as one workbook (or the restorer filling it) gives them.
#[derive(Clone, Copy)]
struct Ids {
    people: TableId,
    accounts: TableId,
    pname: ColumnId,
    count: ColumnId,
    aname: ColumnId,
    csm: ColumnId,
}

impl Ids {
    fn of(
        table_id: impl Fn(&str) -> TableId,
        column_id: impl Fn(TableId, &str) -> ColumnId,
    ) -> Ids {
        let (people, accounts) = (table_id("People"), table_id("Accounts"));
        Ids {
            people,
            accounts,
            pname: column_id(people, "Name"),
            count: column_id(people, "Account_Count"),
            aname: column_id(accounts, "Name"),
            csm: column_id(accounts, "CSM"),
        }
    }

    fn of_workbook(wb: &Workbook) -> Ids {
        Ids::of(
            |t| wb.table_id(t).unwrap(),
            |t, c| wb.column_id(t, c).unwrap(),
        )
    }
}

type Rows = Vec<(TableId, Vec<(RowId, Vec<(ColumnId, Value)>)>)>;

/// Restores the rows `rows` gives with the new workbook's ids.
fn restore(s: &Schema, rows: impl FnOnce(Ids) -> Rows) -> Result<Workbook, LoadError> {
    Workbook::restore_with(s, clock(), |r| {
        let ids = Ids::of(
            |t| r.table_id(t).unwrap(),
            |t, c| r.column_id(t, c).unwrap(),
        );
        for (table, rows) in rows(ids) {
            for (id, values) in rows {
                r.row(table, id, values)?;
            }
        }
        Ok::<(), LoadError>(())
    })
}

fn ids(raw: &[u32]) -> Vec<RowId> {
    raw.iter().map(|r| RowId::from_raw(*r)).collect()
}

#[test]
fn ids_gaps_and_relations_to_rows_given_later_come_back() {
    let s = schema();
    let kari = RowId::from_raw(5);
    // Accounts first, pointing at a person given after them; ids with gaps.
    let mut wb = restore(&s, |i| {
        let Ids {
            people,
            accounts,
            pname,
            aname,
            csm,
            ..
        } = i;
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
        ]
    })
    .unwrap();
    let Ids {
        people,
        accounts,
        count,
        aname,
        csm,
        ..
    } = Ids::of_workbook(&wb);
    assert_eq!(wb.rows(accounts).unwrap(), ids(&[1, 8]).as_slice());
    assert_eq!(wb.rows(people).unwrap(), ids(&[2, 5]).as_slice());
    assert_eq!(
        wb.value(count, kari).ok(),
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
    let kind = |e: LoadError| match e {
        LoadError::Rows(e) => e.kind,
        other => panic!("{other}"),
    };
    // Out of order.
    let e = restore(&s, |i| {
        vec![(
            i.people,
            vec![
                (RowId::from_raw(4), vec![(i.pname, Value::from("A"))]),
                (RowId::from_raw(3), vec![(i.pname, Value::from("B"))]),
            ],
        )]
    })
    .unwrap_err();
    assert_eq!(kind(e), TransactionErrorKind::Duplicate);
    // A duplicate unique value.
    let e = restore(&s, |i| {
        vec![(
            i.people,
            vec![
                (RowId::from_raw(1), vec![(i.pname, Value::from("A"))]),
                (RowId::from_raw(2), vec![(i.pname, Value::from("A"))]),
            ],
        )]
    })
    .unwrap_err();
    assert_eq!(kind(e), TransactionErrorKind::Duplicate);
    // A required value missing.
    let e = restore(&s, |i| {
        vec![(i.accounts, vec![(RowId::from_raw(1), vec![])])]
    })
    .unwrap_err();
    assert_eq!(kind(e), TransactionErrorKind::Required);
    // Id 0 is no row id, and an id far past the last is a damaged file, not a gap to keep.
    for bad in [0, u32::MAX] {
        let e = restore(&s, |i| {
            vec![(
                i.people,
                vec![(RowId::from_raw(bad), vec![(i.pname, Value::from("A"))])],
            )]
        })
        .unwrap_err();
        assert_eq!(kind(e), TransactionErrorKind::UnknownRow, "id {bad}");
    }
    // A relation to a row that was never saved.
    let e = restore(&s, |i| {
        vec![(
            i.accounts,
            vec![(
                RowId::from_raw(1),
                vec![
                    (i.aname, Value::from("Gard AS")),
                    (i.csm, Value::Row(i.people, RowId::from_raw(10))),
                ],
            )],
        )]
    })
    .unwrap_err();
    let LoadError::Rows(e) = e else { panic!() };
    assert_eq!(e.kind, TransactionErrorKind::UnknownReference);
    assert!(e.message.contains("Accounts"), "{}", e.message);
}

#[test]
fn ids_of_deleted_last_rows_are_not_given_again() {
    let s = schema();
    // Rows 1 and 2 were saved; rows 3 to 5 were inserted and deleted since.
    let mut wb = Workbook::restore_with(&s, clock(), |r| {
        let people = r.table_id("People").unwrap();
        let pname = r.column_id(people, "Name").unwrap();
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
        r.reserve(people, RowId::from_raw(6)).unwrap();
        Ok::<(), LoadError>(())
    })
    .unwrap();
    let Ids { people, pname, .. } = Ids::of_workbook(&wb);
    assert_eq!(wb.next_row_id(people).unwrap(), RowId::from_raw(6));
    let added = wb
        .apply(Transaction::new().insert(people, vec![(pname, Value::from("Ole"))]))
        .unwrap();
    assert_eq!(added.inserted[0].1, RowId::from_raw(6));
    assert_eq!(wb.rows(people).unwrap(), ids(&[1, 2, 6]).as_slice());
}
