//! Hash indexes over a column's values.
//!
//! One structure serves three purposes: the item-key index of a predicate
//! (`Whole` mode: key of the whole value, agreeing with `=`), the outer-key index
//! that maps a key back to the rows whose formulas asked for it, and the reverse
//! index of a relation column (`Elements` mode: one entry per row referred to).

use crate::ids::RowId;
use crate::value::{Key, Value};
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// A sorted list of rows: a bucket, or the wildcard rows.
trait RowList: std::ops::Deref<Target = [RowId]> {
    fn push(&mut self, row: RowId);
    fn insert(&mut self, at: usize, row: RowId);
    fn remove(&mut self, at: usize) -> RowId;
}

impl RowList for Vec<RowId> {
    fn push(&mut self, row: RowId) {
        Vec::push(self, row);
    }
    fn insert(&mut self, at: usize, row: RowId) {
        Vec::insert(self, at, row);
    }
    fn remove(&mut self, at: usize) -> RowId {
        Vec::remove(self, at)
    }
}

impl RowList for smallvec::SmallVec<[RowId; 2]> {
    fn push(&mut self, row: RowId) {
        smallvec::SmallVec::push(self, row);
    }
    fn insert(&mut self, at: usize, row: RowId) {
        smallvec::SmallVec::insert(self, at, row);
    }
    fn remove(&mut self, at: usize) -> RowId {
        smallvec::SmallVec::remove(self, at)
    }
}

/// An index of a workbook: an index into its index list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IndexId(pub(crate) u32);

/// How a cell's value is keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum IndexMode {
    /// The whole value, as `=` compares it; error values are wildcards.
    Whole,
    /// Each element of a list (or the single value); Blank and error elements are left out.
    Elements,
    /// As `Whole`, with Blank cells left out: the index of a guarded key
    /// column, where Blank marks the items the guards reject and is never
    /// looked up (a Blank-like outer key scans instead).
    Guarded,
}

/// The rows of one key, sorted by row id; one or two inline.
type Bucket = smallvec::SmallVec<[RowId; 2]>;
type Shard = HashMap<Key, Bucket>;

/// Keys per shard, on average, before the index splits its shards.
const SHARD_KEYS: usize = 512;
/// The most shards an index has.
const MAX_SHARDS: usize = 1 << 12;

/// Rows by key, each bucket sorted by row id (that is, by position).
///
/// The buckets sit in shards by key hash, each shared copy-on-write: a clone
/// of the index (a snapshot of the workbook) costs a reference count per
/// shard, and a write to a shard a snapshot still reads copies that shard
/// alone (a few hundred keys).
#[derive(Clone, Debug)]
pub(crate) struct ColumnIndex {
    pub(crate) mode: IndexMode,
    /// A power of two of them.
    shards: Vec<Arc<Shard>>,
    keys: usize,
    /// Rows whose value is an error (whole mode): they may equal anything.
    wildcard: Arc<Vec<RowId>>,
}

fn hash(key: &Key) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

impl ColumnIndex {
    pub(crate) fn new(mode: IndexMode) -> ColumnIndex {
        ColumnIndex {
            mode,
            shards: vec![Arc::default()],
            keys: 0,
            wildcard: Arc::default(),
        }
    }

    /// The shard of a key: bits the maps inside do not use for their own
    /// buckets (hashbrown takes the low bits and the top seven).
    fn shard(&self, key: &Key) -> usize {
        shard_of(key, self.shards.len())
    }

    pub(crate) fn insert(&mut self, row: RowId, value: &Value) {
        each_key(self.mode, value, |key| match key {
            Some(k) => self.insert_key(k, row),
            None => insert_sorted(Arc::make_mut(&mut self.wildcard), row),
        });
    }

    /// The index afresh from a column's rows (in row order): built whole
    /// and then shared, instead of one copy-on-write insert at a time.
    pub(crate) fn rebuild<'v>(&mut self, rows: impl Iterator<Item = (RowId, &'v Value)>) {
        let mut all: Shard = HashMap::default();
        let mut wildcard = Vec::new();
        for (row, value) in rows {
            each_key(self.mode, value, |key| match key {
                Some(k) => insert_sorted(all.entry(k).or_default(), row),
                None => insert_sorted(&mut wildcard, row),
            });
        }
        let n = (all.len() / SHARD_KEYS)
            .next_power_of_two()
            .clamp(1, MAX_SHARDS);
        let mut shards: Vec<Shard> = (0..n).map(|_| Shard::default()).collect();
        self.keys = all.len();
        for (key, bucket) in all {
            shards[shard_of(&key, n)].insert(key, bucket);
        }
        self.shards = shards.into_iter().map(Arc::new).collect();
        self.wildcard = Arc::new(wildcard);
    }

    /// The number of keys (a snapshot writes it, for [`IndexBuilder`] to
    /// shard for).
    pub(crate) fn key_count(&self) -> usize {
        self.keys
    }

    /// Every key with its rows, in no particular order.
    #[cfg(test)]
    pub(crate) fn buckets(&self) -> impl Iterator<Item = (&Key, &[RowId])> + '_ {
        self.shards
            .iter()
            .flat_map(|s| s.iter().map(|(k, b)| (k, b.as_slice())))
    }

    fn insert_key(&mut self, key: Key, row: RowId) {
        let at = self.shard(&key);
        let shard = Arc::make_mut(&mut self.shards[at]);
        let bucket = shard.entry(key).or_insert_with(|| {
            self.keys += 1;
            Bucket::new()
        });
        insert_sorted(bucket, row);
        if self.keys > self.shards.len() * SHARD_KEYS * 2 && self.shards.len() < MAX_SHARDS {
            self.split();
        }
    }

    /// Four times the shards, every bucket moved (amortized: the index has
    /// doubled its keys since the last split).
    fn split(&mut self) {
        let n = (self.shards.len() * 4).min(MAX_SHARDS);
        let old = std::mem::replace(&mut self.shards, vec![Arc::default(); n]);
        for shard in old {
            let shard = Arc::try_unwrap(shard).unwrap_or_else(|s| (*s).clone());
            for (key, bucket) in shard {
                let at = self.shard(&key);
                Arc::make_mut(&mut self.shards[at]).insert(key, bucket);
            }
        }
    }

    pub(crate) fn remove(&mut self, row: RowId, value: &Value) {
        match self.mode {
            IndexMode::Guarded if matches!(value, Value::Blank) => {}
            IndexMode::Whole | IndexMode::Guarded => match Key::from_value(value) {
                Some(k) => self.remove_from(&k, row),
                None => {
                    if self.wildcard.binary_search(&row).is_ok() {
                        remove_sorted(Arc::make_mut(&mut self.wildcard), row);
                    }
                }
            },
            IndexMode::Elements => {
                for k in element_keys(value) {
                    self.remove_from(&k, row);
                }
            }
        }
    }

    fn remove_from(&mut self, key: &Key, row: RowId) {
        let at = self.shard(key);
        if self.shards[at]
            .get(key)
            .is_none_or(|b| b.binary_search(&row).is_err())
        {
            return; // nothing to copy for
        }
        let shard = Arc::make_mut(&mut self.shards[at]);
        if let Some(bucket) = shard.get_mut(key) {
            remove_sorted(bucket, row);
            if bucket.is_empty() {
                shard.remove(key);
                self.keys -= 1;
            }
        }
    }

    /// The rows holding exactly this key.
    pub(crate) fn get(&self, key: &Key) -> &[RowId] {
        self.shards[self.shard(key)]
            .get(key)
            .map_or(&[], |b| b.as_slice())
    }

    /// Rows whose value is an error.
    pub(crate) fn wildcard(&self) -> &[RowId] {
        &self.wildcard
    }

    /// Every row whose value may equal `key` under `=`: the key's bucket, the
    /// buckets Blank's rules make equal, and the error rows; sorted, without
    /// repeats. Borrowed when one bucket answers alone.
    pub(crate) fn matching(&self, key: &Key) -> std::borrow::Cow<'_, [RowId]> {
        let main = self.get(key);
        let partners: Vec<&[RowId]> = key
            .blank_partners()
            .iter()
            .map(|k| self.get(k))
            .filter(|b| !b.is_empty())
            .collect();
        if partners.is_empty() && self.wildcard.is_empty() {
            return std::borrow::Cow::Borrowed(main);
        }
        let mut all: Vec<RowId> = main.to_vec();
        for b in partners {
            all.extend_from_slice(b);
        }
        all.extend_from_slice(&self.wildcard);
        all.sort_unstable();
        all.dedup();
        std::borrow::Cow::Owned(all)
    }

    /// Bytes held (an estimate: buckets, their keys and row lists).
    pub(crate) fn heap_bytes(&self) -> usize {
        let per_bucket = std::mem::size_of::<Key>() + std::mem::size_of::<Bucket>() + 1;
        self.shards
            .iter()
            .map(|s| {
                s.capacity() * per_bucket
                    + s.values()
                        .filter(|b| b.spilled())
                        .map(|b| b.capacity() * 4)
                        .sum::<usize>()
            })
            .sum::<usize>()
            + self.wildcard.capacity() * 4
    }

    /// Number of entries, for tests and memory accounting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .flat_map(|s| s.values())
            .map(|b| b.len())
            .sum::<usize>()
            + self.wildcard.len()
    }
}

/// An index built in one pass over a column's cells, rows in ascending
/// order (a snapshot's read, `snapshot.rs`), sharded from the start for the
/// number of keys the index had. Keys are gathered by shard first and put
/// in their maps a shard at a time at the end, so that filling a map works
/// within a few kilobytes instead of missing the cache on every key of a
/// large index; rows that hold one value (a chunk's dictionary code) are
/// keyed once for all of them.
#[derive(Debug)]
pub(crate) struct IndexBuilder {
    mode: IndexMode,
    /// Per shard, its keys with their rows, as they came.
    staged: Vec<Vec<(Key, Bucket)>>,
    wildcard: Vec<RowId>,
}

impl IndexBuilder {
    /// A builder for about `keys` keys (only a hint, read from untrusted
    /// bytes: any number builds a right index, sharded for this many, and
    /// nothing is allocated for keys before they come).
    pub(crate) fn new(mode: IndexMode, keys: usize) -> IndexBuilder {
        let n = (keys / SHARD_KEYS).next_power_of_two().clamp(1, MAX_SHARDS);
        IndexBuilder {
            mode,
            staged: (0..n).map(|_| Vec::new()).collect(),
            wildcard: Vec::new(),
        }
    }

    /// Rows (ascending, and after the rows of earlier calls that hold the
    /// same key, except within a chunk's worth, which are merged) that hold
    /// `value`.
    pub(crate) fn add(&mut self, rows: &[RowId], value: &Value) {
        if rows.is_empty() {
            return;
        }
        let IndexBuilder {
            mode,
            staged,
            wildcard,
        } = self;
        let n = staged.len();
        each_key(*mode, value, |key| match key {
            Some(k) => staged[shard_of(&k, n)].push((k, Bucket::from_slice(rows))),
            None => append_sorted(wildcard, rows),
        });
    }

    pub(crate) fn finish(self) -> ColumnIndex {
        let mut keys = 0;
        let shards: Vec<Arc<Shard>> = self
            .staged
            .into_iter()
            .map(|staged| {
                let mut shard = Shard::with_capacity_and_hasher(staged.len(), Default::default());
                for (key, rows) in staged {
                    match shard.entry(key) {
                        std::collections::hash_map::Entry::Occupied(mut e) => {
                            append_sorted(e.get_mut(), &rows)
                        }
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(rows);
                        }
                    }
                }
                keys += shard.len();
                Arc::new(shard)
            })
            .collect();
        ColumnIndex {
            mode: self.mode,
            keys,
            shards,
            wildcard: Arc::new(self.wildcard),
        }
    }
}

/// Appends ascending rows to a sorted list, merging where they do not all
/// come after it.
fn append_sorted<V: RowList + Extend<RowId>>(v: &mut V, rows: &[RowId]) {
    if v.last()
        .is_none_or(|last| rows.first().is_some_and(|r| last < r))
    {
        v.extend(rows.iter().copied());
    } else {
        for &r in rows {
            insert_sorted(v, r);
        }
    }
}

/// The shard of `key` among `n` (a power of two).
fn shard_of(key: &Key, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    (hash(key) >> 40) as usize & (n - 1)
}

/// Calls `f` with each key a value is indexed under in `mode` (`None`: the
/// value is an error, a wildcard); not at all for a value the mode leaves out.
fn each_key(mode: IndexMode, value: &Value, mut f: impl FnMut(Option<Key>)) {
    match mode {
        IndexMode::Guarded if matches!(value, Value::Blank) => {}
        IndexMode::Whole | IndexMode::Guarded => f(Key::from_value(value)),
        IndexMode::Elements => {
            for k in element_keys(value) {
                f(Some(k));
            }
        }
    }
}

/// The keys of a value's elements: each row of a multi-relation, each option
/// of a multi-select; Blank and errors left out, repeats removed.
fn element_keys(value: &Value) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    for e in value.elements() {
        if e.is_blank() {
            continue;
        }
        if let Some(k) = Key::from_value(e) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

fn insert_sorted<V: RowList>(v: &mut V, row: RowId) {
    match v.last() {
        None => v.push(row),
        Some(last) if *last < row => v.push(row),
        _ => {
            if let Err(i) = v.binary_search(&row) {
                v.insert(i, row);
            }
        }
    }
}

fn remove_sorted<V: RowList>(v: &mut V, row: RowId) {
    if let Ok(i) = v.binary_search(&row) {
        v.remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TableId;

    #[test]
    fn whole_mode_follows_equality() {
        let mut ix = ColumnIndex::new(IndexMode::Whole);
        ix.insert(RowId(2), &Value::from(0));
        ix.insert(RowId(1), &Value::Blank);
        ix.insert(RowId(3), &Value::text("a"));
        ix.insert(RowId(4), &Value::error(crate::value::ErrorKind::Cycle, ""));
        assert_eq!(&*ix.matching(&Key::Blank), &[RowId(1), RowId(2), RowId(4)]);
        assert_eq!(&*ix.matching(&Key::Text("a".into())), &[RowId(3), RowId(4)]);
        ix.remove(RowId(4), &Value::error(crate::value::ErrorKind::Cycle, ""));
        assert_eq!(&*ix.matching(&Key::Text("a".into())), &[RowId(3)]);
        assert_eq!(ix.len(), 3);
    }

    #[test]
    fn elements_mode_indexes_each_row() {
        let mut ix = ColumnIndex::new(IndexMode::Elements);
        let t = TableId(1, 0);
        let v = Value::list(vec![
            Value::Row(t, RowId(7)),
            Value::Row(t, RowId(8)),
            Value::Row(t, RowId(7)),
        ]);
        ix.insert(RowId(3), &v);
        ix.insert(RowId(1), &Value::Row(t, RowId(7)));
        assert_eq!(ix.get(&Key::Row(t, RowId(7))), &[RowId(1), RowId(3)]);
        ix.remove(RowId(3), &v);
        assert_eq!(ix.get(&Key::Row(t, RowId(7))), &[RowId(1)]);
        assert!(ix.get(&Key::Row(t, RowId(8))).is_empty());
    }
}
