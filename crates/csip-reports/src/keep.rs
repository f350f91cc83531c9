//! Keeping a report (the commit side of the buttons, shared by `csip qbr`,
//! `csip roi` and the service's actions): the files go to the store's file
//! area and their links to the account's `Attachments`, the ROI's sums to
//! the account, and an e-mail with the files (when asked) to the outbox —
//! all in one commit, so that the account never lists a file the store does
//! not have and an e-mail is sent for a kept report only, once.

use crate::{ReportError, ReportFile};
use csip_engine::{NaiveDateTime, RowId, Transaction, Value};
use csip_store::{NewFile, OutboxMessage, Store};
use serde_json::json;

/// An e-mail with a report's files attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// The recipients' addresses.
    pub to: Vec<String>,
    /// The subject; by default the report's title.
    pub subject: String,
    /// The text of the message.
    pub body: String,
}

impl Email {
    /// An e-mail to `to`, or `None` when the list is empty.
    pub fn to(to: &[String], subject: String, body: String) -> Option<Email> {
        (!to.is_empty()).then(|| Email {
            to: to.to_vec(),
            subject,
            body,
        })
    }
}

/// The outbox transport that e-mails go through ([`crate::mail`] delivers them).
pub const EMAIL: &str = "email";

/// What a report leaves in the workbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// The commit, or `None` when nothing changed (the same files were
    /// already listed and nothing else was written).
    pub commit: Option<i64>,
    /// Each file's id and link (`/api/v1/files/{id}/{name}`), in order.
    pub files: Vec<(String, String)>,
    /// Whether an e-mail was put in the outbox (not when the same files
    /// were already e-mailed to the same people).
    pub emailed: bool,
}

/// Keeps `files` for the account `row` (and writes `also`, the ROI's sums,
/// in the same commit) as `actor` at `at`; with `email`, an e-mail with the
/// files attached goes to the outbox in that commit, keyed by the files and
/// the recipients so that the same report is never e-mailed twice to the
/// same people.
///
/// # Errors
///
/// A recipient that is not an e-mail address, a workbook without the
/// Attachments column (`csip upgrade`), or the store's errors.
pub fn keep(
    store: &mut Store,
    row: RowId,
    files: &[ReportFile],
    also: Transaction,
    email: Option<&Email>,
    actor: &str,
    at: NaiveDateTime,
) -> Result<Kept, ReportError> {
    if let Some(e) = email {
        if e.to.is_empty() {
            return Err(ReportError::Email(
                "give at least one address to e-mail the report to".into(),
            ));
        }
        for to in &e.to {
            if !plausible_address(to) {
                return Err(ReportError::Email(format!(
                    "`{to}` is not an e-mail address (name@example.com)"
                )));
            }
        }
    }
    let wb = store.workbook();
    let accounts = wb
        .table_id("Account_Master")
        .map_err(|e| ReportError::workbook("Account_Master", e))?;
    let column = wb
        .column_id(accounts, "Attachments")
        .map_err(|e| ReportError::workbook("Attachments", e))?;
    let new: Vec<NewFile> = files
        .iter()
        .map(|f| NewFile {
            name: f.name.clone(),
            media_type: f.media_type.to_string(),
            bytes: f.bytes.clone(),
            table: "Account_Master".into(),
            row,
        })
        .collect();
    let mut links: Vec<Value> = match wb.value(column, row) {
        Ok(Value::List(items)) => items.to_vec(),
        Ok(Value::Blank) | Err(_) => Vec::new(),
        Ok(one) => vec![one.clone()],
    };
    for f in &new {
        let link = Value::from(f.link().as_str());
        if !links.contains(&link) {
            links.push(link);
        }
    }
    let tx = also.set(column, row, Value::List(links.into()));
    let ids: Vec<(String, String)> = new.iter().map(|f| (f.id(), f.link())).collect();
    let message = email.map(|e| {
        let mut recipients = e.to.clone();
        recipients.sort();
        let key = format!(
            "email:{}:{}",
            ids.iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join("+"),
            recipients.join(",")
        );
        OutboxMessage::new(
            key,
            EMAIL,
            recipients.join(", "),
            json!({
                "to": e.to,
                "subject": e.subject,
                "body": e.body,
                "attachments": new.iter().map(|f| json!({
                    "file": f.id(),
                    "name": f.name,
                    "media_type": f.media_type,
                })).collect::<Vec<_>>(),
            }),
        )
    });
    let emailed = message.is_some();
    let before = store.commit_id();
    store
        .commit_with_files(tx, actor, at, new, |_, _| message.into_iter().collect())
        .map_err(ReportError::Store)?;
    let after = store.commit_id();
    Ok(Kept {
        commit: (after != before).then_some(after),
        files: ids,
        emailed: emailed && after != before,
    })
}

/// Whether `text` looks like one e-mail address (`local@domain.tld`, no
/// spaces, no angle brackets or line breaks that could forge a header).
pub fn plausible_address(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.len() <= 254
        && text.matches('@').count() == 1
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
}

#[cfg(test)]
mod tests {
    use super::plausible_address;

    #[test]
    fn addresses() {
        assert!(plausible_address("kari@example.com"));
        assert!(!plausible_address("kari@example"));
        assert!(!plausible_address("kari example.com"));
        assert!(!plausible_address("a@b.com\r\nBcc: x@y.com"));
        assert!(!plausible_address("<a@b.com>"));
        assert!(!plausible_address("a@@b.com"));
    }
}
