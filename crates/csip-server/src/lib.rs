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
//! | `POST /api/v1/transactions` | csm, admin | `set` / `insert` / `delete` operations, all or none; answers the change set (its first `max_changes` cells, with counts) |
//! | `POST /api/v1/eval` | any token | a formula's value, on a row when given |
//! | `GET /api/v1/audit?after=&limit=&commit=` | admin | the audit log, or one commit's part of it |
//!
//! Every `/api` request carries `Authorization: Bearer <token>` (`csip token
//! create`), checked before anything else about the request (its body, its
//! path, its query). Errors are JSON — `{"error": {"status", "code",
//! "message"}}` — whoever answers them: a handler, a rejected extractor, an
//! unknown route or method, a body over the limit or late, a panic (see
//! `docs/api.md` for the statuses). Ambiguous input is refused, naming the
//! field: a key twice in a JSON object, a query parameter twice, a row given
//! both by `row_id` and by `row`, a required view parameter given empty.
//!
//! The edge (`edge.rs`) is our own accept loop on hyper's HTTP/1.1: header,
//! idle and body timeouts, a cap on connections, and a shutdown that lets
//! requests in progress finish within a deadline ([`Config`] has the limits).
//!
//! **Readers never hold up the writer.** One writer at a time holds the
//! store (a mutex), applies its transaction, syncs it to disk (a write is
//! acknowledged only once it is durable) and publishes a snapshot of the
//! workbook as it now is: a clone, which shares every cell with the writer's
//! workbook copy-on-write (`csip_engine::Workbook`'s `Clone`). Every read —
//! rows, views, formulas, `/healthz` — takes the latest snapshot (a pointer
//! copied under a lock held for nanoseconds) and evaluates it on the
//! blocking pool for as long as it needs, while the writer goes on. Every
//! evaluation of a formula or view runs under a budget
//! (`csip_engine::Budget`: steps, bytes, [`Config::eval_time_limit`], and the
//! shutdown flag); past it the answer is 422 `limit`. At most one evaluation
//! per core runs at a time; one that cannot start within its time limit is
//! 503. A view's answer is kept until the snapshot's generation moves.

mod actions;
mod api;
mod edge;
mod error;
mod ingest;
mod input;
mod jobs;
mod json;
mod outbox;
mod reports;
mod slack;
mod ui;

pub use error::ApiError;
pub use jobs::AnypointDaily;
pub use json::to_json as value_to_json;
pub use outbox::{Delivered, Dispatcher};

use axum::Router;
use axum::routing::{get, post};
use csip_engine::{CancelFlag, Clock, Limits, NaiveDate, NaiveDateTime, Workbook};
use csip_store::Store;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How the service runs. The limits are the edge's defence against slow and
/// careless clients; `docs/api.md` lists them with their defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// The largest request body accepted, in bytes (larger ones get 413); 1 MiB.
    pub body_limit: usize,
    /// Read the workbook as of this day instead of the machine's date (tests, demos).
    pub today: Option<NaiveDate>,
    /// Keep views' answers until the workbook changes (on by default).
    pub view_cache: bool,
    /// A request's head (request line and headers) must arrive whole within
    /// this, counted from the connection's start or, on a kept-alive
    /// connection, from the request's first byte; else the connection is
    /// closed. 10 s.
    pub header_timeout: Duration,
    /// A kept-alive connection that sends no byte of a next request for this
    /// long is closed; so is one that takes no byte of its answer for this
    /// long. 60 s.
    pub idle_timeout: Duration,
    /// A request body must arrive whole within this, counted from when its
    /// handler starts reading it (after the token is checked); else 408. 30 s.
    pub body_timeout: Duration,
    /// At most this many connections are open at once; past it new
    /// connections wait in the kernel's listen backlog. 1,024.
    pub max_connections: usize,
    /// On shutdown, requests in progress may finish within this; what still
    /// runs then is dropped. 10 s.
    pub shutdown_timeout: Duration,
    /// At most this many operations in one transaction (more get 413). 10,000.
    pub max_operations: usize,
    /// A transaction's answer lists at most this many changed cells, with
    /// counts and `"truncated": true` when there are more. 1,000.
    pub max_changes: usize,
    /// A formula (`/api/v1/eval`) or view a client asks for must be answered
    /// within this, counted from when the request arrives; past it the
    /// evaluation stops (its budget's deadline) and the answer is 422. 2 s.
    pub eval_time_limit: Duration,
    /// The rest of such an evaluation's budget: steps, bytes, the size of
    /// one text or list ([`Limits::request`]).
    pub eval_limits: Limits,
    /// Evaluations run at once: one per core when `None`. Those known to be
    /// slow (50 ms or more the last time) hold all of them but one.
    pub evaluation_slots: Option<usize>,
    /// At a clean shutdown, write the workbook's snapshot into its file
    /// when the file has moved on since the last one, or the start did not
    /// read it ([`Store::save_snapshot`]), so that the next start reads it
    /// instead of every row. On by default.
    pub snapshot_on_shutdown: bool,
    /// The integrations' settings and secrets (`csip.toml`, the
    /// environment; `docs/configuration.md`): `POST /slack/commands` is
    /// served when the Slack signing secret is among them.
    pub integrations: csip_store::Config,
    /// Run the automations (`docs/automations.md`): the change rules after
    /// each commit and the scheduled ones. On by default.
    pub automations: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            body_limit: 1024 * 1024,
            today: None,
            view_cache: true,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(10),
            max_operations: 10_000,
            max_changes: 1_000,
            eval_time_limit: Duration::from_secs(2),
            eval_limits: Limits::request(),
            evaluation_slots: None,
            snapshot_on_shutdown: true,
            integrations: csip_store::Config::default(),
            automations: true,
        }
    }
}

/// The shared state of the service.
#[derive(Clone, Debug)]
pub struct App {
    /// The writer's store: one writer at a time, on the blocking pool.
    store: Arc<Mutex<Store>>,
    /// What readers read: the workbook as of the last change, published by
    /// the writer after each one.
    current: Arc<RwLock<Arc<Snapshot>>>,
    /// Who is calling, told without the writer.
    tokens: Arc<csip_store::Tokens>,
    /// The audit log, read without the writer.
    audit: Arc<csip_store::AuditLog>,
    /// The file area (generated reports), read without the writer.
    files: Arc<csip_store::Files>,
    config: Arc<Config>,
    views: Arc<Mutex<ViewCache>>,
    /// One evaluation (of a view or a formula) per slot at a time, given
    /// out first come, first served.
    evaluations: Arc<tokio::sync::Semaphore>,
    /// Evaluations known to be slow hold at most all slots but one, so
    /// that a fast one always finds a slot soon.
    slow_lane: Arc<tokio::sync::Semaphore>,
    /// How long each view (or formula) took the last time, to tell slow
    /// ones: its name (or text) to the time.
    costs: Arc<Mutex<std::collections::HashMap<String, Duration>>>,
    /// Set when shutdown begins; every evaluation's budget watches it.
    shutdown: CancelFlag,
    /// Transactions waiting for the writer: whoever holds the store next
    /// commits all of them in one SQLite transaction (one sync).
    pending: Arc<Mutex<Vec<Pending>>>,
    /// The blueprint's automations: change rules run after each commit,
    /// scheduled ones by [`App::run_automations`]; none when the rules do
    /// not load (the log says why).
    automations: Option<Arc<csip_automations::Automations>>,
    /// Actions started through the API or Slack, while they run and after.
    jobs: Arc<actions::Jobs>,
    /// The dashboards' sessions and the store's generation as published,
    /// which wakes their live pages (`ui/`).
    ui: Arc<ui::Shared>,
}

/// A transaction a client sent, waiting for the writer: how to build it
/// against the workbook, who sent it, and where its answer goes.
pub(crate) struct Pending {
    pub(crate) build: Build,
    pub(crate) actor: String,
    /// Writes its answer from the workbook the batch left.
    pub(crate) json: Answer,
    /// The messages it leaves in the outbox, in its commit's transaction.
    pub(crate) messages: Option<csip_store::Messages>,
    pub(crate) answer: Arc<Mutex<Option<Committed>>>,
}

/// How a committed transaction's answer is written, from the workbook the
/// batch left, the commit's id and its change set.
pub(crate) type Answer =
    Box<dyn Fn(&Workbook, i64, &csip_engine::ChangeSet) -> serde_json::Value + Send>;

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// How a waiting transaction is built against the workbook (and checked
/// against its sender's role).
pub(crate) type Build =
    Box<dyn FnOnce(&Workbook) -> Result<csip_engine::Transaction, ApiError> + Send>;

/// A committed transaction's answer: its change set, its commit and the
/// answer's JSON (written against the workbook it left), or the error.
pub(crate) type Committed = Result<(csip_engine::ChangeSet, i64, serde_json::Value), ApiError>;

/// The workbook as of one state of the store, for readers: a clone that
/// shares its cells with the writer's workbook copy-on-write.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) wb: Workbook,
    /// The store's generation it was taken at (see `Store::generation`).
    pub(crate) generation: u64,
    /// The last commit it reflects.
    pub(crate) commit: i64,
}

impl Snapshot {
    fn of(store: &Store) -> Snapshot {
        Snapshot {
            wb: store.workbook().clone(),
            generation: store.generation(),
            commit: store.commit_id(),
        }
    }
}

/// Views' answers as written, for the store generation they were computed
/// at: while nothing changes, a dashboard polled by many readers is computed
/// once. A commit keeps the answers of the views it does not touch
/// (`csip_engine::ViewReads`); anything else that moves the store's
/// generation empties it.
#[derive(Debug, Default)]
pub(crate) struct ViewCache {
    generation: u64,
    answers: std::collections::HashMap<ViewKey, axum::body::Bytes>,
    /// Answers being computed: a request for one of them waits for it
    /// instead of evaluating the view again (one evaluation per view, page
    /// and generation, however many ask at once).
    flights: std::collections::HashMap<ViewKey, Flight>,
    /// What each view asked for reads (by its name as asked), to keep its
    /// answers across commits that do not touch it.
    reads: std::collections::HashMap<String, Option<csip_engine::ViewReads>>,
}

/// A view, its parameters and its page, as a request gives them.
pub(crate) type ViewKey = (String, Vec<(String, String)>);

/// One answer being computed, shared by everyone waiting for it.
pub(crate) type Flight = Arc<tokio::sync::OnceCell<axum::body::Bytes>>;

impl ViewCache {
    /// At most this many answers are kept (a view per parameter value).
    const MAX: usize = 256;

    pub(crate) fn get(&mut self, generation: u64, key: &ViewKey) -> Option<axum::body::Bytes> {
        self.move_to(generation);
        if self.generation != generation {
            return None; // asked of a state older than the cache's
        }
        self.answers.get(key).cloned()
    }

    /// Empties the cache when the store's generation has moved past it.
    fn move_to(&mut self, generation: u64) {
        if generation > self.generation {
            self.answers.clear();
            self.flights.clear();
            self.generation = generation;
        }
    }

    /// Moves the cache to `generation`, which `changes` (every commit since
    /// the cache's generation, in order) made: answers of views they do not
    /// touch are kept, the rest dropped; without them (a reload, an import,
    /// the clock, the schema) every answer is dropped.
    pub(crate) fn advance(
        &mut self,
        generation: u64,
        changes: Option<&[csip_engine::ChangeSet]>,
        wb: &Workbook,
    ) {
        if generation <= self.generation {
            return;
        }
        self.flights.clear();
        self.generation = generation;
        let Some(changes) = changes else {
            self.answers.clear();
            self.reads.clear();
            return;
        };
        let reads = &mut self.reads;
        self.answers.retain(|(name, _), _| {
            let reads = reads
                .entry(name.clone())
                .or_insert_with(|| wb.view_reads(name).ok());
            reads
                .as_ref()
                .is_some_and(|r| !changes.iter().any(|c| r.touched_by(c)))
        });
    }

    /// The computation of `key`'s answer at `generation`: the one under way,
    /// or a new one the caller runs.
    pub(crate) fn flight(&mut self, generation: u64, key: &ViewKey) -> Flight {
        self.move_to(generation);
        if self.generation != generation {
            return Flight::default();
        }
        self.flights.entry(key.clone()).or_default().clone()
    }

    /// The flight of `key` has landed (or failed): it is no longer shared.
    pub(crate) fn landed(&mut self, key: &ViewKey, flight: &Flight) {
        if self
            .flights
            .get(key)
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            self.flights.remove(key);
        }
    }

    pub(crate) fn put(&mut self, generation: u64, key: ViewKey, answer: axum::body::Bytes) {
        self.move_to(generation);
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
    pub fn new(mut store: Store, config: Config) -> Result<App, csip_store::StoreError> {
        let slots = slots(&config);
        // Views are read from the order kept of them, not evaluated.
        let started = std::time::Instant::now();
        let kept = store.maintain_views();
        tracing::info!(
            target: "csip::store",
            views = kept,
            seconds = started.elapsed().as_secs_f64(),
            "views kept in order"
        );
        let automations = load_automations(&store, &config);
        Ok(App {
            ui: Arc::new(ui::Shared::new(store.generation())),
            automations,
            jobs: Arc::default(),
            tokens: Arc::new(csip_store::Tokens::open(store.path())?),
            audit: Arc::new(csip_store::AuditLog::open(store.path())?),
            files: Arc::new(csip_store::Files::open(store.path())?),
            current: Arc::new(RwLock::new(Arc::new(Snapshot::of(&store)))),
            store: Arc::new(Mutex::new(store)),
            config: Arc::new(config),
            views: Arc::default(),
            evaluations: Arc::new(tokio::sync::Semaphore::new(slots)),
            slow_lane: Arc::new(tokio::sync::Semaphore::new(slots.saturating_sub(1).max(1))),
            costs: Arc::default(),
            pending: Arc::default(),
            shutdown: CancelFlag::new(),
        })
    }

    /// A flag set once shutdown begins (a signal, or [`serve`]'s `shutdown`
    /// future completing): every evaluation's budget watches it and stops
    /// within a few thousand steps; other long work can too.
    pub fn shutdown_token(&self) -> CancelFlag {
        self.shutdown.clone()
    }

    /// The latest snapshot.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `f` with the writer's store (on the calling thread: a blocking
    /// one), then publishes a snapshot if the store changed. Readers never
    /// wait for this; writers wait for each other.
    pub(crate) fn with_writer<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let before = store.generation();
        let out = f(&mut store);
        if store.generation() != before {
            let mut changes = store.take_changes();
            // Change rules see what the commits changed; their own commits
            // join the change sets readers are told of.
            if let (Some(automations), Some(seen)) = (&self.automations, &changes) {
                let fired = automations.on_changes(&mut store, seen, now().and_utc());
                for r in &fired {
                    tracing::info!(target: "csip::automations", rule = %r.slot.rule, outcome = ?r.outcome, "change rule ran");
                }
                if !fired.is_empty() {
                    changes = match (changes.take(), store.take_changes()) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            Some(a)
                        }
                        _ => None,
                    };
                }
            }
            // A schema change builds a workbook that keeps no view.
            store.maintain_views();
            let snapshot = Arc::new(Snapshot::of(&store));
            // Before readers see the new state: the answers of views the
            // commits did not touch carry over to it.
            if let Ok(mut views) = self.views.lock() {
                views.advance(snapshot.generation, changes.as_deref(), &snapshot.wb);
            }
            let generation = snapshot.generation;
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = snapshot;
            self.ui.published(generation);
        }
        out
    }

    /// Commits a client's transaction together with every other one waiting
    /// (group commit): the first writer to get the store builds and commits
    /// all that are queued, in order, in one SQLite transaction; the others
    /// find their answer ready when they get it. `json` writes each one's
    /// answer from the workbook as the batch left it; `messages` are put in
    /// the outbox with the commit. Blocks: call it from a blocking thread.
    pub(crate) fn commit_grouped(
        &self,
        build: Build,
        actor: String,
        json: Answer,
        messages: Option<csip_store::Messages>,
    ) -> Committed {
        let answer = Arc::new(Mutex::new(None));
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Pending {
                build,
                actor,
                json,
                messages,
                answer: answer.clone(),
            });
        self.with_writer(|store| {
            if let Some(done) = answer.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return done; // committed by the writer before
            }
            let jobs = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            let mut built = Vec::with_capacity(jobs.len());
            let mut slots = Vec::with_capacity(jobs.len());
            for job in jobs {
                match (job.build)(store.workbook()) {
                    Ok(tx) => {
                        built.push(csip_store::Submitted {
                            tx,
                            actor: job.actor,
                            at: now(),
                            messages: job.messages,
                        });
                        slots.push((job.answer, job.json));
                    }
                    Err(e) => *job.answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Err(e)),
                }
            }
            let results = store.commit_batch(built);
            for ((slot, json), result) in slots.iter().zip(results) {
                let done = result
                    .map(|(changes, commit)| {
                        let body = json(store.workbook(), commit, &changes);
                        (changes, commit, body)
                    })
                    .map_err(ApiError::from);
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
            }
            answer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_else(|| Err(ApiError::internal("the transaction got no answer")))
        })
    }

    /// The routes with their layers: the token checked first on every
    /// `/api` route, errors in one JSON shape, panics caught, requests
    /// logged. [`serve`] runs them behind the edge's limits.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/healthz", get(api::healthz))
            .route("/api/v1/tables", get(api::tables))
            .route("/api/v1/tables/{table}/rows", get(api::rows))
            .route("/api/v1/tables/{table}/rows/{row_id}", get(api::row))
            .route("/api/v1/views", get(api::views))
            .route("/api/v1/views/{*view}", get(api::view))
            .route("/api/v1/transactions", post(api::transactions))
            .route("/api/v1/eval", post(api::eval))
            .route("/api/v1/audit", get(api::audit))
            .route("/api/v1/ingest/metrics", post(ingest::metrics))
            .route("/api/v1/actions", get(actions::list))
            .route("/api/v1/actions/{action}", post(actions::run))
            .route("/api/v1/jobs/{id}", get(actions::job))
            .route("/api/v1/files/{id}", get(reports::download))
            .route("/api/v1/files/{id}/{name}", get(reports::download_named))
            .fallback(api::not_found)
            .method_not_allowed_fallback(api::method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                api::authenticate,
            ));
        // Slack signs its requests instead of sending a token.
        let routes = if self.slack_enabled() {
            routes.route("/slack/commands", axum::routing::post(slack::commands))
        } else {
            routes
        };
        // The dashboards answer in HTML, with layers of their own.
        answer_layers(routes)
            .merge(ui::router())
            .with_state(self.clone())
    }

    /// Delivers the outbox's messages until shutdown (a task of
    /// [`serve_loading`]): Slack's with `CSIP_SLACK_BOT_TOKEN`; without it
    /// they wait in the outbox, and the log says so once.
    pub async fn deliver_outbox(&self) {
        let path = self
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .path()
            .to_path_buf();
        let settings = self.config.integrations.clone();
        let made = tokio::task::spawn_blocking(move || Dispatcher::new(&path, settings)).await;
        match made {
            Ok(Ok(dispatcher)) => {
                if dispatcher.speaks_slack() {
                    tracing::info!(target: "csip::outbox", "delivering the outbox's Slack messages");
                } else {
                    tracing::info!(target: "csip::outbox", "CSIP_SLACK_BOT_TOKEN is not set: Slack messages wait in the outbox");
                }
                if dispatcher.speaks_email() {
                    tracing::info!(target: "csip::outbox", "delivering the outbox's e-mails");
                } else {
                    tracing::info!(target: "csip::outbox", "no [email] host and sender: e-mails wait in the outbox");
                }
                dispatcher.run(self.shutdown.clone()).await;
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "csip::outbox", error = %e, "the outbox's dispatcher did not start")
            }
            Err(e) => {
                tracing::warn!(target: "csip::outbox", error = %e, "the outbox's dispatcher did not start")
            }
        }
    }

    /// Runs the scheduled automations until shutdown (a task of
    /// [`serve_loading`]): every 30 seconds, while this process holds the
    /// file's `automations` lease (one scheduler per file, however many
    /// servers), each due slot once; at the first pass, the change rules
    /// over every row (a change missed while nothing ran).
    pub async fn run_automations(&self) {
        let Some(automations) = self.automations.clone() else {
            return;
        };
        let holder = format!("pid {} started {}", std::process::id(), now());
        let mut first = true;
        loop {
            let (app, automations, holder) = (self.clone(), automations.clone(), holder.clone());
            let catch_up = std::mem::take(&mut first);
            let _ = tokio::task::spawn_blocking(move || {
                let at = now();
                let held = app.with_writer(|store| {
                    match store.lease("automations", &holder, at, at + chrono::TimeDelta::seconds(90)) {
                        Ok(true) => {}
                        Ok(false) => return false,
                        Err(e) => {
                            tracing::warn!(target: "csip::automations", error = %e, "the scheduler's lease could not be taken");
                            return false;
                        }
                    }
                    let mut reports = automations.run_due_rules(store, at.and_utc(), None);
                    if catch_up {
                        reports.extend(automations.check_all(store, at.and_utc()));
                    }
                    for r in reports {
                        tracing::info!(target: "csip::automations", rule = %r.slot.rule, slot = %r.slot.at, outcome = ?r.outcome, "automation ran");
                    }
                    true
                });
                // Jobs (the Anypoint sync) do their network with no lock.
                if held {
                    for r in automations.run_due_jobs(&jobs::Served(&app), at.and_utc(), None) {
                        tracing::info!(target: "csip::automations", job = %r.slot.rule, slot = %r.slot.at, outcome = ?r.outcome, "job ran");
                    }
                }
            })
            .await;
            if self.shutdown.is_cancelled() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }

    /// Whether Slack's commands are served (`CSIP_SLACK_SIGNING_SECRET` is
    /// set).
    pub fn slack_enabled(&self) -> bool {
        self.config
            .integrations
            .secrets
            .get(slack::SIGNING_SECRET)
            .is_some()
    }

    /// Housekeeping, every 30 seconds: reloads the workbook when another
    /// process has committed to its file, and moves the workbook's clock to
    /// the machine's date when the day has turned (unless the config pins a
    /// day). Blocks: call it from a blocking thread.
    pub fn tick(&self) {
        let today = now().date();
        let pinned = self.config.today.is_some();
        self.with_writer(|store| {
            if store.is_stale().unwrap_or(false) {
                let _ = store.refresh();
            }
            if !pinned && store.workbook().clock().today != today {
                store.set_clock(Clock::on(today));
            }
            // SQLite checkpoints as it commits; this says when it cannot.
            match store.checkpoint() {
                Ok(c) if !c.complete() => tracing::warn!(
                    target: "csip::store",
                    wal_mb = c.wal_bytes / (1024 * 1024),
                    frames = c.frames,
                    checkpointed = c.checkpointed,
                    "the WAL cannot be checkpointed: another process holds a read transaction on the file (an outside reader?); the WAL grows, and the next start replays it, until that transaction ends (docs/operations.md)"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(target: "csip::store", error = %e, "checkpoint failed"),
            }
        });
    }
}

/// Evaluation slots: as configured, else one per core.
fn slots(config: &Config) -> usize {
    config
        .evaluation_slots
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1)
}

/// An evaluation that took at least this long last time goes by the slow lane.
pub(crate) const SLOW_EVALUATION: Duration = Duration::from_millis(50);

impl App {
    /// Whether the evaluation named `key` was slow the last time.
    pub(crate) fn is_slow(&self, key: &str) -> bool {
        self.costs
            .lock()
            .is_ok_and(|c| c.get(key).is_some_and(|d| *d >= SLOW_EVALUATION))
    }

    /// Notes how long the evaluation named `key` took.
    pub(crate) fn note_cost(&self, key: &str, took: Duration) {
        if let Ok(mut c) = self.costs.lock() {
            if c.len() >= 4096 && !c.contains_key(key) {
                c.clear();
            }
            c.insert(key.to_string(), took);
        }
    }
}

/// The layers every answer passes through, innermost first: errors that
/// are not yet JSON made so, a panic turned into a 500, the request log.
fn answer_layers<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panicked,
        ))
        .layer(axum::middleware::from_fn(log_request))
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

/// Serves the API on `listener` until `shutdown` completes, behind the
/// edge's limits (`edge.rs`); keeps the workbook's `Today()` on the
/// machine's date. On shutdown: sets [`App::shutdown_token`], stops
/// accepting, lets requests in progress finish within
/// `Config::shutdown_timeout`, drops the rest, then drops the store (its
/// SQLite connections closed) once no request holds it, or leaves it at the
/// deadline.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = (*app.config).clone();
    serve_loading(
        listener,
        config,
        move || Ok(app),
        Arc::new(|| serde_json::Value::Null),
        shutdown,
    )
    .await
    .map_err(std::io::Error::other)
}

/// What `/healthz` says while the workbook is still loading: a JSON value
/// (phase, rows read, ...) for its `progress`.
pub type LoadingProgress = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// [`serve`], listening from the first moment: while `load` builds the
/// [`App`] (on a blocking thread: it opens the workbook), `/healthz` answers
/// 503 `{"status": "loading", "progress": ..., "seconds": ...}` and every
/// other route 503 `unavailable` with `Retry-After: 1`, each with
/// `Connection: close`; then the API. A load that fails stops the service
/// with its error.
pub async fn serve_loading(
    listener: tokio::net::TcpListener,
    config: Config,
    load: impl FnOnce() -> Result<App, String> + Send + 'static,
    progress: LoadingProgress,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let gate = Gate {
        app: Arc::new(std::sync::OnceLock::new()),
        progress,
        started: std::time::Instant::now(),
    };
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    let loaded_gate = gate.clone();
    let loader = tokio::spawn(async move {
        match tokio::task::spawn_blocking(load).await {
            Ok(Ok(app)) => {
                let seconds = loaded_gate.started.elapsed().as_secs_f64();
                let _ = loaded_gate.app.set((app.clone(), app.router()));
                tracing::info!(target: "csip::edge", seconds, "the workbook is loaded; serving the API");
                if app.slack_enabled() {
                    tracing::info!(target: "csip::slack", "Slack commands are served at POST /slack/commands");
                } else {
                    tracing::info!(target: "csip::slack", "Slack is off: CSIP_SLACK_SIGNING_SECRET is not set");
                }
                let delivering = app.clone();
                tokio::spawn(async move { delivering.deliver_outbox().await });
                let scheduling = app.clone();
                tokio::spawn(async move { scheduling.run_automations().await });
                // Housekeeping, from now on.
                loop {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    let t = app.clone();
                    let _ = tokio::task::spawn_blocking(move || t.tick()).await;
                }
            }
            Ok(Err(e)) => {
                let _ = failed_tx.send(e);
            }
            Err(e) => {
                let _ = failed_tx.send(format!("loading the workbook failed: {e}"));
            }
        }
    });
    let load_failed: Arc<Mutex<Option<String>>> = Arc::default();
    let failure = load_failed.clone();
    let flag_gate = gate.clone();
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            failed = failed_rx => {
                if let Ok(e) = failed {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                }
            }
        }
        if let Some((app, _)) = flag_gate.app.get() {
            app.shutdown.cancel();
        }
        tracing::info!(target: "csip::edge", "shutting down");
    };
    let router = Router::new().fallback(dispatch).with_state(gate.clone());
    let deadline = edge::run(listener, router, &config, shutdown).await;
    loader.abort();
    let _ = loader.await;
    if let Some(e) = load_failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    let Some((app, _)) = gate.app.get().cloned() else {
        return Ok(()); // stopped before the workbook was loaded
    };
    drop(gate);
    finish(app, deadline).await;
    Ok(())
}

/// The API once the workbook is loaded, the loading answers before.
#[derive(Clone)]
struct Gate {
    app: Arc<std::sync::OnceLock<(App, Router)>>,
    progress: LoadingProgress,
    started: std::time::Instant,
}

async fn dispatch(
    axum::extract::State(gate): axum::extract::State<Gate>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some((_, router)) = gate.app.get() {
        let mut router = router.clone();
        let Ok(()) = std::future::poll_fn(|cx| {
            tower_service::Service::<axum::extract::Request>::poll_ready(&mut router, cx)
        })
        .await;
        let Ok(answer) = tower_service::Service::call(&mut router, request).await;
        return answer;
    }
    let seconds = (gate.started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    let close = [
        (axum::http::header::CONNECTION, "close"),
        (axum::http::header::RETRY_AFTER, "1"),
    ];
    let status = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    if request.uri().path() == "/healthz" {
        let body = serde_json::json!({
            "status": "loading",
            "progress": (gate.progress)(),
            "seconds": seconds,
        });
        return (status, close, axum::Json(body)).into_response();
    }
    let body = serde_json::json!({"error": {
        "status": 503,
        "code": "unavailable",
        "message": format!("the workbook is still loading ({seconds} s so far); try again in a moment — /healthz says when it is ready"),
    }});
    (status, close, axum::Json(body)).into_response()
}

/// After the edge has stopped: waits for requests still holding the store
/// until the deadline, writes the workbook's snapshot for the next start
/// when configured, and drops the store.
async fn finish(app: App, deadline: tokio::time::Instant) {
    let config = app.config.clone();
    // Requests dropped at the deadline may still run on the blocking pool,
    // each with its handle on the store (readers hold snapshots, not the
    // store, and their evaluations stop on the shutdown flag).
    while Arc::strong_count(&app.store) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if Arc::strong_count(&app.store) > 1 {
        tracing::warn!(
            target: "csip::edge",
            "a request was still using the workbook at the shutdown deadline; it is left to finish or be cut off (the file stays consistent)"
        );
    }
    if Arc::strong_count(&app.store) == 1 && config.snapshot_on_shutdown {
        let store = app.store.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
            // The file's snapshot is of its last commit and was read at the
            // start: nothing to do. One the start refused (another engine
            // version, a layout a schema change gave) is written again.
            match store.has_snapshot() {
                Ok(true) if *store.loaded() == csip_store::Loaded::Snapshot => Ok(None),
                _ => store.save_snapshot().map(Some),
            }
        })
        .await;
        match saved {
            Ok(Ok(Some(bytes))) => {
                tracing::info!(target: "csip::edge", bytes, "wrote the workbook's snapshot for the next start")
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(target: "csip::edge", error = %e, "could not write the workbook's snapshot; the next start reads every row")
            }
            Err(e) => {
                tracing::warn!(target: "csip::edge", error = %e, "writing the workbook's snapshot failed")
            }
        }
    }
    // The last handle: the store is dropped, its SQLite connections closed
    // (dropping a 1,000-account workbook takes 80 ms in a debug build).
    drop(app);
}

/// The automations of `config` on `store`'s workbook, or none (and why, in
/// the log) when their rules or settings do not load.
fn load_automations(store: &Store, config: &Config) -> Option<Arc<csip_automations::Automations>> {
    if !config.automations {
        tracing::info!(target: "csip::automations", "automations are off (--no-automations)");
        return None;
    }
    let section = match csip_automations::AutomationsConfig::load(&config.integrations) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(target: "csip::automations", error = %e, "automations are off");
            return None;
        }
    };
    let rules = section
        .rules()
        .and_then(|rules| rules.check(store.workbook()).map(|()| rules));
    let rules = match rules {
        Ok(rules) => rules,
        Err(errors) => {
            for e in errors {
                tracing::warn!(target: "csip::automations", error = %e, "a rule does not load; automations are off");
            }
            return None;
        }
    };
    match section.settings(store.path()) {
        Ok(settings) => {
            tracing::info!(target: "csip::automations", rules = rules.rules.len(), "automations loaded");
            Some(Arc::new(csip_automations::Automations::new(
                rules, settings,
            )))
        }
        Err(e) => {
            tracing::warn!(target: "csip::automations", error = %e, "automations are off");
            None
        }
    }
}

/// The machine's time, UTC: the adapter's job, never the engine's.
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may panic

    use super::*;
    use std::io::{Read, Write};

    /// `request` sent on a fresh connection to `addr`; the whole answer.
    async fn ask(addr: std::net::SocketAddr, request: &'static str) -> String {
        tokio::task::spawn_blocking(move || {
            let mut socket = std::net::TcpStream::connect(addr).unwrap();
            socket.write_all(request.as_bytes()).unwrap();
            let mut answer = String::new();
            socket.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handler_that_panics_answers_500_in_the_api_shape_and_the_service_goes_on() {
        async fn boom() -> &'static str {
            panic!("the secret detail")
        }
        let routes = answer_layers(
            Router::new()
                .route("/boom", get(boom))
                .route("/fine", get(|| async { "fine" })),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            edge::run(listener, routes, &Config::default(), async {
                let _ = stopped.await;
            })
            .await
        });
        let answer = ask(
            addr,
            "GET /boom HTTP/1.1\r\nHost: csip\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["status"], 500);
        assert_eq!(body["error"]["code"], "internal");
        assert!(
            !body.to_string().contains("secret"),
            "the panic stays in the log: {body}"
        );
        let answer = ask(
            addr,
            "GET /fine HTTP/1.1\r\nHost: csip\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let _ = stop.send(());
        server.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_sets_the_token_then_serve_returns() {
        let dir = tempfile::tempdir().unwrap();
        let today = csip_workbook::sample_today();
        let store = Store::create(
            &dir.path().join("csip.db"),
            csip_workbook::table_files(),
            csip_workbook::pilot(today).unwrap(),
        )
        .unwrap();
        let app = App::new(store, Config::default()).unwrap();
        let token = app.shutdown_token();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(app, listener, async {
            let _ = stopped.await;
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!token.is_cancelled(), "not while serving");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        assert!(token.is_cancelled(), "set once shutdown began");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_the_workbook_loads_healthz_says_so_and_the_api_is_503() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("csip.db");
        let today = csip_workbook::sample_today();
        drop(
            Store::create(
                &path,
                csip_workbook::table_files(),
                csip_workbook::pilot(today).unwrap(),
            )
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The load waits for the test's word.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let load = move || {
            wait.recv().map_err(|e| e.to_string())?;
            let store = Store::open(&path, Clock::on(today)).map_err(|e| e.to_string())?;
            App::new(store, Config::default()).map_err(|e| e.to_string())
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_loading(
            listener,
            Config::default(),
            load,
            Arc::new(|| serde_json::json!({"phase": "reading rows", "rows_read": 7})),
            async {
                let _ = stopped.await;
            },
        ));
        let health = ask(addr, "GET /healthz HTTP/1.1\r\nHost: csip\r\n\r\n").await;
        assert!(health.starts_with("HTTP/1.1 503"), "{health}");
        assert!(health.contains("\"status\":\"loading\""), "{health}");
        assert!(health.contains("\"rows_read\":7"), "{health}");
        assert!(
            health.to_ascii_lowercase().contains("connection: close"),
            "{health}"
        );
        let api = ask(addr, "GET /api/v1/tables HTTP/1.1\r\nHost: csip\r\n\r\n").await;
        assert!(api.starts_with("HTTP/1.1 503"), "{api}");
        assert!(api.contains("\"code\":\"unavailable\""), "{api}");
        assert!(api.to_ascii_lowercase().contains("retry-after: 1"), "{api}");
        go.send(()).unwrap();
        let ready = tokio::time::Instant::now();
        loop {
            let health = ask(
                addr,
                "GET /healthz HTTP/1.1\r\nHost: csip\r\nConnection: close\r\n\r\n",
            )
            .await;
            if health.starts_with("HTTP/1.1 200") {
                assert!(health.contains("\"status\":\"ok\""), "{health}");
                break;
            }
            assert!(ready.elapsed() < Duration::from_secs(30), "{health}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The API itself answers now (401 without a token: the real routes).
        let api = ask(
            addr,
            "GET /api/v1/tables HTTP/1.1\r\nHost: csip\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(api.starts_with("HTTP/1.1 401"), "{api}");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_load_that_fails_stops_the_service_with_its_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = serve_loading(
            listener,
            Config::default(),
            || Err("error: the file is not a workbook".to_string()),
            Arc::new(|| serde_json::Value::Null),
            std::future::pending(),
        )
        .await;
        assert_eq!(served.unwrap_err(), "error: the file is not a workbook");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_evaluation_leaves_a_slot_for_fast_ones() {
        let dir = tempfile::tempdir().unwrap();
        let today = csip_workbook::sample_today();
        let store = Store::create(
            &dir.path().join("csip.db"),
            csip_workbook::table_files(),
            csip_workbook::pilot(today).unwrap(),
        )
        .unwrap();
        let config = Config {
            evaluation_slots: Some(2),
            eval_time_limit: Duration::from_secs(60),
            ..Config::default()
        };
        let app = App::new(store, config).unwrap();
        app.note_cost("slow", Duration::from_secs(1));
        let caller = csip_store::Principal {
            token_id: 1,
            person: "Kari Nordmann".into(),
            role: csip_store::Role::Viewer,
        };
        let now = std::time::Instant::now;
        // A slow evaluation that holds its slot until told.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = tokio::spawn({
            let (app, caller) = (app.clone(), caller.clone());
            async move {
                api::evaluate(&app, caller, now(), "slow".into(), move |_, _, _| {
                    held.recv().unwrap();
                    Ok(())
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A second slow one waits in the slow lane, not in a slot.
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let second = tokio::spawn({
            let (app, caller, started) = (app.clone(), caller.clone(), started.clone());
            async move {
                api::evaluate(&app, caller, now(), "slow".into(), move |_, _, _| {
                    started.store(true, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // So a fast one finds the other slot: answered while both wait.
        let fast = api::evaluate(&app, caller, now(), "fast".into(), |_, _, _| Ok(7));
        let fast = tokio::time::timeout(Duration::from_secs(30), fast)
            .await
            .expect("a fast evaluation is not held up by slow ones");
        assert_eq!(fast.unwrap(), 7);
        assert!(
            !started.load(std::sync::atomic::Ordering::SeqCst),
            "the second slow one waits"
        );
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert!(started.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn a_commit_keeps_the_cached_answers_of_the_views_it_does_not_touch() {
        use csip_engine::Transaction;
        let mut wb = csip_workbook::pilot(csip_workbook::sample_today()).unwrap();
        let tasks = wb.table_id("Tasks").unwrap();
        let title = wb.column_id(tasks, "Title").unwrap();
        let task = wb.rows(tasks).unwrap()[0];
        let accounts = wb.table_id("Account_Master").unwrap();
        let arr = wb.column_id(accounts, "ARR").unwrap();
        let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
        let key = |view: &str| (view.to_string(), Vec::new());
        let mut cache = ViewCache::default();
        let answer = axum::body::Bytes::from_static(b"{}");
        for view in ["Renewal Risk", "My Tasks"] {
            cache.put(0, key(view), answer.clone());
        }
        // A task's title: Renewal Risk (accounts) is kept, My Tasks is not.
        let retitled = wb
            .apply(Transaction::new().set(title, task, "Renamed"))
            .unwrap();
        cache.advance(1, Some(&[retitled]), &wb);
        assert!(cache.get(1, &key("Renewal Risk")).is_some());
        assert!(cache.get(1, &key("My Tasks")).is_none());
        // An account's ARR: Renewal Risk shows it.
        let raised = wb
            .apply(Transaction::new().set(arr, gard, 5_000_000))
            .unwrap();
        cache.advance(2, Some(&[raised]), &wb);
        assert!(cache.get(2, &key("Renewal Risk")).is_none());
        // Changes it cannot see (a reload, the clock): everything goes.
        cache.put(2, key("My Tasks"), answer);
        cache.advance(3, None, &wb);
        assert!(cache.get(3, &key("My Tasks")).is_none());
    }
}
