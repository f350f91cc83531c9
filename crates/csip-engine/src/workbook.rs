//! The [`Workbook`]: built from a [`Schema`], read through ids, changed through
//! transactions (see `transaction.rs`).

use crate::bind::{self, BindError, Catalog, Scope, StaticTy};
use crate::data::{Clock, Column, ColumnKind, ColumnMeta, Data, Formula, Table};
use crate::deps::{self, Node};
use crate::error::{FormulaError, SchemaError, SchemaProblem};
use crate::eval::EvalCtx;
use crate::expr::{Expr, FilterExpr, IndexPlan, OuterKey};
use crate::ids::{CellId, ColumnId, RowId, TableId};
use crate::index::IndexMode;
use crate::recalc::{self, Dependent, Dirty, Graph};
use crate::schema::{ColumnSchema, ColumnType, Schema};
use crate::value::{ErrorKind, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A workbook: linked tables with typed data columns and formula columns,
/// kept up to date incrementally.
///
/// Build one from a [`Schema`] with [`Workbook::new`], fill it with
/// [`Workbook::import`] or [`Workbook::apply`], read cells with
/// [`Workbook::value`], and move its clock with [`Workbook::set_clock`].
///
/// Cloning a workbook is cheap, and the clone is a snapshot: the two share
/// every chunk of cells, every index shard and every row list, and a write to
/// either copies only what it touches (copy on write). A service keeps one
/// workbook for its writer and hands clones to readers on other threads,
/// which see one consistent state however long they read, and which the
/// writer never waits for.
///
/// ```
/// # use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, Value, Workbook};
/// # let schema = Schema::new().with_table(TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)));
/// # let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
/// # let t = wb.table_id("T").unwrap();
/// # let a = wb.column_id(t, "A").unwrap();
/// # let row = wb.apply(Transaction::new().insert(t, vec![(a, Value::from(1))]))?.inserted[0].1;
/// let snapshot = wb.clone();
/// let reader = std::thread::spawn(move || snapshot.value(a, row).cloned());
/// wb.apply(Transaction::new().set(a, row, 2))?;
/// assert_eq!(reader.join().unwrap(), Some(Value::from(1)), "the snapshot reads the state it was taken at");
/// assert_eq!(wb.value(a, row), Some(&Value::from(2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Workbook {
    pub(crate) data: Data,
    pub(crate) graph: Arc<Graph>,
    /// Empty between operations.
    pub(crate) dirty: Dirty,
    table_names: Arc<HashMap<String, TableId>>,
    column_names: Arc<Vec<HashMap<String, ColumnId>>>,
    /// The formula text of each formula column, as written.
    sources: Arc<HashMap<ColumnId, String>>,
    /// What the binder knows of each formula column's rows.
    static_types: Arc<HashMap<ColumnId, StaticTy>>,
    pub(crate) views: Arc<Vec<crate::view::View>>,
    pub(crate) trace: Option<Vec<CellId>>,
}

impl Clone for Workbook {
    fn clone(&self) -> Workbook {
        Workbook {
            data: self.data.clone(),
            graph: self.graph.clone(),
            // Nothing is dirty between operations: the clone starts clean
            // instead of copying the original's (large, empty) bit sets.
            dirty: Dirty::new(self.data.columns.len()),
            table_names: self.table_names.clone(),
            column_names: self.column_names.clone(),
            sources: self.sources.clone(),
            static_types: self.static_types.clone(),
            views: self.views.clone(),
            trace: self.trace.clone(),
        }
    }
}

fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Workbook {
    /// Binds a schema into an empty workbook whose clock reads `clock`.
    ///
    /// Every problem is reported at once: duplicate or unknown names, bad
    /// types and options, formulas that do not parse or bind (each with its
    /// location and a suggestion). Dependency cycles are not an error: the
    /// cells of the columns in a cycle hold the `cycle` error value.
    pub fn new(schema: &Schema, clock: Clock) -> Result<Workbook, SchemaError> {
        Builder::build(schema, clock)
    }

    // ---- names ----------------------------------------------------------

    /// The table with this name (without regard to case).
    pub fn table_id(&self, name: &str) -> Option<TableId> {
        self.table_names.get(&fold(name)).copied()
    }

    /// The column of `table` with this name (without regard to case).
    pub fn column_id(&self, table: TableId, name: &str) -> Option<ColumnId> {
        self.column_names
            .get(table.index())?
            .get(&fold(name))
            .copied()
    }

    /// The tables, in schema order.
    pub fn tables(&self) -> impl Iterator<Item = TableId> + '_ {
        (0..self.data.tables.len()).map(|i| TableId(u32::try_from(i).unwrap_or(u32::MAX)))
    }

    /// A table's name.
    pub fn table_name(&self, table: TableId) -> &str {
        &self.data.table(table).name
    }

    /// A table's columns, in schema order (the engine's hidden columns left out).
    pub fn columns(&self, table: TableId) -> &[ColumnId] {
        &self.data.table(table).columns
    }

    /// A column's name.
    pub fn column_name(&self, column: ColumnId) -> &str {
        &self.data.column(column).name
    }

    /// The table a column belongs to.
    pub fn column_table(&self, column: ColumnId) -> TableId {
        self.data.column(column).table
    }

    /// A column's definition, as the schema gave it.
    pub fn column_schema(&self, column: ColumnId) -> &ColumnSchema {
        &self.data.column(column).schema
    }

    /// Whether a column is computed by a formula.
    pub fn is_formula(&self, column: ColumnId) -> bool {
        self.data.column(column).formula().is_some()
    }

    // ---- rows and cells -------------------------------------------------

    /// The live rows of a table, in order.
    pub fn rows(&self, table: TableId) -> &[RowId] {
        self.data.table(table).order()
    }

    /// The row at 1-based `position`.
    pub fn row_at(&self, table: TableId, position: usize) -> Option<RowId> {
        self.data
            .table(table)
            .order()
            .get(position.checked_sub(1)?)
            .copied()
    }

    /// The 1-based position of a live row.
    pub fn position(&self, table: TableId, row: RowId) -> Option<usize> {
        self.data.row_number(table, row).map(|n| n as usize)
    }

    /// The id the table's next inserted row will get: one past every id it
    /// has issued, deleted rows' included (ids are never reused).
    pub fn next_row_id(&self, table: TableId) -> RowId {
        RowId(u32::try_from(self.data.table(table).slots()).unwrap_or(u32::MAX))
    }

    /// Whether the row exists.
    pub fn contains_row(&self, table: TableId, row: RowId) -> bool {
        self.data.is_live(table, row)
    }

    /// The column that names a table's rows (the first, unless the schema says otherwise).
    pub fn display_column(&self, table: TableId) -> Option<ColumnId> {
        self.data.table(table).display
    }

    /// The live rows whose display column shows `name`.
    pub fn find_rows(&self, table: TableId, name: &str) -> Vec<RowId> {
        let mut rows = crate::coerce::rows_named(&self.data, table, &Value::text(name));
        if rows.is_empty() {
            if let Some(n) =
                crate::functions::math::parse_number(name).filter(|_| !name.trim().is_empty())
            {
                rows = crate::coerce::rows_named(&self.data, table, &Value::Number(n));
            }
        }
        rows
    }

    /// A cell's value; `None` when the row does not exist.
    pub fn value(&self, column: ColumnId, row: RowId) -> Option<&Value> {
        let c = self.data.columns.get(column.index())?;
        if !self.data.is_live(c.table, row) {
            return None;
        }
        Some(self.data.cell(column, row))
    }

    /// For a relation or people column: the table it points at, and whether
    /// a cell holds a list of rows.
    pub fn relation_target(&self, column: ColumnId) -> Option<(TableId, bool)> {
        self.data.columns.get(column.index())?.target
    }

    /// Reads a cell written as text (a CSV field, a form input) into the
    /// value a write of `column` takes: `""` is Blank, numbers are plain
    /// decimals (a percent column also takes `45%`, stored as 45), checkboxes take
    /// true/false, yes/no or 1/0, list columns split on commas, and anything
    /// else stays text for the write to check (dates as YYYY-MM-DD, options,
    /// relations by their display name). The inverse of [`Workbook::display`]
    /// for data cells, except list items that themselves hold a comma. The error is a sentence about the text (the caller
    /// names the column and the line).
    ///
    /// ```
    /// # use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, Workbook};
    /// # let schema = Schema::new().with_table(TableSchema::new("T").with_column(ColumnSchema::data("P", ColumnType::Percent)));
    /// # let wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let p = wb.column_id(wb.table_id("T").unwrap(), "P").unwrap();
    /// assert_eq!(wb.parse_text(p, "45%")?, Value::from(45));
    /// assert!(wb.parse_text(p, "lots").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_text(&self, column: ColumnId, text: &str) -> Result<Value, String> {
        let col = self.data.column(column);
        let multiple = col.target.is_some_and(|(_, m)| m);
        crate::coerce::from_text(&col.schema.ty, multiple, text)
    }

    /// A value as text, as `ToText` gives it (rows by their display column).
    pub fn display(&self, value: &Value) -> String {
        match value {
            Value::Error(e) => e.to_string(),
            v => EvalCtx::new(&self.data, None, &crate::Budget::default())
                .to_text(v)
                .map(|s| s.into_owned())
                .unwrap_or_default(),
        }
    }

    /// What `Today()` and `Now()` read.
    pub fn clock(&self) -> Clock {
        self.data.clock
    }

    // ---- formulas -------------------------------------------------------

    /// Evaluates a formula against the workbook, on `row` of `table` when given,
    /// held to the caps of one value ([`Limits::default`](crate::Limits)).
    /// A formula from someone else (a request to a service) should be
    /// evaluated with [`Workbook::eval_within`] and a budget of steps and time.
    ///
    /// Parse and bind problems are a [`FormulaError`]; problems while
    /// evaluating are error values, as in cells.
    pub fn eval(
        &self,
        formula: &str,
        row: Option<(TableId, RowId)>,
    ) -> Result<Value, FormulaError> {
        self.eval_within(formula, row, &crate::Budget::default())
    }

    /// [`Workbook::eval`] under a budget: past any of its limits the result
    /// is an error value of kind [`ErrorKind::Limit`] naming the limit,
    /// whatever the formula did with the error on the way (see
    /// [`crate::Budget`] for an example).
    pub fn eval_within(
        &self,
        formula: &str,
        row: Option<(TableId, RowId)>,
        budget: &crate::Budget,
    ) -> Result<Value, FormulaError> {
        let expr = self.bind_formula(formula, row.map(|(t, _)| t))?;
        if let Some((t, r)) = row {
            if !self.data.is_live(t, r) {
                return Ok(Value::error(
                    ErrorKind::NotFound,
                    format!("no row {r} in `{}`", self.table_name(t)),
                ));
            }
        }
        let value = EvalCtx::new(&self.data, row, budget).eval(&expr);
        Ok(budget.error().unwrap_or(value))
    }

    /// Parses and binds a formula to be evaluated on rows of `table` (or on no
    /// row), planning its predicates onto the indexes that already exist.
    pub(crate) fn bind_formula(
        &self,
        formula: &str,
        table: Option<TableId>,
    ) -> Result<Expr, FormulaError> {
        let ast = csip_formula::parse(formula).map_err(|e| FormulaError::parse(formula, e))?;
        let mut catalog = ReadCatalog { wb: self };
        let (mut expr, _) = bind::bind(
            &ast,
            Scope {
                this_table: table,
                params: &[],
            },
            &mut catalog,
        )
        .map_err(|errors| FormulaError::bind(formula, errors))?;
        visit_filters_mut(&mut expr, &mut |fx| self.plan_adhoc(fx));
        Ok(expr)
    }

    fn plan_adhoc(&self, fx: &mut FilterExpr) {
        let (Expr::Table(u), Some(key)) = (&fx.source, &mut fx.key) else {
            return;
        };
        let item_column = match &key.item_key {
            Expr::Col(c) => Some(*c),
            other => self.data.table(*u).hidden.iter().copied().find(
                |h| matches!(&self.data.column(*h).kind, ColumnKind::Hidden(f) if &f.expr == other),
            ),
        };
        let Some(item_column) = item_column else {
            return;
        };
        let Some(item_index) = self.data.find_index(item_column, IndexMode::Whole) else {
            return;
        };
        key.plan = Some(IndexPlan {
            item_index,
            item_column,
            outer: OuterKey::Evaluate,
            guarded: 0,
        });
    }

    // ---- recalculation ----------------------------------------------------

    /// Recomputes every formula cell from scratch. The result always equals
    /// what incremental recalculation maintains; this is the reference it is
    /// tested against, and the first calculation after a bulk load.
    pub fn recalculate_all(&mut self) {
        self.dirty.clear();
        recalc::full(&mut self.data, &self.graph);
    }

    // Test hook: the recalculation tests (`tests/recalc.rs`) assert the exact
    // cells an edit recomputed. Hidden from the documentation and not part of
    // the stable API; it may change or go without notice.
    /// Records every cell evaluated by the following transactions (until
    /// turned off), so that tests can assert exactly what was recomputed.
    #[doc(hidden)]
    pub fn set_trace(&mut self, on: bool) {
        self.trace = if on { Some(Vec::new()) } else { None };
    }

    // Test hook, with `set_trace`: hidden, not part of the stable API.
    /// The cells evaluated since tracing was turned on or last taken, in order.
    #[doc(hidden)]
    pub fn take_trace(&mut self) -> Vec<CellId> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    // Test hook: the property tests (`tests/incremental_equals_full.rs`), the
    // recalculation tests and the case files check with it that incremental
    // recalculation equals a full one. Hidden from the documentation and not
    // part of the stable API; it may change or go without notice.
    /// Compares every formula cell with a recalculation from scratch; returns
    /// the cells that differ (as `(cell, incremental, from scratch)`).
    #[doc(hidden)]
    pub fn differences_from_full_recalc(&self) -> Vec<(CellId, Value, Value)> {
        let mut fresh = self.clone();
        fresh.recalculate_all();
        let mut out = Vec::new();
        for col in &self.graph.order {
            let table = self.data.column(*col).table;
            for &r in self.data.table(table).order() {
                let (a, b) = (self.data.cell(*col, r), fresh.data.cell(*col, r));
                if !a.identical(b) {
                    out.push((
                        CellId {
                            column: *col,
                            row: r,
                        },
                        a.clone(),
                        b.clone(),
                    ));
                }
            }
        }
        out
    }

    /// The dependency cycles: each a list of the (visible) columns in it. Their
    /// cells hold the `cycle` error; the rest of the workbook computes.
    pub fn cycles(&self) -> Vec<Vec<ColumnId>> {
        self.graph
            .cycles
            .iter()
            .map(|c| {
                c.iter()
                    .copied()
                    .filter(|c| !self.data.column(*c).is_hidden())
                    .collect()
            })
            .collect()
    }

    /// An estimate of the memory the workbook holds, by table and in indexes.
    pub fn memory_usage(&self) -> MemoryUsage {
        use std::collections::HashSet as Seen;
        let value = std::mem::size_of::<Value>();
        let mut seen: Seen<*const u8> = Seen::new();
        let mut tables = Vec::new();
        for t in self.tables() {
            let table = self.data.table(t);
            let (mut cells, mut heap) = (0usize, 0usize);
            for c in table.all_columns() {
                let values = &self.data.column(c).values;
                cells += values.heap_bytes();
                for v in values.distinct() {
                    heap += match v {
                        Value::Text(s) if seen.insert(s.as_ptr()) => s.len() + 16,
                        Value::List(l) if seen.insert(l.as_ptr().cast()) => l.len() * value + 16,
                        Value::Error(_) => 64,
                        _ => 0,
                    };
                }
            }
            tables.push((
                table.name.clone(),
                table.order().len(),
                cells + heap + table.order().len() * 4 + table.slots() / 8,
            ));
        }
        MemoryUsage {
            tables,
            indexes: self.data.indexes.iter().map(|i| i.heap_bytes()).sum(),
        }
    }

    /// Moves the clock; recomputes the cells that read it (and what depends on
    /// them) and returns what changed.
    pub fn set_clock(&mut self, clock: Clock) -> crate::ChangeSet {
        if clock == self.data.clock {
            return crate::ChangeSet::default();
        }
        self.data.clock = clock;
        let fresh = recalc::Fresh::none();
        let mut p = recalc::Propagator {
            data: &self.data,
            graph: &self.graph,
            dirty: &mut self.dirty,
            fresh: &fresh,
        };
        // Any row will do: a clock dependency reaches every row of its table.
        p.propagate(Node::Clock, RowId(0), None);
        let mut changes = Vec::new();
        recalc::run(
            &mut self.data,
            &self.graph,
            &mut self.dirty,
            &fresh,
            &mut changes,
            self.trace.as_mut(),
        );
        crate::ChangeSet {
            changes,
            ..Default::default()
        }
    }

    /// A formula column's formula, as written in the schema.
    pub fn formula(&self, column: ColumnId) -> Option<&str> {
        self.sources.get(&column).map(String::as_str)
    }
}

/// Points a problem that has no formula span at where its table, column or
/// view is declared, when the schema came from a file.
fn locate(schema: &Schema, p: &mut SchemaProblem) {
    if p.diagnostic.is_some() {
        return;
    }
    let declared = match &p.view {
        Some(v) => schema
            .views
            .iter()
            .find(|s| s.name.trim() == v)
            .and_then(|s| s.declared.clone()),
        None => schema
            .tables
            .iter()
            .find(|t| t.name.trim() == p.table)
            .and_then(|t| {
                match &p.column {
                    Some(c) => t
                        .columns
                        .iter()
                        .find(|col| col.name.trim() == c)
                        .and_then(|col| col.declared.clone()),
                    None => None,
                }
                .or_else(|| t.declared.clone())
            }),
    };
    if let Some(origin) = declared {
        p.diagnostic = Some(csip_formula::Diagnostic::error(
            csip_formula::Span::new(0, 0),
            p.message.clone(),
        ));
        p.origin = Some(origin);
    }
}

/// Where a workbook's memory goes (estimates, in bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryUsage {
    /// Per table: its name, its rows, and the bytes its cells hold.
    pub tables: Vec<(String, usize, usize)>,
    /// The bytes the hash indexes hold.
    pub indexes: usize,
}

impl MemoryUsage {
    /// Everything.
    pub fn total(&self) -> usize {
        self.tables.iter().map(|t| t.2).sum::<usize>() + self.indexes
    }
}

/// Binding against a built workbook: column types are known.
struct ReadCatalog<'a> {
    wb: &'a Workbook,
}

impl Catalog for ReadCatalog<'_> {
    fn table_by_name(&self, name: &str) -> Option<TableId> {
        self.wb.table_id(name)
    }
    fn column_by_name(&self, table: TableId, name: &str) -> Option<ColumnId> {
        self.wb.column_id(table, name)
    }
    fn table_name(&self, table: TableId) -> &str {
        self.wb.table_name(table)
    }
    fn column_names(&self, table: TableId) -> Vec<String> {
        self.wb
            .columns(table)
            .iter()
            .map(|c| self.wb.column_name(*c).to_string())
            .collect()
    }
    fn table_names(&self) -> Vec<String> {
        self.wb.data.tables.iter().map(|t| t.name.clone()).collect()
    }
    fn column_ty(&mut self, column: ColumnId) -> StaticTy {
        if let Some(ty) = self.wb.static_types.get(&column) {
            return *ty;
        }
        match self.wb.data.column(column).target {
            Some((t, true)) => StaticTy::Rows(t),
            Some((t, false)) => StaticTy::Row(t),
            None => StaticTy::Other,
        }
    }
}

/// Calls `f` on every predicate in the formula, outermost first.
pub(crate) fn visit_filters_mut(e: &mut Expr, f: &mut dyn FnMut(&mut FilterExpr)) {
    match e {
        Expr::Project { target, .. } => visit_filters_mut(target, f),
        Expr::Neg(x) | Expr::Not(x) => visit_filters_mut(x, f),
        Expr::Binary(_, l, r) => {
            visit_filters_mut(l, f);
            visit_filters_mut(r, f);
        }
        Expr::Call(_, args) => {
            for a in args.iter_mut() {
                visit_filters_mut(a, f);
            }
        }
        Expr::Guard { key, guards } => {
            visit_filters_mut(key, f);
            for g in guards.iter_mut() {
                visit_filters_mut(g, f);
            }
        }
        Expr::Filter(fx) => {
            f(fx);
            visit_filters_mut(&mut fx.source, f);
            for c in &mut fx.conjuncts {
                visit_filters_mut(c, f);
            }
        }
        Expr::Lit(_)
        | Expr::Col(_)
        | Expr::ItemCol { .. }
        | Expr::ThisRow
        | Expr::Item { .. }
        | Expr::Table(_)
        | Expr::Param(_) => {}
    }
}

// ---- building ---------------------------------------------------------------

enum BindState {
    Data,
    Pending(Box<csip_formula::Expr>),
    InProgress,
    Bound(Expr, StaticTy),
    Failed,
}

struct Builder {
    /// Text literals, one copy each.
    texts: HashMap<String, Arc<str>>,
    data: Data,
    table_names: HashMap<String, TableId>,
    column_names: Vec<HashMap<String, ColumnId>>,
    states: Vec<BindState>,
    problems: Vec<SchemaProblem>,
    sources: HashMap<ColumnId, String>,
}

impl Catalog for Builder {
    fn table_by_name(&self, name: &str) -> Option<TableId> {
        self.table_names.get(&fold(name)).copied()
    }
    fn column_by_name(&self, table: TableId, name: &str) -> Option<ColumnId> {
        self.column_names
            .get(table.index())?
            .get(&fold(name))
            .copied()
    }
    fn table_name(&self, table: TableId) -> &str {
        &self.data.table(table).name
    }
    fn column_names(&self, table: TableId) -> Vec<String> {
        self.data
            .table(table)
            .columns
            .iter()
            .map(|c| self.data.column(*c).name.clone())
            .collect()
    }
    fn table_names(&self) -> Vec<String> {
        self.data.tables.iter().map(|t| t.name.clone()).collect()
    }
    fn intern(&mut self, text: &str) -> Arc<str> {
        self.texts
            .entry(text.to_string())
            .or_insert_with(|| Arc::from(text))
            .clone()
    }

    fn column_ty(&mut self, column: ColumnId) -> StaticTy {
        if matches!(self.states[column.index()], BindState::Pending(_)) {
            self.bind_column(column);
        }
        match &self.states[column.index()] {
            BindState::Bound(_, ty) => *ty,
            BindState::Data => match self.data.column(column).target {
                Some((t, true)) => StaticTy::Rows(t),
                Some((t, false)) => StaticTy::Row(t),
                None => StaticTy::Other,
            },
            _ => StaticTy::Other,
        }
    }
}

impl Builder {
    fn build(schema: &Schema, clock: Clock) -> Result<Workbook, SchemaError> {
        let mut b = Builder {
            texts: HashMap::new(),
            data: Data {
                tables: Vec::new(),
                columns: Vec::new(),
                indexes: Vec::new(),
                indexes_on: Arc::default(),
                clock,
            },
            table_names: HashMap::new(),
            column_names: Vec::new(),
            states: Vec::new(),
            problems: Vec::new(),
            sources: HashMap::new(),
        };
        b.declare_tables(schema);
        b.declare_columns(schema);
        for i in 0..b.states.len() {
            if matches!(b.states[i], BindState::Pending(_)) {
                b.bind_column(ColumnId(u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        let mut views = b.bind_views(schema);
        if !b.problems.is_empty() {
            // In schema order, whatever stage found them.
            let place = |p: &SchemaProblem| {
                if let Some(v) = &p.view {
                    let v = schema
                        .views
                        .iter()
                        .position(|s| s.name.trim() == v)
                        .unwrap_or(usize::MAX);
                    return (schema.tables.len() + 1, v);
                }
                let t = schema
                    .tables
                    .iter()
                    .position(|t| t.name.trim() == p.table)
                    .unwrap_or(usize::MAX);
                let c = p.column.as_ref().and_then(|c| {
                    schema
                        .tables
                        .get(t)?
                        .columns
                        .iter()
                        .position(|col| col.name.trim() == c)
                });
                (t, c.map_or(0, |c| c + 1))
            };
            let mut problems = b.problems;
            for p in &mut problems {
                locate(schema, p);
            }
            problems.sort_by_key(place);
            return Err(SchemaError { problems });
        }
        b.install_formulas();
        b.plan_indexes();
        for view in &mut views {
            b.plan_view(view);
        }
        let graph = b.build_graph();
        let columns = b.data.columns.len();
        let static_types = b
            .states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                BindState::Bound(_, ty) => {
                    Some((ColumnId(u32::try_from(i).unwrap_or(u32::MAX)), *ty))
                }
                _ => None,
            })
            .collect();
        Ok(Workbook {
            data: b.data,
            graph: Arc::new(graph),
            dirty: Dirty::new(columns),
            table_names: Arc::new(b.table_names),
            column_names: Arc::new(b.column_names),
            sources: Arc::new(b.sources),
            trace: None,
            static_types: Arc::new(static_types),
            views: Arc::new(views),
        })
    }

    fn problem(&mut self, table: &str, column: Option<&str>, message: String) {
        self.problems.push(SchemaProblem {
            table: table.to_string(),
            column: column.map(str::to_string),
            view: None,
            kind: ErrorKind::InvalidArgument,
            message,
            diagnostic: None,
            origin: None,
        });
    }

    fn declare_tables(&mut self, schema: &Schema) {
        for ts in &schema.tables {
            let name = ts.name.trim();
            if name.is_empty() {
                self.problem("", None, "a table has no name".into());
                continue;
            }
            if self.table_names.contains_key(&fold(name)) {
                self.problem(
                    name,
                    None,
                    format!("a second table is named `{name}`; table names must be unique"),
                );
                continue;
            }
            let id = TableId(u32::try_from(self.data.tables.len()).unwrap_or(u32::MAX));
            self.table_names.insert(fold(name), id);
            self.data.tables.push(Table::new(name.to_string()));
            self.column_names.push(HashMap::new());
            if ts.columns.is_empty() {
                self.problem(name, None, format!("table `{name}` has no columns"));
            }
        }
    }

    fn declare_columns(&mut self, schema: &Schema) {
        for ts in &schema.tables {
            let Some(&table) = self.table_names.get(&fold(&ts.name)) else {
                continue;
            };
            if self.data.table(table).name != ts.name.trim() {
                continue; // a duplicate table, already reported
            }
            for cs in &ts.columns {
                self.declare_column(table, cs);
            }
            let t = &self.data.tables[table.index()];
            let display = match &ts.display_column {
                None => t.columns.first().copied(),
                Some(name) => {
                    let found = self.column_names[table.index()].get(&fold(name)).copied();
                    if found.is_none() {
                        let table_name = t.name.clone();
                        self.problem(
                            &table_name,
                            None,
                            format!(
                                "the display column `{name}` is not a column of `{table_name}`"
                            ),
                        );
                    }
                    found
                }
            };
            self.data.tables[table.index()].display = display;
        }
    }

    fn declare_column(&mut self, table: TableId, cs: &ColumnSchema) {
        let table_name = self.data.table(table).name.clone();
        let name = cs.name.trim();
        if name.is_empty() {
            self.problem(
                &table_name,
                None,
                format!("a column of `{table_name}` has no name"),
            );
            return;
        }
        if self.column_names[table.index()].contains_key(&fold(name)) {
            self.problem(
                &table_name,
                Some(name),
                format!("`{table_name}` has two columns named `{name}`; column names must be unique in a table"),
            );
            return;
        }
        let mut target = None;
        match &cs.ty {
            ColumnType::Relation { table: t, multiple }
            | ColumnType::People { table: t, multiple } => match self.table_names.get(&fold(t)) {
                Some(&tid) => target = Some((tid, *multiple)),
                None => {
                    let hint = bind::did_you_mean(
                        t,
                        self.data.tables.iter().map(|t| t.name.clone()).collect(),
                    )
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                    let what = if t.is_empty() {
                        "no table".to_string()
                    } else {
                        format!("`{t}`, which is not a table")
                    };
                    self.problem(
                        &table_name,
                        Some(name),
                        format!("`{name}` refers to {what}{hint}"),
                    );
                }
            },
            ColumnType::Select(o) | ColumnType::MultiSelect(o) if o.is_empty() => {
                self.problem(
                    &table_name,
                    Some(name),
                    format!("select column `{name}` lists no options"),
                );
            }
            ColumnType::Slider { min, max } if min > max => {
                self.problem(
                    &table_name,
                    Some(name),
                    format!("slider `{name}` has its minimum {min} above its maximum {max}"),
                );
            }
            _ => {}
        }
        if cs.formula.is_some() && (cs.required || cs.unique || cs.default.is_some()) {
            self.problem(
                &table_name,
                Some(name),
                format!("formula column `{name}` cannot be required, unique or have a default: its value is computed"),
            );
        }
        let id = ColumnId(u32::try_from(self.data.columns.len()).unwrap_or(u32::MAX));
        self.column_names[table.index()].insert(fold(name), id);
        self.data.tables[table.index()].columns.push(id);
        self.data.columns.push(Column::new(
            ColumnMeta {
                table,
                name: name.to_string(),
                schema: cs.clone(),
                target,
                row_table: target.map(|(t, _)| t),
                kind: ColumnKind::Data,
            },
            crate::store::Store::blank(0),
        ));
        Arc::make_mut(&mut self.data.indexes_on).push(Vec::new());
        let state = match &cs.formula {
            None => BindState::Data,
            Some(text) => {
                self.sources.insert(id, text.clone());
                match csip_formula::parse(text) {
                    Ok(ast) => BindState::Pending(Box::new(ast)),
                    Err(e) => {
                        self.problems.push(SchemaProblem {
                            table: table_name.clone(),
                            column: Some(name.to_string()),
                            view: None,
                            kind: ErrorKind::Parse,
                            message: e.message().to_string(),
                            diagnostic: Some(e.diagnostic().clone()),
                            origin: cs
                                .origin
                                .clone()
                                .or_else(|| Some(crate::error::inline_origin(text))),
                        });
                        BindState::Failed
                    }
                }
            }
        };
        self.states.push(state);
        if let Some(default) = &cs.default {
            if cs.formula.is_none() && target.is_none() {
                if let Err(r) = crate::coerce::coerce(&self.data, id, default.clone()) {
                    self.problem(
                        &table_name,
                        Some(name),
                        format!("the default of `{name}` {}", r.message),
                    );
                }
            }
        }
    }

    fn bind_column(&mut self, column: ColumnId) {
        let BindState::Pending(ast) =
            std::mem::replace(&mut self.states[column.index()], BindState::InProgress)
        else {
            return;
        };
        let table = self.data.column(column).table;
        let result = bind::bind(
            &ast,
            Scope {
                this_table: Some(table),
                params: &[],
            },
            self,
        );
        self.states[column.index()] = match result {
            Ok((expr, ty)) => {
                let ty = match (ty, self.data.column(column).target) {
                    (StaticTy::Other, Some((t, true))) => StaticTy::Rows(t),
                    (StaticTy::Other, Some((t, false))) => StaticTy::Row(t),
                    (ty, _) => ty,
                };
                BindState::Bound(expr, ty)
            }
            Err(errors) => {
                self.report_bind_errors(column, errors);
                BindState::Failed
            }
        };
    }

    fn report_bind_errors(&mut self, column: ColumnId, errors: Vec<BindError>) {
        let c = self.data.column(column);
        let table = self.data.table(c.table).name.clone();
        let name = c.name.clone();
        let origin = c
            .schema
            .origin
            .clone()
            .or_else(|| c.schema.formula.as_deref().map(crate::error::inline_origin));
        for e in errors {
            self.problems.push(SchemaProblem {
                table: table.clone(),
                column: Some(name.clone()),
                view: None,
                kind: e.kind,
                message: e.diagnostic.message.clone(),
                diagnostic: Some(e.diagnostic),
                origin: origin.clone(),
            });
        }
    }

    fn install_formulas(&mut self) {
        for i in 0..self.states.len() {
            if let BindState::Bound(expr, ty) = &self.states[i] {
                let col = &mut self.data.columns[i];
                col.row_table = match ty {
                    StaticTy::Row(t) | StaticTy::Rows(t) => Some(*t),
                    StaticTy::Other => None,
                };
                col.kind = ColumnKind::Formula(Arc::new(Formula {
                    expr: expr.clone(),
                    rank: 0,
                    cyclic: false,
                }));
            }
        }
    }

    /// Gives each key predicate of each formula column its index: the item key
    /// column (a data column, or a hidden formula column) with a whole-value
    /// index, and the outer key column with one too.
    fn plan_indexes(&mut self) {
        let formula_columns: Vec<ColumnId> = (0..self.data.columns.len())
            .map(|i| ColumnId(u32::try_from(i).unwrap_or(u32::MAX)))
            .filter(|c| self.data.column(*c).formula().is_some())
            .collect();
        for col in formula_columns {
            let table = self.data.column(col).table;
            let Some(f) = self.data.column(col).formula() else {
                continue;
            };
            let mut expr = f.expr.clone();
            visit_filters_mut(&mut expr, &mut |fx| self.plan_filter(table, fx));
            if let ColumnKind::Formula(f) = &mut self.data.columns[col.index()].kind {
                Arc::make_mut(f).expr = expr;
            }
        }
        // Reverse indexes for cascades on delete and for text references.
        for i in 0..self.data.columns.len() {
            let c = ColumnId(u32::try_from(i).unwrap_or(u32::MAX));
            let column = self.data.column(c);
            if let (ColumnKind::Data, Some((target, _))) = (&column.kind, column.target) {
                let unique = column.schema.unique;
                self.data.ensure_index(c, IndexMode::Elements);
                if let Some(display) = self.data.table(target).display {
                    self.data.ensure_index(display, IndexMode::Whole);
                }
                if unique {
                    self.data.ensure_index(c, IndexMode::Whole);
                }
            } else if column.schema.unique {
                self.data.ensure_index(c, IndexMode::Whole);
            }
        }
    }

    /// Declares and binds every view; problems are reported, not fatal here.
    fn bind_views(&mut self, schema: &Schema) -> Vec<crate::view::View> {
        let mut views: Vec<crate::view::View> = Vec::new();
        let mut includes: Vec<Vec<String>> = Vec::new();
        for vs in &schema.views {
            let name = vs.name.trim().to_string();
            let problem = |b: &mut Builder, message: String| {
                b.problems.push(SchemaProblem {
                    table: vs.table.clone(),
                    column: None,
                    view: Some(name.clone()),
                    kind: ErrorKind::InvalidArgument,
                    message,
                    diagnostic: None,
                    origin: None,
                });
            };
            if name.is_empty() {
                problem(self, "a view has no name".into());
                continue;
            }

            let Some(table) = self.table_by_name(&vs.table) else {
                let hint = bind::did_you_mean(&vs.table, self.table_names())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                problem(self, format!("`{}` is not a table{hint}", vs.table));
                continue;
            };
            if views
                .iter()
                .any(|v| v.table == table && v.name.eq_ignore_ascii_case(&name))
            {
                problem(
                    self,
                    format!(
                        "`{}` has a second view named `{name}`; a table's view names must be unique",
                        vs.table
                    ),
                );
                continue;
            }
            let mut infos = Vec::new();
            let mut targets = Vec::new();
            for p in &vs.params {
                let target = match p.ty.target() {
                    Some((t, multiple)) => match self.table_by_name(t) {
                        Some(tid) => Some((tid, multiple)),
                        None => {
                            problem(
                                self,
                                format!(
                                    "the parameter `{}` refers to `{t}`, which is not a table",
                                    p.name
                                ),
                            );
                            None
                        }
                    },
                    None => None,
                };
                let ty = match target {
                    Some((t, true)) => StaticTy::Rows(t),
                    Some((t, false)) => StaticTy::Row(t),
                    None => StaticTy::Other,
                };
                infos.push(bind::ParamInfo {
                    name: p.name.clone(),
                    ty,
                });
                targets.push(target);
            }
            let row_scope = Scope {
                this_table: Some(table),
                params: &infos,
            };
            let filter = vs
                .filter
                .as_ref()
                .and_then(|f| self.bind_view_formula(&name, &vs.table, f, row_scope));
            let mut fields: Vec<(String, Expr)> = Vec::new();
            if vs.fields.is_empty() {
                for &c in &self.data.table(table).columns {
                    fields.push((self.data.column(c).name.clone(), Expr::Col(c)));
                }
            }
            for f in &vs.fields {
                let expr = match &f.formula {
                    Some(formula) => self.bind_view_formula(&name, &vs.table, formula, row_scope),
                    None => match self.column_by_name(table, &f.name) {
                        Some(c) => Some(Expr::Col(c)),
                        None => {
                            problem(
                                self,
                                format!("`{}` has no column `{}` to show", vs.table, f.name),
                            );
                            None
                        }
                    },
                };
                if let Some(e) = expr {
                    fields.push((f.name.clone(), e));
                }
            }
            // A sort or group key names a field of the view or a column of its table.
            let key = |b: &mut Builder, key: &str| -> Option<Expr> {
                if let Some((_, e)) = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(key)) {
                    return Some(e.clone());
                }
                if let Some(c) = b.column_by_name(table, key) {
                    return Some(Expr::Col(c));
                }
                problem(
                    b,
                    format!(
                        "`{key}` is neither a field of the view nor a column of `{}`",
                        vs.table
                    ),
                );
                None
            };
            let sort = vs
                .sort
                .iter()
                .filter_map(|k| key(self, &k.field).map(|e| (e, k.descending)))
                .collect();
            let group_by = vs.group_by.as_ref().and_then(|g| key(self, g));
            let no_row = Scope {
                this_table: None,
                params: &infos,
            };
            let tiles = vs
                .tiles
                .iter()
                .filter_map(|t| {
                    Some((
                        t.name.clone(),
                        self.bind_view_formula(&name, &vs.table, &t.formula, no_row)?,
                    ))
                })
                .collect();
            views.push(crate::view::View {
                name: name.clone(),
                table,
                layout: vs.layout,
                filter,
                fields,
                sort,
                group_by,
                group_order: vs.group_order.iter().map(Value::text).collect(),
                params: vs.params.clone(),
                param_targets: targets,
                tiles,
                include: Vec::new(),
                comment: vs.comment.clone(),
            });
            includes.push(vs.include.clone());
        }
        // Included views, by name; a view may not include itself, even through others.
        for (i, names) in includes.iter().enumerate() {
            for n in names {
                let found = crate::view::find_view(
                    &views,
                    |t| self.data.table(t).name.as_str(),
                    n,
                    Some(views[i].table),
                );
                match found {
                    Ok(j) => views[i].include.push(j),
                    Err(_) => self.problems.push(SchemaProblem {
                        table: self.data.table(views[i].table).name.clone(),
                        column: None,
                        view: Some(views[i].name.clone()),
                        kind: ErrorKind::UnknownName,
                                                message: format!(
                            "it includes `{n}`, which is not one view (write `Table/View` where several tables have it)"
                        ),
                        diagnostic: None,
                        origin: None,
                    }),
                }
            }
        }
        for i in 0..views.len() {
            let mut stack = views[i].include.clone();
            let mut seen = HashSet::new();
            while let Some(j) = stack.pop() {
                if j == i {
                    self.problems.push(SchemaProblem {
                        table: self.data.table(views[i].table).name.clone(),
                        column: None,
                        view: Some(views[i].name.clone()),
                        kind: ErrorKind::Cycle,
                        message: "it includes itself (through the views it includes)".into(),
                        diagnostic: None,
                        origin: None,
                    });
                    break;
                }
                if seen.insert(j) {
                    stack.extend(views[j].include.iter().copied());
                }
            }
        }
        views
    }

    fn bind_view_formula(
        &mut self,
        view: &str,
        table: &str,
        formula: &crate::schema::FormulaText,
        scope: Scope<'_>,
    ) -> Option<Expr> {
        let origin = formula
            .origin
            .clone()
            .unwrap_or_else(|| crate::error::inline_origin(&formula.text));
        let ast = match csip_formula::parse(&formula.text) {
            Ok(ast) => ast,
            Err(e) => {
                self.problems.push(SchemaProblem {
                    table: table.to_string(),
                    column: None,
                    view: Some(view.to_string()),
                    kind: ErrorKind::Parse,
                    message: e.message().to_string(),
                    diagnostic: Some(e.diagnostic().clone()),
                    origin: Some(origin),
                });
                return None;
            }
        };
        match bind::bind(&ast, scope, self) {
            Ok((expr, _)) => Some(expr),
            Err(errors) => {
                for e in errors {
                    self.problems.push(SchemaProblem {
                        table: table.to_string(),
                        column: None,
                        view: Some(view.to_string()),
                        kind: e.kind,
                        message: e.diagnostic.message.clone(),
                        diagnostic: Some(e.diagnostic),
                        origin: Some(origin.clone()),
                    });
                }
                None
            }
        }
    }

    /// A view's predicates use the item indexes columns use (creating hidden key
    /// columns where needed); their outer keys are evaluated, since views are
    /// evaluated on demand and not recalculated.
    fn plan_view(&mut self, view: &mut crate::view::View) {
        let plan = |b: &mut Builder, e: &mut Expr| {
            visit_filters_mut(e, &mut |fx| {
                let (Expr::Table(u), Some(key)) = (&fx.source, &mut fx.key) else {
                    return;
                };
                let u = *u;
                let item_column = match &key.item_key {
                    Expr::Col(c) => *c,
                    other => b.hidden_column(u, other.clone()),
                };
                let item_index = b.data.ensure_index(item_column, IndexMode::Whole);
                key.plan = Some(IndexPlan {
                    item_index,
                    item_column,
                    outer: OuterKey::Evaluate,
                    guarded: 0,
                });
            });
        };
        if let Some(f) = &mut view.filter {
            plan(self, f);
        }
        for (_, e) in view.fields.iter_mut().chain(view.tiles.iter_mut()) {
            plan(self, e);
        }
        for (e, _) in &mut view.sort {
            plan(self, e);
        }
        if let Some(g) = &mut view.group_by {
            plan(self, g);
        }
    }

    fn plan_filter(&mut self, table: TableId, fx: &mut FilterExpr) {
        let (Expr::Table(u), Some(key)) = (&fx.source, &mut fx.key) else {
            return;
        };
        let u = *u;
        // The conjuncts right after the key that read only the item fold into
        // the item key column (see `IndexPlan::guarded`).
        let guards: Vec<Expr> = fx
            .conjuncts
            .iter()
            .skip(1)
            .take(usize::from(u8::MAX))
            .take_while(|c| self.is_guard(c, fx.level))
            .map(|c| crate::bind::to_row_scope(c, fx.level))
            .collect();
        let guarded = u8::try_from(guards.len()).unwrap_or(0);
        let item_column = match (&key.item_key, guards.is_empty()) {
            (Expr::Col(c), true) => *c,
            (other, true) => self.hidden_column(u, other.clone()),
            (other, false) => self.hidden_column(
                u,
                Expr::Guard {
                    key: Box::new(other.clone()),
                    guards: guards.into_boxed_slice(),
                },
            ),
        };
        let outer = match &key.outer_key {
            Expr::ThisRow => OuterKey::ThisRow,
            Expr::Col(c) => OuterKey::Column(*c),
            other => OuterKey::Column(self.hidden_column(table, other.clone())),
        };
        if let OuterKey::Column(c) = outer {
            self.data.ensure_index(c, IndexMode::Whole);
        }
        let mode = if guarded > 0 {
            IndexMode::Guarded
        } else {
            IndexMode::Whole
        };
        let item_index = self.data.ensure_index(item_column, mode);
        key.plan = Some(IndexPlan {
            item_index,
            item_column,
            outer,
            guarded,
        });
    }

    /// Whether a conjunct can fold into a guarded item key column: it reads
    /// only the item, and of it only data columns (through relations too), so
    /// the guarded column can never be part of a dependency cycle.
    fn is_guard(&self, e: &Expr, level: u8) -> bool {
        let mut data_only = true;
        e.walk(&mut |n| {
            if let Expr::ItemCol { col, .. } | Expr::Project { col, .. } | Expr::Col(col) = n {
                data_only &= self.data.column(*col).formula().is_none();
            }
        });
        data_only && crate::bind::is_item_only(e, level)
    }

    /// A hidden formula column of `table` computing `expr`, shared by every
    /// predicate that keys on the same expression.
    fn hidden_column(&mut self, table: TableId, expr: Expr) -> ColumnId {
        for &h in &self.data.table(table).hidden {
            if let ColumnKind::Hidden(f) = &self.data.column(h).kind {
                if f.expr == expr {
                    return h;
                }
            }
        }
        let id = ColumnId(u32::try_from(self.data.columns.len()).unwrap_or(u32::MAX));
        let n = self.data.table(table).hidden.len();
        let name = format!("#key{n}");
        let slots = self.data.table(table).slots();
        self.data.columns.push(Column::new(
            ColumnMeta {
                table,
                name: name.clone(),
                schema: ColumnSchema::data(name, ColumnType::Text),
                target: None,
                row_table: None,
                kind: ColumnKind::Hidden(Arc::new(Formula {
                    expr,
                    rank: 0,
                    cyclic: false,
                })),
            },
            crate::store::Store::blank(slots),
        ));
        Arc::make_mut(&mut self.data.indexes_on).push(Vec::new());
        self.data.tables[table.index()].hidden.push(id);
        id
    }

    fn build_graph(&mut self) -> Graph {
        use petgraph::graph::{DiGraph, NodeIndex};
        let columns = self.data.columns.len();
        let tables = self.data.tables.len();
        let nodes = columns + 2 * tables + 1;
        let mut graph = Graph {
            dependents: vec![Vec::new(); nodes],
            order: Vec::new(),
            cycles: Vec::new(),
            columns,
        };
        let mut pg: DiGraph<(), ()> = DiGraph::with_capacity(nodes, 0);
        for _ in 0..nodes {
            pg.add_node(());
        }
        let mut self_loops = HashSet::new();
        for i in 0..columns {
            let col = ColumnId(u32::try_from(i).unwrap_or(u32::MAX));
            let column = self.data.column(col);
            let Some(f) = column.formula() else { continue };
            let table = column.table;
            for (node, path) in deps::dependencies(&self.data, table, &f.expr) {
                for step in &path {
                    if let deps::Step::Rev { column, .. } = step {
                        self.data.ensure_index(*column, IndexMode::Elements);
                    }
                }
                let n = graph.node_index(node);
                if n == i {
                    self_loops.insert(i);
                }
                pg.update_edge(NodeIndex::new(n), NodeIndex::new(i), ());
                graph.dependents[n].push(Dependent { target: col, path });
            }
        }
        // tarjan_scc yields components in reverse topological order.
        let sccs = petgraph::algo::tarjan_scc(&pg);
        let mut rank = 0u32;
        for scc in sccs.iter().rev() {
            let cyclic = scc.len() > 1 || scc.iter().any(|n| self_loops.contains(&n.index()));
            if cyclic {
                let mut members: Vec<ColumnId> = scc
                    .iter()
                    .filter(|n| n.index() < columns)
                    .map(|n| ColumnId(u32::try_from(n.index()).unwrap_or(u32::MAX)))
                    .collect();
                members.sort();
                graph.cycles.push(members);
            }
            for n in scc {
                let i = n.index();
                if i >= columns {
                    continue;
                }
                let column = &mut self.data.columns[i];
                let f = match &mut column.kind {
                    ColumnKind::Formula(f) | ColumnKind::Hidden(f) => f,
                    ColumnKind::Data => continue,
                };
                let f = Arc::make_mut(f);
                f.rank = rank;
                f.cyclic = cyclic;
                rank += 1;
                graph
                    .order
                    .push(ColumnId(u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        graph
    }
}
