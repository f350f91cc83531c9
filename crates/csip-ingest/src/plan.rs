//! A report read against the workbook: every row's account and metric
//! found (or the metric created, when the mapping allows it), every
//! complaint gathered, and one transaction that upserts them all — or the
//! list of bad rows and no transaction.

use crate::read::{Report, Row};
use crate::{BadRow, Rejected};
use csip_engine::{ColumnId, NaiveDateTime, RowId, TableId, Transaction, Value, Workbook};
use csip_workbook::lookup::{Accounts, fold, metric_settings, nearest};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// At most this many distinct unknown names are searched for a "did you
/// mean" (each search reads every account's name).
const NEAREST_SEARCHES: usize = 100;

/// A report's rows as one transaction.
#[derive(Debug)]
pub struct Plan {
    /// The upsert of every row, in one transaction.
    pub tx: Transaction,
    /// How many rows do what.
    pub counts: crate::Counts,
}

/// The columns of Platform_Health_Metrics a report writes.
struct Metrics {
    table: TableId,
    account: ColumnId,
    name: ColumnId,
    value: ColumnId,
    unit: Option<ColumnId>,
    measured: Option<ColumnId>,
    source: Option<ColumnId>,
}

impl Metrics {
    fn of(wb: &Workbook) -> Option<Metrics> {
        let table = wb.table_id("Platform_Health_Metrics").ok()?;
        let col = |name: &str| wb.column_id(table, name).ok();
        Some(Metrics {
            table,
            account: col("Account")?,
            name: col("Metric_Name")?,
            value: col("Current_Value")?,
            unit: col("Unit"),
            measured: col("Last_Measured"),
            source: col("Data_Source"),
        })
    }
}

/// An account's metrics by name: as written, and folded (built on the
/// first name not found as written).
struct Names {
    exact: HashMap<std::sync::Arc<str>, RowId>,
    folded: Option<HashMap<String, RowId>>,
}

impl Names {
    /// Where two rows share a name, the first (lowest id) is found.
    fn of(wb: &Workbook, m: &Metrics, accounts: TableId, account: RowId) -> Names {
        let mut exact: HashMap<std::sync::Arc<str>, RowId> = HashMap::new();
        for (c, r) in wb.references_to(accounts, account) {
            if c != m.account {
                continue;
            }
            if let Ok(Value::Text(name)) = wb.value(m.name, r) {
                let slot = exact.entry(name.clone()).or_insert(r);
                *slot = (*slot).min(r);
            }
        }
        Names {
            exact,
            folded: None,
        }
    }

    fn folded(&mut self) -> &HashMap<String, RowId> {
        let exact = &self.exact;
        self.folded.get_or_insert_with(|| {
            let mut folded: HashMap<String, RowId> = HashMap::new();
            for (k, r) in exact {
                let slot = folded.entry(fold(k)).or_insert(*r);
                *slot = (*slot).min(*r);
            }
            folded
        })
    }
}

/// Which metric a row writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target {
    Existing(RowId),
    /// A new metric of an account: its name (interned).
    New(RowId, u32),
}

impl Report {
    /// Reads the report against `wb`: every row's account (by Account_Name
    /// or Account_ID, case and spacing aside) and metric (by name, of that
    /// account) found, a metric the account lacks created when
    /// `create_metrics` (unless its name is a near miss of one it has), each
    /// value checked against its metric. `now` is Last_Measured where the
    /// report gives no time; `data_source` is written to Data_Source.
    ///
    /// # Errors
    ///
    /// Every bad row, with its line, column and reason: the cells that did
    /// not read ([`crate::read`]), an unknown account or metric (with the
    /// nearest name), a percent for a metric not measured in `%`, the same
    /// metric twice with different values.
    pub fn plan(
        &self,
        wb: &Workbook,
        create_metrics: bool,
        now: NaiveDateTime,
        data_source: &str,
    ) -> Result<Plan, Rejected> {
        let mut bad = self.bad.clone();
        let (Some(accounts), Some(m)) = (Accounts::new(wb), Metrics::of(wb)) else {
            bad.push(BadRow {
                line: 0,
                column: String::new(),
                reason: "this workbook has no Account_Master or Platform_Health_Metrics table to ingest into".into(),
            });
            return Err(Rejected::new(bad, self.read));
        };
        let header = |f| self.columns.header(f).to_string();
        let account_header = header(crate::Field::Account);
        let metric_header = header(crate::Field::MetricName);
        let value_header = header(crate::Field::CurrentValue);

        // Each distinct account text once.
        let mut account_of: HashMap<u32, Option<RowId>> = HashMap::new();
        let mut searched = 0usize;
        // Each account's metrics, by folded name, for the accounts named.
        let mut metrics_of: HashMap<RowId, Names> = HashMap::new();
        let mut folded_metric: HashMap<u32, String> = HashMap::new();
        let mut seen: HashMap<Target, (u64, Option<Value>)> =
            HashMap::with_capacity(self.rows.len());
        let mut accepted: Vec<(Target, &Row, Value)> = Vec::with_capacity(self.rows.len());
        let mut repeated = 0usize;
        for row in &self.rows {
            let account = *account_of
                .entry(row.account)
                .or_insert_with(|| accounts.find(self.text(row.account)));
            let Some(account) = account else {
                let name = self.text(row.account);
                let hint = if searched < NEAREST_SEARCHES {
                    searched += 1;
                    accounts.nearest(name)
                } else {
                    None
                };
                bad.push(BadRow {
                    line: row.line,
                    column: account_header.clone(),
                    reason: match hint {
                        Some(n) => format!("there is no account “{name}”; did you mean “{n}”?"),
                        None => format!(
                            "there is no account “{name}” (give its Account_Name or Account_ID)"
                        ),
                    },
                });
                continue;
            };
            let known = metrics_of
                .entry(account)
                .or_insert_with(|| Names::of(wb, &m, accounts.table(), account));
            let metric_text = self.text(row.metric);
            let found = match known.exact.get(metric_text.trim()) {
                Some(&r) => Some(r),
                None => {
                    let folded = folded_metric
                        .entry(row.metric)
                        .or_insert_with(|| fold(metric_text));
                    known.folded().get(folded.as_str()).copied()
                }
            };
            let target = match found {
                Some(r) => Target::Existing(r),
                None => {
                    let name = self.text(row.metric);
                    let account_name = wb.display(&Value::Row(accounts.table(), account));
                    let near = nearest(known.exact.keys().map(|k| k.to_string()), &fold(name));
                    if let Some(near) = near {
                        bad.push(BadRow {
                            line: row.line,
                            column: metric_header.clone(),
                            reason: format!(
                                "{account_name} has no metric “{name}”; did you mean “{near}”?"
                            ),
                        });
                        continue;
                    }
                    if !create_metrics {
                        bad.push(BadRow {
                            line: row.line,
                            column: metric_header.clone(),
                            reason: format!(
                                "{account_name} has no metric “{name}”, and this mapping creates none (set create_metrics = true in it to create new metrics)"
                            ),
                        });
                        continue;
                    }
                    Target::New(account, row.metric)
                }
            };
            // A percent only for a metric measured in %.
            let value = match row.value {
                None => Value::Blank,
                Some(n) => {
                    if n.percent
                        && let Target::Existing(r) = target
                        && let Some(unit_col) = m.unit
                        && let Ok(Value::Text(unit)) = wb.value(unit_col, r)
                        && !unit.trim().is_empty()
                        && unit.trim() != "%"
                    {
                        bad.push(BadRow {
                            line: row.line,
                            column: value_header.clone(),
                            reason: format!(
                                "{}% is a percent, and “{}” is measured in {}",
                                n.value,
                                self.text(row.metric),
                                unit.trim()
                            ),
                        });
                        continue;
                    }
                    Value::Number(n.value)
                }
            };
            match seen.entry(target) {
                Entry::Occupied(first) => {
                    let (line, v) = first.get();
                    if v.as_ref() != Some(&value) {
                        bad.push(BadRow {
                            line: row.line,
                            column: value_header.clone(),
                            reason: format!(
                                "“{}” of “{}” is also on line {line}, with another value",
                                self.text(row.metric),
                                self.text(row.account)
                            ),
                        });
                    } else {
                        repeated += 1;
                    }
                    continue;
                }
                Entry::Vacant(slot) => {
                    slot.insert((row.line, Some(value.clone())));
                }
            }
            accepted.push((target, row, value));
        }
        if !bad.is_empty() {
            return Err(Rejected::new(bad, self.read));
        }

        // New metrics take their settings from the same metric elsewhere.
        let needs_like = accepted.iter().any(|(t, ..)| matches!(t, Target::New(..)));
        let mut like: HashMap<String, RowId> = HashMap::new();
        if needs_like {
            for &r in wb.rows(m.table).unwrap_or_default() {
                let name = wb
                    .value(m.name, r)
                    .map(|v| wb.display(v))
                    .unwrap_or_default();
                like.entry(fold(&name)).or_insert(r);
            }
        }
        let source = m.source.map(|c| (c, Value::from(data_source)));
        let (mut updated, mut created) = (0, 0);
        let mut tx = Transaction::new();
        for (target, row, value) in accepted {
            let measured = Value::DateTime(row.measured.unwrap_or(now));
            match target {
                Target::Existing(r) => {
                    updated += 1;
                    tx = tx.set(m.value, r, value);
                    if let Some(c) = m.measured {
                        tx = tx.set(c, r, measured);
                    }
                }
                Target::New(account, metric) => {
                    created += 1;
                    let name = self.text(metric).trim();
                    let mut values = vec![
                        (m.account, Value::Row(accounts.table(), account)),
                        (m.name, Value::from(name)),
                        (m.value, value),
                    ];
                    if let Some(c) = m.measured {
                        values.push((c, measured));
                    }
                    if let Some((c, v)) = &source {
                        values.push((*c, v.clone()));
                    }
                    if let Some(&like) = like.get(&fold(name)) {
                        values.extend(metric_settings(wb, like));
                    }
                    if let (Some(c), Some(unit)) = (m.unit, row.unit) {
                        values.retain(|(col, _)| *col != c);
                        values.push((c, Value::from(self.text(unit))));
                    }
                    tx = tx.insert(m.table, values);
                }
            }
        }
        Ok(Plan {
            tx,
            counts: crate::Counts {
                rows: self.read,
                updated,
                created,
                repeated,
                accounts: metrics_of.len(),
                extra_columns: self.columns.extra.clone(),
            },
        })
    }
}
