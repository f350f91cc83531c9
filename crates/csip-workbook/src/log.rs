//! Automation_Logs: the row every automated run writes (an automation, an
//! ingestion, a sync), keyed by a run key so that a run is recognised when
//! it comes again. Shared by the adapters, so that every run logs alike.

use csip_engine::{NaiveDateTime, Transaction, Value, Workbook};

/// Whether Automation_Logs holds a run with this key, and its status.
pub fn already_logged(wb: &Workbook, key: &str) -> Option<String> {
    let logs = wb.table_id("Automation_Logs").ok()?;
    let key_col = wb.column_id(logs, "Run_Key").ok()?;
    let status = wb.column_id(logs, "Status").ok();
    wb.rows(logs).ok()?.iter().find_map(|&r| {
        matches!(wb.value(key_col, r), Ok(Value::Text(k)) if &**k == key).then(|| {
            status
                .and_then(|c| wb.value(c, r).ok())
                .map(|v| wb.display(v))
                .unwrap_or_default()
        })
    })
}

/// An Automation_Logs row (when the workbook has the table) added to `tx`:
/// what every run commits with its effects. `key` is its Run_Key.
#[allow(clippy::too_many_arguments)]
pub fn log_row(
    wb: &Workbook,
    tx: Transaction,
    automation: &str,
    key: &str,
    run_at: NaiveDateTime,
    status: &str,
    records: usize,
    message: &str,
    details: &str,
    duration_ms: u64,
) -> Transaction {
    let Ok(logs) = wb.table_id("Automation_Logs") else {
        return tx;
    };
    let mut values = Vec::new();
    let mut put = |name: &str, v: Value| {
        if let Ok(c) = wb.column_id(logs, name) {
            values.push((c, v));
        }
    };
    put("Automation", Value::from(automation));
    put("Run_At", Value::DateTime(run_at));
    put("Status", Value::from(status));
    put(
        "Records_Processed",
        Value::from(i64::try_from(records).unwrap_or(i64::MAX)),
    );
    put("Message", Value::from(message));
    if !details.is_empty() {
        put("Details", Value::from(details));
    }
    put(
        "Duration_ms",
        Value::from(i64::try_from(duration_ms).unwrap_or(i64::MAX)),
    );
    put("Run_Key", Value::from(key));
    tx.insert(logs, values)
}
