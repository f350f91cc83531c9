//! Values, error values and ids.
//!
//! | value | JSON |
//! |---|---|
//! | Blank | `null` |
//! | number | `{"number": "12.50"}` (a JSON number is read too, when exact) |
//! | text | `{"text": "Gard AS"}` |
//! | true / false | `{"bool": true}` |
//! | date | `{"date": "2026-11-24"}` |
//! | date-time | `{"datetime": "2026-11-24T08:00:00"}` (fractions of a second when there are any) |
//! | a row | `{"row": {"table": 0, "row": 1}}` (the row's public number, from 1) |
//! | a list | `{"list": [...]}` |
//! | an error value | `{"error": {"kind": "division by zero", "message": "..."}}` |

use super::{JSON_NUMBER_TOKEN, read_decimal};
use crate::coerce::{parse_date, parse_datetime};
use crate::ids::{CellId, ColumnId, RowId, TableId};
use crate::value::{ErrorKind, EvalError, Value, date_to_text};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use std::fmt;
use std::sync::Arc;

/// The keys that name a value's type, in the order the docs list them.
const VALUE_TYPES: &[&str] = &[
    "number", "text", "bool", "date", "datetime", "row", "list", "error",
];

// ---- values ---------------------------------------------------------------------

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Value::Blank = self {
            return serializer.serialize_none();
        }
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Value::Blank => {}
            Value::Number(n) => map.serialize_entry("number", &n.to_string())?,
            Value::Text(t) => map.serialize_entry("text", &**t)?,
            Value::Bool(b) => map.serialize_entry("bool", b)?,
            Value::Date(d) => map.serialize_entry("date", &date_text(*d)?)?,
            Value::DateTime(d) => map.serialize_entry("datetime", &datetime_text(*d)?)?,
            Value::Row(table, row) => map.serialize_entry(
                "row",
                &RowRef {
                    table: *table,
                    row: *row,
                },
            )?,
            Value::List(items) => map.serialize_entry("list", &**items)?,
            Value::Error(e) => map.serialize_entry("error", &**e)?,
        }
        map.end()
    }
}

/// A date as `YYYY-MM-DD`; a year outside 1 to 9999 is not written, since
/// it could not be read back.
fn date_text<E: serde::ser::Error>(d: NaiveDate) -> Result<String, E> {
    if !(1..=9999).contains(&d.year()) {
        return Err(E::custom(format!(
            "the date {d} lies outside the years 1 to 9999"
        )));
    }
    Ok(date_to_text(d))
}

/// A date-time as `YYYY-MM-DDTHH:MM:SS`, with the fraction of a second
/// when there is one (`.5`, `.000001`).
fn datetime_text<E: serde::ser::Error>(d: NaiveDateTime) -> Result<String, E> {
    let date = date_text::<E>(d.date())?;
    Ok(format!("{date}T{}", d.time().format("%H:%M:%S%.f")))
}

/// A row: its table and its public number (`{"table": 0, "row": 1}`).
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RowRef {
    pub(super) table: TableId,
    pub(super) row: RowId,
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a value: null (Blank), or an object with one key naming its type \
             (number, text, bool, date, datetime, row, list, error), like {\"number\": \"12.50\"}",
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Blank)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Blank)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "an empty object is not a value; Blank is null",
            ));
        };
        let value = match key.as_str() {
            "number" => Value::Number(map.next_value_seed(DecimalSeed)?),
            "text" => Value::Text(Arc::from(map.next_value::<String>()?)),
            "bool" => Value::Bool(map.next_value()?),
            "date" => {
                let text = map.next_value::<String>()?;
                Value::Date(
                    parse_date(&text)
                        .map_err(|e| de::Error::custom(format!("the date \"{text}\" {e}")))?,
                )
            }
            "datetime" => {
                let text = map.next_value::<String>()?;
                Value::DateTime(parse_datetime(&text).map_err(|e| {
                    de::Error::custom(format!(
                        "the date-time \"{text}\" {}",
                        e.to_string().replace("YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS")
                    ))
                })?)
            }
            "row" => {
                let row: RowRef = map.next_value()?;
                Value::Row(row.table, row.row)
            }
            "list" => Value::list(map.next_value()?),
            "error" => Value::Error(Arc::new(map.next_value()?)),
            JSON_NUMBER_TOKEN => {
                return Err(de::Error::custom(
                    "a bare number is not a value; write {\"number\": \"12.50\"}",
                ));
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown value type `{other}`; a value is null or an object with one of the keys {}",
                    VALUE_TYPES.join(", ")
                )));
            }
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a value is an object with one key naming its type; `{key}` is followed by `{extra}`"
            )));
        }
        Ok(value)
    }
}

/// Reads a number's value in any form [`NumberInput`] takes.
struct DecimalSeed;

impl<'de> de::DeserializeSeed<'de> for DecimalSeed {
    type Value = rust_decimal::Decimal;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        read_decimal(deserializer)
    }
}

// ---- error values ---------------------------------------------------------------

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ErrorKind::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
            de::Error::custom(format!(
                "unknown error kind \"{name}\"; the kinds are: {}",
                names.join(", ")
            ))
        })
    }
}

impl Serialize for EvalError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("EvalError", 2)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("message", &self.message)?;
        s.end()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalErrorJson {
    kind: ErrorKind,
    #[serde(default)]
    message: String,
}

impl<'de> Deserialize<'de> for EvalError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let e = EvalErrorJson::deserialize(deserializer)?;
        Ok(EvalError {
            kind: e.kind,
            message: e.message,
        })
    }
}

// ---- ids --------------------------------------------------------------------------

impl Serialize for TableId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for TableId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        id_number(deserializer, "a table id").map(|i| TableId(i, 0))
    }
}

impl Serialize for ColumnId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for ColumnId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        id_number(deserializer, "a column id").map(|i| ColumnId(i, 0))
    }
}

/// A row id is written as its public number ([`RowId::get`]), from 1.
impl Serialize for RowId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.checked_add(1) {
            Some(number) => serializer.serialize_u32(number),
            None => Err(serde::ser::Error::custom(
                "RowId::from_raw(0) is no row and has no number",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for RowId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match id_number(deserializer, "a row id")? {
            0 => Err(de::Error::custom("0 is not a row id; row ids count from 1")),
            number => Ok(RowId::from_raw(number)),
        }
    }
}

impl Serialize for CellId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CellId", 2)?;
        s.serialize_field("column", &self.column)?;
        s.serialize_field("row", &self.row)?;
        s.end()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CellIdJson {
    column: ColumnId,
    row: RowId,
}

impl<'de> Deserialize<'de> for CellId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let c = CellIdJson::deserialize(deserializer)?;
        Ok(CellId {
            column: c.column,
            row: c.row,
        })
    }
}

/// An id: a whole number from 0 to 4294967295.
fn id_number<'de, D: Deserializer<'de>>(deserializer: D, what: &str) -> Result<u32, D::Error> {
    u32::deserialize(deserializer).map_err(|e| {
        de::Error::custom(format!(
            "{what} is a whole number from 0 to {}: {e}",
            u32::MAX
        ))
    })
}
