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
use crate::ids::{ColumnId, RowId, TableId};
use crate::value::{Key, Value, sort_order};
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
                // Rows are in id order already: a stable sort keeps ties so.
                rows.sort_by(|a, b| self.compare(data, *a, *b));
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
