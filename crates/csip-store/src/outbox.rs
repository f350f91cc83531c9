//! The outbox (DESIGN §5 "Outbox"): every message a write causes (a Slack
//! post, later an e-mail) is stored in the file in the same SQLite
//! transaction as the write ([`Store::commit_with_messages`]), under an
//! idempotency key, and delivered afterwards by a dispatcher that knows the
//! transport. A crash never loses a committed message: it is in the file
//! before the write is acknowledged. A message is marked delivered after
//! its transport took it; a dispatcher killed between the two sends it
//! again at the next start — the one window where a message can go out
//! twice (`docs/outbox.md`).
//!
//! [`Store::commit_with_messages`]: crate::Store::commit_with_messages

use crate::StoreError;
use csip_engine::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::Duration;

/// The outbox's table, created in a file written before it.
const TABLE: &str = "CREATE TABLE IF NOT EXISTS csip_outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    transport TEXT NOT NULL,
    address TEXT NOT NULL,
    payload TEXT NOT NULL,
    commit_id INTEGER,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    failed_at TEXT,
    last_error TEXT);
CREATE INDEX IF NOT EXISTS csip_outbox_due ON csip_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;";

/// Times as the outbox stores them: sortable text, to the millisecond.
const TIME: &str = "%Y-%m-%dT%H:%M:%S%.3f";

/// Creates the outbox's table in a file that has none (checked first, so
/// that a reader of a current file writes nothing).
pub(crate) fn add_table(conn: &Connection) -> rusqlite::Result<()> {
    let have: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'csip_outbox'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if have.is_none() {
        conn.execute_batch(TABLE)?;
    }
    Ok(())
}

/// A message a write leaves for delivery: where it goes (a transport, such
/// as `slack`, and an address there, such as a channel) and what it says
/// (JSON, as the transport reads it), under a key that makes it one: a
/// second message with the same key is dropped, never sent twice.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxMessage {
    /// Unique among all messages ever put in the outbox.
    pub key: String,
    /// Which dispatcher delivers it (`slack`).
    pub transport: String,
    /// Where, for that transport (a channel).
    pub address: String,
    /// What, as the transport reads it.
    pub payload: serde_json::Value,
}

impl OutboxMessage {
    /// A message.
    pub fn new(
        key: impl Into<String>,
        transport: impl Into<String>,
        address: impl Into<String>,
        payload: serde_json::Value,
    ) -> OutboxMessage {
        OutboxMessage {
            key: key.into(),
            transport: transport.into(),
            address: address.into(),
            payload,
        }
    }
}

/// Puts messages in the outbox inside the SQLite transaction of the commit
/// that caused them (`commit` its id); a key already there is skipped.
/// Returns how many were new.
pub(crate) fn enqueue(
    tx: &rusqlite::Transaction<'_>,
    commit: i64,
    at: NaiveDateTime,
    messages: &[OutboxMessage],
) -> rusqlite::Result<usize> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO csip_outbox
             (key, transport, address, payload, commit_id, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?;
    let at = at.format(TIME).to_string();
    let mut new = 0;
    for m in messages {
        new += insert.execute(params![
            m.key,
            m.transport,
            m.address,
            m.payload.to_string(),
            commit,
            at
        ])?;
    }
    Ok(new)
}

/// A message due for delivery.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Pending {
    /// Its place in the outbox.
    pub id: i64,
    /// Its idempotency key.
    pub key: String,
    /// The transport that delivers it.
    pub transport: String,
    /// Where to.
    pub address: String,
    /// What.
    pub payload: serde_json::Value,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How a delivery attempt went, as the transport tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The transport took the message.
    Delivered,
    /// Try again: after `after` when the transport said when (Slack's
    /// `Retry-After`), else after the backoff.
    Retry {
        /// When the transport asked to be tried again.
        after: Option<Duration>,
        /// Why it failed (no secret in it).
        error: String,
    },
    /// It will never go (a channel that does not exist, a revoked token).
    Failed {
        /// Why.
        error: String,
    },
}

/// What became of a message after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Delivered.
    Delivered,
    /// To be tried again at this time.
    RetryAt(NaiveDateTime),
    /// Given up, with the reason: failed for good, or out of attempts.
    Failed(String),
}

/// When failed deliveries are tried again: after `first`, then twice as
/// long each time up to `max`, each delay taken at random between its half
/// and its whole (jitter, so that retries of many messages spread out);
/// after `attempts` attempts, the message fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
    /// Attempts before a message fails.
    pub attempts: u32,
}

impl Default for Backoff {
    /// 2 s, 4 s, 8 s, ... up to 1 hour; 10 attempts (about 1.5 hours in all).
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(3600),
            attempts: 10,
        }
    }
}

impl Backoff {
    /// The delay after the `attempts`th failed attempt (1 for the first),
    /// with `jitter` in `[0, 1]` choosing between half (0) and all (1) of it.
    ///
    /// ```
    /// use csip_store::Backoff;
    /// use std::time::Duration;
    /// let b = Backoff::default();
    /// assert_eq!(b.delay(1, 1.0), Duration::from_secs(2));
    /// assert_eq!(b.delay(3, 0.0), Duration::from_secs(4)); // half of 8 s
    /// assert_eq!(b.delay(40, 1.0), Duration::from_secs(3600));
    /// ```
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(30));
        let full = doubled.min(self.max);
        let share = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
        // Rounded to the millisecond: the outbox keeps times to that.
        Duration::from_millis((full.as_millis() as f64 * share).ceil() as u64).min(full)
    }
}

/// How one message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its next attempt.
    Pending,
    /// Delivered.
    Delivered,
    /// Given up.
    Failed,
}

impl Status {
    /// Its name (`pending`, `delivered`, `failed`).
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }
}

/// One message of the outbox, as `csip outbox list` shows it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// Its place.
    pub id: i64,
    /// Its idempotency key.
    pub key: String,
    /// Its transport.
    pub transport: String,
    /// Its address.
    pub address: String,
    /// What it says (JSON).
    pub payload: String,
    /// The commit that caused it.
    pub commit: Option<i64>,
    /// When it was put in.
    pub created_at: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it is next tried (while pending).
    pub next_attempt_at: String,
    /// When it was delivered.
    pub delivered_at: Option<String>,
    /// When it was given up.
    pub failed_at: Option<String>,
    /// Why its last attempt failed.
    pub last_error: Option<String>,
}

impl Entry {
    /// How it stands.
    pub fn status(&self) -> Status {
        match (&self.delivered_at, &self.failed_at) {
            (Some(_), _) => Status::Delivered,
            (None, Some(_)) => Status::Failed,
            (None, None) => Status::Pending,
        }
    }
}

/// A workbook file's outbox, on a connection of its own (a dispatcher
/// delivers without waiting for the writer).
///
/// ```
/// use csip_engine::Transaction;
/// use csip_store::{Backoff, Outbox, OutboxMessage, Outcome, Settled, Store};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("csip.db");
/// let today = csip_workbook::sample_today();
/// let mut store = Store::create(&path, csip_workbook::table_files(), csip_workbook::pilot(today)?)?;
/// let wb = store.workbook();
/// let arr = wb.column_id(wb.table_id("Account_Master")?, "ARR")?;
/// let gard = wb.find_rows(wb.table_id("Account_Master")?, "Gard AS")?[0];
/// let at = today.and_hms_opt(9, 0, 0).unwrap();
/// // The write and its message, in one SQLite transaction.
/// store.commit_with_messages(Transaction::new().set(arr, gard, 2_000_000), "kari", at, |_, _| {
///     vec![OutboxMessage::new("arr-gard-1", "slack", "#cs-updates", serde_json::json!({"text": "ARR set"}))]
/// })?;
/// let outbox = Outbox::open(&path)?;
/// let due = outbox.due(at, 10)?;
/// assert_eq!(due[0].key, "arr-gard-1");
/// // The dispatcher hands it to its transport, then settles it.
/// let settled = outbox.settle(due[0].id, &Outcome::Delivered, at, &Backoff::default(), 0.5)?;
/// assert_eq!(settled, Settled::Delivered);
/// assert!(outbox.due(at, 10)?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Outbox {
    conn: crate::sqlite::SideConn,
}

impl Outbox {
    /// Opens the file's outbox.
    ///
    /// # Errors
    ///
    /// The file is not a workbook file, or SQLite cannot open it.
    pub fn open(path: &Path) -> Result<Outbox, StoreError> {
        Ok(Outbox {
            conn: crate::sqlite::SideConn::open(path)?,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        self.conn.with(f)
    }

    /// The messages due at `now` (pending, their next attempt not later),
    /// oldest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// SQLite could not read the file.
    pub fn due(&self, now: NaiveDateTime, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let now = now.format(TIME).to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut q = c.prepare_cached(
                "SELECT id, key, transport, address, payload, attempts FROM csip_outbox
                 WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2",
            )?;
            let rows = q.query_map(params![now, limit], |r| {
                let payload: String = r.get(4)?;
                Ok(Pending {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    transport: r.get(2)?,
                    address: r.get(3)?,
                    // Written by `enqueue` from JSON: it reads back.
                    payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                    attempts: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Records how an attempt at message `id` went, at `now`: delivered;
    /// to be tried again (when the transport said, else after `backoff`,
    /// with `jitter` in `[0, 1]`), or failed when it is out of attempts;
    /// or failed for good. Returns what became of it.
    ///
    /// # Errors
    ///
    /// SQLite could not write the file.
    pub fn settle(
        &self,
        id: i64,
        outcome: &Outcome,
        now: NaiveDateTime,
        backoff: &Backoff,
        jitter: f64,
    ) -> Result<Settled, StoreError> {
        let at = now.format(TIME).to_string();
        self.with(|c| {
            let attempts: u32 = c
                .query_row(
                    "SELECT attempts FROM csip_outbox WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0)
                + 1;
            let settled = match outcome {
                Outcome::Delivered => {
                    c.execute(
                        "UPDATE csip_outbox SET attempts = ?2, delivered_at = ?3 WHERE id = ?1",
                        params![id, attempts, at],
                    )?;
                    Settled::Delivered
                }
                Outcome::Retry { error, .. } if attempts >= backoff.attempts => {
                    let reason = format!("gave up after {attempts} attempts: {error}");
                    c.execute(
                        "UPDATE csip_outbox SET attempts = ?2, failed_at = ?3, last_error = ?4 WHERE id = ?1",
                        params![id, attempts, at, reason],
                    )?;
                    Settled::Failed(reason)
                }
                Outcome::Retry { after, error } => {
                    let delay = after.unwrap_or_else(|| backoff.delay(attempts, jitter));
                    let next = now
                        + csip_engine::TimeDelta::from_std(delay)
                            .unwrap_or(csip_engine::TimeDelta::MAX);
                    c.execute(
                        "UPDATE csip_outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
                        params![id, attempts, next.format(TIME).to_string(), error],
                    )?;
                    Settled::RetryAt(next)
                }
                Outcome::Failed { error } => {
                    c.execute(
                        "UPDATE csip_outbox SET attempts = ?2, failed_at = ?3, last_error = ?4 WHERE id = ?1",
                        params![id, attempts, at, error],
                    )?;
                    Settled::Failed(error.clone())
                }
            };
            Ok(settled)
        })
    }

    /// The messages, newest first, at most `limit`; only those of `status`
    /// when one is given.
    ///
    /// # Errors
    ///
    /// SQLite could not read the file.
    pub fn list(&self, status: Option<Status>, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let filter = match status {
            None => "",
            Some(Status::Pending) => "WHERE delivered_at IS NULL AND failed_at IS NULL",
            Some(Status::Delivered) => "WHERE delivered_at IS NOT NULL",
            Some(Status::Failed) => "WHERE delivered_at IS NULL AND failed_at IS NOT NULL",
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut q = c.prepare(&format!(
                "SELECT id, key, transport, address, payload, commit_id, created_at, attempts,
                        next_attempt_at, delivered_at, failed_at, last_error
                 FROM csip_outbox {filter} ORDER BY id DESC LIMIT ?1"
            ))?;
            let rows = q.query_map(params![limit], |r| {
                Ok(Entry {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    transport: r.get(2)?,
                    address: r.get(3)?,
                    payload: r.get(4)?,
                    commit: r.get(5)?,
                    created_at: r.get(6)?,
                    attempts: r.get(7)?,
                    next_attempt_at: r.get(8)?,
                    delivered_at: r.get(9)?,
                    failed_at: r.get(10)?,
                    last_error: r.get(11)?,
                })
            })?;
            rows.collect()
        })
    }
}
