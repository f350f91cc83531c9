//! A report's cells as values: numbers as finance exports write them
//! (thousands separators, a currency sign, a percent sign, negatives in
//! parentheses) and dates in ISO 8601 or the one national order the mapping
//! states. Nothing is guessed: `03/04/2026` is read only when the mapping
//! says whether it is March or April.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use std::str::FromStr;

/// How a report writes dates that are not ISO 8601.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// ISO 8601 only (`2026-11-24`, `2026-11-24T06:00:00Z`).
    #[default]
    Iso,
    /// ISO 8601, or month first: `11/24/2026 6:00 AM`.
    Us,
    /// ISO 8601, or day first: `24/11/2026 06:00`, `24.11.2026`.
    Eu,
}

/// The decimal mark of a report's numbers; the other of `.` and `,` then
/// separates thousands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub enum DecimalMark {
    /// `1,234.5`.
    #[default]
    #[serde(rename = ".")]
    Point,
    /// `1.234,5`.
    #[serde(rename = ",")]
    Comma,
}

/// A number read from a cell, and whether it was written as a percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Number {
    /// The value (`99.5` for `99.5%`).
    pub value: Decimal,
    /// Written with a `%`.
    pub percent: bool,
}

/// Reads a number: an optional sign or parentheses (negative), an optional
/// currency sign before or after, digits with thousands separators in
/// groups of three, an optional decimal part, an optional `%`.
///
/// ```
/// use csip_ingest::values::{number, DecimalMark};
/// use rust_decimal::Decimal;
/// let n = |s| number(s, DecimalMark::Point).map(|n| n.value);
/// assert_eq!(n("$1,234.50"), Ok(Decimal::new(123450, 2)));
/// assert_eq!(n("(1,234)"), Ok(Decimal::from(-1234)));
/// assert_eq!(n("99.5%"), Ok(Decimal::new(995, 1)));
/// assert!(n("1,23").is_err());
/// assert_eq!(number("1.234,5 €", DecimalMark::Comma).map(|n| n.value), Ok(Decimal::new(12345, 1)));
/// ```
///
/// # Errors
///
/// Why the text is no number, in words for the report's author.
pub fn number(text: &str, mark: DecimalMark) -> Result<Number, String> {
    // Most cells are plain (`-12.5`): read as they are.
    if let Some(value) = plain(text, mark) {
        return Ok(Number {
            value,
            percent: false,
        });
    }
    let mut s = text.trim_matches(is_space);
    let mut negative = false;
    if let Some(inner) = s.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        negative = true;
        s = inner.trim_matches(is_space);
    }
    let percent = match s.strip_suffix('%') {
        Some(rest) => {
            s = rest.trim_end_matches(is_space);
            true
        }
        None => false,
    };
    if let Some(rest) = s.strip_prefix(['-', '−']) {
        negative = !negative;
        s = rest.trim_start_matches(is_space);
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.trim_start_matches(is_space);
    }
    s = s
        .trim_start_matches(is_currency)
        .trim_start_matches(is_space)
        .trim_end_matches(is_currency)
        .trim_end_matches(is_space);
    if let Some(rest) = s.strip_prefix(['-', '−']) {
        // `$-5`
        negative = !negative;
        s = rest;
    }
    let (point, thousands) = match mark {
        DecimalMark::Point => ('.', ','),
        DecimalMark::Comma => (',', '.'),
    };
    let (whole, fraction) = match s.split_once(point) {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    if whole.is_empty() && fraction.is_none_or(str::is_empty) {
        return Err(format!("“{}” is not a number", text.trim()));
    }
    let mut digits = String::with_capacity(s.len() + 1);
    if negative {
        digits.push('-');
    }
    let groups: Vec<&str> = whole
        .split(|c| c == thousands || c == '\'' || is_space(c))
        .collect();
    for (i, group) in groups.iter().enumerate() {
        let bad_group =
            (i > 0 && group.len() != 3) || (i == 0 && groups.len() > 1 && group.is_empty());
        if bad_group || !group.bytes().all(|b| b.is_ascii_digit()) {
            return Err(if group.bytes().all(|b| b.is_ascii_digit()) {
                format!(
                    "“{}” is not a number: thousands go in groups of three digits (the mapping's decimal mark is “{point}”)",
                    text.trim()
                )
            } else {
                format!("“{}” is not a number", text.trim())
            });
        }
        digits.push_str(group);
    }
    if let Some(f) = fraction {
        if !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("“{}” is not a number", text.trim()));
        }
        if digits.is_empty() || digits == "-" {
            digits.push('0');
        }
        digits.push('.');
        digits.push_str(f);
    }
    let value = Decimal::from_str(&digits)
        .map_err(|_| format!("“{}” is too large or too precise a number", text.trim()))?;
    Ok(Number { value, percent })
}

/// A number written plainly: digits, an optional leading `-`, and with the
/// decimal point `.`, an optional fraction after one.
fn plain(text: &str, mark: DecimalMark) -> Option<Decimal> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) if mark == DecimalMark::Point => (w, Some(f)),
        Some(_) => return None,
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    Decimal::from_str(text).ok()
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{a0}' || c == '\u{202f}'
}

fn is_currency(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥' | '₹' | '₩' | '₪' | '¢' | '₽' | '₺')
}

/// Reads a date or a date and time as UTC: ISO 8601 (a date, or a date and
/// time with `T` or a space, an optional fraction, and `Z` or an offset,
/// which is converted to UTC), or with `order` US or EU, the national form
/// (`/`, `.` or `-` between day, month and a four-digit year; a time with
/// optional seconds and AM/PM). A date alone is its midnight.
///
/// ```
/// use csip_ingest::values::{datetime, DateOrder};
/// let at = |s, o| datetime(s, o).map(|d| d.to_string());
/// assert_eq!(at("2026-11-24T07:00:00+01:00", DateOrder::Iso).as_deref(), Ok("2026-11-24 06:00:00"));
/// assert_eq!(at("11/24/2026 6:00 AM", DateOrder::Us).as_deref(), Ok("2026-11-24 06:00:00"));
/// assert_eq!(at("24.11.2026", DateOrder::Eu).as_deref(), Ok("2026-11-24 00:00:00"));
/// assert!(at("11/24/2026", DateOrder::Iso).unwrap_err().contains("dates = \"us\""));
/// ```
///
/// # Errors
///
/// Why the text is no date in the forms allowed.
pub fn datetime(text: &str, order: DateOrder) -> Result<NaiveDateTime, String> {
    let s = text.trim_matches(is_space);
    if let Some(at) = iso(s) {
        return Ok(at);
    }
    match order {
        DateOrder::Iso => Err(
            if national_date(s, true).is_some() || national_date(s, false).is_some() {
                format!(
                    "“{s}” is not an ISO 8601 date (2026-11-24); if the report writes dates month first or day first, set dates = \"us\" or dates = \"eu\" in its mapping"
                )
            } else {
                format!("“{s}” is not a date (write 2026-11-24 or 2026-11-24T06:00:00Z)")
            },
        ),
        DateOrder::Us => national_date(s, true).ok_or_else(|| {
            format!("“{s}” is not a date in ISO 8601 or US form (11/24/2026 6:00 AM)")
        }),
        DateOrder::Eu => national_date(s, false).ok_or_else(|| {
            format!("“{s}” is not a date in ISO 8601 or European form (24/11/2026 06:00)")
        }),
    }
}

fn iso(s: &str) -> Option<NaiveDateTime> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(at.naive_utc());
    }
    let spaced = s.replacen(' ', "T", 1);
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&spaced) {
        return Some(at.naive_utc());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(&spaced, format) {
            return Some(at);
        }
        if let Some(utc) = spaced.strip_suffix(['Z', 'z'])
            && let Ok(at) = NaiveDateTime::parse_from_str(utc, format)
        {
            return Some(at);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

fn national_date(s: &str, month_first: bool) -> Option<NaiveDateTime> {
    let (date, time) = match s.split_once(char::is_whitespace) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let sep = date.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    let parts: Vec<&str> = date.split(sep).collect();
    let [a, b, year] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 || a.is_empty() || b.is_empty() || a.len() > 2 || b.len() > 2 {
        return None;
    }
    let (a, b, year): (u32, u32, i32) = (a.parse().ok()?, b.parse().ok()?, year.parse().ok()?);
    let (month, day) = if month_first { (a, b) } else { (b, a) };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let Some(time) = time else {
        return date.and_hms_opt(0, 0, 0);
    };
    let upper = time.to_ascii_uppercase();
    let (clock, pm) = if let Some(t) = upper.strip_suffix("PM") {
        (t.trim().to_string(), Some(true))
    } else if let Some(t) = upper.strip_suffix("AM") {
        (t.trim().to_string(), Some(false))
    } else {
        (upper.clone(), None)
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let (h, m, sec): (u32, u32, u32) = match fields.as_slice() {
        [h, m] => (h.parse().ok()?, m.parse().ok()?, 0),
        [h, m, s] => (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?),
        _ => return None,
    };
    let h = match pm {
        Some(_) if h == 0 || h > 12 => return None,
        Some(true) => h % 12 + 12,
        Some(false) => h % 12,
        None => h,
    };
    date.and_hms_opt(h, m, sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Result<String, String> {
        number(s, DecimalMark::Point)
            .map(|n| format!("{}{}", n.value, if n.percent { "%" } else { "" }))
    }

    #[test]
    fn numbers_as_finance_writes_them() {
        assert_eq!(n("1234").as_deref(), Ok("1234"));
        assert_eq!(n(" 1,234,567.25 ").as_deref(), Ok("1234567.25"));
        assert_eq!(n("$ 12").as_deref(), Ok("12"));
        assert_eq!(n("-$12.5").as_deref(), Ok("-12.5"));
        assert_eq!(n("$-12.5").as_deref(), Ok("-12.5"));
        assert_eq!(n("(12.5)").as_deref(), Ok("-12.5"));
        assert_eq!(n("($1,000)").as_deref(), Ok("-1000"));
        assert_eq!(n("99.95%").as_deref(), Ok("99.95%"));
        assert_eq!(n(".5").as_deref(), Ok("0.5"));
        assert_eq!(n("1 234").as_deref(), Ok("1234"));
        assert_eq!(n("+7").as_deref(), Ok("7"));
        for bad in [
            "", "-", "abc", "1.2.3", "12a", "1,2345", ",123", "1e5", "$", "%", "()", "1..2",
        ] {
            assert!(n(bad).is_err(), "{bad:?} read as {:?}", n(bad));
        }
        let eu = |s| number(s, DecimalMark::Comma).map(|n| n.value.to_string());
        assert_eq!(eu("1.234,5").as_deref(), Ok("1234.5"));
        assert_eq!(eu("99,5 %").as_deref(), Ok("99.5"));
        assert!(eu("1,234.5").is_err());
        assert!(n(&"9".repeat(40)).is_err());
    }

    #[test]
    fn dates_never_guessed() {
        let at = |s, o| datetime(s, o).map(|d| d.to_string());
        assert_eq!(
            at("2026-11-24", DateOrder::Iso).as_deref(),
            Ok("2026-11-24 00:00:00")
        );
        assert_eq!(
            at("2026-11-24T06:00:00Z", DateOrder::Iso).as_deref(),
            Ok("2026-11-24 06:00:00")
        );
        assert_eq!(
            at("2026-11-24 06:00", DateOrder::Iso).as_deref(),
            Ok("2026-11-24 06:00:00")
        );
        assert_eq!(
            at("2026-11-24T06:00:00.250", DateOrder::Eu).as_deref(),
            Ok("2026-11-24 06:00:00.250")
        );
        assert_eq!(
            at("03/04/2026", DateOrder::Us).as_deref(),
            Ok("2026-03-04 00:00:00")
        );
        assert_eq!(
            at("03/04/2026", DateOrder::Eu).as_deref(),
            Ok("2026-04-03 00:00:00")
        );
        assert_eq!(
            at("12/31/2026 11:59:30 PM", DateOrder::Us).as_deref(),
            Ok("2026-12-31 23:59:30")
        );
        assert_eq!(
            at("12/31/2026 12:00 AM", DateOrder::Us).as_deref(),
            Ok("2026-12-31 00:00:00")
        );
        assert!(at("03/04/2026", DateOrder::Iso).is_err());
        assert!(at("31/12/2026", DateOrder::Us).is_err());
        assert!(at("2026-02-30", DateOrder::Iso).is_err());
        assert!(at("24.11.26", DateOrder::Eu).is_err());
        assert!(at("13:00 PM", DateOrder::Us).is_err());
        assert!(at("12/31/2026 13:00 PM", DateOrder::Us).is_err());
        assert!(at("yesterday", DateOrder::Us).is_err());
    }
}
