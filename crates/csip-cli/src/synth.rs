//! `csip synth`: a synthetic CSIP portfolio written as CSV files, one per
//! table, with the data columns only (formula columns are the workbook's to
//! compute). Relations are written as the display text of the row they point
//! to, lists joined with ", ", dates as YYYY-MM-DD: the text a person would
//! type, so the files load back and any tool can read them.

use csip_engine::NaiveDate;
use csip_workbook::synth::{self, SynthConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Generates the portfolio, calculates it, and writes `DIR/<Table>.csv` for
/// every table. Returns the closing summary.
pub(crate) fn synth(
    accounts: usize,
    seed: Option<u64>,
    out: &Path,
    today: NaiveDate,
) -> Result<String, String> {
    if accounts == 0 {
        return Err("--accounts must be at least 1".into());
    }
    let mut config = SynthConfig::new(accounts);
    if let Some(seed) = seed {
        config.seed = seed;
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let started = Instant::now();

    let total: usize = config.row_counts().iter().map(|(_, n)| n).sum();
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "generating and calculating {accounts} accounts ({total} rows)"
    ));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let wb = synth::workbook(&config, today).map_err(|e| e.to_string())?;
    spinner.finish_and_clear();
    let calculated = started.elapsed();

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
