//! Incremental recalculation, asserted by what was recomputed (the trace), not
//! only by the values: an edit touches exactly the cells that depend on it.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    CellId, ChangeSet, Clock, ColumnId, ColumnSchema, ColumnType, RowId, Schema, TableId,
    TableSchema, Transaction, Value, Workbook,
};

fn day(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn relation(table: &str, multiple: bool) -> ColumnType {
    ColumnType::Relation {
        table: table.into(),
        multiple,
    }
}

struct Fixture {
    wb: Workbook,
    accounts: TableId,
    people: TableId,
    metrics: TableId,
}

impl Fixture {
    fn new() -> Fixture {
        let schema = Schema::new()
            .with_table(
                TableSchema::new("Accounts")
                    .with_column(ColumnSchema::formula(
                        "Account_ID",
                        ColumnType::Text,
                        r#""ACC-" & Format(thisRow.RowNumber(), "00000")"#,
                    ))
                    .with_column(ColumnSchema::data("Name", ColumnType::Text))
                    .with_column(ColumnSchema::data("ARR", ColumnType::Currency))
                    .with_column(ColumnSchema::data("Renewal", ColumnType::Date))
                    .with_column(ColumnSchema::formula(
                        "Health",
                        ColumnType::Number,
                        "Average(Filter([Metrics], [Account].[Account_ID] = thisRow.[Account_ID]).[Score])",
                    ))
                    .with_column(ColumnSchema::formula("Label", ColumnType::Text, r#"If([Health] < 50, "low", "ok")"#))
                    .with_column(ColumnSchema::formula("Days", ColumnType::Number, "[Renewal] - Today()")),
            )
            .with_table(
                TableSchema::new("People")
                    .with_column(ColumnSchema::data("Name", ColumnType::Text))
                    .with_column(ColumnSchema::data("Accounts", relation("Accounts", true)))
                    .with_column(ColumnSchema::formula("Total_ARR", ColumnType::Currency, "[Accounts].[ARR].Sum()")),
            )
            .with_table(
                TableSchema::new("Metrics")
                    .with_column(ColumnSchema::data("Account", relation("Accounts", false)))
                    .with_column(ColumnSchema::data("Score", ColumnType::Number))
                    .with_column(ColumnSchema::formula("Double", ColumnType::Number, "[Score] * 2")),
            );
        let mut wb = Workbook::new(&schema, Clock::on(day(2026, 11, 24))).unwrap();
        let accounts = wb.table_id("Accounts").unwrap();
        let people = wb.table_id("People").unwrap();
        let metrics = wb.table_id("Metrics").unwrap();
        let c = |wb: &Workbook, t, n| wb.column_id(t, n).unwrap();
        let (name, arr, renewal) = (
            c(&wb, accounts, "Name"),
            c(&wb, accounts, "ARR"),
            c(&wb, accounts, "Renewal"),
        );
        let (pname, pacc) = (c(&wb, people, "Name"), c(&wb, people, "Accounts"));
        let (acc, score) = (c(&wb, metrics, "Account"), c(&wb, metrics, "Score"));
        let account = |n: &str, a: i64, r: &str| {
            vec![
                (name, Value::from(n)),
                (arr, Value::from(a)),
                (renewal, Value::from(r)),
            ]
        };
        let metric = |a: &str, s: i64| vec![(acc, Value::from(a)), (score, Value::from(s))];
        wb.import(vec![
            (
                accounts,
                vec![
                    account("Gard", 100, "2027-03-01"),
                    account("Acme", 50, "2026-12-15"),
                    account("Nord", 70, "2027-06-01"),
                ],
            ),
            (
                people,
                vec![
                    vec![
                        (pname, Value::from("Kari")),
                        (
                            pacc,
                            Value::list(vec!["ACC-00001".into(), "ACC-00002".into()]),
                        ),
                    ],
                    vec![
                        (pname, Value::from("Ola")),
                        (pacc, Value::list(vec!["ACC-00003".into()])),
                    ],
                ],
            ),
            (
                metrics,
                vec![
                    metric("ACC-00001", 80),
                    metric("ACC-00001", 90),
                    metric("ACC-00002", 40),
                    metric("ACC-00003", 60),
                ],
            ),
        ])
        .unwrap();
        wb.set_trace(true);
        Fixture {
            wb,
            accounts,
            people,
            metrics,
        }
    }

    fn col(&self, table: TableId, name: &str) -> ColumnId {
        self.wb.column_id(table, name).unwrap()
    }

    fn row(&self, table: TableId, n: usize) -> RowId {
        self.wb.row_at(table, n).unwrap()
    }

    fn value(&self, table: TableId, column: &str, n: usize) -> Value {
        self.wb
            .value(self.col(table, column), self.row(table, n))
            .ok()
            .unwrap()
            .clone()
    }

    /// The visible cells recomputed since the last call, as `Table.Column#position`.
    fn recomputed(&mut self) -> Vec<String> {
        let trace: Vec<CellId> = self.wb.take_trace();
        let mut out: Vec<String> = trace
            .into_iter()
            .filter(|c| self.wb.column_name(c.column).is_ok()) // the engine's hidden key columns are not the caller's
            .map(|c| {
                let t = self.wb.column_table(c.column).unwrap();
                format!(
                    "{}.{}#{}",
                    self.wb.table_name(t).unwrap(),
                    self.wb.column_name(c.column).unwrap(),
                    self.wb.position(t, c.row).ok().unwrap_or(0)
                )
            })
            .collect();
        out.sort();
        out
    }

    fn apply(&mut self, tx: Transaction) -> ChangeSet {
        let changes = self.wb.apply(tx).unwrap();
        assert!(
            self.wb.differences_from_full_recalc().is_empty(),
            "incremental state differs from a full recalculation"
        );
        changes
    }
}

#[test]
fn a_metric_edit_recomputes_only_its_account() {
    let mut f = Fixture::new();
    assert_eq!(f.value(f.accounts, "Health", 1), Value::from(85));
    let score = f.col(f.metrics, "Score");
    let m1 = f.row(f.metrics, 1);
    let changes = f.apply(Transaction::new().set(score, m1, 40));
    assert_eq!(
        f.recomputed(),
        ["Accounts.Health#1", "Accounts.Label#1", "Metrics.Double#1"]
    );
    assert_eq!(f.value(f.accounts, "Health", 1), Value::from(65));
    let health = f.col(f.accounts, "Health");
    let change = changes.get(health, f.row(f.accounts, 1)).unwrap();
    assert_eq!(
        (change.old.clone(), change.new.clone()),
        (Some(Value::from(85)), Value::from(65))
    );
    // Label stayed "ok": recomputed, unchanged, so not in the change set.
    assert!(
        changes
            .get(f.col(f.accounts, "Label"), f.row(f.accounts, 1))
            .is_none()
    );
    assert_eq!(changes.changes.len(), 3, "{changes:?}");
}

#[test]
fn an_unrelated_edit_recomputes_nothing() {
    let mut f = Fixture::new();
    let name = f.col(f.accounts, "Name");
    let changes = f.apply(Transaction::new().set(name, f.row(f.accounts, 2), "Acme Corp"));
    assert_eq!(f.recomputed(), Vec::<String>::new());
    assert_eq!(changes.changes.len(), 1);
}

#[test]
fn an_unchanged_value_stops_propagation() {
    let mut f = Fixture::new();
    let score = f.col(f.metrics, "Score");
    let (m1, m2) = (f.row(f.metrics, 1), f.row(f.metrics, 2));
    // 80, 90 become 90, 80: the average stays 85, so Label is not recomputed.
    let changes = f.apply(Transaction::new().set(score, m1, 90).set(score, m2, 80));
    assert_eq!(
        f.recomputed(),
        ["Accounts.Health#1", "Metrics.Double#1", "Metrics.Double#2"]
    );
    assert!(
        changes
            .get(f.col(f.accounts, "Health"), f.row(f.accounts, 1))
            .is_none()
    );
}

#[test]
fn arr_edit_updates_only_the_people_who_hold_the_account() {
    let mut f = Fixture::new();
    let arr = f.col(f.accounts, "ARR");
    f.apply(Transaction::new().set(arr, f.row(f.accounts, 3), 75));
    assert_eq!(f.recomputed(), ["People.Total_ARR#2"]);
    assert_eq!(f.value(f.people, "Total_ARR", 2), Value::from(75));
    assert_eq!(f.value(f.people, "Total_ARR", 1), Value::from(150));
}

#[test]
fn moving_a_metric_recomputes_both_accounts() {
    let mut f = Fixture::new();
    let account = f.col(f.metrics, "Account");
    f.apply(Transaction::new().set(account, f.row(f.metrics, 3), "ACC-00003"));
    assert_eq!(
        f.recomputed(),
        [
            "Accounts.Health#2",
            "Accounts.Health#3",
            "Accounts.Label#2",
            "Accounts.Label#3"
        ]
    );
    assert_eq!(f.value(f.accounts, "Health", 2), Value::Blank);
    assert_eq!(f.value(f.accounts, "Health", 3), Value::from(50));
}

#[test]
fn inserting_a_metric_recomputes_its_account() {
    let mut f = Fixture::new();
    let (account, score) = (f.col(f.metrics, "Account"), f.col(f.metrics, "Score"));
    let changes = f.apply(Transaction::new().insert(
        f.metrics,
        vec![
            (account, Value::from("ACC-00002")),
            (score, Value::from(60)),
        ],
    ));
    assert_eq!(
        f.recomputed(),
        ["Accounts.Health#2", "Accounts.Label#2", "Metrics.Double#5"]
    );
    assert_eq!(f.value(f.accounts, "Health", 2), Value::from(50));
    assert_eq!(changes.inserted.len(), 1);
    let new_row = changes.inserted[0].1;
    let double = changes.get(f.col(f.metrics, "Double"), new_row).unwrap();
    assert_eq!(
        (double.old.clone(), double.new.clone()),
        (None, Value::from(120))
    );
}

#[test]
fn deleting_an_account_renumbers_later_ids_and_drops_references() {
    let mut f = Fixture::new();
    let changes = f.apply(Transaction::new().delete(f.accounts, f.row(f.accounts, 1)));
    assert_eq!(changes.deleted.len(), 1);
    // Acme and Nord move up: their ids, and so their metrics' keys, change.
    assert_eq!(
        f.value(f.accounts, "Account_ID", 1),
        Value::from("ACC-00001")
    );
    assert_eq!(f.value(f.accounts, "Name", 1), Value::from("Acme"));
    assert_eq!(f.value(f.accounts, "Health", 1), Value::from(40));
    assert_eq!(f.value(f.accounts, "Health", 2), Value::from(60));
    // Kari held Gard and Acme; she now holds Acme only.
    assert_eq!(f.value(f.people, "Total_ARR", 1), Value::from(50));
    // Gard's metrics lost their account.
    assert_eq!(f.value(f.metrics, "Account", 1), Value::Blank);
}

#[test]
fn moving_the_clock_recomputes_only_what_reads_it() {
    let mut f = Fixture::new();
    assert_eq!(f.value(f.accounts, "Days", 2), Value::from(21));
    let changes = f.wb.set_clock(Clock::on(day(2026, 11, 25)));
    assert_eq!(
        f.recomputed(),
        ["Accounts.Days#1", "Accounts.Days#2", "Accounts.Days#3"]
    );
    assert_eq!(changes.changes.len(), 3);
    assert_eq!(f.value(f.accounts, "Days", 2), Value::from(20));
    assert!(f.wb.differences_from_full_recalc().is_empty());
}

#[test]
fn a_rejected_transaction_changes_nothing() {
    let mut f = Fixture::new();
    let before = f.wb.clone();
    let (score, arr) = (f.col(f.metrics, "Score"), f.col(f.accounts, "ARR"));
    let err =
        f.wb.apply(
            Transaction::new()
                .set(score, f.row(f.metrics, 1), 10)
                .delete(f.accounts, f.row(f.accounts, 2))
                .set(arr, f.row(f.accounts, 1), "lots"),
        )
        .unwrap_err();
    assert_eq!(err.op, Some(2));
    assert!(err.message.contains("takes a number"), "{err}");
    assert_eq!(f.recomputed(), Vec::<String>::new());
    for t in f.wb.tables() {
        assert_eq!(f.wb.rows(t).unwrap(), before.rows(t).unwrap());
        for &c in f.wb.columns(t).unwrap() {
            for &r in f.wb.rows(t).unwrap() {
                assert_eq!(f.wb.value(c, r).ok(), before.value(c, r).ok());
            }
        }
    }
}

/// A predicate's conjuncts that read only the item fold into its index: an
/// edit to an item the predicate rejects before and after reaches no formula;
/// one that moves an item in or out of the matches recomputes its owner only.
#[test]
fn an_item_the_predicate_rejects_reaches_no_formula() {
    let schema = Schema::new()
        .with_table(
            TableSchema::new("Accounts")
                .with_column(ColumnSchema::data("Name", ColumnType::Text))
                .with_column(ColumnSchema::formula(
                    "Strong",
                    ColumnType::Number,
                    r#"CountIf([Metrics], [Account] = thisRow AND [Score] >= 70 AND [Kind] = "uptime")"#,
                ))
                .with_column(ColumnSchema::formula(
                    "Recent",
                    ColumnType::Number,
                    "Sum(Filter([Metrics], [Account] = thisRow AND [Day] >= Today() - 7).[Score])",
                )),
        )
        .with_table(
            TableSchema::new("Metrics")
                .with_column(ColumnSchema::data("Account", relation("Accounts", false)))
                .with_column(ColumnSchema::data("Kind", ColumnType::Text))
                .with_column(ColumnSchema::data("Score", ColumnType::Number))
                .with_column(ColumnSchema::data("Day", ColumnType::Date)),
        );
    let mut wb = Workbook::new(&schema, Clock::on(day(2026, 11, 24))).unwrap();
    let (accounts, metrics) = (
        wb.table_id("Accounts").unwrap(),
        wb.table_id("Metrics").unwrap(),
    );
    let c = |t, n| wb.column_id(t, n).unwrap();
    let (name, account, kind, score, when) = (
        c(accounts, "Name"),
        c(metrics, "Account"),
        c(metrics, "Kind"),
        c(metrics, "Score"),
        c(metrics, "Day"),
    );
    let (strong, recent) = (c(accounts, "Strong"), c(accounts, "Recent"));
    let metric = |a: &str, k: &str, s: i64, d: &str| {
        vec![
            (account, Value::from(a)),
            (kind, Value::from(k)),
            (score, Value::from(s)),
            (when, Value::from(d)),
        ]
    };
    let ids = wb
        .import(vec![
            (
                accounts,
                vec![
                    vec![(name, Value::from("Gard"))],
                    vec![(name, Value::from("Acme"))],
                ],
            ),
            (
                metrics,
                vec![
                    metric("Gard", "uptime", 80, "2026-11-23"),
                    metric("Gard", "latency", 90, "2026-10-01"),
                    metric("Acme", "uptime", 40, "2026-10-01"),
                ],
            ),
        ])
        .unwrap();
    let (gard, acme) = (ids[0][0], ids[0][1]);
    let (latency, low) = (ids[1][1], ids[1][2]);
    assert_eq!(wb.value(strong, gard).ok(), Some(&Value::from(1)));
    assert_eq!(wb.value(recent, gard).ok(), Some(&Value::from(80)));
    wb.set_trace(true);
    let visible = |wb: &mut Workbook| -> Vec<CellId> {
        let mut t: Vec<CellId> = wb
            .take_trace()
            .into_iter()
            .filter(|c| wb.column_name(c.column).is_ok()) // hidden key columns are refused
            .collect();
        t.sort_by_key(|c| (c.column, c.row));
        t
    };

    // Gard's latency metric is old and not uptime: rejected by both, before and after.
    wb.apply(Transaction::new().set(score, latency, 95))
        .unwrap();
    assert_eq!(visible(&mut wb), []);
    // Acme's uptime metric stays below 70: still rejected.
    wb.apply(Transaction::new().set(score, low, 60)).unwrap();
    assert_eq!(visible(&mut wb), []);
    // Now it passes: Acme's count, and only that, is recomputed.
    wb.apply(Transaction::new().set(score, low, 75)).unwrap();
    assert_eq!(
        visible(&mut wb),
        [CellId {
            column: strong,
            row: acme
        }]
    );
    assert_eq!(wb.value(strong, acme).ok(), Some(&Value::from(1)));
    // A week later Gard's recent metric falls out of the window.
    wb.set_clock(Clock::on(day(2026, 12, 1)));
    assert_eq!(
        visible(&mut wb),
        [CellId {
            column: recent,
            row: gard
        }]
    );
    assert_eq!(wb.value(recent, gard).ok(), Some(&Value::from(0)));
    assert!(wb.differences_from_full_recalc().is_empty());
}
