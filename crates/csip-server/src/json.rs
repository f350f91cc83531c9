//! Cell values as JSON, both ways.
//!
//! | value | JSON |
//! |---|---|
//! | Blank | `null` |
//! | number | a JSON number with every digit (`1250000.50`) |
//! | text | a string |
//! | true / false | `true` / `false` |
//! | date, date-time | `"2026-11-24"`, `"2026-11-24T08:00:00"` |
//! | a row | `{"table": "People_Team", "row_id": 3, "name": "Kari Nordmann"}` |
//! | a list | an array |
//! | an error value | `{"error": "division by zero", "message": "..."}` |
//!
//! Writes take the same shapes: a number or a numeric string for number
//! columns, a string for dates, options and relations (a row by its display
//! name), `{"row_id": 3}` for a row by id, an array for lists.

use csip_engine::{ColumnId, RowId, Value, Workbook};
use serde_json::{Map, Number, Value as Json, json};

/// A cell's value as JSON.
pub(crate) fn to_json(wb: &Workbook, value: &Value) -> Json {
    match value {
        Value::Blank => Json::Null,
        Value::Number(n) => n
            .normalize()
            .to_string()
            .parse::<Number>()
            .map(Json::Number)
            .unwrap_or_else(|_| Json::String(n.to_string())),
        Value::Text(t) => Json::String(t.to_string()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Date(_) | Value::DateTime(_) => Json::String(wb.display(value)),
        Value::Row(t, r) => {
            let name = wb
                .display_column(*t)
                .and_then(|c| wb.value(c, *r))
                .map(|v| wb.display(v))
                .unwrap_or_default();
            json!({"table": wb.table_name(*t), "row_id": r.get(), "name": name})
        }
        Value::List(items) => Json::Array(items.iter().map(|v| to_json(wb, v)).collect()),
        Value::Error(e) => json!({"error": e.kind.name(), "message": e.message}),
    }
}

/// A JSON value written to `column`, as the write takes it; the error is a
/// sentence about the value.
pub(crate) fn from_json(wb: &Workbook, column: ColumnId, json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Blank,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => wb.parse_text(column, &n.to_string())?,
        Json::String(s) => {
            if s.trim().is_empty() {
                Value::Blank
            } else if wb.relation_target(column).is_some() {
                Value::from(s.as_str())
            } else {
                wb.parse_text(column, s)?
            }
        }
        Json::Array(items) => Value::list(
            items
                .iter()
                .map(|i| from_json(wb, column, i))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => row_ref(wb, column, map)?,
    })
}

fn row_ref(wb: &Workbook, column: ColumnId, map: &Map<String, Json>) -> Result<Value, String> {
    let Some((target, _)) = wb.relation_target(column) else {
        return Err("an object is a row reference, and this column is not a relation".into());
    };
    let id = map
        .get("row_id")
        .and_then(Json::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or("a row reference is {\"row_id\": N}")?;
    Ok(Value::Row(target, RowId::from_raw(id)))
}
