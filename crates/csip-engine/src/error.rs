//! Typed errors at the API: a schema that cannot be bound, a formula that
//! cannot be evaluated. (Transaction errors live with transactions.)

use crate::bind::BindError;
use crate::schema::SourceOrigin;
use crate::value::ErrorKind;
use csip_formula::{Diagnostic, ParseError};
use std::fmt;
use std::sync::Arc;

/// A schema that cannot be bound: every problem found, each located.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct SchemaError {
    /// The problems, in the order of the schema.
    pub problems: Vec<SchemaProblem>,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "the schema has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "{}", p.render())?;
        }
        Ok(())
    }
}

/// One problem of a schema: which table and column, what is wrong, and for a
/// formula where in it (and where that formula sits in its file).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaProblem {
    /// The table.
    pub table: String,
    /// The column, when the problem is a column's.
    pub column: Option<String>,
    /// The view, when the problem is a view's.
    pub view: Option<String>,
    /// What the problem would be as an error value (`parse`, `unknown name`, ...).
    pub kind: ErrorKind,
    /// One sentence.
    pub message: String,
    /// For a formula: the span, label and hints.
    pub diagnostic: Option<Diagnostic>,
    /// For a formula: the text that holds it.
    pub origin: Option<SourceOrigin>,
}

impl SchemaProblem {
    /// `Table.Column`, `Table`, or `view Name`.
    pub fn place(&self) -> String {
        match (&self.view, &self.column) {
            (Some(v), _) => format!("view {v}"),
            (None, Some(c)) => format!("{}.{c}", self.table),
            (None, None) => self.table.clone(),
        }
    }

    fn quoted_place(&self) -> String {
        match &self.view {
            Some(v) => format!("view `{v}`"),
            None => format!("`{}`", self.place()),
        }
    }

    /// The file, 1-based line and column of a formula problem.
    pub fn location(&self) -> Option<(String, usize, usize)> {
        let (d, o) = (self.diagnostic.as_ref()?, self.origin.as_ref()?);
        let (line, col) = d.line_col(&o.source, o.offset);
        Some((o.path.to_string(), line, col))
    }

    /// The problem as text: with a caret under the formula when it is a formula's.
    pub fn render(&self) -> String {
        match (&self.diagnostic, &self.origin) {
            (Some(d), Some(o)) => {
                let mut d = d.clone();
                d.message = format!("in {}: {}", self.quoted_place(), d.message);
                d.render(&o.source, o.offset, Some(&o.path))
            }
            _ => format!("error: in {}: {}", self.quoted_place(), self.message),
        }
    }
}

/// Where a formula written in code (not read from a file) is shown from.
pub(crate) fn inline_origin(text: &str) -> SourceOrigin {
    SourceOrigin {
        path: Arc::from("formula"),
        source: Arc::from(text),
        offset: 0,
    }
}

/// A formula that cannot be evaluated because it does not parse or bind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct FormulaError {
    /// The error kind the formula stands for: `parse`, `unknown name`, ...
    pub kind: ErrorKind,
    /// The formula text.
    pub formula: String,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

impl FormulaError {
    pub(crate) fn parse(source: &str, e: ParseError) -> FormulaError {
        FormulaError {
            kind: ErrorKind::Parse,
            formula: source.to_string(),
            diagnostics: vec![e.diagnostic().clone()],
        }
    }

    pub(crate) fn bind(source: &str, errors: Vec<BindError>) -> FormulaError {
        FormulaError {
            kind: errors.first().map_or(ErrorKind::UnknownName, |e| e.kind),
            formula: source.to_string(),
            diagnostics: errors.into_iter().map(|e| e.diagnostic).collect(),
        }
    }

    /// Every problem, with a caret under the formula; `path` names its file if any.
    pub fn render(&self, path: Option<&str>) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.formula, 0, path))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in &self.diagnostics {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A file that cannot be read as what it should be (a case file, a schema or
/// data file): where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    /// The file as named by the caller.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// One sentence saying what is wrong and what to do.
    pub message: String,
    /// The message with the offending line and a caret.
    pub rendered: String,
}

impl FileError {
    /// An error at a byte range of a file's text.
    pub fn at(
        path: &str,
        source: &str,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> FileError {
        let message = message.into();
        let d = Diagnostic::error(
            csip_formula::Span::new(span.start, span.end),
            message.clone(),
        );
        let (line, column) = csip_formula::line_col(source, span.start);
        FileError {
            path: path.to_string(),
            line,
            column,
            rendered: d.render(source, 0, Some(path)),
            message,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// A workbook that cannot be loaded from its files.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file is not what it should be.
    #[error("{0}")]
    File(#[from] FileError),
    /// The schema the files describe does not bind.
    #[error("{0}")]
    Schema(#[from] SchemaError),
    /// Saved rows break a rule of the schema (see [`crate::Workbook::restore_with`]).
    #[error("{0}")]
    Rows(#[from] crate::TransactionError),
    /// Saved rows name a table or column the schema does not have.
    #[error("{0}")]
    Lookup(#[from] crate::LookupError),
}
