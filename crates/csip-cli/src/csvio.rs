//! Rows as CSV files, both ways: the header names columns, a cell is its
//! displayed text (what [`Workbook::parse_text`] reads back).
//!
//! Writing one table is [`csip_store::write_table_csv`] (shared with the
//! weekly backup); here are the files, the progress bar and the reading.
//! Three rules keep a file safe to open and faithful to read back:
//! - a cell that a spreadsheet would run as a formula (it begins with `=`,
//!   `+`, `-`, `@`, a tab or a carriage return: OWASP's CSV-injection rule)
//!   is written with a `'` before it, unless it holds a number (csip writes
//!   numbers itself; `-5` stays a number). Reading drops that `'` again. A
//!   cell that already begins with `'` before such a character gets one `'`
//!   more, so every text comes back as it was;
//! - `row_id`, first, is each row's id, which an import gives the row again;
//! - a quote that opens a field and never closes is reported at the line it
//!   opened, instead of swallowing the rest of the file into one cell.

use crate::progress::bar;
use csip_engine::{ColumnId, RowId, RowsWithIds, TableId, Workbook};
pub(crate) use csip_store::escape_csv_cell as escape;
use csip_store::{CSV_ROW_ID as ROW_ID, csv_columns as columns, unescape_csv_cell as unescape};
use std::io::Read;
use std::path::{Path, PathBuf};

/// How rows are written.
pub(crate) type WriteOptions = csip_store::CsvOptions;

/// Writes `DIR/<Table>.csv` for each table (its data columns, and its
/// formula columns when `options.computed`), with one progress bar over all
/// rows; returns each file with its row count.
pub(crate) fn write_tables(
    wb: &Workbook,
    tables: &[TableId],
    out: &Path,
    options: WriteOptions,
) -> Result<Vec<(PathBuf, usize)>, String> {
    std::fs::create_dir_all(out)
        .map_err(|e| format!("error: cannot create {}: {e}", out.display()))?;
    let total: usize = tables
        .iter()
        .map(|t| wb.rows(*t).unwrap_or_default().len())
        .sum();
    let bar = bar(
        total as u64,
        "writing {msg:24} {bar:40} {pos}/{len} rows, {eta} left",
    );
    let mut written = Vec::with_capacity(tables.len());
    for &t in tables {
        bar.set_message(wb.table_name(t).unwrap_or_default().to_string());
        let path = out.join(format!("{}.csv", wb.table_name(t).unwrap_or_default()));
        let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
        let mut file = std::fs::File::create(&path).map_err(|e| fail(&e))?;
        let rows = csip_store::write_table_csv_with_progress(wb, t, &mut file, options, &mut |n| {
            bar.inc(n as u64)
        })
        .map_err(|e| fail(&e))?;
        written.push((path, rows));
    }
    bar.finish_and_clear();
    Ok(written)
}

/// The rows of a CSV file for a table (each with the id its `row_id` cell
/// gives, if any), each with the line it starts on.
pub(crate) struct ReadRows {
    pub(crate) rows: RowsWithIds,
    pub(crate) lines: Vec<u64>,
}

/// Reads a CSV file of rows for `table`: the header must name columns of
/// the table (formula columns are refused, or skipped when `skip_computed`),
/// and may name `row_id`; every cell is read by its column's type, without
/// the `'` an export puts before formula-looking text. Every bad line is
/// reported; a quote never closed, at the line it opened.
pub(crate) fn read_table(
    wb: &Workbook,
    table: TableId,
    path: &Path,
    skip_computed: bool,
) -> Result<ReadRows, Vec<String>> {
    let name = path.display();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let opened = std::fs::File::open(path).and_then(unclosed_quote);
    match opened {
        Ok(None) => {}
        Ok(Some(line)) => {
            return Err(vec![format!(
                "line {line}: a quote opened here is never closed; end the field with \" (a quote inside a quoted field is written \"\")"
            )]);
        }
        Err(e) => return Err(vec![format!("cannot read {name}: {e}")]),
    }
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
    let mut id_field: Option<usize> = None;
    for (i, h) in header.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        if h.eq_ignore_ascii_case(ROW_ID) && wb.column_id(table, h).ok().is_none() {
            if id_field.is_some() {
                problems.push(format!(
                    "line 1, field {}: `{ROW_ID}` is named twice",
                    i + 1
                ));
            }
            id_field.get_or_insert(i);
            columns.push(None);
            continue;
        }
        match wb.column_id(table, h).ok() {
            Some(c) if wb.is_formula(c).unwrap_or(false) && skip_computed => columns.push(None),
            Some(c) if wb.is_formula(c).unwrap_or(false) => {
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
                    .map(|c| wb.column_name(*c).unwrap_or_default())
                    .collect();
                problems.push(format!(
                    "line 1, field {}: `{}` has no column `{h}`; its data columns are {}",
                    i + 1,
                    wb.table_name(table).unwrap_or_default(),
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
        let id = match id_field.and_then(|i| record.get(i)).map(str::trim) {
            None | Some("") => None,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if n >= 1 => Some(RowId::from_raw(n)),
                _ => {
                    problems.push(format!(
                        "line {line}: `{ROW_ID}`: \"{text}\" is not a row id (a whole number from 1, as `csip export` writes it); leave it empty to give the row a new id"
                    ));
                    None
                }
            },
        };
        let mut values = Vec::with_capacity(columns.len());
        for (c, field) in columns.iter().zip(record.iter()) {
            let Some(c) = c else { continue };
            match wb.parse_text(*c, unescape(field)) {
                Ok(v) if v.is_blank() => {}
                Ok(v) => values.push((*c, v)),
                Err(m) => problems.push(format!(
                    "line {line}: column `{}`: {m}",
                    wb.column_name(*c).unwrap_or_default()
                )),
            }
        }
        out.rows.push((id, values));
        out.lines.push(line);
        n += 1;
        if n.is_multiple_of(4096) {
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

/// Where a quote opened a field that never closes, as a 1-based line, if
/// one does. CSV as the reader parses it: a quote opens a field only at its
/// start, `""` inside one is a quote, and a field ends at `,` or a line end.
fn unclosed_quote(mut input: impl Read) -> std::io::Result<Option<u64>> {
    #[derive(Clone, Copy)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        /// A quote inside a quoted field: its end, or the first of `""`.
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let (mut line, mut opened) = (1u64, 0u64);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &b in &buffer[..n] {
            state = match (state, b) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, _) => State::Quoted,
                (State::QuoteInQuoted, b'"') => State::Quoted,
                (State::FieldStart, b'"') => {
                    opened = line;
                    State::Quoted
                }
                (_, b',' | b'\n' | b'\r') => State::FieldStart,
                _ => State::Unquoted,
            };
            if b == b'\n' {
                line += 1;
            }
        }
    }
    Ok(matches!(state, State::Quoted).then_some(opened))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_quote_is_found_where_it_opened() {
        let at = |text: &str| unclosed_quote(text.as_bytes()).ok().flatten();
        assert_eq!(at("a,b\n1,\"two\nlines\"\n3,\"x\"\"y\"\n"), None);
        assert_eq!(at("a,b\n1,2\n3,\"four\n5,6\n"), Some(3));
        assert_eq!(at("a,b\r\n1,x\"y\n\"open,2\n"), Some(3));
        assert_eq!(
            at("a,b\n1,\"\"\"\n"),
            Some(2),
            "an escaped quote is not a close"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Any bytes as a Tasks CSV file: rows or located problems, never a
        /// panic; every problem names a line.
        #[test]
        fn any_csv_is_read_or_refused_with_lines(
            picks in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..60),
            header in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 1..5),
        ) {
            const FIELDS: &[&str] = &[
                ",", ",", "\n", "\r\n", "\"", "\"\"", "'", "'=", "=SUM(A1)", "-5", "1,000",
                "99999999999999999999999999999", "0.00000000000000000000000000001",
                "1234567890123456789012345678", "2026-11-24", "0000-01-01", "10000-01-01",
                "2026-13-45", "Gard AS", "Nobody", "Open", "Done", "Urgent", "x", "é", "🔴",
                "true", "\u{feff}", "\t", " ", "", "row_id", "7", "0", "-1", "4294967296",
            ];
            const HEADER: &[&str] = &[
                "Title", "Account", "Assigned_To", "Due_Date", "Status", "Priority", "row_id",
                "Task_ID", "Nope", "title",
            ];
            static PILOT: std::sync::OnceLock<Workbook> = std::sync::OnceLock::new();
            let wb = PILOT.get_or_init(|| csip_workbook::pilot(csip_workbook::sample_today()).unwrap());
            let tasks = wb.table_id("Tasks").unwrap();
            let mut text: String = header
                .iter()
                .map(|i| *i.get(HEADER))
                .collect::<Vec<_>>()
                .join(",");
            text.push('\n');
            for i in &picks {
                text.push_str(FIELDS[i.index(FIELDS.len())]);
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("Tasks.csv");
            std::fs::write(&path, &text).unwrap();
            match read_table(wb, tasks, &path, false) {
                Ok(read) => proptest::prop_assert_eq!(read.rows.len(), read.lines.len()),
                Err(problems) => {
                    proptest::prop_assert!(!problems.is_empty());
                    for p in &problems {
                        proptest::prop_assert!(p.contains("line "), "{}: {}", text, p);
                    }
                }
            }
        }
    }
}
