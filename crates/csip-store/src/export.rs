//! A table's rows written as CSV: the one writer behind `csip export`, `csip
//! synth` and the weekly backup (csip-automations), so every CSV file csip
//! writes has the same bytes and reads back through `csip import`.
//!
//! The header names the columns; a cell is its displayed text (what
//! [`Workbook::parse_text`] reads back). Two rules keep a file safe to open
//! and faithful to read back:
//! - a cell that a spreadsheet would run as a formula (it begins with `=`,
//!   `+`, `-`, `@`, a tab or a carriage return: OWASP's CSV-injection rule)
//!   is written with a `'` before it, unless it holds a number (csip writes
//!   numbers itself; `-5` stays a number). A reader drops that `'` again
//!   ([`unescape_csv_cell`]). A cell that already begins with `'` before
//!   such a character gets one `'` more, so every text comes back as it was;
//! - [`CSV_ROW_ID`], first when [`CsvOptions::row_ids`], is each row's id,
//!   which an import gives the row again.

use csip_engine::{ColumnId, ColumnType, TableId, Value, Workbook};
use std::io::Write;

/// The header of the column that carries row ids.
pub const CSV_ROW_ID: &str = "row_id";

/// How [`write_table_csv`] writes a table. The default writes the data
/// columns only, no row ids, formula-looking text escaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Add the formula columns (an import refuses them, or skips them).
    pub computed: bool,
    /// Start each row with its id, in a column [`CSV_ROW_ID`].
    pub row_ids: bool,
    /// Write every cell as it is: no `'` before formula-looking text.
    pub raw: bool,
}

/// The first characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `text` is escaped on the way out: it begins, after any `'`,
/// with a formula character. (Counting the `'`s in makes escaping one-to-one:
/// `'=x` is written `''=x` and read back as `'=x`.)
fn needs_escape(text: &str) -> bool {
    text.trim_start_matches('\'')
        .starts_with(|c: char| FORMULA_START.contains(&c))
}

/// A cell's text as written: `'` before formula-looking text.
///
/// ```
/// use csip_store::{escape_csv_cell, unescape_csv_cell};
/// assert_eq!(escape_csv_cell("=SUM(A1)".into()), "'=SUM(A1)");
/// assert_eq!(escape_csv_cell("'=x".into()), "''=x");
/// assert_eq!(escape_csv_cell("Gard AS".into()), "Gard AS");
/// assert_eq!(unescape_csv_cell("''=x"), "'=x");
/// ```
pub fn escape_csv_cell(text: String) -> String {
    if needs_escape(&text) {
        format!("'{text}")
    } else {
        text
    }
}

/// A cell's text as read: the `'` that [`escape_csv_cell`] added, dropped;
/// any other text as it is.
pub fn unescape_csv_cell(field: &str) -> &str {
    match field.strip_prefix('\'') {
        Some(rest) if needs_escape(rest) => rest,
        _ => field,
    }
}

/// The columns a CSV file of `table` carries, in the table's order: its
/// data columns, and its formula columns too when `computed`; never
/// buttons. None for a table of another workbook.
pub fn csv_columns(wb: &Workbook, table: TableId, computed: bool) -> Vec<ColumnId> {
    wb.columns(table)
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|c| {
            (computed || !wb.is_formula(*c).unwrap_or(false))
                && wb
                    .column_schema(*c)
                    .is_ok_and(|s| !matches!(s.ty, ColumnType::Button))
        })
        .collect()
}

/// Writes the live rows of `table` to `out` as CSV: a header (with
/// [`CSV_ROW_ID`] first when `options.row_ids`), then one record per row
/// in the table's order, each cell its displayed text, escaped as the
/// module docs say unless `options.raw`. Returns how many rows it wrote.
///
/// `out` is written through a buffer and flushed at the end; pass a
/// [`std::fs::File`] as it is. A table of another workbook is an
/// [`std::io::ErrorKind::InvalidInput`] error, and nothing is written.
///
/// ```
/// use csip_store::{CsvOptions, write_table_csv};
/// let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
/// let accounts = wb.table_id("Account_Master")?;
/// let mut out = Vec::new();
/// let options = CsvOptions { row_ids: true, ..CsvOptions::default() };
/// let rows = write_table_csv(&wb, accounts, &mut out, options)?;
/// let text = String::from_utf8(out)?;
/// assert_eq!(rows, wb.rows(accounts)?.len());
/// assert!(text.starts_with("row_id,"));
/// assert_eq!(text.lines().count(), rows + 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_table_csv(
    wb: &Workbook,
    table: TableId,
    out: &mut dyn Write,
    options: CsvOptions,
) -> Result<usize, std::io::Error> {
    write_table_csv_with_progress(wb, table, out, options, &mut |_| {})
}

/// [`write_table_csv`], telling `progress` how many more rows are written
/// after each 4,096 rows and after the last (for a progress bar).
pub fn write_table_csv_with_progress(
    wb: &Workbook,
    table: TableId,
    out: &mut dyn Write,
    options: CsvOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<usize, std::io::Error> {
    const STEP: usize = 4096;
    let rows = wb
        .rows(table)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let columns = csv_columns(wb, table, options.computed);
    let mut writer = csv::Writer::from_writer(out);
    let ids = options.row_ids.then_some(CSV_ROW_ID);
    writer.write_record(
        ids.into_iter().chain(
            columns
                .iter()
                .map(|c| wb.column_name(*c).unwrap_or_default()),
        ),
    )?;
    let mut record = Vec::with_capacity(columns.len() + 1);
    let mut unreported = 0;
    for &row in rows {
        record.clear();
        if options.row_ids {
            record.push(row.get().to_string());
        }
        record.extend(columns.iter().map(|c| {
            let value = wb.value(*c, row).unwrap_or(&Value::Blank);
            let text = wb.display(value);
            if options.raw || matches!(value, Value::Number(_)) {
                text
            } else {
                escape_csv_cell(text)
            }
        }));
        writer.write_record(&record)?;
        unreported += 1;
        if unreported == STEP {
            progress(unreported);
            unreported = 0;
        }
    }
    writer.flush()?;
    if unreported > 0 {
        progress(unreported);
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_looking_text_is_escaped_one_to_one() {
        for (text, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+47 22 00 00 00", "'+47 22 00 00 00"),
            ("-- see notes", "'-- see notes"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("'=x", "''=x"),
            ("'quoted'", "'quoted'"),
            ("Gard AS", "Gard AS"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(escape_csv_cell(text.to_string()), written, "{text:?}");
            assert_eq!(unescape_csv_cell(written), text, "{written:?}");
        }
    }

    #[test]
    fn a_table_of_another_workbook_is_refused_with_nothing_written() {
        let today = csip_workbook::sample_today();
        let wb = csip_workbook::pilot(today).unwrap();
        let other = csip_workbook::pilot(today).unwrap();
        let tasks = other.table_id("Tasks").unwrap();
        let mut out = Vec::new();
        let e = write_table_csv(&wb, tasks, &mut out, CsvOptions::default()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
    }

    #[test]
    fn progress_adds_up_to_the_rows() {
        let wb = csip_workbook::pilot(csip_workbook::sample_today()).unwrap();
        for t in wb.tables() {
            let mut told = 0;
            let mut out = Vec::new();
            let rows =
                write_table_csv_with_progress(&wb, t, &mut out, CsvOptions::default(), &mut |n| {
                    told += n
                })
                .unwrap();
            assert_eq!(told, rows);
            assert_eq!(rows, wb.rows(t).unwrap().len());
        }
    }
}
