//! `Serialize` and `Deserialize` for the public data types, behind the
//! `serde` feature: the schema, values, ids, transactions and change sets.
//!
//! The shapes are made for JSON and read well from any language; they are
//! stable, and `docs/engine-json.md` describes each with an example. In brief:
//! a value is `null` (Blank) or an object with one key naming its type
//! (`{"number": "12.50"}`, numbers as decimal text so that no digit is lost);
//! ids are plain numbers (a row id is its public number, from 1); an
//! operation is an object tagged by `"op"`; a column type is its table-file
//! name (`"currency"`), or an object with one such key when it carries more
//! (`{"select": ["Open", "Closed"]}`).
//!
//! Reading refuses anything a shape does not allow, with a message that says
//! what was expected: an unknown type or key, a number that would be rounded,
//! a date outside the years 1 to 9999.
//!
//! Where to look: `value.rs` for values, error values and ids; `schema.rs`
//! for the schema; `edit.rs` for transactions and change sets. This file
//! holds what they share: how numbers are read, and keys that may be absent.
//!
//! The impls are written by hand or through private mirror types rather than
//! derived on the public types, so the public types carry no serde
//! attributes and a shape is changed in one place.

mod edit;
mod schema;
mod value;

use crate::coerce::from_text;
use crate::schema::ColumnType;
use crate::value::Value;
use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use std::fmt;
use std::str::FromStr;

/// The key under which `serde_json` with `arbitrary_precision` hands over
/// a number's text when it is read through `deserialize_any`.
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// The most significant digits a binary float carries exactly from its
/// decimal text (`f64::DIGITS`).
const FLOAT_DIGITS: usize = 15;

/// A number as a reader hands it over: as text (a JSON string, or a JSON
/// number's own digits under `serde_json`'s `arbitrary_precision`), as an
/// integer, or as a binary float.
enum NumberInput {
    Text(String),
    Integer(i128),
    Float(f64),
}

impl NumberInput {
    /// The exact decimal, or why there is none: text that is not a number,
    /// a number csip would have to round (more digits than a decimal holds:
    /// 28 or 29 significant ones, 28 after the point) or cannot hold at all
    /// (beyond ±79228162514264337593543950335), or a binary float with more
    /// digits than it carries exactly.
    fn decimal(self) -> Result<Decimal, String> {
        let text = match self {
            NumberInput::Text(text) => text,
            NumberInput::Integer(i) => i.to_string(),
            NumberInput::Float(f) => {
                if !f.is_finite() {
                    return Err(format!("{f} is not a number a cell can hold"));
                }
                // The shortest text that reads back as this float: what the
                // sender wrote, as long as it had no more digits than a float keeps.
                let text = format!("{f}");
                if significant_digits(&text) > FLOAT_DIGITS {
                    return Err(format!(
                        "the number {text} arrived as a binary float, which keeps only \
                         {FLOAT_DIGITS} significant digits exactly; send it as a string \
                         (\"{text}\") so that no digit is lost"
                    ));
                }
                text
            }
        };
        let t = text.trim();
        if t.is_empty() {
            return Err("\"\" is not a number; Blank is null".into());
        }
        if !is_plain_decimal(t) {
            let scientific = t
                .split_once(['e', 'E'])
                .is_some_and(|(mantissa, exponent)| {
                    let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
                    is_plain_decimal(mantissa)
                        && !digits.is_empty()
                        && digits.bytes().all(|b| b.is_ascii_digit())
                });
            if !scientific {
                return Err(format!(
                    "\"{t}\" is not a number (write digits with a `.` for decimals, like \"1234.5\")"
                ));
            }
            // `1.5e3`: read as a CSV cell is, where more than 28 significant
            // digits are refused.
            return match from_text(&ColumnType::Number, false, t)? {
                Value::Number(n) => Ok(n),
                _ => Err(format!("\"{t}\" is not a number")),
            };
        }
        let n = Decimal::from_str(t).map_err(|_| {
            format!(
                "\"{t}\" lies beyond ±{}, the largest number csip holds",
                Decimal::MAX
            )
        })?;
        if canonical(t) != canonical(&n.to_string()) {
            return Err(format!(
                "\"{t}\" has more digits than csip keeps exactly (28 significant digits, 29 below \
                 {}, and 28 after the point); it would be rounded to {n}",
                Decimal::MAX
            ));
        }
        Ok(n)
    }
}

/// Whether text is a plain decimal: an optional sign, digits, at most one
/// point, and at least one digit.
fn is_plain_decimal(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
}

/// A plain decimal without its leading and trailing zeros, its `+` sign, or
/// the sign of zero: two texts of the same number give the same canonical text.
fn canonical(t: &str) -> String {
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    let (whole, fraction) = (
        whole.trim_start_matches('0'),
        fraction.trim_end_matches('0'),
    );
    if whole.is_empty() && fraction.is_empty() {
        return "0".into();
    }
    let sign = if negative { "-" } else { "" };
    let whole = if whole.is_empty() { "0" } else { whole };
    match fraction {
        "" => format!("{sign}{whole}"),
        _ => format!("{sign}{whole}.{fraction}"),
    }
}

/// The digits of plain decimal text from its first non-zero digit to its last.
fn significant_digits(text: &str) -> usize {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    match (
        digits.iter().position(|b| *b != b'0'),
        digits.iter().rposition(|b| *b != b'0'),
    ) {
        (Some(first), Some(last)) => last - first + 1,
        _ => 0,
    }
}

impl<'de> Deserialize<'de> for NumberInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberVisitor)
    }
}

struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = NumberInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number written as a decimal string, like \"12.50\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NumberInput, E> {
        Ok(NumberInput::Text(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<NumberInput, E> {
        Ok(NumberInput::Text(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumberInput, E> {
        Ok(NumberInput::Integer(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumberInput, E> {
        Ok(NumberInput::Integer(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NumberInput, E> {
        Ok(NumberInput::Integer(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NumberInput, E> {
        match i128::try_from(v) {
            Ok(i) => Ok(NumberInput::Integer(i)),
            Err(_) => Ok(NumberInput::Text(v.to_string())),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumberInput, E> {
        Ok(NumberInput::Float(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NumberInput, A::Error> {
        // serde_json with `arbitrary_precision` gives a number it read
        // through `deserialize_any` as a one-entry map holding its text.
        match map.next_key::<String>()? {
            Some(key) if key == JSON_NUMBER_TOKEN => Ok(NumberInput::Text(map.next_value()?)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
}

/// A decimal, read from any form [`NumberInput`] takes.
fn read_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    NumberInput::deserialize(deserializer)?
        .decimal()
        .map_err(de::Error::custom)
}

/// A decimal written as its text, every digit kept (`"12.50"`).
fn write_decimal<S: Serializer>(n: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(n)
}

/// A key that may be left out, told apart from one given as `null`: with
/// `#[serde(default, deserialize_with = "present")]`, absent is `None` and
/// given is `Some` whatever it holds (`null` is `Some(Value::Blank)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_count_from_the_first_non_zero_to_the_last() {
        assert_eq!(significant_digits("0"), 0);
        assert_eq!(significant_digits("-0.00120"), 2);
        assert_eq!(significant_digits("100000000000000000000"), 1);
        assert_eq!(significant_digits("123456789012345680"), 17);
    }

    #[test]
    fn floats_are_taken_while_they_carry_their_digits() {
        assert_eq!(NumberInput::Float(12.5).decimal(), Ok(Decimal::new(125, 1)));
        assert_eq!(NumberInput::Float(0.1).decimal(), Ok(Decimal::new(1, 1)));
        let message = NumberInput::Float(123_456_789_012_345_680.0)
            .decimal()
            .unwrap_err();
        assert!(message.contains("send it as a string"), "{message}");
        assert!(NumberInput::Float(f64::NAN).decimal().is_err());
    }

    #[test]
    fn text_is_taken_exactly_or_refused() {
        let read = |t: &str| NumberInput::Text(t.into()).decimal();
        assert_eq!(read("12.50").map(|n| n.to_string()), Ok("12.50".into()));
        assert_eq!(read("-0.0"), Ok(Decimal::ZERO));
        assert_eq!(read("+007"), Ok(Decimal::new(7, 0)));
        // 29 digits are held exactly up to the largest decimal...
        assert_eq!(read("79228162514264337593543950335"), Ok(Decimal::MAX));
        assert_eq!(
            read("-7.9228162514264337593543950335"),
            Ok(Decimal::from_i128_with_scale(
                -79_228_162_514_264_337_593_543_950_335,
                28
            ))
        );
        // ...and refused past it, or where they would be rounded.
        assert!(
            read("79228162514264337593543950336")
                .unwrap_err()
                .contains("beyond")
        );
        let message = read("9.9228162514264337593543950335").unwrap_err();
        assert!(message.contains("would be rounded to"), "{message}");
        assert!(read("0.00000000000000000000000000001").is_err());
        // Trailing zeros past the 28th place lose nothing.
        assert_eq!(read("1.00000000000000000000000000000000"), Ok(Decimal::ONE));
        assert_eq!(read("1.5e3"), Ok(Decimal::new(1500, 0)));
        for bad in ["", ".", "-", "1_000", "12,5", "abc", "1.2.3"] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
