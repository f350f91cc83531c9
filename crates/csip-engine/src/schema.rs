//! The schema as plain data: tables, typed columns, formulas, constraints.
//! A [`Schema`] is what a loader produces and what [`crate::Workbook::new`] binds.

use crate::value::Value;
use rust_decimal::Decimal;
use std::fmt;
use std::sync::Arc;

/// A whole workbook's definition: its tables in order, and its views.
///
/// Build one in code with the `with_*` builders (or read one from table files
/// with `schema_from_files`, feature `files`), then bind it with
/// [`crate::Workbook::new`]. Binding reports every problem of the schema at
/// once, each with its place and, for a formula, the span in its text.
///
/// ```
/// use csip_engine::{
///     Clock, ColumnSchema, ColumnType, ErrorKind, FormulaText, ParamSchema, Schema,
///     TableSchema, ViewSchema, Workbook,
/// };
/// let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
///
/// let mut schema = Schema::new().with_table(
///     TableSchema::new("Products")
///         .with_column(ColumnSchema::data("Name", ColumnType::Text).required().unique())
///         .with_column(ColumnSchema::data("Price", ColumnType::Currency))
///         .with_column(ColumnSchema::data("Stock", ColumnType::Number).with_default(0))
///         .with_column(ColumnSchema::formula("Value", ColumnType::Currency, "[Price] * [Stock]")),
/// );
/// // Views are plain data: fill in what you need and default the rest.
/// schema.views.push(ViewSchema {
///     name: "Low stock".into(),
///     table: "Products".into(),
///     filter: Some(FormulaText::new(r#"[Stock] < Param("below")"#)),
///     params: vec![ParamSchema { name: "below".into(), ty: ColumnType::Number, required: true }],
///     ..ViewSchema::default()
/// });
/// let wb = Workbook::new(&schema, clock)?;
/// assert_eq!(wb.views()[0].name, "Low stock");
///
/// // A schema with two broken formulas: both are reported, in schema order.
/// let broken = Schema::new().with_table(
///     TableSchema::new("T")
///         .with_column(ColumnSchema::formula("A", ColumnType::Number, "[Nope] + 1"))
///         .with_column(ColumnSchema::formula("B", ColumnType::Number, "Sum(1,")),
/// );
/// let err = Workbook::new(&broken, clock).unwrap_err();
/// assert_eq!(err.problems.len(), 2);
/// assert_eq!((err.problems[0].place(), err.problems[0].kind), ("T.A".to_string(), ErrorKind::UnknownName));
/// assert_eq!((err.problems[1].place(), err.problems[1].kind), ("T.B".to_string(), ErrorKind::Parse));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    /// The tables, in the order they were written.
    pub tables: Vec<TableSchema>,
    /// Named views over the tables, in the order they were written.
    pub views: Vec<ViewSchema>,
    /// The workbook's named values and named formulas: each a formula
    /// column of no table, one value for the whole workbook, that any
    /// formula reads as `[Name]` (see [`Schema::with_name`]).
    pub names: Vec<ColumnSchema>,
}

/// A formula written somewhere other than a column: a view's filter, field or tile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormulaText {
    /// The formula.
    pub text: String,
    /// Where it sits in a file, so that diagnostics point there.
    pub origin: Option<SourceOrigin>,
}

impl FormulaText {
    /// A formula written in code.
    pub fn new(text: impl Into<String>) -> FormulaText {
        FormulaText {
            text: text.into(),
            origin: None,
        }
    }
}

/// How a view is meant to be shown; the engine evaluates all the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ViewLayout {
    /// Rows and columns.
    #[default]
    Grid,
    /// A card per row, grouped.
    Cards,
    /// Columns of cards, one per group.
    Kanban,
    /// Tiles over grouped rows and other views.
    Dashboard,
}

impl ViewLayout {
    /// Parses `grid`, `cards`, `kanban` or `dashboard`.
    pub fn from_name(name: &str) -> Option<ViewLayout> {
        match name.trim().to_ascii_lowercase().as_str() {
            "grid" | "table" => Some(ViewLayout::Grid),
            "cards" | "card" => Some(ViewLayout::Cards),
            "kanban" | "board" => Some(ViewLayout::Kanban),
            "dashboard" => Some(ViewLayout::Dashboard),
            _ => None,
        }
    }
}

/// The name a table file gives a layout (`layout = "..."`) and the JSON
/// shapes give a layout. Here, not in `write.rs`, so that the `serde`
/// feature does not need the `files` one.
#[cfg(any(feature = "files", feature = "serde"))]
pub(crate) fn layout_name(layout: ViewLayout) -> &'static str {
    match layout {
        ViewLayout::Grid => "grid",
        ViewLayout::Cards => "cards",
        ViewLayout::Kanban => "kanban",
        ViewLayout::Dashboard => "dashboard",
    }
}

/// A named view over one table: which rows (a filter formula), in which order
/// (sort keys), grouped how, showing which fields; it may take parameters (the
/// current user, a selected account), show tiles (formulas over the workbook)
/// and include other views.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViewSchema {
    /// The view name; unique among its table's views without regard to case
    /// (name it as `Table/View` where several tables have a view of that name).
    pub name: String,
    /// The table whose rows it shows.
    pub table: String,
    /// How it is meant to be shown.
    pub layout: ViewLayout,
    /// Rows for which this is true are shown (all rows when absent).
    pub filter: Option<FormulaText>,
    /// Sort keys, first one first: a field or column name.
    pub sort: Vec<SortKey>,
    /// The field or column that groups the rows.
    pub group_by: Option<String>,
    /// Group values in the order to show them (shown even when empty);
    /// other groups follow, sorted.
    pub group_order: Vec<String>,
    /// The fields shown: columns, or formulas evaluated on each row. All the
    /// table's columns when empty.
    pub fields: Vec<FieldSchema>,
    /// Parameters the view takes; `CurrentUser()` reads the one named `user`.
    pub params: Vec<ParamSchema>,
    /// Named formulas evaluated once (no row), e.g. KPI tiles.
    pub tiles: Vec<TileSchema>,
    /// Other views shown with this one (a dashboard's sections).
    pub include: Vec<String>,
    /// A one-line description.
    pub comment: Option<String>,
    /// Where the view is declared in a file, so that problems point there.
    pub declared: Option<SourceOrigin>,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// A field of the view or a column of its table.
    pub field: String,
    /// Largest first.
    pub descending: bool,
}

/// One field of a view.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSchema {
    /// The column, or the field's label when it has a formula.
    pub name: String,
    /// A formula evaluated on each row, instead of a column.
    pub formula: Option<FormulaText>,
}

/// A parameter of a view.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSchema {
    /// Its name, as `Param("name")` reads it.
    pub name: String,
    /// What it holds; a relation or people type names its table.
    pub ty: ColumnType,
    /// Whether the view needs it; an absent optional parameter is Blank.
    pub required: bool,
}

/// A named formula of a view evaluated once, with the view's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TileSchema {
    /// The tile's label.
    pub name: String,
    /// The formula.
    pub formula: FormulaText,
}

/// One table: a name and its columns. Its display column names a row (in
/// relations written as text, in `ToText`, in views): the first column unless
/// `display_column` says otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    /// The table name; unique in the workbook without regard to case.
    pub name: String,
    /// The columns, in order.
    pub columns: Vec<ColumnSchema>,
    /// The column that names a row, when it is not the first.
    pub display_column: Option<String>,
    /// A one-line description of the table.
    pub comment: Option<String>,
    /// Where the table is declared in a file, so that problems point there.
    pub declared: Option<SourceOrigin>,
}

/// One column: name, type, an optional formula and the constraints enforced on writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSchema {
    /// The column name; unique in its table without regard to case.
    pub name: String,
    /// The type, which decides what a write may store.
    pub ty: ColumnType,
    /// A formula makes the column computed: it cannot be written.
    pub formula: Option<String>,
    /// A write may not leave the cell blank.
    pub required: bool,
    /// No two rows may hold the same non-blank value.
    pub unique: bool,
    /// The value an insert stores when it gives none.
    pub default: Option<Value>,
    /// A one-line note (why a formula is what it is); kept for documentation.
    pub comment: Option<String>,
    /// Where the formula text sits in a file, so that diagnostics point there.
    pub origin: Option<SourceOrigin>,
    /// Number of decimals to show (a display hint; values keep every digit).
    pub decimals: Option<u32>,
    /// Where the column is declared in a file, so that problems point there.
    pub declared: Option<SourceOrigin>,
    /// The named action a button column runs (`sync-from-anypoint`): a
    /// service offers it as `POST /api/v1/actions/{action}` with the row.
    pub action: Option<String>,
}

/// Where a piece of text (a formula) sits in a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceOrigin {
    /// The file name as the user wrote it.
    pub path: Arc<str>,
    /// The whole file text.
    pub source: Arc<str>,
    /// The byte offset of the formula's first character in `source`.
    pub offset: usize,
}

/// Column types (DESIGN §3).
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnType {
    /// Free text.
    Text,
    /// A number.
    Number,
    /// An amount of money (a number).
    Currency,
    /// A percentage, stored as the number written (35 for 35 %).
    Percent,
    /// A calendar date.
    Date,
    /// A date and time (UTC).
    DateTime,
    /// true / false.
    Checkbox,
    /// One of a fixed list of options (text).
    Select(Vec<String>),
    /// Any number of a fixed list of options (a list of text).
    MultiSelect(Vec<String>),
    /// An e-mail address (text with one `@`).
    Email,
    /// A number within a range.
    Slider {
        /// Smallest value allowed.
        min: Decimal,
        /// Largest value allowed.
        max: Decimal,
    },
    /// Long rich text, stored as text.
    Canvas,
    /// A reference to a row (or rows) of another table.
    Relation {
        /// The table referred to.
        table: String,
        /// Whether the cell holds a list of rows.
        multiple: bool,
    },
    /// A reference to people: a relation to the people table.
    People {
        /// The people table.
        table: String,
        /// Whether the cell holds a list of people.
        multiple: bool,
    },
    /// File names or links (text, or a list of text).
    Attachment,
    /// An action; it holds no value and cannot be written.
    Button,
}

impl ColumnType {
    /// Parses a type name as schema and case files write it (`"number"`,
    /// `"multi-select"`, `"relation"`, ...). Options, ranges and targets are
    /// filled in by the caller.
    pub fn from_name(name: &str) -> Option<ColumnType> {
        let n = name.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Some(match n.as_str() {
            "text" | "string" => ColumnType::Text,
            "number" | "integer" | "decimal" => ColumnType::Number,
            "currency" | "money" => ColumnType::Currency,
            "percent" | "percentage" => ColumnType::Percent,
            "date" => ColumnType::Date,
            "datetime" | "date-time" | "timestamp" => ColumnType::DateTime,
            "checkbox" | "bool" | "boolean" => ColumnType::Checkbox,
            "select" => ColumnType::Select(Vec::new()),
            "multi-select" | "multiselect" => ColumnType::MultiSelect(Vec::new()),
            "email" => ColumnType::Email,
            "slider" | "scale" => ColumnType::Slider {
                min: Decimal::ZERO,
                max: Decimal::ONE_HUNDRED,
            },
            "canvas" | "rich-text" => ColumnType::Canvas,
            "relation" | "lookup" => ColumnType::Relation {
                table: String::new(),
                multiple: false,
            },
            "multi-relation" | "relation-multi" | "relations" => ColumnType::Relation {
                table: String::new(),
                multiple: true,
            },
            "people" | "person" => ColumnType::People {
                table: String::new(),
                multiple: false,
            },
            "attachment" | "file" => ColumnType::Attachment,
            "button" => ColumnType::Button,
            _ => return None,
        })
    }

    /// The names [`ColumnType::from_name`] accepts, for messages.
    pub const NAMES: &'static str = "text, number, currency, percent, date, datetime, checkbox, \
        select, multi-select, email, slider, canvas, relation, people, attachment, button";

    /// The table a relation or people column refers to.
    pub fn target(&self) -> Option<(&str, bool)> {
        match self {
            ColumnType::Relation { table, multiple } | ColumnType::People { table, multiple } => {
                Some((table, *multiple))
            }
            _ => None,
        }
    }

    /// Whether values of this type are numbers.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            ColumnType::Number
                | ColumnType::Currency
                | ColumnType::Percent
                | ColumnType::Slider { .. }
        )
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Text => f.write_str("text"),
            ColumnType::Number => f.write_str("number"),
            ColumnType::Currency => f.write_str("currency"),
            ColumnType::Percent => f.write_str("percent"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::DateTime => f.write_str("datetime"),
            ColumnType::Checkbox => f.write_str("checkbox"),
            ColumnType::Select(_) => f.write_str("select"),
            ColumnType::MultiSelect(_) => f.write_str("multi-select"),
            ColumnType::Email => f.write_str("email"),
            ColumnType::Slider { min, max } => write!(f, "slider {min}..{max}"),
            ColumnType::Canvas => f.write_str("canvas"),
            ColumnType::Relation { table, multiple } => {
                write!(
                    f,
                    "relation to {table}{}",
                    if *multiple { " (multiple)" } else { "" }
                )
            }
            ColumnType::People { table, multiple } => {
                write!(
                    f,
                    "people in {table}{}",
                    if *multiple { " (multiple)" } else { "" }
                )
            }
            ColumnType::Attachment => f.write_str("attachment"),
            ColumnType::Button => f.write_str("button"),
        }
    }
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Schema {
        Schema::default()
    }

    /// Adds a table; returns the schema for chaining.
    pub fn with_table(mut self, table: TableSchema) -> Schema {
        self.tables.push(table);
        self
    }

    /// The same schema without where each piece sat in a file (`declared`,
    /// `origin`): what two schemas are compared by when one was read from
    /// table files and the other built in code, or written back and read
    /// again.
    ///
    /// ```
    /// use csip_engine::{ColumnSchema, ColumnType, Schema, SourceOrigin, TableSchema};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T").with_column(ColumnSchema::formula("F", ColumnType::Number, "1 + 1")),
    /// );
    /// // As a loader gives it: the formula knows where it was written.
    /// let mut read = schema.clone();
    /// read.tables[0].columns[0].origin = Some(SourceOrigin {
    ///     path: "t.toml".into(),
    ///     source: "formula = '1 + 1'".into(),
    ///     offset: 11,
    /// });
    /// assert_ne!(read, schema);
    /// assert_eq!(read.without_origins(), schema);
    /// ```
    pub fn without_origins(&self) -> Schema {
        let mut schema = self.clone();
        for table in &mut schema.tables {
            table.declared = None;
        }
        for column in schema
            .tables
            .iter_mut()
            .flat_map(|t| t.columns.iter_mut())
            .chain(schema.names.iter_mut())
        {
            column.origin = None;
            column.declared = None;
        }
        for view in &mut schema.views {
            view.declared = None;
            let formulas = view
                .filter
                .iter_mut()
                .chain(view.fields.iter_mut().filter_map(|f| f.formula.as_mut()))
                .chain(view.tiles.iter_mut().map(|t| &mut t.formula));
            for f in formulas {
                f.origin = None;
            }
        }
        schema
    }

    /// Adds a view; returns the schema for chaining.
    pub fn with_view(mut self, view: ViewSchema) -> Schema {
        self.views.push(view);
        self
    }

    /// Adds a named value or named formula: a formula with a name and a
    /// type, computed once for the whole workbook (no row: `thisRow` has
    /// none) and recomputed like a column when what it reads changes. A
    /// named *value* is a formula that is a literal (`110`,
    /// `Date(2026, 1, 31)`); change it at run time with
    /// [`SchemaChange::SetFormula`](crate::SchemaChange::SetFormula) on its id
    /// ([`Workbook::name_id`](crate::Workbook::name_id)).
    ///
    /// Any formula reads a name as `[Name]`; a column of the row in scope, or
    /// a table, of the same name comes first. A name may not be a table's
    /// name, and names are unique without regard to case.
    ///
    /// ```
    /// use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new()
    ///     .with_table(
    ///         TableSchema::new("Accounts")
    ///             .with_column(ColumnSchema::data("Name", ColumnType::Text))
    ///             .with_column(ColumnSchema::data("ARR", ColumnType::Currency))
    ///             .with_column(ColumnSchema::formula("Large", ColumnType::Checkbox, "[ARR] >= [Large_ARR]")),
    ///     )
    ///     .with_name(ColumnSchema::formula("Large_ARR", ColumnType::Currency, "500000"))
    ///     .with_name(ColumnSchema::formula("Total_ARR", ColumnType::Currency, "Sum([Accounts].[ARR])"));
    /// let mut wb = Workbook::new(&schema, Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
    /// let accounts = wb.table_id("Accounts")?;
    /// let arr = wb.column_id(accounts, "ARR")?;
    /// wb.import(vec![(accounts, vec![
    ///     vec![(wb.column_id(accounts, "Name")?, Value::from("Gard AS")), (arr, Value::from(900_000))],
    /// ])])?;
    /// assert_eq!(wb.name_value(wb.name_id("Total_ARR")?)?, &Value::from(900_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_name(mut self, name: ColumnSchema) -> Schema {
        self.names.push(name);
        self
    }
}

impl ViewSchema {
    /// A view named `name` over `table`, showing every row and column (set
    /// its `filter`, `sort`, `fields`, ... as needed).
    pub fn new(name: impl Into<String>, table: impl Into<String>) -> ViewSchema {
        ViewSchema {
            name: name.into(),
            table: table.into(),
            ..ViewSchema::default()
        }
    }
}

impl FieldSchema {
    /// A field that shows a column.
    pub fn column(name: impl Into<String>) -> FieldSchema {
        FieldSchema {
            name: name.into(),
            formula: None,
        }
    }

    /// A field computed by a formula on each row.
    pub fn computed(name: impl Into<String>, formula: impl Into<String>) -> FieldSchema {
        FieldSchema {
            name: name.into(),
            formula: Some(FormulaText::new(formula)),
        }
    }
}

impl TableSchema {
    /// A table with no columns yet.
    pub fn new(name: impl Into<String>) -> TableSchema {
        TableSchema {
            name: name.into(),
            columns: Vec::new(),
            display_column: None,
            comment: None,
            declared: None,
        }
    }

    /// Adds a column; returns the table for chaining.
    pub fn with_column(mut self, column: ColumnSchema) -> TableSchema {
        self.columns.push(column);
        self
    }
}

impl ColumnSchema {
    /// A data column of type `ty`.
    pub fn data(name: impl Into<String>, ty: ColumnType) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            ty,
            formula: None,
            required: false,
            unique: false,
            default: None,
            comment: None,
            origin: None,
            decimals: None,
            declared: None,
            action: None,
        }
    }

    /// A formula column; `ty` says how its values are meant (and, for a
    /// relation type, which table its rows belong to).
    pub fn formula(
        name: impl Into<String>,
        ty: ColumnType,
        formula: impl Into<String>,
    ) -> ColumnSchema {
        ColumnSchema {
            formula: Some(formula.into()),
            ..ColumnSchema::data(name, ty)
        }
    }

    /// A data column that holds one row of `table` (a relation): written as
    /// the row, or as the text of the target's display column.
    ///
    /// ```
    /// use csip_engine::{ColumnSchema, ColumnType};
    /// let c = ColumnSchema::relation("Account", "Accounts");
    /// assert_eq!(c.ty, ColumnType::Relation { table: "Accounts".into(), multiple: false });
    /// assert_eq!(ColumnSchema::relations("Accounts", "Accounts").ty,
    ///     ColumnType::Relation { table: "Accounts".into(), multiple: true });
    /// ```
    pub fn relation(name: impl Into<String>, table: impl Into<String>) -> ColumnSchema {
        ColumnSchema::data(
            name,
            ColumnType::Relation {
                table: table.into(),
                multiple: false,
            },
        )
    }

    /// A data column that holds a list of rows of `table`.
    pub fn relations(name: impl Into<String>, table: impl Into<String>) -> ColumnSchema {
        ColumnSchema::data(
            name,
            ColumnType::Relation {
                table: table.into(),
                multiple: true,
            },
        )
    }

    /// Marks the column required.
    pub fn required(mut self) -> ColumnSchema {
        self.required = true;
        self
    }

    /// Marks the column unique.
    pub fn unique(mut self) -> ColumnSchema {
        self.unique = true;
        self
    }

    /// Sets the default an insert stores when it gives no value.
    pub fn with_default(mut self, value: impl Into<Value>) -> ColumnSchema {
        self.default = Some(value.into());
        self
    }
}
