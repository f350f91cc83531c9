//! `csip`: the command line of the csip engine and the CSIP workbook.
//!
//! - `csip demo` loads the CSIP workbook with its pilot data and prints the
//!   portfolio and every view with its row count;
//! - `csip view NAME [--param k=v]...` prints one view;
//! - `csip eval FORMULA [--table T --row R]` evaluates a formula against the
//!   CSIP workbook (or, with `--cases FILE`, against a case file's workbook);
//! - `csip check FILE...` runs formula case files and prints `N passed, N failed` last;
//! - `csip synth --accounts N --out DIR` writes a synthetic portfolio as CSV files;
//! - `csip init --db FILE [--sample]` creates a workbook file (SQLite);
//!   `csip import`, `csip export` move rows in and out of it as CSV (with
//!   their row ids);
//!   `csip token create`, `list` and `revoke` manage API tokens; `csip upgrade`
//!   moves it to new table files; `csip serve` runs the HTTP service on it.
//!
//! The binary reads files, the clock and arguments, and prints; everything
//! else is the engine's.

mod anypoint;
mod automations;
mod csvio;
mod ingest;
mod progress;
mod reports;
mod stored;
mod synth;
mod table;

use clap::{Parser, Subcommand};
use csip_engine::{CaseFile, ColumnId, NaiveDate, TableId, Value, ViewPage, ViewResult, Workbook};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use table::Align;

#[derive(Parser, Debug)]
#[command(
    name = "csip",
    version,
    about = "The csip formula engine and the Customer Success Intelligence Platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which day the CSIP pilot data is read for.
#[derive(clap::Args, Debug, Clone)]
struct Day {
    /// The day to read the pilot data as of (YYYY-MM-DD); today by default.
    /// Every date of the sample data moves with it.
    #[arg(long, value_parser = parse_day)]
    today: Option<NaiveDate>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Store the CSIP workbook with its pilot data in a SQLite file, load it
    /// back, and print the portfolio and every view's row count.
    Demo {
        /// The workbook file: opened if it exists, created with the pilot data
        /// if not. By default a fresh demo.db in the user's data directory.
        #[arg(long)]
        db: Option<PathBuf>,
        #[command(flatten)]
        day: Day,
    },
    /// Create a workbook file (SQLite) from the CSIP table files.
    Init {
        /// The file to create; it must not exist.
        #[arg(long)]
        db: PathBuf,
        /// Load the pilot accounts (Gard AS and two more) into it.
        #[arg(long)]
        sample: bool,
        #[command(flatten)]
        day: Day,
    },
    /// Append the rows of a CSV file (header = column names) to a table, or of
    /// every `<Table>.csv` of a folder to their tables; all or nothing. A
    /// `row_id` column gives each row the id it had (as `csip export` writes
    /// it); a `'` that export put before formula-looking text is dropped.
    Import {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The table, e.g. Platform_Health_Metrics.
        #[arg(required_unless_present = "dir", requires = "file")]
        table: Option<String>,
        /// The CSV file.
        #[arg(conflicts_with = "dir")]
        file: Option<PathBuf>,
        /// A folder of `<Table>.csv` files (as `csip export` and `csip synth`
        /// write them), imported together so that rows may refer to each other.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Ignore columns of the file that the workbook computes (as `csip export --computed` writes).
        #[arg(long)]
        skip_computed: bool,
        /// Who the audit log records as the writer (default: cli:$USER).
        #[arg(long = "as")]
        who: Option<String>,
        #[command(flatten)]
        day: Day,
    },
    /// Write rows as CSV: one `<Table>.csv` per table, or one table. Each row
    /// starts with its `row_id`; text that a spreadsheet would run as a formula
    /// (beginning with = + - @, a tab or CR) is written with a `'` before it.
    Export {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// Only this table.
        table: Option<String>,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Add the computed (formula) columns.
        #[arg(long)]
        computed: bool,
        /// Write every cell as it is, without the `'` before formula-looking text.
        #[arg(long)]
        raw: bool,
        #[command(flatten)]
        day: Day,
    },
    /// API tokens for `csip serve`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Ingest the daily metrics report (docs/ingest.md): upsert its rows into
    /// Platform_Health_Metrics in one commit, all or nothing — a bad row
    /// rejects the report, naming every bad row's line.
    Ingest {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The report: CSV (`,` `;` or tab), or the webhook's JSON (.json).
        #[arg(required_unless_present_any = ["eml", "maildir", "imap", "tableau"])]
        file: Option<PathBuf>,
        /// csv or json; by default from the file's extension.
        #[arg(long)]
        format: Option<String>,
        /// The report's CSV attachment of these e-mails (.eml).
        #[arg(long, num_args = 1.., conflicts_with_all = ["file", "maildir", "imap", "tableau"])]
        eml: Vec<PathBuf>,
        /// Every new message of this maildir folder (its new/), each moved to
        /// cur/ once its report is committed or rejected.
        #[arg(long, conflicts_with_all = ["file", "imap", "tableau"])]
        maildir: Option<PathBuf>,
        /// Every unseen message of the IMAP mailbox of [ingest.imap] (password
        /// in CSIP_IMAP_PASSWORD), each marked seen once handled.
        #[arg(long, conflicts_with_all = ["file", "tableau"])]
        imap: bool,
        /// The Tableau view of [ingest.tableau] (CSIP_TABLEAU_TOKEN_NAME and
        /// CSIP_TABLEAU_TOKEN_SECRET).
        #[arg(long, conflicts_with = "file")]
        tableau: bool,
        /// The mapping of csip.toml's [ingest.mappings] to read it with.
        #[arg(long)]
        mapping: Option<String>,
        /// The integrations' configuration file; else CSIP_CONFIG; else none.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who the audit log records as the writer (default: cli:$USER).
        #[arg(long = "as")]
        who: Option<String>,
        #[command(flatten)]
        day: Day,
    },
    /// The blueprint's automations (docs/automations.md): run what is due,
    /// or list each rule's next and last run.
    Automations {
        #[command(subcommand)]
        command: AutomationsCommand,
    },
    /// The Anypoint Platform (docs/anypoint.md).
    Anypoint {
        #[command(subcommand)]
        command: AnypointCommand,
    },
    /// The Generate QBR Deck button (docs/reports.md): an account's QBR as a
    /// .pptx and/or .pdf, written to --out, kept in the workbook file and
    /// listed in the account's Attachments; e-mailed through the outbox with --email.
    Qbr {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The account, by Account_Name or Account_ID.
        #[arg(long)]
        account: String,
        /// The first day of the range (YYYY-MM-DD).
        #[arg(long, value_parser = parse_day)]
        from: NaiveDate,
        /// Its last day (YYYY-MM-DD).
        #[arg(long, value_parser = parse_day)]
        to: NaiveDate,
        /// Add the appendix with the account's metric table.
        #[arg(long)]
        appendix: bool,
        /// pptx, pdf or both.
        #[arg(long, default_value = "both")]
        format: String,
        /// The folder to write the files to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// E-mail the files to this address (repeat for more).
        #[arg(long)]
        email: Vec<String>,
        /// Who the audit log records as the writer (default: cli:$USER).
        #[arg(long = "as")]
        who: Option<String>,
        #[command(flatten)]
        day: Day,
    },
    /// The Calculate Platform ROI button (docs/reports.md): an account's ROI
    /// for a period, printed, written as a PDF to --out, its sums written back
    /// to the account and the PDF listed in its Attachments.
    Roi {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The account, by Account_Name or Account_ID.
        #[arg(long)]
        account: String,
        /// This Quarter, This Year, Last 12 Months or All Time.
        #[arg(long, default_value = "This Year")]
        period: String,
        /// Count initiatives still in progress (completed ones always count).
        #[arg(long)]
        include_in_progress: bool,
        /// The folder to write the PDF to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Print the figures as JSON (the button's summary).
        #[arg(long)]
        json: bool,
        /// E-mail the PDF to this address (repeat for more).
        #[arg(long)]
        email: Vec<String>,
        /// Who the audit log records as the writer (default: cli:$USER).
        #[arg(long = "as")]
        who: Option<String>,
        #[command(flatten)]
        day: Day,
    },
    /// The messages writes left for delivery (docs/outbox.md).
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Move a workbook file to new table files: added tables and columns are
    /// created, every row is kept; a change that would lose data is refused.
    Upgrade {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The folder of table files (*.toml); by default the CSIP workbook
        /// this csip was built with.
        #[arg(long)]
        schema: Option<PathBuf>,
        #[command(flatten)]
        day: Day,
    },
    /// Write a workbook file's snapshot into it (its rows and formula values
    /// as one blob of its last commit), so that opening it (`csip serve`)
    /// reads that instead of every row and a recalculation. `synth --db`,
    /// `import` and a clean stop of `serve` write one too.
    Snapshot {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        day: Day,
    },
    /// Serve the REST API on a workbook file until Ctrl-C or SIGTERM.
    Serve {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Evaluate every view request afresh instead of keeping answers
        /// until the workbook changes (for measuring).
        #[arg(long)]
        no_view_cache: bool,
        /// Run no automations (docs/automations.md): neither the scheduled
        /// rules nor those on change.
        #[arg(long)]
        no_automations: bool,
        /// The integrations' configuration file (`docs/configuration.md`);
        /// else the file named by CSIP_CONFIG; else none.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        limits: stored::Limits,
        #[command(flatten)]
        day: Day,
    },
    /// Print one view of the CSIP workbook.
    View {
        /// The view's name (`Renewal Risk`), or `Table/View` where several tables have one.
        name: String,
        /// A parameter of the view, as name=value (`--param user="Kari Nordmann"`).
        #[arg(long = "param", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// Read this workbook file instead of the built-in pilot data.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Rows shown per group.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Rows skipped at the start of each group (the next page: --offset 100).
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Groups shown.
        #[arg(long, default_value_t = 50)]
        group_limit: usize,
        /// Groups skipped.
        #[arg(long, default_value_t = 0)]
        group_offset: usize,
        /// Show only the group with this key (as the view shows it).
        #[arg(long)]
        group: Option<String>,
        /// `table` (a page, for people), or `csv` / `jsonl` (every row of
        /// the whole view, streamed, for an export; the paging options do
        /// not apply).
        #[arg(long, value_enum, default_value_t = ViewFormat::Table)]
        format: ViewFormat,
        #[command(flatten)]
        day: Day,
    },
    /// Run formula case files; exits non-zero if any case fails.
    Check {
        /// Case files (TOML, as fixtures/cases/format_example.toml shows).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print every case, not only the failures.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Evaluate one formula and print its value.
    Eval {
        /// The formula, e.g. 'Round(2.5, 0)'.
        formula: String,
        /// Evaluate against this case file's workbook instead of the CSIP workbook.
        #[arg(long)]
        cases: Option<PathBuf>,
        /// The table whose row is `thisRow`.
        #[arg(long, requires = "row")]
        table: Option<String>,
        /// The row: its display value (`Gard AS`) or its 1-based number.
        #[arg(long, requires = "table")]
        row: Option<String>,
        /// Read this workbook file instead of the built-in pilot data.
        #[arg(long, conflicts_with = "cases")]
        db: Option<PathBuf>,
        #[command(flatten)]
        day: Day,
    },
    /// Write a synthetic CSIP portfolio (deterministic, seeded) as CSV files, one per table.
    Synth {
        /// How many accounts; each gets about 100 metrics, 50 engagements, 5 objectives, ...
        #[arg(long)]
        accounts: usize,
        /// The folder to write `<Table>.csv` files into (created if missing).
        #[arg(long, required_unless_present = "db")]
        out: Option<PathBuf>,
        /// Or a workbook file to create with the portfolio (it must not exist).
        #[arg(long, conflicts_with = "out")]
        db: Option<PathBuf>,
        /// The generator's seed; the same seed gives the same files.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        day: Day,
    },
}

#[derive(Subcommand, Debug)]
enum AnypointCommand {
    /// Sync an account's APIs (and metrics) from its Anypoint organization:
    /// one commit, or nothing when nothing changed.
    Sync {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The account, by Account_Name or Account_ID.
        #[arg(long)]
        account: String,
        /// APIs Only, APIs + Metrics or Full Sync.
        #[arg(long, default_value = "Full Sync")]
        scope: String,
        /// The integrations' configuration file; else CSIP_CONFIG; else none.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who the audit log records as the writer (default: cli:$USER).
        #[arg(long = "as")]
        who: Option<String>,
        #[command(flatten)]
        day: Day,
    },
}

#[derive(Subcommand, Debug)]
enum AutomationsCommand {
    /// Run every slot due (each rule's latest since its last run; missed
    /// ones coalesced), and the change rules over every row: each run one
    /// commit with its log row, never twice.
    Run {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// Run as of this time (RFC 3339, e.g. 2026-12-07T08:00:00+01:00);
        /// now by default.
        #[arg(long)]
        at: Option<String>,
        /// Only this rule.
        #[arg(long)]
        rule: Option<String>,
        /// The integrations' configuration file; else CSIP_CONFIG; else none.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Each rule (per time zone): its next slot in UTC and local time, its
    /// last run and status.
    List {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The integrations' configuration file; else CSIP_CONFIG; else none.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum OutboxCommand {
    /// List the messages, newest first: status, attempts, last error.
    List {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// Only these: pending, delivered or failed.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Deliver the messages that are due now, once (what `csip serve` does
    /// every second).
    Send {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The integrations' configuration file; else CSIP_CONFIG; else none.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Issue a token for a People_Team member; it is printed once.
    Create {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The person, by name as People_Team writes it.
        #[arg(long)]
        person: String,
        /// admin, csm or viewer.
        #[arg(long)]
        role: csip_store::Role,
    },
    /// List the tokens: id, person, role, created, last used, revoked (never the token).
    List {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
    },
    /// Revoke a token: every request with it is refused from then on.
    Revoke {
        /// The workbook file.
        #[arg(long)]
        db: PathBuf,
        /// The token's id, as `csip token list` shows it.
        id: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { db, day } => demo(db.as_deref(), &day),
        Command::Init { db, sample, day } => stored::init(&db, sample, today(&day)),
        Command::Import {
            db,
            table,
            file,
            dir,
            skip_computed,
            who,
            day,
        } => {
            let files = match (table, file, dir) {
                (Some(table), Some(file), None) => stored::Files::One(table, file),
                (_, _, dir) => stored::Files::Folder(dir.unwrap_or_default()),
            };
            stored::import(&db, files, skip_computed, who.as_deref(), today(&day))
        }
        Command::Export {
            db,
            table,
            out,
            computed,
            raw,
            day,
        } => stored::export(&db, table.as_deref(), &out, computed, raw, today(&day)),
        Command::Ingest {
            db,
            file,
            format,
            eml,
            maildir,
            imap,
            tableau,
            mapping,
            config,
            who,
            day,
        } => integrations(config).and_then(|config| {
            let source = match (file, maildir) {
                (Some(file), _) => ingest::Source::File(file),
                (None, Some(dir)) => ingest::Source::Maildir(dir),
                (None, None) if !eml.is_empty() => ingest::Source::Eml(eml),
                (None, None) if imap => ingest::Source::Imap,
                (None, None) => {
                    let _ = tableau;
                    ingest::Source::Tableau
                }
            };
            ingest::ingest(ingest::Request {
                db,
                source,
                mapping,
                format,
                config,
                who,
                today: today(&day),
            })
        }),
        Command::Qbr {
            db,
            account,
            from,
            to,
            appendix,
            format,
            out,
            email,
            who,
            day,
        } => reports::qbr(
            &reports::Common {
                db: &db,
                out: &out,
                email: &email,
                who: who.as_deref(),
                today: today(&day),
            },
            &account,
            from,
            to,
            appendix,
            &format,
        ),
        Command::Roi {
            db,
            account,
            period,
            include_in_progress,
            out,
            json,
            email,
            who,
            day,
        } => reports::roi(
            &reports::Common {
                db: &db,
                out: &out,
                email: &email,
                who: who.as_deref(),
                today: today(&day),
            },
            &account,
            &period,
            include_in_progress,
            json,
        ),
        Command::Anypoint { command } => match command {
            AnypointCommand::Sync {
                db,
                account,
                scope,
                config,
                who,
                day,
            } => integrations(config).and_then(|config| {
                anypoint::sync(&db, &account, &scope, &config, who.as_deref(), today(&day))
            }),
        },
        Command::Automations { command } => match command {
            AutomationsCommand::Run {
                db,
                at,
                rule,
                config,
            } => integrations(config)
                .and_then(|config| automations::run(&db, &config, at.as_deref(), rule.as_deref())),
            AutomationsCommand::List { db, config } => {
                integrations(config).and_then(|config| automations::list(&db, &config))
            }
        },
        Command::Outbox { command } => match command {
            OutboxCommand::List { db, status, limit } => outbox_list(&db, status.as_deref(), limit),
            OutboxCommand::Send { db, config } => {
                integrations(config).and_then(|settings| outbox_send(&db, settings))
            }
        },
        Command::Token { command } => match command {
            TokenCommand::Create { db, person, role } => stored::token(&db, &person, role),
            TokenCommand::List { db } => stored::token_list(&db),
            TokenCommand::Revoke { db, id } => stored::token_revoke(&db, id),
        },
        Command::Upgrade { db, schema, day } => {
            // The upgrade's commit is stamped with the machine's time unless a day is pinned.
            let clock = day.today.map_or_else(
                || csip_engine::Clock::at(stored::system_now()),
                csip_engine::Clock::on,
            );
            stored::upgrade(&db, schema.as_deref(), clock)
        }
        Command::Snapshot { db, day } => stored::snapshot(&db, today(&day)),
        Command::Serve {
            db,
            addr,
            no_view_cache,
            no_automations,
            config,
            limits,
            day,
        } => integrations(config).and_then(|integrations| {
            let mut server = limits.config(day.today, !no_view_cache);
            server.integrations = integrations;
            server.automations = !no_automations;
            stored::serve(&db, &addr, server, system_today())
        }),
        Command::View {
            name,
            params,
            db,
            limit,
            offset,
            group_limit,
            group_offset,
            group,
            format,
            day,
        } => {
            let mut page = ViewPage::first(limit)
                .skip(offset)
                .groups(group_offset, group_limit);
            if let Some(g) = group {
                page = page.in_group(Value::from(g));
            }
            view(&name, &params, db.as_deref(), &day, &page, format)
        }
        Command::Check { files, verbose } => return check(&files, verbose),
        Command::Synth {
            accounts,
            out,
            db,
            seed,
            day,
        } => {
            let target = match (out, db) {
                (_, Some(db)) => synth::Target::Db(db),
                (Some(out), None) => synth::Target::Csv(out),
                (None, None) => synth::Target::Csv(PathBuf::from(".")),
            };
            synth::synth(accounts, seed, &target, today(&day))
        }
        Command::Eval {
            formula,
            cases,
            table,
            row,
            db,
            day,
        } => eval(
            &formula,
            cases.as_deref(),
            table.as_deref(),
            row.as_deref(),
            db.as_deref(),
            &day,
        ),
    };
    match result {
        Ok(text) => {
            // `serve` has written its lines itself, maybe to a closed pipe:
            // nothing more is written (a failed write would panic here).
            if !text.is_empty() {
                print!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{}", message.trim_end());
            ExitCode::FAILURE
        }
    }
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    csip_engine::parse_date(s).map_err(|e| match e {
        csip_engine::DateTextError::Unreadable => format!("`{s}` is not a date; write YYYY-MM-DD"),
        e => format!("`{s}` {e}"),
    })
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("`{s}` is not name=value")),
    }
}

/// The date of the machine's clock (UTC): the adapter's job, never the engine's.
/// `csip outbox list`: a line per message.
fn outbox_list(db: &std::path::Path, status: Option<&str>, limit: usize) -> Result<String, String> {
    use csip_store::OutboxStatus;
    let status = match status.map(str::trim) {
        None => None,
        Some("pending") => Some(OutboxStatus::Pending),
        Some("delivered") => Some(OutboxStatus::Delivered),
        Some("failed") => Some(OutboxStatus::Failed),
        Some(other) => {
            return Err(format!(
                "error: no status `{other}`; give pending, delivered or failed"
            ));
        }
    };
    let outbox = csip_store::Outbox::open(db).map_err(|e| format!("error: {e}"))?;
    let entries = outbox
        .list(status, limit)
        .map_err(|e| format!("error: {e}"))?;
    if entries.is_empty() {
        return Ok("the outbox holds no such message\n".to_string());
    }
    let mut out = String::new();
    for e in entries {
        let when = match e.status() {
            OutboxStatus::Pending => format!("next attempt {}", e.next_attempt_at),
            OutboxStatus::Delivered => {
                format!("delivered {}", e.delivered_at.clone().unwrap_or_default())
            }
            _ => format!("failed {}", e.failed_at.clone().unwrap_or_default()),
        };
        out.push_str(&format!(
            "{:>6}  {:<9}  {}:{}  {}  attempts {}  {}{}\n",
            e.id,
            e.status().name(),
            e.transport,
            e.address,
            e.key,
            e.attempts,
            when,
            e.last_error
                .as_ref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default()
        ));
    }
    Ok(out)
}

/// `csip outbox send`: one pass of the dispatcher.
fn outbox_send(db: &std::path::Path, settings: csip_store::Config) -> Result<String, String> {
    let mut dispatcher =
        csip_server::Dispatcher::new(db, settings).map_err(|e| format!("error: {e}"))?;
    if !dispatcher.speaks_slack() && !dispatcher.speaks_email() {
        return Err("error: neither CSIP_SLACK_BOT_TOKEN nor an [email] host and sender is set, so no message can be sent; set them (docs/configuration.md)".into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("error: {e}"))?;
    let done = runtime
        .block_on(dispatcher.deliver_due(usize::MAX))
        .map_err(|e| format!("error: {e}"))?;
    Ok(format!(
        "sent {}, to be tried again {}, failed {}, left for another transport {}\n",
        done.sent, done.retrying, done.failed, done.skipped
    ))
}

/// The integrations' configuration: `--config`, else `CSIP_CONFIG`, else
/// none; secrets from the environment (`docs/configuration.md`).
fn integrations(config: Option<PathBuf>) -> Result<csip_store::Config, String> {
    let path = config.or_else(|| {
        std::env::var_os("CSIP_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    csip_store::Config::load(path.as_deref(), &|name| std::env::var(name).ok())
        .map_err(|e| format!("error: {e}"))
}

fn system_today() -> NaiveDate {
    stored::system_now().date()
}

fn today(day: &Day) -> NaiveDate {
    day.today.unwrap_or_else(system_today)
}

/// The workbook a read command works on: a workbook file, or the built-in pilot data.
fn workbook(db: Option<&Path>, day: &Day) -> Result<Workbook, String> {
    match db {
        Some(db) => Ok(stored::open(db, today(day))?.into_workbook()),
        None => csip_workbook::pilot(today(day)).map_err(|e| e.to_string()),
    }
}

/// Makes way for a fresh demo file at `p`: its folder exists, no old file is there.
fn fresh_demo_file(p: PathBuf) -> Result<PathBuf, String> {
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("error: cannot create {}: {e}", dir.display()))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{suffix}", p.display()));
        if f.exists() {
            std::fs::remove_file(&f)
                .map_err(|e| format!("error: cannot replace {}: {e}", f.display()))?;
        }
    }
    Ok(p)
}

/// Where `csip demo` keeps its file: the user's data directory, else the temp directory.
fn demo_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("csip").join("demo.db")
}

// ---- demo ---------------------------------------------------------------------------

fn demo(db: Option<&Path>, day: &Day) -> Result<String, String> {
    // The default file is the demo's own: made fresh each run. A file the
    // user names is opened as it is, or created with the pilot data.
    let path = match db {
        Some(p) => p.to_path_buf(),
        // The user's data directory, or the temporary one when that is not writable.
        None => fresh_demo_file(demo_path())
            .or_else(|_| fresh_demo_file(std::env::temp_dir().join("csip").join("demo.db")))?,
    };
    let mut created = false;
    if !path.exists() {
        stored::init(&path, true, today(day))?;
        created = true;
    }
    let started = std::time::Instant::now();
    let wb = stored::open(&path, today(day))?.into_workbook();
    let loaded = started.elapsed();
    let mut out = String::new();
    out.push_str(&format!(
        "CSIP — Customer Success Intelligence Platform, as of {}\nWorkbook file: {} ({}; loaded and calculated in {:.1} ms)\n\n",
        wb.clock().today,
        path.display(),
        if created { "created with the pilot data" } else { "opened" },
        loaded.as_secs_f64() * 1000.0
    ));
    let accounts = table(&wb, "Account_Master")?;
    let columns = [
        ("Account", "Account_Name"),
        ("Health", "Health_Score"),
        ("Technical", "Platform_Technical_Health"),
        ("Value", "Business_Value_Realization"),
        ("Engagement", "Stakeholder_Engagement"),
        ("Alignment", "Strategic_Alignment"),
        ("Trend 30d", "Health_Score_Change_Flag"),
        ("Renewal risk", "Renewal_Risk_Level"),
        ("Days to renewal", "Days_To_Renewal"),
        ("ARR", "ARR"),
        ("CSM", "Customer_Success_Manager"),
    ];
    let ids: Vec<_> = columns
        .iter()
        .map(|(_, c)| {
            wb.column_id(accounts, c)
                .ok()
                .ok_or_else(|| format!("`Account_Master` has no column `{c}`"))
        })
        .collect::<Result<_, _>>()?;
    let rows: Vec<Vec<String>> = wb
        .rows(accounts)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            ids.iter()
                .map(|c| wb.format_value(Some(*c), wb.value(*c, *r).unwrap_or(&Value::Blank)))
                .collect()
        })
        .collect();
    let align: Vec<Align> = columns
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if (1..=5).contains(&i) || i == 8 || i == 9 {
                Align::Right
            } else {
                Align::Left
            }
        })
        .collect();
    out.push_str("Portfolio\n");
    out.push_str(&table::render(
        &columns
            .iter()
            .map(|(h, _)| h.to_string())
            .collect::<Vec<_>>(),
        &rows,
        &align,
        28,
    ));
    out.push_str("\nViews (with sample parameters where a view takes them)\n");
    let mut listed = Vec::new();
    for info in wb.views() {
        let params = sample_params(&wb, &info.params);
        let refs: Vec<(&str, Value)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let qualified = format!(
            "{}/{}",
            wb.table_name(info.table).unwrap_or_default(),
            info.name
        );
        let result = wb.view(&qualified, &refs).map_err(|e| e.to_string())?;
        let shown: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", wb.display(v)))
            .collect();
        let label = if shown.is_empty() {
            qualified
        } else {
            format!("{qualified} ({})", shown.join(", "))
        };
        listed.push(vec![label, result.row_count().to_string()]);
    }
    out.push_str(&table::render(
        &["View".into(), "Rows".into()],
        &listed,
        &[Align::Left, Align::Right],
        90,
    ));
    out.push_str(&format!(
        "\nTry: csip view \"CSM Command Center\" --param user=\"Kari Nordmann\" --db {0}\n     csip token create --db {0} --person \"Kari Nordmann\" --role csm\n     csip serve --db {0}\n",
        path.display()
    ));
    Ok(out)
}

/// A value for each parameter, so that every view can be shown in the demo:
/// the first CSM for a person, the first account for an account.
fn sample_params(wb: &Workbook, params: &[csip_engine::ParamSchema]) -> Vec<(String, Value)> {
    params
        .iter()
        .filter_map(|p| {
            // The report views' range, period and switch.
            let today = wb.clock().today;
            match &p.ty {
                csip_engine::ColumnType::Date if p.name == "from" => {
                    let from = today.checked_sub_days(chrono::Days::new(90))?;
                    return Some((p.name.clone(), Value::Date(from)));
                }
                csip_engine::ColumnType::Date => return Some((p.name.clone(), Value::Date(today))),
                csip_engine::ColumnType::Select(options) => {
                    return Some((p.name.clone(), Value::from(options.first()?.as_str())));
                }
                csip_engine::ColumnType::Checkbox => {
                    return Some((p.name.clone(), Value::Bool(true)));
                }
                _ => {}
            }
            let (target, _) = p.ty.target()?;
            let t = wb.table_id(target).ok()?;
            let row = if target.eq_ignore_ascii_case("People_Team") {
                let role = wb.column_id(t, "Role").ok()?;
                *wb.rows(t)
                    .unwrap_or_default()
                    .iter()
                    .find(|r| wb.value(role, **r).ok() == Some(&Value::from("CSM")))?
            } else {
                *wb.rows(t).unwrap_or_default().first()?
            };
            Some((p.name.clone(), Value::Row(t, row)))
        })
        .collect()
}

fn table(wb: &Workbook, name: &str) -> Result<TableId, String> {
    wb.table_id(name)
        .ok()
        .ok_or_else(|| format!("the workbook has no table `{name}`"))
}

// ---- view ---------------------------------------------------------------------------

/// How `csip view` writes a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ViewFormat {
    /// A page of it, as tables.
    Table,
    /// Every row, as CSV: `row_id`, the group's key when grouped, the fields.
    Csv,
    /// Every row, one JSON object per line.
    Jsonl,
}

fn view(
    name: &str,
    params: &[(String, String)],
    db: Option<&Path>,
    day: &Day,
    page: &ViewPage,
    format: ViewFormat,
) -> Result<String, String> {
    let wb = workbook(db, day)?;
    let refs: Vec<(&str, Value)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), Value::from(v.as_str())))
        .collect();
    if format != ViewFormat::Table {
        let stdout = std::io::stdout().lock();
        export_view(&wb, name, &refs, format, std::io::BufWriter::new(stdout))?;
        return Ok(String::new());
    }
    let result = wb
        .view_page(name, &refs, page, &csip_engine::Budget::default())
        .map_err(|e| format!("error: {e}"))?;
    let mut out = String::new();
    render_view(&wb, &result, &mut out);
    Ok(out)
}

/// Every row of a view written as it is evaluated, one at a time: no more
/// than a row's fields in memory besides the view's order.
fn export_view(
    wb: &Workbook,
    name: &str,
    params: &[(&str, Value)],
    format: ViewFormat,
    out: impl std::io::Write,
) -> Result<(), String> {
    // The view's shape, for the header: the view is evaluated once.
    let info = wb.view_info(name).map_err(|e| format!("error: {e}"))?;
    let grouped = info.grouped;
    let failed = |e: &dyn std::fmt::Display| Failed(format!("error: cannot write the view: {e}"));
    let text = |v: &Value, column: Option<ColumnId>| wb.format_value(column, v);
    match format {
        ViewFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let header = std::iter::once("row_id")
                .chain(grouped.then_some("group"))
                .chain(info.fields.iter().map(String::as_str));
            w.write_record(header).map_err(|e| failed(&e).0)?;
            let mut record: Vec<String> = Vec::new();
            wb.view_for_each(name, params, &Default::default(), |key, row| {
                record.clear();
                record.push(row.row.get().to_string());
                if grouped {
                    record.push(csvio::escape(
                        key.map_or(String::new(), |k| text(k, info.group_column)),
                    ));
                }
                for (i, v) in row.values.iter().enumerate() {
                    let t = text(v, info.field_columns[i]);
                    record.push(if matches!(v, Value::Number(_)) {
                        t
                    } else {
                        csvio::escape(t)
                    });
                }
                w.write_record(&record).map_err(|e| failed(&e))
            })
            .map_err(|e| e.0)?;
            w.flush().map_err(|e| failed(&e).0)
        }
        ViewFormat::Jsonl | ViewFormat::Table => {
            let mut out = out;
            wb.view_for_each(name, params, &Default::default(), |key, row| {
                let mut values = serde_json::Map::new();
                for (i, v) in row.values.iter().enumerate() {
                    values.insert(info.fields[i].clone(), csip_server::value_to_json(wb, v));
                }
                let mut line = serde_json::json!({"row_id": row.row.get(), "values": values});
                if grouped {
                    line["group"] = key.map_or(serde_json::Value::Null, |k| {
                        csip_server::value_to_json(wb, k)
                    });
                }
                serde_json::to_writer(&mut out, &line).map_err(|e| failed(&e))?;
                out.write_all(b"\n").map_err(|e| failed(&e))
            })
            .map_err(|e| e.0)?;
            out.flush().map_err(|e| failed(&e).0)
        }
    }
}

/// An export's error: a sentence for the user.
struct Failed(String);

impl From<csip_engine::ViewError> for Failed {
    fn from(e: csip_engine::ViewError) -> Failed {
        Failed(format!("error: {e}"))
    }
}

fn render_view(wb: &Workbook, v: &ViewResult, out: &mut String) {
    let shown: usize = v.groups.iter().map(|g| g.rows.len()).sum();
    out.push_str(&format!(
        "{}/{} — {} row{}\n",
        wb.table_name(v.table).unwrap_or_default(),
        v.name,
        v.row_count(),
        if v.row_count() == 1 { "" } else { "s" }
    ));
    for (name, value) in &v.tiles {
        out.push_str(&format!("  {name}: {}\n", wb.format_value(None, value)));
    }
    if !v.tiles.is_empty() {
        out.push('\n');
    }
    let align: Vec<Align> = v
        .groups
        .iter()
        .flat_map(|g| g.rows.first())
        .next()
        .map(|r| {
            r.values
                .iter()
                .map(|x| {
                    if matches!(x, Value::Number(_)) {
                        Align::Right
                    } else {
                        Align::Left
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    for g in &v.groups {
        if let Some(key) = &g.key {
            let label = wb.format_value(v.group_column, key);
            let count = if g.rows.len() == g.count {
                g.count.to_string()
            } else {
                format!(
                    "{}–{} of {}",
                    g.offset + usize::from(!g.rows.is_empty()),
                    g.offset + g.rows.len(),
                    g.count
                )
            };
            out.push_str(&format!(
                "■ {} ({count})\n",
                if label.is_empty() {
                    "(none)".to_string()
                } else {
                    label
                },
            ));
        }
        if g.rows.is_empty() {
            out.push('\n');
            continue;
        }
        let rows: Vec<Vec<String>> = g
            .rows
            .iter()
            .map(|r| {
                r.values
                    .iter()
                    .enumerate()
                    .map(|(i, x)| wb.format_value(v.field_columns[i], x))
                    .collect()
            })
            .collect();
        out.push_str(&table::render(&v.fields, &rows, &align, 40));
        out.push('\n');
    }
    if shown < v.row_count() || v.groups.len() < v.group_count {
        out.push_str(&format!(
            "(showing {shown} of {} rows in {} of {} groups; page with --offset and --group-offset, or export every row with --format csv)\n",
            v.row_count(),
            v.groups.len(),
            v.group_count
        ));
    }
    for inner in &v.included {
        let table = wb.table_name(inner.table).unwrap_or_default();
        let params: String = inner
            .params
            .iter()
            .map(|(n, x)| format!(" --param {n}=\"{}\"", wb.display(x)))
            .collect();
        out.push_str(&format!(
            "Includes {table}/{0}: csip view \"{table}/{0}\"{params}\n",
            inner.name
        ));
    }
}

// ---- check --------------------------------------------------------------------------

fn check(files: &[PathBuf], verbose: bool) -> ExitCode {
    let (mut passed, mut failed) = (0usize, 0usize);
    for path in files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                failed += 1;
                continue;
            }
        };
        let file = match CaseFile::parse(&name, &text) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
                continue;
            }
        };
        let report = file.run();
        for o in &report.outcomes {
            if o.passed {
                if verbose {
                    println!("ok   {name}:{}: {}", o.line, o.name);
                }
                continue;
            }
            println!("FAIL {name}:{}: {}", o.line, o.name);
            println!("     formula:  {}", o.formula);
            println!("     expected: {}", o.expected);
            println!("     actual:   {}", o.actual);
            if let Some(note) = &o.note {
                println!("     note:     {note}");
            }
        }
        passed += report.passed();
        failed += report.failed();
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---- eval ---------------------------------------------------------------------------

fn eval(
    formula: &str,
    cases: Option<&std::path::Path>,
    table: Option<&str>,
    row: Option<&str>,
    db: Option<&Path>,
    day: &Day,
) -> Result<String, String> {
    let file;
    let loaded;
    let wb: &Workbook = match cases {
        Some(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("error: cannot read {name}: {e}"))?;
            file = CaseFile::parse(&name, &text).map_err(|e| e.to_string())?;
            file.workbook()
        }
        None => {
            loaded = workbook(db, day)?;
            &loaded
        }
    };
    let context = match (table, row) {
        (Some(t), Some(r)) => {
            let table = wb
                .table_id(t)
                .ok()
                .ok_or_else(|| format!("error: there is no table `{t}`"))?;
            let by_name = wb.find_rows(table, r).unwrap_or_default();
            let row = match (by_name.as_slice(), r.trim().parse::<usize>()) {
                ([one], _) => *one,
                ([], Ok(n)) => wb.row_at(table, n).ok().ok_or_else(|| {
                    format!(
                        "error: `{t}` has no row {n} (it has {} rows)",
                        wb.rows(table).unwrap_or_default().len()
                    )
                })?,
                ([], Err(_)) => return Err(format!("error: no row of `{t}` is named \"{r}\"")),
                (many, _) => {
                    return Err(format!(
                        "error: \"{r}\" names {} rows of `{t}`; give a row number",
                        many.len()
                    ));
                }
            };
            Some((table, row))
        }
        _ => None,
    };
    let value = wb.eval(formula, context).map_err(|e| e.render(None))?;
    Ok(format!("{}\n", wb.display(&value)))
}
