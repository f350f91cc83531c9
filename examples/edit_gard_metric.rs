//! Loads the CSIP workbook with its pilot data, edits one of Gard AS's health
//! metrics, and prints every cell that changed and the new Health_Score.
//!
//! `cargo run -p csip-examples --example edit_gard_metric`

use csip_engine::{Transaction, Value, Workbook};
use std::error::Error;

pub(crate) fn main() -> Result<(), Box<dyn Error>> {
    let wb = &mut csip_workbook::pilot(csip_workbook::sample_today())?;
    let accounts = wb.table_id("Account_Master")?;
    let metrics = wb.table_id("Platform_Health_Metrics")?;
    let col = |wb: &Workbook, table, name: &str| wb.column_id(table, name);
    let (health, account) = (
        col(wb, accounts, "Health_Score")?,
        col(wb, metrics, "Account")?,
    );
    let (metric_name, current) = (
        col(wb, metrics, "Metric_Name")?,
        col(wb, metrics, "Current_Value")?,
    );

    let gard = *wb
        .find_rows(accounts, "Gard AS")?
        .first()
        .ok_or("no Gard AS")?;
    let latency = *wb
        .rows(metrics)?
        .iter()
        .find(|r| {
            wb.value(account, **r).ok() == Some(&Value::Row(accounts, gard))
                && wb.value(metric_name, **r).ok() == Some(&Value::from("Broker API p95 latency"))
        })
        .ok_or("no latency metric for Gard AS")?;

    println!(
        "Gard AS: Health_Score {}, broker API p95 latency {} ms",
        wb.format_value(Some(health), wb.value(health, gard)?),
        wb.display(wb.value(current, latency)?)
    );
    println!("The latency fix ships: 780 ms → 520 ms.\n");

    let changes = wb.apply(Transaction::new().set(current, latency, 520))?;
    println!("{} cells changed:", changes.changes.len());
    for change in &changes.changes {
        let column = change.cell.column;
        let old = change
            .old
            .as_ref()
            .map_or(String::new(), |v| wb.format_value(Some(column), v));
        println!(
            "  {}.{} ({}): {} → {}",
            wb.table_name(change.table)?,
            wb.column_name(column)?,
            wb.display(&Value::Row(change.table, change.cell.row)),
            if old.is_empty() {
                "(blank)".to_string()
            } else {
                old
            },
            wb.format_value(Some(column), &change.new),
        );
    }
    println!(
        "\nGard AS: Health_Score {}",
        wb.format_value(Some(health), wb.value(health, gard)?)
    );
    Ok(())
}
