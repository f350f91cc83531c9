//! Formula case files (the format `fixtures/cases/format_example.toml` shows): a small workbook and
//! formulas with the values they must give. The loader takes the file's text;
//! the caller reads the file.
//!
//! Beyond the format's `set` edits, an edit may insert a row
//! (`{ table = "T", insert = [cells...] }`), delete one (`{ table = "T", delete = 2 }`,
//! by 1-based position) or move the clock (`{ today = "2026-12-01" }`,
//! `{ now = "2026-12-01T08:00:00Z" }`); and `expect` may be an array, compared
//! with a list element by element. After its edits, every case also checks that
//! the incrementally maintained workbook equals a recalculation from scratch.

use crate::coerce::{DateTextError, parse_date, parse_datetime};
use crate::data::Clock;
use crate::ids::TableId;
use crate::load::{RawColumn, cell_value, column_of, float_decimal};
use crate::schema::{Schema, SourceOrigin, TableSchema};
use crate::transaction::{Op, Transaction};
use crate::value::{ErrorKind, Value, number_to_text};
use crate::workbook::Workbook;
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::ops::Range;
use std::sync::Arc;
use toml::Spanned;

/// A case file that cannot be used: where, and what is wrong.
pub type CaseFileError = crate::error::FileError;

/// A loaded case file: its workbook, built and calculated, and its cases.
#[derive(Clone, Debug)]
pub struct CaseFile {
    path: String,
    source: Arc<str>,
    workbook: Workbook,
    cases: Vec<Case>,
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    span: Range<usize>,
    /// The table, and the 1-based position of `thisRow` (resolved after the edits).
    context: Option<(TableId, Option<usize>)>,
    formula: String,
    expect: Expectation,
    edits: Vec<Edit>,
}

#[derive(Clone, Debug)]
enum Expectation {
    Value(Expected),
    Error(ErrorKind),
    Blank,
}

#[derive(Clone, Debug)]
enum Expected {
    Number(Decimal),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    List(Vec<Expected>),
}

#[derive(Clone, Debug)]
enum Edit {
    Set {
        table: TableId,
        row: usize,
        column: String,
        value: toml::Value,
    },
    Insert {
        table: TableId,
        cells: Vec<toml::Value>,
    },
    Delete {
        table: TableId,
        row: usize,
    },
    Clock(Clock),
}

/// The result of one case.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CaseOutcome {
    /// The case's name.
    pub name: String,
    /// The formula.
    pub formula: String,
    /// 1-based line of the case in its file.
    pub line: usize,
    /// Whether the value was the one expected (and the incremental state matched a full recalculation).
    pub passed: bool,
    /// What was expected, as text.
    pub expected: String,
    /// What the formula gave, as text.
    pub actual: String,
    /// Why it failed, beyond the values (a rejected edit, an incremental mismatch).
    pub note: Option<String>,
}

/// The results of a case file.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct CaseReport {
    /// The file.
    pub path: String,
    /// One per case, in file order.
    pub outcomes: Vec<CaseOutcome>,
}

impl CaseReport {
    /// How many passed.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed).count()
    }

    /// How many failed.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }
}

// ---- the file as written ------------------------------------------------------

#[derive(Deserialize)]
struct RawFile {
    today: Option<Spanned<toml::Value>>,
    now: Option<Spanned<toml::Value>>,
    #[serde(default)]
    tables: Vec<Spanned<RawTable>>,
    #[serde(default)]
    cases: Vec<Spanned<RawCase>>,
}

#[derive(Deserialize)]
struct RawTable {
    name: Spanned<String>,
    columns: Vec<Spanned<RawColumn>>,
    #[serde(default)]
    rows: Vec<Spanned<Vec<toml::Value>>>,
}

#[derive(Deserialize)]
struct RawCase {
    name: String,
    table: Option<String>,
    row: Option<i64>,
    formula: String,
    expect: Option<toml::Value>,
    expect_type: Option<String>,
    expect_error: Option<String>,
    expect_blank: Option<bool>,
    #[serde(default)]
    edits: Vec<Spanned<RawEdit>>,
}

#[derive(Deserialize)]
struct RawEdit {
    table: Option<String>,
    row: Option<i64>,
    column: Option<String>,
    value: Option<toml::Value>,
    insert: Option<Vec<toml::Value>>,
    delete: Option<i64>,
    today: Option<toml::Value>,
    now: Option<toml::Value>,
}

// ---- loading ------------------------------------------------------------------

struct Loader<'a> {
    path: &'a str,
    source: &'a str,
}

impl Loader<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> CaseFileError {
        crate::error::FileError::at(self.path, self.source, span, message)
    }
}

impl CaseFile {
    /// Parses a case file and builds its workbook. `path` is only used in messages.
    ///
    /// # Errors
    ///
    /// A [`CaseFileError`] at the line and column of the first problem: TOML
    /// that does not parse, an unknown key, a value of the wrong type for its
    /// column, a schema that does not bind, a case that names no table or row.
    pub fn parse(path: &str, text: &str) -> Result<CaseFile, CaseFileError> {
        let l = Loader { path, source: text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            l.error(
                span,
                format!("this is not a valid case file: {}", e.message().trim()),
            )
        })?;
        let clock = clock_of(&l, raw.today.as_ref(), raw.now.as_ref())?;
        let schema = schema_of(&l, &raw.tables)?;
        let mut workbook = Workbook::new(&schema, clock).map_err(|e| {
            let p = &e.problems[0];
            match (&p.diagnostic, &p.origin) {
                (Some(d), Some(o)) if &*o.path == path => {
                    let start = o.offset + d.span.start as usize;
                    let end = o.offset + d.span.end as usize;
                    let mut err = l.error(start..end, format!("in `{}`: {}", p.place(), p.message));
                    err.rendered = p.render();
                    err
                }
                _ => {
                    let span = raw
                        .tables
                        .iter()
                        .find(|t| t.get_ref().name.get_ref().trim() == p.table)
                        .map_or(0..0, |t| t.get_ref().name.span());
                    l.error(span, format!("in `{}`: {}", p.place(), p.message))
                }
            }
        })?;
        load_rows(&l, &mut workbook, &raw.tables)?;
        let mut cases = Vec::with_capacity(raw.cases.len());
        let mut names = std::collections::HashSet::new();
        for c in &raw.cases {
            let case = case_of(&l, &workbook, c)?;
            if !names.insert(case.name.clone()) {
                return Err(l.error(
                    c.span(),
                    format!(
                        "a second case is named \"{}\"; case names must be unique",
                        case.name
                    ),
                ));
            }
            cases.push(case);
        }
        Ok(CaseFile {
            path: path.to_string(),
            source: Arc::from(text),
            workbook,
            cases,
        })
    }

    /// The workbook the cases run against.
    pub fn workbook(&self) -> &Workbook {
        &self.workbook
    }

    /// How many cases the file holds.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether the file holds no cases.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Runs every case.
    pub fn run(&self) -> CaseReport {
        CaseReport {
            path: self.path.clone(),
            outcomes: self.cases.iter().map(|c| self.run_case(c)).collect(),
        }
    }

    fn run_case(&self, case: &Case) -> CaseOutcome {
        let (line, _) = csip_formula::line_col(&self.source, case.span.start);
        let mut outcome = CaseOutcome {
            name: case.name.clone(),
            formula: case.formula.clone(),
            line,
            passed: false,
            expected: describe_expectation(&case.expect),
            actual: String::new(),
            note: None,
        };
        let edited;
        let wb = if case.edits.is_empty() {
            &self.workbook
        } else {
            let mut wb = self.workbook.clone();
            for (i, edit) in case.edits.iter().enumerate() {
                if let Err(e) = apply_edit(&mut wb, edit) {
                    outcome.actual = "(not evaluated)".into();
                    outcome.note = Some(format!("edit {} was rejected: {e}", i + 1));
                    return outcome;
                }
            }
            let diffs = wb.differences_from_full_recalc();
            if let Some((cell, inc, full)) = diffs.first() {
                outcome.note = Some(format!(
                    "after the edits, {} cells differ from a recalculation from scratch; first `{}.{}` row {}: incremental {}, from scratch {}",
                    diffs.len(),
                    wb.name_of_table(wb.table_of_column(cell.column)),
                    wb.name_of_column(cell.column),
                    cell.row,
                    describe_value(&wb, inc),
                    describe_value(&wb, full),
                ));
            }
            edited = wb;
            &edited
        };
        let value = match case.context {
            Some((t, Some(position))) => match wb.row_at(t, position) {
                Ok(r) => wb.eval(&case.formula, Some((t, r))),
                Err(_) => {
                    outcome.actual = "(not evaluated)".into();
                    outcome.note = Some(format!(
                        "after the edits `{}` has no row {position} (it has {} rows)",
                        wb.name_of_table(t),
                        wb.data.table(t).order().len()
                    ));
                    return outcome;
                }
            },
            _ => wb.eval(&case.formula, None),
        };
        let value = value.unwrap_or_else(|e| Value::error(e.kind, e.to_string()));
        outcome.actual = describe_value(wb, &value);
        outcome.passed = outcome.note.is_none() && matches(&case.expect, &value);
        outcome
    }
}

fn clock_of(
    l: &Loader<'_>,
    today: Option<&Spanned<toml::Value>>,
    now: Option<&Spanned<toml::Value>>,
) -> Result<Clock, CaseFileError> {
    let date = |v: &Spanned<toml::Value>| -> Result<NaiveDate, CaseFileError> {
        match text_of(v.get_ref()).as_deref().map(parse_date) {
            Some(Ok(d)) => Ok(d),
            Some(Err(e @ DateTextError::YearOutOfRange(_))) => {
                Err(l.error(v.span(), format!("`today` {e}")))
            }
            _ => Err(l.error(v.span(), "`today` must be a date written YYYY-MM-DD")),
        }
    };
    let datetime = |v: &Spanned<toml::Value>| -> Result<NaiveDateTime, CaseFileError> {
        match text_of(v.get_ref()).as_deref().map(parse_datetime) {
            Some(Ok(d)) => Ok(d),
            Some(Err(e @ DateTextError::YearOutOfRange(_))) => {
                Err(l.error(v.span(), format!("`now` {e}")))
            }
            _ => Err(l.error(
                v.span(),
                "`now` must be a date and time written YYYY-MM-DDTHH:MM:SSZ",
            )),
        }
    };
    Ok(match (today, now) {
        (Some(t), Some(n)) => Clock {
            today: date(t)?,
            now: datetime(n)?,
        },
        (Some(t), None) => Clock::on(date(t)?),
        (None, Some(n)) => Clock::at(datetime(n)?),
        (None, None) => Clock::on(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()),
    })
}

fn text_of(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    }
}

fn schema_of(l: &Loader<'_>, tables: &[Spanned<RawTable>]) -> Result<Schema, CaseFileError> {
    let mut schema = Schema::new();
    let (path, source): (Arc<str>, Arc<str>) = (Arc::from(l.path), Arc::from(l.source));
    let at = |span: Range<usize>, message: String| l.error(span, message);
    let origin = |offset: usize| SourceOrigin {
        path: path.clone(),
        source: source.clone(),
        offset,
    };
    for t in tables {
        let raw = t.get_ref();
        let mut table = TableSchema::new(raw.name.get_ref().clone());
        for c in &raw.columns {
            table.columns.push(column_of(c, &at, &origin)?);
        }
        schema.tables.push(table);
    }
    Ok(schema)
}

fn load_rows(
    l: &Loader<'_>,
    wb: &mut Workbook,
    tables: &[Spanned<RawTable>],
) -> Result<(), CaseFileError> {
    let mut input = Vec::new();
    let mut spans = Vec::new();
    for t in tables {
        let raw = t.get_ref();
        let table = wb
            .table_id(raw.name.get_ref())
            .map_err(|e| l.error(raw.name.span(), e.to_string()))?;
        let mut rows = Vec::new();
        let mut row_spans = Vec::new();
        for row in &raw.rows {
            rows.push(row_cells(l, wb, table, row.get_ref(), row.span())?);
            row_spans.push(row.span());
        }
        input.push((table, rows));
        spans.push(row_spans);
    }
    wb.import(input).map_err(|e| {
        let span = e
            .table
            .as_deref()
            .and_then(|t| {
                tables
                    .iter()
                    .position(|rt| rt.get_ref().name.get_ref().trim() == t)
            })
            .and_then(|ti| spans[ti].get(e.op.unwrap_or(0)).cloned())
            .unwrap_or(0..0);
        l.error(span, e.message.clone())
    })?;
    Ok(())
}

/// A row's cells matched to the table's columns: one cell per column, formula
/// columns given as "" (or one cell per data column, formula columns left out).
fn row_cells(
    l: &Loader<'_>,
    wb: &Workbook,
    table: TableId,
    cells: &[toml::Value],
    span: Range<usize>,
) -> Result<Vec<(crate::ColumnId, Value)>, CaseFileError> {
    let all = wb.columns_of_table(table);
    let data: Vec<_> = all
        .iter()
        .copied()
        .filter(|c| wb.data.column(*c).formula().is_none())
        .collect();
    let columns: &[crate::ColumnId] = if cells.len() == all.len() {
        all
    } else if cells.len() == data.len() {
        &data
    } else {
        return Err(l.error(
            span,
            format!(
                "this row of `{}` has {} cells; the table has {} columns ({} of them data columns)",
                wb.name_of_table(table),
                cells.len(),
                all.len(),
                data.len()
            ),
        ));
    };
    let mut out = Vec::new();
    for (c, v) in columns.iter().zip(cells) {
        let value = cell_value(v).map_err(|m| l.error(span.clone(), m))?;
        if wb.data.column(*c).formula().is_some() {
            if !value.is_blank() {
                return Err(l.error(
                    span.clone(),
                    format!(
                        "column `{}` is a formula; write \"\" in its place",
                        wb.name_of_column(*c)
                    ),
                ));
            }
            continue;
        }
        out.push((*c, value));
    }
    Ok(out)
}

fn case_of(l: &Loader<'_>, wb: &Workbook, c: &Spanned<RawCase>) -> Result<Case, CaseFileError> {
    let raw = c.get_ref();
    let span = c.span();
    let table = match &raw.table {
        Some(name) => Some(wb.find_table(name).ok_or_else(|| {
            l.error(
                span.clone(),
                format!("case \"{}\": there is no table `{name}`", raw.name),
            )
        })?),
        None => None,
    };
    let context = match (table, raw.row) {
        (Some(t), Some(n)) => {
            let position = usize::try_from(n).ok().filter(|n| *n >= 1);
            // Without edits the row must exist now; with edits, after them.
            let exists = position.is_some_and(|p| !raw.edits.is_empty() || wb.row_at(t, p).is_ok());
            if !exists {
                return Err(l.error(
                    span.clone(),
                    format!(
                        "case \"{}\": `{}` has no row {n} (it has {} rows, numbered from 1)",
                        raw.name,
                        wb.name_of_table(t),
                        wb.data.table(t).order().len()
                    ),
                ));
            }
            Some((t, position))
        }
        (Some(t), None) => Some((t, None)),
        (None, Some(_)) => {
            return Err(l.error(
                span,
                format!("case \"{}\" gives a `row` but no `table`", raw.name),
            ));
        }
        (None, None) => None,
    };
    let given = [
        raw.expect.is_some(),
        raw.expect_error.is_some(),
        raw.expect_blank == Some(true),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given != 1 {
        return Err(l.error(
            span,
            format!(
                "case \"{}\" must give exactly one of `expect`, `expect_error`, `expect_blank = true`",
                raw.name
            ),
        ));
    }
    let expect = if let Some(kind) = &raw.expect_error {
        Expectation::Error(ErrorKind::from_name(kind).ok_or_else(|| {
            let names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
            l.error(
                span.clone(),
                format!(
                    "unknown error kind \"{kind}\"; use one of: {}",
                    names.join(", ")
                ),
            )
        })?)
    } else if let Some(v) = &raw.expect {
        Expectation::Value(
            expected_of(v, raw.expect_type.as_deref())
                .map_err(|m| l.error(span.clone(), format!("case \"{}\": {m}", raw.name)))?,
        )
    } else {
        Expectation::Blank
    };
    let mut edits = Vec::new();
    for e in &raw.edits {
        edits.push(edit_of(l, wb, e)?);
    }
    Ok(Case {
        name: raw.name.clone(),
        span,
        context,
        formula: raw.formula.clone(),
        expect,
        edits,
    })
}

fn expected_of(v: &toml::Value, ty: Option<&str>) -> Result<Expected, String> {
    let ty = ty.map(|t| t.trim().to_ascii_lowercase());
    Ok(match (v, ty.as_deref()) {
        (toml::Value::Array(items), _) => Expected::List(
            items
                .iter()
                .map(|i| expected_of(i, ty.as_deref()))
                .collect::<Result<_, _>>()?,
        ),
        (v, Some("date")) => Expected::Date(
            text_of(v)
                .as_deref()
                .and_then(|t| parse_date(t).ok())
                .ok_or("`expect_type = \"date\"` needs `expect` written YYYY-MM-DD, years 1 to 9999")?,
        ),
        (v, Some("datetime")) => Expected::DateTime(
            text_of(v)
                .as_deref()
                .and_then(|t| parse_datetime(t).ok())
                .ok_or("`expect_type = \"datetime\"` needs `expect` written YYYY-MM-DDTHH:MM:SS, years 1 to 9999")?,
        ),
        (toml::Value::String(s), None | Some("text")) => Expected::Text(s.clone()),
        (toml::Value::Integer(i), None | Some("number")) => Expected::Number(Decimal::from(*i)),
        (toml::Value::Float(f), None | Some("number")) => Expected::Number(float_decimal(*f)?),
        (toml::Value::Boolean(b), None | Some("bool")) => Expected::Bool(*b),
        (toml::Value::Datetime(d), None) => {
            let text = d.to_string();
            match (parse_date(&text), parse_datetime(&text)) {
                (Ok(date), _) => Expected::Date(date),
                (_, Ok(dt)) => Expected::DateTime(dt),
                (_, Err(e @ DateTextError::YearOutOfRange(_))) => {
                    return Err(format!("the date {text} {e}"));
                }
                _ => return Err(format!("cannot read the date {text}")),
            }
        }
        (_, Some(t)) => {
            return Err(format!(
                "unknown `expect_type` \"{t}\"; use date, datetime, number, text or bool"
            ));
        }
        (toml::Value::Table(_), None) => return Err("`expect` cannot be a table".into()),
    })
}

fn edit_of(l: &Loader<'_>, wb: &Workbook, e: &Spanned<RawEdit>) -> Result<Edit, CaseFileError> {
    let raw = e.get_ref();
    let span = e.span();
    if raw.today.is_some() || raw.now.is_some() {
        let today = raw
            .today
            .as_ref()
            .map(|v| Spanned::new(span.clone(), v.clone()));
        let now = raw
            .now
            .as_ref()
            .map(|v| Spanned::new(span.clone(), v.clone()));
        return Ok(Edit::Clock(clock_of(l, today.as_ref(), now.as_ref())?));
    }
    let table_name = raw.table.as_deref().ok_or_else(|| {
        l.error(
            span.clone(),
            "an edit needs `table` (or `today`/`now` to move the clock)",
        )
    })?;
    let table = wb
        .table_id(table_name)
        .map_err(|e| l.error(span.clone(), e.to_string()))?;
    let position = |n: i64| usize::try_from(n).ok().filter(|n| *n >= 1);
    if let Some(cells) = &raw.insert {
        return Ok(Edit::Insert {
            table,
            cells: cells.clone(),
        });
    }
    if let Some(n) = raw.delete {
        let row = position(n)
            .ok_or_else(|| l.error(span.clone(), "`delete` takes a 1-based row number"))?;
        return Ok(Edit::Delete { table, row });
    }
    let (Some(row), Some(column), Some(value)) = (raw.row, &raw.column, &raw.value) else {
        return Err(l.error(
            span,
            "an edit is `{ table, row, column, value }`, `{ table, insert = [...] }` or `{ table, delete = N }`",
        ));
    };
    let row = position(row).ok_or_else(|| l.error(span.clone(), "`row` is 1-based"))?;
    let col = wb.find_column(table, column).ok_or_else(|| {
        l.error(
            span.clone(),
            format!("`{table_name}` has no column `{column}`"),
        )
    })?;
    if wb.data.column(col).formula().is_some() {
        return Err(l.error(
            span,
            format!("`{column}` is a formula column; edit the columns it reads"),
        ));
    }
    Ok(Edit::Set {
        table,
        row,
        column: column.clone(),
        value: value.clone(),
    })
}

fn apply_edit(wb: &mut Workbook, edit: &Edit) -> Result<(), String> {
    match edit {
        Edit::Clock(clock) => {
            wb.set_clock(*clock);
            Ok(())
        }
        Edit::Set {
            table,
            row,
            column,
            value,
        } => {
            let r = wb.row_at(*table, *row).map_err(|e| e.to_string())?;
            let c = wb.column_id(*table, column).map_err(|e| e.to_string())?;
            let v = cell_value(value)?;
            wb.apply(Transaction::new().set(c, r, v))
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Edit::Insert { table, cells } => {
            let all = wb.columns_of_table(*table).to_vec();
            let data: Vec<_> = all
                .iter()
                .copied()
                .filter(|c| wb.data.column(*c).formula().is_none())
                .collect();
            let columns = if cells.len() == all.len() { all } else { data };
            if columns.len() != cells.len() {
                return Err(format!(
                    "the inserted row has {} cells; `{}` has {} columns",
                    cells.len(),
                    wb.name_of_table(*table),
                    columns.len()
                ));
            }
            let mut values = Vec::new();
            for (c, v) in columns.iter().zip(cells) {
                if wb.data.column(*c).formula().is_none() {
                    values.push((*c, cell_value(v)?));
                }
            }
            let mut tx = Transaction::new();
            tx.push(Op::Insert {
                id: None,
                table: *table,
                values,
            });
            wb.apply(tx).map(|_| ()).map_err(|e| e.to_string())
        }
        Edit::Delete { table, row } => {
            let r = wb.row_at(*table, *row).map_err(|e| e.to_string())?;
            wb.apply(Transaction::new().delete(*table, r))
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

fn matches(expect: &Expectation, value: &Value) -> bool {
    match expect {
        Expectation::Blank => matches!(value, Value::Blank),
        Expectation::Error(kind) => value.as_error().is_some_and(|e| e.kind == *kind),
        Expectation::Value(e) => matches_value(e, value),
    }
}

fn matches_value(e: &Expected, v: &Value) -> bool {
    match (e, v) {
        (Expected::Number(x), Value::Number(y)) => x == y,
        (Expected::Text(x), Value::Text(y)) => x.as_str() == &**y,
        (Expected::Bool(x), Value::Bool(y)) => x == y,
        (Expected::Date(x), Value::Date(y)) => x == y,
        (Expected::DateTime(x), Value::DateTime(y)) => x == y,
        (Expected::List(xs), Value::List(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys.iter()).all(|(x, y)| matches_value(x, y))
        }
        _ => false,
    }
}

fn describe_expectation(e: &Expectation) -> String {
    match e {
        Expectation::Blank => "blank".into(),
        Expectation::Error(k) => format!("error: {k}"),
        Expectation::Value(v) => describe_expected(v),
    }
}

fn describe_expected(e: &Expected) -> String {
    match e {
        Expected::Number(n) => format!("{} (number)", number_to_text(*n)),
        Expected::Text(t) => format!("{t:?} (text)"),
        Expected::Bool(b) => format!("{b} (true/false)"),
        Expected::Date(d) => format!("{} (date)", crate::value::date_to_text(*d)),
        Expected::DateTime(d) => format!("{} (date-time)", crate::value::datetime_to_text(*d)),
        Expected::List(items) => format!(
            "[{}] (list)",
            items
                .iter()
                .map(describe_expected)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A value with its type, for reports: `85 (number)`, `"Gard" (text)`, `blank`.
pub(crate) fn describe_value(wb: &Workbook, v: &Value) -> String {
    match v {
        Value::Blank => "blank".into(),
        Value::Number(n) => format!("{} (number)", number_to_text(*n)),
        Value::Text(t) => format!("{:?} (text)", &**t),
        Value::Bool(b) => format!("{b} (true/false)"),
        Value::Date(d) => format!("{} (date)", crate::value::date_to_text(*d)),
        Value::DateTime(d) => format!("{} (date-time)", crate::value::datetime_to_text(*d)),
        Value::Row(t, _) => format!("{} (row of {})", wb.display(v), wb.name_of_table(*t)),
        Value::List(items) => format!(
            "[{}] (list)",
            items
                .iter()
                .map(|i| describe_value(wb, i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Error(e) => format!("error: {} ({})", e.kind, e.message),
    }
}
