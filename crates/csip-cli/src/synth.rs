//! `csip synth`: a synthetic CSIP portfolio written as CSV files, one per
//! table, with the data columns only (formula columns are the workbook's to
//! compute). Relations are written as the display text of the row they point
//! to, lists joined with ", ", dates as YYYY-MM-DD: the text a person would
//! type, so the files load back and any tool can read them.

use csip_engine::NaiveDate;
use csip_workbook::synth::{self, SynthConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Generates the portfolio, calculates it, and writes `DIR/<Table>.csv` for
/// every table. Returns the closing summary.
/// Where `csip synth` puts the portfolio.
pub(crate) enum Target {
    /// `<Table>.csv` files in a folder.
    Csv(PathBuf),
    /// A new workbook file.
    Db(PathBuf),
}

pub(crate) fn synth(
    accounts: usize,
    seed: Option<u64>,
    target: &Target,
    today: NaiveDate,
) -> Result<String, String> {
    if accounts == 0 {
        return Err("--accounts must be at least 1".into());
    }
    let mut config = SynthConfig::new(accounts);
    if let Some(seed) = seed {
        config.seed = seed;
    }
    if let Target::Db(db) = target {
        if db.exists() {
            return Err(format!(
                "{} already exists; choose another path or remove it first",
                db.display()
            ));
        }
    }
    let started = Instant::now();

    let total: usize = config.row_counts().iter().map(|(_, n)| n).sum();
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "generating and calculating {accounts} accounts ({total} rows)"
    ));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let wb = synth::workbook(&config, today).map_err(|e| e.to_string())?;
    spinner.finish_and_clear();
    let calculated = started.elapsed();
    let out = match target {
        Target::Csv(out) => out,
        Target::Db(db) => {
            let rows: usize = wb.tables().map(|t| wb.rows(t).len()).sum();
            let spinner = ProgressBar::new_spinner()
                .with_message(format!("writing {rows} rows to {}", db.display()));
            spinner.enable_steady_tick(Duration::from_millis(120));
            let store = csip_store::Store::create(db, csip_workbook::table_files(), wb);
            spinner.finish_and_clear();
            store.map_err(|e| format!("error: {e}"))?;
            return Ok(format!(
                "created {} with {rows} rows of {accounts} accounts (seed {:#x}) in {} (generated and calculated in {})\n",
                db.display(),
                config.seed,
                seconds(started.elapsed()),
                seconds(calculated),
            ));
        }
    };
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;

    let tables: Vec<_> = wb.tables().filter(|t| !wb.rows(*t).is_empty()).collect();
    let rows: usize = tables.iter().map(|t| wb.rows(*t).len()).sum();
    let bar = ProgressBar::new(rows as u64).with_style(
        ProgressStyle::with_template("writing {msg:24} {bar:40} {pos}/{len} rows, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut written = Vec::new();
    for table in tables {
        let name = wb.table_name(table).to_string();
        bar.set_message(name.clone());
        let path = out.join(format!("{name}.csv"));
        let columns = crate::csvio::columns(&wb, table, false);
        crate::csvio::write_table(&wb, table, &columns, &path, &bar)?;
        written.push(path);
    }
    bar.finish_and_clear();
    Ok(format!(
        "wrote {} rows of {accounts} accounts (seed {:#x}) to {} files in {} in {} (generated and calculated in {})\n{}",
        rows,
        config.seed,
        written.len(),
        out.display(),
        seconds(started.elapsed()),
        seconds(calculated),
        list(&written),
    ))
}

fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("  {}\n", p.display()))
        .collect()
}
