//! The schema as plain data: tables, typed columns, formulas, constraints.
//! A [`Schema`] is what a loader produces and what [`crate::Workbook::new`] binds.

use crate::value::Value;
use rust_decimal::Decimal;
use std::fmt;
use std::sync::Arc;

/// A whole workbook's definition: its tables in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    /// The tables, in the order they were written.
    pub tables: Vec<TableSchema>,
}

/// One table: a name and its columns. The first column is the table's display
/// column: a row is named by its value (in relations written as text, in `ToText`).
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    /// The table name; unique in the workbook without regard to case.
    pub name: String,
    /// The columns, in order.
    pub columns: Vec<ColumnSchema>,
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
}

impl TableSchema {
    /// A table with no columns yet.
    pub fn new(name: impl Into<String>) -> TableSchema {
        TableSchema {
            name: name.into(),
            columns: Vec::new(),
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
