//! `csip automations run|list` (docs/automations.md): the blueprint's rules
//! on a workbook file, once per slot.

use crate::stored::{open, system_now};
use chrono::{DateTime, Utc};
use csip_automations::{Automations, AutomationsConfig, Outcome};
use std::fmt::Write as _;
use std::path::Path;

/// The automations of `db` with `config`'s settings, their rules checked
/// against the workbook.
pub(crate) fn load(
    db: &Path,
    config: &csip_store::Config,
    wb: &csip_engine::Workbook,
) -> Result<Automations, String> {
    let section = AutomationsConfig::load(config).map_err(|e| format!("error: {e}"))?;
    let rules = section.rules().map_err(|e| errors(&e))?;
    rules.check(wb).map_err(|e| errors(&e))?;
    let settings = section.settings(db).map_err(|e| format!("error: {e}"))?;
    let mut automations = Automations::new(rules, settings);
    let daily = csip_server::AnypointDaily::new(config).map_err(|e| format!("error: {e}"))?;
    automations.register(std::sync::Arc::new(daily));
    Ok(automations)
}

fn errors(e: &[csip_automations::RuleError]) -> String {
    let mut out = String::new();
    for e in e {
        let _ = writeln!(out, "error: {e}");
    }
    out
}

/// The time to run as of: `--at` (RFC 3339), else now.
fn at(given: Option<&str>) -> Result<DateTime<Utc>, String> {
    match given {
        None => Ok(system_now().and_utc()),
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("error: --at {text}: {e}; write it as RFC 3339, such as 2026-12-07T08:00:00+01:00")),
    }
}

/// `csip automations run`: every slot due as of `at` (each rule's latest
/// since its last run, missed ones coalesced), and the change rules over
/// every row; each run one commit, or nothing when its key is logged.
pub(crate) fn run(
    db: &Path,
    config: &csip_store::Config,
    when: Option<&str>,
    rule: Option<&str>,
) -> Result<String, String> {
    let now = at(when)?;
    let mut store = open(db, now.date_naive())?;
    let automations = load(db, config, store.workbook())?;
    if let Some(name) = rule
        && automations.rules().get(name).is_none()
    {
        let names: Vec<&str> = automations
            .rules()
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        return Err(format!(
            "error: there is no rule “{name}”; the rules are {}",
            names.join(", ")
        ));
    }
    let mut reports = automations.run_due(&mut store, now, rule);
    let change_rules = rule.is_none_or(|r| {
        automations
            .rules()
            .get(r)
            .is_some_and(|r| matches!(r.trigger, csip_automations::rules::Trigger::Change { .. }))
    });
    if change_rules {
        reports.extend(automations.check_all(&mut store, now));
    }
    let mut out = String::new();
    let mut failed = false;
    for r in &reports {
        let slot = match &r.slot.zone {
            Some(z) => format!(
                "{} ({z}) {}",
                r.slot.rule,
                r.slot.at.format("%Y-%m-%dT%H:%MZ")
            ),
            None => format!("{} {}", r.slot.rule, r.slot.at.format("%Y-%m-%dT%H:%MZ")),
        };
        match &r.outcome {
            Outcome::Ran {
                status, message, ..
            } => {
                let _ = writeln!(out, "{slot}: {status}: {message}");
            }
            Outcome::AlreadyDone => {
                let _ = writeln!(out, "{slot}: already run");
            }
            Outcome::NotCommitted(e) => {
                failed = true;
                let _ = writeln!(out, "{slot}: not committed: {e}");
            }
        }
    }
    if reports.is_empty() {
        let _ = writeln!(out, "nothing due at {}", now.format("%Y-%m-%dT%H:%M:%SZ"));
    }
    if failed { Err(out) } else { Ok(out) }
}

/// `csip automations list`: each rule (per zone), its next slot in UTC and
/// local time, its last run and status.
pub(crate) fn list(db: &Path, config: &csip_store::Config) -> Result<String, String> {
    let now = system_now().and_utc();
    let store = open(db, now.date_naive())?;
    let automations = load(db, config, store.workbook())?;
    let mut out = String::new();
    for l in automations.list(store.workbook(), now) {
        let next = match (&l.next, &l.next_local) {
            (Some(n), Some(local)) => format!("next {} ({local})", n.format("%Y-%m-%d %H:%M UTC")),
            _ => "on change".to_string(),
        };
        let last = match &l.last {
            Some((at, status)) => format!("last {} {status}", at.format("%Y-%m-%d %H:%M UTC")),
            None => "never run".to_string(),
        };
        let _ = writeln!(out, "{:<28} {:<45} {next}; {last}", l.rule, l.when);
    }
    Ok(out)
}
