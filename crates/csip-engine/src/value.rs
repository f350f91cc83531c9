//! Cell values, error values, and the comparison rules of DESIGN §2.

use crate::ids::{RowId, TableId};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The kinds of error values, named as every csip engine names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `x / 0`, `Mod(x, 0)`, `Power(0, -1)`.
    DivisionByZero,
    /// An operand of the wrong type: `"2" + 3`, `Date + Date`.
    TypeMismatch,
    /// A name that resolves to nothing.
    UnknownName,
    /// The cell is part of a dependency cycle.
    Cycle,
    /// The formula does not parse.
    Parse,
    /// `Nth` out of range, a row that is gone.
    NotFound,
    /// A result beyond ±79228162514264337593543950335, or a date beyond year 9999.
    Overflow,
    /// A value of the right type outside the function's domain: `Sqrt(-5)`.
    InvalidArgument,
    /// The evaluation ran into a limit of its budget: a text or list too
    /// large for one value, too many steps or bytes, its time limit, or it
    /// was cancelled. `IfError` does not catch it.
    Limit,
}

impl ErrorKind {
    /// The name case files and adapters use: `division by zero`, `type mismatch`, ...
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::DivisionByZero => "division by zero",
            ErrorKind::TypeMismatch => "type mismatch",
            ErrorKind::UnknownName => "unknown name",
            ErrorKind::Cycle => "cycle",
            ErrorKind::Parse => "parse",
            ErrorKind::NotFound => "not found",
            ErrorKind::Overflow => "overflow",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Limit => "limit",
        }
    }

    /// The kind with this name (as [`ErrorKind::name`] gives it), if any.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::DivisionByZero,
        ErrorKind::TypeMismatch,
        ErrorKind::UnknownName,
        ErrorKind::Cycle,
        ErrorKind::Parse,
        ErrorKind::NotFound,
        ErrorKind::Overflow,
        ErrorKind::InvalidArgument,
        ErrorKind::Limit,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error value: its kind and a sentence about the cause.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EvalError {
    /// What kind of error.
    pub kind: ErrorKind,
    /// What happened, e.g. "cannot add text and a number".
    pub message: String,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "#{}", self.kind)
        } else {
            write!(f, "#{}: {}", self.kind, self.message)
        }
    }
}

/// A value: what a cell holds and what a formula gives.
///
/// 24 bytes; text and lists are shared, so cloning a value never copies text.
///
/// Two equalities: `==` ([`PartialEq`], [`Value::identical`]) is identity of
/// type and content, what backdating uses to decide that a cell did not
/// change; the formula language's `=` is [`values_equal`], under which Blank
/// equals 0, `""` and false. [`compare`] is the language's `<`.
///
/// ```
/// use csip_engine::{compare, values_equal, Decimal, ErrorKind, NaiveDate, Value};
/// use std::cmp::Ordering;
///
/// let n = Value::from(42);
/// assert_eq!(n.as_number(), Some(Decimal::from(42)));
/// assert_eq!(Value::from("Gard AS").as_text(), Some("Gard AS"));
/// let day = Value::from(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
/// assert_eq!(day.type_name(), "a date");
/// let list = Value::list(vec![Value::from(1), Value::Blank]);
/// assert_eq!(list.elements().len(), 2);
///
/// // Blank is what an empty cell holds; so is "" as far as `IsBlank` goes.
/// assert!(Value::Blank.is_blank() && Value::from("").is_blank());
/// // The language's `=`: Blank equals 0. Identity (`==`): it does not.
/// assert!(values_equal(&Value::Blank, &Value::from(0)));
/// assert_ne!(Value::Blank, Value::from(0));
/// // 1.0 and 1 are the same number either way.
/// assert_eq!(Value::number(Decimal::new(10, 1)), Value::from(1));
/// // Text orders without regard to case.
/// assert_eq!(compare(&Value::from("apple"), &Value::from("Banana")), Ok(Ordering::Less));
///
/// // Errors are values, as in cells.
/// let e = Value::error(ErrorKind::DivisionByZero, "division by zero");
/// assert_eq!(e.as_error().map(|e| e.kind), Some(ErrorKind::DivisionByZero));
/// assert_eq!(e.as_error().unwrap().to_string(), "#division by zero: division by zero");
/// ```
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Nothing. Counts as 0 in arithmetic, "" in text, false in logic.
    #[default]
    Blank,
    /// An exact decimal.
    Number(Decimal),
    /// Text (a select's value is text).
    Text(Arc<str>),
    /// true or false.
    Bool(bool),
    /// A calendar date.
    Date(NaiveDate),
    /// A date and time of day (UTC).
    DateTime(NaiveDateTime),
    /// A row of a table.
    Row(TableId, RowId),
    /// A list: a multi-select, a multi-relation, the result of `Filter`.
    List(Arc<[Value]>),
    /// An error value; it propagates through operators and functions.
    Error(Arc<EvalError>),
}

const _: () = assert!(std::mem::size_of::<Value>() == 24);

impl Value {
    /// An error value of `kind` with a message.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Value {
        Value::Error(Arc::new(EvalError {
            kind,
            message: message.into(),
        }))
    }

    /// A text value.
    pub fn text(s: impl AsRef<str>) -> Value {
        Value::Text(Arc::from(s.as_ref()))
    }

    /// A number value.
    pub fn number(n: impl Into<Decimal>) -> Value {
        Value::Number(n.into())
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::from(items))
    }

    /// Whether this is Blank, "" or an empty list (what `IsBlank` tests).
    pub fn is_blank(&self) -> bool {
        match self {
            Value::Blank => true,
            Value::Text(t) => t.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }

    /// The error, if this is an error value.
    pub fn as_error(&self) -> Option<&EvalError> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_number(&self) -> Option<Decimal> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The name of the value's type, for messages: "a number", "text", ...
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Blank => "blank",
            Value::Number(_) => "a number",
            Value::Text(_) => "text",
            Value::Bool(_) => "a true/false value",
            Value::Date(_) => "a date",
            Value::DateTime(_) => "a date and time",
            Value::Row(..) => "a row",
            Value::List(_) => "a list",
            Value::Error(_) => "an error",
        }
    }

    /// The elements as a slice: a list's items, a single value as a
    /// one-element list, Blank as no elements.
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::List(l) => l,
            Value::Blank => &[],
            other => std::slice::from_ref(other),
        }
    }

    /// Same value in the sense of backdating: same type and same content, so
    /// that a recomputed cell equal to its old value is not a change.
    /// Unlike `=`, Blank is not identical to 0, and `1.0` is identical to `1`.
    pub fn identical(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Blank, Value::Blank) => true,
            (Value::Number(a), Value::Number(b)) => crate::num::cmp(a, b).is_eq(),
            (Value::Text(a), Value::Text(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a == b,
            (Value::Row(ta, ra), Value::Row(tb, rb)) => ta == tb && ra == rb,
            (Value::List(a), Value::List(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.identical(y)))
            }
            (Value::Error(a), Value::Error(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

impl PartialEq for Value {
    /// Structural identity, as [`Value::identical`].
    fn eq(&self, other: &Value) -> bool {
        self.identical(other)
    }
}

impl From<Decimal> for Value {
    fn from(n: Decimal) -> Value {
        Value::Number(n)
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(Decimal::from(n))
            }
        }
    )*};
}
from_integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// A float that is not a number a cell can hold (see `TryFrom<f64> for Value`).
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("{value} is not a number csip can hold: {reason}")]
pub struct FromFloatError {
    /// The float.
    pub value: f64,
    /// Why: not finite, too large, or more digits than a decimal holds.
    pub reason: &'static str,
}

/// A float as the decimal it prints as: `0.1` is 0.1 exactly, not the
/// binary fraction nearest to it. NaN and the infinities, magnitudes past
/// 79228162514264337593543950335, and fractions finer than 28 digits after
/// the point are an error, never a rounded number.
///
/// ```
/// # use csip_engine::Value;
/// assert_eq!(Value::try_from(0.1)?, Value::Number("0.1".parse()?));
/// assert_eq!(Value::try_from(-2.5e6)?, Value::from(-2_500_000));
/// assert!(Value::try_from(f64::NAN).is_err());
/// assert!(Value::try_from(1e30).is_err());
/// assert!(Value::try_from(1e-30).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl TryFrom<f64> for Value {
    type Error = FromFloatError;
    fn try_from(value: f64) -> Result<Value, FromFloatError> {
        let fail = |reason| FromFloatError { value, reason };
        if !value.is_finite() {
            return Err(fail("it is not finite"));
        }
        // `{}` prints the shortest decimal that reads back as this float,
        // never in exponent form.
        let text = format!("{value}");
        let digits = text.trim_start_matches('-');
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.trim_start_matches('0').len() > 29 {
            return Err(fail("it is larger than 79228162514264337593543950335"));
        }
        if fraction.len() > 28 {
            return Err(fail("it has more than 28 digits after the point"));
        }
        text.parse::<Decimal>()
            .map(Value::Number)
            .map_err(|_| fail("it has more digits than a decimal holds (28)"))
    }
}

impl From<NaiveDateTime> for Value {
    fn from(d: NaiveDateTime) -> Value {
        Value::DateTime(d)
    }
}

/// A value as text, as `ToText` gives it: numbers without trailing zeros,
/// dates and date-times in ISO 8601, Blank as nothing, lists joined by
/// `", "`, errors as `#kind: message`. A row shows as its table and id
/// (`t1#5`): only the workbook knows its name, so show one to people with
/// [`Workbook::display`](crate::Workbook::display).
///
/// ```
/// # use csip_engine::Value;
/// let v = Value::list(vec![Value::try_from(1.50)?, Value::from("two"), Value::Blank]);
/// assert_eq!(v.to_string(), "1.5, two, ");
/// let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
/// assert_eq!(Value::from(day).to_string(), "2026-11-24");
/// assert_eq!(Value::from(day.and_hms_opt(9, 30, 0).unwrap()).to_string(), "2026-11-24T09:30:00");
/// # Ok::<(), csip_engine::FromFloatError>(())
/// ```
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Blank => Ok(()),
            Value::Number(n) => f.write_str(&number_to_text(*n)),
            Value::Text(t) => f.write_str(t),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Date(d) => f.write_str(&date_to_text(*d)),
            Value::DateTime(d) => f.write_str(&datetime_to_text(*d)),
            Value::Row(t, r) => write!(f, "{t:?}#{r}"),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
            Value::Error(e) => write!(f, "{e}"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::text(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(Arc::from(s))
    }
}

impl From<Arc<str>> for Value {
    fn from(s: Arc<str>) -> Value {
        Value::Text(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<NaiveDate> for Value {
    fn from(d: NaiveDate) -> Value {
        Value::Date(d)
    }
}

/// Numbers print without trailing zeros and never in exponent form.
pub(crate) fn number_to_text(n: Decimal) -> String {
    let n = n.normalize();
    if n.is_zero() {
        return "0".to_string();
    }
    n.to_string()
}

/// Dates print as ISO 8601: `2026-11-24`. (Written out rather than
/// through a chrono format string, which is parsed again at every call:
/// an audit log of a million dates noticed.)
pub(crate) fn date_to_text(d: NaiveDate) -> String {
    use chrono::Datelike;
    if !(0..=9999).contains(&d.year()) {
        return d.format("%Y-%m-%d").to_string();
    }
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// Date-times print as ISO 8601 without fractions: `2026-11-24T09:30:00`.
pub(crate) fn datetime_to_text(d: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    // Years past four digits, and a leap second (`:60`), as chrono writes them.
    if !(0..=9999).contains(&d.year()) || d.nanosecond() >= 1_000_000_000 {
        return d.format("%Y-%m-%dT%H:%M:%S").to_string();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// Midnight of a date.
pub(crate) fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

/// `a = b` for two values that are not errors (the caller propagates errors first).
///
/// Blank equals Blank, 0, "", false and the empty list; a one-element list equals
/// its element; a date equals the date-time at its midnight; text compares
/// exactly; values of other differing types are not equal.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (normalized(a), normalized(b)) {
        (Value::Blank, other) | (other, Value::Blank) => match other {
            Value::Blank => true,
            Value::Number(n) => n.is_zero(),
            Value::Text(t) => t.is_empty(),
            Value::Bool(b) => !b,
            _ => false,
        },
        (Value::Number(x), Value::Number(y)) => crate::num::cmp(x, y).is_eq(),
        (Value::Text(x), Value::Text(y)) => Arc::ptr_eq(x, y) || x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Date(x), Value::Date(y)) => x == y,
        (Value::DateTime(x), Value::DateTime(y)) => x == y,
        (Value::Date(x), Value::DateTime(y)) | (Value::DateTime(y), Value::Date(x)) => {
            midnight(*x) == *y
        }
        (Value::Row(ta, ra), Value::Row(tb, rb)) => ta == tb && ra == rb,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
        }
        _ => false,
    }
}

/// A one-element list stands for its element and the empty list for Blank.
fn normalized(v: &Value) -> &Value {
    static BLANK: Value = Value::Blank;
    match v {
        Value::List(l) if l.is_empty() => &BLANK,
        Value::List(l) if l.len() == 1 => normalized(&l[0]),
        _ => v,
    }
}

/// Orders two values for `<`, `<=`, `>`, `>=`: numbers by value, text without
/// regard to case (ties broken by exact text), dates and date-times in time,
/// false before true; Blank reads as 0 against numbers, "" against text, false
/// against booleans, and sorts before every date. Other pairs are a type mismatch.
///
/// # Errors
///
/// The `type mismatch` error value for a pair that has no order (a number
/// and a text, a row and anything): what `<` gives in a formula.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, Value> {
    use Value::*;
    Ok(match (a, b) {
        (Blank, Blank) => Ordering::Equal,
        (Blank, Number(n)) => Decimal::ZERO.cmp(n),
        (Number(n), Blank) => n.cmp(&Decimal::ZERO),
        (Blank, Text(t)) => compare_text("", t),
        (Text(t), Blank) => compare_text(t, ""),
        (Blank, Bool(b)) => false.cmp(b),
        (Bool(b), Blank) => b.cmp(&false),
        (Blank, Date(_) | DateTime(_)) => Ordering::Less,
        (Date(_) | DateTime(_), Blank) => Ordering::Greater,
        (Number(x), Number(y)) => crate::num::cmp(x, y),
        (Text(x), Text(y)) => compare_text(x, y),
        (Bool(x), Bool(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (DateTime(x), DateTime(y)) => x.cmp(y),
        (Date(x), DateTime(y)) => midnight(*x).cmp(y),
        (DateTime(x), Date(y)) => x.cmp(&midnight(*y)),
        (List(l), _) if l.len() <= 1 => return compare(normalized(a), b),
        (_, List(l)) if l.len() <= 1 => return compare(a, normalized(b)),
        _ => {
            return Err(Value::error(
                ErrorKind::TypeMismatch,
                format!("cannot compare {} with {}", a.type_name(), b.type_name()),
            ));
        }
    })
}

/// Text order: case-insensitive, ties broken by exact text.
pub(crate) fn compare_text(a: &str, b: &str) -> Ordering {
    // ASCII, byte by byte, as far as the texts go equal without regard to
    // case (sorting a view compares millions of texts that differ early).
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let mut ascii = true;
    for (&p, &q) in x.iter().zip(y) {
        if p >= 0x80 || q >= 0x80 {
            ascii = false;
            break;
        }
        let (p, q) = (p.to_ascii_lowercase(), q.to_ascii_lowercase());
        if p != q {
            // The folded texts first differ here, whatever follows.
            return p.cmp(&q);
        }
    }
    if ascii {
        // One is the other, without regard to case, then more (and a
        // character never lowercases to nothing).
        return x.len().cmp(&y.len()).then_with(|| a.cmp(b));
    }
    let folded = a
        .chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase));
    folded.then_with(|| a.cmp(b))
}

/// The total order `Sort` uses: Blank first, then numbers, text, booleans,
/// dates and date-times (together, in time), rows (by table and id), lists;
/// within a type as [`compare`] orders.
pub(crate) fn sort_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Blank => 0,
            Value::Number(_) => 1,
            Value::Text(_) => 2,
            Value::Bool(_) => 3,
            Value::Date(_) | Value::DateTime(_) => 4,
            Value::Row(..) => 5,
            Value::List(_) => 6,
            Value::Error(_) => 7,
        }
    }
    match (a, b) {
        (Value::Row(ta, ra), Value::Row(tb, rb)) => (ta, ra).cmp(&(tb, rb)),
        (Value::List(x), Value::List(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let o = sort_order(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ if rank(a) == rank(b) => compare(a, b).unwrap_or(Ordering::Equal),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// A hashable form of a value that agrees with `=`: two values are equal under
/// [`values_equal`] exactly when their keys are equal, except that a Blank key
/// also matches the keys of 0, "", false (see [`Key::blank_partners`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// Blank (and the empty list).
    Blank,
    /// A number; `Decimal`'s `Eq` and `Hash` ignore trailing zeros.
    Number(Decimal),
    /// Exact text.
    Text(Arc<str>),
    /// A boolean.
    Bool(bool),
    /// A date (a date-time at midnight keys as its date).
    Date(NaiveDate),
    /// A date-time that is not at midnight.
    DateTime(NaiveDateTime),
    /// A row.
    Row(TableId, RowId),
    /// A list of two or more elements.
    List(Arc<[Key]>),
}

impl Key {
    /// The key of a value; `None` for an error value (or a list holding one).
    pub(crate) fn from_value(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Blank => Key::Blank,
            Value::Number(n) => Key::Number(*n),
            Value::Text(t) => Key::Text(t.clone()),
            Value::Bool(b) => Key::Bool(*b),
            Value::Date(d) => Key::Date(*d),
            Value::DateTime(dt) => {
                if dt.time() == NaiveTime::MIN {
                    Key::Date(dt.date())
                } else {
                    Key::DateTime(*dt)
                }
            }
            Value::Row(t, r) => Key::Row(*t, *r),
            Value::List(l) => match l.len() {
                0 => Key::Blank,
                1 => return Key::from_value(&l[0]),
                _ => Key::List(
                    l.iter()
                        .map(Key::from_value)
                        .collect::<Option<Vec<_>>>()?
                        .into(),
                ),
            },
            Value::Error(_) => return None,
        })
    }

    /// The other keys this one equals under `=` because of Blank's rules:
    /// Blank equals 0, "" and false; each of those equals Blank.
    pub(crate) fn blank_partners(&self) -> &'static [Key] {
        static BLANK: [Key; 1] = [Key::Blank];
        match self {
            Key::Blank => blank_like(),
            Key::Number(n) if n.is_zero() => &BLANK,
            Key::Text(t) if t.is_empty() => &BLANK,
            Key::Bool(false) => &BLANK,
            _ => &[],
        }
    }
}

fn blank_like() -> &'static [Key] {
    use std::sync::OnceLock;
    static KEYS: OnceLock<[Key; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            Key::Number(Decimal::ZERO),
            Key::Text(Arc::from("")),
            Key::Bool(false),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_chrono_writes_them() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for d in [
            day(2026, 11, 24),
            day(1, 1, 1),
            day(9999, 12, 31),
            day(-5, 3, 1),
            day(12_345, 6, 7),
        ] {
            assert_eq!(date_to_text(d), d.format("%Y-%m-%d").to_string());
            for t in [
                NaiveTime::MIN,
                NaiveTime::from_hms_opt(9, 5, 7).unwrap(),
                NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap(),
            ] {
                let at = d.and_time(t);
                assert_eq!(
                    datetime_to_text(at),
                    at.format("%Y-%m-%dT%H:%M:%S").to_string()
                );
            }
        }
    }

    fn n(x: i64) -> Value {
        Value::from(x)
    }

    #[test]
    fn blank_equality_rules() {
        assert!(values_equal(&Value::Blank, &Value::Blank));
        assert!(values_equal(&Value::Blank, &n(0)));
        assert!(values_equal(&Value::text(""), &Value::Blank));
        assert!(!values_equal(&n(0), &Value::text("")));
        assert!(!values_equal(&n(1), &Value::text("1")));
        assert!(values_equal(
            &Value::list(vec![Value::text("a")]),
            &Value::text("a")
        ));
        assert!(!values_equal(&Value::text("A"), &Value::text("a")));
    }

    #[test]
    fn keys_agree_with_equality() {
        let values = [
            Value::Blank,
            n(0),
            n(1),
            Value::Number("1.00".parse().unwrap()),
            Value::text(""),
            Value::text("a"),
            Value::text("A"),
            Value::Bool(false),
            Value::Bool(true),
            Value::Date(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
            Value::DateTime(midnight(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())),
            Value::list(vec![]),
            Value::list(vec![Value::text("a")]),
            Value::list(vec![n(1), n(2)]),
        ];
        for a in &values {
            for b in &values {
                let (ka, kb) = (Key::from_value(a).unwrap(), Key::from_value(b).unwrap());
                let keyed = ka == kb || ka.blank_partners().contains(&kb);
                assert_eq!(values_equal(a, b), keyed, "{a:?} = {b:?}");
            }
        }
    }

    #[test]
    fn text_sorts_case_insensitively() {
        assert_eq!(compare_text("apple", "Banana"), Ordering::Less);
        assert_eq!(compare_text("B", "b"), Ordering::Less);
        assert_eq!(compare_text("b", "b"), Ordering::Equal);
        assert_eq!(compare_text("ab", "Abc"), Ordering::Less);
        assert_eq!(compare_text("Zoë", "zoe"), Ordering::Greater);
    }

    proptest::proptest! {
        /// The byte-by-byte fast path orders as the definition does: the
        /// texts lowercased character by character, ties by exact text.
        #[test]
        fn text_order_is_the_lowercased_order(a in "[a-cA-C\\u{e9}\\u{c9}\\u{130}ß ]{0,6}", b in "[a-cA-C\\u{e9}\\u{c9}\\u{130}ß ]{0,6}") {
            let folded = a
                .chars()
                .flat_map(char::to_lowercase)
                .cmp(b.chars().flat_map(char::to_lowercase))
                .then_with(|| a.cmp(&b));
            proptest::prop_assert_eq!(compare_text(&a, &b), folded);
        }
    }

    #[test]
    fn numbers_print_without_trailing_zeros() {
        assert_eq!(number_to_text("3.00".parse().unwrap()), "3");
        assert_eq!(number_to_text("2.50".parse().unwrap()), "2.5");
        assert_eq!(number_to_text("-0.0".parse().unwrap()), "0");
    }
}
