//! Answers read from a snapshot of the workbook: who is asking (a
//! People_Team member by their Slack user id), which account a command
//! means (by name or ID, any case, with "did you mean" for a near miss),
//! and an account's health. Nothing here writes.

use crate::blocks::{Block, Message, Mrkdwn};
use csip_engine::{ColumnId, RowId, TableId, Value, Workbook};
use csip_workbook::lookup::{self, fold, nearest};

/// A People_Team member, found by their Slack user id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Their row.
    pub row: RowId,
    /// Their name (People_Team's display column), the audit log's actor.
    pub name: String,
    /// Their People_Team role (`CSM`, `AE`, ...; empty when Blank).
    pub role: String,
}

/// The member whose `Slack_User_ID` is `user_id` (exactly, as Slack sends
/// it); `None` when there is none.
pub fn member(wb: &Workbook, user_id: &str) -> Option<Member> {
    let people = wb.table_id("People_Team").ok()?;
    let slack = wb.column_id(people, "Slack_User_ID").ok()?;
    let role = wb.column_id(people, "Role").ok();
    let user_id = user_id.trim();
    if user_id.is_empty() {
        return None;
    }
    let row = wb
        .rows(people)
        .ok()?
        .iter()
        .copied()
        .find(|r| matches!(wb.value(slack, *r), Ok(Value::Text(t)) if t.trim() == user_id))?;
    Some(Member {
        row,
        name: wb.display(&Value::Row(people, row)),
        role: role
            .and_then(|c| wb.value(c, row).ok())
            .map(|v| wb.display(v))
            .unwrap_or_default(),
    })
}

/// The polite refusal for a Slack user who is no People_Team member.
pub fn not_a_member(user_id: &str) -> Message {
    Message::ephemeral(format!(
        "Sorry, your Slack account ({user_id}) is not linked to a member of the team in csip, so I cannot act for you. Ask an admin to put your Slack member ID in your People_Team row (Slack_User_ID)."
    ))
}

/// The account a command names, by Account_Name or Account_ID (case and
/// spacing aside); else the ephemeral answer that says what to fix, with
/// the nearest name when one is near.
///
/// # Errors
///
/// The message to answer with: no such account (and the nearest name), or
/// a workbook without Account_Master.
pub fn find_account(wb: &Workbook, text: &str) -> Result<RowId, Message> {
    lookup::find_account(wb, text).ok_or_else(|| account_miss(wb, text))
}

/// The answer to a text that names no account: the nearest name, when one
/// is near.
fn account_miss(wb: &Workbook, text: &str) -> Message {
    if wb.table_id("Account_Master").is_err() {
        return Message::ephemeral("This workbook has no Account_Master table.");
    }
    Message::ephemeral(match lookup::nearest_account(wb, text) {
        Some(n) => format!("There is no account “{}”. Did you mean “{n}”?", text.trim()),
        None => format!(
            "There is no account “{}”. Give its name (Gard AS) or its ID (ACC-00001).",
            text.trim()
        ),
    })
}

pub use csip_workbook::lookup::account_name;

/// The usage text, for `help`, an empty text and an unknown command.
pub fn usage() -> Message {
    Message::ephemeral(format!(
        "csip commands:\n{}  set a metric's value\n{}  an account's health\n{}  sync an account from Anypoint",
        crate::command::UPDATE_USAGE,
        crate::command::HEALTH_USAGE,
        crate::command::SYNC_USAGE
    ))
}

/// A table's column by name, if the workbook has both.
fn column(wb: &Workbook, table: TableId, name: &str) -> Option<ColumnId> {
    wb.column_id(table, name).ok()
}

/// An account's health: the score and its four components, its trend,
/// renewal risk and days to renewal, its three worst metrics and its open
/// risks, as Block Kit sections with a plain-text fallback.
pub fn health(wb: &Workbook, account: RowId) -> Message {
    let Ok(accounts) = wb.table_id("Account_Master") else {
        return Message::ephemeral("This workbook has no Account_Master table.");
    };
    let shown = |c: Option<ColumnId>, r: RowId| {
        c.and_then(|c| wb.value(c, r).ok())
            .map(|v| wb.display(v))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "—".to_string())
    };
    let at = |name: &str| shown(column(wb, accounts, name), account);
    let name = wb.display(&Value::Row(accounts, account));
    let score = at("Health_Score");
    let risk = at("Renewal_Risk_Level");
    let days = at("Days_To_Renewal");
    let field = |label: &str, value: String| Mrkdwn::new().bold(label).plain("\n").plain(&value);
    let mut message = Message::in_channel(format!(
        "{name}: health score {score}, renewal risk {risk}, {days} days to renewal"
    ))
    .block(Block::header(format!("{name} — health score {score}")))
    .block(Block::Section {
        text: Mrkdwn::new(),
        fields: vec![
            field("Health score", score.clone()),
            field(
                "Trend (30 days)",
                format!(
                    "{} {}",
                    at("Health_Score_Trend_30d"),
                    at("Health_Score_Change_Flag")
                ),
            ),
            field("Renewal risk", risk),
            field("Days to renewal", days),
            field("Platform technical health", at("Platform_Technical_Health")),
            field(
                "Business value realization",
                at("Business_Value_Realization"),
            ),
            field("Stakeholder engagement", at("Stakeholder_Engagement")),
            field("Strategic alignment", at("Strategic_Alignment")),
        ],
    });
    let refs = wb.references_to(accounts, account);
    let of = |table: &str| -> Option<(TableId, Vec<RowId>)> {
        let t = wb.table_id(table).ok()?;
        let link = column(wb, t, "Account")?;
        let mut rows: Vec<RowId> = refs
            .iter()
            .filter(|(c, _)| *c == link)
            .map(|(_, r)| *r)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        Some((t, rows))
    };
    if let Some((metrics, mut rows)) = of("Platform_Health_Metrics") {
        let numeric = column(wb, metrics, "Health_Status_Numeric");
        let rank = |r: &RowId| match numeric.and_then(|c| wb.value(c, *r).ok()) {
            Some(Value::Number(n)) => *n,
            _ => rust_decimal::Decimal::MAX,
        };
        rows.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
        let lines: Vec<String> = rows
            .iter()
            .take(3)
            .map(|&r| {
                let m = |c: &str| shown(column(wb, metrics, c), r);
                format!(
                    "• {}: {} {} ({})",
                    m("Metric_Name"),
                    m("Current_Value"),
                    m("Unit"),
                    m("Health_Status")
                )
            })
            .collect();
        let text = if lines.is_empty() {
            "No metrics yet.".to_string()
        } else {
            lines.join("\n")
        };
        message = message.block(Block::section(
            Mrkdwn::new().bold("Worst metrics").plain("\n").plain(&text),
        ));
    }
    if let Some((risks, rows)) = of("Risk_Register") {
        let status = column(wb, risks, "Status");
        let open: Vec<RowId> = rows
            .into_iter()
            .filter(|r| shown(status, *r) != "Closed")
            .collect();
        let mut lines: Vec<String> = open
            .iter()
            .take(5)
            .map(|&r| {
                let m = |c: &str| shown(column(wb, risks, c), r);
                format!(
                    "• {} ({}, {})",
                    m("Risk_Title"),
                    m("Risk_Level"),
                    m("Status")
                )
            })
            .collect();
        if open.len() > 5 {
            lines.push(format!("… and {} more", open.len() - 5));
        }
        let text = if lines.is_empty() {
            "No open risks.".to_string()
        } else {
            lines.join("\n")
        };
        message = message.block(Block::section(
            Mrkdwn::new().bold("Open risks").plain("\n").plain(&text),
        ));
    }
    message
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may panic

    use super::*;

    fn pilot() -> Workbook {
        csip_workbook::pilot(csip_workbook::sample_today()).unwrap()
    }

    #[test]
    fn an_account_is_found_by_name_or_id_in_any_case_and_a_near_miss_is_named() {
        let wb = pilot();
        let gard = find_account(&wb, "Gard AS").unwrap();
        assert_eq!(find_account(&wb, "  gard   as ").unwrap(), gard);
        let accounts = wb.table_id("Account_Master").unwrap();
        let id = wb.column_id(accounts, "Account_ID").unwrap();
        let id = wb.display(wb.value(id, gard).unwrap());
        assert_eq!(find_account(&wb, &id.to_lowercase()).unwrap(), gard);
        let miss = find_account(&wb, "Gard AB").unwrap_err();
        assert!(
            miss.text.contains("Did you mean “Gard AS”?"),
            "{}",
            miss.text
        );
        let far = find_account(&wb, "Nobody at all").unwrap_err();
        assert!(
            far.text.contains("no account") && !far.text.contains("Did you mean"),
            "{}",
            far.text
        );
    }

    #[test]
    fn the_health_of_an_account_shows_its_score_components_metrics_and_risks() {
        let wb = pilot();
        let gard = find_account(&wb, "Gard AS").unwrap();
        let accounts = wb.table_id("Account_Master").unwrap();
        let score = wb.column_id(accounts, "Health_Score").unwrap();
        let score = wb.display(wb.value(score, gard).unwrap());
        let m = health(&wb, gard);
        assert!(
            m.text
                .starts_with(&format!("Gard AS: health score {score}")),
            "{}",
            m.text
        );
        let json = m.to_json().to_string();
        for part in [
            "Platform technical health",
            "Worst metrics",
            "Open risks",
            "Days to renewal",
        ] {
            assert!(json.contains(part), "{part}: {json}");
        }
    }
}

/// A `/mulesoft-update` read against the workbook: the transaction that
/// sets the metric's Current_Value and Last_Measured (or inserts the metric
/// when it is new), and what the reply names.
#[derive(Debug)]
pub struct UpdatePlan {
    /// The transaction, built against the workbook given.
    pub tx: csip_engine::Transaction,
    /// The account.
    pub account: RowId,
    /// The metric's row, when it exists.
    pub metric: Option<RowId>,
    /// The metric's name, as the workbook writes it.
    pub metric_name: String,
    /// The value written.
    pub value: Value,
}

/// Reads a `/mulesoft-update` against the workbook: the first way of
/// splitting its words whose account and metric (of that account) exist;
/// with `new`, a metric the account does not have yet is created (its
/// thresholds, unit and category taken from the same metric on another
/// account when there is one), unless its name is a near miss of one it
/// has. `now` is Last_Measured.
///
/// # Errors
///
/// The ephemeral answer that says what to fix: no such account (with the
/// nearest name), no such metric (with the nearest, or how to create it),
/// a value that is not a number.
pub fn plan_update(
    wb: &Workbook,
    update: &crate::command::Update,
    now: csip_engine::NaiveDateTime,
) -> Result<UpdatePlan, Message> {
    let missing = || Message::ephemeral("This workbook has no Platform_Health_Metrics table.");
    let metrics = wb
        .table_id("Platform_Health_Metrics")
        .map_err(|_| missing())?;
    let col = |name: &str| column(wb, metrics, name).ok_or_else(missing);
    let (account_col, name_col, value_col) =
        (col("Account")?, col("Metric_Name")?, col("Current_Value")?);
    let measured = column(wb, metrics, "Last_Measured");
    let accounts = wb.table_id("Account_Master").map_err(|_| missing())?;
    let metrics_of = |account: RowId| -> Vec<RowId> {
        let mut rows: Vec<RowId> = wb
            .references_to(accounts, account)
            .into_iter()
            .filter(|(c, _)| *c == account_col)
            .map(|(_, r)| r)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    };
    let name_of = |r: RowId| {
        wb.value(name_col, r)
            .map(|v| wb.display(v))
            .unwrap_or_default()
    };
    let splits: Vec<crate::command::UpdateSplit> = update.splits().collect();
    // The first split whose account and metric both exist; else the first
    // whose account does (its metric is new, or a near miss).
    let mut found: Option<(RowId, &crate::command::UpdateSplit, Option<RowId>)> = None;
    for split in &splits {
        let Some(account) = lookup::find_account(wb, &split.account) else {
            continue;
        };
        let metric = metrics_of(account)
            .into_iter()
            .find(|r| fold(&name_of(*r)) == fold(&split.metric));
        if metric.is_some() {
            found = Some((account, split, metric));
            break;
        }
        found.get_or_insert((account, split, None));
    }
    let Some((account, split, metric)) = found else {
        // Only then is the nearest name looked for, and once.
        return Err(splits
            .first()
            .map_or_else(usage, |s| account_miss(wb, &s.account)));
    };
    let value = match wb.parse_text(value_col, &split.value) {
        Ok(v @ Value::Number(_)) => v,
        _ => {
            return Err(Message::ephemeral(format!(
                "“{}” is not a number; give the metric's value as a number, such as 99.5.",
                split.value
            )));
        }
    };
    let now_value = Value::DateTime(now);
    if let Some(m) = metric {
        let mut tx = csip_engine::Transaction::new().set(value_col, m, value.clone());
        if let Some(c) = measured {
            tx = tx.set(c, m, now_value);
        }
        return Ok(UpdatePlan {
            tx,
            account,
            metric: Some(m),
            metric_name: name_of(m),
            value,
        });
    }
    let near = nearest(
        metrics_of(account).into_iter().map(name_of),
        &fold(&split.metric),
    );
    let name = account_name(wb, account);
    if let Some(near) = near {
        return Err(Message::ephemeral(format!(
            "{name} has no metric “{}”. Did you mean “{near}”? To create “{}” as a new metric, add `new` at the end.",
            split.metric, split.metric
        )));
    }
    if !split.create_new {
        return Err(Message::ephemeral(format!(
            "{name} has no metric “{}”. To create it, add `new` at the end: /mulesoft-update \"{name}\" \"{}\" {} new",
            split.metric, split.metric, split.value
        )));
    }
    // A new metric: its settings from the same metric on another account.
    let like = wb.rows(metrics).ok().and_then(|rows| {
        rows.iter()
            .copied()
            .find(|r| fold(&name_of(*r)) == fold(&split.metric))
    });
    let mut values = vec![
        (account_col, Value::Row(accounts, account)),
        (name_col, Value::from(split.metric.trim())),
        (value_col, value.clone()),
    ];
    if let Some(c) = measured {
        values.push((c, now_value));
    }
    if let Some(like) = like {
        values.extend(lookup::metric_settings(wb, like));
    }
    Ok(UpdatePlan {
        tx: csip_engine::Transaction::new().insert(metrics, values),
        account,
        metric: None,
        metric_name: split.metric.trim().to_string(),
        value,
    })
}

/// The reply to a committed `/mulesoft-update`, from its change set and
/// the workbook it left: the metric's value and status, the account's
/// Health_Score before → after and any change of its Renewal_Risk_Level.
pub fn updated(
    wb: &Workbook,
    plan: &UpdatePlan,
    changes: &csip_engine::ChangeSet,
    member: &str,
) -> Message {
    let name = account_name(wb, plan.account);
    let accounts = wb.table_id("Account_Master").ok();
    let metrics = wb.table_id("Platform_Health_Metrics").ok();
    let metric = plan.metric.or_else(|| {
        changes
            .inserted
            .iter()
            .find(|(t, _)| Some(*t) == metrics)
            .map(|(_, r)| *r)
    });
    let status = metrics
        .and_then(|t| column(wb, t, "Health_Status"))
        .zip(metric)
        .and_then(|(c, r)| wb.value(c, r).ok())
        .map(|v| wb.display(v))
        .unwrap_or_default();
    let account_change = |col: &str| -> Option<(String, String)> {
        let c = column(wb, accounts?, col)?;
        let change = changes.get(c, plan.account)?;
        Some((
            change
                .old
                .as_ref()
                .map(|v| wb.display(v))
                .unwrap_or_default(),
            wb.display(&change.new),
        ))
    };
    let score_now = accounts
        .and_then(|t| column(wb, t, "Health_Score"))
        .and_then(|c| wb.value(c, plan.account).ok())
        .map(|v| wb.display(v))
        .unwrap_or_default();
    let score = match account_change("Health_Score") {
        Some((before, after)) => format!("health score {before} → {after}"),
        None => format!("health score {score_now} (unchanged)"),
    };
    let risk = account_change("Renewal_Risk_Level")
        .map(|(before, after)| format!("; renewal risk {before} → {after}"))
        .unwrap_or_default();
    let created = if plan.metric.is_none() {
        " (new metric)"
    } else {
        ""
    };
    let value = wb.display(&plan.value);
    let status = if status.is_empty() {
        String::new()
    } else {
        format!(" — {status}")
    };
    let text = format!(
        "{name}: {}{created} set to {value}{status}; {score}{risk}. (by {member})",
        plan.metric_name
    );
    Message::in_channel(text.clone()).block(Block::section(Mrkdwn::new().plain(&text)))
}
