//! The CSIP automations (DESIGN §5 "Automations"; `docs/automations.md`):
//! the blueprint's rules as data ([`rules`]: a schedule in a time zone or a
//! change to a column, a condition formula, actions), run so that each
//! effect happens once ([`run`]: a run is keyed by rule and slot, and its
//! key, effects, outbox messages and Automation_Logs row are one commit),
//! on schedules that keep to local time across DST ([`schedule`]), and the
//! weekly backup ([`backup`]).
//!
//! ```
//! use csip_automations::{Automations, Settings, rules::{Rules, CSIP_RULES, CSIP_RULES_PATH}};
//! let dir = tempfile::tempdir()?;
//! let today = csip_workbook::sample_today();
//! let mut store = csip_store::Store::create(
//!     &dir.path().join("csip.db"),
//!     csip_workbook::table_files(),
//!     csip_workbook::pilot(today)?,
//! )?;
//! let rules = Rules::read(CSIP_RULES_PATH, CSIP_RULES).map_err(|e| format!("{e:?}"))?;
//! rules.check(store.workbook()).map_err(|e| format!("{e:?}"))?;
//! let automations = Automations::new(rules, Settings::default());
//! // 08:05 in Oslo on the sample day: the Renewal Risk Detector of Oslo's CSMs is due.
//! let now = "2026-11-24T07:05:00Z".parse()?;
//! let reports = automations.run_due(&mut store, now, Some("Renewal Risk Detector"));
//! assert!(reports.iter().any(|r| r.slot.zone.as_deref() == Some("Europe/Oslo")));
//! // Again: every slot is logged already, nothing is done twice.
//! assert!(automations.run_due(&mut store, now, None).iter().all(|r| r.slot.rule != "Renewal Risk Detector"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backup;
pub mod rules;
pub mod run;
pub mod schedule;

pub use rules::{RuleError, Rules};
pub use run::{
    Access, Automations, Held, Job, Listing, Outcome, Report, Settings, Slot, already_logged,
    log_row,
};

use std::collections::BTreeMap;

/// `[automations]` of `csip.toml`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationsConfig {
    /// A rules file to use instead of the CSIP workbook's
    /// (`fixtures/csip/automations.toml`); read at start-up.
    pub rules: Option<std::path::PathBuf>,
    /// Channel keys of the rules' messages: `alerts = "#customer-success-alerts"`.
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    /// Where and how many backups (`[automations.backup]`).
    pub backup: Option<backup::BackupConfig>,
}

#[derive(serde::Deserialize)]
struct Doc {
    #[serde(default)]
    automations: AutomationsConfig,
}

impl AutomationsConfig {
    /// The `[automations]` section of `config`'s file (defaults without one).
    ///
    /// # Errors
    ///
    /// The section does not fit, with its line and column.
    pub fn load(config: &csip_store::Config) -> Result<AutomationsConfig, csip_store::ConfigError> {
        Ok(config.section::<Doc>()?.automations)
    }

    /// The settings of runs on the workbook file `workbook_file`: the
    /// channels, and the backup's target (`backups` next to the file unless
    /// configured) and how many are kept.
    ///
    /// # Errors
    ///
    /// The backup target cannot be used (S3 without credentials, or
    /// without the `s3` feature).
    pub fn settings(
        &self,
        workbook_file: &std::path::Path,
    ) -> Result<Settings, backup::BackupError> {
        let backup = self.backup.clone().unwrap_or_default();
        Ok(Settings {
            channels: self.channels.clone(),
            backup: Some(backup.target(workbook_file)?),
            keep: backup.keep,
        })
    }

    /// The rules: the configured file's, else the CSIP workbook's.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or its rules do not read.
    pub fn rules(&self) -> Result<Rules, Vec<RuleError>> {
        match &self.rules {
            None => Rules::read(rules::CSIP_RULES_PATH, rules::CSIP_RULES),
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| {
                    vec![RuleError {
                        at: rules::Location {
                            file: name.clone(),
                            line: 0,
                            column: 0,
                        },
                        message: format!("cannot read the rules file: {e}"),
                    }]
                })?;
                Rules::read(&name, &text)
            }
        }
    }
}
