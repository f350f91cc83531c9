//! Dates: `Today`, `Now`, `Date`, `Year`, `Month`, `Day`, `Weekday`, `EDate`,
//! `WorkDay`, `NetWorkingDays`.

use super::{Function, whole};
use crate::eval::{EvalCtx, R, check_year, date_overflow, invalid, mismatch};
use crate::value::Value;
use chrono::{Datelike, Months, NaiveDate, Weekday};
use std::collections::HashSet;

pub(crate) fn call(f: Function, args: &[&Value], cx: &EvalCtx<'_>) -> R<Value> {
    match f {
        Function::Today => Ok(Value::Date(cx.clock().today)),
        Function::Now => Ok(Value::DateTime(cx.clock().now)),
        Function::Date => make_date(
            whole(args[0], "the year")?,
            whole(args[1], "the month")?,
            whole(args[2], "the day")?,
        )
        .map(Value::Date),
        Function::Year | Function::Month | Function::Day | Function::Weekday => {
            let Some(d) = to_date(args[0])? else {
                return Ok(Value::Blank);
            };
            let n = match f {
                Function::Year => i64::from(d.year()),
                Function::Month => i64::from(d.month()),
                Function::Day => i64::from(d.day()),
                _ => i64::from(d.weekday().num_days_from_sunday()) + 1,
            };
            Ok(Value::from(n))
        }
        Function::EDate => {
            let months = whole(args[1], "the number of months")?;
            let shift = |d: NaiveDate| -> R<NaiveDate> {
                let m =
                    Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| date_overflow())?);
                let moved = if months >= 0 {
                    d.checked_add_months(m)
                } else {
                    d.checked_sub_months(m)
                };
                check_year(moved.ok_or_else(date_overflow)?)
            };
            match scalar(args[0]) {
                Value::Blank => Ok(Value::Blank),
                Value::DateTime(dt) => Ok(Value::DateTime(shift(dt.date())?.and_time(dt.time()))),
                other => match to_date(other)? {
                    Some(d) => Ok(Value::Date(shift(d)?)),
                    None => Ok(Value::Blank),
                },
            }
        }
        Function::WorkDay => {
            let Some(start) = to_date(args[0])? else {
                return Ok(Value::Blank);
            };
            let days = whole(args[1], "the number of days")?;
            let holidays = holidays(args.get(2).copied(), cx)?;
            // A day a step (each day is a step of the loop below).
            cx.budget
                .spend(days.unsigned_abs().min(MAX_WORKING_DAYS) * 7 / 5)?;
            work_day(start, days, &holidays).map(Value::Date)
        }
        Function::NetWorkingDays => {
            let (Some(start), Some(end)) = (to_date(args[0])?, to_date(args[1])?) else {
                return Ok(Value::Blank);
            };
            let holidays = holidays(args.get(2).copied(), cx)?;
            let n = if start <= end {
                working_days_between(start, end, &holidays)
            } else {
                -working_days_between(end, start, &holidays)
            };
            Ok(Value::from(n))
        }
        _ => Err(mismatch("not a date function")),
    }
}

fn scalar(v: &Value) -> &Value {
    match v {
        Value::List(l) if l.len() == 1 => scalar(&l[0]),
        other => other,
    }
}

/// A date argument: `None` for Blank; a date-time gives its date.
fn to_date(v: &Value) -> R<Option<NaiveDate>> {
    match scalar(v) {
        Value::Date(d) => Ok(Some(*d)),
        Value::DateTime(d) => Ok(Some(d.date())),
        v if v.is_blank() => Ok(None),
        other => Err(mismatch(format!(
            "expected a date, found {}",
            other.type_name()
        ))),
    }
}

/// `Date(y, m, d)`, rolling months and days over as spreadsheets do.
pub(crate) fn make_date(year: i64, month: i64, day: i64) -> R<NaiveDate> {
    if !(1..=9999).contains(&year) {
        return Err(invalid(format!("the year {year} lies outside 1 to 9999")));
    }
    let out_of_range = || {
        invalid(format!(
            "Date({year}, {month}, {day}) lies outside the years 1 to 9999"
        ))
    };
    let months = year
        .checked_mul(12)
        .and_then(|m| m.checked_add(month.checked_sub(1)?))
        .ok_or_else(out_of_range)?;
    let y = i32::try_from(months.div_euclid(12)).map_err(|_| out_of_range())?;
    let m = u32::try_from(months.rem_euclid(12) + 1).map_err(|_| out_of_range())?;
    if !(1..=9999).contains(&y) {
        return Err(out_of_range());
    }
    let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(out_of_range)?;
    let result = i64::from(first.num_days_from_ce())
        .checked_add(day.checked_sub(1).ok_or_else(out_of_range)?)
        .and_then(|n| i32::try_from(n).ok())
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or_else(out_of_range)?;
    if (1..=9999).contains(&result.year()) {
        Ok(result)
    } else {
        Err(out_of_range())
    }
}

fn holidays(v: Option<&Value>, cx: &EvalCtx<'_>) -> R<HashSet<NaiveDate>> {
    let mut out = HashSet::new();
    if let Some(v) = v {
        let items = super::flatten(&[v]);
        cx.budget.spend(items.len() as u64)?;
        for item in items {
            if let Some(d) = to_date(item)? {
                out.insert(d);
            }
        }
    }
    Ok(out)
}

fn is_working(d: NaiveDate, holidays: &HashSet<NaiveDate>) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&d)
}

/// Working days from 1 to 9999 number about 2.6 million; more can only overflow.
const MAX_WORKING_DAYS: u64 = 2_700_000;

fn work_day(start: NaiveDate, days: i64, holidays: &HashSet<NaiveDate>) -> R<NaiveDate> {
    if days.unsigned_abs() > MAX_WORKING_DAYS {
        return Err(date_overflow());
    }
    let step = if days >= 0 { 1 } else { -1 };
    let mut remaining = days.unsigned_abs();
    let mut d = start;
    while remaining > 0 {
        d = if step > 0 { d.succ_opt() } else { d.pred_opt() }.ok_or_else(date_overflow)?;
        if is_working(d, holidays) {
            remaining -= 1;
        }
    }
    check_year(d)
}

/// Working days in `start..=end` (`start <= end`).
fn working_days_between(start: NaiveDate, end: NaiveDate, holidays: &HashSet<NaiveDate>) -> i64 {
    let total = (end - start).num_days() + 1;
    let full_weeks = total / 7;
    let mut count = full_weeks * 5;
    let mut d = start + chrono::Duration::days(full_weeks * 7);
    while d <= end {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    let off = holidays
        .iter()
        .filter(|h| {
            **h >= start && **h <= end && !matches!(h.weekday(), Weekday::Sat | Weekday::Sun)
        })
        .count();
    count - i64::try_from(off).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn date_rolls_over() {
        assert_eq!(make_date(2022, 2, 29).unwrap(), ymd(2022, 3, 1));
        assert_eq!(make_date(2022, 13, 1).unwrap(), ymd(2023, 1, 1));
        assert_eq!(make_date(2022, 3, 0).unwrap(), ymd(2022, 2, 28));
        assert_eq!(make_date(1975, 0, 14).unwrap(), ymd(1974, 12, 14));
        assert_eq!(make_date(80, 1, 2).unwrap(), ymd(80, 1, 2));
        assert!(make_date(0, 1, 1).is_err());
        assert!(make_date(10000, 1, 1).is_err());
        assert!(make_date(9999, 13, 1).is_err());
    }

    #[test]
    fn working_days() {
        let none = HashSet::new();
        // 2026-11-20 is a Friday.
        assert_eq!(
            work_day(ymd(2026, 11, 20), 1, &none).unwrap(),
            ymd(2026, 11, 23)
        );
        assert_eq!(
            work_day(ymd(2026, 11, 23), -1, &none).unwrap(),
            ymd(2026, 11, 20)
        );
        assert_eq!(
            working_days_between(ymd(2026, 11, 16), ymd(2026, 11, 29), &none),
            10
        );
        let hol: HashSet<_> = [ymd(2026, 11, 26)].into();
        assert_eq!(
            working_days_between(ymd(2026, 11, 23), ymd(2026, 11, 27), &hol),
            4
        );
    }
}
