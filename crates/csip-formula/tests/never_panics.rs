//! The parser on untrusted input: it returns a tree or an error, never panics,
//! and every span of a tree lies inside the source and inside its parent's.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_formula::{Expr, parse};
use proptest::prelude::*;

/// Pieces of the language, so that random strings get past the first token.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    ",",
    ".",
    "\"",
    "\\",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "&",
    "+",
    "-",
    "*",
    "/",
    " AND ",
    " OR ",
    "NOT ",
    "and",
    "Not(",
    "thisRow",
    "thisTable",
    "CurrentValue",
    "true",
    "false",
    "1",
    "2.5",
    ".5",
    "1,000",
    "[Score]",
    "[A b]",
    "Filter(",
    "Average(",
    "If(",
    "Switch(",
    ".Count()",
    ".[ARR]",
    "\"x\"",
    "é",
    "🔴",
    "\n",
    "\t",
    "  ",
];

fn check_spans(src: &str, e: &Expr) {
    assert!(e.span.end as usize <= src.len());
    assert!(e.span.start <= e.span.end);
    assert!(
        src.is_char_boundary(e.span.start as usize) && src.is_char_boundary(e.span.end as usize)
    );
    e.walk(&mut |node| {
        for child in node.children() {
            assert!(
                node.span.contains(child.span),
                "{node} does not contain {child} in {src:?}"
            );
        }
    });
}

fn parse_checked(src: &str) {
    match parse(src) {
        Ok(e) => check_spans(src, &e),
        Err(err) => {
            let span = err.span();
            assert!(
                span.start <= span.end && span.end as usize <= src.len(),
                "{span:?} outside {src:?}"
            );
            // Rendering must not panic either.
            let _ = err.diagnostic().render(src, 0, Some("f"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        parse_checked(&src);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..40)) {
        parse_checked(&tokens.concat());
    }
}
