//! Numbers: `Round`, `Abs`, `Floor`, `Ceiling`, `Mod`, `Power`, `Sqrt`, `ToNumber`.

use super::Function;
use crate::eval::{R, err, invalid, mismatch, overflow, to_number};
use crate::value::{ErrorKind, Value};
use rust_decimal::prelude::{MathematicalOps, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

pub(crate) fn call(f: Function, args: &[&Value]) -> R<Value> {
    let x = || to_number(args[0]);
    match f {
        Function::Round => {
            let digits = match args.get(1) {
                Some(d) => to_number(d)?.trunc(),
                None => Decimal::ZERO,
            };
            round(x()?, digits).map(Value::Number)
        }
        Function::Abs => Ok(Value::Number(x()?.abs())),
        Function::Floor | Function::Ceiling => {
            let factor = match args.get(1) {
                Some(v) => to_number(v)?,
                None => Decimal::ONE,
            };
            let x = x()?;
            if factor.is_zero() {
                return if f == Function::Ceiling {
                    Ok(Value::Number(Decimal::ZERO))
                } else {
                    Err(div_zero())
                };
            }
            let q = x.checked_div(factor).ok_or_else(overflow)?;
            let q = if f == Function::Floor {
                q.floor()
            } else {
                q.ceil()
            };
            q.checked_mul(factor)
                .map(Value::Number)
                .ok_or_else(overflow)
        }
        Function::Mod => {
            let (a, b) = (x()?, to_number(args[1])?);
            if b.is_zero() {
                return Err(div_zero());
            }
            let mut r = a.checked_rem(b).ok_or_else(overflow)?;
            if !r.is_zero() && r.is_sign_negative() != b.is_sign_negative() {
                r = r.checked_add(b).ok_or_else(overflow)?;
            }
            Ok(Value::Number(r))
        }
        Function::Power => power(x()?, to_number(args[1])?).map(Value::Number),
        Function::Sqrt => {
            let x = x()?;
            if x.is_sign_negative() && !x.is_zero() {
                return Err(invalid(format!("cannot take the square root of {x}")));
            }
            x.sqrt().map(Value::Number).ok_or_else(overflow)
        }
        Function::ToNumber => to_number_fn(args[0]),
        _ => Err(mismatch("not a number function")),
    }
}

fn div_zero() -> Value {
    err(ErrorKind::DivisionByZero, "division by zero")
}

/// Half away from zero; negative digits round to tens, hundreds, ...; digits
/// beyond 28 leave `x` as it is.
pub(crate) fn round(x: Decimal, digits: Decimal) -> R<Decimal> {
    let Some(d) = digits.to_i64() else {
        return Ok(if digits.is_sign_negative() {
            Decimal::ZERO
        } else {
            x
        });
    };
    if d >= 28 {
        return Ok(x);
    }
    if d >= 0 {
        let d = u32::try_from(d).unwrap_or(0);
        return Ok(x.round_dp_with_strategy(d, RoundingStrategy::MidpointAwayFromZero));
    }
    let k = d.unsigned_abs();
    if k > 28 {
        return Ok(Decimal::ZERO);
    }
    let factor = Decimal::TEN.checked_powu(k).ok_or_else(overflow)?;
    let q = x.checked_div(factor).ok_or_else(overflow)?;
    q.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .checked_mul(factor)
        .ok_or_else(overflow)
}

fn power(x: Decimal, n: Decimal) -> R<Decimal> {
    if n.fract().is_zero() {
        if n.is_zero() {
            return Ok(Decimal::ONE);
        }
        if x.is_zero() {
            return if n.is_sign_negative() {
                Err(div_zero())
            } else {
                Ok(Decimal::ZERO)
            };
        }
        let exponent = n.abs();
        let positive = match exponent.to_u64() {
            Some(e) => checked_powu(x, e),
            None => None,
        };
        return match (positive, n.is_sign_negative()) {
            (Some(p), false) => Ok(p),
            (Some(p), true) => Decimal::ONE.checked_div(p).ok_or_else(overflow),
            // An exponent beyond 2^64: ±1 stays ±1; a base above 1 grows
            // beyond any decimal (its inverse rounds to 0), a base below 1
            // shrinks to 0 (its inverse grows beyond any decimal).
            (None, negative) => match x.abs().cmp(&Decimal::ONE) {
                std::cmp::Ordering::Equal => {
                    let odd = exponent % Decimal::TWO == Decimal::ONE;
                    Ok(if x.is_sign_negative() && odd {
                        -Decimal::ONE
                    } else {
                        Decimal::ONE
                    })
                }
                std::cmp::Ordering::Greater if negative => Ok(Decimal::ZERO),
                std::cmp::Ordering::Less if !negative => Ok(Decimal::ZERO),
                _ => Err(overflow()),
            },
        };
    }
    if x.is_sign_negative() {
        return Err(invalid(format!(
            "cannot raise the negative number {x} to the fractional power {n}"
        )));
    }
    if x.is_zero() {
        return if n.is_sign_negative() {
            Err(div_zero())
        } else {
            Ok(Decimal::ZERO)
        };
    }
    if n == Decimal::new(5, 1) {
        return x.sqrt().ok_or_else(overflow);
    }
    x.checked_powd(n).ok_or_else(overflow)
}

/// Exact exponentiation by squaring; `None` on overflow.
fn checked_powu(mut base: Decimal, mut exp: u64) -> Option<Decimal> {
    let mut acc = Decimal::ONE;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc.checked_mul(base)?;
        }
        exp >>= 1;
        if exp > 0 {
            base = base.checked_mul(base)?;
        }
    }
    Some(acc)
}

fn to_number_fn(v: &Value) -> R<Value> {
    match v {
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::Blank => Ok(Value::Number(Decimal::ZERO)),
        Value::Bool(b) => Ok(Value::Number(if *b { Decimal::ONE } else { Decimal::ZERO })),
        Value::Text(t) => parse_number(t)
            .map(Value::Number)
            .ok_or_else(|| invalid(format!("`{t}` is not a number"))),
        Value::List(l) if l.len() <= 1 => l
            .first()
            .map_or(Ok(Value::Number(Decimal::ZERO)), to_number_fn),
        other => Err(mismatch(format!(
            "cannot turn {} into a number",
            other.type_name()
        ))),
    }
}

/// Parses `-12.5`, `+3`, `.5`, `1e3` (surrounding whitespace allowed); `None` for anything else.
pub(crate) fn parse_number(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() {
        return Some(Decimal::ZERO);
    }
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let mut parts = digits.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !all_digits(int)
        || !frac.is_none_or(all_digits)
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    let base = Decimal::from_str(mantissa.trim_start_matches('+')).ok()?;
    match exponent {
        None => Some(base),
        Some(e) => {
            let e: i64 = e.parse().ok()?;
            if e.unsigned_abs() > 60 {
                return None;
            }
            let scale = checked_powu(Decimal::TEN, e.unsigned_abs())?;
            if e >= 0 {
                base.checked_mul(scale)
            } else {
                base.checked_div(scale)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round(d("2.5"), d("0")).unwrap(), d("3"));
        assert_eq!(round(d("-0.5"), d("0")).unwrap(), d("-1"));
        assert_eq!(round(d("3456"), d("-1")).unwrap(), d("3460"));
        assert_eq!(round(d("1.2345"), d("2.9")).unwrap(), d("1.23"));
        assert_eq!(round(d("1.5"), d("40")).unwrap(), d("1.5"));
        assert_eq!(round(d("123"), d("-40")).unwrap(), d("0"));
    }

    #[test]
    fn powers() {
        assert_eq!(power(d("2"), d("10")).unwrap(), d("1024"));
        assert_eq!(power(d("0"), d("0")).unwrap(), d("1"));
        assert_eq!(power(d("2"), d("-2")).unwrap(), d("0.25"));
        assert!(power(d("0"), d("-1")).is_err());
        assert!(power(d("10"), d("40")).is_err());
        assert_eq!(
            power(d("-1"), d("1000000000000000000001")).unwrap(),
            d("-1")
        );
    }

    #[test]
    fn parsing_numbers() {
        assert_eq!(parse_number(" -12.50 "), Some(d("-12.50")));
        assert_eq!(parse_number(".5"), Some(d("0.5")));
        assert_eq!(parse_number("1e3"), Some(d("1000")));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("1.2.3"), None);
        assert_eq!(parse_number("."), None);
        assert_eq!(parse_number("1_000"), None);
    }
}
