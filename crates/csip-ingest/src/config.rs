//! The `[ingest]` section of `csip.toml` (`docs/ingest.md`).

use crate::IngestError;
use crate::mapping::Mapping;
use crate::read::Limits;
use std::collections::BTreeMap;

/// `[ingest]`: limits, the channel notified, and the named mappings; and
/// the mailbox and Tableau sources' settings.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The largest report, in bytes (default 100 MB).
    pub max_bytes: Option<u64>,
    /// Where "Daily metrics updated" is posted; default
    /// `slack.updates_channel`; none: no message.
    pub channel: Option<String>,
    /// The mapping used when a source names none.
    pub mapping: Option<String>,
    /// Report layouts by name (`[ingest.mappings.NAME]`).
    #[serde(default)]
    pub mappings: BTreeMap<String, Mapping>,
    /// Which e-mail carries the report (`[ingest.mail]`).
    #[cfg(feature = "mail")]
    pub mail: Option<crate::mail::MailRules>,
    /// The IMAP mailbox (`[ingest.imap]`).
    #[cfg(feature = "imap")]
    pub imap: Option<crate::imap::ImapConfig>,
    /// The Tableau view (`[ingest.tableau]`).
    #[cfg(feature = "tableau")]
    pub tableau: Option<crate::tableau::TableauConfig>,
    #[cfg(not(feature = "mail"))]
    #[allow(dead_code)]
    mail: Option<toml::Value>,
    #[cfg(not(feature = "imap"))]
    #[allow(dead_code)]
    imap: Option<toml::Value>,
    #[cfg(not(feature = "tableau"))]
    #[allow(dead_code)]
    tableau: Option<toml::Value>,
}

#[derive(serde::Deserialize)]
struct Doc {
    #[serde(default)]
    ingest: IngestConfig,
}

impl IngestConfig {
    /// The `[ingest]` section of `config`'s file (every default without one).
    ///
    /// # Errors
    ///
    /// The section does not fit: an unknown key or a wrong type, with its
    /// line and column.
    pub fn load(config: &csip_store::Config) -> Result<IngestConfig, csip_store::ConfigError> {
        Ok(config.section::<Doc>()?.ingest)
    }

    /// The mapping of that name, else the configured default, else the
    /// built-in one (headers csip knows).
    ///
    /// # Errors
    ///
    /// No mapping has that name: the names there are.
    pub fn mapping(&self, name: Option<&str>) -> Result<Mapping, IngestError> {
        match name.or(self.mapping.as_deref()) {
            None => Ok(Mapping::default()),
            Some(name) => self
                .mappings
                .get(name)
                .cloned()
                .ok_or_else(|| IngestError::Mapping {
                    reason: format!(
                        "there is no mapping “{name}” in csip.toml; {}",
                        if self.mappings.is_empty() {
                            "add one as [ingest.mappings.NAME]".to_string()
                        } else {
                            format!(
                                "the mappings are {}",
                                self.mappings
                                    .keys()
                                    .map(|k| format!("“{k}”"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ),
                }),
        }
    }

    /// The settings of one ingestion: the mapping named (or the default),
    /// the limits, and the channel (`ingest.channel`, else
    /// `slack.updates_channel` of `config`).
    ///
    /// # Errors
    ///
    /// As [`IngestConfig::mapping`].
    pub fn settings(
        &self,
        config: &csip_store::Config,
        mapping: Option<&str>,
    ) -> Result<Settings, IngestError> {
        Ok(Settings {
            mapping: self.mapping(mapping)?,
            limits: Limits {
                max_bytes: self.max_bytes.unwrap_or(Limits::default().max_bytes),
            },
            channel: self
                .channel
                .clone()
                .or_else(|| config.slack.updates_channel.clone()),
        })
    }
}

/// What one ingestion reads with and who it tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// The report's layout.
    pub mapping: Mapping,
    /// Its size limit.
    pub limits: Limits,
    /// The Slack channel told of a batch; none: no message.
    pub channel: Option<String>,
}
