//! What the benchmarks share: the synthetic CSIP portfolio at a size, the
//! cells they edit, and the SQLite baseline (the same data and the same
//! health-score arithmetic as SQL tables with indexes).
//!
//! Run them with `cargo bench -p csip-benches`; `CSIP_BENCH_SIZES=1000,10000,100000`
//! adds the 100,000-account portfolio (about 10 GB of memory while it loads).

use csip_engine::{ColumnId, NaiveDate, RowId, TableId, Value, Workbook};
use csip_workbook::synth::{self, SynthConfig};

/// The day the synthetic portfolio is built for.
pub fn today() -> NaiveDate {
    csip_workbook::sample_today()
}

/// The portfolio sizes to run, from `CSIP_BENCH_SIZES` (default 1,000 and 10,000 accounts).
pub fn sizes() -> Vec<usize> {
    std::env::var("CSIP_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1_000, 10_000])
}

/// The CSIP workbook with a synthetic portfolio of `accounts` accounts.
pub fn portfolio(accounts: usize) -> Workbook {
    match synth::workbook(&SynthConfig::new(accounts), today()) {
        Ok(wb) => wb,
        Err(e) => panic!("the synthetic portfolio does not load: {e}"),
    }
}

/// The ids a benchmark needs, looked up once.
#[derive(Clone, Debug)]
pub struct Cells {
    pub accounts: TableId,
    pub metrics: TableId,
    pub people: TableId,
    pub current_value: ColumnId,
    pub warning: ColumnId,
    pub critical: ColumnId,
    pub higher_is_better: ColumnId,
    pub arr: ColumnId,
    pub health: ColumnId,
    pub metric_rows: Vec<RowId>,
    pub account_rows: Vec<RowId>,
    pub first_csm: Value,
}

impl Cells {
    pub fn of(wb: &Workbook) -> Cells {
        let table = |n: &str| wb.table_id(n).unwrap_or_else(|e| panic!("{e}"));
        let (accounts, metrics, people) = (
            table("Account_Master"),
            table("Platform_Health_Metrics"),
            table("People_Team"),
        );
        let col = |t, n: &str| wb.column_id(t, n).unwrap_or_else(|e| panic!("{e}"));
        Cells {
            accounts,
            metrics,
            people,
            current_value: col(metrics, "Current_Value"),
            warning: col(metrics, "Warning_Threshold"),
            critical: col(metrics, "Critical_Threshold"),
            higher_is_better: col(metrics, "Higher_Is_Better"),
            arr: col(accounts, "ARR"),
            health: col(accounts, "Health_Score"),
            metric_rows: wb.rows(metrics).unwrap_or_default().to_vec(),
            account_rows: wb.rows(accounts).unwrap_or_default().to_vec(),
            first_csm: Value::Row(people, wb.rows(people).unwrap_or_default()[0]),
        }
    }

    /// The `i`-th metric of a fixed, spread-out order (a large prime stride).
    pub fn metric(&self, i: usize) -> RowId {
        self.metric_rows[(i.wrapping_mul(7919)) % self.metric_rows.len()]
    }

    /// Edit `i` of a metric-edit run: the `i`-th metric, and a value in the
    /// next health band (healthy, then warning, then critical, then healthy
    /// again), so that every edit changes the metric's Health_Status and,
    /// through it, the scores above it: the full path of dependents, however
    /// many runs came before.
    pub fn metric_edit(&self, wb: &Workbook, i: usize) -> (RowId, Value) {
        use csip_engine::Decimal;
        let row = self.metric(i);
        let number = |c: ColumnId| wb.value(c, row).ok().and_then(Value::as_number);
        let (w, c) = (
            number(self.warning).unwrap_or(Decimal::from(600)),
            number(self.critical).unwrap_or(Decimal::from(900)),
        );
        let higher = matches!(
            wb.value(self.higher_is_better, row).ok(),
            Some(Value::Bool(true))
        );
        let band = match number(self.current_value) {
            None => 2,
            Some(v) if higher => usize::from(v <= w) + usize::from(v <= c),
            Some(v) => usize::from(v >= w) + usize::from(v >= c),
        };
        let jitter = Decimal::from(i % 7);
        let one = Decimal::ONE;
        let value = match ((band + 1) % 3, higher) {
            (0, false) => w - one - jitter,
            (1, false) => w + (c - w) / Decimal::from(2),
            (2, false) => c + jitter,
            (0, true) => w + one + jitter,
            (1, true) => c + (w - c) / Decimal::from(2),
            _ => c - jitter,
        };
        (row, Value::Number(value))
    }

    /// The `i`-th account of a fixed, spread-out order.
    pub fn account(&self, i: usize) -> RowId {
        self.account_rows[(i.wrapping_mul(7919)) % self.account_rows.len()]
    }
}

/// Percentiles of a set of durations, in microseconds.
pub fn percentiles(mut samples: Vec<std::time::Duration>) -> (f64, f64, f64) {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i.min(samples.len() - 1)].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.99), at(1.0))
}

/// The work the SQLite baseline does, and nothing else, as a csip workbook:
/// the inputs of the health score (metrics, outcomes, engagements, objectives)
/// and the formula columns that compute it, with the CSIP workbook's own
/// formula text and a copy of `wb`'s rows. A full recalculation of this
/// workbook is the like-for-like comparison with SQLite's.
pub fn health_only(wb: &Workbook) -> Workbook {
    use csip_engine::{ColumnSchema, ColumnType, RowValues, Schema, TableSchema};
    let table = |n: &str| wb.table_id(n).unwrap_or_else(|e| panic!("{e}"));
    let col = |t: TableId, n: &str| wb.column_id(t, n).unwrap_or_else(|e| panic!("{e}"));
    let formula = |t: TableId, n: &str, ty: ColumnType| {
        let text = wb
            .formula(col(t, n))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{n} has no formula"));
        ColumnSchema::formula(n, ty, text)
    };
    let account_relation = || ColumnType::Relation {
        table: "Account_Master".into(),
        multiple: false,
    };
    let (accounts, metrics, outcomes, engagements, objectives) = (
        table("Account_Master"),
        table("Platform_Health_Metrics"),
        table("Stakeholder_Outcomes"),
        table("Engagement_Log"),
        table("Strategic_Objectives"),
    );
    let number = || ColumnType::Number;
    // (table, its data columns and their types, its formula columns and their types)
    type Columns = Vec<(&'static str, ColumnType)>;
    let layout: Vec<(TableId, Columns, Columns)> = vec![
        (
            accounts,
            vec![("Account_ID", ColumnType::Text)],
            vec![
                ("Platform_Technical_Health", number()),
                ("Business_Value_Realization", number()),
                ("Stakeholder_Engagement", number()),
                ("Strategic_Alignment", number()),
                ("Health_Score", number()),
            ],
        ),
        (
            metrics,
            vec![
                ("Account", account_relation()),
                ("Metric_Category", ColumnType::Text),
                ("Current_Value", number()),
                ("Warning_Threshold", number()),
                ("Critical_Threshold", number()),
                ("Higher_Is_Better", ColumnType::Checkbox),
            ],
            vec![
                ("Health_Status", ColumnType::Text),
                ("Health_Status_Numeric", number()),
            ],
        ),
        (
            outcomes,
            vec![
                ("Account", account_relation()),
                ("Status", ColumnType::Text),
                ("Baseline_Value", number()),
                ("Current_Value", number()),
                ("Target_Value", number()),
            ],
            vec![("Target_Achievement_Percent", number())],
        ),
        (
            engagements,
            vec![
                ("Account", account_relation()),
                ("Engagement_Date", ColumnType::Date),
                ("Relationship_Depth_Score", number()),
            ],
            vec![],
        ),
        (
            objectives,
            vec![
                ("Account", account_relation()),
                ("Status", ColumnType::Text),
            ],
            vec![],
        ),
    ];
    let mut schema = Schema::new();
    for (t, data, formulas) in &layout {
        let mut ts = TableSchema::new(wb.table_name(*t).unwrap_or_default());
        for (name, ty) in data {
            ts = ts.with_column(ColumnSchema::data(*name, ty.clone()));
        }
        for (name, ty) in formulas {
            ts = ts.with_column(formula(*t, name, ty.clone()));
        }
        schema = schema.with_table(ts);
    }
    let mut out = Workbook::new(&schema, wb.clock())
        .unwrap_or_else(|e| panic!("the health-only schema: {e}"));
    // Accounts first, so that the other tables can point at their new rows.
    let mut account_map = std::collections::HashMap::new();
    for (t, data, _) in &layout {
        let target = out
            .table_id(wb.table_name(*t).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let columns: Vec<(ColumnId, ColumnId)> = data
            .iter()
            .map(|(name, _)| {
                (
                    col(*t, name),
                    out.column_id(target, name)
                        .unwrap_or_else(|e| panic!("{e}")),
                )
            })
            .collect();
        let rows: Vec<RowValues> = wb
            .rows(*t)
            .unwrap_or_default()
            .iter()
            .map(|&r| {
                columns
                    .iter()
                    .map(|&(from, to)| {
                        let value = match wb.value(from, r).ok() {
                            Some(Value::Row(_, a)) => {
                                account_map.get(a).cloned().unwrap_or(Value::Blank)
                            }
                            Some(v) => v.clone(),
                            None => Value::Blank,
                        };
                        (to, value)
                    })
                    .collect()
            })
            .collect();
        let ids = out
            .import(vec![(target, rows)])
            .unwrap_or_else(|e| panic!("copying {}: {e}", wb.table_name(*t).unwrap_or_default()));
        if *t == accounts {
            for (&from, &to) in wb.rows(accounts).unwrap_or_default().iter().zip(&ids[0]) {
                account_map.insert(from, Value::Row(target, to));
            }
        }
    }
    out
}

pub mod sqlite {
    //! The obvious alternative: the metrics, engagements, objectives and
    //! outcomes as SQLite tables with indexes, and the health score computed
    //! with indexed aggregate queries. A single edit is the UPDATE plus
    //! recomputing that account's health score; a full recalculation recomputes
    //! every account.

    use super::*;
    use rusqlite::{Connection, params};

    /// An in-memory SQLite database holding the portfolio's health-score inputs.
    #[derive(Debug)]
    pub struct Peer {
        pub conn: Connection,
        /// For each engine metric row, its SQL id and account id.
        pub metrics: Vec<(i64, i64)>,
        pub accounts: Vec<i64>,
        since: String,
    }

    const SCHEMA: &str = "
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, health REAL, pth REAL, bvr REAL, se REAL, sa REAL);
        CREATE TABLE metrics (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, category TEXT, value REAL,
                              warn REAL, crit REAL, higher INTEGER);
        CREATE INDEX metrics_account ON metrics(account, category);
        CREATE TABLE outcomes (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, status TEXT,
                               baseline REAL, current REAL, target REAL);
        CREATE INDEX outcomes_account ON outcomes(account);
        CREATE TABLE engagements (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, date TEXT, depth REAL);
        CREATE INDEX engagements_account ON engagements(account, date);
        CREATE TABLE objectives (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, status TEXT);
        CREATE INDEX objectives_account ON objectives(account);
    ";

    /// The health-score arithmetic of Account_Master for one account (`?1`),
    /// engagement window from `?2`.
    const RECOMPUTE_ONE: &str = "
        UPDATE accounts SET
          pth = (SELECT AVG(CASE WHEN value IS NULL THEN NULL
                            WHEN higher THEN CASE WHEN value <= crit THEN 20 WHEN value <= warn THEN 60 ELSE 100 END
                            ELSE CASE WHEN value >= crit THEN 20 WHEN value >= warn THEN 60 ELSE 100 END END)
                 FROM metrics WHERE account = ?1 AND category IN ('Performance', 'Reliability', 'Security')),
          bvr = (SELECT AVG(MAX(0, MIN(100, ROUND((current - baseline) * 100.0 / (target - baseline), 1))))
                 FROM outcomes WHERE account = ?1 AND status != 'Not Started'
                   AND current IS NOT NULL AND target != baseline),
          se = (SELECT AVG(depth) FROM engagements WHERE account = ?1 AND date >= ?2),
          sa = (SELECT CASE WHEN COUNT(*) > 0 THEN SUM(status IN ('On Track', 'Achieved')) * 100.0 / COUNT(*) END
                FROM objectives WHERE account = ?1)
        WHERE id = ?1;
    ";
    const HEALTH_ONE: &str =
        "UPDATE accounts SET health = COALESCE(pth, 0) * 0.35 + COALESCE(bvr, 0) * 0.30
                               + COALESCE(se, 0) * 0.20 + COALESCE(sa, 0) * 0.15 WHERE id = ?1";

    /// The same arithmetic for every account in one statement each.
    const RECOMPUTE_ALL: &str = "
        UPDATE accounts SET
          pth = (SELECT AVG(CASE WHEN value IS NULL THEN NULL
                            WHEN higher THEN CASE WHEN value <= crit THEN 20 WHEN value <= warn THEN 60 ELSE 100 END
                            ELSE CASE WHEN value >= crit THEN 20 WHEN value >= warn THEN 60 ELSE 100 END END)
                 FROM metrics WHERE account = accounts.id AND category IN ('Performance', 'Reliability', 'Security')),
          bvr = (SELECT AVG(MAX(0, MIN(100, ROUND((current - baseline) * 100.0 / (target - baseline), 1))))
                 FROM outcomes WHERE account = accounts.id AND status != 'Not Started'
                   AND current IS NOT NULL AND target != baseline),
          se = (SELECT AVG(depth) FROM engagements WHERE account = accounts.id AND date >= ?1),
          sa = (SELECT CASE WHEN COUNT(*) > 0 THEN SUM(status IN ('On Track', 'Achieved')) * 100.0 / COUNT(*) END
                FROM objectives WHERE account = accounts.id);
        UPDATE accounts SET health = COALESCE(pth, 0) * 0.35 + COALESCE(bvr, 0) * 0.30
                               + COALESCE(se, 0) * 0.20 + COALESCE(sa, 0) * 0.15;
    ";

    fn text(v: Option<&Value>) -> Option<String> {
        v.and_then(|v| v.as_text().map(str::to_string))
    }

    fn real(v: Option<&Value>) -> Option<f64> {
        v.and_then(|v| v.as_number())
            .map(|n| n.to_string().parse().unwrap_or(0.0))
    }

    impl Peer {
        /// Copies the health-score inputs of the workbook's portfolio into SQLite.
        pub fn from_workbook(wb: &Workbook) -> rusqlite::Result<Peer> {
            let conn = Connection::open_in_memory()?;
            conn.execute_batch(SCHEMA)?;
            let t = |n: &str| wb.table_id(n).unwrap_or_else(|e| panic!("{e}"));
            let c = |table, n: &str| wb.column_id(table, n).unwrap_or_else(|e| panic!("{e}"));
            let (accounts, metrics, outcomes, engagements, objectives) = (
                t("Account_Master"),
                t("Platform_Health_Metrics"),
                t("Stakeholder_Outcomes"),
                t("Engagement_Log"),
                t("Strategic_Objectives"),
            );
            let account_of = |table, r| match wb.value(c(table, "Account"), r).ok() {
                Some(Value::Row(_, a)) => i64::from(a.get()),
                _ => 0,
            };
            let tx = conn.unchecked_transaction()?;
            let mut peer_accounts = Vec::new();
            {
                let mut ins = tx.prepare("INSERT INTO accounts (id) VALUES (?1)")?;
                for &r in wb.rows(accounts).unwrap_or_default() {
                    let id = i64::from(r.get());
                    ins.execute(params![id])?;
                    peer_accounts.push(id);
                }
            }
            let mut peer_metrics = Vec::new();
            {
                let mut ins = tx.prepare(
                    "INSERT INTO metrics (id, account, category, value, warn, crit, higher) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for &r in wb.rows(metrics).unwrap_or_default() {
                    let id = i64::from(r.get());
                    let account = account_of(metrics, r);
                    let get = |n: &str| wb.value(c(metrics, n), r).ok();
                    ins.execute(params![
                        id,
                        account,
                        text(get("Metric_Category")),
                        real(get("Current_Value")),
                        real(get("Warning_Threshold")),
                        real(get("Critical_Threshold")),
                        matches!(get("Higher_Is_Better"), Some(Value::Bool(true))),
                    ])?;
                    peer_metrics.push((id, account));
                }
            }
            {
                let mut ins = tx.prepare(
                    "INSERT INTO outcomes (id, account, status, baseline, current, target) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for &r in wb.rows(outcomes).unwrap_or_default() {
                    let get = |n: &str| wb.value(c(outcomes, n), r).ok();
                    ins.execute(params![
                        i64::from(r.get()),
                        account_of(outcomes, r),
                        text(get("Status")),
                        real(get("Baseline_Value")),
                        real(get("Current_Value")),
                        real(get("Target_Value")),
                    ])?;
                }
            }
            {
                let mut ins = tx.prepare(
                    "INSERT INTO engagements (id, account, date, depth) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for &r in wb.rows(engagements).unwrap_or_default() {
                    let get = |n: &str| wb.value(c(engagements, n), r).ok();
                    let date = match get("Engagement_Date") {
                        Some(Value::Date(d)) => d.to_string(),
                        _ => String::new(),
                    };
                    ins.execute(params![
                        i64::from(r.get()),
                        account_of(engagements, r),
                        date,
                        real(get("Relationship_Depth_Score")),
                    ])?;
                }
            }
            {
                let mut ins =
                    tx.prepare("INSERT INTO objectives (id, account, status) VALUES (?1, ?2, ?3)")?;
                for &r in wb.rows(objectives).unwrap_or_default() {
                    ins.execute(params![
                        i64::from(r.get()),
                        account_of(objectives, r),
                        text(wb.value(c(objectives, "Status"), r).ok()),
                    ])?;
                }
            }
            tx.commit()?;
            let since = (wb.clock().today - csip_engine::TimeDelta::days(90)).to_string();
            let peer = Peer {
                conn,
                metrics: peer_metrics,
                accounts: peer_accounts,
                since,
            };
            peer.recompute_all()?;
            Ok(peer)
        }

        /// A metric's value changes; its account's health score is recomputed.
        pub fn edit_metric(&self, metric: usize, value: f64) -> rusqlite::Result<()> {
            let (id, account) = self.metrics[metric];
            let tx = self.conn.unchecked_transaction()?;
            tx.prepare_cached("UPDATE metrics SET value = ?2 WHERE id = ?1")?
                .execute(params![id, value])?;
            tx.prepare_cached(RECOMPUTE_ONE)?
                .execute(params![account, self.since])?;
            tx.prepare_cached(HEALTH_ONE)?.execute(params![account])?;
            tx.commit()
        }

        /// Every account's health score recomputed.
        pub fn recompute_all(&self) -> rusqlite::Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            let (first, second) = RECOMPUTE_ALL.split_once(';').unwrap_or((RECOMPUTE_ALL, ""));
            tx.execute(first, params![self.since])?;
            tx.execute(second.trim().trim_end_matches(';'), [])?;
            tx.commit()
        }

        /// An account's health score as SQLite computed it.
        pub fn health(&self, account: i64) -> rusqlite::Result<Option<f64>> {
            self.conn.query_row(
                "SELECT health FROM accounts WHERE id = ?1",
                params![account],
                |r| r.get(0),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

    use super::*;

    /// The SQLite baseline does the same work as the workbook: every account's
    /// health score agrees, before and after an edit.
    #[test]
    fn sqlite_baseline_computes_the_same_health_scores() {
        let mut wb = portfolio(40);
        let cells = Cells::of(&wb);
        let peer = sqlite::Peer::from_workbook(&wb).unwrap();
        let agree = |wb: &Workbook| {
            for (k, &row) in cells.account_rows.iter().enumerate() {
                let ours: f64 = match wb.value(cells.health, row).ok() {
                    Some(Value::Number(n)) => n.to_string().parse().unwrap(),
                    Some(Value::Blank) | None => 0.0,
                    other => panic!("health of account {k}: {other:?}"),
                };
                let theirs = peer.health(peer.accounts[k]).unwrap().unwrap();
                assert!(
                    (ours - theirs).abs() < 1e-6,
                    "account {k}: engine {ours}, SQLite {theirs}"
                );
            }
        };
        agree(&wb);
        for i in 0..25 {
            let index = (i * 7919) % cells.metric_rows.len();
            let value = 200 + (i * 337) % 900;
            wb.apply(csip_engine::Transaction::new().set(
                cells.current_value,
                cells.metric_rows[index],
                Value::from(value as i64),
            ))
            .unwrap();
            peer.edit_metric(index, value as f64).unwrap();
        }
        agree(&wb);

        // Every benchmark edit changes the metric's health status.
        let status = wb.column_id(cells.metrics, "Health_Status").unwrap();
        for i in 0..60 {
            let (row, value) = cells.metric_edit(&wb, i);
            let changes = wb
                .apply(csip_engine::Transaction::new().set(cells.current_value, row, value))
                .unwrap();
            assert!(
                changes
                    .changes
                    .iter()
                    .any(|c| c.cell.column == status && c.cell.row == row),
                "edit {i} left the status as it was"
            );
        }

        // The like-for-like workbook computes the same scores too.
        let small = health_only(&wb);
        let accounts = small.table_id("Account_Master").unwrap();
        let health = small.column_id(accounts, "Health_Score").unwrap();
        for (k, (&ours, &theirs)) in cells
            .account_rows
            .iter()
            .zip(small.rows(accounts).unwrap_or_default())
            .enumerate()
        {
            assert_eq!(
                wb.value(cells.health, ours).ok(),
                small.value(health, theirs).ok(),
                "account {k}"
            );
        }
    }
}
