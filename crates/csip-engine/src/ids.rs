//! Dense, `Copy` ids. Names are resolved to ids once, at bind time; everything
//! after works on ids.

use std::fmt;

/// A table of a workbook: an index into the workbook's table list.
///
/// Invariant: valid for the workbook that issued it; tables are never removed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub(crate) u32);

/// A column of a workbook, unique across all its tables (hidden index-key
/// columns included): an index into the workbook's column list.
///
/// Invariant: valid for the workbook that issued it; columns are never removed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnId(pub(crate) u32);

/// A row of one table, stable for the row's whole life: edits, other rows'
/// inserts and deletes never change it, and a deleted row's id is never reused.
/// Ids grow in insertion order, so sorting by id sorts by position.
///
/// Its number ([`RowId::get`]) counts from 1 in insertion order; it is what
/// `thisRow.RowId()` gives, what adapters store and transmit, and what IDs
/// such as `ACC-00001` are built on. Inside the engine a row id is the 0-based
/// slot of its cells.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowId(pub(crate) u32);

/// One cell: a column (which names its table) and a row.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CellId {
    /// The column; its table is the cell's table.
    pub column: ColumnId,
    /// The row within that table.
    pub row: RowId,
}

impl TableId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl ColumnId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl RowId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }

    /// The row's number: 1 for a table's first row ever inserted, counting
    /// up in insertion order (what `RowId()` gives in a formula, and what
    /// adapters store and transmit).
    pub fn get(self) -> u32 {
        self.0.saturating_add(1)
    }

    /// A row id from its number, as [`RowId::get`] gives it. 0 is no row:
    /// reading a row that does not exist gives `None`, never a panic.
    pub fn from_raw(number: u32) -> RowId {
        RowId(number.checked_sub(1).unwrap_or(u32::MAX))
    }
}

impl fmt::Debug for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

impl fmt::Debug for ColumnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl fmt::Debug for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.get())
    }
}

impl fmt::Display for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}
