//! The daily metrics report pulled from Tableau's REST API as CSV.
//!
//! The blueprint's "Anypoint Daily Metrics" report is a Tableau view.
//! [`fetch_view_csv`] signs in with a personal access token (PAT), asks for
//! the view's data ("Query View Data", which Tableau answers as CSV) and
//! signs out again; the bytes go on to the ingest pipeline unchanged (a
//! UTF-8 byte order mark included). It is blocking: it runs in the CLI, not
//! inside an async runtime.
//!
//! The wire format, in Tableau's REST API (`{server}/api/{version}`):
//! - `POST auth/signin` with `{"credentials": {"personalAccessTokenName",
//!   "personalAccessTokenSecret", "site": {"contentUrl"}}}` answers a
//!   session token and the site's id, as JSON (we ask for it) or as
//!   `<tsResponse><credentials token=…><site id=…/>` (a server that ignores
//!   `Accept`).
//! - `GET sites/{site-id}/views/{view-id}/data` with `X-Tableau-Auth`, and
//!   the view filters as `vf_<field>=value`, answers the CSV.
//! - `POST auth/signout` with `X-Tableau-Auth` ends the session: always,
//!   also after a failed data request, and never failing the fetch.
//!
//! A 401 on the data request (the session lapsed) is met by signing in
//! once more; a 429 or 5xx by waiting ([`RETRY`], honouring `Retry-After`)
//! and trying again. No redirect is followed: it could carry the token to
//! another host.
//!
//! The PAT's name and secret and the session token are
//! [`Secret`]s: they are sent only in the sign-in body
//! and the `X-Tableau-Auth` header (marked sensitive), and are in no error,
//! `Debug` output or log; a text Tableau answers is cleared of them before
//! an error carries it.

use csip_store::{Backoff, Secret};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::time::Duration;

/// The environment variable that overrides [`TableauConfig::server`].
pub const SERVER_ENV: &str = "CSIP_TABLEAU_URL";
/// The environment variable (or secrets-file entry) of the PAT's name.
pub const TOKEN_NAME_ENV: &str = "CSIP_TABLEAU_TOKEN_NAME";
/// The environment variable (or secrets-file entry) of the PAT's secret.
pub const TOKEN_SECRET_ENV: &str = "CSIP_TABLEAU_TOKEN_SECRET";

/// The most bytes of CSV read from one view (256 MiB): the daily report
/// is far smaller, and a larger answer is refused rather than held.
pub const MAX_CSV_BYTES: u64 = 256 << 20;

/// The most bytes read of a sign-in answer or an error answer.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

/// The most characters kept of a text Tableau sent in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// How [`fetch_view_csv`] retries a 429 or a 5xx: 1 s, then 2 s, then 4 s
/// (each between half and all of it, at random), or longer when Tableau's
/// `Retry-After` asks; never more than 60 s at once; at most 4 attempts.
///
/// ```
/// use csip_ingest::tableau::RETRY;
/// use std::time::Duration;
/// assert_eq!(RETRY.attempts, 4);
/// assert_eq!(RETRY.delay(3, 1.0), Duration::from_secs(4));
/// ```
pub const RETRY: Backoff = Backoff {
    first: Duration::from_secs(1),
    max: Duration::from_secs(60),
    attempts: 4,
};

/// The `[ingest.tableau]` section of the configuration.
///
/// ```
/// use csip_ingest::tableau::TableauConfig;
/// let config: TableauConfig = toml::from_str(r#"
///     server = "https://tableau.example.com"
///     version = "3.22"
///     site = "customer-success"
///     view = "9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d"
///     mapping = "anypoint-daily"
///     filters = { Region = "EMEA" }
/// "#)?;
/// assert_eq!(config.filters["Region"], "EMEA");
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(serde::Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TableauConfig {
    /// The server's base URL, such as `https://tableau.example.com` (a
    /// path prefix is kept); [`SERVER_ENV`] overrides it
    /// ([`TableauConfig::with_env_override`]).
    pub server: String,
    /// The REST API version, such as `"3.22"`.
    pub version: String,
    /// The site's `contentUrl` (the name in its URLs); `""` for the
    /// default site.
    pub site: String,
    /// The view's LUID (its id, not its name).
    pub view: String,
    /// The name of the CSV column mapping the pipeline reads the report
    /// with; carried, not used here.
    pub mapping: Option<String>,
    /// View filters: each field's name (without `vf_`; a name that already
    /// starts with it is sent as it is) and its value, sent as the query
    /// parameter `vf_<field>=<value>`, percent-encoded. Several values are
    /// one text separated by commas, as Tableau reads them.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
}

impl TableauConfig {
    /// The configuration with [`SERVER_ENV`] in place of `server` when
    /// `env` gives it a value that is not blank. `env` is a function so
    /// that a host passes the environment and a test a map.
    ///
    /// ```
    /// use csip_ingest::tableau::TableauConfig;
    /// let config = TableauConfig {
    ///     server: "https://tableau.example.com".into(),
    ///     version: "3.22".into(),
    ///     site: String::new(),
    ///     view: "view-luid".into(),
    ///     mapping: None,
    ///     filters: Default::default(),
    /// };
    /// let env = |name: &str| (name == "CSIP_TABLEAU_URL").then(|| "http://127.0.0.1:8080".to_string());
    /// assert_eq!(config.with_env_override(&env).server, "http://127.0.0.1:8080");
    /// ```
    #[must_use]
    pub fn with_env_override(self, env: &dyn Fn(&str) -> Option<String>) -> TableauConfig {
        match env(SERVER_ENV) {
            Some(server) if !server.trim().is_empty() => TableauConfig {
                server: server.trim().to_string(),
                ..self
            },
            _ => self,
        }
    }
}

/// The request a [`TableauError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// `POST auth/signin`.
    SignIn,
    /// `GET sites/{site-id}/views/{view-id}/data`.
    ViewData,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::SignIn => "sign-in",
            Step::ViewData => "view data request",
        })
    }
}

/// What Tableau said in an error answer (`{"error": {"summary", "detail",
/// "code"}}`, or its XML form), cleared of every secret and shortened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerMessage {
    /// Tableau's error code, such as `401002`.
    pub code: Option<String>,
    /// The error's summary, such as `Unauthorized Access`.
    pub summary: Option<String>,
    /// The error's detail.
    pub detail: Option<String>,
}

impl fmt::Display for ServerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<&str> = [&self.summary, &self.detail]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        f.write_str(&texts.join(": "))?;
        match (&self.code, texts.is_empty()) {
            (Some(code), true) => write!(f, "error {code}"),
            (Some(code), false) => write!(f, " (error {code})"),
            (None, _) => Ok(()),
        }
    }
}

/// Why the view's CSV could not be fetched. Each message says what to do;
/// none carries the token's name or secret or the session token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableauError {
    /// The server URL is not an `http://` or `https://` URL.
    #[error(
        "the Tableau server URL {url:?} is not an http:// or https:// URL without query or fragment; set ingest.tableau.server (or {SERVER_ENV}) to one such as https://tableau.example.com"
    )]
    BadUrl {
        /// The URL given (without a password it held).
        url: String,
    },
    /// Tableau refused the personal access token, at sign-in or on the
    /// data request after signing in afresh.
    #[error(
        "the personal access token was refused{}; check {TOKEN_NAME_ENV} and {TOKEN_SECRET_ENV}, that it has not expired, and that ingest.tableau.site is the site it belongs to",
        said(.tableau)
    )]
    Unauthorized {
        /// What Tableau said.
        tableau: Option<ServerMessage>,
    },
    /// There is no such view on the site (or the token's user cannot see
    /// it).
    #[error(
        "Tableau has no view {view:?} on {} that the token's user can see{}; check ingest.tableau.view (the view's LUID, not its name) and ingest.tableau.site",
        site_name(.site),
        said(.tableau)
    )]
    NoSuchView {
        /// The view's LUID as configured.
        view: String,
        /// The site's `contentUrl` as configured (`""`: the default site).
        site: String,
        /// What Tableau said.
        tableau: Option<ServerMessage>,
    },
    /// Tableau refused a request for another reason (a 4xx status).
    #[error(
        "Tableau refused the {step} with HTTP {status}{}; check ingest.tableau.server, version, site and view, and that the token's user may see the view",
        said(.tableau)
    )]
    Refused {
        /// The request.
        step: Step,
        /// The HTTP status.
        status: u16,
        /// What Tableau said.
        tableau: Option<ServerMessage>,
    },
    /// Tableau stayed busy or down (429 or 5xx) for every attempt.
    #[error(
        "Tableau was busy or down for all {attempts} attempts at the {step}, the last answered with HTTP {status}{}; try again later",
        said(.tableau)
    )]
    Unavailable {
        /// The request.
        step: Step,
        /// The last HTTP status.
        status: u16,
        /// How many times the request was sent.
        attempts: u32,
        /// What Tableau said last.
        tableau: Option<ServerMessage>,
    },
    /// Tableau asked (with `Retry-After`) to wait longer than csip waits.
    #[error(
        "Tableau answered HTTP {status} to the {step} and asked to wait {seconds} s, longer than csip waits ({max_seconds} s); try again later"
    )]
    WaitTooLong {
        /// The request.
        step: Step,
        /// The HTTP status.
        status: u16,
        /// The wait Tableau asked for.
        seconds: u64,
        /// The longest wait csip makes.
        max_seconds: u64,
    },
    /// Tableau answered with a redirect, which is not followed.
    #[error(
        "Tableau answered the {step} with a redirect (HTTP {status}{}), which csip does not follow as it could carry the token to another host; set ingest.tableau.server (or {SERVER_ENV}) to the server's own URL",
        location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default()
    )]
    Redirect {
        /// The request.
        step: Step,
        /// The HTTP status.
        status: u16,
        /// Where it pointed (`Location`), when it said.
        location: Option<String>,
    },
    /// An answer that is not what Tableau sends: a sign-in answer without
    /// a token or site id, a body that could not be read.
    #[error(
        "Tableau's answer to the {step} could not be used: {reason}; check that ingest.tableau.server is a Tableau server and that it supports REST API version ingest.tableau.version"
    )]
    BadAnswer {
        /// The request.
        step: Step,
        /// What was wrong with it.
        reason: String,
    },
    /// The view's CSV is larger than [`MAX_CSV_BYTES`].
    #[error(
        "the view's CSV is larger than {limit} bytes; narrow it with ingest.tableau.filters or a smaller view"
    )]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The request got no answer (no connection, a timeout, TLS).
    #[error(
        "the {step} to Tableau failed: {reason}; check that ingest.tableau.server is reachable from here and try again"
    )]
    Transport {
        /// The request.
        step: Step,
        /// What went wrong (naming no URL or header).
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("the HTTP client for Tableau could not be set up: {reason}; report this as a bug")]
    Client {
        /// What went wrong.
        reason: String,
    },
}

/// Fetches the view's data as CSV with [`RETRY`]: signs in with the PAT
/// (`token_name`, `token_secret`), requests the view's data, signs out.
/// `timeout` bounds each request (connecting included), not the whole.
///
/// It blocks; call it outside an async runtime (or in `spawn_blocking`).
///
/// ```no_run
/// use csip_ingest::tableau::{fetch_view_csv, TableauConfig};
/// use csip_store::Secret;
/// use std::time::Duration;
/// let config: TableauConfig = toml::from_str(r#"
///     server = "https://tableau.example.com"
///     version = "3.22"
///     site = ""
///     view = "9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d"
/// "#)?;
/// let config = config.with_env_override(&|name: &str| std::env::var(name).ok());
/// let name = Secret::from_env("CSIP_TABLEAU_TOKEN_NAME").expect("set");
/// let secret = Secret::from_env("CSIP_TABLEAU_TOKEN_SECRET").expect("set");
/// let csv = fetch_view_csv(&config, &name, &secret, Duration::from_secs(30))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fetch_view_csv(
    config: &TableauConfig,
    token_name: &Secret,
    token_secret: &Secret,
    timeout: Duration,
) -> Result<Vec<u8>, TableauError> {
    fetch_view_csv_with(config, token_name, token_secret, timeout, &RETRY)
}

/// [`fetch_view_csv`] retrying a 429 or 5xx as `retry` says: `retry.first`
/// doubled after each failure up to `retry.max` (between half and all of
/// it, at random; at least what `Retry-After` asks, and a `Retry-After`
/// over `retry.max` ends the fetch), `retry.attempts` requests in all.
///
/// ```no_run
/// use csip_ingest::tableau::{fetch_view_csv_with, TableauConfig, RETRY};
/// use csip_store::{Backoff, Secret};
/// use std::time::Duration;
/// # let config: TableauConfig = toml::from_str("server = 'https://t.example'\nversion = '3.22'\nsite = ''\nview = 'v'")?;
/// let patient = Backoff { attempts: 6, ..RETRY };
/// let csv = fetch_view_csv_with(
///     &config,
///     &Secret::new("csip"),
///     &Secret::new("pat-secret"),
///     Duration::from_secs(30),
///     &patient,
/// )?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fetch_view_csv_with(
    config: &TableauConfig,
    token_name: &Secret,
    token_secret: &Secret,
    timeout: Duration,
    retry: &Backoff,
) -> Result<Vec<u8>, TableauError> {
    let api = Api {
        base: base_url(&config.server)?,
        http: http_client(timeout)?,
        config,
        retry,
        token_name,
        token_secret,
    };
    let session = api.sign_in()?;
    let (session, fetched) = match api.view_data(&session) {
        // The session lapsed between sign-in and the request: sign in
        // afresh, once. The refused session needs no sign-out.
        Err(DataFailure::Expired(_)) => {
            let session = api.sign_in()?;
            let fetched = api.view_data(&session).map_err(|failure| match failure {
                DataFailure::Expired(tableau) => TableauError::Unauthorized { tableau },
                DataFailure::Error(error) => error,
            });
            (session, fetched)
        }
        fetched => (session, fetched.map_err(DataFailure::into_error)),
    };
    api.sign_out(&session);
    fetched
}

/// A signed-in session: its token (a secret like the PAT) and the site's id.
struct Session {
    token: HeaderValue,
    /// The token's text, to clear it from what Tableau says.
    token_text: Secret,
    site_id: String,
}

/// How a data request failed.
enum DataFailure {
    /// A 401: the session token was refused.
    Expired(Option<ServerMessage>),
    Error(TableauError),
}

impl DataFailure {
    fn into_error(self) -> TableauError {
        match self {
            DataFailure::Expired(tableau) => TableauError::Unauthorized { tableau },
            DataFailure::Error(error) => error,
        }
    }
}

/// One fetch's server, client, configuration and credentials.
struct Api<'a> {
    base: reqwest::Url,
    http: Client,
    config: &'a TableauConfig,
    retry: &'a Backoff,
    token_name: &'a Secret,
    token_secret: &'a Secret,
}

impl Api<'_> {
    /// `{server}/api/{version}/` and `segments`, each percent-encoded.
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // `base_url` made sure the URL has a path to extend.
            path.pop_if_empty()
                .extend(["api", self.config.version.trim()])
                .extend(segments);
        }
        url
    }

    fn sign_in(&self) -> Result<Session, TableauError> {
        let body = serde_json::json!({
            "credentials": {
                "personalAccessTokenName": self.token_name.expose(),
                "personalAccessTokenSecret": self.token_secret.expose(),
                "site": { "contentUrl": self.config.site.trim() },
            }
        });
        let body = body.to_string().into_bytes();
        let url = self.url(&["auth", "signin"]);
        let scrub = [self.token_name.expose(), self.token_secret.expose()];
        let response = self.send(Step::SignIn, &scrub, || {
            self.http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(body.clone())
        })?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            let tableau = server_message(response, &scrub);
            return Err(TableauError::Unauthorized { tableau });
        }
        let response = refuse_unless_success(Step::SignIn, response, &scrub)?;
        let answer = read_limited(response, MAX_ANSWER_BYTES, Step::SignIn)?
            .ok_or_else(|| bad_answer(Step::SignIn, "it is longer than 1 MiB"))?;
        let (token, site_id) =
            parse_sign_in(&answer).map_err(|reason| bad_answer(Step::SignIn, reason))?;
        let mut header = HeaderValue::from_str(&token)
            .map_err(|_| bad_answer(Step::SignIn, "its token is not a valid header value"))?;
        header.set_sensitive(true);
        Ok(Session {
            token: header,
            token_text: Secret::new(token),
            site_id,
        })
    }

    fn view_data(&self, session: &Session) -> Result<Vec<u8>, DataFailure> {
        let mut url = self.url(&[
            "sites",
            &session.site_id,
            "views",
            self.config.view.trim(),
            "data",
        ]);
        if !self.config.filters.is_empty() {
            url.set_query(Some(&filter_query(&self.config.filters)));
        }
        let scrub = [
            self.token_name.expose(),
            self.token_secret.expose(),
            session.token_text.expose(),
        ];
        let response = self
            .send(Step::ViewData, &scrub, || {
                self.http
                    .get(url.clone())
                    .header("X-Tableau-Auth", session.token.clone())
            })
            .map_err(DataFailure::Error)?;
        match response.status() {
            StatusCode::UNAUTHORIZED => {
                return Err(DataFailure::Expired(server_message(response, &scrub)));
            }
            StatusCode::NOT_FOUND => {
                return Err(DataFailure::Error(TableauError::NoSuchView {
                    view: self.config.view.clone(),
                    site: self.config.site.clone(),
                    tableau: server_message(response, &scrub),
                }));
            }
            _ => {}
        }
        let response =
            refuse_unless_success(Step::ViewData, response, &scrub).map_err(DataFailure::Error)?;
        read_limited(response, MAX_CSV_BYTES, Step::ViewData)
            .map_err(DataFailure::Error)?
            .ok_or(DataFailure::Error(TableauError::TooLarge {
                limit: MAX_CSV_BYTES,
            }))
    }

    /// Ends the session, best effort: a failure is not reported (the
    /// session lapses by itself on the server).
    fn sign_out(&self, session: &Session) {
        let _ = self
            .http
            .post(self.url(&["auth", "signout"]))
            .header("X-Tableau-Auth", session.token.clone())
            .send();
    }

    /// Sends the request `build` makes, again after a 429 or a 5xx as
    /// `self.retry` says; any other answer is the caller's.
    fn send(
        &self,
        step: Step,
        scrub: &[&str],
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, TableauError> {
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let response = build().send().map_err(|error| transport(step, error))?;
            let status = response.status();
            if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                return Ok(response);
            }
            if attempt >= attempts {
                return Err(TableauError::Unavailable {
                    step,
                    status: status.as_u16(),
                    attempts: attempt,
                    tableau: server_message(response, scrub),
                });
            }
            let asked = retry_after(response.headers());
            if let Some(asked) = asked
                && asked > self.retry.max
            {
                return Err(TableauError::WaitTooLong {
                    step,
                    status: status.as_u16(),
                    seconds: asked.as_secs(),
                    max_seconds: self.retry.max.as_secs(),
                });
            }
            drop(response);
            let wait = self
                .retry
                .delay(attempt, jitter(attempt))
                .max(asked.unwrap_or_default())
                .min(self.retry.max);
            std::thread::sleep(wait);
            attempt += 1;
        }
    }
}

/// The server URL checked: http or https, a base for paths, no query or
/// fragment (the API's paths and parameters go after it).
fn base_url(server: &str) -> Result<reqwest::Url, TableauError> {
    let server = server.trim();
    let bad = |shown: String| TableauError::BadUrl { url: shown };
    let mut url = reqwest::Url::parse(server).map_err(|_| bad(server.to_string()))?;
    let fit = matches!(url.scheme(), "http" | "https")
        && !url.cannot_be_a_base()
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if !fit {
        let _ = url.set_password(None);
        return Err(bad(url.to_string()));
    }
    Ok(url)
}

/// An HTTP client with `timeout` (connecting included) that follows no
/// redirect: one would carry the token elsewhere.
fn http_client(timeout: Duration) -> Result<Client, TableauError> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| TableauError::Client {
            reason: describe(&error),
        })
}

/// `Ok` for a 2xx; the error for a redirect or any other status.
fn refuse_unless_success(
    step: Step,
    response: Response,
    scrub: &[&str],
) -> Result<Response, TableauError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| clear(l, scrub));
        return Err(TableauError::Redirect {
            step,
            status: status.as_u16(),
            location,
        });
    }
    Err(TableauError::Refused {
        step,
        status: status.as_u16(),
        tableau: server_message(response, scrub),
    })
}

/// The body, or `None` when it is longer than `limit`.
fn read_limited(
    response: Response,
    limit: u64,
    step: Step,
) -> Result<Option<Vec<u8>>, TableauError> {
    let mut body = Vec::new();
    response
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|error| TableauError::Transport {
            step,
            reason: format!("the answer could not be read ({})", error.kind()),
        })?;
    Ok((body.len() as u64 <= limit).then_some(body))
}

/// The token and the site id of a sign-in answer, in JSON or XML.
fn parse_sign_in(answer: &[u8]) -> Result<(String, String), &'static str> {
    let text = std::str::from_utf8(answer).map_err(|_| "it is not UTF-8 text")?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let (token, site_id) = if text.starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| "it is not valid JSON")?;
        let credentials = &value["credentials"];
        (
            credentials["token"].as_str().map(str::to_string),
            credentials["site"]["id"].as_str().map(str::to_string),
        )
    } else if text.starts_with('<') {
        let mut tags = xml::start_tags(text).skip_while(|tag| tag.name != "credentials");
        let token = tags.next().and_then(|tag| tag.attribute("token"));
        let site_id = tags
            .find(|tag| tag.name == "site")
            .and_then(|tag| tag.attribute("id"));
        (token, site_id)
    } else {
        return Err("it is neither JSON nor XML");
    };
    let token = token
        .filter(|t| !t.trim().is_empty())
        .ok_or("it has no credentials token")?;
    let site_id = site_id
        .filter(|s| !s.trim().is_empty())
        .ok_or("it has no site id")?;
    Ok((token.trim().to_string(), site_id.trim().to_string()))
}

/// What Tableau said in an error answer, when it said it in its format:
/// JSON `{"error": {"summary", "detail", "code"}}` or XML `<error
/// code=…><summary>…</summary><detail>…</detail></error>`.
fn server_message(response: Response, scrub: &[&str]) -> Option<ServerMessage> {
    // An answer that cannot be read says nothing: the step is not reported.
    let body = read_limited(response, MAX_ANSWER_BYTES, Step::SignIn).ok()??;
    let text = std::str::from_utf8(&body).ok()?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let message = if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let error = value.get("error")?;
        let field = |name: &str| match &error[name] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        ServerMessage {
            code: field("code"),
            summary: field("summary"),
            detail: field("detail"),
        }
    } else if text.starts_with('<') {
        let error = xml::start_tags(text).find(|tag| tag.name == "error")?;
        let rest = &text[error.end..];
        let inner = |name: &str| {
            xml::start_tags(rest)
                .find(|tag| tag.name == name)
                .map(|tag| xml::text_after(rest, &tag))
        };
        ServerMessage {
            code: error.attribute("code"),
            summary: inner("summary"),
            detail: inner("detail"),
        }
    } else {
        return None;
    };
    let keep = |text: Option<String>| {
        text.map(|t| clear(t.trim(), scrub))
            .filter(|t| !t.is_empty())
    };
    let message = ServerMessage {
        code: keep(message.code),
        summary: keep(message.summary),
        detail: keep(message.detail),
    };
    (message != ServerMessage::default()).then_some(message)
}

/// `text` with every non-empty secret of `scrub` replaced by `***`,
/// control characters by spaces, and cut to [`MAX_MESSAGE_CHARS`].
fn clear(text: &str, scrub: &[&str]) -> String {
    let mut text = text.to_string();
    for secret in scrub.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        text = text.replace(secret, "***");
    }
    let mut shown: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        shown.push('…');
    }
    shown
}

/// The view filters as a query: `vf_<field>=<value>&…`, percent-encoded
/// (a space as `%20`, which Tableau reads; not `+`).
fn filter_query(filters: &BTreeMap<String, String>) -> String {
    filters
        .iter()
        .map(|(field, value)| {
            let field = field.trim();
            let name = if field.starts_with("vf_") {
                field.to_string()
            } else {
                format!("vf_{field}")
            };
            format!("{}={}", percent_encode(&name), percent_encode(value))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `Retry-After` in seconds; a date or anything else is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// A number in `[0, 1]` to spread retries: the standard library's
/// randomly keyed hasher, so no random-number crate is needed.
fn jitter(attempt: u32) -> f64 {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
    (random % 1_000_001) as f64 / 1_000_000.0
}

fn bad_answer(step: Step, reason: &str) -> TableauError {
    TableauError::BadAnswer {
        step,
        reason: reason.to_string(),
    }
}

/// A request that got no answer, described without its URL.
fn transport(step: Step, error: reqwest::Error) -> TableauError {
    let reason = if error.is_timeout() {
        "it timed out".to_string()
    } else if error.is_connect() {
        format!("could not connect ({})", describe(&error))
    } else {
        describe(&error)
    };
    TableauError::Transport { step, reason }
}

/// The innermost cause of `error`, which names no URL or header.
fn describe(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if std::ptr::addr_eq(cause, error) {
        // reqwest's own message may carry the URL: say only what kind.
        return if error.is_body() || error.is_decode() {
            "the answer could not be read".into()
        } else {
            "the request could not be sent".into()
        };
    }
    cause.to_string()
}

/// How a site is named in a message.
fn site_name(site: &str) -> String {
    if site.trim().is_empty() {
        "the default site".to_string()
    } else {
        format!("site {site:?}")
    }
}

/// ` (Tableau said: …)`, or nothing.
fn said(tableau: &Option<ServerMessage>) -> String {
    tableau
        .as_ref()
        .map(|m| format!(" (Tableau said: {m})"))
        .unwrap_or_default()
}

/// Just enough XML to read Tableau's answers: start tags with their
/// attributes (entities decoded) and the text after a tag; comments,
/// processing instructions, declarations and end tags are skipped. It
/// stops, without panicking, at the first thing it cannot read.
mod xml {
    /// A start tag (or an empty-element tag).
    pub(super) struct Tag<'a> {
        /// The name without a namespace prefix.
        pub(super) name: &'a str,
        attributes: Vec<(&'a str, &'a str)>,
        /// The byte after its `>`.
        pub(super) end: usize,
    }

    impl Tag<'_> {
        /// The decoded value of the attribute `name`.
        pub(super) fn attribute(&self, name: &str) -> Option<String> {
            self.attributes
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| decode(v))
        }
    }

    /// The start tags of `text` in order.
    pub(super) fn start_tags(text: &str) -> impl Iterator<Item = Tag<'_>> {
        let mut at = 0;
        std::iter::from_fn(move || {
            loop {
                let open = at + text.get(at..)?.find('<')?;
                let rest = &text[open..];
                let skip_to = |end: &str| rest.find(end).map(|i| open + i + end.len());
                if rest.starts_with("<!--") {
                    at = skip_to("-->")?;
                } else if rest.starts_with("<![CDATA[") {
                    at = skip_to("]]>")?;
                } else if rest.starts_with("</") || rest.starts_with("<?") || rest.starts_with("<!")
                {
                    at = skip_to(">")?;
                } else {
                    let (tag, end) = read_tag(text, open)?;
                    at = end;
                    return Some(tag);
                }
            }
        })
    }

    /// The decoded text from the end of `tag` to the next `<`.
    pub(super) fn text_after(text: &str, tag: &Tag<'_>) -> String {
        let rest = text.get(tag.end..).unwrap_or("");
        decode(&rest[..rest.find('<').unwrap_or(rest.len())])
    }

    /// The start tag at `open` (a `<`), and the byte after it.
    fn read_tag(text: &str, open: usize) -> Option<(Tag<'_>, usize)> {
        let name_start = open + 1;
        let name_len =
            text[name_start..].find(|c: char| c.is_whitespace() || c == '/' || c == '>')?;
        let qualified = &text[name_start..name_start + name_len];
        let name = qualified.rsplit(':').next().unwrap_or(qualified);
        let mut at = name_start + name_len;
        let mut attributes = Vec::new();
        loop {
            let rest = text.get(at..)?;
            let trimmed = rest.trim_start();
            at += rest.len() - trimmed.len();
            if trimmed.starts_with('>') {
                at += 1;
                break;
            }
            if trimmed.starts_with("/>") {
                at += 2;
                break;
            }
            let eq = trimmed.find('=')?;
            let attribute = trimmed[..eq].trim();
            if attribute.is_empty() || attribute.contains(['<', '>', '/']) {
                return None;
            }
            let after_eq = &trimmed[eq + 1..];
            let value_part = after_eq.trim_start();
            let quote = value_part
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')?;
            let close = value_part[1..].find(quote)?;
            let value = &value_part[1..1 + close];
            let local = attribute.rsplit(':').next().unwrap_or(attribute);
            attributes.push((local, value));
            at += eq + 1 + (after_eq.len() - value_part.len()) + close + 2;
        }
        Some((
            Tag {
                name,
                attributes,
                end: at,
            },
            at,
        ))
    }

    /// `text` with XML's entities and character references decoded; one
    /// it does not know is kept as it is.
    fn decode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            rest = &rest[amp..];
            let decoded = rest.find(';').and_then(|semi| {
                let entity = &rest[1..semi];
                let c = match entity {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                        .map(|hex| u32::from_str_radix(hex, 16))
                        .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                        .and_then(Result::ok)
                        .and_then(char::from_u32),
                };
                c.map(|c| (c, semi))
            });
            match decoded {
                Some((c, semi)) => {
                    out.push(c);
                    rest = &rest[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    #[cfg(test)]
    mod tests {
        use super::{decode, start_tags};

        #[test]
        fn reads_tags_attributes_and_entities() {
            let text = r#"<?xml version='1.0' encoding='UTF-8'?><!-- a <b> --><ts:tsResponse xmlns:ts="http://tableau.com/api"><credentials token="a&amp;b&#x3D;" estimatedTimeToExpiration = '1:00'><site id="s1" contentUrl=""/></credentials></ts:tsResponse>"#;
            let tags: Vec<_> = start_tags(text).collect();
            let names: Vec<_> = tags.iter().map(|t| t.name).collect();
            assert_eq!(names, ["tsResponse", "credentials", "site"]);
            assert_eq!(tags[1].attribute("token").as_deref(), Some("a&b="));
            assert_eq!(
                tags[1].attribute("estimatedTimeToExpiration").as_deref(),
                Some("1:00")
            );
            assert_eq!(tags[2].attribute("id").as_deref(), Some("s1"));
            assert_eq!(tags[2].attribute("contentUrl").as_deref(), Some(""));
        }

        #[test]
        fn stops_at_what_it_cannot_read() {
            for text in [
                "<a b=\"1",
                "<a b>",
                "<a",
                "<",
                "<!-- x",
                "<a b='1' c=\"2'>",
                "<a =\"1\">",
                "<é x='&#xFFFFFFFF;'/>",
            ] {
                // No panic; whatever it read before the fault.
                let _ = start_tags(text).count();
            }
            assert_eq!(
                decode("&#xFFFFFFFF; &bogus; &amp"),
                "&#xFFFFFFFF; &bogus; &amp"
            );
            assert_eq!(decode("&#233;t&#xE9;"), "été");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_answers_in_both_formats() {
        let json = br#"{"credentials":{"token":"T1","site":{"id":"S1","contentUrl":"cs"},"user":{"id":"U"}}}"#;
        assert_eq!(parse_sign_in(json), Ok(("T1".into(), "S1".into())));
        let xml = "\u{feff}<?xml version='1.0'?><tsResponse xmlns=\"http://tableau.com/api\"><credentials token=\"T2\"><site id=\"S2\" contentUrl=\"cs\"/><user id=\"U\"/></credentials></tsResponse>";
        assert_eq!(
            parse_sign_in(xml.as_bytes()),
            Ok(("T2".into(), "S2".into()))
        );
    }

    #[test]
    fn malformed_sign_in_answers_are_errors() {
        let cases: [&[u8]; 9] = [
            b"",
            b"OK",
            b"{",
            b"{\"credentials\":{\"token\":\"T\"}}",
            b"{\"credentials\":{\"token\":7,\"site\":{\"id\":\"S\"}}}",
            b"{\"credentials\":{\"token\":\"\",\"site\":{\"id\":\"S\"}}}",
            b"<tsResponse><credentials token=\"T\"></credentials></tsResponse>",
            b"<tsResponse><site id=\"S\"/><credentials/></tsResponse>",
            b"\xff\xfe<",
        ];
        for case in cases {
            assert!(
                parse_sign_in(case).is_err(),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn filters_are_percent_encoded_with_their_prefix() {
        let filters = BTreeMap::from([
            ("Region".to_string(), "North America,EMEA".to_string()),
            ("vf_Tier".to_string(), "Gold & Platinum".to_string()),
            ("Kund ø".to_string(), "ja+nei".to_string()),
        ]);
        assert_eq!(
            filter_query(&filters),
            "vf_Kund%20%C3%B8=ja%2Bnei&vf_Region=North%20America%2CEMEA&vf_Tier=Gold%20%26%20Platinum"
        );
    }

    #[test]
    fn server_urls_are_checked() {
        for good in [
            "https://tableau.example.com",
            "http://127.0.0.1:8080/",
            "https://h/tableau",
        ] {
            assert!(base_url(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://h",
            "tableau.example.com",
            "",
            "https://h/?x=1",
            "https://h/#f",
            "mailto:a@b",
        ] {
            assert!(
                matches!(base_url(bad), Err(TableauError::BadUrl { .. })),
                "{bad}"
            );
        }
        let Err(error) = base_url("ftp://user:hunter2@h") else {
            panic!("an ftp URL was taken");
        };
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn messages_are_cleared_of_secrets_and_cut() {
        assert_eq!(
            clear("name pat-secret\nrefused", &["pat-secret", ""]),
            "name *** refused"
        );
        let long = "x".repeat(1000);
        assert_eq!(clear(&long, &[]).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn jitter_is_a_share() {
        for attempt in 0..100 {
            assert!((0.0..=1.0).contains(&jitter(attempt)));
        }
    }
}
