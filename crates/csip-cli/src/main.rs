//! `csip`: the command line of the csip engine.
//!
//! - `csip check FILE...` runs formula case files and prints `N passed, N failed` last;
//! - `csip eval FORMULA [--cases FILE --table T --row N]` prints one value.
//!
//! The binary only reads files and prints; everything else is the engine's.

use clap::{Parser, Subcommand};
use csip_engine::{CaseFile, Workbook};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "csip",
    version,
    about = "The csip formula engine and Customer Success Intelligence Platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run formula case files; exits non-zero if any case fails.
    Check {
        /// Case files (TOML, see shared/formula-cases.md).
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
        /// A case file whose workbook the formula reads.
        #[arg(long)]
        cases: Option<PathBuf>,
        /// The table whose row is `thisRow`.
        #[arg(long, requires = "row")]
        table: Option<String>,
        /// The row: a 1-based number, or the value of the table's first column.
        #[arg(long, requires = "table")]
        row: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { files, verbose } => check(&files, verbose),
        Command::Eval {
            formula,
            cases,
            table,
            row,
        } => match eval(&formula, cases.as_deref(), table.as_deref(), row.as_deref()) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("{message}");
                ExitCode::FAILURE
            }
        },
    }
}

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

fn eval(
    formula: &str,
    cases: Option<&std::path::Path>,
    table: Option<&str>,
    row: Option<&str>,
) -> Result<String, String> {
    let file;
    let empty;
    let wb: &Workbook = match cases {
        Some(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("error: cannot read {name}: {e}"))?;
            file = CaseFile::parse(&name, &text).map_err(|e| e.to_string())?;
            file.workbook()
        }
        None => {
            empty = Workbook::new(&csip_engine::Schema::new(), csip_engine::Clock::on(today()))
                .map_err(|e| e.to_string())?;
            &empty
        }
    };
    let context = match (table, row) {
        (Some(t), Some(r)) => {
            let table = wb
                .table_id(t)
                .ok_or_else(|| format!("error: there is no table `{t}`"))?;
            let by_name = wb.find_rows(table, r);
            let row = match (by_name.as_slice(), r.trim().parse::<usize>()) {
                ([one], _) => *one,
                ([], Ok(n)) => wb.row_at(table, n).ok_or_else(|| {
                    format!(
                        "error: `{t}` has no row {n} (it has {} rows)",
                        wb.rows(table).len()
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
    Ok(wb.display(&value))
}

/// The date of the machine's clock, for formulas evaluated with no case file.
fn today() -> csip_engine::NaiveDate {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    csip_engine::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(csip_engine::TimeDelta::days(days)))
        .unwrap_or_default()
}
