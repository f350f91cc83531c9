//! Schema changes at run time: tables and columns added, formulas changed,
//! tables and columns renamed (the formulas and views that name them follow:
//! the binder says which `[Name]` resolves to what, and those spans are
//! rewritten), columns nothing depends on removed.
//!
//! A change edits the workbook's [`Schema`] and rebuilds the workbook from it
//! in place (`build.rs`'s `Builder::build_with`): every table and column kept
//! keeps its id, its rows and its cells, new ones get new ids, and only the
//! formula columns that are new or changed are computed, with what depends
//! on them. The workbook before the change is kept, shared copy-on-write, for
//! undo.

use crate::bind::{self, NameRef, Scope};
use crate::build::{Builder, Carry};
use crate::data::ColumnKind;
use crate::deps::Node;
use crate::ids::{CellId, ColumnId, RowId, TableId};
use crate::recalc::{self, CellChange};
use crate::schema::{ColumnSchema, ColumnType, FormulaText, Schema, TableSchema};
use crate::transaction::{ChangeSet, TransactionError, TransactionErrorKind};
use crate::workbook::{Workbook, fold};
use std::collections::HashMap;

/// A change to a workbook's schema, made as an operation of a
/// [`Transaction`](crate::Transaction) ([`Transaction::change_schema`](crate::Transaction::change_schema)).
/// Ids of tables and columns that stay keep pointing at them; new ones get
/// new ids, and the id of a removed column is never given again.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SchemaChange {
    /// Adds a table with its columns (their formulas may read any table).
    AddTable(TableSchema),
    /// Adds a column (data or formula) after a table's last one.
    AddColumn {
        /// The table.
        table: TableId,
        /// The column.
        column: ColumnSchema,
    },
    /// Adds a named value or named formula to the workbook (see
    /// [`Schema::with_name`]); its id is [`Workbook::name_id`]'s. Rename,
    /// change or remove it as a column: its id is a column id.
    AddName(ColumnSchema),
    /// Gives a formula column (or a name) a new formula.
    SetFormula {
        /// The formula column.
        column: ColumnId,
        /// The formula.
        formula: String,
    },
    /// Renames a table; every formula and view that names it follows.
    RenameTable {
        /// The table.
        table: TableId,
        /// Its new name.
        name: String,
    },
    /// Renames a column; every formula and view that names it follows.
    RenameColumn {
        /// The column.
        column: ColumnId,
        /// Its new name.
        name: String,
    },
    /// Replaces the whole schema, as an upgrade to new table files does:
    /// every table and column the new schema names as the old one did keeps
    /// its id and its cells; new ones are added, ones it leaves out removed
    /// (refused if something the new schema keeps reads them), formulas
    /// that differ computed again. A data column whose type or constraints
    /// differ keeps its cells only if every one fits the new definition as
    /// it is (else the change is refused, naming the first cell that does
    /// not); a formula column does not become a data column in place (add
    /// one of another name instead), and no table is left out. Names do not
    /// follow renames here: a renamed table or column is a new one.
    SetSchema(Schema),
    /// Removes a column no formula, view or display setting reads (else the
    /// change is refused, naming them). Its id is never given again.
    RemoveColumn {
        /// The column.
        column: ColumnId,
    },
}

/// The workbook's state a schema change replaces, kept for undo.
pub(crate) type Saved = Box<Workbook>;

impl Workbook {
    /// The workbook's schema as it now is, schema changes included (write it
    /// back to table files to keep it).
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Applies schema changes, in order, all or none; returns every cell
    /// they changed (the cells of a new formula column, those of a changed
    /// one and what depends on them; a new column's cells with no old
    /// value) and the schema after them. The state before is what undo
    /// brings back.
    pub(crate) fn apply_schema(
        &mut self,
        changes: Vec<SchemaChange>,
    ) -> Result<(ChangeSet, Saved), TransactionError> {
        let before = self.clone();
        let mut computed: Vec<CellChange> = Vec::new();
        for (i, change) in changes.into_iter().enumerate() {
            match self.apply_one(change) {
                Ok(mut cells) => computed.append(&mut cells),
                Err(mut e) => {
                    e.op = Some(i);
                    self.take_state(before);
                    return Err(e);
                }
            }
        }
        // A cell changed twice keeps its first old value and its last new one.
        let mut merged: Vec<CellChange> = Vec::with_capacity(computed.len());
        let mut at: HashMap<CellId, usize> = HashMap::new();
        for c in computed {
            match at.get(&c.cell) {
                Some(&i) => merged[i].new = c.new,
                None => {
                    at.insert(c.cell, merged.len());
                    merged.push(c);
                }
            }
        }
        merged.retain(|c| {
            !self.data.column(c.cell.column).is_removed()
                && c.old.as_ref().is_none_or(|o| !o.identical(&c.new))
        });
        let changes = ChangeSet {
            changes: merged,
            schema: Some(self.schema.clone()),
            ..ChangeSet::default()
        };
        Ok((changes, Box::new(before)))
    }

    /// Puts a saved state back (an undo or redo of a schema change) and
    /// returns the state it replaces, with what changed between the two.
    pub(crate) fn restore_schema(&mut self, saved: Saved) -> (ChangeSet, Saved) {
        let current = self.clone();
        self.take_state(*saved);
        let changes = ChangeSet {
            changes: cells_changed(&current, self),
            schema: Some(self.schema.clone()),
            ..ChangeSet::default()
        };
        (changes, Box::new(current))
    }

    /// Takes another workbook's schema, rows and cells; the history, the
    /// change feed and the trace stay this one's.
    fn take_state(&mut self, other: Workbook) {
        self.data = other.data;
        self.graph = other.graph;
        self.dirty = other.dirty;
        self.table_names = other.table_names;
        self.column_names = other.column_names;
        self.sources = other.sources;
        self.static_types = other.static_types;
        self.views = other.views;
        self.schema = other.schema;
        self.names = other.names;
    }

    fn apply_one(&mut self, change: SchemaChange) -> Result<Vec<CellChange>, TransactionError> {
        let mut schema = (*self.schema).clone();
        // Names in the new schema of the tables and columns the old one had.
        let mut renamed_tables: HashMap<TableId, String> = HashMap::new();
        let mut renamed_columns: HashMap<ColumnId, String> = HashMap::new();
        // Formula columns whose formula is new.
        let mut changed: Vec<ColumnId> = Vec::new();
        // Data columns whose cells must fit a new definition.
        let mut redefined: Vec<ColumnId> = Vec::new();
        match change {
            SchemaChange::SetSchema(new) => {
                if let Some(t) = self.tables().find(|t| {
                    !new.tables
                        .iter()
                        .any(|ts| fold(&ts.name) == fold(self.name_of_table(*t)))
                }) {
                    return Err(self.refused(format!(
                        "the new schema leaves out the table `{}`; a table is not removed (keep it: an empty table costs nothing)",
                        self.name_of_table(t)
                    )));
                }
                redefined = self.redefined_columns(&new)?;
                schema = new;
            }
            SchemaChange::AddTable(table) => {
                self.check_new_name(&table.name, None)?;
                for c in &table.columns {
                    self.check_new_name(&c.name, None)?;
                }
                schema.tables.push(table);
            }
            SchemaChange::AddColumn { table, column } => {
                self.check_table(table)?;
                self.check_new_name(&column.name, Some(table))?;
                self.columns_mut(&mut schema, table)?.push(column);
            }
            SchemaChange::AddName(column) => {
                self.check_new_name(&column.name, Some(self.names))?;
                schema.names.push(column);
            }
            SchemaChange::SetFormula { column, formula } => {
                self.check_column(column)?;
                if self.data.column(column).formula().is_none() {
                    return Err(self.refused(format!(
                        "`{}`.`{}` is a data column; a formula is set on a formula column (add one with AddColumn)",
                        self.name_of_table(self.table_of_column(column)),
                        self.name_of_column(column)
                    )));
                }
                self.column_schema_mut(&mut schema, column)?.formula = Some(formula);
                changed.push(column);
            }
            SchemaChange::RenameTable { table, name } => {
                self.check_table(table)?;
                let name = name.trim().to_string();
                if !fold(&name).eq(&fold(self.name_of_table(table))) {
                    self.check_new_name(&name, None)?;
                }
                self.rename(&mut schema, NameRef::Table(table), &name)?;
                renamed_tables.insert(table, name);
            }
            SchemaChange::RenameColumn { column, name } => {
                self.check_column(column)?;
                let table = self.table_of_column(column);
                let name = name.trim().to_string();
                if !fold(&name).eq(&fold(self.name_of_column(column))) {
                    self.check_new_name(&name, Some(table))?;
                }
                self.rename(&mut schema, NameRef::Column(column), &name)?;
                renamed_columns.insert(column, name);
            }
            SchemaChange::RemoveColumn { column } => {
                self.check_column(column)?;
                let readers = self.readers_of(column);
                if !readers.is_empty() {
                    return Err(self.refused(format!(
                        "`{}`.`{}` cannot be removed: {} read it; change or remove them first",
                        self.name_of_table(self.table_of_column(column)),
                        self.name_of_column(column),
                        readers.join(", ")
                    )));
                }
                let table = self.table_of_column(column);
                let name = self.name_of_column(column).to_string();
                self.columns_mut(&mut schema, table)?
                    .retain(|c| fold(&c.name) != fold(&name));
            }
        }
        let carry = self.carry(&renamed_tables, &renamed_columns);
        let next = Builder::build_with(&schema, self.clock(), Some(carry)).map_err(|e| {
            self.refused(
                e.problems
                    .iter()
                    .map(|p| format!("`{}`: {}", p.place(), p.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let old_columns = self.data.columns.len();
        let old_kinds: Vec<(Option<String>, bool)> = (0..old_columns)
            .map(|i| {
                let c = &self.data.columns[i];
                (
                    self.sources.get(&c.id).cloned(),
                    c.formula().is_some_and(|f| f.cyclic),
                )
            })
            .collect();
        let carried_hidden: Vec<bool> = (0..old_columns)
            .map(|i| matches!(self.data.columns[i].kind, ColumnKind::Hidden(_)))
            .collect();
        self.take_state(next);
        self.check_redefined(&redefined)?;
        // What to compute: formula columns that are new (or were data), whose
        // formula changed, or whose place in a cycle did; hidden key columns
        // that are new. The rest kept their cells, which are right.
        let mut stale: Vec<ColumnId> = Vec::new();
        for i in 0..self.data.columns.len() {
            let c = self.data.columns[i].id;
            let column = self.data.column(c);
            let Some(f) = column.formula() else { continue };
            let fresh = match old_kinds.get(i) {
                None => true,
                Some((old_source, was_cyclic)) => {
                    if column.is_hidden() {
                        !carried_hidden.get(i).copied().unwrap_or(false)
                    } else {
                        old_source.as_deref() != self.sources.get(&c).map(String::as_str)
                            || *was_cyclic != f.cyclic
                            // A cycle's error names its columns, which may be renamed.
                            || f.cyclic
                            || changed.contains(&c)
                    }
                }
            };
            if fresh {
                stale.push(c);
            }
        }
        Ok(self.compute(&stale, old_columns))
    }

    /// Computes every cell of `stale` (formula columns), and what depends on
    /// the cells that changed; returns the changes (a cell of a column
    /// created by this change has no old value).
    fn compute(&mut self, stale: &[ColumnId], old_columns: usize) -> Vec<CellChange> {
        let fresh = recalc::Fresh::none();
        let mut changes = Vec::new();
        let mut cycles = Vec::new();
        for &col in stale {
            let column = self.data.column(col);
            let table = column.table;
            let Some(f) = column.formula() else { continue };
            if f.cyclic {
                cycles.push(col);
                continue;
            }
            let rank = f.rank;
            let rows: Vec<RowId> = self.data.table(table).order().to_vec();
            for r in rows {
                self.dirty.mark(col, rank, r);
            }
        }
        // Columns in a cycle hold the cycle error in every cell.
        for col in cycles {
            let e = recalc::cycle_error(&self.data, &self.graph, col);
            let table = self.data.column(col).table;
            let rows: Vec<RowId> = self.data.table(table).order().to_vec();
            for r in rows {
                let old = self.data.write(col, r, e.clone());
                let mut p = recalc::Propagator {
                    data: &self.data,
                    graph: &self.graph,
                    dirty: &mut self.dirty,
                    fresh: &fresh,
                };
                p.propagate(Node::Column(col), r, Some((&old, &e)));
                if !self.data.column(col).is_hidden() {
                    changes.push(CellChange {
                        cell: CellId {
                            column: col,
                            row: r,
                        },
                        table,
                        old: Some(old),
                        new: e.clone(),
                    });
                }
            }
        }
        recalc::run(
            &mut self.data,
            &self.graph,
            &mut self.dirty,
            &fresh,
            &mut changes,
            self.trace.as_mut(),
        );
        for c in &mut changes {
            if c.cell.column.index() >= old_columns {
                c.old = None;
            }
        }
        changes
    }

    /// The ids the rebuild keeps: every table and every column not removed,
    /// by the names the new schema gives them.
    fn carry(
        &self,
        renamed_tables: &HashMap<TableId, String>,
        renamed_columns: &HashMap<ColumnId, String>,
    ) -> Carry<'_> {
        let mut tables = HashMap::new();
        let mut columns = HashMap::new();
        // The names' table is carried as such, not by a name.
        for t in self.tables().chain([self.names]) {
            let name = renamed_tables
                .get(&t)
                .cloned()
                .unwrap_or_else(|| self.name_of_table(t).to_string());
            if t != self.names {
                tables.insert(fold(&name), t);
            }
            for &c in self.columns_of_table(t) {
                let name = renamed_columns
                    .get(&c)
                    .cloned()
                    .unwrap_or_else(|| self.name_of_column(c).to_string());
                columns.insert((t, fold(&name)), c);
            }
        }
        Carry {
            old: self,
            tables,
            columns,
        }
    }

    /// The schema's entry of a table.
    fn table_schema<'s>(
        &self,
        schema: &'s mut Schema,
        table: TableId,
    ) -> Result<&'s mut TableSchema, TransactionError> {
        let name = fold(self.name_of_table(table));
        let found = schema.tables.iter_mut().find(|t| fold(&t.name) == name);
        found.ok_or_else(|| self.refused(format!("the schema has no table `{name}`")))
    }

    /// The data columns a new schema keeps (by name) with another type,
    /// required or unique setting; a formula column it makes a data column
    /// is refused.
    fn redefined_columns(&self, new: &Schema) -> Result<Vec<ColumnId>, TransactionError> {
        let mut redefined = Vec::new();
        let tables = new
            .tables
            .iter()
            .filter_map(|ts| Some((self.find_table(&ts.name)?, &ts.columns)))
            .chain([(self.names, &new.names)]);
        for (table, columns) in tables {
            for cs in columns {
                let Some(c) = self.find_column(table, &cs.name) else {
                    continue;
                };
                let old = &self.data.column(c).schema;
                match (old.formula.is_some(), cs.formula.is_some()) {
                    (true, false) => {
                        return Err(self.refused(format!(
                            "`{}`.`{}` is a formula column; it does not become a data column in place: add a data column of another name and remove the formula column",
                            self.name_of_table(table),
                            self.name_of_column(c)
                        )));
                    }
                    (false, false)
                        if old.ty != cs.ty
                            || old.required != cs.required
                            || old.unique != cs.unique =>
                    {
                        redefined.push(c);
                    }
                    _ => {}
                }
            }
        }
        Ok(redefined)
    }

    /// Every cell of a redefined data column fits its new definition as it
    /// is, and its table's rows keep their required and unique constraints.
    fn check_redefined(&self, redefined: &[ColumnId]) -> Result<(), TransactionError> {
        let mut rows = Vec::new();
        for &c in redefined {
            let table = self.table_of_column(c);
            for &r in self.data.table(table).order() {
                rows.push((table, r));
                let v = self.data.cell(c, r);
                if v.is_blank() {
                    continue;
                }
                let why = match crate::coerce::coerce(&self.data, c, v.clone()) {
                    Ok(w) if w.identical(v) => continue,
                    Ok(w) => format!(
                        "holds {}, which the new definition would store as {}",
                        self.display(v),
                        self.display(&w)
                    ),
                    Err(e) => e.message,
                };
                return Err(self.refused(format!(
                    "`{}`.`{}` row id {}: the cell {why}; change such cells first, or keep the column as it was",
                    self.name_of_table(table),
                    self.name_of_column(c),
                    r.get()
                )));
            }
        }
        rows.sort_unstable();
        rows.dedup();
        self.check_rows(rows)
    }

    /// The schema's columns of a table (its names, for the names' table).
    fn columns_mut<'s>(
        &self,
        schema: &'s mut Schema,
        table: TableId,
    ) -> Result<&'s mut Vec<ColumnSchema>, TransactionError> {
        if table == self.names {
            return Ok(&mut schema.names);
        }
        Ok(&mut self.table_schema(schema, table)?.columns)
    }

    /// The schema's entry of a column.
    fn column_schema_mut<'s>(
        &self,
        schema: &'s mut Schema,
        column: ColumnId,
    ) -> Result<&'s mut ColumnSchema, TransactionError> {
        let name = fold(self.name_of_column(column));
        let table = self.table_of_column(column);
        let table_name = self.name_of_table(table).to_string();
        self.columns_mut(schema, table)?
            .iter_mut()
            .find(|c| fold(&c.name) == name)
            .ok_or_else(|| self.refused(format!("`{table_name}` has no column `{name}`")))
    }

    fn check_table(&self, table: TableId) -> Result<(), TransactionError> {
        self.data
            .checked_table(table)
            .map(|_| ())
            .map_err(|e| self.lookup_failed(e))
    }

    fn check_column(&self, column: ColumnId) -> Result<(), TransactionError> {
        self.data
            .checked_column(column)
            .map(|_| ())
            .map_err(|e| self.lookup_failed(e))
    }

    /// A name for a new or renamed table (`table` None) or column of
    /// `table`: `[Name]` must keep meaning one thing, so it may not be the
    /// name of a table and of a column too.
    fn check_new_name(&self, name: &str, table: Option<TableId>) -> Result<(), TransactionError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(self.refused("a table or column needs a name".into()));
        }
        match table {
            None => {
                if self.find_table(name).is_some() {
                    return Err(self.refused(format!("there is a table `{name}` already")));
                }
                if self.find_column(self.names, name).is_some() {
                    return Err(self.refused(format!(
                        "the workbook has a name `{name}`: a table of that name would hide it; choose another name"
                    )));
                }
                if let Some(t) = self.tables().find(|t| self.find_column(*t, name).is_some()) {
                    return Err(self.refused(format!(
                        "`{}` has a column `{name}`: a table of that name would make `[{name}]` mean two things; choose another name",
                        self.name_of_table(t)
                    )));
                }
            }
            Some(t) if t == self.names => {
                if self.find_column(t, name).is_some() {
                    return Err(self.refused(format!("the workbook has a name `{name}` already")));
                }
                if self.find_table(name).is_some() {
                    return Err(self.refused(format!(
                        "there is a table `{name}`: `[{name}]` would mean the table; choose another name"
                    )));
                }
            }
            Some(t) => {
                if self.find_column(t, name).is_some() {
                    return Err(self.refused(format!(
                        "`{}` has a column `{name}` already",
                        self.name_of_table(t)
                    )));
                }
                if self.find_table(name).is_some() {
                    return Err(self.refused(format!(
                        "there is a table `{name}`: a column of that name would make `[{name}]` mean two things; choose another name"
                    )));
                }
            }
        }
        Ok(())
    }

    /// What reads a column: formula columns and views that name it, and its
    /// table's display setting.
    fn readers_of(&self, column: ColumnId) -> Vec<String> {
        let table = self.table_of_column(column);
        let mut readers = Vec::new();
        for t in self.tables().chain([self.names]) {
            for &c in self.columns_of_table(t) {
                if c == column {
                    continue;
                }
                if let Some(text) = self.sources.get(&c) {
                    if self
                        .names_in(text, Some(t), &[])
                        .contains(&NameRef::Column(column))
                    {
                        readers.push(format!(
                            "the formula of `{}`.`{}`",
                            self.name_of_table(t),
                            self.name_of_column(c)
                        ));
                    }
                }
            }
        }
        for view in &self.schema.views {
            if self.view_names(view).contains(&NameRef::Column(column))
                || view_names_column(view, self, column)
            {
                readers.push(format!("the view `{}`", view.name));
            }
        }
        if self.data.table(table).display == Some(column) {
            readers.push(format!(
                "`{}`'s display column (name another first)",
                self.name_of_table(table)
            ));
        }
        readers
    }

    /// The names a formula resolves, as binding resolves them.
    fn names_in(
        &self,
        text: &str,
        this_table: Option<TableId>,
        params: &[bind::ParamInfo],
    ) -> Vec<NameRef> {
        self.spans_in(text, this_table, params)
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    fn spans_in(
        &self,
        text: &str,
        this_table: Option<TableId>,
        params: &[bind::ParamInfo],
    ) -> Vec<(csip_formula::Span, NameRef)> {
        let Ok(ast) = csip_formula::parse(text) else {
            return Vec::new();
        };
        let mut catalog = crate::workbook::ReadCatalog { wb: self };
        bind::references(&ast, Scope { this_table, params }, &mut catalog)
    }

    /// The names every formula of a view resolves.
    fn view_names(&self, view: &crate::schema::ViewSchema) -> Vec<NameRef> {
        let Some(table) = self.find_table(&view.table) else {
            return Vec::new();
        };
        let params = self.view_params(view);
        view_formulas(view)
            .into_iter()
            .flat_map(|f| self.names_in(&f.text, Some(table), &params))
            .collect()
    }

    fn view_params(&self, view: &crate::schema::ViewSchema) -> Vec<bind::ParamInfo> {
        view.params
            .iter()
            .map(|p| bind::ParamInfo {
                name: p.name.clone(),
                ty: match &p.ty {
                    ColumnType::Relation { table, multiple }
                    | ColumnType::People { table, multiple } => match self.find_table(table) {
                        Some(t) if *multiple => bind::StaticTy::Rows(t),
                        Some(t) => bind::StaticTy::Row(t),
                        None => bind::StaticTy::Other,
                    },
                    _ => bind::StaticTy::Other,
                },
            })
            .collect()
    }

    /// Renames a table or column in `schema`: its declaration, every
    /// formula that names it (the spans binding resolves to it), and every
    /// setting that names it (relation targets, display columns, views'
    /// tables, sorts, groups and fields).
    fn rename(
        &self,
        schema: &mut Schema,
        target: NameRef,
        name: &str,
    ) -> Result<(), TransactionError> {
        let old = match target {
            NameRef::Table(t) => self.name_of_table(t).to_string(),
            NameRef::Column(c) => self.name_of_column(c).to_string(),
        };
        let bracketed = format!("[{name}]");
        let rewrite = |text: &str, spans: Vec<(csip_formula::Span, NameRef)>| -> String {
            let mut out = text.to_string();
            let mut hits: Vec<csip_formula::Span> = spans
                .into_iter()
                .filter(|(_, r)| *r == target)
                .map(|(s, _)| s)
                .collect();
            hits.sort_by_key(|s| std::cmp::Reverse(s.start));
            for s in hits {
                if out.get(s.range()).is_some_and(|w| w.starts_with('[')) {
                    out.replace_range(s.range(), &bracketed);
                }
            }
            out
        };
        // Formulas first, bound against the names as they are now.
        for ts in &mut schema.tables {
            let table = self.find_table(&ts.name);
            for cs in &mut ts.columns {
                if let Some(text) = &cs.formula {
                    let spans = self.spans_in(text, table, &[]);
                    cs.formula = Some(rewrite(text, spans));
                }
            }
        }
        for cs in &mut schema.names {
            if let Some(text) = &cs.formula {
                let spans = self.spans_in(text, Some(self.names), &[]);
                cs.formula = Some(rewrite(text, spans));
            }
        }
        for view in &mut schema.views {
            let table = self.find_table(&view.table);
            let params = self.view_params(view);
            for f in view_formulas_mut(view) {
                let spans = self.spans_in(&f.text, table, &params);
                f.text = rewrite(&f.text, spans);
            }
        }
        // Then the declarations and settings.
        let same = |a: &str, b: &str| fold(a) == fold(b);
        match target {
            NameRef::Table(_) => {
                for ts in &mut schema.tables {
                    if same(&ts.name, &old) {
                        ts.name = name.to_string();
                    }
                    for cs in &mut ts.columns {
                        rename_target(&mut cs.ty, &old, name);
                    }
                }
                for view in &mut schema.views {
                    if same(&view.table, &old) {
                        view.table = name.to_string();
                    }
                    for p in &mut view.params {
                        rename_target(&mut p.ty, &old, name);
                    }
                    for inc in &mut view.include {
                        if let Some((t, v)) = inc.split_once('/') {
                            if same(t, &old) {
                                *inc = format!("{name}/{v}");
                            }
                        }
                    }
                }
            }
            NameRef::Column(c) if self.table_of_column(c) == self.names => {
                for cs in &mut schema.names {
                    if same(&cs.name, &old) {
                        cs.name = name.to_string();
                    }
                }
            }
            NameRef::Column(c) => {
                let table = self.name_of_table(self.table_of_column(c)).to_string();
                for ts in &mut schema.tables {
                    if !same(&ts.name, &table) {
                        continue;
                    }
                    for cs in &mut ts.columns {
                        if same(&cs.name, &old) {
                            cs.name = name.to_string();
                        }
                    }
                    if ts.display_column.as_deref().is_some_and(|d| same(d, &old)) {
                        ts.display_column = Some(name.to_string());
                    }
                }
                for view in &mut schema.views {
                    if !same(&view.table, &table) {
                        continue;
                    }
                    let computed = |n: &str, v: &crate::schema::ViewSchema| {
                        v.fields
                            .iter()
                            .any(|f| f.formula.is_some() && same(&f.name, n))
                    };
                    let names_field = computed(&old, view);
                    for f in &mut view.fields {
                        if f.formula.is_none() && same(&f.name, &old) {
                            f.name = name.to_string();
                        }
                    }
                    if !names_field {
                        for k in &mut view.sort {
                            if same(&k.field, &old) {
                                k.field = name.to_string();
                            }
                        }
                        if view.group_by.as_deref().is_some_and(|g| same(g, &old)) {
                            view.group_by = Some(name.to_string());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn refused(&self, message: String) -> TransactionError {
        self.error_of(TransactionErrorKind::Schema, message)
    }
}

/// Whether a view names `column` as a field, sort key or group (not in a formula).
fn view_names_column(view: &crate::schema::ViewSchema, wb: &Workbook, column: ColumnId) -> bool {
    if wb.find_table(&view.table) != Some(wb.table_of_column(column)) {
        return false;
    }
    let name = fold(wb.name_of_column(column));
    view.fields
        .iter()
        .any(|f| f.formula.is_none() && fold(&f.name) == name)
        || view.sort.iter().any(|k| fold(&k.field) == name)
        || view.group_by.as_deref().is_some_and(|g| fold(g) == name)
}

fn view_formulas(view: &crate::schema::ViewSchema) -> Vec<&FormulaText> {
    view.filter
        .iter()
        .chain(view.fields.iter().filter_map(|f| f.formula.as_ref()))
        .chain(view.tiles.iter().map(|t| &t.formula))
        .collect()
}

fn view_formulas_mut(view: &mut crate::schema::ViewSchema) -> Vec<&mut FormulaText> {
    view.filter
        .iter_mut()
        .chain(view.fields.iter_mut().filter_map(|f| f.formula.as_mut()))
        .chain(view.tiles.iter_mut().map(|t| &mut t.formula))
        .collect()
}

/// A relation (or people) type pointing at table `old` points at `new`.
fn rename_target(ty: &mut ColumnType, old: &str, new: &str) {
    if let ColumnType::Relation { table, .. } | ColumnType::People { table, .. } = ty {
        if fold(table) == fold(old) {
            *table = new.to_string();
        }
    }
}

/// The cells that differ between two states of a workbook (before and after
/// a schema change, undone or redone): over the columns `after` has, rows
/// alike; a column `before` lacked lists its non-blank cells with no old
/// value.
fn cells_changed(before: &Workbook, after: &Workbook) -> Vec<CellChange> {
    let mut out = Vec::new();
    for t in after.tables() {
        for &c in after.columns_of_table(t) {
            let had = before
                .data
                .columns
                .get(c.index())
                .is_some_and(|o| !o.is_removed() && o.table == t);
            for &r in after.data.table(t).order() {
                let new = after.data.cell(c, r);
                if had {
                    let old = before.data.cell(c, r);
                    if !old.identical(new) {
                        out.push(CellChange {
                            cell: CellId { column: c, row: r },
                            table: t,
                            old: Some(old.clone()),
                            new: new.clone(),
                        });
                    }
                } else if !new.is_blank() {
                    out.push(CellChange {
                        cell: CellId { column: c, row: r },
                        table: t,
                        old: None,
                        new: new.clone(),
                    });
                }
            }
        }
    }
    out
}
