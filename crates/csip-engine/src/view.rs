//! Views: a filter, sort keys, grouping and fields over one table, evaluated on
//! demand with the view's parameters (DESIGN §3 "Views").

use crate::coerce::coerce_to;
use crate::data::Data;
use crate::eval::display;
use crate::eval::{EvalCtx, truthy};
use crate::expr::Expr;
use crate::ids::{RowId, TableId};
use crate::schema::{ParamSchema, ViewLayout};
use crate::value::{Key, Value, sort_order, values_equal};
use crate::workbook::Workbook;
use std::cmp::Ordering;
use std::sync::Arc;

/// A bound view.
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub(crate) name: String,
    pub(crate) table: TableId,
    pub(crate) layout: ViewLayout,
    pub(crate) filter: Option<Expr>,
    pub(crate) fields: Vec<(String, Expr)>,
    pub(crate) sort: Vec<(Expr, bool)>,
    pub(crate) group_by: Option<Expr>,
    pub(crate) group_order: Vec<Value>,
    pub(crate) params: Vec<ParamSchema>,
    /// Each parameter's relation target, for checking its value.
    pub(crate) param_targets: Vec<Option<(TableId, bool)>>,
    pub(crate) tiles: Vec<(String, Expr)>,
    pub(crate) include: Vec<usize>,
    pub(crate) comment: Option<String>,
    /// The columns its rows can be kept in order by, when it can be
    /// maintained (`maintain.rs`).
    pub(crate) keys: Option<Arc<crate::maintain::ViewKeys>>,
    /// For each tile, its aggregates kept as tallies, when it has any.
    pub(crate) tile_plans: Vec<Option<Arc<crate::maintain::TilePlan>>>,
}

/// A view evaluated: its rows, grouped, with the fields' values.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ViewResult {
    /// The view's name.
    pub name: String,
    /// The table the rows belong to.
    pub table: TableId,
    /// How the view is meant to be shown.
    pub layout: ViewLayout,
    /// The fields' names, in order; each row has a value per field.
    pub fields: Vec<String>,
    /// For each field that shows a column, the column (to format its values).
    pub field_columns: Vec<Option<crate::ids::ColumnId>>,
    /// The column the rows are grouped by, when they are grouped by a column.
    pub group_column: Option<crate::ids::ColumnId>,
    /// How many rows the whole view has, whatever the page.
    pub total: usize,
    /// How many groups the whole view has, whatever the page.
    pub group_count: usize,
    /// The groups in order (one group, with no key, when the view is not
    /// grouped); each with its count and the page of its rows.
    pub groups: Vec<ViewGroup>,
    /// The tiles' names and values (of the whole view).
    pub tiles: Vec<(String, Value)>,
    /// The views it includes: links, evaluated when asked for.
    pub included: Vec<ViewLink>,
}

/// One group of a view's rows.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ViewGroup {
    /// The value the rows share; `None` when the view is not grouped.
    pub key: Option<Value>,
    /// How many rows the group has in the whole view.
    pub count: usize,
    /// The place in the group of the first row given.
    pub offset: usize,
    /// The page of its rows asked for, in the view's order.
    pub rows: Vec<ViewRow>,
}

/// An included view: its name and the parameters the including view passes
/// it (those of the same name). Evaluate it with [`Workbook::view_page`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ViewLink {
    /// The view's name.
    pub name: String,
    /// Its table.
    pub table: TableId,
    /// The parameters passed on.
    pub params: Vec<(String, Value)>,
}

/// Which rows of a view an answer holds: of the groups from
/// `group_offset` (at most `group_limit` of them; or only the group whose
/// key is `group`), `limit` rows from `offset` in each. [`ViewPage::all`]
/// is every row of every group.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ViewPage {
    /// Rows skipped at the start of each group.
    pub offset: usize,
    /// Rows given per group at most; `None` for all.
    pub limit: Option<usize>,
    /// Groups skipped at the start.
    pub group_offset: usize,
    /// Groups given at most; `None` for all.
    pub group_limit: Option<usize>,
    /// Only the group with this key (text matches a key that shows as that
    /// text: a row by its display name, a date as written).
    pub group: Option<Value>,
}

impl ViewPage {
    /// Every row of every group.
    pub fn all() -> ViewPage {
        ViewPage::default()
    }

    /// The first `limit` rows of each group.
    pub fn first(limit: usize) -> ViewPage {
        ViewPage {
            limit: Some(limit),
            ..ViewPage::default()
        }
    }

    /// The same page, `offset` rows further into each group.
    pub fn skip(mut self, offset: usize) -> ViewPage {
        self.offset = offset;
        self
    }

    /// The same page, of the group whose key is `key` only.
    pub fn in_group(mut self, key: Value) -> ViewPage {
        self.group = Some(key);
        self
    }

    /// The same page, of at most `limit` groups from the `offset`th.
    pub fn groups(mut self, offset: usize, limit: usize) -> ViewPage {
        self.group_offset = offset;
        self.group_limit = Some(limit);
        self
    }
}

/// What a view reads ([`Workbook::view_reads`]): the columns and tables
/// whose changes may change its answer. A cache of a view's answers keeps
/// an answer across a commit that does not touch them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewReads {
    /// Columns whose cells it reads (display columns included: rows are
    /// shown and sorted by them).
    columns: rustc_hash::FxHashSet<crate::ids::ColumnId>,
    /// Tables whose rows it lists, counts or numbers.
    rows: rustc_hash::FxHashSet<TableId>,
    /// Tables any change of which may change it (those of the engine's
    /// hidden key columns it reads, which change sets do not list).
    tables: rustc_hash::FxHashSet<TableId>,
}

impl ViewReads {
    /// Whether `changes` may change the view's answer: a schema change, a
    /// changed cell of a column it reads, a row inserted into or deleted from
    /// a table it lists. Never false when the answer may differ; a move of
    /// the clock is not in a change set, and a reader takes it as a change
    /// of every view.
    pub fn touched_by(&self, changes: &crate::ChangeSet) -> bool {
        changes.schema.is_some()
            || changes
                .changes
                .iter()
                .any(|c| self.columns.contains(&c.cell.column) || self.tables.contains(&c.table))
            || changes
                .inserted
                .iter()
                .map(|(t, _)| t)
                .chain(changes.deleted.iter().map(|d| &d.table))
                .any(|t| self.rows.contains(t) || self.tables.contains(t))
    }
}

/// One row of a view.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ViewRow {
    /// The row.
    pub row: RowId,
    /// The value of each field.
    pub values: Vec<Value>,
}

impl ViewResult {
    /// How many rows the whole view has (included views not counted),
    /// whatever the page.
    pub fn row_count(&self) -> usize {
        self.total
    }

    /// The rows of the page, in order, across groups.
    pub fn rows(&self) -> impl Iterator<Item = &ViewRow> {
        self.groups.iter().flat_map(|g| g.rows.iter())
    }
}

/// A view that cannot be evaluated as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// No view has that name.
    #[error("there is no view `{name}`{}", hint.as_ref().map(|h| format!("; did you mean `{h}`?")).unwrap_or_default())]
    UnknownView {
        /// The name asked for.
        name: String,
        /// The closest view name, if one is close.
        hint: Option<String>,
    },
    /// Several tables have a view of that name.
    #[error("several tables have a view `{name}`: {}; name one as `Table/View`", candidates.join(", "))]
    AmbiguousView {
        /// The name asked for.
        name: String,
        /// The qualified names it could mean.
        candidates: Vec<String>,
    },
    /// A parameter the view does not take.
    #[error("the view `{view}` takes no parameter `{param}`; its parameters: {known}")]
    UnknownParam {
        /// The view.
        view: String,
        /// The parameter given.
        param: String,
        /// The parameters it takes.
        known: String,
    },
    /// A required parameter was not given.
    #[error("the view `{view}` needs the parameter `{param}`")]
    MissingParam {
        /// The view.
        view: String,
        /// The parameter.
        param: String,
    },
    /// A parameter's value does not fit its type.
    #[error("the parameter `{param}` of the view `{view}` {reason}")]
    BadParam {
        /// The view.
        view: String,
        /// The parameter.
        param: String,
        /// Why the value does not fit.
        reason: String,
    },
    /// The evaluation ran into a limit of its budget (steps, bytes, time,
    /// cancelled): the view has no answer.
    #[error("the view `{view}` was stopped: {reason}")]
    Limit {
        /// The view.
        view: String,
        /// The limit, as the budget names it.
        reason: String,
    },
}

/// What a view is: its name, table, parameters and description.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ViewInfo {
    /// The view's name.
    pub name: String,
    /// Its table.
    pub table: TableId,
    /// How it is meant to be shown.
    pub layout: ViewLayout,
    /// Its parameters.
    pub params: Vec<ParamSchema>,
    /// Its description.
    pub comment: Option<String>,
    /// Its fields' names, in order.
    pub fields: Vec<String>,
    /// For each field that shows a column, the column (to format its values).
    pub field_columns: Vec<Option<crate::ids::ColumnId>>,
    /// Whether its rows are grouped.
    pub grouped: bool,
    /// The column the rows are grouped by, when they are grouped by a column.
    pub group_column: Option<crate::ids::ColumnId>,
}

impl View {
    /// What the view is, without evaluating it.
    fn info(&self) -> ViewInfo {
        ViewInfo {
            name: self.name.clone(),
            table: self.table,
            layout: self.layout,
            params: self.params.clone(),
            comment: self.comment.clone(),
            fields: self.fields.iter().map(|(n, _)| n.clone()).collect(),
            field_columns: self
                .fields
                .iter()
                .map(|(_, e)| match e {
                    Expr::Col(c) => Some(*c),
                    _ => None,
                })
                .collect(),
            grouped: self.group_by.is_some(),
            group_column: match &self.group_by {
                Some(Expr::Col(c)) => Some(*c),
                _ => None,
            },
        }
    }
}

/// The view named `name` (or `Table/View`); an ambiguous bare name resolves to
/// the view of `prefer` (the including view's table) when it has one.
pub(crate) fn find_view<'t>(
    views: &[View],
    table_name: impl Fn(TableId) -> &'t str,
    name: &str,
    prefer: Option<TableId>,
) -> Result<usize, ViewError> {
    let name = name.trim();
    let (table, bare) = match name.split_once('/') {
        Some((t, v)) => (Some(t.trim()), v.trim()),
        None => (None, name),
    };
    let matches: Vec<usize> = views
        .iter()
        .enumerate()
        .filter(|(_, v)| v.name.eq_ignore_ascii_case(bare))
        .filter(|(_, v)| table.is_none_or(|t| table_name(v.table).eq_ignore_ascii_case(t)))
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(ViewError::UnknownView {
            name: name.to_string(),
            hint: crate::bind::did_you_mean(bare, views.iter().map(|v| v.name.clone()).collect()),
        }),
        many => match many.iter().find(|i| Some(views[**i].table) == prefer) {
            Some(i) => Ok(*i),
            None => Err(ViewError::AmbiguousView {
                name: name.to_string(),
                candidates: many
                    .iter()
                    .map(|i| format!("{}/{}", table_name(views[*i].table), views[*i].name))
                    .collect(),
            }),
        },
    }
}

/// What evaluating a view reads: the cells (a reader's snapshot of them)
/// and the bound views, nothing else of the workbook.
struct ViewReader<'a> {
    data: &'a Data,
    views: &'a [View],
    /// Whether a maintained view is read from its order (else evaluated,
    /// as the tests that hold the two equal do).
    use_maintained: bool,
}

impl Workbook {
    /// The views, in schema order.
    pub fn views(&self) -> Vec<ViewInfo> {
        self.views.iter().map(View::info).collect()
    }

    /// What the view `name` (or `Table/View`) is — its table, fields,
    /// grouping and parameters — without evaluating it.
    ///
    /// # Errors
    ///
    /// No view of that name, or several.
    pub fn view_info(&self, name: &str) -> Result<ViewInfo, ViewError> {
        let index = find_view(&self.views, |t| self.name_of_table(t), name, None)?;
        Ok(self.views[index].info())
    }

    /// Evaluates a view with its parameters. The view is named by its name, or
    /// as `Table/View` where several tables have a view of that name; a
    /// relation parameter may be given as its row or as the row's display text.
    ///
    /// # Errors
    ///
    /// A [`ViewError`]: no view of that name (with the closest name), a name
    /// several tables use (with the `Table/View` names to choose from), a
    /// parameter the view does not take, a required one missing, or a value
    /// that does not fit its parameter's type. A formula of the view that
    /// fails is not an error of the view: its cell shows the error value.
    pub fn view(&self, name: &str, params: &[(&str, Value)]) -> Result<ViewResult, ViewError> {
        self.view_within(name, params, &crate::Budget::default())
    }

    /// [`Workbook::view`] under a budget: past a limit of the whole
    /// evaluation (steps, bytes, time, cancelled) the view stops with
    /// [`ViewError::Limit`]; a cell over a cap of one value shows the error.
    ///
    /// # Errors
    ///
    /// Those of [`Workbook::view`], and [`ViewError::Limit`] naming the limit
    /// the evaluation ran into.
    pub fn view_within(
        &self,
        name: &str,
        params: &[(&str, Value)],
        budget: &crate::Budget,
    ) -> Result<ViewResult, ViewError> {
        self.view_page(name, params, &ViewPage::all(), budget)
    }

    /// A page of a view: every group's count, the row count and the tiles
    /// are of the whole view; the rows are those `page` asks for, and only
    /// theirs are the fields evaluated of. Included views are links
    /// ([`ViewLink`]), evaluated when asked for.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, ViewPage, ViewSchema, Workbook};
    /// let schema = Schema::new()
    ///     .with_table(TableSchema::new("T").with_column(ColumnSchema::data("N", ColumnType::Number)))
    ///     .with_view(ViewSchema::new("All", "T"));
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let (t, n) = (wb.table_id("T")?, wb.column_id(wb.table_id("T")?, "N")?);
    /// wb.import(vec![(t, (1..=250).map(|i| vec![(n, Value::from(i))]).collect())])?;
    /// let page = wb.view_page("All", &[], &ViewPage::first(100).skip(200), &Default::default())?;
    /// assert_eq!((page.row_count(), page.groups[0].count, page.rows().count()), (250, 250, 50));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`Workbook::view_within`].
    pub fn view_page(
        &self,
        name: &str,
        params: &[(&str, Value)],
        page: &ViewPage,
        budget: &crate::Budget,
    ) -> Result<ViewResult, ViewError> {
        let (index, values) = self.checked_view(name, params)?;
        self.reader().page(index, &values, page, budget)
    }

    /// Every row of a view in order, group by group, its fields evaluated
    /// one row at a time and handed to `each` with its group's key (for an
    /// export: no field value is held after `each` returns). Returns the
    /// view's fields' names.
    ///
    /// # Errors
    ///
    /// Those of [`Workbook::view_within`]; and whatever `each` returns,
    /// which stops the walk.
    pub fn view_for_each<E: From<ViewError>>(
        &self,
        name: &str,
        params: &[(&str, Value)],
        budget: &crate::Budget,
        mut each: impl FnMut(Option<&Value>, &ViewRow) -> Result<(), E>,
    ) -> Result<Vec<String>, E> {
        let (index, values) = self.checked_view(name, params)?;
        let reader = self.reader();
        let view = &self.views[index];
        let buckets = reader.order(index, &values, budget)?;
        for b in &buckets {
            for row in b.rows.iter_from(0) {
                let values = reader.fields(view, &values, row, budget);
                each(b.key.as_ref(), &ViewRow { row, values })?;
            }
            if let Some(e) = stopped(view, budget) {
                return Err(e.into());
            }
        }
        Ok(view.fields.iter().map(|(n, _)| n.clone()).collect())
    }

    /// Keeps the view `name` in order from now on: its rows that pass the
    /// filter, by group, each group sorted, moved as each commit changes
    /// the cells they are kept by (and only those), so that a page of it
    /// is read rather than evaluated: its counts at once, its rows from
    /// their place. Clones of the workbook (readers' snapshots) share the
    /// order copy-on-write. False, and nothing kept, for a view whose
    /// filter, grouping or sort reads a parameter, or that sorts by a list
    /// of rows: it is evaluated when asked (a filter on a relation by its
    /// parameter reads the relation's index). A schema change drops what
    /// is kept; keep it again after.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, FormulaText, Schema, SortKey, TableSchema, Transaction, Value, ViewPage, ViewSchema, Workbook};
    /// let mut big = ViewSchema::new("Big", "T");
    /// big.filter = Some(FormulaText::new("[N] > 100"));
    /// big.sort = vec![SortKey { field: "N".into(), descending: true }];
    /// let schema = Schema::new()
    ///     .with_table(TableSchema::new("T").with_column(ColumnSchema::data("N", ColumnType::Number)))
    ///     .with_view(big);
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let (t, n) = (wb.table_id("T")?, wb.column_id(wb.table_id("T")?, "N")?);
    /// let rows = wb.import(vec![(t, (1..=250).map(|i| vec![(n, Value::from(i))]).collect())])?.remove(0);
    /// assert!(wb.maintain_view("Big")?);
    /// wb.apply(Transaction::new().set(n, rows[0], 1000))?; // moves one row to the top
    /// let page = wb.view_page("Big", &[], &ViewPage::first(2), &Default::default())?;
    /// assert_eq!(page.row_count(), 151);
    /// assert_eq!(page.rows().map(|r| r.row).collect::<Vec<_>>(), vec![rows[0], rows[249]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// No view of that name, or several.
    pub fn maintain_view(&mut self, name: &str) -> Result<bool, ViewError> {
        let index = find_view(&self.views, |t| self.name_of_table(t), name, None)?;
        Ok(self.maintain(index))
    }

    /// Keeps every view that can be kept in order ([`Workbook::maintain_view`])
    /// and is not yet; returns how many views are kept. Cheap when they all
    /// are: a host calls it after each change that may have rebuilt the
    /// workbook (a schema change).
    pub fn maintain_views(&mut self) -> usize {
        let mut missing: Vec<usize> = (0..self.views.len())
            .filter(|&i| self.views[i].keys.is_some())
            .filter(|&i| !self.data.maintained.iter().any(|m| m.view == i))
            .collect();
        // Each view is put in order on its own, on every core at once, the
        // largest tables' first; each core takes the next view when done.
        missing.sort_by_key(|&i| {
            std::cmp::Reverse(self.data.table(self.views[i].table).order().len())
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (this, missing, next) = (&*self, &missing, &next);
        let built: Vec<Kept> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..cores.min(missing.len()))
                .map(|_| {
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&i) = missing.get(at) else {
                                return done;
                            };
                            done.extend(this.kept(i));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        for kept in built {
            self.keep(kept);
        }
        self.data.maintained.len()
    }

    fn maintain(&mut self, index: usize) -> bool {
        if self.data.maintained.iter().any(|m| m.view == index) {
            return true;
        }
        match self.kept(index) {
            Some(kept) => {
                self.keep(kept);
                true
            }
            None => false,
        }
    }

    /// A view put in order, with its tiles' tallies; `None` when it cannot
    /// be kept.
    fn kept(&self, index: usize) -> Option<Kept> {
        let view = &self.views[index];
        let keys = view.keys.clone()?;
        let order = crate::maintain::Maintained::build(index, view.table, keys, &self.data);
        let mut tallies = Vec::new();
        for (tile, plan) in view.tile_plans.iter().enumerate() {
            for (slot, spec) in plan.iter().flat_map(|p| p.tallies.iter()).enumerate() {
                tallies.push(crate::maintain::Tally::build(
                    (index, tile, slot),
                    spec,
                    &self.data,
                ));
            }
        }
        Some(Kept { order, tallies })
    }

    fn keep(&mut self, kept: Kept) {
        self.data.maintained.push(Arc::new(kept.order));
        self.data
            .tallies
            .extend(kept.tallies.into_iter().map(Arc::new));
    }

    /// Whether the view `name` is kept in order ([`Workbook::maintain_view`]).
    ///
    /// # Errors
    ///
    /// No view of that name, or several.
    pub fn is_maintained(&self, name: &str) -> Result<bool, ViewError> {
        let index = find_view(&self.views, |t| self.name_of_table(t), name, None)?;
        Ok(self.data.maintained.iter().any(|m| m.view == index))
    }

    /// What the view `name` reads: see [`ViewReads`].
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, FieldSchema, FormulaText, Schema, TableSchema, Transaction, Value, ViewSchema, Workbook};
    /// let mut view = ViewSchema::new("Big", "T");
    /// view.filter = Some(FormulaText::new("[N] > 10"));
    /// view.fields = vec![FieldSchema::column("Name")];
    /// let schema = Schema::new()
    ///     .with_table(TableSchema::new("T")
    ///         .with_column(ColumnSchema::data("Name", ColumnType::Text))
    ///         .with_column(ColumnSchema::data("N", ColumnType::Number))
    ///         .with_column(ColumnSchema::data("Note", ColumnType::Text)))
    ///     .with_view(view);
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let t = wb.table_id("T")?;
    /// let [name, n, note] = ["Name", "N", "Note"].map(|c| wb.column_id(t, c).unwrap());
    /// let row = wb.apply(Transaction::new().insert(t, vec![(name, Value::from("a"))]))?.inserted[0].1;
    /// let reads = wb.view_reads("Big")?;
    /// assert!(reads.touched_by(&wb.apply(Transaction::new().set(n, row, 20))?));
    /// assert!(!reads.touched_by(&wb.apply(Transaction::new().set(note, row, "x"))?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// No view of that name, or several.
    pub fn view_reads(&self, name: &str) -> Result<ViewReads, ViewError> {
        let index = find_view(&self.views, |t| self.name_of_table(t), name, None)?;
        let view = &self.views[index];
        let mut reads = ViewReads {
            columns: rustc_hash::FxHashSet::default(),
            rows: rustc_hash::FxHashSet::default(),
            tables: rustc_hash::FxHashSet::default(),
        };
        reads.rows.insert(view.table);
        // Rows are shown and sorted by their display column's values.
        for t in &self.data.tables {
            if let Some(d) = t.display {
                reads.columns.insert(d);
            }
        }
        let exprs = view
            .filter
            .iter()
            .chain(view.fields.iter().map(|(_, e)| e))
            .chain(view.sort.iter().map(|(e, _)| e))
            .chain(view.group_by.iter())
            .chain(view.tiles.iter().map(|(_, e)| e));
        let data = &self.data;
        let column = |reads: &mut ViewReads, c: crate::ids::ColumnId| {
            let col = data.column(c);
            if col.is_hidden() {
                reads.tables.insert(col.table);
            } else {
                reads.columns.insert(c);
            }
        };
        for e in exprs {
            e.walk(&mut |node| match node {
                Expr::Col(c)
                | Expr::Named(c)
                | Expr::ItemCol { col: c, .. }
                | Expr::Project { col: c, .. } => {
                    column(&mut reads, *c);
                }
                Expr::Table(t) => {
                    reads.rows.insert(*t);
                }
                Expr::Filter(fx) => {
                    if let Some(t) = fx.item_table {
                        reads.rows.insert(t);
                    }
                    if let Some(plan) = fx.key.as_ref().and_then(|k| k.plan) {
                        column(&mut reads, plan.item_column);
                    }
                }
                _ => {}
            });
        }
        Ok(reads)
    }

    fn reader(&self) -> ViewReader<'_> {
        ViewReader {
            data: &self.data,
            views: &self.views,
            use_maintained: true,
        }
    }

    /// The view's index and its parameters' values, each checked.
    fn checked_view(
        &self,
        name: &str,
        params: &[(&str, Value)],
    ) -> Result<(usize, Vec<Value>), ViewError> {
        let index = find_view(&self.views, |t| self.name_of_table(t), name, None)?;
        let view = &self.views[index];
        for (given, _) in params {
            if !view
                .params
                .iter()
                .any(|p| p.name.eq_ignore_ascii_case(given))
            {
                return Err(ViewError::UnknownParam {
                    view: view.name.clone(),
                    param: (*given).to_string(),
                    known: if view.params.is_empty() {
                        "none".to_string()
                    } else {
                        view.params
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                });
            }
        }
        let values = self.reader().param_values(view, params)?;
        Ok((index, values))
    }
}

/// A view put in order and its tiles' tallies, to keep.
struct Kept {
    order: crate::maintain::Maintained,
    tallies: Vec<crate::maintain::Tally>,
}

/// The budget's limit, as the view's error, if it was reached.
fn stopped(view: &View, budget: &crate::Budget) -> Option<ViewError> {
    budget.error().map(|e| ViewError::Limit {
        view: view.name.clone(),
        reason: match e {
            Value::Error(e) => e.message.clone(),
            _ => String::new(),
        },
    })
}

/// One group's rows in the view's order, before any field is evaluated:
/// listed by an evaluation, or those a maintained view keeps.
struct Bucket<'a> {
    key: Option<Value>,
    rows: BucketRows<'a>,
}

enum BucketRows<'a> {
    Listed(Vec<RowId>),
    Kept(&'a crate::maintain::Rows),
}

impl BucketRows<'_> {
    fn len(&self) -> usize {
        match self {
            BucketRows::Listed(rows) => rows.len(),
            BucketRows::Kept(rows) => rows.len(),
        }
    }

    /// The rows from the `skip`th on.
    fn iter_from(&self, skip: usize) -> Box<dyn Iterator<Item = RowId> + '_> {
        match self {
            BucketRows::Listed(rows) => Box::new(rows.iter().skip(skip).copied()),
            BucketRows::Kept(rows) => Box::new(rows.iter_from(skip)),
        }
    }
}

impl<'a> ViewReader<'a> {
    /// What a view sorts by: rows by what they show (their display column), so
    /// people sort by name; everything else as itself.
    fn sort_key(&self, v: Value) -> Value {
        crate::maintain::sort_key(self.data, std::borrow::Cow::Owned(v)).into_owned()
    }

    /// The parameters' values, each converted to its parameter's type.
    fn param_values(&self, view: &View, params: &[(&str, Value)]) -> Result<Vec<Value>, ViewError> {
        let mut values = Vec::with_capacity(view.params.len());
        for (p, target) in view.params.iter().zip(&view.param_targets) {
            let given = params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&p.name))
                .map(|(_, v)| v.clone());
            let value = match given {
                Some(v) => {
                    coerce_to(self.data, &p.ty, *target, v).map_err(|r| ViewError::BadParam {
                        view: view.name.clone(),
                        param: p.name.clone(),
                        reason: r.message,
                    })?
                }
                None if p.required => {
                    return Err(ViewError::MissingParam {
                        view: view.name.clone(),
                        param: p.name.clone(),
                    });
                }
                None => Value::Blank,
            };
            values.push(value);
        }
        Ok(values)
    }

    /// The view's rows: filtered, sorted and grouped, with no field
    /// evaluated yet.
    fn order(
        &self,
        index: usize,
        values: &[Value],
        budget: &crate::Budget,
    ) -> Result<Vec<Bucket<'a>>, ViewError> {
        let view = &self.views[index];
        if let Some(kept) = self.maintained(index) {
            // Read, not evaluated: but a budget already spent (a deadline
            // passed, a cancel) stops it all the same.
            if budget.step().is_err() {
                return Err(stopped(view, budget).unwrap_or(ViewError::Limit {
                    view: view.name.clone(),
                    reason: String::new(),
                }));
            }
            return Ok(kept
                .groups(self.data)
                .into_iter()
                .map(|g| Bucket {
                    key: g.key,
                    rows: BucketRows::Kept(g.rows),
                })
                .collect());
        }
        let data = self.data;
        let table = view.table;
        struct Entry {
            row: RowId,
            sort: Vec<Value>,
            group: Value,
        }
        let mut entries = Vec::new();
        let mut names: rustc_hash::FxHashMap<(TableId, RowId), Value> =
            rustc_hash::FxHashMap::default();
        let indexed = view
            .filter
            .as_ref()
            .and_then(|f| self.indexed_rows(table, f, values));
        let rows = indexed.as_deref().unwrap_or(data.table(table).order());
        for &row in rows {
            if budget.step().is_err() {
                break;
            }
            let mut cx = EvalCtx::with_params(data, Some((table, row)), values, budget);
            if let Some(f) = &view.filter {
                if !truthy(&cx.eval(f)).unwrap_or(false) {
                    continue;
                }
            }
            entries.push(Entry {
                row,
                sort: view
                    .sort
                    .iter()
                    .map(|(e, _)| match cx.eval(e) {
                        // A row sorts by its name: found once per row named.
                        Value::Row(t, r) => names
                            .entry((t, r))
                            .or_insert_with(|| self.sort_key(Value::Row(t, r)))
                            .clone(),
                        other => self.sort_key(other),
                    })
                    .collect(),
                group: view.group_by.as_ref().map_or(Value::Blank, |e| cx.eval(e)),
            });
        }
        if let Some(e) = stopped(view, budget) {
            return Err(e);
        }
        let n = entries.len();
        if budget
            .spend(n as u64 * u64::from(usize::BITS - n.leading_zeros()))
            .is_err()
        {
            return Err(stopped(view, budget).unwrap_or(ViewError::Limit {
                view: view.name.clone(),
                reason: String::new(),
            }));
        }
        entries.sort_by(|a, b| {
            for (i, (_, descending)) in view.sort.iter().enumerate() {
                let o = sort_order(&a.sort[i], &b.sort[i]);
                let o = if *descending { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        if view.group_by.is_none() {
            return Ok(vec![Bucket {
                key: None,
                rows: BucketRows::Listed(entries.into_iter().map(|e| e.row).collect()),
            }]);
        }
        // The declared groups first, then the others as their first rows
        // come (see `maintain::Grouper`).
        let mut grouper = crate::maintain::Grouper::new(&view.group_order);
        let mut groups: Vec<(Option<Value>, Vec<RowId>)> = view
            .group_order
            .iter()
            .map(|key| (Some(key.clone()), Vec::new()))
            .collect();
        let ordered = groups.len();
        for e in entries {
            let (at, new) = grouper.get(&e.group);
            if new {
                groups.push((Some(e.group), Vec::new()));
            }
            groups[at].1.push(e.row);
        }
        groups[ordered..].sort_by(|a, b| {
            let key = |g: &(Option<Value>, Vec<RowId>)| {
                self.sort_key(g.0.clone().unwrap_or(Value::Blank))
            };
            sort_order(&key(a), &key(b))
        });
        Ok(groups
            .into_iter()
            .map(|(key, rows)| Bucket {
                key,
                rows: BucketRows::Listed(rows),
            })
            .collect())
    }

    /// The view kept in order for `index`, when it is and the reader may
    /// read it.
    fn maintained(&self, index: usize) -> Option<&'a crate::maintain::Maintained> {
        if !self.use_maintained {
            return None;
        }
        self.data
            .maintained
            .iter()
            .find(|m| m.view == index && !m.stale)
            .map(|m| &**m)
    }

    /// The only rows a filter can pass, from an index, when one of its
    /// top-level `AND` conjuncts is `[Relation] = Param(...)` (or
    /// `CurrentUser()`) over a single relation whose parameter is a row:
    /// its reverse index lists them, in table order. A row not listed has
    /// that conjunct false, so the filter false; the filter is still
    /// evaluated whole on the rows listed. `None`: scan the table.
    fn indexed_rows(&self, table: TableId, filter: &Expr, values: &[Value]) -> Option<Vec<RowId>> {
        let data = self.data;
        let mut conjuncts = vec![filter];
        while let Some(e) = conjuncts.pop() {
            let (column, param) = match e {
                Expr::Binary(csip_formula::BinaryOp::And, l, r) => {
                    conjuncts.push(l);
                    conjuncts.push(r);
                    continue;
                }
                Expr::Binary(csip_formula::BinaryOp::Eq, l, r) => match (&**l, &**r) {
                    (Expr::Col(c), Expr::Param(i)) | (Expr::Param(i), Expr::Col(c)) => (*c, *i),
                    _ => continue,
                },
                _ => continue,
            };
            let col = data.column(column);
            let (Some((target, false)), true) = (col.target, col.table == table) else {
                continue;
            };
            let Some(Value::Row(t, r)) = values.get(usize::from(param)) else {
                continue;
            };
            if *t != target || col.formula().is_some() {
                continue;
            }
            let Some(ix) = data.find_index(column, crate::index::IndexMode::Elements) else {
                continue;
            };
            let mut rows: Vec<RowId> = data
                .index(ix)
                .get(&Key::Row(*t, *r))
                .iter()
                .copied()
                .filter(|row| data.is_live(table, *row))
                .collect();
            // Table order is id order.
            rows.sort_unstable();
            rows.dedup();
            return Some(rows);
        }
        None
    }

    /// A tile's value: from its tallies where the view is maintained (an
    /// aggregate a tally cannot give is evaluated), else evaluated.
    fn tile(
        &self,
        index: usize,
        tile: usize,
        e: &Expr,
        values: &[Value],
        budget: &crate::Budget,
    ) -> Value {
        let plan = self.views[index]
            .tile_plans
            .get(tile)
            .and_then(Option::as_ref);
        if let (Some(plan), Some(_)) = (plan, self.maintained(index)) {
            let tallies: Option<Vec<&crate::maintain::Tally>> = (0..plan.tallies.len())
                .map(|slot| {
                    self.data
                        .tallies
                        .iter()
                        .find(|t| t.view == index && t.tile == tile && t.slot == slot && !t.stale)
                        .map(|t| &**t)
                })
                .collect();
            if let Some(tallies) = tallies {
                let mut all = values.to_vec();
                for (t, spec) in tallies.iter().zip(&plan.tallies) {
                    all.push(t.value(self.data).unwrap_or_else(|| {
                        EvalCtx::with_params(self.data, None, values, budget).eval(&spec.fallback)
                    }));
                }
                return EvalCtx::with_params(self.data, None, &all, budget).eval(&plan.template);
            }
        }
        EvalCtx::with_params(self.data, None, values, budget).eval(e)
    }

    /// One row's fields.
    fn fields(
        &self,
        view: &View,
        values: &[Value],
        row: RowId,
        budget: &crate::Budget,
    ) -> Vec<Value> {
        let mut cx = EvalCtx::with_params(self.data, Some((view.table, row)), values, budget);
        view.fields.iter().map(|(_, e)| cx.eval(e)).collect()
    }

    fn page(
        &self,
        index: usize,
        values: &[Value],
        page: &ViewPage,
        budget: &crate::Budget,
    ) -> Result<ViewResult, ViewError> {
        let view = &self.views[index];
        let buckets = self.order(index, values, budget)?;
        let total = buckets.iter().map(|b| b.rows.len()).sum();
        let group_count = buckets.len();
        let groups = buckets
            .into_iter()
            .filter(|b| match (&page.group, &b.key) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(Value::Text(t)), Some(k)) if !matches!(k, Value::Text(_)) => {
                    display(self.data, k) == **t
                }
                (Some(g), Some(k)) => values_equal(k, g),
            })
            .skip(page.group_offset)
            .take(page.group_limit.unwrap_or(usize::MAX))
            .map(|b| ViewGroup {
                count: b.rows.len(),
                offset: page.offset.min(b.rows.len()),
                rows: b
                    .rows
                    .iter_from(page.offset)
                    .take(page.limit.unwrap_or(usize::MAX))
                    .map(|row| ViewRow {
                        row,
                        values: self.fields(view, values, row, budget),
                    })
                    .collect(),
                key: b.key,
            })
            .collect();
        let tiles = view
            .tiles
            .iter()
            .enumerate()
            .map(|(i, (name, e))| (name.clone(), self.tile(index, i, e, values, budget)))
            .collect();
        let included = view
            .include
            .iter()
            .map(|&i| {
                let inner = &self.views[i];
                ViewLink {
                    name: inner.name.clone(),
                    table: inner.table,
                    params: inner
                        .params
                        .iter()
                        .filter_map(|p| {
                            let at = view
                                .params
                                .iter()
                                .position(|q| q.name.eq_ignore_ascii_case(&p.name))?;
                            Some((p.name.clone(), values[at].clone()))
                        })
                        .collect(),
                }
            })
            .collect();
        if let Some(e) = stopped(view, budget) {
            return Err(e);
        }
        let info = view.info();
        Ok(ViewResult {
            name: info.name,
            table: info.table,
            layout: info.layout,
            fields: info.fields,
            field_columns: info.field_columns,
            group_column: info.group_column,
            total,
            group_count,
            groups,
            tiles,
            included,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may panic

    use crate::{
        Clock, ColumnSchema, ColumnType, FormulaText, ParamSchema, Schema, TableSchema,
        Transaction, Value, ViewSchema, Workbook,
    };

    /// A view filtered on a relation by its parameter answers from the
    /// relation's index exactly what a scan answers.
    #[test]
    fn a_filter_on_a_relation_by_parameter_reads_the_index_and_agrees_with_a_scan() {
        let mut by_owner = ViewSchema::new("Owned", "Deals");
        by_owner.filter = Some(FormulaText::new(
            r#"[Stage] != "Lost" AND [Owner] = Param("who")"#,
        ));
        by_owner.params = vec![ParamSchema {
            name: "who".into(),
            ty: ColumnType::People {
                table: "People".into(),
                multiple: false,
            },
            required: false,
        }];
        // The same filter written so that no conjunct is indexed.
        let mut scanned = by_owner.clone();
        scanned.name = "Scanned".into();
        scanned.filter = Some(FormulaText::new(
            r#"[Stage] != "Lost" AND ([Owner] = Param("who") OR false)"#,
        ));
        let schema = Schema::new()
            .with_table(
                TableSchema::new("People")
                    .with_column(ColumnSchema::data("Name", ColumnType::Text)),
            )
            .with_table(
                TableSchema::new("Deals")
                    .with_column(ColumnSchema::data("Title", ColumnType::Text))
                    .with_column(ColumnSchema::data("Stage", ColumnType::Text))
                    .with_column(ColumnSchema::relation("Owner", "People")),
            )
            .with_view(by_owner)
            .with_view(scanned);
        let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        let mut wb = Workbook::new(&schema, clock).unwrap();
        let people = wb.table_id("People").unwrap();
        let deals = wb.table_id("Deals").unwrap();
        let name = wb.column_id(people, "Name").unwrap();
        let [title, stage, owner] =
            ["Title", "Stage", "Owner"].map(|c| wb.column_id(deals, c).unwrap());
        let ids = wb
            .import(vec![(
                people,
                ["Kari", "Ola", "Nobody"]
                    .iter()
                    .map(|n| vec![(name, Value::from(*n))])
                    .collect(),
            )])
            .unwrap()
            .remove(0);
        let rows: Vec<_> = (0..60)
            .map(|i| {
                let mut values = vec![
                    (title, Value::from(format!("deal {i}"))),
                    (stage, Value::from(if i % 4 == 0 { "Lost" } else { "Open" })),
                ];
                if i % 5 != 0 {
                    values.push((owner, Value::Row(people, ids[i % 2])));
                }
                values
            })
            .collect();
        let deal_ids = wb.import(vec![(deals, rows)]).unwrap().remove(0);
        // Deletes and an owner changed, so that the index has moved.
        wb.apply(Transaction::new().delete(deals, deal_ids[1]).set(
            owner,
            deal_ids[2],
            Value::Row(people, ids[1]),
        ))
        .unwrap();
        for who in [
            Value::Row(people, ids[0]),
            Value::Row(people, ids[1]),
            Value::Row(people, ids[2]),
            Value::Blank,
            Value::from("Kari"),
        ] {
            let params = [("who", who.clone())];
            let indexed = wb.view("Owned", &params).unwrap();
            let scan = wb.view("Scanned", &params).unwrap();
            assert_eq!(
                indexed.rows().collect::<Vec<_>>(),
                scan.rows().collect::<Vec<_>>(),
                "{who:?}"
            );
        }
        let kari = wb
            .view("Owned", &[("who", Value::Row(people, ids[0]))])
            .unwrap();
        assert!(kari.row_count() > 10);
    }
}
