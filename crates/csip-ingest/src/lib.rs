//! Metric ingestion (DESIGN §5 "Ingest"): the daily metrics report, as
//! CSV or the webhook's JSON, read whole, checked whole, and upserted into
//! Platform_Health_Metrics in one transaction — or, when any row is bad,
//! nothing written but the failed run's Automation_Logs row.
//!
//! One pipeline, whatever the source (a file, an HTTP body, an e-mail's
//! attachment, a Tableau view): bytes → [`read`] (decoded, columns found by
//! header, cells read as numbers and dates; no workbook needed) →
//! [`Report::plan`] (accounts and metrics found in the workbook, every bad
//! row gathered) → [`Run::prepare`] (the upsert and its Automation_Logs
//! row, or the failure's row alone) → one commit, with the Slack
//! notification put in the outbox in the same transaction
//! ([`Run::messages`]). [`ingest`] does all of it on a
//! [`Store`](csip_store::Store).
//!
//! ```
//! use csip_ingest::{ingest, Format, Run, Settings, SourceKind};
//! let dir = tempfile::tempdir()?;
//! let today = csip_workbook::sample_today();
//! let mut store = csip_store::Store::create(
//!     &dir.path().join("csip.db"),
//!     csip_workbook::table_files(),
//!     csip_workbook::pilot(today)?,
//! )?;
//! let csv = "Account,Metric Name,Current Value,Measured At\n\
//!            Gard AS,Quote API availability,99.95,2026-11-24T06:00:00Z\n";
//! let at = today.and_hms_opt(7, 0, 0).unwrap();
//! let run = Run::new(SourceKind::File, "report.csv", at);
//! let summary = ingest(&mut store, csv.as_bytes(), Format::Csv, &Settings::default(), &run, "ops", &mut |_| {})?;
//! assert_eq!(summary.counts.updated, 1);
//!
//! // One bad row: nothing written, and the error names its line.
//! let bad = "Account,Metric Name,Current Value\nGard AB,Quote API availability,99\n";
//! let run = Run::new(SourceKind::File, "bad.csv", at);
//! let e = ingest(&mut store, bad.as_bytes(), Format::Csv, &Settings::default(), &run, "ops", &mut |_| {})
//!     .unwrap_err();
//! assert!(e.to_string().contains("line 2") && e.to_string().contains("did you mean “Gard AS”"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
pub mod mapping;
mod plan;
mod read;
mod run;
pub mod text;
pub mod values;

#[cfg(feature = "imap")]
pub mod imap;
#[cfg(feature = "mail")]
pub mod mail;
#[cfg(feature = "mail")]
pub mod maildir;
#[cfg(feature = "tableau")]
pub mod tableau;

pub use config::{IngestConfig, Settings};
pub use mapping::{Field, Mapping};
pub use plan::Plan;
pub use read::{Format, Limits, Report, read, read_with};
pub use run::{
    AUTOMATION, Counts, Prepared, Run, SourceKind, Step, Summary, Verdict, already_ingested, ingest,
};

use std::fmt;

/// Why a report was not ingested. Nothing of it was written; the run's
/// Automation_Logs row says so, where there was a workbook to write it to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Nothing but white space.
    #[error("the report is empty")]
    Empty,
    /// A header and no row.
    #[error("the report has a header but no rows")]
    NoRows,
    /// Larger than `ingest.max_bytes`.
    #[error(
        "the report is {bytes} bytes, over the limit of {limit} (ingest.max_bytes in csip.toml)"
    )]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Not text in the encoding given.
    #[error("the report is not text: {reason}")]
    NotText {
        /// Why.
        reason: String,
    },
    /// Text, but not CSV.
    #[error("the report is not CSV: {reason}")]
    NotCsv {
        /// Why, with the line.
        reason: String,
    },
    /// Not the webhook's JSON.
    #[error("the body is not the metrics JSON: {reason}")]
    NotJson {
        /// Why.
        reason: String,
    },
    /// A required column is missing.
    #[error("{reason}")]
    Columns {
        /// Which, and the columns there are.
        reason: String,
    },
    /// The mapping or the configuration cannot be used.
    #[error("{reason}")]
    Mapping {
        /// Why, and what to set.
        reason: String,
    },
    /// The source holds no report (an e-mail with no CSV attachment, say).
    #[error("{reason}")]
    Source {
        /// Why, and what to do.
        reason: String,
    },
    /// Rows that cannot be ingested.
    #[error("{0}")]
    Rejected(Rejected),
    /// The workbook refused the transaction (a rule of its schema).
    #[error("the workbook refused the report: {0}")]
    Refused(String),
    /// The file could not be written.
    #[error("{0}")]
    Store(#[from] csip_store::StoreError),
}

/// A row that cannot be ingested: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// Its line in the file (its place from 1 in a JSON array); 0 for the
    /// report as a whole.
    pub line: u64,
    /// The report's header of the cell at fault.
    pub column: String,
    /// What is wrong and what to do, in a sentence.
    pub reason: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column.as_str()) {
            (0, _) => write!(f, "{}", self.reason),
            (line, "") => write!(f, "line {line}: {}", self.reason),
            (line, column) => write!(f, "line {line}, {column}: {}", self.reason),
        }
    }
}

/// A report rejected whole: every bad row, in line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    bad: Vec<BadRow>,
    rows: usize,
}

/// At most this many bad rows are told; a count says how many more.
pub const BAD_ROWS_TOLD: usize = 100;

impl Rejected {
    pub(crate) fn new(mut bad: Vec<BadRow>, rows: usize) -> Rejected {
        bad.sort_by_key(|b| b.line);
        Rejected { bad, rows }
    }

    /// Every bad row, in line order.
    pub fn bad_rows(&self) -> &[BadRow] {
        &self.bad
    }

    /// Rows the report holds, good and bad.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.bad.len();
        write!(
            f,
            "{n} of the report's {} rows cannot be ingested; nothing was written. Fix {} and send the whole report again:",
            self.rows,
            if n == 1 { "it" } else { "them" }
        )?;
        for b in self.bad.iter().take(BAD_ROWS_TOLD) {
            write!(f, "\n  {b}")?;
        }
        if n > BAD_ROWS_TOLD {
            write!(f, "\n  … and {} more", n - BAD_ROWS_TOLD)?;
        }
        Ok(())
    }
}
