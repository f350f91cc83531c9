#![warn(missing_docs)]

//! Syntax of the csip formula language (specified in `docs/formula-language.md`
//! of the csip source): the pest grammar, the AST with byte spans, and parse
//! diagnostics.
//!
//! This crate does not evaluate anything and knows nothing of tables: names stay
//! names until `csip-engine` binds them. It must not depend on the engine.
//!
//! - the grammar: `src/formula.pest` (tokens, nesting, what `[Name]` and chains look like);
//! - operator precedence and the tree: `src/parser.rs`;
//! - the node types: `src/ast.rs`;
//! - the diagnostic type shared with the binder, and its caret renderer: `src/diagnostic.rs`.
//!
//! ```
//! use csip_formula::parse;
//!
//! let f = parse(r#"If([Health_Score] < 60 AND [Days_To_Renewal] < 180, "Critical", "Healthy")"#)?;
//! assert_eq!(
//!     f.to_string(),
//!     r#"(If (AND (< [Health_Score] 60) (< [Days_To_Renewal] 180)) "Critical" "Healthy")"#
//! );
//!
//! let err = parse("Average(Filter([Metrics], [Score] > ))").unwrap_err();
//! assert_eq!(err.message(), "expected an expression, found `)`");
//! # Ok::<(), csip_formula::ParseError>(())
//! ```

// The README's examples run as doctests, so that they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod ast;
mod diagnostic;
mod parser;

pub use ast::{BinaryOp, Expr, ExprKind, Name, Span, UnaryOp};
pub use diagnostic::{Diagnostic, Severity, line_col};
pub use parser::{MAX_FORMULA_LEN, MAX_PAREN_DEPTH, MAX_TREE_DEPTH, ParseError, parse};

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(src: &str) -> String {
        match parse(src) {
            Ok(e) => e.to_string(),
            Err(e) => panic!("{src}: {}", e.diagnostic().render(src, 0, None)),
        }
    }

    fn error(src: &str) -> String {
        match parse(src) {
            Ok(e) => panic!("{src} parsed as {e}"),
            Err(e) => e.message().to_string(),
        }
    }

    #[test]
    fn precedence_loosest_first() {
        assert_eq!(tree("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(tree("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(tree(r#""a" & 1 + 2"#), r#"(& "a" (+ 1 2))"#);
        assert_eq!(
            tree("1 < 2 AND 3 = 3 OR false"),
            "(OR (AND (< 1 2) (= 3 3)) false)"
        );
        assert_eq!(tree("-2 * 3"), "(* (neg 2) 3)");
        assert_eq!(tree("NOT true AND false"), "(AND (NOT true) false)");
        assert_eq!(tree("1 <> 2"), "(!= 1 2)");
        assert_eq!(tree("1 != 2"), "(!= 1 2)");
        assert_eq!(tree("1 <= 2"), "(<= 1 2)");
        assert_eq!(tree("(1 + 2) * 3"), "(* (+ 1 2) 3)");
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(tree("true and FALSE Or tRuE"), "(OR (AND true false) true)");
        assert_eq!(tree("THISROW.[A]"), "(. thisRow [A])");
        assert_eq!(tree("not false"), "(NOT false)");
        assert_eq!(tree("Not(false)"), "(Not false)");
        assert_eq!(tree("[Andes] + [Orchard]"), "(+ [Andes] [Orchard])");
        assert_eq!(tree("Order(1)"), "(Order 1)");
    }

    #[test]
    fn chains_and_projections() {
        assert_eq!(
            tree("[Accounts_Assigned].[ARR].Sum()"),
            "(Sum (. [Accounts_Assigned] [ARR]))"
        );
        assert_eq!(tree("thisRow.RowNumber()"), "(RowNumber thisRow)");
        assert_eq!(
            tree("[Metric_Category].HasAny(\"Performance\", \"Security\")"),
            "(HasAny [Metric_Category] \"Performance\" \"Security\")"
        );
        assert_eq!(tree("5.Round()"), "(Round 5)");
        assert_eq!(
            tree("[All Tasks].[Total Cost]"),
            "(. [All Tasks] [Total Cost])"
        );
        assert_eq!(tree("[ S&P_Rating ]"), "[S&P_Rating]");
    }

    #[test]
    fn literals() {
        assert_eq!(tree("3.50"), "3.50");
        assert_eq!(tree(".5"), "0.5");
        assert_eq!(tree(r#""a \"b\" \\ c""#), r#""a \"b\" \\ c""#);
        assert_eq!(tree("Today()"), "(Today)");
        assert_eq!(tree("CurrentValue > 1"), "(> CurrentValue 1)");
        assert_eq!(tree("thisTable.Count()"), "(Count thisTable)");
        assert_eq!(
            tree("0.3333333333333333333333333333"),
            "0.3333333333333333333333333333"
        );
    }

    #[test]
    fn spans_cover_children() {
        let src = "Average(Filter([M], [A] = thisRow).[S]) + 1";
        let e = parse(src).unwrap();
        assert_eq!(e.span, Span::new(0, src.len()));
        e.walk(&mut |node| {
            for child in node.children() {
                assert!(
                    node.span.contains(child.span),
                    "{node} does not contain {child}"
                );
            }
            assert!(node.span.end as usize <= src.len());
        });
        let ExprKind::Binary { lhs, .. } = &e.kind else {
            panic!()
        };
        assert_eq!(
            &src[lhs.span.range()],
            "Average(Filter([M], [A] = thisRow).[S])"
        );
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert_eq!(
            error("1 +"),
            "expected an expression, found the end of the formula"
        );
        assert_eq!(
            error("1 2"),
            "expected an operator, `.` or end of formula, found `2`"
        );
        assert_eq!(error("[]"), "expected a column or table name, found `]`");
        assert_eq!(error("\"abc"), "expected an expression, found `\"`");
        assert_eq!(
            error("[Score] / 1,000,000"),
            "expected an operator, `.` or end of formula, found `,`"
        );
        let e = parse("[Score] / 1,000,000").unwrap_err();
        assert!(e.diagnostic().hints[0].contains("thousands separators"));
        assert_eq!(
            error("99999999999999999999999999999999"),
            "the number `99999999999999999999999999999999` is too large"
        );
        assert_eq!(error("[ ]"), "empty name in `[ ]`");
    }

    #[test]
    fn error_location_and_caret() {
        let src = "If([A] > 1,\n  \"x\" ,, 2)";
        let e = parse(src).unwrap_err();
        let (line, col) = e.diagnostic().line_col(src, 0);
        assert_eq!((line, col), (2, 8));
        let text = e.diagnostic().render(src, 0, Some("f"));
        assert!(text.contains("f:2:8"), "{text}");
        assert!(text.contains('^'), "{text}");
    }

    #[test]
    fn pathological_input_is_an_error_not_a_crash() {
        let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
        assert!(error(&deep).contains("nests parentheses"));
        let chain = vec!["1"; 5_000].join("+");
        assert!(error(&chain).contains("nests more than"));
        let negs = "-".repeat(5_000) + "1";
        assert!(error(&negs).contains("nests more than"));
        let long = "1".repeat(MAX_FORMULA_LEN + 1);
        assert!(error(&long).contains("longer than"));
    }
}
