//! Lists, membership and aggregates: `HasAny`, `Count`, `Sort`, `Sum`, `Max`, ...

use super::{Function, flatten as deep, whole};
use crate::budget::Budget;
use crate::eval::{R, err, mismatch, overflow, truthy};
use crate::value::{ErrorKind, Key, Value, compare, sort_order, values_equal};
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::HashSet;

pub(crate) fn call(f: Function, args: &[&Value], budget: &Budget) -> R<Value> {
    // What reading every item costs (the lists exist already; their items are
    // steps of the loops below).
    let items: u64 = args.iter().map(|a| a.elements().len().max(1) as u64).sum();
    budget.spend(items)?;
    match f {
        Function::HasAny | Function::Contains => {
            let list = args[0].elements();
            // Every item against every candidate.
            budget.spend(
                (list.len() as u64).saturating_mul(items.saturating_sub(list.len() as u64)),
            )?;
            if !args[1..].iter().any(|a| matches!(a, Value::List(_))) {
                return Ok(Value::Bool(
                    args[1..]
                        .iter()
                        .any(|w| list.iter().any(|e| values_equal(e, w))),
                ));
            }
            let wanted = deep(&args[1..]);
            Ok(Value::Bool(
                wanted
                    .iter()
                    .any(|w| list.iter().any(|e| values_equal(e, w))),
            ))
        }
        Function::HasAll => {
            let list = args[0].elements();
            let wanted = deep(&args[1..]);
            budget.spend((list.len() as u64).saturating_mul(wanted.len() as u64))?;
            Ok(Value::Bool(
                wanted
                    .iter()
                    .all(|w| list.iter().any(|e| values_equal(e, w))),
            ))
        }
        Function::In => {
            let candidates = deep(&args[1..]);
            budget
                .spend((args[0].elements().len() as u64).saturating_mul(candidates.len() as u64))?;
            Ok(Value::Bool(
                candidates.iter().any(|c| values_equal(args[0], c)),
            ))
        }
        Function::List => {
            budget.list(args.len())?;
            Ok(Value::list(args.iter().map(|v| (*v).clone()).collect()))
        }
        Function::Count => {
            let n = deep(args).iter().filter(|v| !v.is_blank()).count();
            Ok(Value::from(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        Function::CountUnique => {
            let mut seen = HashSet::new();
            for v in deep(args) {
                if v.is_blank() {
                    continue;
                }
                match Key::from_value(v) {
                    Some(k) => {
                        seen.insert(k);
                    }
                    None => return Err(v.clone()),
                }
            }
            Ok(Value::from(i64::try_from(seen.len()).unwrap_or(i64::MAX)))
        }
        Function::First => Ok(args[0].elements().first().cloned().unwrap_or(Value::Blank)),
        Function::Last => Ok(args[0].elements().last().cloned().unwrap_or(Value::Blank)),
        Function::Nth => {
            let list = args[0].elements();
            let n = whole(args[1], "the position")?;
            usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| list.get(i))
                .cloned()
                .ok_or_else(|| {
                    err(
                        ErrorKind::NotFound,
                        format!("no item {n} in a list of {}", list.len()),
                    )
                })
        }
        Function::Unique => {
            let mut seen: HashSet<Key> = HashSet::new();
            let mut out = Vec::new();
            budget.list(args[0].elements().len())?;
            for v in args[0].elements() {
                match Key::from_value(v) {
                    Some(k) => {
                        if seen.insert(k) {
                            out.push(v.clone());
                        }
                    }
                    None => out.push(v.clone()),
                }
            }
            Ok(Value::list(out))
        }
        Function::Sort => {
            let n = args[0].elements().len();
            budget.list(n)?;
            // n log n comparisons.
            budget.spend(n as u64 * u64::from(usize::BITS - n.leading_zeros()))?;
            let mut items: Vec<Value> = args[0].elements().to_vec();
            if let Some(e) = items.iter().find(|v| matches!(v, Value::Error(_))) {
                return Err(e.clone());
            }
            let ascending = match args.get(1) {
                Some(v) => truthy(v)?,
                None => true,
            };
            if ascending {
                items.sort_by(sort_order);
            } else {
                items.sort_by(|a, b| sort_order(b, a));
            }
            Ok(Value::list(items))
        }
        Function::Sum => total(args).map(|(sum, _)| Value::Number(sum)),
        Function::Average => match total(args)? {
            (_, 0) => Ok(Value::Blank),
            (sum, count) => sum
                .checked_div(Decimal::from(count))
                .map(Value::Number)
                .ok_or_else(overflow),
        },
        Function::Max | Function::Min => extreme(
            args,
            if f == Function::Max {
                Ordering::Greater
            } else {
                Ordering::Less
            },
        ),
        _ => Err(mismatch("not a list function")),
    }
}

/// The sum and count of the numbers among the items: blanks skipped, the
/// first error returned, anything else a type mismatch. The sum shows as
/// many decimals as the number with the most (whatever the order of
/// adding: a partial sum of zero does not drop them), so that a sum kept
/// from deltas (`maintain.rs`) shows the same.
fn total(args: &[&Value]) -> R<(Decimal, usize)> {
    let (mut sum, mut count, mut scale) = (Decimal::ZERO, 0usize, 0);
    for v in deep(args) {
        match v {
            Value::Number(n) => {
                sum = crate::num::add(sum, *n).ok_or_else(overflow)?;
                count += 1;
                scale = scale.max(n.scale());
            }
            Value::Error(_) => return Err(v.clone()),
            v if v.is_blank() => {}
            other => {
                return Err(mismatch(format!(
                    "expected numbers, found {}",
                    other.type_name()
                )));
            }
        }
    }
    Ok((crate::num::with_scale(sum, scale), count))
}

/// `Max` / `Min` over numbers, or over dates and date-times.
fn extreme(args: &[&Value], want: Ordering) -> R<Value> {
    let mut best: Option<&Value> = None;
    for v in deep(args) {
        match v {
            Value::Error(_) => return Err(v.clone()),
            v if v.is_blank() => {}
            Value::Number(_) | Value::Date(_) | Value::DateTime(_) => {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let is_number = |x: &Value| matches!(x, Value::Number(_));
                        if is_number(b) != is_number(v) {
                            return Err(mismatch("cannot compare numbers with dates"));
                        }
                        if compare(v, b)? == want { v } else { b }
                    }
                });
            }
            other => {
                return Err(mismatch(format!(
                    "expected numbers or dates, found {}",
                    other.type_name()
                )));
            }
        }
    }
    Ok(best.cloned().unwrap_or(Value::Blank))
}
