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

    /// The raw number, for adapters that store or transmit row ids.
    pub fn get(self) -> u32 {
        self.0
    }

    /// A row id from its raw number, as stored by an adapter. Reading a row
    /// that does not exist gives `None`, never a panic.
    pub fn from_raw(raw: u32) -> RowId {
        RowId(raw)
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
        write!(f, "r{}", self.0)
    }
}

impl fmt::Display for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
