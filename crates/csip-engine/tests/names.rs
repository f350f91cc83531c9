//! The workbook's named values and named formulas: read by any formula as
//! `[Name]`, recomputed like columns when what they read changes (and what
//! reads them with them), changed, renamed, added and removed at run time,
//! undone, written to table files and read back.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnSchema, ColumnType, ErrorKind, FormulaText, LookupError, RowId, Schema,
    SchemaChange, TableSchema, TileSchema, Transaction, TransactionErrorKind, Value, ViewSchema,
    Workbook,
};

fn clock() -> Clock {
    Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

fn schema() -> Schema {
    let mut view = ViewSchema::new("Large", "Accounts");
    view.filter = Some(FormulaText::new("[Large]"));
    view.tiles = vec![TileSchema {
        name: "Share of ARR".into(),
        formula: FormulaText::new("Sum(Filter([Accounts], [Large]).[ARR]) / [Total_ARR]"),
    }];
    Schema::new()
        .with_table(
            TableSchema::new("Accounts")
                .with_column(ColumnSchema::data("Name", ColumnType::Text))
                .with_column(ColumnSchema::data("ARR", ColumnType::Currency))
                .with_column(ColumnSchema::formula(
                    "Large",
                    ColumnType::Checkbox,
                    "[ARR] >= [Large_ARR]",
                ))
                .with_column(ColumnSchema::formula(
                    "Share",
                    ColumnType::Percent,
                    "If([Total_ARR] = 0, 0, [ARR] / [Total_ARR] * 100)",
                )),
        )
        .with_name(ColumnSchema::formula(
            "Large_ARR",
            ColumnType::Currency,
            "500000",
        ))
        .with_name(ColumnSchema::formula(
            "Total_ARR",
            ColumnType::Currency,
            "Sum([Accounts].[ARR])",
        ))
        .with_name(ColumnSchema::formula(
            "Large_Count",
            ColumnType::Number,
            "CountIf([Accounts], [ARR] >= [Large_ARR])",
        ))
        .with_view(view)
}

struct F {
    wb: Workbook,
    name: csip_engine::ColumnId,
    arr: csip_engine::ColumnId,
    large: csip_engine::ColumnId,
    share: csip_engine::ColumnId,
    rows: Vec<RowId>,
}

fn fixture() -> F {
    let mut wb = Workbook::new(&schema(), clock()).unwrap();
    let t = wb.table_id("Accounts").unwrap();
    let name = wb.column_id(t, "Name").unwrap();
    let arr = wb.column_id(t, "ARR").unwrap();
    let rows = wb
        .import(vec![(
            t,
            [
                ("Gard AS", 900_000),
                ("Nordlys", 300_000),
                ("Fjord", 800_000),
            ]
            .into_iter()
            .map(|(n, a)| vec![(name, Value::from(n)), (arr, Value::from(a))])
            .collect(),
        )])
        .unwrap()
        .remove(0);
    F {
        large: wb.column_id(t, "Large").unwrap(),
        share: wb.column_id(t, "Share").unwrap(),
        wb,
        name,
        arr,
        rows,
    }
}

fn named(wb: &Workbook, name: &str) -> Value {
    wb.name_value(wb.name_id(name).unwrap()).unwrap().clone()
}

#[test]
fn names_are_computed_and_read_by_columns_and_views() {
    let f = fixture();
    let wb = &f.wb;
    assert_eq!(named(wb, "Total_ARR"), Value::from(2_000_000));
    assert_eq!(named(wb, "Large_Count"), Value::from(2));
    assert_eq!(wb.value(f.large, f.rows[1]).unwrap(), &Value::Bool(false));
    assert_eq!(wb.value(f.share, f.rows[0]).unwrap(), &Value::from(45));
    // Names are not tables: not listed, not found by a table name.
    assert_eq!(wb.tables().count(), 1);
    assert!(wb.table_id("Total_ARR").is_err());
    assert_eq!(
        wb.names()
            .iter()
            .map(|c| wb.column_name(*c).unwrap())
            .collect::<Vec<_>>(),
        ["Large_ARR", "Total_ARR", "Large_Count"]
    );
    let view = wb.view("Large", &[]).unwrap();
    assert_eq!(view.row_count(), 2);
    assert_eq!(view.tiles[0].1, Value::try_from(0.85).unwrap());
    // An ad-hoc formula reads them too.
    assert_eq!(
        wb.eval("[Total_ARR] - [Large_ARR]", None).unwrap(),
        Value::from(1_500_000)
    );
}

#[test]
fn an_edit_recomputes_the_names_it_reaches_and_what_reads_them() {
    let mut f = fixture();
    let changes =
        f.wb.apply(Transaction::new().set(f.arr, f.rows[1], 1_000_000))
            .unwrap();
    let total = f.wb.name_id("Total_ARR").unwrap();
    let count = f.wb.name_id("Large_Count").unwrap();
    let changed: Vec<_> = changes.changes.iter().map(|c| c.cell.column).collect();
    assert!(changed.contains(&total) && changed.contains(&count));
    // Every row's share moved with the total.
    assert_eq!(
        changes
            .changes
            .iter()
            .filter(|c| c.cell.column == f.share)
            .count(),
        3
    );
    assert_eq!(named(&f.wb, "Total_ARR"), Value::from(2_700_000));
    assert_eq!(named(&f.wb, "Large_Count"), Value::from(3));
    assert!(f.wb.differences_from_full_recalc().is_empty());

    // An insert and a delete reach them too.
    let t = f.wb.table_id("Accounts").unwrap();
    f.wb.apply(Transaction::new().insert(
        t,
        vec![(f.name, Value::from("Havn")), (f.arr, Value::from(100))],
    ))
    .unwrap();
    f.wb.apply(Transaction::new().delete(t, f.rows[0])).unwrap();
    assert_eq!(named(&f.wb, "Total_ARR"), Value::from(1_800_100));
    assert!(f.wb.differences_from_full_recalc().is_empty());
}

#[test]
fn a_named_value_changes_with_its_formula_and_the_change_undoes() {
    let mut f = fixture();
    let threshold = f.wb.name_id("Large_ARR").unwrap();
    let changes =
        f.wb.apply(Transaction::new().change_schema(SchemaChange::SetFormula {
            column: threshold,
            formula: "250000".into(),
        }))
        .unwrap();
    assert_eq!(named(&f.wb, "Large_ARR"), Value::from(250_000));
    assert_eq!(named(&f.wb, "Large_Count"), Value::from(3));
    let flipped: Vec<_> = changes
        .changes
        .iter()
        .filter(|c| c.cell.column == f.large)
        .map(|c| c.cell.row)
        .collect();
    assert_eq!(flipped, [f.rows[1]], "only Nordlys crossed the line");
    assert!(f.wb.differences_from_full_recalc().is_empty());
    // The id is good after the change, and the schema says the new value.
    assert_eq!(f.wb.name_id("Large_ARR").unwrap(), threshold);
    assert_eq!(f.wb.schema().names[0].formula.as_deref(), Some("250000"));
    f.wb.undo().unwrap().unwrap();
    assert_eq!(named(&f.wb, "Large_ARR"), Value::from(500_000));
    assert_eq!(f.wb.value(f.large, f.rows[1]).unwrap(), &Value::Bool(false));
    f.wb.redo().unwrap().unwrap();
    assert_eq!(named(&f.wb, "Large_Count"), Value::from(3));
}

#[test]
fn names_are_added_renamed_and_removed_at_run_time() {
    let mut f = fixture();
    let t = f.wb.table_id("Accounts").unwrap();
    f.wb.apply(
        Transaction::new()
            .change_schema(SchemaChange::AddName(ColumnSchema::formula(
                "Target",
                ColumnType::Currency,
                "[Total_ARR] * 1.1",
            )))
            .change_schema(SchemaChange::AddColumn {
                table: t,
                column: ColumnSchema::formula("Gap", ColumnType::Currency, "[Target] - [ARR]"),
            }),
    )
    .unwrap();
    let target = f.wb.name_id("Target").unwrap();
    assert_eq!(f.wb.name_value(target).unwrap(), &Value::from(2_200_000));
    let gap = f.wb.column_id(t, "Gap").unwrap();
    assert_eq!(f.wb.value(gap, f.rows[0]).unwrap(), &Value::from(1_300_000));

    // A rename: every formula that names it follows.
    f.wb.apply(
        Transaction::new().change_schema(SchemaChange::RenameColumn {
            column: target,
            name: "Goal".into(),
        }),
    )
    .unwrap();
    assert_eq!(f.wb.formula(gap).unwrap(), Some("[Goal] - [ARR]"));
    assert_eq!(f.wb.name_id("goal").unwrap(), target);

    // A name something reads is not removed; one nothing reads is.
    let refused =
        f.wb.apply(Transaction::new().change_schema(SchemaChange::RemoveColumn { column: target }))
            .unwrap_err();
    assert_eq!(refused.kind, TransactionErrorKind::Schema);
    assert!(refused.message.contains("`Accounts`.`Gap`"), "{refused}");
    let count = f.wb.name_id("Large_Count").unwrap();
    f.wb.apply(Transaction::new().change_schema(SchemaChange::RemoveColumn { column: count }))
        .unwrap();
    assert!(matches!(
        f.wb.name_value(count),
        Err(LookupError::RemovedColumn { .. })
    ));
    assert!(f.wb.name_id("Large_Count").is_err());
    assert!(f.wb.differences_from_full_recalc().is_empty());
}

#[test]
fn a_name_is_no_table_and_keeps_its_place() {
    let mut f = fixture();
    let total = f.wb.name_id("Total_ARR").unwrap();
    // Its one row is not inserted, deleted or written.
    let names_table = f.wb.column_table(total).unwrap();
    let insert =
        f.wb.apply(Transaction::new().insert(names_table, vec![]))
            .unwrap_err();
    assert_eq!(insert.kind, TransactionErrorKind::UnknownTable);
    let set =
        f.wb.apply(Transaction::new().set(total, RowId::from_raw(1), 5))
            .unwrap_err();
    assert_eq!(set.kind, TransactionErrorKind::NotWritable, "{set}");
    // A column is not a name, and an unknown name offers the closest.
    assert!(matches!(
        f.wb.name_value(f.arr),
        Err(LookupError::NotAName { .. })
    ));
    let unknown = f.wb.name_id("Total_AR").unwrap_err();
    assert!(
        unknown.to_string().contains("did you mean `Total_ARR`"),
        "{unknown}"
    );
    // A new table may not take a name's name, nor a name a table's.
    let clash =
        f.wb.apply(Transaction::new().change_schema(SchemaChange::AddTable(
            TableSchema::new("Total_ARR").with_column(ColumnSchema::data("X", ColumnType::Text)),
        )))
        .unwrap_err();
    assert!(clash.message.contains("name `Total_ARR`"), "{clash}");
    let clash =
        f.wb.apply(
            Transaction::new().change_schema(SchemaChange::AddName(ColumnSchema::formula(
                "Accounts",
                ColumnType::Number,
                "1",
            ))),
        )
        .unwrap_err();
    assert!(clash.message.contains("table `Accounts`"), "{clash}");
}

#[test]
fn a_bad_name_is_a_schema_problem_with_its_place() {
    let problems = |schema: Schema| {
        Workbook::new(&schema, clock())
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| (p.place(), p.kind, p.message))
            .collect::<Vec<_>>()
    };
    let base = || {
        Schema::new().with_table(
            TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)),
        )
    };
    let found = problems(base().with_name(ColumnSchema::formula("T", ColumnType::Number, "1")));
    assert!(found[0].2.contains("is a table's name too"), "{found:?}");
    let found = problems(base().with_name(ColumnSchema::data("N", ColumnType::Number)));
    assert!(found[0].2.contains("has no formula"), "{found:?}");
    let found = problems(base().with_name(ColumnSchema::formula(
        "N",
        ColumnType::Number,
        "thisRow.[A]",
    )));
    assert_eq!(found[0].0, "(names).N");
    assert_eq!(found[0].1, ErrorKind::UnknownName);
    assert!(found[0].2.contains("no row"), "{found:?}");
    let found =
        problems(base().with_name(ColumnSchema::formula("N", ColumnType::Number, r#""text""#)));
    assert_eq!(found[0].1, ErrorKind::TypeMismatch, "{found:?}");
    // Names that read each other in a circle hold the cycle error.
    let wb = Workbook::new(
        &base()
            .with_name(ColumnSchema::formula("X", ColumnType::Number, "[Y] + 1"))
            .with_name(ColumnSchema::formula("Y", ColumnType::Number, "[X] + 1")),
        clock(),
    )
    .unwrap();
    let x = wb.name_value(wb.name_id("X").unwrap()).unwrap();
    assert!(
        matches!(x, Value::Error(e) if e.kind == ErrorKind::Cycle),
        "{x:?}"
    );
}

#[cfg(feature = "files")]
#[test]
fn names_go_to_table_files_and_come_back() {
    use csip_engine::schema_from_files;
    let schema = schema();
    let files = schema.to_table_files().unwrap();
    assert_eq!(files[0].path, "00_names.toml");
    assert!(
        files[0]
            .text
            .contains("[[names]]\nname = \"Total_ARR\"\ntype = \"currency\"\nformula = 'Sum([Accounts].[ARR])'"),
        "{}",
        files[0].text
    );
    let read = schema_from_files(&files).unwrap();
    let plain = |s: &Schema| {
        s.names
            .iter()
            .map(|n| (n.name.clone(), n.ty.clone(), n.formula.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(plain(&read), plain(&schema));
    let wb = Workbook::new(&read, clock()).unwrap();
    assert_eq!(wb.names().len(), 3);

    // A file of names only needs no table name; any other file does.
    let bad =
        csip_engine::SourceFile::new("x.toml", "[[columns]]\nname = \"A\"\ntype = \"text\"\n");
    let e = schema_from_files(&[bad]).unwrap_err();
    assert!(
        e.to_string().contains("starts with the table's `name"),
        "{e}"
    );
}

#[test]
fn a_reload_keeps_names_and_their_values() {
    let f = fixture();
    let t = f.wb.table_id("Accounts").unwrap();
    let rows: Vec<_> =
        f.wb.rows(t)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    *r,
                    f.wb.value(f.name, *r).unwrap().clone(),
                    f.wb.value(f.arr, *r).unwrap().clone(),
                )
            })
            .collect();
    let again =
        f.wb.reload_with(|r| {
            for (id, name, arr) in rows {
                r.row(t, id, vec![(f.name, name), (f.arr, arr)])?;
            }
            Ok::<(), csip_engine::LoadError>(())
        })
        .unwrap();
    assert_eq!(named(&again, "Total_ARR"), Value::from(2_000_000));
    assert!(again.differences_from_full_recalc().is_empty());
}
