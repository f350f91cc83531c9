//! Rules as data: `fixtures/csip/automations.toml` (or a file of the same
//! form), read into [`Rules`] and checked against a workbook — every table,
//! column and formula a rule names must be there and bind — with each
//! problem told at its line and column.

use crate::schedule::Schedule;
use csip_engine::{TableId, Workbook};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// The rules shipped with the CSIP workbook.
pub const CSIP_RULES: &str = include_str!("../../../fixtures/csip/automations.toml");

/// Where the shipped rules say they come from, in errors.
pub const CSIP_RULES_PATH: &str = "fixtures/csip/automations.toml";

/// A place in a rules file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A rules file that cannot be used: where, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct RuleError {
    /// Where.
    pub at: Location,
    /// What is wrong, and what to do.
    pub message: String,
}

/// A formula of a rule, with where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Formula {
    /// Its text.
    pub text: String,
    /// Where.
    pub at: Location,
}

/// When a rule runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// On a schedule: a cron expression, in a time zone.
    Schedule {
        /// `0 8 * * *`.
        cron: String,
        /// Where the time is read.
        zone: Zone,
    },
    /// When a column of the rule's table changes, for the rows it changed
    /// in (and, once at start, for every row: the condition decides).
    Change {
        /// The column.
        column: String,
    },
}

/// The time zone of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    /// One zone for every row (`UTC`, `Europe/Oslo`).
    Named(String),
    /// A formula giving each row's zone (`[Customer_Success_Manager].[Time_Zone]`):
    /// the rule runs at the schedule's local time in each zone, for that
    /// zone's rows.
    PerRow(Formula),
}

/// Which rows an action is about.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scope {
    /// Another table's rows instead of the rule's.
    pub for_each: Option<String>,
    /// A condition narrowing them.
    pub filter: Option<Formula>,
}

/// What a rule does, per row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A row inserted into `table` per row, its cells from formulas.
    Insert {
        /// The rows.
        scope: Scope,
        /// The table inserted into.
        table: String,
        /// Each cell's formula, by column.
        values: Vec<(String, Formula)>,
    },
    /// A data column of the row set.
    Set {
        /// The rows.
        scope: Scope,
        /// The column.
        column: String,
        /// Its new value.
        value: Formula,
    },
    /// A Slack message per row, through the outbox.
    Message {
        /// The rows.
        scope: Scope,
        /// A key of `[automations.channels]` in csip.toml.
        channel: String,
        /// A Slack id to send to instead (a direct message), per row.
        to: Option<Formula>,
        /// The text.
        text: Formula,
    },
    /// Every table as CSV (`crate::backup`).
    Backup,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Its name: Automation_Logs.Automation.
    pub name: String,
    /// What it is for.
    pub comment: String,
    /// When it runs.
    pub trigger: Trigger,
    /// The table whose rows it is about (none for a backup).
    pub table: Option<String>,
    /// The rows it is about: those where this is true.
    pub condition: Option<Formula>,
    /// What it does.
    pub actions: Vec<Action>,
    /// Where it is written.
    pub at: Location,
}

impl Rule {
    /// Its schedule in zone `zone` (a scheduled rule).
    ///
    /// # Errors
    ///
    /// Not a scheduled rule, or the cron or zone does not read.
    pub fn schedule(&self, zone: &str) -> Result<Schedule, String> {
        match &self.trigger {
            Trigger::Schedule { cron, .. } => Schedule::new(cron, zone).map_err(|e| e.to_string()),
            Trigger::Change { .. } => {
                Err(format!("{} runs on change, not on a schedule", self.name))
            }
        }
    }
}

/// A rules file read.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Rules {
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    rules: Vec<Spanned<RuleDoc>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    name: String,
    #[serde(default)]
    comment: String,
    schedule: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    on_change: Option<Spanned<String>>,
    table: Option<Spanned<String>>,
    condition: Option<Spanned<String>>,
    #[serde(default)]
    actions: Vec<Spanned<ActionDoc>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionDoc {
    for_each: Option<Spanned<String>>,
    #[serde(rename = "where")]
    filter: Option<Spanned<String>>,
    insert: Option<Spanned<String>>,
    values: Option<BTreeMap<String, Spanned<String>>>,
    set: Option<Spanned<String>>,
    value: Option<Spanned<String>>,
    message: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
    backup: Option<bool>,
}

/// Line and column (from 1) of byte `offset` of `text`.
fn place(file: &str, text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Location {
        file: file.to_string(),
        line,
        column,
    }
}

impl Rules {
    /// Reads a rules file (`file` names it in errors).
    ///
    /// ```
    /// use csip_automations::rules::{Rules, CSIP_RULES, CSIP_RULES_PATH};
    /// let rules = Rules::read(CSIP_RULES_PATH, CSIP_RULES)?;
    /// assert_eq!(rules.rules[0].name, "Renewal Risk Detector");
    /// let e = Rules::read("bad.toml", "[[rules]]\nname = \"x\"\nshedule = \"0 8 * * *\"\n").unwrap_err();
    /// assert!(e[0].to_string().starts_with("bad.toml:3:1"), "{}", e[0]);
    /// # Ok::<(), Vec<csip_automations::rules::RuleError>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Every problem found: TOML that does not read, an unknown key, a rule
    /// with no trigger or two, an action that is none or two of insert,
    /// set, message and backup.
    pub fn read(file: &str, text: &str) -> Result<Rules, Vec<RuleError>> {
        let doc: FileDoc = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map_or(place(file, text, 0), |s| place(file, text, s.start));
            vec![RuleError {
                at,
                message: e.message().trim().to_string(),
            }]
        })?;
        let at = |offset: usize| place(file, text, offset);
        let formula = |s: &Spanned<String>| Formula {
            text: s.get_ref().clone(),
            at: at(s.span().start),
        };
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        for spanned in &doc.rules {
            let rule_at = at(spanned.span().start);
            let r = spanned.get_ref();
            let trigger = match (&r.schedule, &r.on_change) {
                (Some(cron), None) => {
                    let zone = match &r.time_zone {
                        None => Zone::Named("UTC".into()),
                        Some(z) if z.get_ref().contains('[') => Zone::PerRow(formula(z)),
                        Some(z) => Zone::Named(z.get_ref().trim().to_string()),
                    };
                    if let Zone::Named(name) = &zone
                        && let Err(e) = Schedule::new(cron.get_ref(), name)
                    {
                        errors.push(RuleError {
                            at: at(cron.span().start),
                            message: e.to_string(),
                        });
                    }
                    Trigger::Schedule {
                        cron: cron.get_ref().clone(),
                        zone,
                    }
                }
                (None, Some(column)) => Trigger::Change {
                    column: column.get_ref().clone(),
                },
                _ => {
                    errors.push(RuleError {
                        at: rule_at.clone(),
                        message: format!(
                            "rule “{}” needs exactly one trigger: `schedule` (with `time_zone`) or `on_change`",
                            r.name
                        ),
                    });
                    continue;
                }
            };
            let mut actions = Vec::new();
            for a in &r.actions {
                let action_at = at(a.span().start);
                let a = a.get_ref();
                let scope = Scope {
                    for_each: a.for_each.as_ref().map(|t| t.get_ref().clone()),
                    filter: a.filter.as_ref().map(formula),
                };
                let kinds = [
                    a.insert.is_some(),
                    a.set.is_some(),
                    a.message.is_some(),
                    a.backup == Some(true),
                ];
                if kinds.iter().filter(|k| **k).count() != 1 {
                    errors.push(RuleError {
                        at: action_at,
                        message: format!(
                            "an action of rule “{}” must be one of insert, set, message or backup = true",
                            r.name
                        ),
                    });
                    continue;
                }
                let missing = |what: &str| RuleError {
                    at: action_at.clone(),
                    message: format!("this action of rule “{}” needs `{what}`", r.name),
                };
                let action = if let Some(table) = &a.insert {
                    let Some(values) = &a.values else {
                        errors.push(missing("values"));
                        continue;
                    };
                    Action::Insert {
                        scope,
                        table: table.get_ref().clone(),
                        values: values
                            .iter()
                            .map(|(k, v)| (k.clone(), formula(v)))
                            .collect(),
                    }
                } else if let Some(column) = &a.set {
                    let Some(value) = &a.value else {
                        errors.push(missing("value"));
                        continue;
                    };
                    Action::Set {
                        scope,
                        column: column.get_ref().clone(),
                        value: formula(value),
                    }
                } else if let Some(channel) = &a.message {
                    let Some(text) = &a.text else {
                        errors.push(missing("text"));
                        continue;
                    };
                    Action::Message {
                        scope,
                        channel: channel.get_ref().clone(),
                        to: a.to.as_ref().map(formula),
                        text: formula(text),
                    }
                } else {
                    Action::Backup
                };
                actions.push(action);
            }
            rules.push(Rule {
                name: r.name.clone(),
                comment: r.comment.clone(),
                trigger,
                table: r.table.as_ref().map(|t| t.get_ref().clone()),
                condition: r.condition.as_ref().map(formula),
                actions,
                at: rule_at,
            });
        }
        if errors.is_empty() {
            Ok(Rules { rules })
        } else {
            Err(errors)
        }
    }

    /// The rule of that name.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name.trim()))
    }

    /// Checks every rule against `wb`: its tables and columns there, each
    /// formula binding on its rows, an inserted or set column a data
    /// column, a change trigger's column in its table.
    ///
    /// # Errors
    ///
    /// Every problem, at its place.
    pub fn check(&self, wb: &Workbook) -> Result<(), Vec<RuleError>> {
        let mut errors = Vec::new();
        let table = |name: &str, at: &Location, errors: &mut Vec<RuleError>| -> Option<TableId> {
            let found = wb.table_id(name).ok();
            if found.is_none() {
                errors.push(RuleError {
                    at: at.clone(),
                    message: format!("there is no table “{name}” in the workbook"),
                });
            }
            found
        };
        let bind = |f: &Formula, t: Option<TableId>, errors: &mut Vec<RuleError>| {
            if let Err(e) = wb.prepare(&f.text, t) {
                errors.push(RuleError {
                    at: f.at.clone(),
                    message: format!("the formula does not bind: {e}"),
                });
            }
        };
        for rule in &self.rules {
            let rows = rule
                .table
                .as_deref()
                .and_then(|t| table(t, &rule.at, &mut errors));
            if let Some(c) = &rule.condition {
                bind(c, rows, &mut errors);
            }
            if let Trigger::Schedule {
                zone: Zone::PerRow(f),
                ..
            } = &rule.trigger
            {
                bind(f, rows, &mut errors);
            }
            if let (Trigger::Change { column }, Some(t)) = (&rule.trigger, rows)
                && wb.column_id(t, column).is_err()
            {
                errors.push(RuleError {
                    at: rule.at.clone(),
                    message: format!(
                        "rule “{}” watches “{column}”, which its table does not have",
                        rule.name
                    ),
                });
            }
            if rule.table.is_none() && rule.actions.iter().any(|a| !matches!(a, Action::Backup)) {
                errors.push(RuleError {
                    at: rule.at.clone(),
                    message: format!("rule “{}” needs a `table` for its actions", rule.name),
                });
            }
            for action in &rule.actions {
                let scope = match action {
                    Action::Insert { scope, .. }
                    | Action::Set { scope, .. }
                    | Action::Message { scope, .. } => scope,
                    Action::Backup => continue,
                };
                let on = match &scope.for_each {
                    Some(name) => table(name, &rule.at, &mut errors),
                    None => rows,
                };
                if let Some(f) = &scope.filter {
                    bind(f, on, &mut errors);
                }
                match action {
                    Action::Insert {
                        table: into,
                        values,
                        ..
                    } => {
                        let Some(into_id) = table(into, &rule.at, &mut errors) else {
                            continue;
                        };
                        for (column, f) in values {
                            data_column(wb, into_id, column, &f.at, &mut errors);
                            bind(f, on, &mut errors);
                        }
                    }
                    Action::Set { column, value, .. } => {
                        if let Some(t) = on {
                            data_column(wb, t, column, &value.at, &mut errors);
                        }
                        bind(value, on, &mut errors);
                    }
                    Action::Message { to, text, .. } => {
                        bind(text, on, &mut errors);
                        if let Some(to) = to {
                            bind(to, on, &mut errors);
                        }
                    }
                    Action::Backup => {}
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A column that is there and holds data (not a formula).
fn data_column(
    wb: &Workbook,
    t: TableId,
    column: &str,
    at: &Location,
    errors: &mut Vec<RuleError>,
) {
    match wb.column_id(t, column) {
        Err(_) => errors.push(RuleError {
            at: at.clone(),
            message: format!(
                "“{}” has no column “{column}”",
                wb.table_name(t).unwrap_or_default()
            ),
        }),
        Ok(c) if wb.is_formula(c).unwrap_or(false) => errors.push(RuleError {
            at: at.clone(),
            message: format!("“{column}” is a formula column; a rule writes data columns only"),
        }),
        Ok(_) => {}
    }
}
