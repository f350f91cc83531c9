//! Finding CSIP rows by what people type or a report writes: an account by
//! Account_Name or Account_ID (case and runs of spaces aside), an account's
//! metric by name, the nearest name for a "did you mean", and the settings
//! a new metric takes from the same metric on another account. Slack
//! commands and metric ingestion both read the workbook through these, so
//! that a name that finds an account in one finds it in the other.
//!
//! ```
//! use csip_workbook::lookup::{Accounts, fold};
//! let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
//! let accounts = Accounts::new(&wb).expect("an Account_Master table");
//! let gard = accounts.find("  gard   as ").expect("Gard AS");
//! assert_eq!(accounts.find("ACC-00001"), Some(gard));
//! assert_eq!(accounts.nearest("Gard AB").as_deref(), Some("Gard AS"));
//! assert_eq!(fold(" Gard  AS "), "gard as");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use csip_engine::{ColumnId, RowId, TableId, Value, Workbook};
use std::collections::HashMap;

/// A name as people type it, for comparing: trimmed, runs of spaces as one,
/// lower case.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The candidate nearest to `wanted` (folded), if it is near: at most a
/// quarter of its letters (at least one, at most three) different. Ties go
/// to the candidate first in text order.
pub fn nearest(candidates: impl Iterator<Item = String>, wanted: &str) -> Option<String> {
    let limit = (wanted.chars().count() / 4).clamp(1, 3);
    candidates
        .filter_map(|c| {
            let d = distance(&fold(&c), wanted, limit)?;
            Some((d, c))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, c)| c)
}

/// The edit distance of two texts (by characters), if at most `limit`.
fn distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        let mut best = row[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
            best = best.min(next);
        }
        if best > limit {
            return None;
        }
    }
    row.last().copied().filter(|d| *d <= limit)
}

/// The text a cell shows, for comparing names.
fn text_of(wb: &Workbook, column: ColumnId, row: RowId) -> String {
    wb.value(column, row)
        .map(|v| wb.display(v))
        .unwrap_or_default()
}

/// One account by what a person typed: the name as written through the
/// display column's index, else a scan that folds case and spaces over
/// Account_Name and Account_ID. For one lookup; [`Accounts`] for many.
pub fn find_account(wb: &Workbook, text: &str) -> Option<RowId> {
    let accounts = wb.table_id("Account_Master").ok()?;
    if let Some(&r) = wb.find_rows(accounts, text.trim()).ok()?.iter().min() {
        return Some(r);
    }
    let name = wb.column_id(accounts, "Account_Name").ok()?;
    let id = wb.column_id(accounts, "Account_ID").ok();
    let wanted = fold(text);
    wb.rows(accounts).ok()?.iter().copied().find(|r| {
        fold(&text_of(wb, name, *r)) == wanted
            || id.is_some_and(|c| fold(&text_of(wb, c, *r)) == wanted)
    })
}

/// An account's name (Account_Master's display column).
pub fn account_name(wb: &Workbook, account: RowId) -> String {
    wb.table_id("Account_Master")
        .map(|t| wb.display(&Value::Row(t, account)))
        .unwrap_or_default()
}

/// The account name nearest to `text`, for a "did you mean".
pub fn nearest_account(wb: &Workbook, text: &str) -> Option<String> {
    let accounts = wb.table_id("Account_Master").ok()?;
    let names = wb
        .rows(accounts)
        .unwrap_or_default()
        .iter()
        .map(|r| wb.display(&Value::Row(accounts, *r)));
    nearest(names, &fold(text))
}

/// Every account by its folded Account_Name and Account_ID, for looking up
/// many names at once (a report of 10,000 accounts).
#[derive(Debug)]
pub struct Accounts {
    table: TableId,
    by_name: HashMap<String, RowId>,
    names: Vec<String>,
}

impl Accounts {
    /// The index of `wb`'s accounts; `None` without an Account_Master table
    /// with an Account_Name column. Where two accounts fold to one name,
    /// the first (lowest row id) is found.
    pub fn new(wb: &Workbook) -> Option<Accounts> {
        let table = wb.table_id("Account_Master").ok()?;
        let name = wb.column_id(table, "Account_Name").ok()?;
        let id = wb.column_id(table, "Account_ID").ok();
        let rows = wb.rows(table).ok()?;
        let mut by_name = HashMap::with_capacity(rows.len() * 2);
        let mut names = Vec::with_capacity(rows.len());
        for &r in rows {
            let shown = text_of(wb, name, r);
            by_name.entry(fold(&shown)).or_insert(r);
            if let Some(c) = id {
                by_name.entry(fold(&text_of(wb, c, r))).or_insert(r);
            }
            names.push(shown);
        }
        by_name.remove("");
        Some(Accounts {
            table,
            by_name,
            names,
        })
    }

    /// Account_Master's id.
    pub fn table(&self) -> TableId {
        self.table
    }

    /// The account `text` names (case and spacing aside).
    pub fn find(&self, text: &str) -> Option<RowId> {
        self.by_name.get(&fold(text)).copied()
    }

    /// The account name nearest to `text`, for a "did you mean".
    pub fn nearest(&self, text: &str) -> Option<String> {
        nearest(self.names.iter().cloned(), &fold(text))
    }
}

/// The Platform_Health_Metrics columns a new metric takes from the same
/// metric on another account: category, target, thresholds, direction and
/// unit.
pub const METRIC_SETTINGS: [&str; 6] = [
    "Metric_Category",
    "Target_Value",
    "Warning_Threshold",
    "Critical_Threshold",
    "Higher_Is_Better",
    "Unit",
];

/// The settings ([`METRIC_SETTINGS`]) of metric row `like`, those it holds
/// (not Blank) in data columns, for a new row of the same metric.
pub fn metric_settings(wb: &Workbook, like: RowId) -> Vec<(ColumnId, Value)> {
    let Ok(metrics) = wb.table_id("Platform_Health_Metrics") else {
        return Vec::new();
    };
    METRIC_SETTINGS
        .iter()
        .filter_map(|name| {
            let c = wb.column_id(metrics, name).ok()?;
            let v = wb.value(c, like).ok()?;
            (!v.is_blank() && wb.column_schema(c).is_ok_and(|s| s.formula.is_none()))
                .then(|| (c, v.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_found_and_far_ones_are_not() {
        let names = || {
            ["Gard AS", "Sakura Retail Group"]
                .map(String::from)
                .into_iter()
        };
        assert_eq!(nearest(names(), "gard ab").as_deref(), Some("Gard AS"));
        assert_eq!(
            nearest(names(), "sakura retail grop").as_deref(),
            Some("Sakura Retail Group")
        );
        assert_eq!(nearest(names(), "acme"), None);
    }

    #[test]
    fn the_edit_distance_stops_past_its_limit() {
        assert_eq!(distance("gard as", "gard ab", 1), Some(1));
        assert_eq!(distance("kitten", "sitting", 3), Some(3));
        assert_eq!(distance("kitten", "sitting", 2), None);
        assert_eq!(distance("", "abc", 3), Some(3));
    }

    #[test]
    fn one_lookup_and_the_index_agree() {
        let wb = crate::pilot(crate::sample_today()).unwrap();
        let accounts = Accounts::new(&wb).unwrap();
        for text in [
            "Gard AS",
            "gard as",
            " GARD   AS ",
            "acc-00001",
            "Gard AB",
            "",
        ] {
            assert_eq!(accounts.find(text), find_account(&wb, text), "{text:?}");
        }
        assert_eq!(nearest_account(&wb, "Gard AB").as_deref(), Some("Gard AS"));
    }
}
