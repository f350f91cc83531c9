//! From text to [`Expr`]: pest for the tokens and nesting, a precedence climber
//! (iterative, no recursion) for the binary operators.

use crate::ast::{BinaryOp, Expr, ExprKind, Name, Span, UnaryOp};
use crate::diagnostic::Diagnostic;
use pest::Parser as _;
use pest::iterators::Pair;
use rust_decimal::Decimal;
use std::str::FromStr;

#[allow(unreachable_pub, missing_debug_implementations)]
mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "formula.pest"]
    pub struct FormulaParser;
}

use grammar::{FormulaParser, Rule};

/// Deepest nesting of parentheses and calls a formula may have.
pub const MAX_PAREN_DEPTH: usize = 64;
/// Deepest syntax tree a formula may produce (a chain `1+1+...` counts one level per operator).
pub const MAX_TREE_DEPTH: usize = 256;
/// Longest formula, in bytes.
pub const MAX_FORMULA_LEN: usize = 64 * 1024;

/// A formula that does not parse: where, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{diagnostic}")]
pub struct ParseError {
    diagnostic: Diagnostic,
}

impl ParseError {
    fn new(diagnostic: Diagnostic) -> ParseError {
        ParseError { diagnostic }
    }

    /// The diagnostic: span, message, hints. Render it with [`Diagnostic::render`].
    pub fn diagnostic(&self) -> &Diagnostic {
        &self.diagnostic
    }

    /// The offending byte range of the formula.
    pub fn span(&self) -> Span {
        self.diagnostic.span
    }

    /// One sentence: what was expected, what was found.
    pub fn message(&self) -> &str {
        &self.diagnostic.message
    }
}

/// Parses one formula.
///
/// # Errors
///
/// A [`ParseError`] for text that is not a formula: its diagnostic has the
/// byte span of the problem, says what was expected there and, for common
/// slips (thousands separators, say), a hint. Text longer than
/// [`MAX_FORMULA_LEN`] or nested deeper than [`MAX_PAREN_DEPTH`] or
/// [`MAX_TREE_DEPTH`] is refused the same way, never a stack overflow.
///
/// ```
/// use csip_formula::{parse, ExprKind};
/// let expr = parse("[Health_Score] * 0.35 + 1").unwrap();
/// assert_eq!(expr.to_string(), "(+ (* [Health_Score] 0.35) 1)");
/// assert!(matches!(expr.kind, ExprKind::Binary { .. }));
/// ```
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    if source.len() > MAX_FORMULA_LEN {
        return Err(ParseError::new(
            Diagnostic::error(
                Span::new(MAX_FORMULA_LEN, source.len()),
                format!("formula is longer than {MAX_FORMULA_LEN} bytes"),
            )
            .with_hint("split it into several formula columns"),
        ));
    }
    check_paren_depth(source)?;
    let mut pairs =
        FormulaParser::parse(Rule::formula, source).map_err(|e| from_pest(e, source))?;
    let formula = pairs
        .next()
        .ok_or_else(|| ParseError::new(Diagnostic::error(Span::new(0, 0), "expected a formula")))?;
    let expr_pair = formula
        .into_inner()
        .find(|p| p.as_rule() == Rule::expr)
        .ok_or_else(|| ParseError::new(Diagnostic::error(Span::new(0, 0), "expected a formula")))?;
    let built = build_expr(expr_pair)?;
    Ok(built.expr)
}

/// Parentheses nest through pest's recursion; refuse pathological nesting before
/// pest sees it, so untrusted input cannot exhaust the stack.
fn check_paren_depth(source: &str) -> Result<(), ParseError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in source.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => {
                depth += 1;
                if depth > MAX_PAREN_DEPTH {
                    return Err(ParseError::new(
                        Diagnostic::error(
                            Span::new(i, i + 1),
                            format!("formula nests parentheses more than {MAX_PAREN_DEPTH} deep"),
                        )
                        .with_hint("split it into several formula columns"),
                    ));
                }
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

struct Built {
    expr: Expr,
    depth: usize,
}

impl Built {
    fn leaf(kind: ExprKind, span: Span) -> Built {
        Built {
            expr: Expr { kind, span },
            depth: 1,
        }
    }

    fn node(kind: ExprKind, span: Span, child_depth: usize) -> Result<Built, ParseError> {
        let depth = child_depth + 1;
        if depth > MAX_TREE_DEPTH {
            return Err(ParseError::new(
                Diagnostic::error(
                    span,
                    format!("formula nests more than {MAX_TREE_DEPTH} operations deep"),
                )
                .with_hint("split it into several formula columns"),
            ));
        }
        Ok(Built {
            expr: Expr { kind, span },
            depth,
        })
    }
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

/// `expr = { prefix* ~ postfix ~ (infix ~ prefix* ~ postfix)* }`, climbed without recursion.
fn build_expr(pair: Pair<'_, Rule>) -> Result<Built, ParseError> {
    let mut operands: Vec<Built> = Vec::new();
    let mut operators: Vec<(BinaryOp, Span)> = Vec::new();
    let mut prefixes: Vec<(UnaryOp, Span)> = Vec::new();

    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::neg => prefixes.push((UnaryOp::Neg, span_of(&p))),
            Rule::not_op => prefixes.push((UnaryOp::Not, span_of(&p))),
            Rule::postfix => {
                let mut operand = build_postfix(p)?;
                while let Some((op, span)) = prefixes.pop() {
                    let full = span.to(operand.expr.span);
                    let d = operand.depth;
                    operand = Built::node(
                        ExprKind::Unary {
                            op,
                            operand: Box::new(operand.expr),
                        },
                        full,
                        d,
                    )?;
                }
                operands.push(operand);
            }
            rule => {
                let op = binary_op(rule);
                while let Some(&(top, _)) = operators.last() {
                    if top.precedence() >= op.precedence() {
                        reduce(&mut operands, &mut operators)?;
                    } else {
                        break;
                    }
                }
                operators.push((op, span_of(&p)));
            }
        }
    }
    while !operators.is_empty() {
        reduce(&mut operands, &mut operators)?;
    }
    operands.pop().ok_or_else(|| {
        ParseError::new(Diagnostic::error(Span::new(0, 0), "expected an expression"))
    })
}

fn reduce(
    operands: &mut Vec<Built>,
    operators: &mut Vec<(BinaryOp, Span)>,
) -> Result<(), ParseError> {
    let missing = || ParseError::new(Diagnostic::error(Span::new(0, 0), "expected an expression"));
    let (op, _) = operators.pop().ok_or_else(missing)?;
    let rhs = operands.pop().ok_or_else(missing)?;
    let lhs = operands.pop().ok_or_else(missing)?;
    let span = lhs.expr.span.to(rhs.expr.span);
    let depth = lhs.depth.max(rhs.depth);
    operands.push(Built::node(
        ExprKind::Binary {
            op,
            lhs: Box::new(lhs.expr),
            rhs: Box::new(rhs.expr),
        },
        span,
        depth,
    )?);
    Ok(())
}

fn binary_op(rule: Rule) -> BinaryOp {
    match rule {
        Rule::or_op => BinaryOp::Or,
        Rule::and_op => BinaryOp::And,
        Rule::eq => BinaryOp::Eq,
        Rule::ne => BinaryOp::Ne,
        Rule::lt => BinaryOp::Lt,
        Rule::le => BinaryOp::Le,
        Rule::gt => BinaryOp::Gt,
        Rule::ge => BinaryOp::Ge,
        Rule::concat => BinaryOp::Concat,
        Rule::add => BinaryOp::Add,
        Rule::sub => BinaryOp::Sub,
        Rule::mul => BinaryOp::Mul,
        // The grammar admits no other rule between operands.
        _ => BinaryOp::Div,
    }
}

/// `postfix = { primary ~ (method | projection)* }`
fn build_postfix(pair: Pair<'_, Rule>) -> Result<Built, ParseError> {
    let mut inner = pair.into_inner();
    let first = inner.next().ok_or_else(|| {
        ParseError::new(Diagnostic::error(Span::new(0, 0), "expected an expression"))
    })?;
    let mut acc = build_primary(first)?;
    for link in inner {
        let link_span = span_of(&link);
        let span = acc.expr.span.to(link_span);
        match link.as_rule() {
            Rule::method => {
                let call = link.into_inner().next().ok_or_else(|| {
                    ParseError::new(Diagnostic::error(link_span, "expected a function call"))
                })?;
                let (name, mut args, depth) = build_call_parts(call)?;
                let d = acc.depth.max(depth);
                args.insert(0, acc.expr);
                acc = Built::node(
                    ExprKind::Call {
                        name,
                        args,
                        method: true,
                    },
                    span,
                    d,
                )?;
            }
            _ => {
                let column = link.into_inner().next().ok_or_else(|| {
                    ParseError::new(Diagnostic::error(link_span, "expected `[Column]`"))
                })?;
                let column = build_name(column)?;
                let d = acc.depth;
                acc = Built::node(
                    ExprKind::Project {
                        target: Box::new(acc.expr),
                        column,
                    },
                    span,
                    d,
                )?;
            }
        }
    }
    Ok(acc)
}

fn build_primary(pair: Pair<'_, Rule>) -> Result<Built, ParseError> {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::number => {
            let text = pair.as_str();
            let value = Decimal::from_str(text).map_err(|_| {
                ParseError::new(
                    Diagnostic::error(span, format!("the number `{text}` is too large"))
                        .with_hint("numbers must lie within ±79228162514264337593543950335"),
                )
            })?;
            ExprKind::Number(value)
        }
        Rule::string => ExprKind::Text(unescape(pair)),
        Rule::true_lit => ExprKind::Bool(true),
        Rule::false_lit => ExprKind::Bool(false),
        Rule::this_row => ExprKind::ThisRow,
        Rule::this_table => ExprKind::ThisTable,
        Rule::current_value => ExprKind::CurrentValue,
        Rule::column => ExprKind::Name(build_name(pair)?),
        Rule::call => {
            let (name, args, depth) = build_call_parts(pair)?;
            return Built::node(
                ExprKind::Call {
                    name,
                    args,
                    method: false,
                },
                span,
                depth,
            );
        }
        _ => {
            // `paren`: its only child is the inner expression; keep the parentheses in the span.
            let inner = pair.into_inner().next().ok_or_else(|| {
                ParseError::new(Diagnostic::error(
                    span,
                    "expected an expression inside `( )`",
                ))
            })?;
            let mut built = build_expr(inner)?;
            built.expr.span = span;
            return Ok(built);
        }
    };
    Ok(Built::leaf(kind, span))
}

fn build_call_parts(pair: Pair<'_, Rule>) -> Result<(Name, Vec<Expr>, usize), ParseError> {
    let mut inner = pair.into_inner();
    let ident = inner.next().ok_or_else(|| {
        ParseError::new(Diagnostic::error(
            Span::new(0, 0),
            "expected a function name",
        ))
    })?;
    let name = Name {
        text: ident.as_str().to_string(),
        span: span_of(&ident),
    };
    let mut args = Vec::new();
    let mut depth = 0;
    for arg in inner {
        let built = build_expr(arg)?;
        depth = depth.max(built.depth);
        args.push(built.expr);
    }
    Ok((name, args, depth))
}

fn build_name(pair: Pair<'_, Rule>) -> Result<Name, ParseError> {
    let span = span_of(&pair);
    let raw = pair
        .into_inner()
        .next()
        .map(|p| p.as_str())
        .unwrap_or_default();
    let text = raw.trim();
    if text.is_empty() {
        return Err(ParseError::new(
            Diagnostic::error(span, "empty name in `[ ]`")
                .with_hint("write a column or table name between the brackets"),
        ));
    }
    Ok(Name {
        text: text.to_string(),
        span,
    })
}

fn unescape(pair: Pair<'_, Rule>) -> String {
    let raw = pair
        .into_inner()
        .next()
        .map(|p| p.as_str())
        .unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Turns pest's error into one sentence: what was expected, what was found.
fn from_pest(err: pest::error::Error<Rule>, source: &str) -> ParseError {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<&'static str> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        for rule in positives {
            let name = describe(*rule);
            if !expected.contains(&name) {
                expected.push(name);
            }
        }
    }
    expected.sort_by_key(|e| match *e {
        "an expression" => 0,
        "an operator" => 1,
        "`.`" => 2,
        "end of formula" => 9,
        _ => 5,
    });
    let found = match source.get(pos..).and_then(|rest| rest.chars().next()) {
        None => "the end of the formula".to_string(),
        Some(c) => format!("`{c}`"),
    };
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let end = source
        .get(pos..)
        .and_then(|rest| rest.chars().next())
        .map_or(pos, |c| pos + c.len_utf8());
    let mut diagnostic = Diagnostic::error(Span::new(pos, end), message);
    if let Some(hint) = hint_for(source, pos) {
        diagnostic = diagnostic.with_hint(hint);
    }
    ParseError::new(diagnostic)
}

/// A sentence for the common slips, where the bare "expected" list does not say enough.
fn hint_for(source: &str, pos: usize) -> Option<&'static str> {
    let rest = source.get(pos..)?;
    let before = source.get(..pos)?;
    if rest.starts_with(',')
        && before
            .trim_end()
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_digit())
    {
        return Some(
            "numbers are written without thousands separators: `1000000`, not `1,000,000`",
        );
    }
    if before.matches('(').count() > before.matches(')').count() && rest.trim().is_empty() {
        return Some("a `(` is not closed; add `)`");
    }
    if before.matches('"').count() % 2 == 1 {
        return Some("a text literal is not closed; add `\"`");
    }
    if rest.starts_with('\'') {
        return Some("text is written in double quotes: `\"text\"`");
    }
    None
}

fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of formula",
        Rule::or_op
        | Rule::and_op
        | Rule::eq
        | Rule::ne
        | Rule::le
        | Rule::ge
        | Rule::lt
        | Rule::gt
        | Rule::concat
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div => "an operator",
        Rule::method | Rule::projection => "`.`",
        Rule::column => "`[Name]`",
        Rule::name => "a column or table name",
        Rule::ident => "a function name",
        Rule::chars | Rule::escape => "`\"`",
        _ => "an expression",
    }
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
