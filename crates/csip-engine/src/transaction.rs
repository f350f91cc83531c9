//! Transactions: a batch of sets, inserts and deletes, validated whole and
//! applied whole or not at all, answered with the [`ChangeSet`].

use crate::coerce::{Rejected, coerce};
use crate::data::ColumnKind;
use crate::deps::Node;
use crate::history::ChangeCause;
use crate::ids::{CellId, ColumnId, LookupError, RowId, TableId};
use crate::index::IndexMode;
use crate::recalc::{self, CellChange, Propagator};
use crate::schema_change::SchemaChange;
use crate::value::{Key, Value};
use crate::workbook::Workbook;
use indexmap::IndexMap;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use std::fmt;
use std::sync::Arc;

/// The values of one row: data columns and what to store in them.
pub type RowValues = Vec<(ColumnId, Value)>;

/// Rows for [`Workbook::import_all_with_ids`]: each with the id it must get, if any.
pub type RowsWithIds = Vec<(Option<RowId>, RowValues)>;

/// A batch of edits, applied by [`Workbook::apply`] as one unit: every
/// operation is checked and applied, or none is.
///
/// Build one by chaining [`Transaction::set`], [`Transaction::insert`] and
/// [`Transaction::delete`] (or [`Transaction::push`] an [`Op`]). Rows and
/// columns are named by their ids, which [`Workbook::table_id`],
/// [`Workbook::column_id`] and the change sets of earlier inserts give.
///
/// ```
/// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, TransactionErrorKind, Value, Workbook};
/// let schema = Schema::new().with_table(
///     TableSchema::new("Stock")
///         .with_column(ColumnSchema::data("Item", ColumnType::Text).required().unique())
///         .with_column(ColumnSchema::data("Count", ColumnType::Number)),
/// );
/// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
/// let t = wb.table_id("Stock")?;
/// let (item, count) = (wb.column_id(t, "Item")?, wb.column_id(t, "Count")?);
/// let rows = wb.import(vec![(t, vec![
///     vec![(item, Value::from("nuts")), (count, Value::from(40))],
///     vec![(item, Value::from("washers")), (count, Value::from(7))],
/// ])])?;
/// let (nuts, washers) = (rows[0][0], rows[0][1]);
///
/// let tx = Transaction::new()
///     .insert(t, vec![(item, Value::from("bolts")), (count, Value::from(100))])
///     .set(count, nuts, 35)
///     .delete(t, washers);
/// assert_eq!(tx.ops().len(), 3);
/// let changes = wb.apply(tx)?;
/// assert_eq!(changes.inserted.len(), 1);
/// // A deleted row comes with the values it held.
/// assert_eq!((changes.deleted[0].table, changes.deleted[0].row), (t, washers));
/// assert_eq!(changes.deleted[0].value(count), Some(&Value::from(7)));
/// assert_eq!(wb.value(count, nuts)?, &Value::from(35));
///
/// // All or nothing: the insert repeats a unique name, so the set before it
/// // is not applied either.
/// let err = wb
///     .apply(Transaction::new().set(count, nuts, 0).insert(t, vec![(item, Value::from("nuts"))]))
///     .unwrap_err();
/// assert_eq!(err.kind, TransactionErrorKind::Duplicate);
/// assert_eq!(wb.value(count, nuts)?, &Value::from(35));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transaction {
    ops: Vec<Op>,
}

/// One edit.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// Store a value in a data cell.
    Set {
        /// The column (its table is the row's table).
        column: ColumnId,
        /// The row.
        row: RowId,
        /// The value; text names a relation's target by its display column.
        value: Value,
    },
    /// Add a row at the end of a table. Columns left out take their default, or Blank.
    Insert {
        /// The table.
        table: TableId,
        /// The id the row must get (a row exported with its id and imported
        /// again): one the table has never given, at most 16,777,216 past its
        /// next one; the ids skipped are never given. `None`: the next id.
        id: Option<RowId>,
        /// Values of data columns.
        values: Vec<(ColumnId, Value)>,
    },
    /// Remove a row. References to it are removed from relation cells; a
    /// required relation left empty rejects the transaction.
    Delete {
        /// The table.
        table: TableId,
        /// The row.
        row: RowId,
    },
    /// Change the schema: add a table or a column, change a formula, rename
    /// a table or a column, remove a column. A transaction that changes the
    /// schema changes nothing else (send data edits in a transaction of
    /// their own).
    Schema(Box<SchemaChange>),
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// Adds a set; returns the transaction for chaining.
    pub fn set(mut self, column: ColumnId, row: RowId, value: impl Into<Value>) -> Transaction {
        self.ops.push(Op::Set {
            column,
            row,
            value: value.into(),
        });
        self
    }

    /// Adds an insert; returns the transaction for chaining.
    pub fn insert(mut self, table: TableId, values: Vec<(ColumnId, Value)>) -> Transaction {
        self.ops.push(Op::Insert {
            table,
            id: None,
            values,
        });
        self
    }

    /// Adds an insert of a row that must get `id` (see [`Op::Insert`]);
    /// returns the transaction for chaining.
    pub fn insert_with_id(
        mut self,
        table: TableId,
        id: RowId,
        values: Vec<(ColumnId, Value)>,
    ) -> Transaction {
        self.ops.push(Op::Insert {
            table,
            id: Some(id),
            values,
        });
        self
    }

    /// Adds a delete; returns the transaction for chaining.
    pub fn delete(mut self, table: TableId, row: RowId) -> Transaction {
        self.ops.push(Op::Delete { table, row });
        self
    }

    /// Adds a schema change; returns the transaction for chaining.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, SchemaChange, TableSchema, Transaction, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)),
    /// );
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let t = wb.table_id("T")?;
    /// let a = wb.column_id(t, "A")?;
    /// let row = wb.apply(Transaction::new().insert(t, vec![(a, Value::from(21))]))?.inserted[0].1;
    /// let added = wb.apply(Transaction::new().change_schema(SchemaChange::AddColumn {
    ///     table: t,
    ///     column: ColumnSchema::formula("Twice", ColumnType::Number, "[A] * 2"),
    /// }))?;
    /// let twice = wb.column_id(t, "Twice")?;
    /// assert_eq!(added.get(twice, row).unwrap().new, Value::from(42));
    /// wb.apply(Transaction::new().change_schema(SchemaChange::RenameColumn { column: a, name: "Amount".into() }))?;
    /// assert_eq!(wb.formula(twice)?, Some("[Amount] * 2"), "the formula follows the rename");
    /// assert_eq!(wb.column_id(t, "Amount")?, a, "and the id stays");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn change_schema(mut self, change: SchemaChange) -> Transaction {
        self.ops.push(Op::Schema(Box::new(change)));
        self
    }

    /// Adds any operation.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Whether the transaction has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What a transaction (or a clock move) changed: every cell whose value
/// changed, formula cells included, with old and new values, and the rows
/// inserted and deleted (with the values they held).
///
/// A formula cell that was recomputed but came out as it was is not in it
/// (nor is anything computed from it): a change set is what a host must
/// redraw, send or store, and nothing more.
///
/// ```
/// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, Value, Workbook};
/// let schema = Schema::new().with_table(
///     TableSchema::new("Lines")
///         .with_column(ColumnSchema::data("Qty", ColumnType::Number))
///         .with_column(ColumnSchema::data("Price", ColumnType::Number))
///         .with_column(ColumnSchema::formula("Total", ColumnType::Number, "[Qty] * [Price]"))
///         .with_column(ColumnSchema::formula("Large", ColumnType::Checkbox, "[Total] > 100")),
/// );
/// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
/// let t = wb.table_id("Lines")?;
/// let [qty, price, total, large] = ["Qty", "Price", "Total", "Large"].map(|c| wb.column_id(t, c).unwrap());
/// let inserted = wb.apply(Transaction::new().insert(t, vec![(qty, Value::from(2)), (price, Value::from(10))]))?;
/// let (_, row) = inserted.inserted[0];
///
/// let changes = wb.apply(Transaction::new().set(qty, row, 3))?;
/// // The data cell first, then the formula cells in recalculation order.
/// let changed: Vec<_> = changes.changes.iter().map(|c| c.cell.column).collect();
/// assert_eq!(changed, [qty, total]);
/// let change = changes.get(total, row).unwrap();
/// assert_eq!((change.old.clone(), change.new.clone()), (Some(Value::from(20)), Value::from(30)));
/// // `Large` was recomputed and is still false: not a change.
/// assert!(changes.get(large, row).is_none());
/// assert_eq!(changes.in_column(total).count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangeSet {
    /// Changed cells, data cells first, then formula cells in recalculation order.
    pub changes: Vec<CellChange>,
    /// Rows inserted, in order.
    pub inserted: Vec<(TableId, RowId)>,
    /// Rows deleted, in order, each with the values it held.
    pub deleted: Vec<DeletedRow>,
    /// The schema after the change, when the change was to the schema.
    pub schema: Option<Arc<crate::Schema>>,
}

/// A row a transaction deleted, with the values it held then.
#[derive(Clone, Debug, PartialEq)]
pub struct DeletedRow {
    /// The table.
    pub table: TableId,
    /// The row's id (never given to another row).
    pub row: RowId,
    /// Its columns' values (data and formula, in the table's column order).
    pub values: Vec<(ColumnId, Value)>,
}

impl DeletedRow {
    /// The value the row held in `column`.
    pub fn value(&self, column: ColumnId) -> Option<&Value> {
        self.values
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, v)| v)
    }
}

impl ChangeSet {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.inserted.is_empty() && self.deleted.is_empty()
    }

    /// The change of one cell, if it changed.
    pub fn get(&self, column: ColumnId, row: RowId) -> Option<&CellChange> {
        self.changes
            .iter()
            .find(|c| c.cell == CellId { column, row })
    }

    /// The changed cells of one column.
    pub fn in_column(&self, column: ColumnId) -> impl Iterator<Item = &CellChange> {
        self.changes.iter().filter(move |c| c.cell.column == column)
    }
}

/// Why a transaction was rejected. Nothing of it was applied.
///
/// [`TransactionError::kind`] is for code to decide on (an adapter maps it to
/// a status); the message is for people and names the row and column; `op`,
/// `table`, `row` and `column` locate the problem.
///
/// ```
/// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, TransactionErrorKind, Value, Workbook};
/// let schema = Schema::new().with_table(
///     TableSchema::new("Accounts")
///         .with_column(ColumnSchema::data("Name", ColumnType::Text).required())
///         .with_column(ColumnSchema::data("Tier", ColumnType::Select(vec!["Gold".into(), "Silver".into()]))),
/// );
/// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
/// let t = wb.table_id("Accounts")?;
/// let (name, tier) = (wb.column_id(t, "Name")?, wb.column_id(t, "Tier")?);
///
/// let err = wb
///     .apply(
///         Transaction::new()
///             .insert(t, vec![(name, Value::from("Gard AS"))])
///             .insert(t, vec![(name, Value::from("Acme")), (tier, Value::from("Platinum"))]),
///     )
///     .unwrap_err();
/// assert_eq!(err.kind, TransactionErrorKind::NotAnOption);
/// assert_eq!(err.op, Some(1)); // the second operation (counting from 0)
/// assert_eq!((err.table.as_deref(), err.column.as_deref()), (Some("Accounts"), Some("Tier")));
/// assert!(err.to_string().starts_with("operation 2: "), "{err}");
/// assert!(wb.rows(t)?.is_empty(), "the first insert was not applied either");
///
/// // The kinds will grow: match the ones you handle and keep a fallback.
/// let status = match err.kind {
///     TransactionErrorKind::UnknownTable | TransactionErrorKind::UnknownRow => 404,
///     TransactionErrorKind::Duplicate => 409,
///     _ => 400,
/// };
/// assert_eq!(status, 400);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct TransactionError {
    /// What kind of problem.
    pub kind: TransactionErrorKind,
    /// The 0-based index of the operation at fault, when one is.
    pub op: Option<usize>,
    /// The table.
    pub table: Option<String>,
    /// The row, when it exists.
    pub row: Option<RowId>,
    /// The column.
    pub column: Option<String>,
    /// One sentence naming the row and column and saying what is wrong.
    pub message: String,
}

impl fmt::Display for TransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.op {
            write!(f, "operation {}: ", op + 1)?;
        }
        f.write_str(&self.message)
    }
}

/// The kinds of [`TransactionError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// No such table.
    UnknownTable,
    /// No such column in the table.
    UnknownColumn,
    /// No such row.
    UnknownRow,
    /// A formula or button column.
    NotWritable,
    /// A value of the wrong type for the column.
    WrongType,
    /// A select value that is not one of the options.
    NotAnOption,
    /// A slider value outside its range.
    OutOfRange,
    /// A required cell left blank.
    Required,
    /// A unique column's value held by two rows.
    Duplicate,
    /// A relation to a row that does not exist.
    UnknownReference,
    /// A relation written as text that names several rows.
    AmbiguousReference,
    /// A schema change that cannot be made (a name taken, a column that
    /// something reads, a formula that does not bind, ...).
    Schema,
}

impl From<crate::coerce::K> for TransactionErrorKind {
    fn from(kind: crate::coerce::K) -> TransactionErrorKind {
        use crate::coerce::K;
        match kind {
            K::WrongType => TransactionErrorKind::WrongType,
            K::OutOfRange => TransactionErrorKind::OutOfRange,
            K::NotAnOption => TransactionErrorKind::NotAnOption,
            K::UnknownReference => TransactionErrorKind::UnknownReference,
            K::AmbiguousReference => TransactionErrorKind::AmbiguousReference,
            K::NotWritable => TransactionErrorKind::NotWritable,
        }
    }
}

/// One step that undoes part of a transaction (for a rollback, and kept
/// for [`Workbook::undo`]).
#[derive(Debug)]
pub(crate) enum Undo {
    Cell {
        column: ColumnId,
        row: RowId,
        old: Value,
    },
    Insert {
        table: TableId,
        row: RowId,
        /// The table's slots before the insert (an insert with an id may
        /// have skipped some).
        slots: usize,
    },
    Delete {
        table: TableId,
        row: RowId,
        /// Every cell, in `all_columns` order.
        cells: Vec<Value>,
    },
    /// The whole workbook as it was before a schema change (shared
    /// copy-on-write with the workbook after it).
    Schema(crate::schema_change::Saved),
}

/// The bookkeeping of a running transaction.
#[derive(Default)]
struct Batch {
    undo: Vec<Undo>,
    /// Data cells of pre-existing rows that were written, with their value before.
    touched: IndexMap<(ColumnId, RowId), Value, FxBuildHasher>,
    fresh: recalc::Fresh,
    inserted: Vec<(TableId, RowId)>,
    deleted: Vec<DeletedRow>,
    /// Rows whose required cells must be checked at the end.
    check: Vec<(TableId, RowId)>,
    /// A bulk load: writes skip the indexes, which are rebuilt once after.
    bulk: bool,
}

impl Workbook {
    /// Applies a transaction: every operation is checked (types, options,
    /// ranges, relation targets, then required and unique over the whole
    /// batch) and applied, or none is. Returns every cell that changed.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T")
    ///         .with_column(ColumnSchema::data("A", ColumnType::Number))
    ///         .with_column(ColumnSchema::formula("B", ColumnType::Number, "[A] * 2")),
    /// );
    /// let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    /// let mut wb = Workbook::new(&schema, clock)?;
    /// let t = wb.table_id("T")?;
    /// let (a, b) = (wb.column_id(t, "A")?, wb.column_id(t, "B")?);
    /// let inserted = wb.apply(Transaction::new().insert(t, vec![(a, Value::from(21))]))?;
    /// let row = inserted.inserted[0].1;
    /// assert_eq!(wb.value(b, row)?, &Value::from(42));
    /// let changes = wb.apply(Transaction::new().set(a, row, 5))?;
    /// assert_eq!(changes.get(b, row).unwrap().new, Value::from(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&mut self, tx: Transaction) -> Result<ChangeSet, TransactionError> {
        if tx.ops.iter().any(|op| matches!(op, Op::Schema(_))) {
            return self.apply_schema_transaction(tx);
        }
        let mut batch = Batch::default();
        for (i, op) in tx.ops.into_iter().enumerate() {
            if let Err(mut e) = self.apply_op(op, &mut batch) {
                e.op = Some(i);
                self.rollback(batch);
                return Err(e);
            }
        }
        if let Err(e) = self.check_constraints(&batch) {
            self.rollback(batch);
            return Err(e);
        }
        let steps = std::mem::take(&mut batch.undo);
        let changes = self.commit(batch);
        self.history.record(steps);
        self.feed.publish(ChangeCause::Edit, &changes);
        Ok(changes)
    }

    fn apply_schema_transaction(&mut self, tx: Transaction) -> Result<ChangeSet, TransactionError> {
        let mut changes = Vec::with_capacity(tx.ops.len());
        for (i, op) in tx.ops.into_iter().enumerate() {
            match op {
                Op::Schema(change) => changes.push(*change),
                _ => {
                    let mut e = self.error_of(
                        TransactionErrorKind::Schema,
                        "a transaction that changes the schema changes nothing else; send the data edits in a transaction of their own".into(),
                    );
                    e.op = Some(i);
                    return Err(e);
                }
            }
        }
        let (changes, before) = self.apply_schema(changes)?;
        self.history.record(vec![Undo::Schema(before)]);
        self.feed.publish(ChangeCause::Schema, &changes);
        Ok(changes)
    }

    /// Undoes the last transaction with operations [`Workbook::apply`] made (or the last
    /// redone one): data cells get their old values back, inserted rows go,
    /// deleted rows come back with their ids and values, and every formula
    /// follows. Returns what changed, like any edit; `None` when there is
    /// nothing to undo. The history keeps the last
    /// [`DEFAULT_UNDO_LIMIT`](crate::DEFAULT_UNDO_LIMIT) transactions (see
    /// [`Workbook::set_undo_limit`]); an import clears it.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T")
    ///         .with_column(ColumnSchema::data("A", ColumnType::Number))
    ///         .with_column(ColumnSchema::formula("B", ColumnType::Number, "[A] * 2")),
    /// );
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let t = wb.table_id("T")?;
    /// let (a, b) = (wb.column_id(t, "A")?, wb.column_id(t, "B")?);
    /// let row = wb.apply(Transaction::new().insert(t, vec![(a, Value::from(1))]))?.inserted[0].1;
    /// wb.apply(Transaction::new().delete(t, row))?;
    /// let back = wb.undo()?.expect("something to undo");
    /// assert_eq!(back.inserted, [(t, row)], "the deleted row is back, with its id");
    /// assert_eq!(wb.value(b, row)?, &Value::from(2));
    /// wb.redo()?;
    /// assert!(!wb.contains_row(t, row));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn undo(&mut self) -> Result<Option<ChangeSet>, TransactionError> {
        let Some(steps) = self.history.take_undo() else {
            return Ok(None);
        };
        match self.revert(&steps) {
            Ok((changes, inverse)) => {
                self.history.push_redo(inverse);
                self.feed.publish(ChangeCause::Undo, &changes);
                Ok(Some(changes))
            }
            Err(e) => {
                self.history.push_undo(steps);
                Err(e)
            }
        }
    }

    /// Redoes the last transaction [`Workbook::undo`] undid, as it was (rows
    /// it inserted come back with the same ids). `None` when there is nothing
    /// to redo; a new transaction clears what there was.
    pub fn redo(&mut self) -> Result<Option<ChangeSet>, TransactionError> {
        let Some(steps) = self.history.take_redo() else {
            return Ok(None);
        };
        match self.revert(&steps) {
            Ok((changes, inverse)) => {
                self.history.push_undo(inverse);
                self.feed.publish(ChangeCause::Redo, &changes);
                Ok(Some(changes))
            }
            Err(e) => {
                self.history.push_redo(steps);
                Err(e)
            }
        }
    }

    /// How many transactions [`Workbook::undo`] and [`Workbook::redo`] can take back now.
    pub fn history_len(&self) -> (usize, usize) {
        (self.history.can_undo(), self.history.can_redo())
    }

    /// Keeps at most `limit` transactions for undo (0: none; the oldest go
    /// first). Whatever the limit, at most
    /// [`MAX_UNDO_STEPS`](crate::MAX_UNDO_STEPS) cells and rows are kept in
    /// all, and a transaction larger than that alone is not undoable.
    pub fn set_undo_limit(&mut self, limit: usize) {
        self.history.set_limit(limit);
    }

    /// Applies the inverse of `steps` (a transaction's undo log) as one
    /// batch: what it changed, and the steps that invert it in turn. On a
    /// refusal nothing changes.
    fn revert(&mut self, steps: &[Undo]) -> Result<(ChangeSet, Vec<Undo>), TransactionError> {
        if let [Undo::Schema(saved)] = steps {
            let (changes, current) = self.restore_schema(Box::new((**saved).clone()));
            return Ok((changes, vec![Undo::Schema(current)]));
        }
        let mut batch = Batch::default();
        for step in steps.iter().rev() {
            let done = match step {
                Undo::Cell { column, row, old } => {
                    let table = self.data.column(*column).table;
                    self.write_data(table, *row, *column, old.clone(), &mut batch)
                }
                Undo::Insert { table, row, .. } => self.delete_row(*table, *row, &mut batch),
                Undo::Delete { table, row, cells } => {
                    self.revive(*table, *row, cells, &mut batch);
                    Ok(())
                }
                // Alone in its transaction's steps (above).
                Undo::Schema(_) => Ok(()),
            };
            if let Err(e) = done {
                self.rollback(batch);
                return Err(e);
            }
        }
        if let Err(e) = self.check_constraints(&batch) {
            self.rollback(batch);
            return Err(e);
        }
        let inverse = std::mem::take(&mut batch.undo);
        Ok((self.commit(batch), inverse))
    }

    /// Brings a deleted row back with its id and data cells; its formula
    /// cells are computed as a new row's are.
    fn revive(&mut self, table: TableId, row: RowId, cells: &[Value], batch: &mut Batch) {
        let columns: Vec<ColumnId> = self.data.table(table).all_columns().collect();
        let cells: Vec<Value> = columns
            .iter()
            .zip(cells)
            .map(|(c, v)| {
                if matches!(self.data.column(*c).kind, ColumnKind::Data) {
                    v.clone()
                } else {
                    Value::Blank
                }
            })
            .collect();
        self.data.revive_row(table, row, cells);
        // The rows after it move down a place.
        if !self.graph.dependents(Node::Position(table)).is_empty() {
            let mut p = Propagator {
                data: &self.data,
                graph: &self.graph,
                dirty: &mut self.dirty,
                fresh: &batch.fresh,
            };
            let order = p.data.table(table).order();
            let pos = p.data.row_number(table, row).unwrap_or(0) as usize;
            for &later in &order[pos..] {
                p.propagate(Node::Position(table), later, None);
            }
        }
        let slots = self.data.table(table).slots();
        batch.undo.push(Undo::Insert { table, row, slots });
        batch.fresh.note_revived(table, row);
        batch.inserted.push((table, row));
        batch.check.push((table, row));
    }

    fn apply_op(&mut self, op: Op, batch: &mut Batch) -> Result<(), TransactionError> {
        match op {
            Op::Set { column, row, value } => {
                let table = self
                    .data
                    .checked_column(column)
                    .map_err(|e| self.lookup_failed(e))?
                    .table;
                if let Err(e) = self.data.checked_row(table, row) {
                    let mut e = self.lookup_failed(e);
                    e.column = Some(self.name_of_column(column).to_string());
                    return Err(e);
                }
                self.write_data(table, row, column, value, batch)
            }
            Op::Insert { table, id, values } => {
                self.data
                    .checked_table(table)
                    .map_err(|e| self.lookup_failed(e))?;
                self.not_names(table)?;
                let slots = self.data.table(table).slots();
                if let Some(id) = id {
                    self.skip_to(table, id)?;
                }
                let row = self.data.push_row(table, !batch.bulk);
                batch.undo.push(Undo::Insert { table, row, slots });
                batch.fresh.note(table, row);
                batch.inserted.push((table, row));
                batch.check.push((table, row));
                let mut given = FxHashSet::default();
                for (column, value) in values {
                    let owner = self
                        .data
                        .checked_column(column)
                        .map_err(|e| self.lookup_failed(e))?
                        .table;
                    if owner != table {
                        return Err(self.error(
                            TransactionErrorKind::UnknownColumn,
                            Some(table),
                            None,
                            None,
                            format!(
                                "`{}` has no column `{}`: that is a column of `{}`",
                                self.name_of_table(table),
                                self.name_of_column(column),
                                self.name_of_table(owner)
                            ),
                        ));
                    }
                    given.insert(column);
                    self.write_data(table, row, column, value, batch)?;
                }
                let defaults: Vec<(ColumnId, Value)> = self
                    .columns_of_table(table)
                    .iter()
                    .filter(|c| !given.contains(c))
                    .filter_map(|c| Some((*c, self.data.column(*c).schema.default.clone()?)))
                    .collect();
                for (column, value) in defaults {
                    self.write_data(table, row, column, value, batch)?;
                }
                Ok(())
            }
            Op::Delete { table, row } => {
                self.data
                    .checked_row(table, row)
                    .map_err(|e| self.lookup_failed(e))?;
                self.not_names(table)?;
                self.delete_row(table, row, batch)
            }
            // `apply` sends transactions with schema changes elsewhere.
            Op::Schema(_) => Err(self.error_of(
                TransactionErrorKind::Schema,
                "a schema change cannot be part of a bulk load".into(),
            )),
        }
    }

    /// The workbook's names have one row, which is not inserted or deleted.
    pub(crate) fn not_names(&self, table: TableId) -> Result<(), TransactionError> {
        if table != self.names {
            return Ok(());
        }
        Err(self.error(
            TransactionErrorKind::UnknownTable,
            None,
            None,
            None,
            "the workbook's names are not a table: each has one value, its formula's; change a name with a schema change (SetFormula)".into(),
        ))
    }

    /// Makes `id` the id of the table's next row: an id the table has never
    /// given, within [`MAX_ID_GAP`] of its next; the ids between are given
    /// to no row.
    fn skip_to(&mut self, table: TableId, id: RowId) -> Result<(), TransactionError> {
        let next = self.data.table(table).slots();
        if id.index() < next {
            return Err(self.error(
                TransactionErrorKind::Duplicate,
                Some(table),
                None,
                None,
                format!(
                    "`{}` has already given row id {id} (ids are never reused; its next is {}); insert the row without an id to give it a new one",
                    self.name_of_table(table),
                    RowId(u32::try_from(next).unwrap_or(u32::MAX))
                ),
            ));
        }
        if id.index() >= next + MAX_ID_GAP {
            return Err(self.error(
                TransactionErrorKind::UnknownRow,
                Some(table),
                None,
                None,
                format!(
                    "`{}` row id {id} is not an id this table can give (ids count from 1, at most {MAX_ID_GAP} past its next, {})",
                    self.name_of_table(table),
                    RowId(u32::try_from(next).unwrap_or(u32::MAX))
                ),
            ));
        }
        while self.data.table(table).slots() < id.index() {
            self.data.push_dead_slot(table);
        }
        Ok(())
    }

    /// Checks, converts and stores a value in a data cell of a live row.
    fn write_data(
        &mut self,
        table: TableId,
        row: RowId,
        column: ColumnId,
        value: Value,
        batch: &mut Batch,
    ) -> Result<(), TransactionError> {
        if self.data.column(column).is_removed() {
            return Err(self.error(
                TransactionErrorKind::UnknownColumn,
                Some(table),
                None,
                None,
                format!(
                    "`{}` no longer has the column {column:?} (`{}`): a schema change removed it",
                    self.name_of_table(table),
                    self.data.column(column).name
                ),
            ));
        }
        if !matches!(self.data.column(column).kind, ColumnKind::Data) {
            return Err(self.error(
                TransactionErrorKind::NotWritable,
                Some(table),
                Some(row),
                Some(column),
                format!(
                    "{} is a formula column; its value is computed",
                    self.place(table, Some(row), Some(column))
                ),
            ));
        }
        let value = coerce(&self.data, column, value).map_err(|Rejected { kind, message }| {
            self.error(
                kind.into(),
                Some(table),
                Some(row),
                Some(column),
                format!("{} {message}", self.place(table, Some(row), Some(column))),
            )
        })?;
        let old = if batch.bulk {
            self.data.write_unindexed(column, row, value)
        } else {
            self.data.write(column, row, value)
        };
        // A row inserted by this batch needs no undo of its cells: undoing the
        // insert drops them.
        if !batch.fresh.contains(table, row) {
            batch
                .touched
                .entry((column, row))
                .or_insert_with(|| old.clone());
            batch.check.push((table, row));
            batch.undo.push(Undo::Cell { column, row, old });
        }
        Ok(())
    }

    fn delete_row(
        &mut self,
        table: TableId,
        row: RowId,
        batch: &mut Batch,
    ) -> Result<(), TransactionError> {
        // References to the row go: relation cells pointing at it lose it.
        for (col, r) in self.references_to(table, row) {
            let referrer_table = self.data.column(col).table;
            let remaining: Vec<Value> = self
                .data
                .cell(col, r)
                .elements()
                .iter()
                .filter(|v| !matches!(v, Value::Row(t, x) if *t == table && *x == row))
                .cloned()
                .collect();
            let new = if remaining.is_empty() {
                Value::Blank
            } else {
                Value::list(remaining)
            };
            self.write_data(referrer_table, r, col, new, batch)?;
        }
        // Everything that reads the row learns it is going, before it goes.
        if !batch.fresh.contains(table, row) {
            let mut p = Propagator {
                data: &self.data,
                graph: &self.graph,
                dirty: &mut self.dirty,
                fresh: &batch.fresh,
            };
            for col in self.data.table(table).all_columns() {
                // A cell this batch already wrote has not been propagated yet:
                // its old value is what the formulas saw.
                match batch.touched.get(&(col, row)) {
                    Some(old) => {
                        let new = p.data.cell(col, row);
                        p.propagate(Node::Column(col), row, Some((old, new)));
                    }
                    None => p.propagate(Node::Column(col), row, None),
                }
            }
            p.propagate(Node::Rows(table), row, None);
            if !self.graph.dependents(Node::Position(table)).is_empty() {
                let order = self.data.table(table).order();
                let pos = self.data.row_number(table, row).unwrap_or(0) as usize;
                for &later in &order[pos..] {
                    p.propagate(Node::Position(table), later, None);
                }
            }
        }
        let cells = self.data.kill_row(table, row);
        let values = self
            .data
            .table(table)
            .columns
            .iter()
            .zip(&cells)
            .map(|(c, v)| (*c, v.clone()))
            .collect();
        batch.undo.push(Undo::Delete { table, row, cells });
        batch.deleted.push(DeletedRow { table, row, values });
        Ok(())
    }

    /// The data cells that refer to a row (relation and people cells of other
    /// rows): what deleting it writes, since a delete removes the row from
    /// them. Each as (column, row).
    pub fn references_to(&self, table: TableId, row: RowId) -> Vec<(ColumnId, RowId)> {
        self.data
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                matches!(c.kind, ColumnKind::Data) && c.target.is_some_and(|(t, _)| t == table)
            })
            .flat_map(|(_, c)| {
                let col = c.id;
                let rows = self
                    .data
                    .find_index(col, IndexMode::Elements)
                    .map(|ix| self.data.index(ix).get(&Key::Row(table, row)).to_vec())
                    .unwrap_or_default();
                let own = c.table == table;
                rows.into_iter()
                    .filter(move |r| !(own && *r == row))
                    .map(move |r| (col, r))
            })
            .collect()
    }

    /// Required cells of every row written, unique values of every cell written.
    /// Checks the required and unique constraints of `rows`.
    pub(crate) fn check_rows(&self, rows: Vec<(TableId, RowId)>) -> Result<(), TransactionError> {
        self.check_constraints(&Batch {
            check: rows,
            ..Batch::default()
        })
    }

    fn check_constraints(&self, batch: &Batch) -> Result<(), TransactionError> {
        match self
            .constraint_errors(batch, 1, &FxHashSet::default())
            .into_iter()
            .next()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Required and unique problems of the batch's rows, at most `max`,
    /// leaving out rows in `skip` (already reported).
    fn constraint_errors(
        &self,
        batch: &Batch,
        max: usize,
        skip: &FxHashSet<(TableId, RowId)>,
    ) -> Vec<TransactionError> {
        let mut errors = Vec::new();
        let mut seen = FxHashSet::default();
        for &(table, row) in &batch.check {
            if !seen.insert((table, row))
                || !self.data.is_live(table, row)
                || skip.contains(&(table, row))
            {
                continue;
            }
            for &col in self.columns_of_table(table) {
                let c = self.data.column(col);
                if c.schema.required
                    && matches!(c.kind, ColumnKind::Data)
                    && self.data.cell(col, row).is_blank()
                {
                    errors.push(self.error(
                        TransactionErrorKind::Required,
                        Some(table),
                        Some(row),
                        Some(col),
                        format!(
                            "{} is required; give it a value",
                            self.place(table, Some(row), Some(col))
                        ),
                    ));
                    if errors.len() >= max {
                        return errors;
                    }
                }
            }
        }
        let written = batch.touched.keys().copied().chain(
            batch
                .inserted
                .iter()
                .flat_map(|&(t, r)| self.columns_of_table(t).iter().map(move |c| (*c, r))),
        );
        for (col, row) in written {
            let c = self.data.column(col);
            if !c.schema.unique
                || !self.data.is_live(c.table, row)
                || skip.contains(&(c.table, row))
            {
                continue;
            }
            let value = self.data.cell(col, row);
            if value.is_blank() {
                continue;
            }
            let (Some(ix), Some(key)) = (
                self.data.find_index(col, IndexMode::Whole),
                Key::from_value(value),
            ) else {
                continue;
            };
            let holders = self.data.index(ix).get(&key);
            if let Some(other) = holders.iter().find(|r| **r != row) {
                errors.push(self.error(
                    TransactionErrorKind::Duplicate,
                    Some(c.table),
                    Some(row),
                    Some(col),
                    format!(
                        "{} must be unique, but row {} already holds {}",
                        self.place(c.table, Some(row), Some(col)),
                        self.describe_row(c.table, *other),
                        self.display(value)
                    ),
                ));
                if errors.len() >= max {
                    return errors;
                }
            }
        }
        errors
    }

    fn rollback(&mut self, batch: Batch) {
        for u in batch.undo.into_iter().rev() {
            match u {
                Undo::Cell { column, row, old } => {
                    self.data.write(column, row, old);
                }
                Undo::Insert { table, row, slots } => self.data.pop_row(table, row, slots),
                Undo::Delete { table, row, cells } => self.data.revive_row(table, row, cells),
                // Schema changes keep the state before them whole instead.
                Undo::Schema(_) => {}
            }
        }
        self.dirty.clear();
    }

    /// Propagates the batch's data changes and inserts, recomputes, and reports.
    fn commit(&mut self, batch: Batch) -> ChangeSet {
        let mut changes = Vec::new();
        let mut p = Propagator {
            data: &self.data,
            graph: &self.graph,
            dirty: &mut self.dirty,
            fresh: &batch.fresh,
        };
        for (&(column, row), old) in &batch.touched {
            let table = p.data.column(column).table;
            if !p.data.is_live(table, row) {
                continue;
            }
            let new = p.data.cell(column, row);
            // Propagated even when the batch put the old value back: a delete
            // earlier in the batch followed paths through the value in between.
            p.propagate(Node::Column(column), row, Some((old, new)));
            if new.identical(old) {
                continue;
            }
            changes.push(CellChange {
                cell: CellId { column, row },
                table,
                old: Some(old.clone()),
                new: new.clone(),
            });
        }
        let mut cyclic_cells = Vec::new();
        for &(table, row) in &batch.inserted {
            if !p.data.is_live(table, row) {
                continue;
            }
            for col in p.data.table(table).all_columns() {
                let column = p.data.column(col);
                match column.formula() {
                    None => {
                        let value = p.data.cell(col, row);
                        p.propagate(Node::Column(col), row, None);
                        changes.push(CellChange {
                            cell: CellId { column: col, row },
                            table,
                            old: None,
                            new: value.clone(),
                        });
                    }
                    Some(f) if f.cyclic => cyclic_cells.push((col, row)),
                    Some(f) => p.dirty.mark(col, f.rank, row),
                }
            }
            p.propagate(Node::Rows(table), row, None);
        }
        for (col, row) in cyclic_cells {
            let e = recalc::cycle_error(&self.data, &self.graph, col);
            self.data.write(col, row, e.clone());
            let mut p = Propagator {
                data: &self.data,
                graph: &self.graph,
                dirty: &mut self.dirty,
                fresh: &batch.fresh,
            };
            // Known now, unlike other formula cells of a fresh row: a key
            // column's value reaches the predicates keyed on it.
            p.propagate(Node::Column(col), row, Some((&Value::Blank, &e)));
            if !self.data.column(col).is_hidden() {
                changes.push(CellChange {
                    cell: CellId { column: col, row },
                    table: self.data.column(col).table,
                    old: None,
                    new: e,
                });
            }
        }
        recalc::run(
            &mut self.data,
            &self.graph,
            &mut self.dirty,
            &batch.fresh,
            &mut changes,
            self.trace.as_mut(),
        );
        ChangeSet {
            changes,
            inserted: batch
                .inserted
                .into_iter()
                .filter(|(t, r)| self.data.is_live(*t, *r))
                .collect(),
            deleted: batch.deleted,
            schema: None,
        }
    }

    /// An error of the transaction as a whole (no table, row or column).
    pub(crate) fn error_of(&self, kind: TransactionErrorKind, message: String) -> TransactionError {
        self.error(kind, None, None, None, message)
    }

    /// An id or a row the transaction names that this workbook does not have.
    pub(crate) fn lookup_failed(&self, e: LookupError) -> TransactionError {
        let (kind, table) = match &e {
            LookupError::UnknownTable { .. } | LookupError::ForeignTable { .. } => {
                (TransactionErrorKind::UnknownTable, None)
            }
            LookupError::NoRow { table, .. } => {
                (TransactionErrorKind::UnknownRow, Some(table.clone()))
            }
            LookupError::NoPosition { table, .. } => {
                (TransactionErrorKind::UnknownRow, Some(table.clone()))
            }
            _ => (TransactionErrorKind::UnknownColumn, None),
        };
        TransactionError {
            kind,
            op: None,
            table,
            row: None,
            column: None,
            message: e.to_string(),
        }
    }

    fn error(
        &self,
        kind: TransactionErrorKind,
        table: Option<TableId>,
        row: Option<RowId>,
        column: Option<ColumnId>,
        message: String,
    ) -> TransactionError {
        TransactionError {
            kind,
            op: None,
            table: table.map(|t| self.name_of_table(t).to_string()),
            row,
            column: column.map(|c| self.name_of_column(c).to_string()),
            message,
        }
    }

    /// "row 3 (ACC-00003) of `Account_Master`, column `ARR`".
    pub(crate) fn place(
        &self,
        table: TableId,
        row: Option<RowId>,
        column: Option<ColumnId>,
    ) -> String {
        let mut s = match row {
            Some(r) => format!(
                "row {} of `{}`",
                self.describe_row(table, r),
                self.name_of_table(table)
            ),
            None => format!("`{}`", self.name_of_table(table)),
        };
        if let Some(c) = column {
            s.push_str(&format!(", column `{}`,", self.name_of_column(c)));
        }
        s
    }

    /// "3 (ACC-00003)": the row's position and display value.
    pub(crate) fn describe_row(&self, table: TableId, row: RowId) -> String {
        let position = self
            .data
            .row_number(table, row)
            .map_or("new".to_string(), |p| p.to_string());
        let name = self
            .data
            .table(table)
            .display
            .map(|c| self.display(self.data.cell(c, row)))
            .unwrap_or_default();
        if name.is_empty() {
            position
        } else {
            format!("{position} ({name})")
        }
    }
}

impl Workbook {
    /// Restores rows an adapter saved, keeping their ids: a new workbook of
    /// `schema` whose tables hold exactly the rows `feed` gives, one at a
    /// time (from a database cursor, say, so that no table sits in memory
    /// twice). Each table's rows come in ascending id order; ids left out
    /// are deleted rows and are never reused. Relation cells hold rows
    /// ([`Value::Row`], or lists of them) and may point at rows given later.
    /// Every constraint is checked and every formula computed. The ids the
    /// rows are given with come from the [`Restorer`]'s own lookups.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, RowId, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)),
    /// );
    /// let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    /// let wb = Workbook::restore_with(&schema, clock, |r| {
    ///     let t = r.table_id("T")?;
    ///     let a = r.column_id(t, "A")?;
    ///     for i in [1u32, 2, 6] {
    ///         r.row(t, RowId::from_raw(i), vec![(a, Value::from(i))])?;
    ///     }
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// assert_eq!(wb.rows(wb.table_id("T")?)?.len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore_with<E: From<crate::LoadError>>(
        schema: &crate::Schema,
        clock: crate::Clock,
        feed: impl FnOnce(&mut Restorer<'_>) -> Result<(), E>,
    ) -> Result<Workbook, E> {
        let wb = Workbook::new(schema, clock).map_err(|e| E::from(e.into()))?;
        wb.fill_with(feed)
    }

    /// [`Workbook::restore_with`] into a workbook of this one's schema as it
    /// now is: every table and column id of this workbook stays good in the
    /// one returned (a store reading its file again hands out no stale ids).
    /// The clock is this workbook's; the undo limit too. The rows are only
    /// the ones `feed` gives.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, RowId, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)),
    /// );
    /// let wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let (t, a) = (wb.table_id("T")?, wb.column_id(wb.table_id("T")?, "A")?);
    /// let again = wb.reload_with(|r| {
    ///     r.row(t, RowId::from_raw(4), vec![(a, Value::from(7))])?;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// assert_eq!(again.value(a, RowId::from_raw(4))?, &Value::from(7));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload_with<E: From<crate::LoadError>>(
        &self,
        feed: impl FnOnce(&mut Restorer<'_>) -> Result<(), E>,
    ) -> Result<Workbook, E> {
        let mut empty = self.clone();
        empty.data = self.data.emptied();
        // The names' one row is not saved: it is always there.
        empty.data.push_row(self.names, false);
        empty.fill_with(feed)
    }

    fn fill_with<E: From<crate::LoadError>>(
        self,
        feed: impl FnOnce(&mut Restorer<'_>) -> Result<(), E>,
    ) -> Result<Workbook, E> {
        let mut wb = self;
        let mut r = Restorer {
            wb: &mut wb,
            batch: Batch {
                bulk: true,
                ..Batch::default()
            },
            relations: Vec::new(),
            counts: Vec::new(),
        };
        feed(&mut r)?;
        r.finish().map_err(|e| E::from(e.into()))?;
        wb.dirty.clear();
        Ok(wb)
    }
}

/// How far past a table's last id a restored id may lie: a gap is kept as
/// deleted slots, so a damaged id (0, or four billion) must not make one.
const MAX_ID_GAP: usize = 1 << 24;

/// Takes saved rows one at a time for [`Workbook::restore_with`].
pub struct Restorer<'a> {
    wb: &'a mut Workbook,
    batch: Batch,
    relations: Vec<(TableId, RowId, ColumnId, Value)>,
    /// Rows given per table, for error positions.
    counts: Vec<usize>,
}

impl std::fmt::Debug for Restorer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field("relations", &self.relations.len())
            .finish_non_exhaustive()
    }
}

impl Restorer<'_> {
    /// The workbook being filled: its schema, names and ids are final; its
    /// rows are those given so far, and no formula is computed until the end.
    pub fn workbook(&self) -> &Workbook {
        self.wb
    }

    /// The table of this name (see [`Workbook::table_id`]).
    pub fn table_id(&self, name: &str) -> Result<TableId, LookupError> {
        self.wb.table_id(name)
    }

    /// The column of `table` with this name (see [`Workbook::column_id`]).
    pub fn column_id(&self, table: TableId, name: &str) -> Result<ColumnId, LookupError> {
        self.wb.column_id(table, name)
    }

    /// For a relation or people column: the table it points at, and whether
    /// a cell holds a list of rows (see [`Workbook::relation_target`]).
    pub fn relation_target(
        &self,
        column: ColumnId,
    ) -> Result<Option<(TableId, bool)>, LookupError> {
        self.wb.relation_target(column)
    }

    /// Adds a saved row with its id; a table's rows come in ascending id
    /// order. Relation cells hold rows and may point at rows not given yet.
    pub fn row(
        &mut self,
        table: TableId,
        id: RowId,
        values: RowValues,
    ) -> Result<(), TransactionError> {
        let wb = &mut *self.wb;
        wb.data
            .checked_table(table)
            .map_err(|e| wb.lookup_failed(e))?;
        wb.not_names(table)?;
        if self.counts.len() <= table.index() {
            self.counts.resize(table.index() + 1, 0);
        }
        let i = self.counts[table.index()];
        self.counts[table.index()] += 1;
        if id.index() < wb.data.tables[table.index()].slots() {
            let mut e = wb.error(
                TransactionErrorKind::Duplicate,
                Some(table),
                None,
                None,
                format!(
                    "`{}` row id {id} is given twice or out of order; saved rows come in ascending id order",
                    wb.name_of_table(table)
                ),
            );
            e.op = Some(i);
            return Err(e);
        }
        let mut plain = Vec::with_capacity(values.len());
        for (c, v) in values {
            // A column this workbook does not know goes with the insert,
            // which refuses it.
            let is_relation = wb
                .data
                .checked_column(c)
                .is_ok_and(|col| col.target.is_some() && col.table == table);
            if is_relation {
                self.relations.push((table, id, c, v));
                plain.push((c, Value::Blank));
            } else {
                plain.push((c, v));
            }
        }
        wb.apply_op(
            Op::Insert {
                table,
                id: Some(id),
                values: plain,
            },
            &mut self.batch,
        )
        .map_err(|mut e| {
            e.op = Some(i);
            e
        })
    }

    /// Marks every id of `table` below `next` as issued, so that rows deleted
    /// after the last saved row keep their ids from reuse: the table's next
    /// insert gets `next` (or a later id). Call it after the table's rows.
    pub fn reserve(&mut self, table: TableId, next: RowId) -> Result<(), LookupError> {
        self.wb.data.checked_table(table)?;
        let data = &mut self.wb.data;
        let limit = data.tables[table.index()].slots() + MAX_ID_GAP;
        while data.tables[table.index()].slots() < next.index().min(limit) {
            data.push_dead_slot(table);
        }
        Ok(())
    }

    /// Relations once every row exists, then indexes, formulas and constraints.
    fn finish(mut self) -> Result<(), TransactionError> {
        for (table, row, column, value) in std::mem::take(&mut self.relations) {
            self.wb
                .write_data(table, row, column, value, &mut self.batch)?;
        }
        self.batch.bulk = false;
        self.wb.data.rebuild_indexes();
        recalc::full(&mut self.wb.data, &self.wb.graph);
        self.wb.check_constraints(&self.batch)
    }
}

impl Workbook {
    /// Loads rows in bulk: inserts them, resolves relations written as text
    /// (which may name rows of any table of the import, by display column,
    /// even a computed one), checks every constraint, and computes every formula
    /// from scratch. All or nothing; returns the new rows' ids per table.
    ///
    /// A rejected import's [`TransactionError::op`] is the 0-based index of the
    /// row within its table's input.
    pub fn import(
        &mut self,
        tables: Vec<(TableId, Vec<RowValues>)>,
    ) -> Result<Vec<Vec<RowId>>, TransactionError> {
        self.import_all(tables, 1)
            .map_err(|mut errors| errors.swap_remove(0))
    }

    /// [`Workbook::import`], reporting up to `max_errors` problems (at least
    /// one) instead of the first: every row that cannot be stored, each
    /// error's [`TransactionError::op`] the 0-based index of the row within
    /// its table's input, in input order. All or nothing.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T").with_column(ColumnSchema::data("N", ColumnType::Number)),
    /// );
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let t = wb.table_id("T")?;
    /// let n = wb.column_id(t, "N")?;
    /// let rows = vec![vec![(n, Value::from("x"))], vec![(n, Value::from(2))], vec![(n, Value::from("y"))]];
    /// let errors = wb.import_all(vec![(t, rows)], 100).unwrap_err();
    /// assert_eq!(errors.iter().map(|e| e.op).collect::<Vec<_>>(), [Some(0), Some(2)]);
    /// assert!(wb.rows(t)?.is_empty(), "nothing was imported");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_all(
        &mut self,
        tables: Vec<(TableId, Vec<RowValues>)>,
        max_errors: usize,
    ) -> Result<Vec<Vec<RowId>>, Vec<TransactionError>> {
        let tables = tables
            .into_iter()
            .map(|(t, rows)| (t, rows.into_iter().map(|r| (None, r)).collect()))
            .collect();
        self.import_all_with_ids(tables, max_errors)
    }

    /// [`Workbook::import_all`] with rows that may name the id they must get
    /// (rows exported with their ids and imported again): an id the table has
    /// never given, in ascending order within a table (see [`Op::Insert`]).
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, RowId, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T").with_column(ColumnSchema::data("N", ColumnType::Number)),
    /// );
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let t = wb.table_id("T")?;
    /// let n = wb.column_id(t, "N")?;
    /// let rows = vec![(Some(RowId::from_raw(3)), vec![(n, Value::from(1))]), (None, vec![(n, Value::from(2))])];
    /// let ids = wb.import_all_with_ids(vec![(t, rows)], 10).unwrap();
    /// assert_eq!(ids[0], [RowId::from_raw(3), RowId::from_raw(4)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_all_with_ids(
        &mut self,
        tables: Vec<(TableId, RowsWithIds)>,
        max_errors: usize,
    ) -> Result<Vec<Vec<RowId>>, Vec<TransactionError>> {
        let mut batch = Batch::default();
        let mut errors = Vec::new();
        let order: Vec<TableId> = tables.iter().map(|(t, _)| *t).collect();
        let ids = self.import_inner(tables, &mut batch, max_errors.max(1), &mut errors);
        if errors.is_empty() {
            self.dirty.clear();
            // Not undoable: what came before it cannot be undone either.
            self.history.clear();
            self.feed.publish_with(ChangeCause::Import, || ChangeSet {
                inserted: order
                    .iter()
                    .zip(&ids)
                    .flat_map(|(t, rows)| rows.iter().map(move |r| (*t, *r)))
                    .collect(),
                ..ChangeSet::default()
            });
            Ok(ids)
        } else {
            self.rollback(batch);
            self.recalculate_all();
            Err(errors)
        }
    }

    fn import_inner(
        &mut self,
        tables: Vec<(TableId, RowsWithIds)>,
        batch: &mut Batch,
        max: usize,
        errors: &mut Vec<TransactionError>,
    ) -> Vec<Vec<RowId>> {
        batch.bulk = true;
        // Where each inserted row came from: its table's input index.
        let mut origin: FxHashMap<(TableId, RowId), usize> = FxHashMap::default();
        let mut failed: FxHashSet<(TableId, RowId)> = FxHashSet::default();
        let mut deferred: Vec<(usize, TableId, RowId, ColumnId, Value)> = Vec::new();
        let mut ids = Vec::with_capacity(tables.len());
        'tables: for (table, rows) in tables {
            let mut table_ids = Vec::with_capacity(rows.len());
            for (i, (id, values)) in rows.into_iter().enumerate() {
                if errors.len() >= max {
                    break 'tables;
                }
                let mut relations = Vec::new();
                let plain: Vec<(ColumnId, Value)> = values
                    .into_iter()
                    .filter_map(|(c, v)| {
                        let is_text_ref = self
                            .data
                            .columns
                            .get(c.index())
                            .is_some_and(|col| col.target.is_some())
                            && v.elements()
                                .iter()
                                .any(|e| matches!(e, Value::Text(_) | Value::Number(_)));
                        if is_text_ref {
                            relations.push((c, v));
                            None
                        } else {
                            Some((c, v))
                        }
                    })
                    .collect();
                let given: Vec<ColumnId> = relations.iter().map(|(c, _)| *c).collect();
                let defaults_blocked: Vec<(ColumnId, Value)> =
                    given.iter().map(|c| (*c, Value::Blank)).collect();
                let inserted = batch.inserted.len();
                let result = self.apply_op(
                    Op::Insert {
                        table,
                        id,
                        values: plain.into_iter().chain(defaults_blocked).collect(),
                    },
                    batch,
                );
                let Some(&(_, row)) = batch.inserted.get(inserted) else {
                    // Refused before the row existed (an id already given).
                    if let Err(mut e) = result {
                        e.op = Some(i);
                        errors.push(e);
                    }
                    continue;
                };
                origin.insert((table, row), i);
                if let Err(mut e) = result {
                    e.op = Some(i);
                    errors.push(e);
                    failed.insert((table, row));
                    continue;
                }
                table_ids.push(row);
                for (c, v) in relations {
                    deferred.push((i, table, row, c, v));
                }
            }
            ids.push(table_ids);
        }
        batch.bulk = false;
        if errors.len() >= max {
            return ids; // rolled back by the caller; no need to calculate
        }
        self.data.rebuild_indexes();
        recalc::full(&mut self.data, &self.graph);
        // References by display text, now that computed display columns have
        // values: written and recalculated incrementally.
        let mut written = Vec::with_capacity(deferred.len());
        for (i, table, row, column, value) in deferred {
            if errors.len() >= max {
                break;
            }
            if failed.contains(&(table, row)) {
                continue;
            }
            match self.write_data(table, row, column, value, batch) {
                Ok(()) => written.push((column, row)),
                Err(mut e) => {
                    e.op = Some(i);
                    errors.push(e);
                    failed.insert((table, row));
                }
            }
        }
        if !written.is_empty() {
            let none = recalc::Fresh::none();
            let mut p = Propagator {
                data: &self.data,
                graph: &self.graph,
                dirty: &mut self.dirty,
                fresh: &none,
            };
            for (column, row) in written {
                let new = p.data.cell(column, row);
                p.propagate(Node::Column(column), row, Some((&Value::Blank, new)));
            }
            recalc::run(
                &mut self.data,
                &self.graph,
                &mut self.dirty,
                &none,
                &mut Vec::new(),
                None,
            );
        }
        if errors.len() < max {
            for mut e in self.constraint_errors(batch, max - errors.len(), &failed) {
                e.op = e
                    .row
                    .zip(e.table.as_deref().and_then(|t| self.find_table(t)))
                    .and_then(|(r, t)| origin.get(&(t, r)).copied());
                errors.push(e);
            }
        }
        // By table, then in input order.
        errors.sort_by_key(|e| (e.table.as_deref().and_then(|t| self.find_table(t)), e.op));
        ids
    }
}
