//! The SQLite backend's file: its format version and the migration from
//! older ones, the connection settings (WAL, `synchronous=FULL`), the
//! store's own `csip_` tables, and how each workbook table sits in SQL
//! ([`TableLayout`]). [`crate::Store`] holds the transactions that use them.

use crate::codec::Codec;
use crate::{StoreError, audit, outbox, tokens};
use csip_engine::{
    Clock, ColumnId, RowId, Schema, SourceFile, TableId, Value, Workbook, schema_from_files,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// The file format version this crate writes and reads. Format 1 numbered
/// rows from 0 and did not remember the ids of deleted last rows; it is
/// migrated on open (`migrate_v1`).
pub(crate) const FORMAT: i64 = 2;

/// How one workbook table sits in SQL.
#[derive(Clone, Debug)]
pub(crate) struct TableLayout {
    pub(crate) table: TableId,
    pub(crate) name: String,
    pub(crate) columns: Vec<ColumnLayout>,
    /// `INSERT INTO "T" (row_id, "A", ...) VALUES (?1, ?2, ...)`.
    pub(crate) insert_sql: String,
    /// `DELETE FROM "T" WHERE row_id = ?1`.
    pub(crate) delete_sql: String,
}

#[derive(Clone, Debug)]
pub(crate) struct ColumnLayout {
    pub(crate) column: ColumnId,
    pub(crate) name: String,
    pub(crate) codec: Codec,
    /// `UPDATE "T" SET "A" = ?1 WHERE row_id = ?2`.
    pub(crate) update_sql: String,
}

/// A SQL identifier, quoted.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) fn layout_of(wb: &Workbook) -> Vec<TableLayout> {
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

pub(crate) fn last_commit(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM csip_commits", [], |r| {
        r.get(0)
    })
}

/// The size (bytes) the WAL file is cut back to after a checkpoint.
pub(crate) const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// How long a write waits for another process's write to finish.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
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

/// A connection of its own on a workbook file, for a reader beside the
/// store (the outbox's dispatcher, the audit log, the file area): its
/// queries' SQLite errors come back naming the file.
#[derive(Debug)]
pub(crate) struct SideConn {
    path: std::path::PathBuf,
    conn: std::sync::Mutex<Connection>,
}

impl SideConn {
    pub(crate) fn open(path: &Path) -> Result<SideConn, StoreError> {
        Ok(SideConn {
            path: path.to_path_buf(),
            conn: std::sync::Mutex::new(open_conn(path)?),
        })
    }

    /// Runs `f` on the connection (one caller at a time).
    pub(crate) fn with<T>(
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
    crate::lease::add_table(&conn).map_err(sql)?;
    crate::files::add_table(&conn).map_err(sql)?;
    Ok(conn)
}

/// The highest row id each table has issued (rows deleted since included).
pub(crate) const ROW_IDS_TABLE: &str =
    "CREATE TABLE csip_row_ids (table_name TEXT PRIMARY KEY, last INTEGER NOT NULL);";

/// Records the highest id a table has issued.
pub(crate) fn note_row_ids(
    conn: &Connection,
    wb: &Workbook,
    t: &TableLayout,
) -> rusqlite::Result<()> {
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
pub(crate) fn migrate_v1(path: &Path, mut conn: Connection) -> Result<(), StoreError> {
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

/// The store's own tables in a new file, with its format version and its
/// schema (the workbook's table files, verbatim).
pub(crate) fn create_store_tables(conn: &Connection, files: &[SourceFile]) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE csip_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE csip_schema (position INTEGER PRIMARY KEY, path TEXT NOT NULL, text TEXT NOT NULL);
         CREATE TABLE csip_commits (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, cells INTEGER NOT NULL);
         CREATE TABLE csip_audit (id INTEGER PRIMARY KEY, commit_id INTEGER NOT NULL REFERENCES csip_commits(id),
             at TEXT NOT NULL, actor TEXT NOT NULL, table_name TEXT NOT NULL, row_id INTEGER NOT NULL,
             column_name TEXT NOT NULL, old TEXT, new TEXT);
         CREATE TABLE csip_tokens (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, person TEXT NOT NULL,
             role TEXT NOT NULL, created TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
             last_used TEXT, revoked_at TEXT);",
    )?;
    conn.execute_batch(ROW_IDS_TABLE)?;
    audit::add_commit_index(conn)?;
    outbox::add_table(conn)?;
    crate::lease::add_table(conn)?;
    crate::files::add_table(conn)?;
    conn.execute(
        "INSERT INTO csip_meta (key, value) VALUES ('format', ?1)",
        params![FORMAT.to_string()],
    )?;
    write_schema(conn, files)
}

pub(crate) fn write_schema(conn: &Connection, files: &[SourceFile]) -> rusqlite::Result<()> {
    for (i, f) in files.iter().enumerate() {
        conn.execute(
            "INSERT INTO csip_schema (position, path, text) VALUES (?1, ?2, ?3)",
            params![i64::try_from(i).unwrap_or(i64::MAX), f.path, f.text],
        )?;
    }
    Ok(())
}

/// The schema the file holds.
pub(crate) fn stored_schema(path: &Path, conn: &Connection) -> Result<Schema, StoreError> {
    let files = read_schema(conn).map_err(|source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    })?;
    schema_from_files(&files).map_err(|e| StoreError::Load {
        path: path.to_path_buf(),
        source: Box::new(e.into()),
    })
}

pub(crate) fn read_schema(conn: &Connection) -> rusqlite::Result<Vec<SourceFile>> {
    let mut stmt = conn.prepare("SELECT path, text FROM csip_schema ORDER BY position")?;
    let rows = stmt.query_map([], |r| {
        Ok(SourceFile::new(
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
        ))
    })?;
    rows.collect()
}

pub(crate) fn create_table(conn: &Connection, t: &TableLayout) -> rusqlite::Result<()> {
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

pub(crate) fn insert_row(
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
