//! The one diagnostic type shared by the parser and the engine's binder, and its
//! caret renderer (annotate-snippets, rustc's own).

use crate::ast::Span;
use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use std::fmt;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The formula or schema cannot be used as written.
    Error,
    /// Worth a look; nothing was refused.
    Warning,
}

/// A problem found in a formula: where it is, what is wrong, what would fix it.
///
/// Spans are byte offsets into the formula text. Leaf code builds the message;
/// whoever holds the source (a schema file, a case file, the CLI) renders it
/// with [`Diagnostic::render`], shifting spans by the formula's offset in that source.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The offending part of the formula.
    pub span: Span,
    /// One sentence that says what is wrong.
    pub message: String,
    /// A short label shown under the caret.
    pub label: Option<String>,
    /// Sentences that say what would fix it (`did you mean ...?`).
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            label: None,
            hints: Vec::new(),
        }
    }

    /// Adds a label shown under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a hint that says what would fix the problem.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    /// The 1-based line and column (in characters) of the span's start within
    /// `source`, where the formula starts at byte `offset` of `source`.
    pub fn line_col(&self, source: &str, offset: usize) -> (usize, usize) {
        line_col(source, offset + self.span.start as usize)
    }

    /// Renders the diagnostic with a caret under the span, rustc-style, without colours.
    ///
    /// `source` is the text that holds the formula (the formula alone, or a whole
    /// file); `offset` is the byte offset of the formula within it; `path` names the
    /// file, if there is one. Line and column in the header are those of `source`.
    ///
    /// ```
    /// let err = csip_formula::parse("1 + ").unwrap_err();
    /// let text = err.diagnostic().render("1 + ", 0, Some("cases.toml"));
    /// assert!(text.contains("cases.toml:1:5"), "{text}");
    /// assert!(text.contains('^'), "{text}");
    /// ```
    pub fn render(&self, source: &str, offset: usize, path: Option<&str>) -> String {
        let start = (offset + self.span.start as usize).min(source.len());
        let end = (offset + self.span.end as usize).clamp(start, source.len());
        let start = floor_char_boundary(source, start);
        let end = floor_char_boundary(source, end).max(start);
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut annotation = AnnotationKind::Primary.span(start..end);
        if let Some(label) = &self.label {
            annotation = annotation.label(label.as_str());
        }
        let mut snippet = Snippet::source(source).annotation(annotation);
        if let Some(path) = path {
            snippet = snippet.path(path);
        }
        let mut group = level.primary_title(self.message.as_str()).element(snippet);
        for hint in &self.hints {
            group = group.element(Level::HELP.message(hint.as_str()));
        }
        Renderer::plain().render(&[group]).to_string()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for hint in &self.hints {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// The 1-based line and column (counted in characters) of byte `byte` in `source`.
pub fn line_col(source: &str, byte: usize) -> (usize, usize) {
    let byte = floor_char_boundary(source, byte.min(source.len()));
    let before = &source[..byte];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..byte].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é = 1", 2), (1, 2));
        assert_eq!(line_col("x", 99), (1, 2));
    }

    #[test]
    fn render_shows_path_line_and_hint() {
        let d = Diagnostic::error(
            Span::new(4, 15),
            "no column `Helth_Score` in `Account_Master`",
        )
        .with_label("unknown column")
        .with_hint("did you mean `Health_Score`?");
        let src = "1 + [Helth_Score]";
        let text = d.render(src, 0, Some("schema.toml"));
        assert!(text.contains("schema.toml:1:5"), "{text}");
        assert!(text.contains("^^^^^^^^^^^"), "{text}");
        assert!(
            text.contains("help: did you mean `Health_Score`?"),
            "{text}"
        );
    }

    #[test]
    fn render_with_offset_into_a_file() {
        let file = "[col]\nformula = '1 + '\n";
        let d = Diagnostic::error(Span::new(4, 4), "expected an expression");
        let text = d.render(file, 17, Some("t.toml"));
        assert!(text.contains("t.toml:2:16"), "{text}");
    }
}
