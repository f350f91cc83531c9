//! The function library: names, arities, and the implementations of the eager
//! functions. The lazy ones (`If`, `Switch`, `And`, ...) and the predicate
//! functions (`Filter`, `CountIf`, `Lookup`) are evaluated in `eval.rs`, since
//! they decide which arguments to evaluate.
//!
//! To add a function: a variant of [`Function`] with its rustdoc, a row in
//! [`Function::ALL`], and an arm in the family file that implements it.

pub(crate) mod date;
pub(crate) mod list;
pub(crate) mod math;
pub(crate) mod text;

/// Every function of the formula language. Names are case-insensitive; a
/// method call `x.F(a)` is `F(x, a)`.
///
/// Rules shared by all: arguments are evaluated left to right before a
/// function checks them, so an argument's error wins over the function's own;
/// a Blank argument reads as 0 where a number is expected and as "" where text
/// is; a function that takes a list accepts a single value as a one-element list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Function {
    // ---- logic ----
    /// `If(condition, then, [else])`: `then` when the condition is true, else
    /// `else` (Blank when left out). Lazy: evaluates only the branch taken. A
    /// Blank condition counts as false; a number counts as true unless 0.
    If,
    /// `IfError(value, fallback)`: `value`, or `fallback` when `value` is an error. Lazy.
    IfError,
    /// `IfBlank(value, fallback)`: `value`, or `fallback` when `value` is Blank,
    /// "" or an empty list. Lazy.
    IfBlank,
    /// `Switch(value, case1, result1, ..., [default])`: the result of the first
    /// case equal to `value` (as `=` compares), else the default, else Blank.
    /// Lazy: cases after the match and results not chosen are not evaluated.
    Switch,
    /// `SwitchIf(condition1, result1, ..., [default])`: the result of the first
    /// true condition, else the default, else Blank. Lazy.
    SwitchIf,
    /// `And(a, ...)`: true when every argument is true; stops at the first
    /// false. Blank reads as false. Lazy, like the `AND` operator.
    And,
    /// `Or(a, ...)`: true when any argument is true; stops at the first true.
    /// Blank reads as false. Lazy, like the `OR` operator.
    Or,
    /// `Not(a)`: the opposite truth value; `Not(Blank)` is true.
    Not,
    /// `IsBlank(value)`: true for Blank, "" and an empty list.
    IsBlank,
    // ---- predicates and membership ----
    /// `Filter(list, predicate)`: the items for which the predicate is true, in
    /// order. Inside the predicate `[Column]` is the item's column, `CurrentValue`
    /// the item, `thisRow` still the formula's own row. An equality between the
    /// item and `thisRow` is tested first (and answered from a hash index).
    Filter,
    /// `CountIf(list, predicate)`: how many items the predicate holds for.
    CountIf,
    /// `Lookup(table, predicate)` or `Lookup(table, [Column], value)`: the first
    /// row that matches, Blank when none does.
    Lookup,
    /// `HasAny(list, value, ...)`: true when the list holds any of the values.
    HasAny,
    /// `HasAll(list, value, ...)`: true when the list holds every one of the values.
    HasAll,
    /// `Contains(list, value, ...)`: true when the list holds any of the values
    /// (for text inside text, use `ContainsText`).
    Contains,
    /// `In(value, candidate, ...)`: true when `value` equals one of the candidates.
    In,
    // ---- lists ----
    /// `List(value, ...)`: a list of the values.
    List,
    /// `Count(list or values...)`: how many items are not Blank (or ""), of any type.
    Count,
    /// `CountUnique(list or values...)`: how many distinct non-blank items
    /// (text compared exactly).
    CountUnique,
    /// `First(list)`: the first item (an error item too); Blank for an empty list.
    First,
    /// `Last(list)`: the last item; Blank for an empty list.
    Last,
    /// `Nth(list, n)`: the item at 1-based position `n`; `not found` out of range.
    Nth,
    /// `Unique(list)`: the items without repeats, first occurrences kept, text
    /// compared exactly.
    Unique,
    /// `Sort(list, [ascending = true])`: the items in order (text without regard
    /// to case, ties broken by exact text; Blank first). Stable.
    Sort,
    // ---- numbers ----
    /// `Sum(list or values...)`: the total; Blank items are skipped; 0 for none.
    Sum,
    /// `Average(list or values...)`: the mean of the numbers; Blank for none.
    Average,
    /// `Max(list or values...)`: the largest number or latest date; Blank for none.
    Max,
    /// `Min(list or values...)`: the smallest number or earliest date; Blank for none.
    Min,
    /// `Round(x, [digits = 0])`: half away from zero; negative digits round to
    /// tens, hundreds, ...; fractional digits are truncated.
    Round,
    /// `Abs(x)`: the absolute value.
    Abs,
    /// `Floor(x, [factor = 1])`: the largest multiple of `factor` not above `x`.
    Floor,
    /// `Ceiling(x, [factor = 1])`: the smallest multiple of `factor` not below `x`.
    Ceiling,
    /// `Mod(x, divisor)`: the remainder, with the sign of the divisor.
    Mod,
    /// `Power(x, n)`: `x` to the `n`; exact for a whole `n`.
    Power,
    /// `Sqrt(x)`: the square root; `invalid argument` for a negative `x`.
    Sqrt,
    /// `ToNumber(value)`: text parsed as a decimal number (`invalid argument` if
    /// it is not one); true/false as 1/0; Blank as 0.
    ToNumber,
    // ---- text ----
    /// `Format(number, pattern)` with `0` (digit), `#` (optional digit), `.`
    /// and `,` (grouping) in the pattern; or `Format("{1} of {2}", a, b)`.
    Format,
    /// `Concatenate(value, ...)`: the values as text, joined.
    Concatenate,
    /// `ToText(value)`: the value as text (numbers without trailing zeros,
    /// dates as `YYYY-MM-DD`, rows by their display column, lists joined by ", ").
    ToText,
    /// `Len(text)`: the number of characters.
    Len,
    /// `Upper(text)`
    Upper,
    /// `Lower(text)`
    Lower,
    /// `Left(text, count)`: the first `count` characters.
    Left,
    /// `Right(text, count)`: the last `count` characters.
    Right,
    /// `Mid(text, start, [count])`: characters from 1-based `start`.
    Mid,
    /// `Trim(text)`: without leading and trailing whitespace.
    Trim,
    /// `Split(text, delimiter)`: the pieces, empty ones kept; into characters
    /// when the delimiter is "".
    Split,
    /// `Join(delimiter, list or values...)`: the items as text, joined.
    Join,
    /// `ContainsText(text, search, [ignoreCase = false])`
    ContainsText,
    /// `StartsWith(text, prefix)`, case-sensitive.
    StartsWith,
    /// `EndsWith(text, suffix)`, case-sensitive.
    EndsWith,
    // ---- dates ----
    /// `Today()`: the date of the clock the host passes in. Volatile.
    Today,
    /// `Now()`: the date and time of the host's clock. Volatile.
    Now,
    /// `Date(year, month, day)`, rolling over as spreadsheets do.
    Date,
    /// `Year(date)`; Blank for a Blank date.
    Year,
    /// `Month(date)`; Blank for a Blank date.
    Month,
    /// `Day(date)`; Blank for a Blank date.
    Day,
    /// `Weekday(date)`: 1 for Sunday through 7 for Saturday.
    Weekday,
    /// `EDate(date, months)`: whole months later (or earlier), the day clamped
    /// to the end of the target month.
    EDate,
    /// `WorkDay(start, days, [holidays])`: the date `days` working days
    /// (Monday to Friday, not a holiday) after `start`.
    WorkDay,
    /// `NetWorkingDays(start, end, [holidays])`: working days from `start` to
    /// `end`, both counted; negative when `end` comes first.
    NetWorkingDays,
    // ---- rows ----
    /// `RowNumber(row)`, usually `thisRow.RowNumber()`: the 1-based position of
    /// the row in its table. It changes when an earlier row is deleted; build
    /// identifiers on `RowId` instead.
    RowNumber,
    /// `RowId(row)`, usually `thisRow.RowId()`: the number the row was given
    /// when it was inserted, counting from 1 in insertion order; never changed
    /// and never reused, so IDs such as `"ACC-" & Format(thisRow.RowId(), "00000")`
    /// stay put when other rows are deleted.
    RowId,
    // ---- views ----
    /// `Param("name")`: a parameter of the view being evaluated (a selected
    /// account, say). Only in a view's formulas.
    Param,
    /// `CurrentUser()`: the person the view is evaluated for, its `user`
    /// parameter. Only in a view's formulas.
    CurrentUser,
}

/// Name and arity of a function.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signature {
    pub(crate) function: Function,
    pub(crate) name: &'static str,
    pub(crate) min: usize,
    /// `None`: any number of arguments from `min` on.
    pub(crate) max: Option<usize>,
}

const fn sig(function: Function, name: &'static str, min: usize, max: Option<usize>) -> Signature {
    Signature {
        function,
        name,
        min,
        max,
    }
}

use Function as F;

impl Function {
    /// Every function with its name and arity.
    pub(crate) const ALL: &'static [Signature] = &[
        sig(F::If, "If", 2, Some(3)),
        sig(F::IfError, "IfError", 2, Some(2)),
        sig(F::IfBlank, "IfBlank", 2, Some(2)),
        sig(F::Switch, "Switch", 3, None),
        sig(F::SwitchIf, "SwitchIf", 2, None),
        sig(F::And, "And", 1, None),
        sig(F::Or, "Or", 1, None),
        sig(F::Not, "Not", 1, Some(1)),
        sig(F::IsBlank, "IsBlank", 1, Some(1)),
        sig(F::Filter, "Filter", 2, Some(2)),
        sig(F::CountIf, "CountIf", 2, Some(2)),
        sig(F::Lookup, "Lookup", 2, Some(3)),
        sig(F::HasAny, "HasAny", 2, None),
        sig(F::HasAll, "HasAll", 2, None),
        sig(F::Contains, "Contains", 2, None),
        sig(F::In, "In", 2, None),
        sig(F::List, "List", 0, None),
        sig(F::Count, "Count", 0, None),
        sig(F::CountUnique, "CountUnique", 0, None),
        sig(F::First, "First", 1, Some(1)),
        sig(F::Last, "Last", 1, Some(1)),
        sig(F::Nth, "Nth", 2, Some(2)),
        sig(F::Unique, "Unique", 1, Some(1)),
        sig(F::Sort, "Sort", 1, Some(2)),
        sig(F::Sum, "Sum", 0, None),
        sig(F::Average, "Average", 0, None),
        sig(F::Max, "Max", 0, None),
        sig(F::Min, "Min", 0, None),
        sig(F::Round, "Round", 1, Some(2)),
        sig(F::Abs, "Abs", 1, Some(1)),
        sig(F::Floor, "Floor", 1, Some(2)),
        sig(F::Ceiling, "Ceiling", 1, Some(2)),
        sig(F::Mod, "Mod", 2, Some(2)),
        sig(F::Power, "Power", 2, Some(2)),
        sig(F::Sqrt, "Sqrt", 1, Some(1)),
        sig(F::ToNumber, "ToNumber", 1, Some(1)),
        sig(F::Format, "Format", 1, None),
        sig(F::Concatenate, "Concatenate", 0, None),
        sig(F::ToText, "ToText", 1, Some(1)),
        sig(F::Len, "Len", 1, Some(1)),
        sig(F::Upper, "Upper", 1, Some(1)),
        sig(F::Lower, "Lower", 1, Some(1)),
        sig(F::Left, "Left", 2, Some(2)),
        sig(F::Right, "Right", 2, Some(2)),
        sig(F::Mid, "Mid", 2, Some(3)),
        sig(F::Trim, "Trim", 1, Some(1)),
        sig(F::Split, "Split", 2, Some(2)),
        sig(F::Join, "Join", 1, None),
        sig(F::ContainsText, "ContainsText", 2, Some(3)),
        sig(F::StartsWith, "StartsWith", 2, Some(2)),
        sig(F::EndsWith, "EndsWith", 2, Some(2)),
        sig(F::Today, "Today", 0, Some(0)),
        sig(F::Now, "Now", 0, Some(0)),
        sig(F::Date, "Date", 3, Some(3)),
        sig(F::Year, "Year", 1, Some(1)),
        sig(F::Month, "Month", 1, Some(1)),
        sig(F::Day, "Day", 1, Some(1)),
        sig(F::Weekday, "Weekday", 1, Some(1)),
        sig(F::EDate, "EDate", 2, Some(2)),
        sig(F::WorkDay, "WorkDay", 2, Some(3)),
        sig(F::NetWorkingDays, "NetWorkingDays", 2, Some(3)),
        sig(F::RowNumber, "RowNumber", 1, Some(1)),
        sig(F::RowId, "RowId", 1, Some(1)),
        sig(F::Param, "Param", 1, Some(1)),
        sig(F::CurrentUser, "CurrentUser", 0, Some(0)),
    ];

    /// The function with this name, without regard to case.
    pub fn from_name(name: &str) -> Option<Function> {
        Self::signature_by_name(name).map(|s| s.function)
    }

    pub(crate) fn signature_by_name(name: &str) -> Option<&'static Signature> {
        Self::ALL.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The function's name as documented (`CountIf`).
    pub fn name(self) -> &'static str {
        self.signature().name
    }

    pub(crate) fn signature(self) -> &'static Signature {
        // Every variant has exactly one row in ALL (checked by a test).
        Self::ALL
            .iter()
            .find(|s| s.function == self)
            .unwrap_or(&Self::ALL[0])
    }

    /// Every function name, for help text and suggestions.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.iter().map(|s| s.name)
    }

    /// Whether the function reads the clock (its cells recalculate when the clock moves).
    pub fn is_volatile(self) -> bool {
        matches!(self, Function::Today | Function::Now)
    }
}

impl Signature {
    /// "takes 1 or 2 arguments", for arity errors.
    pub(crate) fn arity_text(&self) -> String {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self.max {
            Some(max) if max == self.min => format!("takes {} {}", self.min, plural(self.min)),
            Some(max) if max == self.min + 1 => {
                format!("takes {} or {} {}", self.min, max, plural(max))
            }
            Some(max) => format!("takes {} to {} arguments", self.min, max),
            None => format!("takes {} or more {}", self.min, plural(self.min.max(2))),
        }
    }

    pub(crate) fn accepts(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

use crate::eval::{EvalCtx, R, invalid, truthy};
use crate::value::Value;

/// Calls an eager function on evaluated arguments (none of them an error value).
pub(crate) fn call(f: Function, args: &[&Value], cx: &EvalCtx<'_>) -> Value {
    let result: R<Value> = match f {
        F::Not => truthy(args[0]).map(|b| Value::Bool(!b)),
        F::IsBlank => Ok(Value::Bool(args[0].is_blank())),
        F::HasAny
        | F::HasAll
        | F::Contains
        | F::In
        | F::List
        | F::Count
        | F::CountUnique
        | F::First
        | F::Last
        | F::Nth
        | F::Unique
        | F::Sort
        | F::Sum
        | F::Average
        | F::Max
        | F::Min => list::call(f, args, cx.budget),
        F::Round | F::Abs | F::Floor | F::Ceiling | F::Mod | F::Power | F::Sqrt | F::ToNumber => {
            math::call(f, args)
        }
        F::Format
        | F::Concatenate
        | F::ToText
        | F::Len
        | F::Upper
        | F::Lower
        | F::Left
        | F::Right
        | F::Mid
        | F::Trim
        | F::Split
        | F::Join
        | F::ContainsText
        | F::StartsWith
        | F::EndsWith => text::call(f, args, cx),
        F::Today
        | F::Now
        | F::Date
        | F::Year
        | F::Month
        | F::Day
        | F::Weekday
        | F::EDate
        | F::WorkDay
        | F::NetWorkingDays => date::call(f, args, cx),
        F::RowNumber => match &args[0] {
            Value::Row(t, r) => Ok(cx
                .data
                .row_number(*t, *r)
                .map_or(Value::Blank, |n| Value::from(i64::from(n)))),
            Value::Blank => Ok(Value::Blank),
            other => Err(crate::eval::mismatch(format!(
                "`RowNumber` needs a row, not {}",
                other.type_name()
            ))),
        },
        F::RowId => match &args[0] {
            Value::Row(_, r) => Ok(Value::from(i64::from(r.get()))),
            Value::Blank => Ok(Value::Blank),
            other => Err(crate::eval::mismatch(format!(
                "`RowId` needs a row, not {}",
                other.type_name()
            ))),
        },
        // Lazy and predicate functions are evaluated by the interpreter itself.
        F::If
        | F::IfError
        | F::IfBlank
        | F::Switch
        | F::SwitchIf
        | F::And
        | F::Or
        | F::Filter
        | F::CountIf
        | F::Lookup
        | F::Param
        | F::CurrentUser => Err(invalid(format!("`{}` cannot be called here", f.name()))),
    };
    result.unwrap_or_else(|e| e)
}

/// The items of the arguments, lists flattened at any depth (so `Sum(14, 23, 5)`
/// and `Sum(List(14, List(23, 5)))` agree).
pub(crate) fn flatten<'v>(args: &[&'v Value]) -> smallvec::SmallVec<[&'v Value; 8]> {
    let mut out = smallvec::SmallVec::new();
    for a in args {
        push_items(a, &mut out);
    }
    out
}

fn push_items<'v>(v: &'v Value, out: &mut smallvec::SmallVec<[&'v Value; 8]>) {
    match v {
        Value::List(items) => {
            for item in items.iter() {
                push_items(item, out);
            }
        }
        other => out.push(other),
    }
}

/// A whole-number argument, truncated toward zero.
pub(crate) fn whole(v: &Value, what: &str) -> R<i64> {
    use rust_decimal::prelude::ToPrimitive;
    let n = crate::eval::to_number(v)?;
    n.trunc()
        .to_i64()
        .ok_or_else(|| invalid(format!("{what} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signature_is_unique() {
        for (i, a) in Function::ALL.iter().enumerate() {
            for b in &Function::ALL[i + 1..] {
                assert_ne!(a.function, b.function);
                assert!(!a.name.eq_ignore_ascii_case(b.name));
            }
            assert_eq!(a.function.signature().name, a.name);
            assert_eq!(
                Function::from_name(&a.name.to_uppercase()),
                Some(a.function)
            );
        }
    }
}
