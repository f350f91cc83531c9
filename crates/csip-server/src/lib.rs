//! `csip serve`: a JSON REST API over a workbook kept in a
//! [`csip_store::Store`] (DESIGN §5 "Server and CLI").
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /healthz` | anyone | `{"status": "ok", ...}` |
//! | `GET /api/v1/tables` | any token | tables, their columns and types, row counts |
//! | `GET /api/v1/tables/{table}/rows?offset=&limit=` | any token | a page of rows with formula values |
//! | `GET /api/v1/tables/{table}/rows/{row_id}` | any token | one row |
//! | `GET /api/v1/views` | any token | the views and their parameters |
//! | `GET /api/v1/views/{view}?param=value` | any token | a view's rows, groups and tiles |
//! | `POST /api/v1/transactions` | csm, admin | `set` / `insert` / `delete` operations, all or none; answers the change set |
//! | `POST /api/v1/eval` | any token | a formula's value, on a row when given |
//! | `GET /api/v1/audit?after=&limit=` | admin | the audit log |
//!
//! Every `/api` request carries `Authorization: Bearer <token>` (`csip token
//! create`). Errors are JSON — `{"error": {"status", "code", "message"}}` —
//! with 400 for bad input, 401 for a missing or unknown token, 403 for a
//! write the role may not make, 404 for an unknown table, row or view, 409
//! for a unique value already taken, 413 for a body over the limit.
//!
//! The store sits behind a fair (first come, first served) read-write lock:
//! reads run side by side, a write holds the lock while it applies the
//! transaction and syncs it to disk, so a write is acknowledged only once it
//! is durable and writes never interleave; a stream of writes cannot starve
//! readers, nor readers writers. At most one view evaluation per core holds
//! the lock at a time; a view's answer is kept until the store's generation
//! moves. Store work runs on tokio's blocking pool.

mod api;
mod error;
mod json;

pub use error::ApiError;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use csip_engine::{Clock, NaiveDate, NaiveDateTime};
use csip_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// How the service runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The largest request body accepted, in bytes (larger ones get 413).
    pub body_limit: usize,
    /// Read the workbook as of this day instead of the machine's date (tests, demos).
    pub today: Option<NaiveDate>,
    /// Keep views' answers until the workbook changes (on by default).
    pub view_cache: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            body_limit: 1024 * 1024,
            today: None,
            view_cache: true,
        }
    }
}

/// The shared state of the service.
#[derive(Clone, Debug)]
pub struct App {
    store: Arc<RwLock<Store>>,
    /// Who is calling, told without the workbook's lock.
    tokens: Arc<csip_store::Tokens>,
    config: Arc<Config>,
    views: Arc<std::sync::Mutex<ViewCache>>,
    /// One view evaluation per core at a time.
    evaluations: Arc<tokio::sync::Semaphore>,
}

/// Views' answers as written, for the store generation they were computed
/// at: while nothing changes, a dashboard polled by many readers is computed
/// once. Any change of the store's generation empties it.
#[derive(Debug, Default)]
pub(crate) struct ViewCache {
    generation: u64,
    answers: std::collections::HashMap<(String, Vec<(String, String)>), axum::body::Bytes>,
}

impl ViewCache {
    /// At most this many answers are kept (a view per parameter value).
    const MAX: usize = 256;

    pub(crate) fn get(
        &mut self,
        generation: u64,
        key: &(String, Vec<(String, String)>),
    ) -> Option<axum::body::Bytes> {
        if self.generation != generation {
            self.answers.clear();
            self.generation = generation;
        }
        self.answers.get(key).cloned()
    }

    pub(crate) fn put(
        &mut self,
        generation: u64,
        key: (String, Vec<(String, String)>),
        answer: axum::body::Bytes,
    ) {
        if self.generation != generation {
            return; // computed for a state that has moved on
        }
        if self.answers.len() >= ViewCache::MAX {
            self.answers.clear();
        }
        self.answers.insert(key, answer);
    }
}

impl App {
    /// Serves `store` with `config`; fails if the store's file cannot be
    /// opened a second time (for checking tokens).
    pub fn new(store: Store, config: Config) -> Result<App, csip_store::StoreError> {
        Ok(App {
            tokens: Arc::new(csip_store::Tokens::open(store.path())?),
            store: Arc::new(RwLock::new(store)),
            config: Arc::new(config),
            views: Arc::default(),
            evaluations: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        })
    }

    /// The routes, ready for `axum::serve`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(api::healthz))
            .route("/api/v1/tables", get(api::tables))
            .route("/api/v1/tables/{table}/rows", get(api::rows))
            .route("/api/v1/tables/{table}/rows/{row_id}", get(api::row))
            .route("/api/v1/views", get(api::views))
            .route("/api/v1/views/{*view}", get(api::view))
            .route("/api/v1/transactions", post(api::transactions))
            .route("/api/v1/eval", post(api::eval))
            .route("/api/v1/audit", get(api::audit))
            .fallback(api::not_found)
            .method_not_allowed_fallback(api::method_not_allowed)
            .layer(DefaultBodyLimit::max(self.config.body_limit))
            .layer(axum::middleware::from_fn(log_request))
            .with_state(self.clone())
    }

    /// Housekeeping, every 30 seconds: reloads the workbook when another
    /// process has committed to its file, and moves the workbook's clock to
    /// the machine's date when the day has turned (unless the config pins a
    /// day). Blocks: call it from a blocking thread.
    pub fn tick(&self) {
        if self.store.blocking_read().is_stale().unwrap_or(false) {
            let _ = self.store.blocking_write().refresh();
        }
        if self.config.today.is_some() {
            return;
        }
        let today = now().date();
        let turned = self.store.blocking_read().workbook().clock().today != today;
        if turned {
            self.store.blocking_write().set_clock(Clock::on(today));
        }
    }
}

/// One line per request (`tracing`, target `csip::http`): method, path,
/// status and time taken. Query strings are left out (they may name people).
async fn log_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let ms = format!("{:.2}", started.elapsed().as_secs_f64() * 1000.0);
    if status >= 500 {
        tracing::error!(target: "csip::http", %method, %path, status, %ms, "request failed");
    } else {
        tracing::info!(target: "csip::http", %method, %path, status, %ms);
    }
    response
}

/// Serves the API on `listener` until `shutdown` completes; keeps the
/// workbook's `Today()` on the machine's date.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ticker = app.clone();
    let clock = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            let t = ticker.clone();
            let _ = tokio::task::spawn_blocking(move || t.tick()).await;
        }
    });
    let result = axum::serve(listener, app.router())
        .with_graceful_shutdown(shutdown)
        .await;
    clock.abort();
    result
}

/// The machine's time, UTC: the adapter's job, never the engine's.
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
