//! Undo, redo and the change feed: an undone transaction leaves the workbook
//! as it was before it, cell for cell and row for row (deleted rows back with
//! their ids, relations and values); a redone one as it was after; every
//! commit is on the feed, in order, with its version.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    ChangeCause, Clock, ColumnId, ColumnSchema, ColumnType, RowId, Schema, TableId, TableSchema,
    Transaction, Value, Workbook,
};

fn clock() -> Clock {
    Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

struct Fixture {
    wb: Workbook,
    people: TableId,
    accounts: TableId,
    name: ColumnId,
    arr: ColumnId,
    csm: ColumnId,
    pname: ColumnId,
    total: ColumnId,
}

fn fixture() -> Fixture {
    let schema = Schema::new()
        .with_table(
            TableSchema::new("People")
                .with_column(
                    ColumnSchema::data("Name", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::formula(
                    "Total_ARR",
                    ColumnType::Currency,
                    "Filter([Accounts], [CSM] = thisRow).[ARR].Sum()",
                )),
        )
        .with_table(
            TableSchema::new("Accounts")
                .with_column(
                    ColumnSchema::data("Name", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::data("ARR", ColumnType::Currency))
                .with_column(ColumnSchema::data(
                    "CSM",
                    ColumnType::People {
                        table: "People".into(),
                        multiple: false,
                    },
                )),
        );
    let mut wb = Workbook::new(&schema, clock()).unwrap();
    let people = wb.table_id("People").unwrap();
    let accounts = wb.table_id("Accounts").unwrap();
    let c = |t, n| wb.column_id(t, n).unwrap();
    let (pname, total) = (c(people, "Name"), c(people, "Total_ARR"));
    let (name, arr, csm) = (c(accounts, "Name"), c(accounts, "ARR"), c(accounts, "CSM"));
    wb.import(vec![
        (
            people,
            vec![vec![(pname, "Kari".into())], vec![(pname, "Ola".into())]],
        ),
        (
            accounts,
            vec![
                vec![
                    (name, "Gard".into()),
                    (arr, Value::from(100)),
                    (csm, "Kari".into()),
                ],
                vec![
                    (name, "Helix".into()),
                    (arr, Value::from(50)),
                    (csm, "Kari".into()),
                ],
            ],
        ),
    ])
    .unwrap();
    Fixture {
        wb,
        people,
        accounts,
        name,
        arr,
        csm,
        pname,
        total,
    }
}

/// Every row of every table with every cell.
fn state(wb: &Workbook) -> Vec<(TableId, RowId, Vec<Value>)> {
    let mut out = Vec::new();
    for t in wb.tables() {
        for &r in wb.rows(t).unwrap() {
            let values = wb
                .columns(t)
                .unwrap()
                .iter()
                .map(|c| wb.value(*c, r).ok().cloned().unwrap_or_default())
                .collect();
            out.push((t, r, values));
        }
    }
    out
}

#[test]
fn undo_and_redo_each_kind_of_edit() {
    let mut f = fixture();
    let kari = f.wb.rows(f.people).unwrap()[0];
    let gard = f.wb.rows(f.accounts).unwrap()[0];
    let edits = [
        Transaction::new().set(f.arr, gard, 300),
        Transaction::new().insert(
            f.accounts,
            vec![
                (f.name, "Sakura".into()),
                (f.arr, Value::from(7)),
                (f.csm, "Kari".into()),
            ],
        ),
        // Deleting Kari clears her from both accounts (a cascade).
        Transaction::new().delete(f.people, kari),
        Transaction::new().delete(f.accounts, gard).set(
            f.pname,
            f.wb.rows(f.people).unwrap()[1],
            "Ola Nordmann",
        ),
    ];
    for tx in edits {
        let before = state(&f.wb);
        let applied = f.wb.apply(tx.clone()).unwrap();
        let after = state(&f.wb);
        let undone = f.wb.undo().unwrap().expect("something to undo");
        assert_eq!(state(&f.wb), before, "undo of {tx:?}");
        assert!(f.wb.differences_from_full_recalc().is_empty());
        // What the undo changed mirrors what the edit changed.
        assert_eq!(undone.inserted.len(), applied.deleted.len(), "{tx:?}");
        assert_eq!(undone.deleted.len(), applied.inserted.len(), "{tx:?}");
        f.wb.redo().unwrap().expect("something to redo");
        assert_eq!(state(&f.wb), after, "redo of {tx:?}");
        assert!(f.wb.differences_from_full_recalc().is_empty());
        f.wb.undo().unwrap();
        assert_eq!(state(&f.wb), before);
    }
    assert_eq!(f.wb.undo().unwrap(), None, "every edit was undone");
}

#[test]
fn a_deleted_row_comes_back_with_its_id_values_and_relations() {
    let mut f = fixture();
    let kari = f.wb.rows(f.people).unwrap()[0];
    let deleted =
        f.wb.apply(Transaction::new().delete(f.people, kari))
            .unwrap();
    let gone = &deleted.deleted[0];
    assert_eq!((gone.table, gone.row), (f.people, kari));
    assert_eq!(gone.value(f.pname), Some(&Value::from("Kari")));
    assert_eq!(gone.value(f.total), Some(&Value::from(150)));
    let gard = f.wb.rows(f.accounts).unwrap()[0];
    assert_eq!(
        f.wb.value(f.csm, gard).ok(),
        Some(&Value::Blank),
        "cleared by the delete"
    );
    let back = f.wb.undo().unwrap().unwrap();
    assert_eq!(back.inserted, [(f.people, kari)]);
    assert_eq!(
        f.wb.value(f.csm, gard).ok(),
        Some(&Value::Row(f.people, kari))
    );
    assert_eq!(f.wb.value(f.total, kari).ok(), Some(&Value::from(150)));
    // The id was never given to another row meanwhile, and is not now.
    let added =
        f.wb.apply(Transaction::new().insert(f.people, vec![(f.pname, "Per".into())]))
            .unwrap();
    assert_ne!(added.inserted[0].1, kari);
}

#[test]
fn a_new_edit_clears_redo_and_the_history_is_bounded() {
    let mut f = fixture();
    let gard = f.wb.rows(f.accounts).unwrap()[0];
    for v in 1..=5 {
        f.wb.apply(Transaction::new().set(f.arr, gard, v)).unwrap();
    }
    f.wb.undo().unwrap();
    assert_eq!(f.wb.history_len(), (4, 1));
    f.wb.apply(Transaction::new().set(f.arr, gard, 9)).unwrap();
    assert_eq!(f.wb.history_len(), (5, 0), "redo is gone");
    assert_eq!(f.wb.redo().unwrap(), None);
    f.wb.set_undo_limit(2);
    assert_eq!(f.wb.history_len(), (2, 0), "the oldest go first");
    f.wb.undo().unwrap();
    f.wb.undo().unwrap();
    assert_eq!(f.wb.value(f.arr, gard).ok(), Some(&Value::from(3)));
    assert_eq!(f.wb.undo().unwrap(), None);
    f.wb.set_undo_limit(0);
    f.wb.apply(Transaction::new().set(f.arr, gard, 1)).unwrap();
    assert_eq!(f.wb.history_len(), (0, 0), "no history kept");
}

#[test]
fn the_feed_has_every_commit_in_order() {
    let mut f = fixture();
    let before = f.wb.version();
    let feed = f.wb.subscribe();
    let gard = f.wb.rows(f.accounts).unwrap()[0];
    let edit =
        f.wb.apply(Transaction::new().set(f.arr, gard, 200))
            .unwrap();
    f.wb.undo().unwrap();
    f.wb.redo().unwrap();
    let clocked = f.wb.set_clock(Clock::on(
        chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
    ));
    f.wb.import(vec![(f.people, vec![vec![(f.pname, "Liv".into())]])])
        .unwrap();
    // A snapshot neither publishes nor receives.
    let mut snapshot = f.wb.clone();
    snapshot
        .apply(Transaction::new().set(f.arr, gard, 1))
        .unwrap();
    let got: Vec<_> = feed.try_iter().collect();
    let causes: Vec<ChangeCause> = got.iter().map(|c| c.cause).collect();
    assert_eq!(
        causes,
        [
            ChangeCause::Edit,
            ChangeCause::Undo,
            ChangeCause::Redo,
            ChangeCause::Clock,
            ChangeCause::Import
        ]
    );
    let versions: Vec<u64> = got.iter().map(|c| c.version).collect();
    assert_eq!(versions, (before + 1..=before + 5).collect::<Vec<_>>());
    assert_eq!(f.wb.version(), before + 5);
    assert_eq!(got[0].changes, edit);
    assert_eq!(got[3].changes, clocked);
    assert_eq!(got[4].changes.inserted.len(), 1, "an import lists its rows");
    assert_eq!(f.wb.history_len(), (0, 0), "an import clears the history");
    // A dropped receiver unsubscribes; the workbook goes on.
    drop(feed);
    f.wb.apply(Transaction::new().set(f.arr, gard, 3)).unwrap();
}
