//! `csip ingest`: the daily metrics report into a workbook file, from a
//! file, an e-mail, a maildir folder, an IMAP mailbox or a Tableau view
//! (docs/ingest.md). Every source ends in `csip_ingest::ingest`: all or
//! nothing, one commit with its Automation_Logs row and its Slack message.

use crate::progress::{bar, seconds, spinner};
use crate::stored::{actor, open, system_now};
use csip_engine::NaiveDate;
use csip_ingest::{Format, IngestConfig, IngestError, Run, Settings, SourceKind, Step, Summary};
use csip_store::Store;
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the report comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// A CSV or JSON file.
    File(PathBuf),
    /// `.eml` files.
    Eml(Vec<PathBuf>),
    /// A maildir folder.
    Maildir(PathBuf),
    /// The configured IMAP mailbox.
    Imap,
    /// The configured Tableau view.
    Tableau,
}

/// What `csip ingest` was asked.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) db: PathBuf,
    pub(crate) source: Source,
    pub(crate) mapping: Option<String>,
    pub(crate) format: Option<String>,
    pub(crate) config: csip_store::Config,
    pub(crate) who: Option<String>,
    pub(crate) today: NaiveDate,
}

pub(crate) fn ingest(request: Request) -> Result<String, String> {
    let section = IngestConfig::load(&request.config).map_err(|e| format!("error: {e}"))?;
    let settings = section
        .settings(&request.config, request.mapping.as_deref())
        .map_err(|e| format!("error: {e}"))?;
    let who = actor(request.who.as_deref());
    match &request.source {
        Source::File(path) => {
            let format = match request.format.as_deref() {
                Some("csv") => Format::Csv,
                Some("json") => Format::Json,
                Some(other) => return Err(format!("error: --format {other}: give csv or json")),
                None if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) => Format::Json,
                None => Format::Csv,
            };
            let bytes = read_file(path, settings.limits.max_bytes)?;
            let mut store = open(&request.db, request.today)?;
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            let run = Run::new(SourceKind::File, &name, system_now());
            one(&mut store, &bytes, format, &settings, &run, &who, &name)
        }
        other => sources::ingest(other, &request, &section, &settings, &who),
    }
}

/// Reads a report file, refusing one over the limit before reading it.
pub(crate) fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("error: cannot read {}: {e}", path.display()))?
        .len();
    if size > limit {
        return Err(format!(
            "error: {}: {}",
            path.display(),
            IngestError::TooLarge { bytes: size, limit }
        ));
    }
    std::fs::read(path).map_err(|e| format!("error: cannot read {}: {e}", path.display()))
}

/// Ingests one report, with a bar while it reads; the summary, or the
/// error naming every bad row.
pub(crate) fn one(
    store: &mut Store,
    bytes: &[u8],
    format: Format,
    settings: &Settings,
    run: &Run,
    who: &str,
    name: &str,
) -> Result<String, String> {
    let started = Instant::now();
    // A bar only for a report worth watching.
    let big = bytes.len() > 4 * 1024 * 1024;
    let mut shown: Option<ProgressBar> = None;
    let mut progress = |step: Step| {
        if !big {
            return;
        }
        match step {
            Step::Reading { done, total } => {
                let b = shown.get_or_insert_with(|| bar(total, "reading {bar:40} {bytes}/{total_bytes} {msg}"));
                b.set_position(done);
            }
            Step::Checking => {
                if let Some(b) = shown.take() {
                    b.finish_and_clear();
                }
                shown = Some(spinner("checking every row against the workbook".into()));
            }
            Step::Writing => {
                if let Some(b) = shown.take() {
                    b.finish_and_clear();
                }
                shown = Some(spinner("applying, recalculating and writing".into()));
            }
        }
    };
    let result = csip_ingest::ingest(store, bytes, format, settings, run, who, &mut progress);
    if let Some(b) = shown.take() {
        b.finish_and_clear();
    }
    match result {
        Ok(summary) => Ok(describe(name, &summary, seconds(started.elapsed()))),
        Err(e) => Err(format!("error: {name}: {e}")),
    }
}

/// The summary people read.
pub(crate) fn describe(name: &str, s: &Summary, took: String) -> String {
    let c = &s.counts;
    let mut out = format!(
        "Ingested {name}: {} rows, {} metrics updated, {} created",
        c.rows, c.updated, c.created
    );
    if c.repeated > 0 {
        out.push_str(&format!(", {} repeated rows written once", c.repeated));
    }
    out.push_str(&format!(
        "; {} accounts; {} cells changed; in {took}.\n",
        c.accounts, s.cells_changed
    ));
    if !s.health_moved.is_empty() {
        let shown: Vec<String> = s
            .health_moved
            .iter()
            .take(10)
            .map(|(a, before, after)| format!("{a} {before} → {after}"))
            .collect();
        out.push_str(&format!(
            "Health score moved for {} accounts: {}{}.\n",
            s.health_moved.len(),
            shown.join(", "),
            if s.health_moved.len() > 10 { ", …" } else { "" }
        ));
    }
    if !c.extra_columns.is_empty() {
        out.push_str(&format!("Columns ignored: {}.\n", c.extra_columns.join(", ")));
    }
    out
}

/// The e-mail and Tableau sources.
mod sources {
    use super::{Request, Source};
    use csip_ingest::{IngestConfig, Settings};

    pub(super) fn ingest(
        source: &Source,
        _request: &Request,
        _section: &IngestConfig,
        _settings: &Settings,
        _who: &str,
    ) -> Result<String, String> {
        Err(format!("error: {source:?} is not built into this csip"))
    }
}
