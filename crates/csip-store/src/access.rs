//! Who may write what (the blueprint's data-governance appendix).
//!
//! | role | reads | writes |
//! |---|---|---|
//! | `viewer` | everything but the audit log | nothing |
//! | `csm` | everything but the audit log | Engagement_Log, Platform_Health_Metrics, Strategic_Objectives and Tasks, except financial fields |
//! | `admin` | everything, the audit log too | everything, financial fields and the schema too |
//!
//! A financial field is a currency column (ARR, ACV, Business_Value_USD,
//! Investment_USD, Annual_Benefit_USD, ...): the rule follows the workbook's
//! types, so a currency column added later is protected without a code change.

use csip_engine::{ColumnType, Op, Transaction, Workbook};
use std::fmt;
use std::str::FromStr;

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
    /// a sentence naming the first operation it may not make and why.
    ///
    /// ```
    /// use csip_engine::Transaction;
    /// use csip_store::Role;
    /// let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
    /// let accounts = wb.table_id("Account_Master").unwrap();
    /// let arr = wb.column_id(accounts, "ARR").unwrap();
    /// let gard = wb.find_rows(accounts, "Gard AS")[0];
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
                    (*table, values.iter().map(|(c, _)| *c).collect())
                }
                Op::Delete { table, .. } => (*table, Vec::new()),
            };
            let name = wb.table_name(table);
            if !CSM_TABLES.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "operation {n}: a csm writes {} only, not `{name}`; an admin can make this change",
                    CSM_TABLES.join(", ")
                ));
            }
            if let Some(c) = columns
                .iter()
                .find(|c| matches!(wb.column_schema(**c).ty, ColumnType::Currency))
            {
                return Err(format!(
                    "operation {n}: `{name}`.`{}` is a financial field; only an admin writes it",
                    wb.column_name(*c)
                ));
            }
        }
        Ok(())
    }
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
