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
mod outbox;
mod secret;
mod snapshot;
mod tokens;

pub use access::{CSM_TABLES, Principal, Role, Unfit};
pub use audit::AuditLog;
use commit_log::write_commit;
pub use commit_log::{Messages, Submitted};
pub use config::{
    Config, ConfigError, OutboxConfig, SECRET_NAMES, SLACK_API_URL, Secrets, SlackConfig,
};
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

use codec::Codec;
use csip_engine::{
    ChangeSet, Clock, ColumnId, LoadError, NaiveDateTime, Op, RowId, RowsWithIds, Schema,
    SchemaChange, SnapshotError, SourceFile, TableId, Transaction, TransactionError, Value,
    Workbook, schema_from_files,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// The file format version this crate writes and reads. Format 1 numbered
/// rows from 0 and did not remember the ids of deleted last rows; it is
/// migrated on open (`migrate_v1`).
const FORMAT: i64 = 2;

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
    /// A write of a batch the file refused ([`Store::commit_batch`]):
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

/// A load error without its file, for [`Workbook::restore_with`]; the
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

/// How one workbook table sits in SQL.
#[derive(Clone, Debug)]
struct TableLayout {
    table: TableId,
    name: String,
    columns: Vec<ColumnLayout>,
    /// `INSERT INTO "T" (row_id, "A", ...) VALUES (?1, ?2, ...)`.
    insert_sql: String,
    /// `DELETE FROM "T" WHERE row_id = ?1`.
    delete_sql: String,
}

#[derive(Clone, Debug)]
struct ColumnLayout {
    column: ColumnId,
    name: String,
    codec: Codec,
    /// `UPDATE "T" SET "A" = ?1 WHERE row_id = ?2`.
    update_sql: String,
}

/// A SQL identifier, quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

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

fn layout_of(wb: &Workbook) -> Vec<TableLayout> {
    wb.tables()
        .map(|t| {
            let name = wb.table_name(t).unwrap_or_default().to_string();
            let columns: Vec<ColumnLayout> = wb
                .columns(t)
                .unwrap_or_default()
                .iter()
                .filter(|c| !wb.is_formula(**c).unwrap_or(false))
                .filter_map(|&c| {
                    let schema = wb.column_schema(c).ok()?;
                    let target = wb.relation_target(c).ok().flatten();
                    let column = wb.column_name(c).unwrap_or_default().to_string();
                    Some(ColumnLayout {
                        column: c,
                        update_sql: format!(
                            "UPDATE {} SET {} = ?1 WHERE row_id = ?2",
                            quote(&name),
                            quote(&column)
                        ),
                        name: column,
                        codec: Codec::of(&schema.ty, target)?,
                    })
                })
                .collect();
            let names: String = columns
                .iter()
                .map(|c| format!(", {}", quote(&c.name)))
                .collect();
            let marks: String = (0..columns.len())
                .map(|i| format!(", ?{}", i + 2))
                .collect();
            TableLayout {
                table: t,
                insert_sql: format!(
                    "INSERT INTO {} (row_id{names}) VALUES (?1{marks})",
                    quote(&name)
                ),
                delete_sql: format!("DELETE FROM {} WHERE row_id = ?1", quote(&name)),
                name,
                columns,
            }
        })
        .collect()
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
        tx.execute_batch(
            "CREATE TABLE csip_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE csip_schema (position INTEGER PRIMARY KEY, path TEXT NOT NULL, text TEXT NOT NULL);
             CREATE TABLE csip_commits (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, cells INTEGER NOT NULL);
             CREATE TABLE csip_audit (id INTEGER PRIMARY KEY, commit_id INTEGER NOT NULL REFERENCES csip_commits(id),
                 at TEXT NOT NULL, actor TEXT NOT NULL, table_name TEXT NOT NULL, row_id INTEGER NOT NULL,
                 column_name TEXT NOT NULL, old TEXT, new TEXT);
             CREATE TABLE csip_tokens (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, person TEXT NOT NULL,
                 role TEXT NOT NULL, created TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
                 last_used TEXT, revoked_at TEXT);",
        )
        .map_err(sql)?;
        tx.execute_batch(ROW_IDS_TABLE).map_err(sql)?;
        audit::add_commit_index(&tx).map_err(sql)?;
        outbox::add_table(&tx).map_err(sql)?;
        tx.execute(
            "INSERT INTO csip_meta (key, value) VALUES ('format', ?1)",
            params![FORMAT.to_string()],
        )
        .map_err(sql)?;
        write_schema(&tx, &table_files).map_err(sql)?;
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

    /// Opens a workbook file under new table files, as one schema change
    /// ([`SchemaChange::SetSchema`]) of the workbook read from the file:
    /// tables and columns the new files add are created (existing rows hold
    /// Blank in them), formulas that differ are computed again (nothing else
    /// is), and the new schema is stored, in one commit. A change that would
    /// lose data — a table with rows or a data column with values that the
    /// new files drop or turn into a formula, a value a column's new type
    /// would store differently — is refused and nothing changes.
    pub fn upgrade(
        path: &Path,
        table_files: Vec<SourceFile>,
        clock: Clock,
    ) -> Result<Store, StoreError> {
        let new_schema = schema_from_files(&table_files).map_err(|e| StoreError::Load {
            path: path.to_path_buf(),
            source: Box::new(e.into()),
        })?;
        let mut store = Store::open(path, clock)?;
        store.refuse_loss(&new_schema)?;
        let tx = Transaction::new().change_schema(SchemaChange::SetSchema(new_schema));
        store.commit_schema(tx, Some(table_files), "schema upgrade", clock.now)?;
        Ok(store)
    }

    /// Refuses a new schema that leaves out, or turns into a formula, a
    /// table or data column that holds something.
    fn refuse_loss(&self, new: &Schema) -> Result<(), StoreError> {
        let wb = &self.wb;
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b.trim());
        for o in &self.layout {
            let rows = wb.rows(o.table).map(<[RowId]>::len).unwrap_or(0);
            let Some(n) = new.tables.iter().find(|n| same(&o.name, &n.name)) else {
                if rows > 0 {
                    return Err(StoreError::Upgrade(format!(
                        "the new schema drops table `{}`, which holds {rows} rows; export them first (csip export) and remove the rows, or keep the table",
                        o.name
                    )));
                }
                continue;
            };
            for oc in &o.columns {
                let why = match n.columns.iter().find(|c| same(&oc.name, &c.name)) {
                    None => "drops it",
                    Some(c) if c.formula.is_some() => "turns it into a formula column",
                    Some(_) => continue,
                };
                let filled = wb
                    .rows(o.table)
                    .unwrap_or_default()
                    .iter()
                    .filter(|r| wb.value(oc.column, **r).is_ok_and(|v| !v.is_blank()))
                    .count();
                if filled > 0 {
                    return Err(StoreError::Upgrade(format!(
                        "the new schema {why} — column `{}`.`{}` — and {filled} rows hold a value there that would be lost; keep the column as it is, or export and clear it first",
                        o.name, oc.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Applies a transaction of schema changes and brings the file to the
    /// new schema in one SQLite transaction: tables created and renamed,
    /// data columns added, renamed, dropped and (when their storage
    /// changes) written again, the schema's table files replaced, and an
    /// audit row per change (row 0: the schema). `files` are the table
    /// files to store (an upgrade's own); without them the schema is
    /// written back ([`Schema::to_table_files`]).
    fn commit_schema(
        &mut self,
        tx: Transaction,
        files: Option<Vec<SourceFile>>,
        actor: &str,
        at: NaiveDateTime,
    ) -> Result<ChangeSet, StoreError> {
        let before = self.wb.clone();
        let changes = self.wb.apply(tx)?;
        let files = match files {
            Some(files) => files,
            None => match self.wb.schema().to_table_files() {
                Ok(files) => files,
                Err(e) => {
                    self.wb = before;
                    return Err(StoreError::Upgrade(format!(
                        "the changed schema cannot be stored as table files: {e}"
                    )));
                }
            },
        };
        let layout = layout_of(&self.wb);
        self.generation += 1;
        self.changes = None;
        match self.persist_schema(&layout, &files, actor, at) {
            Ok(()) => {
                self.layout = layout;
                Ok(changes)
            }
            Err(source) => {
                self.wb = before;
                Err(self.recover(source))
            }
        }
    }

    fn persist_schema(
        &mut self,
        layout: &[TableLayout],
        files: &[SourceFile],
        actor: &str,
        at: NaiveDateTime,
    ) -> rusqlite::Result<()> {
        let at = at.format("%Y-%m-%dT%H:%M:%S").to_string();
        let wb = &self.wb;
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO csip_commits (at, actor, cells) VALUES (?1, ?2, 0)",
            params![at, actor],
        )?;
        let commit = tx.last_insert_rowid();
        let mut entries = 0i64;
        let mut log = |table: &str, column: &str, old: Option<String>, new: Option<String>| {
            entries += 1;
            tx.execute(
                "INSERT INTO csip_audit (commit_id, at, actor, table_name, row_id, column_name, old, new)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)",
                params![commit, at, actor, table, column, old, new],
            )
            .map(|_| ())
        };
        let kind = |c: &ColumnLayout| Some(format!("{} column", c.codec.kind()));
        for n in layout {
            let Some(o) = self.layout.iter().find(|o| o.table == n.table) else {
                create_table(&tx, n)?;
                log(&n.name, "*", None, Some("table".into()))?;
                continue;
            };
            if o.name != n.name {
                tx.execute_batch(&format!(
                    "ALTER TABLE {} RENAME TO {}",
                    quote(&o.name),
                    quote(&n.name)
                ))?;
                log(&n.name, "*", Some(o.name.clone()), Some(n.name.clone()))?;
            }
            for nc in &n.columns {
                let Some(oc) = o.columns.iter().find(|c| c.column == nc.column) else {
                    tx.execute_batch(&format!(
                        "ALTER TABLE {} ADD COLUMN {}",
                        quote(&n.name),
                        quote(&nc.name)
                    ))?;
                    log(&n.name, &nc.name, None, kind(nc))?;
                    continue;
                };
                if oc.name != nc.name {
                    tx.execute_batch(&format!(
                        "ALTER TABLE {} RENAME COLUMN {} TO {}",
                        quote(&n.name),
                        quote(&oc.name),
                        quote(&nc.name)
                    ))?;
                    log(
                        &n.name,
                        &nc.name,
                        Some(oc.name.clone()),
                        Some(nc.name.clone()),
                    )?;
                }
                if !oc.codec.same_storage(nc.codec) {
                    let mut update = tx.prepare(&nc.update_sql)?;
                    for &r in wb.rows(n.table).unwrap_or_default() {
                        let v = wb.value(nc.column, r).unwrap_or(&Value::Blank);
                        update.execute(params![nc.codec.encode(v), r.get()])?;
                    }
                    log(&n.name, &nc.name, kind(oc), kind(nc))?;
                }
            }
            for oc in &o.columns {
                if !n.columns.iter().any(|c| c.column == oc.column) {
                    tx.execute_batch(&format!(
                        "ALTER TABLE {} DROP COLUMN {}",
                        quote(&n.name),
                        quote(&oc.name)
                    ))?;
                    log(&n.name, &oc.name, kind(oc), None)?;
                }
            }
        }
        tx.execute("DELETE FROM csip_schema", [])?;
        write_schema(&tx, files)?;
        tx.execute(
            "UPDATE csip_commits SET cells = ?1 WHERE id = ?2",
            params![entries, commit],
        )?;
        tx.commit()?;
        self.seen = commit;
        Ok(())
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
    fn reload(&mut self) -> Result<(), StoreError> {
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
        match self.persist(&changes, actor, at, &messages) {
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
    ) -> rusqlite::Result<()> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let commit = write_commit(&tx, &self.wb, &self.layout, changes, actor, at)?;
        outbox::enqueue(&tx, commit, at, messages)?;
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
        match self.persist(&changes, actor, at, &[]) {
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

fn last_commit(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM csip_commits", [], |r| {
        r.get(0)
    })
}

/// The size (bytes) the WAL file is cut back to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

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

/// How long a write waits for another process's write to finish.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // An insert per table and an update per data column stay compiled.
    conn.set_prepared_statement_cache_capacity(512);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // After a checkpoint that resets the WAL, its file is cut back to this
    // (a burst of writes, or an outside reader that held checkpoints back,
    // leaves it large; the next open then replays all of it).
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    conn.busy_timeout(BUSY_TIMEOUT)
}

pub(crate) fn open_conn(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::NotAWorkbook {
            path: path.to_path_buf(),
            message: "no such file; create one with `csip init --db FILE`".into(),
        });
    }
    let sql = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(sql)?;
    let format: Option<String> = conn
        .query_row(
            "SELECT value FROM csip_meta WHERE key = 'format'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|_| StoreError::NotAWorkbook {
            path: path.to_path_buf(),
            message: "this is not a csip workbook file (no csip_meta table)".into(),
        })?;
    match format.as_deref().map(str::parse::<i64>) {
        Some(Ok(FORMAT)) => {}
        Some(Ok(1)) => {
            configure(&conn).map_err(sql)?;
            migrate_v1(path, conn)?;
            return open_conn(path);
        }
        Some(Ok(v)) if v > FORMAT => {
            return Err(StoreError::NotAWorkbook {
                path: path.to_path_buf(),
                message: format!(
                    "written by a newer csip (format {v}; this one reads {FORMAT}); upgrade csip"
                ),
            });
        }
        _ => {
            return Err(StoreError::NotAWorkbook {
                path: path.to_path_buf(),
                message: "this is not a csip workbook file (no format version)".into(),
            });
        }
    }
    configure(&conn).map_err(sql)?;
    let mut conn = conn;
    tokens::add_token_columns(&mut conn).map_err(sql)?;
    audit::add_commit_index(&conn).map_err(sql)?;
    outbox::add_table(&conn).map_err(sql)?;
    Ok(conn)
}

/// The highest row id each table has issued (rows deleted since included).
const ROW_IDS_TABLE: &str =
    "CREATE TABLE csip_row_ids (table_name TEXT PRIMARY KEY, last INTEGER NOT NULL);";

/// Records the highest id a table has issued.
fn note_row_ids(conn: &Connection, wb: &Workbook, t: &TableLayout) -> rusqlite::Result<()> {
    let last = wb
        .next_row_id(t.table)
        .map_or(0, |r| r.get().saturating_sub(1));
    conn.prepare_cached(
        "INSERT INTO csip_row_ids (table_name, last) VALUES (?1, ?2)
         ON CONFLICT (table_name) DO UPDATE SET last = max(last, excluded.last)",
    )?
    .execute(params![t.name, last])?;
    Ok(())
}

/// Format 1 to 2: row ids count from 1 (every table's `row_id`, every
/// relation cell, the audit log), and the ids each table has issued are
/// kept. One SQLite transaction: a failure leaves the file as it was.
fn migrate_v1(path: &Path, mut conn: Connection) -> Result<(), StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let schema = stored_schema(path, &conn)?;
    let day = csip_engine::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    let layout =
        layout_of(
            &Workbook::new(&schema, Clock::on(day)).map_err(|e| StoreError::Load {
                path: path.to_path_buf(),
                source: Box::new(e.into()),
            })?,
        );
    let tx = conn.transaction().map_err(sql)?;
    tx.execute_batch(ROW_IDS_TABLE).map_err(sql)?;
    for t in &layout {
        let name = quote(&t.name);
        // Through the negatives, so that no two rows hold one id on the way.
        tx.execute_batch(&format!(
            "UPDATE {name} SET row_id = -row_id - 1; UPDATE {name} SET row_id = -row_id;"
        ))
        .map_err(sql)?;
        for c in &t.columns {
            let column = quote(&c.name);
            let update = match c.codec {
                Codec::Row(_) => {
                    format!("UPDATE {name} SET {column} = {column} + 1 WHERE {column} IS NOT NULL")
                }
                Codec::Rows(_) => format!(
                    "UPDATE {name} SET {column} = (SELECT json_group_array(value + 1) FROM json_each({name}.{column})) WHERE {column} IS NOT NULL"
                ),
                _ => continue,
            };
            tx.execute_batch(&update).map_err(sql)?;
        }
        tx.execute(
            &format!("INSERT INTO csip_row_ids (table_name, last) SELECT ?1, coalesce(max(row_id), 0) FROM {name}"),
            params![t.name],
        )
        .map_err(sql)?;
    }
    tx.execute_batch(
        "UPDATE csip_audit SET row_id = row_id + 1;
         UPDATE csip_meta SET value = '2' WHERE key = 'format';",
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)
}

fn write_schema(conn: &Connection, files: &[SourceFile]) -> rusqlite::Result<()> {
    for (i, f) in files.iter().enumerate() {
        conn.execute(
            "INSERT INTO csip_schema (position, path, text) VALUES (?1, ?2, ?3)",
            params![i64::try_from(i).unwrap_or(i64::MAX), f.path, f.text],
        )?;
    }
    Ok(())
}

/// The schema the file holds.
fn stored_schema(path: &Path, conn: &Connection) -> Result<Schema, StoreError> {
    let files = read_schema(conn).map_err(|source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    })?;
    schema_from_files(&files).map_err(|e| StoreError::Load {
        path: path.to_path_buf(),
        source: Box::new(e.into()),
    })
}

fn read_schema(conn: &Connection) -> rusqlite::Result<Vec<SourceFile>> {
    let mut stmt = conn.prepare("SELECT path, text FROM csip_schema ORDER BY position")?;
    let rows = stmt.query_map([], |r| {
        Ok(SourceFile::new(
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
        ))
    })?;
    rows.collect()
}

fn create_table(conn: &Connection, t: &TableLayout) -> rusqlite::Result<()> {
    let columns: String = t
        .columns
        .iter()
        .map(|c| format!(", {}", quote(&c.name)))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE {} (row_id INTEGER PRIMARY KEY{columns})",
        quote(&t.name)
    ))
}

fn insert_row(
    conn: &Connection,
    wb: &Workbook,
    t: &TableLayout,
    row: RowId,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&t.insert_sql)?;
    let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(t.columns.len() + 1);
    values.push(rusqlite::types::Value::Integer(i64::from(row.get())));
    for c in &t.columns {
        values.push(
            c.codec
                .encode(wb.value(c.column, row).unwrap_or(&Value::Blank)),
        );
    }
    stmt.execute(rusqlite::params_from_iter(values))?;
    Ok(())
}
