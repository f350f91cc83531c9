//! The invariant of DESIGN §3: for any schema and any sequence of edits, the
//! incrementally maintained workbook equals a recalculation from scratch.
//!
//! Schemas are two linked tables with random formula columns drawn from the
//! shapes the CSIP workbook uses (keyed predicates, relation projections,
//! roll-ups over multi-relations, lookups, row numbers, the clock), referring
//! to each other in random order, so that chains and cycles both occur. Edits
//! are random batches of sets, inserts, deletes and clock moves, schema
//! changes, undo and redo. The workbook's names (`M0`, `M1`, `M2`, and
//! names added on the way) read the tables and are read by formula columns.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnSchema, ColumnType, Op, Schema, SchemaChange, TableId, TableSchema, Transaction,
    Value, Workbook,
};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Number of random schema + edit sequences per run.
const CASES: u32 = 20000;

/// What the run exercised, printed after its last case (`--nocapture`):
/// cases run, cases with a schema change applied, schema changes applied
/// and refused, names added or changed, undos and redos.
static COUNTS: [AtomicUsize; 7] = [const { AtomicUsize::new(0) }; 7];
const RUN: usize = 0;
const WITH_CHANGE: usize = 1;
const APPLIED: usize = 2;
const REFUSED: usize = 3;
const NAME_CHANGES: usize = 4;
const UNDOS: usize = 5;
const REDOS: usize = 6;

fn count(what: usize) {
    COUNTS[what].fetch_add(1, Ordering::Relaxed);
}

fn a_formula(shape: u8, c: i64, f: &str, g: &str) -> String {
    match shape % 19 {
        0 => format!("[N] + {c}"),
        1 => format!("[N] * [{f}]"),
        2 => "Sum(Filter([B], [Ref] = thisRow).[N])".to_string(),
        3 => format!("Count(Filter([B], [Ref].[K] = thisRow.[K] AND [N] > {c}))"),
        4 => "CountIf([B], [S] = \"x\")".to_string(),
        5 => format!("Average(Filter([B], [Ref] = thisRow).[{g}])"),
        6 => "Lookup([B], [Ref] = thisRow).[N]".to_string(),
        7 => "thisRow.RowNumber() * 10".to_string(),
        8 => "[D] - Today()".to_string(),
        9 => format!("If([N] > {c}, [{f}], 0)"),
        10 => "Max(Filter([B], HasAny([Multi], thisRow)).[N])".to_string(),
        11 => "Filter([A], [N] = thisRow.[N]).Count()".to_string(),
        12 => "Filter([B], [Ref] = thisRow).[Multi].[N].Sum()".to_string(),
        13 => "Sum(Filter([B], [Ref] = thisRow AND [S] = \"x\").[N]) + Count([B])".to_string(),
        // Guards that can fail with an error, read through a relation and the
        // clock, and read a formula column.
        15 => "Count(Filter([B], [Ref].[K] = thisRow.[K] AND 2 / [N] > 0 AND [S] = \"x\"))"
            .to_string(),
        16 => "CountIf([B], [K] = thisRow.[K] AND [Ref].[D] >= Today() - 2)".to_string(),
        17 => format!("Sum(Filter([B], [Ref] = thisRow AND [{g}] > {c}).[N])"),
        18 => "[N] * [M0] + [M2]".to_string(),
        _ => "Lookup([B], [K] = thisRow.[K]).[Ref].RowNumber()".to_string(),
    }
}

fn b_formula(shape: u8, c: i64, f: &str, g: &str) -> String {
    match shape % 14 {
        0 => "[Ref].[N] + [N]".to_string(),
        1 => format!("[Ref].[{f}]"),
        2 => "[Multi].[N].Sum()".to_string(),
        3 => format!("[Multi].[{f}].Sum()"),
        4 => "Lookup([A], [K] = thisRow.[S]).[N]".to_string(),
        5 => "\"B-\" & Format(thisRow.RowNumber(), \"000\")".to_string(),
        6 => "[N] / [Ref].[N]".to_string(),
        7 => format!("IfError(1 / [N], {c}) + [{g}]"),
        8 => "CountIf([A], [N] > thisRow.[N] AND [D] < Today())".to_string(),
        9 => "Lookup([B], [Ref].[K] = thisRow.[S]).[N]".to_string(),
        10 => "Filter([A], [K] = thisRow.[Ref].[K]).Count()".to_string(),
        11 => format!("CountIf([A], [K] = thisRow.[K] AND [{f}] > {c})"),
        13 => "[N] + [M1]".to_string(),
        _ => "[Ref].RowNumber() + [Multi].Count()".to_string(),
    }
}

/// A formula of one of the workbook's names.
fn name_formula(shape: u8, c: i64, f: &str) -> String {
    match shape % 4 {
        0 => format!("{c}"),
        1 => format!("Sum([A].[{f}])"),
        2 => format!("CountIf([B], [N] > {c}) + [M0]"),
        _ => "Max([B].[N]) - Min([A].[N])".to_string(),
    }
}

#[derive(Clone, Debug)]
struct Spec {
    a_formulas: Vec<(u8, i64, u8)>,
    b_formulas: Vec<(u8, i64, u8, u8)>,
    edits: Vec<Vec<(u8, u16, u16, i64)>>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec((any::<u8>(), -2i64..4, any::<u8>()), 1..5),
        prop::collection::vec((any::<u8>(), -2i64..4, any::<u8>(), any::<u8>()), 1..5),
        prop::collection::vec(
            prop::collection::vec((any::<u8>(), any::<u16>(), any::<u16>(), -3i64..5), 1..4),
            1..14,
        ),
    )
        .prop_map(|(a_formulas, b_formulas, edits)| Spec {
            a_formulas,
            b_formulas,
            edits,
        })
}

fn build(spec: &Spec) -> Workbook {
    let na = spec.a_formulas.len();
    let nb = spec.b_formulas.len();
    let mut a = TableSchema::new("A")
        .with_column(ColumnSchema::data("K", ColumnType::Text))
        .with_column(ColumnSchema::data("N", ColumnType::Number))
        .with_column(ColumnSchema::data("D", ColumnType::Date));
    for (i, (shape, c, j)) in spec.a_formulas.iter().enumerate() {
        let f = format!("F{}", usize::from(*j) % na);
        let g = format!("G{}", usize::from(*j) % nb);
        a = a.with_column(ColumnSchema::formula(
            format!("F{i}"),
            ColumnType::Number,
            a_formula(*shape, *c, &f, &g),
        ));
    }
    let mut b = TableSchema::new("B")
        .with_column(ColumnSchema::data("K", ColumnType::Text))
        .with_column(ColumnSchema::data(
            "Ref",
            ColumnType::Relation {
                table: "A".into(),
                multiple: false,
            },
        ))
        .with_column(ColumnSchema::data("N", ColumnType::Number))
        .with_column(ColumnSchema::data(
            "S",
            ColumnType::Select(vec!["x".into(), "y".into(), "a1".into()]),
        ))
        .with_column(ColumnSchema::data(
            "Multi",
            ColumnType::Relation {
                table: "A".into(),
                multiple: true,
            },
        ));
    for (i, (shape, c, j, k)) in spec.b_formulas.iter().enumerate() {
        let f = format!("F{}", usize::from(*j) % na);
        let g = format!("G{}", usize::from(*k) % nb);
        b = b.with_column(ColumnSchema::formula(
            format!("G{i}"),
            ColumnType::Number,
            b_formula(*shape, *c, &f, &g),
        ));
    }
    let schema = Schema::new()
        .with_table(a)
        .with_table(b)
        .with_name(ColumnSchema::formula(
            "M0",
            ColumnType::Number,
            "Sum([A].[N]) + Count([B])",
        ))
        .with_name(ColumnSchema::formula(
            "M1",
            ColumnType::Number,
            "CountIf([B], [N] > [M0] / 10)",
        ))
        .with_name(ColumnSchema::formula(
            "M2",
            ColumnType::Number,
            "Sum([A].[F0])",
        ));
    Workbook::new(
        &schema,
        Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()),
    )
    .unwrap()
}

fn n(x: i64) -> Value {
    if x == 0 { Value::Blank } else { Value::from(x) }
}

/// Turns random numbers into one operation against the workbook's current rows.
fn op(wb: &Workbook, a: TableId, b: TableId, (kind, x, y, v): (u8, u16, u16, i64)) -> Option<Op> {
    let pick = |t: TableId, i: u16| -> Option<csip_engine::RowId> {
        let rows = wb.rows(t).unwrap();
        (!rows.is_empty()).then(|| rows[usize::from(i) % rows.len()])
    };
    let col = |t: TableId, name: &str| wb.column_id(t, name).unwrap();
    let a_row = |i: u16| pick(a, i).map_or(Value::Blank, |r| Value::Row(a, r));
    Some(match kind % 11 {
        0 => Op::Set {
            column: col(a, "N"),
            row: pick(a, x)?,
            value: n(v),
        },
        1 => Op::Set {
            column: col(a, "K"),
            row: pick(a, x)?,
            value: Value::from(format!("a{}", y % 4)),
        },
        2 => Op::Set {
            column: col(b, "Ref"),
            row: pick(b, x)?,
            value: a_row(y),
        },
        3 => Op::Set {
            column: col(b, "N"),
            row: pick(b, x)?,
            value: n(v),
        },
        4 => Op::Set {
            column: col(b, "S"),
            row: pick(b, x)?,
            value: Value::from(["x", "y", "a1"][usize::from(y) % 3]),
        },
        5 => Op::Set {
            column: col(b, "Multi"),
            row: pick(b, x)?,
            value: Value::list(vec![a_row(y), a_row(y / 7)]),
        },
        // Sometimes with an id a few past the next (an exported row imported again).
        6 => Op::Insert {
            table: a,
            id: (v % 3 == 0).then(|| {
                csip_engine::RowId::from_raw(wb.next_row_id(a).unwrap().get() + u32::from(x % 3))
            }),
            values: vec![
                (col(a, "K"), Value::from(format!("a{}", y % 4))),
                (col(a, "N"), n(v)),
                (
                    col(a, "D"),
                    Value::from(format!("2026-11-{:02}", 20 + y % 10)),
                ),
            ],
        },
        7 => Op::Insert {
            table: b,
            id: None,
            values: vec![
                (col(b, "K"), Value::from(format!("a{}", x % 4))),
                (col(b, "Ref"), a_row(y)),
                (col(b, "N"), n(v)),
                (col(b, "S"), Value::from("x")),
            ],
        },
        8 => Op::Delete {
            table: a,
            row: pick(a, x)?,
        },
        9 => Op::Delete {
            table: b,
            row: pick(b, x)?,
        },
        _ => Op::Set {
            column: col(a, "D"),
            row: pick(a, x)?,
            value: Value::from(format!("2026-12-{:02}", 1 + y % 20)),
        },
    })
}

/// Turns random numbers into a schema change: a formula column added,
/// given a new formula, renamed or removed (data columns stay as they are,
/// since the edits name them). Some are refused (a formula that names a
/// column renamed or removed, a column something reads); that is fine.
fn schema_change(
    wb: &Workbook,
    step: usize,
    (kind, x, y, v): (u8, u16, u16, i64),
) -> Option<SchemaChange> {
    let tables = [wb.table_id("A").ok()?, wb.table_id("B").ok()?];
    let table = tables[usize::from(x) % 2];
    let formulas: Vec<_> = tables
        .iter()
        .flat_map(|t| wb.columns(*t).unwrap().iter().copied())
        .filter(|c| wb.is_formula(*c).unwrap())
        .chain(wb.names().iter().copied())
        .collect();
    let pick = |i: u16| {
        formulas
            .get(usize::from(i) % formulas.len().max(1))
            .copied()
    };
    let names = |t: TableId| -> (String, String) {
        let named = |t: TableId| -> Vec<String> {
            wb.columns(t)
                .unwrap()
                .iter()
                .filter(|c| wb.is_formula(**c).unwrap())
                .map(|c| wb.column_name(*c).unwrap().to_string())
                .collect()
        };
        let (a, b) = (named(tables[0]), named(tables[1]));
        let f = a
            .get(usize::from(y) % a.len().max(1))
            .cloned()
            .unwrap_or_else(|| "N".into());
        let g = b
            .get(usize::from(y) % b.len().max(1))
            .cloned()
            .unwrap_or_else(|| "N".into());
        let _ = t;
        (f, g)
    };
    let shape = u8::try_from(y % 251).unwrap_or(0);
    let formula_for = |t: TableId| {
        let (f, g) = names(t);
        if t == tables[0] {
            a_formula(shape, v, &f, &g)
        } else if t == tables[1] {
            b_formula(shape, v, &f, &g)
        } else {
            name_formula(shape, v, &f)
        }
    };
    Some(match kind % 5 {
        4 => SchemaChange::AddName(ColumnSchema::formula(
            format!("X{step}"),
            ColumnType::Number,
            name_formula(shape, v, &names(table).0),
        )),
        0 => SchemaChange::AddColumn {
            table,
            column: ColumnSchema::formula(
                format!("X{step}"),
                ColumnType::Number,
                formula_for(table),
            ),
        },
        1 => {
            let column = pick(x)?;
            SchemaChange::SetFormula {
                column,
                formula: formula_for(wb.column_table(column).unwrap()),
            }
        }
        2 => SchemaChange::RenameColumn {
            column: pick(x)?,
            name: format!("R{step}"),
        },
        _ => SchemaChange::RemoveColumn { column: pick(x)? },
    })
}

/// Every row of every table with every cell, as a snapshot must keep them.
fn cells(wb: &Workbook) -> Vec<(csip_engine::RowId, Vec<Value>)> {
    let names = wb
        .names()
        .iter()
        .map(|c| wb.name_value(*c).unwrap().clone())
        .collect();
    let mut out = vec![(csip_engine::RowId::from_raw(1), names)];
    for t in wb.tables() {
        for &r in wb.rows(t).unwrap() {
            let values = wb
                .columns(t)
                .unwrap()
                .iter()
                .map(|c| wb.value(*c, r).ok().cloned().unwrap_or_default())
                .collect();
            out.push((r, values));
        }
    }
    out
}

fn seed(wb: &mut Workbook) {
    let a = wb.table_id("A").unwrap();
    let b = wb.table_id("B").unwrap();
    // One transaction each: an insert with an id is drawn against the rows so far.
    for i in 0..3u16 {
        let mut tx = Transaction::new();
        tx.push(op(wb, a, b, (6, 0, i, i64::from(i) + 1)).unwrap());
        wb.apply(tx).unwrap();
    }
    let mut tx = Transaction::new();
    for i in 0..4u16 {
        tx.push(op(wb, a, b, (7, 0, i, i64::from(i) - 1)).unwrap());
    }
    wb.apply(tx).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn incremental_recalculation_equals_full_recalculation(spec in spec()) {
        let mut wb = build(&spec);
        seed(&mut wb);
        let diffs = wb.differences_from_full_recalc();
        prop_assert!(diffs.is_empty(), "after seeding: {} cells differ, first {:?} `{}`", diffs.len(), diffs[0], wb.column_name(diffs[0].0.column).unwrap());
        let a = wb.table_id("A").unwrap();
        let b = wb.table_id("B").unwrap();
        let mut changed_schema = false;
        for (step, batch) in spec.edits.iter().enumerate() {
            // A snapshot taken before the step reads the same after it.
            let snapshot = wb.clone();
            let before = cells(&snapshot);
            if batch[0].0 % 13 == 12 {
                let today = wb.clock().today + chrono::Duration::days(batch[0].3);
                wb.set_clock(Clock::on(today));
            } else if batch[0].0 % 13 == 9 {
                if let Some(change) = schema_change(&wb, step, batch[0]) {
                    let described = format!("{change:?}");
                    let on_name = match &change {
                        SchemaChange::AddName(_) => true,
                        SchemaChange::SetFormula { column, .. } => wb.names().contains(column),
                        _ => false,
                    };
                    match wb.apply(Transaction::new().change_schema(change)) {
                        Ok(_) => {
                            count(APPLIED);
                            if on_name {
                                count(NAME_CHANGES);
                            }
                            changed_schema = true;
                            // Undone, the change leaves the workbook as it was.
                            let after = cells(&wb);
                            wb.undo().map_err(|e| TestCaseError::fail(format!("step {step}: undo of {described} refused: {e}")))?;
                            prop_assert_eq!(&cells(&wb), &before, "step {}: undo of {}", step, described);
                            prop_assert!(wb.differences_from_full_recalc().is_empty(), "step {}: after undoing {}", step, described);
                            wb.redo().map_err(|e| TestCaseError::fail(format!("step {step}: redo refused: {e}")))?;
                            prop_assert_eq!(&cells(&wb), &after, "step {}: redo of {}", step, described);
                        }
                        // Refused: nothing changed.
                        Err(_) => {
                            count(REFUSED);
                            prop_assert_eq!(&cells(&wb), &before, "step {}: refused {} changed something", step, described);
                        }
                    }
                }
            } else if batch[0].0 % 13 == 11 {
                count(UNDOS);
                wb.undo().map_err(|e| TestCaseError::fail(format!("step {step}: undo refused: {e}")))?;
            } else if batch[0].0 % 13 == 10 {
                count(REDOS);
                wb.redo().map_err(|e| TestCaseError::fail(format!("step {step}: redo refused: {e}")))?;
            } else {
                // Each operation is drawn against the state the batch has reached.
                let mut tx = Transaction::new();
                let mut probe = wb.clone();
                for raw in batch {
                    if let Some(o) = op(&probe, a, b, *raw) {
                        let mut one = Transaction::new();
                        one.push(o.clone());
                        probe.apply(one).map_err(|e| TestCaseError::fail(format!("{o:?} rejected: {e}")))?;
                        tx.push(o);
                    }
                }
                // Every generated edit is valid, so the batch must be accepted.
                wb.apply(tx.clone()).map_err(|e| TestCaseError::fail(format!("step {step}: {tx:?} rejected: {e}")))?;
                // Undone, the batch leaves the workbook as it was before it;
                // redone, as it was after (rows, ids and every cell).
                if batch[0].1 % 3 == 0 && !tx.is_empty() {
                    let after = cells(&wb);
                    wb.undo().map_err(|e| TestCaseError::fail(format!("step {step}: undo refused: {e}")))?;
                    prop_assert_eq!(&cells(&wb), &before, "step {}: undo of {:?}", step, tx);
                    prop_assert!(wb.differences_from_full_recalc().is_empty(), "step {}: after the undo", step);
                    wb.redo().map_err(|e| TestCaseError::fail(format!("step {step}: redo refused: {e}")))?;
                    prop_assert_eq!(&cells(&wb), &after, "step {}: redo of {:?}", step, tx);
                }
            }
            let diffs = wb.differences_from_full_recalc();
            prop_assert!(
                diffs.is_empty(),
                "after step {} ({:?}): {} cells differ, first {:?} `{}`",
                step, batch, diffs.len(), diffs[0], wb.column_name(diffs[0].0.column).unwrap()
            );
            prop_assert_eq!(cells(&snapshot), before, "step {} changed a snapshot taken before it", step);
        }
        if changed_schema {
            count(WITH_CHANGE);
        }
        count(RUN);
        if COUNTS[RUN].load(Ordering::Relaxed) == CASES as usize {
            let c: Vec<usize> = COUNTS.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            eprintln!(
                "{} cases: {} with a schema change applied; {} schema changes applied ({} adding or changing a name), {} refused; {} undos, {} redos on their own",
                c[RUN], c[WITH_CHANGE], c[APPLIED], c[NAME_CHANGES], c[REFUSED], c[UNDOS], c[REDOS]
            );
        }
    }
}
