//! One column's cells. Most columns hold few distinct values (a select, a
//! relation to a thousand accounts, a status a formula gives, thresholds), so a
//! column starts unallocated while every cell is Blank, then keeps a 4-byte
//! code per cell into a dictionary of its distinct values, and only falls back
//! to a value per cell when the values are mostly distinct (ids, names).

use crate::value::{Key, Value};
use rustc_hash::FxHashMap;

/// Past this many distinct values, a dictionary that holds more than a
/// quarter as many values as cells becomes a plain vector.
const DICT_LIMIT: usize = 4096;

#[derive(Clone, Debug)]
pub(crate) enum Store {
    /// Every cell is Blank.
    Blank { len: usize },
    /// A code per cell; `values[code]` is the cell's value.
    Dict {
        codes: Vec<u32>,
        values: Vec<Value>,
        lookup: FxHashMap<(u8, Key), u32>,
    },
    /// A value per cell.
    Plain(Vec<Value>),
}

static BLANK: Value = Value::Blank;

/// The dictionary key of a value: its variant (so a date is not a date-time at
/// midnight) and its hashable form; `None` for values that are not looked up
/// (errors), which get a dictionary entry of their own.
fn dict_key(v: &Value) -> Option<(u8, Key)> {
    let tag = match v {
        Value::Blank => 0,
        Value::Number(_) => 1,
        Value::Text(_) => 2,
        Value::Bool(_) => 3,
        Value::Date(_) => 4,
        Value::DateTime(_) => 5,
        Value::Row(..) => 6,
        Value::List(_) => 7,
        Value::Error(_) => return None,
    };
    Some((tag, Key::from_value(v)?))
}

impl Store {
    pub(crate) fn blank(len: usize) -> Store {
        Store::Blank { len }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Blank { len } => *len,
            Store::Dict { codes, .. } => codes.len(),
            Store::Plain(v) => v.len(),
        }
    }

    /// The value of cell `i`; Blank past the end.
    pub(crate) fn get(&self, i: usize) -> &Value {
        match self {
            Store::Blank { .. } => &BLANK,
            Store::Dict { codes, values, .. } => {
                codes.get(i).map_or(&BLANK, |c| &values[*c as usize])
            }
            Store::Plain(v) => v.get(i).unwrap_or(&BLANK),
        }
    }

    /// Stores `value` in cell `i` (which must exist); returns the old value.
    pub(crate) fn set(&mut self, i: usize, value: Value) -> Value {
        if let Store::Blank { len } = self {
            if value.identical(&Value::Blank) {
                return Value::Blank;
            }
            *self = Store::Dict {
                codes: vec![0; *len],
                values: vec![Value::Blank],
                lookup: FxHashMap::from_iter([((0, Key::Blank), 0)]),
            };
        }
        match self {
            Store::Blank { .. } => Value::Blank,
            Store::Dict { .. } => {
                let old = self.get(i).clone();
                let code = self.intern(value);
                if let Store::Dict { codes, .. } = self {
                    codes[i] = code;
                }
                self.maybe_unfold();
                old
            }
            Store::Plain(v) => std::mem::replace(&mut v[i], value),
        }
    }

    /// Appends a cell.
    pub(crate) fn push(&mut self, value: Value) {
        match self {
            Store::Blank { len } if value.identical(&Value::Blank) => *len += 1,
            Store::Blank { len } => {
                let i = *len;
                *len += 1;
                self.set(i, value);
            }
            Store::Dict { .. } => {
                let code = self.intern(value);
                if let Store::Dict { codes, .. } = self {
                    codes.push(code);
                }
                self.maybe_unfold();
            }
            Store::Plain(v) => v.push(value),
        }
    }

    /// Removes the last cell.
    pub(crate) fn pop(&mut self) {
        match self {
            Store::Blank { len } => *len = len.saturating_sub(1),
            Store::Dict { codes, .. } => {
                codes.pop();
            }
            Store::Plain(v) => {
                v.pop();
            }
        }
    }

    fn intern(&mut self, value: Value) -> u32 {
        let Store::Dict { values, lookup, .. } = self else {
            return 0;
        };
        let next = u32::try_from(values.len()).unwrap_or(u32::MAX);
        match dict_key(&value) {
            Some(key) => *lookup.entry(key).or_insert_with(|| {
                values.push(value);
                next
            }),
            None => {
                values.push(value);
                next
            }
        }
    }

    /// Mostly distinct values are cheaper one per cell.
    fn maybe_unfold(&mut self) {
        if let Store::Dict { codes, values, .. } = self {
            if values.len() > DICT_LIMIT && values.len() * 4 > codes.len() {
                let plain = codes.iter().map(|c| values[*c as usize].clone()).collect();
                *self = Store::Plain(plain);
            }
        }
    }

    /// Bytes held (cells and dictionary; not the text the values point to).
    pub(crate) fn heap_bytes(&self) -> usize {
        let value = std::mem::size_of::<Value>();
        match self {
            Store::Blank { .. } => 0,
            Store::Dict {
                codes,
                values,
                lookup,
            } => {
                codes.capacity() * 4
                    + values.capacity() * value
                    + lookup.capacity() * (std::mem::size_of::<(u8, Key)>() + 5)
            }
            Store::Plain(v) => v.capacity() * value,
        }
    }

    /// The distinct values held (for accounting the text they point to).
    pub(crate) fn distinct(&self) -> Box<dyn Iterator<Item = &Value> + '_> {
        match self {
            Store::Blank { .. } => Box::new(std::iter::empty()),
            Store::Dict { values, .. } => Box::new(values.iter()),
            Store::Plain(v) => Box::new(v.iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_blank_then_codes_then_plain() {
        let mut s = Store::blank(3);
        assert!(matches!(s, Store::Blank { .. }));
        assert_eq!(s.get(1), &Value::Blank);
        assert_eq!(s.set(1, Value::from("a")), Value::Blank);
        assert!(matches!(s, Store::Dict { .. }));
        s.push(Value::from("a"));
        assert_eq!(s.get(3), &Value::from("a"));
        assert_eq!(s.set(3, Value::from(5)), Value::from("a"));
        assert_eq!(s.len(), 4);
        for i in 0..10_000 {
            s.push(Value::from(i64::from(i)));
        }
        assert!(matches!(s, Store::Plain(_)));
        assert_eq!(s.get(3), &Value::from(5));
        assert_eq!(s.get(4 + 9_999), &Value::from(9_999));
        s.pop();
        assert_eq!(s.len(), 4 + 9_999);
    }

    #[test]
    fn keeps_dates_and_datetimes_apart() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut s = Store::blank(0);
        s.push(Value::Date(d));
        s.push(Value::DateTime(crate::value::midnight(d)));
        assert!(matches!(s.get(0), Value::Date(_)));
        assert!(matches!(s.get(1), Value::DateTime(_)));
    }
}
