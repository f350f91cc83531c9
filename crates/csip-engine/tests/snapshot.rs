//! Snapshots (`snapshot.rs`): a workbook written as bytes reads back equal,
//! cell for cell and index for index, without a recalculation; edits after
//! the read behave as on the workbook written; and a snapshot of another
//! schema, format or day, a damaged one or a made-up one is refused (or, for
//! the day, recomputed), never a panic.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    ChangeSet, Clock, ColumnSchema, ColumnType, Decimal, RowId, Schema, SnapshotError, TableSchema,
    Transaction, Value, Workbook,
};
use proptest::prelude::*;

fn day(d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn clock() -> Clock {
    Clock::on(day(24))
}

/// Accounts and their metrics: every kind of value a cell holds (numbers
/// of every scale, text, selects and multi-selects, dates, date-times,
/// checkboxes, relations single and multiple, errors), predicates on
/// indexes with hidden key columns (a guarded one reading the clock), and
/// formulas that read the clock.
fn schema() -> Schema {
    let accounts = || ColumnType::Relation {
        table: "Accounts".into(),
        multiple: false,
    };
    Schema::new()
        .with_table(
            TableSchema::new("Accounts")
                .with_column(
                    ColumnSchema::data("Name", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::data("ARR", ColumnType::Currency))
                .with_column(ColumnSchema::data(
                    "Segment",
                    ColumnType::Select(vec!["Enterprise".into(), "SMB".into()]),
                ))
                .with_column(ColumnSchema::data(
                    "Tags",
                    ColumnType::MultiSelect(vec!["a".into(), "b".into(), "c".into()]),
                ))
                .with_column(ColumnSchema::data("Start", ColumnType::Date))
                .with_column(ColumnSchema::data("Seen", ColumnType::DateTime))
                .with_column(ColumnSchema::data("Active", ColumnType::Checkbox))
                .with_column(ColumnSchema::data("Big", ColumnType::Number))
                .with_column(ColumnSchema::formula(
                    "Health",
                    ColumnType::Number,
                    "Average(Filter([Metrics], [Account] = thisRow).[Score])",
                ))
                .with_column(ColumnSchema::formula(
                    "Recent",
                    ColumnType::Number,
                    "Count(Filter([Metrics], [Account] = thisRow AND [Date] >= Today() - 30))",
                ))
                .with_column(ColumnSchema::formula(
                    "Ratio",
                    ColumnType::Number,
                    "[ARR] / [Big]",
                ))
                .with_column(ColumnSchema::formula(
                    "Label",
                    ColumnType::Text,
                    r#"[Name] & " (" & [Segment] & ")""#,
                ))
                .with_column(ColumnSchema::formula(
                    "Age",
                    ColumnType::Number,
                    "Today() - [Start]",
                ))
                .with_column(ColumnSchema::formula(
                    "Mentioned",
                    ColumnType::Number,
                    "CountIf([Metrics], [Related].HasAny(thisRow))",
                )),
        )
        .with_table(
            TableSchema::new("Metrics")
                .with_column(ColumnSchema::data("Account", accounts()))
                .with_column(ColumnSchema::data("Score", ColumnType::Number))
                .with_column(ColumnSchema::data("Date", ColumnType::Date))
                .with_column(ColumnSchema::data(
                    "Related",
                    ColumnType::Relation {
                        table: "Accounts".into(),
                        multiple: true,
                    },
                ))
                .with_column(ColumnSchema::formula(
                    "Band",
                    ColumnType::Text,
                    r#"If([Score] > 50, "high", "low")"#,
                ))
                .with_column(ColumnSchema::formula(
                    "Owner",
                    ColumnType::Text,
                    "[Account].[Name]",
                ))
                .with_column(ColumnSchema::formula(
                    "Above_Mean",
                    ColumnType::Checkbox,
                    "[Score] > [Mean_Score]",
                )),
        )
        // Named formulas: held in the workbook's hidden one-row table.
        .with_name(ColumnSchema::formula(
            "Mean_Score",
            ColumnType::Number,
            "Average([Metrics].[Score])",
        ))
        .with_name(ColumnSchema::formula(
            "Accounts_Due",
            ColumnType::Number,
            "CountIf([Accounts], [Age] > 10)",
        ))
}

fn n(s: &str) -> Value {
    Value::Number(s.parse::<Decimal>().unwrap())
}

/// The workbook of [`schema`] with accounts and metrics, some deleted (so
/// that tables have dead slots), and ids reserved past the last row.
fn workbook() -> Workbook {
    let mut wb = Workbook::new(&schema(), clock()).unwrap();
    let (acc, met) = (
        wb.table_id("Accounts").unwrap(),
        wb.table_id("Metrics").unwrap(),
    );
    let c = |t, name| wb.column_id(t, name).unwrap();
    let (name, arr, segment, tags, start, seen, active, big) = (
        c(acc, "Name"),
        c(acc, "ARR"),
        c(acc, "Segment"),
        c(acc, "Tags"),
        c(acc, "Start"),
        c(acc, "Seen"),
        c(acc, "Active"),
        c(acc, "Big"),
    );
    let (account, score, date, related) = (
        c(met, "Account"),
        c(met, "Score"),
        c(met, "Date"),
        c(met, "Related"),
    );
    let numbers = [
        "0",
        "-0.0",
        "1.50",
        "-17",
        "123456789012345678901234.5678",
        "-79228162514264337593543950335",
        "0.0000000000000000000000000001",
        "9223372036854775808",
    ];
    let mut account_rows = Vec::new();
    for i in 0..40i64 {
        let mut row = vec![
            (name, Value::from(format!("Account {i}"))),
            (arr, n(numbers[i as usize % numbers.len()])),
            (
                segment,
                Value::from(if i % 3 == 0 { "Enterprise" } else { "SMB" }),
            ),
            (
                tags,
                Value::list(match i % 4 {
                    0 => vec![],
                    1 => vec![Value::from("a")],
                    _ => vec![Value::from("b"), Value::from("c")],
                }),
            ),
            (start, Value::Date(day(1 + (i as u32 % 20)))),
            (active, Value::Bool(i % 2 == 0)),
        ];
        if i % 5 != 0 {
            row.push((big, Value::from(i)));
        }
        if i % 7 == 0 {
            row.push((
                seen,
                Value::DateTime(day(3).and_hms_nano_opt(9, 30, 15, 250).unwrap()),
            ));
        }
        account_rows.push(row);
    }
    let ids = wb.import(vec![(acc, account_rows)]).unwrap();
    let accounts = ids[0].clone();
    let mut metric_rows = Vec::new();
    for i in 0..10_000usize {
        let mut row = vec![
            (account, Value::Row(acc, accounts[i % accounts.len()])),
            (score, Value::from((i * 37 % 101) as i64)),
            (
                date,
                Value::Date(day(1) - chrono::Days::new((i % 90) as u64)),
            ),
        ];
        if i % 9 == 0 {
            row.push((
                related,
                Value::list(vec![
                    Value::Row(acc, accounts[(i + 1) % accounts.len()]),
                    Value::Row(acc, accounts[(i + 2) % accounts.len()]),
                ]),
            ));
        }
        metric_rows.push(row);
    }
    let metrics = wb.import(vec![(met, metric_rows)]).unwrap()[0].clone();
    // Dead slots: deleted rows, among others and at the end.
    let mut tx = Transaction::new();
    for r in metrics.iter().step_by(97) {
        tx = tx.delete(met, *r);
    }
    tx = tx.delete(met, *metrics.last().unwrap());
    tx = tx.delete(acc, accounts[39]);
    wb.apply(tx).unwrap();
    wb
}

fn snapshot(wb: &Workbook) -> Vec<u8> {
    let mut bytes = Vec::new();
    wb.write_snapshot(&mut bytes).unwrap();
    bytes
}

/// Every table's rows and next id, and every visible cell (each workbook
/// read with its own ids, looked up by name).
fn assert_same(a: &Workbook, b: &Workbook) {
    assert_eq!(a.names().len(), b.names().len());
    for &na in a.names() {
        let name = a.column_name(na).unwrap();
        let nb = b.name_id(name).unwrap();
        let (x, y) = (a.name_value(na).unwrap(), b.name_value(nb).unwrap());
        assert!(x.identical(y), "[{name}]: {x:?} vs {y:?}");
    }
    assert_eq!(a.tables().count(), b.tables().count());
    for ta in a.tables() {
        let name = a.table_name(ta).unwrap();
        let tb = b.table_id(name).unwrap();
        let rows = a.rows(ta).unwrap();
        assert_eq!(rows, b.rows(tb).unwrap(), "rows of {name}");
        assert_eq!(a.next_row_id(ta).unwrap(), b.next_row_id(tb).unwrap());
        for &ca in a.columns(ta).unwrap() {
            let column = a.column_name(ca).unwrap();
            let cb = b.column_id(tb, column).unwrap();
            for &r in rows {
                let (x, y) = (a.value(ca, r).unwrap(), b.value(cb, r).unwrap());
                assert!(x.identical(y), "{name}.{column} row {r}: {x:?} vs {y:?}");
                if let (Value::Number(x), Value::Number(y)) = (x, y) {
                    assert_eq!(x.serialize(), y.serialize(), "numbers keep scale and sign");
                }
            }
        }
    }
}

/// Every row a cell of `wb` holds names its table by `wb`'s own id (the
/// stamp of its build), so that it can be read and written back.
fn assert_rows_are_its_own(wb: &Workbook) {
    let mut seen = 0;
    for t in wb.tables() {
        for &c in wb.columns(t).unwrap() {
            for &r in wb.rows(t).unwrap() {
                for v in
                    std::iter::once(wb.value(c, r).unwrap()).chain(match wb.value(c, r).unwrap() {
                        Value::List(items) => items.iter().collect::<Vec<_>>(),
                        _ => Vec::new(),
                    })
                {
                    if let Value::Row(table, row) = v {
                        assert!(wb.rows(*table).is_ok(), "{v:?} is of another workbook");
                        assert!(wb.contains_row(*table, *row));
                        seen += 1;
                    }
                }
            }
        }
    }
    assert!(seen > 0, "the workbook holds rows in its cells");
}

fn changes(cs: &ChangeSet) -> Vec<String> {
    let mut out: Vec<String> = cs
        .changes
        .iter()
        .map(|c| format!("{:?} {:?} {:?}", c.cell, c.old, c.new))
        .collect();
    out.sort();
    out.extend(cs.inserted.iter().map(|i| format!("{i:?}")));
    out.extend(
        cs.deleted
            .iter()
            .map(|d| format!("{:?} {:?}", d.table, d.row)),
    );
    out
}

#[test]
fn a_snapshot_reads_back_cell_for_cell() {
    let wb = workbook();
    let bytes = snapshot(&wb);
    let read = Workbook::read_snapshot(&schema(), clock(), &bytes).unwrap();
    assert_same(&wb, &read);
    assert_rows_are_its_own(&read);
    assert_eq!(read.clock(), wb.clock());
    assert!(read.differences_from_full_recalc().is_empty());
    // A fresh history and version, as after `new` and a restore.
    assert_eq!(read.version(), 0);
    assert_eq!(read.history_len(), (0, 0));
    // A snapshot of the read workbook is the same snapshot, give or take
    // the order of index buckets and first-met strings.
    assert_eq!(snapshot(&read).len(), bytes.len());
}

/// The same edits, with the ids of the workbook they are for.
fn edits(wb: &Workbook) -> Vec<Transaction> {
    let (acc, met) = (
        wb.table_id("Accounts").unwrap(),
        wb.table_id("Metrics").unwrap(),
    );
    let score = wb.column_id(met, "Score").unwrap();
    let account = wb.column_id(met, "Account").unwrap();
    let date = wb.column_id(met, "Date").unwrap();
    let name = wb.column_id(acc, "Name").unwrap();
    let a0 = wb.rows(acc).unwrap()[0];
    let a1 = wb.rows(acc).unwrap()[1];
    let m = wb.rows(met).unwrap()[5];
    let m6 = wb.rows(met).unwrap()[6];
    vec![
        Transaction::new().set(score, m, 99),
        Transaction::new().set(account, m, Value::Row(acc, a1)),
        // A row value read from a cell, written back into another.
        Transaction::new().set(account, m6, wb.value(account, m).unwrap().clone()),
        Transaction::new().set(date, m, Value::Date(day(20))),
        Transaction::new().insert(
            met,
            vec![
                (account, Value::Row(acc, a0)),
                (score, Value::from(3)),
                (date, Value::Date(day(23))),
            ],
        ),
        Transaction::new().delete(acc, a1),
        Transaction::new().set(name, a0, "Renamed"),
        // A duplicate on the unique index on Name: refused on both.
        Transaction::new().insert(acc, vec![(name, Value::from("Renamed"))]),
    ]
}

#[test]
fn edits_after_a_read_behave_as_before_it() {
    let mut wb = workbook();
    let mut read = Workbook::read_snapshot(&schema(), clock(), &snapshot(&wb)).unwrap();
    // One edit at a time: the row value written back is the one the edit
    // before wrote.
    for i in 0..edits(&wb).len() {
        let (x, y) = (
            wb.apply(edits(&wb).swap_remove(i)),
            read.apply(edits(&read).swap_remove(i)),
        );
        match (x, y) {
            (Ok(x), Ok(y)) => {
                assert_eq!(changes(&x), changes(&y));
                assert!(!x.is_empty());
            }
            (Err(x), Err(y)) => assert_eq!(x.to_string(), y.to_string()),
            (x, y) => panic!("edit {i}: {x:?} vs {y:?}"),
        }
    }
    let (x, y) = (
        wb.set_clock(Clock::on(day(28))),
        read.set_clock(Clock::on(day(28))),
    );
    assert_eq!(changes(&x), changes(&y));
    assert_same(&wb, &read);
    assert!(read.differences_from_full_recalc().is_empty());
    assert_eq!(read.undo().unwrap().is_some(), wb.undo().unwrap().is_some());
    assert_same(&wb, &read);
}

#[test]
fn a_snapshot_read_for_another_day_recomputes_what_reads_the_clock() {
    let mut wb = workbook();
    let later = Clock::on(day(30));
    let read = Workbook::read_snapshot(&schema(), later, &snapshot(&wb)).unwrap();
    assert_eq!(read.clock(), later);
    assert_eq!(read.version(), 0, "moving the clock in a read is no commit");
    assert_eq!(read.history_len(), (0, 0));
    wb.set_clock(later);
    assert_same(&wb, &read);
    assert!(read.differences_from_full_recalc().is_empty());
}

#[test]
fn a_reload_from_a_snapshot_keeps_the_workbooks_ids() {
    let mut wb = workbook();
    let bytes = snapshot(&wb);
    let acc = wb.table_id("Accounts").unwrap();
    let name = wb.column_id(acc, "Name").unwrap();
    let a0 = wb.rows(acc).unwrap()[0];
    // The workbook moves on (an edit, another day); the reload is of the
    // snapshot, on the workbook's clock.
    wb.apply(Transaction::new().set(name, a0, "Moved on"))
        .unwrap();
    wb.set_clock(Clock::on(day(30)));
    let mut again = wb.reload_snapshot(&bytes).unwrap();
    assert_eq!(again.clock(), wb.clock());
    assert_eq!(again.version(), wb.version());
    assert_eq!(again.value(name, a0).unwrap(), &Value::from("Account 0"));
    assert_rows_are_its_own(&again);
    // The ids of `wb` write `again`.
    again
        .apply(Transaction::new().set(name, a0, "Written"))
        .unwrap();
    let mut expected = workbook();
    expected.set_clock(Clock::on(day(30)));
    let en = expected
        .column_id(expected.table_id("Accounts").unwrap(), "Name")
        .unwrap();
    expected
        .apply(Transaction::new().set(en, a0, "Written"))
        .unwrap();
    assert_same(&expected, &again);
    assert!(again.differences_from_full_recalc().is_empty());

    // Not of this workbook's schema: refused.
    let other = Workbook::new(
        &Schema::new().with_table(
            TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)),
        ),
        clock(),
    )
    .unwrap();
    let e = other.reload_snapshot(&bytes).unwrap_err();
    assert!(matches!(e, SnapshotError::OtherSchema), "{e}");
}

#[test]
fn a_snapshot_of_another_schema_format_or_engine_is_refused() {
    let wb = workbook();
    let bytes = snapshot(&wb);

    let mut other = schema();
    other.tables[1].columns[4].formula = Some(r#"If([Score] > 60, "high", "low")"#.into());
    let e = Workbook::read_snapshot(&other, clock(), &bytes).unwrap_err();
    assert!(matches!(e, SnapshotError::OtherSchema), "{e}");

    // Format 2 (the byte after the magic).
    let mut future = bytes.clone();
    future[8] = 2;
    let e = Workbook::read_snapshot(&schema(), clock(), &future).unwrap_err();
    assert!(matches!(e, SnapshotError::Version { format: 2, .. }), "{e}");

    let e = Workbook::read_snapshot(&schema(), clock(), b"PK\x03\x04 a zip file").unwrap_err();
    assert!(matches!(e, SnapshotError::NotASnapshot), "{e}");
    let e = Workbook::read_snapshot(&schema(), clock(), &[]).unwrap_err();
    assert!(matches!(e, SnapshotError::NotASnapshot), "{e}");
}

#[test]
fn a_workbook_whose_schema_changed_at_run_time_is_refused_or_reads_back() {
    use csip_engine::SchemaChange;
    let mut wb = workbook();
    let acc = wb.table_id("Accounts").unwrap();
    // A new column takes an id after the hidden ones: a fresh build of the
    // new schema numbers it otherwise.
    wb.apply(Transaction::new().change_schema(SchemaChange::AddColumn {
        table: acc,
        column: ColumnSchema::formula("Double", ColumnType::Number, "[ARR] * 2"),
    }))
    .unwrap();
    let bytes = snapshot(&wb);
    match Workbook::read_snapshot(wb.schema(), clock(), &bytes) {
        Err(SnapshotError::Layout(_)) => {}
        Ok(read) => assert_same(&wb, &read),
        Err(e) => panic!("{e}"),
    }
}

/// Puts a right checksum back on changed bytes, so that the reader's own
/// checks, not the checksum, meet the change.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len() - 4;
    let sum = crc32fast::hash(&bytes[..n]);
    bytes[n..].copy_from_slice(&sum.to_le_bytes());
}

/// A small workbook for the random damage below (its snapshot is read
/// thousands of times).
fn small() -> (Schema, Vec<u8>) {
    let mut wb = Workbook::new(&schema(), clock()).unwrap();
    let acc = wb.table_id("Accounts").unwrap();
    let met = wb.table_id("Metrics").unwrap();
    let name = wb.column_id(acc, "Name").unwrap();
    let tags = wb.column_id(acc, "Tags").unwrap();
    let arr = wb.column_id(acc, "ARR").unwrap();
    let account = wb.column_id(met, "Account").unwrap();
    let score = wb.column_id(met, "Score").unwrap();
    let ids = wb
        .import(vec![(
            acc,
            vec![
                vec![
                    (name, Value::from("Gard")),
                    (tags, Value::list(vec![Value::from("a"), Value::from("b")])),
                    (arr, n("12.5")),
                ],
                vec![(name, Value::from("Helix")), (arr, n("-3"))],
            ],
        )])
        .unwrap();
    wb.import(vec![(
        met,
        (0..6)
            .map(|i| {
                vec![
                    (account, Value::Row(acc, ids[0][i % 2])),
                    (score, Value::from(i as i64 * 20)),
                ]
            })
            .collect(),
    )])
    .unwrap();
    let bytes = snapshot(&wb);
    (schema(), bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// A cut-off or bit-flipped snapshot is refused (the checksum sees
    /// every such change).
    #[test]
    fn a_damaged_snapshot_is_refused(cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (schema, bytes) = small();
        let short = &bytes[..cut.index(bytes.len())];
        prop_assert!(Workbook::read_snapshot(&schema, clock(), short).is_err());
        let mut flipped = bytes.clone();
        flipped[flip.index(bytes.len())] ^= 1 << bit;
        prop_assert!(Workbook::read_snapshot(&schema, clock(), &flipped).is_err());
    }

    /// Changed bytes under a right checksum — a snapshot made up, or damage
    /// the checksum missed — meet the reader's own checks: an error or a
    /// workbook, never a panic or a runaway allocation.
    #[test]
    fn made_up_bytes_under_a_right_checksum_never_panic(
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        shorten in any::<bool>(),
    ) {
        let (schema, bytes) = small();
        let mut changed = bytes.clone();
        // Past the header (magic, format, engine and schema), from the
        // clock on, where the reader meets the data.
        let today = chrono::Datelike::num_days_from_ce(&clock().today).to_le_bytes();
        let start = bytes
            .windows(4)
            .rposition(|w| w == today)
            .expect("the clock");
        for (at, byte) in changes {
            let i = start + at.index(bytes.len() - 4 - start);
            changed[i] = byte;
        }
        if shorten {
            let keep = start + cut.index(bytes.len() - 4 - start);
            changed.drain(keep..bytes.len() - 4);
        }
        reseal(&mut changed);
        if let Ok(wb) = Workbook::read_snapshot(&schema, clock(), &changed) {
            // Whatever it holds, it reads without a panic.
            for t in wb.tables() {
                for &c in wb.columns(t).unwrap() {
                    for &r in wb.rows(t).unwrap() {
                        let _ = wb.display(wb.value(c, r).unwrap());
                    }
                }
            }
        }
    }
}

#[test]
fn a_row_value_naming_a_row_never_issued_is_refused() {
    // Hand-made: the small snapshot with a relation cell's row id raised
    // past the table's slots, resealed.
    let (schema, bytes) = small();
    let wb = Workbook::read_snapshot(&schema, clock(), &bytes).unwrap();
    let met = wb.table_id("Metrics").unwrap();
    assert_eq!(wb.next_row_id(met).unwrap(), RowId::from_raw(7));
    // Row values are tag 7, a table, a row: find Metrics' first Account
    // cell (table 0, row 1) in the bytes and point it at row 100.
    // (Searched for past the strings, the last of which is a label.)
    let strings_end = bytes
        .windows(5)
        .rposition(|w| w == b"Helix")
        .expect("the string Helix");
    let needle = [7u8, 0, 1];
    let at = strings_end
        + bytes[strings_end..]
            .windows(3)
            .position(|w| w == needle)
            .expect("a row value in the bytes");
    let mut changed = bytes.clone();
    changed[at + 2] = 100;
    reseal(&mut changed);
    let e = Workbook::read_snapshot(&schema, clock(), &changed).unwrap_err();
    assert!(matches!(e, SnapshotError::Corrupt { .. }), "{e}");
}

#[test]
fn a_formula_value_this_engine_does_not_compute_is_refused() {
    // A snapshot whose Band cells were computed otherwise (as by an engine
    // whose `If` differed): the text "high" replaced by "HIGH" in the
    // string table, resealed.
    let (schema, bytes) = small();
    let mut changed = bytes.clone();
    let at = bytes
        .windows(5)
        .position(|w| w == b"\x04high")
        .expect("the string high");
    changed[at + 1..at + 5].copy_from_slice(b"HIGH");
    reseal(&mut changed);
    let e = Workbook::read_snapshot(&schema, clock(), &changed).unwrap_err();
    assert!(matches!(e, SnapshotError::Stale { .. }), "{e}");
}
