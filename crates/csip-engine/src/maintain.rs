//! Views kept in order as their cells change (DESIGN §3 "Views").
//!
//! A view without parameters in its filter, grouping and sort keys is
//! *maintainable*: each of those is a column of the view's table — the
//! column itself when the view names one, else one of the engine's hidden
//! formula columns, which recalculation keeps current like any other
//! formula (so a key that reads another table follows it along the
//! dependency paths). A [`Maintained`] view holds the rows that pass the
//! filter, by group, each group in the view's order, and [`Data`] keeps it
//! in step with every cell write, row insert and row delete: a row leaves
//! its place before one of its key cells changes and takes its new place
//! after. A commit that changes seven cells moves at most seven rows, each
//! in `O(log n)`; one that changes no key cell of a view does not touch it.
//!
//! The rows of a group sit in chunks shared copy-on-write, so that a
//! snapshot of the workbook shares them: a moved row copies its chunk alone.

use crate::data::Data;
use crate::eval::{display, truthy};
use crate::expr::Expr;
use crate::ids::{ColumnId, RowId, TableId};
use crate::value::{Key, Value, sort_order};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

/// What a maintainable view's rows are kept by: columns of its table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ViewKeys {
    /// The rows whose cell here is true pass the filter; all rows without one.
    pub(crate) filter: Option<ColumnId>,
    /// The rows are grouped by their cell here.
    pub(crate) group: Option<ColumnId>,
    /// The sort keys, each descending or not; rows with equal keys keep
    /// their table order.
    pub(crate) sort: Vec<(ColumnId, bool)>,
    /// The declared groups, in order (shown even when empty).
    pub(crate) group_order: Vec<Value>,
}

impl ViewKeys {
    /// Whether a change of the column may move a row of the view.
    pub(crate) fn watches(&self, c: ColumnId) -> bool {
        self.filter == Some(c) || self.group == Some(c) || self.sort.iter().any(|(s, _)| *s == c)
    }
}

/// What a view sorts by: rows by what they show (their display column), so
/// people sort by name; everything else as itself.
pub(crate) fn sort_key<'v>(data: &Data, v: Cow<'v, Value>) -> Cow<'v, Value> {
    match &*v {
        Value::Row(..) => Cow::Owned(Value::from(display(data, &v))),
        Value::List(items) if items.iter().any(|i| matches!(i, Value::Row(..))) => {
            Cow::Owned(Value::from(display(data, &v)))
        }
        _ => v,
    }
}

/// Sorts rows (given in id order) as a view sorts them: by each key's
/// value as [`sort_key`] gives it, descending where asked, then by id. Each
/// key's distinct values are put in order once and every row is given its
/// value's rank (values the order holds equal share one), so that sorting
/// a million rows compares integers, not texts.
pub(crate) fn sort_rows(data: &Data, rows: &mut [RowId], keys: &[(ColumnId, bool)]) {
    if keys.is_empty() {
        return;
    }
    let ranks: Vec<Vec<u32>> = keys
        .iter()
        .map(|&(column, descending)| {
            let mut distinct: Vec<Cow<'_, Value>> = Vec::new();
            let mut seen: FxHashMap<Key, u32> = FxHashMap::default();
            let mut of_row: Vec<u32> = Vec::with_capacity(rows.len());
            for &row in rows.iter() {
                let v = sort_key(data, Cow::Borrowed(data.cell(column, row)));
                let next = u32::try_from(distinct.len()).unwrap_or(u32::MAX);
                let id = match Key::from_value(&v) {
                    Some(k) => *seen.entry(k).or_insert_with(|| {
                        distinct.push(v);
                        next
                    }),
                    None => {
                        distinct.push(v);
                        next
                    }
                };
                of_row.push(id);
            }
            let mut order: Vec<usize> = (0..distinct.len()).collect();
            order.sort_by(|a, b| sort_order(&distinct[*a], &distinct[*b]));
            let mut rank = vec![0u32; distinct.len()];
            let mut r = 0u32;
            for (i, &d) in order.iter().enumerate() {
                if i > 0 && sort_order(&distinct[order[i - 1]], &distinct[d]) != Ordering::Equal {
                    r += 1;
                }
                rank[d] = if descending { u32::MAX - r } else { r };
            }
            of_row.into_iter().map(|id| rank[id as usize]).collect()
        })
        .collect();
    let mut at: Vec<usize> = (0..rows.len()).collect();
    // Ties keep their place: the rows come in id order.
    at.sort_by(|a, b| {
        ranks
            .iter()
            .map(|r| r[*a].cmp(&r[*b]))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    let sorted: Vec<RowId> = at.iter().map(|&i| rows[i]).collect();
    rows.copy_from_slice(&sorted);
}

/// Which group of a grouped view a row with this group value joins: the
/// first declared group equal to it under `=`; else the group of values
/// with its key (exactly); a value with no key (an error) joins the group
/// of such values. Declared groups come first; the others are numbered as
/// they are made.
#[derive(Clone, Debug, Default)]
pub(crate) struct Grouper {
    /// Declared groups' keys, and then the others' (first wins).
    by_key: FxHashMap<Key, usize>,
    declared: usize,
    next: usize,
    errors: Option<usize>,
}

impl Grouper {
    pub(crate) fn new(declared: &[Value]) -> Grouper {
        let mut by_key = FxHashMap::default();
        for (i, v) in declared.iter().enumerate() {
            if let Some(k) = Key::from_value(v) {
                by_key.entry(k).or_insert(i);
            }
        }
        Grouper {
            by_key,
            declared: declared.len(),
            next: declared.len(),
            errors: None,
        }
    }

    /// The group of `value`, if there is one yet.
    pub(crate) fn find(&self, value: &Value) -> Option<usize> {
        let Some(k) = Key::from_value(value) else {
            return self.errors;
        };
        let declared = std::iter::once(&k)
            .chain(k.blank_partners())
            .filter_map(|k| self.by_key.get(k).copied())
            .filter(|i| *i < self.declared)
            .min();
        declared.or_else(|| self.by_key.get(&k).copied())
    }

    /// The group of `value`, made if needed; and whether it is new.
    pub(crate) fn get(&mut self, value: &Value) -> (usize, bool) {
        if let Some(i) = self.find(value) {
            return (i, false);
        }
        let i = self.next;
        self.next += 1;
        match Key::from_value(value) {
            Some(k) => {
                self.by_key.insert(k, i);
            }
            None => self.errors = Some(i),
        }
        (i, true)
    }
}

/// Rows in order, in chunks shared copy-on-write.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rows {
    chunks: Vec<Arc<Vec<RowId>>>,
    len: usize,
}

/// Rows per chunk when a chunk is made; a chunk splits at twice this.
const CHUNK: usize = 512;

impl Rows {
    fn from_sorted(rows: Vec<RowId>) -> Rows {
        Rows {
            len: rows.len(),
            chunks: rows.chunks(CHUNK).map(|c| Arc::new(c.to_vec())).collect(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The rows from the `skip`th on.
    pub(crate) fn iter_from(&self, skip: usize) -> impl Iterator<Item = RowId> + '_ {
        let mut left = skip;
        let first = self
            .chunks
            .iter()
            .position(|c| {
                if left < c.len() {
                    true
                } else {
                    left -= c.len();
                    false
                }
            })
            .unwrap_or(self.chunks.len());
        self.chunks[first..]
            .iter()
            .enumerate()
            .flat_map(move |(i, c)| c[if i == 0 { left } else { 0 }..].iter().copied())
    }

    /// Where a row goes: the chunk and the place in it of the first row not
    /// before it (`before(x)`: whether `x` comes before it).
    fn locate(&self, before: impl Fn(RowId) -> bool) -> (usize, usize) {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|&x| before(x)));
        match self.chunks.get(chunk) {
            Some(c) => (chunk, c.partition_point(|&x| before(x))),
            None => match self.chunks.last() {
                Some(c) => (self.chunks.len() - 1, c.len()),
                None => (0, 0),
            },
        }
    }

    fn insert(&mut self, row: RowId, before: impl Fn(RowId) -> bool) {
        if self.chunks.is_empty() {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        let (c, at) = self.locate(before);
        let chunk = Arc::make_mut(&mut self.chunks[c]);
        chunk.insert(at, row);
        if chunk.len() >= 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.chunks.insert(c + 1, Arc::new(tail));
        }
        self.len += 1;
    }

    /// Removes `row`, found where `before` places it; false if it is not there.
    fn remove(&mut self, row: RowId, before: impl Fn(RowId) -> bool) -> bool {
        let (c, at) = self.locate(before);
        if self.chunks.get(c).and_then(|ch| ch.get(at)) != Some(&row) {
            return false;
        }
        let chunk = Arc::make_mut(&mut self.chunks[c]);
        chunk.remove(at);
        if chunk.is_empty() {
            self.chunks.remove(c);
        }
        self.len -= 1;
        true
    }

    fn first(&self) -> Option<RowId> {
        self.chunks.first().and_then(|c| c.first().copied())
    }

    /// The bytes its chunks hold (each counted in full, though snapshots
    /// may share it).
    fn heap_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.capacity() * std::mem::size_of::<RowId>() + 40)
            .sum::<usize>()
            + self.chunks.capacity() * std::mem::size_of::<usize>()
    }
}

/// A view kept in order: the rows passing its filter, by group, each group
/// sorted by the view's keys and then by row id (table order).
#[derive(Clone, Debug)]
pub(crate) struct Maintained {
    /// The view's place among the workbook's views.
    pub(crate) view: usize,
    pub(crate) table: TableId,
    pub(crate) keys: Arc<ViewKeys>,
    grouper: Grouper,
    /// By group number (the declared ones first); one when not grouped.
    groups: Vec<Rows>,
    /// Set when cells changed without the view following (a bulk write):
    /// rebuilt before it is read again.
    pub(crate) stale: bool,
}

/// One group of a maintained view, in the view's order: its key (`None`
/// when the view is not grouped) and rows.
pub(crate) struct MaintainedGroup<'a> {
    pub(crate) key: Option<Value>,
    pub(crate) rows: &'a Rows,
}

impl Maintained {
    /// The view's rows put in order from the cells.
    pub(crate) fn build(
        view: usize,
        table: TableId,
        keys: Arc<ViewKeys>,
        data: &Data,
    ) -> Maintained {
        let mut m = Maintained {
            view,
            table,
            grouper: Grouper::new(&keys.group_order),
            groups: Vec::new(),
            keys,
            stale: false,
        };
        m.rebuild(data);
        m
    }

    /// Puts every row in order again from the cells.
    pub(crate) fn rebuild(&mut self, data: &Data) {
        self.grouper = Grouper::new(&self.keys.group_order);
        let declared = if self.keys.group.is_some() {
            self.keys.group_order.len()
        } else {
            1
        };
        let mut groups: Vec<Vec<RowId>> = vec![Vec::new(); declared];
        for &row in data.table(self.table).order() {
            if let Some(g) = self.group_of(data, row) {
                if g >= groups.len() {
                    groups.resize_with(g + 1, Vec::new);
                }
                groups[g].push(row);
            }
        }
        self.groups = groups
            .into_iter()
            .map(|mut rows| {
                sort_rows(data, &mut rows, &self.keys.sort);
                Rows::from_sorted(rows)
            })
            .collect();
        self.stale = false;
    }

    /// The group a row belongs in as its cells are now (made if new);
    /// `None` when the filter leaves it out.
    fn group_of(&mut self, data: &Data, row: RowId) -> Option<usize> {
        if !self.passes(data, row) {
            return None;
        }
        Some(match self.keys.group {
            Some(g) => self.grouper.get(data.cell(g, row)).0,
            None => 0,
        })
    }

    fn passes(&self, data: &Data, row: RowId) -> bool {
        self.keys
            .filter
            .is_none_or(|f| truthy(data.cell(f, row)).unwrap_or(false))
    }

    /// The view's order of two rows.
    fn compare(&self, data: &Data, a: RowId, b: RowId) -> Ordering {
        for (c, descending) in &self.keys.sort {
            let ka = sort_key(data, Cow::Borrowed(data.cell(*c, a)));
            let kb = sort_key(data, Cow::Borrowed(data.cell(*c, b)));
            let o = sort_order(&ka, &kb);
            let o = if *descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.cmp(&b)
    }

    /// Puts a live row in its place, as its cells are now.
    pub(crate) fn insert(&mut self, data: &Data, row: RowId) {
        let Some(g) = self.group_of(data, row) else {
            return;
        };
        if g >= self.groups.len() {
            self.groups.resize_with(g + 1, Rows::default);
        }
        let mut rows = std::mem::take(&mut self.groups[g]);
        rows.insert(row, |x| self.compare(data, x, row) == Ordering::Less);
        self.groups[g] = rows;
    }

    /// Takes a row out of its place, as its cells are now (before they
    /// change).
    pub(crate) fn remove(&mut self, data: &Data, row: RowId) {
        if !self.passes(data, row) {
            return;
        }
        let g = match self.keys.group {
            Some(g) => self.grouper.find(data.cell(g, row)),
            None => Some(0),
        };
        let Some(g) = g.filter(|g| *g < self.groups.len()) else {
            return;
        };
        let mut rows = std::mem::take(&mut self.groups[g]);
        rows.remove(row, |x| self.compare(data, x, row) == Ordering::Less);
        self.groups[g] = rows;
    }

    /// The bytes it holds: its rows' ids in their groups, and its groups'
    /// keys.
    pub(crate) fn heap_bytes(&self) -> usize {
        let group = std::mem::size_of::<Rows>();
        let key = std::mem::size_of::<Key>() + 2 * std::mem::size_of::<usize>();
        self.groups
            .iter()
            .map(|g| g.heap_bytes() + group)
            .sum::<usize>()
            + self.grouper.by_key.capacity() * key
    }

    /// The groups in the view's order: the declared ones (even when empty),
    /// then the others that have rows, by their key as the view sorts it
    /// (ties by their first rows' order); each other group's key is its
    /// first row's value.
    pub(crate) fn groups(&self, data: &Data) -> Vec<MaintainedGroup<'_>> {
        let Some(column) = self.keys.group else {
            return self
                .groups
                .iter()
                .map(|rows| MaintainedGroup { key: None, rows })
                .collect();
        };
        let declared = self.keys.group_order.len();
        let mut out: Vec<MaintainedGroup<'_>> = self
            .keys
            .group_order
            .iter()
            .enumerate()
            .map(|(i, k)| MaintainedGroup {
                key: Some(k.clone()),
                rows: self.groups.get(i).unwrap_or(&NO_ROWS),
            })
            .collect();
        let mut others: Vec<(Value, RowId, &Rows)> = self
            .groups
            .iter()
            .skip(declared)
            .filter_map(|rows| {
                let first = rows.first()?;
                let key = data.cell(column, first).clone();
                Some((sort_key(data, Cow::Owned(key)).into_owned(), first, rows))
            })
            .collect();
        others.sort_by(|a, b| sort_order(&a.0, &b.0).then_with(|| self.compare(data, a.1, b.1)));
        out.extend(others.into_iter().map(|(_, first, rows)| MaintainedGroup {
            key: Some(data.cell(column, first).clone()),
            rows,
        }));
        out
    }
}

/// The rows of a declared group no row has joined yet.
static NO_ROWS: Rows = Rows {
    chunks: Vec::new(),
    len: 0,
};

/// What a tile's aggregate is kept as: one column of one table, a value
/// per row (the column itself, or a hidden formula column), tallied.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TallySpec {
    pub(crate) table: TableId,
    pub(crate) column: ColumnId,
    pub(crate) kind: TallyKind,
    /// The aggregate as written, evaluated when the tally cannot give it
    /// (a value it cannot add: an error, text, a list; a sum near the
    /// limits of a decimal).
    pub(crate) fallback: Expr,
}

/// How a tally adds its rows' values up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TallyKind {
    /// `CountIf(T, p)`: the rows whose value (the predicate) is true.
    CountIf,
    /// `Count(T.[c])`: the values that are not blank.
    Count,
    /// `Sum`, over the numbers (blanks skipped).
    Sum,
    /// `Average`, over the numbers (blanks skipped).
    Average,
    /// `Min`, over numbers or dates.
    Min,
    /// `Max`, over numbers or dates.
    Max,
}

/// A tile whose aggregates are tallies: `template` is the tile's formula
/// with each aggregate replaced by the parameter after the view's own
/// (`Param(params + i)` reads tally `i`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TilePlan {
    pub(crate) template: Expr,
    pub(crate) tallies: Vec<TallySpec>,
}

/// A tile's aggregate kept from deltas: each write of a row's value takes
/// the old value out and adds the new one.
#[derive(Clone, Debug)]
pub(crate) struct Tally {
    /// The view, its tile, and the aggregate's place in the tile's plan.
    pub(crate) view: usize,
    pub(crate) tile: usize,
    pub(crate) slot: usize,
    pub(crate) table: TableId,
    pub(crate) column: ColumnId,
    kind: TallyKind,
    /// Values counted: true (`CountIf`), not blank (`Count`), numbers
    /// (`Sum`, `Average`), numbers and dates (`Min`, `Max`).
    count: u64,
    /// Dates among them (`Min`, `Max`: mixed with numbers, an error).
    dates: u64,
    /// Values the aggregate cannot take (an error or a type mismatch):
    /// while there are any, it is evaluated instead.
    bad: u64,
    sum: Decimal,
    /// The sum of the magnitudes: while it stays well inside a decimal,
    /// no order of adding can overflow or round, so the sum is exact.
    magnitude: Option<Decimal>,
    /// How many numbers have each scale (a sum has the largest).
    scales: [u32; 29],
    /// `Min` and `Max`: the rows with a value, the extreme first (ties in
    /// table order).
    order: Option<Rows>,
    pub(crate) stale: bool,
}

impl Tally {
    pub(crate) fn build(
        (view, tile, slot): (usize, usize, usize),
        spec: &TallySpec,
        data: &Data,
    ) -> Tally {
        let mut t = Tally {
            view,
            tile,
            slot,
            table: spec.table,
            column: spec.column,
            kind: spec.kind,
            count: 0,
            dates: 0,
            bad: 0,
            sum: Decimal::ZERO,
            magnitude: Some(Decimal::ZERO),
            scales: [0; 29],
            order: None,
            stale: false,
        };
        t.rebuild(data);
        t
    }

    pub(crate) fn rebuild(&mut self, data: &Data) {
        self.count = 0;
        self.dates = 0;
        self.bad = 0;
        self.sum = Decimal::ZERO;
        self.magnitude = Some(Decimal::ZERO);
        self.scales = [0; 29];
        let mut ordered = Vec::new();
        for &row in data.table(self.table).order() {
            let v = data.cell(self.column, row);
            self.count_value(v, true);
            if matches!(self.kind, TallyKind::Min | TallyKind::Max) && !v.is_blank() {
                ordered.push(row);
            }
        }
        if matches!(self.kind, TallyKind::Min | TallyKind::Max) {
            sort_rows(
                data,
                &mut ordered,
                &[(self.column, self.kind == TallyKind::Max)],
            );
            self.order = Some(Rows::from_sorted(ordered));
        }
        self.stale = false;
    }

    /// The extreme first; equal values in table order.
    fn compare(&self, data: &Data, a: RowId, b: RowId) -> Ordering {
        let o = sort_order(
            &sort_key(data, Cow::Borrowed(data.cell(self.column, a))),
            &sort_key(data, Cow::Borrowed(data.cell(self.column, b))),
        );
        let o = if self.kind == TallyKind::Max {
            o.reverse()
        } else {
            o
        };
        o.then(a.cmp(&b))
    }

    /// Counts a value in (or out).
    fn count_value(&mut self, v: &Value, add: bool) {
        let step = |n: &mut u64| {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        };
        match self.kind {
            TallyKind::CountIf => match truthy(v) {
                Ok(true) => step(&mut self.count),
                Ok(false) => {}
                Err(_) => step(&mut self.bad),
            },
            TallyKind::Count => match v {
                Value::List(_) => step(&mut self.bad),
                v if v.is_blank() => {}
                _ => step(&mut self.count),
            },
            TallyKind::Sum | TallyKind::Average => match v {
                Value::Number(n) => {
                    step(&mut self.count);
                    let scale = n.scale().min(28) as usize;
                    let at = &mut self.scales[scale];
                    *at = if add { *at + 1 } else { at.saturating_sub(1) };
                    let (sum, magnitude) = if add {
                        (
                            self.sum.checked_add(*n),
                            self.magnitude.and_then(|m| m.checked_add(n.abs())),
                        )
                    } else {
                        (
                            self.sum.checked_sub(*n),
                            self.magnitude.and_then(|m| m.checked_sub(n.abs())),
                        )
                    };
                    self.magnitude = sum.and(magnitude);
                    self.sum = sum.unwrap_or(Decimal::ZERO);
                }
                v if v.is_blank() => {}
                _ => step(&mut self.bad),
            },
            TallyKind::Min | TallyKind::Max => match v {
                Value::Number(_) => step(&mut self.count),
                Value::Date(_) | Value::DateTime(_) => {
                    step(&mut self.count);
                    step(&mut self.dates);
                }
                v if v.is_blank() => {}
                _ => step(&mut self.bad),
            },
        }
    }

    /// Takes a row's value out (before it changes) or adds it (after).
    pub(crate) fn follow(&mut self, data: &Data, row: RowId, add: bool) {
        let v = data.cell(self.column, row);
        self.count_value(v, add);
        if v.is_blank() {
            return;
        }
        if let Some(mut order) = self.order.take() {
            let before = |x: RowId| self.compare(data, x, row) == Ordering::Less;
            if add {
                order.insert(row, before);
            } else {
                order.remove(row, before);
            }
            self.order = Some(order);
        }
    }

    /// The bytes it holds (`Min` and `Max`: its rows in order).
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Tally>() + self.order.as_ref().map_or(0, Rows::heap_bytes)
    }

    /// The aggregate's value; `None` when it must be evaluated instead.
    pub(crate) fn value(&self, data: &Data) -> Option<Value> {
        if self.bad > 0 {
            return None;
        }
        let count = || Value::Number(Decimal::from(self.count));
        match self.kind {
            TallyKind::CountIf | TallyKind::Count => Some(count()),
            TallyKind::Sum | TallyKind::Average => {
                let magnitude = self.magnitude?;
                let scale = self.scales.iter().rposition(|n| *n > 0).unwrap_or(0);
                // Well inside 28 digits at the largest scale: no sum of these
                // numbers in any order rounds or overflows.
                let limit =
                    Decimal::from_i128_with_scale(10i128.pow(26), u32::try_from(scale).ok()?);
                if magnitude >= limit {
                    return None;
                }
                let sum = crate::num::with_scale(self.sum, u32::try_from(scale).ok()?);
                if self.kind == TallyKind::Sum {
                    return Some(Value::Number(sum));
                }
                if self.count == 0 {
                    return Some(Value::Blank);
                }
                sum.checked_div(Decimal::from(self.count))
                    .map(Value::Number)
            }
            TallyKind::Min | TallyKind::Max => {
                if self.dates > 0 && self.dates < self.count {
                    return None; // numbers and dates: the evaluation's error
                }
                let first = self.order.as_ref()?.first();
                Some(first.map_or(Value::Blank, |r| data.cell(self.column, r).clone()))
            }
        }
    }
}
