//! The audit log: one entry per data cell a commit wrote (a whole row for an
//! insert or a delete), read by position or by commit.

use crate::{AuditEntry, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Reads a workbook file's audit log on a connection of its own, so that a
/// service answers audit reads without waiting for its writer.
#[derive(Debug)]
pub struct AuditLog {
    conn: crate::sqlite::SideConn,
}

impl AuditLog {
    /// Opens the file's audit log.
    pub fn open(path: &Path) -> Result<AuditLog, StoreError> {
        Ok(AuditLog {
            conn: crate::sqlite::SideConn::open(path)?,
        })
    }

    /// The entries after entry `after` (0 for the start), oldest first, at
    /// most `limit`; only those of `commit` when one is given.
    pub fn entries(
        &self,
        after: i64,
        limit: usize,
        commit: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.conn.with(|c| entries(c, after, limit, commit))
    }
}

pub(crate) fn entries(
    conn: &Connection,
    after: i64,
    limit: usize,
    commit: Option<i64>,
) -> rusqlite::Result<Vec<AuditEntry>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let read = |r: &rusqlite::Row<'_>| {
        Ok(AuditEntry {
            id: r.get(0)?,
            commit: r.get(1)?,
            at: r.get(2)?,
            actor: r.get(3)?,
            table: r.get(4)?,
            row: r.get(5)?,
            column: r.get(6)?,
            old: r.get(7)?,
            new: r.get(8)?,
        })
    };
    const COLUMNS: &str = "id, commit_id, at, actor, table_name, row_id, column_name, old, new";
    match commit {
        None => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM csip_audit WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?
            .query_map(params![after, limit], read)?
            .collect(),
        Some(commit) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM csip_audit WHERE commit_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))?
            .query_map(params![commit, after, limit], read)?
            .collect(),
    }
}

/// The index that finds a commit's entries, created in a file written
/// before it (checked first, so that a reader of a current file writes nothing).
pub(crate) fn add_commit_index(conn: &Connection) -> rusqlite::Result<()> {
    let have: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'csip_audit_by_commit'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if have.is_none() {
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS csip_audit_by_commit ON csip_audit (commit_id, id)",
        )?;
    }
    Ok(())
}
