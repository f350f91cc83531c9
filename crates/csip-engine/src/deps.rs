//! Dependencies of a formula column, read off its bound formula.
//!
//! A dependency says: when this source (a column, a table's row set, a table's
//! row positions, the clock) changes at some row, these rows of the formula's
//! table must be recomputed — the rows found by following a [`Path`] from the
//! changed row back to the formula's row. A path is a list of steps:
//! through a relation backwards (reverse index), through a predicate's key
//! (the outer rows whose key equals the item's key), or to every row.
//!
//! The invariant that makes incremental recalculation exact: every column a
//! path passes through is itself a dependency with the rest of the path, so
//! when a step's membership changes, that change dirties the rows it affects.

use crate::data::Data;
use crate::expr::{Expr, FilterExpr, FilterMode, OuterKey};
use crate::functions::Function;
use crate::ids::{ColumnId, TableId};
use std::collections::HashSet;

/// Something a formula can depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    /// A column's cells.
    Column(ColumnId),
    /// Which rows a table has (inserts and deletes).
    Rows(TableId),
    /// The positions of a table's rows (`RowNumber`).
    Position(TableId),
    /// The host's clock (`Today`, `Now`).
    Clock,
}

/// One step from changed rows toward the formula's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Step {
    /// From rows of `target` to the rows whose row-valued column `column` holds them.
    Rev { column: ColumnId, target: TableId },
    /// From items of a predicate to the formula rows whose outer key equals the item's key.
    Filter(FilterSite),
    /// To every row of the formula's table.
    All,
}

/// A predicate answered from an index: where the item key and the outer key live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FilterSite {
    /// The column (of the item table) holding each item's key.
    pub(crate) item_column: ColumnId,
    /// Where the formula row's key comes from.
    pub(crate) outer: OuterKey,
}

pub(crate) type Path = Vec<Step>;

/// Where the rows of a row-valued expression come from: their table, and the
/// path from one of them back to the formula's row.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Prov {
    table: TableId,
    path: Path,
}

fn extend(step: Step, tail: &Path) -> Path {
    if tail.contains(&Step::All) || step == Step::All {
        return vec![Step::All];
    }
    let mut p = Vec::with_capacity(tail.len() + 1);
    p.push(step);
    p.extend_from_slice(tail);
    p
}

/// The dependencies of the formula `expr` of a column of table `table`.
pub(crate) fn dependencies(data: &Data, table: TableId, expr: &Expr) -> Vec<(Node, Path)> {
    let mut w = Walker {
        data,
        table,
        deps: Vec::new(),
        seen: HashSet::new(),
        items: Vec::new(),
    };
    w.walk(expr);
    w.deps
}

struct Walker<'a> {
    data: &'a Data,
    table: TableId,
    deps: Vec<(Node, Path)>,
    seen: HashSet<(Node, Path)>,
    /// Provenance of the items of each enclosing predicate, by level.
    items: Vec<Vec<Prov>>,
}

impl Walker<'_> {
    fn dep(&mut self, node: Node, path: Path) {
        if self.seen.insert((node, path.clone())) {
            self.deps.push((node, path));
        }
    }

    /// A read of column `col` on rows with provenance `provs`; returns the
    /// provenance of the rows the column holds, if it holds rows.
    fn read_column(&mut self, col: ColumnId, provs: &[Prov]) -> Vec<Prov> {
        for p in provs {
            self.dep(Node::Column(col), p.path.clone());
        }
        match self.data.column(col).row_table {
            Some(target) => provs
                .iter()
                .map(|p| Prov {
                    table: target,
                    path: extend(
                        Step::Rev {
                            column: col,
                            target,
                        },
                        &p.path,
                    ),
                })
                .collect(),
            None => Vec::new(),
        }
    }

    fn walk(&mut self, e: &Expr) -> Vec<Prov> {
        match e {
            Expr::Lit(_) => Vec::new(),
            Expr::Col(c) => {
                let this = vec![Prov {
                    table: self.table,
                    path: Vec::new(),
                }];
                self.read_column(*c, &this)
            }
            Expr::ItemCol { level, col } => {
                let provs = self
                    .items
                    .get(usize::from(*level))
                    .cloned()
                    .unwrap_or_default();
                self.read_column(*col, &provs)
            }
            Expr::ThisRow => vec![Prov {
                table: self.table,
                path: Vec::new(),
            }],
            Expr::Item { level } => self
                .items
                .get(usize::from(*level))
                .cloned()
                .unwrap_or_default(),
            Expr::Table(t) => {
                self.dep(Node::Rows(*t), vec![Step::All]);
                vec![Prov {
                    table: *t,
                    path: vec![Step::All],
                }]
            }
            // Every row reads the one value: a change of it reaches them all.
            Expr::Named(c) => self.read_column(
                *c,
                &[Prov {
                    table: self.data.column(*c).table,
                    path: vec![Step::All],
                }],
            ),
            Expr::Project { target, col } => {
                let provs = self.walk(target);
                self.read_column(*col, &provs)
            }
            Expr::Neg(x) | Expr::Not(x) => {
                self.walk(x);
                Vec::new()
            }
            Expr::Binary(_, l, r) => {
                self.walk(l);
                self.walk(r);
                Vec::new()
            }
            Expr::Call(f, args) => {
                let mut all = Vec::new();
                for a in args.iter() {
                    all.push(self.walk(a));
                }
                if f.is_volatile() {
                    self.dep(Node::Clock, vec![Step::All]);
                }
                if *f == Function::RowNumber {
                    for p in &all[0] {
                        self.dep(Node::Position(p.table), p.path.clone());
                    }
                }
                if passes_rows(*f) {
                    let mut out: Vec<Prov> = Vec::new();
                    for p in all.into_iter().flatten() {
                        if !out.contains(&p) {
                            out.push(p);
                        }
                    }
                    out
                } else {
                    Vec::new()
                }
            }
            Expr::Guard { key, guards } => {
                self.walk(key);
                for g in guards.iter() {
                    self.walk(g);
                }
                Vec::new()
            }
            Expr::Filter(fx) => self.filter(fx),
            // Only views read parameters, and views are not recalculated.
            Expr::Param(_) => Vec::new(),
        }
    }

    fn filter(&mut self, fx: &FilterExpr) -> Vec<Prov> {
        let level = usize::from(fx.level);
        let indexed = match (&fx.source, &fx.key) {
            (Expr::Table(u), Some(key)) => key.plan.map(|plan| (*u, plan)),
            _ => None,
        };
        let (item_provs, first_conjunct) = match indexed {
            Some((u, plan)) => {
                let site = FilterSite {
                    item_column: plan.item_column,
                    outer: plan.outer,
                };
                let path = vec![Step::Filter(site)];
                self.dep(Node::Rows(u), path.clone());
                self.dep(Node::Column(plan.item_column), path.clone());
                if let OuterKey::Column(c) = plan.outer {
                    self.dep(Node::Column(c), Vec::new());
                }
                // The key conjunct and the guards are covered by the key
                // columns' own dependencies.
                (vec![Prov { table: u, path }], 1 + usize::from(plan.guarded))
            }
            None => (self.walk(&fx.source), 0),
        };
        self.items.truncate(level);
        self.items.push(item_provs.clone());
        for c in fx.conjuncts.iter().skip(first_conjunct) {
            self.walk(c);
        }
        self.items.truncate(level);
        match fx.mode {
            FilterMode::Filter | FilterMode::Lookup => item_provs,
            FilterMode::CountIf => Vec::new(),
        }
    }
}

/// Functions whose result may be (some of) the rows of their arguments.
fn passes_rows(f: Function) -> bool {
    matches!(
        f,
        Function::First
            | Function::Last
            | Function::Nth
            | Function::Sort
            | Function::Unique
            | Function::List
            | Function::If
            | Function::IfError
            | Function::IfBlank
            | Function::Switch
            | Function::SwitchIf
    )
}
