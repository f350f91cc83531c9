//! Leases: one holder of a named duty per workbook file at a time (the
//! scheduler of automations, with two `csip serve` on one file). A lease is
//! a row of `csip_leases` — its holder and when it lapses — taken in one
//! SQLite statement, so two processes cannot both hold it; a holder that
//! dies lets it lapse.

use crate::{Store, StoreError};
use csip_engine::NaiveDateTime;
use rusqlite::{Connection, params};

const TABLE: &str = "CREATE TABLE IF NOT EXISTS csip_leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, until TEXT NOT NULL)";

/// The lease table, in a file made before it existed.
pub(crate) fn add_table(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLE)
}

fn stamp(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

impl Store {
    /// Takes or renews the lease `name` for `holder` until `until`: true
    /// when `holder` holds it now (it was free, lapsed at `now`, or
    /// `holder`'s already), false when another holder's lease runs.
    ///
    /// ```
    /// use csip_store::Store;
    /// let dir = tempfile::tempdir()?;
    /// let today = csip_workbook::sample_today();
    /// let store = Store::create(&dir.path().join("c.db"), csip_workbook::table_files(), csip_workbook::empty(csip_engine::Clock::on(today))?)?;
    /// let at = |h| today.and_hms_opt(h, 0, 0).unwrap();
    /// assert!(store.lease("scheduler", "a", at(8), at(9))?);
    /// assert!(!store.lease("scheduler", "b", at(8), at(9))?);
    /// assert!(store.lease("scheduler", "b", at(10), at(11))?); // a's lapsed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn lease(
        &self,
        name: &str,
        holder: &str,
        now: NaiveDateTime,
        until: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        self.with_conn(|conn| {
            conn.execute_batch(TABLE)?;
            let taken = conn.execute(
                "INSERT INTO csip_leases (name, holder, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                 WHERE csip_leases.holder = excluded.holder OR csip_leases.until <= ?4",
                params![name, holder, stamp(until), stamp(now)],
            )?;
            Ok(taken == 1)
        })
    }
}
