//! What a write may store: an input value checked and converted against its
//! column's type, options, range and relation target.

use crate::data::Data;
use crate::ids::{ColumnId, RowId, TableId};
use crate::index::IndexMode;
use crate::schema::ColumnType;
use crate::value::{Key, Value, date_to_text, datetime_to_text, midnight, number_to_text};
use chrono::{NaiveDate, NaiveDateTime};
use std::sync::Arc;

/// Why a value cannot be stored: the kind and a sentence about the value.
/// (A transaction reports it as the [`crate::TransactionErrorKind`] of the
/// same name; a view as a bad parameter.)
#[derive(Debug)]
pub(crate) struct Rejected {
    pub(crate) kind: K,
    pub(crate) message: String,
}

/// What is wrong with a value for its column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum K {
    /// Not of the column's type (nor text that reads as it).
    WrongType,
    /// A number outside a slider's range, or a date outside years 1 to 9999.
    OutOfRange,
    /// Text that is none of a select column's options.
    NotAnOption,
    /// Names no row of the relation's table.
    UnknownReference,
    /// Names several rows of the relation's table.
    AmbiguousReference,
    /// The column holds no value (a button).
    NotWritable,
}

fn reject(kind: K, message: impl Into<String>) -> Rejected {
    Rejected {
        kind,
        message: message.into(),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Text(t) if t.chars().count() > 60 => {
            format!("text \"{}…\"", t.chars().take(60).collect::<String>())
        }
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
            Value::Text(t) => match parse_date(t) {
                Ok(d) => Ok(Value::Date(d)),
                Err(e @ DateTextError::YearOutOfRange(_)) => Err(reject(
                    K::OutOfRange,
                    format!("takes a date, and \"{t}\" {e}"),
                )),
                Err(DateTextError::Unreadable) => Err(reject(
                    K::WrongType,
                    format!("takes a date, and \"{t}\" is not one (write YYYY-MM-DD)"),
                )),
            },
            other => Err(reject(
                K::WrongType,
                format!("takes a date, not {}", describe(other)),
            )),
        },
        ColumnType::DateTime => match &value {
            Value::DateTime(_) => Ok(value),
            Value::Date(d) => Ok(Value::DateTime(midnight(*d))),
            Value::Text(t) => match parse_datetime(t) {
                Ok(d) => Ok(Value::DateTime(d)),
                Err(e @ DateTextError::YearOutOfRange(_)) => Err(reject(
                    K::OutOfRange,
                    format!("takes a date and time, and \"{t}\" {e}"),
                )),
                Err(DateTextError::Unreadable) => Err(reject(
                    K::WrongType,
                    format!(
                        "takes a date and time, and \"{t}\" is not one (write YYYY-MM-DDTHH:MM:SS)"
                    ),
                )),
            },
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
        Value::Row(t, _) if *t == target && !crate::ids::stamp_fits(t.1, table.id.1) => {
            Err(reject(
                K::WrongType,
                format!(
                    "takes a row of this workbook's `{}`, not a row of another workbook",
                    table.name
                ),
            ))
        }
        Value::Row(t, r) if *t == target => {
            if table.is_live(*r) {
                Ok(v.clone())
            } else {
                Err(reject(
                    K::UnknownReference,
                    format!(
                        "refers to row id {r} of `{}`, which does not exist",
                        table.name
                    ),
                ))
            }
        }
        Value::Row(t, _) => Err(reject(
            K::WrongType,
            match data.checked_table(*t) {
                Ok(other) => format!(
                    "takes a row of `{}`, not a row of `{}`",
                    table.name, other.name
                ),
                Err(_) => format!(
                    "takes a row of this workbook's `{}`, not a row of another workbook",
                    table.name
                ),
            },
        )),
        Value::Text(_) | Value::Number(_) => {
            let rows = rows_named(data, target, v);
            match rows.as_slice() {
                [one] => Ok(Value::Row(target, *one)),
                [] => Err(reject(
                    K::UnknownReference,
                    format!(
                        "refers to \"{}\", but no row of `{}` is named so{}",
                        text_of(v),
                        table.name,
                        named_otherwise(data, target, v)
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
///
/// Nothing is changed silently: a number with more digits than csip keeps
/// exactly (28 significant digits, 28 after the point) and a date whose year
/// is outside 1 to 9999 are refused here, where the caller can still name
/// the line and column.
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
        ColumnType::Date | ColumnType::DateTime => match date_year(t) {
            Some(year) if !YEARS.contains(&year) => {
                Err(format!("\"{t}\" {}", DateTextError::YearOutOfRange(year)))
            }
            // Read by the write, which names what to write instead.
            _ => Ok(Value::from(t)),
        },
        _ => Ok(Value::from(t)),
    }
}

/// The most significant digits, and the most digits after the point, that
/// a number keeps exactly (`rust_decimal` rounds beyond them).
const MAX_DIGITS: usize = 28;

/// Refuses a number written with more digits than csip keeps exactly:
/// `rust_decimal` would round them away without a word. Text that is not a
/// plain decimal (`1e6` aside) is left to the parser to refuse.
fn exact_digits(t: &str) -> Result<(), String> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => match body[i + 1..].parse::<i64>() {
            Ok(e) => (&body[..i], e),
            Err(_) => return Ok(()),
        },
        None => (body, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Ok(());
    }
    // The digits from the first non-zero one to the last non-zero one.
    let digits: Vec<u8> = whole.bytes().chain(fraction.bytes()).collect();
    let (Some(first), Some(last)) = (
        digits.iter().position(|b| *b != b'0'),
        digits.iter().rposition(|b| *b != b'0'),
    ) else {
        return Ok(()); // zero
    };
    let significant = last - first + 1;
    if significant > MAX_DIGITS {
        return Err(format!(
            "\"{t}\" has {significant} significant digits; csip keeps at most {MAX_DIGITS} exactly (round it, or store it as text)"
        ));
    }
    // Places after the point down to the last non-zero digit, once the exponent is applied.
    let places = i64::try_from(last + 1).unwrap_or(i64::MAX)
        - i64::try_from(whole.len()).unwrap_or(0)
        - exponent;
    if places > i64::try_from(MAX_DIGITS).unwrap_or(i64::MAX) {
        return Err(format!(
            "\"{t}\" has {places} digits after the decimal point; csip keeps at most {MAX_DIGITS} exactly (round it)"
        ));
    }
    Ok(())
}

fn number(t: &str) -> Result<rust_decimal::Decimal, String> {
    use std::str::FromStr;
    exact_digits(t)?;
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

/// "; did you mean \"Acme\"?" when a row's name differs from `v` only in
/// case (names match exactly, as text `=` does); else nothing. Read on the
/// error path only: a scan of the display column.
fn named_otherwise(data: &Data, table: TableId, v: &Value) -> String {
    let (Some(display), Value::Text(wanted)) = (data.table(table).display, v) else {
        return String::new();
    };
    let wanted = wanted.to_lowercase();
    data.table(table)
        .order()
        .iter()
        .find_map(|r| match data.cell(display, *r) {
            Value::Text(name) if name.to_lowercase() == wanted => {
                Some(format!("; did you mean \"{name}\"?"))
            }
            _ => None,
        })
        .unwrap_or_default()
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

/// The years a date read from text may have: 0 and five-digit years are
/// refused rather than stored (no file, form or spreadsheet means them).
const YEARS: std::ops::RangeInclusive<i64> = 1..=9999;

/// Why text is not a date (or date-time) csip takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateTextError {
    /// Not written `YYYY-MM-DD` (with a time, for a date-time).
    #[error("is not written YYYY-MM-DD")]
    Unreadable,
    /// Written as a date, with a year outside 1 to 9999.
    #[error("has the year {0}; csip takes years 1 to 9999")]
    YearOutOfRange(i64),
}

/// The year of text written as a date (`YYYY-MM-DD...`, any number of year
/// digits, an optional sign), if it is written so.
fn date_year(t: &str) -> Option<i64> {
    let t = t.trim();
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let (year, rest) = body.split_once('-')?;
    let month_starts = rest.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if year.is_empty() || !year.bytes().all(|b| b.is_ascii_digit()) || !month_starts {
        return None;
    }
    // A year too long for an i64 is far outside the range all the same.
    Some(year.parse::<i64>().map_or(i64::MAX, |y| sign * y))
}

/// `YYYY-MM-DD`, with a year from 1 to 9999.
///
/// # Errors
///
/// As [`parse_datetime`]: the year out of range, or not a date at all.
///
/// ```
/// use csip_engine::{parse_date, DateTextError};
/// assert!(parse_date("2026-11-24").is_ok());
/// assert_eq!(parse_date("10000-01-01"), Err(DateTextError::YearOutOfRange(10000)));
/// assert_eq!(parse_date("24/11/2026"), Err(DateTextError::Unreadable));
/// ```
pub fn parse_date(t: &str) -> Result<NaiveDate, DateTextError> {
    let t = t.trim();
    if let Some(year) = date_year(t).filter(|y| !YEARS.contains(y)) {
        return Err(DateTextError::YearOutOfRange(year));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| DateTextError::Unreadable)
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]]` with an optional `Z`, or a space for the `T`;
/// a bare date is its midnight. The year is from 1 to 9999.
///
/// # Errors
///
/// [`DateTextError::YearOutOfRange`] for a date written with a year outside
/// 1 to 9999, [`DateTextError::Unreadable`] for anything else that is not
/// written so.
pub fn parse_datetime(t: &str) -> Result<NaiveDateTime, DateTextError> {
    let t = t.trim();
    if let Some(year) = date_year(t).filter(|y| !YEARS.contains(y)) {
        return Err(DateTextError::YearOutOfRange(year));
    }
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
            return Ok(d);
        }
    }
    parse_date(t).map(midnight)
}

/// A formula's value as its column's declared type holds it: the value
/// itself when it is of that type (Blank and error values always are); a
/// list of one item read as that item and an empty list as Blank where one
/// value is held, and one item as a list of it where a list is held; a date
/// as a date-time at midnight; "" as Blank. Anything else is a `type mismatch` error
/// naming the column, its type and what the formula gave.
pub(crate) fn conform(data: &Data, col: ColumnId, v: Value) -> Value {
    let column = data.column(col);
    if column.is_hidden() {
        return v; // an index key of whatever type it keys on
    }
    let fits = |v: &Value| -> bool {
        match (&column.schema.ty, v) {
            (_, Value::Blank | Value::Error(_)) => true,
            (
                ColumnType::Number
                | ColumnType::Currency
                | ColumnType::Percent
                | ColumnType::Slider { .. },
                Value::Number(_),
            ) => true,
            (
                ColumnType::Text | ColumnType::Email | ColumnType::Canvas | ColumnType::Select(_),
                Value::Text(_),
            ) => true,
            (ColumnType::Date, Value::Date(_)) => true,
            (ColumnType::DateTime, Value::DateTime(_)) => true,
            (ColumnType::Checkbox, Value::Bool(_)) => true,
            (ColumnType::Relation { .. } | ColumnType::People { .. }, v) => match column.target {
                Some((t, false)) => matches!(v, Value::Row(u, _) if *u == t),
                Some((t, true)) => matches!(v, Value::List(items)
                    if items.iter().all(|i| matches!(i, Value::Row(u, _) if *u == t))),
                None => true,
            },
            (ColumnType::MultiSelect(_) | ColumnType::Attachment, Value::List(items)) => {
                items.iter().all(|i| matches!(i, Value::Text(_)))
            }
            (ColumnType::Button, _) => true,
            _ => false,
        }
    };
    if fits(&v) {
        return v;
    }
    let holds_list = matches!(
        column.schema.ty,
        ColumnType::MultiSelect(_) | ColumnType::Attachment
    ) || column.target.is_some_and(|(_, many)| many);
    let adapted = match (&v, holds_list) {
        (Value::Text(t), _) if t.is_empty() => Some(Value::Blank), // "" is blank, as `IsBlank` says
        (Value::List(items), false) if items.is_empty() => Some(Value::Blank),
        (Value::List(items), false) if items.len() == 1 => Some(items[0].clone()),
        (Value::List(_), true) => None,
        (single, true) => Some(Value::list(vec![single.clone()])),
        _ => None,
    };
    let adapted = match (adapted, &v, &column.schema.ty) {
        (None, Value::Date(d), ColumnType::DateTime) => {
            Some(Value::DateTime(crate::value::midnight(*d)))
        }
        (a, _, _) => a,
    };
    if let Some(a) = adapted {
        if fits(&a) {
            return a;
        }
    }
    // No names in the message: a rename must not make the cell's value stale.
    Value::error(
        crate::value::ErrorKind::TypeMismatch,
        format!(
            "this column holds {}, but its formula gave {}",
            holds(&column.schema.ty),
            describe(&v)
        ),
    )
}

/// "a number", "text", "a row", ... for a type mismatch.
fn holds(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Number
        | ColumnType::Currency
        | ColumnType::Percent
        | ColumnType::Slider { .. } => "a number".into(),
        ColumnType::Text | ColumnType::Email | ColumnType::Canvas => "text".into(),
        ColumnType::Select(_) => "text (an option)".into(),
        ColumnType::Date => "a date".into(),
        ColumnType::DateTime => "a date-time".into(),
        ColumnType::Checkbox => "true or false".into(),
        ColumnType::Relation { multiple, .. } | ColumnType::People { multiple, .. } => {
            if *multiple {
                "rows of the table it relates to".into()
            } else {
                "a row of the table it relates to".into()
            }
        }
        ColumnType::MultiSelect(_) | ColumnType::Attachment => "a list of text".into(),
        ColumnType::Button => "nothing".into(),
    }
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
            parse_date("2026-11-24").ok(),
            NaiveDate::from_ymd_opt(2026, 11, 24)
        );
        assert_eq!(parse_date("24/11/2026"), Err(DateTextError::Unreadable));
        assert!(parse_datetime("2026-11-24T09:30:00Z").is_ok());
        assert!(parse_datetime("2026-11-24 09:30").is_ok());
        assert!(parse_datetime("2026-11-24").is_ok());
        assert!(parse_date("0001-01-01").is_ok() && parse_date("9999-12-31").is_ok());
    }

    #[test]
    fn years_outside_1_to_9999_are_refused_not_stored() {
        for (text, year) in [
            ("0000-01-01", 0),
            ("10000-01-01", 10000),
            ("+10000-01-01", 10000),
            ("-0001-06-30", -1),
            ("99999999999999999999999-01-01", i64::MAX),
        ] {
            assert_eq!(
                parse_date(text),
                Err(DateTextError::YearOutOfRange(year)),
                "{text}"
            );
            assert_eq!(
                parse_datetime(&format!("{text}T08:00:00")),
                Err(DateTextError::YearOutOfRange(year)),
                "{text}"
            );
        }
        // Read from a CSV field or a JSON string: the message names the year and the range.
        let message = from_text(&ColumnType::Date, false, "10000-01-01").unwrap_err();
        assert!(
            message.contains("10000-01-01") && message.contains("years 1 to 9999"),
            "{message}"
        );
        assert!(from_text(&ColumnType::DateTime, false, "0000-03-01T08:00:00").is_err());
        // A date written otherwise is the write's to refuse, as before.
        assert_eq!(
            from_text(&ColumnType::Date, false, "next week"),
            Ok(Value::from("next week"))
        );
    }

    #[test]
    fn numbers_that_would_be_rounded_are_refused() {
        let read = |t: &str| from_text(&ColumnType::Number, false, t);
        // 28 significant digits: kept exactly.
        let exact = "1234567890.123456789012345678";
        let Ok(Value::Number(n)) = read(exact) else {
            panic!("{exact} is read")
        };
        assert_eq!(n.to_string(), exact);
        // 29 and 31: refused, with the count.
        for (t, digits) in [
            ("1234567890.1234567890123456789", 29),
            ("-0.1000000000000000000000000000001", 31),
            ("1.2345678901234567890123456789e3", 29),
        ] {
            let message = read(t).unwrap_err();
            assert!(
                message.contains(&format!("has {digits} significant digits"))
                    && message.contains("at most 28"),
                "{t}: {message}"
            );
        }
        // One digit, but 29 places after the point: rounded to 0 otherwise.
        let message = read("0.00000000000000000000000000001").unwrap_err();
        assert!(
            message.contains("29 digits after the decimal point"),
            "{message}"
        );
        assert!(read("1e-29").is_err());
        // Trailing zeros carry no digit that could be lost.
        assert!(read("1.0000000000000000000000000000000000").is_ok());
        assert_eq!(read("1.5e3"), Ok(Value::from(1500)));
        assert!(
            from_text(
                &ColumnType::Percent,
                false,
                "12.34567890123456789012345678901%"
            )
            .is_err()
        );
    }
}
