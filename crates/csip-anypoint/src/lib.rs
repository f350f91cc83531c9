//! The Anypoint Platform sync (DESIGN §5 "Anypoint"; `docs/anypoint.md`):
//! [`client`] speaks to the control plane (OAuth2 client credentials,
//! Exchange, metrics; retries, rate limits, a time bound), [`sync`] turns
//! what it answered into one transaction per account, and [`run`] commits
//! it with its log row and message — a person's sync, or the daily one.

pub mod client;
pub mod run;
pub mod sync;

pub use client::{Client, Credentials, Settings};
pub use run::{Fetched, Synced, apply, daily, fetch, sync_account, syncable_accounts};
pub use sync::{Scope, Summary};

/// The client credentials of organization `org`: those of the secrets file
/// for that organization (`"CSIP_ANYPOINT_CLIENT_ID.<org>"`,
/// `"CSIP_ANYPOINT_CLIENT_SECRET.<org>"`), else the general ones
/// (`CSIP_ANYPOINT_CLIENT_ID`, `CSIP_ANYPOINT_CLIENT_SECRET`, from the
/// environment or the secrets file).
pub fn credentials(secrets: &csip_store::Secrets, org: &str) -> Option<Credentials> {
    let get = |name: &str| {
        secrets
            .get(&format!("{name}.{org}"))
            .or_else(|| secrets.get(name))
            .cloned()
    };
    Some(Credentials {
        client_id: get("CSIP_ANYPOINT_CLIENT_ID")?,
        client_secret: get("CSIP_ANYPOINT_CLIENT_SECRET")?,
    })
}

#[derive(serde::Deserialize)]
struct Doc {
    #[serde(default)]
    anypoint: Settings,
}

/// The client's settings: the `[anypoint]` section of `csip.toml`
/// (defaults without one), the base URL from `CSIP_ANYPOINT_URL` when
/// `env` has it.
///
/// # Errors
///
/// The section does not fit, with its line and column.
pub fn settings(
    config: &csip_store::Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, csip_store::ConfigError> {
    let mut settings = config.section::<Doc>()?.anypoint;
    if let Some(url) = env(client::URL_ENV).filter(|u| !u.trim().is_empty()) {
        settings.base_url = url.trim().trim_end_matches('/').to_string();
    }
    Ok(settings)
}
