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
pub struct SchemaProblem {
    /// The table.
    pub table: String,
    /// The column, when the problem is a column's.
    pub column: Option<String>,
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
    /// `Table.Column`, or `Table`.
    pub fn place(&self) -> String {
        match &self.column {
            Some(c) => format!("{}.{c}", self.table),
            None => self.table.clone(),
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
                d.message = format!("in `{}`: {}", self.place(), d.message);
                d.render(&o.source, o.offset, Some(&o.path))
            }
            _ => format!("error: in `{}`: {}", self.place(), self.message),
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
