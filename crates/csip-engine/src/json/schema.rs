//! The schema: the same keys as the table files (`docs/workbook-files.md`),
//! with the views listed after the tables, each naming its table.
//!
//! A key at its default is left out when written and may be left out when
//! read: an absent text or number, `false`, an empty list, the `grid` layout.
//! Where a formula or a declaration sits in a file (`origin`, `declared`) is
//! not written; a schema read from JSON has none.
//!
//! The impls go through serde's remote derive: each `...Def` below lists its
//! public type's fields with their keys, and the public type's impl calls it.
//! A field added to a schema type must be added here too (the build says so).

use super::{is_false, present, read_decimal, write_decimal};
use crate::schema::{
    ColumnSchema, ColumnType, FieldSchema, FormulaText, ParamSchema, Schema, SortKey, TableSchema,
    TileSchema, ViewLayout, ViewSchema,
};
use crate::value::Value;
use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

/// Implements `Serialize` and `Deserialize` for `$public` through its remote definition `$def`.
macro_rules! through_remote {
    ($($public:ty => $def:ident),* $(,)?) => {$(
        impl Serialize for $public {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $def::serialize(self, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $public {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $def::deserialize(deserializer)
            }
        }
    )*};
}

through_remote! {
    Schema => SchemaDef,
    TableSchema => TableSchemaDef,
    ColumnSchema => ColumnSchemaDef,
    ColumnType => ColumnTypeDef,
    ViewSchema => ViewSchemaDef,
    SortKey => SortKeyDef,
    FieldSchema => FieldSchemaDef,
    ParamSchema => ParamSchemaDef,
    TileSchema => TileSchemaDef,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "Schema", deny_unknown_fields)]
struct SchemaDef {
    #[serde(default)]
    tables: Vec<TableSchema>,
    #[serde(default)]
    views: Vec<ViewSchema>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    names: Vec<ColumnSchema>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "TableSchema", deny_unknown_fields)]
struct TableSchemaDef {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_column: Option<String>,
    #[serde(default)]
    columns: Vec<ColumnSchema>,
    #[serde(skip)]
    declared: Option<crate::schema::SourceOrigin>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "ColumnSchema", deny_unknown_fields)]
struct ColumnSchemaDef {
    name: String,
    #[serde(rename = "type")]
    ty: ColumnType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    formula: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    unique: bool,
    /// `null` is a default of Blank; no key is no default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decimals: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip)]
    origin: Option<crate::schema::SourceOrigin>,
    #[serde(skip)]
    declared: Option<crate::schema::SourceOrigin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<String>,
}

/// A type is its table-file name; one that carries more is an object with
/// that one key.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "ColumnType", deny_unknown_fields)]
enum ColumnTypeDef {
    #[serde(rename = "text")]
    Text,
    #[serde(rename = "number")]
    Number,
    #[serde(rename = "currency")]
    Currency,
    #[serde(rename = "percent")]
    Percent,
    #[serde(rename = "date")]
    Date,
    #[serde(rename = "datetime")]
    DateTime,
    #[serde(rename = "checkbox")]
    Checkbox,
    #[serde(rename = "select")]
    Select(Vec<String>),
    #[serde(rename = "multi-select")]
    MultiSelect(Vec<String>),
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "slider")]
    Slider {
        #[serde(serialize_with = "write_decimal", deserialize_with = "read_decimal")]
        min: Decimal,
        #[serde(serialize_with = "write_decimal", deserialize_with = "read_decimal")]
        max: Decimal,
    },
    #[serde(rename = "canvas")]
    Canvas,
    #[serde(rename = "relation")]
    Relation {
        table: String,
        #[serde(default)]
        multiple: bool,
    },
    #[serde(rename = "people")]
    People {
        table: String,
        #[serde(default)]
        multiple: bool,
    },
    #[serde(rename = "attachment")]
    Attachment,
    #[serde(rename = "button")]
    Button,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "ViewSchema", deny_unknown_fields)]
struct ViewSchemaDef {
    name: String,
    table: String,
    #[serde(default, skip_serializing_if = "is_grid")]
    layout: ViewLayout,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<FormulaText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sort: Vec<SortKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_by: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    group_order: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldSchema>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    params: Vec<ParamSchema>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tiles: Vec<TileSchema>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    include: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip)]
    declared: Option<crate::schema::SourceOrigin>,
}

fn is_grid(layout: &ViewLayout) -> bool {
    *layout == ViewLayout::Grid
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "SortKey", deny_unknown_fields)]
struct SortKeyDef {
    field: String,
    #[serde(default, skip_serializing_if = "is_false")]
    descending: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "FieldSchema", deny_unknown_fields)]
struct FieldSchemaDef {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    formula: Option<FormulaText>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "ParamSchema", deny_unknown_fields)]
struct ParamSchemaDef {
    name: String,
    #[serde(rename = "type")]
    ty: ColumnType,
    #[serde(default = "yes")]
    required: bool,
}

fn yes() -> bool {
    true
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "TileSchema", deny_unknown_fields)]
struct TileSchemaDef {
    name: String,
    formula: FormulaText,
}

/// A layout is its name: `grid`, `cards`, `kanban` or `dashboard`.
impl Serialize for ViewLayout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(crate::schema::layout_name(*self))
    }
}

impl<'de> Deserialize<'de> for ViewLayout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ViewLayout::from_name(&name).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown layout \"{name}\"; use grid, cards, kanban or dashboard"
            ))
        })
    }
}

/// A formula is its text; where it sat in a file is not written.
impl Serialize for FormulaText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for FormulaText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(FormulaText::new)
    }
}
