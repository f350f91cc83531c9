//! The dashboards' forms: each write is a transaction built against the
//! workbook, checked against the caller's role (`Role::check`) and
//! committed through the group commit with the caller as its actor — the
//! REST API's path, so it is audited the same way. A viewer's POST is 403;
//! a session's POST without its CSRF token is 403. Each answers 303 back to
//! the page it came from.

use super::pages::error_page;
use super::session::{Caller, caller, check_csrf};
use crate::{ApiError, App, Build};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use csip_engine::{RowId, Transaction, Value, Workbook};
use std::collections::HashMap;
use std::sync::Arc;

type Fields = HashMap<String, String>;

/// The caller of a form that writes: signed in, with the session's CSRF
/// token, in a role that writes.
async fn writer(app: &App, headers: &HeaderMap, form: &Fields) -> Result<Caller, Response> {
    let caller = caller(app, headers).await?;
    check_csrf(&caller, form).map_err(|e| error_page(&e))?;
    if !super::may_write(caller.principal.role) {
        return Err(error_page(&ApiError::forbidden(format!(
            "{} holds a viewer token, which reads only; ask an admin for a csm or admin token to write",
            caller.principal.person
        ))));
    }
    Ok(caller)
}

/// Commits the transaction `make` builds (again, once, when another process
/// committed to the file first), checked against the caller's role.
async fn commit(
    app: &App,
    caller: &Caller,
    make: impl Fn(&Workbook) -> Result<Transaction, ApiError> + Send + Sync + 'static,
) -> Result<i64, ApiError> {
    let (app, principal) = (app.clone(), caller.principal.clone());
    let make = Arc::new(make);
    tokio::task::spawn_blocking(move || {
        let build = || -> Build {
            let (make, principal) = (make.clone(), principal.clone());
            Box::new(move |wb: &Workbook| {
                let tx = make(wb)?;
                principal.role.check(wb, &tx).map_err(ApiError::forbidden)?;
                Ok(tx)
            })
        };
        let answer = || -> crate::Answer { Box::new(|_, _, _| serde_json::Value::Null) };
        let first = app.commit_grouped(build(), principal.person.clone(), answer(), None);
        let done = match first {
            Err(e) if e.status == StatusCode::CONFLICT => {
                app.commit_grouped(build(), principal.person.clone(), answer(), None)
            }
            other => other,
        };
        done.map(|(_, commit, _)| commit)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the write failed: {e}")))?
}

fn lookup(wb: &Workbook, table: &str, column: &str) -> Result<csip_engine::ColumnId, ApiError> {
    let t = wb
        .table_id(table)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    wb.column_id(t, column)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// A form's text as a value of `column`, naming the field when it does not fit.
fn parse(
    wb: &Workbook,
    column: csip_engine::ColumnId,
    field: &str,
    text: &str,
) -> Result<Value, ApiError> {
    if text.trim().is_empty() {
        return Ok(Value::Blank);
    }
    wb.parse_text(column, text.trim())
        .map_err(|m| ApiError::bad_request(format!("{}: {m}", field.replace('_', " "))))
}

/// `POST /ui/accounts/{row_id}/engagements`: one Engagement_Log row.
pub(crate) async fn log_engagement(
    State(app): State<App>,
    headers: HeaderMap,
    Path(row): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    let caller = match writer(&app, &headers, &form).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let person = caller.principal.person.clone();
    let written = commit(&app, &caller, move |wb| {
        let accounts = wb
            .table_id("Account_Master")
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let account = RowId::from_raw(row);
        if !wb.contains_row(accounts, account) {
            return Err(ApiError::not_found(format!("there is no account {row}")));
        }
        let log = wb
            .table_id("Engagement_Log")
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut values = vec![(
            lookup(wb, "Engagement_Log", "Account")?,
            Value::Row(accounts, account),
        )];
        for name in [
            "Engagement_Date",
            "Engagement_Type",
            "Summary",
            "Sentiment",
            "Relationship_Depth_Score",
        ] {
            let text = form.get(name).map(String::as_str).unwrap_or_default();
            let c = lookup(wb, "Engagement_Log", name)?;
            let v = parse(wb, c, name, text)?;
            if !matches!(v, Value::Blank) {
                values.push((c, v));
            }
        }
        // Who logged it attended it.
        if let Ok(c) = lookup(wb, "Engagement_Log", "MuleSoft_Attendees")
            && let Ok(v) = wb.parse_text(c, &person)
        {
            values.push((c, v));
        }
        Ok(Transaction::new().insert(log, values))
    })
    .await;
    match written {
        Ok(_) => Redirect::to(&format!("/ui/accounts/{row}#engagements")).into_response(),
        Err(e) => error_page(&e),
    }
}

/// `POST /ui/objectives/{row_id}/status`: sets Strategic_Objectives.Status.
pub(crate) async fn move_objective(
    State(app): State<App>,
    headers: HeaderMap,
    Path(row): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    let caller = match writer(&app, &headers, &form).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let status = form.get("status").cloned().unwrap_or_default();
    if status.trim().is_empty() {
        return error_page(&ApiError::bad_request("choose a status"));
    }
    let written = commit(&app, &caller, move |wb| {
        let objectives = wb
            .table_id("Strategic_Objectives")
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let r = RowId::from_raw(row);
        if !wb.contains_row(objectives, r) {
            return Err(ApiError::not_found(format!("there is no objective {row}")));
        }
        let c = lookup(wb, "Strategic_Objectives", "Status")?;
        let v = parse(wb, c, "Status", &status)?;
        Ok(Transaction::new().set(c, r, v))
    })
    .await;
    if let Err(e) = written {
        return error_page(&e);
    }
    // Back to the board of the objective's account.
    let snapshot = app.snapshot();
    let account = lookup(&snapshot.wb, "Strategic_Objectives", "Account")
        .ok()
        .and_then(|c| snapshot.wb.value(c, RowId::from_raw(row)).ok().cloned());
    match account {
        Some(Value::Row(_, a)) => Redirect::to(&format!(
            "/ui/alignment?account={}#objective-{row}",
            a.get()
        ))
        .into_response(),
        _ => Redirect::to("/ui/alignment").into_response(),
    }
}

/// `POST /ui/accounts/{row_id}/qbr`: starts the QBR deck of the last 90 days
/// (the report action, as `POST /api/v1/actions/generate-qbr-deck`).
pub(crate) async fn qbr(
    State(app): State<App>,
    headers: HeaderMap,
    Path(row): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    let caller = match writer(&app, &headers, &form).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let snapshot = app.snapshot();
    let wb = &snapshot.wb;
    let name = match wb.table_id("Account_Master") {
        Ok(t) if wb.contains_row(t, RowId::from_raw(row)) => {
            lookup(wb, "Account_Master", "Account_Name")
                .ok()
                .and_then(|c| {
                    wb.value(c, RowId::from_raw(row))
                        .ok()
                        .map(|v| wb.display(v))
                })
        }
        _ => None,
    };
    let Some(name) = name else {
        return error_page(&ApiError::not_found(format!("there is no account {row}")));
    };
    let today = wb.clock().today;
    let from = today - chrono::TimeDelta::days(90);
    let params = serde_json::json!({
        "account": name,
        "from": from.format("%Y-%m-%d").to_string(),
        "to": today.format("%Y-%m-%d").to_string(),
    });
    drop(snapshot);
    match crate::reports::start(
        &app,
        crate::reports::GENERATE_QBR,
        params,
        &caller.principal.person,
    ) {
        Ok(job) => Redirect::to(&format!("/ui/accounts/{row}?qbr={}", job.id)).into_response(),
        Err(e) => error_page(&e),
    }
}
