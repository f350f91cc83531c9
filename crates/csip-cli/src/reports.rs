//! `csip qbr` and `csip roi` (docs/reports.md): the report buttons from the
//! command line. The files are written to a folder, kept in the workbook
//! file's file area and listed in the account's Attachments (the ROI's sums
//! written back beside them) in one commit, and e-mailed through the outbox
//! when asked.

use crate::progress::{seconds, spinner};
use crate::stored::{actor, open, system_now};
use csip_engine::{NaiveDate, Transaction};
use csip_reports::keep::{Kept, keep};
use csip_reports::roi::{Period, RoiRequest};
use csip_reports::{Format, ReportFile, qbr::QbrRequest};
use std::path::Path;
use std::time::Instant;

/// What both commands share.
pub(crate) struct Common<'a> {
    pub(crate) db: &'a Path,
    pub(crate) out: &'a Path,
    pub(crate) email: &'a [String],
    pub(crate) who: Option<&'a str>,
    pub(crate) today: NaiveDate,
}

pub(crate) fn qbr(
    common: &Common<'_>,
    account: &str,
    from: NaiveDate,
    to: NaiveDate,
    appendix: bool,
    format: &str,
) -> Result<String, String> {
    let format: Format = format.parse().map_err(|e| format!("error: {e}"))?;
    let mut store = open(common.db, common.today)?;
    let started = Instant::now();
    let request = QbrRequest {
        account: account.to_string(),
        from,
        to,
        appendix,
    };
    let s = spinner(format!("writing the QBR of {account}"));
    let made = csip_reports::qbr::generate(store.workbook(), &request, format, system_now());
    s.finish_and_clear();
    let qbr = made.map_err(|e| format!("error: {e}"))?;
    let made_in = started.elapsed();
    let email = qbr.email(&request, common.email);
    let mut out = written(common.out, &qbr.files)?;
    let kept = keep(
        &mut store,
        qbr.row,
        &qbr.files,
        Transaction::new(),
        email.as_ref(),
        &actor(common.who),
        system_now(),
    )
    .map_err(|e| format!("error: {e}"))?;
    out.push_str(&format!(
        "The QBR of {} ({from} to {to}) made in {}.\n",
        qbr.account,
        seconds(made_in)
    ));
    out.push_str(&kept_lines(&kept, common.email));
    Ok(out)
}

pub(crate) fn roi(
    common: &Common<'_>,
    account: &str,
    period: &str,
    include_in_progress: bool,
    json: bool,
) -> Result<String, String> {
    let period: Period = period.parse().map_err(|e| format!("error: {e}"))?;
    let mut store = open(common.db, common.today)?;
    let started = Instant::now();
    let request = RoiRequest {
        account: account.to_string(),
        period,
        include_in_progress,
    };
    let s = spinner(format!("calculating the Platform ROI of {account}"));
    let made = csip_reports::roi::generate(store.workbook(), &request, system_now());
    s.finish_and_clear();
    let (roi, write_back, file) = made.map_err(|e| format!("error: {e}"))?;
    let made_in = started.elapsed();
    let email = roi.email(common.email);
    let files = [file];
    let mut out = written(common.out, &files)?;
    let kept = keep(
        &mut store,
        roi.row,
        &files,
        write_back,
        email.as_ref(),
        &actor(common.who),
        system_now(),
    )
    .map_err(|e| format!("error: {e}"))?;
    if json {
        let mut value = roi.to_json();
        value["files"] = kept
            .files
            .iter()
            .map(|(id, link)| serde_json::json!({"id": id, "link": link}))
            .collect();
        return serde_json::to_string_pretty(&value)
            .map(|t| t + "\n")
            .map_err(|e| format!("error: {e}"));
    }
    out.push_str(&format!(
        "Platform ROI of {}, {}: {} initiatives counted (made in {}).\n",
        roi.account,
        roi.period_text(),
        roi.initiatives.len(),
        seconds(made_in)
    ));
    for f in &roi.figures {
        out.push_str(&format!(
            "  {:<16} {}\n",
            f.label,
            csip_reports::roi::shown(f)
        ));
    }
    out.push_str(&kept_lines(&kept, common.email));
    Ok(out)
}

/// Writes the files into `out` (created when missing); a line per file.
fn written(out: &Path, files: &[ReportFile]) -> Result<String, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("error: {}: {e}", out.display()))?;
    let mut lines = String::new();
    for f in files {
        let path = out.join(&f.name);
        std::fs::write(&path, &f.bytes).map_err(|e| format!("error: {}: {e}", path.display()))?;
        lines.push_str(&format!(
            "wrote {} ({:.1} kB)\n",
            path.display(),
            f.bytes.len() as f64 / 1e3
        ));
    }
    Ok(lines)
}

fn kept_lines(kept: &Kept, email: &[String]) -> String {
    let mut out = match kept.commit {
        Some(c) => format!(
            "Kept in the workbook file as commit {c}, listed in the account's Attachments:\n"
        ),
        None => {
            "Already kept in the workbook file (the same files were listed); nothing written:\n"
                .into()
        }
    };
    for (_, link) in &kept.files {
        out.push_str(&format!("  {link}\n"));
    }
    if kept.emailed {
        out.push_str(&format!(
            "E-mail to {} put in the outbox (`csip outbox send` or `csip serve` delivers it).\n",
            email.join(", ")
        ));
    } else if !email.is_empty() {
        out.push_str("These files were already e-mailed to these people; not sent again.\n");
    }
    out
}
