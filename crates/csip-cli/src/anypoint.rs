//! `csip anypoint sync` (docs/anypoint.md): an account's APIs and metrics
//! from the Anypoint Platform into a workbook file, in one commit.

use crate::progress::{seconds, spinner};
use crate::stored::{actor, open, system_now};
use csip_anypoint::{Client, Scope};
use std::path::Path;
use std::time::Instant;

pub(crate) fn sync(
    db: &Path,
    account: &str,
    scope: &str,
    config: &csip_store::Config,
    who: Option<&str>,
    today: csip_engine::NaiveDate,
) -> Result<String, String> {
    let scope: Scope = scope.parse().map_err(|e| format!("error: {e}"))?;
    let settings = csip_anypoint::settings(config, &|n| std::env::var(n).ok())
        .map_err(|e| format!("error: {e}"))?;
    let mut store = open(db, today)?;
    let wb = store.workbook();
    let row = csip_workbook::lookup::find_account(wb, account)
        .ok_or_else(|| format!("error: there is no account “{account}”"))?;
    let org = csip_anypoint::run::organization(wb, row).ok_or_else(|| {
        format!("error: {account} has no Anypoint_Org_ID; set it on the account to sync it")
    })?;
    let credentials = csip_anypoint::credentials(&config.secrets, &org).ok_or_else(|| {
        format!(
            "error: no Anypoint credentials for organization {org}: set CSIP_ANYPOINT_CLIENT_ID and CSIP_ANYPOINT_CLIENT_SECRET (or \"CSIP_ANYPOINT_CLIENT_ID.{org}\" in the secrets file)"
        )
    })?;
    let started = Instant::now();
    let mut client = Client::new(settings, credentials).map_err(|e| format!("error: {e}"))?;
    let s = spinner(format!(
        "syncing {account} from Anypoint ({})",
        scope.name()
    ));
    let result = csip_anypoint::sync_account(
        &mut store,
        &mut client,
        account,
        scope,
        system_now().and_utc(),
        &actor(who),
        csip_anypoint::run::MANUAL,
        config.slack.updates_channel.as_deref(),
    );
    s.finish_and_clear();
    let synced = result.map_err(|e| format!("error: {account}: {e}"))?;
    let mut out = format!(
        "{}: {} ({}); {} requests, {} retries, in {}.\n",
        synced.account,
        synced.summary.line(),
        scope.name(),
        synced.requests,
        synced.retries,
        seconds(started.elapsed())
    );
    match synced.commit {
        Some(c) => out.push_str(&format!("Committed as commit {c}.\n")),
        None => out.push_str("Nothing changed; nothing written.\n"),
    }
    for (what, why) in &synced.summary.skipped {
        out.push_str(&format!("  skipped {what}: {why}\n"));
    }
    for gone in &synced.summary.gone {
        out.push_str(&format!(
            "  gone from Exchange (flagged Needs_Manual_Mapping): {gone}\n"
        ));
    }
    Ok(out)
}
