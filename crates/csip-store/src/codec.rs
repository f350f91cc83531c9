//! How a data cell is stored in SQLite: one SQL column per data column, its
//! storage class decided by the column's type.
//!
//! | column type | SQL | example |
//! |---|---|---|
//! | number, currency, percent, slider | TEXT, the exact decimal | `'1250000.00'` |
//! | text, canvas, e-mail, select | TEXT | `'Signature Success'` |
//! | date / date-time | TEXT, ISO 8601 | `'2026-11-24'`, `'2026-11-24T08:00:00'` |
//! | checkbox | INTEGER 0 / 1 | `1` |
//! | single relation, people | INTEGER, the target row's id | `3` |
//! | multi relation, people | TEXT, a JSON array of row ids | `'[3,7]'` |
//! | multi-select, attachment | TEXT, a JSON array of text | `'["EMEA","APAC"]'` |
//!
//! Blank is NULL. Numbers are text so that no digit is lost to a float.

use csip_engine::{ColumnType, Decimal, NaiveDate, NaiveDateTime, RowId, TableId, Value};
use rusqlite::types::Value as Sql;
use std::str::FromStr;

/// How one column's cells are written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    Text,
    Number,
    Date,
    DateTime,
    Bool,
    Row(TableId),
    Rows(TableId),
    TextList,
}

impl Codec {
    /// The codec of a data column, or `None` for a column that holds nothing (a button).
    pub(crate) fn of(ty: &ColumnType, target: Option<(TableId, bool)>) -> Option<Codec> {
        Some(match ty {
            ColumnType::Number
            | ColumnType::Currency
            | ColumnType::Percent
            | ColumnType::Slider { .. } => Codec::Number,
            ColumnType::Text | ColumnType::Canvas | ColumnType::Email | ColumnType::Select(_) => {
                Codec::Text
            }
            ColumnType::Date => Codec::Date,
            ColumnType::DateTime => Codec::DateTime,
            ColumnType::Checkbox => Codec::Bool,
            ColumnType::Relation { .. } | ColumnType::People { .. } => match target? {
                (t, false) => Codec::Row(t),
                (t, true) => Codec::Rows(t),
            },
            ColumnType::MultiSelect(_) | ColumnType::Attachment => Codec::TextList,
            ColumnType::Button => return None,
        })
    }

    /// A short name of the storage, for upgrade messages ("number", "rows").
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Codec::Text => "text",
            Codec::Number => "number",
            Codec::Date => "date",
            Codec::DateTime => "date-time",
            Codec::Bool => "checkbox",
            Codec::Row(_) => "one row",
            Codec::Rows(_) => "rows",
            Codec::TextList => "list of text",
        }
    }

    /// Whether cells stored by `self` read back under `other` unchanged.
    pub(crate) fn same_storage(self, other: Codec) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }

    pub(crate) fn encode(self, value: &Value) -> Sql {
        match (self, value) {
            (_, Value::Blank) => Sql::Null,
            (Codec::Number, Value::Number(n)) => Sql::Text(n.to_string()),
            (Codec::Bool, Value::Bool(b)) => Sql::Integer(i64::from(*b)),
            (Codec::Date, Value::Date(d)) => Sql::Text(d.format("%Y-%m-%d").to_string()),
            (Codec::DateTime, Value::DateTime(d)) => {
                Sql::Text(d.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
            }
            (Codec::Row(_), Value::Row(_, r)) => Sql::Integer(i64::from(r.get())),
            (Codec::Rows(_), v) => Sql::Text(
                serde_json::to_string(
                    &v.elements()
                        .iter()
                        .filter_map(|e| match e {
                            Value::Row(_, r) => Some(r.get()),
                            _ => None,
                        })
                        .collect::<Vec<u32>>(),
                )
                .unwrap_or_else(|_| "[]".into()),
            ),
            (Codec::TextList, v) => Sql::Text(
                serde_json::to_string(
                    &v.elements()
                        .iter()
                        .map(|e| match e {
                            Value::Text(t) => t.to_string(),
                            // Writes store only text here (the engine coerces); kept readable regardless.
                            other => format!("{other:?}"),
                        })
                        .collect::<Vec<String>>(),
                )
                .unwrap_or_else(|_| "[]".into()),
            ),
            (_, Value::Text(t)) => Sql::Text(t.to_string()),
            (_, other) => Sql::Text(format!("{other:?}")),
        }
    }

    /// Reads a stored cell back; the error says what the stored text is and
    /// what was expected.
    pub(crate) fn decode(self, sql: Sql) -> Result<Value, String> {
        let text = |s: &str, what: &str| format!("`{s}` is not {what}");
        Ok(match (self, sql) {
            (_, Sql::Null) => Value::Blank,
            (Codec::Number, Sql::Text(s)) => {
                Value::Number(Decimal::from_str(&s).map_err(|_| text(&s, "a number"))?)
            }
            (Codec::Number, Sql::Integer(i)) => Value::from(i),
            (Codec::Number, Sql::Real(f)) => Value::Number(
                Decimal::from_str(&format!("{f}")).map_err(|_| format!("{f} is not a number"))?,
            ),
            (Codec::Text, Sql::Text(s)) => Value::from(s),
            (Codec::Date, Sql::Text(s)) => Value::Date(
                NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| text(&s, "a date"))?,
            ),
            (Codec::DateTime, Sql::Text(s)) => Value::DateTime(
                NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map_err(|_| text(&s, "a date-time"))?,
            ),
            (Codec::Bool, Sql::Integer(i)) => Value::Bool(i != 0),
            (Codec::Row(t), Sql::Integer(i)) => Value::Row(t, row_id(i)?),
            (Codec::Rows(t), Sql::Text(s)) => {
                let ids: Vec<i64> =
                    serde_json::from_str(&s).map_err(|_| text(&s, "a JSON list of row ids"))?;
                Value::list(
                    ids.into_iter()
                        .map(|i| row_id(i).map(|r| Value::Row(t, r)))
                        .collect::<Result<_, _>>()?,
                )
            }
            (Codec::TextList, Sql::Text(s)) => {
                let items: Vec<String> =
                    serde_json::from_str(&s).map_err(|_| text(&s, "a JSON list of text"))?;
                Value::list(items.into_iter().map(Value::from).collect())
            }
            (codec, other) => {
                return Err(format!(
                    "a {} cell holds {other:?}, which is not how csip stores it",
                    codec.kind()
                ));
            }
        })
    }
}

fn row_id(i: i64) -> Result<RowId, String> {
    u32::try_from(i)
        .map(RowId::from_raw)
        .map_err(|_| format!("{i} is not a row id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableId {
        csip_engine::Workbook::new(
            &csip_engine::Schema::new().with_table(
                csip_engine::TableSchema::new("T")
                    .with_column(csip_engine::ColumnSchema::data("A", ColumnType::Text)),
            ),
            csip_engine::Clock::on(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()),
        )
        .ok()
        .and_then(|wb| wb.table_id("T").ok())
        .expect("a table")
    }

    #[test]
    fn every_storage_round_trips() {
        let t = table();
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
        let cases = [
            (
                Codec::Number,
                Value::Number(Decimal::from_str("1250000.50").unwrap_or_default()),
            ),
            (Codec::Text, Value::from("Gard AS")),
            (Codec::Date, Value::Date(date)),
            (
                Codec::DateTime,
                Value::DateTime(date.and_hms_milli_opt(8, 30, 1, 250).unwrap_or_default()),
            ),
            (Codec::Bool, Value::Bool(true)),
            (Codec::Row(t), Value::Row(t, RowId::from_raw(7))),
            (
                Codec::Rows(t),
                Value::list(vec![
                    Value::Row(t, RowId::from_raw(1)),
                    Value::Row(t, RowId::from_raw(9)),
                ]),
            ),
            (
                Codec::TextList,
                Value::list(vec![Value::from("EMEA"), Value::from("a, b")]),
            ),
            (Codec::Number, Value::Blank),
        ];
        for (codec, value) in cases {
            let back = codec.decode(codec.encode(&value));
            assert_eq!(back.as_ref().ok(), Some(&value), "{codec:?}");
            if let (Value::Number(a), Ok(Value::Number(b))) = (&value, &back) {
                assert_eq!(a.scale(), b.scale(), "a number keeps its digits");
            }
        }
    }

    #[test]
    fn foreign_text_is_an_error_not_a_panic() {
        assert!(Codec::Number.decode(Sql::Text("twelve".into())).is_err());
        assert!(Codec::Date.decode(Sql::Text("24/11/2026".into())).is_err());
        assert!(
            Codec::Rows(table())
                .decode(Sql::Text("[-1]".into()))
                .is_err()
        );
        assert!(Codec::Bool.decode(Sql::Blob(vec![1])).is_err());
    }
}
