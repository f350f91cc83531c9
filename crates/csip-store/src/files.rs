//! The file area (a room of the store): files a write produces — a report
//! that a button generated — kept in the workbook's file, in the same
//! SQLite transaction as the write that lists them on a row
//! ([`Store::commit_with_files`]), so that a row never links a file that is
//! not there. A file is named by the SHA-256 of its bytes ([`file_id`]),
//! which the caller knows before the commit: the link goes in the same
//! transaction, and the same bytes stored twice are one file.
//!
//! [`Store::commit_with_files`]: crate::Store::commit_with_files

use crate::StoreError;
use csip_engine::{NaiveDateTime, RowId};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::path::Path;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS csip_files (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    table_name TEXT NOT NULL,
    row_id INTEGER NOT NULL,
    commit_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS csip_files_row ON csip_files (table_name, row_id);";

/// Creates the file area's table in a file that has none (checked first, so
/// that a reader of a current file writes nothing).
pub(crate) fn add_table(conn: &Connection) -> rusqlite::Result<()> {
    let have: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'csip_files'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if have.is_none() {
        conn.execute_batch(TABLE)?;
    }
    Ok(())
}

/// A file's id: the first 32 hex digits of the SHA-256 of its bytes.
///
/// ```
/// assert_eq!(csip_store::file_id(b"").len(), 32);
/// assert_ne!(csip_store::file_id(b"a"), csip_store::file_id(b"b"));
/// ```
pub fn file_id(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file to keep with a commit: what it is and the row it belongs to.
#[derive(Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Its name, as a download offers it (`QBR Gard AS 2026-Q4.pptx`).
    pub name: String,
    /// Its media type (`application/pdf`).
    pub media_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The table of the row it belongs to (who may read the row may read it).
    pub table: String,
    /// The row.
    pub row: RowId,
}

impl NewFile {
    /// Its id ([`file_id`] of its bytes).
    pub fn id(&self) -> String {
        file_id(&self.bytes)
    }

    /// Where the service serves it: `/api/v1/files/{id}/{name}` (the name
    /// percent-encoded where it must be) — what a row's attachment cell holds.
    pub fn link(&self) -> String {
        link(&self.id(), &self.name)
    }
}

impl std::fmt::Debug for NewFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewFile")
            .field("name", &self.name)
            .field("media_type", &self.media_type)
            .field("size", &self.bytes.len())
            .field("table", &self.table)
            .field("row", &self.row)
            .finish()
    }
}

/// The link of a file: `/api/v1/files/{id}/{name}`, the name's characters
/// outside letters, digits and `-._~` percent-encoded.
pub fn link(id: &str, name: &str) -> String {
    let mut out = format!("/api/v1/files/{id}/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Stores `files` inside the SQLite transaction of commit `commit`; a file
/// already there (the same bytes) is kept as it was.
pub(crate) fn store(
    tx: &rusqlite::Transaction<'_>,
    commit: i64,
    actor: &str,
    at: NaiveDateTime,
    files: &[NewFile],
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO csip_files
             (id, name, media_type, size, bytes, table_name, row_id, commit_id, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let at = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    for f in files {
        insert.execute(params![
            f.id(),
            f.name,
            f.media_type,
            i64::try_from(f.bytes.len()).unwrap_or(i64::MAX),
            f.bytes,
            f.table,
            i64::from(f.row.get()),
            commit,
            at,
            actor
        ])?;
    }
    Ok(())
}

/// What the file area says of one file (its bytes apart).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StoredFile {
    /// Its id ([`file_id`]).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The table of the row it belongs to.
    pub table: String,
    /// The row.
    pub row: u64,
    /// When it was stored (UTC, ISO 8601).
    pub created_at: String,
    /// Who stored it (the commit's actor).
    pub created_by: String,
}

/// The file area of a workbook file, on a connection of its own (a reader
/// beside the store: downloads, the outbox's e-mail attachments).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("w.db");
/// # let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
/// let mut store = csip_store::Store::create(&path, csip_workbook::table_files(), wb.clone())?;
/// let accounts = wb.table_id("Account_Master")?;
/// let gard = wb.find_rows(accounts, "Gard AS")?[0];
/// let file = csip_store::NewFile {
///     name: "report.pdf".into(),
///     media_type: "application/pdf".into(),
///     bytes: b"%PDF-1.7".to_vec(),
///     table: "Account_Master".into(),
///     row: gard,
/// };
/// let attachments = wb.column_id(accounts, "Attachments")?;
/// let tx = csip_engine::Transaction::new().set(attachments, gard, file.link());
/// let at = csip_engine::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(9, 0, 0).unwrap();
/// store.commit_with_files(tx, "kari@example.com", at, vec![file.clone()], |_, _| Vec::new())?;
/// let files = csip_store::Files::open(&path)?;
/// let (info, bytes) = files.get(&file.id())?.expect("stored");
/// assert_eq!((info.name.as_str(), bytes.as_slice()), ("report.pdf", &b"%PDF-1.7"[..]));
/// assert_eq!(files.of_row("Account_Master", gard)?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Files {
    conn: crate::sqlite::SideConn,
}

const COLUMNS: &str = "id, name, media_type, size, table_name, row_id, created_at, created_by";

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFile> {
    Ok(StoredFile {
        id: r.get(0)?,
        name: r.get(1)?,
        media_type: r.get(2)?,
        size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
        table: r.get(4)?,
        row: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
        created_at: r.get(6)?,
        created_by: r.get(7)?,
    })
}

impl Files {
    /// Opens the file area of the workbook file `path`.
    ///
    /// # Errors
    ///
    /// The file is not a workbook file, or SQLite cannot open it.
    pub fn open(path: &Path) -> Result<Files, StoreError> {
        Ok(Files {
            conn: crate::sqlite::SideConn::open(path)?,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        self.conn.with(f)
    }

    /// A file and its bytes by its id; `None` when there is none.
    ///
    /// # Errors
    ///
    /// SQLite could not read the file.
    pub fn get(&self, id: &str) -> Result<Option<(StoredFile, Vec<u8>)>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS}, bytes FROM csip_files WHERE id = ?1"),
                [id],
                |r| Ok((stored(r)?, r.get::<_, Vec<u8>>(8)?)),
            )
            .optional()
        })
    }

    /// The files of one row, oldest first.
    ///
    /// # Errors
    ///
    /// SQLite could not read the file.
    pub fn of_row(&self, table: &str, row: RowId) -> Result<Vec<StoredFile>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM csip_files WHERE table_name = ?1 AND row_id = ?2 ORDER BY created_at, id"
            ))?;
            stmt.query_map(params![table, i64::from(row.get())], stored)?
                .collect()
        })
    }
}
