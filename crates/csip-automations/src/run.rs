//! Running rules: which slots are due (per rule, and per time zone for a
//! rule whose rows carry their zone), each run's effects — rows inserted,
//! cells set, messages for the outbox, a backup — and its Automation_Logs
//! row keyed by (rule, slot), all in one commit, so that a rerun, a
//! restart or a second scheduler finds the key and does nothing.

use crate::rules::{Action, Formula, Rule, Rules, Scope, Trigger, Zone};
use crate::schedule::{Schedule, slot_key};
use chrono::{DateTime, Utc};
use csip_engine::{
    Budget, ChangeSet, Clock, ColumnId, PreparedFormula, RowId, TableId, Transaction, Value,
    Workbook,
};
use csip_store::{OutboxMessage, Store};
pub use csip_workbook::log::{already_logged, log_row};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How a job reaches the workbook: reads on the workbook as it is now,
/// writes through the writer — so that its slow part (the network) holds
/// no lock. `csip serve` reads a snapshot and writes through its writer;
/// [`Held`] is one store held by the caller.
pub trait Access {
    /// Runs `f` on the workbook as it is now.
    fn read(&self, f: &mut dyn FnMut(&Workbook));
    /// Runs `f` with the writer's store.
    fn write(&self, f: &mut dyn FnMut(&mut Store));
}

/// [`Access`] to one store the caller holds (the CLI, tests).
#[derive(Debug)]
pub struct Held<'s>(std::cell::RefCell<&'s mut Store>);

impl<'s> Held<'s> {
    /// Access to `store`.
    pub fn new(store: &'s mut Store) -> Held<'s> {
        Held(std::cell::RefCell::new(store))
    }
}

impl Access for Held<'_> {
    fn read(&self, f: &mut dyn FnMut(&Workbook)) {
        f(self.0.borrow().workbook());
    }

    fn write(&self, f: &mut dyn FnMut(&mut Store)) {
        f(&mut self.0.borrow_mut());
    }
}

/// A scheduled job an adapter registers (the Anypoint sync's daily run):
/// the scheduler decides when, and the job does its work and commits it
/// with its Automation_Logs row ([`log_row`], keyed by `key`) in one
/// commit, so that a slot runs once whatever happens.
pub trait Job: Send + Sync + std::fmt::Debug {
    /// Automation_Logs.Automation of its runs.
    fn name(&self) -> &str;
    /// When it runs.
    fn schedule(&self) -> &Schedule;
    /// Runs the slot `slot` (keyed `key`) through `access`: the message of
    /// its log row.
    ///
    /// # Errors
    ///
    /// Why it failed; the scheduler logs it as a failed run.
    fn run(&self, access: &dyn Access, slot: DateTime<Utc>, key: &str) -> Result<String, String>;
}

/// What the runs need from `csip.toml` (`[automations]`).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Channel keys of the rules' messages to Slack channels
    /// (`alerts = "#customer-success-alerts"`).
    pub channels: BTreeMap<String, String>,
    /// Where backups go.
    pub backup: Option<crate::backup::Target>,
    /// How many backups are kept.
    pub keep: usize,
}

/// One run to do: a rule (in a zone) at a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The rule (or job).
    pub rule: String,
    /// The zone, for a rule run per zone.
    pub zone: Option<String>,
    /// The slot (UTC).
    pub at: DateTime<Utc>,
    /// Earlier slots since the last run, coalesced into this one.
    pub missed: usize,
    /// The run key: Automation_Logs.Run_Key.
    pub key: String,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Committed, with its log row: what it says.
    Ran {
        /// Success, Partial (some rows' formulas erred) or Failed.
        status: String,
        /// Rows it acted on.
        records: usize,
        /// The log row's message.
        message: String,
    },
    /// The key was already logged: nothing done.
    AlreadyDone,
    /// It could not be committed (the store failed); it runs again next time.
    NotCommitted(String),
}

/// A run and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Which run.
    pub slot: Slot,
    /// What it did.
    pub outcome: Outcome,
}

/// The rules and jobs of a workbook, with their settings.
#[derive(Debug, Clone)]
pub struct Automations {
    rules: Rules,
    settings: Settings,
    jobs: Vec<Arc<dyn Job>>,
}

/// The latest slot logged for keys starting `prefix/` (the rule, or the
/// rule in a zone), with its status.
fn last_logged(wb: &Workbook, prefix: &str) -> Option<(DateTime<Utc>, String)> {
    let logs = wb.table_id("Automation_Logs").ok()?;
    let key_col = wb.column_id(logs, "Run_Key").ok()?;
    let status = wb.column_id(logs, "Status").ok();
    let mut last: Option<(DateTime<Utc>, String)> = None;
    for &r in wb.rows(logs).ok()? {
        let Ok(Value::Text(k)) = wb.value(key_col, r) else {
            continue;
        };
        let Some((p, at)) = k.rsplit_once('/') else {
            continue;
        };
        if p != prefix {
            continue;
        }
        let Ok(at) = DateTime::parse_from_rfc3339(at) else {
            continue;
        };
        let at = at.with_timezone(&Utc);
        if last.as_ref().is_none_or(|(l, _)| at > *l) {
            let s = status
                .and_then(|c| wb.value(c, r).ok())
                .map(|v| wb.display(v))
                .unwrap_or_default();
            last = Some((at, s));
        }
    }
    last
}

/// A rule's condition prepared on a workbook.
struct Prepared {
    table: Option<TableId>,
    condition: Option<PreparedFormula>,
}

fn prepare(wb: &Workbook, f: &Formula, table: Option<TableId>) -> Result<PreparedFormula, String> {
    wb.prepare(&f.text, table)
        .map_err(|e| format!("{}: {e}", f.at))
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

impl Automations {
    /// The rules with their settings (checked against a workbook with
    /// [`Rules::check`] first).
    pub fn new(rules: Rules, settings: Settings) -> Automations {
        Automations {
            rules,
            settings,
            jobs: Vec::new(),
        }
    }

    /// Registers a job of an adapter (the Anypoint sync), scheduled with
    /// the rules.
    pub fn register(&mut self, job: Arc<dyn Job>) {
        self.jobs.push(job);
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The zones a scheduled rule runs in: its named zone, or every zone
    /// its rows give.
    fn zones(&self, wb: &Workbook, rule: &Rule) -> Vec<String> {
        match &rule.trigger {
            Trigger::Schedule {
                zone: Zone::Named(z),
                ..
            } => vec![z.clone()],
            Trigger::Schedule {
                zone: Zone::PerRow(f),
                ..
            } => {
                let Some(t) = rule.table.as_deref().and_then(|t| wb.table_id(t).ok()) else {
                    return Vec::new();
                };
                let Ok(zone) = prepare(wb, f, Some(t)) else {
                    return Vec::new();
                };
                let budget = Budget::default();
                let zones: BTreeSet<String> = wb
                    .rows(t)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|&r| match wb.eval_prepared(&zone, Some(r), &budget) {
                        Value::Text(z) if !z.trim().is_empty() => Some(z.trim().to_string()),
                        _ => None,
                    })
                    .collect();
                zones.into_iter().collect()
            }
            Trigger::Change { .. } => Vec::new(),
        }
    }

    /// The key prefix of a rule's runs in a zone.
    fn prefix(rule: &str, zone: Option<&str>, per_row: bool) -> String {
        match zone {
            Some(z) if per_row => format!("{rule} ({z})"),
            _ => rule.to_string(),
        }
    }

    /// Every run due at `now`: per rule (and zone), the latest slot since
    /// its last logged run, earlier missed slots coalesced into it; and the
    /// registered jobs'. `only` keeps one rule.
    pub fn due(&self, wb: &Workbook, now: DateTime<Utc>, only: Option<&str>) -> Vec<Slot> {
        let mut due = Vec::new();
        let wanted = |name: &str| only.is_none_or(|o| o.trim().eq_ignore_ascii_case(name));
        for rule in self.rules.rules.iter().filter(|r| wanted(&r.name)) {
            let Trigger::Schedule { zone, .. } = &rule.trigger else {
                continue;
            };
            let per_row = matches!(zone, Zone::PerRow(_));
            for z in self.zones(wb, rule) {
                let Ok(schedule) = rule.schedule(&z) else {
                    continue;
                };
                let prefix = Self::prefix(&rule.name, Some(&z), per_row);
                let last = last_logged(wb, &prefix).map(|(at, _)| at);
                if let Some(d) = schedule.due(last, now) {
                    due.push(Slot {
                        rule: rule.name.clone(),
                        zone: per_row.then(|| z.clone()),
                        at: d.slot,
                        missed: d.missed,
                        key: slot_key(&prefix, d.slot),
                    });
                }
            }
        }
        due.extend(self.due_jobs(wb, now, only));
        due.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.rule.cmp(&b.rule)));
        due
    }

    /// The registered jobs' runs due at `now` (see [`Automations::due`]).
    pub fn due_jobs(&self, wb: &Workbook, now: DateTime<Utc>, only: Option<&str>) -> Vec<Slot> {
        let wanted = |name: &str| only.is_none_or(|o| o.trim().eq_ignore_ascii_case(name));
        let mut due = Vec::new();
        for job in self.jobs.iter().filter(|j| wanted(j.name())) {
            let last = last_logged(wb, job.name()).map(|(at, _)| at);
            if let Some(d) = job.schedule().due(last, now) {
                due.push(Slot {
                    rule: job.name().to_string(),
                    zone: None,
                    at: d.slot,
                    missed: d.missed,
                    key: slot_key(job.name(), d.slot),
                });
            }
        }
        due.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.rule.cmp(&b.rule)));
        due
    }

    /// Runs every due slot on `store`, each in one commit (see [`Automations::run`]).
    pub fn run_due(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
        only: Option<&str>,
    ) -> Vec<Report> {
        let slots = self.due(store.workbook(), now, only);
        slots
            .into_iter()
            .map(|slot| self.run(store, slot))
            .collect()
    }

    /// Runs the due slots of rules only (not jobs) on `store`: what a
    /// server does under its writer, the jobs' slow work kept out of it
    /// ([`Automations::run_due_jobs`]).
    pub fn run_due_rules(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
        only: Option<&str>,
    ) -> Vec<Report> {
        let jobs: BTreeSet<&str> = self.jobs.iter().map(|j| j.name()).collect();
        let slots = self.due(store.workbook(), now, only);
        slots
            .into_iter()
            .filter(|s| !jobs.contains(s.rule.as_str()))
            .map(|slot| self.run(store, slot))
            .collect()
    }

    /// Runs the due slots of the registered jobs through `access`.
    pub fn run_due_jobs(
        &self,
        access: &dyn Access,
        now: DateTime<Utc>,
        only: Option<&str>,
    ) -> Vec<Report> {
        let mut slots = Vec::new();
        access.read(&mut |wb| slots = self.due_jobs(wb, now, only));
        slots
            .into_iter()
            .map(|slot| self.run_job(access, slot))
            .collect()
    }

    /// One slot of a job: nothing if its key is logged; else the job, and a
    /// failed run's log row when it fails.
    fn run_job(&self, access: &dyn Access, slot: Slot) -> Report {
        let mut done = false;
        access.write(&mut |store| {
            let _ = store.refresh();
            done = already_logged(store.workbook(), &slot.key).is_some();
        });
        if done {
            return Report {
                slot,
                outcome: Outcome::AlreadyDone,
            };
        }
        let Some(job) = self.jobs.iter().find(|j| j.name() == slot.rule) else {
            return Report {
                outcome: Outcome::NotCommitted(format!("there is no job “{}”", slot.rule)),
                slot,
            };
        };
        let outcome = match job.run(access, slot.at, &slot.key) {
            Ok(message) => Outcome::Ran {
                status: "Success".into(),
                records: 0,
                message,
            },
            Err(e) => {
                let mut outcome = Outcome::NotCommitted(e.clone());
                access.write(&mut |store| outcome = self.log_failure(store, &slot, &e));
                outcome
            }
        };
        Report { slot, outcome }
    }

    /// Runs one slot: nothing if its key is logged already; else the rule's
    /// rows found (as of the slot's local date: `Today()` in its zone), its
    /// actions built, and the effects, the messages and the log row
    /// committed together. A failing message is the outbox's to retry; a
    /// row whose formula errs is left out and named in the log (status
    /// Partial); other rules are never stopped.
    pub fn run(&self, store: &mut Store, slot: Slot) -> Report {
        // Another process (a second scheduler) may have run it: read the
        // file's last commits first.
        if let Err(e) = store.refresh() {
            return Report {
                outcome: Outcome::NotCommitted(e.to_string()),
                slot,
            };
        }
        if already_logged(store.workbook(), &slot.key).is_some() {
            return Report {
                slot,
                outcome: Outcome::AlreadyDone,
            };
        }
        if self.jobs.iter().any(|j| j.name() == slot.rule) {
            return self.run_job(&Held::new(store), slot);
        }
        let Some(rule) = self.rules.get(&slot.rule) else {
            return Report {
                outcome: Outcome::NotCommitted(format!("there is no rule “{}”", slot.rule)),
                slot,
            };
        };
        // Today() is the slot's date where the rule runs.
        let zone = slot.zone.clone().unwrap_or_else(|| match &rule.trigger {
            Trigger::Schedule {
                zone: Zone::Named(z),
                ..
            } => z.clone(),
            _ => "UTC".into(),
        });
        let local = rule
            .schedule(&zone)
            .map(|s| s.local(slot.at).naive_local())
            .unwrap_or_else(|_| slot.at.naive_utc());
        let before = store.workbook().clock();
        let moved = before != Clock::at(local);
        if moved {
            store.set_clock(Clock::at(local));
        }
        let outcome = self.run_rule(store, rule, &slot, &zone);
        if moved {
            store.set_clock(before);
        }
        Report { slot, outcome }
    }

    /// Commits a failed run's log row.
    fn log_failure(&self, store: &mut Store, slot: &Slot, reason: &str) -> Outcome {
        let tx = log_row(
            store.workbook(),
            Transaction::new(),
            &slot.rule,
            &slot.key,
            slot.at.naive_utc(),
            "Failed",
            0,
            &first_line(reason),
            reason,
            0,
        );
        match store.commit(
            tx,
            &format!("automation:{}", slot.rule),
            slot.at.naive_utc(),
        ) {
            Ok(_) => Outcome::Ran {
                status: "Failed".into(),
                records: 0,
                message: first_line(reason),
            },
            Err(e) => Outcome::NotCommitted(e.to_string()),
        }
    }

    fn run_rule(&self, store: &mut Store, rule: &Rule, slot: &Slot, zone: &str) -> Outcome {
        let started = std::time::Instant::now();
        let wb = store.workbook();
        let table = rule.table.as_deref().and_then(|t| wb.table_id(t).ok());
        let prepared = match rule
            .condition
            .as_ref()
            .map(|c| prepare(wb, c, table))
            .transpose()
        {
            Ok(condition) => Prepared { table, condition },
            Err(e) => return self.log_failure(store, slot, &e),
        };
        let mut problems = Vec::new();
        let rows = match (&rule.trigger, table) {
            (
                Trigger::Schedule {
                    zone: Zone::PerRow(f),
                    ..
                },
                Some(t),
            ) => {
                let Ok(zone_of) = prepare(wb, f, Some(t)) else {
                    return self.log_failure(
                        store,
                        slot,
                        "the rule's time_zone formula does not bind",
                    );
                };
                let budget = Budget::default();
                self.matching(wb, &prepared, &mut problems)
                    .into_iter()
                    .filter(|&r| matches!(wb.eval_prepared(&zone_of, Some(r), &budget), Value::Text(z) if z.trim() == zone))
                    .collect()
            }
            _ => self.matching(wb, &prepared, &mut problems),
        };
        self.act(store, rule, slot, &rows, problems, started)
    }

    /// The rows of the rule's table where its condition is true; a row
    /// whose condition errs is named in `problems`.
    fn matching(&self, wb: &Workbook, p: &Prepared, problems: &mut Vec<String>) -> Vec<RowId> {
        let Some(t) = p.table else {
            return Vec::new();
        };
        let budget = Budget::default();
        wb.rows(t)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&r| match &p.condition {
                None => true,
                Some(c) => match wb.eval_prepared(c, Some(r), &budget) {
                    Value::Error(e) => {
                        problems.push(format!(
                            "{}: the condition erred: {e}",
                            wb.display(&Value::Row(t, r))
                        ));
                        false
                    }
                    v => truthy(&v),
                },
            })
            .collect()
    }

    /// Builds and commits a run's actions on `rows`, with its log row.
    fn act(
        &self,
        store: &mut Store,
        rule: &Rule,
        slot: &Slot,
        rows: &[RowId],
        mut problems: Vec<String>,
        started: std::time::Instant,
    ) -> Outcome {
        let wb = store.workbook();
        let table = rule.table.as_deref().and_then(|t| wb.table_id(t).ok());
        let budget = Budget::default();
        let mut tx = Transaction::new();
        let mut messages: Vec<OutboxMessage> = Vec::new();
        let mut counts: Vec<String> = Vec::new();
        let mut backup_note = String::new();
        let mut exported = 0usize;
        for (i, action) in rule.actions.iter().enumerate() {
            let scope_rows =
                |scope: &Scope, problems: &mut Vec<String>| -> (Option<TableId>, Vec<RowId>) {
                    let (on, base): (Option<TableId>, Vec<RowId>) = match &scope.for_each {
                        Some(name) => {
                            let t = wb.table_id(name).ok();
                            (
                                t,
                                t.map(|t| wb.rows(t).unwrap_or_default().to_vec())
                                    .unwrap_or_default(),
                            )
                        }
                        None => (table, rows.to_vec()),
                    };
                    let Some(filter) = &scope.filter else {
                        return (on, base);
                    };
                    let Ok(f) = prepare(wb, filter, on) else {
                        problems.push(format!("{}: the filter does not bind", filter.at));
                        return (on, Vec::new());
                    };
                    let kept = base
                        .into_iter()
                        .filter(|&r| match wb.eval_prepared(&f, Some(r), &budget) {
                            Value::Error(e) => {
                                if let Some(t) = on {
                                    problems.push(format!(
                                        "{}: {}: {e}",
                                        filter.at,
                                        wb.display(&Value::Row(t, r))
                                    ));
                                }
                                false
                            }
                            v => truthy(&v),
                        })
                        .collect();
                    (on, kept)
                };
            match action {
                Action::Insert {
                    scope,
                    table: into,
                    values,
                } => {
                    let (on, targets) = scope_rows(scope, &mut problems);
                    let Ok(into_id) = wb.table_id(into) else {
                        continue;
                    };
                    let mut cells: Vec<(ColumnId, PreparedFormula)> = Vec::new();
                    for (column, f) in values {
                        match (wb.column_id(into_id, column), prepare(wb, f, on)) {
                            (Ok(c), Ok(p)) => cells.push((c, p)),
                            (_, Err(e)) => problems.push(e),
                            (Err(e), _) => problems.push(format!("{}: {e}", f.at)),
                        }
                    }
                    let run_key = wb.column_id(into_id, "Run_Key").ok();
                    let mut inserted = 0;
                    for &r in &targets {
                        let mut row: Vec<(ColumnId, Value)> = Vec::with_capacity(cells.len() + 1);
                        let mut bad = None;
                        for (c, p) in &cells {
                            match wb.eval_prepared(p, Some(r), &budget) {
                                Value::Error(e) => bad = Some(e.to_string()),
                                v => row.push((*c, v)),
                            }
                        }
                        if let Some(e) = bad {
                            if let Some(t) = on {
                                problems.push(format!("{}: {e}", wb.display(&Value::Row(t, r))));
                            }
                            continue;
                        }
                        if let Some(k) = run_key {
                            row.push((k, Value::from(format!("{}/{}", slot.key, r.get()))));
                        }
                        tx = tx.insert(into_id, row);
                        inserted += 1;
                    }
                    counts.push(format!("{inserted} {into} rows"));
                }
                Action::Set {
                    scope,
                    column,
                    value,
                } => {
                    let (on, targets) = scope_rows(scope, &mut problems);
                    let (Some(t), Ok(p)) = (on, prepare(wb, value, on)) else {
                        continue;
                    };
                    let Ok(c) = wb.column_id(t, column) else {
                        continue;
                    };
                    let mut set = 0;
                    for &r in &targets {
                        match wb.eval_prepared(&p, Some(r), &budget) {
                            Value::Error(e) => {
                                problems.push(format!("{}: {e}", wb.display(&Value::Row(t, r))))
                            }
                            v => {
                                tx = tx.set(c, r, v);
                                set += 1;
                            }
                        }
                    }
                    counts.push(format!("{set} {column} set"));
                }
                Action::Message {
                    scope,
                    channel,
                    to,
                    text,
                } => {
                    let (on, targets) = scope_rows(scope, &mut problems);
                    let configured = self.settings.channels.get(channel).cloned();
                    if to.is_none() && configured.is_none() {
                        if !targets.is_empty() {
                            problems.push(format!(
                                "no channel “{channel}” in [automations.channels] of csip.toml: {} messages not sent",
                                targets.len()
                            ));
                        }
                        continue;
                    }
                    let (Ok(text), to) = (
                        prepare(wb, text, on),
                        to.as_ref().map(|t| prepare(wb, t, on)),
                    ) else {
                        continue;
                    };
                    let mut sent = 0;
                    for &r in &targets {
                        let body = wb.eval_prepared(&text, Some(r), &budget);
                        let address = match &to {
                            Some(Ok(p)) => match wb.eval_prepared(p, Some(r), &budget) {
                                Value::Text(id) if !id.trim().is_empty() => {
                                    Some(id.trim().to_string())
                                }
                                _ => None,
                            },
                            Some(Err(_)) => None,
                            None => configured.clone(),
                        };
                        match (body, address) {
                            (Value::Error(e), _) => {
                                if let Some(t) = on {
                                    problems
                                        .push(format!("{}: {e}", wb.display(&Value::Row(t, r))));
                                }
                            }
                            (_, None) => {
                                if let Some(t) = on {
                                    problems.push(format!(
                                        "{}: no one to send to",
                                        wb.display(&Value::Row(t, r))
                                    ));
                                }
                            }
                            (body, Some(address)) => {
                                let text = wb.display(&body);
                                messages.push(OutboxMessage::new(
                                    format!("{}/{i}/{}", slot.key, r.get()),
                                    "slack",
                                    address.clone(),
                                    serde_json::json!({"channel": address, "text": text}),
                                ));
                                sent += 1;
                            }
                        }
                    }
                    counts.push(format!("{sent} messages to {channel}"));
                }
                Action::Backup => match &self.settings.backup {
                    None => problems.push("no backup target configured".into()),
                    Some(target) => {
                        let name = crate::backup::backup_name(slot.at.date_naive());
                        match crate::backup::backup(
                            wb,
                            &name,
                            target,
                            slot.at.naive_utc(),
                            self.settings.keep,
                        ) {
                            Ok(manifest) => {
                                backup_note = format!(
                                    "{name}: {} tables, {} rows",
                                    manifest.tables.len(),
                                    manifest.tables.iter().map(|t| t.rows).sum::<u64>()
                                );
                                exported = manifest.tables.len();
                                counts.push(format!("{exported} tables exported"));
                            }
                            Err(e) => return self.log_failure(store, slot, &e.to_string()),
                        }
                    }
                },
            }
        }
        let status = if problems.is_empty() {
            "Success"
        } else {
            "Partial"
        };
        let mut message = if counts.is_empty() {
            format!("{} rows", rows.len())
        } else {
            format!("{} rows: {}", rows.len(), counts.join(", "))
        };
        if slot.missed > 0 {
            message.push_str(&format!(
                "; {} missed slots coalesced into this run",
                slot.missed
            ));
        }
        if let Some(z) = &slot.zone {
            message.push_str(&format!(" ({z})"));
        }
        let mut details = backup_note;
        for p in problems.iter().take(100) {
            if !details.is_empty() {
                details.push('\n');
            }
            details.push_str(p);
        }
        if problems.len() > 100 {
            details.push_str(&format!("\n… and {} more", problems.len() - 100));
        }
        let duration = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // Rows acted on; a backup counts the tables it exported.
        let records = rows.len() + exported;
        let tx = log_row(
            wb,
            tx,
            &rule.name,
            &slot.key,
            slot.at.naive_utc(),
            status,
            records,
            &message,
            &details,
            duration,
        );
        match store.commit_with_messages(
            tx,
            &format!("automation:{}", rule.name),
            slot.at.naive_utc(),
            |_, _| messages,
        ) {
            Ok(_) => Outcome::Ran {
                status: status.into(),
                records,
                message,
            },
            Err(e) => Outcome::NotCommitted(e.to_string()),
        }
    }

    /// The rules triggered by change sets: for each rule watching a column,
    /// the rows where it changed, run as one firing (its condition decides,
    /// so a guard in it — no open risk yet — makes it once per incident).
    pub fn on_changes(
        &self,
        store: &mut Store,
        changes: &[ChangeSet],
        now: DateTime<Utc>,
    ) -> Vec<Report> {
        let mut reports = Vec::new();
        for rule in &self.rules.rules {
            let Trigger::Change { column } = &rule.trigger else {
                continue;
            };
            let wb = store.workbook();
            let Some(t) = rule.table.as_deref().and_then(|t| wb.table_id(t).ok()) else {
                continue;
            };
            let Ok(c) = wb.column_id(t, column) else {
                continue;
            };
            let touched: BTreeSet<RowId> = changes
                .iter()
                .flat_map(|cs| cs.changes.iter())
                .filter(|ch| ch.cell.column == c && wb.contains_row(t, ch.cell.row))
                .map(|ch| ch.cell.row)
                .collect();
            if touched.is_empty() {
                continue;
            }
            reports.extend(self.fire(store, rule, touched.into_iter().collect(), now));
        }
        reports
    }

    /// Every change rule on every row of its table (at start: a change
    /// missed while nothing ran is caught; the condition keeps it once).
    pub fn check_all(&self, store: &mut Store, now: DateTime<Utc>) -> Vec<Report> {
        let mut reports = Vec::new();
        for rule in &self.rules.rules {
            if !matches!(rule.trigger, Trigger::Change { .. }) {
                continue;
            }
            let wb = store.workbook();
            let Some(t) = rule.table.as_deref().and_then(|t| wb.table_id(t).ok()) else {
                continue;
            };
            let rows = wb.rows(t).unwrap_or_default().to_vec();
            reports.extend(self.fire(store, rule, rows, now));
        }
        reports
    }

    /// One firing of a change rule on `candidates`: the rows where its
    /// condition holds, acted on in one commit with a log row; nothing (no
    /// log row either) when none holds.
    fn fire(
        &self,
        store: &mut Store,
        rule: &Rule,
        candidates: Vec<RowId>,
        now: DateTime<Utc>,
    ) -> Option<Report> {
        let started = std::time::Instant::now();
        let wb = store.workbook();
        let table = rule.table.as_deref().and_then(|t| wb.table_id(t).ok());
        let condition = match rule
            .condition
            .as_ref()
            .map(|c| prepare(wb, c, table))
            .transpose()
        {
            Ok(c) => c,
            Err(_) => return None,
        };
        let budget = Budget::default();
        let mut problems = Vec::new();
        let rows: Vec<RowId> = candidates
            .into_iter()
            .filter(|&r| match &condition {
                None => true,
                Some(c) => match wb.eval_prepared(c, Some(r), &budget) {
                    Value::Error(e) => {
                        if let Some(t) = table {
                            problems.push(format!(
                                "{}: the condition erred: {e}",
                                wb.display(&Value::Row(t, r))
                            ));
                        }
                        false
                    }
                    v => truthy(&v),
                },
            })
            .collect();
        if rows.is_empty() && problems.is_empty() {
            return None;
        }
        let first = rows.first().map_or(0, |r| r.get());
        let slot = Slot {
            rule: rule.name.clone(),
            zone: None,
            at: now,
            missed: 0,
            key: format!(
                "{}/row {first}/{}",
                rule.name,
                now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            ),
        };
        let outcome = self.act(store, rule, &slot, &rows, problems, started);
        Some(Report { slot, outcome })
    }

    /// Each scheduled rule (per zone) and job: its next slot after `now`
    /// and its last logged run.
    pub fn list(&self, wb: &Workbook, now: DateTime<Utc>) -> Vec<Listing> {
        let mut out = Vec::new();
        for rule in &self.rules.rules {
            match &rule.trigger {
                Trigger::Change { column } => out.push(Listing {
                    rule: rule.name.clone(),
                    when: format!(
                        "on a change of {}.{column}",
                        rule.table.as_deref().unwrap_or("")
                    ),
                    zone: None,
                    next: None,
                    next_local: None,
                    last: last_change_run(wb, &rule.name),
                }),
                Trigger::Schedule { cron, zone } => {
                    let per_row = matches!(zone, Zone::PerRow(_));
                    for z in self.zones(wb, rule) {
                        let Ok(s) = rule.schedule(&z) else { continue };
                        let next = s.next(now);
                        out.push(Listing {
                            rule: rule.name.clone(),
                            when: format!("{cron} {z}"),
                            zone: per_row.then(|| z.clone()),
                            next,
                            next_local: next
                                .map(|n| s.local(n).format("%Y-%m-%d %H:%M %Z").to_string()),
                            last: last_logged(wb, &Self::prefix(&rule.name, Some(&z), per_row)),
                        });
                    }
                }
            }
        }
        for job in &self.jobs {
            let next = job.schedule().next(now);
            out.push(Listing {
                rule: job.name().to_string(),
                when: job.schedule().to_string(),
                zone: None,
                next,
                next_local: next.map(|n| {
                    job.schedule()
                        .local(n)
                        .format("%Y-%m-%d %H:%M %Z")
                        .to_string()
                }),
                last: last_logged(wb, job.name()),
            });
        }
        out
    }
}

/// The last firing of a change rule, from its log.
fn last_change_run(wb: &Workbook, rule: &str) -> Option<(DateTime<Utc>, String)> {
    let logs = wb.table_id("Automation_Logs").ok()?;
    let (auto, at, status) = (
        wb.column_id(logs, "Automation").ok()?,
        wb.column_id(logs, "Run_At").ok()?,
        wb.column_id(logs, "Status").ok()?,
    );
    wb.rows(logs)
        .ok()?
        .iter()
        .filter(|&&r| wb.value(auto, r).map(|v| wb.display(v)).ok().as_deref() == Some(rule))
        .filter_map(|&r| match wb.value(at, r) {
            Ok(Value::DateTime(t)) => Some((
                t.and_utc(),
                wb.value(status, r)
                    .map(|v| wb.display(v))
                    .unwrap_or_default(),
            )),
            _ => None,
        })
        .max_by_key(|(t, _)| *t)
}

/// One line of `csip automations list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The rule or job.
    pub rule: String,
    /// Its trigger, as written.
    pub when: String,
    /// The zone, for a rule run per zone.
    pub zone: Option<String>,
    /// Its next slot (UTC).
    pub next: Option<DateTime<Utc>>,
    /// The same, local.
    pub next_local: Option<String>,
    /// Its last logged run: slot and status.
    pub last: Option<(DateTime<Utc>, String)>,
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}
