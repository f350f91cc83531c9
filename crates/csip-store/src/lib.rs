//! A csip workbook in one SQLite file (DESIGN §5 "Store").
//!
//! The file holds the schema (the workbook's table files, verbatim), one SQL
//! table per workbook table with one column per data column (formula values
//! are not stored: opening a file recalculates them), the commit log, the
//! audit log and the API tokens. It runs in WAL mode with
//! `synchronous=FULL`: [`Store::commit`] returns only after the transaction
//! is on disk, and a crash at any moment leaves every acknowledged
//! transaction there and no half of one.
//!
//! A [`Store`] owns its [`Workbook`]: every write goes through
//! [`Store::commit`] (or [`Store::commit_batch`], several at once with one
//! sync, or [`Store::import`]), which applies the transaction to the workbook (where it
//! is validated whole) and writes the data cells it changed in one SQLite
//! transaction, with an audit row per changed cell.
//!
//! ```
//! use csip_engine::{Clock, Transaction, Value};
//! use csip_store::Store;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("csip.db");
//! let today = csip_workbook::sample_today();
//! let wb = csip_workbook::pilot(today)?;
//! let mut store = Store::create(&path, csip_workbook::table_files(), wb)?;
//!
//! let wb = store.workbook();
//! let accounts = wb.table_id("Account_Master")?;
//! let arr = wb.column_id(accounts, "ARR")?;
//! let gard = wb.find_rows(accounts, "Gard AS")?[0];
//! let at = today.and_hms_opt(9, 0, 0).unwrap();
//! store.commit(Transaction::new().set(arr, gard, 2_000_000), "admin@example.com", at)?;
//! drop(store);
//!
//! // A reopened file is a new workbook, with ids of its own: look them up again.
//! let store = Store::open(&path, Clock::on(today))?;
//! let wb = store.workbook();
//! let arr = wb.column_id(wb.table_id("Account_Master")?, "ARR")?;
//! assert_eq!(wb.value(arr, gard)?, &Value::from(2_000_000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod access;
mod audit;
mod codec;
mod commit_log;
mod config;
mod error;
mod export;
mod files;
mod lease;
mod open;
mod outbox;
mod secret;
mod snapshot;
mod sqlite;
mod tokens;
mod upgrade;

pub use access::{CSM_TABLES, Principal, Role, Unfit};
pub use audit::AuditLog;
use commit_log::write_commit;
pub use commit_log::{Messages, Submitted};
pub use config::{
    Config, ConfigError, OutboxConfig, SECRET_NAMES, SLACK_API_URL, Secrets, SlackConfig,
};
pub use error::{ImportError, StoreError};
pub use export::{
    CSV_ROW_ID, CsvOptions, csv_columns, escape_csv_cell, unescape_csv_cell, write_table_csv,
    write_table_csv_with_progress,
};
pub use files::{Files, NewFile, StoredFile, file_id, link as file_link};
pub use open::{OpenPhase, OpenProgress};
pub use outbox::{
    Backoff, Entry as OutboxEntry, Outbox, OutboxMessage, Outcome, Pending, Settled,
    Status as OutboxStatus,
};
pub use secret::Secret;
pub use tokens::{TokenInfo, Tokens};

/// How a [`Store`]'s workbook was built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Loaded {
    /// [`Store::create`] was given it.
    Given,
    /// From the file's snapshot of its last commit: no row read, no formula
    /// recalculated (see [`Store::save_snapshot`]).
    Snapshot,
    /// From the file's rows, every formula recalculated, because the file
    /// held no snapshot the engine would take: why.
    Rows {
        /// No snapshot, one of an older commit, or why the engine refused it.
        why: String,
    },
}

use csip_engine::{
    ChangeSet, Clock, NaiveDateTime, Op, RowId, RowsWithIds, SourceFile, TableId, Transaction,
    Workbook,
};
use rusqlite::Connection;
use sqlite::{
    TableLayout, configure, create_table, insert_row, last_commit, layout_of, note_row_ids,
};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One row of the audit log: who changed which data cell, when, from what to what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its place in the log (ascending).
    pub id: i64,
    /// The commit it belongs to (see [`Store::commit`]).
    pub commit: i64,
    /// When, as the writer's clock said (ISO 8601, UTC).
    pub at: String,
    /// Who: the person the token belongs to, or the command line's user.
    pub actor: String,
    /// The table.
    pub table: String,
    /// The row's id; 0 for a change of the schema (a table created or
    /// renamed: column `*`; a data column added, renamed, dropped or
    /// stored anew: that column, with what it was and what it is).
    pub row: u32,
    /// The column, or `*` for a whole row inserted or deleted.
    pub column: String,
    /// The value before, as displayed (`None` for an inserted row).
    pub old: Option<String>,
    /// The value after, as displayed (`None` for a deleted row).
    pub new: Option<String>,
}

/// A workbook kept in a SQLite file; see the crate docs.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    wb: Workbook,
    layout: Vec<TableLayout>,
    /// The last commit the workbook in memory reflects; another process's
    /// commit (`csip import` on a served file) makes the file run ahead.
    seen: i64,
    /// Moves whenever what a read could see may have changed.
    generation: u64,
    /// The change sets of the commits since [`Store::take_changes`] last
    /// ran; `None` once something changed that they do not tell (a reload,
    /// an import, a schema change, the clock).
    changes: Option<Vec<ChangeSet>>,
    /// How the workbook was built.
    loaded: Loaded,
}

impl Store {
    /// Creates a workbook file at `path` (which must not exist) from table
    /// files and a workbook built from them, with every row it holds.
    pub fn create(
        path: &Path,
        table_files: Vec<SourceFile>,
        wb: Workbook,
    ) -> Result<Store, StoreError> {
        if path.exists() {
            return Err(StoreError::Exists(path.to_path_buf()));
        }
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(sql)?;
        configure(&conn).map_err(sql)?;
        let layout = layout_of(&wb);
        for t in &layout {
            if t.name.to_ascii_lowercase().starts_with("csip_") {
                return Err(StoreError::NotAWorkbook {
                    path: path.to_path_buf(),
                    message: format!(
                        "table `{}` would clash with the store's own csip_ tables; rename it",
                        t.name
                    ),
                });
            }
        }
        let tx = conn.transaction().map_err(sql)?;
        sqlite::create_store_tables(&tx, &table_files).map_err(sql)?;
        for t in &layout {
            create_table(&tx, t).map_err(sql)?;
            for &row in wb.rows(t.table).unwrap_or_default() {
                insert_row(&tx, &wb, t, row).map_err(sql)?;
            }
            note_row_ids(&tx, &wb, t).map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        let mut wb = wb;
        wb.set_undo_limit(0); // the file's history is its commit log
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            wb,
            layout,
            seen: 0,
            generation: 0,
            changes: None,
            loaded: Loaded::Given,
        })
    }

    /// How the workbook was built: given to [`Store::create`], read from
    /// the file's snapshot, or from its rows (and why).
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// Writes a snapshot of the workbook as of the file's last commit into
    /// the file, in place of the one before, so that the next
    /// [`Store::open`] reads it instead of every row and a recalculation;
    /// returns its size in bytes. If another process has committed, the
    /// workbook is reloaded first, so the snapshot is of the file as it is.
    ///
    /// Costs about what the snapshot's size says (90 MB at 10,000
    /// accounts, written in about a second) and holds the file's write lock
    /// while it writes. A snapshot of a workbook whose schema was changed at
    /// run time may be laid out otherwise than a fresh build of its schema
    /// (ids given in another order): an open then refuses it and reads the
    /// rows ([`Store::loaded`] says so), and a snapshot saved after that
    /// open is read. The CLI calls it after `csip synth --db` and `csip
    /// import`, at the end of `csip serve` when the file has moved on since
    /// its snapshot, and as `csip snapshot`; a commit never does, and a
    /// snapshot older than the file's last commit is never read.
    pub fn save_snapshot(&mut self) -> Result<u64, StoreError> {
        self.refresh()?;
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        if last_commit(&tx).map_err(sql)? != self.seen {
            // Another process committed between the refresh and the lock.
            drop(tx);
            self.reload()?;
            return Err(StoreError::Stale(path));
        }
        let size = snapshot::save(&tx, &self.wb, self.seen).map_err(|e| match e {
            snapshot::SaveError::Sqlite(source) => sql(source),
            snapshot::SaveError::Engine(source) => StoreError::Snapshot {
                path: path.clone(),
                source: Box::new(source),
            },
        })?;
        tx.commit().map_err(sql)?;
        // The write-ahead log grew by the snapshot's size: give it back.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(size)
    }

    /// Whether the file holds a snapshot of its last commit, which the
    /// workbook in memory reflects (without reading the snapshot).
    pub fn has_snapshot(&self) -> Result<bool, StoreError> {
        let seen = self.seen;
        self.with_conn(|c| Ok(last_commit(c)? == seen && snapshot::exists(c, seen)?))
    }

    /// The workbook, for reading cells and views.
    pub fn workbook(&self) -> &Workbook {
        &self.wb
    }

    /// Keeps every view of the workbook that can be kept in order
    /// ([`Workbook::maintain_views`]), so that a page of one is read, not
    /// evaluated; returns how many are kept. A schema change (or a reload)
    /// builds a new workbook that keeps none: a server calls this after
    /// every change, which costs next to nothing while they are all kept.
    pub fn maintain_views(&mut self) -> usize {
        self.wb.maintain_views()
    }

    /// The workbook, for reading after the file is no longer needed.
    pub fn into_workbook(self) -> Workbook {
        self.wb
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the workbook's clock (formula values are not stored, so nothing
    /// is written); returns what changed.
    pub fn set_clock(&mut self, clock: Clock) -> ChangeSet {
        self.generation += 1;
        self.changes = None;
        self.wb.set_clock(clock)
    }

    /// A number that moves whenever what a read of the workbook could see may
    /// have changed (a commit, an import, a reload, the clock): an answer
    /// computed at one generation stays right while the generation is the same.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The change sets of the commits since the last call, in order, or
    /// `None` when something changed since that they do not tell (the
    /// workbook reloaded from its file, rows imported, the schema or the
    /// clock changed): a reader then takes everything as changed. The
    /// first call after an open is `None`.
    pub fn take_changes(&mut self) -> Option<Vec<ChangeSet>> {
        self.changes.replace(Vec::new())
    }

    /// Applies a transaction and makes it durable: the workbook validates it
    /// whole (a rejected one changes nothing, in memory or on disk), then
    /// every data cell it changed, every row it inserted or deleted, a commit
    /// record and an audit row per cell are written in one SQLite
    /// transaction, synced to disk before this returns. `actor` is who made
    /// the change; `at` when (the caller's clock). A transaction that changes
    /// nothing (a cell set to the value it holds) is answered with its empty
    /// change set and writes nothing: no commit, no audit row, the same
    /// [`Store::generation`].
    ///
    /// If the file cannot be written (disk full, file removed), the workbook
    /// is reloaded from the file (or, if that fails too, the store is marked
    /// stale and the next write reloads first). A transaction built before
    /// another process committed to the file is refused with
    /// [`StoreError::Stale`] after a reload: build it again and retry.
    ///
    /// A transaction of schema changes ([`Transaction::change_schema`]; an
    /// admin's, see [`Role::check`]) changes the file's tables to match in
    /// the same way (tables created and renamed, data columns added,
    /// renamed, dropped) and stores the schema it leaves, audited as row 0
    /// (see [`AuditEntry::row`]); ids of what it keeps stay good.
    pub fn commit(
        &mut self,
        tx: Transaction,
        actor: &str,
        at: NaiveDateTime,
    ) -> Result<ChangeSet, StoreError> {
        self.commit_with_messages(tx, actor, at, |_, _| Vec::new())
    }

    /// [`Store::commit`], and the messages the write causes put in the
    /// outbox ([`Outbox`]) in the same SQLite transaction: `messages` builds
    /// them from the workbook as the commit left it and its change set, so
    /// that they are in the file exactly when the write is (a message whose
    /// key is already there is dropped). A transaction that changes nothing
    /// commits nothing and leaves no message; one of schema changes leaves
    /// none either.
    ///
    /// # Errors
    ///
    /// Those of [`Store::commit`].
    pub fn commit_with_messages(
        &mut self,
        tx: Transaction,
        actor: &str,
        at: NaiveDateTime,
        messages: impl FnOnce(&Workbook, &ChangeSet) -> Vec<OutboxMessage>,
    ) -> Result<ChangeSet, StoreError> {
        self.commit_with_files(tx, actor, at, Vec::new(), messages)
    }

    /// [`Store::commit_with_messages`], and `files` kept in the file area
    /// ([`Files`]) in the same SQLite transaction: a row that links a file
    /// ([`NewFile::link`]) is never written without it. The files are kept
    /// only when the transaction changes something (a file already there,
    /// the same bytes, is kept as it was).
    ///
    /// # Errors
    ///
    /// Those of [`Store::commit`].
    pub fn commit_with_files(
        &mut self,
        tx: Transaction,
        actor: &str,
        at: NaiveDateTime,
        files: Vec<NewFile>,
        messages: impl FnOnce(&Workbook, &ChangeSet) -> Vec<OutboxMessage>,
    ) -> Result<ChangeSet, StoreError> {
        // A transaction built against an older state of the file is not
        // applied to a newer one: reload, and let the caller rebuild it.
        if self.refresh()? {
            return Err(StoreError::Stale(self.path.clone()));
        }
        if tx.ops().iter().any(|op| matches!(op, Op::Schema(_))) {
            return self.commit_schema(tx, None, actor, at);
        }
        let changes = self.wb.apply(tx)?;
        if changes.is_empty() {
            // Nothing changed: no commit, no audit, and answers computed
            // before stay right.
            return Ok(changes);
        }
        self.generation += 1;
        let messages = messages(&self.wb, &changes);
        match self.persist(&changes, actor, at, &messages, &files) {
            Ok(()) => {
                if let Some(log) = &mut self.changes {
                    log.push(changes.clone());
                }
                Ok(changes)
            }
            Err(source) => Err(self.recover(source)),
        }
    }

    /// After a write the file refused: memory goes back to what the file
    /// holds. If even reading fails, the store is marked stale, so that the
    /// next write reloads before anything else.
    fn recover(&mut self, source: rusqlite::Error) -> StoreError {
        if self.reload().is_err() {
            self.seen = -1;
        }
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn persist(
        &mut self,
        changes: &ChangeSet,
        actor: &str,
        at: NaiveDateTime,
        messages: &[OutboxMessage],
        files: &[NewFile],
    ) -> rusqlite::Result<()> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let commit = write_commit(&tx, &self.wb, &self.layout, changes, actor, at)?;
        outbox::enqueue(&tx, commit, at, messages)?;
        files::store(&tx, commit, actor, at, files)?;
        tx.commit()?;
        self.seen = commit;
        Ok(())
    }

    /// Applies transactions one after the other and makes them durable
    /// together: each is validated and applied on its own (a rejected one
    /// changes nothing and is answered with its error), each accepted one is
    /// a commit of its own with its audit rows, and all of them are written
    /// in one SQLite transaction, synced once — the writes of many clients
    /// waiting at once cost one sync, not one each. If the file refuses the
    /// write, none of them is kept (the workbook is reloaded from the file)
    /// and each answer is the error. A transaction of schema changes is
    /// committed on its own ([`Store::commit`]).
    ///
    /// Each answer is the change set and the id of its commit (for a
    /// transaction that changed nothing, the last commit's).
    pub fn commit_batch(
        &mut self,
        batch: Vec<impl Into<Submitted>>,
    ) -> Vec<Result<(ChangeSet, i64), StoreError>> {
        let batch: Vec<Submitted> = batch.into_iter().map(Into::into).collect();
        if batch
            .iter()
            .any(|s| s.tx.ops().iter().any(|op| matches!(op, Op::Schema(_))))
        {
            return batch
                .into_iter()
                .map(|s| {
                    let messages = s.messages;
                    self.commit_with_messages(s.tx, &s.actor, s.at, |wb, changes| {
                        messages.map(|m| m(wb, changes)).unwrap_or_default()
                    })
                    .map(|changes| (changes, self.seen))
                })
                .collect();
        }
        match self.refresh() {
            Ok(false) => {}
            Ok(true) => {
                return batch
                    .iter()
                    .map(|_| Err(StoreError::Stale(self.path.clone())))
                    .collect();
            }
            Err(e) => {
                let message = e.to_string();
                return batch
                    .iter()
                    .map(|_| Err(StoreError::NotWritten(message.clone())))
                    .collect();
            }
        }
        let mut answers: Vec<Result<(ChangeSet, i64), StoreError>> =
            Vec::with_capacity(batch.len());
        let mut last = None;
        let seen = self.seen;
        let written = {
            let Store {
                conn,
                wb,
                layout,
                changes: log,
                ..
            } = self;
            let conn = conn.get_mut().unwrap_or_else(|p| p.into_inner());
            (|| -> rusqlite::Result<()> {
                let sql =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for Submitted {
                    tx,
                    actor,
                    at,
                    messages,
                } in batch
                {
                    match wb.apply(tx) {
                        Err(e) => answers.push(Err(e.into())),
                        Ok(changes) if changes.is_empty() => {
                            answers.push(Ok((changes, last.unwrap_or(seen))));
                        }
                        Ok(changes) => {
                            let commit = write_commit(&sql, wb, layout, &changes, &actor, at)?;
                            if let Some(messages) = messages {
                                outbox::enqueue(&sql, commit, at, &messages(wb, &changes))?;
                            }
                            last = Some(commit);
                            if let Some(log) = log {
                                log.push(changes.clone());
                            }
                            answers.push(Ok((changes, commit)));
                        }
                    }
                }
                sql.commit()
            })()
        };
        match written {
            Ok(()) => {
                if let Some(commit) = last {
                    self.generation += 1;
                    self.seen = commit;
                }
                answers
            }
            Err(source) => {
                self.generation += 1;
                let error = self.recover(source).to_string();
                answers
                    .into_iter()
                    .map(|a| match a {
                        Ok(_) => Err(StoreError::NotWritten(format!(
                            "the file refused the write, nothing of it was kept: {error}"
                        ))),
                        Err(e) => Err(e),
                    })
                    .collect()
            }
        }
    }
}

impl Store {
    /// Appends rows to tables in bulk ([`Workbook::import_all`]: relations by
    /// display name, every constraint checked, all or nothing) and makes them
    /// durable in one SQLite transaction, audited as one commit. A rejected
    /// import reports up to `max_errors` problems, each naming its row's
    /// 0-based index in its table's input; nothing is written.
    ///
    /// A row may name the id it must get ([`Workbook::import_all_with_ids`]):
    /// rows exported with their ids keep them.
    pub fn import(
        &mut self,
        tables: Vec<(TableId, RowsWithIds)>,
        max_errors: usize,
        actor: &str,
        at: NaiveDateTime,
    ) -> Result<Vec<Vec<RowId>>, ImportError> {
        if self.refresh().map_err(ImportError::Store)? {
            return Err(ImportError::Store(StoreError::Stale(self.path.clone())));
        }
        let order: Vec<TableId> = tables.iter().map(|(t, _)| *t).collect();
        let ids = self
            .wb
            .import_all_with_ids(tables, max_errors)
            .map_err(ImportError::Rejected)?;
        if ids.iter().all(Vec::is_empty) {
            return Ok(ids); // no rows: no commit
        }
        self.generation += 1;
        // Every formula was computed again: the summary does not say which
        // cells changed.
        self.changes = None;
        let changes = ChangeSet {
            inserted: order
                .iter()
                .zip(&ids)
                .flat_map(|(t, rows)| rows.iter().map(move |r| (*t, *r)))
                .collect(),
            ..ChangeSet::default()
        };
        match self.persist(&changes, actor, at, &[], &[]) {
            Ok(()) => Ok(ids),
            Err(source) => Err(ImportError::Store(self.recover(source))),
        }
    }

    /// Copies the WAL into the database file as far as it can without
    /// waiting (SQLite's passive checkpoint), then says how far that was
    /// and how large the WAL is. An incomplete one means another
    /// connection — an outside reader, most often — holds a read
    /// transaction that still needs older frames: the WAL grows until it
    /// ends. A service calls this now and then and warns when it is so.
    pub fn checkpoint(&mut self) -> Result<Checkpoint, StoreError> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let (frames, checkpointed) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })
            .map_err(|source| StoreError::Sqlite {
                path: self.path.clone(),
                source,
            })?;
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| m.len());
        Ok(Checkpoint {
            wal_bytes,
            frames,
            checkpointed,
        })
    }

    /// The id of the last commit in the file (any process's).
    pub fn last_commit(&self) -> Result<i64, StoreError> {
        self.with_conn(last_commit)
    }

    /// The id of the last commit the workbook in memory reflects: after
    /// [`Store::commit`] returns, that commit's. No I/O.
    pub fn commit_id(&self) -> i64 {
        self.seen
    }

    /// The audit log after entry `after` (0 for the start), oldest first, at most `limit` entries.
    pub fn audit(&self, after: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.with_conn(|c| audit::entries(c, after, limit, None))
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }
}

/// What a checkpoint ([`Store::checkpoint`]) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The WAL file's size after it, in bytes.
    pub wal_bytes: u64,
    /// Frames in the WAL.
    pub frames: i64,
    /// Frames copied into the database file (all of them, unless another
    /// connection's read transaction still needs older ones).
    pub checkpointed: i64,
}

impl Checkpoint {
    /// Whether every frame made it into the database file.
    pub fn complete(&self) -> bool {
        self.checkpointed >= self.frames
    }
}
