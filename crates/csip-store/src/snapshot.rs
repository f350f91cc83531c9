//! The workbook's snapshot in the file: the engine's snapshot bytes
//! ([`Workbook::write_snapshot`]) of the workbook as of one commit, so that
//! an open reads them instead of every row and a recalculation.
//!
//! `csip_snapshot (part INTEGER PRIMARY KEY, commit_id INTEGER NOT NULL,
//! bytes BLOB NOT NULL)`: the bytes in parts of 64 MiB (SQLite holds at
//! most 1 GB in one value), all of one commit, written in one transaction
//! that first removes the snapshot before. The table is made by the first
//! save; a file without it has no snapshot. A snapshot whose commit is not
//! the file's last is never read, and stays until the next save replaces
//! it: a commit does not pay to remove hundreds of megabytes.

use csip_engine::{SnapshotError, Workbook};
use rusqlite::{Connection, OptionalExtension, params};

/// Bytes per row of `csip_snapshot`.
const PART: usize = 64 << 20;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS csip_snapshot (part INTEGER PRIMARY KEY, commit_id INTEGER NOT NULL, bytes BLOB NOT NULL)";

/// Why a snapshot could not be saved.
#[derive(Debug)]
pub(crate) enum SaveError {
    Sqlite(rusqlite::Error),
    Engine(SnapshotError),
}

impl From<rusqlite::Error> for SaveError {
    fn from(e: rusqlite::Error) -> SaveError {
        SaveError::Sqlite(e)
    }
}

/// Replaces the file's snapshot with one of `wb` as of `commit`, inside the
/// caller's transaction; returns its size in bytes.
pub(crate) fn save(conn: &Connection, wb: &Workbook, commit: i64) -> Result<u64, SaveError> {
    save_in_parts(conn, wb, commit, PART)
}

fn save_in_parts(
    conn: &Connection,
    wb: &Workbook,
    commit: i64,
    part: usize,
) -> Result<u64, SaveError> {
    conn.execute_batch(TABLE)?;
    conn.execute("DELETE FROM csip_snapshot", [])?;
    let mut parts = Parts {
        conn,
        commit,
        buf: Vec::with_capacity(part),
        size: part,
        part: 0,
        written: 0,
        failed: None,
    };
    let written = wb.write_snapshot(&mut parts);
    if let Some(e) = parts.failed.take() {
        return Err(SaveError::Sqlite(e));
    }
    written.map_err(SaveError::Engine)?;
    parts.flush_part()?;
    Ok(parts.written)
}

/// The snapshot bytes of `commit`, if the file holds them: each part read
/// straight into its place (SQLite's incremental blob reads: no copy of a
/// part in between), all in one read transaction, so that they are of one
/// save even if another process saves meanwhile (no caller holds a
/// transaction on `conn` here). Parts that are not blobs give bytes the
/// engine will refuse.
pub(crate) fn load(conn: &Connection, commit: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    let tx = conn.unchecked_transaction()?;
    if !exists(&tx, commit)? {
        return Ok(None);
    }
    let mut stmt = tx.prepare(
        "SELECT part, length(bytes), typeof(bytes) = 'blob' FROM csip_snapshot WHERE commit_id = ?1 ORDER BY part",
    )?;
    let parts: Vec<(i64, i64, bool)> = stmt
        .query_map(params![commit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let lengths: Option<Vec<usize>> = parts
        .iter()
        .map(|&(_, len, blob)| usize::try_from(len).ok().filter(|_| blob))
        .collect();
    let total = lengths
        .as_ref()
        .and_then(|l| l.iter().try_fold(0usize, |n, len| n.checked_add(*len)));
    let (Some(lengths), Some(total)) = (lengths, total) else {
        return Ok(Some(Vec::new()));
    };
    let mut bytes = vec![0u8; total];
    let mut at = 0;
    for ((part, _, _), len) in parts.into_iter().zip(lengths) {
        let blob = tx.blob_open("main", "csip_snapshot", "bytes", part, true)?;
        blob.read_at_exact(&mut bytes[at..at + len], 0)?;
        at += len;
    }
    Ok(Some(bytes))
}

/// Whether the file holds a snapshot of `commit` (without reading it).
pub(crate) fn exists(conn: &Connection, commit: i64) -> rusqlite::Result<bool> {
    let table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'csip_snapshot'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if table.is_none() {
        return Ok(false);
    }
    Ok(conn
        .query_row(
            "SELECT 1 FROM csip_snapshot WHERE commit_id = ?1 LIMIT 1",
            params![commit],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_some())
}

/// The commit of the snapshot the file holds, if any (stale or not).
pub(crate) fn commit_of(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'csip_snapshot'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if table.is_none() {
        return Ok(None);
    }
    conn.query_row("SELECT max(commit_id) FROM csip_snapshot", [], |r| r.get(0))
}

/// The bytes the engine writes, a row of `csip_snapshot` per [`PART`].
struct Parts<'c> {
    conn: &'c Connection,
    commit: i64,
    buf: Vec<u8>,
    /// Bytes per part.
    size: usize,
    part: i64,
    written: u64,
    /// The SQLite error behind an I/O error handed to the engine.
    failed: Option<rusqlite::Error>,
}

impl Parts<'_> {
    fn flush_part(&mut self) -> rusqlite::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT INTO csip_snapshot (part, commit_id, bytes) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![self.part, self.commit, self.buf])?;
        self.written += self.buf.len() as u64;
        self.part += 1;
        self.buf.clear();
        Ok(())
    }
}

impl std::io::Write for Parts<'_> {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let room = self.size - self.buf.len();
            let (now, later) = data.split_at(room.min(data.len()));
            self.buf.extend_from_slice(now);
            data = later;
            if self.buf.len() == self.size
                && let Err(e) = self.flush_part()
            {
                let io = std::io::Error::other(e.to_string());
                self.failed = Some(e);
                return Err(io);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_in_many_parts_reads_back_whole() {
        let today = csip_workbook::sample_today();
        let wb = csip_workbook::pilot(today).expect("the pilot loads");
        let conn = Connection::open_in_memory().expect("a database");
        let size = save_in_parts(&conn, &wb, 7, 4096).expect("saves");
        let parts: i64 = conn
            .query_row("SELECT count(*) FROM csip_snapshot", [], |r| r.get(0))
            .expect("counts");
        assert_eq!(parts, i64::try_from(size.div_ceil(4096)).expect("a count"));
        assert!(parts > 2);
        assert!(load(&conn, 6).expect("reads").is_none(), "another commit");
        assert_eq!(commit_of(&conn).expect("reads"), Some(7));
        let bytes = load(&conn, 7).expect("reads").expect("the snapshot");
        assert_eq!(bytes.len() as u64, size);
        let read = Workbook::read_snapshot(wb.schema(), wb.clock(), &bytes).expect("reads back");
        assert!(read.differences_from_full_recalc().is_empty());
    }
}
