//! Who may write what (the blueprint's data-governance appendix).
//!
//! | role | reads | writes | the token's person must be, in People_Team |
//! |---|---|---|---|
//! | `viewer` | everything but the audit log | nothing | there, and active |
//! | `csm` | everything but the audit log | Engagement_Log, Platform_Health_Metrics, Strategic_Objectives and Tasks, except financial fields | there, active, and Role = CSM |
//! | `admin` | everything, the audit log too | everything, financial fields and the schema too | there, and active |
//!
//! A financial field is a currency column (ARR, ACV, Business_Value_USD,
//! Investment_USD, Annual_Benefit_USD, ...): the rule follows the workbook's
//! types, so a currency column added later is protected without a code change.
//!
//! A delete writes too: it clears the row from every relation cell that
//! refers to it ([`Workbook::references_to`]), and a csm's delete that would
//! clear cells outside what a csm writes is refused, naming them
//! ([`Role::check`]). The last column is [`Principal::still_fits`]: the
//! person is found by People_Team's display column (case and spacing aside),
//! "active" is Active_Status not off.

use csip_engine::{ColumnId, ColumnType, Op, Transaction, Value, Workbook};
use std::fmt;
use std::str::FromStr;

/// Who a token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's id in the file (what `csip token list` shows and
    /// `csip token revoke` takes).
    pub token_id: i64,
    /// The People_Team member the token was issued to.
    pub person: String,
    /// What they may do.
    pub role: Role,
}

/// Why a token's holder no longer fits the token (see [`Principal::still_fits`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    /// The workbook has no People_Team table to find the person in.
    #[error(
        "this workbook has no People_Team table, so the token's person cannot be found; tokens need one"
    )]
    NoPeopleTable,
    /// No People_Team row names the person any more.
    #[error(
        "`{0}` is no longer in People_Team, so their token is refused; an admin can issue a token to someone who is"
    )]
    Gone(String),
    /// The person's Active_Status is off.
    #[error(
        "`{0}` is not active in People_Team (Active_Status is off), so their token is refused; an admin can reactivate them"
    )]
    Inactive(String),
    /// A csm token whose person's People_Team role is no longer CSM.
    #[error(
        "a csm token needs People_Team.Role = CSM, and `{person}` has {role}, so the token is refused; an admin can issue one that fits"
    )]
    NotACsm {
        /// The person.
        person: String,
        /// Their role now, as People_Team writes it (`no role` when Blank).
        role: String,
    },
}

impl Principal {
    /// Whether the token's person still fits it in `wb`: found in
    /// People_Team (by its display column, ignoring case and spacing),
    /// active (Active_Status not off), and for a `csm` token with Role =
    /// CSM. Several rows with the person's name fit if one of them does.
    ///
    /// ```
    /// use csip_store::{Principal, Role, Unfit};
    /// let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
    /// let kari = |role| Principal { token_id: 1, person: "kari  NORDMANN".into(), role };
    /// assert_eq!(kari(Role::Csm).still_fits(&wb), Ok(()));
    /// let ghost = Principal { token_id: 2, person: "Nobody".into(), role: Role::Viewer };
    /// assert!(matches!(ghost.still_fits(&wb), Err(Unfit::Gone(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn still_fits(&self, wb: &Workbook) -> Result<(), Unfit> {
        let people = wb
            .table_id("People_Team")
            .ok()
            .ok_or(Unfit::NoPeopleTable)?;
        let name_column = wb
            .display_column(people)
            .ok()
            .flatten()
            .ok_or(Unfit::NoPeopleTable)?;
        let wanted = folded(&self.person);
        let active = wb.column_id(people, "Active_Status").ok();
        let role = wb.column_id(people, "Role").ok();
        let mut first_problem = None;
        for &row in wb.rows(people).unwrap_or_default() {
            let Some(name) = wb.value(name_column, row).ok() else {
                continue;
            };
            if folded(&wb.display(name)) != wanted {
                continue;
            }
            let problem = if active.and_then(|c| wb.value(c, row).ok()) == Some(&Value::Bool(false))
            {
                Some(Unfit::Inactive(self.person.clone()))
            } else if self.role == Role::Csm {
                let holds = role
                    .and_then(|c| wb.value(c, row).ok())
                    .map(|v| wb.display(v))
                    .unwrap_or_default();
                if holds.trim().eq_ignore_ascii_case("CSM") {
                    None
                } else {
                    Some(Unfit::NotACsm {
                        person: self.person.clone(),
                        role: if holds.trim().is_empty() {
                            "no role".into()
                        } else {
                            format!("the role {}", holds.trim())
                        },
                    })
                }
            } else {
                None
            };
            match problem {
                None => return Ok(()),
                Some(p) => {
                    first_problem.get_or_insert(p);
                }
            }
        }
        Err(first_problem.unwrap_or_else(|| Unfit::Gone(self.person.clone())))
    }
}

/// A name as compared: lower case, runs of spaces as one, no spaces around.
fn folded(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tables a CSM writes.
pub const CSM_TABLES: [&str; 4] = [
    "Engagement_Log",
    "Platform_Health_Metrics",
    "Strategic_Objectives",
    "Tasks",
];

/// What a token holder may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Reads and writes everything, reads the audit log.
    Admin,
    /// Writes engagements, metrics, objectives and tasks (no financial fields).
    Csm,
    /// Reads only.
    Viewer,
}

impl Role {
    /// The role's name as tokens store it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Csm => "csm",
            Role::Viewer => "viewer",
        }
    }

    /// Whether the role may read the audit log.
    pub fn reads_audit(self) -> bool {
        self == Role::Admin
    }

    /// Checks every operation of a transaction against the role; the error is
    /// a sentence naming the first operation it may not make and why. A
    /// delete is checked for what it writes too: the relation cells of
    /// other rows that refer to the deleted one, which it clears.
    ///
    /// ```
    /// use csip_engine::Transaction;
    /// use csip_store::Role;
    /// let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
    /// let accounts = wb.table_id("Account_Master")?;
    /// let arr = wb.column_id(accounts, "ARR")?;
    /// let gard = wb.find_rows(accounts, "Gard AS")?[0];
    /// let raise = Transaction::new().set(arr, gard, 2_000_000);
    /// assert!(Role::Admin.check(&wb, &raise).is_ok());
    /// assert!(Role::Csm.check(&wb, &raise).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(self, wb: &Workbook, tx: &Transaction) -> Result<(), String> {
        if self == Role::Admin {
            return Ok(());
        }
        for (i, op) in tx.ops().iter().enumerate() {
            let n = i + 1;
            if self == Role::Viewer {
                return Err(format!(
                    "operation {n}: a viewer reads only; ask an admin for a csm or admin token to write"
                ));
            }
            let (table, columns): (_, Vec<_>) = match op {
                Op::Set { column, .. } => (wb.column_table(*column), vec![*column]),
                Op::Insert { table, values, .. } => {
                    (Ok(*table), values.iter().map(|(c, _)| *c).collect())
                }
                Op::Delete { table, .. } => (Ok(*table), Vec::new()),
                // Also what csip-store's own `upgrade` does, with the file in hand.
                _ => {
                    return Err(format!("operation {n}: only an admin changes the schema"));
                }
            };
            // An id of another workbook is refused here as the write would refuse it.
            let name = table
                .and_then(|t| wb.table_name(t))
                .map_err(|e| format!("operation {n}: {e}"))?;
            if !CSM_TABLES.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "operation {n}: a csm writes {} only, not `{name}`; an admin can make this change",
                    CSM_TABLES.join(", ")
                ));
            }
            if let Some(c) = columns.iter().find(|c| {
                wb.column_schema(**c)
                    .is_ok_and(|s| matches!(s.ty, ColumnType::Currency))
            }) {
                return Err(format!(
                    "operation {n}: `{name}`.`{}` is a financial field; only an admin writes it",
                    wb.column_name(*c).unwrap_or_default()
                ));
            }
            if let Op::Delete { table, row } = op {
                let cleared = csm_may_not_write(wb, &wb.references_to(*table, *row));
                if !cleared.is_empty() {
                    let named: Vec<String> = cleared
                        .iter()
                        .map(|(c, rows)| {
                            format!(
                                "`{}`.`{}` ({rows} row{})",
                                wb.column_table(*c)
                                    .and_then(|t| wb.table_name(t))
                                    .unwrap_or_default(),
                                wb.column_name(*c).unwrap_or_default(),
                                if *rows == 1 { "" } else { "s" }
                            )
                        })
                        .collect();
                    return Err(format!(
                        "operation {n}: deleting this `{name}` row would also clear it from {}, which a csm may not write; an admin can make this delete",
                        named.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The columns among `cells` that a csm may not write (outside
/// [`CSM_TABLES`], or financial), each with how many of the cells are in it,
/// in the order first met.
fn csm_may_not_write(
    wb: &Workbook,
    cells: &[(ColumnId, csip_engine::RowId)],
) -> Vec<(ColumnId, usize)> {
    let mut out: Vec<(ColumnId, usize)> = Vec::new();
    for (c, _) in cells {
        let table = wb
            .column_table(*c)
            .and_then(|t| wb.table_name(t))
            .unwrap_or_default();
        let writable = CSM_TABLES.iter().any(|t| t.eq_ignore_ascii_case(table))
            && wb
                .column_schema(*c)
                .is_ok_and(|s| !matches!(s.ty, ColumnType::Currency));
        if writable {
            continue;
        }
        match out.iter_mut().find(|(seen, _)| seen == c) {
            Some((_, n)) => *n += 1,
            None => out.push((*c, 1)),
        }
    }
    out
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "csm" => Ok(Role::Csm),
            "viewer" => Ok(Role::Viewer),
            _ => Err(format!("`{s}` is not a role; use admin, csm or viewer")),
        }
    }
}
