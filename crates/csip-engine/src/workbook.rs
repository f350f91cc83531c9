//! The [`Workbook`]: built from a [`Schema`], read through ids, changed through
//! transactions (see `transaction.rs`).

use crate::bind::{self, Catalog, Scope, StaticTy};
use crate::data::{Clock, ColumnKind, Data};
use crate::deps::Node;
use crate::error::{FormulaError, SchemaError};
use crate::eval::EvalCtx;
use crate::expr::{Expr, FilterExpr, IndexPlan, OuterKey};
use crate::ids::{CellId, ColumnId, LookupError, RowId, TableId};
use crate::index::IndexMode;
use crate::recalc::{self, Dirty, Graph};
use crate::schema::{ColumnSchema, Schema};
use crate::value::{ErrorKind, Value};
use std::collections::HashMap;
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
/// # let t = wb.table_id("T")?;
/// # let a = wb.column_id(t, "A")?;
/// # let row = wb.apply(Transaction::new().insert(t, vec![(a, Value::from(1))]))?.inserted[0].1;
/// let snapshot = wb.clone();
/// let reader = std::thread::spawn(move || snapshot.value(a, row).cloned());
/// wb.apply(Transaction::new().set(a, row, 2))?;
/// assert_eq!(reader.join().unwrap(), Ok(Value::from(1)), "the snapshot reads the state it was taken at");
/// assert_eq!(wb.value(a, row)?, &Value::from(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Workbook {
    pub(crate) data: Data,
    pub(crate) graph: Arc<Graph>,
    /// Empty between operations.
    pub(crate) dirty: Dirty,
    pub(crate) table_names: Arc<HashMap<String, TableId>>,
    pub(crate) column_names: Arc<Vec<HashMap<String, ColumnId>>>,
    /// The formula text of each formula column, as written.
    pub(crate) sources: Arc<HashMap<ColumnId, String>>,
    /// What the binder knows of each formula column's rows.
    pub(crate) static_types: Arc<HashMap<ColumnId, StaticTy>>,
    pub(crate) views: Arc<Vec<crate::view::View>>,
    pub(crate) trace: Option<Vec<CellId>>,
    /// The schema as it now is (after every schema change).
    pub(crate) schema: Arc<Schema>,
    /// Undo and redo.
    pub(crate) history: crate::history::History,
    /// The table of the workbook's names: one row, a column per name.
    pub(crate) names: TableId,
    /// The version and the change feed's subscribers.
    pub(crate) feed: crate::history::Feed,
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
            // A snapshot reads; the history and the subscribers stay with
            // the workbook that writes.
            schema: self.schema.clone(),
            history: crate::history::History::new(self.history.limit()),
            names: self.names,
            feed: self.feed.detached(),
        }
    }
}

pub(crate) fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A formula bound to a workbook's ids ([`Workbook::prepare`]).
#[derive(Clone, Debug)]
pub struct PreparedFormula {
    expr: Expr,
    table: Option<TableId>,
}

impl Workbook {
    /// Binds a schema into an empty workbook whose clock reads `clock`.
    ///
    /// Every problem is reported at once: duplicate or unknown names, bad
    /// types and options, formulas that do not parse or bind (each with its
    /// location and a suggestion). Dependency cycles are not an error: the
    /// cells of the columns in a cycle hold the `cycle` error value.
    pub fn new(schema: &Schema, clock: Clock) -> Result<Workbook, SchemaError> {
        crate::build::Builder::build(schema, clock)
    }

    // ---- names ----------------------------------------------------------
    //
    // Every method that takes an id checks it (see `ids.rs`): an id of
    // another workbook, of a removed column, or of a row that does not live
    // is a `LookupError`, never a panic and never a read of another table,
    // column or row.

    /// The table with this name (without regard to case); an unknown name
    /// is an error that offers the closest table name.
    pub fn table_id(&self, name: &str) -> Result<TableId, LookupError> {
        self.table_names
            .get(&fold(name))
            .copied()
            .ok_or_else(|| LookupError::UnknownTable {
                name: name.to_string(),
                hint: bind::did_you_mean(
                    name,
                    self.tables()
                        .map(|t| self.name_of_table(t).to_string())
                        .collect(),
                ),
            })
    }

    /// The workbook's named value or formula with this name (without regard
    /// to case); an unknown name is an error that offers the closest name.
    /// See [`Schema::with_name`].
    pub fn name_id(&self, name: &str) -> Result<ColumnId, LookupError> {
        self.find_column(self.names, name)
            .ok_or_else(|| LookupError::UnknownName {
                name: name.to_string(),
                hint: bind::did_you_mean(
                    name,
                    self.names()
                        .iter()
                        .map(|c| self.name_of_column(*c).to_string())
                        .collect(),
                ),
            })
    }

    /// The workbook's named values and formulas, in schema order. Their
    /// names, types and formulas read as any column's do
    /// ([`Workbook::column_name`], [`Workbook::formula`]).
    pub fn names(&self) -> &[ColumnId] {
        self.columns_of_table(self.names)
    }

    /// The value of one of the workbook's names.
    pub fn name_value(&self, name: ColumnId) -> Result<&Value, LookupError> {
        let column = self.data.checked_column(name)?;
        if column.table != self.names {
            return Err(LookupError::NotAName {
                id: name,
                is_name: false,
            });
        }
        Ok(self.data.cell(name, crate::data::NAMES_ROW))
    }

    /// The column of `table` with this name (without regard to case); an
    /// unknown name is an error that offers the closest column name.
    pub fn column_id(&self, table: TableId, name: &str) -> Result<ColumnId, LookupError> {
        let t = self.data.checked_table(table)?;
        self.column_names
            .get(table.index())
            .and_then(|names| names.get(&fold(name)))
            .copied()
            .ok_or_else(|| LookupError::UnknownColumn {
                table: t.name.clone(),
                name: name.to_string(),
                hint: bind::did_you_mean(
                    name,
                    t.columns
                        .iter()
                        .map(|c| self.data.column(*c).name.clone())
                        .collect(),
                ),
            })
    }

    /// The tables, in schema order.
    pub fn tables(&self) -> impl Iterator<Item = TableId> + '_ {
        self.data
            .tables
            .iter()
            .map(|t| t.id)
            .filter(|t| *t != self.names)
    }

    /// A table's name.
    pub fn table_name(&self, table: TableId) -> Result<&str, LookupError> {
        Ok(&self.data.checked_table(table)?.name)
    }

    /// A table's columns, in schema order (the engine's hidden columns left out).
    pub fn columns(&self, table: TableId) -> Result<&[ColumnId], LookupError> {
        Ok(&self.data.checked_table(table)?.columns)
    }

    /// A column's name.
    pub fn column_name(&self, column: ColumnId) -> Result<&str, LookupError> {
        Ok(&self.data.checked_column(column)?.name)
    }

    /// The table a column belongs to.
    pub fn column_table(&self, column: ColumnId) -> Result<TableId, LookupError> {
        Ok(self.data.checked_column(column)?.table)
    }

    /// A column's definition, as the schema gave it.
    pub fn column_schema(&self, column: ColumnId) -> Result<&ColumnSchema, LookupError> {
        Ok(&self.data.checked_column(column)?.schema)
    }

    /// Whether a column is computed by a formula.
    pub fn is_formula(&self, column: ColumnId) -> Result<bool, LookupError> {
        Ok(self.data.checked_column(column)?.formula().is_some())
    }

    /// A formula column's formula, as written in the schema (`None` for a
    /// data column).
    pub fn formula(&self, column: ColumnId) -> Result<Option<&str>, LookupError> {
        self.data.checked_column(column)?;
        Ok(self.sources.get(&column).map(String::as_str))
    }

    /// For a relation or people column: the table it points at, and whether
    /// a cell holds a list of rows (`None` for any other column).
    pub fn relation_target(
        &self,
        column: ColumnId,
    ) -> Result<Option<(TableId, bool)>, LookupError> {
        Ok(self.data.checked_column(column)?.target)
    }

    /// The column that names a table's rows (the first, unless the schema says otherwise).
    pub fn display_column(&self, table: TableId) -> Result<Option<ColumnId>, LookupError> {
        Ok(self.data.checked_table(table)?.display)
    }

    // Unchecked, for ids the workbook itself holds (never a caller's).

    pub(crate) fn find_table(&self, name: &str) -> Option<TableId> {
        self.table_names.get(&fold(name)).copied()
    }

    pub(crate) fn find_column(&self, table: TableId, name: &str) -> Option<ColumnId> {
        self.column_names
            .get(table.index())?
            .get(&fold(name))
            .copied()
    }

    pub(crate) fn name_of_table(&self, table: TableId) -> &str {
        &self.data.table(table).name
    }

    pub(crate) fn name_of_column(&self, column: ColumnId) -> &str {
        &self.data.column(column).name
    }

    pub(crate) fn table_of_column(&self, column: ColumnId) -> TableId {
        self.data.column(column).table
    }

    pub(crate) fn columns_of_table(&self, table: TableId) -> &[ColumnId] {
        &self.data.table(table).columns
    }

    // ---- rows and cells -------------------------------------------------

    /// The live rows of a table, in order.
    pub fn rows(&self, table: TableId) -> Result<&[RowId], LookupError> {
        Ok(self.data.checked_table(table)?.order())
    }

    /// The row at 1-based `position` (a position, not an id: the first live
    /// row is at 1 whatever its id).
    pub fn row_at(&self, table: TableId, position: usize) -> Result<RowId, LookupError> {
        let t = self.data.checked_table(table)?;
        position
            .checked_sub(1)
            .and_then(|i| t.order().get(i))
            .copied()
            .ok_or_else(|| LookupError::NoPosition {
                table: t.name.clone(),
                position,
                rows: t.order().len(),
            })
    }

    /// The 1-based position of a live row.
    pub fn position(&self, table: TableId, row: RowId) -> Result<usize, LookupError> {
        self.data.checked_row(table, row)?;
        Ok(self.data.row_number(table, row).map_or(0, |n| n as usize))
    }

    /// The id the table's next inserted row will get: one past every id it
    /// has issued, deleted rows' included (ids are never reused).
    pub fn next_row_id(&self, table: TableId) -> Result<RowId, LookupError> {
        let t = self.data.checked_table(table)?;
        Ok(RowId(u32::try_from(t.slots()).unwrap_or(u32::MAX)))
    }

    /// Whether `table` is this workbook's and has a live row `row`.
    pub fn contains_row(&self, table: TableId, row: RowId) -> bool {
        self.data.checked_row(table, row).is_ok()
    }

    /// The live rows whose display column shows `name` (exactly, case
    /// included; a number also as the number it reads as).
    pub fn find_rows(&self, table: TableId, name: &str) -> Result<Vec<RowId>, LookupError> {
        self.data.checked_table(table)?;
        let mut rows = crate::coerce::rows_named(&self.data, table, &Value::text(name));
        if rows.is_empty() {
            if let Some(n) =
                crate::functions::math::parse_number(name).filter(|_| !name.trim().is_empty())
            {
                rows = crate::coerce::rows_named(&self.data, table, &Value::Number(n));
            }
        }
        Ok(rows)
    }

    /// A cell's value.
    pub fn value(&self, column: ColumnId, row: RowId) -> Result<&Value, LookupError> {
        let c = self.data.checked_column(column)?;
        self.data.checked_row(c.table, row)?;
        Ok(self.data.cell(column, row))
    }

    /// Reads a cell written as text (a CSV field, a form input) into the
    /// value a write of `column` takes: `""` is Blank, numbers are plain
    /// decimals (a percent column also takes `45%`, stored as 45), checkboxes take
    /// true/false, yes/no or 1/0, list columns split on commas, and anything
    /// else stays text for the write to check (dates as YYYY-MM-DD, options,
    /// relations by their display name). The inverse of [`Workbook::display`]
    /// for data cells, except list items that themselves hold a comma. The error is a sentence about the text (the caller
    /// names the column and the line), or the [`LookupError`]'s for a column
    /// this workbook does not have.
    ///
    /// ```
    /// # use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, Workbook};
    /// # let schema = Schema::new().with_table(TableSchema::new("T").with_column(ColumnSchema::data("P", ColumnType::Percent)));
    /// # let wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let p = wb.column_id(wb.table_id("T")?, "P").unwrap();
    /// assert_eq!(wb.parse_text(p, "45%")?, Value::from(45));
    /// assert!(wb.parse_text(p, "lots").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_text(&self, column: ColumnId, text: &str) -> Result<Value, String> {
        let col = self
            .data
            .checked_column(column)
            .map_err(|e| e.to_string())?;
        let multiple = col.target.is_some_and(|(_, m)| m);
        crate::coerce::from_text(&col.schema.ty, multiple, text)
    }

    /// A value as text, as `ToText` gives it (rows by their display column).
    pub fn display(&self, value: &Value) -> String {
        crate::eval::display(&self.data, value)
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
        if let Some((t, r)) = row {
            if let Err(e) = self.data.checked_row(t, r) {
                return Ok(Value::error(ErrorKind::NotFound, e.to_string()));
            }
        }
        let expr = self.bind_formula(formula, row.map(|(t, _)| t))?;
        let value = EvalCtx::new(&self.data, row, budget).eval(&expr);
        Ok(budget.error().unwrap_or(value))
    }

    /// A formula parsed and bound once, to be evaluated on many rows of
    /// `table` ([`Workbook::eval_prepared`]): what an automation does with
    /// its condition over every account.
    ///
    /// ```
    /// use csip_engine::{Budget, Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("Accounts")
    ///         .with_column(ColumnSchema::data("Name", ColumnType::Text))
    ///         .with_column(ColumnSchema::data("Health", ColumnType::Number)),
    /// );
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let t = wb.table_id("Accounts")?;
    /// let (name, health) = (wb.column_id(t, "Name")?, wb.column_id(t, "Health")?);
    /// wb.import(vec![(t, vec![
    ///     vec![(name, Value::from("Gard AS")), (health, Value::from(63))],
    ///     vec![(name, Value::from("Helix")), (health, Value::from(88))],
    /// ])])?;
    /// let low = wb.prepare("[Health] < 70", Some(t))?;
    /// let at_risk: Vec<_> = wb.rows(t)?.iter()
    ///     .filter(|&&r| wb.eval_prepared(&low, Some(r), &Budget::default()) == Value::Bool(true))
    ///     .collect();
    /// assert_eq!(at_risk.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The formula does not parse or bind, as [`Workbook::eval`].
    pub fn prepare(
        &self,
        formula: &str,
        table: Option<TableId>,
    ) -> Result<PreparedFormula, FormulaError> {
        Ok(PreparedFormula {
            expr: self.bind_formula(formula, table)?,
            table,
        })
    }

    /// Evaluates a prepared formula on `row` of its table (or on no row)
    /// under `budget`; a row that is not there is a `#not found` error
    /// value. A formula prepared before the schema changed may name columns
    /// that are gone: those read as errors, never as other columns.
    pub fn eval_prepared(
        &self,
        formula: &PreparedFormula,
        row: Option<RowId>,
        budget: &crate::Budget,
    ) -> Value {
        let row = match (formula.table, row) {
            (Some(t), Some(r)) => {
                if let Err(e) = self.data.checked_row(t, r) {
                    return Value::error(ErrorKind::NotFound, e.to_string());
                }
                Some((t, r))
            }
            _ => None,
        };
        let value = EvalCtx::new(&self.data, row, budget).eval(&formula.expr);
        budget.error().unwrap_or(value)
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
        // What keeping views costs: their orders and tallies, and the hidden
        // columns their keys and tallies read (counted in their tables too).
        let mut keyed: Seen<ColumnId> = Seen::new();
        for m in &self.data.maintained {
            let k = &m.keys;
            keyed.extend(
                k.filter
                    .iter()
                    .chain(k.group.iter())
                    .chain(k.sort.iter().map(|s| &s.0)),
            );
        }
        keyed.extend(self.data.tallies.iter().map(|t| t.column));
        let key_columns: usize = keyed
            .into_iter()
            .filter(|c| self.data.column(*c).is_hidden())
            .map(|c| self.data.column(c).values.heap_bytes())
            .sum();
        MemoryUsage {
            tables,
            indexes: self.data.indexes.iter().map(|i| i.heap_bytes()).sum(),
            kept_views: self
                .data
                .maintained
                .iter()
                .map(|m| m.heap_bytes())
                .sum::<usize>()
                + self
                    .data
                    .tallies
                    .iter()
                    .map(|t| t.heap_bytes())
                    .sum::<usize>(),
            view_key_columns: key_columns,
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
        let changes = crate::ChangeSet {
            changes,
            ..Default::default()
        };
        self.feed
            .publish(crate::history::ChangeCause::Clock, &changes);
        changes
    }

    /// The workbook's version: 0 when built, one more with every commit (an
    /// applied transaction, an undo or redo, an import, a clock move).
    pub fn version(&self) -> u64 {
        self.feed.version()
    }

    /// The change feed: every commit from now on, in order, as a
    /// [`Change`](crate::Change) (its version, its cause and its change set),
    /// sent on the returned channel as the commit returns. The engine runs no
    /// thread of its own: the host reads the channel where it likes (a
    /// thread, a task); dropping the receiver unsubscribes. A clone of the
    /// workbook (a snapshot) has no subscribers.
    ///
    /// ```
    /// # use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, Value, Workbook};
    /// # let schema = Schema::new().with_table(TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)));
    /// # let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// # let t = wb.table_id("T")?;
    /// # let a = wb.column_id(t, "A")?;
    /// let feed = wb.subscribe();
    /// let row = wb.apply(Transaction::new().insert(t, vec![(a, Value::from(1))]))?.inserted[0].1;
    /// wb.apply(Transaction::new().set(a, row, 2))?;
    /// let versions: Vec<u64> = feed.try_iter().map(|c| c.version).collect();
    /// assert_eq!(versions, [1, 2]);
    /// assert_eq!(wb.version(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&mut self) -> std::sync::mpsc::Receiver<Arc<crate::Change>> {
        self.feed.subscribe()
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
    /// The bytes the views kept in order hold ([`Workbook::maintain_view`]):
    /// their rows in order and their tiles' tallies.
    pub kept_views: usize,
    /// Of the tables' bytes, those of the hidden columns that kept views'
    /// filters, groups, sorts and tallies read (computed keys, such as a
    /// relation's display text to sort by).
    pub view_key_columns: usize,
}

impl MemoryUsage {
    /// Everything.
    pub fn total(&self) -> usize {
        self.tables.iter().map(|t| t.2).sum::<usize>() + self.indexes + self.kept_views
    }
}

/// Binding against a built workbook: column types are known.
pub(crate) struct ReadCatalog<'a> {
    pub(crate) wb: &'a Workbook,
}

impl Catalog for ReadCatalog<'_> {
    fn table_by_name(&self, name: &str) -> Option<TableId> {
        self.wb.find_table(name)
    }
    fn column_by_name(&self, table: TableId, name: &str) -> Option<ColumnId> {
        self.wb.find_column(table, name)
    }
    fn table_name(&self, table: TableId) -> &str {
        &self.wb.data.table(table).name
    }
    fn column_names(&self, table: TableId) -> Vec<String> {
        let data = &self.wb.data;
        data.table(table)
            .columns
            .iter()
            .map(|c| data.column(*c).name.clone())
            .collect()
    }
    fn table_names(&self) -> Vec<String> {
        self.wb
            .tables()
            .map(|t| self.wb.data.table(t).name.clone())
            .collect()
    }
    fn name_column(&self, name: &str) -> Option<ColumnId> {
        self.wb.find_column(self.wb.names, name)
    }
    fn names_table(&self) -> Option<TableId> {
        Some(self.wb.names)
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
        | Expr::Named(_)
        | Expr::ItemCol { .. }
        | Expr::ThisRow
        | Expr::Item { .. }
        | Expr::Table(_)
        | Expr::Param(_) => {}
    }
}
