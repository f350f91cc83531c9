//! The schema and data file formats (`docs/workbook-files.md`): TOML, one table
//! per file with its views, and one data file per table. The loader takes the
//! files' text; the caller reads them. Every problem is reported with its file,
//! line and column.

use crate::coerce::{DateTextError, parse_date, parse_datetime};
use crate::error::{FileError, LoadError};
use crate::ids::{ColumnId, RowId, TableId};
use crate::schema::{
    ColumnSchema, ColumnType, FieldSchema, FormulaText, ParamSchema, Schema, SortKey, SourceOrigin,
    TableSchema, TileSchema, ViewLayout, ViewSchema,
};
use crate::transaction::RowValues;
use crate::value::Value;
use crate::workbook::Workbook;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use toml::Spanned;

/// A file's name (as messages should show it) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path, relative to wherever the user would look for it.
    pub path: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A file from its path and text.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }
}

// ---- the files as written -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTableFile {
    /// Absent in a file of names only.
    name: Option<Spanned<String>>,
    comment: Option<String>,
    display_column: Option<String>,
    #[serde(default)]
    columns: Vec<Spanned<RawColumn>>,
    #[serde(default)]
    views: Vec<Spanned<RawView>>,
    /// The workbook's named values and formulas (any file may hold some).
    #[serde(default)]
    names: Vec<Spanned<RawColumn>>,
}

/// A column as table files and case files write it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    options: Vec<String>,
    table: Option<String>,
    #[serde(alias = "multi")]
    multiple: Option<bool>,
    formula: Option<Spanned<String>>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    unique: bool,
    default: Option<toml::Value>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    decimals: Option<u32>,
    comment: Option<String>,
    action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    name: String,
    layout: Option<String>,
    filter: Option<Spanned<String>>,
    #[serde(default)]
    sort: Vec<String>,
    group_by: Option<String>,
    #[serde(default)]
    group_order: Vec<String>,
    #[serde(default)]
    fields: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    params: Vec<RawParam>,
    #[serde(default)]
    tiles: Vec<RawTile>,
    #[serde(default)]
    include: Vec<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    table: Option<String>,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default = "yes")]
    required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTile {
    name: String,
    formula: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataFile {
    table: Spanned<String>,
    columns: Option<Vec<String>>,
    #[serde(default)]
    rows: Vec<Spanned<RawRow>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRow {
    Named(toml::Table),
    Positional(Vec<toml::Value>),
}

// ---- schema files ---------------------------------------------------------------

/// Reads table files (one table and its views per file) into a schema. The
/// tables keep the order of `files`.
///
/// # Errors
///
/// A [`FileError`] at the file, line and column of the first problem: TOML
/// that does not parse, an unknown key or column type, a missing name, a
/// value of the wrong kind. Formulas are not checked here: binding the schema
/// ([`Workbook::new`]) reports those, all at once.
pub fn schema_from_files(files: &[SourceFile]) -> Result<Schema, FileError> {
    let mut schema = Schema::new();
    for file in files {
        let source: Arc<str> = Arc::from(file.text.as_str());
        let path: Arc<str> = Arc::from(file.path.as_str());
        let at = |span: Range<usize>, message: String| {
            FileError::at(&file.path, &file.text, span, message)
        };
        let origin = |offset: usize| SourceOrigin {
            path: path.clone(),
            source: source.clone(),
            offset,
        };
        let raw: RawTableFile = toml::from_str(&file.text).map_err(|e| {
            at(
                e.span().unwrap_or(0..0),
                format!("this is not a valid table file: {}", e.message().trim()),
            )
        })?;
        for n in &raw.names {
            schema.names.push(column_of(n, &at, &origin)?);
        }
        let Some(name) = &raw.name else {
            if raw.names.is_empty()
                || !raw.columns.is_empty()
                || !raw.views.is_empty()
                || raw.comment.is_some()
                || raw.display_column.is_some()
            {
                return Err(at(
                    0..0,
                    "a table file starts with the table's `name = \"...\"` (a file of `[[names]]` only needs none)".into(),
                ));
            }
            continue;
        };
        let table_name = name.get_ref().trim().to_string();
        let mut table = TableSchema::new(table_name.clone());
        table.comment = raw.comment;
        table.display_column = raw.display_column;
        table.declared = Some(origin(name.span().start));
        for c in &raw.columns {
            table.columns.push(column_of(c, &at, &origin)?);
        }
        schema.tables.push(table);
        for v in &raw.views {
            schema.views.push(view_of(&table_name, v, &at, &origin)?);
        }
    }
    Ok(schema)
}

pub(crate) fn column_of(
    c: &Spanned<RawColumn>,
    at: &dyn Fn(Range<usize>, String) -> FileError,
    origin: &dyn Fn(usize) -> SourceOrigin,
) -> Result<ColumnSchema, FileError> {
    let rc = c.get_ref();
    let ty = column_type(
        &rc.ty,
        &rc.options,
        rc.table.as_deref(),
        rc.multiple,
        rc.min.as_ref(),
        rc.max.as_ref(),
    )
    .map_err(|m| at(c.span(), format!("column `{}`: {m}", rc.name)))?;
    let mut column = ColumnSchema::data(rc.name.clone(), ty);
    column.required = rc.required;
    column.unique = rc.unique;
    column.decimals = rc.decimals;
    column.comment = rc.comment.clone();
    column.declared = Some(origin(c.span().start));
    if let Some(action) = &rc.action {
        if column.ty != ColumnType::Button {
            return Err(at(
                c.span(),
                format!(
                    "column `{}`: only a button column runs an action; make it type = \"button\" or drop `action`",
                    rc.name
                ),
            ));
        }
        column.action = Some(action.trim().to_string());
    }
    column.default = match &rc.default {
        Some(v) => {
            Some(cell_value(v).map_err(|m| at(c.span(), format!("column `{}`: {m}", rc.name)))?)
        }
        None => None,
    };
    if let Some(f) = &rc.formula {
        column.formula = Some(f.get_ref().clone());
        column.origin = Some(origin(string_body_start(&origin(0).source, f.span())));
    }
    Ok(column)
}

/// A column (or parameter) type from its name and the keys that refine it.
pub(crate) fn column_type(
    name: &str,
    options: &[String],
    table: Option<&str>,
    multiple: Option<bool>,
    min: Option<&toml::Value>,
    max: Option<&toml::Value>,
) -> Result<ColumnType, String> {
    let mut ty = ColumnType::from_name(name)
        .ok_or_else(|| format!("unknown type \"{name}\"; use one of: {}", ColumnType::NAMES))?;
    match &mut ty {
        ColumnType::Select(o) | ColumnType::MultiSelect(o) => o.clone_from(&options.to_vec()),
        ColumnType::Relation {
            table: t,
            multiple: m,
        } => {
            *t = table
                .ok_or("a relation needs `table = \"...\"`, the table it refers to")?
                .to_string();
            if let Some(x) = multiple {
                *m = x;
            }
        }
        ColumnType::People {
            table: t,
            multiple: m,
        } => {
            *t = table.unwrap_or("People_Team").to_string();
            if let Some(x) = multiple {
                *m = x;
            }
        }
        ColumnType::Slider { min: lo, max: hi } => {
            if let Some(v) = min {
                *lo = number_of(v).ok_or("`min` must be a number")?;
            }
            if let Some(v) = max {
                *hi = number_of(v).ok_or("`max` must be a number")?;
            }
        }
        _ => {}
    }
    Ok(ty)
}

fn view_of(
    table: &str,
    v: &Spanned<RawView>,
    at: &dyn Fn(Range<usize>, String) -> FileError,
    origin: &dyn Fn(usize) -> SourceOrigin,
) -> Result<ViewSchema, FileError> {
    let raw = v.get_ref();
    let source = origin(0).source;
    let formula = |f: &Spanned<String>| FormulaText {
        text: f.get_ref().clone(),
        origin: Some(origin(string_body_start(&source, f.span()))),
    };
    let bad = |m: String| at(v.span(), format!("view `{}`: {m}", raw.name));
    let layout = match &raw.layout {
        Some(l) => ViewLayout::from_name(l).ok_or_else(|| {
            bad(format!(
                "unknown layout \"{l}\"; use grid, cards, kanban or dashboard"
            ))
        })?,
        None => ViewLayout::Grid,
    };
    let sort = raw
        .sort
        .iter()
        .map(|s| {
            let s = s.trim();
            let lower = s.to_ascii_lowercase();
            if let Some(field) = lower.strip_suffix(" desc").map(|_| &s[..s.len() - 5]) {
                SortKey {
                    field: field.trim().to_string(),
                    descending: true,
                }
            } else if let Some(field) = lower.strip_suffix(" asc").map(|_| &s[..s.len() - 4]) {
                SortKey {
                    field: field.trim().to_string(),
                    descending: false,
                }
            } else {
                SortKey {
                    field: s.to_string(),
                    descending: false,
                }
            }
        })
        .collect();
    let mut params = Vec::new();
    for p in &raw.params {
        let ty = column_type(&p.ty, &p.options, p.table.as_deref(), None, None, None)
            .map_err(|m| bad(format!("parameter `{}`: {m}", p.name)))?;
        params.push(ParamSchema {
            name: p.name.clone(),
            ty,
            required: p.required,
        });
    }
    Ok(ViewSchema {
        name: raw.name.clone(),
        table: table.to_string(),
        layout,
        filter: raw.filter.as_ref().map(formula),
        sort,
        group_by: raw.group_by.clone(),
        group_order: raw.group_order.clone(),
        fields: raw
            .fields
            .iter()
            .map(|f| {
                field_of(f, &source, origin)
                    .map_err(|m| at(f.span(), format!("view `{}`: {m}", raw.name)))
            })
            .collect::<Result<_, _>>()?,
        params,
        tiles: raw
            .tiles
            .iter()
            .map(|t| TileSchema {
                name: t.name.clone(),
                formula: formula(&t.formula),
            })
            .collect(),
        include: raw.include.clone(),
        comment: raw.comment.clone(),
        declared: Some(origin(v.span().start)),
    })
}

/// A view field: a column name, or `{ name = "...", formula = '...' }`.
fn field_of(
    f: &Spanned<toml::Value>,
    source: &str,
    origin: &dyn Fn(usize) -> SourceOrigin,
) -> Result<FieldSchema, String> {
    const SHAPE: &str = "a field is a column name, or `{ name = \"...\", formula = '...' }`";
    match f.get_ref() {
        toml::Value::String(name) => Ok(FieldSchema {
            name: name.clone(),
            formula: None,
        }),
        toml::Value::Table(t) => {
            let name = t.get("name").and_then(toml::Value::as_str);
            let formula = t.get("formula").and_then(toml::Value::as_str);
            match (name, formula, t.len()) {
                (Some(name), Some(text), 2) => {
                    // The formula's place in the file: inside the field's inline table.
                    let span = f.span();
                    let offset = source
                        .get(span.clone())
                        .and_then(|s| s.find(text))
                        .map_or(span.start, |i| span.start + i);
                    Ok(FieldSchema {
                        name: name.to_string(),
                        formula: Some(FormulaText {
                            text: text.to_string(),
                            origin: Some(origin(offset)),
                        }),
                    })
                }
                _ => Err(SHAPE.into()),
            }
        }
        _ => Err(SHAPE.into()),
    }
}

/// Where a TOML string's text starts, after its opening quotes.
pub(crate) fn string_body_start(source: &str, span: Range<usize>) -> usize {
    let s = source.get(span.clone()).unwrap_or("");
    if s.starts_with("'''") || s.starts_with("\"\"\"") {
        let after = span.start + 3;
        let rest = source.get(after..).unwrap_or("");
        if rest.starts_with("\r\n") {
            after + 2
        } else if rest.starts_with('\n') {
            after + 1
        } else {
            after
        }
    } else {
        span.start + 1
    }
}

fn number_of(v: &toml::Value) -> Option<Decimal> {
    match cell_value(v) {
        Ok(Value::Number(n)) => Some(n),
        _ => None,
    }
}

/// A value as a TOML file writes it: "" is Blank; a float is read from its
/// shortest text form, never through its binary expansion.
pub(crate) fn cell_value(v: &toml::Value) -> Result<Value, String> {
    Ok(match v {
        toml::Value::String(s) if s.is_empty() => Value::Blank,
        toml::Value::String(s) => Value::from(s.as_str()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::Number(float_decimal(*f)?),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => {
            let text = d.to_string();
            match (parse_date(&text), parse_datetime(&text)) {
                (Ok(date), _) => Value::Date(date),
                (_, Ok(dt)) => Value::DateTime(dt),
                (_, Err(e @ DateTextError::YearOutOfRange(_))) => {
                    return Err(format!("the date {text} {e}"));
                }
                _ => return Err(format!("cannot read the date {text}")),
            }
        }
        toml::Value::Array(items) => {
            Value::list(items.iter().map(cell_value).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(_) => return Err("a cell cannot be a table".into()),
    })
}

pub(crate) fn float_decimal(f: f64) -> Result<Decimal, String> {
    if !f.is_finite() {
        return Err(format!("{f} is not a number a cell can hold"));
    }
    Decimal::from_str(&format!("{f}")).map_err(|_| format!("{f} does not fit a decimal"))
}

// ---- data files -------------------------------------------------------------------

impl Workbook {
    /// Loads data files (one per table) with [`Workbook::import`]: all or
    /// nothing. Dates and date-times are moved by `shift_days` (sample data
    /// written for one day, loaded for another). Returns the new rows per file.
    ///
    /// # Errors
    ///
    /// A [`FileError`] at the place of the first problem: a file that does
    /// not parse, an unknown table or column (with a "did you mean"), or a
    /// row the workbook refuses (a value of the wrong type, a relation to no
    /// row, a broken required or unique rule). Nothing is loaded then.
    pub fn import_files(
        &mut self,
        files: &[SourceFile],
        shift_days: i64,
    ) -> Result<Vec<Vec<RowId>>, FileError> {
        let mut input: Vec<(TableId, Vec<RowValues>)> = Vec::new();
        let mut spans: Vec<Vec<Range<usize>>> = Vec::new();
        for file in files {
            let at = |span: Range<usize>, message: String| {
                FileError::at(&file.path, &file.text, span, message)
            };
            let raw: RawDataFile = toml::from_str(&file.text).map_err(|e| {
                at(
                    e.span().unwrap_or(0..0),
                    format!("this is not a valid data file: {}", e.message().trim()),
                )
            })?;
            let table_name = raw.table.get_ref();
            let table = self.find_table(table_name).ok_or_else(|| {
                let hint = crate::bind::did_you_mean(
                    table_name,
                    self.tables()
                        .map(|t| self.name_of_table(t).to_string())
                        .collect(),
                )
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
                at(
                    raw.table.span(),
                    format!("`{table_name}` is not a table{hint}"),
                )
            })?;
            let header: Option<Vec<ColumnId>> = match &raw.columns {
                Some(names) => Some(
                    names
                        .iter()
                        .map(|n| {
                            self.data_column(table, n)
                                .map_err(|m| at(raw.table.span(), m))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                None => None,
            };
            let mut rows = Vec::with_capacity(raw.rows.len());
            let mut row_spans = Vec::with_capacity(raw.rows.len());
            for row in &raw.rows {
                let span = row.span();
                let cells: Vec<(ColumnId, &toml::Value)> = match (row.get_ref(), &header) {
                    (RawRow::Named(t), _) => t
                        .iter()
                        .map(|(k, v)| self.data_column(table, k).map(|c| (c, v)))
                        .collect::<Result<_, _>>()
                        .map_err(|m| at(span.clone(), m))?,
                    (RawRow::Positional(values), Some(columns)) => {
                        if values.len() != columns.len() {
                            return Err(at(
                                span,
                                format!(
                                    "this row has {} cells; `columns` names {}",
                                    values.len(),
                                    columns.len()
                                ),
                            ));
                        }
                        columns.iter().copied().zip(values.iter()).collect()
                    }
                    (RawRow::Positional(_), None) => {
                        return Err(at(span, "a row written as an array needs `columns = [...]` at the top of the file".into()));
                    }
                };
                let mut values = Vec::with_capacity(cells.len());
                for (c, v) in cells {
                    let value = cell_value(v).map_err(|m| {
                        at(
                            span.clone(),
                            format!("column `{}`: {m}", self.name_of_column(c)),
                        )
                    })?;
                    values.push((c, self.shift_dates(c, value, shift_days)));
                }
                rows.push(values);
                row_spans.push(span);
            }
            input.push((table, rows));
            spans.push(row_spans);
        }
        self.import(input).map_err(|e| {
            // The import names the table and the row within its input.
            let file = e.table.as_deref().and_then(|t| {
                files.iter().position(|f| {
                    self.table_of_file(f)
                        .is_some_and(|name| name.eq_ignore_ascii_case(t))
                })
            });
            match file {
                Some(i) => {
                    let span = spans[i].get(e.op.unwrap_or(0)).cloned().unwrap_or(0..0);
                    FileError::at(&files[i].path, &files[i].text, span, e.message.clone())
                }
                None => FileError {
                    path: files.first().map(|f| f.path.clone()).unwrap_or_default(),
                    line: 1,
                    column: 1,
                    rendered: format!("error: {}", e.message),
                    message: e.message.clone(),
                },
            }
        })
    }

    fn table_of_file(&self, f: &SourceFile) -> Option<String> {
        toml::from_str::<RawDataFile>(&f.text)
            .ok()
            .map(|r| r.table.into_inner())
    }

    fn data_column(&self, table: TableId, name: &str) -> Result<ColumnId, String> {
        let c = self.find_column(table, name).ok_or_else(|| {
            let names = self
                .columns_of_table(table)
                .iter()
                .map(|c| self.name_of_column(*c).to_string())
                .collect();
            let hint = crate::bind::did_you_mean(name, names)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            format!(
                "`{}` has no column `{name}`{hint}",
                self.name_of_table(table)
            )
        })?;
        if self.data.column(c).formula().is_some() {
            return Err(format!(
                "`{name}` is a formula column; data files give data columns only"
            ));
        }
        Ok(c)
    }

    fn shift_dates(&self, column: ColumnId, value: Value, days: i64) -> Value {
        if days == 0 {
            return value;
        }
        let delta = chrono::Duration::days(days);
        match (&self.data.column(column).schema.ty, &value) {
            (ColumnType::Date, Value::Text(t)) => {
                parse_date(t).map_or(value.clone(), |d| Value::Date(d + delta))
            }
            (ColumnType::Date, Value::Date(d)) => Value::Date(*d + delta),
            (ColumnType::DateTime, Value::Text(t)) => {
                parse_datetime(t).map_or(value.clone(), |d| Value::DateTime(d + delta))
            }
            (ColumnType::DateTime, Value::DateTime(d)) => Value::DateTime(*d + delta),
            _ => value,
        }
    }

    /// Builds a workbook from table files and loads data files into it.
    ///
    /// # Errors
    ///
    /// [`LoadError::File`] for a table or data file that cannot be read (see
    /// [`schema_from_files`] and [`Workbook::import_files`]),
    /// [`LoadError::Schema`] with every problem of a schema that does not bind.
    pub fn load_files(
        tables: &[SourceFile],
        data: &[SourceFile],
        clock: crate::Clock,
        shift_days: i64,
    ) -> Result<Workbook, LoadError> {
        let schema = schema_from_files(tables)?;
        let mut wb = Workbook::new(&schema, clock)?;
        wb.import_files(data, shift_days)?;
        Ok(wb)
    }
}
