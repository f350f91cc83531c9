//! Text: `Format`, `Concatenate`, `ToText`, `Len`, `Left`, `Split`, `Join`, ...

use super::{Function, flatten};
use crate::eval::{EvalCtx, R, invalid, mismatch, to_number, truthy};
use crate::value::Value;
use rust_decimal::{Decimal, RoundingStrategy};

pub(crate) fn call(f: Function, args: &[&Value], cx: &EvalCtx<'_>) -> R<Value> {
    let text = |i: usize| cx.to_text(args[i]);
    // A text built here, checked against the budget.
    let built = |s: String| -> R<Value> {
        cx.budget.text(s.len())?;
        Ok(Value::from(s))
    };
    match f {
        Function::Format => format(args, cx),
        Function::Concatenate => {
            let mut out = String::new();
            for a in args {
                out.push_str(&cx.to_text(a)?);
                cx.budget.text_so_far(out.len())?;
            }
            built(out)
        }
        Function::ToText => match args[0] {
            Value::Text(_) => Ok(args[0].clone()),
            _ => built(text(0)?.into_owned()),
        },
        Function::Len => Ok(Value::from(
            i64::try_from(text(0)?.chars().count()).unwrap_or(i64::MAX),
        )),
        Function::Upper => built(text(0)?.to_uppercase()),
        Function::Lower => built(text(0)?.to_lowercase()),
        Function::Left | Function::Right => {
            let t = text(0)?;
            let n = count(args[1])?;
            let len = t.chars().count();
            let s: String = if f == Function::Left {
                t.chars().take(n).collect()
            } else {
                t.chars().skip(len.saturating_sub(n)).collect()
            };
            Ok(Value::from(s))
        }
        Function::Mid => {
            let t = text(0)?;
            let start = to_number(args[1])?.trunc();
            if start < Decimal::ONE {
                return Err(invalid(format!("`Mid` starts at 1, not {start}")));
            }
            // A start past any text gives "".
            let skip = count(args[1])?.saturating_sub(1);
            let s: String = match args.get(2) {
                Some(c) => t.chars().skip(skip).take(count(c)?).collect(),
                None => t.chars().skip(skip).collect(),
            };
            Ok(Value::from(s))
        }
        Function::Trim => Ok(Value::from(text(0)?.trim().to_string())),
        Function::Split => {
            let t = text(0)?;
            let d = text(1)?;
            let count = if d.is_empty() {
                t.chars().count()
            } else {
                t.matches(d.as_ref()).count() + 1
            };
            cx.budget.list(count)?;
            cx.budget.text(t.len())?;
            let pieces: Vec<Value> = if d.is_empty() {
                t.chars().map(|c| Value::from(c.to_string())).collect()
            } else {
                t.split(d.as_ref()).map(Value::from).collect()
            };
            Ok(Value::list(pieces))
        }
        Function::Join => {
            let d = text(0)?;
            let items = flatten(&args[1..]);
            cx.budget.spend(items.len() as u64)?;
            let mut out = String::new();
            for (i, v) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(&d);
                }
                out.push_str(&cx.to_text(v)?);
                cx.budget.text_so_far(out.len())?;
            }
            built(out)
        }
        Function::ContainsText => {
            let (t, s) = (text(0)?, text(1)?);
            let ignore_case = match args.get(2) {
                Some(v) => truthy(v)?,
                None => false,
            };
            Ok(Value::Bool(if ignore_case {
                t.to_lowercase().contains(&s.to_lowercase())
            } else {
                t.contains(s.as_ref())
            }))
        }
        Function::StartsWith => Ok(Value::Bool(text(0)?.starts_with(text(1)?.as_ref()))),
        Function::EndsWith => Ok(Value::Bool(text(0)?.ends_with(text(1)?.as_ref()))),
        _ => Err(mismatch("not a text function")),
    }
}

/// A character count: truncated toward zero; negative is an invalid argument;
/// a count past any text (even `1e28`) is as good as the whole text.
fn count(v: &Value) -> R<usize> {
    let n = to_number(v)?.trunc();
    if n.is_sign_negative() && !n.is_zero() {
        return Err(invalid(format!("a count cannot be negative ({n})")));
    }
    use rust_decimal::prelude::ToPrimitive;
    Ok(n.to_usize().unwrap_or(usize::MAX))
}

fn format(args: &[&Value], cx: &EvalCtx<'_>) -> R<Value> {
    let mut out = TextBuf::default();
    format_into(args, cx, &mut out)?;
    cx.budget.text(out.as_str().len())?;
    Ok(out.into_value())
}

/// Text being built: on the stack while it is short, so that a row id costs
/// one allocation (the value's own), or none when it equals the cell's text.
pub(crate) struct TextBuf {
    inline: [u8; TextBuf::INLINE],
    len: usize,
    /// The text, once it outgrows `inline`.
    spilled: Option<String>,
}

impl Default for TextBuf {
    fn default() -> TextBuf {
        TextBuf {
            inline: [0; TextBuf::INLINE],
            len: 0,
            spilled: None,
        }
    }
}

impl TextBuf {
    const INLINE: usize = 64;

    pub(crate) fn push_str(&mut self, s: &str) {
        if let Some(spilled) = &mut self.spilled {
            spilled.push_str(s);
            return;
        }
        let end = self.len + s.len();
        if end <= Self::INLINE {
            self.inline[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
        } else {
            let mut spilled = String::with_capacity(end * 2);
            spilled.push_str(self.as_str());
            spilled.push_str(s);
            self.spilled = Some(spilled);
        }
    }

    pub(crate) fn push(&mut self, c: char) {
        let mut b = [0; 4];
        self.push_str(c.encode_utf8(&mut b));
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.spilled {
            Some(s) => s,
            // Only whole `str`s and `char`s are ever pushed.
            None => std::str::from_utf8(&self.inline[..self.len]).unwrap_or_default(),
        }
    }

    pub(crate) fn into_value(self) -> Value {
        Value::Text(std::sync::Arc::from(self.as_str()))
    }
}

/// `Format` appending its text to `out` (so that `"MET-" & Format(...)` builds
/// one string).
pub(crate) fn format_into(args: &[&Value], cx: &EvalCtx<'_>, out: &mut TextBuf) -> R<()> {
    if let Value::Text(template) = &args[0] {
        out.push_str(&format_template(template, &args[1..], cx)?);
        return cx.budget.text_so_far(out.as_str().len());
    }
    if args.len() != 2 {
        return Err(invalid(
            "`Format(number, pattern)` takes a number and a pattern; `Format(\"{1} of {2}\", a, b)` takes a template first",
        ));
    }
    let n = to_number(args[0])?;
    let pattern = cx.to_text(args[1])?;
    if format_whole(n, &pattern, out).is_none() {
        out.push_str(&format_number(n, &pattern)?);
    }
    Ok(())
}

/// `{1}`, `{2}`, ... replaced by the arguments as text.
fn format_template(template: &str, values: &[&Value], cx: &EvalCtx<'_>) -> R<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut nth = 0usize;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with('}') {
            nth += 1;
            let placeholder = &after[..digits];
            let v = placeholder
                .parse::<usize>()
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| values.get(i))
                .ok_or_else(|| {
                    let given = match values.len() {
                        0 => "no value follows the template".to_string(),
                        1 => "one value follows the template, `{1}`".to_string(),
                        n => format!("{n} values follow the template, `{{1}}` to `{{{n}}}`"),
                    };
                    invalid(format!(
                        "placeholder {nth} of the template, `{{{placeholder}}}`, has no value: {given}"
                    ))
                })?;
            cx.budget.step()?;
            out.push_str(&cx.to_text(v)?);
            cx.budget.text_so_far(out.len())?;
            rest = &after[digits + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    cx.budget.text_so_far(out.len())?;
    Ok(out)
}

/// Formats a number by a pattern: `0` a digit always shown, `#` a digit shown
/// when significant, `.` the decimal point, `,` in the integer part thousands
/// grouping; any other character is copied as written.
pub(crate) fn format_number(n: Decimal, pattern: &str) -> R<String> {
    let mut whole = TextBuf::default();
    if format_whole(n, pattern, &mut whole).is_some() {
        return Ok(whole.as_str().to_string());
    }
    let is_ph = |c: char| c == '0' || c == '#';
    if !pattern.chars().any(is_ph) {
        return Err(invalid(format!(
            "the pattern `{pattern}` has no `0` or `#`"
        )));
    }
    let (int_pat, frac_pat) = match pattern.find('.') {
        Some(i) => (&pattern[..i], Some(&pattern[i + 1..])),
        None => (pattern, None),
    };
    let frac_slots = frac_pat.map_or(0, |p| p.chars().filter(|c| is_ph(*c)).count());
    let min_frac = frac_pat.map_or(0, |p| {
        p.chars()
            .filter(|c| is_ph(*c))
            .enumerate()
            .filter(|(_, c)| *c == '0')
            .map(|(i, _)| i + 1)
            .last()
            .unwrap_or(0)
    });
    let rounded = n.round_dp_with_strategy(
        u32::try_from(frac_slots.min(28)).unwrap_or(28),
        RoundingStrategy::MidpointAwayFromZero,
    );
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let abs = rounded.abs();
    let int_digits_raw = abs.trunc().to_string();
    let frac_raw = {
        let s = abs.fract().to_string();
        s.split_once('.')
            .map(|(_, f)| f.to_string())
            .unwrap_or_default()
    };
    // Integer digits: at least as many as the pattern has zeros.
    let int_zeros = int_pat.chars().filter(|c| *c == '0').count();
    let mut int_digits = if int_digits_raw == "0" {
        String::new()
    } else {
        int_digits_raw
    };
    while int_digits.len() < int_zeros {
        int_digits.insert(0, '0');
    }
    // Fraction digits: padded to the slots, optional trailing zeros dropped.
    let mut frac_digits: Vec<char> = frac_raw.chars().collect();
    frac_digits.resize(frac_slots, '0');
    while frac_digits.len() > min_frac && frac_digits.last() == Some(&'0') {
        frac_digits.pop();
    }

    let mut out = String::new();
    if int_pat.contains(',') {
        let prefix: String = int_pat
            .chars()
            .take_while(|c| !is_ph(*c) && *c != ',')
            .collect();
        out.push_str(&prefix);
        out.push_str(&group_thousands(&int_digits));
    } else {
        out.push_str(&place_integer(int_pat, &int_digits));
    }
    if let Some(frac_pat) = frac_pat {
        if !frac_digits.is_empty() {
            out.push('.');
        }
        let mut digits = frac_digits.iter();
        for c in frac_pat.chars() {
            if is_ph(c) {
                if let Some(d) = digits.next() {
                    out.push(*d);
                }
            } else {
                out.push(c);
            }
        }
    }
    if negative {
        out.insert(0, '-');
    }
    Ok(out)
}

/// The common case, quickly: a whole number and a pattern of zeros between
/// literal text (`"00000"`, `"000001"`, `"INV-0000"`), as row ids are written.
fn format_whole(n: Decimal, pattern: &str, out: &mut TextBuf) -> Option<()> {
    use rust_decimal::prelude::ToPrimitive;
    let start = pattern.find('0')?;
    let run = pattern[start..]
        .find(|c: char| c != '0')
        .map_or(pattern.len() - start, |i| i);
    let (prefix, suffix) = (&pattern[..start], &pattern[start + run..]);
    let plain = |s: &str| !s.contains(['0', '#', '.', ',']);
    if !plain(prefix) || !plain(suffix) {
        return None;
    }
    let v = if n.scale() == 0 {
        i64::try_from(n.mantissa()).ok()?
    } else if n.fract().is_zero() {
        n.to_i64()?
    } else {
        return None;
    };
    out.push_str(prefix);
    if v < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut m = v.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    for _ in (digits.len() - at)..run {
        out.push('0');
    }
    // ASCII digits.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
    out.push_str(suffix);
    Some(())
}

/// Lays the integer digits into the pattern's placeholders from the right;
/// digits beyond the placeholders go in front of the leftmost one.
fn place_integer(pattern: &str, digits: &str) -> String {
    let is_ph = |c: char| c == '0' || c == '#';
    let slots = pattern.chars().filter(|c| is_ph(*c)).count();
    let mut digits: Vec<char> = digits.chars().collect();
    let mut out: Vec<char> = Vec::new();
    let mut seen = 0;
    for c in pattern.chars().rev() {
        if is_ph(c) {
            seen += 1;
            if seen == slots {
                // The leftmost placeholder takes every remaining digit.
                while let Some(d) = digits.pop() {
                    out.push(d);
                }
            } else if let Some(d) = digits.pop() {
                out.push(d);
            }
        } else {
            out.push(c);
        }
    }
    out.iter().rev().collect()
}

fn group_thousands(digits: &str) -> String {
    let chars: Vec<char> = digits.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && (chars.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(*c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn f(n: &str, p: &str) -> String {
        format_number(Decimal::from_str(n).unwrap(), p).unwrap()
    }

    #[test]
    fn number_patterns() {
        assert_eq!(f("5", "00000"), "00005");
        assert_eq!(f("123456", "00000"), "123456");
        assert_eq!(f("3.14159", "0.00"), "3.14");
        assert_eq!(f("2.5", "0"), "3");
        assert_eq!(f("-2.5", "0"), "-3");
        assert_eq!(f("1234567.891", "#,##0.00"), "1,234,567.89");
        assert_eq!(f("0.5", "#.##"), ".5");
        assert_eq!(f("0", "#"), "");
        assert_eq!(f("1.5", "0.0#"), "1.5");
        assert_eq!(f("12345", "000-00"), "123-45");
        assert_eq!(f("42", "$0"), "$42");
        assert_eq!(f("5", "000001"), "000051");
        assert_eq!(f("123", "INV-0000"), "INV-0123");
        assert_eq!(f("-7", "00"), "-07");
        assert_eq!(f("7.0", "000"), "007");
    }
}
