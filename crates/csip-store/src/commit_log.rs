//! The commit log (a room of the store): one commit written inside the
//! SQLite transaction that makes it durable — its record, the data cells it
//! changed, the rows it inserted and deleted, an audit row per cell — and
//! what a batch of commits is made of.

use crate::OutboxMessage;
use crate::codec::Codec;
use crate::sqlite::{ColumnLayout, TableLayout, insert_row, note_row_ids};
use csip_engine::{
    ChangeSet, ColumnId, NaiveDateTime, RowId, TableId, Transaction, Value, Workbook,
};
use rusqlite::params;
use std::collections::HashMap;

/// One transaction for [`Store::commit_batch`](crate::Store::commit_batch): who sent it and when, and
/// the messages it leaves in the outbox (see [`Store::commit_with_messages`](crate::Store::commit_with_messages)).
pub struct Submitted {
    /// The transaction.
    pub tx: Transaction,
    /// Who sent it (the audit log's actor).
    pub actor: String,
    /// When.
    pub at: NaiveDateTime,
    /// The messages it causes, built from the workbook as it left it.
    pub messages: Option<Messages>,
}

/// Builds the messages a commit causes from the workbook as it left it and
/// its change set.
pub type Messages = Box<dyn FnOnce(&Workbook, &ChangeSet) -> Vec<OutboxMessage> + Send>;

impl std::fmt::Debug for Submitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitted")
            .field("tx", &self.tx)
            .field("actor", &self.actor)
            .field("at", &self.at)
            .field("messages", &self.messages.is_some())
            .finish()
    }
}

impl From<(Transaction, String, NaiveDateTime)> for Submitted {
    fn from((tx, actor, at): (Transaction, String, NaiveDateTime)) -> Submitted {
        Submitted {
            tx,
            actor,
            at,
            messages: None,
        }
    }
}

/// Writes one commit — its record, the data cells it changed, the rows it
/// inserted and deleted, an audit row per cell — inside the SQLite
/// transaction `tx`; returns its id. The workbook is as the commit left it.
pub(crate) fn write_commit(
    tx: &rusqlite::Transaction<'_>,
    wb: &Workbook,
    layouts: &[TableLayout],
    changes: &ChangeSet,
    actor: &str,
    at: NaiveDateTime,
) -> rusqlite::Result<i64> {
    {
        let at = at.format("%Y-%m-%dT%H:%M:%S").to_string();
        tx.execute(
            "INSERT INTO csip_commits (at, actor, cells) VALUES (?1, ?2, 0)",
            params![at, actor],
        )?;
        let commit = tx.last_insert_rowid();
        let mut audit = tx.prepare_cached(
            "INSERT INTO csip_audit (commit_id, at, actor, table_name, row_id, column_name, old, new)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut cells = 0i64;
        // One audit row: table, row, column (`*` for a whole row), old, new.
        let mut log = |t: &TableLayout,
                       row: RowId,
                       column: &str,
                       old: Option<String>,
                       new: Option<String>|
         -> rusqlite::Result<()> {
            audit.execute(params![
                commit,
                at,
                actor,
                t.name,
                row.get(),
                column,
                old,
                new
            ])?;
            cells += 1;
            Ok(())
        };
        let layout = |t: TableId| layouts.iter().find(|l| l.table == t);
        let inserted: std::collections::HashSet<(TableId, RowId)> =
            changes.inserted.iter().copied().collect();
        for &(table, row) in &changes.inserted {
            let Some(t) = layout(table) else { continue };
            if !wb.contains_row(table, row) {
                continue; // inserted and deleted in the same transaction
            }
            insert_row(tx, wb, t, row)?;
            log(t, row, "*", None, Some(row_as_json(wb, t, row)))?;
        }
        // Ids issued, so that a deleted last row's id is not given again
        // after a reopen.
        let mut issued: Vec<TableId> = changes.inserted.iter().map(|(t, _)| *t).collect();
        issued.dedup();
        for table in issued {
            if let Some(t) = layout(table) {
                note_row_ids(tx, wb, t)?;
            }
        }
        // Each data column's layout, found once per commit rather than once
        // per cell (an ingestion writes millions); a row's cells changed
        // one after another are written by one UPDATE.
        let mut columns: HashMap<ColumnId, Option<(&TableLayout, &ColumnLayout)>> = HashMap::new();
        let mut pending = RowUpdate::default();
        for change in &changes.changes {
            let (column, row) = (change.cell.column, change.cell.row);
            let found = *columns.entry(column).or_insert_with(|| {
                if wb.is_formula(column).unwrap_or(false) {
                    return None;
                }
                let t = layout(change.table)?;
                Some((t, t.columns.iter().find(|c| c.column == column)?))
            });
            let Some((t, c)) = found else {
                continue;
            };
            if inserted.contains(&(change.table, row)) {
                continue;
            }
            if !wb.contains_row(change.table, row) {
                continue; // the row is deleted below
            }
            if !pending.is_for(t.table, row) {
                pending.write(tx)?;
                pending.start(t, row);
            }
            pending.set(c, c.codec.encode(&change.new));
            let old = change
                .old
                .as_ref()
                .filter(|v| !v.is_blank())
                .map(|v| audit_text(wb, c.codec, v));
            let new = Some(&change.new)
                .filter(|v| !v.is_blank())
                .map(|v| audit_text(wb, c.codec, v));
            log(t, row, &c.name, old, new)?;
        }
        pending.write(tx)?;
        for deleted in &changes.deleted {
            let Some(t) = layout(deleted.table) else {
                continue;
            };
            tx.prepare_cached(&t.delete_sql)?
                .execute(params![deleted.row.get()])?;
            // The row's data cells as the delete found them.
            let old = row_json(wb, t, |c| deleted.value(c));
            log(t, deleted.row, "*", Some(old), None)?;
        }
        drop(audit);
        tx.execute(
            "UPDATE csip_commits SET cells = ?1 WHERE id = ?2",
            params![cells, commit],
        )?;
        Ok(commit)
    }
}

/// The changed cells of one row, written as one UPDATE.
#[derive(Default)]
struct RowUpdate<'l> {
    target: Option<(&'l TableLayout, RowId)>,
    cells: Vec<(&'l ColumnLayout, rusqlite::types::Value)>,
}

impl<'l> RowUpdate<'l> {
    fn is_for(&self, table: TableId, row: RowId) -> bool {
        self.target
            .is_some_and(|(t, r)| t.table == table && r == row)
    }

    fn start(&mut self, t: &'l TableLayout, row: RowId) {
        self.target = Some((t, row));
        self.cells.clear();
    }

    /// A cell of the row; a column set twice keeps its last value.
    fn set(&mut self, c: &'l ColumnLayout, value: rusqlite::types::Value) {
        match self.cells.iter_mut().find(|(k, _)| k.column == c.column) {
            Some(cell) => cell.1 = value,
            None => self.cells.push((c, value)),
        }
    }

    /// Writes the row's cells (one column: its own cached statement).
    fn write(&mut self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
        let Some((t, row)) = self.target.take() else {
            return Ok(());
        };
        let id = rusqlite::types::Value::Integer(i64::from(row.get()));
        if let [(c, value)] = self.cells.as_slice() {
            tx.prepare_cached(&c.update_sql)?
                .execute(params![value, id])?;
        } else {
            let sets: Vec<String> = self
                .cells
                .iter()
                .enumerate()
                .map(|(i, (c, _))| format!("{} = ?{}", crate::sqlite::quote(&c.name), i + 1))
                .collect();
            let sql = format!(
                "UPDATE {} SET {} WHERE row_id = ?{}",
                crate::sqlite::quote(&t.name),
                sets.join(", "),
                self.cells.len() + 1
            );
            let mut values: Vec<&rusqlite::types::Value> =
                self.cells.iter().map(|(_, v)| v).collect();
            values.push(&id);
            tx.prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(values))?;
        }
        self.cells.clear();
        Ok(())
    }
}

/// A data cell's value as the audit log writes it: as displayed, and a
/// relation's rows each with its id (`Gard AS (row 1)`, a list as
/// `Gard AS (row 1), Helix (row 2)`), so that an entry still says which row
/// it meant after that row is renamed.
pub(crate) fn audit_text(wb: &Workbook, codec: Codec, value: &Value) -> String {
    if !matches!(codec, Codec::Row(_) | Codec::Rows(_)) {
        return wb.display(value);
    }
    let rows: Vec<String> = value
        .elements()
        .iter()
        .map(|e| match e {
            Value::Row(t, r) => {
                let name = wb
                    .display_column(*t)
                    .ok()
                    .flatten()
                    .and_then(|c| wb.value(c, *r).ok())
                    .map(|v| wb.display(v))
                    .unwrap_or_default();
                if name.is_empty() {
                    format!("row {}", r.get())
                } else {
                    format!("{name} (row {})", r.get())
                }
            }
            other => wb.display(other),
        })
        .collect();
    rows.join(", ")
}

/// A row's non-blank data cells as a JSON object of displayed values,
/// relations with their row ids (the audit log's record of a whole row).
pub(crate) fn row_as_json(wb: &Workbook, t: &TableLayout, row: RowId) -> String {
    row_json(wb, t, |c| wb.value(c, row).ok())
}

/// [`row_as_json`] of values read by `value_of` (a deleted row's, say).
fn row_json<'v>(
    wb: &Workbook,
    t: &TableLayout,
    value_of: impl Fn(ColumnId) -> Option<&'v Value>,
) -> String {
    use serde::ser::{SerializeMap, Serializer};
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::new(&mut out);
    let written = ser.serialize_map(None).and_then(|mut m| {
        for c in &t.columns {
            let v = value_of(c.column).unwrap_or(&Value::Blank);
            if !v.is_blank() {
                m.serialize_entry(&c.name, &audit_text(wb, c.codec, v))?;
            }
        }
        m.end()
    });
    match written {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::from("{}"),
    }
}
