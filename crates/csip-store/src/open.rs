//! Opening a workbook file: its snapshot if the engine takes it, else its
//! rows and a recalculation, with progress another thread can read; and
//! reading it again when another process has committed.

use crate::sqlite::{last_commit, layout_of, open_conn, quote, stored_schema};
use crate::{Loaded, Store, StoreError, snapshot};
use csip_engine::{Clock, RowId, Schema, Workbook};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// How far an open ([`Store::open_with_progress`]) has come: its phase, and
/// while it reads rows, how many of how many. Read it from another thread.
#[derive(Debug, Default)]
pub struct OpenProgress {
    phase: std::sync::atomic::AtomicU8,
    done: std::sync::atomic::AtomicU64,
    total: std::sync::atomic::AtomicU64,
}

/// The phases of an open, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenPhase {
    /// Opening the file and reading its schema.
    Opening,
    /// Reading the snapshot of the last commit.
    Snapshot,
    /// Reading every row (no snapshot the engine takes).
    Rows,
    /// Computing every formula and checking every constraint.
    Calculating,
}

impl OpenProgress {
    /// The phase the open is in.
    pub fn phase(&self) -> OpenPhase {
        match self.phase.load(Ordering::Relaxed) {
            1 => OpenPhase::Snapshot,
            2 => OpenPhase::Rows,
            3 => OpenPhase::Calculating,
            _ => OpenPhase::Opening,
        }
    }

    /// Rows read and rows to read (0 and 0 until rows are read).
    pub fn rows(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    fn set(&self, phase: OpenPhase) {
        let n = match phase {
            OpenPhase::Opening => 0,
            OpenPhase::Snapshot => 1,
            OpenPhase::Rows => 2,
            OpenPhase::Calculating => 3,
        };
        self.phase.store(n, Ordering::Relaxed);
    }
}

/// What a load builds on: a schema (fresh ids) or a workbook whose schema
/// the file still has (its ids kept).
#[derive(Clone, Copy)]
enum Base<'a> {
    Schema(&'a Schema, Clock),
    Like(&'a Workbook),
}

impl Store {
    /// Opens a workbook file: reads its schema, then the snapshot of its
    /// last commit if it holds one that the engine takes (of this schema,
    /// format and engine version, undamaged; [`Store::save_snapshot`]),
    /// else every row, and calculates every formula as of `clock`.
    /// [`Store::loaded`] says which.
    pub fn open(path: &Path, clock: Clock) -> Result<Store, StoreError> {
        Store::open_with_progress(path, clock, &OpenProgress::default())
    }

    /// [`Store::open`], telling `progress` how far it has come (another
    /// thread reads it: a service answering "loading" meanwhile).
    pub fn open_with_progress(
        path: &Path,
        clock: Clock,
        progress: &OpenProgress,
    ) -> Result<Store, StoreError> {
        let conn = open_conn(path)?;
        let schema = stored_schema(path, &conn)?;
        Store::load(path, conn, &schema, clock, progress)
    }

    fn load(
        path: &Path,
        conn: Connection,
        schema: &Schema,
        clock: Clock,
        progress: &OpenProgress,
    ) -> Result<Store, StoreError> {
        let store = Store::load_workbook(path, &conn, Base::Schema(schema, clock), progress)?;
        Ok(Store {
            conn: Mutex::new(conn),
            ..store
        })
    }

    /// Builds the workbook (of `base`) from the snapshot of the file's last
    /// commit when the engine takes it, else from the rows; the returned
    /// store's connection is a placeholder the caller replaces.
    ///
    /// A reload ([`Base::Like`]) reads the snapshot too, into a workbook
    /// that keeps the ids of the one it reloads
    /// ([`Workbook::reload_snapshot`]), as a reload from the rows does.
    fn load_workbook(
        path: &Path,
        conn: &Connection,
        base: Base<'_>,
        progress: &OpenProgress,
    ) -> Result<Store, StoreError> {
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let commit = last_commit(conn).map_err(sql)?;
        progress.set(OpenPhase::Snapshot);
        let why = match snapshot::load(conn, commit).map_err(sql)? {
            Some(bytes) => {
                let read = match base {
                    Base::Schema(schema, clock) => Workbook::read_snapshot(schema, clock, &bytes),
                    Base::Like(wb) => wb.reload_snapshot(&bytes),
                };
                match read {
                    Ok(mut wb) => {
                        drop(bytes);
                        // The file's history is its commit log: no undo kept in memory.
                        wb.set_undo_limit(0);
                        return Ok(Store {
                            path: path.to_path_buf(),
                            conn: Mutex::new(Connection::open_in_memory().map_err(sql)?),
                            layout: layout_of(&wb),
                            wb,
                            seen: commit,
                            generation: 0,
                            changes: None,
                            loaded: Loaded::Snapshot,
                        });
                    }
                    Err(e) => format!("its snapshot was refused: {e}"),
                }
            }
            None => match snapshot::commit_of(conn).map_err(sql)? {
                Some(c) => {
                    format!("its snapshot is of commit {c}, and its last commit is {commit}")
                }
                None => "it holds no snapshot".to_string(),
            },
        };
        let mut store = Store::load_rows(path, conn, base, progress)?;
        store.loaded = Loaded::Rows { why };
        Ok(store)
    }

    /// Reads every row and builds the workbook (of `base`); the returned store's
    /// connection is a placeholder the caller replaces.
    fn load_rows(
        path: &Path,
        conn: &Connection,
        base: Base<'_>,
        progress: &OpenProgress,
    ) -> Result<Store, StoreError> {
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        progress.set(OpenPhase::Rows);
        // Rows go from the cursor straight into the workbook: no table is
        // held in memory twice. The layout takes its ids from the workbook
        // being filled, the only one they are good for.
        let mut layout = Vec::new();
        let feed = |feed: &mut csip_engine::Restorer<'_>| {
            layout = layout_of(feed.workbook());
            let mut total = 0u64;
            for t in &layout {
                let n: i64 = conn
                    .query_row(
                        &format!("SELECT count(*) FROM {}", quote(&t.name)),
                        [],
                        |r| r.get(0),
                    )
                    .map_err(sql)?;
                total += u64::try_from(n).unwrap_or(0);
            }
            progress.total.store(total, Ordering::Relaxed);
            for t in &layout {
                let columns: Vec<String> = std::iter::once("row_id".to_string())
                    .chain(t.columns.iter().map(|c| quote(&c.name)))
                    .collect();
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT {} FROM {} ORDER BY row_id",
                        columns.join(", "),
                        quote(&t.name)
                    ))
                    .map_err(sql)?;
                let mut rows = stmt.query([]).map_err(sql)?;
                while let Some(record) = rows.next().map_err(sql)? {
                    let id: i64 = record.get(0).map_err(sql)?;
                    let corrupt = |column: &str, message: String| StoreError::Corrupt {
                        path: path.to_path_buf(),
                        table: t.name.clone(),
                        row: id,
                        column: column.to_string(),
                        message,
                    };
                    let row = u32::try_from(id)
                        .map(RowId::from_raw)
                        .map_err(|_| corrupt("row_id", format!("{id} is not a row id")))?;
                    let mut values = Vec::with_capacity(t.columns.len());
                    for (i, c) in t.columns.iter().enumerate() {
                        let raw: rusqlite::types::Value = record.get(i + 1).map_err(sql)?;
                        let v = c.codec.decode(raw).map_err(|m| corrupt(&c.name, m))?;
                        if !v.is_blank() {
                            values.push((c.column, v));
                        }
                    }
                    progress.done.fetch_add(1, Ordering::Relaxed);
                    feed.row(t.table, row, values)
                        .map_err(|e| StoreError::Load {
                            path: path.to_path_buf(),
                            source: Box::new(e.into()),
                        })?;
                }
                let last: Option<i64> = conn
                    .query_row(
                        "SELECT last FROM csip_row_ids WHERE table_name = ?1",
                        params![t.name],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                if let Some(last) = last.and_then(|l| u32::try_from(l).ok()) {
                    feed.reserve(t.table, RowId::from_raw(last.saturating_add(1)))
                        .map_err(|e| StoreError::Load {
                            path: path.to_path_buf(),
                            source: Box::new(e.into()),
                        })?;
                }
            }
            progress.set(OpenPhase::Calculating);
            Ok::<(), StoreError>(())
        };
        let wb = match base {
            Base::Schema(schema, clock) => Workbook::restore_with(schema, clock, feed),
            Base::Like(wb) => wb.reload_with(feed),
        }
        .map_err(|e| match e {
            StoreError::Load { path: p, source } if p.as_os_str().is_empty() => StoreError::Load {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })?;
        let mut wb = wb;
        // The file's history is its commit log: no undo kept in memory.
        wb.set_undo_limit(0);
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(Connection::open_in_memory().map_err(sql)?),
            wb,
            layout,
            seen: last_commit(conn).map_err(sql)?,
            generation: 0,
            changes: None,
            loaded: Loaded::Rows {
                why: "asked for its rows".into(),
            },
        })
    }

    /// Whether another process has committed to the file since this store
    /// last read or wrote it.
    pub fn is_stale(&self) -> Result<bool, StoreError> {
        Ok(self.with_conn(last_commit)? != self.seen)
    }

    /// Reloads the workbook from the file if another process has committed
    /// to it (rows imported, the schema upgraded); returns whether it did.
    pub fn refresh(&mut self) -> Result<bool, StoreError> {
        if !self.is_stale()? {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    /// Reads the workbook again from the file, schema and rows.
    pub(crate) fn reload(&mut self) -> Result<(), StoreError> {
        let clock = self.wb.clock();
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let schema = stored_schema(&self.path, conn)?;
        // The same schema: the same ids, so that ids a caller looked up
        // before the reload stay good.
        let base = if schema.without_origins() == self.wb.schema().without_origins() {
            Base::Like(&self.wb)
        } else {
            Base::Schema(&schema, clock)
        };
        let fresh = Store::load_workbook(&self.path, conn, base, &OpenProgress::default())?;
        self.wb = fresh.wb;
        self.layout = fresh.layout;
        self.seen = fresh.seen;
        self.loaded = fresh.loaded;
        self.generation += 1;
        self.changes = None;
        Ok(())
    }
}
