//! The interpreter: a bound [`Expr`] and a row in, a [`Value`] out. Errors are
//! values; nothing here panics on any input.

use crate::budget::Budget;
use crate::data::Data;
use crate::expr::{Expr, FilterExpr, FilterMode, OuterKey};
use crate::functions::{self, Function};
use crate::ids::{RowId, TableId};
use crate::value::{
    ErrorKind, Key, Value, compare, date_to_text, datetime_to_text, midnight, number_to_text,
    values_equal,
};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use csip_formula::BinaryOp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::borrow::Cow;
use std::cmp::Ordering;

/// `Ok(value)` or `Err(error value)`, so that `?` propagates error values.
pub(crate) type R<T> = Result<T, Value>;

pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> Value {
    Value::error(kind, message)
}

pub(crate) fn mismatch(message: impl Into<String>) -> Value {
    err(ErrorKind::TypeMismatch, message)
}

pub(crate) fn invalid(message: impl Into<String>) -> Value {
    err(ErrorKind::InvalidArgument, message)
}

pub(crate) fn overflow() -> Value {
    err(
        ErrorKind::Overflow,
        "the result lies beyond ±79228162514264337593543950335",
    )
}

/// A value as text, as `Workbook::display` shows it (a row by its display
/// column, an error by its kind and message).
pub(crate) fn display(data: &Data, value: &Value) -> String {
    match value {
        Value::Error(e) => e.to_string(),
        v => EvalCtx::new(data, None, &crate::Budget::default())
            .to_text(v)
            .map(|s| s.into_owned())
            .unwrap_or_default(),
    }
}

/// Evaluation state: the data, the formula's own row, the items of the
/// enclosing predicates, and the budget every loop and every text or list
/// built is checked against.
pub(crate) struct EvalCtx<'a> {
    pub(crate) data: &'a Data,
    pub(crate) this: Option<(TableId, RowId)>,
    params: &'a [Value],
    items: Vec<Value>,
    pub(crate) budget: &'a Budget,
}

impl<'a> EvalCtx<'a> {
    pub(crate) fn new(
        data: &'a Data,
        this: Option<(TableId, RowId)>,
        budget: &'a Budget,
    ) -> EvalCtx<'a> {
        EvalCtx {
            data,
            this,
            params: &[],
            items: Vec::new(),
            budget,
        }
    }

    /// A context for a view's formulas, with the view's parameter values.
    pub(crate) fn with_params(
        data: &'a Data,
        this: Option<(TableId, RowId)>,
        params: &'a [Value],
        budget: &'a Budget,
    ) -> EvalCtx<'a> {
        EvalCtx {
            data,
            this,
            params,
            items: Vec::new(),
            budget,
        }
    }

    /// A list built by the evaluator, checked against the budget.
    fn list(&self, items: Vec<Value>) -> Value {
        match self.budget.list(items.len()) {
            Ok(()) => Value::list(items),
            Err(e) => e,
        }
    }

    /// A text built in a buffer, checked against the budget.
    fn text(&self, buf: functions::text::TextBuf) -> Value {
        match self.budget.text(buf.as_str().len()) {
            Ok(()) => buf.into_value(),
            Err(e) => e,
        }
    }

    /// Evaluates a formula; errors come back as error values.
    pub(crate) fn eval(&mut self, e: &Expr) -> Value {
        match e {
            Expr::Lit(v) => v.clone(),
            Expr::Col(c) => match self.this {
                Some((_, r)) => self.data.cell(*c, r).clone(),
                None => err(ErrorKind::UnknownName, "no row to read a column of"),
            },
            Expr::ItemCol { level, col } => match self.items.get(usize::from(*level)) {
                Some(item) => {
                    let item = item.clone();
                    project_one(self.data, &item, *col)
                }
                None => err(ErrorKind::UnknownName, "no item to read a column of"),
            },
            Expr::ThisRow => match self.this {
                Some((t, r)) => Value::Row(t, r),
                None => err(ErrorKind::UnknownName, "`thisRow` has no row here"),
            },
            Expr::Item { level } => self
                .items
                .get(usize::from(*level))
                .cloned()
                .unwrap_or_else(|| err(ErrorKind::UnknownName, "`CurrentValue` has no item here")),
            Expr::Named(c) => self.data.cell(*c, crate::data::NAMES_ROW).clone(),
            Expr::Table(t) => {
                let rows = self.data.table(*t).order();
                if let Err(e) = self
                    .budget
                    .list(rows.len())
                    .and_then(|()| self.budget.spend(rows.len() as u64))
                {
                    return e;
                }
                Value::list(rows.iter().map(|r| Value::Row(*t, *r)).collect())
            }
            Expr::Project { target, col } => {
                if let Expr::Table(t) = **target {
                    // `[Table].[Column]`: read the column without building the row list.
                    let rows = self.data.table(t).order();
                    if let Err(e) = self.budget.spend(rows.len() as u64) {
                        return e;
                    }
                    let multi = self.data.column(*col).is_multi_valued();
                    let mut out =
                        Vec::with_capacity(rows.len().min(self.budget.limits().max_list_items + 1));
                    for r in rows {
                        push_flat(&mut out, self.data.cell(*col, *r), multi);
                        if out.len() > self.budget.limits().max_list_items {
                            break;
                        }
                    }
                    return self.list(out);
                }
                if let Expr::Filter(fx) = &**target {
                    if fx.mode == FilterMode::Filter {
                        // `Filter(...).[Column]`: read the column of each match
                        // without building the list of rows first.
                        let data = self.data;
                        let multi = data.column(*col).is_multi_valued();
                        let mut out = Vec::new();
                        let result = self.for_each_match(fx, &mut |item| {
                            match item {
                                Value::Row(t, r) if data.column(*col).table == t => {
                                    push_flat(&mut out, data.cell(*col, r), multi);
                                }
                                other => {
                                    push_flat(&mut out, &project_one(data, &other, *col), multi)
                                }
                            }
                            true
                        });
                        return match result {
                            Ok(()) => self.list(out),
                            Err(e) => e,
                        };
                    }
                }
                let target = self.eval(target);
                self.project(&target, *col)
            }
            Expr::Neg(x) => match self.eval(x) {
                Value::Error(e) => Value::Error(e),
                v => match to_number(&v) {
                    Ok(n) => Value::Number(-n),
                    Err(e) => e,
                },
            },
            Expr::Not(x) => {
                let v = self.eval(x);
                match truthy(&v) {
                    Ok(b) => Value::Bool(!b),
                    Err(e) => e,
                }
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r),
            Expr::Call(f, args) => self.call(*f, args),
            Expr::Filter(fx) => self.filter(fx),
            Expr::Guard { key, guards } => {
                let key = self.eval(key);
                if let Value::Error(_) = key {
                    return key;
                }
                for g in guards.iter() {
                    match self.eval_bool(g) {
                        Ok(true) => {}
                        Ok(false) => return Value::Blank,
                        // The error makes the item a wildcard of the index (its
                        // conjuncts are tested again, and the error shows then);
                        // it names the key, so that a change of key while the
                        // guard fails is a change of this cell and propagates.
                        Err(Value::Error(e)) => {
                            return Value::error(
                                e.kind,
                                format!("{} (item key {key:?})", e.message),
                            );
                        }
                        Err(e) => return e,
                    }
                }
                key
            }
            Expr::Param(i) => self
                .params
                .get(usize::from(*i))
                .cloned()
                .unwrap_or(Value::Blank),
        }
    }

    /// The value of `e` if it differs from `current`, else `None`. Text built
    /// by `&` and `Format` is compared in its buffer, and literals by
    /// reference, so a cell that comes out as it was costs no allocation:
    /// that is most cells of a recalculation.
    pub(crate) fn eval_changed(&mut self, e: &Expr, current: &Value) -> Option<Value> {
        let unless_same = |v: Value| (!current.identical(&v)).then_some(v);
        match e {
            Expr::Lit(v) => (!current.identical(v)).then(|| v.clone()),
            Expr::Binary(BinaryOp::Concat, ..) | Expr::Call(Function::Format, _) => {
                let mut buf = functions::text::TextBuf::default();
                let built = match e {
                    Expr::Binary(_, l, r) => self
                        .append_text(l, &mut buf)
                        .and_then(|()| self.append_text(r, &mut buf)),
                    _ => self.append_text(e, &mut buf),
                }
                .and_then(|()| self.budget.text(buf.as_str().len()));
                match (built, current) {
                    (Ok(()), Value::Text(t)) if **t == *buf.as_str() => None,
                    (Ok(()), _) => Some(buf.into_value()),
                    (Err(e), _) => unless_same(e),
                }
            }
            Expr::Guard { key, guards } => {
                let k = self.eval_cow(key);
                if let Value::Error(_) = k.as_ref() {
                    return unless_same(k.into_owned());
                }
                for g in guards.iter() {
                    match self.eval_bool(g) {
                        Ok(true) => {}
                        Ok(false) => return unless_same(Value::Blank),
                        // The error names the key: built as `eval` builds it.
                        Err(_) => return unless_same(self.eval(e)),
                    }
                }
                (!current.identical(&k)).then(|| k.into_owned())
            }
            Expr::Call(Function::Switch, args) => match self.switch_branch(args) {
                Ok(Some(branch)) => self.eval_changed(branch, current),
                Ok(None) => unless_same(Value::Blank),
                Err(e) => unless_same(e),
            },
            Expr::Call(Function::If, args) => match self.eval_bool(&args[0]) {
                Ok(true) => self.eval_changed(&args[1], current),
                Ok(false) => match args.get(2) {
                    Some(x) => self.eval_changed(x, current),
                    None => unless_same(Value::Blank),
                },
                Err(e) => unless_same(e),
            },
            other => unless_same(self.eval(other)),
        }
    }

    /// Appends the text of `e` to `buf`, as `&` turns it into text; chains of
    /// `&` and `Format` write straight into the buffer.
    fn append_text(&mut self, e: &Expr, buf: &mut functions::text::TextBuf) -> R<()> {
        match e {
            Expr::Binary(BinaryOp::Concat, l, r) => {
                self.append_text(l, buf)?;
                self.append_text(r, buf)
            }
            Expr::Call(Function::Format, args) => self.with_args(args, |cx, values| {
                functions::text::format_into(values, cx, buf)
            })?,
            other => {
                let v = self.eval_cow(other);
                buf.push_str(&self.to_text(&v)?);
                self.budget.text_so_far(buf.as_str().len())
            }
        }
    }

    /// Evaluates a condition straight to true or false (or the error value),
    /// without building a `Bool` value for comparisons and logic.
    pub(crate) fn eval_bool(&mut self, e: &Expr) -> R<bool> {
        match e {
            Expr::Binary(
                op @ (BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge),
                l,
                r,
            ) => {
                let a = self.eval_cow(l);
                if let Value::Error(_) = a.as_ref() {
                    return Err(a.into_owned());
                }
                let b = self.eval_cow(r);
                if let Value::Error(_) = b.as_ref() {
                    return Err(b.into_owned());
                }
                if let (Value::Number(x), Value::Number(y)) = (a.as_ref(), b.as_ref()) {
                    let o = crate::num::cmp(x, y);
                    return Ok(match op {
                        BinaryOp::Eq => o.is_eq(),
                        BinaryOp::Ne => o.is_ne(),
                        BinaryOp::Lt => o.is_lt(),
                        BinaryOp::Le => o.is_le(),
                        BinaryOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    });
                }
                Ok(match op {
                    BinaryOp::Eq => values_equal(&a, &b),
                    BinaryOp::Ne => !values_equal(&a, &b),
                    BinaryOp::Lt => compare(&a, &b)? == Ordering::Less,
                    BinaryOp::Le => compare(&a, &b)? != Ordering::Greater,
                    BinaryOp::Gt => compare(&a, &b)? == Ordering::Greater,
                    _ => compare(&a, &b)? != Ordering::Less,
                })
            }
            Expr::Binary(BinaryOp::And, l, r) => Ok(self.eval_bool(l)? && self.eval_bool(r)?),
            Expr::Binary(BinaryOp::Or, l, r) => Ok(self.eval_bool(l)? || self.eval_bool(r)?),
            Expr::Not(x) => Ok(!self.eval_bool(x)?),
            Expr::Call(Function::IsBlank, args) => {
                let v = self.eval_cow(&args[0]);
                match v.as_ref() {
                    Value::Error(_) => Err(v.into_owned()),
                    x => Ok(x.is_blank()),
                }
            }
            Expr::Call(Function::HasAny | Function::Contains, args) if literal_set(&args[1..]) => {
                self.has_any_literal(args)
            }
            other => truthy(&self.eval_cow(other)),
        }
    }

    /// The branch `Switch(value, case1, result1, ..., default)` takes: the
    /// result of the first case equal to the value, else the default, else
    /// none (Blank); an error of the value or of a case met first is returned.
    fn switch_branch<'x>(&mut self, args: &'x [Expr]) -> R<Option<&'x Expr>> {
        let value = self.eval_cow(&args[0]);
        if let Value::Error(_) = value.as_ref() {
            return Err(value.into_owned());
        }
        let mut pairs = args[1..].chunks_exact(2);
        for pair in pairs.by_ref() {
            let case = self.eval_cow(&pair[0]);
            if let Value::Error(_) = case.as_ref() {
                return Err(case.into_owned());
            }
            if values_equal(&value, &case) {
                return Ok(Some(&pair[1]));
            }
        }
        Ok(pairs.remainder().first())
    }

    /// `HasAny(x, "a", "b")` with literal, non-list candidates (the common
    /// `[Category].HasAny(...)`): no argument list, no dispatch.
    fn has_any_literal(&mut self, args: &[Expr]) -> R<bool> {
        let x = self.eval_cow(&args[0]);
        if let Value::Error(_) = x.as_ref() {
            return Err(x.into_owned());
        }
        let elements = x.elements();
        Ok(args[1..].iter().any(|w| match w {
            Expr::Lit(w) => elements.iter().any(|e| values_equal(e, w)),
            _ => false,
        }))
    }

    /// Evaluates a call's arguments, left to right, without copying what can
    /// be read in place, and hands them to `f`; the first error value is
    /// returned instead.
    fn with_args<T>(&mut self, args: &[Expr], f: impl FnOnce(&Self, &[&Value]) -> T) -> R<T> {
        // Each argument is checked where it lies: moving a `Cow` into a
        // `Result` and out again costs more than the check.
        macro_rules! arg {
            ($e:expr) => {{
                let v = self.eval_cow($e);
                if let Value::Error(_) = v.as_ref() {
                    return Err(v.into_owned());
                }
                v
            }};
        }
        match args {
            [] => Ok(f(self, &[])),
            [a] => {
                let a = arg!(a);
                Ok(f(self, &[&a]))
            }
            [a, b] => {
                let a = arg!(a);
                let b = arg!(b);
                Ok(f(self, &[&a, &b]))
            }
            [a, b, c] => {
                let a = arg!(a);
                let b = arg!(b);
                let c = arg!(c);
                Ok(f(self, &[&a, &b, &c]))
            }
            [a, b, c, d] => {
                let a = arg!(a);
                let b = arg!(b);
                let c = arg!(c);
                let d = arg!(d);
                Ok(f(self, &[&a, &b, &c, &d]))
            }
            _ => {
                let mut values: smallvec::SmallVec<[Cow<'_, Value>; 8]> = smallvec::SmallVec::new();
                for a in args {
                    values.push(arg!(a));
                }
                let refs: smallvec::SmallVec<[&Value; 8]> =
                    values.iter().map(|v| v.as_ref()).collect();
                Ok(f(self, &refs))
            }
        }
    }

    /// Evaluates without copying what can be read in place: literals and
    /// cells come back borrowed (no reference counts touched).
    pub(crate) fn eval_cow<'x>(&mut self, e: &'x Expr) -> Cow<'x, Value>
    where
        'a: 'x,
    {
        match e {
            Expr::Lit(v) => Cow::Borrowed(v),
            Expr::Col(c) => match self.this {
                Some((_, r)) => Cow::Borrowed(self.data.cell(*c, r)),
                None => Cow::Owned(self.eval(e)),
            },
            Expr::ItemCol { level, col } => match self.items.get(usize::from(*level)) {
                Some(Value::Row(t, r)) if self.data.column(*col).table == *t => {
                    Cow::Borrowed(self.data.cell(*col, *r))
                }
                _ => Cow::Owned(self.eval(e)),
            },
            // `[Relation].[Column]`: the cell of the one row, read in place.
            Expr::Project { target, col }
                if !matches!(**target, Expr::Table(_) | Expr::Filter(_)) =>
            {
                let row = self.eval_cow(target);
                let data = self.data;
                match row.as_ref() {
                    Value::Row(t, r) if data.column(*col).table == *t => {
                        Cow::Borrowed(data.cell(*col, *r))
                    }
                    other => Cow::Owned(self.project(other, *col)),
                }
            }
            _ => Cow::Owned(self.eval(e)),
        }
    }

    /// `.[Column]` of a row (its value) or of a list of rows (the values, flattened).
    fn project(&self, target: &Value, col: crate::ids::ColumnId) -> Value {
        match target {
            Value::List(items) => {
                if let Err(e) = self.budget.spend(items.len() as u64) {
                    return e;
                }
                let multi = self.data.column(col).is_multi_valued();
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    let v = project_one(self.data, item, col);
                    push_flat(&mut out, &v, multi);
                    if out.len() > self.budget.limits().max_list_items {
                        break;
                    }
                }
                self.list(out)
            }
            other => project_one(self.data, other, col),
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr) -> Value {
        match op {
            BinaryOp::Concat => {
                // One string for a whole chain `a & b & Format(...)`.
                let mut buf = functions::text::TextBuf::default();
                match self
                    .append_text(l, &mut buf)
                    .and_then(|()| self.append_text(r, &mut buf))
                {
                    Ok(()) => self.text(buf),
                    Err(e) => e,
                }
            }
            BinaryOp::And | BinaryOp::Or => {
                let want = op == BinaryOp::Or;
                for side in [l, r] {
                    match self.eval_bool(side) {
                        Ok(b) if b == want => return Value::Bool(want),
                        Ok(_) => {}
                        Err(e) => return e,
                    }
                }
                Value::Bool(!want)
            }
            _ => {
                let a = self.eval_cow(l);
                if let Value::Error(_) = a.as_ref() {
                    return a.into_owned();
                }
                let b = self.eval_cow(r);
                if let Value::Error(_) = b.as_ref() {
                    return b.into_owned();
                }
                self.binary_values(op, &a, &b)
            }
        }
    }

    pub(crate) fn binary_values(&self, op: BinaryOp, a: &Value, b: &Value) -> Value {
        if let (Value::Number(x), Value::Number(y)) = (a, b) {
            // The common case, without the detours dates and Blank need.
            let (x, y) = (*x, *y);
            let number = |n: Option<Decimal>| n.map_or_else(overflow, Value::Number);
            match op {
                BinaryOp::Add => return number(crate::num::add(x, y)),
                BinaryOp::Sub => return number(crate::num::sub(x, y)),
                BinaryOp::Mul => return number(crate::num::mul(x, y)),
                BinaryOp::Eq => return Value::Bool(crate::num::cmp(&x, &y).is_eq()),
                BinaryOp::Ne => return Value::Bool(!crate::num::cmp(&x, &y).is_eq()),
                BinaryOp::Lt => return Value::Bool(crate::num::cmp(&x, &y).is_lt()),
                BinaryOp::Le => return Value::Bool(crate::num::cmp(&x, &y).is_le()),
                BinaryOp::Gt => return Value::Bool(crate::num::cmp(&x, &y).is_gt()),
                BinaryOp::Ge => return Value::Bool(crate::num::cmp(&x, &y).is_ge()),
                _ => {}
            }
        }
        let result = match op {
            BinaryOp::Eq => Ok(Value::Bool(values_equal(a, b))),
            BinaryOp::Ne => Ok(Value::Bool(!values_equal(a, b))),
            BinaryOp::Lt => compare(a, b).map(|o| Value::Bool(o == Ordering::Less)),
            BinaryOp::Le => compare(a, b).map(|o| Value::Bool(o != Ordering::Greater)),
            BinaryOp::Gt => compare(a, b).map(|o| Value::Bool(o == Ordering::Greater)),
            BinaryOp::Ge => compare(a, b).map(|o| Value::Bool(o != Ordering::Less)),
            BinaryOp::Concat => (|| {
                let mut s = String::new();
                s.push_str(&self.to_text(a)?);
                s.push_str(&self.to_text(b)?);
                self.budget.text(s.len())?;
                Ok(Value::from(s))
            })(),
            BinaryOp::Add => add(a, b),
            BinaryOp::Sub => sub(a, b),
            BinaryOp::Mul => arith(a, b, "multiply", crate::num::mul),
            BinaryOp::Div => {
                let (x, y) = (to_number(a), to_number(b));
                match (x, y) {
                    (Ok(_), Ok(y)) if y.is_zero() => {
                        Err(err(ErrorKind::DivisionByZero, "division by zero"))
                    }
                    (Ok(x), Ok(y)) => x.checked_div(y).map(Value::Number).ok_or_else(overflow),
                    (Err(_), _) | (_, Err(_)) => Err(mismatch(format!(
                        "cannot divide {} by {}",
                        a.type_name(),
                        b.type_name()
                    ))),
                }
            }
            BinaryOp::And | BinaryOp::Or => truthy(a)
                .and_then(|x| truthy(b).map(|y| if op == BinaryOp::And { x && y } else { x || y }))
                .map(Value::Bool),
        };
        result.unwrap_or_else(|e| e)
    }

    fn call(&mut self, f: Function, args: &[Expr]) -> Value {
        match f {
            Function::If => match self.eval_bool(&args[0]) {
                Ok(true) => self.eval(&args[1]),
                Ok(false) => args.get(2).map_or(Value::Blank, |e| self.eval(e)),
                Err(e) => e,
            },
            // A limit is not an error to recover from: it ends the evaluation.
            Function::IfError => match self.eval(&args[0]) {
                Value::Error(e) if e.kind != ErrorKind::Limit => self.eval(&args[1]),
                v => v,
            },
            Function::IfBlank => match self.eval(&args[0]) {
                Value::Error(e) => Value::Error(e),
                v if v.is_blank() => self.eval(&args[1]),
                v => v,
            },
            Function::Switch => match self.switch_branch(args) {
                Ok(Some(branch)) => self.eval(branch),
                Ok(None) => Value::Blank,
                Err(e) => e,
            },
            Function::SwitchIf => {
                let mut pairs = args.chunks_exact(2);
                for pair in pairs.by_ref() {
                    match self.eval_bool(&pair[0]) {
                        Ok(true) => return self.eval(&pair[1]),
                        Ok(false) => {}
                        Err(e) => return e,
                    }
                }
                pairs
                    .remainder()
                    .first()
                    .map_or(Value::Blank, |d| self.eval(d))
            }
            Function::And | Function::Or => {
                let want = f == Function::Or;
                for a in args.iter() {
                    match self.eval_bool(a) {
                        Ok(b) if b == want => return Value::Bool(want),
                        Ok(_) => {}
                        Err(e) => return e,
                    }
                }
                Value::Bool(!want)
            }
            Function::RowNumber if matches!(args[0], Expr::ThisRow) => match self.this {
                Some((t, r)) => self
                    .data
                    .row_number(t, r)
                    .map_or(Value::Blank, |n| Value::from(i64::from(n))),
                None => err(ErrorKind::UnknownName, "`thisRow` has no row here"),
            },
            Function::RowId if matches!(args[0], Expr::ThisRow) => match self.this {
                Some((_, r)) => Value::from(i64::from(r.get())),
                None => err(ErrorKind::UnknownName, "`thisRow` has no row here"),
            },
            Function::IsBlank => {
                let v = self.eval_cow(&args[0]);
                match v.as_ref() {
                    Value::Error(_) => v.into_owned(),
                    x => Value::Bool(x.is_blank()),
                }
            }
            Function::Not => match self.eval_bool(&args[0]) {
                Ok(b) => Value::Bool(!b),
                Err(e) => e,
            },
            Function::Today => Value::Date(self.data.clock.today),
            Function::HasAny | Function::Contains if literal_set(&args[1..]) => {
                match self.has_any_literal(args) {
                    Ok(b) => Value::Bool(b),
                    Err(e) => e,
                }
            }
            Function::Sum | Function::Average if matches!(args, [Expr::Project { .. }]) => {
                self.total_of_projection(f, &args[0])
            }
            // A list holds what its items evaluate to, errors included.
            Function::List => {
                let items = args.iter().map(|a| self.eval(a)).collect();
                self.list(items)
            }
            _ => self.call_eagerly(f, args),
        }
    }

    /// `Sum` / `Average` of `rows.[Column]`, reading each value in place
    /// instead of building the list: the same result, error and all, as the
    /// list would give (`functions::list::total`).
    fn total_of_projection(&mut self, f: Function, arg: &Expr) -> Value {
        let Expr::Project { target, col } = arg else {
            return self.call_eagerly(f, std::slice::from_ref(arg));
        };
        let data = self.data;
        let col = *col;
        let mut acc = Total::default();
        let feed_row = |acc: &mut Total, item: &Value| match item {
            Value::Row(t, r) if data.column(col).table == *t => acc.feed(data.cell(col, *r)),
            other => acc.feed(&project_one(data, other, col)),
        };
        match &**target {
            Expr::Table(t) => {
                let rows = data.table(*t).order();
                if let Err(e) = self.budget.spend(rows.len() as u64) {
                    return e;
                }
                for r in rows {
                    feed_row(&mut acc, &Value::Row(*t, *r));
                }
            }
            Expr::Filter(fx) if fx.mode == FilterMode::Filter => {
                let outcome = self.for_each_match(fx, &mut |item| {
                    feed_row(&mut acc, &item);
                    true
                });
                if let Err(e) = outcome {
                    return e;
                }
            }
            other => {
                let rows = self.eval_cow(other);
                match rows.as_ref() {
                    Value::Error(_) => return rows.into_owned(),
                    Value::List(items) => {
                        for item in items.iter() {
                            feed_row(&mut acc, item);
                        }
                    }
                    single => acc.feed(&project_one(data, single, col)),
                }
            }
        }
        acc.finish(f)
    }

    fn call_eagerly(&mut self, f: Function, args: &[Expr]) -> Value {
        match self.with_args(args, |cx, values| functions::call(f, values, cx)) {
            Ok(v) | Err(v) => v,
        }
    }

    // ---- predicates ------------------------------------------------------

    fn filter(&mut self, fx: &FilterExpr) -> Value {
        let mut found: Vec<Value> = Vec::new();
        let mut count: u64 = 0;
        let outcome = self.for_each_match(fx, &mut |item| {
            match fx.mode {
                FilterMode::Filter => found.push(item),
                FilterMode::CountIf => count += 1,
                FilterMode::Lookup => {
                    found.push(item);
                    return false;
                }
            }
            true
        });
        if let Err(e) = outcome {
            return e;
        }
        match fx.mode {
            FilterMode::Filter => self.list(found),
            FilterMode::CountIf => Value::Number(Decimal::from(count)),
            FilterMode::Lookup => found.into_iter().next().unwrap_or(Value::Blank),
        }
    }

    /// Calls `on_match` for every item the predicate holds for, in order, until
    /// it returns false. Uses the key index when the predicate has one.
    fn for_each_match(
        &mut self,
        fx: &FilterExpr,
        on_match: &mut dyn FnMut(Value) -> bool,
    ) -> R<()> {
        if let (Expr::Table(t), Some(key)) = (&fx.source, &fx.key) {
            if let Some(plan) = key.plan {
                let outer = match plan.outer {
                    OuterKey::ThisRow => self.eval(&Expr::ThisRow),
                    OuterKey::Column(c) => self.eval(&Expr::Col(c)),
                    OuterKey::Evaluate => self.eval(&key.outer_key),
                };
                let key = Key::from_value(&outer);
                // A guarded index holds Blank for the items its guards reject,
                // so a Blank-like outer key scans.
                let guard_blind = plan.guarded > 0
                    && key.as_ref().is_some_and(|k| !k.blank_partners().is_empty());
                if let (Some(k), false) = (key, guard_blind) {
                    let index = self.data.index(plan.item_index);
                    let candidates = index.matching(&k);
                    let wildcard = index.wildcard();
                    let vouched = 1 + usize::from(plan.guarded);
                    for &u in candidates.iter() {
                        self.budget.step()?;
                        let item = Value::Row(*t, u);
                        // The index vouches for the key conjunct and the guards,
                        // except on error rows.
                        let skip = if wildcard.binary_search(&u).is_err() {
                            vouched
                        } else {
                            0
                        };
                        if self.test(fx, item.clone(), skip)? && !on_match(item) {
                            return Ok(());
                        }
                    }
                    return Ok(());
                }
                // An error key: test every item, so the error shows as a scan would show it.
            }
        }
        match &fx.source {
            Expr::Table(t) => {
                let data = self.data;
                for &u in data.table(*t).order() {
                    self.budget.step()?;
                    let item = Value::Row(*t, u);
                    if self.test(fx, item.clone(), 0)? && !on_match(item) {
                        return Ok(());
                    }
                }
                Ok(())
            }
            source => {
                let list = self.eval(source);
                if let Value::Error(_) = list {
                    return Err(list);
                }
                for item in list.elements() {
                    self.budget.step()?;
                    if self.test(fx, item.clone(), 0)? && !on_match(item.clone()) {
                        return Ok(());
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether the predicate holds for `item`, skipping the first `skip` conjuncts.
    fn test(&mut self, fx: &FilterExpr, item: Value, skip: usize) -> R<bool> {
        let level = usize::from(fx.level);
        self.items.truncate(level);
        self.items.push(item);
        let mut result = Ok(true);
        for c in fx.conjuncts.iter().skip(skip) {
            match self.eval_bool(c) {
                Ok(true) => {}
                Ok(false) => {
                    result = Ok(false);
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.items.truncate(level);
        result
    }

    // ---- conversions that need the workbook ------------------------------------

    /// A value as text, as `ToText` and `&` give it.
    pub(crate) fn to_text<'v>(&self, v: &'v Value) -> R<Cow<'v, str>> {
        self.to_text_depth(v, 0)
    }

    fn to_text_depth<'v>(&self, v: &'v Value, depth: u8) -> R<Cow<'v, str>> {
        Ok(match v {
            Value::Blank => Cow::Borrowed(""),
            Value::Text(t) => Cow::Borrowed(t),
            Value::Number(n) => Cow::Owned(number_to_text(*n)),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Date(d) => Cow::Owned(date_to_text(*d)),
            Value::DateTime(d) => Cow::Owned(datetime_to_text(*d)),
            Value::Row(t, r) => {
                // A host may hand `Workbook::display` a row of another workbook.
                let Ok(table) = self.data.checked_table(*t) else {
                    return Ok(Cow::Owned(format!("{t:?}#{r}")));
                };
                if depth > 4 {
                    return Ok(Cow::Owned(format!("{}#{}", table.name, r)));
                }
                match table.display {
                    Some(c) => Cow::Owned(
                        self.to_text_depth(self.data.cell(c, *r), depth + 1)?
                            .into_owned(),
                    ),
                    None => Cow::Borrowed(""),
                }
            }
            Value::List(items) => {
                let mut out = String::new();
                for (n, i) in items.iter().enumerate() {
                    self.budget.step()?;
                    if n > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&self.to_text_depth(i, depth)?);
                    self.budget.text_so_far(out.len())?;
                }
                Cow::Owned(out)
            }
            Value::Error(_) => return Err(v.clone()),
        })
    }

    pub(crate) fn clock(&self) -> crate::data::Clock {
        self.data.clock
    }
}

/// A running `Sum` / `Average`: numbers added, blanks skipped, lists
/// flattened; the first error or non-number (or an overflow) is the result.
#[derive(Default)]
struct Total {
    sum: Decimal,
    count: usize,
    /// The most decimals of a number fed (the sum shows as many).
    scale: u32,
    problem: Option<Value>,
}

impl Total {
    fn feed(&mut self, v: &Value) {
        if self.problem.is_some() {
            return;
        }
        match v {
            Value::Number(n) => match crate::num::add(self.sum, *n) {
                Some(sum) => {
                    self.sum = sum;
                    self.count += 1;
                    self.scale = self.scale.max(n.scale());
                }
                None => self.problem = Some(overflow()),
            },
            Value::List(items) => {
                for item in items.iter() {
                    self.feed(item);
                }
            }
            Value::Error(_) => self.problem = Some(v.clone()),
            v if v.is_blank() => {}
            other => {
                self.problem = Some(mismatch(format!(
                    "expected numbers, found {}",
                    other.type_name()
                )));
            }
        }
    }

    fn finish(mut self, f: Function) -> Value {
        self.sum = crate::num::with_scale(self.sum, self.scale);
        match (self.problem, f, self.count) {
            (Some(p), _, _) => p,
            (None, Function::Average, 0) => Value::Blank,
            (None, Function::Average, n) => self
                .sum
                .checked_div(Decimal::from(n))
                .map_or_else(overflow, Value::Number),
            (None, _, _) => Value::Number(self.sum),
        }
    }
}

/// A column of one row value.
fn project_one(data: &Data, item: &Value, col: crate::ids::ColumnId) -> Value {
    match item {
        Value::Row(t, r) => {
            let column = data.column(col);
            if column.table != *t {
                return mismatch(format!(
                    "a row of `{}` has no column `{}`",
                    data.table(*t).name,
                    column.name
                ));
            }
            data.cell(col, *r).clone()
        }
        Value::Blank => Value::Blank,
        Value::Error(e) => Value::Error(e.clone()),
        Value::List(l) if l.len() <= 1 => match l.first() {
            Some(v) => project_one(data, v, col),
            None => Value::Blank,
        },
        other => mismatch(format!(
            "`.[{}]` needs a row, not {}",
            data.column(col).name,
            other.type_name()
        )),
    }
}

/// Appends a value to a list, splicing in the elements of a list value; an
/// empty cell of a multi-valued column (a list with no items) adds nothing.
fn push_flat(out: &mut Vec<Value>, v: &Value, multi_valued: bool) {
    match v {
        Value::List(items) => out.extend(items.iter().cloned()),
        Value::Blank if multi_valued => {}
        other => out.push(other.clone()),
    }
}

/// Truth of a condition: Blank is false, a number is true unless 0.
pub(crate) fn truthy(v: &Value) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Blank => Ok(false),
        Value::Number(n) => Ok(!n.is_zero()),
        Value::Error(_) => Err(v.clone()),
        Value::List(l) if l.is_empty() => Ok(false),
        Value::List(l) if l.len() == 1 => truthy(&l[0]),
        Value::Text(t) if t.is_empty() => Ok(false),
        other => Err(mismatch(format!(
            "expected true or false, found {}",
            other.type_name()
        ))),
    }
}

/// A numeric operand: Blank reads as 0; text never turns into a number on its own.
/// Arguments that are all literals other than lists (and errors).
fn literal_set(args: &[Expr]) -> bool {
    args.iter()
        .all(|a| matches!(a, Expr::Lit(v) if !matches!(v, Value::List(_) | Value::Error(_))))
}

#[inline]
pub(crate) fn to_number(v: &Value) -> R<Decimal> {
    match v {
        Value::Number(n) => Ok(*n),
        Value::Blank => Ok(Decimal::ZERO),
        Value::Error(_) => Err(v.clone()),
        Value::List(l) if l.is_empty() => Ok(Decimal::ZERO),
        Value::List(l) if l.len() == 1 => to_number(&l[0]),
        // "" is blank (as `IsBlank` says), so it reads as 0 too.
        Value::Text(t) if t.is_empty() => Ok(Decimal::ZERO),
        other => Err(mismatch(format!(
            "expected a number, found {}",
            other.type_name()
        ))),
    }
}

fn arith(
    a: &Value,
    b: &Value,
    verb: &str,
    op: fn(Decimal, Decimal) -> Option<Decimal>,
) -> R<Value> {
    match (to_number(a), to_number(b)) {
        (Ok(x), Ok(y)) => op(x, y).map(Value::Number).ok_or_else(overflow),
        _ => Err(mismatch(format!(
            "cannot {verb} {} and {}",
            a.type_name(),
            b.type_name()
        ))),
    }
}

/// A single date-ish operand (one-element lists unwrapped).
fn scalar(v: &Value) -> &Value {
    match v {
        Value::List(l) if l.len() == 1 => scalar(&l[0]),
        other => other,
    }
}

fn add(a: &Value, b: &Value) -> R<Value> {
    match (scalar(a), scalar(b)) {
        (Value::Date(d), n) | (n, Value::Date(d))
            if !matches!(n, Value::Date(_) | Value::DateTime(_)) =>
        {
            let n = to_number(n)
                .map_err(|_| mismatch(format!("cannot add {} to a date", n.type_name())))?;
            date_plus(*d, n)
        }
        (Value::DateTime(d), n) | (n, Value::DateTime(d))
            if !matches!(n, Value::Date(_) | Value::DateTime(_)) =>
        {
            let n = to_number(n)
                .map_err(|_| mismatch(format!("cannot add {} to a date", n.type_name())))?;
            datetime_plus(*d, n)
        }
        (x @ (Value::Date(_) | Value::DateTime(_)), y @ (Value::Date(_) | Value::DateTime(_))) => {
            Err(mismatch(format!(
                "cannot add {} and {}",
                x.type_name(),
                y.type_name()
            )))
        }
        _ => arith(a, b, "add", crate::num::add),
    }
}

fn sub(a: &Value, b: &Value) -> R<Value> {
    match (scalar(a), scalar(b)) {
        (Value::Date(x), Value::Date(y)) => Ok(Value::Number(Decimal::from((*x - *y).num_days()))),
        (x @ (Value::Date(_) | Value::DateTime(_)), y @ (Value::Date(_) | Value::DateTime(_))) => {
            // Seconds and nanoseconds apart: the whole range of years 1 to 9999.
            let d = as_datetime(x) - as_datetime(y);
            let nanos = Decimal::from(d.num_seconds()) * Decimal::from(1_000_000_000_i64)
                + Decimal::from(d.subsec_nanos());
            nanos
                .checked_div(Decimal::from(86_400_000_000_000_i64))
                .map(Value::Number)
                .ok_or_else(overflow)
        }
        (Value::Date(d), n) => {
            let n = to_number(n)
                .map_err(|_| mismatch(format!("cannot subtract {} from a date", n.type_name())))?;
            date_plus(*d, -n)
        }
        (Value::DateTime(d), n) => {
            let n = to_number(n)
                .map_err(|_| mismatch(format!("cannot subtract {} from a date", n.type_name())))?;
            datetime_plus(*d, -n)
        }
        (n, d @ (Value::Date(_) | Value::DateTime(_))) => Err(mismatch(format!(
            "cannot subtract {} from {}",
            d.type_name(),
            n.type_name()
        ))),
        _ => arith(a, b, "subtract", crate::num::sub),
    }
}

fn as_datetime(v: &Value) -> NaiveDateTime {
    match v {
        Value::Date(d) => midnight(*d),
        Value::DateTime(d) => *d,
        _ => NaiveDateTime::MIN,
    }
}

/// The date ⌊day number + n⌋.
pub(crate) fn date_plus(d: NaiveDate, n: Decimal) -> R<Value> {
    let days = n.floor().to_i64().ok_or_else(date_overflow)?;
    let result = i64::from(d.num_days_from_ce())
        .checked_add(days)
        .and_then(|x| i32::try_from(x).ok())
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or_else(date_overflow)?;
    check_year(result).map(Value::Date)
}

/// A date-time `n` days later: whole days, then the fraction to the
/// nanosecond (so that the whole range of years 1 to 9999 is reachable).
fn datetime_plus(d: NaiveDateTime, n: Decimal) -> R<Value> {
    let whole = n.floor();
    let days = whole.to_i64().ok_or_else(date_overflow)?;
    let nanos = (n - whole)
        .checked_mul(Decimal::from(86_400_000_000_000_i64))
        .and_then(|x| x.trunc().to_i64())
        .ok_or_else(date_overflow)?;
    let result = Duration::try_days(days)
        .and_then(|days| d.checked_add_signed(days))
        .and_then(|d| d.checked_add_signed(Duration::nanoseconds(nanos)))
        .ok_or_else(date_overflow)?;
    check_year(result.date())?;
    Ok(Value::DateTime(result))
}

pub(crate) fn date_overflow() -> Value {
    err(
        ErrorKind::Overflow,
        "the date lies outside the years 1 to 9999",
    )
}

pub(crate) fn check_year(d: NaiveDate) -> R<NaiveDate> {
    if (1..=9999).contains(&d.year()) {
        Ok(d)
    } else {
        Err(date_overflow())
    }
}
