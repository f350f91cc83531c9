//! A report's bytes to rows of typed cells, with no workbook at hand: the
//! text decoded, the columns found, each cell read as a number or a date.
//! A cell that cannot be read is a bad row, kept with its line to be told
//! together with the workbook's complaints ([`crate::plan`]).

use crate::mapping::{Columns, Field, Mapping};
use crate::values::{Number, datetime, number};
use crate::{BadRow, IngestError};
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// What a report is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV (or `;`- or tab-separated text).
    Csv,
    /// The webhook's JSON: an array of objects with the report's columns
    /// as keys (or an object whose `metrics` or `rows` is that array).
    Json,
}

/// The limits a report is read under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest report, in bytes (`ingest.max_bytes`; 100 MB).
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 100 * 1024 * 1024,
        }
    }
}

/// One row of a report, its texts interned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Row {
    /// Its line in the file (of its first line, for a quoted newline), or
    /// its place (from 1) in a JSON array.
    pub(crate) line: u64,
    pub(crate) account: u32,
    pub(crate) metric: u32,
    /// `None` for an empty cell (Blank).
    pub(crate) value: Option<Number>,
    pub(crate) measured: Option<NaiveDateTime>,
    pub(crate) unit: Option<u32>,
}

/// Texts that repeat (10,000 accounts over 1,000,000 rows) kept once.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    index: HashMap<Box<str>, u32>,
    pub(crate) texts: Vec<Box<str>>,
}

impl Interner {
    fn get(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.texts.push(text.into());
        self.index.insert(text.into(), i);
        i
    }
}

/// A report read: its rows, the bad cells found reading them, and its
/// columns.
#[derive(Debug)]
pub struct Report {
    pub(crate) rows: Vec<Row>,
    pub(crate) texts: Interner,
    pub(crate) bad: Vec<BadRow>,
    pub(crate) columns: Columns,
    /// Rows read, bad ones included.
    pub(crate) read: usize,
}

impl Report {
    /// Rows read, bad ones included.
    pub fn rows(&self) -> usize {
        self.read
    }

    /// Columns of the report no field took, ignored.
    pub fn extra_columns(&self) -> &[String] {
        &self.columns.extra
    }

    /// The text of an interned id.
    pub(crate) fn text(&self, id: u32) -> &str {
        self.texts.texts.get(id as usize).map_or("", |t| t)
    }
}

/// Reads a report: `bytes` as `format`, under `limits`, its columns found
/// and cells read as `mapping` says.
///
/// ```
/// use csip_ingest::{read, Format, Limits, Mapping};
/// let csv = "Account,Metric Name,Current Value,Region\nGard AS,API Uptime,99.95%,EMEA\n";
/// let report = read(csv.as_bytes(), Format::Csv, &Mapping::default(), Limits::default())?;
/// assert_eq!(report.rows(), 1);
/// assert_eq!(report.extra_columns(), ["Region"]);
/// # Ok::<(), csip_ingest::IngestError>(())
/// ```
///
/// # Errors
///
/// The report as a whole cannot be read: empty, too large, not text, not
/// CSV or JSON, a required column missing. A bad cell is no error here: it
/// is told by [`Report::plan`](crate::Report::plan) with every other.
pub fn read(
    bytes: &[u8],
    format: Format,
    mapping: &Mapping,
    limits: Limits,
) -> Result<Report, IngestError> {
    read_with(bytes, format, mapping, limits, &mut |_| {})
}

/// [`read`], telling `progress` how many bytes of the text it has read
/// (every 65,536 rows, and at the end).
///
/// # Errors
///
/// As [`read`].
pub fn read_with(
    bytes: &[u8],
    format: Format,
    mapping: &Mapping,
    limits: Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, IngestError> {
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limits.max_bytes {
        return Err(IngestError::TooLarge {
            bytes: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    let text = crate::text::decode(bytes, mapping.encoding)?;
    let report = match format {
        Format::Csv => read_csv(&text, mapping, progress)?,
        Format::Json => read_json(&text, mapping)?,
    };
    if report.read == 0 {
        return Err(IngestError::NoRows);
    }
    Ok(report)
}

/// Reads the cells of one row into `report`.
struct Cells<'m> {
    mapping: &'m Mapping,
    /// The last time read, and its text.
    last_time: Option<(String, NaiveDateTime)>,
    columns: Columns,
    texts: Interner,
    rows: Vec<Row>,
    bad: Vec<BadRow>,
    read: usize,
}

impl Cells<'_> {
    /// Reads one row: its cells in [`Field::ALL`] order, "" where absent.
    fn push(&mut self, line: u64, cells: [&str; 5]) {
        self.read += 1;
        let [account, metric, value_text, measured_text, unit] = cells.map(str::trim);
        let mut ok = true;
        for (field, text) in [(Field::Account, account), (Field::MetricName, metric)] {
            if text.is_empty() {
                ok = false;
                self.bad.push(BadRow {
                    line,
                    column: self.columns.header(field).to_string(),
                    reason: format!("the {} is empty; every row needs one", field.name()),
                });
            }
        }
        let value = if value_text.is_empty() {
            None
        } else {
            match number(value_text, self.mapping.decimal) {
                Ok(n) => Some(n),
                Err(reason) => {
                    ok = false;
                    self.bad.push(BadRow {
                        line,
                        column: self.columns.header(Field::CurrentValue).to_string(),
                        reason,
                    });
                    None
                }
            }
        };
        let measured = if measured_text.is_empty() {
            None
        } else {
            // A report's rows usually share one time: read it once.
            let known = self
                .last_time
                .as_ref()
                .filter(|(t, _)| t == measured_text)
                .map(|(_, at)| *at);
            match known.map_or_else(|| datetime(measured_text, self.mapping.dates), Ok) {
                Ok(at) => {
                    if known.is_none() {
                        self.last_time = Some((measured_text.to_string(), at));
                    }
                    Some(at)
                }
                Err(reason) => {
                    ok = false;
                    self.bad.push(BadRow {
                        line,
                        column: self.columns.header(Field::MeasuredAt).to_string(),
                        reason,
                    });
                    None
                }
            }
        };
        if ok {
            let row = Row {
                line,
                account: self.texts.get(account),
                metric: self.texts.get(metric),
                value,
                measured,
                unit: (!unit.is_empty()).then(|| self.texts.get(unit)),
            };
            self.rows.push(row);
        }
    }

    fn done(self) -> Report {
        Report {
            rows: self.rows,
            texts: self.texts,
            bad: self.bad,
            columns: self.columns,
            read: self.read,
        }
    }
}

fn delimiter(text: &str, mapping: &Mapping) -> Result<u8, IngestError> {
    match mapping.delimiter.as_deref() {
        None => Ok(crate::text::detect_delimiter(text)),
        Some(",") => Ok(b','),
        Some(";") => Ok(b';'),
        Some("tab" | "\t") => Ok(b'\t'),
        Some(other) => Err(IngestError::Mapping {
            reason: format!(
                "delimiter = {other:?} is not one csip reads; give \",\", \";\" or \"tab\""
            ),
        }),
    }
}

fn read_csv(
    text: &str,
    mapping: &Mapping,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, IngestError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(text, mapping)?)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| IngestError::NotCsv {
            reason: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let columns =
        Columns::find(headers, mapping).map_err(|reason| IngestError::Columns { reason })?;
    let mut cells = Cells {
        mapping,
        last_time: None,
        columns,
        texts: Interner::default(),
        rows: Vec::new(),
        bad: Vec::new(),
        read: 0,
    };
    let mut record = csv::StringRecord::new();
    let mut lines = Lines::new(text);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue; // a blank line
                }
                if cells.read.is_multiple_of(65_536) {
                    progress(record.position().map_or(0, csv::Position::byte));
                }
                let line = lines.at(record.position().map_or(0, csv::Position::byte));
                let at = |f: Field| {
                    cells
                        .columns
                        .of(f)
                        .and_then(|i| record.get(i))
                        .unwrap_or("")
                };
                let row = Field::ALL.map(at);
                cells.push(line, row);
            }
            Err(e) => {
                let line = lines.at(e.position().map_or(0, csv::Position::byte));
                return Err(IngestError::NotCsv {
                    reason: format!("line {line}: {e}"),
                });
            }
        }
    }
    progress(text.len() as u64);
    Ok(cells.done())
}

/// Line numbers of records, counted from the text's newlines (the `csv`
/// crate's own count is off by one per CRLF line), for offsets that only
/// grow.
struct Lines<'t> {
    text: &'t [u8],
    byte: usize,
    line: u64,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        Lines {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The line of the record at byte `offset` (after a CRLF, the `csv`
    /// crate's offset is the LF's: the record starts past it).
    fn at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while self
            .text
            .get(offset)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            offset += 1;
        }
        if offset > self.byte {
            self.line += self.text[self.byte..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.byte = offset;
        }
        self.line
    }
}

fn read_json(text: &str, mapping: &Mapping) -> Result<Report, IngestError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| IngestError::NotJson {
            reason: e.to_string(),
        })?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut o) => {
            match o.remove("metrics").or_else(|| o.remove("rows")) {
                Some(serde_json::Value::Array(items)) => items,
                _ => {
                    return Err(IngestError::NotJson {
                        reason:
                            "expected an array of objects, or an object whose \"metrics\" is one"
                                .into(),
                    });
                }
            }
        }
        _ => {
            return Err(IngestError::NotJson {
                reason: "expected an array of objects, or an object whose \"metrics\" is one"
                    .into(),
            });
        }
    };
    // The keys of every object, in order of first appearance, are the header.
    let mut headers: Vec<String> = Vec::new();
    for item in &items {
        let serde_json::Value::Object(o) = item else {
            return Err(IngestError::NotJson {
                reason: "every element of the array must be an object of a metric's fields".into(),
            });
        };
        for k in o.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    let columns = Columns::find(headers.clone(), mapping)
        .map_err(|reason| IngestError::Columns { reason })?;
    let mut cells = Cells {
        mapping,
        last_time: None,
        columns,
        texts: Interner::default(),
        rows: Vec::new(),
        bad: Vec::new(),
        read: 0,
    };
    for (i, item) in items.iter().enumerate() {
        let at = |f: Field| -> String {
            let value = cells
                .columns
                .of(f)
                .and_then(|c| headers.get(c))
                .and_then(|h| item.get(h));
            match value {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            }
        };
        let row = Field::ALL.map(at);
        cells.push(i as u64 + 1, row.each_ref().map(String::as_str));
    }
    Ok(cells.done())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(csv: &str) -> Vec<u64> {
        let report = read(
            csv.as_bytes(),
            Format::Csv,
            &Mapping::default(),
            Limits::default(),
        )
        .unwrap();
        report.rows.iter().map(|r| r.line).collect()
    }

    #[test]
    fn rows_are_told_by_the_line_they_start_on() {
        let lf = "Account,Metric Name,Current Value\na,m,1\nb,\"two\nlines\",2\nc,m,3\n";
        assert_eq!(lines_of(lf), [2, 3, 5]);
        assert_eq!(lines_of(&lf.replace('\n', "\r\n")), [2, 3, 5]);
        assert_eq!(
            lines_of("Account,Metric Name,Current Value\r\n\r\na,m,1\r\n"),
            [3]
        );
    }
}
