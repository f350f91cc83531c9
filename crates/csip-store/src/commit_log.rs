//! The commit log (a room of the store): one commit written inside the
//! SQLite transaction that makes it durable — its record, the data cells it
//! changed, the rows it inserted and deleted, an audit row per cell — and
//! what a batch of commits is made of.

use crate::codec::Codec;
use crate::{OutboxMessage, TableLayout, insert_row, note_row_ids};
use csip_engine::{
    ChangeSet, ColumnId, NaiveDateTime, RowId, TableId, Transaction, Value, Workbook,
};
use rusqlite::params;

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
        for change in &changes.changes {
            let (column, row) = (change.cell.column, change.cell.row);
            if wb.is_formula(column).unwrap_or(false) || inserted.contains(&(change.table, row)) {
                continue;
            }
            if !wb.contains_row(change.table, row) {
                continue; // the row is deleted below
            }
            let Some(t) = layout(change.table) else {
                continue;
            };
            let Some(c) = t.columns.iter().find(|c| c.column == column) else {
                continue;
            };
            tx.prepare_cached(&c.update_sql)?
                .execute(params![c.codec.encode(&change.new), row.get()])?;
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
