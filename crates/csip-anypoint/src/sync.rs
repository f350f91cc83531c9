//! An account's APIs and metrics, fetched from Anypoint, into the workbook
//! in one transaction: API_Portfolio upserted by API_ID (a new API flagged
//! `Needs_Manual_Mapping`, one gone from Exchange flagged too, never
//! deleted), its metric columns, and the account's Platform_Health_Metrics
//! rows linked to a synced API. Only cells whose value changes are written:
//! a repeated sync with nothing new changes nothing and commits nothing.

use crate::client::{Asset, Metrics};
use csip_engine::{ColumnId, Decimal, NaiveDateTime, RowId, TableId, Transaction, Value, Workbook};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// How much a sync does (the blueprint's `Sync_Scope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The API catalog: API_Portfolio rows, new ones flagged.
    ApisOnly,
    /// And each API's 30-day metrics in its API_Portfolio columns.
    ApisAndMetrics,
    /// And the account's Platform_Health_Metrics rows linked to its APIs,
    /// and APIs gone from Exchange flagged.
    FullSync,
}

impl Scope {
    /// As the blueprint writes it.
    pub fn name(self) -> &'static str {
        match self {
            Scope::ApisOnly => "APIs Only",
            Scope::ApisAndMetrics => "APIs + Metrics",
            Scope::FullSync => "Full Sync",
        }
    }

    /// Whether metrics are fetched.
    pub fn metrics(self) -> bool {
        self != Scope::ApisOnly
    }
}

impl FromStr for Scope {
    type Err = String;

    /// `APIs Only`, `APIs + Metrics`, `Full Sync` (case and spacing aside;
    /// `apis`, `metrics`, `full` too).
    fn from_str(s: &str) -> Result<Scope, String> {
        let k: String = s
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        match k.as_str() {
            "apisonly" | "apis" => Ok(Scope::ApisOnly),
            "apismetrics" | "metrics" => Ok(Scope::ApisAndMetrics),
            "fullsync" | "full" => Ok(Scope::FullSync),
            _ => Err(format!(
                "“{s}” is not a sync scope; give APIs Only, APIs + Metrics or Full Sync"
            )),
        }
    }
}

/// What an account's sync found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// APIs of the account in Exchange.
    pub synced: usize,
    /// Of them, new to the workbook.
    pub new: usize,
    /// APIs the workbook has for the account that Exchange no longer lists.
    pub gone: Vec<String>,
    /// Metric cells written (API_Portfolio and Platform_Health_Metrics).
    pub metrics_updated: usize,
    /// What was skipped, and why.
    pub skipped: Vec<(String, String)>,
}

impl Summary {
    /// One line: "12 APIs synced, 2 new, 1 gone, 30 metrics updated, 1 skipped".
    pub fn line(&self) -> String {
        format!(
            "{} APIs synced, {} new, {} gone from Exchange, {} metrics updated, {} skipped",
            self.synced,
            self.new,
            self.gone.len(),
            self.metrics_updated,
            self.skipped.len()
        )
    }
}

/// Why an account cannot be synced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The workbook lacks what the sync writes.
    #[error("{0}")]
    Workbook(String),
}

/// The columns the sync reads and writes.
struct Columns {
    apis: TableId,
    api_id: ColumnId,
    name: ColumnId,
    account: ColumnId,
    description: Option<ColumnId>,
    layer: Option<ColumnId>,
    environment: Option<ColumnId>,
    version: Option<ColumnId>,
    response: Option<ColumnId>,
    monthly: Option<ColumnId>,
    error_rate: Option<ColumnId>,
    last_sync: Option<ColumnId>,
    manual: ColumnId,
}

impl Columns {
    fn of(wb: &Workbook) -> Result<Columns, SyncError> {
        let missing = |what: &str| {
            SyncError::Workbook(format!(
                "the workbook has no {what}; the Anypoint sync writes API_Portfolio (run `csip upgrade` to the CSIP table files)"
            ))
        };
        let apis = wb
            .table_id("API_Portfolio")
            .map_err(|_| missing("API_Portfolio table"))?;
        let col = |n: &str| wb.column_id(apis, n).ok();
        Ok(Columns {
            apis,
            api_id: col("API_ID").ok_or_else(|| missing("API_Portfolio.API_ID column"))?,
            name: col("API_Name").ok_or_else(|| missing("API_Portfolio.API_Name column"))?,
            account: col("Account").ok_or_else(|| missing("API_Portfolio.Account column"))?,
            description: col("Description"),
            layer: col("API_Layer"),
            environment: col("Environment"),
            version: col("Version"),
            response: col("Avg_Response_Time_ms"),
            monthly: col("Monthly_Transactions"),
            error_rate: col("Error_Rate_Percent"),
            last_sync: col("Last_Sync_From_Anypoint"),
            manual: col("Needs_Manual_Mapping").ok_or_else(|| {
                missing("API_Portfolio.Needs_Manual_Mapping column (an additive change)")
            })?,
        })
    }
}

/// The layer an asset id's suffix names (`-eapi`, `-papi`, `-sapi`).
fn layer(asset_id: &str) -> Option<&'static str> {
    let id = asset_id.to_ascii_lowercase();
    if id.ends_with("eapi") {
        Some("Experience")
    } else if id.ends_with("papi") {
        Some("Process")
    } else if id.ends_with("sapi") {
        Some("System")
    } else {
        None
    }
}

fn number(x: f64, places: u32) -> Value {
    Decimal::from_f64_retain(x)
        .map(|d| Value::Number(d.round_dp(places).normalize()))
        .unwrap_or(Value::Blank)
}

/// A change to `tx`, only when it changes the cell; counts it.
fn put(
    wb: &Workbook,
    tx: Transaction,
    column: Option<ColumnId>,
    row: RowId,
    value: Value,
    changed: &mut usize,
) -> Transaction {
    let Some(c) = column else {
        return tx;
    };
    let same = wb
        .value(c, row)
        .is_ok_and(|v| csip_engine::values_equal(v, &value));
    if same {
        return tx;
    }
    *changed += 1;
    tx.set(c, row, value)
}

/// The sync of `account` (a row of Account_Master) from what Anypoint
/// answered, as one transaction (empty when nothing changes) and its
/// summary. `metrics` is `None` for [`Scope::ApisOnly`]; `days` the
/// window the metrics cover (30).
///
/// # Errors
///
/// The workbook lacks API_Portfolio or a column the sync needs.
pub fn plan(
    wb: &Workbook,
    account: RowId,
    assets: &[Asset],
    metrics: Option<&Metrics>,
    days: u32,
    scope: Scope,
    now: NaiveDateTime,
) -> Result<(Transaction, Summary), SyncError> {
    let c = Columns::of(wb)?;
    let accounts = wb
        .table_id("Account_Master")
        .map_err(|_| SyncError::Workbook("the workbook has no Account_Master table".into()))?;
    let mut summary = Summary::default();
    // The account's APIs by API_ID.
    let mine: BTreeMap<String, RowId> = wb
        .references_to(accounts, account)
        .into_iter()
        .filter(|(col, _)| *col == c.account)
        .filter_map(|(_, r)| match wb.value(c.api_id, r) {
            Ok(Value::Text(id)) => Some((id.to_string(), r)),
            _ => None,
        })
        .collect();
    // Every API_ID of the workbook (another account's API is not taken over).
    let others: BTreeSet<String> = wb
        .rows(c.apis)
        .unwrap_or_default()
        .iter()
        .filter_map(|&r| match wb.value(c.api_id, r) {
            Ok(Value::Text(id)) if !mine.contains_key(&**id) => Some(id.to_string()),
            _ => None,
        })
        .collect();
    let mut tx = Transaction::new();
    let mut synced_rows: BTreeMap<String, RowId> = BTreeMap::new();
    let stamp = Value::DateTime(now);
    for asset in assets {
        if others.contains(&asset.asset_id) {
            summary.skipped.push((
                asset.asset_id.clone(),
                "another account's API_Portfolio row has this API_ID".into(),
            ));
            continue;
        }
        summary.synced += 1;
        let per_api = metrics.and_then(|m| m.per_api.get(&asset.asset_id));
        let metric_values = per_api.map(|m| {
            (
                m.avg_response_ms.map_or(Value::Blank, |ms| number(ms, 1)),
                number(m.monthly_volume(days), 0),
                m.error_rate_percent()
                    .map_or(Value::Blank, |p| number(p, 2)),
            )
        });
        match mine.get(&asset.asset_id) {
            Some(&row) => {
                synced_rows.insert(asset.asset_id.clone(), row);
                let mut changed = 0;
                tx = put(
                    wb,
                    tx,
                    Some(c.name),
                    row,
                    Value::from(asset.name.as_str()),
                    &mut changed,
                );
                tx = put(
                    wb,
                    tx,
                    c.version,
                    row,
                    Value::from(asset.version.as_str()),
                    &mut changed,
                );
                if let Some(d) = &asset.description {
                    tx = put(
                        wb,
                        tx,
                        c.description,
                        row,
                        Value::from(d.as_str()),
                        &mut changed,
                    );
                }
                if let (true, Some((response, monthly, errors))) = (scope.metrics(), metric_values)
                {
                    let mut m = 0;
                    tx = put(wb, tx, c.response, row, response, &mut m);
                    tx = put(wb, tx, c.monthly, row, monthly, &mut m);
                    tx = put(wb, tx, c.error_rate, row, errors, &mut m);
                    summary.metrics_updated += m;
                    changed += m;
                }
                if changed > 0 {
                    tx = put(wb, tx, c.last_sync, row, stamp.clone(), &mut 0);
                }
            }
            None => {
                summary.new += 1;
                let mut values = vec![
                    (c.api_id, Value::from(asset.asset_id.as_str())),
                    (c.name, Value::from(asset.name.as_str())),
                    (c.account, Value::Row(accounts, account)),
                    (c.manual, Value::Bool(true)),
                ];
                let mut add = |col: Option<ColumnId>, v: Value| {
                    if let Some(col) = col
                        && !v.is_blank()
                    {
                        values.push((col, v));
                    }
                };
                add(c.version, Value::from(asset.version.as_str()));
                add(
                    c.description,
                    asset
                        .description
                        .as_deref()
                        .map_or(Value::Blank, Value::from),
                );
                add(
                    c.layer,
                    layer(&asset.asset_id).map_or(Value::Blank, Value::from),
                );
                add(c.environment, Value::from("Production"));
                add(c.last_sync, stamp.clone());
                if let (true, Some((response, monthly, errors))) = (scope.metrics(), metric_values)
                {
                    summary.metrics_updated += [&response, &monthly, &errors]
                        .iter()
                        .filter(|v| !v.is_blank())
                        .count();
                    add(c.response, response);
                    add(c.monthly, monthly);
                    add(c.error_rate, errors);
                }
                tx = tx.insert(c.apis, values);
            }
        }
    }
    if let Some(m) = metrics {
        for (api, why) in &m.unreached {
            summary.skipped.push((api.clone(), why.clone()));
        }
    }
    if scope == Scope::FullSync {
        // Gone from Exchange: flagged for a person to look at, never deleted.
        let listed: BTreeSet<&str> = assets.iter().map(|a| a.asset_id.as_str()).collect();
        for (id, &row) in &mine {
            if !listed.contains(id.as_str()) {
                summary.gone.push(id.clone());
                tx = put(wb, tx, Some(c.manual), row, Value::Bool(true), &mut 0);
            }
        }
        // The account's health metrics linked to a synced API.
        if let Some(m) = metrics {
            let (t, updated) =
                health_metrics(wb, tx, accounts, account, &synced_rows, m, days, now);
            tx = t;
            summary.metrics_updated += updated;
        }
    }
    Ok((tx, summary))
}

/// Platform_Health_Metrics rows of `account` linked to a synced API and
/// sourced from Anypoint Monitoring: a latency in ms gets the average
/// response time, an error rate the error rate, an availability 100 minus
/// it, a throughput in calls/s the mean rate; Last_Measured `now`.
#[allow(clippy::too_many_arguments)]
fn health_metrics(
    wb: &Workbook,
    mut tx: Transaction,
    accounts: TableId,
    account: RowId,
    synced: &BTreeMap<String, RowId>,
    metrics: &Metrics,
    days: u32,
    now: NaiveDateTime,
) -> (Transaction, usize) {
    let Ok(t) = wb.table_id("Platform_Health_Metrics") else {
        return (tx, 0);
    };
    let col = |n: &str| wb.column_id(t, n).ok();
    let (Some(acc), Some(api), Some(name), Some(value)) = (
        col("Account"),
        col("Linked_API"),
        col("Metric_Name"),
        col("Current_Value"),
    ) else {
        return (tx, 0);
    };
    let (unit, source, measured) = (col("Unit"), col("Data_Source"), col("Last_Measured"));
    let by_row: BTreeMap<RowId, &String> = synced.iter().map(|(id, r)| (*r, id)).collect();
    let mut updated = 0;
    for (c, r) in wb.references_to(accounts, account) {
        if c != acc {
            continue;
        }
        if source.is_some_and(|s| {
            wb.value(s, r).map(|v| wb.display(v)).ok().as_deref() != Some("Anypoint Monitoring")
        }) {
            continue;
        }
        let Ok(Value::Row(_, linked)) = wb.value(api, r) else {
            continue;
        };
        let Some(m) = by_row.get(linked).and_then(|id| metrics.per_api.get(*id)) else {
            continue;
        };
        let text = |c: Option<ColumnId>| {
            c.and_then(|c| wb.value(c, r).ok())
                .map(|v| wb.display(v).to_lowercase())
                .unwrap_or_default()
        };
        let (metric, unit) = (text(Some(name)), text(unit));
        let new = if unit == "ms" {
            m.avg_response_ms.map(|ms| number(ms, 0))
        } else if metric.contains("error") {
            m.error_rate_percent().map(|p| number(p, 2))
        } else if metric.contains("availability") {
            m.error_rate_percent().map(|p| number(100.0 - p, 2))
        } else if unit == "calls/s" {
            Some(number(m.monthly_volume(days) / (30.0 * 86_400.0), 1))
        } else {
            None
        };
        let Some(new) = new else { continue };
        let mut changed = 0;
        tx = put(wb, tx, Some(value), r, new, &mut changed);
        if changed > 0 {
            updated += 1;
            tx = put(wb, tx, measured, r, Value::DateTime(now), &mut 0);
        }
    }
    (tx, updated)
}
