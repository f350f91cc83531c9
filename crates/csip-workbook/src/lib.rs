//! The Customer Success Intelligence Platform workbook: the data files under
//! `fixtures/csip/` (16 tables with their formulas and views, and the pilot
//! sample data), built into the binary so that every adapter, example and
//! benchmark loads the same workbook from anywhere.
//!
//! This crate holds data, not logic: the engine reads the files
//! ([`csip_engine::schema_from_files`], [`csip_engine::Workbook::import_files`]).
//! The exceptions are [`lookup`] — how every adapter finds an account or a
//! metric by the name a person or a report gives — and [`log`], the
//! Automation_Logs row every automated run writes.
//!
//! ```
//! let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
//! let accounts = wb.table_id("Account_Master")?;
//! let gard = wb.find_rows(accounts, "Gard AS")?[0];
//! let score = wb.column_id(accounts, "Health_Score")?;
//! assert_eq!(wb.display(wb.value(score, gard)?), "63");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod log;
pub mod lookup;
pub mod synth;

use csip_engine::{Clock, FileError, LoadError, NaiveDate, Schema, SourceFile, Workbook};

macro_rules! files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../", $path)))),*]
    };
}

/// The table files, in workbook order.
const TABLES: &[(&str, &str)] = files![
    "fixtures/csip/tables/01_account_master.toml",
    "fixtures/csip/tables/02_people_team.toml",
    "fixtures/csip/tables/03_business_context.toml",
    "fixtures/csip/tables/04_strategic_objectives.toml",
    "fixtures/csip/tables/05_mulesoft_capabilities.toml",
    "fixtures/csip/tables/06_value_streams.toml",
    "fixtures/csip/tables/07_api_portfolio.toml",
    "fixtures/csip/tables/08_platform_health_metrics.toml",
    "fixtures/csip/tables/09_initiatives.toml",
    "fixtures/csip/tables/10_risk_register.toml",
    "fixtures/csip/tables/11_stakeholder_outcomes.toml",
    "fixtures/csip/tables/12_engagement_log.toml",
    "fixtures/csip/tables/13_account_master_history.toml",
    "fixtures/csip/tables/14_platform_health_metrics_history.toml",
    "fixtures/csip/tables/15_tasks.toml",
    "fixtures/csip/tables/16_automation_logs.toml",
];

/// The pilot sample data, one file per table.
const DATA: &[(&str, &str)] = files![
    "fixtures/csip/data/people_team.toml",
    "fixtures/csip/data/account_master.toml",
    "fixtures/csip/data/business_context.toml",
    "fixtures/csip/data/strategic_objectives.toml",
    "fixtures/csip/data/mulesoft_capabilities.toml",
    "fixtures/csip/data/value_streams.toml",
    "fixtures/csip/data/api_portfolio.toml",
    "fixtures/csip/data/platform_health_metrics.toml",
    "fixtures/csip/data/initiatives.toml",
    "fixtures/csip/data/risk_register.toml",
    "fixtures/csip/data/stakeholder_outcomes.toml",
    "fixtures/csip/data/engagement_log.toml",
    "fixtures/csip/data/account_master_history.toml",
    "fixtures/csip/data/platform_health_metrics_history.toml",
    "fixtures/csip/data/tasks.toml",
    "fixtures/csip/data/automation_logs.toml",
];

/// The day the pilot data is written for: its dates (renewals, engagements,
/// 60 days of history) are relative to it. Load it for another day with
/// [`pilot`], and every date moves with it.
pub fn sample_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
}

fn sources(files: &[(&str, &str)]) -> Vec<SourceFile> {
    files.iter().map(|(p, t)| SourceFile::new(*p, *t)).collect()
}

/// The table files (tables, formulas, views), in workbook order.
pub fn table_files() -> Vec<SourceFile> {
    sources(TABLES)
}

/// The pilot data files.
pub fn data_files() -> Vec<SourceFile> {
    sources(DATA)
}

/// The CSIP schema: every table, column, formula and view.
pub fn schema() -> Result<Schema, FileError> {
    csip_engine::schema_from_files(&table_files())
}

/// The CSIP workbook with no rows, its clock at `clock`.
pub fn empty(clock: Clock) -> Result<Workbook, LoadError> {
    Ok(Workbook::new(&schema()?, clock)?)
}

/// The CSIP workbook with the pilot accounts (Gard AS, Helix Health Partners,
/// Sakura Retail Group), their people, objectives, capabilities, value
/// streams, APIs, metrics, initiatives, risks, outcomes, engagements and 60
/// days of history, with every date moved so that the data reads as of `today`.
pub fn pilot(today: NaiveDate) -> Result<Workbook, LoadError> {
    let shift = (today - sample_today()).num_days();
    Workbook::load_files(&table_files(), &data_files(), Clock::on(today), shift)
}
