//! Rows as CSV files, both ways: the header names columns, a cell is its
//! displayed text (what [`Workbook::parse_text`] reads back).

use crate::progress::bar;
use csip_engine::{ColumnId, ColumnType, RowValues, TableId, Value, Workbook};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};

/// The columns a CSV file of `table` carries: its data columns, and its
/// formula columns too when `computed`; never buttons.
pub(crate) fn columns(wb: &Workbook, table: TableId, computed: bool) -> Vec<ColumnId> {
    wb.columns(table)
        .iter()
        .copied()
        .filter(|c| {
            (computed || !wb.is_formula(*c))
                && !matches!(wb.column_schema(*c).ty, ColumnType::Button)
        })
        .collect()
}

/// Writes `DIR/<Table>.csv` for each table (its data columns, and its
/// formula columns when `computed`), with one progress bar over all rows;
/// returns each file with its row count.
pub(crate) fn write_tables(
    wb: &Workbook,
    tables: &[TableId],
    out: &Path,
    computed: bool,
) -> Result<Vec<(PathBuf, usize)>, String> {
    std::fs::create_dir_all(out)
        .map_err(|e| format!("error: cannot create {}: {e}", out.display()))?;
    let total: usize = tables.iter().map(|t| wb.rows(*t).len()).sum();
    let bar = bar(
        total as u64,
        "writing {msg:24} {bar:40} {pos}/{len} rows, {eta} left",
    );
    let mut written = Vec::with_capacity(tables.len());
    for &t in tables {
        bar.set_message(wb.table_name(t).to_string());
        let path = out.join(format!("{}.csv", wb.table_name(t)));
        write_table(wb, t, &columns(wb, t, computed), &path, &bar)?;
        written.push((path, wb.rows(t).len()));
    }
    bar.finish_and_clear();
    Ok(written)
}

/// Writes the live rows of `table` to `path`.
fn write_table(
    wb: &Workbook,
    table: TableId,
    columns: &[ColumnId],
    path: &Path,
    bar: &ProgressBar,
) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let mut writer = csv::Writer::from_path(path).map_err(|e| fail(&e))?;
    writer
        .write_record(columns.iter().map(|c| wb.column_name(*c)))
        .map_err(|e| fail(&e))?;
    let mut record = Vec::with_capacity(columns.len());
    let rows = wb.rows(table);
    for (i, &row) in rows.iter().enumerate() {
        record.clear();
        record.extend(
            columns
                .iter()
                .map(|c| wb.display(wb.value(*c, row).unwrap_or(&Value::Blank))),
        );
        writer.write_record(&record).map_err(|e| fail(&e))?;
        if i % 4096 == 0 {
            bar.inc(4096.min(rows.len() - i) as u64);
        }
    }
    writer.flush().map_err(|e| fail(&e))
}

/// The rows of a CSV file for a table, each with the line it starts on.
pub(crate) struct ReadRows {
    pub(crate) rows: Vec<RowValues>,
    pub(crate) lines: Vec<u64>,
}

/// Reads a CSV file of rows for `table`: the header must name columns of
/// the table (formula columns are refused, or skipped when `skip_computed`);
/// every cell is read by its column's type. Every bad line is reported.
pub(crate) fn read_table(
    wb: &Workbook,
    table: TableId,
    path: &Path,
    skip_computed: bool,
) -> Result<ReadRows, Vec<String>> {
    let name = path.display();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| vec![format!("cannot read {name}: {e}")])?;
    let header = reader
        .headers()
        .map_err(|e| vec![format!("{name}: line 1: {e}")])?
        .clone();
    let mut problems = Vec::new();
    let mut columns: Vec<Option<ColumnId>> = Vec::with_capacity(header.len());
    for (i, h) in header.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        match wb.column_id(table, h) {
            Some(c) if wb.is_formula(c) && skip_computed => columns.push(None),
            Some(c) if wb.is_formula(c) => {
                problems.push(format!(
                    "line 1, field {}: `{h}` is a formula column, computed by the workbook; remove it from the file or pass --skip-computed",
                    i + 1
                ));
                columns.push(None);
            }
            Some(c) if columns.contains(&Some(c)) => {
                problems.push(format!("line 1, field {}: `{h}` is named twice", i + 1));
                columns.push(None);
            }
            Some(c) => columns.push(Some(c)),
            None => {
                let known: Vec<&str> = self::columns(wb, table, false)
                    .iter()
                    .map(|c| wb.column_name(*c))
                    .collect();
                problems.push(format!(
                    "line 1, field {}: `{}` has no column `{h}`; its data columns are {}",
                    i + 1,
                    wb.table_name(table),
                    known.join(", ")
                ));
                columns.push(None);
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let bar = bar(size, "reading   {bar:40} {bytes}/{total_bytes}, {eta} left");
    let mut out = ReadRows {
        rows: Vec::new(),
        lines: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    let mut n = 0u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(format!("line {line}: {e}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let mut values = Vec::with_capacity(columns.len());
        for (c, field) in columns.iter().zip(record.iter()) {
            let Some(c) = c else { continue };
            match wb.parse_text(*c, field) {
                Ok(v) if v.is_blank() => {}
                Ok(v) => values.push((*c, v)),
                Err(m) => {
                    problems.push(format!("line {line}: column `{}`: {m}", wb.column_name(*c)))
                }
            }
        }
        out.rows.push(values);
        out.lines.push(line);
        n += 1;
        if n % 4096 == 0 {
            bar.set_position(record.position().map_or(0, |p| p.byte()));
        }
    }
    bar.finish_and_clear();
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
