//! Embedding the engine: a schema built in code, rows loaded, a transaction
//! applied, the change set read, and a view evaluated.
//!
//! `cargo run -p csip-examples --example embed`

use csip_engine::{
    Clock, ColumnSchema, ColumnType, FormulaText, NaiveDate, Schema, SortKey, TableSchema,
    Transaction, Value, ViewSchema, Workbook,
};
use std::error::Error;

pub(crate) fn main() -> Result<(), Box<dyn Error>> {
    // Two linked tables: accounts, and the scores measured for them.
    let mut schema = Schema::new()
        .with_table(
            TableSchema::new("Accounts")
                .with_column(
                    ColumnSchema::data("Name", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::data("Renewal", ColumnType::Date))
                .with_column(ColumnSchema::formula(
                    "Days_Left",
                    ColumnType::Number,
                    "[Renewal] - Today()",
                ))
                .with_column(ColumnSchema::formula(
                    "Health",
                    ColumnType::Number,
                    "Round(Average(Filter([Scores], [Account] = thisRow).[Score]), 1)",
                ))
                .with_column(ColumnSchema::formula(
                    "Risk",
                    ColumnType::Text,
                    r#"If([Health] < 60 AND [Days_Left] < 90, "Critical", "OK")"#,
                )),
        )
        .with_table(
            TableSchema::new("Scores")
                .with_column(ColumnSchema::data(
                    "Account",
                    ColumnType::Relation {
                        table: "Accounts".into(),
                        multiple: false,
                    },
                ))
                .with_column(ColumnSchema::data("Score", ColumnType::Number)),
        );
    schema.views.push(ViewSchema {
        name: "At risk first".into(),
        table: "Accounts".into(),
        filter: Some(FormulaText::new(r#"[Risk] = "Critical""#)),
        sort: vec![SortKey {
            field: "Days_Left".into(),
            descending: false,
        }],
        ..ViewSchema::default()
    });

    // The host owns the clock; the engine reads only what it is given.
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).ok_or("bad date")?;
    let mut wb = Workbook::new(&schema, Clock::on(today))?;
    let accounts = wb.table_id("Accounts")?;
    let scores = wb.table_id("Scores")?;
    let col = |wb: &Workbook, t, n: &str| wb.column_id(t, n);
    let (name, renewal, health) = (
        col(&wb, accounts, "Name")?,
        col(&wb, accounts, "Renewal")?,
        col(&wb, accounts, "Health")?,
    );
    let (account, score) = (col(&wb, scores, "Account")?, col(&wb, scores, "Score")?);

    // Bulk load: relations may name their target by its display column.
    let ids = wb.import(vec![
        (
            accounts,
            vec![
                vec![(name, "Nordlys".into()), (renewal, "2027-01-10".into())],
                vec![(name, "Fjordtech".into()), (renewal, "2027-09-01".into())],
            ],
        ),
        (
            scores,
            vec![
                vec![(account, "Nordlys".into()), (score, Value::from(70))],
                vec![(account, "Nordlys".into()), (score, Value::from(62))],
                vec![(account, "Fjordtech".into()), (score, Value::from(88))],
            ],
        ),
    ])?;
    let nordlys = ids[0][0];
    println!("Nordlys health: {}", wb.display(wb.value(health, nordlys)?));

    // A transaction: all of it or none; the change set lists every changed cell.
    let changes = wb.apply(Transaction::new().set(score, ids[1][1], 30))?;
    for change in &changes.changes {
        println!(
            "  {}.{}: {:?} → {}",
            wb.table_name(change.table)?,
            wb.column_name(change.cell.column)?,
            change.old.as_ref().map(|v| wb.display(v)),
            wb.display(&change.new)
        );
    }

    // A rejected transaction changes nothing and says why.
    if let Err(e) = wb.apply(Transaction::new().set(score, ids[1][1], "high")) {
        println!("rejected: {e}");
    }

    // Views are evaluated on demand.
    let view = wb.view("At risk first", &[])?;
    for row in view.rows() {
        println!("at risk: {}", wb.display(&row.values[0]));
    }
    Ok(())
}
