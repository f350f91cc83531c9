//! A client of Slack's Web API for the two posts csip makes:
//! `chat.postMessage` (with the bot token) and a slash command's
//! `response_url` (no token: the URL is the credential).
//!
//! Each post ends in a [`Delivery`]: sent, worth retrying (and when), or
//! failed for good. The outbox's dispatcher acts on it; this client never
//! retries or sleeps by itself, and logs nothing.
//!
//! The bot token is read only to build the `Authorization` header (marked
//! sensitive, so HTTP libraries do not print it); it is in no [`Delivery`],
//! error or `Debug` output, and an error code Slack answers with is kept
//! only when it is a plain code (`channel_not_found`) that is not the token.

use crate::blocks::Message;
use csip_store::Secret;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// Slack's Web API base URL (`CSIP_SLACK_API_URL` overrides it).
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// How a post ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Slack took the message.
    Sent,
    /// It did not go out, for a reason that may pass: try again, after
    /// `after` when Slack said (a 429's `Retry-After`).
    Retry {
        /// How long Slack asked to wait, when it did.
        after: Option<Duration>,
        /// What happened (`HTTP 429`, `ratelimited`, `timed out`…).
        reason: String,
    },
    /// Slack refused it for a reason that will not pass by trying again
    /// (`channel_not_found`, `invalid_auth`, `http_404`…).
    Failed {
        /// Slack's error code, or `http_` and the status.
        code: String,
    },
}

/// Why a [`WebApi`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is not an `http://` or `https://` URL.
    #[error("the Slack API URL {url:?} is not an http:// or https:// URL")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The HTTP client could not be set up.
    #[error("the HTTP client for Slack could not be set up: {reason}")]
    Http {
        /// What went wrong.
        reason: String,
    },
}

/// A client of Slack's Web API with a bot token.
///
/// ```
/// use csip_slack::client::{WebApi, SLACK_API_URL};
/// use csip_store::Secret;
/// use std::time::Duration;
/// let slack = WebApi::new(SLACK_API_URL.into(), Secret::new("xoxb-1"), Duration::from_secs(10))?;
/// assert!(!format!("{slack:?}").contains("xoxb-1"));
/// # Ok::<(), csip_slack::client::ClientError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WebApi {
    base_url: String,
    /// `None` for a client of response URLs only ([`WebApi::responder`]).
    token: Option<Secret>,
    http: reqwest::Client,
}

/// Error codes of `{"ok": false}` worth retrying: Slack's own trouble or
/// its rate limit. Any other code is [`Delivery::Failed`].
const TRANSIENT_CODES: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

impl WebApi {
    /// A client for the Web API at `base_url` (Slack's is
    /// [`SLACK_API_URL`]; tests give a local server's), posting with
    /// `token`, giving up on a request after `timeout` (connecting
    /// included).
    pub fn new(base_url: String, token: Secret, timeout: Duration) -> Result<WebApi, ClientError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let lower = base_url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(ClientError::BadUrl { url: base_url });
        }
        Ok(WebApi {
            base_url,
            token: Some(token),
            http: http_client(timeout)?,
        })
    }

    /// A client that only answers slash commands through their
    /// `response_url` ([`WebApi::respond`]), which needs no token; it
    /// posts no message ([`WebApi::post_body`] answers `not_authed`, as
    /// Slack would, without a request).
    ///
    /// ```
    /// use csip_slack::client::{Delivery, WebApi};
    /// use csip_slack::Message;
    /// use std::time::Duration;
    /// let slack = WebApi::responder(Duration::from_secs(10))?;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let posted = slack.post_message("#cs", &Message::ephemeral("hi")).await;
    /// assert_eq!(posted, Delivery::Failed { code: "not_authed".into() });
    /// # });
    /// # Ok::<(), csip_slack::client::ClientError>(())
    /// ```
    pub fn responder(timeout: Duration) -> Result<WebApi, ClientError> {
        Ok(WebApi {
            base_url: SLACK_API_URL.to_string(),
            token: None,
            http: http_client(timeout)?,
        })
    }

    /// Posts `message` to `channel` (an id such as `C123`, or `#name`)
    /// with `chat.postMessage`: a POST of `{"channel", "text", "blocks"}`
    /// to `{base_url}/chat.postMessage` with the bot token.
    pub async fn post_message(&self, channel: &str, message: &Message) -> Delivery {
        self.post_body(&message.to_post_json(channel)).await
    }

    /// Posts a `chat.postMessage` body as it was built
    /// ([`Message::to_post_json`]: its channel, text and blocks) and kept,
    /// as the outbox keeps a message's payload; answers as
    /// [`WebApi::post_message`].
    pub async fn post_body(&self, body: &serde_json::Value) -> Delivery {
        let Some(token) = &self.token else {
            return Delivery::Failed {
                code: "not_authed".into(),
            };
        };
        let url = format!("{}/chat.postMessage", self.base_url);
        let body = body.to_string();
        let request = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body);
        match request.send().await {
            Ok(response) => self.delivery(response, Answer::WebApi).await,
            Err(error) => transport_failure(&error),
        }
    }

    /// Posts `message` (with its `response_type`) to a slash command's
    /// `response_url`, without the token.
    pub async fn respond(&self, response_url: &str, message: &Message) -> Delivery {
        let body = message.to_json().to_string();
        let request = self
            .http
            .post(response_url)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body);
        match request.send().await {
            Ok(response) => self.delivery(response, Answer::ResponseUrl).await,
            Err(error) => transport_failure(&error),
        }
    }

    /// What Slack's answer means.
    async fn delivery(&self, response: reqwest::Response, kind: Answer) -> Delivery {
        let status = response.status();
        let after = retry_after(response.headers());
        if status.as_u16() == 429 {
            return Delivery::Retry {
                after,
                reason: "HTTP 429".into(),
            };
        }
        if status.is_server_error() {
            return Delivery::Retry {
                after,
                reason: format!("HTTP {}", status.as_u16()),
            };
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return transport_failure(&error),
        };
        let answer = serde_json::from_slice::<serde_json::Value>(&body).ok();
        let ok = answer
            .as_ref()
            .and_then(|a| a.get("ok"))
            .and_then(serde_json::Value::as_bool);
        let code = answer
            .as_ref()
            .and_then(|a| a.get("error"))
            .and_then(serde_json::Value::as_str)
            .or_else(|| std::str::from_utf8(&body).ok())
            .and_then(|text| self.plain_code(text));
        if status.is_success() {
            return match (ok, code) {
                (Some(true), _) => Delivery::Sent,
                (Some(false), Some(code)) if TRANSIENT_CODES.contains(&code.as_str()) => {
                    Delivery::Retry {
                        after,
                        reason: code,
                    }
                }
                (Some(false), code) => Delivery::Failed {
                    code: code.unwrap_or_else(|| "unknown_error".into()),
                },
                // A response_url answers `ok` as plain text, or nothing.
                (None, _) if kind == Answer::ResponseUrl => Delivery::Sent,
                (None, _) => Delivery::Retry {
                    after,
                    reason: format!(
                        "HTTP {} with an answer that is not Slack's JSON",
                        status.as_u16()
                    ),
                },
            };
        }
        Delivery::Failed {
            code: code
                .filter(|code| code != "ok")
                .unwrap_or_else(|| format!("http_{}", status.as_u16())),
        }
    }

    /// `text` as an error code when it is one (`channel_not_found`: ASCII
    /// lowercase, digits and `_`, at most 64), and not the token.
    fn plain_code(&self, text: &str) -> Option<String> {
        let text = text.trim();
        let plain = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let leaks = self
            .token
            .as_ref()
            .is_some_and(|token| !token.expose().is_empty() && text.contains(token.expose()));
        (plain && !leaks).then(|| text.to_string())
    }
}

/// An HTTP client with `timeout` (connecting included) that follows no
/// redirect: one would carry the token elsewhere, and Slack sends none.
fn http_client(timeout: Duration) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| ClientError::Http {
            reason: describe(&error),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// The Web API: always JSON with `ok`.
    WebApi,
    /// A response_url: JSON with `ok`, or plain text.
    ResponseUrl,
}

/// `Retry-After` in seconds (the form Slack sends); a date or anything
/// else is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// A request that got no answer.
fn transport_failure(error: &reqwest::Error) -> Delivery {
    if error.is_builder() {
        // The URL cannot be requested (not http or https, no host): trying
        // again will not change it.
        return Delivery::Failed {
            code: "invalid_url".into(),
        };
    }
    let reason = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        format!("could not connect: {}", describe(error))
    } else {
        format!("request failed: {}", describe(error))
    };
    Delivery::Retry {
        after: None,
        reason,
    }
}

/// The innermost cause of `error`, which names neither the URL (a
/// response_url is a credential) nor any header.
fn describe(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string();
    if std::ptr::addr_eq(cause, error) {
        // reqwest's own message may carry the URL: say only what kind.
        return if error.is_body() || error.is_decode() {
            "the answer could not be read".into()
        } else {
            "the request could not be sent".into()
        };
    }
    text
}
