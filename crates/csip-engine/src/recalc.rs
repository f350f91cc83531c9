//! Recalculation: the column graph in recalculation order, the dirty set, the
//! propagation of a change along dependency paths, and the two ways to compute:
//! incrementally (only dirty cells, stopping where a value did not change) and
//! from scratch.

use crate::budget::Budget;
use crate::coerce::conform;
use crate::data::Data;
use crate::deps::{FilterSite, Node, Path, Step};
use crate::eval::EvalCtx;
use crate::expr::OuterKey;
use crate::ids::{CellId, ColumnId, RowId, TableId};
use crate::index::IndexMode;
use crate::value::{ErrorKind, Key, Value};
use fixedbitset::FixedBitSet;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The rows a running transaction inserted. Inserts append and ids grow, so
/// they are, per table, every id from the first one inserted on — and the
/// deleted rows an undo brings back, one by one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fresh {
    first: Vec<u32>,
    revived: rustc_hash::FxHashSet<(TableId, RowId)>,
}

impl Fresh {
    /// No fresh rows.
    pub(crate) fn none() -> Fresh {
        Fresh::default()
    }

    /// Notes a row the transaction inserted.
    pub(crate) fn note(&mut self, table: TableId, row: RowId) {
        if self.first.len() <= table.index() {
            self.first.resize(table.index() + 1, u32::MAX);
        }
        let first = &mut self.first[table.index()];
        *first = (*first).min(row.0);
    }

    /// Notes a deleted row brought back (its id lies among older rows').
    pub(crate) fn note_revived(&mut self, table: TableId, row: RowId) {
        self.revived.insert((table, row));
    }

    pub(crate) fn contains(&self, table: TableId, row: RowId) -> bool {
        self.first.get(table.index()).is_some_and(|f| row.0 >= *f)
            || (!self.revived.is_empty() && self.revived.contains(&(table, row)))
    }
}

/// A formula column that depends on a node, and how its rows are reached.
#[derive(Clone, Debug)]
pub(crate) struct Dependent {
    pub(crate) target: ColumnId,
    pub(crate) path: Path,
}

/// The dependency graph in the form recalculation reads it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Graph {
    /// Per node: who depends on it.
    pub(crate) dependents: Vec<Vec<Dependent>>,
    /// Formula columns (visible and hidden), in recalculation order.
    pub(crate) order: Vec<ColumnId>,
    /// The columns of each dependency cycle.
    pub(crate) cycles: Vec<Vec<ColumnId>>,
    pub(crate) columns: usize,
}

impl Graph {
    pub(crate) fn node_index(&self, node: Node) -> usize {
        match node {
            Node::Column(c) => c.index(),
            Node::Rows(t) => self.columns + 2 * t.index(),
            Node::Position(t) => self.columns + 2 * t.index() + 1,
            Node::Clock => self.dependents.len() - 1,
        }
    }

    pub(crate) fn dependents(&self, node: Node) -> &[Dependent] {
        &self.dependents[self.node_index(node)]
    }
}

/// Cells waiting to be recomputed, by column, columns in rank order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dirty {
    rows: Vec<Vec<RowId>>,
    marks: Vec<FixedBitSet>,
    queue: BinaryHeap<Reverse<(u32, ColumnId)>>,
    queued: FixedBitSet,
}

impl Dirty {
    pub(crate) fn new(columns: usize) -> Dirty {
        Dirty {
            rows: vec![Vec::new(); columns],
            marks: vec![FixedBitSet::new(); columns],
            queue: BinaryHeap::new(),
            queued: FixedBitSet::with_capacity(columns),
        }
    }

    pub(crate) fn mark(&mut self, column: ColumnId, rank: u32, row: RowId) {
        let c = column.index();
        let marks = &mut self.marks[c];
        if marks.len() <= row.index() {
            marks.grow((row.index() + 1).next_power_of_two());
        }
        if marks.put(row.index()) {
            return;
        }
        self.rows[c].push(row);
        if !self.queued.put(c) {
            self.queue.push(Reverse((rank, column)));
        }
    }

    /// The lowest-ranked dirty column, its dirty rows moved into `rows` (whose
    /// old buffer the column keeps, so that steady work allocates nothing).
    fn pop(&mut self, rows: &mut Vec<RowId>) -> Option<ColumnId> {
        let Reverse((_, column)) = self.queue.pop()?;
        let c = column.index();
        self.queued.set(c, false);
        rows.clear();
        std::mem::swap(&mut self.rows[c], rows);
        for r in rows.iter() {
            self.marks[c].set(r.index(), false);
        }
        Some(column)
    }

    pub(crate) fn clear(&mut self) {
        let mut rows = Vec::new();
        while self.pop(&mut rows).is_some() {}
    }
}

/// A cell whose value changed in a transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct CellChange {
    /// The cell.
    pub cell: CellId,
    /// The table the cell belongs to.
    pub table: TableId,
    /// The value before; `None` for a cell of a row the transaction inserted.
    pub old: Option<Value>,
    /// The value after.
    pub new: Value,
}

/// Everything that shared state needs to follow a change: the data, the graph,
/// the dirty set, the rows inserted by the running transaction.
pub(crate) struct Propagator<'a> {
    pub(crate) data: &'a Data,
    pub(crate) graph: &'a Graph,
    pub(crate) dirty: &'a mut Dirty,
    /// Rows inserted by the running transaction: their formula cells are all
    /// dirty, and their keys not yet computed.
    pub(crate) fresh: &'a Fresh,
}

impl Propagator<'_> {
    /// Marks dirty every formula cell that depends on `node` at `row`.
    /// `change` carries the old and new value when a column's cell changed.
    pub(crate) fn propagate(&mut self, node: Node, row: RowId, change: Option<(&Value, &Value)>) {
        let mut targets: Vec<RowId> = Vec::new();
        for dep in self.graph.dependents(node) {
            let column = self.data.column(dep.target);
            let Some(formula) = column.formula() else {
                continue;
            };
            if formula.cyclic {
                continue;
            }
            let table = column.table;
            targets.clear();
            let key_change = match (dep.path.first(), node, change) {
                (Some(Step::Filter(site)), Node::Column(c), Some(ch)) if site.item_column == c => {
                    Some(ch)
                }
                _ => None,
            };
            self.map_path(&dep.path, table, row, node, key_change, &mut targets);
            for &t in &targets {
                if self.data.is_live(table, t) {
                    self.dirty.mark(dep.target, formula.rank, t);
                }
            }
        }
    }

    /// The rows of `table` reached from `row` (of the node's table) along `path`.
    fn map_path(
        &self,
        path: &Path,
        table: TableId,
        row: RowId,
        node: Node,
        key_change: Option<(&Value, &Value)>,
        out: &mut Vec<RowId>,
    ) {
        let mut current: Vec<RowId> = vec![row];
        let mut from_table = match node {
            Node::Column(c) => self.data.column(c).table,
            Node::Rows(t) | Node::Position(t) => t,
            Node::Clock => table,
        };
        for (i, step) in path.iter().enumerate() {
            let mut next: Vec<RowId> = Vec::new();
            match step {
                Step::All => {
                    out.extend_from_slice(self.data.table(table).order());
                    return;
                }
                Step::Rev { column, target } => {
                    let Some(ix) = self.data.find_index(*column, IndexMode::Elements) else {
                        out.extend_from_slice(self.data.table(table).order());
                        return;
                    };
                    let ix = self.data.index(ix);
                    for r in &current {
                        next.extend_from_slice(ix.get(&Key::Row(*target, *r)));
                    }
                    from_table = self.data.column(*column).table;
                }
                Step::Filter(site) => {
                    match (i, key_change) {
                        (0, Some((old, new))) => {
                            self.outer_rows(site, table, old, &mut next);
                            self.outer_rows(site, table, new, &mut next);
                        }
                        _ => {
                            let item_is_formula =
                                self.data.column(site.item_column).formula().is_some();
                            for r in &current {
                                if item_is_formula && self.fresh.contains(from_table, *r) {
                                    // Its key is computed later and propagates then.
                                    continue;
                                }
                                let key = self.data.cell(site.item_column, *r);
                                self.outer_rows(site, table, key, &mut next);
                            }
                        }
                    }
                    from_table = table;
                }
            }
            next.sort_unstable();
            next.dedup();
            current = next;
            if current.is_empty() {
                return;
            }
        }
        out.extend_from_slice(&current);
    }

    /// The formula rows whose outer key may equal `key`.
    fn outer_rows(&self, site: &FilterSite, table: TableId, key: &Value, out: &mut Vec<RowId>) {
        let Some(k) = Key::from_value(key) else {
            // An error key may equal anything.
            out.extend_from_slice(self.data.table(table).order());
            return;
        };
        match site.outer {
            OuterKey::ThisRow => {
                if let Key::Row(t, r) = k {
                    if t == table {
                        out.push(r);
                    }
                }
            }
            OuterKey::Column(c) => match self.data.find_index(c, IndexMode::Whole) {
                Some(ix) => out.extend_from_slice(&self.data.index(ix).matching(&k)),
                None => out.extend_from_slice(self.data.table(table).order()),
            },
            OuterKey::Evaluate => out.extend_from_slice(self.data.table(table).order()),
        }
    }
}

/// Recomputes every dirty cell in rank order; a cell whose new value is
/// identical to its old one stops there (backdating). Appends the changes of
/// visible cells to `changes`, and each cell evaluated to `trace` if given.
pub(crate) fn run(
    data: &mut Data,
    graph: &Graph,
    dirty: &mut Dirty,
    fresh: &Fresh,
    changes: &mut Vec<CellChange>,
    mut trace: Option<&mut Vec<CellId>>,
) {
    let mut rows = Vec::new();
    // Cells are held to the caps of one value (text and list size), no more.
    let budget = Budget::default();
    while let Some(col) = dirty.pop(&mut rows) {
        let column = data.column(col);
        let table = column.table;
        let hidden = column.is_hidden();
        let Some(formula) = column.formula().cloned() else {
            continue;
        };
        for &r in &rows {
            if !data.is_live(table, r) {
                continue;
            }
            if let Some(t) = trace.as_deref_mut() {
                t.push(CellId {
                    column: col,
                    row: r,
                });
            }
            let is_fresh = fresh.contains(table, r);
            let mut cx = EvalCtx::new(data, Some((table, r)), &budget);
            let new = if is_fresh {
                conform(data, col, cx.eval(&formula.expr))
            } else {
                match cx.eval_changed(&formula.expr, data.cell(col, r)) {
                    Some(new) => {
                        // What the column holds of it may be what it holds.
                        let new = conform(data, col, new);
                        if new.identical(data.cell(col, r)) {
                            continue;
                        }
                        new
                    }
                    None => continue,
                }
            };
            let old = data.write(col, r, new);
            let new = data.cell(col, r);
            let mut p = Propagator {
                data,
                graph,
                dirty,
                fresh,
            };
            p.propagate(Node::Column(col), r, Some((&old, new)));
            if !hidden {
                changes.push(CellChange {
                    cell: CellId {
                        column: col,
                        row: r,
                    },
                    table,
                    old: if is_fresh { None } else { Some(old) },
                    new: new.clone(),
                });
            }
        }
    }
}

/// Computes every formula cell from scratch, in rank order. A cell that comes
/// out as it was is left alone; a column with many changes has its indexes
/// rebuilt, one with few has them updated.
pub(crate) fn full(data: &mut Data, graph: &Graph) {
    let budget = Budget::default();
    for &col in &graph.order {
        let column = data.column(col);
        let table = column.table;
        let Some(formula) = column.formula().cloned() else {
            continue;
        };
        let rows = data.table(table).order();
        let cycle = formula.cyclic.then(|| cycle_error(data, graph, col));
        let mut changed: Vec<(RowId, Value)> = Vec::new();
        for &r in rows {
            let current = data.cell(col, r);
            let new = match &cycle {
                Some(e) => (!current.identical(e)).then(|| e.clone()),
                None => EvalCtx::new(data, Some((table, r)), &budget)
                    .eval_changed(&formula.expr, current)
                    .map(|v| conform(data, col, v))
                    .filter(|v| !v.identical(current)),
            };
            if let Some(new) = new {
                changed.push((r, new));
            }
        }
        // A few writes keep the indexes up to date one by one; many (a first
        // calculation) rebuild them, since moving rows in and out of a large
        // bucket one at a time would be quadratic.
        if changed.len() * 4 < rows.len() && changed.len() <= 4096 {
            for (r, v) in changed {
                data.write(col, r, v);
            }
        } else {
            let column = &mut data.columns[col.index()];
            for (r, v) in changed {
                column.values.set(r.index(), v);
            }
            data.reindex_column(col);
        }
    }
    data.refresh_maintained();
}

/// The value of every cell of a column that is part of a cycle: names the cycle.
pub(crate) fn cycle_error(data: &Data, graph: &Graph, col: ColumnId) -> Value {
    let name = |c: ColumnId| {
        let column = data.column(c);
        format!("{}.{}", data.table(column.table).name, column.name)
    };
    let members: Vec<String> = graph
        .cycles
        .iter()
        .find(|cycle| cycle.contains(&col))
        .map(|cycle| {
            cycle
                .iter()
                .filter(|c| !data.column(**c).is_hidden())
                .map(|c| name(*c))
                .collect()
        })
        .unwrap_or_default();
    Value::error(
        ErrorKind::Cycle,
        format!(
            "`{}` is part of a dependency cycle: {}",
            name(col),
            members.join(" → ")
        ),
    )
}
