//! The commands that work on a workbook file: `init`, `import`, `export`,
//! `token create`, `token list`, `token revoke`, `upgrade`, `snapshot` and
//! `serve`.

use crate::csvio;
use crate::progress::{seconds, spinner};
use crate::table::Align;
use csip_engine::{Clock, NaiveDate, NaiveDateTime, SourceFile, TransactionError};
use csip_store::{ImportError, Loaded, OpenPhase, OpenProgress, Role, Store};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The machine's time, UTC: the adapter's job, never the engine's.
pub(crate) fn system_now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Who the command line writes as, for the audit log.
pub(crate) fn actor(given: Option<&str>) -> String {
    match given {
        Some(a) => a.to_string(),
        None => format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "local".into())
        ),
    }
}

/// Opens a workbook file as of `today`, with a spinner for big files.
pub(crate) fn open(db: &Path, today: NaiveDate) -> Result<Store, String> {
    let s = spinner(format!("loading {}", db.display()));
    let store = Store::open(db, Clock::on(today)).map_err(|e| format!("error: {e}"));
    s.finish_and_clear();
    store
}

/// Writes the workbook's snapshot into its file (`Store::save_snapshot`),
/// timed: the line that says so, or a warning (the command that called it
/// has done its work either way; the next open reads the rows).
pub(crate) fn save_snapshot(store: &mut Store) -> String {
    let started = Instant::now();
    let s = spinner("writing the workbook's snapshot".to_string());
    let saved = store.save_snapshot();
    s.finish_and_clear();
    match saved {
        Ok(bytes) => format!(
            "wrote its snapshot ({:.1} MB) in {}, so that opening it reads no row and recalculates nothing\n",
            bytes as f64 / 1e6,
            seconds(started.elapsed())
        ),
        Err(e) => format!("warning: no snapshot written ({e}); opening it will read every row\n"),
    }
}

/// How a store's workbook was built, for a line of output.
fn loaded(store: &Store) -> &'static str {
    match store.loaded() {
        Loaded::Snapshot => "from its snapshot",
        _ => "from its rows",
    }
}

/// `csip snapshot`: opens a workbook file and writes its snapshot, so that
/// the next open (`csip serve`) reads it instead of every row.
pub(crate) fn snapshot(db: &Path, today: NaiveDate) -> Result<String, String> {
    let started = Instant::now();
    let mut store = open(db, today)?;
    let opened = format!(
        "opened {} {} in {}\n",
        db.display(),
        loaded(&store),
        seconds(started.elapsed())
    );
    let line = save_snapshot(&mut store);
    if line.starts_with("warning") {
        return Err(format!("error: {}", line.trim_start_matches("warning: ")));
    }
    Ok(format!("{opened}{line}"))
}

/// `csip init`: a new workbook file from the CSIP table files, empty or with the pilot data.
pub(crate) fn init(db: &Path, sample: bool, today: NaiveDate) -> Result<String, String> {
    let started = Instant::now();
    let wb = if sample {
        csip_workbook::pilot(today)
    } else {
        csip_workbook::empty(Clock::on(today))
    }
    .map_err(|e| format!("error: {e}"))?;
    let store =
        Store::create(db, csip_workbook::table_files(), wb).map_err(|e| format!("error: {e}"))?;
    let wb = store.workbook();
    let rows: usize = wb
        .tables()
        .map(|t| wb.rows(t).unwrap_or_default().len())
        .sum();
    Ok(format!(
        "created {} with {} tables and {rows} rows{} in {}\n",
        db.display(),
        wb.tables().count(),
        if sample { " (the pilot accounts)" } else { "" },
        seconds(started.elapsed())
    ))
}

/// What `csip import` reads.
pub(crate) enum Files {
    /// One CSV file for one table.
    One(String, PathBuf),
    /// Every `<Table>.csv` of a folder.
    Folder(PathBuf),
}

/// `csip import`: appends the rows of CSV files to their tables, all or
/// nothing; a row with a `row_id` gets that id (one the table has never given).
pub(crate) fn import(
    db: &Path,
    files: Files,
    skip_computed: bool,
    who: Option<&str>,
    today: NaiveDate,
) -> Result<String, String> {
    let started = Instant::now();
    let mut store = open(db, today)?;
    let table_named = |name: &str| {
        let wb = store.workbook();
        wb.table_id(name).ok().ok_or_else(|| {
            let names: Vec<&str> = wb
                .tables()
                .map(|t| wb.table_name(t).unwrap_or_default())
                .collect();
            format!(
                "error: there is no table `{name}`; the tables are {}",
                names.join(", ")
            )
        })
    };
    // (table, file) in the workbook's table order, so that a folder imports
    // the way the workbook lists its tables.
    let mut inputs = Vec::new();
    match files {
        Files::One(table, file) => inputs.push((table_named(&table)?, file)),
        Files::Folder(dir) => {
            let wb = store.workbook();
            for t in wb.tables() {
                let file = dir.join(format!("{}.csv", wb.table_name(t).unwrap_or_default()));
                if file.exists() {
                    inputs.push((t, file));
                }
            }
            if inputs.is_empty() {
                return Err(format!(
                    "error: {} holds no <Table>.csv file of this workbook's tables",
                    dir.display()
                ));
            }
        }
    }
    let mut tables = Vec::with_capacity(inputs.len());
    let mut lines = Vec::with_capacity(inputs.len());
    let mut problems = Vec::new();
    for (t, file) in &inputs {
        match csvio::read_table(store.workbook(), *t, file, skip_computed) {
            Ok(read) => {
                tables.push((*t, read.rows));
                lines.push(read.lines);
            }
            Err(p) => problems.extend(p.into_iter().map(|p| format!("{}: {p}", file.display()))),
        }
    }
    if !problems.is_empty() {
        return Err(refused(&problems));
    }
    let count: usize = tables.iter().map(|(_, rows)| rows.len()).sum();
    let s = spinner(format!("checking and writing {count} rows"));
    let result = store.import(tables, 1000, &actor(who), system_now());
    s.finish_and_clear();
    match result {
        Ok(_) => {
            let imported = started.elapsed();
            let snapshot = save_snapshot(&mut store);
            let wb = store.workbook();
            let names: Vec<String> = inputs
                .iter()
                .map(|(t, f)| {
                    format!(
                        "  {} <- {}\n",
                        wb.table_name(*t).unwrap_or_default(),
                        f.display()
                    )
                })
                .collect();
            Ok(format!(
                "imported {count} rows into {} in {}\n{}{snapshot}",
                match inputs.as_slice() {
                    [(t, _)] => wb.table_name(*t).unwrap_or_default().to_string(),
                    many => format!("{} tables", many.len()),
                },
                seconds(imported),
                names.concat()
            ))
        }
        Err(ImportError::Rejected(errors)) => {
            let wb = store.workbook();
            let place = |e: &TransactionError| {
                let i = e
                    .table
                    .as_deref()
                    .and_then(|name| wb.table_id(name).ok())
                    .and_then(|t| inputs.iter().position(|(it, _)| *it == t));
                match i {
                    Some(i) => {
                        let line =
                            e.op.and_then(|op| lines[i].get(op).copied())
                                .map_or_else(String::new, |l| format!("line {l}: "));
                        format!("{}: {line}", inputs[i].1.display())
                    }
                    None => String::new(),
                }
            };
            let problems: Vec<String> = errors
                .iter()
                .map(|e| format!("{}{}", place(e), e.message))
                .collect();
            Err(refused(&problems))
        }
        Err(ImportError::Store(e)) => Err(format!("error: {e}; nothing was imported")),
    }
}

fn refused(problems: &[String]) -> String {
    let mut out = String::new();
    for p in problems {
        out.push_str(&format!("{p}\n"));
    }
    out.push_str(&format!(
        "error: the import is refused ({} problem{}); nothing was imported. Fix the lines above and run it again.\n",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    ));
    out
}

/// `csip export`: one CSV file per table (or one table) into `out`, each row
/// with its id; formula-looking text escaped unless `raw`.
pub(crate) fn export(
    db: &Path,
    table: Option<&str>,
    out: &Path,
    computed: bool,
    raw: bool,
    today: NaiveDate,
) -> Result<String, String> {
    let store = open(db, today)?;
    let wb = store.workbook();
    let tables: Vec<_> = match table {
        Some(name) => vec![
            wb.table_id(name)
                .ok()
                .ok_or_else(|| format!("error: there is no table `{name}`"))?,
        ],
        None => wb.tables().collect(),
    };
    let options = csvio::WriteOptions {
        computed,
        row_ids: true,
        raw,
    };
    let written = csvio::write_tables(wb, &tables, out, options)?;
    let total: usize = written.iter().map(|(_, n)| n).sum();
    let written: Vec<String> = written
        .iter()
        .map(|(path, n)| format!("  {} ({n} rows)\n", path.display()))
        .collect();
    Ok(format!(
        "exported {total} rows to {} files in {}\n{}",
        written.len(),
        out.display(),
        written.concat()
    ))
}

/// `csip token create`: prints a new API token once.
pub(crate) fn token(db: &Path, person: &str, role: Role) -> Result<String, String> {
    let token =
        Store::issue_token(db, person, role, system_now()).map_err(|e| format!("error: {e}"))?;
    Ok(format!(
        "{token}\n\nA {role} token for {person}. It is shown this once; the file keeps only its hash.\nUse it as: Authorization: Bearer {token}\n"
    ))
}

/// `csip token list`: one line per token — id, person, role, created, last
/// used, revoked — never the token or its hash.
pub(crate) fn token_list(db: &Path) -> Result<String, String> {
    let tokens = Store::tokens(db).map_err(|e| format!("error: {e}"))?;
    if tokens.is_empty() {
        return Ok(format!(
            "{} has no tokens; issue one with `csip token create --db {} --person NAME --role ROLE`\n",
            db.display(),
            db.display()
        ));
    }
    let header: Vec<String> = ["id", "person", "role", "created", "last used", "revoked"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.person.clone(),
                t.role.to_string(),
                t.created.clone(),
                t.last_used.clone().unwrap_or_else(|| "never".into()),
                match (&t.revoked_at, t.revoked) {
                    (Some(at), _) => at.clone(),
                    (None, true) => "yes".into(),
                    (None, false) => "no".into(),
                },
            ]
        })
        .collect();
    let align = [
        Align::Right,
        Align::Left,
        Align::Left,
        Align::Left,
        Align::Left,
        Align::Left,
    ];
    Ok(crate::table::render(&header, &rows, &align, 60))
}

/// `csip token revoke`: refuses token `id` from now on.
pub(crate) fn token_revoke(db: &Path, id: i64) -> Result<String, String> {
    let t = Store::revoke_token(db, id, system_now()).map_err(|e| format!("error: {e}"))?;
    Ok(format!(
        "revoked token {} ({}, {}); every request with it is refused from now on\n",
        t.id, t.person, t.role
    ))
}

/// `csip upgrade`: moves a workbook file to the table files in `schema`.
pub(crate) fn upgrade(db: &Path, schema: Option<&Path>, clock: Clock) -> Result<String, String> {
    let (sources, from) = match schema {
        Some(dir) => (table_files(dir)?, dir.display().to_string()),
        None => (
            csip_workbook::table_files(),
            "the CSIP workbook built into this csip".to_string(),
        ),
    };
    let count = sources.len();
    let s = spinner(format!("upgrading {}", db.display()));
    let store = Store::upgrade(db, sources, clock);
    s.finish_and_clear();
    let store = store.map_err(|e| format!("error: {e}"))?;
    let wb = store.workbook();
    Ok(format!(
        "upgraded {} to the {count} table files of {from}: {} tables, every row kept\n",
        db.display(),
        wb.tables().count()
    ))
}

/// The table files (*.toml) of a folder, in name order.
fn table_files(dir: &Path) -> Result<Vec<SourceFile>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("error: cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "error: {} holds no table files (*.toml)",
            dir.display()
        ));
    }
    files
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|text| SourceFile::new(p.display().to_string(), text))
                .map_err(|e| format!("error: cannot read {}: {e}", p.display()))
        })
        .collect()
}

/// `csip serve`'s limits (`csip_server::Config`; docs/api.md lists them).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Limits {
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, value_parser = at_least_one)]
    body_limit: usize,
    /// Seconds a request's head may take to arrive, from the connection's
    /// start or the request's first byte; then the connection is closed.
    #[arg(long, default_value = "10", value_parser = seconds_arg)]
    header_timeout: Duration,
    /// Seconds a kept-alive connection may wait for its next request (or
    /// leave its answer unread) before it is closed.
    #[arg(long, default_value = "60", value_parser = seconds_arg)]
    idle_timeout: Duration,
    /// Seconds a request body may take to arrive whole (then 408).
    #[arg(long, default_value = "30", value_parser = seconds_arg)]
    body_timeout: Duration,
    /// Connections open at once; more wait in the kernel's listen backlog.
    #[arg(long, default_value_t = 1024, value_parser = at_least_one)]
    max_connections: usize,
    /// Seconds requests in progress may take to finish after Ctrl-C or
    /// SIGTERM; then they are dropped.
    #[arg(long, default_value = "10", value_parser = seconds_arg)]
    shutdown_timeout: Duration,
    /// Operations one transaction may hold (more get 413).
    #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
    max_operations: usize,
    /// Changed cells a transaction's answer lists; past it, counts and
    /// `"truncated": true`.
    #[arg(long, default_value_t = 1_000)]
    max_changes: usize,
    /// Seconds a formula (`/api/v1/eval`) or view may take, from the
    /// request's arrival; then its evaluation stops and the answer is 422.
    #[arg(long, default_value = "2", value_parser = seconds_arg)]
    eval_time_limit: Duration,
}

impl Limits {
    /// The service's configuration with these limits.
    pub(crate) fn config(self, today: Option<NaiveDate>, view_cache: bool) -> csip_server::Config {
        csip_server::Config {
            body_limit: self.body_limit,
            today,
            view_cache,
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections,
            shutdown_timeout: self.shutdown_timeout,
            max_operations: self.max_operations,
            max_changes: self.max_changes,
            eval_time_limit: self.eval_time_limit,
            ..csip_server::Config::default()
        }
    }
}

/// A count of at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{text}` is not a whole number from 1")),
    }
}

/// Seconds, more than 0 (`10`, `0.5`).
fn seconds_arg(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds above 0"))
}

/// `csip serve`: the HTTP service until Ctrl-C or SIGTERM; then it stops
/// accepting, lets requests in progress finish (within the shutdown
/// timeout), closes the workbook file and exits 0.
pub(crate) fn serve(
    db: &Path,
    addr: &str,
    config: csip_server::Config,
    system_today: NaiveDate,
) -> Result<String, String> {
    // Logs on stderr; CSIP_LOG filters them (`warn`, `csip::http=off`, ...).
    let filter = tracing_subscriber::EnvFilter::try_from_env("CSIP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("error: cannot start the service: {e}"))?;
    let db = db.to_path_buf();
    let today = config.today.unwrap_or(system_today);
    let served = runtime.block_on(async move {
        // Listening from the first moment: /healthz says "loading" (with
        // how far) until the workbook is open, so that an orchestrator can
        // tell a start from a hang.
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("error: cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| format!("error: {e}"))?;
        println!(
            "csip serve: loading {}; listening on http://{local}",
            db.display()
        );
        let _ = std::io::stdout().flush();
        let progress = Arc::new(OpenProgress::default());
        let reading = progress.clone();
        let app_config = config.clone();
        let load = move || {
            let store = Store::open_with_progress(&db, Clock::on(today), &reading)
                .map_err(|e| format!("error: {e}"))?;
            if let Loaded::Rows { why } = store.loaded() {
                tracing::info!(target: "csip::store", "read every row of {}: {why}", db.display());
            }
            let rows: usize = {
                let wb = store.workbook();
                wb.tables()
                    .map(|t| wb.rows(t).unwrap_or_default().len())
                    .sum()
            };
            // Whoever read "listening on" may be gone (a closed pipe).
            let mut out = std::io::stdout();
            let _ = writeln!(
                out,
                "csip serve: {} ({rows} rows, loaded in {} {}) ready",
                db.display(),
                seconds(started.elapsed()),
                loaded(&store)
            );
            let _ = out.flush();
            csip_server::App::new(store, app_config).map_err(|e| format!("error: {e}"))
        };
        let report = Arc::new(move || {
            let (done, total) = progress.rows();
            let phase = match progress.phase() {
                OpenPhase::Opening => "opening the file",
                OpenPhase::Snapshot => "reading the snapshot",
                OpenPhase::Rows => "reading rows",
                OpenPhase::Calculating => "calculating",
                _ => "loading",
            };
            serde_json::json!({"phase": phase, "rows_read": done, "rows_total": total})
        });
        csip_server::serve_loading(listener, config, load, report, shutdown())
            .await
            .map_err(|e| {
                if e.starts_with("error:") {
                    e
                } else {
                    format!("error: the service stopped: {e}")
                }
            })
    });
    // Requests dropped at the shutdown deadline may still hold a blocking
    // thread: do not wait for them.
    runtime.shutdown_background();
    served?;
    // Whoever read "listening on" may be gone (a closed pipe): a clean stop
    // is still exit 0.
    let _ = writeln!(std::io::stdout(), "csip serve: stopped");
    Ok(String::new())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
