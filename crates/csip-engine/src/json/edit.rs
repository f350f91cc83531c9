//! Transactions and change sets.
//!
//! ```json
//! {"ops": [
//!   {"op": "set", "column": 3, "row": 12, "value": {"number": "40"}},
//!   {"op": "insert", "table": 1, "id": null, "values": [[3, {"number": "90"}]]},
//!   {"op": "delete", "table": 1, "row": 7}
//! ]}
//! ```
//!
//! An operation is an object tagged by `"op"`; a kind of operation added
//! later is a new tag with keys of its own, and a reader that does not know
//! a tag refuses the transaction, naming it.

use super::present;
use super::value::RowRef;
use crate::ids::{CellId, ColumnId, RowId, TableId};
use crate::recalc::CellChange;
use crate::schema::{ColumnSchema, Schema, TableSchema};
use crate::schema_change::SchemaChange;
use crate::transaction::{ChangeSet, DeletedRow, Op, Transaction};
use crate::value::Value;
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::sync::Arc;

/// The tags a reader of this version knows.
const OPS: &str = "set, insert, delete, schema";

// ---- transactions -----------------------------------------------------------------

impl Serialize for Transaction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Transaction", 1)?;
        s.serialize_field("ops", self.ops())?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for Transaction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("Transaction", &["ops"], TransactionVisitor)
    }
}

struct TransactionVisitor;

impl<'de> de::Visitor<'de> for TransactionVisitor {
    type Value = Transaction;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a transaction: {\"ops\": [...]}")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Transaction, A::Error> {
        let mut ops: Option<Vec<Op>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "ops" if ops.is_none() => ops = Some(map.next_value()?),
                "ops" => return Err(de::Error::duplicate_field("ops")),
                other => return Err(de::Error::unknown_field(other, &["ops"])),
            }
        }
        let mut t = Transaction::new();
        for op in ops.ok_or_else(|| de::Error::missing_field("ops"))? {
            t.push(op);
        }
        Ok(t)
    }
}

/// An operation as written: borrowed from the [`Op`], tagged by `"op"`.
#[derive(serde::Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum OpOut<'a> {
    Set {
        column: ColumnId,
        row: RowId,
        value: &'a Value,
    },
    Insert {
        table: TableId,
        id: Option<RowId>,
        values: &'a [(ColumnId, Value)],
    },
    Delete {
        table: TableId,
        row: RowId,
    },
    Schema {
        change: &'a SchemaChange,
    },
}

/// A schema change: an object with one key naming the change.
///
/// ```json
/// {"add_column": {"table": 1, "column": {"name": "Tax", "type": "number", "formula": "[Amount] / 4"}}}
/// {"rename_column": {"column": 3, "name": "Gross"}}
/// ```
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(
    remote = "SchemaChange",
    rename_all = "snake_case",
    deny_unknown_fields
)]
enum SchemaChangeDef {
    AddTable(TableSchema),
    AddColumn {
        table: TableId,
        column: ColumnSchema,
    },
    AddName(ColumnSchema),
    SetFormula {
        column: ColumnId,
        formula: String,
    },
    RenameTable {
        table: TableId,
        name: String,
    },
    RenameColumn {
        column: ColumnId,
        name: String,
    },
    SetSchema(Schema),
    RemoveColumn {
        column: ColumnId,
    },
}

impl Serialize for SchemaChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SchemaChangeDef::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for SchemaChange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        SchemaChangeDef::deserialize(deserializer)
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let out = match self {
            Op::Set { column, row, value } => OpOut::Set {
                column: *column,
                row: *row,
                value,
            },
            Op::Insert { table, id, values } => OpOut::Insert {
                table: *table,
                id: *id,
                values,
            },
            Op::Delete { table, row } => OpOut::Delete {
                table: *table,
                row: *row,
            },
            Op::Schema(change) => OpOut::Schema { change },
        };
        out.serialize(serializer)
    }
}

/// An operation as read: every key any operation has, checked against its
/// tag once all are read. (serde's internally tagged enums read through a
/// buffer that `serde_json`'s `arbitrary_precision` numbers do not survive.)
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OpJson {
    op: String,
    #[serde(default)]
    table: Option<TableId>,
    #[serde(default)]
    column: Option<ColumnId>,
    #[serde(default)]
    row: Option<RowId>,
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<RowId>>,
    #[serde(default)]
    values: Option<Vec<(ColumnId, Value)>>,
    #[serde(default)]
    change: Option<SchemaChange>,
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let j = OpJson::deserialize(deserializer)?;
        let given = [
            ("table", j.table.is_some()),
            ("column", j.column.is_some()),
            ("row", j.row.is_some()),
            ("value", j.value.is_some()),
            ("id", j.id.is_some()),
            ("values", j.values.is_some()),
            ("change", j.change.is_some()),
        ];
        let keys = |allowed: &[&str]| -> Result<(), D::Error> {
            match given.iter().find(|(k, is)| *is && !allowed.contains(k)) {
                Some((k, _)) => Err(de::Error::custom(format!(
                    "`{k}` is not a key of a `{}` operation (its keys: op, {})",
                    j.op,
                    allowed.join(", ")
                ))),
                None => Ok(()),
            }
        };
        let missing = |key: &str| -> D::Error {
            de::Error::custom(format!("a `{}` operation needs `{key}`", j.op))
        };
        match j.op.as_str() {
            "set" => {
                keys(&["column", "row", "value"])?;
                Ok(Op::Set {
                    column: j.column.ok_or_else(|| missing("column"))?,
                    row: j.row.ok_or_else(|| missing("row"))?,
                    value: j.value.ok_or_else(|| missing("value"))?,
                })
            }
            "insert" => {
                keys(&["table", "id", "values"])?;
                Ok(Op::Insert {
                    table: j.table.ok_or_else(|| missing("table"))?,
                    id: j.id.flatten(),
                    values: j.values.unwrap_or_default(),
                })
            }
            "delete" => {
                keys(&["table", "row"])?;
                Ok(Op::Delete {
                    table: j.table.ok_or_else(|| missing("table"))?,
                    row: j.row.ok_or_else(|| missing("row"))?,
                })
            }
            "schema" => {
                keys(&["change"])?;
                Ok(Op::Schema(Box::new(
                    j.change.ok_or_else(|| missing("change"))?,
                )))
            }
            other => Err(de::Error::custom(format!(
                "unknown operation `{other}`; the operations are: {OPS}"
            ))),
        }
    }
}

// ---- change sets ------------------------------------------------------------------

impl Serialize for ChangeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ChangeSet", 4)?;
        s.serialize_field("changes", &self.changes)?;
        s.serialize_field("inserted", &Rows(&self.inserted))?;
        s.serialize_field("deleted", &self.deleted)?;
        match &self.schema {
            Some(schema) => s.serialize_field("schema", &**schema)?,
            None => s.skip_field("schema")?,
        }
        s.end()
    }
}

/// Rows as a list of `{"table": .., "row": ..}`.
struct Rows<'a>(&'a [(TableId, RowId)]);

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|&(table, row)| RowRef { table, row }))
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeSetJson {
    #[serde(default)]
    changes: Vec<CellChange>,
    #[serde(default)]
    inserted: Vec<RowRef>,
    #[serde(default)]
    deleted: Vec<DeletedRow>,
    #[serde(default)]
    schema: Option<Schema>,
}

impl<'de> Deserialize<'de> for ChangeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let j = ChangeSetJson::deserialize(deserializer)?;
        let rows = |rows: Vec<RowRef>| rows.into_iter().map(|r| (r.table, r.row)).collect();
        Ok(ChangeSet {
            changes: j.changes,
            inserted: rows(j.inserted),
            deleted: j.deleted,
            schema: j.schema.map(Arc::new),
        })
    }
}

/// A deleted row: `{"table": 1, "row": 7, "values": [[3, {"number": "40"}], ...]}`.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "DeletedRow", deny_unknown_fields)]
struct DeletedRowDef {
    table: TableId,
    row: RowId,
    #[serde(default)]
    values: Vec<(ColumnId, Value)>,
}

impl Serialize for DeletedRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DeletedRowDef::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for DeletedRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DeletedRowDef::deserialize(deserializer)
    }
}

/// `{"table": 0, "column": 3, "row": 12, "old": .., "new": ..}`; no `old`
/// for a cell of a row the transaction inserted (`"old": null` is Blank).
impl Serialize for CellChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CellChange", 5)?;
        s.serialize_field("table", &self.table)?;
        s.serialize_field("column", &self.cell.column)?;
        s.serialize_field("row", &self.cell.row)?;
        match &self.old {
            Some(old) => s.serialize_field("old", old)?,
            None => s.skip_field("old")?,
        }
        s.serialize_field("new", &self.new)?;
        s.end()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CellChangeJson {
    table: TableId,
    column: ColumnId,
    row: RowId,
    #[serde(default, deserialize_with = "present")]
    old: Option<Value>,
    new: Value,
}

impl<'de> Deserialize<'de> for CellChange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let j = CellChangeJson::deserialize(deserializer)?;
        Ok(CellChange {
            cell: CellId {
                column: j.column,
                row: j.row,
            },
            table: j.table,
            old: j.old,
            new: j.new,
        })
    }
}
