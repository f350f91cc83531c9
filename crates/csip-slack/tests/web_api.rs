//! The Web API client against a local server that answers as Slack
//! documents: `chat.postMessage` (a bearer token; `{"ok": true, …}` or
//! `{"ok": false, "error": …}`) and a `response_url` (no token), scripted
//! to answer 429 with `Retry-After`, `ok: false`, 500, or not at all.

#![allow(clippy::unwrap_used)] // a test: a failure to set up is a failure

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use csip_slack::{Block, Delivery, Message, Mrkdwn, WebApi};
use csip_store::Secret;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

/// What the fake Slack answers to the next request.
#[derive(Debug, Clone)]
enum Reply {
    /// `{"ok": true, …}` (chat.postMessage) or `{"ok": true}` (response_url).
    Ok,
    /// `ok` as plain text, as incoming webhooks answer.
    PlainOk,
    /// 429 with this `Retry-After`.
    TooMany(&'static str),
    /// 200 with `{"ok": false, "error": code}`.
    Error(&'static str),
    /// This status with this plain-text body.
    Status(u16, &'static str),
    /// No answer, ever.
    Hang,
}

/// One request the fake Slack received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

#[derive(Default)]
struct Fake {
    /// The bot token it accepts.
    token: String,
    script: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
}

struct Slack {
    base: String,
    fake: Arc<Fake>,
}

impl Slack {
    async fn start() -> Slack {
        Slack::accepting(TOKEN).await
    }

    async fn accepting(token: &str) -> Slack {
        let fake = Arc::new(Fake {
            token: token.into(),
            ..Fake::default()
        });
        let app = Router::new()
            .route("/api/chat.postMessage", post(chat_post_message))
            .route("/hooks/{*rest}", post(response_url))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Slack { base, fake }
    }

    fn then(&self, reply: Reply) -> &Slack {
        self.fake.script.lock().unwrap().push_back(reply);
        self
    }

    fn api(&self) -> String {
        format!("{}/api", self.base)
    }

    fn client(&self, timeout: Duration) -> WebApi {
        WebApi::new(self.api(), Secret::new(TOKEN), timeout).unwrap()
    }

    fn received(&self) -> Vec<Received> {
        self.fake.received.lock().unwrap().clone()
    }
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn record(fake: &Fake, path: String, headers: &HeaderMap, body: &Bytes) -> Reply {
    fake.received.lock().unwrap().push(Received {
        path,
        authorization: header(headers, header::AUTHORIZATION),
        content_type: header(headers, header::CONTENT_TYPE),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
    fake.script.lock().unwrap().pop_front().unwrap_or(Reply::Ok)
}

fn json_answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn answer(reply: Reply, ok: Value) -> Response {
    match reply {
        Reply::Ok => json_answer(StatusCode::OK, ok),
        Reply::PlainOk => (StatusCode::OK, "ok").into_response(),
        Reply::TooMany(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds)],
            json!({"ok": false, "error": "ratelimited"}).to_string(),
        )
            .into_response(),
        Reply::Error(code) => json_answer(StatusCode::OK, json!({"ok": false, "error": code})),
        Reply::Status(status, body) => {
            (StatusCode::from_u16(status).unwrap(), body).into_response()
        }
        Reply::Hang => std::future::pending().await,
    }
}

async fn chat_post_message(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = record(&fake, "/api/chat.postMessage".into(), &headers, &body);
    // Slack's Web API answers an authentication problem with 200 and ok: false.
    match header(&headers, header::AUTHORIZATION) {
        None => return json_answer(StatusCode::OK, json!({"ok": false, "error": "not_authed"})),
        Some(value) if value != format!("Bearer {}", fake.token) => {
            return json_answer(
                StatusCode::OK,
                json!({"ok": false, "error": "invalid_auth"}),
            );
        }
        Some(_) => {}
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(channel) = request["channel"].as_str() else {
        return json_answer(
            StatusCode::OK,
            json!({"ok": false, "error": "channel_not_found"}),
        );
    };
    let ok = json!({
        "ok": true,
        "channel": channel,
        "ts": "1503435956.000247",
        "message": {"text": request["text"], "type": "message", "subtype": "bot_message", "ts": "1503435956.000247"}
    });
    answer(reply, ok).await
}

async fn response_url(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = record(&fake, format!("/hooks/{id}"), &headers, &body);
    answer(reply, json!({"ok": true})).await
}

fn message() -> Message {
    Message::in_channel("Gard AS: API Uptime 99.5 → Healthy; health 72 → 75")
        .block(Block::header("Gard AS updated"))
        .block(Block::fields(
            Mrkdwn::new()
                .bold("API Uptime")
                .plain(" set to 99.5 by ")
                .user("U2CERLKJA"),
            vec![
                Mrkdwn::new().bold("Health").plain("\n72 → 75"),
                Mrkdwn::new().bold("Risk").plain("\nLow"),
            ],
        ))
        .block(Block::Divider)
}

const SHORT: Duration = Duration::from_secs(10);

fn never_shows_the_token(delivery: &Delivery) {
    let shown = format!("{delivery:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("pdFZKVeTuE8sk7oOcBrzbqgy"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_message_is_posted_with_the_token_and_its_json() {
    let slack = Slack::start().await;
    let delivery = slack
        .client(SHORT)
        .post_message("C0123456", &message())
        .await;
    assert_eq!(delivery, Delivery::Sent);
    let received = slack.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/api/chat.postMessage");
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(request.body, message().to_post_json("C0123456"));
    assert_eq!(
        request.body,
        json!({
            "channel": "C0123456",
            "text": "Gard AS: API Uptime 99.5 → Healthy; health 72 → 75",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Gard AS updated"}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "*API Uptime* set to 99.5 by <@U2CERLKJA>"},
                    "fields": [
                        {"type": "mrkdwn", "text": "*Health*\n72 → 75"},
                        {"type": "mrkdwn", "text": "*Risk*\nLow"}
                    ]
                },
                {"type": "divider"}
            ]
        })
    );
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_works() {
    let slack = Slack::start().await;
    let client = WebApi::new(format!("{}/api/", slack.base), Secret::new(TOKEN), SHORT).unwrap();
    assert_eq!(client.post_message("C1", &message()).await, Delivery::Sent);
    assert_eq!(slack.received()[0].path, "/api/chat.postMessage");
}

#[tokio::test]
async fn http_429_is_retried_after_retry_after() {
    let slack = Slack::start().await;
    slack.then(Reply::TooMany("2"));
    let client = slack.client(SHORT);
    let delivery = client.post_message("C1", &message()).await;
    assert_eq!(
        delivery,
        Delivery::Retry {
            after: Some(Duration::from_secs(2)),
            reason: "HTTP 429".into()
        }
    );
    // The server took it as sent: the same JSON, and the next one goes out.
    assert_eq!(slack.received()[0].body, message().to_post_json("C1"));
    assert_eq!(client.post_message("C1", &message()).await, Delivery::Sent);
    // A Retry-After that is not a number of seconds is no advice.
    slack.then(Reply::TooMany("Wed, 21 Oct 2015 07:28:00 GMT"));
    assert_eq!(
        client.post_message("C1", &message()).await,
        Delivery::Retry {
            after: None,
            reason: "HTTP 429".into()
        }
    );
}

#[tokio::test]
async fn permanent_errors_fail_and_transient_ones_retry() {
    let slack = Slack::start().await;
    let client = slack.client(SHORT);
    for code in [
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "account_inactive",
        "token_revoked",
        "some_future_error",
    ] {
        slack.then(Reply::Error(code));
        let delivery = client.post_message("C1", &message()).await;
        assert_eq!(delivery, Delivery::Failed { code: code.into() }, "{code}");
    }
    for code in [
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    ] {
        slack.then(Reply::Error(code));
        let delivery = client.post_message("C1", &message()).await;
        assert_eq!(
            delivery,
            Delivery::Retry {
                after: None,
                reason: code.into()
            },
            "{code}"
        );
    }
}

#[tokio::test]
async fn a_wrong_token_is_invalid_auth() {
    let slack = Slack::start().await;
    let client = WebApi::new(slack.api(), Secret::new("xoxb-wrong"), SHORT).unwrap();
    let delivery = client.post_message("C1", &message()).await;
    assert_eq!(
        delivery,
        Delivery::Failed {
            code: "invalid_auth".into()
        }
    );
    assert_eq!(
        slack.received()[0].authorization.as_deref(),
        Some("Bearer xoxb-wrong")
    );
    let client = WebApi::new(slack.api(), Secret::new(""), SHORT).unwrap();
    let delivery = client.post_message("C1", &message()).await;
    assert!(matches!(delivery, Delivery::Failed { .. }), "{delivery:?}");
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let slack = Slack::start().await;
    slack.then(Reply::Status(500, "Internal Server Error"));
    slack.then(Reply::Status(503, "upstream down"));
    let client = slack.client(SHORT);
    assert_eq!(
        client.post_message("C1", &message()).await,
        Delivery::Retry {
            after: None,
            reason: "HTTP 500".into()
        }
    );
    assert_eq!(
        client.post_message("C1", &message()).await,
        Delivery::Retry {
            after: None,
            reason: "HTTP 503".into()
        }
    );
}

#[tokio::test]
async fn other_4xx_fail_for_good() {
    let slack = Slack::start().await;
    slack.then(Reply::Status(404, "Not Found"));
    slack.then(Reply::Status(400, "invalid_payload"));
    slack.then(Reply::Status(403, "ok"));
    let client = slack.client(SHORT);
    assert_eq!(
        client.post_message("C1", &message()).await,
        Delivery::Failed {
            code: "http_404".into()
        }
    );
    assert_eq!(
        client.post_message("C1", &message()).await,
        Delivery::Failed {
            code: "invalid_payload".into()
        }
    );
    // A body that is no error code says nothing more than the status.
    assert_eq!(
        client.post_message("C1", &message()).await,
        Delivery::Failed {
            code: "http_403".into()
        }
    );
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_retried() {
    let slack = Slack::start().await;
    slack.then(Reply::Hang);
    let client = slack.client(Duration::from_millis(300));
    let delivery = client.post_message("C1", &message()).await;
    assert_eq!(
        delivery,
        Delivery::Retry {
            after: None,
            reason: "timed out".into()
        }
    );
    // The request had arrived whole: a retry may post it twice (the outbox's
    // at-least-once window).
    assert_eq!(slack.received()[0].body, message().to_post_json("C1"));
}

#[tokio::test]
async fn no_server_is_retried() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = WebApi::new(format!("http://{address}/api"), Secret::new(TOKEN), SHORT).unwrap();
    let delivery = client.post_message("C1", &message()).await;
    let Delivery::Retry {
        after: None,
        reason,
    } = &delivery
    else {
        panic!("{delivery:?}")
    };
    assert!(reason.starts_with("could not connect"), "{reason}");
    never_shows_the_token(&delivery);
}

#[tokio::test]
async fn a_response_url_gets_the_message_with_its_response_type_and_no_token() {
    let slack = Slack::start().await;
    let client = slack.client(SHORT);
    let url = format!(
        "{}/hooks/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
        slack.base
    );
    let followup = Message::ephemeral("Sync is not configured yet")
        .block(Block::section("Ask an admin to set it up."));
    assert_eq!(client.respond(&url, &followup).await, Delivery::Sent);
    let received = slack.received();
    assert_eq!(
        received[0].path,
        "/hooks/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
    );
    assert_eq!(received[0].authorization, None);
    assert_eq!(
        received[0].body,
        json!({
            "response_type": "ephemeral",
            "text": "Sync is not configured yet",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Ask an admin to set it up."}}]
        })
    );
    assert_eq!(received[0].body, followup.to_json());
}

#[tokio::test]
async fn response_url_answers_are_read_like_the_web_apis() {
    let slack = Slack::start().await;
    let client = slack.client(SHORT);
    let url = format!("{}/hooks/1", slack.base);
    slack
        .then(Reply::PlainOk)
        .then(Reply::Status(404, "expired_url"))
        .then(Reply::Error("used_url"))
        .then(Reply::TooMany("2"))
        .then(Reply::Status(500, "oops"));
    let message = Message::in_channel("hello");
    assert_eq!(client.respond(&url, &message).await, Delivery::Sent);
    assert_eq!(
        client.respond(&url, &message).await,
        Delivery::Failed {
            code: "expired_url".into()
        }
    );
    assert_eq!(
        client.respond(&url, &message).await,
        Delivery::Failed {
            code: "used_url".into()
        }
    );
    assert_eq!(
        client.respond(&url, &message).await,
        Delivery::Retry {
            after: Some(Duration::from_secs(2)),
            reason: "HTTP 429".into()
        }
    );
    assert_eq!(
        client.respond(&url, &message).await,
        Delivery::Retry {
            after: None,
            reason: "HTTP 500".into()
        }
    );
    assert_eq!(slack.received()[0].body["response_type"], "in_channel");
}

#[tokio::test]
async fn a_bad_response_url_fails_for_good() {
    let slack = Slack::start().await;
    let client = slack.client(SHORT);
    for url in ["not a url", "ftp://example.com/x", ""] {
        let delivery = client.respond(url, &Message::ephemeral("x")).await;
        assert_eq!(
            delivery,
            Delivery::Failed {
                code: "invalid_url".into()
            },
            "{url:?}"
        );
    }
}

#[tokio::test]
async fn the_token_never_shows() {
    // A server that echoes a token that looks like an error code.
    let slack = Slack::accepting("echoedtoken").await;
    let client = WebApi::new(slack.api(), Secret::new("echoedtoken"), SHORT).unwrap();
    slack.then(Reply::Error("echoedtoken"));
    let delivery = client.post_message("C1", &message()).await;
    assert_eq!(
        delivery,
        Delivery::Failed {
            code: "unknown_error".into()
        }
    );
    slack.then(Reply::Status(400, "echoedtoken"));
    let delivery = client.post_message("C1", &message()).await;
    assert_eq!(
        delivery,
        Delivery::Failed {
            code: "http_400".into()
        }
    );
    assert!(!format!("{client:?}").contains("echoedtoken"));

    let slack = Slack::start().await;
    let client = slack.client(SHORT);
    assert!(!format!("{client:?}").contains(TOKEN));
    for reply in [
        Reply::Error("invalid_auth"),
        Reply::TooMany("1"),
        Reply::Status(500, TOKEN),
        Reply::Status(400, TOKEN),
        Reply::Error(TOKEN),
    ] {
        slack.then(reply.clone());
        let delivery = client.post_message("C1", &message()).await;
        never_shows_the_token(&delivery);
    }
}

#[test]
fn a_base_url_must_be_http() {
    for url in ["slack.com/api", "", "ftp://slack.com/api"] {
        let error = WebApi::new(url.into(), Secret::new(TOKEN), SHORT).unwrap_err();
        assert!(!format!("{error} {error:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn a_web_api_answer_that_is_not_json_is_retried() {
    // Something between us and Slack answered: whether the message went out
    // is unknown, and the outbox delivers at least once.
    let slack = Slack::start().await;
    slack.then(Reply::PlainOk);
    let delivery = slack.client(SHORT).post_message("C1", &message()).await;
    assert_eq!(
        delivery,
        Delivery::Retry {
            after: None,
            reason: "HTTP 200 with an answer that is not Slack's JSON".into()
        }
    );
}

/// Slack's Web API is https: the client speaks TLS (rustls), so an https
/// base that nothing answers is a connection failure to retry, not a
/// scheme the client cannot use.
#[tokio::test]
async fn an_https_base_is_spoken_to_over_tls() {
    let client = WebApi::new(
        "https://127.0.0.1:1".to_string(),
        Secret::new(TOKEN),
        Duration::from_secs(2),
    )
    .unwrap();
    match client.post_message("#c", &Message::in_channel("hi")).await {
        Delivery::Retry { reason, .. } => {
            assert!(!reason.contains("scheme"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
