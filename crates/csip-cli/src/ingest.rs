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
                None if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
                {
                    Format::Json
                }
                None => Format::Csv,
            };
            let bytes = read_file(path, settings.limits.max_bytes)?;
            let mut store = open(&request.db, request.today)?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
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
                let b = shown.get_or_insert_with(|| {
                    bar(total, "reading {bar:40} {bytes}/{total_bytes} {msg}")
                });
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
            if s.health_moved.len() > 10 {
                ", …"
            } else {
                ""
            }
        ));
    }
    if !c.extra_columns.is_empty() {
        out.push_str(&format!(
            "Columns ignored: {}.\n",
            c.extra_columns.join(", ")
        ));
    }
    out
}

/// The e-mail and Tableau sources.
mod sources {
    use super::{Request, Source, one, read_file};
    use crate::stored::{open, system_now};
    use csip_ingest::mail::{Found, HandleError, Handled, MailError, MailRules, csv_attachment};
    use csip_ingest::{
        Format, IngestConfig, IngestError, Run, Settings, SourceKind, already_ingested,
    };
    use csip_store::Store;
    use std::fmt::Write as _;
    use std::time::Duration;

    pub(super) fn ingest(
        source: &Source,
        request: &Request,
        section: &IngestConfig,
        settings: &Settings,
        who: &str,
    ) -> Result<String, String> {
        match source {
            Source::File(_) => Err("error: a file is not a mail or Tableau source".into()),
            Source::Eml(paths) => eml(paths, request, section, who),
            Source::Maildir(dir) => maildir(dir, request, section, who),
            Source::Imap => imap(request, section, who),
            Source::Tableau => tableau(request, section, settings, who),
        }
    }

    /// The mail rules, and the settings a message's report is read with
    /// (`--mapping`, else the rules', else the default).
    fn mail_settings(
        request: &Request,
        section: &IngestConfig,
    ) -> Result<(MailRules, Settings), String> {
        let rules = section.mail.clone().unwrap_or_default();
        let mapping = request.mapping.as_deref().or(rules.mapping.as_deref());
        let settings = section
            .settings(&request.config, mapping)
            .map_err(|e| format!("error: {e}"))?;
        Ok((rules, settings))
    }

    /// One message: its report committed (or recognised as committed
    /// before), or its failure logged; a line for the summary.
    fn handle(
        store: &mut Store,
        found: Result<Found, MailError>,
        name: &str,
        settings: &Settings,
        who: &str,
        lines: &mut String,
    ) -> Result<Handled, HandleError> {
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                // No report in it: the failed run is logged, the message set aside.
                let reason = e.to_string();
                let run = Run::new(SourceKind::Mail, name, system_now());
                let error = IngestError::Source {
                    reason: reason.clone(),
                };
                let prepared = run.finish(store.workbook(), Err(&error));
                store
                    .commit(prepared.tx, who, run.at)
                    .map_err(|e| HandleError(e.to_string()))?;
                let _ = writeln!(lines, "{name}: set aside: {reason}");
                return Ok(Handled::Rejected { reason });
            }
        };
        let label = if found.subject.is_empty() {
            name.to_string()
        } else {
            found.subject.clone()
        };
        let run = Run::keyed(SourceKind::Mail, &label, &found.key, system_now());
        if let Some(status) = already_ingested(store.workbook(), &run.key) {
            let _ = writeln!(lines, "{name}: already ingested ({status}), not again");
            return Ok(Handled::Committed);
        }
        let bytes = &found.attachment.bytes;
        match csip_ingest::ingest(store, bytes, Format::Csv, settings, &run, who, &mut |_| {}) {
            Ok(summary) => {
                lines.push_str(&super::describe(
                    &format!("{name} ({})", found.attachment.name),
                    &summary,
                    format!("{} ms", run_ms(&run)),
                ));
                Ok(Handled::Committed)
            }
            Err(IngestError::Store(e)) => Err(HandleError(e.to_string())),
            Err(e) => {
                let _ = writeln!(lines, "{name}: rejected: {e}");
                Ok(Handled::Rejected {
                    reason: e.to_string().lines().next().unwrap_or_default().to_string(),
                })
            }
        }
    }

    fn run_ms(run: &Run) -> i64 {
        (system_now() - run.at).num_milliseconds().max(0)
    }

    fn eml(
        paths: &[std::path::PathBuf],
        request: &Request,
        section: &IngestConfig,
        who: &str,
    ) -> Result<String, String> {
        let (rules, settings) = mail_settings(request, section)?;
        let mut store = open(&request.db, request.today)?;
        let mut lines = String::new();
        let mut failed = false;
        for path in paths {
            let name = path.display().to_string();
            let raw = read_file(path, settings.limits.max_bytes)?;
            match csv_attachment(&raw, &rules) {
                Err(MailError::NotMatching { reason }) => {
                    failed = true;
                    let _ = writeln!(lines, "{name}: not a report by [ingest.mail]: {reason}");
                }
                found => {
                    let handled = handle(&mut store, found, &name, &settings, who, &mut lines)
                        .map_err(|e| format!("{lines}error: {name}: {e}"))?;
                    failed |= matches!(handled, Handled::Rejected { .. });
                }
            }
        }
        if failed { Err(lines) } else { Ok(lines) }
    }

    fn maildir(
        dir: &std::path::Path,
        request: &Request,
        section: &IngestConfig,
        who: &str,
    ) -> Result<String, String> {
        let (rules, settings) = mail_settings(request, section)?;
        let mut store = open(&request.db, request.today)?;
        let mut lines = String::new();
        let summary = csip_ingest::maildir::process(dir, &rules, &mut |path, found| {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            handle(&mut store, found, &name, &settings, who, &mut lines)
        })
        .map_err(|e| format!("{lines}error: {e}"))?;
        let _ = writeln!(
            lines,
            "{}: {} reports committed, {} rejected, {} messages not ours left in new/.",
            dir.display(),
            summary.committed,
            summary.rejected.len(),
            summary.skipped
        );
        Ok(lines)
    }

    fn imap(request: &Request, section: &IngestConfig, who: &str) -> Result<String, String> {
        let Some(config) = &section.imap else {
            return Err(
                "error: --imap needs [ingest.imap] in csip.toml (url, user); see docs/ingest.md"
                    .into(),
            );
        };
        let Some(password) = request.config.secrets.get("CSIP_IMAP_PASSWORD") else {
            return Err(
                "error: --imap needs the password in CSIP_IMAP_PASSWORD (or the secrets file)"
                    .into(),
            );
        };
        let (rules, settings) = mail_settings(request, section)?;
        let mut store = open(&request.db, request.today)?;
        let mut lines = String::new();
        let summary = csip_ingest::imap::process(config, password, &rules, &mut |uid, found| {
            handle(
                &mut store,
                found,
                &format!("message {uid}"),
                &settings,
                who,
                &mut lines,
            )
        })
        .map_err(|e| format!("{lines}error: {e}"))?;
        let _ = writeln!(
            lines,
            "{}: {} reports committed, {} rejected, {} messages not ours left unseen.",
            config.url,
            summary.committed,
            summary.rejected.len(),
            summary.skipped
        );
        Ok(lines)
    }

    fn tableau(
        request: &Request,
        section: &IngestConfig,
        settings: &Settings,
        who: &str,
    ) -> Result<String, String> {
        let Some(config) = section.tableau.clone() else {
            return Err("error: --tableau needs [ingest.tableau] in csip.toml (server, version, site, view); see docs/ingest.md".into());
        };
        let config = config.with_env_override(&|name| std::env::var(name).ok());
        let secrets = &request.config.secrets;
        let (Some(name), Some(secret)) = (
            secrets.get(csip_ingest::tableau::TOKEN_NAME_ENV),
            secrets.get(csip_ingest::tableau::TOKEN_SECRET_ENV),
        ) else {
            return Err("error: --tableau needs a personal access token in CSIP_TABLEAU_TOKEN_NAME and CSIP_TABLEAU_TOKEN_SECRET (or the secrets file)".into());
        };
        let settings = match (&request.mapping, &config.mapping) {
            (None, Some(mapping)) => section
                .settings(&request.config, Some(mapping))
                .map_err(|e| format!("error: {e}"))?,
            _ => settings.clone(),
        };
        let s = crate::progress::spinner(format!(
            "pulling the view {} from {}",
            config.view, config.server
        ));
        let csv =
            csip_ingest::tableau::fetch_view_csv(&config, name, secret, Duration::from_secs(60));
        s.finish_and_clear();
        let csv = csv.map_err(|e| format!("error: {e}"))?;
        let mut store = open(&request.db, request.today)?;
        let label = format!("Tableau view {}", config.view);
        let run = Run::new(SourceKind::Tableau, &label, system_now());
        one(&mut store, &csv, Format::Csv, &settings, &run, who, &label)
    }
}
