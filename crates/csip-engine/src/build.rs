//! Building a [`Workbook`] from a [`Schema`]: declaring tables and columns,
//! binding every formula (in dependency order, so that a formula knows the
//! rows its columns give), planning predicates onto hash indexes (with the
//! hidden key columns they need), binding views, and ordering the columns
//! into the recalculation graph. Every problem is reported at once.

use crate::bind::{self, BindError, Catalog, Scope, StaticTy};
use crate::data::{Clock, Column, ColumnKind, ColumnMeta, Data, Formula, NAMES_TABLE, Table};
use crate::deps;
use crate::error::{SchemaError, SchemaProblem};
use crate::expr::{Expr, FilterExpr, IndexPlan, OuterKey};
use crate::ids::{ColumnId, TableId};
use crate::index::IndexMode;
use crate::recalc::{Dependent, Dirty, Graph};
use crate::schema::{ColumnSchema, ColumnType, Schema};
use crate::value::{ErrorKind, Value};
use crate::workbook::{Workbook, fold, visit_filters_mut};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Points a problem that has no formula span at where its table, column or
/// view is declared, when the schema came from a file.
fn locate(schema: &Schema, p: &mut SchemaProblem) {
    if p.diagnostic.is_some() {
        return;
    }
    let declared = match &p.view {
        Some(v) => schema
            .views
            .iter()
            .find(|s| s.name.trim() == v)
            .and_then(|s| s.declared.clone()),
        None => schema
            .tables
            .iter()
            .find(|t| t.name.trim() == p.table)
            .and_then(|t| {
                match &p.column {
                    Some(c) => t
                        .columns
                        .iter()
                        .find(|col| col.name.trim() == c)
                        .and_then(|col| col.declared.clone()),
                    None => None,
                }
                .or_else(|| t.declared.clone())
            }),
    };
    if let Some(origin) = declared {
        p.diagnostic = Some(csip_formula::Diagnostic::error(
            csip_formula::Span::new(0, 0),
            p.message.clone(),
        ));
        p.origin = Some(origin);
    }
}

enum BindState {
    /// A column a schema change removed (or a hidden column no longer needed).
    Removed,
    Data,
    Pending(Box<csip_formula::Expr>),
    InProgress,
    Bound(Expr, StaticTy),
    Failed,
}

/// What a rebuild keeps of the workbook it replaces (a schema change): the
/// ids of its tables and columns, by their names in the new schema; its rows
/// and cells; its hidden key columns and indexes where the new schema needs
/// the same ones.
pub(crate) struct Carry<'w> {
    pub(crate) old: &'w Workbook,
    /// Folded table name (as the new schema writes it) to its id.
    pub(crate) tables: HashMap<String, TableId>,
    /// Table and folded column name (new) to its id.
    pub(crate) columns: HashMap<(TableId, String), ColumnId>,
}

pub(crate) struct Builder<'w> {
    /// What a rebuild keeps of the workbook it replaces.
    carry: Option<Carry<'w>>,
    /// The mark of the ids this build makes (tables and columns it adds).
    stamp: crate::ids::Stamp,
    /// Columns whose cells were taken over from the workbook replaced.
    carried: HashSet<ColumnId>,
    /// Text literals, one copy each.
    texts: HashMap<String, Arc<str>>,
    data: Data,
    table_names: HashMap<String, TableId>,
    column_names: Vec<HashMap<String, ColumnId>>,
    states: Vec<BindState>,
    problems: Vec<SchemaProblem>,
    sources: HashMap<ColumnId, String>,
    /// The table of the workbook's names (declared after the user's tables).
    names: Option<TableId>,
}

impl Catalog for Builder<'_> {
    fn table_by_name(&self, name: &str) -> Option<TableId> {
        self.table_names.get(&fold(name)).copied()
    }
    fn column_by_name(&self, table: TableId, name: &str) -> Option<ColumnId> {
        self.column_names
            .get(table.index())?
            .get(&fold(name))
            .copied()
    }
    fn table_name(&self, table: TableId) -> &str {
        &self.data.table(table).name
    }
    fn column_names(&self, table: TableId) -> Vec<String> {
        self.data
            .table(table)
            .columns
            .iter()
            .map(|c| self.data.column(*c).name.clone())
            .collect()
    }
    fn table_names(&self) -> Vec<String> {
        self.table_names
            .values()
            .map(|t| self.data.table(*t).name.clone())
            .collect()
    }
    fn name_column(&self, name: &str) -> Option<ColumnId> {
        self.column_names
            .get(self.names?.index())?
            .get(&fold(name))
            .copied()
    }
    fn names_table(&self) -> Option<TableId> {
        self.names
    }
    fn intern(&mut self, text: &str) -> Arc<str> {
        self.texts
            .entry(text.to_string())
            .or_insert_with(|| Arc::from(text))
            .clone()
    }

    fn column_ty(&mut self, column: ColumnId) -> StaticTy {
        if matches!(self.states[column.index()], BindState::Pending(_)) {
            self.bind_column(column);
        }
        match &self.states[column.index()] {
            BindState::Bound(_, ty) => *ty,
            BindState::Data => match self.data.column(column).target {
                Some((t, true)) => StaticTy::Rows(t),
                Some((t, false)) => StaticTy::Row(t),
                None => StaticTy::Other,
            },
            _ => StaticTy::Other,
        }
    }
}

impl<'w> Builder<'w> {
    pub(crate) fn build(schema: &Schema, clock: Clock) -> Result<Workbook, SchemaError> {
        Builder::build_with(schema, clock, None)
    }

    /// Builds `schema` into a workbook; with `carry`, one that takes the
    /// place of `carry.old`: every table and column the carry names keeps
    /// its id and its cells, new ones get new ids, the ids of what is gone
    /// stay unused, and hidden key columns and indexes the new schema needs
    /// as before are taken over. (The caller recomputes what changed.)
    pub(crate) fn build_with(
        schema: &Schema,
        clock: Clock,
        carry: Option<Carry<'w>>,
    ) -> Result<Workbook, SchemaError> {
        let mut b = Builder {
            carry,
            stamp: crate::ids::fresh_stamp(),
            carried: HashSet::new(),
            texts: HashMap::new(),
            data: Data {
                tables: Vec::new(),
                columns: Vec::new(),
                indexes: Vec::new(),
                indexes_on: Arc::default(),
                clock,
                maintained: Vec::new(),
                tallies: Vec::new(),
            },
            table_names: HashMap::new(),
            column_names: Vec::new(),
            states: Vec::new(),
            problems: Vec::new(),
            sources: HashMap::new(),
            names: None,
        };
        b.reserve_old_ids();
        b.declare_tables(schema);
        let names = b.declare_names_table();
        b.declare_columns(schema);
        b.declare_names(schema, names);
        b.carry_cells();
        if b.carry.is_none() {
            // The names' one row.
            b.data.push_row(names, false);
        }
        for i in 0..b.states.len() {
            if matches!(b.states[i], BindState::Pending(_)) {
                b.bind_column(b.data.columns[i].id);
            }
        }
        let mut views = b.bind_views(schema);
        b.check_formula_types();
        if !b.problems.is_empty() {
            // In schema order, whatever stage found them.
            let place = |p: &SchemaProblem| {
                if let Some(v) = &p.view {
                    let v = schema
                        .views
                        .iter()
                        .position(|s| s.name.trim() == v)
                        .unwrap_or(usize::MAX);
                    return (schema.tables.len() + 1, v);
                }
                let t = schema
                    .tables
                    .iter()
                    .position(|t| t.name.trim() == p.table)
                    .unwrap_or(usize::MAX);
                let c = p.column.as_ref().and_then(|c| {
                    schema
                        .tables
                        .get(t)?
                        .columns
                        .iter()
                        .position(|col| col.name.trim() == c)
                });
                (t, c.map_or(0, |c| c + 1))
            };
            let mut problems = b.problems;
            for p in &mut problems {
                locate(schema, p);
            }
            problems.sort_by_key(place);
            return Err(SchemaError { problems });
        }
        b.install_formulas();
        b.plan_indexes();
        for view in &mut views {
            b.plan_view(view);
        }
        let graph = b.build_graph();
        let columns = b.data.columns.len();
        let static_types = b
            .states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                BindState::Bound(_, ty) => Some((b.data.columns[i].id, *ty)),
                _ => None,
            })
            .collect();
        let mut data = b.data;
        if b.carry.is_none() {
            // The tables are empty; the names' row is computed now.
            crate::recalc::full(&mut data, &graph);
        }
        Ok(Workbook {
            data,
            graph: Arc::new(graph),
            dirty: Dirty::new(columns),
            table_names: Arc::new(b.table_names),
            column_names: Arc::new(b.column_names),
            sources: Arc::new(b.sources),
            trace: None,
            static_types: Arc::new(static_types),
            views: Arc::new(views),
            history: crate::history::History::new(crate::history::DEFAULT_UNDO_LIMIT),
            feed: crate::history::Feed::default(),
            schema: Arc::new(schema.clone()),
            names,
        })
    }

    /// The table that holds the workbook's names: one row, a formula column
    /// per name. It is in no name lookup (`[X]` finds a name through
    /// [`Catalog::name_column`]) and not among [`Workbook::tables`].
    fn declare_names_table(&mut self) -> TableId {
        let kept = self.carry.as_ref().map(|c| c.old.names);
        let id = match kept {
            Some(id) => {
                self.data.tables[id.index()] = Table::new(id, NAMES_TABLE.to_string());
                id
            }
            None => {
                let id = TableId::new(self.data.tables.len(), self.stamp);
                self.data
                    .tables
                    .push(Table::new(id, NAMES_TABLE.to_string()));
                self.column_names.push(HashMap::new());
                id
            }
        };
        self.names = Some(id);
        id
    }

    fn declare_names(&mut self, schema: &Schema, names: TableId) {
        for cs in &schema.names {
            let name = cs.name.trim();
            if self.table_names.contains_key(&fold(name)) {
                self.problem(
                    NAMES_TABLE,
                    Some(name),
                    format!("the name `{name}` is a table's name too: `[{name}]` would mean the table; choose another name"),
                );
                continue;
            }
            if cs.formula.is_none() {
                self.problem(
                    NAMES_TABLE,
                    Some(name),
                    format!("the name `{name}` has no formula: a named value is a formula too (`110`, `\"EMEA\"`, `Date(2026, 1, 31)`)"),
                );
                continue;
            }
            self.declare_column(names, cs);
        }
    }

    /// In a rebuild, every id the old workbook gave is held first: tables
    /// and columns the new schema keeps take theirs back as they are
    /// declared; the rest stay removed, never given to another.
    fn reserve_old_ids(&mut self) {
        let Some(carry) = &self.carry else { return };
        let old = &carry.old.data;
        for t in &old.tables {
            self.data.tables.push(Table::new(t.id, t.name.clone()));
            self.column_names.push(HashMap::new());
        }
        for c in &old.columns {
            self.data.columns.push(Column::new(
                ColumnMeta {
                    kind: ColumnKind::Removed,
                    ..(**c).clone()
                },
                crate::store::Store::default(),
            ));
            Arc::make_mut(&mut self.data.indexes_on).push(Vec::new());
            self.states.push(BindState::Removed);
        }
    }

    /// In a rebuild, the rows of every old table and the cells of every
    /// column kept; a new column of an old table starts Blank on its rows.
    fn carry_cells(&mut self) {
        let Some(carry) = &self.carry else { return };
        let old = &carry.old.data;
        for (i, t) in old.tables.iter().enumerate() {
            self.data.tables[i].take_rows(t);
        }
        for i in 0..self.data.columns.len() {
            let c = self.data.columns[i].id;
            if matches!(self.states[i], BindState::Removed) {
                continue;
            }
            let keeps = old
                .columns
                .get(i)
                .is_some_and(|o| !matches!(o.kind, ColumnKind::Removed));
            if keeps {
                self.data.columns[i].values = old.columns[i].values.clone();
                self.carried.insert(c);
            } else {
                let slots = self.data.table(self.data.column(c).table).slots();
                self.data.columns[i].values = crate::store::Store::blank(slots);
            }
        }
    }

    /// The index of a column in a mode: the one the replaced workbook had,
    /// when the column's cells were taken over, else one built now.
    fn index(&mut self, column: ColumnId, mode: IndexMode) -> crate::index::IndexId {
        if let Some(i) = self.data.find_index(column, mode) {
            return i;
        }
        if self.carried.contains(&column) {
            if let Some(carry) = &self.carry {
                let old = &carry.old.data;
                if let Some(i) = old.find_index(column, mode) {
                    return self.data.adopt_index(column, old.index(i).clone());
                }
            }
        }
        self.data.ensure_index(column, mode)
    }

    fn problem(&mut self, table: &str, column: Option<&str>, message: String) {
        self.problems.push(SchemaProblem {
            table: table.to_string(),
            column: column.map(str::to_string),
            view: None,
            kind: ErrorKind::InvalidArgument,
            message,
            diagnostic: None,
            origin: None,
        });
    }

    fn declare_tables(&mut self, schema: &Schema) {
        for ts in &schema.tables {
            let name = ts.name.trim();
            if name.is_empty() {
                self.problem("", None, "a table has no name".into());
                continue;
            }
            if self.table_names.contains_key(&fold(name)) {
                self.problem(
                    name,
                    None,
                    format!("a second table is named `{name}`; table names must be unique"),
                );
                continue;
            }
            let kept = self
                .carry
                .as_ref()
                .and_then(|c| c.tables.get(&fold(name)).copied());
            let id = match kept {
                Some(id) => {
                    self.data.tables[id.index()] = Table::new(id, name.to_string());
                    id
                }
                None => {
                    let id = TableId::new(self.data.tables.len(), self.stamp);
                    self.data.tables.push(Table::new(id, name.to_string()));
                    self.column_names.push(HashMap::new());
                    id
                }
            };
            self.table_names.insert(fold(name), id);
            if ts.columns.is_empty() {
                self.problem(name, None, format!("table `{name}` has no columns"));
            }
        }
    }

    fn declare_columns(&mut self, schema: &Schema) {
        for ts in &schema.tables {
            let Some(&table) = self.table_names.get(&fold(&ts.name)) else {
                continue;
            };
            if self.data.table(table).name != ts.name.trim() {
                continue; // a duplicate table, already reported
            }
            for cs in &ts.columns {
                self.declare_column(table, cs);
            }
            let t = &self.data.tables[table.index()];
            let display = match &ts.display_column {
                None => t.columns.first().copied(),
                Some(name) => {
                    let found = self.column_names[table.index()].get(&fold(name)).copied();
                    if found.is_none() {
                        let table_name = t.name.clone();
                        self.problem(
                            &table_name,
                            None,
                            format!(
                                "the display column `{name}` is not a column of `{table_name}`"
                            ),
                        );
                    }
                    found
                }
            };
            self.data.tables[table.index()].display = display;
        }
    }

    fn declare_column(&mut self, table: TableId, cs: &ColumnSchema) {
        let table_name = self.data.table(table).name.clone();
        let name = cs.name.trim();
        if name.is_empty() {
            self.problem(
                &table_name,
                None,
                format!("a column of `{table_name}` has no name"),
            );
            return;
        }
        if self.column_names[table.index()].contains_key(&fold(name)) {
            self.problem(
                &table_name,
                Some(name),
                format!("`{table_name}` has two columns named `{name}`; column names must be unique in a table"),
            );
            return;
        }
        let mut target = None;
        match &cs.ty {
            ColumnType::Relation { table: t, multiple }
            | ColumnType::People { table: t, multiple } => match self.table_names.get(&fold(t)) {
                Some(&tid) => target = Some((tid, *multiple)),
                None => {
                    let hint = bind::did_you_mean(
                        t,
                        self.data.tables.iter().map(|t| t.name.clone()).collect(),
                    )
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                    let what = if t.is_empty() {
                        "no table".to_string()
                    } else {
                        format!("`{t}`, which is not a table")
                    };
                    self.problem(
                        &table_name,
                        Some(name),
                        format!("`{name}` refers to {what}{hint}"),
                    );
                }
            },
            ColumnType::Select(o) | ColumnType::MultiSelect(o) if o.is_empty() => {
                self.problem(
                    &table_name,
                    Some(name),
                    format!("select column `{name}` lists no options"),
                );
            }
            ColumnType::Slider { min, max } if min > max => {
                self.problem(
                    &table_name,
                    Some(name),
                    format!("slider `{name}` has its minimum {min} above its maximum {max}"),
                );
            }
            _ => {}
        }
        if cs.formula.is_some() && (cs.required || cs.unique || cs.default.is_some()) {
            self.problem(
                &table_name,
                Some(name),
                format!("formula column `{name}` cannot be required, unique or have a default: its value is computed"),
            );
        }
        let kept = self
            .carry
            .as_ref()
            .and_then(|c| c.columns.get(&(table, fold(name))).copied());
        let id = kept.unwrap_or_else(|| ColumnId::new(self.data.columns.len(), self.stamp));
        let column = Column::new(
            ColumnMeta {
                id,
                table,
                name: name.to_string(),
                schema: cs.clone(),
                target,
                row_table: target.map(|(t, _)| t),
                kind: ColumnKind::Data,
            },
            crate::store::Store::blank(0),
        );
        match kept {
            Some(id) => self.data.columns[id.index()] = column,
            None => {
                self.data.columns.push(column);
                Arc::make_mut(&mut self.data.indexes_on).push(Vec::new());
                self.states.push(BindState::Removed);
            }
        }
        self.column_names[table.index()].insert(fold(name), id);
        self.data.tables[table.index()].columns.push(id);
        let state = match &cs.formula {
            None => BindState::Data,
            Some(text) => {
                self.sources.insert(id, text.clone());
                match csip_formula::parse(text) {
                    Ok(ast) => BindState::Pending(Box::new(ast)),
                    Err(e) => {
                        self.problems.push(SchemaProblem {
                            table: table_name.clone(),
                            column: Some(name.to_string()),
                            view: None,
                            kind: ErrorKind::Parse,
                            message: e.message().to_string(),
                            diagnostic: Some(e.diagnostic().clone()),
                            origin: cs
                                .origin
                                .clone()
                                .or_else(|| Some(crate::error::inline_origin(text))),
                        });
                        BindState::Failed
                    }
                }
            }
        };
        self.states[id.index()] = state;
        if let Some(default) = &cs.default {
            if cs.formula.is_none() && target.is_none() {
                if let Err(r) = crate::coerce::coerce(&self.data, id, default.clone()) {
                    self.problem(
                        &table_name,
                        Some(name),
                        format!("the default of `{name}` {}", r.message),
                    );
                }
            }
        }
    }

    fn bind_column(&mut self, column: ColumnId) {
        let BindState::Pending(ast) =
            std::mem::replace(&mut self.states[column.index()], BindState::InProgress)
        else {
            return;
        };
        let table = self.data.column(column).table;
        let result = bind::bind(
            &ast,
            Scope {
                this_table: Some(table),
                params: &[],
            },
            self,
        );
        self.states[column.index()] = match result {
            Ok((expr, ty)) => {
                let ty = match (ty, self.data.column(column).target) {
                    (StaticTy::Other, Some((t, true))) => StaticTy::Rows(t),
                    (StaticTy::Other, Some((t, false))) => StaticTy::Row(t),
                    (ty, _) => ty,
                };
                BindState::Bound(expr, ty)
            }
            Err(errors) => {
                self.report_bind_errors(column, errors);
                BindState::Failed
            }
        };
    }

    fn report_bind_errors(&mut self, column: ColumnId, errors: Vec<BindError>) {
        let c = self.data.column(column);
        let table = self.data.table(c.table).name.clone();
        let name = c.name.clone();
        let origin = c
            .schema
            .origin
            .clone()
            .or_else(|| c.schema.formula.as_deref().map(crate::error::inline_origin));
        for e in errors {
            self.problems.push(SchemaProblem {
                table: table.clone(),
                column: Some(name.clone()),
                view: None,
                kind: e.kind,
                message: e.diagnostic.message.clone(),
                diagnostic: Some(e.diagnostic),
                origin: origin.clone(),
            });
        }
    }

    /// What binding knows of a formula's type against its column's: rows of
    /// one table in a column that holds rows of another, or no rows at all;
    /// a literal of another type. (The rest shows in the cells: a value the
    /// column cannot hold is a `type mismatch` there.)
    fn check_formula_types(&mut self) {
        let mut found = Vec::new();
        for i in 0..self.states.len() {
            let BindState::Bound(expr, ty) = &self.states[i] else {
                continue;
            };
            let c = self.data.columns[i].id;
            let column = self.data.column(c);
            let table = self.data.table(column.table).name.clone();
            let relation_to = match column.schema.ty {
                ColumnType::Relation { .. } | ColumnType::People { .. } => {
                    column.target.map(|(t, _)| t)
                }
                _ => None,
            };
            let problem = match (ty, relation_to) {
                (StaticTy::Row(t) | StaticTy::Rows(t), Some(u)) if *t != u => Some(format!(
                    "its formula gives rows of `{}`, but the column relates to `{}`",
                    self.data.table(*t).name,
                    self.data.table(u).name
                )),
                (StaticTy::Row(t) | StaticTy::Rows(t), None) => Some(format!(
                    "its formula gives rows of `{0}`, but it is a {1} column: make it a relation to `{0}`, or read a column of the rows (`.[Name]`)",
                    self.data.table(*t).name,
                    column.schema.ty
                )),
                _ => match expr {
                    Expr::Lit(v) => match crate::coerce::conform(&self.data, c, v.clone()) {
                        Value::Error(e) if !matches!(v, Value::Error(_)) => Some(e.message.clone()),
                        _ => None,
                    },
                    _ => None,
                },
            };
            if let Some(message) = problem {
                found.push((table, column.name.clone(), message));
            }
        }
        for (table, name, message) in found {
            self.problems.push(SchemaProblem {
                table,
                column: Some(name),
                view: None,
                kind: ErrorKind::TypeMismatch,
                message,
                diagnostic: None,
                origin: None,
            });
        }
    }

    fn install_formulas(&mut self) {
        for i in 0..self.states.len() {
            if let BindState::Bound(expr, ty) = &self.states[i] {
                let col = &mut self.data.columns[i];
                col.row_table = match ty {
                    StaticTy::Row(t) | StaticTy::Rows(t) => Some(*t),
                    StaticTy::Other => None,
                };
                col.kind = ColumnKind::Formula(Arc::new(Formula {
                    expr: expr.clone(),
                    rank: 0,
                    cyclic: false,
                }));
            }
        }
    }

    /// Gives each key predicate of each formula column its index: the item key
    /// column (a data column, or a hidden formula column) with a whole-value
    /// index, and the outer key column with one too.
    fn plan_indexes(&mut self) {
        let formula_columns: Vec<ColumnId> = (0..self.data.columns.len())
            .map(|i| self.data.columns[i].id)
            .filter(|c| self.data.column(*c).formula().is_some())
            .collect();
        for col in formula_columns {
            let table = self.data.column(col).table;
            let Some(f) = self.data.column(col).formula() else {
                continue;
            };
            let mut expr = f.expr.clone();
            visit_filters_mut(&mut expr, &mut |fx| self.plan_filter(table, fx));
            if let ColumnKind::Formula(f) = &mut self.data.columns[col.index()].kind {
                Arc::make_mut(f).expr = expr;
            }
        }
        // Reverse indexes for cascades on delete and for text references.
        for i in 0..self.data.columns.len() {
            let c = self.data.columns[i].id;
            let column = self.data.column(c);
            if let (ColumnKind::Data, Some((target, _))) = (&column.kind, column.target) {
                let unique = column.schema.unique;
                self.index(c, IndexMode::Elements);
                if let Some(display) = self.data.table(target).display {
                    self.index(display, IndexMode::Whole);
                }
                if unique {
                    self.index(c, IndexMode::Whole);
                }
            } else if column.schema.unique {
                self.index(c, IndexMode::Whole);
            }
        }
    }

    /// Declares and binds every view; problems are reported, not fatal here.
    fn bind_views(&mut self, schema: &Schema) -> Vec<crate::view::View> {
        let mut views: Vec<crate::view::View> = Vec::new();
        let mut includes: Vec<Vec<String>> = Vec::new();
        for vs in &schema.views {
            let name = vs.name.trim().to_string();
            let problem = |b: &mut Builder, message: String| {
                b.problems.push(SchemaProblem {
                    table: vs.table.clone(),
                    column: None,
                    view: Some(name.clone()),
                    kind: ErrorKind::InvalidArgument,
                    message,
                    diagnostic: None,
                    origin: None,
                });
            };
            if name.is_empty() {
                problem(self, "a view has no name".into());
                continue;
            }

            let Some(table) = self.table_by_name(&vs.table) else {
                let hint = bind::did_you_mean(&vs.table, self.table_names())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                problem(self, format!("`{}` is not a table{hint}", vs.table));
                continue;
            };
            if views
                .iter()
                .any(|v| v.table == table && v.name.eq_ignore_ascii_case(&name))
            {
                problem(
                    self,
                    format!(
                        "`{}` has a second view named `{name}`; a table's view names must be unique",
                        vs.table
                    ),
                );
                continue;
            }
            let mut infos = Vec::new();
            let mut targets = Vec::new();
            for p in &vs.params {
                let target = match p.ty.target() {
                    Some((t, multiple)) => match self.table_by_name(t) {
                        Some(tid) => Some((tid, multiple)),
                        None => {
                            problem(
                                self,
                                format!(
                                    "the parameter `{}` refers to `{t}`, which is not a table",
                                    p.name
                                ),
                            );
                            None
                        }
                    },
                    None => None,
                };
                let ty = match target {
                    Some((t, true)) => StaticTy::Rows(t),
                    Some((t, false)) => StaticTy::Row(t),
                    None => StaticTy::Other,
                };
                infos.push(bind::ParamInfo {
                    name: p.name.clone(),
                    ty,
                });
                targets.push(target);
            }
            let row_scope = Scope {
                this_table: Some(table),
                params: &infos,
            };
            let filter = vs
                .filter
                .as_ref()
                .and_then(|f| self.bind_view_formula(&name, &vs.table, f, row_scope));
            let mut fields: Vec<(String, Expr)> = Vec::new();
            if vs.fields.is_empty() {
                for &c in &self.data.table(table).columns {
                    fields.push((self.data.column(c).name.clone(), Expr::Col(c)));
                }
            }
            for f in &vs.fields {
                let expr = match &f.formula {
                    Some(formula) => self.bind_view_formula(&name, &vs.table, formula, row_scope),
                    None => match self.column_by_name(table, &f.name) {
                        Some(c) => Some(Expr::Col(c)),
                        None => {
                            problem(
                                self,
                                format!("`{}` has no column `{}` to show", vs.table, f.name),
                            );
                            None
                        }
                    },
                };
                if let Some(e) = expr {
                    fields.push((f.name.clone(), e));
                }
            }
            // A sort or group key names a field of the view or a column of its table.
            let key = |b: &mut Builder, key: &str| -> Option<Expr> {
                if let Some((_, e)) = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(key)) {
                    return Some(e.clone());
                }
                if let Some(c) = b.column_by_name(table, key) {
                    return Some(Expr::Col(c));
                }
                problem(
                    b,
                    format!(
                        "`{key}` is neither a field of the view nor a column of `{}`",
                        vs.table
                    ),
                );
                None
            };
            let sort = vs
                .sort
                .iter()
                .filter_map(|k| key(self, &k.field).map(|e| (e, k.descending)))
                .collect();
            let group_by = vs.group_by.as_ref().and_then(|g| key(self, g));
            let no_row = Scope {
                this_table: None,
                params: &infos,
            };
            let tiles = vs
                .tiles
                .iter()
                .filter_map(|t| {
                    Some((
                        t.name.clone(),
                        self.bind_view_formula(&name, &vs.table, &t.formula, no_row)?,
                    ))
                })
                .collect();
            views.push(crate::view::View {
                name: name.clone(),
                table,
                layout: vs.layout,
                filter,
                fields,
                sort,
                group_by,
                group_order: vs.group_order.iter().map(Value::text).collect(),
                params: vs.params.clone(),
                param_targets: targets,
                tiles,
                include: Vec::new(),
                comment: vs.comment.clone(),
                keys: None,
                tile_plans: Vec::new(),
            });
            includes.push(vs.include.clone());
        }
        // Included views, by name; a view may not include itself, even through others.
        for (i, names) in includes.iter().enumerate() {
            for n in names {
                let found = crate::view::find_view(
                    &views,
                    |t| self.data.table(t).name.as_str(),
                    n,
                    Some(views[i].table),
                );
                match found {
                    Ok(j) => views[i].include.push(j),
                    Err(_) => self.problems.push(SchemaProblem {
                        table: self.data.table(views[i].table).name.clone(),
                        column: None,
                        view: Some(views[i].name.clone()),
                        kind: ErrorKind::UnknownName,
                                                message: format!(
                            "it includes `{n}`, which is not one view (write `Table/View` where several tables have it)"
                        ),
                        diagnostic: None,
                        origin: None,
                    }),
                }
            }
        }
        for i in 0..views.len() {
            let mut stack = views[i].include.clone();
            let mut seen = HashSet::new();
            while let Some(j) = stack.pop() {
                if j == i {
                    self.problems.push(SchemaProblem {
                        table: self.data.table(views[i].table).name.clone(),
                        column: None,
                        view: Some(views[i].name.clone()),
                        kind: ErrorKind::Cycle,
                        message: "it includes itself (through the views it includes)".into(),
                        diagnostic: None,
                        origin: None,
                    });
                    break;
                }
                if seen.insert(j) {
                    stack.extend(views[j].include.iter().copied());
                }
            }
        }
        views
    }

    fn bind_view_formula(
        &mut self,
        view: &str,
        table: &str,
        formula: &crate::schema::FormulaText,
        scope: Scope<'_>,
    ) -> Option<Expr> {
        let origin = formula
            .origin
            .clone()
            .unwrap_or_else(|| crate::error::inline_origin(&formula.text));
        let ast = match csip_formula::parse(&formula.text) {
            Ok(ast) => ast,
            Err(e) => {
                self.problems.push(SchemaProblem {
                    table: table.to_string(),
                    column: None,
                    view: Some(view.to_string()),
                    kind: ErrorKind::Parse,
                    message: e.message().to_string(),
                    diagnostic: Some(e.diagnostic().clone()),
                    origin: Some(origin),
                });
                return None;
            }
        };
        match bind::bind(&ast, scope, self) {
            Ok((expr, _)) => Some(expr),
            Err(errors) => {
                for e in errors {
                    self.problems.push(SchemaProblem {
                        table: table.to_string(),
                        column: None,
                        view: Some(view.to_string()),
                        kind: e.kind,
                        message: e.diagnostic.message.clone(),
                        diagnostic: Some(e.diagnostic),
                        origin: Some(origin.clone()),
                    });
                }
                None
            }
        }
    }

    /// A view's predicates use the item indexes columns use (creating hidden key
    /// columns where needed); their outer keys are evaluated, since views are
    /// evaluated on demand and not recalculated.
    fn plan_view(&mut self, view: &mut crate::view::View) {
        view.keys = self.view_keys(view).map(Arc::new);
        view.tile_plans = (0..view.tiles.len())
            .map(|i| {
                let mut template = view.tiles[i].1.clone();
                let mut tallies = Vec::new();
                self.tally_in(&mut template, view.params.len(), &mut tallies);
                (!tallies.is_empty())
                    .then(|| Arc::new(crate::maintain::TilePlan { template, tallies }))
            })
            .collect();
        let plan = |b: &mut Builder, e: &mut Expr| {
            visit_filters_mut(e, &mut |fx| {
                let (Expr::Table(u), Some(key)) = (&fx.source, &mut fx.key) else {
                    return;
                };
                let u = *u;
                let item_column = match &key.item_key {
                    Expr::Col(c) => *c,
                    other => b.hidden_column(u, other.clone()),
                };
                let item_index = b.index(item_column, IndexMode::Whole);
                key.plan = Some(IndexPlan {
                    item_index,
                    item_column,
                    outer: OuterKey::Evaluate,
                    guarded: 0,
                });
            });
        };
        if let Some(f) = &mut view.filter {
            plan(self, f);
        }
        for (_, e) in view.fields.iter_mut().chain(view.tiles.iter_mut()) {
            plan(self, e);
        }
        for (e, _) in &mut view.sort {
            plan(self, e);
        }
        if let Some(g) = &mut view.group_by {
            plan(self, g);
        }
    }

    /// The columns a view's rows can be kept in order by (`maintain.rs`):
    /// its filter, group and sort keys, each a column of its table or a
    /// hidden formula column computing it (a row sorts by what it shows:
    /// its display column's text, read through the relation so that
    /// recalculation follows a renamed row). `None` when a key reads a
    /// parameter, or sorts by a list of rows or by a row whose display is
    /// itself a row: such a view is evaluated when asked.
    fn view_keys(&mut self, view: &crate::view::View) -> Option<crate::maintain::ViewKeys> {
        let mut params = false;
        for e in view
            .filter
            .iter()
            .chain(view.group_by.iter())
            .chain(view.sort.iter().map(|(e, _)| e))
        {
            e.walk(&mut |n| params |= matches!(n, Expr::Param(_)));
        }
        if params {
            return None;
        }
        let table = view.table;
        let column = |b: &mut Builder, e: &Expr| -> ColumnId {
            match e {
                Expr::Col(c) => *c,
                other => {
                    let mut e = other.clone();
                    visit_filters_mut(&mut e, &mut |fx| b.plan_filter(table, fx));
                    b.hidden_column(table, e)
                }
            }
        };
        let filter = view.filter.as_ref().map(|f| column(self, f));
        let group = view.group_by.as_ref().map(|g| column(self, g));
        let mut sort = Vec::with_capacity(view.sort.len());
        for (e, descending) in &view.sort {
            let key = match self.row_target(e)? {
                None => column(self, e),
                Some(target) => {
                    let shown = self.data.table(target).display?;
                    if self.row_target(&Expr::Col(shown))?.is_some() {
                        return None;
                    }
                    // If(IsBlank(e), Blank, IfError(ToText(e.[Display]), "")):
                    // what `display` shows of the row, and Blank as Blank.
                    use crate::functions::Function as F;
                    let call = |f: F, args: Vec<Expr>| Expr::Call(f, args.into_boxed_slice());
                    let shows = call(
                        F::IfError,
                        vec![
                            call(
                                F::ToText,
                                vec![Expr::Project {
                                    target: Box::new(e.clone()),
                                    col: shown,
                                }],
                            ),
                            Expr::Lit(Value::from("")),
                        ],
                    );
                    column(
                        self,
                        &call(
                            F::If,
                            vec![
                                call(F::IsBlank, vec![e.clone()]),
                                Expr::Lit(Value::Blank),
                                shows,
                            ],
                        ),
                    )
                }
            };
            sort.push((key, *descending));
        }
        Some(crate::maintain::ViewKeys {
            filter,
            group,
            sort,
            group_order: view.group_order.clone(),
        })
    }

    /// Replaces each aggregate in a tile's formula that can be tallied
    /// (`maintain.rs`) by the parameter that will hold its value, after the
    /// view's `params` and the tallies found before it.
    fn tally_in(&mut self, e: &mut Expr, params: usize, out: &mut Vec<crate::maintain::TallySpec>) {
        if let Some(spec) = self.tally_spec(e) {
            if let Ok(slot) = u8::try_from(params + out.len()) {
                out.push(spec);
                *e = Expr::Param(slot);
            }
            return;
        }
        match e {
            Expr::Neg(x) | Expr::Not(x) => self.tally_in(x, params, out),
            Expr::Binary(_, l, r) => {
                self.tally_in(l, params, out);
                self.tally_in(r, params, out);
            }
            Expr::Call(_, args) => {
                for a in args.iter_mut() {
                    self.tally_in(a, params, out);
                }
            }
            _ => {}
        }
    }

    /// The tally an aggregate is kept as: `CountIf(T, p)`, or `Count`,
    /// `Sum`, `Average`, `Min` or `Max` of `T.[c]` or of
    /// `Filter(T, p).[c]`, where `p` reads only the item (no parameter,
    /// no other predicate) and `c` holds one value per row.
    fn tally_spec(&mut self, e: &Expr) -> Option<crate::maintain::TallySpec> {
        use crate::expr::FilterMode;
        use crate::functions::Function as F;
        use crate::maintain::{TallyKind, TallySpec};
        let predicate = |fx: &FilterExpr| -> Option<(TableId, Expr)> {
            let Expr::Table(t) = fx.source else {
                return None;
            };
            if !fx.conjuncts.iter().all(|c| bind::is_item_only(c, fx.level)) {
                return None;
            }
            let mut conjuncts = fx.conjuncts.iter().map(|c| bind::to_row_scope(c, fx.level));
            let first = conjuncts.next()?;
            let all = conjuncts.fold(first, |l, r| {
                Expr::Binary(csip_formula::BinaryOp::And, Box::new(l), Box::new(r))
            });
            Some((t, all))
        };
        let (table, per_row, kind) = match e {
            Expr::Filter(fx) if fx.mode == FilterMode::CountIf => {
                let (t, p) = predicate(fx)?;
                (t, p, TallyKind::CountIf)
            }
            Expr::Call(f, args) if args.len() == 1 => {
                let kind = match f {
                    F::Count => TallyKind::Count,
                    F::Sum => TallyKind::Sum,
                    F::Average => TallyKind::Average,
                    F::Min => TallyKind::Min,
                    F::Max => TallyKind::Max,
                    _ => return None,
                };
                let Expr::Project { target, col } = &args[0] else {
                    return None;
                };
                if self.data.column(*col).is_multi_valued() {
                    return None;
                }
                match &**target {
                    Expr::Table(t) if self.data.column(*col).table == *t => {
                        (*t, Expr::Col(*col), kind)
                    }
                    Expr::Filter(fx) if fx.mode == FilterMode::Filter => {
                        let (t, p) = predicate(fx)?;
                        if self.data.column(*col).table != t {
                            return None;
                        }
                        let value = Expr::Call(
                            F::If,
                            vec![p, Expr::Col(*col), Expr::Lit(Value::Blank)].into_boxed_slice(),
                        );
                        (t, value, kind)
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };
        let column = match per_row {
            Expr::Col(c) => c,
            mut other => {
                visit_filters_mut(&mut other, &mut |fx| self.plan_filter(table, fx));
                self.hidden_column(table, other)
            }
        };
        Some(TallySpec {
            table,
            column,
            kind,
            fallback: e.clone(),
        })
    }

    /// Whether a sort key is a column of rows: `Ok(Some(table))` for one row
    /// of `table`, `Ok(None)` for no row; `None` for a list of rows or an
    /// expression other than a column (whose values the view cannot know).
    fn row_target(&self, e: &Expr) -> Option<Option<TableId>> {
        let Expr::Col(c) = e else {
            return Some(None).filter(|_| !self.may_give_rows(e));
        };
        let column = self.data.column(*c);
        match (&column.kind, column.target) {
            (_, Some((_, true))) => None,
            (_, Some((t, false))) => Some(Some(t)),
            _ => match self.states.get(c.index()) {
                Some(BindState::Bound(_, StaticTy::Row(t))) => Some(Some(*t)),
                Some(BindState::Bound(_, StaticTy::Rows(_))) => None,
                _ => Some(None).filter(|_| column.row_table.is_none()),
            },
        }
    }

    /// Whether an expression other than a column may give rows (it reads a
    /// column of rows, a row or a table).
    fn may_give_rows(&self, e: &Expr) -> bool {
        let mut rows = false;
        e.walk(&mut |n| match n {
            Expr::Col(c) | Expr::ItemCol { col: c, .. } | Expr::Project { col: c, .. } => {
                rows |= self.data.column(*c).row_table.is_some()
                    || self.data.column(*c).target.is_some();
            }
            Expr::ThisRow | Expr::Item { .. } | Expr::Table(_) | Expr::Filter(_) => rows = true,
            _ => {}
        });
        rows
    }

    fn plan_filter(&mut self, table: TableId, fx: &mut FilterExpr) {
        let (Expr::Table(u), Some(key)) = (&fx.source, &mut fx.key) else {
            return;
        };
        let u = *u;
        // The conjuncts right after the key that read only the item fold into
        // the item key column (see `IndexPlan::guarded`).
        let guards: Vec<Expr> = fx
            .conjuncts
            .iter()
            .skip(1)
            .take(usize::from(u8::MAX))
            .take_while(|c| self.is_guard(c, fx.level))
            .map(|c| crate::bind::to_row_scope(c, fx.level))
            .collect();
        let guarded = u8::try_from(guards.len()).unwrap_or(0);
        let item_column = match (&key.item_key, guards.is_empty()) {
            (Expr::Col(c), true) => *c,
            (other, true) => self.hidden_column(u, other.clone()),
            (other, false) => self.hidden_column(
                u,
                Expr::Guard {
                    key: Box::new(other.clone()),
                    guards: guards.into_boxed_slice(),
                },
            ),
        };
        let outer = match &key.outer_key {
            Expr::ThisRow => OuterKey::ThisRow,
            Expr::Col(c) => OuterKey::Column(*c),
            other => OuterKey::Column(self.hidden_column(table, other.clone())),
        };
        if let OuterKey::Column(c) = outer {
            self.index(c, IndexMode::Whole);
        }
        let mode = if guarded > 0 {
            IndexMode::Guarded
        } else {
            IndexMode::Whole
        };
        let item_index = self.index(item_column, mode);
        key.plan = Some(IndexPlan {
            item_index,
            item_column,
            outer,
            guarded,
        });
    }

    /// Whether a conjunct can fold into a guarded item key column: it reads
    /// only the item, and of it only data columns (through relations too), so
    /// the guarded column can never be part of a dependency cycle.
    fn is_guard(&self, e: &Expr, level: u8) -> bool {
        let mut data_only = true;
        e.walk(&mut |n| {
            if let Expr::ItemCol { col, .. } | Expr::Project { col, .. } | Expr::Col(col) = n {
                data_only &= self.data.column(*col).formula().is_none();
            }
        });
        data_only && crate::bind::is_item_only(e, level)
    }

    /// A hidden formula column of `table` computing `expr`, shared by every
    /// predicate that keys on the same expression.
    fn hidden_column(&mut self, table: TableId, expr: Expr) -> ColumnId {
        for &h in &self.data.table(table).hidden {
            if let ColumnKind::Hidden(f) = &self.data.column(h).kind {
                if f.expr == expr {
                    return h;
                }
            }
        }
        // In a rebuild, the replaced workbook's column for the same key, with
        // its cells (recomputed if what it reads changed).
        if let Some(carry) = &self.carry {
            let old = &carry.old.data;
            let reuse = old.table(table).hidden.iter().copied().find(|h| {
                matches!(&old.column(*h).kind, ColumnKind::Hidden(f) if f.expr == expr)
                    && matches!(self.states[h.index()], BindState::Removed)
            });
            if let Some(h) = reuse {
                self.data.columns[h.index()] = old.column(h).clone();
                self.states[h.index()] = BindState::Data;
                self.carried.insert(h);
                self.data.tables[table.index()].hidden.push(h);
                return h;
            }
        }
        let id = ColumnId::new(self.data.columns.len(), self.stamp);
        let n = self.data.table(table).hidden.len();
        let name = format!("#key{n}");
        let slots = self.data.table(table).slots();
        self.data.columns.push(Column::new(
            ColumnMeta {
                id,
                table,
                name: name.clone(),
                schema: ColumnSchema::data(name, ColumnType::Text),
                target: None,
                row_table: None,
                kind: ColumnKind::Hidden(Arc::new(Formula {
                    expr,
                    rank: 0,
                    cyclic: false,
                })),
            },
            crate::store::Store::blank(slots),
        ));
        Arc::make_mut(&mut self.data.indexes_on).push(Vec::new());
        self.data.tables[table.index()].hidden.push(id);
        id
    }

    fn build_graph(&mut self) -> Graph {
        use petgraph::graph::{DiGraph, NodeIndex};
        let columns = self.data.columns.len();
        let tables = self.data.tables.len();
        let nodes = columns + 2 * tables + 1;
        let mut graph = Graph {
            dependents: vec![Vec::new(); nodes],
            order: Vec::new(),
            cycles: Vec::new(),
            columns,
        };
        let mut pg: DiGraph<(), ()> = DiGraph::with_capacity(nodes, 0);
        for _ in 0..nodes {
            pg.add_node(());
        }
        let mut self_loops = HashSet::new();
        for i in 0..columns {
            let col = self.data.columns[i].id;
            let column = self.data.column(col);
            let Some(f) = column.formula() else { continue };
            let table = column.table;
            for (node, path) in deps::dependencies(&self.data, table, &f.expr) {
                for step in &path {
                    if let deps::Step::Rev { column, .. } = step {
                        self.index(*column, IndexMode::Elements);
                    }
                }
                let n = graph.node_index(node);
                if n == i {
                    self_loops.insert(i);
                }
                pg.update_edge(NodeIndex::new(n), NodeIndex::new(i), ());
                graph.dependents[n].push(Dependent { target: col, path });
            }
        }
        // tarjan_scc yields components in reverse topological order.
        let sccs = petgraph::algo::tarjan_scc(&pg);
        let mut rank = 0u32;
        for scc in sccs.iter().rev() {
            let cyclic = scc.len() > 1 || scc.iter().any(|n| self_loops.contains(&n.index()));
            if cyclic {
                let mut members: Vec<ColumnId> = scc
                    .iter()
                    .filter(|n| n.index() < columns)
                    .map(|n| self.data.columns[n.index()].id)
                    .collect();
                members.sort();
                graph.cycles.push(members);
            }
            for n in scc {
                let i = n.index();
                if i >= columns {
                    continue;
                }
                let column = &mut self.data.columns[i];
                let f = match &mut column.kind {
                    ColumnKind::Formula(f) | ColumnKind::Hidden(f) => f,
                    ColumnKind::Data | ColumnKind::Removed => continue,
                };
                let f = Arc::make_mut(f);
                f.rank = rank;
                f.cyclic = cyclic;
                rank += 1;
                graph.order.push(self.data.columns[i].id);
            }
        }
        graph
    }
}
