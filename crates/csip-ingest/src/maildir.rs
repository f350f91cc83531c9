//! The metrics report from a maildir folder that a local delivery or
//! fetchmail fills (DESIGN §5 "Ingest").
//!
//! [`process`] reads each message in `new/`, in file-name order, finds its
//! CSV with [`csv_attachment`], and gives the result to the caller's
//! `handle`, which commits the batch or records its failure. Then the
//! message is moved, with `rename` (atomic within one file system), so
//! that it is not read again:
//!
//! - a report the caller committed or rejected goes to `cur/`, marked seen
//!   (`name:2,S`, its other flags kept);
//! - a message with no usable CSV ([`MailError::NoCsv`],
//!   [`MailError::SeveralCsv`], [`MailError::Malformed`]) is handed to
//!   `handle` too, so that the failure is logged, and then moved aside to
//!   the Maildir++ folder `.Rejected/cur/`, marked seen;
//! - a message that is not ours ([`MailError::NotMatching`]) is left in
//!   `new/` untouched, and `handle` is not called;
//! - when `handle` cannot record anything ([`HandleError`]: the store
//!   failed), processing stops and the message stays in `new/`, to be read
//!   on the next run.
//!
//! Exactly once is the caller's: it records [`Found::key`] in the same
//! transaction as the data, and looks it up before committing. A process
//! killed between that commit and the rename leaves the message in `new/`;
//! the next run hands it over again with the same key, the caller finds the
//! key already recorded and answers [`Handled::Committed`] without writing,
//! and the message moves on. The key is the `Message-ID`, or a digest of
//! the file's bytes, which nothing here changes.
//!
//! The file is read whole; the mail system delivering into the folder
//! limits message size.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::mail::{Found, MailError, MailRules, csv_attachment};
pub use crate::mail::{HandleError, Handled};

/// The Maildir++ folder that messages with no usable CSV are moved to.
pub const REJECTED_FOLDER: &str = ".Rejected";

/// The caller's part in [`process`]: given the message file and what
/// [`csv_attachment`] found in it, commit the report or record the failure.
pub type Handler<'a> =
    dyn FnMut(&Path, Result<Found, MailError>) -> Result<Handled, HandleError> + 'a;

/// What one [`process`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaildirSummary {
    /// Reports the caller committed, moved to `cur/`.
    pub committed: usize,
    /// Messages rejected, by file name, with why: reports the caller
    /// rejected (moved to `cur/`) and messages with no usable CSV (moved to
    /// `.Rejected/cur/`).
    pub rejected: Vec<(String, String)>,
    /// Messages that are not ours, left in `new/`.
    pub skipped: usize,
}

/// Why a [`process`] run stopped.
#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    /// The folder has no `new/`, `cur/` and `tmp/`.
    #[error(
        "{} is not a maildir (it needs new/, cur/ and tmp/ folders); point the configuration at the folder the mail is delivered to",
        dir.display()
    )]
    NotAMaildir {
        /// The folder.
        dir: PathBuf,
    },
    /// A folder could not be listed or created.
    #[error("could not use the folder {}: {source}; check that it exists and that csip may write to it", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A message could not be read.
    #[error("could not read the message {}: {source}; check its permissions", path.display())]
    Read {
        /// The message file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A message could not be moved after it was handled.
    #[error(
        "could not move the message {} to {}: {source}; its report is recorded, so move it by hand or fix the folder's permissions and run again",
        from.display(),
        to.display()
    )]
    Move {
        /// The message file.
        from: PathBuf,
        /// Where it was going.
        to: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The caller could not record the message's outcome; it stays in
    /// `new/`.
    #[error("stopped at the message {}, left in new/ to be read again: {message}", path.display())]
    Handle {
        /// The message file.
        path: PathBuf,
        /// What the caller said.
        message: String,
    },
}

/// Reads the messages in `dir/new/`, hands each report to `handle`, and
/// moves what was handled (see the module documentation).
pub fn process(
    dir: &Path,
    rules: &MailRules,
    handle: &mut Handler<'_>,
) -> Result<MaildirSummary, MaildirError> {
    if !["new", "cur", "tmp"]
        .iter()
        .all(|sub| dir.join(sub).is_dir())
    {
        return Err(MaildirError::NotAMaildir {
            dir: dir.to_path_buf(),
        });
    }
    let new = dir.join("new");
    let mut names = Vec::new();
    let entries = fs::read_dir(&new).map_err(|source| MaildirError::Folder {
        path: new.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| MaildirError::Folder {
            path: new.clone(),
            source,
        })?;
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && !name.as_encoded_bytes().starts_with(b".") {
            names.push(name);
        }
    }
    names.sort();

    let mut summary = MaildirSummary::default();
    for name in names {
        let path = new.join(&name);
        let raw = match fs::read(&path) {
            Ok(raw) => raw,
            // Taken by another reader of the folder since it was listed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(MaildirError::Read { path, source }),
        };
        let found = csv_attachment(&raw, rules);
        let unusable = match &found {
            Err(MailError::NotMatching { .. }) => {
                summary.skipped += 1;
                continue;
            }
            Err(e) => Some(e.to_string()),
            Ok(_) => None,
        };
        let handled =
            handle(&path, found).map_err(|HandleError(message)| MaildirError::Handle {
                path: path.clone(),
                message,
            })?;
        let file_name = name.to_string_lossy().into_owned();
        let folder = match unusable {
            Some(reason) => {
                summary.rejected.push((file_name, reason));
                rejected_folder(dir)?
            }
            None => {
                match handled {
                    Handled::Committed => summary.committed += 1,
                    Handled::Rejected { reason } => summary.rejected.push((file_name, reason)),
                }
                dir.join("cur")
            }
        };
        let to = folder.join(seen_name(&name.to_string_lossy()));
        match fs::rename(&path, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && !path.exists() => {}
            Err(source) => {
                return Err(MaildirError::Move {
                    from: path,
                    to,
                    source,
                });
            }
        }
    }
    Ok(summary)
}

/// `dir/.Rejected/cur`, the Maildir++ folder made as needed.
fn rejected_folder(dir: &Path) -> Result<PathBuf, MaildirError> {
    let folder = dir.join(REJECTED_FOLDER);
    for sub in ["new", "cur", "tmp"] {
        let path = folder.join(sub);
        fs::create_dir_all(&path).map_err(|source| MaildirError::Folder { path, source })?;
    }
    // Maildir++ marks a subfolder with an empty `maildirfolder` file.
    let marker = folder.join("maildirfolder");
    if !marker.exists() {
        fs::write(&marker, b"").map_err(|source| MaildirError::Folder {
            path: marker,
            source,
        })?;
    }
    Ok(folder.join("cur"))
}

/// A maildir file name with the seen flag: `name:2,FLAGS` with `S` added
/// to the flags it had, sorted.
///
/// ```
/// use csip_ingest::maildir::seen_name;
/// assert_eq!(seen_name("1732428300.M1P2.host"), "1732428300.M1P2.host:2,S");
/// assert_eq!(seen_name("1732428300.M1P2.host:2,TF"), "1732428300.M1P2.host:2,FST");
/// assert_eq!(seen_name("1732428300.M1P2.host:2,S"), "1732428300.M1P2.host:2,S");
/// ```
pub fn seen_name(name: &str) -> String {
    let (base, flags) = name.split_once(":2,").unwrap_or((name, ""));
    let mut flags: Vec<char> = flags.chars().chain(['S']).collect();
    flags.sort_unstable();
    flags.dedup();
    let flags: String = flags.into_iter().collect();
    format!("{base}:2,{flags}")
}
