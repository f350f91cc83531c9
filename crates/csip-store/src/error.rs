//! The store's errors.

use csip_engine::{LoadError, SnapshotError, TransactionError};
use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite could not do what was asked (the file is unreadable, the disk full, ...).
    #[error("{path}: {source}")]
    Sqlite {
        /// The workbook file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// `create` was asked to overwrite a file.
    #[error("{0} already exists; choose another path or remove it first")]
    Exists(PathBuf),
    /// The file is not a csip workbook, or one of a newer format.
    #[error("{path}: {message}")]
    NotAWorkbook {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The stored schema or rows do not load (a schema file with a mistake,
    /// a saved row that breaks a rule).
    #[error("{path}: {source}")]
    Load {
        /// The workbook file.
        path: PathBuf,
        /// The loader's located error.
        source: Box<LoadError>,
    },
    /// A stored cell cannot be read.
    #[error("{path}: table `{table}`, row id {row}, column `{column}`: {message}")]
    Corrupt {
        /// The workbook file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The row id.
        row: i64,
        /// The column.
        column: String,
        /// What is wrong with the cell.
        message: String,
    },
    /// The transaction breaks a rule of the schema; nothing was written.
    #[error("{0}")]
    Rejected(#[from] TransactionError),
    /// A schema upgrade that would lose data; nothing was changed.
    #[error("{0}")]
    Upgrade(String),
    /// A write of a batch the file refused ([`Store::commit_batch`](crate::Store::commit_batch)):
    /// nothing of the batch was kept; the message says why.
    #[error("{0}")]
    NotWritten(String),
    /// A token or person that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A token revoked before; nothing changed.
    #[error(
        "token {id} is already revoked{}; nothing changed",
        .at.as_deref().map(|a| format!(" (since {a})")).unwrap_or_default()
    )]
    AlreadyRevoked {
        /// The token's id.
        id: i64,
        /// When it was revoked, if known.
        at: Option<String>,
    },
    /// Another process changed the file since the transaction was built; the
    /// store has reloaded it. Build the transaction again.
    #[error(
        "{0}: another process changed the workbook file; it has been reloaded; send the transaction again"
    )]
    Stale(PathBuf),
    /// The engine could not write the workbook's snapshot; the file is as
    /// it was.
    #[error("{path}: {source}")]
    Snapshot {
        /// The workbook file.
        path: PathBuf,
        /// What the engine said.
        source: Box<SnapshotError>,
    },
}

/// A load error without its file, for [`Workbook::restore_with`](csip_engine::Workbook::restore_with); the
/// store fills in the path.
impl From<LoadError> for StoreError {
    fn from(e: LoadError) -> StoreError {
        StoreError::Load {
            path: PathBuf::new(),
            source: Box::new(e),
        }
    }
}

/// Why an import was refused; nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Rows that break the schema's rules, in input order.
    #[error("{} rows cannot be imported", .0.len())]
    Rejected(Vec<TransactionError>),
    /// The file could not be written.
    #[error("{0}")]
    Store(StoreError),
}
