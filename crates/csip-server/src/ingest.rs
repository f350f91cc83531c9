//! `POST /api/v1/ingest/metrics` (docs/ingest.md): the daily metrics report
//! as a CSV body (`text/csv`) or the webhook's JSON (`application/json`),
//! from a csm or admin token. Read without the writer, then planned,
//! checked against the caller's role and committed through the group
//! commit: the upsert with its Automation_Logs row and its Slack message
//! in the outbox, or — when a row is bad — the failed run's log row alone
//! and 400 with every bad row.

use crate::App;
use crate::error::ApiError;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use csip_engine::Workbook;
use csip_ingest::{Format, IngestConfig, Run, SourceKind, Verdict};
use csip_store::{Principal, Role};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// `?mapping=NAME`: which of csip.toml's mappings reads the body.
#[derive(serde::Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct IngestQuery {
    mapping: Option<String>,
}

/// The body's format, from its content type.
fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" | "application/csv" | "text/plain" | "text/tab-separated-values" => {
            Ok(Format::Csv)
        }
        "application/json" => Ok(Format::Json),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "send the report as `Content-Type: text/csv`, or the metrics JSON as `application/json`, not `{text}`"
            ),
        )),
    }
}

pub(crate) async fn metrics(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    raw: Body,
) -> Result<Response, ApiError> {
    let arrived = std::time::Instant::now();
    if caller.role == Role::Viewer {
        return Err(ApiError::forbidden(format!(
            "{} holds a viewer token, which reads only; metrics are ingested with a csm or admin token",
            caller.person
        )));
    }
    let format = format(&headers)?;
    let integrations = &app.config.integrations;
    let section = IngestConfig::load(integrations)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let settings = section
        .settings(integrations, query.mapping.as_deref())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let limit = usize::try_from(settings.limits.max_bytes).unwrap_or(usize::MAX);
    let bytes = crate::input::bytes(
        &app.config,
        &headers,
        raw,
        limit,
        "split the report, or raise ingest.max_bytes in csip.toml",
    )
    .await?;
    let at = crate::now();
    let app2 = app.clone();
    let person = caller.person.clone();
    let done = tokio::task::spawn_blocking(move || {
        // Read without the writer: only the plan needs the workbook.
        let report = csip_ingest::read(&bytes, format, &settings.mapping, settings.limits);
        let mut run = Run::new(SourceKind::Webhook, "POST /api/v1/ingest/metrics", at);
        run.duration_ms = u64::try_from(arrived.elapsed().as_millis()).unwrap_or(u64::MAX);
        let verdict: Arc<Mutex<Option<Verdict>>> = Arc::default();
        let build: crate::Build = {
            let verdict = verdict.clone();
            let run = run.clone();
            let settings = settings.clone();
            let caller = caller.clone();
            Box::new(move |wb: &Workbook| {
                let planned = run.plan(wb, report.as_ref(), &settings);
                if let Ok(Ok(plan)) = &planned {
                    caller
                        .role
                        .check(wb, &plan.tx)
                        .map_err(ApiError::forbidden)?;
                }
                let prepared = run.finish(wb, planned);
                *verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(prepared.verdict);
                Ok(prepared.tx)
            })
        };
        let messages: csip_store::Messages = {
            let verdict = verdict.clone();
            Box::new(move |wb: &Workbook, changes: &csip_engine::ChangeSet| {
                match &*verdict.lock().unwrap_or_else(|p| p.into_inner()) {
                    Some(Verdict::Ingested(counts)) => {
                        run.messages(settings.channel.as_deref(), counts, wb, changes)
                    }
                    _ => Vec::new(),
                }
            })
        };
        let answer: crate::Answer = {
            let verdict = verdict.clone();
            Box::new(move |wb, commit, changes| {
                match &*verdict.lock().unwrap_or_else(|p| p.into_inner()) {
                    Some(Verdict::Ingested(counts)) => {
                        let mut body =
                            csip_ingest::Summary::of(counts.clone(), wb, changes).to_json();
                        body["commit"] = json!(commit);
                        body
                    }
                    _ => json!({"commit": commit}),
                }
            })
        };
        let committed = app2.commit_grouped(build, caller.person.clone(), answer, Some(messages));
        let verdict = verdict.lock().unwrap_or_else(|p| p.into_inner()).take();
        (committed, verdict)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (committed, verdict) = done;
    let (_, commit, body) = committed?;
    match verdict {
        Some(Verdict::Ingested(counts)) => {
            tracing::info!(target: "csip::write", person = %person, commit, rows = counts.rows, "metrics ingested");
            Ok(axum::Json(body).into_response())
        }
        Some(Verdict::Rejected(rejected)) => {
            let bad: Vec<_> = rejected
                .bad_rows()
                .iter()
                .take(csip_ingest::BAD_ROWS_TOLD)
                .map(|b| json!({"line": b.line, "column": b.column, "reason": b.reason}))
                .collect();
            Ok((
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": {
                    "status": 400,
                    "code": "rejected",
                    "message": rejected.to_string(),
                    "bad_rows": bad,
                    "bad_row_count": rejected.bad_rows().len(),
                    "rows": rejected.rows(),
                    "commit": commit,
                }})),
            )
                .into_response())
        }
        Some(Verdict::Refused(message)) => Err(ApiError::bad_request(message)),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the report was not planned",
        )),
    }
}
