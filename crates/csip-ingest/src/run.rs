//! One ingestion run: its Automation_Logs row (written with the data, or
//! alone when the report is refused), its Slack notification through the
//! outbox, its run key (so that a report already ingested — an e-mail seen
//! again after a crash — is recognised), and its summary from the change
//! set.

use crate::read::{Format, Report};
use crate::{IngestError, Plan, Rejected, Settings};
use csip_engine::{ChangeSet, NaiveDateTime, Transaction, Value, Workbook};
use csip_store::{OutboxMessage, Store};

/// Automation_Logs.Automation of an ingestion (the blueprint's webhook).
pub const AUTOMATION: &str = "Process Tableau Metrics";

/// Where a report came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// `csip ingest FILE`.
    File,
    /// `POST /api/v1/ingest/metrics`.
    Webhook,
    /// An e-mail (`--eml`, `--maildir`, `--imap`).
    Mail,
    /// A Tableau view (`--tableau`).
    Tableau,
}

impl SourceKind {
    /// How the run key and the log name it.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Webhook => "webhook",
            SourceKind::Mail => "mail",
            SourceKind::Tableau => "tableau",
        }
    }

    /// Platform_Health_Metrics.Data_Source, unless the mapping says.
    pub fn data_source(self) -> &'static str {
        match self {
            SourceKind::Webhook => "Webhook",
            _ => "Tableau Report",
        }
    }
}

/// One run: its source, its key, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The source's kind.
    pub kind: SourceKind,
    /// The source, for the log (a file's name, a message's subject).
    pub name: String,
    /// Automation_Logs.Run_Key: `Process Tableau Metrics/{kind}/{id}`.
    pub key: String,
    /// When (Automation_Logs.Run_At, and Last_Measured where the report
    /// gives no time).
    pub at: NaiveDateTime,
    /// How long reading and checking took, in milliseconds (the log's
    /// Duration_ms); set by [`ingest`] or the caller.
    pub duration_ms: u64,
}

impl Run {
    /// A run of `kind` from `name` at `at`, keyed by the time: a file or a
    /// webhook body sent again is ingested again.
    pub fn new(kind: SourceKind, name: &str, at: NaiveDateTime) -> Run {
        Run::keyed(
            kind,
            name,
            &format!("{}", at.format("%Y-%m-%dT%H:%M:%S%.f")),
            at,
        )
    }

    /// A run keyed by `id` (an e-mail's Message-ID): the same id again is
    /// recognised ([`already_ingested`]) and not ingested twice.
    pub fn keyed(kind: SourceKind, name: &str, id: &str, at: NaiveDateTime) -> Run {
        Run {
            kind,
            name: name.to_string(),
            key: format!("{AUTOMATION}/{}/{id}", kind.name()),
            at,
            duration_ms: 0,
        }
    }

    /// The transaction of this run against `wb`: the report's upsert and a
    /// Success row in Automation_Logs; or, when the report was refused or
    /// rejected, the Failed row alone (its Message the first reason, its
    /// Details every bad row told).
    pub fn prepare(
        &self,
        wb: &Workbook,
        report: Result<&Report, &IngestError>,
        settings: &Settings,
    ) -> Prepared {
        self.finish(wb, self.plan(wb, report, settings))
    }

    /// The report planned against `wb` (its data source the mapping's or
    /// the source kind's), for a caller that checks the upsert (a token's
    /// role) before [`Run::finish`] adds the log row.
    pub fn plan<'r>(
        &self,
        wb: &Workbook,
        report: Result<&Report, &'r IngestError>,
        settings: &Settings,
    ) -> Result<Result<Plan, Rejected>, &'r IngestError> {
        let data_source = settings
            .mapping
            .data_source
            .clone()
            .unwrap_or_else(|| self.kind.data_source().to_string());
        report.map(|r| r.plan(wb, settings.mapping.create_metrics, self.at, &data_source))
    }

    /// The transaction of a planned report ([`Run::plan`]) and its log row.
    pub fn finish(
        &self,
        wb: &Workbook,
        planned: Result<Result<Plan, Rejected>, &IngestError>,
    ) -> Prepared {
        match planned {
            Ok(Ok(Plan { tx, counts })) => {
                let message = format!(
                    "{} metrics processed from {} ({} updated, {} created)",
                    counts.updated + counts.created,
                    self.name,
                    counts.updated,
                    counts.created
                );
                let tx = self.log(wb, tx, "Success", counts.rows, &message, None);
                Prepared {
                    tx,
                    verdict: Verdict::Ingested(counts),
                }
            }
            Ok(Err(rejected)) => {
                let first = rejected
                    .bad_rows()
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let message = format!(
                    "{} of {} rows rejected from {}; nothing written. First: {first}",
                    rejected.bad_rows().len(),
                    rejected.rows(),
                    self.name
                );
                let details = rejected.to_string();
                let tx = self.log(
                    wb,
                    Transaction::new(),
                    "Failed",
                    rejected.rows(),
                    &message,
                    Some(&details),
                );
                Prepared {
                    tx,
                    verdict: Verdict::Rejected(rejected),
                }
            }
            Err(error) => {
                let message = format!("{} refused: {error}", self.name);
                let tx = self.log(wb, Transaction::new(), "Failed", 0, &message, None);
                Prepared {
                    tx,
                    verdict: Verdict::Refused(error.to_string()),
                }
            }
        }
    }

    /// `tx` and this run's Automation_Logs row (when the workbook has the
    /// table).
    fn log(
        &self,
        wb: &Workbook,
        tx: Transaction,
        status: &str,
        records: usize,
        message: &str,
        details: Option<&str>,
    ) -> Transaction {
        csip_workbook::log::log_row(
            wb,
            tx,
            AUTOMATION,
            &self.key,
            self.at,
            status,
            records,
            message,
            details.unwrap_or(""),
            self.duration_ms,
        )
    }

    /// The Slack notification of an ingested batch, for the outbox: the
    /// blueprint's "Daily metrics updated. {count} metrics processed.", and
    /// the accounts whose Health_Score moved (from the change set), keyed
    /// by the run so that it is put there once.
    pub fn messages(
        &self,
        channel: Option<&str>,
        counts: &Counts,
        wb: &Workbook,
        changes: &ChangeSet,
    ) -> Vec<OutboxMessage> {
        let Some(channel) = channel else {
            return Vec::new();
        };
        let moved = health_moved(wb, changes);
        let mut text = format!(
            "<!channel> Daily metrics updated. {} metrics processed.",
            counts.updated + counts.created
        );
        if !moved.is_empty() {
            text.push_str("\nHealth score moved: ");
            let shown: Vec<String> = moved
                .iter()
                .take(20)
                .map(|(name, before, after)| format!("{name} {before} → {after}"))
                .collect();
            text.push_str(&shown.join(", "));
            if moved.len() > 20 {
                text.push_str(&format!(", and {} more", moved.len() - 20));
            }
        }
        vec![OutboxMessage::new(
            format!("ingest:{}", self.key),
            "slack",
            channel,
            serde_json::json!({"channel": channel, "text": text}),
        )]
    }
}

/// The accounts whose Health_Score a change set moved: name, before, after.
fn health_moved(wb: &Workbook, changes: &ChangeSet) -> Vec<(String, String, String)> {
    let Ok(accounts) = wb.table_id("Account_Master") else {
        return Vec::new();
    };
    let Ok(score) = wb.column_id(accounts, "Health_Score") else {
        return Vec::new();
    };
    changes
        .changes
        .iter()
        .filter(|c| c.cell.column == score)
        .map(|c| {
            (
                wb.display(&Value::Row(accounts, c.cell.row)),
                c.old.as_ref().map(|v| wb.display(v)).unwrap_or_default(),
                wb.display(&c.new),
            )
        })
        .collect()
}

/// A run's transaction and what it says.
#[derive(Debug)]
pub struct Prepared {
    /// The transaction to commit (the log row at least).
    pub tx: Transaction,
    /// Whether the report is in it.
    pub verdict: Verdict,
}

/// What became of a report.
#[derive(Debug)]
pub enum Verdict {
    /// Upserted.
    Ingested(Counts),
    /// Rows were bad: nothing but the log row.
    Rejected(Rejected),
    /// The report as a whole could not be read: nothing but the log row.
    Refused(String),
}

/// How many rows did what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows in the report.
    pub rows: usize,
    /// Metrics set.
    pub updated: usize,
    /// Metrics created.
    pub created: usize,
    /// Rows repeating another with the same value.
    pub repeated: usize,
    /// Accounts named.
    pub accounts: usize,
    /// The report's columns ignored.
    pub extra_columns: Vec<String>,
}

/// An ingested report: its counts, the commit, and what it moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// How many rows did what.
    pub counts: Counts,
    /// Cells the commit changed (data and formula).
    pub cells_changed: usize,
    /// Accounts whose Health_Score moved: name, before, after.
    pub health_moved: Vec<(String, String, String)>,
}

impl Summary {
    /// The summary of a committed run from its change set.
    pub fn of(counts: Counts, wb: &Workbook, changes: &ChangeSet) -> Summary {
        Summary {
            counts,
            cells_changed: changes.changes.len(),
            health_moved: health_moved(wb, changes),
        }
    }

    /// The summary as JSON (the webhook's answer).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rows": self.counts.rows,
            "metrics_updated": self.counts.updated,
            "metrics_created": self.counts.created,
            "rows_repeated": self.counts.repeated,
            "accounts": self.counts.accounts,
            "ignored_columns": self.counts.extra_columns,
            "cells_changed": self.cells_changed,
            "health_moved": self.health_moved.iter().map(|(a, b, c)| serde_json::json!({"account": a, "before": b, "after": c})).collect::<Vec<_>>(),
        })
    }
}

/// How far [`ingest`] has come, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Reading the report: bytes of its text read, of about `total`.
    Reading {
        /// Read so far.
        done: u64,
        /// The report's size.
        total: u64,
    },
    /// Finding its accounts and metrics, checking every row.
    Checking,
    /// Applying, recalculating, and writing the commit.
    Writing,
}

/// Whether a run with that key is already in Automation_Logs, and how it
/// ended (`Success`, `Failed`).
pub fn already_ingested(wb: &Workbook, key: &str) -> Option<String> {
    csip_workbook::log::already_logged(wb, key)
}

/// Ingests a report into `store` in one commit by `actor`: read, checked,
/// upserted with its log row and its notification in the outbox; or the
/// failed run's log row alone. `run.duration_ms` is measured here.
///
/// # Errors
///
/// The report was refused or rejected (after its log row was committed),
/// the workbook refused the transaction, or the file could not be written.
pub fn ingest(
    store: &mut Store,
    bytes: &[u8],
    format: Format,
    settings: &Settings,
    run: &Run,
    actor: &str,
    progress: &mut dyn FnMut(Step),
) -> Result<Summary, IngestError> {
    let started = std::time::Instant::now();
    let total = bytes.len() as u64;
    let report = crate::read::read_with(
        bytes,
        format,
        &settings.mapping,
        settings.limits,
        &mut |done| {
            progress(Step::Reading { done, total });
        },
    );
    progress(Step::Checking);
    let mut run = run.clone();
    let planned = run.plan(store.workbook(), report.as_ref(), settings);
    run.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let Prepared { tx, verdict } = run.finish(store.workbook(), planned);
    // The report's rows are in the transaction now: only its error is kept.
    let refused = report.err();
    let counts = match &verdict {
        Verdict::Ingested(c) => Some(c.clone()),
        _ => None,
    };
    let channel = settings.channel.clone();
    progress(Step::Writing);
    let result = store.commit_with_messages(tx, actor, run.at, |wb, changes| match &counts {
        Some(c) => run.messages(channel.as_deref(), c, wb, changes),
        None => Vec::new(),
    });
    let changes = match result {
        Ok(changes) => changes,
        Err(csip_store::StoreError::Rejected(e)) => {
            return Err(IngestError::Refused(e.to_string()));
        }
        Err(e) => return Err(IngestError::Store(e)),
    };
    match verdict {
        Verdict::Ingested(counts) => Ok(Summary::of(counts, store.workbook(), &changes)),
        Verdict::Rejected(rejected) => Err(IngestError::Rejected(rejected)),
        Verdict::Refused(_) => Err(refused.unwrap_or(IngestError::Empty)),
    }
}
