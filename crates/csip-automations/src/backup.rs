//! The weekly backup (DESIGN §5 "Automations"; the blueprint's
//! data-governance appendix): every table of the workbook as a CSV file,
//! with a manifest, in a local folder or (feature `s3`) an S3-compatible
//! bucket; the last few kept, older ones removed.
//!
//! A backup is a folder named `csip-backup-…` ([`backup_name`] makes the
//! weekly `csip-backup-2026-W49`) holding `<Table>.csv` for each table (its
//! data columns, `row_id` first: what `csip import --dir` reads back, written
//! by [`csip_store::write_table_csv`], so the bytes are `csip export`'s) and
//! `manifest.json` ([`Manifest`]: each file's rows, bytes and SHA-256).
//!
//! - **Complete or absent.** Locally the files are written into a hidden
//!   folder `.<name>.partial`, synced, and renamed to `<name>` in one step;
//!   on S3 the manifest is uploaded last. Either way a backup with a
//!   manifest is a whole one, and a crash leaves nothing under the name.
//! - **Idempotent.** A backup whose name already holds a manifest is not
//!   written again: [`backup`] returns its manifest, so a rerun in the same
//!   week writes nothing.
//! - **Retention.** After a backup, the oldest backups beyond `keep` are
//!   removed: only folders whose names begin with [`BACKUP_PREFIX`] and that
//!   hold a manifest of that name (oldest by `created_at`, then by name);
//!   never the backup just made, never anything else.
//! - **Verification.** [`verify`] reads every file again and compares its
//!   rows, bytes and SHA-256 with the manifest.
//!
//! [`backup`] blocks the calling thread. S3 calls (object_store is async)
//! run on a current-thread tokio runtime that the backup creates on a thread
//! of its own and drops before it returns, so it never runs inside, or
//! needs, the caller's runtime: call it from a command, a plain thread or
//! `tokio::task::spawn_blocking`, not from async code directly (it would
//! hold up that runtime's worker while it runs). One backup at a time per
//! folder or prefix: the automations runner runs it once per slot.
//!
//! ```
//! use csip_automations::backup::{Target, backup, backup_name, verify};
//! let dir = tempfile::tempdir()?;
//! let today = csip_workbook::sample_today();
//! let wb = csip_workbook::pilot(today)?;
//! let at = today.and_hms_opt(3, 0, 0).unwrap();
//! let target = Target::Local(dir.path().join("backups"));
//!
//! let name = backup_name(today);
//! let manifest = backup(&wb, &name, &target, at, 8)?;
//! assert_eq!(manifest.tables.len(), wb.tables().count());
//! assert!(dir.path().join("backups").join(&name).join("Tasks.csv").is_file());
//! assert_eq!(verify(&target, &name)?, manifest);
//! // The same week again: nothing new is written.
//! assert_eq!(backup(&wb, &name, &target, at, 8)?, manifest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use csip_engine::{TableId, Workbook};
use csip_store::CsvOptions;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What every backup's name begins with; retention looks at no other folder.
pub const BACKUP_PREFIX: &str = "csip-backup-";

/// The manifest's file name in a backup.
pub const MANIFEST_FILE: &str = "manifest.json";

/// How many backups are kept when `[automations.backup]` does not say.
pub const DEFAULT_KEEP: usize = 8;

/// The largest manifest [`verify`] and retention read (a manifest is a few
/// kilobytes; a bigger file is not one csip wrote).
const MANIFEST_LIMIT: u64 = 16 << 20;

/// How the tables are written: data columns, `row_id` first, escaped as
/// `csip export` escapes them (what `csip import --dir` reads back).
const CSV: CsvOptions = CsvOptions {
    computed: false,
    row_ids: true,
    raw: false,
};

/// The `[automations.backup]` section of `csip.toml`.
///
/// ```
/// use csip_automations::backup::BackupConfig;
/// let config: BackupConfig = toml::from_str(
///     "keep = 4\n[s3]\nbucket = \"csip\"\nprefix = \"prod\"\n",
/// )?;
/// assert_eq!(config.keep, 4);
/// assert_eq!(config.s3.as_ref().map(|s| s.bucket.as_str()), Some("csip"));
/// assert!(toml::from_str::<BackupConfig>("kept = 4").is_err());
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// The local folder the backups go into; `backups` next to the workbook
    /// file by default. A relative path is relative to the workbook file's
    /// folder. Not with `s3`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// How many backups are kept, the newest (8 by default); older ones are
    /// removed after each backup. At least 1.
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// Back up to an S3-compatible bucket instead of a local folder (needs
    /// csip built with the feature `s3`).
    #[serde(default)]
    pub s3: Option<S3Config>,
}

fn default_keep() -> usize {
    DEFAULT_KEEP
}

impl Default for BackupConfig {
    fn default() -> BackupConfig {
        BackupConfig {
            dir: None,
            keep: DEFAULT_KEEP,
            s3: None,
        }
    }
}

/// The `[automations.backup.s3]` section: where in which bucket. The
/// credentials are not here: they come only from the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The bucket, which must exist.
    pub bucket: String,
    /// The key prefix the backups go under (`{prefix}/{name}/{file}`); the
    /// bucket's top by default.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The service's URL, for an S3-compatible server other than AWS (e.g.
    /// `http://127.0.0.1:5000`); the environment variable `CSIP_S3_ENDPOINT`
    /// overrides it.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The region; `us-east-1` by default.
    #[serde(default)]
    pub region: Option<String>,
    /// Allow an `http://` endpoint (a local server); HTTPS only by default.
    #[serde(default)]
    pub allow_http: bool,
}

/// Where backups go.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Target {
    /// Folders in this local folder (created if missing).
    Local(PathBuf),
    /// Prefixes in an S3-compatible bucket.
    #[cfg(feature = "s3")]
    S3(S3Target),
}

/// A bucket with the credentials to write it.
#[cfg(feature = "s3")]
#[derive(Clone, Debug)]
pub struct S3Target {
    /// The bucket, prefix and endpoint.
    pub config: S3Config,
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: csip_store::Secret,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: csip_store::Secret,
}

#[cfg(feature = "s3")]
impl S3Target {
    /// `config` with the credentials from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`, and the endpoint from `CSIP_S3_ENDPOINT`
    /// when that is set.
    pub fn from_env(mut config: S3Config) -> Result<S3Target, BackupError> {
        let secret = |name: &'static str| {
            csip_store::Secret::from_env(name).ok_or_else(|| BackupError::Credentials {
                missing: name,
                bucket: config.bucket.clone(),
            })
        };
        let access_key_id = secret("AWS_ACCESS_KEY_ID")?;
        let secret_access_key = secret("AWS_SECRET_ACCESS_KEY")?;
        if let Ok(endpoint) = std::env::var("CSIP_S3_ENDPOINT")
            && !endpoint.trim().is_empty()
        {
            config.endpoint = Some(endpoint.trim().to_string());
        }
        Ok(S3Target {
            config,
            access_key_id,
            secret_access_key,
        })
    }
}

impl BackupConfig {
    /// Where this configuration sends backups of the workbook file
    /// `workbook_file`: its S3 bucket (credentials from the environment),
    /// else its `dir`, else `backups` next to the workbook file.
    pub fn target(&self, workbook_file: &Path) -> Result<Target, BackupError> {
        if self.keep == 0 {
            return Err(BackupError::KeepZero);
        }
        match (&self.dir, &self.s3) {
            (Some(_), Some(_)) => Err(BackupError::TwoTargets),
            #[cfg(feature = "s3")]
            (None, Some(s3)) => Ok(Target::S3(S3Target::from_env(s3.clone())?)),
            #[cfg(not(feature = "s3"))]
            (None, Some(_)) => Err(BackupError::NoS3Support),
            (dir, None) => {
                let folder = workbook_file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                Ok(Target::Local(
                    folder.join(dir.as_deref().unwrap_or(Path::new("backups"))),
                ))
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Local(dir) => write!(f, "{}", dir.display()),
            #[cfg(feature = "s3")]
            Target::S3(s3) => {
                write!(f, "s3://{}", s3.config.bucket)?;
                for part in s3::prefix_parts(&s3.config) {
                    write!(f, "/{part}")?;
                }
                Ok(())
            }
        }
    }
}

/// A backup's `manifest.json`: what it holds, to check it against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup's name (its folder's).
    pub name: String,
    /// When it was taken, by the caller's clock (UTC in csip), to the second
    /// (`2026-12-07T03:00:00`).
    #[serde(with = "seconds")]
    pub created_at: NaiveDateTime,
    /// One entry per table, in the workbook's order.
    pub tables: Vec<ManifestTable>,
}

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestTable {
    /// The table's name.
    pub table: String,
    /// The file's name in the backup (`<Table>.csv`).
    pub file: String,
    /// Rows written (the lines after the header, a quoted line break
    /// inside a cell not counted).
    pub rows: u64,
    /// The file's size.
    pub bytes: u64,
    /// The SHA-256 of the file's bytes, as lowercase hex.
    pub sha256: String,
}

/// Why a backup or its verification failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The name is not one a backup can have.
    #[error(
        "`{name}` is not a backup name: it must begin with `{BACKUP_PREFIX}` and hold only ASCII letters, digits, `-`, `_` and `.` (as `backup_name` makes it, e.g. `csip-backup-2026-W49`)"
    )]
    Name {
        /// The name given.
        name: String,
    },
    /// `keep = 0`.
    #[error(
        "keep = 0 would remove every backup, the new one too; set `keep` in [automations.backup] to 1 or more"
    )]
    KeepZero,
    /// Both `dir` and `s3` are configured.
    #[error(
        "[automations.backup] sets both `dir` and `s3`; keep one of them: `dir` for a local folder, `s3` for a bucket"
    )]
    TwoTargets,
    /// S3 is configured but csip was built without it.
    #[error(
        "[automations.backup.s3] is set but this csip was built without S3 support; build it with the feature `csip-automations/s3`, or remove the section to back up to a local folder"
    )]
    NoS3Support,
    /// A credential is missing from the environment.
    #[error(
        "backups to the bucket `{bucket}` need credentials from the environment: set {missing} (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY both)"
    )]
    Credentials {
        /// The variable not set.
        missing: &'static str,
        /// The bucket.
        bucket: String,
    },
    /// A table whose name cannot be a file name.
    #[error(
        "the table `{table}` cannot be backed up as a file of its name; rename it to letters, digits and `_`"
    )]
    TableName {
        /// The table.
        table: String,
    },
    /// A local file or folder could not be read or written.
    #[error(
        "cannot {action} {path}: {source}; check that the folder exists, that this user may read and write it, and that the disk has room"
    )]
    Io {
        /// What was being done (`write`, `read`, `remove`, ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The backup's name is taken by something that is not a backup.
    #[error(
        "{location} already exists and holds no {MANIFEST_FILE}, so it is not a csip backup; move it away, or set another `dir` or `prefix` in [automations.backup]"
    )]
    Occupied {
        /// The folder or prefix.
        location: String,
    },
    /// No backup of that name (no manifest).
    #[error(
        "there is no backup `{name}` in {location} (no {MANIFEST_FILE}); check the name against the backups there"
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// The folder or bucket.
        location: String,
    },
    /// A manifest that is not one csip wrote.
    #[error(
        "the manifest {location} cannot be used ({why}): the backup is damaged; take a new one, and keep this one aside if you need what it holds"
    )]
    Damaged {
        /// The manifest's file or key.
        location: String,
        /// What is wrong with it.
        why: String,
    },
    /// A file that is not what the manifest says.
    #[error(
        "backup `{name}`: {file} has {what} {found} where its manifest says {expected}: the file was changed or damaged after the backup; restore from another backup, and take a new one"
    )]
    Mismatch {
        /// The backup.
        name: String,
        /// The file's name.
        file: String,
        /// `bytes`, `SHA-256`, `rows` or `CSV`.
        what: &'static str,
        /// What the manifest says.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// An S3 request failed.
    #[cfg(feature = "s3")]
    #[error(
        "cannot {action} {location}: {source}; check the bucket, the endpoint and the credentials, and that the server is reachable"
    )]
    S3 {
        /// What was being done (`upload`, `read`, `list`, `delete`).
        action: &'static str,
        /// The object or prefix, as `s3://bucket/key`.
        location: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// The runtime for the S3 requests could not be started.
    #[cfg(feature = "s3")]
    #[error(
        "cannot start the runtime for the S3 requests: {0}; the process may be out of threads or file descriptors: retry later"
    )]
    Runtime(#[source] std::io::Error),
}

/// The weekly backup's name for the ISO week of `date`:
/// `csip-backup-2026-W49`. Names of later weeks sort after earlier ones.
///
/// ```
/// use csip_automations::backup::backup_name;
/// let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
/// assert_eq!(backup_name(date), "csip-backup-2026-W49");
/// ```
pub fn backup_name(date: NaiveDate) -> String {
    let week = date.iso_week();
    format!("{BACKUP_PREFIX}{:04}-W{:02}", week.year(), week.week())
}

/// The weekly backup as `config` says: this week's [`backup_name`] (the
/// week of `at`), to [`BackupConfig::target`], keeping `config.keep`.
pub fn weekly_backup(
    wb: &Workbook,
    config: &BackupConfig,
    workbook_file: &Path,
    at: NaiveDateTime,
) -> Result<Manifest, BackupError> {
    let target = config.target(workbook_file)?;
    backup(wb, &backup_name(at.date()), &target, at, config.keep)
}

/// Backs up every table of `wb` as the backup `name` in `target`, taken
/// `at`, then removes the oldest backups there beyond the `keep` newest (the new one
/// always kept). A backup of that name that is already there (it has a
/// manifest) is not written again: its manifest is returned.
///
/// `name` must begin with [`BACKUP_PREFIX`] and hold only ASCII letters,
/// digits, `-`, `_` and `.`; `at` is when, to the second. Blocks until done
/// (see the module docs for S3 and async callers).
pub fn backup(
    wb: &Workbook,
    name: &str,
    target: &Target,
    at: NaiveDateTime,
    keep: usize,
) -> Result<Manifest, BackupError> {
    check_name(name)?;
    if keep == 0 {
        return Err(BackupError::KeepZero);
    }
    let files = table_files(wb)?;
    let at = at.with_nanosecond(0).unwrap_or(at);
    match target {
        Target::Local(dir) => local_backup(wb, &files, name, dir, keep, at),
        #[cfg(feature = "s3")]
        Target::S3(s3) => s3::backup(wb, &files, name, s3, keep, at),
    }
}

/// Reads every file of the backup `name` in `target` again and checks its
/// bytes, SHA-256 and rows against the manifest, which it returns.
pub fn verify(target: &Target, name: &str) -> Result<Manifest, BackupError> {
    check_name(name)?;
    match target {
        Target::Local(dir) => local_verify(dir, name),
        #[cfg(feature = "s3")]
        Target::S3(s3) => s3::verify(s3, name),
    }
}

/// The backups in `target`, oldest first: the folders whose names begin
/// with [`BACKUP_PREFIX`] and that hold a readable manifest of their name
/// (a backup being written, or damaged, is not one).
pub fn list(target: &Target) -> Result<Vec<Manifest>, BackupError> {
    let mut backups = match target {
        Target::Local(dir) => local_list(dir)?,
        #[cfg(feature = "s3")]
        Target::S3(s3) => s3::list(s3)?,
    };
    backups.sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
    Ok(backups)
}

/// The backups to remove so that `keep` remain, `current` among them.
fn beyond_keep(mut backups: Vec<Manifest>, current: &str, keep: usize) -> Vec<String> {
    backups.retain(|m| m.name != current);
    backups.sort_by(|a, b| (b.created_at, &b.name).cmp(&(a.created_at, &a.name)));
    backups
        .into_iter()
        .skip(keep.saturating_sub(1))
        .map(|m| m.name)
        .collect()
}

fn check_name(name: &str) -> Result<(), BackupError> {
    let ok = name.len() > BACKUP_PREFIX.len()
        && name.len() <= 200
        && name.starts_with(BACKUP_PREFIX)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(BackupError::Name {
            name: name.to_string(),
        })
    }
}

/// Whether `file` is a name a manifest may give a table's file: one plain
/// component, `.csv`, not hidden.
fn plain_file_name(file: &str) -> bool {
    file.len() > ".csv".len()
        && file.ends_with(".csv")
        && !file.starts_with('.')
        && !file.contains(['/', '\\', ':', '\0'])
}

/// Each table with its name and its file's name.
fn table_files(wb: &Workbook) -> Result<Vec<(TableId, String, String)>, BackupError> {
    wb.tables()
        .map(|t| {
            let table = wb.table_name(t).unwrap_or_default().to_string();
            let file = format!("{table}.csv");
            if plain_file_name(&file) {
                Ok((t, table, file))
            } else {
                Err(BackupError::TableName { table })
            }
        })
        .collect()
}

/// Writes `table` as CSV to `out`, and what the manifest says of it.
fn write_entry(
    wb: &Workbook,
    (table, name, file): &(TableId, String, String),
    out: &mut dyn Write,
) -> std::io::Result<ManifestTable> {
    let mut hashing = Hashing {
        inner: out,
        sha: Sha256::new(),
        bytes: 0,
    };
    let rows = csip_store::write_table_csv(wb, *table, &mut hashing, CSV)?;
    Ok(ManifestTable {
        table: name.clone(),
        file: file.clone(),
        rows: rows as u64,
        bytes: hashing.bytes,
        sha256: hex(&hashing.sha.finalize()),
    })
}

/// Checks the bytes read from `input` against `entry`; `io` tells a read
/// that failed.
fn check_entry(
    name: &str,
    entry: &ManifestTable,
    input: &mut dyn Read,
    io: &dyn Fn(std::io::Error) -> BackupError,
) -> Result<(), BackupError> {
    let mismatch = |what, expected: String, found: String| BackupError::Mismatch {
        name: name.to_string(),
        file: entry.file.clone(),
        what,
        expected,
        found,
    };
    let mut hashing = Hashing {
        inner: input,
        sha: Sha256::new(),
        bytes: 0,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(&mut hashing);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    let mut bad_csv = None;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => rows += 1,
            Ok(false) => break,
            Err(e) if e.is_io_error() => {
                return Err(io(match e.into_kind() {
                    csv::ErrorKind::Io(e) => e,
                    kind => std::io::Error::other(format!("{kind:?}")),
                }));
            }
            Err(e) => {
                bad_csv = Some(e.to_string());
                break;
            }
        }
    }
    drop(reader);
    // The rest, past a CSV error, still counts for the size and the hash.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io)?;
    if hashing.bytes != entry.bytes {
        return Err(mismatch(
            "bytes",
            entry.bytes.to_string(),
            hashing.bytes.to_string(),
        ));
    }
    let sha256 = hex(&hashing.sha.finalize());
    if sha256 != entry.sha256 {
        return Err(mismatch("SHA-256", entry.sha256.clone(), sha256));
    }
    if let Some(e) = bad_csv {
        return Err(mismatch("CSV", "valid CSV".into(), e));
    }
    if rows != entry.rows {
        return Err(mismatch("rows", entry.rows.to_string(), rows.to_string()));
    }
    Ok(())
}

/// A manifest read from `bytes` (of `location`), checked: its name is
/// `name` (when given) and its files are plain names.
fn parse_manifest(
    bytes: &[u8],
    location: &str,
    name: Option<&str>,
) -> Result<Manifest, BackupError> {
    let damaged = |why: String| BackupError::Damaged {
        location: location.to_string(),
        why,
    };
    if bytes.len() as u64 > MANIFEST_LIMIT {
        return Err(damaged(format!("larger than {MANIFEST_LIMIT} bytes")));
    }
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| damaged(e.to_string()))?;
    if let Some(name) = name
        && manifest.name != name
    {
        return Err(damaged(format!(
            "it names the backup `{}`, not `{name}`",
            manifest.name
        )));
    }
    if let Some(t) = manifest.tables.iter().find(|t| !plain_file_name(&t.file)) {
        return Err(damaged(format!(
            "`{}` is not a plain `.csv` file name",
            t.file
        )));
    }
    Ok(manifest)
}

fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    // A manifest of strings and numbers always serializes.
    let mut bytes = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    text
}

/// A writer or reader that hashes and counts the bytes passing through.
struct Hashing<T> {
    inner: T,
    sha: Sha256,
    bytes: u64,
}

impl<T: Write> Write for Hashing<T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Read> Read for Hashing<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

// Local folders.

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Io {
        action,
        path,
        source,
    }
}

fn local_backup(
    wb: &Workbook,
    files: &[(TableId, String, String)],
    name: &str,
    dir: &Path,
    keep: usize,
    at: NaiveDateTime,
) -> Result<Manifest, BackupError> {
    std::fs::create_dir_all(dir).map_err(io_error("create", dir))?;
    let done = dir.join(name);
    let manifest = match local_manifest(&done, name)? {
        Some(manifest) => manifest,
        None => {
            let partial = dir.join(format!(".{name}.partial"));
            if partial.exists() {
                // Left by a backup of this name that did not finish.
                std::fs::remove_dir_all(&partial).map_err(io_error("remove", &partial))?;
            }
            std::fs::create_dir(&partial).map_err(io_error("create", &partial))?;
            let mut tables = Vec::with_capacity(files.len());
            for entry in files {
                let path = partial.join(&entry.2);
                let mut file = std::fs::File::create(&path).map_err(io_error("create", &path))?;
                tables.push(write_entry(wb, entry, &mut file).map_err(io_error("write", &path))?);
                file.sync_all().map_err(io_error("sync", &path))?;
            }
            let manifest = Manifest {
                name: name.to_string(),
                created_at: at,
                tables,
            };
            let path = partial.join(MANIFEST_FILE);
            let mut file = std::fs::File::create(&path).map_err(io_error("create", &path))?;
            file.write_all(&manifest_bytes(&manifest))
                .map_err(io_error("write", &path))?;
            file.sync_all().map_err(io_error("sync", &path))?;
            sync_dir(&partial)?;
            std::fs::rename(&partial, &done).map_err(io_error("rename a backup to", &done))?;
            sync_dir(dir)?;
            manifest
        }
    };
    let old = beyond_keep(local_list(dir)?, name, keep);
    for old in old {
        let path = dir.join(&old);
        // Out of sight in one step, then removed: a crash never leaves half
        // of a backup under its name.
        let removing = dir.join(format!(".{old}.removing"));
        std::fs::rename(&path, &removing).map_err(io_error("remove", &path))?;
        std::fs::remove_dir_all(&removing).map_err(io_error("remove", &removing))?;
    }
    Ok(manifest)
}

/// The manifest in the folder `done`, if there is one; an error if the
/// folder exists without one.
fn local_manifest(done: &Path, name: &str) -> Result<Option<Manifest>, BackupError> {
    let path = done.join(MANIFEST_FILE);
    match read_limited(&path) {
        Ok(bytes) => parse_manifest(&bytes, &path.display().to_string(), Some(name)).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(done).is_ok() {
                Err(BackupError::Occupied {
                    location: done.display().to_string(),
                })
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(io_error("read", &path)(e)),
    }
}

/// A file's bytes, up to [`MANIFEST_LIMIT`] and one more.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MANIFEST_LIMIT + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn local_list(dir: &Path) -> Result<Vec<Manifest>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("list", dir)(e)),
    };
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error("list", dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // `file_type` does not follow a symbolic link: a link is not a backup.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || check_name(&name).is_err() {
            continue;
        }
        let path = entry.path().join(MANIFEST_FILE);
        if let Ok(bytes) = read_limited(&path)
            && let Ok(manifest) = parse_manifest(&bytes, "", Some(&name))
        {
            backups.push(manifest);
        }
    }
    Ok(backups)
}

fn local_verify(dir: &Path, name: &str) -> Result<Manifest, BackupError> {
    let folder = dir.join(name);
    let Some(manifest) = local_manifest(&folder, name).or_else(|e| match e {
        BackupError::Occupied { .. } => Ok(None),
        e => Err(e),
    })?
    else {
        return Err(BackupError::NotFound {
            name: name.to_string(),
            location: dir.display().to_string(),
        });
    };
    for entry in &manifest.tables {
        let path = folder.join(&entry.file);
        let mut file = std::fs::File::open(&path).map_err(io_error("read", &path))?;
        check_entry(name, entry, &mut file, &|e| io_error("read", &path)(e))?;
    }
    Ok(manifest)
}

/// Makes a folder's entries (a file created, a rename) durable.
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// `created_at` as `2026-12-07T03:00:00`.
mod seconds {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

    pub(super) fn serialize<S: Serializer>(at: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&at.format(FORMAT))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDateTime::parse_from_str(&text, FORMAT).map_err(|e| {
            serde::de::Error::custom(format!(
                "created_at \"{text}\" is not a time as 2026-12-07T03:00:00: {e}"
            ))
        })
    }
}

// S3-compatible buckets.

#[cfg(feature = "s3")]
mod s3 {
    use super::{
        BackupError, MANIFEST_FILE, Manifest, ManifestTable, S3Config, S3Target, beyond_keep,
        check_entry, check_name, manifest_bytes, parse_manifest, write_entry,
    };
    use chrono::NaiveDateTime;
    use csip_engine::{TableId, Workbook};
    use object_store::aws::{AmazonS3, AmazonS3Builder};
    use object_store::path::Path as Key;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
    use std::time::Duration;

    /// The non-empty `/`-separated parts of the configured prefix.
    pub(super) fn prefix_parts(config: &S3Config) -> impl Iterator<Item = &str> {
        config
            .prefix
            .as_deref()
            .unwrap_or_default()
            .split('/')
            .filter(|p| !p.is_empty())
    }

    struct Bucket {
        store: AmazonS3,
        bucket: String,
        prefix: Key,
    }

    impl Bucket {
        fn new(target: &S3Target) -> Result<Bucket, BackupError> {
            let config = &target.config;
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(&config.bucket)
                .with_region(config.region.as_deref().unwrap_or("us-east-1"))
                .with_access_key_id(target.access_key_id.expose())
                .with_secret_access_key(target.secret_access_key.expose())
                .with_allow_http(config.allow_http)
                .with_retry(RetryConfig {
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(60),
                    ..RetryConfig::default()
                });
            if let Some(endpoint) = &config.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            let store = builder.build().map_err(|source| BackupError::S3 {
                action: "connect to",
                location: format!("s3://{}", config.bucket),
                source,
            })?;
            Ok(Bucket {
                store,
                bucket: config.bucket.clone(),
                prefix: Key::from_iter(prefix_parts(config)),
            })
        }

        fn key(&self, name: &str, file: Option<&str>) -> Key {
            let key = self.prefix.clone().join(name);
            match file {
                Some(file) => key.join(file),
                None => key,
            }
        }

        fn location(&self, key: &Key) -> String {
            format!("s3://{}/{key}", self.bucket)
        }

        fn fail(
            &self,
            action: &'static str,
            key: &Key,
        ) -> impl FnOnce(object_store::Error) -> BackupError {
            let location = self.location(key);
            move |source| BackupError::S3 {
                action,
                location,
                source,
            }
        }

        /// The manifest of the backup `name`, if it has one.
        async fn manifest(&self, name: &str) -> Result<Option<Manifest>, BackupError> {
            let key = self.key(name, Some(MANIFEST_FILE));
            let got = match self.store.get(&key).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(self.fail("read", &key)(e)),
            };
            if got.meta.size > super::MANIFEST_LIMIT {
                return Err(BackupError::Damaged {
                    location: self.location(&key),
                    why: format!("larger than {} bytes", super::MANIFEST_LIMIT),
                });
            }
            let bytes = got.bytes().await.map_err(self.fail("read", &key))?;
            parse_manifest(&bytes, &self.location(&key), Some(name)).map(Some)
        }

        async fn list(&self) -> Result<Vec<Manifest>, BackupError> {
            let listed = self
                .store
                .list_with_delimiter(Some(&self.prefix))
                .await
                .map_err(self.fail("list", &self.prefix))?;
            let mut backups = Vec::new();
            for folder in &listed.common_prefixes {
                let Some(name) = folder.filename() else {
                    continue;
                };
                if check_name(name).is_err() {
                    continue;
                }
                // A damaged manifest is not a backup's: left alone.
                if let Ok(Some(manifest)) = self.manifest(name).await {
                    backups.push(manifest);
                }
            }
            Ok(backups)
        }

        /// Removes the backup `name`: its manifest first, so that what a
        /// crash leaves is no longer a backup.
        async fn remove(&self, name: &str) -> Result<(), BackupError> {
            let manifest = self.key(name, Some(MANIFEST_FILE));
            self.store
                .delete(&manifest)
                .await
                .map_err(self.fail("delete", &manifest))?;
            let folder = self.key(name, None);
            let listed = self
                .store
                .list_with_delimiter(Some(&folder))
                .await
                .map_err(self.fail("list", &folder))?;
            for object in &listed.objects {
                self.store
                    .delete(&object.location)
                    .await
                    .map_err(self.fail("delete", &object.location))?;
            }
            Ok(())
        }
    }

    /// Runs `work` on a current-thread runtime on a thread of its own
    /// (never the caller's runtime, if it has one), and waits for it.
    fn on_runtime<T: Send>(
        work: impl FnOnce(&tokio::runtime::Runtime) -> Result<T, BackupError> + Send,
    ) -> Result<T, BackupError> {
        std::thread::scope(|scope| {
            let thread = scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(BackupError::Runtime)?;
                work(&runtime)
            });
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    pub(super) fn backup(
        wb: &Workbook,
        files: &[(TableId, String, String)],
        name: &str,
        target: &S3Target,
        keep: usize,
        at: NaiveDateTime,
    ) -> Result<Manifest, BackupError> {
        let bucket = Bucket::new(target)?;
        on_runtime(|runtime| {
            runtime.block_on(async {
                let manifest = match bucket.manifest(name).await? {
                    Some(manifest) => manifest,
                    None => {
                        let mut tables: Vec<ManifestTable> = Vec::with_capacity(files.len());
                        for entry in files {
                            // One table's CSV in memory at a time.
                            let mut bytes = Vec::new();
                            let key = bucket.key(name, Some(&entry.2));
                            let written = write_entry(wb, entry, &mut bytes).map_err(|e| {
                                BackupError::Io {
                                    action: "write",
                                    path: entry.2.clone().into(),
                                    source: e,
                                }
                            })?;
                            bucket
                                .store
                                .put(&key, PutPayload::from(bytes))
                                .await
                                .map_err(bucket.fail("upload", &key))?;
                            tables.push(written);
                        }
                        let manifest = Manifest {
                            name: name.to_string(),
                            created_at: at,
                            tables,
                        };
                        // Last: its presence means the backup is whole.
                        let key = bucket.key(name, Some(MANIFEST_FILE));
                        bucket
                            .store
                            .put(&key, PutPayload::from(manifest_bytes(&manifest)))
                            .await
                            .map_err(bucket.fail("upload", &key))?;
                        manifest
                    }
                };
                for old in beyond_keep(bucket.list().await?, name, keep) {
                    bucket.remove(&old).await?;
                }
                Ok(manifest)
            })
        })
    }

    pub(super) fn verify(target: &S3Target, name: &str) -> Result<Manifest, BackupError> {
        let bucket = Bucket::new(target)?;
        on_runtime(|runtime| {
            runtime.block_on(async {
                let Some(manifest) = bucket.manifest(name).await? else {
                    return Err(BackupError::NotFound {
                        name: name.to_string(),
                        location: bucket.location(&bucket.prefix),
                    });
                };
                for entry in &manifest.tables {
                    let key = bucket.key(name, Some(&entry.file));
                    let got = bucket
                        .store
                        .get(&key)
                        .await
                        .map_err(bucket.fail("read", &key))?;
                    let bytes = got.bytes().await.map_err(bucket.fail("read", &key))?;
                    let fail = |source: std::io::Error| BackupError::S3 {
                        action: "read",
                        location: bucket.location(&key),
                        source: object_store::Error::Generic {
                            store: "S3",
                            source: Box::new(source),
                        },
                    };
                    check_entry(name, entry, &mut &bytes[..], &fail)?;
                }
                Ok(manifest)
            })
        })
    }

    pub(super) fn list(target: &S3Target) -> Result<Vec<Manifest>, BackupError> {
        let bucket = Bucket::new(target)?;
        on_runtime(|runtime| runtime.block_on(bucket.list()))
    }
}
