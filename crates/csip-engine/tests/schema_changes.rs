//! Schema changes at run time: a table or column added, a formula changed,
//! a table or column renamed (formulas and views follow), a column removed —
//! each validated, answered with the cells it computed, undoable, and leaving
//! the workbook equal to one built from the new schema and recalculated.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnId, ColumnSchema, ColumnType, FieldSchema, FormulaText, RowId, Schema,
    SchemaChange, TableId, TableSchema, Transaction, TransactionErrorKind, Value, ViewSchema,
    Workbook,
};

fn clock() -> Clock {
    Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

fn schema() -> Schema {
    let mut view = ViewSchema::new("Big deals", "Deals");
    view.filter = Some(FormulaText::new("[Amount] > 100"));
    view.fields = vec![
        FieldSchema::column("Title"),
        FieldSchema::computed("Owner's total", "[Owner].[Total]"),
    ];
    Schema::new()
        .with_table(
            TableSchema::new("People")
                .with_column(
                    ColumnSchema::data("Name", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::formula(
                    "Total",
                    ColumnType::Number,
                    "Filter([Deals], [Owner] = thisRow).[Amount].Sum()",
                )),
        )
        .with_table(
            TableSchema::new("Deals")
                .with_column(ColumnSchema::data("Title", ColumnType::Text))
                .with_column(ColumnSchema::data("Amount", ColumnType::Number))
                .with_column(ColumnSchema::data(
                    "Owner",
                    ColumnType::People {
                        table: "People".into(),
                        multiple: false,
                    },
                ))
                .with_column(ColumnSchema::formula(
                    "Label",
                    ColumnType::Text,
                    "[Title] & \" [Amount] \" & [Amount]",
                )),
        )
        .with_view(view)
}

struct F {
    wb: Workbook,
    people: TableId,
    deals: TableId,
    amount: ColumnId,
    total: ColumnId,
    label: ColumnId,
}

fn fixture() -> F {
    let mut wb = Workbook::new(&schema(), clock()).unwrap();
    let people = wb.table_id("People").unwrap();
    let deals = wb.table_id("Deals").unwrap();
    let c = |t, n| wb.column_id(t, n).unwrap();
    let (name, total) = (c(people, "Name"), c(people, "Total"));
    let (title, amount, owner, label) = (
        c(deals, "Title"),
        c(deals, "Amount"),
        c(deals, "Owner"),
        c(deals, "Label"),
    );
    wb.import(vec![
        (
            people,
            vec![vec![(name, "Kari".into())], vec![(name, "Ola".into())]],
        ),
        (
            deals,
            vec![
                vec![
                    (title, "A".into()),
                    (amount, Value::from(50)),
                    (owner, "Kari".into()),
                ],
                vec![
                    (title, "B".into()),
                    (amount, Value::from(200)),
                    (owner, "Kari".into()),
                ],
                vec![
                    (title, "C".into()),
                    (amount, Value::from(300)),
                    (owner, "Ola".into()),
                ],
            ],
        ),
    ])
    .unwrap();
    F {
        wb,
        people,
        deals,
        amount,
        total,
        label,
    }
}

fn change(wb: &mut Workbook, c: SchemaChange) -> csip_engine::ChangeSet {
    wb.apply(Transaction::new().change_schema(c)).unwrap()
}

/// A row's cells, by column id.
type Cells = Vec<(ColumnId, Value)>;

/// Every cell of every visible column, by id, and the rows.
fn state(wb: &Workbook) -> Vec<(TableId, RowId, Cells)> {
    let mut out = Vec::new();
    for t in wb.tables() {
        for &r in wb.rows(t).unwrap() {
            let cells = wb
                .columns(t)
                .unwrap()
                .iter()
                .map(|c| (*c, wb.value(*c, r).ok().cloned().unwrap_or_default()))
                .collect();
            out.push((t, r, cells));
        }
    }
    out
}

/// The workbook agrees with a full recalculation, and with a workbook built
/// afresh from its schema holding its data.
fn consistent(wb: &Workbook) {
    assert!(wb.differences_from_full_recalc().is_empty());
    let fresh = Workbook::new(wb.schema(), clock()).unwrap();
    for t in wb.tables() {
        let name = wb.table_name(t).unwrap();
        let ft = fresh.table_id(name).unwrap();
        let names: Vec<&str> = wb
            .columns(t)
            .unwrap()
            .iter()
            .map(|c| wb.column_name(*c).unwrap())
            .collect();
        let fnames: Vec<&str> = fresh
            .columns(ft)
            .unwrap()
            .iter()
            .map(|c| fresh.column_name(*c).unwrap())
            .collect();
        assert_eq!(
            names, fnames,
            "`{name}`: the schema describes the columns in order"
        );
    }
}

#[test]
fn a_formula_column_added_is_computed_and_old_ids_stay() {
    let mut f = fixture();
    let ids_before: Vec<ColumnId> = f.wb.columns(f.deals).unwrap().to_vec();
    let changes = change(
        &mut f.wb,
        SchemaChange::AddColumn {
            table: f.deals,
            column: ColumnSchema::formula("Doubled", ColumnType::Number, "[Amount] * 2"),
        },
    );
    let doubled = f.wb.column_id(f.deals, "Doubled").unwrap();
    assert!(!ids_before.contains(&doubled), "a new id");
    assert_eq!(
        &f.wb.columns(f.deals).unwrap()[..ids_before.len()],
        ids_before.as_slice()
    );
    let rows = f.wb.rows(f.deals).unwrap().to_vec();
    assert_eq!(changes.in_column(doubled).count(), 3);
    let c = changes.get(doubled, rows[1]).unwrap();
    assert_eq!((c.old.clone(), c.new.clone()), (None, Value::from(400)));
    assert!(changes.schema.is_some());
    // A data column starts Blank and takes writes at once.
    change(
        &mut f.wb,
        SchemaChange::AddColumn {
            table: f.deals,
            column: ColumnSchema::data("Stage", ColumnType::Text),
        },
    );
    let stage = f.wb.column_id(f.deals, "Stage").unwrap();
    assert_eq!(f.wb.value(stage, rows[0]).ok(), Some(&Value::Blank));
    f.wb.apply(Transaction::new().set(stage, rows[0], "Won"))
        .unwrap();
    // Edits after the change are incremental as usual.
    let edit =
        f.wb.apply(Transaction::new().set(f.amount, rows[0], 60))
            .unwrap();
    assert_eq!(edit.get(doubled, rows[0]).unwrap().new, Value::from(120));
    consistent(&f.wb);
}

#[test]
fn a_table_added_reads_the_others() {
    let mut f = fixture();
    let changes = change(
        &mut f.wb,
        SchemaChange::AddTable(
            TableSchema::new("Targets")
                .with_column(ColumnSchema::data("Year", ColumnType::Number))
                .with_column(ColumnSchema::formula(
                    "All_Deals",
                    ColumnType::Number,
                    "[Deals].[Amount].Sum()",
                )),
        ),
    );
    assert!(changes.changes.is_empty(), "no rows yet");
    let targets = f.wb.table_id("Targets").unwrap();
    let year = f.wb.column_id(targets, "Year").unwrap();
    let all = f.wb.column_id(targets, "All_Deals").unwrap();
    let row =
        f.wb.apply(Transaction::new().insert(targets, vec![(year, Value::from(2027))]))
            .unwrap()
            .inserted[0]
            .1;
    assert_eq!(f.wb.value(all, row).ok(), Some(&Value::from(550)));
    consistent(&f.wb);
}

#[test]
fn a_changed_formula_recomputes_its_column_and_what_reads_it() {
    let mut f = fixture();
    let kari = f.wb.rows(f.people).unwrap()[0];
    let changes = change(
        &mut f.wb,
        SchemaChange::SetFormula {
            column: f.total,
            formula: "Filter([Deals], [Owner] = thisRow).[Amount].Max()".into(),
        },
    );
    assert_eq!(
        changes.get(f.total, kari).unwrap().old,
        Some(Value::from(250))
    );
    assert_eq!(changes.get(f.total, kari).unwrap().new, Value::from(200));
    assert_eq!(f.wb.value(f.total, kari).ok(), Some(&Value::from(200)));
    // The view's field reads it.
    let view = f.wb.view("Big deals", &[]).unwrap();
    assert_eq!(view.rows().next().unwrap().values[1], Value::from(200));
    // A formula that does not bind is refused, naming the problem; nothing changes.
    let before = state(&f.wb);
    let e =
        f.wb.apply(Transaction::new().change_schema(SchemaChange::SetFormula {
            column: f.total,
            formula: "[Amonut] + 1".into(),
        }))
        .unwrap_err();
    assert_eq!(e.kind, TransactionErrorKind::Schema);
    assert!(e.message.contains("Amonut"), "{e}");
    assert_eq!(state(&f.wb), before);
    consistent(&f.wb);
}

#[test]
fn renames_are_followed_by_formulas_views_and_relations() {
    let mut f = fixture();
    let before = state(&f.wb);
    change(
        &mut f.wb,
        SchemaChange::RenameColumn {
            column: f.amount,
            name: "Value".into(),
        },
    );
    change(
        &mut f.wb,
        SchemaChange::RenameTable {
            table: f.people,
            name: "Team".into(),
        },
    );
    assert_eq!(state(&f.wb), before, "no value changes");
    assert_eq!(f.wb.column_id(f.deals, "Value").ok(), Some(f.amount));
    assert_eq!(f.wb.table_id("Team").ok(), Some(f.people));
    assert_eq!(
        f.wb.formula(f.total).unwrap(),
        Some("Filter([Deals], [Owner] = thisRow).[Value].Sum()")
    );
    // Text inside a string is text, not a name.
    assert_eq!(
        f.wb.formula(f.label).unwrap(),
        Some("[Title] & \" [Amount] \" & [Value]")
    );
    let schema = f.wb.schema();
    let deals = schema.tables.iter().find(|t| t.name == "Deals").unwrap();
    let owner = deals.columns.iter().find(|c| c.name == "Owner").unwrap();
    assert!(matches!(&owner.ty, ColumnType::People { table, .. } if table == "Team"));
    let view = &schema.views[0];
    assert_eq!(view.filter.as_ref().unwrap().text, "[Value] > 100");
    // The view still evaluates, through its renamed names.
    assert_eq!(f.wb.view("Big deals", &[]).unwrap().row_count(), 2);
    // Edits keep flowing through the renamed column.
    let a = f.wb.rows(f.deals).unwrap()[0];
    let kari = f.wb.rows(f.people).unwrap()[0];
    let edit = f.wb.apply(Transaction::new().set(f.amount, a, 70)).unwrap();
    assert_eq!(edit.get(f.total, kari).unwrap().new, Value::from(270));
    consistent(&f.wb);
}

#[test]
fn a_column_something_reads_cannot_be_removed_and_one_nothing_reads_can() {
    let mut f = fixture();
    let e = f
        .wb
        .apply(Transaction::new().change_schema(SchemaChange::RemoveColumn { column: f.amount }))
        .unwrap_err();
    assert_eq!(e.kind, TransactionErrorKind::Schema);
    for reader in [
        "`People`.`Total`",
        "`Deals`.`Label`",
        "the view `Big deals`",
    ] {
        assert!(e.message.contains(reader), "names {reader}: {e}");
    }
    // A column nothing reads goes, and its id is refused from then on.
    change(
        &mut f.wb,
        SchemaChange::AddColumn {
            table: f.deals,
            column: ColumnSchema::data("Notes", ColumnType::Text),
        },
    );
    let notes = f.wb.column_id(f.deals, "Notes").unwrap();
    let row = f.wb.rows(f.deals).unwrap()[0];
    f.wb.apply(Transaction::new().set(notes, row, "call back"))
        .unwrap();
    change(&mut f.wb, SchemaChange::RemoveColumn { column: notes });
    assert_eq!(f.wb.column_id(f.deals, "Notes").ok(), None);
    assert_eq!(f.wb.value(notes, row).ok(), None);
    let e =
        f.wb.apply(Transaction::new().set(notes, row, "x"))
            .unwrap_err();
    assert_eq!(e.kind, TransactionErrorKind::UnknownColumn);
    assert!(e.message.contains("removed"), "{e}");
    // A new column of the same name is a new id.
    change(
        &mut f.wb,
        SchemaChange::AddColumn {
            table: f.deals,
            column: ColumnSchema::data("Notes", ColumnType::Text),
        },
    );
    assert_ne!(f.wb.column_id(f.deals, "Notes").ok(), Some(notes));
    consistent(&f.wb);
}

#[test]
fn names_that_would_mean_two_things_and_mixed_transactions_are_refused() {
    let mut f = fixture();
    for (c, words) in [
        (
            SchemaChange::AddColumn {
                table: f.deals,
                column: ColumnSchema::data("People", ColumnType::Text),
            },
            "there is a table `People`",
        ),
        (
            SchemaChange::RenameTable {
                table: f.people,
                name: "Amount".into(),
            },
            "has a column `Amount`",
        ),
        (
            SchemaChange::RenameColumn {
                column: f.amount,
                name: "Title".into(),
            },
            "has a column `Title` already",
        ),
    ] {
        let e = f.wb.apply(Transaction::new().change_schema(c)).unwrap_err();
        assert!(e.message.contains(words), "{e}");
    }
    let row = f.wb.rows(f.deals).unwrap()[0];
    let e =
        f.wb.apply(
            Transaction::new()
                .set(f.amount, row, 1)
                .change_schema(SchemaChange::RemoveColumn { column: f.label }),
        )
        .unwrap_err();
    assert!(e.message.contains("changes nothing else"), "{e}");
}

#[test]
fn schema_changes_undo_and_redo_whole() {
    let mut f = fixture();
    let feed = f.wb.subscribe();
    let (before, schema_before) = (state(&f.wb), f.wb.schema().clone());
    f.wb.apply(
        Transaction::new()
            .change_schema(SchemaChange::AddColumn {
                table: f.deals,
                column: ColumnSchema::formula("Tax", ColumnType::Number, "[Amount] / 4"),
            })
            .change_schema(SchemaChange::RenameColumn {
                column: f.amount,
                name: "Gross".into(),
            })
            .change_schema(SchemaChange::SetFormula {
                column: f.total,
                formula: "Filter([Deals], [Owner] = thisRow).[Tax].Sum()".into(),
            }),
    )
    .unwrap();
    let (after, schema_after) = (state(&f.wb), f.wb.schema().clone());
    let tax = f.wb.column_id(f.deals, "Tax").unwrap();
    let undone = f.wb.undo().unwrap().unwrap();
    assert_eq!(f.wb.schema(), &schema_before);
    assert_eq!(state(&f.wb), before);
    assert_eq!(f.wb.column_id(f.deals, "Tax").ok(), None);
    assert!(undone.schema.is_some());
    consistent(&f.wb);
    f.wb.redo().unwrap().unwrap();
    assert_eq!(f.wb.schema(), &schema_after);
    assert_eq!(state(&f.wb), after);
    assert_eq!(
        f.wb.column_id(f.deals, "Tax").ok(),
        Some(tax),
        "the same id again"
    );
    consistent(&f.wb);
    let causes: Vec<_> = feed.try_iter().map(|c| c.cause).collect();
    assert_eq!(
        causes,
        [
            csip_engine::ChangeCause::Schema,
            csip_engine::ChangeCause::Undo,
            csip_engine::ChangeCause::Redo
        ]
    );
}

#[test]
fn a_whole_new_schema_keeps_what_it_names_and_computes_only_what_changed() {
    let mut f = fixture();
    let before = state(&f.wb);
    let mut new = schema();
    // A column added, a formula changed, a view added, Label removed.
    let deals = &mut new.tables[1];
    deals.columns.retain(|c| c.name != "Label");
    deals
        .columns
        .push(ColumnSchema::data("Stage", ColumnType::Text));
    new.tables[0].columns[1].formula =
        Some("Filter([Deals], [Owner] = thisRow).[Amount].Sum() * 2".into());
    new.views.push(ViewSchema::new("All deals", "Deals"));
    new.views[0].fields.retain(|f| f.name != "Label");
    let changes = change(&mut f.wb, SchemaChange::SetSchema(new));
    // Ids stay; only Total was computed again (Stage is new and blank).
    assert_eq!(f.wb.table_id("Deals").unwrap(), f.deals);
    assert_eq!(f.wb.column_id(f.deals, "Amount").unwrap(), f.amount);
    assert!(f.wb.column_name(f.label).is_err(), "Label is removed");
    let computed: std::collections::HashSet<_> =
        changes.changes.iter().map(|c| c.cell.column).collect();
    assert_eq!(computed.into_iter().collect::<Vec<_>>(), [f.total]);
    let kari = f.wb.rows(f.people).unwrap()[0];
    assert_eq!(f.wb.value(f.total, kari).unwrap(), &Value::from(500));
    assert_eq!(f.wb.views().len(), 2);
    assert!(f.wb.differences_from_full_recalc().is_empty());
    f.wb.undo().unwrap().unwrap();
    assert_eq!(state(&f.wb), before);
}

#[test]
fn a_new_definition_of_a_data_column_must_fit_its_cells() {
    let mut f = fixture();
    let retyped = |ty: ColumnType, required: bool| {
        let mut new = schema();
        let amount = &mut new.tables[1].columns[1];
        amount.ty = ty;
        amount.required = required;
        SchemaChange::SetSchema(new)
    };
    // Every amount fits a slider up to 1,000: taken.
    let slider = ColumnType::Slider {
        min: 0.into(),
        max: 1000.into(),
    };
    change(&mut f.wb, retyped(slider, false));
    // Not one up to 100: refused at the first cell that does not fit, by row id.
    let small = ColumnType::Slider {
        min: 0.into(),
        max: 100.into(),
    };
    let refused =
        f.wb.apply(Transaction::new().change_schema(retyped(small, false)))
            .unwrap_err();
    assert_eq!(refused.kind, TransactionErrorKind::Schema);
    assert!(
        refused.message.contains("`Deals`.`Amount` row id 2"),
        "{refused}"
    );
    // Required with a blank amount: refused.
    let deals = f.deals;
    let title = f.wb.column_id(deals, "Title").unwrap();
    f.wb.apply(Transaction::new().insert(deals, vec![(title, "D".into())]))
        .unwrap();
    let refused =
        f.wb.apply(Transaction::new().change_schema(retyped(ColumnType::Number, true)))
            .unwrap_err();
    assert_eq!(refused.kind, TransactionErrorKind::Required, "{refused}");
    // A formula column does not become a data column in place.
    let mut new = schema();
    new.tables[1].columns[3].formula = None;
    let refused =
        f.wb.apply(Transaction::new().change_schema(SchemaChange::SetSchema(new)))
            .unwrap_err();
    assert!(
        refused.message.contains("does not become a data column"),
        "{refused}"
    );
    assert!(f.wb.differences_from_full_recalc().is_empty());
}
