//! Changing a stored workbook's schema: new table files over an existing
//! file ([`Store::upgrade`]) and schema changes at run time, refused when
//! they would lose data.

use crate::sqlite::{ColumnLayout, TableLayout, create_table, layout_of, quote, write_schema};
use crate::{Store, StoreError};
use csip_engine::{
    ChangeSet, Clock, NaiveDateTime, RowId, Schema, SchemaChange, SourceFile, Transaction, Value,
    schema_from_files,
};
use rusqlite::params;
use std::path::Path;

impl Store {
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
    pub(crate) fn commit_schema(
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
}
