//! The report buttons as actions (`docs/reports.md`): `POST
//! /api/v1/actions/generate-qbr-deck` and `/calculate-platform-roi` answer a
//! job at once; the report is read from the latest snapshot with no lock,
//! then kept through the writer (the files in the file area, their links in
//! the account's Attachments, the ROI's sums on the account, an e-mail in
//! the outbox when asked, in one commit). The job's result names each
//! file's download URL: `GET /api/v1/files/{id}/{name}`, for any token
//! that may read the account.

use crate::App;
use crate::actions::Job;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use csip_reports::keep::keep;
use csip_reports::roi::{Period, RoiRequest};
use csip_reports::{Format, ReportFile, qbr::QbrRequest};
use serde_json::{Value as Json, json};

/// The action of the `Generate_QBR_Deck` button.
pub(crate) const GENERATE_QBR: &str = "generate-qbr-deck";
/// The action of the `Calculate_Platform_ROI` button.
pub(crate) const CALCULATE_ROI: &str = "calculate-platform-roi";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct QbrParams {
    account: String,
    from: String,
    to: String,
    #[serde(default)]
    appendix: bool,
    format: Option<String>,
    #[serde(default)]
    email: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RoiParams {
    account: String,
    period: Option<String>,
    #[serde(default)]
    include_in_progress: bool,
    #[serde(default)]
    email: Vec<String>,
}

/// What a report job does once started.
enum Asked {
    Qbr(QbrRequest, Format),
    Roi(RoiRequest),
}

fn day(field: &str, text: &str) -> Result<csip_engine::NaiveDate, ApiError> {
    csip_engine::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!(
            "`{field}` is `{text}`, not a date; write YYYY-MM-DD"
        ))
    })
}

fn bad(e: serde_json::Error) -> ApiError {
    ApiError::bad_request(format!("the parameters do not fit the action: {e}"))
}

/// Starts the report action `action` with `params` as a job by `by`.
///
/// # Errors
///
/// Parameters that do not fit (with what to write), an unknown account, an
/// address that is not one.
pub(crate) fn start(app: &App, action: &str, params: Json, by: &str) -> Result<Job, ApiError> {
    let (asked, to) = if action == GENERATE_QBR {
        let p: QbrParams = serde_json::from_value(params).map_err(bad)?;
        let format: Format = p
            .format
            .as_deref()
            .unwrap_or("both")
            .parse()
            .map_err(ApiError::bad_request)?;
        let request = QbrRequest {
            account: p.account,
            from: day("from", &p.from)?,
            to: day("to", &p.to)?,
            appendix: p.appendix,
        };
        (Asked::Qbr(request, format), p.email)
    } else {
        let p: RoiParams = serde_json::from_value(params).map_err(bad)?;
        let period: Period = p
            .period
            .as_deref()
            .unwrap_or("This Year")
            .parse()
            .map_err(ApiError::bad_request)?;
        let request = RoiRequest {
            account: p.account,
            period,
            include_in_progress: p.include_in_progress,
        };
        (Asked::Roi(request), p.email)
    };
    for address in &to {
        if !csip_reports::keep::plausible_address(address) {
            return Err(ApiError::bad_request(format!(
                "`{address}` is not an e-mail address (name@example.com)"
            )));
        }
    }
    // The account is checked now, so that a typo is answered at once.
    let account = match &asked {
        Asked::Qbr(r, _) => &r.account,
        Asked::Roi(r) => &r.account,
    };
    let snapshot = app.snapshot();
    if csip_workbook::lookup::find_account(&snapshot.wb, account).is_none() {
        return Err(ApiError::bad_request(
            match csip_workbook::lookup::nearest_account(&snapshot.wb, account) {
                Some(n) => format!("there is no account “{account}”; did you mean “{n}”?"),
                None => format!("there is no account “{account}”"),
            },
        ));
    }
    let job = app.jobs.start(action, by);
    let (id, worker, by) = (job.id, app.clone(), by.to_string());
    tokio::spawn(async move {
        let jobs = worker.jobs.clone();
        jobs.update(id, |j| {
            j.progress = "reading the workbook and writing the report".into()
        });
        let done = tokio::task::spawn_blocking(move || run(&worker, id, asked, &to, &by)).await;
        let finished = crate::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        jobs.update(id, |j| {
            j.finished = Some(finished);
            match done {
                Ok(Ok(result)) => {
                    j.status = "done";
                    j.progress = "done".into();
                    j.result = Some(result);
                }
                Ok(Err(e)) => {
                    j.status = "failed";
                    j.error = Some(e);
                }
                Err(e) => {
                    j.status = "failed";
                    j.error = Some(format!("the report stopped: {e}"));
                }
            }
        });
    });
    Ok(job)
}

/// The job's work: the report from the latest snapshot, kept through the writer.
fn run(app: &App, id: u64, asked: Asked, to: &[String], by: &str) -> Result<Json, String> {
    let snapshot = app.snapshot();
    let at = crate::now();
    let started = std::time::Instant::now();
    let (row, files, also, mut result, email) = match asked {
        Asked::Qbr(request, format) => {
            let qbr = csip_reports::qbr::generate(&snapshot.wb, &request, format, at)
                .map_err(|e| e.to_string())?;
            let email = qbr.email(&request, to);
            let result = json!({"account": qbr.account, "from": request.from.to_string(), "to": request.to.to_string()});
            (
                qbr.row,
                qbr.files,
                csip_engine::Transaction::new(),
                result,
                email,
            )
        }
        Asked::Roi(request) => {
            let (roi, tx, file) = csip_reports::roi::generate(&snapshot.wb, &request, at)
                .map_err(|e| e.to_string())?;
            let email = roi.email(to);
            (roi.row, vec![file], tx, roi.to_json(), email)
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    app.jobs
        .update(id, |j| j.progress = "keeping the files".into());
    let kept = app
        .with_writer(|store| keep(store, row, &files, also, email.as_ref(), by, at))
        .map_err(|e| e.to_string())?;
    result["files"] = files
        .iter()
        .zip(&kept.files)
        .map(|(f, (fid, link)): (&ReportFile, _)| {
            json!({"id": fid, "name": f.name, "media_type": f.media_type, "size": f.bytes.len(), "url": link})
        })
        .collect();
    result["commit"] = json!(kept.commit);
    result["emailed"] = json!(kept.emailed);
    result["seconds"] = json!((seconds * 1000.0).round() / 1000.0);
    Ok(result)
}

/// `GET /api/v1/files/{id}`: a generated file, for any token (every role
/// reads every account).
pub(crate) async fn download(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    serve(&app, &id).await
}

/// `GET /api/v1/files/{id}/{name}`: the same, under its name (the link
/// the account's Attachments holds).
pub(crate) async fn download_named(
    State(app): State<App>,
    Path((id, _name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    serve(&app, &id).await
}

async fn serve(app: &App, id: &str) -> Result<Response, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found(format!(
            "`{id}` is not a file id (32 hex digits, as the job's result and the account's Attachments give it)"
        )));
    }
    let files = app.files.clone();
    let wanted = id.to_ascii_lowercase();
    let found = tokio::task::spawn_blocking(move || files.get(&wanted))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let (info, bytes) =
        found.ok_or_else(|| ApiError::not_found(format!("there is no file {id}")))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.media_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // The name as an RFC 6266 attachment: an ASCII fallback and the UTF-8 form.
    let ascii: String = info
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = csip_store::file_link("", &info.name)
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(response)
}
