//! `csip synth`: a synthetic CSIP portfolio written as CSV files, one per
//! table, with the data columns only (formula columns are the workbook's to
//! compute). Relations are written as the display text of the row they point
//! to, lists joined with ", ", dates as YYYY-MM-DD: the text a person would
//! type, so the files load back and any tool can read them.

use crate::progress::{seconds, spinner};
use csip_engine::NaiveDate;
use csip_workbook::synth::{self, SynthConfig};
use std::path::PathBuf;
use std::time::Instant;

/// Where `csip synth` puts the portfolio.
pub(crate) enum Target {
    /// `<Table>.csv` files in a folder.
    Csv(PathBuf),
    /// A new workbook file.
    Db(PathBuf),
}

/// Generates the portfolio, calculates it, and writes it: `DIR/<Table>.csv`
/// for every table with rows, or a new workbook file. Returns the closing
/// summary.
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
    if let Target::Db(db) = target
        && db.exists()
    {
        return Err(format!(
            "{} already exists; choose another path or remove it first",
            db.display()
        ));
    }
    let started = Instant::now();

    let total: usize = config.row_counts().iter().map(|(_, n)| n).sum();
    let spinner = spinner(format!(
        "generating and calculating {accounts} accounts ({total} rows)"
    ));
    let wb = synth::workbook(&config, today).map_err(|e| e.to_string())?;
    spinner.finish_and_clear();
    let calculated = started.elapsed();
    let out = match target {
        Target::Csv(out) => out,
        Target::Db(db) => {
            let rows: usize = wb
                .tables()
                .map(|t| wb.rows(t).unwrap_or_default().len())
                .sum();
            let spinner =
                crate::progress::spinner(format!("writing {rows} rows to {}", db.display()));
            let store = csip_store::Store::create(db, csip_workbook::table_files(), wb);
            spinner.finish_and_clear();
            let mut store = store.map_err(|e| format!("error: {e}"))?;
            let created = started.elapsed();
            let snapshot = crate::stored::save_snapshot(&mut store);
            return Ok(format!(
                "created {} with {rows} rows of {accounts} accounts (seed {:#x}) in {} (generated and calculated in {})\n{snapshot}",
                db.display(),
                config.seed,
                seconds(created),
                seconds(calculated),
            ));
        }
    };
    let tables: Vec<_> = wb
        .tables()
        .filter(|t| !wb.rows(*t).unwrap_or_default().is_empty())
        .collect();
    // No row ids: a synthetic portfolio has no rows of its own to keep, and
    // is imported into workbooks that may hold rows already.
    let options = crate::csvio::WriteOptions {
        computed: false,
        row_ids: false,
        raw: false,
    };
    let written = crate::csvio::write_tables(&wb, &tables, out, options)?;
    let rows: usize = written.iter().map(|(_, n)| n).sum();
    let written: Vec<PathBuf> = written.into_iter().map(|(p, _)| p).collect();
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

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("  {}\n", p.display()))
        .collect()
}
