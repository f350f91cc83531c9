//! Cell storage: columns of values indexed by row id, live rows in order,
//! and the indexes kept up to date on every write.

use crate::expr::Expr;
use crate::ids::{ColumnId, LookupError, RowId, TableId, stamp_fits};
use crate::index::{ColumnIndex, IndexId, IndexMode};
use crate::maintain::{Maintained, Tally};
use crate::schema::ColumnSchema;
use crate::store::Store;
use crate::value::Value;
use chrono::{NaiveDate, NaiveDateTime};
use std::sync::Arc;

/// The time a workbook sees: what `Today()` and `Now()` return. The host passes
/// it in and advances it; the engine never reads a clock of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// What `Today()` returns.
    pub today: NaiveDate,
    /// What `Now()` returns (UTC).
    pub now: NaiveDateTime,
}

impl Clock {
    /// A clock at midnight (UTC) of `today`.
    pub fn on(today: NaiveDate) -> Clock {
        Clock {
            today,
            now: crate::value::midnight(today),
        }
    }

    /// A clock at `now`; `Today()` is its date.
    pub fn at(now: NaiveDateTime) -> Clock {
        Clock {
            today: now.date(),
            now,
        }
    }
}

/// The name of the table that holds the workbook's names (never a key of
/// a name lookup: only shown, in change sets and problems).
pub(crate) const NAMES_TABLE: &str = "(names)";

/// The one row of the names table.
pub(crate) const NAMES_ROW: RowId = RowId(0);

/// A table: what it is (shared by every snapshot until the schema changes)
/// and its rows (shared copy-on-write: a clone of the table copies nothing
/// until it inserts or deletes a row). Reads of the meta go through `Deref`,
/// writes through `DerefMut`, which copies the meta if a snapshot shares it.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    meta: Arc<TableMeta>,
    /// Live rows by position; ids grow with insertion, so in id order.
    order: Arc<Vec<RowId>>,
    /// A bit per row slot: set while the row lives.
    live: Arc<Vec<u64>>,
    /// Row slots, dead ones included: the next row's id.
    slots: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct TableMeta {
    /// The table's own id, stamped by the build that made it.
    pub(crate) id: TableId,
    pub(crate) name: String,
    /// The user's columns, in schema order.
    pub(crate) columns: Vec<ColumnId>,
    /// The column that names a row (the first, unless the schema says otherwise).
    pub(crate) display: Option<ColumnId>,
    /// Index-key columns the engine added.
    pub(crate) hidden: Vec<ColumnId>,
}

impl std::ops::Deref for Table {
    type Target = TableMeta;
    fn deref(&self) -> &TableMeta {
        &self.meta
    }
}

impl std::ops::DerefMut for Table {
    fn deref_mut(&mut self) -> &mut TableMeta {
        Arc::make_mut(&mut self.meta)
    }
}

impl Table {
    pub(crate) fn new(id: TableId, name: String) -> Table {
        Table {
            meta: Arc::new(TableMeta {
                id,
                name,
                columns: Vec::new(),
                display: None,
                hidden: Vec::new(),
            }),
            order: Arc::default(),
            live: Arc::default(),
            slots: 0,
        }
    }

    pub(crate) fn is_live(&self, row: RowId) -> bool {
        let i = row.index();
        self.live
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    fn set_live(&mut self, row: RowId, live: bool) {
        let i = row.index();
        let words = Arc::make_mut(&mut self.live);
        if words.len() <= i / 64 {
            words.resize(i / 64 + 1, 0);
        }
        if live {
            words[i / 64] |= 1 << (i % 64);
        } else {
            words[i / 64] &= !(1 << (i % 64));
        }
    }

    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    /// Live rows by position.
    pub(crate) fn order(&self) -> &[RowId] {
        &self.order
    }

    /// The liveness bit set, a bit per slot (it may stop before the last
    /// slots, which are then dead); for a snapshot to write.
    pub(crate) fn live_words(&self) -> &[u64] {
        &self.live
    }

    /// Sets the rows from a snapshot's liveness bit set (bits past `slots`
    /// clear; the caller checks): the live rows, in id order, are the order.
    pub(crate) fn restore_rows(&mut self, live: Vec<u64>, slots: usize) {
        let mut order = Vec::with_capacity(live.iter().map(|w| w.count_ones() as usize).sum());
        for (i, word) in live.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                order.push(RowId(u32::try_from(i * 64 + bit).unwrap_or(u32::MAX)));
                bits &= bits - 1;
            }
        }
        self.order = Arc::new(order);
        self.live = Arc::new(live);
        self.slots = slots;
    }

    /// Takes over another table's rows (a schema change's rebuild).
    pub(crate) fn take_rows(&mut self, other: &Table) {
        self.order = other.order.clone();
        self.live = other.live.clone();
        self.slots = other.slots;
    }

    /// The 0-based position of a live row.
    pub(crate) fn position_of(&self, row: RowId) -> Option<usize> {
        if !self.is_live(row) {
            return None;
        }
        self.order.binary_search(&row).ok()
    }

    pub(crate) fn all_columns(&self) -> impl Iterator<Item = ColumnId> + '_ {
        self.columns.iter().chain(self.hidden.iter()).copied()
    }
}

/// The kept views and tallies (by their place in [`Data`]'s lists) that
/// a change of one row moves.
struct Followers {
    views: Vec<usize>,
    tallies: Vec<usize>,
}

/// What a column computes, if anything.
#[derive(Clone, Debug)]
pub(crate) enum ColumnKind {
    /// Written by transactions.
    Data,
    /// Computed by a formula of the schema.
    Formula(Arc<Formula>),
    /// Computed by a formula the engine derived (an index key); not in change sets.
    Hidden(Arc<Formula>),
    /// Removed by a schema change (or a hidden column no longer needed): its
    /// id is never given again, and nothing reads or writes it.
    Removed,
}

#[derive(Clone, Debug)]
pub(crate) struct Formula {
    pub(crate) expr: Expr,
    /// Recalculation order; lower first.
    pub(crate) rank: u32,
    /// Part of a dependency cycle: its cells hold the `cycle` error.
    pub(crate) cyclic: bool,
}

/// A column: what it is (shared by every snapshot until the schema changes;
/// read through `Deref`, written through `DerefMut`, which copies it if a
/// snapshot shares it) and its cells (shared copy-on-write by chunk).
#[derive(Clone, Debug)]
pub(crate) struct Column {
    meta: Arc<ColumnMeta>,
    /// One value per row slot (dead slots hold Blank).
    pub(crate) values: Store,
}

#[derive(Clone, Debug)]
pub(crate) struct ColumnMeta {
    /// The column's own id, stamped by the build that made it.
    pub(crate) id: ColumnId,
    pub(crate) table: TableId,
    pub(crate) name: String,
    pub(crate) schema: ColumnSchema,
    /// For a relation or people column: the target table and whether it holds a list.
    pub(crate) target: Option<(TableId, bool)>,
    /// The table whose rows this column's values are (relations, and formulas
    /// the binder found to give rows), if any.
    pub(crate) row_table: Option<TableId>,
    pub(crate) kind: ColumnKind,
}

impl std::ops::Deref for Column {
    type Target = ColumnMeta;
    fn deref(&self) -> &ColumnMeta {
        &self.meta
    }
}

impl std::ops::DerefMut for Column {
    fn deref_mut(&mut self) -> &mut ColumnMeta {
        Arc::make_mut(&mut self.meta)
    }
}

impl Column {
    pub(crate) fn new(meta: ColumnMeta, values: Store) -> Column {
        Column {
            meta: Arc::new(meta),
            values,
        }
    }

    pub(crate) fn formula(&self) -> Option<&Arc<Formula>> {
        match &self.kind {
            ColumnKind::Data | ColumnKind::Removed => None,
            ColumnKind::Formula(f) | ColumnKind::Hidden(f) => Some(f),
        }
    }

    /// Whether a cell holds a list (multi-select, multi-relation).
    pub(crate) fn is_multi_valued(&self) -> bool {
        matches!(self.schema.ty, crate::schema::ColumnType::MultiSelect(_))
            || self.target.is_some_and(|(_, m)| m)
    }

    pub(crate) fn is_hidden(&self) -> bool {
        matches!(self.kind, ColumnKind::Hidden(_))
    }

    pub(crate) fn is_removed(&self) -> bool {
        matches!(self.kind, ColumnKind::Removed)
    }
}

/// All cells, rows and indexes of a workbook. Evaluation reads it; only
/// [`Data::write`] and the row operations change it, keeping indexes in step.
#[derive(Clone, Debug)]
pub(crate) struct Data {
    pub(crate) tables: Vec<Table>,
    pub(crate) columns: Vec<Column>,
    pub(crate) indexes: Vec<ColumnIndex>,
    /// For each column, the indexes over it.
    pub(crate) indexes_on: Arc<Vec<Vec<IndexId>>>,
    pub(crate) clock: Clock,
    /// The views kept in order (`maintain.rs`), moved with every write of
    /// a cell they are kept by.
    pub(crate) maintained: Vec<Arc<Maintained>>,
    /// The tiles' aggregates kept from deltas (`maintain.rs`), moved with
    /// every write of the column they add up.
    pub(crate) tallies: Vec<Arc<Tally>>,
}

impl Data {
    pub(crate) fn table(&self, t: TableId) -> &Table {
        &self.tables[t.index()]
    }

    pub(crate) fn column(&self, c: ColumnId) -> &Column {
        &self.columns[c.index()]
    }

    /// The table an id from outside names: refused when this workbook never
    /// issued it (another workbook's, or one whose adding was undone).
    pub(crate) fn checked_table(&self, t: TableId) -> Result<&Table, LookupError> {
        match self.tables.get(t.index()) {
            Some(table) if stamp_fits(t.1, table.id.1) => Ok(table),
            _ => Err(LookupError::ForeignTable { id: t }),
        }
    }

    /// The column an id from outside names: one of a table's own columns,
    /// not removed (the engine's hidden key columns are not the caller's).
    pub(crate) fn checked_column(&self, c: ColumnId) -> Result<&Column, LookupError> {
        match self.columns.get(c.index()) {
            Some(column) if column.is_removed() && stamp_fits(c.1, column.id.1) => {
                Err(LookupError::RemovedColumn {
                    id: c,
                    name: column.name.clone(),
                })
            }
            Some(column) if !column.is_hidden() && stamp_fits(c.1, column.id.1) => Ok(column),
            _ => Err(LookupError::ForeignColumn { id: c }),
        }
    }

    /// That a live row of `t` has this id.
    pub(crate) fn checked_row(&self, t: TableId, r: RowId) -> Result<(), LookupError> {
        let table = self.checked_table(t)?;
        if table.is_live(r) {
            Ok(())
        } else {
            Err(LookupError::NoRow {
                table: table.name.clone(),
                row: r,
            })
        }
    }

    /// The value of a cell; Blank for a row that does not exist.
    pub(crate) fn cell(&self, c: ColumnId, r: RowId) -> &Value {
        self.columns[c.index()].values.get(r.index())
    }

    pub(crate) fn is_live(&self, t: TableId, r: RowId) -> bool {
        self.tables[t.index()].is_live(r)
    }

    pub(crate) fn index(&self, i: IndexId) -> &ColumnIndex {
        &self.indexes[i.0 as usize]
    }

    /// The index of this column in this mode, creating (and filling) it if needed.
    pub(crate) fn ensure_index(&mut self, column: ColumnId, mode: IndexMode) -> IndexId {
        if let Some(i) = self.indexes_on[column.index()]
            .iter()
            .find(|i| self.indexes[i.0 as usize].mode == mode)
        {
            return *i;
        }
        let id = IndexId(u32::try_from(self.indexes.len()).unwrap_or(u32::MAX));
        let mut ix = ColumnIndex::new(mode);
        let col = &self.columns[column.index()];
        ix.rebuild(
            self.tables[col.table.index()]
                .order()
                .iter()
                .map(|r| (*r, col.values.get(r.index()))),
        );
        self.indexes.push(ix);
        Arc::make_mut(&mut self.indexes_on)[column.index()].push(id);
        id
    }

    /// Takes over an index built elsewhere (by the workbook a schema change
    /// replaces) for a column whose cells it indexes as they are.
    pub(crate) fn adopt_index(&mut self, column: ColumnId, index: ColumnIndex) -> IndexId {
        let id = IndexId(u32::try_from(self.indexes.len()).unwrap_or(u32::MAX));
        self.indexes.push(index);
        Arc::make_mut(&mut self.indexes_on)[column.index()].push(id);
        id
    }

    pub(crate) fn find_index(&self, column: ColumnId, mode: IndexMode) -> Option<IndexId> {
        self.indexes_on[column.index()]
            .iter()
            .copied()
            .find(|i| self.indexes[i.0 as usize].mode == mode)
    }

    /// Stores a value in a live row's cell, keeping the column's indexes in
    /// step (and the views kept in order and the tallies that follow it);
    /// returns the old value.
    pub(crate) fn write(&mut self, c: ColumnId, r: RowId, value: Value) -> Value {
        let followers = self.followers(self.columns[c.index()].table, Some(c));
        self.follow(&followers, r, false);
        let old = self.columns[c.index()].values.set(r.index(), value);
        for &i in &self.indexes_on[c.index()] {
            let ix = &mut self.indexes[i.0 as usize];
            ix.remove(r, &old);
            ix.insert(r, self.columns[c.index()].values.get(r.index()));
        }
        self.follow(&followers, r, true);
        old
    }

    /// The kept views and tallies of `table` (up to date) that a write of
    /// `column` moves; of a row inserted or deleted (`None`), all of them.
    fn followers(&self, table: TableId, column: Option<ColumnId>) -> Followers {
        let views = self.maintained.iter().enumerate().filter(|(_, m)| {
            m.table == table && !m.stale && column.is_none_or(|c| m.keys.watches(c))
        });
        let tallies =
            self.tallies.iter().enumerate().filter(|(_, t)| {
                t.table == table && !t.stale && column.is_none_or(|c| t.column == c)
            });
        Followers {
            views: views.map(|(i, _)| i).collect(),
            tallies: tallies.map(|(i, _)| i).collect(),
        }
    }

    /// Takes a row out of its place in the kept views and its value out of
    /// the tallies (before its cells change), or puts them in (after).
    fn follow(&mut self, followers: &Followers, r: RowId, add: bool) {
        if !followers.views.is_empty() {
            let mut all = std::mem::take(&mut self.maintained);
            for &i in &followers.views {
                let m = Arc::make_mut(&mut all[i]);
                if add {
                    m.insert(self, r);
                } else {
                    m.remove(self, r);
                }
            }
            self.maintained = all;
        }
        if !followers.tallies.is_empty() {
            let mut all = std::mem::take(&mut self.tallies);
            for &i in &followers.tallies {
                Arc::make_mut(&mut all[i]).follow(self, r, add);
            }
            self.tallies = all;
        }
    }

    /// Puts in order again the maintained views that bulk writes left
    /// behind (see [`Data::reindex_column`]).
    pub(crate) fn refresh_maintained(&mut self) {
        let mut all = std::mem::take(&mut self.maintained);
        for m in &mut all {
            if m.stale {
                Arc::make_mut(m).rebuild(self);
            }
        }
        self.maintained = all;
        let mut all = std::mem::take(&mut self.tallies);
        for t in &mut all {
            if t.stale {
                Arc::make_mut(t).rebuild(self);
            }
        }
        self.tallies = all;
    }

    /// Rebuilds a column's indexes from its values (after a full
    /// recalculation); the maintained views it keys are marked stale, for
    /// [`Data::refresh_maintained`].
    pub(crate) fn reindex_column(&mut self, c: ColumnId) {
        let table = self.columns[c.index()].table;
        let followers = self.followers(table, Some(c));
        for i in followers.views {
            Arc::make_mut(&mut self.maintained[i]).stale = true;
        }
        for i in followers.tallies {
            Arc::make_mut(&mut self.tallies[i]).stale = true;
        }
        let table = self.columns[c.index()].table;
        let values = &self.columns[c.index()].values;
        let order = self.tables[table.index()].order();
        for &i in &self.indexes_on[c.index()] {
            self.indexes[i.0 as usize].rebuild(order.iter().map(|r| (*r, values.get(r.index()))));
        }
    }

    /// Appends a live row with every cell Blank; returns its id. With
    /// `indexed` false the indexes are left for [`Data::rebuild_indexes`] (bulk loads).
    pub(crate) fn push_row(&mut self, t: TableId, indexed: bool) -> RowId {
        let table = &mut self.tables[t.index()];
        let row = RowId(u32::try_from(table.slots).unwrap_or(u32::MAX));
        table.slots += 1;
        table.set_live(row, true);
        Arc::make_mut(&mut table.order).push(row);
        let cols: Vec<ColumnId> = table.all_columns().collect();
        for c in cols {
            self.columns[c.index()].values.push(Value::Blank);
            if indexed {
                for &i in &self.indexes_on[c.index()] {
                    self.indexes[i.0 as usize].insert(row, &Value::Blank);
                }
            }
        }
        if indexed {
            let followers = self.followers(t, None);
            self.follow(&followers, row, true);
        }
        row
    }

    /// Appends a dead row slot (a deleted row's id, restored): every cell
    /// Blank, in no order and no index.
    pub(crate) fn push_dead_slot(&mut self, t: TableId) {
        let table = &mut self.tables[t.index()];
        table.slots += 1;
        let cols: Vec<ColumnId> = table.all_columns().collect();
        for c in cols {
            self.columns[c.index()].values.push(Value::Blank);
        }
    }

    /// Stores a value without touching the indexes (bulk loads, which rebuild them after).
    pub(crate) fn write_unindexed(&mut self, c: ColumnId, r: RowId, value: Value) -> Value {
        self.columns[c.index()].values.set(r.index(), value)
    }

    /// The same tables, columns and indexes (every id the same) with no rows.
    pub(crate) fn emptied(&self) -> Data {
        Data {
            tables: self
                .tables
                .iter()
                .map(|t| Table {
                    meta: t.meta.clone(),
                    order: Arc::default(),
                    live: Arc::default(),
                    slots: 0,
                })
                .collect(),
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    meta: c.meta.clone(),
                    values: Store::blank(0),
                })
                .collect(),
            indexes: self
                .indexes
                .iter()
                .map(|i| ColumnIndex::new(i.mode))
                .collect(),
            indexes_on: self.indexes_on.clone(),
            clock: self.clock,
            maintained: Vec::new(),
            tallies: Vec::new(),
        }
    }

    /// Rebuilds every index from the cells (the maintained views are
    /// marked stale, for [`Data::refresh_maintained`]).
    pub(crate) fn rebuild_indexes(&mut self) {
        for m in &mut self.maintained {
            Arc::make_mut(m).stale = true;
        }
        for t in &mut self.tallies {
            Arc::make_mut(t).stale = true;
        }
        for c in 0..self.columns.len() {
            if !self.indexes_on[c].is_empty() {
                self.reindex_column(self.columns[c].id);
            }
        }
    }

    /// Removes a live row from the order and from every index; its cells are
    /// returned (in `all_columns` order) and its slot left Blank and dead.
    pub(crate) fn kill_row(&mut self, t: TableId, r: RowId) -> Vec<Value> {
        let followers = self.followers(t, None);
        self.follow(&followers, r, false);
        let cols: Vec<ColumnId> = self.tables[t.index()].all_columns().collect();
        let mut cells = Vec::with_capacity(cols.len());
        for c in cols {
            let old = self.columns[c.index()].values.set(r.index(), Value::Blank);
            for &i in &self.indexes_on[c.index()] {
                self.indexes[i.0 as usize].remove(r, &old);
            }
            cells.push(old);
        }
        let table = &mut self.tables[t.index()];
        if let Some(pos) = table.position_of(r) {
            Arc::make_mut(&mut table.order).remove(pos);
        }
        table.set_live(r, false);
        cells
    }

    /// Undoes [`Data::kill_row`]: the row comes back, in its place by id, with
    /// its cells (in `all_columns` order).
    pub(crate) fn revive_row(&mut self, t: TableId, r: RowId, cells: Vec<Value>) {
        let table = &mut self.tables[t.index()];
        let order = Arc::make_mut(&mut table.order);
        if let Err(pos) = order.binary_search(&r) {
            order.insert(pos, r);
        }
        table.set_live(r, true);
        let cols: Vec<ColumnId> = table.all_columns().collect();
        for (c, v) in cols.into_iter().zip(cells) {
            for &i in &self.indexes_on[c.index()] {
                self.indexes[i.0 as usize].insert(r, &v);
            }
            self.columns[c.index()].values.set(r.index(), v);
        }
        let followers = self.followers(t, None);
        self.follow(&followers, r, true);
    }

    /// Undoes [`Data::push_row`] of the last slot, and the dead slots pushed
    /// before it: the table is left with `slots` slots.
    pub(crate) fn pop_row(&mut self, t: TableId, r: RowId, slots: usize) {
        self.kill_row(t, r);
        let cols: Vec<ColumnId> = self.tables[t.index()].all_columns().collect();
        while self.tables[t.index()].slots > slots {
            self.tables[t.index()].slots -= 1;
            for &c in &cols {
                self.columns[c.index()].values.pop();
            }
        }
    }

    /// The 1-based position of a live row.
    pub(crate) fn row_number(&self, t: TableId, r: RowId) -> Option<u32> {
        self.tables[t.index()]
            .position_of(r)
            .map(|p| u32::try_from(p + 1).unwrap_or(u32::MAX))
    }
}
