//! Snapshots: a whole workbook's data as bytes
//! ([`Workbook::write_snapshot`]), read back into a workbook
//! ([`Workbook::read_snapshot`]) without parsing a cell's text or evaluating
//! a formula: every table's rows and every column's cells (data, formula
//! and the engine's hidden key columns) are copied in as they were, chunk
//! by chunk, and every index is built from the cells in the same pass
//! (keyed once per dictionary code and chunk, where a chunk has a
//! dictionary). The schema is bound as usual (binding is fast); only what
//! it computes is not computed again. The columns are decoded on up to
//! eight threads (scoped: none outlives the read), each column with the
//! indexes over it.
//!
//! A snapshot holds computed values, so a read trusts nothing it cannot
//! check. It is refused, with a [`SnapshotError`] and nothing built, when
//! its magic, format version or engine version differ from this engine's;
//! when its checksum (CRC-32 of every byte before it) does not match; when
//! the schema it was written for is not the schema given (compared as
//! text, byte for byte: the schema's `Debug` form without the places in
//! files its pieces came from, which the engine version pins); when the
//! workbook the schema builds is not laid out as the one written (ids of
//! tables, columns, hidden key columns and indexes, and every bound formula;
//! a digest of them); when any length, id, tag, code or value is out of
//! place; and when a sample of formula cells, evaluated afresh, does not
//! give the values the snapshot holds (what a change to a function's
//! meaning between engine builds would show). Every length is checked
//! against the bytes that remain before anything is allocated for it, so
//! damaged or hostile bytes are refused, never a panic and never an
//! allocation larger than a small multiple of the input. What a checksum
//! cannot rule out is a snapshot made up on purpose with a right checksum:
//! its cells are taken as written (as a file's rows are) and only sampled,
//! so it can make values wrong, never read out of bounds; indexes always
//! agree with the cells, since they are built from them.
//!
//! A snapshot is of one day: it holds its clock, the workbook is built on
//! it, and a read for another clock then moves the clock
//! ([`Workbook::set_clock`]: the cells that read it are recomputed, and
//! what depends on them).
//!
//! # Format (version 1)
//!
//! Little-endian throughout; `varint` is unsigned LEB128 (at most 10 bytes),
//! `zigzag` a signed integer folded into one; `str` is a varint length and
//! UTF-8 bytes.
//!
//! ```text
//! magic     8 bytes  "CSIPSNAP"
//! format    u32      FORMAT (1)
//! engine    str      the csip-engine version that wrote it
//! schema    str      the schema's Debug text, without where its pieces sat in files
//! layout    u32      digest (CRC-32) of the workbook's ids and bound formulas
//! clock     i32 today (days from 0001-01-01 = day 1), i64 now (Unix seconds), u32 nanoseconds
//! strings   varint n, then n × str: the texts the cells hold more than once
//!           (values, list items, error kinds and messages), each once
//! tables    varint n (the workbook's), then per table: varint slots (row
//!           ids issued), ceil(slots / 64) × u64 liveness words (bit i of
//!           word w: row id 64w + i lives; bits past `slots` clear)
//! indexes   varint n (the workbook's), then per index: varint column, u8
//!           mode (0 whole, 1 elements, 2 guarded), varint keys (how many
//!           it had: a hint for its shard count; its contents come from the
//!           cells)
//! columns   varint n (the workbook's, hidden ones included), then per
//!           column: u64 the length in bytes of the rest of the column (so
//!           that a reader finds every column before it decodes one), and
//!           its chunks of up to 4,096 cells (a column holds a cell per row
//!           slot; cells past its last chunk are Blank):
//!           varint chunks, then per chunk a tag u8 and
//!             0 Blank  varint len
//!             1 Dict   varint len, varint values, the values (the first
//!                      Blank), len × u16 codes into them
//!             2 Plain  varint len, len × value
//! checksum  u32      CRC-32 (IEEE) of every byte before it
//! ```
//!
//! A value is a tag u8 and its content; a `text` is a varint, 1 + its
//! place in the string table, or 0 followed by the text (a str) for a text
//! held once:
//!
//! ```text
//! 0 Blank                   5 Date      i32 days from CE
//! 1 Number  16 bytes        6 DateTime  i64 Unix seconds, u32 nanoseconds
//!   (rust_decimal's         7 Row       varint table, varint row slot (id - 1)
//!   serialize())            8 List      varint n, n × value
//! 2 Text    text            9 Error     text (the kind's name), text (message)
//! 3 false   4 true         10 Integer   zigzag (scale 0)
//!                          11 Decimal   u8 scale, zigzag mantissa (one that fits 64 bits)
//! ```
//!
//! Numbers are written in the shortest of tags 10, 11 and 1 that gives the
//! same decimal back bit for bit (scale and sign included). Lists nest at
//! most 32 deep. A row value names its table by its place in the workbook;
//! a read gives it the id of that table in the workbook it fills. The
//! format version moves with any change to this layout,
//! and should move with any change to what a formula computes.

use crate::data::{Clock, ColumnKind};
use crate::eval::EvalCtx;
use crate::ids::{RowId, TableId};
use crate::index::{ColumnIndex, IndexBuilder, IndexMode};
use crate::schema::Schema;
use crate::store::{ChunkView, Store};
use crate::value::{ErrorKind, EvalError, Value};
use crate::workbook::Workbook;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

/// The snapshot format this engine writes and reads.
pub(crate) const FORMAT: u32 = 1;

const MAGIC: &[u8; 8] = b"CSIPSNAP";
const ENGINE: &str = env!("CARGO_PKG_VERSION");
/// The most threads a read decodes columns on.
const MAX_THREADS: usize = 8;
/// How deep lists may nest in a snapshot.
const MAX_DEPTH: usize = 32;
/// Cells per chunk (as `store.rs` holds them).
const CHUNK: usize = 4096;
/// Formula cells per column evaluated afresh on a read and compared.
const SAMPLE_ROWS: usize = 4;
/// Bytes gathered before they go to the caller's writer.
const FLUSH_AT: usize = 1 << 20;

const T_BLANK: u8 = 0;
const T_NUMBER: u8 = 1;
const T_TEXT: u8 = 2;
const T_FALSE: u8 = 3;
const T_TRUE: u8 = 4;
const T_DATE: u8 = 5;
const T_DATETIME: u8 = 6;
const T_ROW: u8 = 7;
const T_LIST: u8 = 8;
const T_ERROR: u8 = 9;
const T_INTEGER: u8 = 10;
const T_DECIMAL: u8 = 11;

const C_BLANK: u8 = 0;
const C_DICT: u8 = 1;
const C_PLAIN: u8 = 2;

/// Why a snapshot could not be written or read. A refused read builds
/// nothing: load the workbook the slow way (its rows, then a full
/// recalculation) instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The writer the snapshot went to failed.
    #[error("cannot write the snapshot: {0}")]
    Io(#[from] std::io::Error),
    /// The schema given does not bind.
    #[error("{0}")]
    Schema(#[from] crate::SchemaError),
    /// The bytes are not a csip snapshot (too short, or another magic).
    #[error("not a csip workbook snapshot")]
    NotASnapshot,
    /// A snapshot of another format, or written by another engine version.
    #[error(
        "a snapshot of format {format} written by csip-engine {engine}; this engine ({ENGINE}) reads format {FORMAT} of its own version"
    )]
    Version {
        /// The snapshot's format.
        format: u32,
        /// The engine version that wrote it (empty when the format is not readable).
        engine: String,
    },
    /// The checksum does not match the bytes: they were damaged.
    #[error("the snapshot's checksum does not match its bytes: it is damaged")]
    Checksum,
    /// The snapshot is of another schema than the one given.
    #[error("the snapshot is of another schema")]
    OtherSchema,
    /// The schema builds a workbook laid out otherwise than the one written
    /// (its ids or bound formulas differ: a workbook changed by schema
    /// operations at run time, or another engine's binder).
    #[error(
        "the snapshot's workbook is laid out otherwise than one built from the schema ({0}); it cannot be read into it"
    )]
    Layout(String),
    /// The bytes are well formed up to `offset` and then are not.
    #[error("the snapshot is damaged at byte {offset}: {message}")]
    Corrupt {
        /// Where the reader was.
        offset: usize,
        /// What it found there.
        message: String,
    },
    /// A formula cell evaluated afresh differs from the value the snapshot
    /// holds: the snapshot was computed otherwise than this engine computes.
    #[error(
        "the snapshot holds {held} in `{table}`.`{column}` row {row}, where this engine computes {computed}"
    )]
    Stale {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The row id.
        row: u32,
        /// The value held.
        held: String,
        /// The value computed.
        computed: String,
    },
}

impl Workbook {
    /// Writes a snapshot of the workbook's data — every row and every cell,
    /// formula values included — to `out`, in the format the module
    /// `snapshot.rs` documents. [`Workbook::read_snapshot`] reads it back
    /// without evaluating a formula (its indexes are built from the cells
    /// as they are read).
    ///
    /// Fails only when `out` does. A workbook whose schema was changed at
    /// run time may write a snapshot that a read then refuses (its ids
    /// differ from a fresh build's); a workbook built from its schema (and
    /// loaded, edited) reads back.
    ///
    /// ```
    /// # use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T")
    ///         .with_column(ColumnSchema::data("A", ColumnType::Number))
    ///         .with_column(ColumnSchema::formula("B", ColumnType::Number, "[A] * 2")),
    /// );
    /// let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    /// let mut wb = Workbook::new(&schema, clock)?;
    /// let t = wb.table_id("T")?;
    /// let a = wb.column_id(t, "A")?;
    /// let rows = wb.import(vec![(t, vec![vec![(a, Value::from(21))]])])?;
    ///
    /// let mut bytes = Vec::new();
    /// wb.write_snapshot(&mut bytes)?;
    /// let read = Workbook::read_snapshot(&schema, clock, &bytes)?;
    /// // A workbook of its own: its ids are looked up in it.
    /// let b = read.column_id(read.table_id("T")?, "B")?;
    /// assert_eq!(read.value(b, rows[0][0])?, &Value::from(42));
    ///
    /// bytes[40] ^= 1;
    /// assert!(Workbook::read_snapshot(&schema, clock, &bytes).is_err(), "a damaged snapshot is refused");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_snapshot(&self, out: &mut dyn Write) -> Result<(), SnapshotError> {
        let strings = Strings::of(self);
        let mut w = Out {
            out,
            buf: Vec::with_capacity(FLUSH_AT + CHUNK * 32),
            crc: crc32fast::Hasher::new(),
        };
        w.bytes(MAGIC);
        w.u32(FORMAT);
        w.str(ENGINE);
        w.str(&schema_text(self.schema()));
        w.u32(layout_digest(self));
        let clock = self.clock();
        w.i32(clock.today.num_days_from_ce());
        let now = clock.now.and_utc();
        w.i64(now.timestamp());
        w.u32(now.timestamp_subsec_nanos());

        w.varint(strings.list.len());
        for s in &strings.list {
            w.str(s);
            w.flush_if_full()?;
        }

        let data = &self.data;
        w.varint(data.tables.len());
        for t in &data.tables {
            let slots = t.slots();
            w.varint(slots);
            let words = t.live_words();
            for i in 0..slots.div_ceil(64) {
                w.u64(words.get(i).copied().unwrap_or(0));
            }
            w.flush_if_full()?;
        }

        let columns = index_columns(self);
        w.varint(data.indexes.len());
        for (ix, column) in data.indexes.iter().zip(&columns) {
            w.varint(*column);
            w.u8(mode_tag(ix.mode));
            w.varint(ix.key_count());
        }

        w.varint(data.columns.len());
        for c in &data.columns {
            // Its length first (filled in after), so that a reader can find
            // every column before it reads one, and read several at once.
            let start = w.buf.len();
            w.u64(0);
            let chunks: Vec<ChunkView<'_>> = c.values.chunk_views().collect();
            w.varint(chunks.len());
            for chunk in chunks {
                match chunk {
                    ChunkView::Blank { len } => {
                        w.u8(C_BLANK);
                        w.varint(len);
                    }
                    ChunkView::Dict { codes, values } => {
                        w.u8(C_DICT);
                        w.varint(codes.len());
                        w.varint(values.len());
                        for v in values.iter() {
                            w.value(v, &strings);
                        }
                        for code in codes.iter() {
                            w.bytes(&code.to_le_bytes());
                        }
                    }
                    ChunkView::Plain(values) => {
                        w.u8(C_PLAIN);
                        w.varint(values.len());
                        for v in values.iter() {
                            w.value(v, &strings);
                        }
                    }
                }
            }
            let len = (w.buf.len() - start - 8) as u64;
            w.buf[start..start + 8].copy_from_slice(&len.to_le_bytes());
            w.flush_if_full()?;
        }

        w.finish()?;
        Ok(())
    }

    /// Reads a snapshot written by [`Workbook::write_snapshot`] into a
    /// workbook built from `schema`, without evaluating its formulas (but a
    /// few, as a check), and moves its clock to `clock` if the snapshot was
    /// of another. The workbook has a fresh history and version, as one
    /// built by [`Workbook::new`] and [`Workbook::restore_with`] has.
    /// Refused, with nothing built, when the snapshot is of another schema,
    /// format or engine version, is damaged, or holds a formula value this
    /// engine does not compute (see the module docs); the caller then loads
    /// the workbook's rows instead.
    pub fn read_snapshot(
        schema: &Schema,
        clock: Clock,
        bytes: &[u8],
    ) -> Result<Workbook, SnapshotError> {
        let (header, input) = read_header(bytes, schema)?;
        let wb = Workbook::new(schema, header.clock)?;
        read_body(wb, &header, input, clock)
    }

    /// [`Workbook::read_snapshot`] into a workbook of this one's schema as
    /// it now is, as [`Workbook::reload_with`] is to
    /// [`Workbook::restore_with`]: every table and column id of this
    /// workbook stays good in the one returned (a store reading its file
    /// again hands out no stale ids). The clock is this workbook's, the
    /// undo limit and the version too; the cells are only the snapshot's.
    /// Refused as [`Workbook::read_snapshot`] is, and when the snapshot is
    /// not of this workbook's schema as it now is.
    ///
    /// ```
    /// # use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Value, Workbook};
    /// let schema = Schema::new().with_table(
    ///     TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Number)),
    /// );
    /// let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    /// let mut wb = Workbook::new(&schema, clock)?;
    /// let (t, a) = (wb.table_id("T")?, wb.column_id(wb.table_id("T")?, "A")?);
    /// let rows = wb.import(vec![(t, vec![vec![(a, Value::from(7))]])])?;
    /// let mut bytes = Vec::new();
    /// wb.write_snapshot(&mut bytes)?;
    ///
    /// let again = wb.reload_snapshot(&bytes)?;
    /// assert_eq!(again.value(a, rows[0][0])?, &Value::from(7), "the ids of `wb` read `again`");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload_snapshot(&self, bytes: &[u8]) -> Result<Workbook, SnapshotError> {
        let (header, input) = read_header(bytes, self.schema())?;
        let mut empty = self.clone();
        empty.data = self.data.emptied();
        empty.data.clock = header.clock;
        read_body(empty, &header, input, self.clock())
    }
}

/// What a snapshot says before its data.
struct Header {
    /// The digest of the workbook's layout it was written from.
    layout: u32,
    /// The clock its cells were computed at.
    clock: Clock,
}

/// Checks the magic, format, checksum and engine version, and that the
/// snapshot is of `schema`; returns the rest of the header and the input
/// at the string table.
fn read_header<'b>(bytes: &'b [u8], schema: &Schema) -> Result<(Header, Input<'b>), SnapshotError> {
    if bytes.len() < MAGIC.len() + 4 + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let (body, sum) = bytes.split_at(bytes.len() - 4);
    let mut input = Input {
        bytes: body,
        pos: MAGIC.len(),
    };
    let format = input.u32()?;
    if format != FORMAT {
        return Err(SnapshotError::Version {
            format,
            engine: String::new(),
        });
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(body);
    if crc.finalize().to_le_bytes() != sum {
        return Err(SnapshotError::Checksum);
    }
    let engine = input.str()?;
    if engine != ENGINE {
        return Err(SnapshotError::Version {
            format,
            engine: engine.to_string(),
        });
    }
    if input.str()? != schema_text(schema) {
        return Err(SnapshotError::OtherSchema);
    }
    let layout = input.u32()?;
    let today = input.i32()?;
    let (secs, nanos) = (input.i64()?, input.u32()?);
    let clock = match (
        NaiveDate::from_num_days_from_ce_opt(today),
        chrono::DateTime::from_timestamp(secs, nanos),
    ) {
        (Some(today), Some(now)) => Clock {
            today,
            now: now.naive_utc(),
        },
        _ => return Err(input.corrupt("the clock is not a date and time")),
    };
    Ok((Header { layout, clock }, input))
}

/// Reads the data into `wb` (empty, of the snapshot's schema, on its clock),
/// checks a sample, then moves the clock to `clock`. The read is no commit:
/// the version and the history are left as they were.
fn read_body(
    mut wb: Workbook,
    header: &Header,
    mut input: Input<'_>,
    clock: Clock,
) -> Result<Workbook, SnapshotError> {
    if layout_digest(&wb) != header.layout {
        return Err(SnapshotError::Layout(
            "the digest of its ids and formulas differs".into(),
        ));
    }
    let n = input.count(1, "the number of strings")?;
    let mut strings = Vec::with_capacity(n);
    for _ in 0..n {
        strings.push(Arc::<str>::from(input.str()?));
    }
    let mut table_slots = Vec::new();

    let n = input.count(1, "the number of tables")?;
    let mut lives: Vec<Vec<u64>> = Vec::with_capacity(n);
    if n != wb.data.tables.len() {
        return Err(layout("tables", wb.data.tables.len(), n));
    }
    for _ in 0..n {
        let slots = input.varint("a table's row slots")?;
        if slots > u32::MAX as usize {
            return Err(input.corrupt("a table has more row slots than ids"));
        }
        let words = slots.div_ceil(64);
        let raw = input.take(
            words
                .checked_mul(8)
                .ok_or_else(|| input.corrupt("too many row slots"))?,
            "a table's liveness bits",
        )?;
        let live: Vec<u64> = raw
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
            .collect();
        if slots % 64 != 0 && live.last().is_some_and(|w| w >> (slots % 64) != 0) {
            return Err(input.corrupt("a row past a table's slots lives"));
        }
        table_slots.push(slots);
        lives.push(live);
    }

    let slots = table_slots;
    // The names' table holds its one row, always (what a build gives it).
    let names = wb.names.index();
    if slots.get(names) != Some(&1) || lives.get(names).map(Vec::as_slice) != Some(&[1]) {
        return Err(input.corrupt("the names' table does not hold its one row"));
    }

    let columns = index_columns(&wb);
    let n = input.count(3, "the number of indexes")?;
    if n != wb.data.indexes.len() {
        return Err(layout("indexes", wb.data.indexes.len(), n));
    }
    let mut builders = Vec::with_capacity(n);
    for (i, (ix, expected)) in wb.data.indexes.iter().zip(&columns).enumerate() {
        let column = input.varint("an index's column")?;
        let mode = input.u8()?;
        if column != *expected || mode != mode_tag(ix.mode) {
            return Err(SnapshotError::Layout(format!(
                "index {i} is of another column or kind"
            )));
        }
        // How many keys it had: only a hint for its shard count.
        let keys = input.count(1, "an index's keys")?;
        builders.push(Some(IndexBuilder::new(ix.mode, keys)));
    }

    let n = input.count(9, "the number of columns")?;
    if n != wb.data.columns.len() {
        return Err(layout("columns", wb.data.columns.len(), n));
    }
    // Every column's bytes, then the columns read on the machine's
    // cores, each with the indexes over it.
    let mut jobs = Vec::with_capacity(n);
    for c in 0..n {
        let len = usize::try_from(input.u64()?)
            .map_err(|_| input.corrupt("a column's length is too large"))?;
        let start = input.pos;
        input.take(len, "a column")?;
        let table = wb.data.columns[c].table;
        jobs.push(Job {
            column: c,
            bytes: start..start + len,
            table,
            builders: wb.data.indexes_on[c]
                .iter()
                .filter_map(|i| Some((i.0 as usize, builders.get_mut(i.0 as usize)?.take()?)))
                .collect(),
        });
    }
    if input.pos != input.bytes.len() {
        return Err(input.corrupt("bytes follow the last column"));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Row values name their table by this workbook's own ids (its stamp).
    let tables: Vec<TableId> = wb.data.tables.iter().map(|t| t.id).collect();
    let context = Context {
        body: input.bytes,
        strings: &strings,
        tables: &tables,
        slots: &slots,
        lives: &lives,
    };
    for done in read_columns(&context, jobs, cores.clamp(1, MAX_THREADS))? {
        wb.data.columns[done.column].values = done.store;
        for (i, index) in done.indexes {
            if let Some(slot) = wb.data.indexes.get_mut(i) {
                *slot = index;
            }
        }
    }
    for (t, (live, slots)) in lives.into_iter().zip(slots).enumerate() {
        wb.data.tables[t].restore_rows(live, slots);
    }
    check_sample(&wb)?;
    wb.dirty.clear();
    if clock != header.clock {
        let feed = wb.feed.detached();
        wb.set_clock(clock);
        wb.feed = feed;
    }
    Ok(wb)
}

/// The text that names a schema in a snapshot: its `Debug` form (which the
/// engine version, also checked, pins) without where each piece sat in a
/// file, so that a schema read from table files and the same schema built
/// in code, or changed at run time and written back, are one schema.
fn schema_text(schema: &Schema) -> String {
    format!("{:?}", schema.without_origins())
}

fn layout(what: &str, expected: usize, found: usize) -> SnapshotError {
    SnapshotError::Layout(format!(
        "the schema builds {expected} {what}, the snapshot holds {found}"
    ))
}

fn mode_tag(mode: IndexMode) -> u8 {
    match mode {
        IndexMode::Whole => 0,
        IndexMode::Elements => 1,
        IndexMode::Guarded => 2,
    }
}

/// The column each index is over (its place in the workbook's columns), by
/// index.
fn index_columns(wb: &Workbook) -> Vec<usize> {
    let mut columns = vec![0; wb.data.indexes.len()];
    for (c, ids) in wb.data.indexes_on.iter().enumerate() {
        for i in ids {
            if let Some(slot) = columns.get_mut(i.0 as usize) {
                *slot = c;
            }
        }
    }
    columns
}

/// A digest of what a snapshot's cells must line up with: every table's
/// columns, every column's table, name, kind, bound formula (its ids and
/// index plans included), rank and cycle, and every index's column and mode.
fn layout_digest(wb: &Workbook) -> u32 {
    struct Digest(crc32fast::Hasher);
    impl std::fmt::Write for Digest {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut d = Digest(crc32fast::Hasher::new());
    let data = &wb.data;
    for t in &data.tables {
        let _ = writeln!(
            d,
            "table {:?} {:?} {:?} {:?}",
            t.name, t.columns, t.hidden, t.display
        );
    }
    for c in &data.columns {
        let _ = write!(
            d,
            "column {:?} {:?} {:?} {:?} ",
            c.table, c.name, c.target, c.row_table
        );
        let _ = match &c.kind {
            ColumnKind::Data => writeln!(d, "data"),
            ColumnKind::Removed => writeln!(d, "removed"),
            ColumnKind::Formula(f) => writeln!(d, "formula {} {} {:?}", f.rank, f.cyclic, f.expr),
            ColumnKind::Hidden(f) => writeln!(d, "hidden {} {} {:?}", f.rank, f.cyclic, f.expr),
        };
    }
    for (ix, c) in data.indexes.iter().zip(index_columns(wb)) {
        let _ = writeln!(d, "index {c:?} {:?}", ix.mode);
    }
    d.0.finalize()
}

/// Evaluates a few cells of every formula column afresh (spread over its
/// rows) and compares them with what the snapshot holds.
fn check_sample(wb: &Workbook) -> Result<(), SnapshotError> {
    let data = &wb.data;
    let budget = crate::Budget::default();
    for &col in &wb.graph.order {
        let column = data.column(col);
        let Some(formula) = column.formula() else {
            continue;
        };
        let rows = data.table(column.table).order();
        let step = rows.len().div_ceil(SAMPLE_ROWS).max(1);
        for &r in rows.iter().step_by(step) {
            let held = data.cell(col, r);
            let computed = if formula.cyclic {
                let e = crate::recalc::cycle_error(data, &wb.graph, col);
                (!held.identical(&e)).then_some(e)
            } else {
                // As a full recalculation computes it (`recalc::full`), typed.
                EvalCtx::new(data, Some((column.table, r)), &budget)
                    .eval_changed(&formula.expr, held)
                    .map(|v| crate::coerce::conform(data, col, v))
                    .filter(|v| !v.identical(held))
            };
            if let Some(computed) = computed {
                return Err(SnapshotError::Stale {
                    table: data.table(column.table).name.clone(),
                    column: column.name.clone(),
                    row: r.get(),
                    held: format!("{held:?}"),
                    computed: format!("{computed:?}"),
                });
            }
        }
    }
    Ok(())
}

/// The texts the values hold (cells, list items, error kinds and
/// messages) more than once: written once in the string table, in the
/// order first met, and named by their place; a text held once is written
/// where it is held.
struct Strings<'w> {
    /// Every text met, with how often; then the shared ones' places.
    seen: FxHashMap<&'w str, u32>,
    list: Vec<&'w str>,
}

impl<'w> Strings<'w> {
    fn of(wb: &'w Workbook) -> Strings<'w> {
        let mut s = Strings {
            seen: FxHashMap::default(),
            list: Vec::new(),
        };
        let mut order = Vec::new();
        for c in &wb.data.columns {
            for v in c.values.distinct() {
                s.value(v, &mut order);
            }
        }
        for text in order {
            if s.seen.get(text).is_some_and(|n| *n > 1) {
                let place = u32::try_from(s.list.len() + 1).unwrap_or(u32::MAX);
                s.seen.insert(text, place);
                s.list.push(text);
            } else {
                s.seen.remove(text);
            }
        }
        s
    }

    fn add(&mut self, text: &'w str, order: &mut Vec<&'w str>) {
        let n = self.seen.entry(text).or_insert(0);
        if *n == 0 {
            order.push(text);
        }
        *n = n.saturating_add(1);
    }

    fn value(&mut self, v: &'w Value, order: &mut Vec<&'w str>) {
        match v {
            Value::Text(t) => self.add(t, order),
            Value::List(items) => {
                for item in items.iter() {
                    self.value(item, order);
                }
            }
            Value::Error(e) => {
                self.add(e.kind.name(), order);
                self.add(&e.message, order);
            }
            _ => {}
        }
    }

    /// 1 + a shared text's place in the table, or 0 (written in place).
    fn place(&self, text: &str) -> usize {
        self.seen.get(text).map_or(0, |i| *i as usize)
    }
}

/// The bytes being written: gathered, checksummed and passed on a
/// megabyte at a time.
struct Out<'o> {
    out: &'o mut dyn Write,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
}

impl Out<'_> {
    fn flush_if_full(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.crc.update(&self.buf);
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.crc.update(&self.buf);
        let sum = self.crc.clone().finalize();
        self.buf.extend_from_slice(&sum.to_le_bytes());
        self.out.write_all(&self.buf)?;
        self.out.flush()
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    fn varint(&mut self, v: usize) {
        self.varint64(v as u64);
    }

    fn varint64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn zigzag(&mut self, v: i64) {
        self.varint64(((v << 1) ^ (v >> 63)) as u64);
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len());
        self.bytes(s.as_bytes());
    }

    fn number(&mut self, n: &Decimal) {
        let short = i64::try_from(n.mantissa())
            .ok()
            .filter(|m| *m != 0 || !n.is_sign_negative());
        match short {
            Some(m) if n.scale() == 0 => {
                self.u8(T_INTEGER);
                self.zigzag(m);
            }
            Some(m) => {
                self.u8(T_DECIMAL);
                self.u8(u8::try_from(n.scale()).unwrap_or(u8::MAX));
                self.zigzag(m);
            }
            None => {
                self.u8(T_NUMBER);
                self.bytes(&n.serialize());
            }
        }
    }

    fn value(&mut self, v: &Value, strings: &Strings<'_>) {
        match v {
            Value::Blank => self.u8(T_BLANK),
            Value::Number(n) => self.number(n),
            Value::Text(t) => {
                self.u8(T_TEXT);
                self.text(t, strings);
            }
            Value::Bool(false) => self.u8(T_FALSE),
            Value::Bool(true) => self.u8(T_TRUE),
            Value::Date(d) => {
                self.u8(T_DATE);
                self.i32(d.num_days_from_ce());
            }
            Value::DateTime(dt) => {
                self.u8(T_DATETIME);
                let utc = dt.and_utc();
                self.i64(utc.timestamp());
                self.u32(utc.timestamp_subsec_nanos());
            }
            Value::Row(t, r) => {
                self.u8(T_ROW);
                self.varint(t.index());
                self.varint(r.index());
            }
            Value::List(items) => {
                self.u8(T_LIST);
                self.varint(items.len());
                for item in items.iter() {
                    self.value(item, strings);
                }
            }
            Value::Error(e) => {
                self.u8(T_ERROR);
                self.text(e.kind.name(), strings);
                self.text(&e.message, strings);
            }
        }
    }

    /// A text: 1 + its place in the string table, or 0 and the text.
    fn text(&mut self, text: &str, strings: &Strings<'_>) {
        match strings.place(text) {
            0 => {
                self.varint(0);
                self.str(text);
            }
            place => self.varint(place),
        }
    }
}

/// The bytes being read, and where.
struct Input<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Input<'b> {
    fn corrupt(&self, message: &str) -> SnapshotError {
        SnapshotError::Corrupt {
            offset: self.pos,
            message: message.to_string(),
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'b [u8], SnapshotError> {
        if n > self.remaining() {
            return Err(self.corrupt(&format!("{what} runs past the end")));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], SnapshotError> {
        let b = self.take(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>("a byte")?[0])
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array("a 32-bit number")?))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array("a 64-bit number")?))
    }

    fn i32(&mut self) -> Result<i32, SnapshotError> {
        Ok(i32::from_le_bytes(self.array("a 32-bit number")?))
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array("a 64-bit number")?))
    }

    fn varint64(&mut self, what: &str) -> Result<u64, SnapshotError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or_else(|| self.corrupt(&format!("{what} runs past the end")))?;
            self.pos += 1;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.corrupt(&format!("{what} overflows 64 bits")));
            }
            v |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt(&format!("{what} overflows 64 bits")))
    }

    fn varint(&mut self, what: &str) -> Result<usize, SnapshotError> {
        let v = self.varint64(what)?;
        usize::try_from(v).map_err(|_| self.corrupt(&format!("{what} is too large")))
    }

    fn zigzag(&mut self, what: &str) -> Result<i64, SnapshotError> {
        let v = self.varint64(what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A number of things that each take at least `each` bytes: refused
    /// when the bytes that remain cannot hold them (so nothing is allocated
    /// for things that are not there).
    fn count(&mut self, each: usize, what: &str) -> Result<usize, SnapshotError> {
        let n = self.varint(what)?;
        if n.saturating_mul(each) > self.remaining() {
            return Err(self.corrupt(&format!(
                "{what} ({n}) is more than the bytes that remain hold"
            )));
        }
        Ok(n)
    }

    fn str(&mut self) -> Result<&'b str, SnapshotError> {
        let n = self.varint("a text's length")?;
        let b = self.take(n, "a text")?;
        std::str::from_utf8(b).map_err(|_| self.corrupt("a text is not UTF-8"))
    }
}

/// What reading values needs: the strings, and each table's rows (row ids
/// in values and indexes are checked against them).
struct Values<'a> {
    strings: &'a [Arc<str>],
    /// The ids of the workbook's tables, for row values.
    tables: &'a [TableId],
    slots: &'a [usize],
    /// Error values read, shared: one `Arc` per kind and message.
    errors: FxHashMap<(ErrorKind, Arc<str>), Value>,
}

impl Values<'_> {
    /// A text: shared (1 + its place in the string table) or in place (0,
    /// then the text).
    fn text(&self, input: &mut Input<'_>) -> Result<Arc<str>, SnapshotError> {
        match input.varint("a text")? {
            0 => Ok(Arc::from(input.str()?)),
            place => self
                .strings
                .get(place - 1)
                .cloned()
                .ok_or_else(|| input.corrupt("a value names a string that is not there")),
        }
    }

    /// A chunk (of slots from `lo`), fed to the column's indexes: `rows`,
    /// its live rows, are what they index.
    fn chunk<'v>(
        &mut self,
        input: &mut Input<'_>,
        lo: usize,
        rows: &[RowId],
        feeding: &mut [IndexBuilder],
    ) -> Result<ChunkView<'v>, SnapshotError> {
        let tag = input.u8()?;
        let len = input.varint("a chunk's length")?;
        if len > CHUNK {
            return Err(input.corrupt("a chunk holds more than 4,096 cells"));
        }
        Ok(match tag {
            C_BLANK => {
                for builder in feeding.iter_mut() {
                    builder.add(rows, &Value::Blank);
                }
                ChunkView::Blank { len }
            }
            C_DICT => {
                let n = input.count(1, "a chunk's dictionary")?;
                let mut values = Vec::with_capacity(n);
                for _ in 0..n {
                    values.push(self.value(input, 0)?);
                }
                let raw = input.take(len * 2, "a chunk's codes")?;
                let codes: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                if codes.iter().any(|c| usize::from(*c) >= values.len()) {
                    return Err(input.corrupt("a cell's code lies past its chunk's dictionary"));
                }
                if !feeding.is_empty() {
                    feed_dict(feeding, lo, rows, &codes, &values);
                }
                ChunkView::Dict {
                    codes: Cow::Owned(codes),
                    values: Cow::Owned(values),
                }
            }
            C_PLAIN => {
                if len > input.remaining() {
                    return Err(input.corrupt("a chunk's values run past the end"));
                }
                // Each value is indexed as it is read, while it is at hand.
                let mut values = Vec::with_capacity(len);
                let mut next = 0;
                for slot in lo..lo + len {
                    let v = self.value(input, 0)?;
                    if let Some(row) = rows.get(next).filter(|r| r.index() == slot) {
                        for builder in feeding.iter_mut() {
                            builder.add(std::slice::from_ref(row), &v);
                        }
                        next += 1;
                    }
                    values.push(v);
                }
                let rest = rows.get(next..).unwrap_or(&[]);
                for builder in feeding.iter_mut() {
                    builder.add(rest, &Value::Blank);
                }
                ChunkView::Plain(Cow::Owned(values))
            }
            _ => return Err(input.corrupt("a chunk of an unknown kind")),
        })
    }

    fn value(&mut self, input: &mut Input<'_>, depth: usize) -> Result<Value, SnapshotError> {
        Ok(match input.u8()? {
            T_BLANK => Value::Blank,
            T_INTEGER => Value::Number(Decimal::from(input.zigzag("a number")?)),
            T_DECIMAL => {
                let scale = input.u8()?;
                let m = input.zigzag("a number")?;
                Value::Number(
                    Decimal::try_new(m, u32::from(scale))
                        .map_err(|_| input.corrupt("a number's scale is past 28"))?,
                )
            }
            T_NUMBER => {
                let b: [u8; 16] = input.array("a number")?;
                let flags = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if flags & 0x7F00_FFFF != 0 || (flags >> 16) & 0xFF > 28 {
                    return Err(input.corrupt("a number's flags are not a decimal's"));
                }
                Value::Number(Decimal::deserialize(b))
            }
            T_TEXT => Value::Text(self.text(input)?),
            T_FALSE => Value::Bool(false),
            T_TRUE => Value::Bool(true),
            T_DATE => {
                let days = input.i32()?;
                Value::Date(
                    NaiveDate::from_num_days_from_ce_opt(days)
                        .ok_or_else(|| input.corrupt("a date out of range"))?,
                )
            }
            T_DATETIME => {
                let (secs, nanos) = (input.i64()?, input.u32()?);
                Value::DateTime(
                    chrono::DateTime::from_timestamp(secs, nanos)
                        .ok_or_else(|| input.corrupt("a date and time out of range"))?
                        .naive_utc(),
                )
            }
            T_ROW => {
                let table = input.varint("a row's table")?;
                let row = input.varint("a row's id")?;
                match (self.tables.get(table), self.slots.get(table)) {
                    (Some(id), Some(slots)) if row < *slots => {
                        Value::Row(*id, RowId(u32::try_from(row).unwrap_or(u32::MAX)))
                    }
                    _ => {
                        return Err(input.corrupt("a row value names a row that was never there"));
                    }
                }
            }
            T_LIST => {
                if depth >= MAX_DEPTH {
                    return Err(input.corrupt("lists nest more than 32 deep"));
                }
                let n = input.count(1, "a list's items")?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(input, depth + 1)?);
                }
                Value::list(items)
            }
            T_ERROR => {
                let kind = self.text(input)?;
                let kind = ErrorKind::from_name(&kind)
                    .ok_or_else(|| input.corrupt("an error of an unknown kind"))?;
                let message = self.text(input)?;
                // One value per kind and message, shared by the cells.
                let key = (kind, message);
                if let Some(v) = self.errors.get(&key) {
                    return Ok(v.clone());
                }
                let v = Value::Error(Arc::new(EvalError {
                    kind,
                    message: key.1.to_string(),
                }));
                self.errors.insert(key, v.clone());
                v
            }
            _ => return Err(input.corrupt("a value of an unknown kind")),
        })
    }
}

/// What every column's read shares: the bytes, the shared texts, and each
/// table's row slots and liveness.
struct Context<'a> {
    body: &'a [u8],
    strings: &'a [Arc<str>],
    tables: &'a [TableId],
    slots: &'a [usize],
    lives: &'a [Vec<u64>],
}

/// One column to read: where its bytes are, and the indexes over it (by
/// their place in the workbook's list) to feed.
struct Job {
    column: usize,
    bytes: std::ops::Range<usize>,
    table: TableId,
    builders: Vec<(usize, IndexBuilder)>,
}

/// A column read, with the indexes over it (by their place in the
/// workbook's list).
struct Done {
    column: usize,
    store: Store,
    indexes: Vec<(usize, ColumnIndex)>,
}

/// Reads the columns on up to `threads` threads (scoped: none outlives
/// the call), each taking the largest column left whenever it is free; the
/// first error by column order, if any.
fn read_columns(
    context: &Context<'_>,
    mut jobs: Vec<Job>,
    threads: usize,
) -> Result<Vec<Done>, SnapshotError> {
    jobs.sort_by_key(|j| std::cmp::Reverse(j.bytes.len()));
    let queue = std::sync::Mutex::new(jobs.into_iter());
    let work = || -> Vec<Result<Done, (usize, SnapshotError)>> {
        let mut values = Values {
            strings: context.strings,
            tables: context.tables,
            slots: context.slots,
            errors: FxHashMap::default(),
        };
        let mut out = Vec::new();
        loop {
            let next = queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next();
            let Some(job) = next else {
                return out;
            };
            let column = job.column;
            out.push(read_column(context, &mut values, job).map_err(|e| (column, e)));
        }
    };
    let results: Vec<_> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads.max(1)).map(|_| scope.spawn(work)).collect();
        running
            .into_iter()
            .flat_map(|t| {
                // A thread that panicked (a bug) refuses the snapshot
                // rather than leave its columns unread.
                t.join().unwrap_or_else(|_| {
                    vec![Err((
                        0,
                        SnapshotError::Corrupt {
                            offset: 0,
                            message: "reading a column failed".into(),
                        },
                    ))]
                })
            })
            .collect()
    });
    let mut done = Vec::with_capacity(results.len());
    let mut first: Option<(usize, SnapshotError)> = None;
    for r in results {
        match r {
            Ok(d) => done.push(d),
            Err((c, e)) if first.as_ref().is_none_or(|f| c < f.0) => first = Some((c, e)),
            Err(_) => {}
        }
    }
    match first {
        Some((_, e)) => Err(e),
        None => Ok(done),
    }
}

/// Reads one column's chunks, feeding the indexes over it chunk by chunk
/// while its cells are at hand.
fn read_column(
    context: &Context<'_>,
    values: &mut Values<'_>,
    job: Job,
) -> Result<Done, SnapshotError> {
    let mut input = Input {
        bytes: &context.body[..job.bytes.end],
        pos: job.bytes.start,
    };
    let len = context.slots[job.table.index()];
    let live = &context.lives[job.table.index()];
    let chunks = input.count(2, "a column's chunks")?;
    if chunks > len.div_ceil(CHUNK) {
        return Err(input.corrupt("a column has more chunks than its table has rows for"));
    }
    let (places, mut feeding): (Vec<usize>, Vec<IndexBuilder>) = job.builders.into_iter().unzip();
    let mut rows = Vec::with_capacity(if feeding.is_empty() { 0 } else { CHUNK });
    let mut views = Vec::with_capacity(chunks);
    for at in 0..len.div_ceil(CHUNK) {
        let lo = at * CHUNK;
        if !feeding.is_empty() {
            live_rows(live, lo, (lo + CHUNK).min(len), &mut rows);
        }
        if at < chunks {
            views.push(values.chunk(&mut input, lo, &rows, &mut feeding)?);
        } else {
            for builder in &mut feeding {
                builder.add(&rows, &Value::Blank);
            }
        }
    }
    if input.pos != input.bytes.len() {
        return Err(input.corrupt("a column's bytes hold more than its cells"));
    }
    let store = Store::from_chunks(len, views).map_err(|m| input.corrupt(m))?;
    Ok(Done {
        column: job.column,
        store,
        indexes: places
            .into_iter()
            .zip(feeding)
            .map(|(i, b)| (i, b.finish()))
            .collect(),
    })
}

/// The live rows among slots `lo..hi` of a table, ascending, into `out`.
fn live_rows(live: &[u64], lo: usize, hi: usize, out: &mut Vec<RowId>) {
    out.clear();
    for w in lo / 64..hi.div_ceil(64) {
        let mut bits = live.get(w).copied().unwrap_or(0);
        while bits != 0 {
            let r = w * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if (lo..hi).contains(&r) {
                out.push(RowId(u32::try_from(r).unwrap_or(u32::MAX)));
            }
        }
    }
}

/// Feeds indexes the live `rows` of a dictionary chunk (of slots from
/// `lo`): grouped by code, and keyed once per code; cells past the codes
/// are Blank (code 0). The reader has checked every code.
fn feed_dict(
    feeding: &mut [IndexBuilder],
    lo: usize,
    rows: &[RowId],
    codes: &[u16],
    values: &[Value],
) {
    let code = |r: &RowId| usize::from(codes.get(r.index() - lo).copied().unwrap_or(0));
    // A counting sort of the rows by code.
    let mut starts = vec![0usize; values.len() + 1];
    for r in rows {
        starts[code(r) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let mut sorted = vec![RowId(0); rows.len()];
    for r in rows {
        let c = code(r);
        sorted[next[c]] = *r;
        next[c] += 1;
    }
    for builder in feeding {
        for (c, v) in values.iter().enumerate() {
            builder.add(&sorted[starts[c]..starts[c + 1]], v);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::schema::{ColumnSchema, ColumnType, TableSchema};

    fn sorted(ix: &ColumnIndex) -> Vec<(String, Vec<RowId>)> {
        let mut out: Vec<(String, Vec<RowId>)> = ix
            .buckets()
            .map(|(k, rows)| (format!("{k:?}"), rows.to_vec()))
            .collect();
        out.sort();
        out.push(("wildcard".into(), ix.wildcard().to_vec()));
        out
    }

    /// The indexes read equal the indexes rebuilt from the cells read, and
    /// every column's cells keep their chunks' kinds.
    #[test]
    fn indexes_and_chunks_read_back_as_written() {
        let schema = Schema::new()
            .with_table(
                TableSchema::new("A")
                    .with_column(ColumnSchema::data("Name", ColumnType::Text).unique())
                    .with_column(ColumnSchema::formula(
                        "Total",
                        ColumnType::Number,
                        "Sum(Filter([B], [A] = thisRow AND [N] > 2).[N])",
                    )),
            )
            .with_table(
                TableSchema::new("B")
                    .with_column(ColumnSchema::data(
                        "A",
                        ColumnType::Relation {
                            table: "A".into(),
                            multiple: false,
                        },
                    ))
                    .with_column(ColumnSchema::data("N", ColumnType::Number))
                    .with_column(ColumnSchema::formula(
                        "E",
                        ColumnType::Number,
                        "1 / ([N] - 3)",
                    )),
            );
        let clock = Clock::on(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        let mut wb = Workbook::new(&schema, clock).unwrap();
        let (a, b) = (wb.table_id("A").unwrap(), wb.table_id("B").unwrap());
        let name = wb.column_id(a, "Name").unwrap();
        let (ra, n) = (wb.column_id(b, "A").unwrap(), wb.column_id(b, "N").unwrap());
        let rows = wb
            .import(vec![(
                a,
                (0..300)
                    .map(|i| vec![(name, Value::from(format!("a{i}")))])
                    .collect(),
            )])
            .unwrap();
        wb.import(vec![(
            b,
            (0..9000)
                .map(|i| {
                    vec![
                        (ra, Value::Row(a, rows[0][i % 300])),
                        (n, Value::from((i % 7) as i64)),
                    ]
                })
                .collect(),
        )])
        .unwrap();
        let mut bytes = Vec::new();
        wb.write_snapshot(&mut bytes).unwrap();
        let read = Workbook::read_snapshot(&schema, clock, &bytes).unwrap();
        let mut rebuilt = read.clone();
        rebuilt.data.rebuild_indexes();
        assert!(!read.data.indexes.is_empty());
        for ((x, y), z) in read
            .data
            .indexes
            .iter()
            .zip(&rebuilt.data.indexes)
            .zip(&wb.data.indexes)
        {
            assert_eq!(x.mode, y.mode);
            assert_eq!(sorted(x), sorted(y));
            assert_eq!(sorted(x), sorted(z));
        }
        let kinds = |w: &Workbook| -> Vec<String> {
            w.data
                .columns
                .iter()
                .flat_map(|c| {
                    c.values.chunk_views().map(|v| match v {
                        ChunkView::Blank { len } => format!("blank {len}"),
                        ChunkView::Dict { codes, values } => {
                            format!("dict {} {}", codes.len(), values.len())
                        }
                        ChunkView::Plain(v) => format!("plain {}", v.len()),
                    })
                })
                .collect()
        };
        assert_eq!(kinds(&read), kinds(&wb));
        assert!(kinds(&wb).iter().any(|k| k.starts_with("dict")));
        assert!(kinds(&wb).iter().any(|k| k.starts_with("plain")));
    }
}
