//! One column's cells, in chunks shared copy-on-write between a workbook and
//! its snapshots. Most columns hold few distinct values (a select, a relation
//! to a thousand accounts, a status a formula gives, thresholds), so a chunk
//! starts unallocated while every cell is Blank, then keeps a 2-byte code per
//! cell into a dictionary of its distinct values, and only falls back to a
//! value per cell when the values are mostly distinct (ids, names).

use crate::value::{Key, Value};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Cells per chunk: a write after a snapshot copies one chunk of this many cells.
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// Past this many distinct values, a chunk's dictionary that holds more than
/// a quarter as many values as cells becomes a plain vector.
const DICT_LIMIT: usize = 64;

/// One column's cells, in chunks of 4,096 shared copy-on-write: a clone of
/// the column (a snapshot of the workbook) costs a reference count per chunk,
/// and a write to a chunk a snapshot still reads copies that chunk alone.
#[derive(Clone, Debug, Default)]
pub(crate) struct Store {
    len: usize,
    chunks: Vec<Arc<Chunk>>,
}

/// Up to [`CHUNK`] cells.
#[derive(Clone, Debug)]
enum Chunk {
    /// Every cell is Blank.
    Blank { len: usize },
    /// A code per cell; `values[code]` is the cell's value.
    Dict {
        codes: Vec<u16>,
        values: Vec<Value>,
        lookup: FxHashMap<(u8, Key), u16>,
    },
    /// A value per cell.
    Plain(Vec<Value>),
}

static BLANK: Value = Value::Blank;

/// The dictionary key of a value: its variant (so a date is not a date-time at
/// midnight) and its hashable form; `None` for values that are not looked up
/// (errors), which get a dictionary entry of their own.
fn dict_key(v: &Value) -> Option<(u8, Key)> {
    let tag = match v {
        Value::Blank => 0,
        Value::Number(_) => 1,
        Value::Text(_) => 2,
        Value::Bool(_) => 3,
        Value::Date(_) => 4,
        Value::DateTime(_) => 5,
        Value::Row(..) => 6,
        Value::List(_) => 7,
        Value::Error(_) => return None,
    };
    Some((tag, Key::from_value(v)?))
}

impl Store {
    pub(crate) fn blank(len: usize) -> Store {
        Store {
            len,
            chunks: Vec::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value of cell `i`; Blank past the end. (Chunks hold their cells up
    /// to the last one written: Blank cells after it, and whole chunks of
    /// them at the end, take no room and no write.)
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &Value {
        match self.chunks.get(i >> CHUNK_BITS) {
            Some(c) => c.get(i & (CHUNK - 1)),
            None => &BLANK,
        }
    }

    /// Stores `value` in cell `i` (which must exist); returns the old value.
    pub(crate) fn set(&mut self, i: usize, value: Value) -> Value {
        if i >= self.len {
            return Value::Blank;
        }
        let at = i >> CHUNK_BITS;
        if self.chunks.len() <= at {
            if value.identical(&Value::Blank) {
                return Value::Blank;
            }
            self.chunks
                .resize_with(at + 1, || Arc::new(Chunk::Blank { len: 0 }));
        }
        let chunk = &mut self.chunks[at];
        if matches!(**chunk, Chunk::Blank { .. }) && value.identical(&Value::Blank) {
            return Value::Blank; // no copy of a chunk a snapshot shares
        }
        Arc::make_mut(chunk).set(i & (CHUNK - 1), value)
    }

    /// Appends a cell. A Blank one costs no write.
    pub(crate) fn push(&mut self, value: Value) {
        self.len += 1;
        if !value.identical(&Value::Blank) {
            self.set(self.len - 1, value);
        }
    }

    /// Removes the last cell.
    pub(crate) fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        let (at, within) = (self.len >> CHUNK_BITS, self.len & (CHUNK - 1));
        self.chunks.truncate(at + usize::from(within > 0));
        if within > 0 {
            if let Some(last) = self.chunks.get_mut(at) {
                if last.len() > within {
                    Arc::make_mut(last).truncate(within);
                }
            }
        }
    }

    /// Bytes held (cells and dictionaries; not the text the values point to).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Arc<Chunk>>()
            + self.chunks.iter().map(|c| c.heap_bytes()).sum::<usize>()
    }

    /// The distinct values held, chunk by chunk (for accounting the text they
    /// point to; a value shared by chunks comes once per chunk).
    pub(crate) fn distinct(&self) -> impl Iterator<Item = &Value> + '_ {
        self.chunks.iter().flat_map(|c| c.distinct())
    }

    /// The chunks as they are held, for a snapshot to write (`snapshot.rs`).
    pub(crate) fn chunk_views(&self) -> impl Iterator<Item = ChunkView<'_>> + '_ {
        use std::borrow::Cow;
        self.chunks.iter().map(|c| match &**c {
            Chunk::Blank { len } => ChunkView::Blank { len: *len },
            Chunk::Dict { codes, values, .. } => ChunkView::Dict {
                codes: Cow::Borrowed(codes),
                values: Cow::Borrowed(values),
            },
            Chunk::Plain(v) => ChunkView::Plain(Cow::Borrowed(v)),
        })
    }

    /// A column of `len` cells from chunks a snapshot read (`snapshot.rs`),
    /// checked so that no read of it can go out of bounds: at most 4,096
    /// cells a chunk, no cell held at or past `len`, every code within its
    /// dictionary, and code 0 Blank (what cells past the last written mean).
    pub(crate) fn from_chunks(
        len: usize,
        chunks: Vec<ChunkView<'_>>,
    ) -> Result<Store, &'static str> {
        if chunks.len() > len.div_ceil(CHUNK) {
            return Err("more chunks than the column has cells for");
        }
        let mut held = Vec::with_capacity(chunks.len());
        for (at, view) in chunks.into_iter().enumerate() {
            let chunk = match view {
                ChunkView::Blank { len } => Chunk::Blank { len },
                ChunkView::Dict { codes, values } => {
                    if values.is_empty() || !values[0].identical(&Value::Blank) {
                        return Err("a chunk's dictionary does not start with Blank");
                    }
                    if values.len() > usize::from(u16::MAX) + 1 {
                        return Err("a chunk's dictionary holds more values than codes can name");
                    }
                    let top = codes.iter().copied().max().unwrap_or(0);
                    if usize::from(top) >= values.len() {
                        return Err("a cell's code lies past its chunk's dictionary");
                    }
                    let values = values.into_owned();
                    let mut lookup = FxHashMap::default();
                    lookup.reserve(values.len());
                    for (code, v) in values.iter().enumerate() {
                        if let Some(key) = dict_key(v) {
                            let code = u16::try_from(code).unwrap_or(u16::MAX);
                            lookup.entry(key).or_insert(code);
                        }
                    }
                    Chunk::Dict {
                        codes: codes.into_owned(),
                        values,
                        lookup,
                    }
                }
                ChunkView::Plain(v) => Chunk::Plain(v.into_owned()),
            };
            if chunk.len() > CHUNK || at * CHUNK + chunk.len() > len {
                return Err("a chunk holds cells past the end of its column");
            }
            held.push(Arc::new(chunk));
        }
        Ok(Store { len, chunks: held })
    }
}

/// One chunk as it is held: what a snapshot writes, and reads back into
/// [`Store::from_chunks`] (owned values there; borrowed when written).
#[derive(Debug)]
pub(crate) enum ChunkView<'a> {
    /// `len` Blank cells.
    Blank { len: usize },
    /// A code per cell into `values`.
    Dict {
        codes: std::borrow::Cow<'a, [u16]>,
        values: std::borrow::Cow<'a, [Value]>,
    },
    /// A value per cell.
    Plain(std::borrow::Cow<'a, [Value]>),
}

impl Chunk {
    #[inline]
    fn get(&self, i: usize) -> &Value {
        match self {
            Chunk::Blank { .. } => &BLANK,
            Chunk::Dict { codes, values, .. } => {
                codes.get(i).map_or(&BLANK, |c| &values[usize::from(*c)])
            }
            Chunk::Plain(v) => v.get(i).unwrap_or(&BLANK),
        }
    }

    /// Cells held (up to the last one written).
    fn len(&self) -> usize {
        match self {
            Chunk::Blank { len } => *len,
            Chunk::Dict { codes, .. } => codes.len(),
            Chunk::Plain(v) => v.len(),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Chunk::Blank { len } => *len = (*len).min(n),
            Chunk::Dict { codes, .. } => codes.truncate(n),
            Chunk::Plain(v) => v.truncate(n),
        }
    }

    /// Stores a value in cell `i`, holding the Blank cells before it if it
    /// lies past the cells held; returns the old value.
    fn set(&mut self, i: usize, value: Value) -> Value {
        if let Chunk::Blank { len } = self {
            if value.identical(&Value::Blank) {
                return Value::Blank;
            }
            *self = Chunk::Dict {
                codes: vec![0; (*len).max(i + 1)],
                values: vec![Value::Blank],
                lookup: FxHashMap::from_iter([((0, Key::Blank), 0)]),
            };
        }
        match self {
            Chunk::Blank { .. } => Value::Blank,
            Chunk::Dict { codes, .. } => {
                if codes.len() <= i {
                    codes.resize(i + 1, 0);
                }
                let old = self.get(i).clone();
                match self.intern(value) {
                    Ok(code) => {
                        if let Chunk::Dict { codes, .. } = self {
                            codes[i] = code;
                        }
                        self.maybe_unfold();
                    }
                    // The dictionary is full and the chunk is plain now.
                    Err(value) => {
                        if let Chunk::Plain(v) = self {
                            v[i] = value;
                        }
                    }
                }
                old
            }
            Chunk::Plain(v) => {
                if v.len() <= i {
                    v.resize(i + 1, Value::Blank);
                }
                std::mem::replace(&mut v[i], value)
            }
        }
    }

    /// The value's code; when the dictionary can take no more codes, the chunk
    /// turns plain and the value comes back for the caller to store.
    fn intern(&mut self, value: Value) -> Result<u16, Value> {
        let Chunk::Dict { values, .. } = self else {
            return Err(value);
        };
        if values.len() > usize::from(u16::MAX) {
            self.unfold();
            return Err(value);
        }
        let Chunk::Dict { values, lookup, .. } = self else {
            return Err(value);
        };
        let next = u16::try_from(values.len()).unwrap_or(u16::MAX);
        Ok(match dict_key(&value) {
            Some(key) => *lookup.entry(key).or_insert_with(|| {
                values.push(value);
                next
            }),
            None => {
                values.push(value);
                next
            }
        })
    }

    /// Mostly distinct values are cheaper one per cell.
    fn maybe_unfold(&mut self) {
        if let Chunk::Dict { codes, values, .. } = self {
            if values.len() > DICT_LIMIT && values.len() * 4 > codes.len() {
                self.unfold();
            }
        }
    }

    fn unfold(&mut self) {
        if let Chunk::Dict { codes, values, .. } = self {
            let plain = codes
                .iter()
                .map(|c| values[usize::from(*c)].clone())
                .collect();
            *self = Chunk::Plain(plain);
        }
    }

    fn heap_bytes(&self) -> usize {
        let value = std::mem::size_of::<Value>();
        match self {
            Chunk::Blank { .. } => 0,
            Chunk::Dict {
                codes,
                values,
                lookup,
            } => {
                codes.capacity() * 2
                    + values.capacity() * value
                    + lookup.capacity() * (std::mem::size_of::<(u8, Key)>() + 3)
            }
            Chunk::Plain(v) => v.capacity() * value,
        }
    }

    fn distinct(&self) -> std::slice::Iter<'_, Value> {
        match self {
            Chunk::Blank { .. } => [].iter(),
            Chunk::Dict { values, .. } => values.iter(),
            Chunk::Plain(v) => v.iter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &Store, i: usize) -> &'static str {
        match s.chunks.get(i >> CHUNK_BITS).map(|c| &**c) {
            None => "none",
            Some(Chunk::Blank { .. }) => "blank",
            Some(Chunk::Dict { .. }) => "dict",
            Some(Chunk::Plain(_)) => "plain",
        }
    }

    #[test]
    fn starts_blank_then_codes_then_plain() {
        let mut s = Store::blank(3);
        assert_eq!(kind(&s, 0), "none", "blank cells take no room");
        assert_eq!(s.get(1), &Value::Blank);
        assert_eq!(s.set(1, Value::from("a")), Value::Blank);
        assert_eq!(kind(&s, 0), "dict");
        s.push(Value::from("a"));
        assert_eq!(s.get(3), &Value::from("a"));
        assert_eq!(s.set(3, Value::from(5)), Value::from("a"));
        assert_eq!(s.len(), 4);
        for i in 0..10_000 {
            s.push(Value::from(i64::from(i)));
        }
        assert_eq!(kind(&s, 0), "plain");
        assert_eq!(kind(&s, 10_000), "plain");
        assert_eq!(s.get(3), &Value::from(5));
        assert_eq!(s.get(4 + 9_999), &Value::from(9_999));
        s.pop();
        assert_eq!(s.len(), 4 + 9_999);
        assert_eq!(s.get(4 + 9_999), &Value::Blank, "past the end");
        for _ in 0..(4 + 9_999) {
            s.pop();
        }
        assert_eq!(s.len(), 0);
        assert!(s.chunks.is_empty());
        // Blank cells pushed after the last value written take no room.
        s.push(Value::from(1));
        for _ in 0..(2 * CHUNK) {
            s.push(Value::Blank);
        }
        assert_eq!(s.chunks.len(), 1);
        assert_eq!(s.get(2 * CHUNK), &Value::Blank);
        assert_eq!(s.set(2 * CHUNK, Value::from(2)), Value::Blank);
        assert_eq!(s.chunks.len(), 3);
        assert_eq!(s.get(2 * CHUNK), &Value::from(2));
        s.pop();
        assert_eq!(s.get(2 * CHUNK), &Value::Blank, "popped");
        assert_eq!(
            s.set(2 * CHUNK, Value::from(3)),
            Value::Blank,
            "past the end: nothing"
        );
    }

    #[test]
    fn keeps_dates_and_datetimes_apart() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut s = Store::blank(0);
        s.push(Value::Date(d));
        s.push(Value::DateTime(crate::value::midnight(d)));
        assert!(matches!(s.get(0), Value::Date(_)));
        assert!(matches!(s.get(1), Value::DateTime(_)));
    }

    #[test]
    fn a_clone_keeps_its_cells_and_shares_what_is_not_written() {
        let mut s = Store::blank(0);
        for i in 0..(3 * CHUNK) {
            s.push(Value::from(i64::try_from(i % 7).unwrap()));
        }
        let snapshot = s.clone();
        s.set(5, Value::from("new"));
        s.push(Value::from(99));
        assert_eq!(snapshot.get(5), &Value::from(5));
        assert_eq!(snapshot.get(3 * CHUNK), &Value::Blank);
        assert_eq!(s.get(5), &Value::from("new"));
        assert!(
            !Arc::ptr_eq(&s.chunks[0], &snapshot.chunks[0]),
            "the written chunk was copied"
        );
        assert!(
            Arc::ptr_eq(&s.chunks[1], &snapshot.chunks[1]),
            "the others are shared"
        );
    }
}
