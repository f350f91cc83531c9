//! Dense, `Copy` ids. Names are resolved to ids once, at bind time; everything
//! after works on ids.
//!
//! A table or column id is its index in the workbook plus a *stamp*: the
//! mark of the build that made it (a workbook's first build, or the schema
//! change that added it). The workbook checks the stamp wherever an id comes
//! in from outside, so an id of another workbook, or of a column whose adding
//! was undone, is a [`LookupError`], never a read of whatever column now sits
//! at that index. Ids compare, hash and order by index alone; the stamp is a
//! check, not part of what the id names. An id read from JSON carries no
//! stamp (it is portable between workbooks of one schema, as a replica needs)
//! and is checked for range and removal only.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};

/// A table of a workbook: its index in the workbook's table list, and the
/// stamp of the build that made it. The workbook checks the stamp wherever
/// an id comes in, so an id of another workbook is a [`LookupError`], never
/// a read of whatever table sits at that index there. Ids compare, hash and
/// order by index alone. An id read from JSON carries no stamp: it is
/// portable between workbooks of one schema and checked for range only.
///
/// Tables are never removed, but a table whose adding is undone no longer
/// exists, and its id is then refused.
#[derive(Clone, Copy)]
pub struct TableId(pub(crate) u32, pub(crate) Stamp);

/// A column of a workbook, unique across all its tables (hidden index-key
/// columns included): its index in the workbook's column list, and the stamp
/// of the build that made it.
///
/// A removed column keeps its index (nothing else ever gets it), so its id is
/// refused as removed rather than read as another column.
#[derive(Clone, Copy)]
pub struct ColumnId(pub(crate) u32, pub(crate) Stamp);

/// Which build made an id: unique in the process, 0 for an id read from JSON.
pub(crate) type Stamp = u32;

/// A stamp no build has used before in this process (never 0).
pub(crate) fn fresh_stamp() -> Stamp {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    loop {
        let s = NEXT.fetch_add(1, Ordering::Relaxed);
        if s != 0 {
            return s;
        }
    }
}

/// Whether an id's stamp fits the one its index holds now (0 fits any).
pub(crate) fn stamp_fits(given: Stamp, held: Stamp) -> bool {
    given == 0 || given == held
}

macro_rules! by_index {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }
        impl Eq for $t {}
        impl Hash for $t {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $t {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.cmp(&other.0)
            }
        }
    };
}
by_index!(TableId);
by_index!(ColumnId);

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
    /// The id of table `index`, made by the build stamped `stamp`.
    pub(crate) fn new(index: usize, stamp: Stamp) -> TableId {
        TableId(u32::try_from(index).unwrap_or(u32::MAX), stamp)
    }

    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl ColumnId {
    /// The id of column `index`, made by the build stamped `stamp`.
    pub(crate) fn new(index: usize, stamp: Stamp) -> ColumnId {
        ColumnId(u32::try_from(index).unwrap_or(u32::MAX), stamp)
    }

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

/// A name or an id this workbook does not know, said so that a person can
/// act on it: a misspelt name gets the closest one, a row says whether its
/// number is an id or a position.
///
/// ```
/// # use csip_engine::{Clock, ColumnSchema, ColumnType, LookupError, Schema, TableSchema, Workbook};
/// let schema = Schema::new().with_table(
///     TableSchema::new("Deals").with_column(ColumnSchema::data("Amount", ColumnType::Number)),
/// );
/// let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
/// let wb = Workbook::new(&schema, clock)?;
/// let err = wb.table_id("Deal").unwrap_err();
/// assert_eq!(err.to_string(), "there is no table `Deal`; did you mean `Deals`?");
///
/// // An id of another workbook is refused, not read as this one's.
/// let other = Workbook::new(&schema, clock)?;
/// let theirs = other.table_id("Deals")?;
/// assert!(matches!(wb.rows(theirs), Err(LookupError::ForeignTable { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No table has that name (names are matched without regard to case).
    #[error("there is no table `{name}`{}", hint_text(hint))]
    UnknownTable {
        /// The name asked for.
        name: String,
        /// The closest table name, if one is close.
        hint: Option<String>,
    },
    /// The table has no column of that name.
    #[error("table `{table}` has no column `{name}`{}", hint_text(hint))]
    UnknownColumn {
        /// The table's name.
        table: String,
        /// The name asked for.
        name: String,
        /// The closest column name, if one is close.
        hint: Option<String>,
    },
    /// The workbook has no named value or formula of that name.
    #[error("there is no name `{name}` in this workbook{}", hint_text(hint))]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The closest name, if one is close.
        hint: Option<String>,
    },
    /// A column id that is one of the workbook's names where a table's
    /// column was asked for, or the other way round.
    #[error("column id {id:?} {}", if *is_name { "is one of the workbook's names, not a column of a table" } else { "is a column of a table, not one of the workbook's names" })]
    NotAName {
        /// The id.
        id: ColumnId,
        /// Whether it is a name.
        is_name: bool,
    },
    /// A table id this workbook did not issue, or whose adding was undone.
    #[error(
        "table id {id:?} is not a table of this workbook: it comes from another workbook, or from a schema change that was undone; look the table up by name"
    )]
    ForeignTable {
        /// The id.
        id: TableId,
    },
    /// A column id this workbook did not issue, or whose adding was undone.
    #[error(
        "column id {id:?} is not a column of this workbook: it comes from another workbook, or from a schema change that was undone; look the column up by name"
    )]
    ForeignColumn {
        /// The id.
        id: ColumnId,
    },
    /// A column a schema change removed.
    #[error("column `{name}` ({id:?}) was removed by a schema change")]
    RemovedColumn {
        /// The id.
        id: ColumnId,
        /// The name it had.
        name: String,
    },
    /// No live row has that id.
    #[error("table `{table}` has no row with id {row} (it was deleted, or never inserted)")]
    NoRow {
        /// The table's name.
        table: String,
        /// The row id.
        row: RowId,
    },
    /// No row is at that position.
    #[error(
        "table `{table}` has {rows} rows; there is no row at position {position} (positions count from 1)"
    )]
    NoPosition {
        /// The table's name.
        table: String,
        /// The position asked for.
        position: usize,
        /// How many rows the table has.
        rows: usize,
    },
}

fn hint_text(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|h| format!("; did you mean `{h}`?"))
        .unwrap_or_default()
}
