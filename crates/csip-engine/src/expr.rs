//! Bound formulas: names resolved to ids, functions to [`Function`]s, predicates
//! split into conjuncts with the index key first.

use crate::functions::Function;
use crate::ids::{ColumnId, TableId};
use crate::value::Value;
use csip_formula::BinaryOp;

/// A bound formula node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    /// A literal value.
    Lit(Value),
    /// A column of the formula's own row (`[Column]`, `thisRow.[Column]`).
    Col(ColumnId),
    /// A column of the item at `level` of the enclosing predicates (`[Column]` in a predicate).
    ItemCol { level: u8, col: ColumnId },
    /// The formula's own row.
    ThisRow,
    /// The item at `level` (`CurrentValue`).
    Item { level: u8 },
    /// Every row of a table, in order (`[Table]`, `thisTable`).
    Table(TableId),
    /// The value of one of the workbook's names (`[Name]`).
    Named(ColumnId),
    /// A column of a row, or of every row in a list of rows.
    Project { target: Box<Expr>, col: ColumnId },
    /// `-x`
    Neg(Box<Expr>),
    /// `NOT x`
    Not(Box<Expr>),
    /// A binary operator; `AND` and `OR` are lazy.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A function call other than the predicate functions.
    Call(Function, Box<[Expr]>),
    /// `Filter`, `CountIf` or `Lookup`.
    Filter(Box<FilterExpr>),
    /// A view's parameter, by position (`Param("name")`, `CurrentUser()`).
    Param(u8),
    /// The formula of a guarded item key column (never written by users):
    /// `key` if it is an error or every guard holds, else Blank; an error of a
    /// guard gives an error naming the key. In the order a predicate tests
    /// them: key first.
    Guard { key: Box<Expr>, guards: Box<[Expr]> },
}

/// What a predicate function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FilterMode {
    /// The matching items.
    Filter,
    /// How many match.
    CountIf,
    /// The first match, or Blank.
    Lookup,
}

/// `Filter(source, c1 AND c2 AND ...)`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FilterExpr {
    pub(crate) mode: FilterMode,
    /// The list searched.
    pub(crate) source: Expr,
    /// The items' table, when the source is a list of rows of one table.
    pub(crate) item_table: Option<TableId>,
    /// The level this predicate's items take in the item stack.
    pub(crate) level: u8,
    /// The predicate's conjuncts in evaluation order. When `key` is set, the
    /// first conjunct is the key equality.
    pub(crate) conjuncts: Vec<Expr>,
    /// The equality between the item and the outer row, when there is one.
    pub(crate) key: Option<KeyPlan>,
}

/// The conjunct `item_side = outer_side` of a predicate over a whole table:
/// the outer side reads only the formula's row (and constants), the item side
/// only the item. Such a conjunct is answered from a hash index on the item key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct KeyPlan {
    /// The item side as a formula of the item's table (item references turned
    /// into own-row references): the item-key column's formula.
    pub(crate) item_key: Expr,
    /// The outer side, in the formula's own scope.
    pub(crate) outer_key: Expr,
    /// Resolved when the workbook plans the formula: which index answers it,
    /// and where the outer key comes from.
    pub(crate) plan: Option<IndexPlan>,
}

/// How a key conjunct is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexPlan {
    /// The item-key index (whole-value mode) on the item table.
    pub(crate) item_index: crate::index::IndexId,
    /// The column holding the item key (a data column, or a hidden formula column).
    pub(crate) item_column: ColumnId,
    /// Where the outer key comes from.
    pub(crate) outer: OuterKey,
    /// How many conjuncts after the key the index answers too. When the
    /// conjuncts right after the key read only the item (`[Category] = "x"`,
    /// `[Date] >= Today() - 90`), the item key column is a hidden column
    /// holding the key only where they all hold and Blank elsewhere, so a
    /// lookup finds exactly the items that pass them. A Blank-like outer key
    /// (Blank, 0, "", false) cannot tell those apart and scans instead.
    pub(crate) guarded: u8,
}

/// The source of a key conjunct's outer key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum OuterKey {
    /// The formula's own row.
    ThisRow,
    /// A column of the formula's row (a data, formula or hidden column).
    Column(ColumnId),
    /// Evaluate the outer side directly (formulas that are not columns: views, `eval`).
    Evaluate,
}

impl Expr {
    /// Calls `f` on every node, parents first (iterative).
    pub(crate) fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            match e {
                Expr::Project { target, .. } => stack.push(target),
                Expr::Neg(x) | Expr::Not(x) => stack.push(x),
                Expr::Binary(_, l, r) => {
                    stack.push(r);
                    stack.push(l);
                }
                Expr::Call(_, args) => stack.extend(args.iter().rev()),
                Expr::Guard { key, guards } => {
                    stack.extend(guards.iter().rev());
                    stack.push(key);
                }
                Expr::Filter(fx) => {
                    stack.extend(fx.conjuncts.iter().rev());
                    stack.push(&fx.source);
                }
                Expr::Lit(_)
                | Expr::Col(_)
                | Expr::ItemCol { .. }
                | Expr::ThisRow
                | Expr::Item { .. }
                | Expr::Table(_)
                | Expr::Named(_)
                | Expr::Param(_) => {}
            }
        }
    }
}
