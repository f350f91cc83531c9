//! What a write may store: an input value checked and converted against its
//! column's type, options, range and relation target.

use crate::data::Data;
use crate::ids::{ColumnId, RowId, TableId};
use crate::index::IndexMode;
use crate::schema::ColumnType;
use crate::transaction::TransactionErrorKind as K;
use crate::value::{Key, Value, date_to_text, datetime_to_text, midnight, number_to_text};
use chrono::{NaiveDate, NaiveDateTime};
use std::sync::Arc;

/// Why a value cannot be stored: the kind and a sentence about the value.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub(crate) kind: K,
    pub(crate) message: String,
}

fn reject(kind: K, message: impl Into<String>) -> Rejected {
    Rejected {
        kind,
        message: message.into(),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Text(t) => format!("text \"{t}\""),
        Value::Number(n) => format!("the number {}", number_to_text(*n)),
        Value::Bool(b) => format!("{b}"),
        Value::Date(d) => format!("the date {}", date_to_text(*d)),
        Value::DateTime(d) => format!("the date-time {}", datetime_to_text(*d)),
        other => other.type_name().to_string(),
    }
}

/// Checks and converts `value` for column `col`.
pub(crate) fn coerce(data: &Data, col: ColumnId, value: Value) -> Result<Value, Rejected> {
    let column = data.column(col);
    coerce_to(data, &column.schema.ty, column.target, value)
}

/// Checks and converts `value` for a column (or view parameter) of type `ty`;
/// `target` is a relation's table and whether it holds a list.
pub(crate) fn coerce_to(
    data: &Data,
    ty: &ColumnType,
    target: Option<(TableId, bool)>,
    value: Value,
) -> Result<Value, Rejected> {
    if let Value::Error(e) = &value {
        return Err(reject(
            K::WrongType,
            format!("cannot store an error value ({e})"),
        ));
    }
    if value.is_blank() {
        return Ok(Value::Blank);
    }
    match ty {
        ColumnType::Text | ColumnType::Canvas => match &value {
            Value::Text(_) => Ok(value),
            Value::Number(n) => Ok(Value::from(number_to_text(*n))),
            Value::Bool(b) => Ok(Value::from(b.to_string())),
            Value::Date(d) => Ok(Value::from(date_to_text(*d))),
            Value::DateTime(d) => Ok(Value::from(datetime_to_text(*d))),
            other => Err(reject(
                K::WrongType,
                format!("takes text, not {}", describe(other)),
            )),
        },
        ColumnType::Email => match &value {
            Value::Text(t) if is_email(t) => Ok(Value::from(t.trim())),
            Value::Text(t) => Err(reject(
                K::WrongType,
                format!("takes an e-mail address, and \"{t}\" is not one (write name@example.com)"),
            )),
            other => Err(reject(
                K::WrongType,
                format!("takes an e-mail address, not {}", describe(other)),
            )),
        },
        ColumnType::Number | ColumnType::Currency | ColumnType::Percent => match &value {
            Value::Number(_) => Ok(value),
            other => Err(reject(
                K::WrongType,
                format!("takes a number, not {}", describe(other)),
            )),
        },
        ColumnType::Slider { min, max } => match &value {
            Value::Number(n) if n >= min && n <= max => Ok(value),
            Value::Number(n) => Err(reject(
                K::OutOfRange,
                format!(
                    "takes a number from {} to {}, not {}",
                    number_to_text(*min),
                    number_to_text(*max),
                    number_to_text(*n)
                ),
            )),
            other => Err(reject(
                K::WrongType,
                format!("takes a number, not {}", describe(other)),
            )),
        },
        ColumnType::Date => match &value {
            Value::Date(_) => Ok(value),
            Value::DateTime(d) if d.time() == chrono::NaiveTime::MIN => Ok(Value::Date(d.date())),
            Value::Text(t) => parse_date(t).map(Value::Date).ok_or_else(|| {
                reject(
                    K::WrongType,
                    format!("takes a date, and \"{t}\" is not one (write YYYY-MM-DD)"),
                )
            }),
            other => Err(reject(
                K::WrongType,
                format!("takes a date, not {}", describe(other)),
            )),
        },
        ColumnType::DateTime => match &value {
            Value::DateTime(_) => Ok(value),
            Value::Date(d) => Ok(Value::DateTime(midnight(*d))),
            Value::Text(t) => parse_datetime(t).map(Value::DateTime).ok_or_else(|| {
                reject(
                    K::WrongType,
                    format!(
                        "takes a date and time, and \"{t}\" is not one (write YYYY-MM-DDTHH:MM:SS)"
                    ),
                )
            }),
            other => Err(reject(
                K::WrongType,
                format!("takes a date and time, not {}", describe(other)),
            )),
        },
        ColumnType::Checkbox => match &value {
            Value::Bool(_) => Ok(value),
            other => Err(reject(
                K::WrongType,
                format!("takes true or false, not {}", describe(other)),
            )),
        },
        ColumnType::Select(options) => match &value {
            Value::Text(t) => option(options, t).map(Value::from),
            Value::List(l) if l.len() == 1 => coerce_to(data, ty, target, l[0].clone()),
            other => Err(reject(
                K::WrongType,
                format!("takes one of its options, not {}", describe(other)),
            )),
        },
        ColumnType::MultiSelect(options) => {
            let mut out: Vec<Value> = Vec::new();
            for item in value.elements() {
                match item {
                    Value::Text(t) => {
                        let v = Value::from(option(options, t)?);
                        if !out.contains(&v) {
                            out.push(v);
                        }
                    }
                    v if v.is_blank() => {}
                    other => {
                        return Err(reject(
                            K::WrongType,
                            format!("takes options, not {}", describe(other)),
                        ));
                    }
                }
            }
            Ok(if out.is_empty() {
                Value::Blank
            } else {
                Value::list(out)
            })
        }
        ColumnType::Relation { .. } | ColumnType::People { .. } => {
            let Some((target, multiple)) = target else {
                return Err(reject(K::WrongType, "has no target table"));
            };
            if multiple {
                let mut out: Vec<Value> = Vec::new();
                for item in value.elements() {
                    if item.is_blank() {
                        continue;
                    }
                    let v = reference(data, target, item)?;
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(if out.is_empty() {
                    Value::Blank
                } else {
                    Value::list(out)
                })
            } else {
                match value.elements() {
                    [one] => reference(data, target, one),
                    [] => Ok(Value::Blank),
                    many => Err(reject(
                        K::WrongType,
                        format!(
                            "takes one row of `{}`, not {} rows",
                            data.table(target).name,
                            many.len()
                        ),
                    )),
                }
            }
        }
        ColumnType::Attachment => {
            for item in value.elements() {
                if !matches!(item, Value::Text(_)) {
                    return Err(reject(
                        K::WrongType,
                        format!("takes file names or links, not {}", describe(item)),
                    ));
                }
            }
            Ok(value)
        }
        ColumnType::Button => Err(reject(K::NotWritable, "is a button and holds no value")),
    }
}

fn option(options: &[String], text: &str) -> Result<Arc<str>, Rejected> {
    let t = text.trim();
    options
        .iter()
        .find(|o| o.as_str() == t)
        .or_else(|| options.iter().find(|o| o.eq_ignore_ascii_case(t)))
        .map(|o| Arc::from(o.as_str()))
        .ok_or_else(|| {
            reject(
                K::NotAnOption,
                format!("has no option \"{t}\" (options: {})", options.join(", ")),
            )
        })
}

/// A row of `target` named by a row value or by its display column's text.
fn reference(data: &Data, target: TableId, v: &Value) -> Result<Value, Rejected> {
    let table = data.table(target);
    match v {
        Value::Row(t, r) if *t == target => {
            if table.is_live(*r) {
                Ok(v.clone())
            } else {
                Err(reject(
                    K::UnknownReference,
                    format!(
                        "refers to row {r} of `{}`, which does not exist",
                        table.name
                    ),
                ))
            }
        }
        Value::Row(t, _) => Err(reject(
            K::WrongType,
            format!(
                "takes a row of `{}`, not a row of `{}`",
                table.name,
                data.table(*t).name
            ),
        )),
        Value::Text(_) | Value::Number(_) => {
            let rows = rows_named(data, target, v);
            match rows.as_slice() {
                [one] => Ok(Value::Row(target, *one)),
                [] => Err(reject(
                    K::UnknownReference,
                    format!(
                        "refers to \"{}\", but no row of `{}` is named so",
                        text_of(v),
                        table.name
                    ),
                )),
                many => Err(reject(
                    K::AmbiguousReference,
                    format!(
                        "refers to \"{}\", which names {} rows of `{}`; refer to one by its row id",
                        text_of(v),
                        many.len(),
                        table.name
                    ),
                )),
            }
        }
        other => Err(reject(
            K::WrongType,
            format!("takes a row of `{}`, not {}", table.name, describe(other)),
        )),
    }
}

/// Reads a cell written as text (a CSV field) into the value a write of
/// column type `ty` takes: "" is Blank; numbers are plain decimals
/// (`1234.5`, `-3`, `1e6`), and a percent column also takes `45%` (stored
/// as 45, the number written);
/// checkboxes take true/false, yes/no, 1/0; lists (multi-selects,
/// multi-relations, attachments) are separated by commas; everything else
/// stays text, which the write then checks (dates, options, relations by name).
pub(crate) fn from_text(ty: &ColumnType, multiple: bool, text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Blank);
    }
    let list = || {
        Value::list(
            t.split(',')
                .map(|p| Value::from(p.trim()))
                .filter(|v| !v.is_blank())
                .collect(),
        )
    };
    match ty {
        ColumnType::Number | ColumnType::Currency | ColumnType::Slider { .. } => {
            number(t).map(Value::Number)
        }
        ColumnType::Percent => match t.strip_suffix('%') {
            Some(p) => number(p.trim()).map(Value::Number),
            None => number(t).map(Value::Number),
        },
        ColumnType::Checkbox => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "x" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("\"{t}\" is not true or false")),
        },
        ColumnType::MultiSelect(_) | ColumnType::Attachment => Ok(list()),
        ColumnType::Relation { .. } | ColumnType::People { .. } if multiple => Ok(list()),
        _ => Ok(Value::from(t)),
    }
}

fn number(t: &str) -> Result<rust_decimal::Decimal, String> {
    use std::str::FromStr;
    rust_decimal::Decimal::from_str(t)
        .or_else(|_| rust_decimal::Decimal::from_scientific(t))
        .map_err(|_| {
            format!("\"{t}\" is not a number (write digits with a `.` for decimals, like 1234.5)")
        })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Text(t) => t.to_string(),
        Value::Number(n) => number_to_text(*n),
        other => other.type_name().to_string(),
    }
}

/// The live rows whose display (first) column equals `name`.
pub(crate) fn rows_named(data: &Data, table: TableId, name: &Value) -> Vec<RowId> {
    let Some(display) = data.table(table).display else {
        return Vec::new();
    };
    let Some(key) = Key::from_value(name) else {
        return Vec::new();
    };
    match data.find_index(display, IndexMode::Whole) {
        Some(ix) => data.index(ix).get(&key).to_vec(),
        None => data
            .table(table)
            .order()
            .iter()
            .copied()
            .filter(|r| Key::from_value(data.cell(display, *r)).as_ref() == Some(&key))
            .collect(),
    }
}

fn is_email(t: &str) -> bool {
    let t = t.trim();
    let mut parts = t.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !t.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

/// `YYYY-MM-DD`.
pub fn parse_date(t: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").ok()
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]]` with an optional `Z`, or a space for the `T`;
/// a bare date is its midnight.
pub fn parse_datetime(t: &str) -> Option<NaiveDateTime> {
    let t = t.trim();
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .unwrap_or(t);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(d);
        }
    }
    parse_date(t).map(midnight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("ola.nordmann@gard.no"));
        assert!(!is_email("ola@"));
        assert!(!is_email("a b@c.no"));
        assert!(!is_email("a@b@c.no"));
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026-11-24"),
            NaiveDate::from_ymd_opt(2026, 11, 24)
        );
        assert_eq!(parse_date("24/11/2026"), None);
        assert!(parse_datetime("2026-11-24T09:30:00Z").is_some());
        assert!(parse_datetime("2026-11-24 09:30").is_some());
        assert!(parse_datetime("2026-11-24").is_some());
    }
}
