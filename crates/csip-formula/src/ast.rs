//! The abstract syntax tree. Every node carries the byte span it was parsed from.

use rust_decimal::Decimal;
use std::fmt;

/// A byte range `start..end` into the formula source.
///
/// Invariant: `start <= end <= source.len()`, both on `char` boundaries of the
/// source the span was produced from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte of the node.
    pub start: u32,
    /// One past the last byte of the node.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span that covers both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span as a `usize` range, for slicing the source.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Whether `other` lies inside this span.
    pub fn contains(self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A name as written: a column or table in `[...]`, or a function name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    /// The name with surrounding whitespace trimmed, as written (case kept).
    pub text: String,
    /// Where the name was written (for `[Name]`, the span includes the brackets).
    pub span: Span,
}

/// One node of a formula.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of formula nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number literal, parsed exactly (never through `f64`).
    Number(Decimal),
    /// A string literal with its escapes resolved.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// `[Name]`: a column, or a table when no column of that name is in scope.
    Name(Name),
    /// `thisRow`: the row whose formula is being evaluated.
    ThisRow,
    /// `thisTable`: the rows of the table the formula belongs to.
    ThisTable,
    /// `CurrentValue`: the item being tested inside a predicate.
    CurrentValue,
    /// `Func(args)`, or `receiver.Func(args)` with the receiver as the first argument.
    Call {
        /// The function name as written.
        name: Name,
        /// The arguments; for a method call the receiver comes first.
        args: Vec<Expr>,
        /// Whether it was written as a method call (`x.Func()`).
        method: bool,
    },
    /// `target.[Column]`: a column of a row, or of every row in a list of rows.
    Project {
        /// The row or list of rows.
        target: Box<Expr>,
        /// The column to read.
        column: Name,
    },
    /// A prefix operator applied to an operand.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// A binary operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `NOT x`
    Not,
}

/// Binary operators, loosest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `OR` (lazy)
    Or,
    /// `AND` (lazy)
    And,
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&`: text concatenation
    Concat,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinaryOp {
    /// Binding power: a higher number binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => 3,
            BinaryOp::Concat => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        }
    }

    /// The operator as it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Concat => "&",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }
}

impl Expr {
    /// Calls `f` on this node and every node below it, parents first.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            f(node);
            match &node.kind {
                ExprKind::Call { args, .. } => stack.extend(args.iter().rev()),
                ExprKind::Project { target, .. } => stack.push(target),
                ExprKind::Unary { operand, .. } => stack.push(operand),
                ExprKind::Binary { lhs, rhs, .. } => {
                    stack.push(rhs);
                    stack.push(lhs);
                }
                _ => {}
            }
        }
    }

    /// The direct children of this node, in source order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Call { args, .. } => args.iter().collect(),
            ExprKind::Project { target, .. } => vec![target],
            ExprKind::Unary { operand, .. } => vec![operand],
            ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            _ => Vec::new(),
        }
    }
}

/// Prints the tree as an S-expression, e.g. `(+ 1 (* 2 3))`; used by tests and `csip` debugging.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(n) => write!(f, "{n}"),
            ExprKind::Text(s) => write!(f, "{s:?}"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Name(n) => write!(f, "[{}]", n.text),
            ExprKind::ThisRow => f.write_str("thisRow"),
            ExprKind::ThisTable => f.write_str("thisTable"),
            ExprKind::CurrentValue => f.write_str("CurrentValue"),
            ExprKind::Call { name, args, .. } => {
                write!(f, "({}", name.text)?;
                for a in args {
                    write!(f, " {a}")?;
                }
                f.write_str(")")
            }
            ExprKind::Project { target, column } => write!(f, "(. {target} [{}])", column.text),
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Neg => write!(f, "(neg {operand})"),
                UnaryOp::Not => write!(f, "(NOT {operand})"),
            },
            ExprKind::Binary { op, lhs, rhs } => write!(f, "({} {lhs} {rhs})", op.symbol()),
        }
    }
}
