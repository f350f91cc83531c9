//! A sync run: an account's APIs (and metrics) fetched from Anypoint with
//! no lock held, then planned against the workbook and committed — the
//! data, an Automation_Logs row and a Slack message in one commit — or
//! nothing when nothing changed. The daily run goes over every active
//! account with an organization id, one account's failure not stopping the
//! others, its log row keyed by the slot.

use crate::client::{Client, Credentials, Settings};
use crate::sync::{Scope, Summary, plan};
use chrono::{DateTime, Duration, Utc};
use csip_engine::{RowId, Transaction, Value, Workbook};
use csip_store::{OutboxMessage, Store};
use csip_workbook::log::log_row;

/// Automation_Logs.Automation of a sync started by a person.
pub const MANUAL: &str = "Sync from Anypoint";
/// Automation_Logs.Automation of the daily run.
pub const DAILY: &str = "Daily Anypoint Sync";

/// What a sync of one account did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synced {
    /// The account's name.
    pub account: String,
    /// What it found and wrote.
    pub summary: Summary,
    /// The commit, when something changed.
    pub commit: Option<i64>,
    /// Requests made and retries.
    pub requests: u64,
    /// Retries among them.
    pub retries: u64,
}

/// Why a sync of one account did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The account is not in the workbook, or has no organization id.
    #[error("{0}")]
    Account(String),
    /// Anypoint could not be reached or refused.
    #[error("{0}")]
    Anypoint(#[from] crate::client::AnypointError),
    /// The workbook lacks what the sync writes.
    #[error("{0}")]
    Sync(#[from] crate::sync::SyncError),
    /// The file could not be written.
    #[error("{0}")]
    Store(#[from] csip_store::StoreError),
}

/// The Anypoint organization id of `account` (a row of Account_Master).
pub fn organization(wb: &Workbook, account: RowId) -> Option<String> {
    let t = wb.table_id("Account_Master").ok()?;
    let c = wb.column_id(t, "Anypoint_Org_ID").ok()?;
    match wb.value(c, account).ok()? {
        Value::Text(id) if !id.trim().is_empty() => Some(id.trim().to_string()),
        _ => None,
    }
}

/// Syncs `account` (a name or Account_ID) with `scope`: fetched with
/// `client`, committed on `store` by `actor` with its log row (`automation`)
/// and, when `channel` is set, a message for the outbox. Nothing is
/// committed when nothing changed.
///
/// # Errors
///
/// The account is unknown or has no organization id, Anypoint failed (the
/// workbook is untouched), or the file could not be written.
#[allow(clippy::too_many_arguments)]
pub fn sync_account(
    store: &mut Store,
    client: &mut Client,
    account: &str,
    scope: Scope,
    now: DateTime<Utc>,
    actor: &str,
    automation: &str,
    channel: Option<&str>,
) -> Result<Synced, RunError> {
    let fetched = fetch(store.workbook(), client, account, scope, now)?;
    apply(store, fetched, actor, automation, channel)
}

/// What Anypoint answered for an account, before it is written.
#[derive(Debug)]
pub struct Fetched {
    account: String,
    name: String,
    scope: Scope,
    now: DateTime<Utc>,
    assets: Vec<crate::client::Asset>,
    metrics: Option<crate::client::Metrics>,
    requests: u64,
    retries: u64,
}

/// The network half of a sync: the account found in `wb` (a snapshot is
/// enough: nothing is written), its assets and, for a scope with metrics,
/// their last 30 days — with no lock on the workbook held.
///
/// # Errors
///
/// The account is unknown or has no organization id, or Anypoint failed.
pub fn fetch(
    wb: &Workbook,
    client: &mut Client,
    account: &str,
    scope: Scope,
    now: DateTime<Utc>,
) -> Result<Fetched, RunError> {
    let row = csip_workbook::lookup::find_account(wb, account).ok_or_else(|| {
        RunError::Account(match csip_workbook::lookup::nearest_account(wb, account) {
            Some(n) => format!("there is no account “{account}”; did you mean “{n}”?"),
            None => format!("there is no account “{account}”"),
        })
    })?;
    let name = csip_workbook::lookup::account_name(wb, row);
    let org = organization(wb, row).ok_or_else(|| {
        RunError::Account(format!(
            "{name} has no Anypoint_Org_ID; set it on the account to sync it"
        ))
    })?;
    let before = client.stats();
    let assets = client.assets(&org)?;
    let metrics = if scope.metrics() {
        let ids: Vec<String> = assets.iter().map(|a| a.asset_id.clone()).collect();
        Some(client.metrics(&org, &ids, now - Duration::days(DAYS.into()), now)?)
    } else {
        None
    };
    let after = client.stats();
    Ok(Fetched {
        account: account.to_string(),
        name,
        scope,
        now,
        assets,
        metrics,
        requests: after.requests - before.requests,
        retries: after.retries - before.retries,
    })
}

/// The days of metrics a sync reads.
const DAYS: u32 = 30;

/// The writing half of a sync: what was fetched planned against `store`'s
/// workbook as it is now, and committed with its log row (`automation`)
/// and message — or nothing when nothing changed.
///
/// # Errors
///
/// The account was removed meanwhile, the workbook lacks what the sync
/// writes, or the file could not be written.
pub fn apply(
    store: &mut Store,
    fetched: Fetched,
    actor: &str,
    automation: &str,
    channel: Option<&str>,
) -> Result<Synced, RunError> {
    let Fetched {
        account,
        name,
        scope,
        now,
        assets,
        metrics,
        requests,
        retries,
    } = fetched;
    let days = DAYS;
    // Planned against the workbook as it is now (the file may have moved on).
    store.refresh()?;
    let wb = store.workbook();
    let Some(row) = csip_workbook::lookup::find_account(wb, &account) else {
        return Err(RunError::Account(format!(
            "{name} was removed during the sync"
        )));
    };
    let (tx, summary) = plan(
        wb,
        row,
        &assets,
        metrics.as_ref(),
        days,
        scope,
        now.naive_utc(),
    )?;
    if tx.ops().is_empty() {
        return Ok(Synced {
            account: name,
            summary,
            commit: None,
            requests,
            retries,
        });
    }
    let message = format!(
        "{name}: {} ({}); {requests} requests, {retries} retries",
        summary.line(),
        scope.name()
    );
    let details: String = summary
        .skipped
        .iter()
        .map(|(what, why)| format!("skipped {what}: {why}\n"))
        .chain(
            summary
                .gone
                .iter()
                .map(|g| format!("gone from Exchange: {g}\n")),
        )
        .collect();
    let key = format!(
        "{automation}/{name}/{}",
        now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    );
    let tx = log_row(
        wb,
        tx,
        automation,
        &key,
        now.naive_utc(),
        "Success",
        summary.synced,
        &message,
        &details,
        0,
    );
    let messages: Vec<OutboxMessage> = channel
        .map(|ch| {
            vec![OutboxMessage::new(
                format!("anypoint:{key}"),
                "slack",
                ch,
                serde_json::json!({"channel": ch, "text": format!("🔄 Anypoint sync — {message}")}),
            )]
        })
        .unwrap_or_default();
    store.commit_with_messages(tx, actor, now.naive_utc(), |_, _| messages)?;
    Ok(Synced {
        account: name,
        summary,
        commit: store.last_commit().ok(),
        requests,
        retries,
    })
}

/// The active accounts with an organization id, by name.
pub fn syncable_accounts(wb: &Workbook) -> Vec<String> {
    let Ok(t) = wb.table_id("Account_Master") else {
        return Vec::new();
    };
    let status = wb.column_id(t, "Account_Status").ok();
    wb.rows(t)
        .unwrap_or_default()
        .iter()
        .filter(|&&r| {
            status.is_none_or(|c| {
                wb.value(c, r).map(|v| wb.display(v)).ok().as_deref() == Some("Active")
            })
        })
        .filter(|&&r| organization(wb, r).is_some())
        .map(|&r| csip_workbook::lookup::account_name(wb, r))
        .collect()
}

/// How the daily run reaches the workbook: reads on a snapshot (or the
/// store), writes through the writer — so that the network, between them,
/// holds no lock.
pub trait Access {
    /// Runs `f` on the workbook as it is now.
    fn read(&self, f: &mut dyn FnMut(&Workbook));
    /// Runs `f` with the writer's store.
    fn write(&self, f: &mut dyn FnMut(&mut Store));
}

/// The daily run at `slot`, keyed `key`: a Full Sync of every active
/// account with an organization id (credentials by organization from
/// `credentials_of`), each account fetched with no lock and committed on
/// its own; then the run's log row with the key, whatever happened to each
/// account. The message of the log row.
///
/// # Errors
///
/// The log row could not be written.
pub fn daily(
    access: &dyn Access,
    settings: &Settings,
    credentials_of: &dyn Fn(&str) -> Option<Credentials>,
    slot: DateTime<Utc>,
    key: &str,
    channel: Option<&str>,
) -> Result<String, String> {
    let started = std::time::Instant::now();
    let mut accounts = Vec::new();
    access.read(&mut |wb| accounts = syncable_accounts(wb));
    let (mut ok, mut failed, mut details) = (0usize, 0usize, String::new());
    for account in &accounts {
        let mut org = String::new();
        access.read(&mut |wb| {
            org = csip_workbook::lookup::find_account(wb, account)
                .and_then(|r| organization(wb, r))
                .unwrap_or_default();
        });
        let Some(credentials) = credentials_of(&org) else {
            failed += 1;
            details.push_str(&format!(
                "{account}: no Anypoint credentials for organization {org}\n"
            ));
            continue;
        };
        let mut fetched = None;
        match Client::new(settings.clone(), credentials) {
            Err(e) => fetched = Some(Err(RunError::from(e))),
            Ok(mut client) => access.read(&mut |wb| {
                fetched = Some(fetch(wb, &mut client, account, Scope::FullSync, slot));
            }),
        }
        let result = match fetched {
            Some(Ok(f)) => {
                let mut f = Some(f);
                let mut applied = None;
                access.write(&mut |store| {
                    if let Some(f) = f.take() {
                        applied = Some(apply(
                            store,
                            f,
                            "automation:Daily Anypoint Sync",
                            DAILY,
                            channel,
                        ));
                    }
                });
                applied
                    .unwrap_or_else(|| Err(RunError::Account(format!("{account} was not written"))))
            }
            Some(Err(e)) => Err(e),
            None => Err(RunError::Account(format!("{account} was not fetched"))),
        };
        match result {
            Ok(s) => {
                ok += 1;
                details.push_str(&format!("{account}: {}\n", s.summary.line()));
            }
            Err(e) => {
                failed += 1;
                details.push_str(&format!("{account}: {e}\n"));
            }
        }
    }
    let status = match (ok, failed) {
        (_, 0) => "Success",
        (0, _) => "Failed",
        _ => "Partial",
    };
    let message = format!("{ok} accounts synced, {failed} failed");
    let mut written = Err("the log row was not written".to_string());
    access.write(&mut |store| {
        let tx = log_row(
            store.workbook(),
            Transaction::new(),
            DAILY,
            key,
            slot.naive_utc(),
            status,
            accounts.len(),
            &message,
            &details,
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        written = store
            .commit(tx, "automation:Daily Anypoint Sync", slot.naive_utc())
            .map(|_| ())
            .map_err(|e| e.to_string());
    });
    written?;
    Ok(message)
}
