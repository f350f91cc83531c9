//! Writing a schema back to table files (`docs/workbook-files.md`): the
//! inverse of [`crate::schema_from_files`], so that a schema built or changed
//! at run time can be saved and loaded again.
//!
//! One file per table, in the schema's order, holding its columns and then
//! its views, laid out as a person writes them: formulas in single quotes
//! (`'...'`, or `'''...'''` over several lines) where their text allows it,
//! other text in double quotes, keys at their defaults left out. Reading the
//! files back gives a schema equal to the one written, apart from where each
//! piece sits in its file (`origin`, `declared`) and the order of views,
//! which come back grouped by table. What cannot come back equal is not
//! written: every such problem is reported at once.

use crate::load::{SourceFile, float_decimal};
use crate::schema::{
    ColumnSchema, ColumnType, FieldSchema, ParamSchema, Schema, SortKey, TableSchema, ViewLayout,
    ViewSchema, layout_name,
};
use crate::value::{Value, date_to_text};
use chrono::Datelike;
use rust_decimal::Decimal;
use std::fmt::{self, Write as _};

/// A schema that cannot be written as table files without changing it:
/// every problem found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct SchemaWriteError {
    /// The problems, table by table (each with its views), then the views
    /// whose table is not in the schema.
    pub problems: Vec<SchemaWriteProblem>,
}

/// One thing a table file cannot hold as it is: a default no file value
/// reads back as, a name the loader would trim, a view parameter's type
/// with more than a parameter's keys say.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaWriteProblem {
    /// The table (for a view, the table it names).
    pub table: String,
    /// The column, when the problem is a column's.
    pub column: Option<String>,
    /// The view, when the problem is a view's.
    pub view: Option<String>,
    /// One sentence.
    pub message: String,
}

impl fmt::Display for SchemaWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "the schema cannot be written as table files ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

impl fmt::Display for SchemaWriteProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.view, &self.column) {
            (Some(v), _) => write!(f, "error: in view `{v}`: {}", self.message),
            (None, Some(c)) => write!(f, "error: in `{}.{c}`: {}", self.table, self.message),
            (None, None) => write!(f, "error: in `{}`: {}", self.table, self.message),
        }
    }
}

impl Schema {
    /// Writes the schema as table files, one per table in order, named
    /// `01_account_master.toml` and so on; each holds its table's views.
    /// The workbook's names, if it has any, come first, in `00_names.toml`.
    ///
    /// ```
    /// use csip_engine::{ColumnSchema, ColumnType, Schema, TableSchema, schema_from_files};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("Orders")
    ///         .with_column(ColumnSchema::data("Amount", ColumnType::Currency).required())
    ///         .with_column(ColumnSchema::formula("VAT", ColumnType::Currency, "[Amount] * 0.25")),
    /// );
    /// let files = schema.to_table_files()?;
    /// assert_eq!(files[0].path, "01_orders.toml");
    /// assert!(files[0].text.contains("formula = '[Amount] * 0.25'"));
    /// let read = schema_from_files(&files)?;
    /// assert_eq!(read.tables[0].columns[1].formula.as_deref(), Some("[Amount] * 0.25"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_table_files(&self) -> Result<Vec<SourceFile>, SchemaWriteError> {
        let mut problems = Vec::new();
        let mut homeless = Vec::new();
        let mut views: Vec<Vec<&ViewSchema>> = vec![Vec::new(); self.tables.len()];
        for view in &self.views {
            match self
                .tables
                .iter()
                .position(|t| same_name(&t.name, &view.table))
            {
                Some(i) => views[i].push(view),
                None => homeless.push(SchemaWriteProblem {
                    table: view.table.clone(),
                    column: None,
                    view: Some(view.name.clone()),
                    message: format!(
                        "the view's table `{}` is not in the schema, and a view is written in its table's file",
                        view.table
                    ),
                }),
            }
        }
        let mut files = Vec::with_capacity(self.tables.len() + 1);
        if !self.names.is_empty() {
            let mut writer = Writer {
                out: String::from("# The workbook's named values and formulas.\n"),
                table: NAMES_FILE_TABLE,
                problems: &mut problems,
            };
            for name in &self.names {
                writer.out.push_str("\n[[names]]\n");
                writer.column(name);
            }
            files.push(SourceFile::new("00_names.toml", writer.out));
        }
        for (i, (table, views)) in self.tables.iter().zip(&views).enumerate() {
            let mut writer = Writer {
                out: String::new(),
                table: &table.name,
                problems: &mut problems,
            };
            writer.table(table, views);
            files.push(SourceFile::new(file_name(i, &table.name), writer.out));
        }
        problems.append(&mut homeless);
        if problems.is_empty() {
            Ok(files)
        } else {
            Err(SchemaWriteError { problems })
        }
    }
}

/// What a problem with a name says its table is.
const NAMES_FILE_TABLE: &str = "(names)";

/// Whether two names are the same to the workbook (without regard to case).
fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// `NN_name.toml`: the table's place (from 1) and its name in lower case,
/// with anything but letters and digits as `_`.
fn file_name(index: usize, table: &str) -> String {
    let mut slug = String::new();
    for c in table.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug = slug.trim_matches('_');
    let slug = if slug.is_empty() { "table" } else { slug };
    format!("{:02}_{slug}.toml", index + 1)
}

/// The name a table file gives a type (`type = "..."`).
pub(crate) fn type_name(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "text",
        ColumnType::Number => "number",
        ColumnType::Currency => "currency",
        ColumnType::Percent => "percent",
        ColumnType::Date => "date",
        ColumnType::DateTime => "datetime",
        ColumnType::Checkbox => "checkbox",
        ColumnType::Select(_) => "select",
        ColumnType::MultiSelect(_) => "multi-select",
        ColumnType::Email => "email",
        ColumnType::Slider { .. } => "slider",
        ColumnType::Canvas => "canvas",
        ColumnType::Relation { .. } => "relation",
        ColumnType::People { .. } => "people",
        ColumnType::Attachment => "attachment",
        ColumnType::Button => "button",
    }
}

/// One table file being written, and the problems found on the way.
struct Writer<'a> {
    out: String,
    table: &'a str,
    problems: &'a mut Vec<SchemaWriteProblem>,
}

impl Writer<'_> {
    fn table(&mut self, table: &TableSchema, views: &[&ViewSchema]) {
        self.name_as_read(&table.name, None, None, "table name");
        self.line("name", &basic(&table.name));
        if let Some(comment) = &table.comment {
            self.line("comment", &basic(comment));
        }
        if let Some(display) = &table.display_column {
            self.line("display_column", &basic(display));
        }
        for column in &table.columns {
            self.out.push_str("\n[[columns]]\n");
            self.column(column);
        }
        for view in views {
            self.out.push_str("\n[[views]]\n");
            self.view(view);
        }
    }

    fn column(&mut self, c: &ColumnSchema) {
        let problem = |message: String| SchemaWriteProblem {
            table: self.table.to_string(),
            column: Some(c.name.clone()),
            view: None,
            message,
        };
        self.line("name", &basic(&c.name));
        self.line("type", &basic(type_name(&c.ty)));
        match &c.ty {
            ColumnType::Select(options) | ColumnType::MultiSelect(options)
                if !options.is_empty() =>
            {
                self.line("options", &string_list(options));
            }
            ColumnType::Relation { table, multiple } | ColumnType::People { table, multiple } => {
                self.line("table", &basic(table));
                if *multiple {
                    self.line("multiple", "true");
                }
            }
            ColumnType::Slider { min, max } => {
                for (key, n) in [("min", min), ("max", max)] {
                    match number(*n) {
                        Ok(text) => self.line(key, &text),
                        Err(m) => {
                            let p = problem(format!("the slider's `{key}`: {m}"));
                            self.problems.push(p);
                        }
                    }
                }
            }
            _ => {}
        }
        if c.required {
            self.line("required", "true");
        }
        if c.unique {
            self.line("unique", "true");
        }
        if let Some(default) = &c.default {
            match value(default) {
                Ok(text) => self.line("default", &text),
                Err(m) => {
                    let p = problem(format!("the default: {m}"));
                    self.problems.push(p);
                }
            }
        }
        if let Some(decimals) = c.decimals {
            self.line("decimals", &decimals.to_string());
        }
        if let Some(formula) = &c.formula {
            self.line("formula", &formula_text(formula));
        }
        if let Some(action) = &c.action {
            self.line("action", &basic(action));
        }
        if let Some(comment) = &c.comment {
            self.line("comment", &basic(comment));
        }
    }

    fn view(&mut self, v: &ViewSchema) {
        self.line("name", &basic(&v.name));
        if v.layout != ViewLayout::Grid {
            self.line("layout", &basic(layout_name(v.layout)));
        }
        if let Some(comment) = &v.comment {
            self.line("comment", &basic(comment));
        }
        if !v.params.is_empty() {
            let params: Vec<String> = v.params.iter().map(|p| self.param(v, p)).collect();
            self.line("params", &format!("[{}]", params.join(", ")));
        }
        if let Some(filter) = &v.filter {
            self.line("filter", &formula_text(&filter.text));
        }
        if let Some(group_by) = &v.group_by {
            self.line("group_by", &basic(group_by));
        }
        if !v.group_order.is_empty() {
            self.line("group_order", &string_list(&v.group_order));
        }
        if !v.sort.is_empty() {
            let keys: Vec<String> = v.sort.iter().map(|k| self.sort_key(v, k)).collect();
            self.line("sort", &format!("[{}]", keys.join(", ")));
        }
        if !v.fields.is_empty() {
            let fields: Vec<String> = v.fields.iter().map(field).collect();
            self.line("fields", &format!("[{}]", fields.join(", ")));
        }
        if !v.include.is_empty() {
            self.line("include", &string_list(&v.include));
        }
        for tile in &v.tiles {
            self.out.push_str("\n[[views.tiles]]\n");
            self.line("name", &basic(&tile.name));
            self.line("formula", &formula_text(&tile.formula.text));
        }
    }

    /// `{ name = "user", type = "people", table = "People_Team" }`.
    fn param(&mut self, v: &ViewSchema, p: &ParamSchema) -> String {
        let mut keys = vec![
            format!("name = {}", basic(&p.name)),
            format!("type = {}", basic(type_name(&p.ty))),
        ];
        let cannot = match &p.ty {
            ColumnType::Select(options) | ColumnType::MultiSelect(options) => {
                if !options.is_empty() {
                    keys.push(format!("options = {}", string_list(options)));
                }
                None
            }
            ColumnType::Relation { table, multiple } | ColumnType::People { table, multiple } => {
                keys.push(format!("table = {}", basic(table)));
                multiple
                    .then_some("holds several rows, which a table file cannot say of a parameter")
            }
            ColumnType::Slider { min, max }
                if (*min, *max) != (Decimal::ZERO, Decimal::ONE_HUNDRED) =>
            {
                Some(
                    "has a slider range, which a table file cannot give a parameter (it reads 0 to 100)",
                )
            }
            _ => None,
        };
        if let Some(message) = cannot {
            self.problems.push(SchemaWriteProblem {
                table: self.table.to_string(),
                column: None,
                view: Some(v.name.clone()),
                message: format!("the parameter `{}` {message}", p.name),
            });
        }
        if !p.required {
            keys.push("required = false".into());
        }
        format!("{{ {} }}", keys.join(", "))
    }

    /// `"Field"`, or `"Field desc"`; a field whose name ends in ` asc` or
    /// ` desc` says its direction, so that the name reads back whole.
    fn sort_key(&mut self, v: &ViewSchema, k: &SortKey) -> String {
        self.name_as_read(&k.field, None, Some(&v.name), "sort field");
        let lower = k.field.to_ascii_lowercase();
        let ambiguous = lower.ends_with(" asc") || lower.ends_with(" desc");
        let text = match (k.descending, ambiguous) {
            (true, _) => format!("{} desc", k.field),
            (false, true) => format!("{} asc", k.field),
            (false, false) => k.field.clone(),
        };
        basic(&text)
    }

    /// Reports a name the loader would read trimmed.
    fn name_as_read(&mut self, name: &str, column: Option<&str>, view: Option<&str>, what: &str) {
        if name.trim() != name {
            self.problems.push(SchemaWriteProblem {
                table: self.table.to_string(),
                column: column.map(str::to_string),
                view: view.map(str::to_string),
                message: format!(
                    "the {what} \"{name}\" starts or ends with white space, which the loader trims"
                ),
            });
        }
    }

    fn line(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.out, "{key} = {value}");
    }
}

/// A field: its name, or `{ name = "...", formula = '...' }`.
fn field(f: &FieldSchema) -> String {
    match &f.formula {
        None => basic(&f.name),
        Some(formula) => format!(
            "{{ name = {}, formula = {} }}",
            basic(&f.name),
            formula_text(&formula.text)
        ),
    }
}

/// `["a", "b"]`.
fn string_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| basic(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A TOML basic string: `"..."`, with `"`, `\` and control characters escaped.
fn basic(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A formula as a person writes it: `'...'`, so that its double quotes and
/// backslashes need no escaping; over several lines, `'''` with the text
/// starting on the next line; a double-quoted string only when the text
/// holds what a single-quoted one cannot (a `'''`, a carriage return, a
/// control character).
fn formula_text(text: &str) -> String {
    let controls = |allowed: &[char]| {
        text.chars()
            .any(|c| (c.is_control() && (c as u32) < 0x80) && !allowed.contains(&c))
    };
    let multi_line_ok = !controls(&['\t', '\n'])
        && !text.contains("'''")
        && !text.starts_with('\'')
        && !text.ends_with('\'');
    if !text.contains('\'') && !controls(&['\t']) {
        format!("'{text}'")
    } else if multi_line_ok && text.contains('\n') {
        format!("'''\n{text}'''")
    } else if multi_line_ok {
        format!("'''{text}'''")
    } else {
        basic(text)
    }
}

/// A cell value as a table file writes it, when reading it back gives the
/// same value.
fn value(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Blank => "\"\"".into(),
        Value::Text(t) if t.is_empty() => {
            return Err("empty text, which a table file cannot tell from Blank".into());
        }
        Value::Text(t) => basic(t),
        Value::Number(n) => number(*n)?,
        Value::Bool(b) => b.to_string(),
        Value::Date(d) if (1..=9999).contains(&d.year()) => date_to_text(*d),
        Value::DateTime(d) if (1..=9999).contains(&d.year()) => {
            format!(
                "{}T{}",
                date_to_text(d.date()),
                d.time().format("%H:%M:%S%.f")
            )
        }
        Value::Date(_) | Value::DateTime(_) => {
            return Err(format!("{v:?} lies outside the years 1 to 9999"));
        }
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(value).collect::<Result<_, _>>()?;
            format!("[{}]", items.join(", "))
        }
        Value::Row(..) => {
            return Err("a row, which a table file has no way to write".into());
        }
        Value::Error(e) => {
            return Err(format!(
                "an error value ({e}), which a table file has no way to write"
            ));
        }
    })
}

/// A number as a TOML integer when it is whole and fits one, else as a
/// float whose shortest form is the number (how the loader reads floats).
fn number(n: Decimal) -> Result<String, String> {
    if n.fract().is_zero() {
        if let Ok(i) = i64::try_from(n.trunc()) {
            return Ok(i.to_string());
        }
    }
    let mut text = n.normalize().to_string();
    if !text.contains('.') {
        text.push_str(".0");
    }
    let read = text
        .parse::<f64>()
        .map_err(|e| e.to_string())
        .and_then(float_decimal);
    match read {
        Ok(back) if back == n => Ok(text),
        _ => Err(format!(
            "the number {n} has more digits than a table file's number keeps \
             (a float: 15 significant digits)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_numbered_and_plain() {
        assert_eq!(file_name(0, "Account_Master"), "01_account_master.toml");
        assert_eq!(file_name(11, "Før & etter"), "12_før_etter.toml");
        assert_eq!(file_name(99, "🙂"), "100_table.toml");
    }

    #[test]
    fn formulas_take_single_quotes_where_they_can() {
        assert_eq!(formula_text(r#"[A] & "x""#), r#"'[A] & "x"'"#);
        assert_eq!(
            formula_text(r#"If([A], "it's", "")"#),
            r#"'''If([A], "it's", "")'''"#
        );
        assert_eq!(formula_text("[A]\n+ [B]"), "'''\n[A]\n+ [B]'''");
        assert_eq!(formula_text("'''"), r#""'''""#);
        assert_eq!(formula_text("a\r\nb"), r#""a\r\nb""#);
    }

    #[test]
    fn numbers_are_written_as_the_loader_reads_them() {
        assert_eq!(number(Decimal::new(1250, 2)), Ok("12.5".into()));
        assert_eq!(number(Decimal::new(-3, 0)), Ok("-3".into()));
        assert_eq!(
            number(Decimal::from_i128_with_scale(10_i128.pow(20), 0)),
            Ok("100000000000000000000.0".into())
        );
        assert!(
            number(Decimal::from_i128_with_scale(
                123_456_789_012_345_678_901,
                3
            ))
            .is_err()
        );
    }
}
