//! Configuration and secrets (DESIGN §5 "Configuration and secrets"): one
//! optional `csip.toml` for channels, base URLs and delivery settings; the
//! secrets only from environment variables or from a secrets file that its
//! owner alone may read. `docs/configuration.md` lists every key and
//! variable.

use crate::Secret;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The secrets csip reads, by the environment variable that holds each.
pub const SECRET_NAMES: [&str; 9] = [
    "CSIP_SLACK_SIGNING_SECRET",
    "CSIP_SLACK_BOT_TOKEN",
    "CSIP_ANYPOINT_CLIENT_ID",
    "CSIP_ANYPOINT_CLIENT_SECRET",
    "CSIP_IMAP_PASSWORD",
    "CSIP_TABLEAU_TOKEN_NAME",
    "CSIP_TABLEAU_TOKEN_SECRET",
    "CSIP_SMTP_USERNAME",
    "CSIP_SMTP_PASSWORD",
];

/// Slack's Web API, unless configured otherwise.
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// A configuration that cannot be used: what is wrong, where, and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a configuration (TOML, known keys, right types).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and column.
        message: String,
    },
    /// The secrets file may be read by others than its owner.
    #[error(
        "the secrets file {} can be read by others than its owner (mode {mode:o}); make it owner-only: chmod 600 {}",
        path.display(),
        path.display()
    )]
    SecretsReadable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The whole configuration, with defaults for what the file leaves out.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Config {
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
    /// Slack.
    pub slack: SlackConfig,
    /// Delivery of the outbox's messages.
    pub outbox: OutboxConfig,
    /// The secrets found (environment first, then the secrets file).
    pub secrets: Secrets,
    /// The file's text, for an adapter to read its own section from
    /// ([`Config::section`]).
    text: Option<String>,
}

/// The longest `slack.answer_within_ms` taken: Slack waits 3 s.
const MAX_ANSWER_WITHIN_MS: u64 = 2800;

/// Slack's settings (`[slack]`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackConfig {
    /// The Web API's base URL (`api_url`, or `CSIP_SLACK_API_URL`).
    pub api_url: String,
    /// Where a confirmation of each `/mulesoft-update` is posted.
    pub updates_channel: Option<String>,
    /// Slack user ids that write as admins.
    pub admins: Vec<String>,
    /// The least time between two messages to one channel (Slack allows
    /// about one a second).
    pub channel_interval: Duration,
    /// How long a slash command's write may take before it is answered
    /// "working on it" and its outcome follows through the command's
    /// `response_url` (Slack waits 3 s for an answer).
    pub answer_within: Duration,
}

impl Default for SlackConfig {
    fn default() -> SlackConfig {
        SlackConfig {
            api_url: SLACK_API_URL.to_string(),
            updates_channel: None,
            admins: Vec::new(),
            channel_interval: Duration::from_secs(1),
            answer_within: Duration::from_millis(2500),
        }
    }
}

/// The outbox's delivery settings (`[outbox]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// When failed deliveries are tried again.
    pub backoff: crate::Backoff,
    /// How often the dispatcher looks for due messages.
    pub poll: Duration,
}

impl Default for OutboxConfig {
    fn default() -> OutboxConfig {
        OutboxConfig {
            backoff: crate::Backoff::default(),
            poll: Duration::from_secs(1),
        }
    }
}

/// Secrets by name (one of [`SECRET_NAMES`]); each prints as `***`.
#[derive(Clone, Debug, Default)]
pub struct Secrets(BTreeMap<String, Secret>);

impl Secrets {
    /// The secret of that name, if it was given.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.0.get(name)
    }

    /// Every secret's text, for a test or a log scan to look for.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(Secret::expose)
    }
}

/// A file that is no configuration: what toml said, with its place.
fn invalid(path: &Path, e: &toml::de::Error) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    }
}

/// The file as written (every key optional; unknown keys refused).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    slack: SlackFile,
    #[serde(default)]
    outbox: OutboxFile,
    #[serde(default)]
    secrets: SecretsFile,
    /// Read by `csip-ingest` ([`Config::section`]).
    #[serde(default)]
    #[allow(dead_code)]
    ingest: Option<toml::Value>,
    /// Read by `csip-automations` ([`Config::section`]).
    #[serde(default)]
    #[allow(dead_code)]
    automations: Option<toml::Value>,
    /// Read by `csip-anypoint` ([`Config::section`]).
    #[serde(default)]
    #[allow(dead_code)]
    anypoint: Option<toml::Value>,
    /// Read by `csip-reports` ([`Config::section`]): the SMTP server reports are e-mailed through.
    #[serde(default)]
    #[allow(dead_code)]
    email: Option<toml::Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SlackFile {
    api_url: Option<String>,
    updates_channel: Option<String>,
    #[serde(default)]
    admins: Vec<String>,
    channel_interval_ms: Option<u64>,
    answer_within_ms: Option<u64>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OutboxFile {
    first_retry_seconds: Option<u64>,
    max_retry_seconds: Option<u64>,
    attempts: Option<u32>,
    poll_ms: Option<u64>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    file: Option<PathBuf>,
}

impl Config {
    /// Reads the configuration: the file `path` if given (else none: every
    /// default), the variables `env` gives (`CSIP_SLACK_API_URL`,
    /// `CSIP_SECRETS_FILE` and the secrets of [`SECRET_NAMES`]), and the
    /// secrets file (`CSIP_SECRETS_FILE`, else `[secrets] file`), which
    /// must be readable by its owner only. A secret in the environment
    /// wins over the same one in the file. `env` is a function so that a
    /// host passes `std::env::var` and a test a map.
    ///
    /// ```
    /// use csip_store::Config;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("csip.toml");
    /// std::fs::write(&path, "[slack]\nupdates_channel = \"#cs-updates\"\nadmins = [\"U0ADMIN\"]\n")?;
    /// let env = |name: &str| (name == "CSIP_SLACK_BOT_TOKEN").then(|| "xoxb-1".to_string());
    /// let config = Config::load(Some(&path), &env)?;
    /// assert_eq!(config.slack.updates_channel.as_deref(), Some("#cs-updates"));
    /// assert_eq!(config.secrets.get("CSIP_SLACK_BOT_TOKEN").map(|s| s.expose()), Some("xoxb-1"));
    /// assert!(!format!("{config:?}").contains("xoxb-1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A file that cannot be read or is not a configuration (with the line
    /// and column), or a secrets file others may read.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (file, text): (File, Option<String>) = match path {
            None => (File::default(), None),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                let file = toml::from_str(&text).map_err(|e| invalid(path, &e))?;
                (file, Some(text))
            }
        };
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let defaults = Config::default();
        if let (Some(path), Some(ms)) = (path, file.slack.answer_within_ms)
            && ms > MAX_ANSWER_WITHIN_MS
        {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "slack.answer_within_ms = {ms} is too long: Slack gives up on an answer after 3 s; give at most {MAX_ANSWER_WITHIN_MS}"
                ),
            });
        }
        let backoff = crate::Backoff {
            first: file
                .outbox
                .first_retry_seconds
                .map_or(defaults.outbox.backoff.first, Duration::from_secs),
            max: file
                .outbox
                .max_retry_seconds
                .map_or(defaults.outbox.backoff.max, Duration::from_secs),
            attempts: file
                .outbox
                .attempts
                .unwrap_or(defaults.outbox.backoff.attempts)
                .max(1),
        };
        let mut secrets = BTreeMap::new();
        let secrets_file = set("CSIP_SECRETS_FILE")
            .map(PathBuf::from)
            .or(file.secrets.file);
        if let Some(path) = &secrets_file {
            secrets = read_secrets(path)?;
        }
        for name in SECRET_NAMES {
            if let Some(v) = set(name) {
                secrets.insert(name.to_string(), Secret::new(v.trim()));
            }
        }
        Ok(Config {
            source: path.map(Path::to_path_buf),
            text,
            slack: SlackConfig {
                api_url: set("CSIP_SLACK_API_URL")
                    .or(file.slack.api_url)
                    .unwrap_or(defaults.slack.api_url)
                    .trim_end_matches('/')
                    .to_string(),
                updates_channel: file.slack.updates_channel,
                admins: file.slack.admins,
                channel_interval: file
                    .slack
                    .channel_interval_ms
                    .map_or(defaults.slack.channel_interval, Duration::from_millis),
                answer_within: file
                    .slack
                    .answer_within_ms
                    .map_or(defaults.slack.answer_within, Duration::from_millis),
            },
            outbox: OutboxConfig {
                backoff,
                poll: file
                    .outbox
                    .poll_ms
                    .map_or(defaults.outbox.poll, Duration::from_millis),
            },
            secrets: Secrets(secrets),
        })
    }

    /// An adapter's own section of the file (`[ingest]`, say), read into
    /// its type: the file is read as a `D` whose one field is the section
    /// (other sections ignored), so that a mistake in the section is told
    /// with its line and column. Without a file, `D` from an empty one.
    ///
    /// ```
    /// #[derive(serde::Deserialize, Debug)]
    /// struct Doc { #[serde(default)] ingest: Ingest }
    /// #[derive(serde::Deserialize, Default, Debug)]
    /// #[serde(deny_unknown_fields)]
    /// struct Ingest { max_bytes: Option<u64> }
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("csip.toml");
    /// std::fs::write(&path, "[ingest]\nmax_bytes = 1000\n")?;
    /// let config = csip_store::Config::load(Some(&path), &|_| None)?;
    /// assert_eq!(config.section::<Doc>()?.ingest.max_bytes, Some(1000));
    /// std::fs::write(&path, "[ingest]\nmax_byte = 1000\n")?;
    /// let config = csip_store::Config::load(Some(&path), &|_| None)?;
    /// assert!(config.section::<Doc>().unwrap_err().to_string().contains("line 2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The section does not fit `D` (an unknown key, a wrong type).
    pub fn section<D: serde::de::DeserializeOwned>(&self) -> Result<D, ConfigError> {
        let text = self.text.as_deref().unwrap_or("");
        toml::from_str(text).map_err(|e| match &self.source {
            Some(path) => invalid(path, &e),
            None => ConfigError::Invalid {
                path: PathBuf::from("(no configuration file)"),
                message: e.to_string().trim().replace('\n', " "),
            },
        })
    }
}

/// The secrets file: `NAME = "value"` lines (TOML) of the names in
/// [`SECRET_NAMES`]; refused when others than its owner may read it. An
/// error never shows a value.
fn read_secrets(path: &Path) -> Result<BTreeMap<String, Secret>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::SecretsReadable {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    // Not through serde's messages: they may quote a value.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        invalid(format!(
            "not a secrets file (NAME = \"value\" lines){}",
            e.span()
                .map(|s| format!(" at byte {}", s.start))
                .unwrap_or_default()
        ))
    })?;
    let mut out = BTreeMap::new();
    for (name, value) in table {
        // Anypoint's credentials may be per organization:
        // `"CSIP_ANYPOINT_CLIENT_ID.<org id>"`.
        let per_org = ["CSIP_ANYPOINT_CLIENT_ID.", "CSIP_ANYPOINT_CLIENT_SECRET."]
            .iter()
            .any(|p| {
                name.strip_prefix(p)
                    .is_some_and(|org| !org.trim().is_empty())
            });
        if !SECRET_NAMES.contains(&name.as_str()) && !per_org {
            return Err(invalid(format!(
                "`{name}` is not a secret csip reads; the names: {}",
                SECRET_NAMES.join(", ")
            )));
        }
        let Some(v) = value.as_str() else {
            return Err(invalid(format!("`{name}` must be a quoted string")));
        };
        if !v.trim().is_empty() {
            out.insert(name, Secret::new(v.trim()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may panic

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn no_file_is_every_default() {
        let c = Config::load(None, &no_env).unwrap();
        assert_eq!(c.slack, SlackConfig::default());
        assert_eq!(c.outbox, OutboxConfig::default());
        assert!(c.secrets.get("CSIP_SLACK_BOT_TOKEN").is_none());
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("csip.toml");
        std::fs::write(&path, "[slack]\nupdate_channel = \"#x\"\n").unwrap();
        let e = Config::load(Some(&path), &no_env).unwrap_err().to_string();
        assert!(e.contains("update_channel") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn an_answer_slower_than_slack_waits_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("csip.toml");
        std::fs::write(&path, "[slack]\nanswer_within_ms = 3000\n").unwrap();
        let e = Config::load(Some(&path), &no_env).unwrap_err().to_string();
        assert!(
            e.contains("answer_within_ms = 3000") && e.contains("2800"),
            "{e}"
        );
        std::fs::write(&path, "[slack]\nanswer_within_ms = 0\n").unwrap();
        let c = Config::load(Some(&path), &no_env).unwrap();
        assert_eq!(c.slack.answer_within, Duration::ZERO);
    }

    #[test]
    fn a_secrets_file_others_can_read_is_refused_and_its_values_never_shown() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.toml");
        std::fs::write(&secrets, "CSIP_SLACK_BOT_TOKEN = \"xoxb-from-file\"\n").unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = secrets.display().to_string();
        let env = |name: &str| (name == "CSIP_SECRETS_FILE").then(|| file.clone());
        let e = Config::load(None, &env).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && e.contains("644"), "{e}");
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = Config::load(None, &env).unwrap();
        let token = c.secrets.get("CSIP_SLACK_BOT_TOKEN").unwrap();
        assert_eq!(token.expose(), "xoxb-from-file");
        assert!(!format!("{c:?}").contains("xoxb-from-file"));
        // The environment wins over the file.
        let env = |name: &str| match name {
            "CSIP_SECRETS_FILE" => Some(file.clone()),
            "CSIP_SLACK_BOT_TOKEN" => Some("xoxb-from-env".into()),
            _ => None,
        };
        let c = Config::load(None, &env).unwrap();
        assert_eq!(
            c.secrets.get("CSIP_SLACK_BOT_TOKEN").unwrap().expose(),
            "xoxb-from-env"
        );
        // A bad secrets file names the problem, not the value.
        std::fs::write(&secrets, "CSIP_SLACK_BOT_TOKEN = xoxb-unquoted-value\n").unwrap();
        let env = |name: &str| (name == "CSIP_SECRETS_FILE").then(|| file.clone());
        let e = Config::load(None, &env).unwrap_err().to_string();
        assert!(!e.contains("unquoted-value"), "{e}");
    }
}
