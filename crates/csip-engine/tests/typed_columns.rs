//! A formula column's declared type is enforced: a value it cannot hold is a
//! `type mismatch` error value in that cell, and what binding can know of it
//! before any row exists is a schema problem.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnSchema, ColumnType, ErrorKind, Schema, TableSchema, Transaction, Value, Workbook,
};

fn clock() -> Clock {
    Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

fn people() -> TableSchema {
    TableSchema::new("People").with_column(ColumnSchema::data("Name", ColumnType::Text))
}

fn deals(extra: ColumnSchema) -> Schema {
    Schema::new().with_table(people()).with_table(
        TableSchema::new("Deals")
            .with_column(ColumnSchema::data("Title", ColumnType::Text))
            .with_column(ColumnSchema::data("Amount", ColumnType::Number))
            .with_column(ColumnSchema::data("Closed", ColumnType::Date))
            .with_column(ColumnSchema::relation("Owner", "People"))
            .with_column(extra),
    )
}

/// A workbook of `deals(extra)` with one person and one deal; the deal's
/// `extra` cell and the transaction that sets its inputs.
fn one_deal(extra: ColumnSchema) -> (Workbook, csip_engine::ColumnId, csip_engine::RowId) {
    let name = extra.name.clone();
    let mut wb = Workbook::new(&deals(extra), clock()).unwrap();
    let (p, d) = (
        wb.table_id("People").unwrap(),
        wb.table_id("Deals").unwrap(),
    );
    let c = |t, n: &str| wb.column_id(t, n).unwrap();
    let (pname, title, amount, owner) =
        (c(p, "Name"), c(d, "Title"), c(d, "Amount"), c(d, "Owner"));
    let out = c(d, &name);
    wb.import(vec![
        (p, vec![vec![(pname, "Kari".into())]]),
        (
            d,
            vec![vec![
                (title, "A".into()),
                (amount, Value::from(50)),
                (owner, "Kari".into()),
            ]],
        ),
    ])
    .unwrap();
    let row = wb.rows(d).unwrap()[0];
    (wb, out, row)
}

fn mismatch(v: &Value) -> String {
    match v {
        Value::Error(e) if e.kind == ErrorKind::TypeMismatch => e.message.clone(),
        other => panic!("expected a type mismatch, got {other:?}"),
    }
}

#[test]
fn a_number_column_given_text_holds_a_type_mismatch() {
    let (wb, out, row) = one_deal(ColumnSchema::formula(
        "Double",
        ColumnType::Number,
        "[Title] & \"!\"",
    ));
    let message = mismatch(wb.value(out, row).unwrap());
    assert_eq!(
        message,
        "this column holds a number, but its formula gave text \"A!\""
    );
}

#[test]
fn the_mismatch_comes_and_goes_with_the_inputs() {
    // Text when there is a title, a number otherwise.
    let (mut wb, out, row) = one_deal(ColumnSchema::formula(
        "Size",
        ColumnType::Number,
        "If([Title] = \"A\", \"big\", [Amount])",
    ));
    mismatch(wb.value(out, row).unwrap());
    let d = wb.table_id("Deals").unwrap();
    let title = wb.column_id(d, "Title").unwrap();
    let changes = wb.apply(Transaction::new().set(title, row, "B")).unwrap();
    assert_eq!(wb.value(out, row).ok(), Some(&Value::from(50)));
    assert!(
        changes
            .changes
            .iter()
            .any(|c| c.cell.column == out && c.cell.row == row)
    );
    assert!(wb.differences_from_full_recalc().is_empty());
}

#[test]
fn a_list_of_one_is_its_item_and_an_empty_list_is_blank() {
    let (mut wb, out, row) = one_deal(ColumnSchema::formula(
        "Owner name",
        ColumnType::Text,
        "Filter([People], [Name] = thisRow.[Title]).[Name]",
    ));
    // No person is called "A": an empty list, held as Blank.
    assert_eq!(wb.value(out, row).ok(), Some(&Value::Blank));
    let d = wb.table_id("Deals").unwrap();
    let title = wb.column_id(d, "Title").unwrap();
    wb.apply(Transaction::new().set(title, row, "Kari"))
        .unwrap();
    assert_eq!(wb.value(out, row).ok(), Some(&Value::from("Kari")));
    assert!(wb.differences_from_full_recalc().is_empty());
}

#[test]
fn a_date_column_holds_blank_for_an_empty_text_branch() {
    let (mut wb, out, row) = one_deal(ColumnSchema::formula(
        "Follow up",
        ColumnType::Date,
        "If(IsBlank([Closed]), \"\", [Closed] + 14)",
    ));
    assert_eq!(wb.value(out, row).ok(), Some(&Value::Blank));
    let d = wb.table_id("Deals").unwrap();
    let closed = wb.column_id(d, "Closed").unwrap();
    wb.apply(Transaction::new().set(closed, row, "2026-11-20"))
        .unwrap();
    assert_eq!(
        wb.value(out, row).ok(),
        Some(&Value::Date(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
        ))
    );
}

#[test]
fn a_date_column_given_a_number_says_so() {
    // Blank counts as 0 in arithmetic: without a date, the sum is a number.
    let (wb, out, row) = one_deal(ColumnSchema::formula(
        "Follow up",
        ColumnType::Date,
        "[Closed] + 14",
    ));
    assert_eq!(
        mismatch(wb.value(out, row).unwrap()),
        "this column holds a date, but its formula gave the number 14"
    );
}

#[test]
fn a_relation_column_holds_rows_of_its_table_only() {
    let (wb, out, row) = one_deal(ColumnSchema::formula(
        "Owner again",
        ColumnType::Relation {
            table: "People".into(),
            multiple: false,
        },
        "Filter([People], [Name] = \"Kari\")",
    ));
    let p = wb.table_id("People").unwrap();
    assert!(matches!(wb.value(out, row).ok(), Some(Value::Row(t, _)) if *t == p));
}

#[test]
fn rows_of_another_table_are_a_schema_problem() {
    let err = Workbook::new(
        &deals(ColumnSchema::formula(
            "Wrong",
            ColumnType::Relation {
                table: "People".into(),
                multiple: true,
            },
            "Filter([Deals], [Amount] > 10)",
        )),
        clock(),
    )
    .unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.kind, ErrorKind::TypeMismatch);
    assert_eq!(p.column.as_deref(), Some("Wrong"));
    assert!(
        p.message.contains("rows of `Deals`") && p.message.contains("relates to `People`"),
        "{}",
        p.message
    );
}

#[test]
fn rows_in_a_column_that_is_no_relation_are_a_schema_problem() {
    let err = Workbook::new(
        &deals(ColumnSchema::formula("Who", ColumnType::Text, "[Owner]")),
        clock(),
    )
    .unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.kind, ErrorKind::TypeMismatch);
    assert!(
        p.message.contains("make it a relation to `People`"),
        "{}",
        p.message
    );
}

#[test]
fn a_literal_of_another_type_is_a_schema_problem() {
    let err = Workbook::new(
        &deals(ColumnSchema::formula(
            "Flag",
            ColumnType::Checkbox,
            "\"yes\"",
        )),
        clock(),
    )
    .unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.kind, ErrorKind::TypeMismatch);
    assert_eq!(
        p.message,
        "this column holds true or false, but its formula gave text \"yes\""
    );
}
