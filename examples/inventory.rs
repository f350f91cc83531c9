//! The engine in a service of its own (no CSIP workbook): an inventory of
//! products and stock movements, changed while it runs — a column added, a
//! formula changed, an edit undone, a named value changed — with every
//! commit read from the change feed.
//!
//! `cargo run -p csip-examples --example inventory`

use csip_engine::{
    ChangeCause, Clock, ColumnSchema, ColumnType, NaiveDate, Schema, SchemaChange, TableSchema,
    Transaction, Value, Workbook,
};
use std::error::Error;

pub(crate) fn main() -> Result<(), Box<dyn Error>> {
    let schema = Schema::new()
        .with_table(
            TableSchema::new("Products")
                .with_column(
                    ColumnSchema::data("SKU", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::data("Reorder_At", ColumnType::Number))
                .with_column(ColumnSchema::formula(
                    "On_Hand",
                    ColumnType::Number,
                    "Filter([Movements], [Product] = thisRow).[Quantity].Sum()",
                ))
                .with_column(ColumnSchema::formula(
                    "Status",
                    ColumnType::Text,
                    r#"If([On_Hand] <= [Reorder_At], "Reorder", "OK")"#,
                )),
        )
        .with_table(
            TableSchema::new("Movements")
                .with_column(ColumnSchema::relation("Product", "Products").required())
                .with_column(ColumnSchema::data("Quantity", ColumnType::Number))
                .with_column(ColumnSchema::data("Day", ColumnType::Date)),
        )
        // Named values and formulas: one value for the whole workbook.
        .with_name(ColumnSchema::formula("Cover_Days", ColumnType::Number, "7"))
        .with_name(ColumnSchema::formula(
            "Units_On_Hand",
            ColumnType::Number,
            "Sum([Products].[On_Hand])",
        ));
    let today = NaiveDate::from_ymd_opt(2026, 12, 4).ok_or("a date")?;
    let mut wb = Workbook::new(&schema, Clock::on(today))?;
    // Every commit from here on, in order: what a dashboard or a replica reads.
    let feed = wb.subscribe();

    let products = wb.table_id("Products")?;
    let movements = wb.table_id("Movements")?;
    let col = |t, name: &str| wb.column_id(t, name);
    let (sku, reorder_at, on_hand, status) = (
        col(products, "SKU")?,
        col(products, "Reorder_At")?,
        col(products, "On_Hand")?,
        col(products, "Status")?,
    );
    let (product, quantity, day) = (
        col(movements, "Product")?,
        col(movements, "Quantity")?,
        col(movements, "Day")?,
    );

    // Two products and their stock movements, as one transaction.
    let mut tx = Transaction::new();
    for (name, reorder) in [("BOLT-M6", 100), ("NUT-M6", 50)] {
        tx = tx.insert(
            products,
            vec![(sku, Value::from(name)), (reorder_at, Value::from(reorder))],
        );
    }
    for (name, qty) in [("BOLT-M6", 500), ("BOLT-M6", -420), ("NUT-M6", 300)] {
        tx = tx.insert(
            movements,
            vec![
                (product, Value::from(name)),
                (quantity, Value::from(qty)),
                (day, Value::Date(today)),
            ],
        );
    }
    let loaded = wb.apply(tx)?;
    let bolt = loaded.inserted[0].1;
    println!(
        "BOLT-M6: {} on hand, {}",
        wb.display(wb.value(on_hand, bolt)?),
        wb.display(wb.value(status, bolt)?)
    );

    // While running: a formula column added, and the status rule changed.
    let added = wb.apply(Transaction::new().change_schema(SchemaChange::AddColumn {
        table: products,
        column: ColumnSchema::formula("Days_Of_Cover", ColumnType::Number, "[On_Hand] / 20"),
    }))?;
    let cover = wb.column_id(products, "Days_Of_Cover")?;
    println!(
        "added Days_Of_Cover: {} cells computed; BOLT-M6 has {} days of cover",
        added.changes.len(),
        wb.display(wb.value(cover, bolt)?)
    );
    wb.apply(Transaction::new().change_schema(SchemaChange::SetFormula {
        column: status,
        formula: r#"If([Days_Of_Cover] < [Cover_Days], "Reorder", "OK")"#.into(),
    }))?;
    println!(
        "Status now reads Days_Of_Cover: BOLT-M6 {}",
        wb.display(wb.value(status, bolt)?)
    );

    // A mistaken movement, undone.
    let mistake = wb.apply(Transaction::new().insert(
        movements,
        vec![
            (product, Value::from("BOLT-M6")),
            (quantity, Value::from(-80)),
            (day, Value::Date(today)),
        ],
    ))?;
    println!(
        "after the mistake: BOLT-M6 {} on hand ({} cells changed)",
        wb.display(wb.value(on_hand, bolt)?),
        mistake.changes.len()
    );
    wb.undo()?;
    println!(
        "undone: BOLT-M6 {} on hand",
        wb.display(wb.value(on_hand, bolt)?)
    );

    // A named value changed: every status that reads it follows.
    let units = wb.name_id("Units_On_Hand")?;
    println!(
        "units on hand in all: {}",
        wb.display(wb.name_value(units)?)
    );
    let stricter = wb.apply(Transaction::new().change_schema(SchemaChange::SetFormula {
        column: wb.name_id("Cover_Days")?,
        formula: "3".into(),
    }))?;
    println!(
        "Cover_Days 7 → 3: BOLT-M6 {} ({} cells changed)",
        wb.display(wb.value(status, bolt)?),
        stricter.changes.len()
    );

    println!("the change feed:");
    for change in feed.try_iter() {
        let what = match change.cause {
            ChangeCause::Edit => "edit",
            ChangeCause::Undo => "undo",
            ChangeCause::Redo => "redo",
            ChangeCause::Schema => "schema change",
            ChangeCause::Import => "import",
            ChangeCause::Clock => "clock",
            _ => "other",
        };
        println!(
            "  version {}: {what}, {} cells, {} rows inserted, {} deleted",
            change.version,
            change.changes.changes.len(),
            change.changes.inserted.len(),
            change.changes.deleted.len()
        );
    }
    Ok(())
}
