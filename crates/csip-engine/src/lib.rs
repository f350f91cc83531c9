#![warn(missing_docs)]

//! The csip formula engine: a workbook of linked tables with formula columns,
//! recalculated incrementally.
//!
//! Build a [`Workbook`] from a [`Schema`], load rows with [`Workbook::import`],
//! change it with [`Workbook::apply`] (a [`Transaction`] in, a [`ChangeSet`]
//! out), read cells with [`Workbook::value`], move its [`Clock`] with
//! [`Workbook::set_clock`]. An edit recomputes only the cells that depend on it.
//!
//! ```
//! use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema, Transaction, Value, Workbook};
//!
//! let schema = Schema::new()
//!     .with_table(
//!         TableSchema::new("Accounts")
//!             .with_column(ColumnSchema::data("Name", ColumnType::Text).required().unique())
//!             .with_column(ColumnSchema::formula(
//!                 "Health",
//!                 ColumnType::Number,
//!                 "Average(Filter([Metrics], [Account] = thisRow).[Score])",
//!             )),
//!     )
//!     .with_table(
//!         TableSchema::new("Metrics")
//!             .with_column(ColumnSchema::data("Account", ColumnType::Relation { table: "Accounts".into(), multiple: false }))
//!             .with_column(ColumnSchema::data("Score", ColumnType::Number)),
//!     );
//! let clock = Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
//! let mut wb = Workbook::new(&schema, clock)?;
//! let accounts = wb.table_id("Accounts")?;
//! let metrics = wb.table_id("Metrics")?;
//! let name = wb.column_id(accounts, "Name")?;
//! let health = wb.column_id(accounts, "Health")?;
//! let (account, score) = (wb.column_id(metrics, "Account")?, wb.column_id(metrics, "Score")?);
//!
//! let ids = wb.import(vec![
//!     (accounts, vec![vec![(name, Value::from("Gard AS"))]]),
//!     (metrics, vec![
//!         vec![(account, Value::from("Gard AS")), (score, Value::from(80))],
//!         vec![(account, Value::from("Gard AS")), (score, Value::from(90))],
//!     ]),
//! ])?;
//! let (gard, first_metric) = (ids[0][0], ids[1][0]);
//! assert_eq!(wb.value(health, gard)?, &Value::from(85));
//!
//! let changes = wb.apply(Transaction::new().set(score, first_metric, 40))?;
//! assert_eq!(changes.get(health, gard).unwrap().new, Value::from(65));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where to look: values and `=` in `value.rs`; the function library in
//! `functions/`; binding in `bind.rs`; the interpreter in `eval.rs`; what a
//! formula depends on in `deps.rs`; recalculation in `recalc.rs`; transactions
//! in `transaction.rs`; case files in `casefile.rs`; the table files read in
//! `load.rs` and written back (`Schema::to_table_files`) in `write.rs`.
//!
//! With the `serde` feature, the schema, values, ids, transactions and change
//! sets are `Serialize` and `Deserialize` in stable JSON shapes
//! (`docs/engine-json.md`; the impls in `json/`).
//!
//! This crate does no I/O and reads no clock: loaders take text, and the host
//! passes the time in.
//!
//! # Features
//!
//! - `files` (default): the table and data file formats (TOML, one table per
//!   file): `schema_from_files`, `SourceFile`, `Workbook::load_files`,
//!   `Workbook::import_files`, and `Schema::to_table_files` to write a schema
//!   back. Brings in `toml` and `serde`.
//! - `cases` (default, needs `files`): the formula case-file harness,
//!   `CaseFile` and its report; a test tool.
//! - `serde` (off by default): `Serialize` and `Deserialize` in the JSON
//!   shapes above.
//!
//! A service that builds its [`Schema`] in code needs neither `files` nor
//! `cases`: `csip-engine = { version = "0.1", default-features = false }`.
//!
//! # The language
//!
//! The formula language, every function with examples (which a test of this
//! crate evaluates), is specified in `docs/formula-language.md` of the csip
//! source; [`Function`] lists the functions.

// The README's examples run as doctests, so that they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod bind;
mod budget;
mod build;
#[cfg(feature = "cases")]
mod casefile;
mod coerce;
mod data;
mod deps;
mod display;
mod error;
mod eval;
mod expr;
mod functions;
mod history;
mod ids;
mod index;
#[cfg(feature = "serde")]
mod json;
#[cfg(feature = "files")]
mod load;
mod maintain;
mod num;
mod recalc;
mod schema;
mod schema_change;
mod snapshot;
mod store;
mod transaction;
mod value;
mod view;
mod workbook;
#[cfg(feature = "files")]
mod write;

pub use budget::{Budget, CancelFlag, Exceeded, Limits};
#[cfg(feature = "cases")]
pub use casefile::{CaseFile, CaseFileError, CaseOutcome, CaseReport};
pub use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
pub use coerce::{DateTextError, parse_date, parse_datetime};
pub use csip_formula::Diagnostic;
pub use data::Clock;
pub use error::{FileError, FormulaError, LoadError, SchemaError, SchemaProblem};
pub use functions::Function;
pub use history::{Change, ChangeCause, DEFAULT_UNDO_LIMIT, MAX_UNDO_STEPS};
pub use ids::{CellId, ColumnId, LookupError, RowId, TableId};
#[cfg(feature = "files")]
pub use load::{SourceFile, schema_from_files};
pub use recalc::CellChange;
pub use rust_decimal::Decimal;
pub use schema::{
    ColumnSchema, ColumnType, FieldSchema, FormulaText, ParamSchema, Schema, SortKey, SourceOrigin,
    TableSchema, TileSchema, ViewLayout, ViewSchema,
};
pub use schema_change::SchemaChange;
pub use snapshot::SnapshotError;
pub use transaction::{
    ChangeSet, DeletedRow, Op, Restorer, RowValues, RowsWithIds, Transaction, TransactionError,
    TransactionErrorKind,
};
pub use value::{ErrorKind, EvalError, FromFloatError, Value, compare, values_equal};
pub use view::{
    ViewError, ViewGroup, ViewInfo, ViewLink, ViewPage, ViewReads, ViewResult, ViewRow,
};
pub use workbook::{MemoryUsage, PreparedFormula, Workbook};
#[cfg(feature = "files")]
pub use write::{SchemaWriteError, SchemaWriteProblem};
