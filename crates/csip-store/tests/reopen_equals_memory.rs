//! Property: for any sequence of committed transactions (sets, inserts,
//! deletes, rejected ones among them), the workbook reopened from the file
//! equals the workbook in memory, cell for cell, formula cells included.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{Clock, RowId, TableId, Transaction, Value, Workbook};
use csip_store::Store;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Edit {
    /// A metric's Current_Value (by position), or Blank.
    Metric(usize, Option<i64>),
    /// An account's ARR (by position); 0 and negatives allowed.
    Arr(usize, i64),
    /// A new engagement for an account (by position) some days ago.
    Engage(usize, i64, u8),
    /// Delete an engagement (by position).
    Unengage(usize),
    /// A text where a number goes: rejected, nothing written.
    Bad(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0..200usize, proptest::option::of(0..2000i64)).prop_map(|(m, v)| Edit::Metric(m, v)),
        2 => (0..10usize, -5..3_000_000i64).prop_map(|(a, v)| Edit::Arr(a, v)),
        2 => (0..10usize, 0..120i64, 1..=10u8).prop_map(|(a, d, s)| Edit::Engage(a, d, s)),
        1 => (0..400usize).prop_map(Edit::Unengage),
        1 => (0..200usize).prop_map(Edit::Bad),
    ]
}

fn nth(wb: &Workbook, t: TableId, i: usize) -> Option<RowId> {
    let rows = wb.rows(t).unwrap();
    (!rows.is_empty()).then(|| rows[i % rows.len()])
}

fn cells(wb: &Workbook) -> Vec<(TableId, RowId, String, Value)> {
    let mut out = Vec::new();
    for t in wb.tables() {
        for &row in wb.rows(t).unwrap() {
            for &c in wb.columns(t).unwrap() {
                out.push((
                    t,
                    row,
                    wb.column_name(c).unwrap().to_string(),
                    wb.value(c, row).ok().cloned().unwrap_or_default(),
                ));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn reopening_gives_the_workbook_in_memory(batches in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 1..8)) {
        let today = csip_workbook::sample_today();
        let at = today.and_hms_opt(10, 0, 0).unwrap_or_default();
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("csip.db");
        let pilot = csip_workbook::pilot(today).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut store = Store::create(&path, csip_workbook::table_files(), pilot)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for batch in batches {
            let wb = store.workbook();
            let id = |t: &str| wb.table_id(t).unwrap_or_else(|e| panic!("{e}"));
            let (metrics, accounts, log) = (id("Platform_Health_Metrics"), id("Account_Master"), id("Engagement_Log"));
            let col = |t: TableId, c: &str| wb.column_id(t, c).unwrap_or_else(|e| panic!("{e}"));
            let mut tx = Transaction::new();
            for e in batch {
                match e {
                    Edit::Metric(m, v) => if let Some(r) = nth(wb, metrics, m) {
                        tx = tx.set(col(metrics, "Current_Value"), r, v.map_or(Value::Blank, Value::from));
                    },
                    Edit::Arr(a, v) => if let Some(r) = nth(wb, accounts, a) {
                        tx = tx.set(col(accounts, "ARR"), r, v);
                    },
                    Edit::Engage(a, days, score) => if let Some(r) = nth(wb, accounts, a) {
                        tx = tx.insert(log, vec![
                            (col(log, "Account"), Value::Row(accounts, r)),
                            (col(log, "Engagement_Date"), Value::Date(today - csip_engine::TimeDelta::days(days))),
                            (col(log, "Relationship_Depth_Score"), Value::from(i64::from(score))),
                        ]);
                    },
                    Edit::Unengage(i) => if let Some(r) = nth(wb, log, i) {
                        tx = tx.delete(log, r);
                    },
                    Edit::Bad(m) => if let Some(r) = nth(wb, metrics, m) {
                        tx = tx.set(col(metrics, "Current_Value"), r, "lots");
                    },
                }
            }
            // Rejected transactions (a bad value, a row deleted twice) must leave the file alone too.
            let _ = store.commit(tx, "proptest", at);
        }
        let reopened = Store::open(&path, Clock::on(today)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (a, b) = (cells(store.workbook()), cells(reopened.workbook()));
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert!(x.0 == y.0 && x.1 == y.1 && x.2 == y.2 && csip_engine::values_equal(&x.3, &y.3), "{:?} != {:?}", x, y);
        }
    }
}
