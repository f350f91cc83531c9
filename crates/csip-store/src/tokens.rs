//! API tokens: issued to People_Team members, kept as SHA-256 hashes,
//! checked on every request, listed and revoked on the file.

use crate::sqlite::{BUSY_TIMEOUT, open_conn, quote, stored_schema};
use crate::{Principal, Role, Store, StoreError};
use csip_engine::{Clock, NaiveDateTime, TableId, Workbook};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An API token as `csip token list` shows it: never the token or its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its id in the file (what `csip token revoke` takes).
    pub id: i64,
    /// The People_Team member it was issued to.
    pub person: String,
    /// What it may do.
    pub role: Role,
    /// When it was issued (ISO 8601, UTC, as the issuer's clock said).
    pub created: String,
    /// When it was last accepted, to the minute (see [`Tokens::authenticate`]);
    /// `None` if never.
    pub last_used: Option<String>,
    /// Whether it is revoked: refused from then on.
    pub revoked: bool,
    /// When it was revoked, if `csip token revoke` did it.
    pub revoked_at: Option<String>,
}

impl Store {
    /// Issues an API token for a People_Team member (by name) with a role,
    /// and returns it: this is the only time it is shown; the file keeps its
    /// SHA-256 hash.
    pub fn create_token(
        &mut self,
        person: &str,
        role: Role,
        at: NaiveDateTime,
    ) -> Result<String, StoreError> {
        let people = self
            .wb
            .table_id("People_Team")
            .map_err(|e| StoreError::NotFound(e.to_string()))?;
        let name = canonical_name(&self.wb, people, person)?;
        let path = self.path.clone();
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        insert_token(&path, conn, &name, role, at)
    }

    /// [`Store::create_token`] on a file, without loading its rows: the
    /// person is looked up in SQL (by the People_Team display column).
    pub fn issue_token(
        path: &Path,
        person: &str,
        role: Role,
        at: NaiveDateTime,
    ) -> Result<String, StoreError> {
        let conn = open_conn(path)?;
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let schema = stored_schema(path, &conn)?;
        let probe = Workbook::new(&schema, Clock::at(at)).map_err(|e| StoreError::Load {
            path: path.to_path_buf(),
            source: Box::new(e.into()),
        })?;
        let people = probe
            .table_id("People_Team")
            .ok()
            .ok_or_else(|| StoreError::NotFound("this workbook has no People_Team table".into()))?;
        let name = match probe.display_column(people).ok().flatten() {
            Some(c) if !probe.is_formula(c).unwrap_or(false) => conn
                .query_row(
                    &format!(
                        "SELECT {col} FROM {} WHERE trim({col}) = trim(?1) COLLATE NOCASE LIMIT 1",
                        quote(probe.table_name(people).unwrap_or_default()),
                        col = quote(probe.column_name(c).unwrap_or_default())
                    ),
                    params![person],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(sql)?
                .ok_or_else(|| not_a_person(person))?,
            // A computed name needs the workbook calculated.
            _ => {
                let store = Store::open(path, Clock::at(at))?;
                canonical_name(&store.wb, people, person)?
            }
        };
        insert_token(path, &conn, &name, role, at)
    }

    /// The holder of a token, if it is one this file issued and has not
    /// revoked; records `now` (the caller's clock) as its last use, as
    /// [`Tokens::authenticate`] does.
    pub fn authenticate(
        &self,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<Option<Principal>, StoreError> {
        self.with_conn(|c| holder(c, token, now))
    }

    /// The file's API tokens, oldest first, without loading its rows: who,
    /// which role, when issued, last used and revoked. Never the token or
    /// its hash.
    pub fn tokens(path: &Path) -> Result<Vec<TokenInfo>, StoreError> {
        let conn = open_conn(path)?;
        let mut stmt = conn
            .prepare(
                "SELECT id, person, role, created, last_used, revoked, revoked_at
                 FROM csip_tokens ORDER BY id",
            )
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })?;
        let rows = stmt
            .query_map([], token_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })?;
        rows.into_iter().map(|r| token_info(path, r)).collect()
    }

    /// Revokes token `id` as of `at`: every request with it is refused from
    /// then on (each request reads the file; nothing caches a token). An
    /// unknown id is [`StoreError::NotFound`]; a token revoked before is
    /// [`StoreError::AlreadyRevoked`] and nothing changes.
    pub fn revoke_token(path: &Path, id: i64, at: NaiveDateTime) -> Result<TokenInfo, StoreError> {
        let mut conn = open_conn(path)?;
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let found = tx
            .query_row(
                "SELECT id, person, role, created, last_used, revoked, revoked_at
                 FROM csip_tokens WHERE id = ?1",
                params![id],
                token_row,
            )
            .optional()
            .map_err(sql)?;
        let Some(row) = found else {
            return Err(StoreError::NotFound(format!(
                "{} has no token {id}; `csip token list --db {}` shows its tokens",
                path.display(),
                path.display()
            )));
        };
        let mut info = token_info(path, row)?;
        if info.revoked {
            return Err(StoreError::AlreadyRevoked {
                id,
                at: info.revoked_at,
            });
        }
        let stamp = timestamp(at);
        tx.execute(
            "UPDATE csip_tokens SET revoked = 1, revoked_at = ?1 WHERE id = ?2",
            params![stamp, id],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        info.revoked = true;
        info.revoked_at = Some(stamp);
        Ok(info)
    }
}

/// The person's name as People_Team writes it.
fn canonical_name(wb: &Workbook, people: TableId, person: &str) -> Result<String, StoreError> {
    let row = *wb
        .find_rows(people, person)
        .unwrap_or_default()
        .first()
        .ok_or_else(|| not_a_person(person))?;
    Ok(wb
        .display_column(people)
        .ok()
        .flatten()
        .and_then(|c| wb.value(c, row).ok())
        .map_or_else(|| person.trim().to_string(), |v| wb.display(v)))
}

/// Checks API tokens against a workbook file on a connection of its own, so
/// that a service can tell who is calling without waiting for the workbook
/// (a write holds it while it syncs).
#[derive(Debug)]
pub struct Tokens {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Tokens {
    /// Opens the file's tokens.
    pub fn open(path: &Path) -> Result<Tokens, StoreError> {
        Ok(Tokens {
            path: path.to_path_buf(),
            conn: Mutex::new(open_conn(path)?),
        })
    }

    /// The holder of a token, if it is one this file issued and has not
    /// revoked (read from the file on every call, so a revoke takes effect
    /// at once). `now`, the caller's clock, is recorded as the token's last
    /// use, at most once a minute per token; recording it never delays or
    /// fails the answer (a file busy with a write skips it, and the next use
    /// records it).
    pub fn authenticate(
        &self,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<Option<Principal>, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        holder(&conn, token, now).map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }
}

/// The unrevoked holder of a token, by its hash; its use at `now` noted.
fn holder(
    conn: &Connection,
    token: &str,
    now: NaiveDateTime,
) -> rusqlite::Result<Option<Principal>> {
    let found: Option<(i64, String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, person, role, last_used FROM csip_tokens WHERE hash = ?1 AND revoked = 0",
        )?
        .query_row(params![token_hash(token.trim())], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((token_id, person, role, last_used)) = found else {
        return Ok(None);
    };
    let Ok(role) = role.parse() else {
        return Ok(None);
    };
    note_use(conn, token_id, last_used.as_deref(), now);
    Ok(Some(Principal {
        token_id,
        person,
        role,
    }))
}

/// Records `now` as a token's last use unless the stored one is less than
/// a minute older. Best effort: the file being busy with a write (it is
/// not waited for) or any other failure leaves the old value, and the
/// caller's request goes on.
fn note_use(conn: &Connection, id: i64, last_used: Option<&str>, now: NaiveDateTime) {
    // One write a minute per token at most, however many requests it sends.
    let due = timestamp(
        now.checked_sub_signed(csip_engine::TimeDelta::minutes(1))
            .unwrap_or(now),
    );
    if last_used.is_some_and(|l| l > due.as_str()) {
        return;
    }
    if conn.busy_timeout(std::time::Duration::ZERO).is_err() {
        return;
    }
    let _ = conn
        .prepare_cached(
            "UPDATE csip_tokens SET last_used = ?1
             WHERE id = ?2 AND (last_used IS NULL OR last_used <= ?3)",
        )
        .and_then(|mut stmt| stmt.execute(params![timestamp(now), id, due]));
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
}

/// A time as the file writes it: ISO 8601 to the second, which sorts as text.
fn timestamp(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A `csip_tokens` row as read: id, person, role, created, last used,
/// revoked, revoked at.
type TokenRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
);

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get::<_, i64>(5)? != 0,
        r.get(6)?,
    ))
}

fn token_info(path: &Path, row: TokenRow) -> Result<TokenInfo, StoreError> {
    let (id, person, role, created, last_used, revoked, revoked_at) = row;
    let role = role.parse().map_err(|message| StoreError::Corrupt {
        path: path.to_path_buf(),
        table: "csip_tokens".into(),
        row: id,
        column: "role".into(),
        message,
    })?;
    Ok(TokenInfo {
        id,
        person,
        role,
        created,
        last_used,
        revoked,
        revoked_at,
    })
}

fn not_a_person(person: &str) -> StoreError {
    StoreError::NotFound(format!(
        "`{person}` is not in People_Team; add them first, or check the spelling"
    ))
}

fn insert_token(
    path: &Path,
    conn: &Connection,
    person: &str,
    role: Role,
    at: NaiveDateTime,
) -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::NotAWorkbook {
        path: path.to_path_buf(),
        message: format!("no randomness for a token: {e}"),
    })?;
    let token = format!("csip_{}", hex(&bytes));
    conn.execute(
        "INSERT INTO csip_tokens (hash, person, role, created) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash(&token), person, role.name(), timestamp(at)],
    )
    .map_err(|source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(token)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Columns `csip_tokens` gained within format 2, added to a file written
/// before them (`ALTER TABLE ... ADD COLUMN`: older csip versions read the
/// file as before and ignore them).
const TOKEN_COLUMNS: [&str; 2] = ["last_used", "revoked_at"];

pub(crate) fn add_token_columns(conn: &mut Connection) -> rusqlite::Result<()> {
    let missing = |conn: &Connection| -> rusqlite::Result<Vec<&'static str>> {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('csip_tokens')")?;
        let have = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(TOKEN_COLUMNS
            .into_iter()
            .filter(|c| !have.iter().any(|h| h.eq_ignore_ascii_case(c)))
            .collect())
    };
    if missing(conn)?.is_empty() {
        return Ok(());
    }
    // Checked again under the write lock: another process may be adding them.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for column in missing(&tx)? {
        tx.execute_batch(&format!("ALTER TABLE csip_tokens ADD COLUMN {column} TEXT"))?;
    }
    tx.commit()
}
