//! A client of the Anypoint Platform control plane: an OAuth2 token from a
//! connected app's client credentials, an organization's Exchange assets
//! (the latest version of each), its environments, and 30 days of metrics
//! per API, from Anypoint Monitoring or from the legacy analytics events
//! API. Blocking (`reqwest::blocking`, rustls): call it from a plain
//! thread, or from `spawn_blocking` in async code.
//!
//! # Limits it lives with
//!
//! Every call goes through one loop ([`Client`]'s `execute`): a 429, a 503
//! or any other 5xx, a refused connection and a request that times out
//! (`Settings::request_timeout`) are tried again, up to
//! `Settings::retry.attempts` attempts in all, after `retry.first`, then
//! twice as long each time up to `retry.max`, each delay taken at random
//! between its half and its whole (jitter). A `Retry-After` of seconds
//! replaces the computed delay; an answer with `X-RateLimit-Remaining: 0`
//! holds the next call until `X-RateLimit-Reset` seconds have passed (a
//! value above 10⁹ is read as a Unix time). Nothing waits past the
//! deadline (`Settings::deadline`, counted from [`Client::new`]): a wait
//! or a request that would end after it stops with
//! [`AnypointError::Deadline`], naming what was not fetched.
//!
//! A 401 drops the cached token; a new one is fetched **once** and the call
//! made again; a second 401 is [`AnypointError::Unauthorized`]. An answer
//! that is not the JSON expected is [`AnypointError::Malformed`], naming
//! the endpoint (the path, without the query); nothing here panics on what
//! a server sends, and an answer over 64 MiB is refused.
//!
//! The client id, the secret and the token are held as
//! [`csip_store::Secret`] (printed `***`) and read only to build the token
//! request's form and the `Authorization` header; no error, `Debug` output
//! or log line carries them (the token endpoint's malformed answers are
//! described by their position only, as they may hold the token).
//!
//! # Wire formats
//!
//! Paths are under `Settings::base_url` ([`ANYPOINT_US`], [`ANYPOINT_EU`],
//! [`ANYPOINT_GOV`]; `CSIP_ANYPOINT_URL` overrides it). Unknown JSON fields
//! are ignored.
//!
//! - **Token** (MuleSoft docs, "Getting the Bearer Token for a Connected
//!   App", docs.mulesoft.com/access-management/connected-app-bearer-token-example):
//!   `POST /accounts/api/v2/oauth2/token`, form-encoded `grant_type=
//!   client_credentials`, `client_id`, `client_secret`; the answer
//!   `{"access_token": "…", "token_type": "bearer", "expires_in": 3600}`
//!   (a missing `expires_in` is taken as 3600 s). The token is sent as
//!   `Authorization: Bearer …` and renewed 60 s (or half its life, if
//!   shorter) before it expires.
//! - **Exchange** (DESIGN §5; the Exchange Experience API):
//!   `GET /exchange/api/v2/assets/search?organizationId=…&types=rest-api&
//!   offset=…&limit=…`, answered by a JSON array of assets
//!   `[{"groupId", "assetId", "version", "name", "description", "status",
//!   "createdAt", …}]`; paged until a page shorter than `limit`, at most
//!   1,000 pages ([`AnypointError::TooManyPages`] beyond).
//! - **Environments** (Access Management API):
//!   `GET /accounts/api/organizations/{orgId}/environments`, answered by
//!   `{"data": [{"id", "name", "isProduction": true, "type":
//!   "production"}, …], "total": n}` (production when `isProduction`, else
//!   when `type` is `production`).
//! - **Anypoint Monitoring** (the Metrics API, Exchange page "Anypoint
//!   Monitoring Metrics API": `SELECT aggregatedMeasure, [attributeList]
//!   FROM MetricNameT WHERE timestamp BETWEEN {start} AND {end} [AND …]
//!   [GROUP BY …]`): `POST /observability/api/v1/metrics:search?offset=…&
//!   limit=…` with `{"query": "SELECT COUNT(requests), AVG(response_time),
//!   SUM(errors), \"api_id\" FROM \"mulesoft.api\" WHERE timestamp BETWEEN
//!   {from_ms} AND {to_ms} AND \"sub_org.id\" = '{orgId}' GROUP BY
//!   \"api_id\""}` (timestamps in milliseconds; the `"sub_org.id"` filter
//!   and the `offset`/`limit` query parameters as public clients of the
//!   API use them), answered by `{"data": [{"api_id": "…",
//!   "COUNT(requests)": n, "AVG(response_time)": ms, "SUM(errors)": n},
//!   …]}`, paged until a short page. The API answers at most 30 days per
//!   query, so a longer window is asked in 30-day parts and combined
//!   (averages weighted by requests). **Assumption:** the `mulesoft.api`
//!   dimension that carries the Exchange asset id is named `api_id`; the
//!   Metrics API's describe endpoint lists the real dimensions, and a
//!   control plane that names it otherwise needs only [`API_DIMENSION`]
//!   changed.
//! - **Analytics events** (legacy; MuleSoft docs "Reviewing Mule API
//!   Analytics Event API": 10 requests a minute, at most 20,000 events a
//!   request, one month kept): for each production environment,
//!   `GET /analytics/1.0/{orgId}/environments/{envId}/events?format=json&
//!   startDate=…&endDate=…&fields=API%20ID.API%20Name.Response%20Time.
//!   Status%20Code` (dates RFC 3339 in UTC to the second, fields joined by
//!   `.`), answered by a JSON array of events keyed by field name,
//!   `[{"API ID": "…", "API Name": "…", "Response Time": 120, "Status
//!   Code": 200}, …]` (numbers or numeric text). An event counts for the
//!   API whose asset id is its `API Name` (API Manager 2 names an API by
//!   its asset), else its `API ID`; an error is a status of 400 or more.
//!   An answer of 20,000 events is taken as cut off: its window is asked
//!   again in halves, down to one minute.
//!
//! Where a source was thin (the Monitoring dimension, the analytics event
//! field names) the shape above is the one this client speaks, and the
//! tests' fake server (`tests/fake/mod.rs`) speaks it too.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use csip_store::{Backoff, Secret};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The US control plane (the default).
///
/// ```
/// assert!(csip_anypoint::client::ANYPOINT_US.starts_with("https://"));
/// ```
pub const ANYPOINT_US: &str = "https://anypoint.mulesoft.com";

/// The EU control plane (`region = "eu"`).
///
/// ```
/// assert!(csip_anypoint::client::ANYPOINT_EU.contains("eu1"));
/// ```
pub const ANYPOINT_EU: &str = "https://eu1.anypoint.mulesoft.com";

/// The US Government control plane (`region = "gov"`).
///
/// ```
/// assert!(csip_anypoint::client::ANYPOINT_GOV.contains("gov"));
/// ```
pub const ANYPOINT_GOV: &str = "https://gov.anypoint.mulesoft.com";

/// The environment variable whose value, when set, is the base URL (it
/// wins over `csip.toml`; tests point it at a local server).
///
/// ```
/// assert_eq!(csip_anypoint::client::URL_ENV, "CSIP_ANYPOINT_URL");
/// ```
pub const URL_ENV: &str = "CSIP_ANYPOINT_URL";

/// The `mulesoft.api` dimension of Anypoint Monitoring that the metrics
/// query groups by, taken to carry the Exchange asset id (see the module
/// docs: an assumption to check against the describe endpoint).
///
/// ```
/// assert_eq!(csip_anypoint::client::API_DIMENSION, "api_id");
/// ```
pub const API_DIMENSION: &str = "api_id";

/// The most pages read of one listing before giving up on it.
const MAX_PAGES: usize = 1_000;
/// The largest answer read.
const MAX_BODY: u64 = 64 << 20;
/// The longest window one Monitoring query may cover.
const MONITORING_MAX_DAYS: i64 = 30;
/// The most events the analytics API answers with at once.
const ANALYTICS_MAX_EVENTS: usize = 20_000;
/// The shortest window an analytics request is split down to.
const ANALYTICS_MIN_WINDOW_SECONDS: i64 = 60;
/// A token's life when the answer does not say.
const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(3600);
/// How long before its expiry a token is renewed.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// The longest any wait or bound is taken to be (a year): what a server
/// or a setting says beyond it cannot overflow a clock.
const LONGEST: Duration = Duration::from_secs(365 * 86_400);
/// The analytics event fields asked for, as the API names them.
const EVENT_FIELDS: [&str; 4] = ["API ID", "API Name", "Response Time", "Status Code"];

/// A connected app's client credentials (it acts on its own behalf), read
/// from `CSIP_ANYPOINT_CLIENT_ID` and `CSIP_ANYPOINT_CLIENT_SECRET`. Both
/// print as `***`.
///
/// ```
/// use csip_anypoint::client::Credentials;
/// use csip_store::Secret;
/// let c = Credentials { client_id: Secret::new("id-1"), client_secret: Secret::new("s3cret") };
/// assert!(!format!("{c:?}").contains("s3cret"));
/// ```
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The connected app's client id.
    pub client_id: Secret,
    /// The connected app's client secret.
    pub client_secret: Secret,
}

/// Where 30 days of metrics per API come from.
///
/// ```
/// use csip_anypoint::client::MetricsSource;
/// assert_eq!(MetricsSource::default(), MetricsSource::Monitoring);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsSource {
    /// The Anypoint Monitoring Metrics API (`metrics:search`, AMQL).
    #[default]
    Monitoring,
    /// The legacy analytics events API, aggregated here, over the
    /// organization's production environments.
    Analytics,
}

/// How the client reaches Anypoint and how long it may take: the
/// `[anypoint]` section of `csip.toml`.
///
/// ```toml
/// [anypoint]
/// region = "eu"                 # "us" (default), "eu", "gov"; or base_url = "https://…"
/// request_timeout_seconds = 30
/// deadline_seconds = 600        # a whole sync's bound
/// retry_attempts = 5
/// retry_first_seconds = 1
/// retry_max_seconds = 60
/// page_size = 100
/// metrics = "monitoring"        # or "analytics" (the legacy events API)
/// ```
///
/// ```
/// use csip_anypoint::client::{Settings, ANYPOINT_EU};
/// use std::time::Duration;
/// let s: Settings = toml::from_str("region = \"eu\"\ndeadline_seconds = 120").unwrap();
/// assert_eq!(s.base_url, ANYPOINT_EU);
/// assert_eq!(s.deadline, Duration::from_secs(120));
/// assert_eq!(s.page_size, 100);
/// assert!(toml::from_str::<Settings>("deadline = 120").is_err()); // unknown key
/// ```
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(try_from = "SettingsFile")]
pub struct Settings {
    /// The control plane, without a trailing `/` ([`ANYPOINT_US`] by default).
    pub base_url: String,
    /// The longest one request may take, connecting included (30 s).
    pub request_timeout: Duration,
    /// The bound of everything one [`Client`] does, counted from
    /// [`Client::new`] (10 minutes).
    pub deadline: Duration,
    /// Retries of 429, 5xx, refused connections and timeouts: 5 attempts,
    /// 1 s doubling up to 60 s, with jitter.
    pub retry: Backoff,
    /// Items asked per page of a listing (100).
    pub page_size: usize,
    /// Where metrics come from ([`MetricsSource::Monitoring`]).
    pub metrics: MetricsSource,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            base_url: ANYPOINT_US.to_string(),
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(600),
            retry: Backoff {
                first: Duration::from_secs(1),
                max: Duration::from_secs(60),
                attempts: 5,
            },
            page_size: 100,
            metrics: MetricsSource::Monitoring,
        }
    }
}

/// `[anypoint]` as written (every key optional; unknown keys refused).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    region: Option<Region>,
    base_url: Option<String>,
    request_timeout_seconds: Option<u64>,
    deadline_seconds: Option<u64>,
    retry_attempts: Option<u32>,
    retry_first_seconds: Option<u64>,
    retry_max_seconds: Option<u64>,
    page_size: Option<usize>,
    metrics: Option<MetricsSource>,
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Region {
    Us,
    Eu,
    Gov,
}

impl TryFrom<SettingsFile> for Settings {
    type Error = String;

    fn try_from(file: SettingsFile) -> Result<Settings, String> {
        let defaults = Settings::default();
        let base_url = match (file.region, file.base_url) {
            (Some(_), Some(_)) => {
                return Err("give either region or base_url in [anypoint], not both".into());
            }
            (None, Some(url)) => url.trim().trim_end_matches('/').to_string(),
            (Some(Region::Us), None) | (None, None) => ANYPOINT_US.to_string(),
            (Some(Region::Eu), None) => ANYPOINT_EU.to_string(),
            (Some(Region::Gov), None) => ANYPOINT_GOV.to_string(),
        };
        let positive = |key: &str, value: Option<u64>, default: Duration| match value {
            Some(0) => Err(format!("anypoint.{key} must be at least 1")),
            Some(n) => Ok(Duration::from_secs(n)),
            None => Ok(default),
        };
        let first = positive(
            "retry_first_seconds",
            file.retry_first_seconds,
            defaults.retry.first,
        )?;
        let max = positive(
            "retry_max_seconds",
            file.retry_max_seconds,
            defaults.retry.max,
        )?;
        if max < first {
            return Err("anypoint.retry_max_seconds must not be below retry_first_seconds".into());
        }
        let attempts = match file.retry_attempts {
            Some(0) => return Err("anypoint.retry_attempts must be at least 1".into()),
            Some(n) => n,
            None => defaults.retry.attempts,
        };
        let page_size = match file.page_size {
            Some(0) => return Err("anypoint.page_size must be at least 1".into()),
            Some(n) => n,
            None => defaults.page_size,
        };
        Ok(Settings {
            base_url,
            request_timeout: positive(
                "request_timeout_seconds",
                file.request_timeout_seconds,
                defaults.request_timeout,
            )?,
            deadline: positive("deadline_seconds", file.deadline_seconds, defaults.deadline)?,
            retry: Backoff {
                first,
                max,
                attempts,
            },
            page_size,
            metrics: file.metrics.unwrap_or_default(),
        })
    }
}

/// One API of Exchange, at its latest version.
///
/// ```
/// use csip_anypoint::client::Asset;
/// let a = Asset {
///     group_id: "org-1".into(), asset_id: "orders-api".into(), version: "2.1.0".into(),
///     name: "Orders API".into(), description: None, status: Some("published".into()),
///     created_at: None,
/// };
/// assert_eq!(a.asset_id, "orders-api");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    /// Its group (usually the organization id).
    pub group_id: String,
    /// Its id within the group: the API_ID the workbook knows it by.
    pub asset_id: String,
    /// Its latest version (by semantic versioning).
    pub version: String,
    /// Its name (the asset id when Exchange gives none).
    pub name: String,
    /// Its description, when it has one.
    pub description: Option<String>,
    /// Its lifecycle status (`published`, `deprecated`…), when given.
    pub status: Option<String>,
    /// When that version was created, as Exchange wrote it.
    pub created_at: Option<String>,
}

/// One environment of an organization.
///
/// ```
/// use csip_anypoint::client::Environment;
/// let e = Environment { id: "env-1".into(), name: "Production".into(), production: true };
/// assert!(e.production);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it is a production environment.
    pub production: bool,
}

/// One API's traffic over a window.
///
/// ```
/// use csip_anypoint::client::ApiMetrics;
/// let m = ApiMetrics { requests: 1_000, errors: 25, avg_response_ms: Some(120.0) };
/// assert_eq!(m.monthly_volume(15), 2_000.0);
/// assert_eq!(m.error_rate_percent(), Some(2.5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ApiMetrics {
    /// Requests in the window.
    pub requests: u64,
    /// Requests that failed (Monitoring's `errors`; for analytics events,
    /// a status of 400 or more).
    pub errors: u64,
    /// The average response time in milliseconds, when one was measured.
    pub avg_response_ms: Option<f64>,
}

impl ApiMetrics {
    /// The requests of a window of `days` days scaled to a 30-day month
    /// (the requests themselves for a window of 0 days).
    ///
    /// ```
    /// use csip_anypoint::client::ApiMetrics;
    /// let m = ApiMetrics { requests: 300, errors: 0, avg_response_ms: None };
    /// assert_eq!(m.monthly_volume(30), 300.0);
    /// assert_eq!(m.monthly_volume(10), 900.0);
    /// ```
    pub fn monthly_volume(&self, days: u32) -> f64 {
        if days == 0 {
            self.requests as f64
        } else {
            self.requests as f64 * 30.0 / f64::from(days)
        }
    }

    /// Errors as a percentage of requests (at most 100); `None` without
    /// requests.
    ///
    /// ```
    /// use csip_anypoint::client::ApiMetrics;
    /// assert_eq!(ApiMetrics::default().error_rate_percent(), None);
    /// let m = ApiMetrics { requests: 200, errors: 3, avg_response_ms: None };
    /// assert_eq!(m.error_rate_percent(), Some(1.5));
    /// ```
    pub fn error_rate_percent(&self) -> Option<f64> {
        (self.requests > 0).then(|| (self.errors as f64 * 100.0 / self.requests as f64).min(100.0))
    }

    /// `other`'s window added to this one's (averages weighted by requests).
    fn absorb(&mut self, other: &ApiMetrics) {
        self.avg_response_ms = match (self.avg_response_ms, other.avg_response_ms) {
            (Some(a), Some(b)) => {
                let (wa, wb) = (self.requests as f64, other.requests as f64);
                if wa + wb > 0.0 {
                    Some((a * wa + b * wb) / (wa + wb))
                } else {
                    Some((a + b) / 2.0)
                }
            }
            (a, b) => a.or(b),
        };
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
    }
}

/// The metrics of the APIs asked for.
///
/// ```
/// use csip_anypoint::client::{ApiMetrics, Metrics};
/// let mut m = Metrics::default();
/// m.per_api.insert("orders-api".into(), ApiMetrics { requests: 10, errors: 0, avg_response_ms: Some(80.0) });
/// m.unreached.push(("legacy-api".into(), "no data in the window".into()));
/// assert_eq!(m.per_api["orders-api"].requests, 10);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Each API (by asset id) that had data in the window.
    pub per_api: BTreeMap<String, ApiMetrics>,
    /// The APIs asked for that had none, each with the reason.
    pub unreached: Vec<(String, String)>,
}

/// What a [`Client`] has done so far.
///
/// ```
/// use csip_anypoint::client::Stats;
/// let s = Stats::default();
/// assert_eq!((s.requests, s.retries, s.token_fetches), (0, 0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests sent (token requests included).
    pub requests: u64,
    /// Requests sent again after a failure or a 401.
    pub retries: u64,
    /// Tokens obtained.
    pub token_fetches: u64,
}

/// Why a call to Anypoint did not give its answer. No variant holds a
/// credential or a token.
///
/// ```
/// use csip_anypoint::client::AnypointError;
/// let e = AnypointError::Unauthorized;
/// assert!(e.to_string().contains("CSIP_ANYPOINT_CLIENT_ID"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnypointError {
    /// The settings cannot be used.
    #[error(
        "the Anypoint settings cannot be used: {reason}; fix the [anypoint] section of csip.toml (or CSIP_ANYPOINT_URL)"
    )]
    BadSettings {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error(
        "the HTTP client for Anypoint could not be set up ({reason}); this is a problem of the host, not of Anypoint"
    )]
    Http {
        /// What went wrong.
        reason: String,
    },
    /// An argument cannot be sent (an id with characters no id has, an
    /// empty window).
    #[error("{reason}")]
    InvalidInput {
        /// The sentence saying what to give instead.
        reason: String,
    },
    /// Anypoint refused the credentials, or the token twice.
    #[error(
        "Anypoint refused the client credentials (HTTP 401); check CSIP_ANYPOINT_CLIENT_ID/SECRET and the connected app's scopes"
    )]
    Unauthorized,
    /// The connected app may not call this endpoint.
    #[error(
        "Anypoint refused {endpoint} (HTTP 403): the connected app lacks the scope for it; add the scope (Exchange Viewer, Monitoring Viewer, Analytics Event API Reader, View Environment) to the app in Access Management"
    )]
    Forbidden {
        /// The endpoint's path.
        endpoint: String,
    },
    /// Anypoint does not know the organization (HTTP 404).
    #[error(
        "Anypoint knows no organization {org_id} (HTTP 404); check the account's Anypoint_Org_ID (Access Management > Business Groups) and that the connected app belongs to that organization"
    )]
    UnknownOrganization {
        /// The organization id given.
        org_id: String,
    },
    /// An endpoint that is not there (HTTP 404).
    #[error(
        "Anypoint has no {endpoint} (HTTP 404); check anypoint.base_url or region (US, EU, Gov) and that the product is part of the subscription"
    )]
    NotFound {
        /// The endpoint's path.
        endpoint: String,
    },
    /// Another refusal (a 4xx other than 401, 403, 404 and 429, or a
    /// redirect).
    #[error(
        "Anypoint refused {endpoint} with HTTP {status}; this client may need an update for the API's current version"
    )]
    Refused {
        /// The endpoint's path.
        endpoint: String,
        /// The HTTP status.
        status: u16,
    },
    /// Still 429 or 5xx after every attempt.
    #[error(
        "Anypoint answered {endpoint} with HTTP {status} on each of {attempts} attempts; it is unavailable or limiting csip's rate, try again later"
    )]
    Unavailable {
        /// The endpoint's path.
        endpoint: String,
        /// The last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// No answer after every attempt (refused connection, timeout).
    #[error(
        "Anypoint could not be reached for {endpoint} after {attempts} attempts ({reason}); check the network and anypoint.base_url (or CSIP_ANYPOINT_URL), then try again"
    )]
    Unreachable {
        /// The endpoint's path.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt met.
        reason: String,
    },
    /// The time bound ran out.
    #[error(
        "the Anypoint sync ran out of time (anypoint.deadline_seconds) before it got {reached}; try again later, or raise the deadline if Anypoint is slow but answering"
    )]
    Deadline {
        /// What was not fetched (`the Exchange assets of organization … from offset 300`).
        reached: String,
    },
    /// An answer that is not what the endpoint documents.
    #[error(
        "Anypoint's answer to {endpoint} is not what it documents: {reason}; try again later, and report it if it persists"
    )]
    Malformed {
        /// The endpoint's path (without the query).
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A listing that did not end.
    #[error(
        "Anypoint's {endpoint} went on past {pages} pages, so csip stopped reading it; raise anypoint.page_size, or check that the server honours offset"
    )]
    TooManyPages {
        /// The endpoint's path.
        endpoint: String,
        /// Pages read.
        pages: usize,
    },
}

/// A client of one organization's control plane with one connected app's
/// credentials. It caches its token and counts what it does
/// ([`Client::stats`]); its deadline starts at [`Client::new`].
///
/// ```
/// use csip_anypoint::client::{Client, Credentials, Settings};
/// use csip_store::Secret;
/// let credentials = Credentials { client_id: Secret::new("id"), client_secret: Secret::new("s3cret") };
/// let client = Client::new(Settings::default(), credentials)?;
/// assert!(!format!("{client:?}").contains("s3cret"));
/// assert_eq!(client.stats().requests, 0);
/// # Ok::<(), csip_anypoint::client::AnypointError>(())
/// ```
pub struct Client {
    settings: Settings,
    credentials: Credentials,
    base: Url,
    http: reqwest::blocking::Client,
    deadline: Instant,
    token: Option<Token>,
    /// No request before this (`X-RateLimit-Remaining: 0`).
    not_before: Option<Instant>,
    stats: Stats,
    /// The jitter's random state (xorshift).
    seed: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.settings.base_url)
            .field("metrics", &self.settings.metrics)
            .field(
                "time_left",
                &self.deadline.saturating_duration_since(Instant::now()),
            )
            .field("has_token", &self.token.is_some())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A cached token.
#[derive(Debug)]
struct Token {
    secret: Secret,
    renew_at: Instant,
}

/// One call as `execute` makes it (and makes it again).
struct Call {
    method: Method,
    url: Url,
    payload: Payload,
    /// The token request itself (no bearer; 400 and 401 mean bad credentials).
    token_request: bool,
    /// The organization whose 404 means it is unknown.
    org: Option<String>,
    /// What it fetches, for [`AnypointError::Deadline`].
    what: String,
}

enum Payload {
    None,
    Json(String),
    /// A form that holds the client secret.
    Form(Secret),
}

/// Why one attempt failed in a way worth another.
enum Failure {
    Transport(String),
    Status(u16, Option<Duration>),
}

#[derive(serde::Deserialize)]
struct WireToken {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAsset {
    group_id: String,
    asset_id: String,
    version: String,
    name: Option<String>,
    description: Option<String>,
    status: Option<String>,
    created_at: Option<String>,
}

#[derive(serde::Deserialize)]
struct WireEnvironments {
    data: Vec<WireEnvironment>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvironment {
    id: String,
    name: String,
    is_production: Option<bool>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(serde::Deserialize)]
struct WireRows {
    data: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl Client {
    /// A client of `settings.base_url` with `credentials`. Nothing is sent
    /// yet; the deadline (`settings.deadline`) starts now.
    ///
    /// ```
    /// use csip_anypoint::client::{AnypointError, Client, Credentials, Settings};
    /// use csip_store::Secret;
    /// let credentials = || Credentials { client_id: Secret::new("id"), client_secret: Secret::new("s") };
    /// let settings = Settings { base_url: "ftp://example.com".into(), ..Settings::default() };
    /// assert!(matches!(Client::new(settings, credentials()), Err(AnypointError::BadSettings { .. })));
    /// ```
    ///
    /// # Errors
    ///
    /// [`AnypointError::BadSettings`]: a base URL that is not `http(s)://`,
    /// a zero timeout, deadline, page size or attempt count, or empty
    /// credentials; [`AnypointError::Http`] when the HTTP client cannot be
    /// built.
    pub fn new(settings: Settings, credentials: Credentials) -> Result<Client, AnypointError> {
        let deadline = Instant::now() + settings.deadline.min(LONGEST);
        let bad = |reason: &str| AnypointError::BadSettings {
            reason: reason.to_string(),
        };
        let base = Url::parse(settings.base_url.trim().trim_end_matches('/'))
            .map_err(|_| bad(&format!("{:?} is not a URL", settings.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(bad(&format!(
                "{:?} is not an http:// or https:// URL",
                settings.base_url
            )));
        }
        if settings.request_timeout.is_zero() {
            return Err(bad("the request timeout is zero"));
        }
        if settings.deadline.is_zero() {
            return Err(bad("the deadline is zero"));
        }
        if settings.page_size == 0 {
            return Err(bad("the page size is zero"));
        }
        if settings.retry.attempts == 0 {
            return Err(bad("the retry attempts are zero"));
        }
        if credentials.client_id.expose().trim().is_empty() {
            return Err(bad("the client id is empty (CSIP_ANYPOINT_CLIENT_ID)"));
        }
        if credentials.client_secret.expose().trim().is_empty() {
            return Err(bad(
                "the client secret is empty (CSIP_ANYPOINT_CLIENT_SECRET)",
            ));
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(settings.request_timeout.min(LONGEST))
            .connect_timeout(settings.request_timeout.min(LONGEST))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("csip-anypoint/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AnypointError::Http {
                reason: e.to_string(),
            })?;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
            | 1;
        Ok(Client {
            settings,
            credentials,
            base,
            http,
            deadline,
            token: None,
            not_before: None,
            stats: Stats::default(),
            seed,
        })
    }

    /// What the client has sent so far.
    ///
    /// ```
    /// # use csip_anypoint::client::{Client, Credentials, Settings};
    /// # use csip_store::Secret;
    /// # let credentials = Credentials { client_id: Secret::new("id"), client_secret: Secret::new("s") };
    /// let client = Client::new(Settings::default(), credentials)?;
    /// assert_eq!(client.stats().token_fetches, 0);
    /// # Ok::<(), csip_anypoint::client::AnypointError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The organization's REST APIs in Exchange, each at its latest
    /// version by semantic versioning (a version that does not parse loses
    /// to one that does; among those that do not, the lexically greatest
    /// wins), in order of group and asset id.
    ///
    /// ```no_run
    /// # use csip_anypoint::client::{Client, Credentials, Settings};
    /// # use csip_store::Secret;
    /// # let credentials = Credentials { client_id: Secret::new("id"), client_secret: Secret::new("s") };
    /// let mut client = Client::new(Settings::default(), credentials)?;
    /// for asset in client.assets("1d2e3f4a-0000-4000-8000-000000000001")? {
    ///     println!("{} {}", asset.asset_id, asset.version);
    /// }
    /// # Ok::<(), csip_anypoint::client::AnypointError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any [`AnypointError`]: [`AnypointError::UnknownOrganization`],
    /// [`AnypointError::TooManyPages`], [`AnypointError::Deadline`]…
    pub fn assets(&mut self, org_id: &str) -> Result<Vec<Asset>, AnypointError> {
        check_id("organization id", org_id)?;
        let limit = self.settings.page_size;
        let mut latest: BTreeMap<(String, String), Asset> = BTreeMap::new();
        let mut endpoint = String::new();
        for page in 0..MAX_PAGES {
            let offset = page * limit;
            let url = self.url(
                &["exchange", "api", "v2", "assets", "search"],
                &[
                    ("organizationId", org_id),
                    ("types", "rest-api"),
                    ("offset", &offset.to_string()),
                    ("limit", &limit.to_string()),
                ],
            )?;
            endpoint = url.path().to_string();
            let body = self.execute(&Call {
                method: Method::GET,
                url,
                payload: Payload::None,
                token_request: false,
                org: Some(org_id.to_string()),
                what: format!("the Exchange assets of organization {org_id} from offset {offset}"),
            })?;
            let items: Vec<WireAsset> = parse(&body, &endpoint)?;
            let count = items.len();
            for item in items {
                let key = (item.group_id.clone(), item.asset_id.clone());
                let newer = latest
                    .get(&key)
                    .is_none_or(|kept| newer_version(&item.version, &kept.version));
                if newer {
                    latest.insert(
                        key,
                        Asset {
                            name: item.name.unwrap_or_else(|| item.asset_id.clone()),
                            group_id: item.group_id,
                            asset_id: item.asset_id,
                            version: item.version,
                            description: item.description,
                            status: item.status,
                            created_at: item.created_at,
                        },
                    );
                }
            }
            if count < limit {
                return Ok(latest.into_values().collect());
            }
        }
        Err(AnypointError::TooManyPages {
            endpoint,
            pages: MAX_PAGES,
        })
    }

    /// The organization's environments.
    ///
    /// ```no_run
    /// # use csip_anypoint::client::{Client, Credentials, Settings};
    /// # use csip_store::Secret;
    /// # let credentials = Credentials { client_id: Secret::new("id"), client_secret: Secret::new("s") };
    /// let mut client = Client::new(Settings::default(), credentials)?;
    /// let production: Vec<_> = client
    ///     .environments("1d2e3f4a-0000-4000-8000-000000000001")?
    ///     .into_iter()
    ///     .filter(|e| e.production)
    ///     .collect();
    /// # Ok::<(), csip_anypoint::client::AnypointError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any [`AnypointError`], [`AnypointError::UnknownOrganization`] for
    /// an organization Anypoint does not know.
    pub fn environments(&mut self, org_id: &str) -> Result<Vec<Environment>, AnypointError> {
        check_id("organization id", org_id)?;
        let url = self.url(
            &["accounts", "api", "organizations", org_id, "environments"],
            &[],
        )?;
        let endpoint = url.path().to_string();
        let body = self.execute(&Call {
            method: Method::GET,
            url,
            payload: Payload::None,
            token_request: false,
            org: Some(org_id.to_string()),
            what: format!("the environments of organization {org_id}"),
        })?;
        let wire: WireEnvironments = parse(&body, &endpoint)?;
        Ok(wire
            .data
            .into_iter()
            .map(|e| Environment {
                production: e.is_production.unwrap_or_else(|| {
                    e.kind
                        .as_deref()
                        .is_some_and(|k| k.eq_ignore_ascii_case("production"))
                }),
                id: e.id,
                name: e.name,
            })
            .collect())
    }

    /// Requests, errors and average response time of each API in `apis`
    /// (asset ids) between `from` and `to` (to the second), from
    /// `settings.metrics`. An API without data in the window is in
    /// [`Metrics::unreached`] with the reason, not in `per_api`.
    ///
    /// ```no_run
    /// # use csip_anypoint::client::{Client, Credentials, Settings};
    /// # use csip_store::Secret;
    /// # let credentials = Credentials { client_id: Secret::new("id"), client_secret: Secret::new("s") };
    /// let mut client = Client::new(Settings::default(), credentials)?;
    /// let to: chrono::DateTime<chrono::Utc> = "2026-03-01T00:00:00Z".parse()?; // the caller's clock
    /// let apis = vec!["orders-api".to_string()];
    /// let metrics = client.metrics("1d2e3f4a-0000-4000-8000-000000000001", &apis, to - chrono::Duration::days(30), to)?;
    /// if let Some(m) = metrics.per_api.get("orders-api") {
    ///     println!("{} a month, {:?}% errors", m.monthly_volume(30), m.error_rate_percent());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any [`AnypointError`]; [`AnypointError::InvalidInput`] when `to` is
    /// not after `from`.
    pub fn metrics(
        &mut self,
        org_id: &str,
        apis: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Metrics, AnypointError> {
        check_id("organization id", org_id)?;
        let (from, to) = (from.trunc_subsecs(0), to.trunc_subsecs(0));
        if to <= from {
            return Err(AnypointError::InvalidInput {
                reason: format!(
                    "the metrics window from {} to {} is empty; give an end after its start",
                    stamp(from),
                    stamp(to)
                ),
            });
        }
        let (found, why) = match self.settings.metrics {
            MetricsSource::Monitoring => (
                self.monitoring(org_id, from, to)?,
                format!(
                    "Anypoint Monitoring has no data for it from {} to {} (not deployed, or not monitored)",
                    stamp(from),
                    stamp(to)
                ),
            ),
            MetricsSource::Analytics => self.analytics(org_id, from, to)?,
        };
        let mut metrics = Metrics::default();
        for api in apis.iter().collect::<BTreeSet<_>>() {
            match found.get(api) {
                Some(m) => {
                    metrics.per_api.insert(api.clone(), *m);
                }
                None => metrics.unreached.push((api.clone(), why.clone())),
            }
        }
        Ok(metrics)
    }

    /// Every API's metrics from Anypoint Monitoring, in windows of at most
    /// 30 days.
    fn monitoring(
        &mut self,
        org_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, ApiMetrics>, AnypointError> {
        let mut found: BTreeMap<String, ApiMetrics> = BTreeMap::new();
        let mut start = from;
        while start < to {
            let end = start
                .checked_add_signed(chrono::Duration::days(MONITORING_MAX_DAYS))
                .map_or(to, |end| end.min(to));
            let query = format!(
                "SELECT COUNT(requests), AVG(response_time), SUM(errors), \"{API_DIMENSION}\" \
                 FROM \"mulesoft.api\" WHERE timestamp BETWEEN {} AND {} \
                 AND \"sub_org.id\" = '{org_id}' GROUP BY \"{API_DIMENSION}\"",
                start.timestamp_millis(),
                end.timestamp_millis(),
            );
            let body = serde_json::json!({ "query": query }).to_string();
            let limit = self.settings.page_size;
            let mut done = false;
            let mut endpoint = String::new();
            for page in 0..MAX_PAGES {
                let offset = page * limit;
                let url = self.url(
                    &["observability", "api", "v1", "metrics:search"],
                    &[
                        ("offset", &offset.to_string()),
                        ("limit", &limit.to_string()),
                    ],
                )?;
                endpoint = url.path().to_string();
                let answer = self.execute(&Call {
                    method: Method::POST,
                    url,
                    payload: Payload::Json(body.clone()),
                    token_request: false,
                    org: Some(org_id.to_string()),
                    what: format!(
                        "the Monitoring metrics of organization {org_id} from row {offset}"
                    ),
                })?;
                let rows: WireRows = parse(&answer, &endpoint)?;
                let count = rows.data.len();
                for (i, row) in rows.data.iter().enumerate() {
                    let (api, m) =
                        monitoring_row(row).map_err(|reason| AnypointError::Malformed {
                            endpoint: endpoint.clone(),
                            reason: format!("row {}: {reason}", offset + i),
                        })?;
                    found.entry(api).or_default().absorb(&m);
                }
                if count < limit {
                    done = true;
                    break;
                }
            }
            if !done {
                return Err(AnypointError::TooManyPages {
                    endpoint,
                    pages: MAX_PAGES,
                });
            }
            start = end;
        }
        Ok(found)
    }

    /// Every API's metrics from the analytics events of the production
    /// environments, and the reason an API without events has none.
    fn analytics(
        &mut self,
        org_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(BTreeMap<String, ApiMetrics>, String), AnypointError> {
        let production: Vec<Environment> = self
            .environments(org_id)?
            .into_iter()
            .filter(|e| e.production)
            .collect();
        if production.is_empty() {
            return Ok((
                BTreeMap::new(),
                format!(
                    "organization {org_id} has no production environment, so its analytics events have nothing to report"
                ),
            ));
        }
        let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
        for env in &production {
            let mut windows = vec![(from, to)];
            while let Some((start, end)) = windows.pop() {
                let events = self.events(org_id, env, start, end)?;
                let seconds = (end - start).num_seconds();
                if events.len() >= ANALYTICS_MAX_EVENTS
                    && seconds >= 2 * ANALYTICS_MIN_WINDOW_SECONDS
                {
                    let middle = start + chrono::Duration::seconds(seconds / 2);
                    windows.push((middle, end));
                    windows.push((start, middle));
                    continue;
                }
                for event in &events {
                    if let Some((api, ms, status)) = event_fields(event) {
                        tally.entry(api).or_default().add(ms, status);
                    }
                }
            }
        }
        let names: Vec<&str> = production.iter().map(|e| e.name.as_str()).collect();
        let why = format!(
            "no analytics events for it in the production environments ({}) from {} to {}",
            names.join(", "),
            stamp(from),
            stamp(to)
        );
        Ok((
            tally
                .into_iter()
                .map(|(api, t)| (api, t.metrics()))
                .collect(),
            why,
        ))
    }

    /// One window of one environment's analytics events.
    fn events(
        &mut self,
        org_id: &str,
        env: &Environment,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, AnypointError> {
        let url = self.url(
            &[
                "analytics",
                "1.0",
                org_id,
                "environments",
                &env.id,
                "events",
            ],
            &[
                ("format", "json"),
                ("startDate", &stamp(start)),
                ("endDate", &stamp(end)),
                ("fields", &EVENT_FIELDS.join(".")),
            ],
        )?;
        let endpoint = url.path().to_string();
        let body = self.execute(&Call {
            method: Method::GET,
            url,
            payload: Payload::None,
            token_request: false,
            org: Some(org_id.to_string()),
            what: format!(
                "the analytics events of environment {} from {} to {}",
                env.name,
                stamp(start),
                stamp(end)
            ),
        })?;
        parse(&body, &endpoint)
    }

    /// `{base}/{segments…}?{query}`, each segment and value percent-encoded.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, AnypointError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| AnypointError::BadSettings {
                reason: format!("{:?} cannot have a path", self.settings.base_url),
            })?
            .pop_if_empty()
            .extend(segments);
        if query.is_empty() {
            url.set_query(None);
        } else {
            let text: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
                .collect();
            url.set_query(Some(&text.join("&")));
        }
        Ok(url)
    }

    /// A valid token: the cached one, else a new one.
    fn token(&mut self) -> Result<Secret, AnypointError> {
        if let Some(token) = &self.token
            && Instant::now() < token.renew_at
        {
            return Ok(token.secret.clone());
        }
        self.token = None;
        let url = self.url(&["accounts", "api", "v2", "oauth2", "token"], &[])?;
        let endpoint = url.path().to_string();
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", self.credentials.client_id.expose())
            .append_pair("client_secret", self.credentials.client_secret.expose())
            .finish();
        let body = self.execute(&Call {
            method: Method::POST,
            url,
            payload: Payload::Form(Secret::new(form)),
            token_request: true,
            org: None,
            what: "an access token".into(),
        })?;
        // The answer holds the token: a problem is told by its place only.
        let wire: WireToken =
            serde_json::from_slice(&body).map_err(|e| AnypointError::Malformed {
                endpoint: endpoint.clone(),
                reason: format!(
                    "it is not the token JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        if wire.access_token.trim().is_empty() {
            return Err(AnypointError::Malformed {
                endpoint,
                reason: "its access_token is empty".into(),
            });
        }
        let life = wire
            .expires_in
            .map_or(DEFAULT_TOKEN_LIFE, Duration::from_secs)
            .min(LONGEST);
        let margin = TOKEN_MARGIN.min(life / 2);
        let secret = Secret::new(wire.access_token);
        self.token = Some(Token {
            secret: secret.clone(),
            renew_at: Instant::now() + (life - margin),
        });
        self.stats.token_fetches += 1;
        Ok(secret)
    }

    /// The call's answer body, after the retries, waits and the one token
    /// renewal the module docs describe.
    fn execute(&mut self, call: &Call) -> Result<Vec<u8>, AnypointError> {
        let endpoint = call.url.path().to_string();
        let mut failures = 0u32;
        let mut renewed = false;
        loop {
            if let Some(at) = self.not_before.take() {
                self.sleep(at.saturating_duration_since(Instant::now()), &call.what)?;
            }
            let bearer = if call.token_request {
                None
            } else {
                Some(self.token()?)
            };
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AnypointError::Deadline {
                    reached: call.what.clone(),
                });
            }
            let timeout = self.settings.request_timeout.min(left);
            let mut request = self
                .http
                .request(call.method.clone(), call.url.clone())
                .timeout(timeout);
            request = match &call.payload {
                Payload::None => request,
                Payload::Json(body) => request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone()),
                Payload::Form(form) => request
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.expose().to_string()),
            };
            if let Some(token) = &bearer {
                request = request.bearer_auth(token.expose());
            }
            self.stats.requests += 1;
            let failure = match request.send() {
                Err(e) => Failure::Transport(transport(&e, timeout)),
                Ok(mut response) => {
                    self.note_rate_limit(response.headers());
                    let status = response.status();
                    if status.is_success() {
                        let mut body = Vec::new();
                        match response.by_ref().take(MAX_BODY + 1).read_to_end(&mut body) {
                            Ok(_) if body.len() as u64 > MAX_BODY => {
                                return Err(AnypointError::Malformed {
                                    endpoint,
                                    reason: "it is larger than 64 MiB".into(),
                                });
                            }
                            Ok(_) => return Ok(body),
                            Err(e) => {
                                Failure::Transport(format!("the answer was cut off: {}", e.kind()))
                            }
                        }
                    } else if status == StatusCode::UNAUTHORIZED
                        || (call.token_request && status == StatusCode::BAD_REQUEST)
                    {
                        if call.token_request || renewed {
                            return Err(AnypointError::Unauthorized);
                        }
                        renewed = true;
                        self.token = None;
                        self.stats.retries += 1;
                        continue;
                    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                        Failure::Status(status.as_u16(), retry_after(response.headers()))
                    } else if status == StatusCode::FORBIDDEN {
                        return Err(AnypointError::Forbidden { endpoint });
                    } else if status == StatusCode::NOT_FOUND {
                        return Err(match &call.org {
                            Some(org_id) => AnypointError::UnknownOrganization {
                                org_id: org_id.clone(),
                            },
                            None => AnypointError::NotFound { endpoint },
                        });
                    } else {
                        return Err(AnypointError::Refused {
                            endpoint,
                            status: status.as_u16(),
                        });
                    }
                }
            };
            failures += 1;
            if failures >= self.settings.retry.attempts {
                return Err(match failure {
                    Failure::Transport(reason) => AnypointError::Unreachable {
                        endpoint,
                        attempts: failures,
                        reason,
                    },
                    Failure::Status(status, _) => AnypointError::Unavailable {
                        endpoint,
                        status,
                        attempts: failures,
                    },
                });
            }
            let delay = match failure {
                Failure::Status(_, Some(after)) => after,
                _ => {
                    let jitter = self.jitter();
                    self.settings.retry.delay(failures, jitter)
                }
            };
            self.sleep(delay, &call.what)?;
            self.stats.retries += 1;
        }
    }

    /// Waits `delay`, unless that would pass the deadline.
    fn sleep(&self, delay: Duration, what: &str) -> Result<(), AnypointError> {
        if Instant::now() + delay.min(LONGEST) >= self.deadline {
            return Err(AnypointError::Deadline {
                reached: what.to_string(),
            });
        }
        std::thread::sleep(delay);
        Ok(())
    }

    /// `X-RateLimit-Remaining: 0` holds the next call until the reset.
    fn note_rate_limit(&mut self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if number("x-ratelimit-remaining") != Some(0) {
            return;
        }
        let Some(reset) = number("x-ratelimit-reset") else {
            return;
        };
        let seconds = if reset > 1_000_000_000 {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            reset.saturating_sub(now)
        } else {
            reset
        };
        let at = Instant::now() + Duration::from_secs(seconds).min(LONGEST);
        self.not_before = Some(self.not_before.map_or(at, |before| before.max(at)));
    }

    /// A number in `[0, 1)` (xorshift64*).
    fn jitter(&mut self) -> f64 {
        let mut x = self.seed;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Whether version `a` is newer than `b` (the rule of [`Client::assets`]).
fn newer_version(a: &str, b: &str) -> bool {
    match (
        semver::Version::parse(a.trim()),
        semver::Version::parse(b.trim()),
    ) {
        (Ok(x), Ok(y)) => x.cmp_precedence(&y).then_with(|| x.cmp(&y)).is_gt(),
        (Ok(_), Err(_)) => true,
        (Err(_), Ok(_)) => false,
        (Err(_), Err(_)) => a > b,
    }
}

/// An id that can go into a path and an AMQL string as it is.
fn check_id(what: &str, id: &str) -> Result<(), AnypointError> {
    let fits = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fits {
        Ok(())
    } else {
        Err(AnypointError::InvalidInput {
            reason: format!(
                "the {what} {id:?} is not an Anypoint id (letters, digits, '-', '_' and '.'); copy it from Access Management"
            ),
        })
    }
}

/// A time as the analytics API and the messages give it.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `text` percent-encoded for a query (a space as `%20`).
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An answer read as `T`, or what is wrong with it.
fn parse<T: DeserializeOwned>(body: &[u8], endpoint: &str) -> Result<T, AnypointError> {
    use serde_json::error::Category;
    serde_json::from_slice(body).map_err(|e| AnypointError::Malformed {
        endpoint: endpoint.to_string(),
        reason: match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                format!("it is not JSON (line {}, column {})", e.line(), e.column())
            }
            Category::Data => format!("it is JSON of another shape ({e})"),
        },
    })
}

/// What a transport failure was, without its URL.
fn transport(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if e.is_connect() {
        "the connection was refused or failed".into()
    } else {
        "the request failed in transit".into()
    }
}

/// A `Retry-After` of seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A JSON number, or text holding one.
fn number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

/// A JSON text, or a number as text.
fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One Monitoring row: its API and its metrics.
fn monitoring_row(
    row: &serde_json::Map<String, serde_json::Value>,
) -> Result<(String, ApiMetrics), String> {
    let api = row
        .get(API_DIMENSION)
        .and_then(text)
        .ok_or_else(|| format!("it has no {API_DIMENSION}"))?;
    let count = |key: &str| -> Result<u64, String> {
        match row.get(key) {
            None | Some(serde_json::Value::Null) => Ok(0),
            Some(v) => number(v)
                .filter(|x| *x >= 0.0)
                .map(|x| x.round() as u64)
                .ok_or_else(|| format!("its {key} is not a count")),
        }
    };
    let avg = match row.get("AVG(response_time)") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            number(v)
                .filter(|x| *x >= 0.0)
                .ok_or("its AVG(response_time) is not a duration")?,
        ),
    };
    let requests = count("COUNT(requests)")?;
    Ok((
        api,
        ApiMetrics {
            requests,
            errors: count("SUM(errors)")?,
            avg_response_ms: avg.filter(|_| requests > 0),
        },
    ))
}

/// An analytics event's API, response time and status (an event naming
/// no API is left out).
fn event_fields(
    event: &serde_json::Map<String, serde_json::Value>,
) -> Option<(String, Option<f64>, Option<u16>)> {
    let api = event
        .get("API Name")
        .and_then(text)
        .or_else(|| event.get("API ID").and_then(text))?;
    let ms = event
        .get("Response Time")
        .and_then(number)
        .filter(|x| *x >= 0.0);
    let status = event
        .get("Status Code")
        .and_then(number)
        .filter(|x| (0.0..1000.0).contains(x))
        .map(|x| x as u16);
    Some((api, ms, status))
}

/// One API's events added up.
#[derive(Default)]
struct Tally {
    requests: u64,
    errors: u64,
    timed: u64,
    total_ms: f64,
}

impl Tally {
    fn add(&mut self, ms: Option<f64>, status: Option<u16>) {
        self.requests += 1;
        if status.is_some_and(|s| s >= 400) {
            self.errors += 1;
        }
        if let Some(ms) = ms {
            self.timed += 1;
            self.total_ms += ms;
        }
    }

    fn metrics(&self) -> ApiMetrics {
        ApiMetrics {
            requests: self.requests,
            errors: self.errors,
            avg_response_ms: (self.timed > 0).then(|| self.total_ms / self.timed as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_by_semver_then_parseable_then_text() {
        assert!(newer_version("1.10.0", "1.2.0"));
        assert!(newer_version("2.0.0", "2.0.0-rc.1"));
        assert!(newer_version("2.0.0-rc.1", "1.10.0"));
        assert!(newer_version("0.0.1", "zzz"));
        assert!(!newer_version("zzz", "0.0.1"));
        assert!(newer_version("v2-beta", "v1"));
        assert!(!newer_version("1.0.0", "1.0.0"));
    }

    #[test]
    fn averages_combine_by_requests() {
        let mut a = ApiMetrics {
            requests: 1,
            errors: 0,
            avg_response_ms: Some(100.0),
        };
        a.absorb(&ApiMetrics {
            requests: 3,
            errors: 1,
            avg_response_ms: Some(200.0),
        });
        assert_eq!(a.requests, 4);
        assert_eq!(a.errors, 1);
        assert_eq!(a.avg_response_ms, Some(175.0));
    }

    #[test]
    fn ids_that_could_escape_a_path_or_a_query_are_refused() {
        assert!(check_id("organization id", "1d2e-aa_b.c").is_ok());
        for bad in ["", "a/b", "a'b", "a b", "a\"", "../x"] {
            assert!(check_id("organization id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_read_regions_and_refuse_nonsense() {
        let s: Settings = toml::from_str("region = \"gov\"").unwrap_or_default();
        assert_eq!(s.base_url, ANYPOINT_GOV);
        let s: Settings =
            toml::from_str("base_url = \"http://127.0.0.1:9/\"\nmetrics = \"analytics\"")
                .unwrap_or_default();
        assert_eq!(s.base_url, "http://127.0.0.1:9");
        assert_eq!(s.metrics, MetricsSource::Analytics);
        for bad in [
            "region = \"eu\"\nbase_url = \"http://x\"",
            "page_size = 0",
            "retry_attempts = 0",
            "region = \"mars\"",
            "metrics = \"logs\"",
            "retry_first_seconds = 10\nretry_max_seconds = 5",
        ] {
            assert!(toml::from_str::<Settings>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_encodes_spaces_as_percent_20() {
        assert_eq!(percent("API ID.Status Code"), "API%20ID.Status%20Code");
        assert_eq!(percent("a&b=c"), "a%26b%3Dc");
    }
}
