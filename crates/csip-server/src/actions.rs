//! Buttons as actions (DESIGN §5 "Actions and jobs"): `POST
//! /api/v1/actions/{action}` runs a named action with its parameters
//! (role-checked like a write) as a job, answered at once with 202 and the
//! job; `GET /api/v1/jobs/{id}` reports how it is going and how it ended.
//! `GET /api/v1/actions` lists the actions and the button columns bound to
//! them: the Anypoint sync (Account_Master's `Sync_from_Anypoint` button:
//! the network half runs with no lock, the commit through the writer) and
//! the report buttons (`reports.rs`).

use crate::App;
use crate::error::ApiError;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use csip_store::{Principal, Role};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The action the `Sync_from_Anypoint` button runs.
pub(crate) const ANYPOINT_SYNC: &str = "sync-from-anypoint";

/// One job: an action running or ended.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) action: String,
    pub(crate) by: String,
    /// `running`, `done` or `failed`.
    pub(crate) status: &'static str,
    /// What it is doing now, or did.
    pub(crate) progress: String,
    pub(crate) started: String,
    pub(crate) finished: Option<String>,
    pub(crate) result: Option<Json>,
    pub(crate) error: Option<String>,
}

/// The jobs of this process (kept while it runs; the last 1,000).
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    next: AtomicU64,
    jobs: Mutex<BTreeMap<u64, Job>>,
}

impl Jobs {
    pub(crate) fn start(&self, action: &str, by: &str) -> Job {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Job {
            id,
            action: action.to_string(),
            by: by.to_string(),
            status: "running",
            progress: "started".into(),
            started: crate::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            finished: None,
            result: None,
            error: None,
        };
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.insert(id, job.clone());
        while jobs.len() > 1_000 {
            let Some(&oldest) = jobs.keys().next() else {
                break;
            };
            jobs.remove(&oldest);
        }
        job
    }

    pub(crate) fn update(&self, id: u64, f: impl FnOnce(&mut Job)) {
        if let Some(job) = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&id)
        {
            f(job);
        }
    }

    fn get(&self, id: u64) -> Option<Job> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }
}

/// The button columns of the workbook bound to an action: (table, column, action).
fn buttons(wb: &csip_engine::Workbook) -> Vec<(String, String, String)> {
    let schema = wb.schema();
    schema
        .tables
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter_map(|c| Some((t.name.clone(), c.name.clone(), c.action.clone()?)))
        })
        .collect()
}

/// `GET /api/v1/actions`: the actions this service runs, each with the
/// button columns bound to it in the workbook's table files.
pub(crate) async fn list(State(app): State<App>) -> axum::Json<Json> {
    let snapshot = app.snapshot();
    let bound = buttons(&snapshot.wb);
    let buttons = |action: &str| -> Vec<Json> {
        bound
            .iter()
            .filter(|(_, _, a)| a == action)
            .map(|(t, c, _)| json!({"table": t, "column": c}))
            .collect()
    };
    axum::Json(json!({"actions": [
        {
            "name": ANYPOINT_SYNC,
            "buttons": buttons(ANYPOINT_SYNC),
            "parameters": {
                "account": "the account: Account_Name or Account_ID (the button's row)",
                "scope": "APIs Only, APIs + Metrics or Full Sync (default Full Sync)"
            },
            "role": "csm or admin",
        },
        {
            "name": crate::reports::GENERATE_QBR,
            "buttons": buttons(crate::reports::GENERATE_QBR),
            "parameters": {
                "account": "the account: Account_Name or Account_ID (the button's row)",
                "from": "the first day of the range, YYYY-MM-DD",
                "to": "its last day, YYYY-MM-DD",
                "appendix": "true to add the metric table (default false)",
                "format": "pptx, pdf or both (default both)",
                "email": "addresses to e-mail the files to (optional)"
            },
            "role": "csm or admin",
        },
        {
            "name": crate::reports::CALCULATE_ROI,
            "buttons": buttons(crate::reports::CALCULATE_ROI),
            "parameters": {
                "account": "the account: Account_Name or Account_ID (the button's row)",
                "period": "This Quarter, This Year, Last 12 Months or All Time (default This Year)",
                "include_in_progress": "true to count initiatives in progress (default false)",
                "email": "addresses to e-mail the PDF to (optional)"
            },
            "role": "csm or admin",
        },
    ]}))
}

/// `GET /api/v1/jobs/{id}`.
pub(crate) async fn job(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<axum::Json<Json>, ApiError> {
    let id: u64 = id.parse().map_err(|_| {
        ApiError::bad_request(format!("`{id}` is not a job id; jobs are numbered from 1"))
    })?;
    let job = app.jobs.get(id).ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no job {id} (jobs are kept while the service runs)"
        ))
    })?;
    Ok(axum::Json(json!({"job": job})))
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SyncParams {
    account: String,
    scope: Option<String>,
}

/// `POST /api/v1/actions/{action}`: 202 with the job.
pub(crate) async fn run(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    Path(action): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> Result<Response, ApiError> {
    let bound = buttons(&app.snapshot().wb);
    if !bound.iter().any(|(_, _, a)| *a == action) {
        return Err(ApiError::not_found(format!(
            "no button of this workbook runs the action `{action}`; GET /api/v1/actions lists them (a file made before buttons named actions needs `csip upgrade`)"
        )));
    }
    if ![
        ANYPOINT_SYNC,
        crate::reports::GENERATE_QBR,
        crate::reports::CALCULATE_ROI,
    ]
    .contains(&action.as_str())
    {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "this service does not run the action `{action}`; GET /api/v1/actions lists what it runs"
            ),
        ));
    }
    if caller.role == Role::Viewer {
        return Err(ApiError::forbidden(format!(
            "{} holds a viewer token, which reads only; an action writes, so it needs a csm or admin token",
            caller.person
        )));
    }
    let job = if action == ANYPOINT_SYNC {
        let params: SyncParams = crate::input::json(&app.config, &headers, raw).await?;
        let scope: csip_anypoint::Scope = params
            .scope
            .as_deref()
            .unwrap_or("Full Sync")
            .parse()
            .map_err(ApiError::bad_request)?;
        start_sync(&app, &params.account, scope, &caller.person, None)?
    } else {
        let params: Json = crate::input::json(&app.config, &headers, raw).await?;
        crate::reports::start(&app, &action, params, &caller.person)?
    };
    let location = format!("/api/v1/jobs/{}", job.id);
    let mut response = (StatusCode::ACCEPTED, axum::Json(json!({"job": job}))).into_response();
    if let Ok(v) = location.parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Starts an Anypoint sync of `account` as a job by `by`; when
/// `response_url` is given (a Slack command), its outcome is posted there.
///
/// # Errors
///
/// The account is unknown, has no organization id, or no credentials.
pub(crate) fn start_sync(
    app: &App,
    account: &str,
    scope: csip_anypoint::Scope,
    by: &str,
    response_url: Option<String>,
) -> Result<Job, ApiError> {
    let snapshot = app.snapshot();
    let wb = &snapshot.wb;
    let row = csip_workbook::lookup::find_account(wb, account).ok_or_else(|| {
        ApiError::bad_request(match csip_workbook::lookup::nearest_account(wb, account) {
            Some(n) => format!("there is no account “{account}”; did you mean “{n}”?"),
            None => format!("there is no account “{account}”"),
        })
    })?;
    let name = csip_workbook::lookup::account_name(wb, row);
    let org = csip_anypoint::run::organization(wb, row).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{name} has no Anypoint_Org_ID; set it on the account to sync it"
        ))
    })?;
    let integrations = &app.config.integrations;
    let credentials = csip_anypoint::credentials(&integrations.secrets, &org).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the Anypoint sync is not configured on this server: set CSIP_ANYPOINT_CLIENT_ID and CSIP_ANYPOINT_CLIENT_SECRET",
        )
    })?;
    let settings = csip_anypoint::settings(integrations, &|n| std::env::var(n).ok())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let job = app.jobs.start(ANYPOINT_SYNC, by);
    let (id, app2, by) = (job.id, app.clone(), by.to_string());
    let channel = integrations.slack.updates_channel.clone();
    tokio::spawn(async move {
        let jobs = app2.jobs.clone();
        jobs.update(id, |j| {
            j.progress = format!("fetching {name}'s APIs from Anypoint ({})", scope.name())
        });
        let worker = app2.clone();
        let done = tokio::task::spawn_blocking(move || {
            let snapshot = worker.snapshot();
            let mut client = csip_anypoint::Client::new(settings, credentials)?;
            let fetched = csip_anypoint::fetch(
                &snapshot.wb,
                &mut client,
                &name,
                scope,
                crate::now().and_utc(),
            )?;
            worker.jobs.update(id, |j| j.progress = "writing".into());
            worker.with_writer(|store| {
                csip_anypoint::apply(
                    store,
                    fetched,
                    &by,
                    csip_anypoint::run::MANUAL,
                    channel.as_deref(),
                )
            })
        })
        .await;
        let text = match done {
            Ok(Ok(synced)) => {
                let line = format!(
                    "{}: {} ({})",
                    synced.account,
                    synced.summary.line(),
                    scope.name()
                );
                jobs.update(id, |j| {
                    j.status = "done";
                    j.progress = line.clone();
                    j.finished = Some(crate::now().format("%Y-%m-%dT%H:%M:%S").to_string());
                    j.result = Some(json!({
                        "account": synced.account,
                        "apis_synced": synced.summary.synced,
                        "new": synced.summary.new,
                        "gone": synced.summary.gone,
                        "metrics_updated": synced.summary.metrics_updated,
                        "skipped": synced.summary.skipped.iter().map(|(w, y)| json!({"what": w, "why": y})).collect::<Vec<_>>(),
                        "requests": synced.requests,
                        "retries": synced.retries,
                        "commit": synced.commit,
                    }));
                });
                line
            }
            Ok(Err(e)) => {
                let e = e.to_string();
                jobs.update(id, |j| {
                    j.status = "failed";
                    j.finished = Some(crate::now().format("%Y-%m-%dT%H:%M:%S").to_string());
                    j.error = Some(e.clone());
                });
                format!("The Anypoint sync failed: {e}")
            }
            Err(e) => {
                let e = e.to_string();
                jobs.update(id, |j| {
                    j.status = "failed";
                    j.error = Some(e.clone());
                });
                format!("The Anypoint sync failed: {e}")
            }
        };
        if let Some(url) = response_url {
            crate::slack::follow_up(&url, &csip_slack::Message::ephemeral(text)).await;
        }
    });
    Ok(job)
}
