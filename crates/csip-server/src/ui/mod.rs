//! The dashboards in the browser (DESIGN §5 "Dashboards", `docs/dashboards.md`):
//! the CSM Command Center, the Strategic Alignment Board and the Platform
//! Health Dashboard as server-rendered pages under `/ui/`, live through
//! Server-Sent Events.
//!
//! | route | what |
//! |---|---|
//! | `GET /ui/login`, `POST /ui/login`, `POST /ui/logout` | signing in with an API token (`session.rs`) |
//! | `GET /ui/` | to the signed-in person's dashboard |
//! | `GET /ui/command-center?user=` | a CSM's active accounts as cards (`pages.rs`) |
//! | `GET /ui/accounts/{row_id}` | one account: components, metrics, objectives, risks, engagements, health history |
//! | `GET /ui/alignment?account=` | the Strategic Alignment Board as a Kanban |
//! | `GET /ui/platform-health` | KPI tiles, metrics by health status, the API heat map |
//! | `POST /ui/accounts/{row_id}/engagements`, `POST /ui/accounts/{row_id}/qbr`, `POST /ui/objectives/{row_id}/status` | the forms (`forms.rs`): writes through the same transaction path as the REST API |
//! | `GET /ui/events?page=` | the live page's changed fragments (SSE) |
//! | `GET /ui/assets/{name}` | the stylesheet and scripts, from the binary |
//!
//! Pages answer in HTML, errors included; they sit outside the API's JSON
//! error layer and have their own panic and log layers.

mod forms;
mod pages;
mod session;

use crate::App;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use csip_store::Role;
use std::collections::HashMap;
use std::time::Duration;

/// What the dashboards share across requests: the sessions and the store's
/// generation as last published (live pages wait on it).
pub(crate) struct Shared {
    pub(crate) sessions: session::Sessions,
    generation: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("generation", &*self.generation.borrow())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(generation: u64) -> Shared {
        Shared {
            sessions: session::Sessions::default(),
            generation: tokio::sync::watch::Sender::new(generation),
        }
    }

    /// A new snapshot at `generation` is what readers now see: wakes the
    /// live pages.
    pub(crate) fn published(&self, generation: u64) {
        self.generation.send_replace(generation);
    }
}

/// The dashboards' routes.
pub(crate) fn router() -> Router<App> {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/command-center", get(pages::command_center))
        .route("/ui/accounts/{row_id}", get(pages::account))
        .route(
            "/ui/accounts/{row_id}/engagements",
            post(forms::log_engagement),
        )
        .route("/ui/accounts/{row_id}/qbr", post(forms::qbr))
        .route("/ui/alignment", get(pages::alignment))
        .route(
            "/ui/objectives/{row_id}/status",
            post(forms::move_objective),
        )
        .route("/ui/platform-health", get(pages::platform_health))
        .route("/ui/events", get(events))
        .route("/ui/assets/{name}", get(asset))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            crate::error::panicked,
        ))
        .layer(axum::middleware::from_fn(crate::log_request))
}

/// Whether `role` may read the financial (currency) fields. The access
/// module lets every role read everything today; this is the one place
/// that decides it for the pages.
pub(crate) fn may_read_financial(_role: Role) -> bool {
    true
}

/// Whether `role` may use the dashboards' forms (log an engagement, move
/// an objective, start a QBR): as the REST API, a viewer reads only.
pub(crate) fn may_write(role: Role) -> bool {
    role != Role::Viewer
}

/// `/ui/`: a CSM to the Command Center, others to the Platform Health
/// Dashboard.
async fn index(State(app): State<App>, headers: HeaderMap) -> Response {
    let caller = match session::caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if caller.principal.role == Role::Csm {
        Redirect::to("/ui/command-center").into_response()
    } else {
        Redirect::to("/ui/platform-health").into_response()
    }
}

/// The vendored and hand-written assets, from the binary.
async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match name.as_str() {
        "htmx.min.js" => (
            include_bytes!("../../assets/htmx-2.0.9.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "sse.js" => (
            include_bytes!("../../assets/htmx-ext-sse-2.2.4.js"),
            "text/javascript; charset=utf-8",
        ),
        "board.js" => (
            include_bytes!("../../assets/board.js"),
            "text/javascript; charset=utf-8",
        ),
        "ui.css" => (
            include_bytes!("../../assets/ui.css"),
            "text/css; charset=utf-8",
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // Assets change only with the binary.
            (header::CACHE_CONTROL, "public, max-age=604800"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// What one connection has been sent: each fragment's HTML and, for one
/// with parts, its shape (which parts, in which order).
#[derive(Default)]
struct Sent {
    html: HashMap<String, String>,
    shapes: HashMap<String, String>,
}

impl Sent {
    /// The fragments to send: those whose HTML changed since the last time
    /// (a fragment whose shape is the same sends only its changed parts);
    /// every one when `all`.
    fn changed(&mut self, fragments: &[pages::Fragment], all: bool) -> Vec<String> {
        let mut out = Vec::new();
        for f in fragments {
            let same_html = self.html.get(&f.id) == Some(&f.html);
            let same_shape = self.shapes.get(&f.id) == Some(&f.shape);
            if all || !same_shape {
                out.push(f.html.clone());
            } else if !same_html {
                let mut parts = 0;
                for (id, html) in &f.parts {
                    if self.html.get(id) != Some(html) {
                        out.push(html.clone());
                        parts += 1;
                    }
                }
                if parts == 0 {
                    out.push(f.html.clone());
                }
            }
            self.html.insert(f.id.clone(), f.html.clone());
            self.shapes.insert(f.id.clone(), f.shape.clone());
            for (id, html) in &f.parts {
                self.html.insert(id.clone(), html.clone());
            }
        }
        out
    }
}

/// `GET /ui/events?page=...`: the page's fragments whose HTML changed, as
/// Server-Sent Events, each `event: fragment`, `id:` the store's
/// generation. A reconnect (`Last-Event-ID`), or `since` older than now,
/// first sends every fragment once.
async fn events(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match session::caller(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let kind = query.get("page").map(String::as_str).unwrap_or_default();
    let Some(page) = pages::Page::of(kind, &query, &caller) else {
        return (
            StatusCode::BAD_REQUEST,
            "`page` is command-center, account, alignment or platform-health",
        )
            .into_response();
    };
    // Watched before the first render: no change slips between the two.
    let mut watch = app.ui.generation.subscribe();
    let (generation, fragments) = match pages::fragments(&app, &caller, &page).await {
        Ok(f) => f,
        Err(e) => return pages::error_page(&e),
    };
    let resumed = headers.contains_key("last-event-id");
    let since = query.get("since").and_then(|s| s.parse::<u64>().ok());
    let mut sent = Sent::default();
    // The page as loaded is what the browser has; a reconnect, or a page
    // older than now, gets every fragment.
    let all = resumed || since.is_some_and(|s| s < generation);
    let mut first = sent.changed(&fragments, all);
    if !all {
        first.clear();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    let event = |generation: u64, html: &str| {
        // One line of data: newlines in the HTML become character references.
        let line = html.replace('\r', "&#13;").replace('\n', "&#10;");
        Event::default()
            .event("fragment")
            .id(generation.to_string())
            .data(line)
    };
    let _ = tx.try_send(
        Event::default()
            .comment("live")
            .retry(Duration::from_secs(1)),
    );
    for html in &first {
        let _ = tx.try_send(event(generation, html));
    }
    tokio::spawn(async move {
        let mut last = generation;
        loop {
            tokio::select! {
                changed = watch.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            // Shutdown ends the stream, so that it holds up no one.
            if app.shutdown.is_cancelled() || tx.is_closed() {
                return;
            }
            if app.snapshot().generation == last {
                continue;
            }
            // A session that ended (signed out) ends its streams.
            if let Some(id) = &caller.session
                && app.ui.sessions.get(id).is_none()
            {
                return;
            }
            let Ok((generation, fragments)) = pages::fragments(&app, &caller, &page).await else {
                continue;
            };
            last = generation;
            for html in sent.changed(&fragments, false) {
                if tx.send(event(generation, &html)).await.is_err() {
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|e| (Ok::<Event, std::convert::Infallible>(e), rx))
    });
    let mut answer = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    answer
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    answer
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may panic

    use super::*;

    fn group(cards: &[(&str, &str)]) -> pages::Fragment {
        let parts: Vec<(String, String)> = cards
            .iter()
            .map(|(id, text)| {
                (
                    id.to_string(),
                    format!(r#"<article id="{id}">{text}</article>"#),
                )
            })
            .collect();
        pages::Fragment {
            id: "group".into(),
            html: format!(
                r#"<section id="group">{}</section>"#,
                parts.iter().map(|(_, h)| h.as_str()).collect::<String>()
            ),
            shape: cards
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
                .join(","),
            parts,
        }
    }

    #[test]
    fn only_what_changed_is_sent_and_a_new_shape_sends_the_whole() {
        let mut sent = Sent::default();
        let first = sent.changed(&[group(&[("a", "63"), ("b", "70")])], false);
        assert_eq!(first.len(), 1, "the first time, the whole fragment");
        assert!(
            sent.changed(&[group(&[("a", "63"), ("b", "70")])], false)
                .is_empty()
        );
        // One card's score: that card alone.
        let one = sent.changed(&[group(&[("a", "64.4"), ("b", "70")])], false);
        assert_eq!(one, vec![r#"<article id="a">64.4</article>"#.to_string()]);
        // A card leaves the group: the group whole.
        let whole = sent.changed(&[group(&[("b", "70")])], false);
        assert_eq!(whole.len(), 1);
        assert!(whole[0].starts_with(r#"<section id="group">"#));
        // A reconnect: everything once.
        assert_eq!(sent.changed(&[group(&[("b", "70")])], true).len(), 1);
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        assert!(session::same("abc", "abc"));
        assert!(!session::same("abc", "abd"));
        assert!(!session::same("abc", "ab"));
    }
}
