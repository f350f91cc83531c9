//! The handlers. The token of every `/api` request is checked first
//! ([`authenticate`], before a body is read or a lock taken); each handler
//! then reads its input (`input.rs`), does its work on the blocking pool —
//! a read on the latest snapshot, a write with the writer's store — and
//! answers JSON.

use crate::error::{ApiError, failed};
use crate::input::{ApiPath, Params};
use crate::json::{Names, TableRow, View, from_json, layout_name, to_json};
use crate::{App, Flight, Snapshot, ViewKey, now};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use csip_engine::{
    Budget, ChangeSet, ColumnId, ColumnType, ErrorKind, RowId, TableId, Transaction, Value,
    ViewPage, ViewResult, Workbook,
};
use csip_store::{Principal, Role};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use std::time::Instant;

type Answer = Result<axum::Json<Json>, ApiError>;

/// The bearer token of a request, or 401.
fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "this needs an API token: send `Authorization: Bearer <token>` (an admin issues one with `csip token create`)",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_string())
        }
        _ => Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}

/// Middleware: the caller of every `/api` request, told from its bearer
/// token on the tokens' own connection (`csip_store::Tokens`), before its
/// body is read, its route's input checked or any lock taken: a missing or
/// bad token is 401 whatever else is wrong. The caller goes on in the
/// request's extensions.
pub(crate) async fn authenticate(
    State(app): State<App>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = request.uri().path();
    if path != "/api" && !path.starts_with("/api/") {
        return Ok(next.run(request).await);
    }
    let token = bearer(request.headers())?;
    let tokens = app.tokens.clone();
    let snapshot = app.snapshot();
    let caller = tokio::task::spawn_blocking(move || {
        let caller = tokens
            .authenticate(&token, now())
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::unauthorized("this token is not valid here; ask an admin for a new one")
            })?;
        // The person must still be in People_Team, active, in a role that fits.
        caller
            .still_fits(&snapshot.wb)
            .map_err(|unfit| ApiError::unauthorized(unfit.to_string()))?;
        Ok::<Principal, ApiError>(caller)
    })
    .await
    .map_err(failed)??;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// Runs `f` on the blocking pool with the latest snapshot: it never waits
/// for a writer, nor a writer for it.
async fn read<T: Send + 'static>(
    app: &App,
    caller: Principal,
    f: impl FnOnce(&Snapshot, &Principal) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let snapshot = app.snapshot();
    tokio::task::spawn_blocking(move || f(&snapshot, &caller))
        .await
        .map_err(failed)?
}

/// An evaluation a client asked for (a view or a formula): it waits for one
/// of the service's evaluation slots (one per core), then runs `f` on the
/// latest snapshot under a budget — the configured limits, the time left of
/// `Config::eval_time_limit` counted from `arrived`, and the shutdown flag.
/// A request that gets no slot within its time limit is 503.
///
/// Slots are given first come, first served. `key` names the evaluation
/// (a view's name, a formula's text): one that took `SLOW_EVALUATION` or
/// more the last time first waits in the slow lane, which holds all slots
/// but one, so that a slow view cannot hold up fast ones.
pub(crate) async fn evaluate<T: Send + 'static>(
    app: &App,
    caller: Principal,
    arrived: Instant,
    key: String,
    f: impl FnOnce(&Snapshot, &Principal, &Budget) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let limit = app.config.eval_time_limit;
    let busy = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "every evaluation slot stayed busy for this request's time limit ({}); try again shortly",
                seconds(limit)
            ),
        )
    };
    let closing = |_| ApiError::internal("the service is shutting down");
    let slow = if app.is_slow(&key) {
        Some(
            tokio::time::timeout(
                limit.saturating_sub(arrived.elapsed()),
                app.slow_lane.clone().acquire_owned(),
            )
            .await
            .map_err(|_| busy())?
            .map_err(closing)?,
        )
    } else {
        None
    };
    let permit = tokio::time::timeout(
        limit.saturating_sub(arrived.elapsed()),
        app.evaluations.clone().acquire_owned(),
    )
    .await
    .map_err(|_| busy())?
    .map_err(closing)?;
    let budget_limits = app.config.eval_limits;
    let cancel = app.shutdown_token();
    let costs = app.clone();
    read(app, caller, move |snapshot, caller| {
        let _permits = (permit, slow);
        let started = Instant::now();
        let budget = Budget::new(budget_limits)
            .with_cancel(cancel)
            .with_deadline(seconds(limit), move || arrived.elapsed() > limit);
        let answer = f(snapshot, caller, &budget);
        costs.note_cost(&key, started.elapsed());
        answer
    })
    .await
}

/// "2 s", "0.5 s".
fn seconds(d: std::time::Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn table(wb: &Workbook, name: &str) -> Result<TableId, ApiError> {
    wb.table_id(name).ok().ok_or_else(|| {
        let names: Vec<&str> = wb
            .tables()
            .map(|t| wb.table_name(t).unwrap_or_default())
            .collect();
        ApiError::not_found(format!(
            "there is no table `{name}`; the tables are {}",
            names.join(", ")
        ))
    })
}

fn column(wb: &Workbook, t: TableId, name: &str) -> Result<ColumnId, ApiError> {
    wb.column_id(t, name).ok().ok_or_else(|| {
        let names: Vec<&str> = wb
            .columns(t)
            .unwrap_or_default()
            .iter()
            .map(|c| wb.column_name(*c).unwrap_or_default())
            .collect();
        ApiError::bad_request(format!(
            "`{}` has no column `{name}`; its columns are {}",
            wb.table_name(t).unwrap_or_default(),
            names.join(", ")
        ))
    })
}

/// A row given by id, or by its display name (not both: they could name
/// two rows).
fn find_row(
    wb: &Workbook,
    t: TableId,
    id: Option<u32>,
    name: Option<&str>,
) -> Result<RowId, ApiError> {
    match (id, name) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "both \"row_id\" and \"row\" are given; give the row one way, by \"row_id\" or by \"row\"",
        )),
        (Some(id), None) => {
            let r = RowId::from_raw(id);
            if wb.contains_row(t, r) {
                Ok(r)
            } else {
                Err(ApiError::not_found(format!(
                    "`{}` has no row {id}",
                    wb.table_name(t).unwrap_or_default()
                )))
            }
        }
        (None, Some(name)) => match wb.find_rows(t, name).unwrap_or_default().as_slice() {
            [one] => Ok(*one),
            [] => Err(ApiError::not_found(format!(
                "`{}` has no row named `{name}`",
                wb.table_name(t).unwrap_or_default()
            ))),
            many => Err(ApiError::bad_request(format!(
                "{} rows of `{}` are named `{name}`; give a row_id",
                many.len(),
                wb.table_name(t).unwrap_or_default()
            ))),
        },
        (None, None) => Err(ApiError::bad_request(
            "give a row: \"row_id\": N, or \"row\": \"its name\"",
        )),
    }
}

/// A whole number from the query string, or `default` when it is absent.
fn number<T: std::str::FromStr>(query: &Params, key: &str, default: T) -> Result<T, ApiError> {
    query.get(key).map_or(Ok(default), |v| {
        v.parse().map_err(|_| {
            ApiError::bad_request(format!("`{key}` must be a whole number, not `{v}`"))
        })
    })
}

/// `limit` from the query string: 1 to 1000, 100 when absent.
fn page_limit(query: &Params) -> Result<usize, ApiError> {
    match number(query, "limit", 100)? {
        n @ 1..=1000 => Ok(n),
        _ => Err(ApiError::bad_request("`limit` must be from 1 to 1000")),
    }
}

/// A JSON answer serialized in one pass.
fn json_body(body: &impl serde::Serialize) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| ApiError::internal(format!("the answer could not be written: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

// ---- routes ------------------------------------------------------------------------

/// Answered from the latest snapshot, without a thread, a lock held or I/O:
/// it answers while evaluations and writes run.
pub(crate) async fn healthz(State(app): State<App>) -> Answer {
    let snapshot = app.snapshot();
    Ok(axum::Json(json!({
        "status": "ok",
        "tables": snapshot.wb.tables().count(),
        "last_commit": snapshot.commit,
        "today": snapshot.wb.clock().today.to_string(),
    })))
}

pub(crate) async fn tables(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
) -> Answer {
    read(&app, caller, |snapshot, _| {
        let wb = &snapshot.wb;
        let tables: Vec<Json> = wb
            .tables()
            .map(|t| {
                let columns: Vec<Json> = wb
                    .columns(t).unwrap_or_default()
                    .iter()
                    .filter_map(|&c| {
                        let s = wb.column_schema(c).ok()?;
                        let mut col = json!({
                            "name": wb.column_name(c).unwrap_or_default(),
                            "type": s.ty.to_string(),
                            "required": s.required,
                            "unique": s.unique,
                        });
                        if let Some(f) = wb.formula(c).ok().flatten() {
                            col["formula"] = f.into();
                        }
                        if let ColumnType::Select(o) | ColumnType::MultiSelect(o) = &s.ty {
                            col["options"] = o.clone().into();
                        }
                        Some(col)
                    })
                    .collect();
                json!({"name": wb.table_name(t).unwrap_or_default(), "rows": wb.rows(t).unwrap_or_default().len(), "columns": columns})
            })
            .collect();
        Ok(axum::Json(json!({ "tables": tables })))
    })
    .await
}

pub(crate) async fn rows(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    query: Params,
) -> Result<Response, ApiError> {
    let offset = number(&query, "offset", 0)?;
    let limit = page_limit(&query)?;
    read(&app, caller, move |snapshot, _| {
        let wb = &snapshot.wb;
        let t = table(wb, &name)?;
        let all = wb.rows(t).unwrap_or_default();
        let page: Vec<TableRow<'_>> = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|&row| TableRow { wb, table: t, row })
            .collect();
        #[derive(serde::Serialize)]
        struct Page<'a> {
            table: &'a str,
            total: usize,
            offset: usize,
            limit: usize,
            rows: Vec<TableRow<'a>>,
        }
        json_body(&Page {
            table: wb.table_name(t).unwrap_or_default(),
            total: all.len(),
            offset,
            limit,
            rows: page,
        })
    })
    .await
}

pub(crate) async fn row(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    read(&app, caller, move |snapshot, _| {
        let wb = &snapshot.wb;
        let t = table(wb, &name)?;
        let id: u32 = id.parse().map_err(|_| {
            ApiError::not_found(format!(
                "`{id}` is not a row id (row ids are whole numbers)"
            ))
        })?;
        let row = find_row(wb, t, Some(id), None)?;
        json_body(&TableRow { wb, table: t, row })
    })
    .await
}

pub(crate) async fn views(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
) -> Answer {
    read(&app, caller, |snapshot, _| {
        let wb = &snapshot.wb;
        let views: Vec<Json> = wb
            .views()
            .into_iter()
            .map(|v| {
                let params: Vec<Json> = v
                    .params
                    .iter()
                    .map(|p| json!({"name": p.name, "type": p.ty.to_string(), "required": p.required}))
                    .collect();
                json!({
                    "name": v.name,
                    "table": wb.table_name(v.table).unwrap_or_default(),
                    "layout": layout_name(v.layout),
                    "params": params,
                    "comment": v.comment,
                })
            })
            .collect();
        Ok(axum::Json(json!({ "views": views })))
    })
    .await
}

pub(crate) async fn view(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    Params(params): Params,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    // The page is part of the question: answers are cached per page.
    let (page, params) = view_page(params)?;
    let page_key: Vec<(String, String)> = vec![
        (
            "limit".into(),
            page.limit.map_or(String::new(), |n| n.to_string()),
        ),
        ("offset".into(), page.offset.to_string()),
        (
            "group_limit".into(),
            page.group_limit.map_or(String::new(), |n| n.to_string()),
        ),
        ("group_offset".into(), page.group_offset.to_string()),
        (
            "group".into(),
            page.group
                .as_ref()
                .map_or(String::new(), ToString::to_string),
        ),
    ];
    let key = (name, params.into_iter().chain(page_key).collect::<Vec<_>>());
    let view_param_count = key.1.len() - 5;
    let cache = app.views.clone();
    let use_cache = app.config.view_cache;
    // A cached answer for this snapshot is served without an evaluation slot.
    let snapshot = app.snapshot();
    view_params(&snapshot.wb, &key.0, &key.1[..view_param_count])?;
    if use_cache
        && let Some(bytes) = cache
            .lock()
            .map_or(None, |mut c| c.get(snapshot.generation, &key))
    {
        return Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response());
    }
    let generation = snapshot.generation;
    drop(snapshot);
    // One evaluation per view, page and generation: whoever asks while it
    // runs waits for its answer rather than evaluating again.
    let answer = || {
        answer_view(
            app.clone(),
            caller,
            arrived,
            key.clone(),
            view_param_count,
            page,
        )
    };
    let bytes = if use_cache {
        let flight = cache
            .lock()
            .map_or_else(|_| Flight::default(), |mut c| c.flight(generation, &key));
        let landed = flight.get_or_try_init(answer).await.cloned();
        if let Ok(mut c) = cache.lock() {
            c.landed(&key, &flight);
        }
        landed?
    } else {
        answer().await?
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// A view's answer, evaluated on the latest snapshot under its budget and
/// written after, from the names it needs, outside the evaluation slot;
/// kept in the view cache.
async fn answer_view(
    app: App,
    caller: Principal,
    arrived: Instant,
    key: ViewKey,
    view_param_count: usize,
    page: ViewPage,
) -> Result<Bytes, ApiError> {
    enum Found {
        Cached(Bytes),
        Fresh(u64, Box<(ViewResult, Names)>),
    }
    let use_cache = app.config.view_cache;
    let cache = app.views.clone();
    let lookup = key.clone();
    let cost_key = format!("view {}", key.0.to_lowercase());
    let found = evaluate(
        &app,
        caller,
        arrived,
        cost_key,
        move |snapshot, _, budget| {
            let generation = snapshot.generation;
            let cached = if use_cache {
                cache
                    .lock()
                    .map_or(None, |mut c| c.get(generation, &lookup))
            } else {
                None
            };
            if let Some(bytes) = cached {
                return Ok(Found::Cached(bytes));
            }
            let wb = &snapshot.wb;
            let (name, params) = &lookup;
            let params: Vec<(&str, Value)> = params[..view_param_count]
                .iter()
                .map(|(k, v)| (k.as_str(), Value::from(v.as_str())))
                .collect();
            let result = wb.view_page(name, &params, &page, budget)?;
            let names = Names::of_view(wb, &result);
            Ok(Found::Fresh(generation, Box::new((result, names))))
        },
    )
    .await?;
    match found {
        Found::Cached(bytes) => Ok(bytes),
        Found::Fresh(generation, fresh) => {
            let (result, names) = *fresh;
            let cache = app.views.clone();
            tokio::task::spawn_blocking(move || {
                let bytes =
                    Bytes::from(serde_json::to_vec(&View(&names, &result)).map_err(|e| {
                        ApiError::internal(format!("the answer could not be written: {e}"))
                    })?);
                if use_cache && let Ok(mut c) = cache.lock() {
                    c.put(generation, key, bytes.clone());
                }
                Ok::<Bytes, ApiError>(bytes)
            })
            .await
            .map_err(failed)?
        }
    }
}

/// Rows per group a view's answer holds unless `limit` says otherwise.
pub(crate) const DEFAULT_VIEW_LIMIT: usize = 100;
/// The most rows per group one answer holds.
pub(crate) const MAX_VIEW_LIMIT: usize = 1_000;
/// Groups a view's answer holds unless `group_limit` says otherwise.
pub(crate) const DEFAULT_GROUP_LIMIT: usize = 50;
/// The most groups one answer holds.
pub(crate) const MAX_GROUP_LIMIT: usize = 1_000;

/// The page a view's query asks for (`limit`, `offset`, `group_limit`,
/// `group_offset`, `group`), and the view's own parameters (the rest).
fn view_page(params: Vec<(String, String)>) -> Result<(ViewPage, Vec<(String, String)>), ApiError> {
    let mut page = ViewPage::first(DEFAULT_VIEW_LIMIT).groups(0, DEFAULT_GROUP_LIMIT);
    let mut rest = Vec::with_capacity(params.len());
    let number = |name: &str, value: &str, max: usize| -> Result<usize, ApiError> {
        let n: usize = value.trim().parse().map_err(|_| {
            ApiError::bad_request(format!(
                "`{name}` is a whole number of rows or groups (0 or more), not `{value}`"
            ))
        })?;
        if n > max {
            return Err(ApiError::bad_request(format!(
                "`{name}` is at most {max}; page through the view with `offset` (or export it with `csip view --format csv`)"
            )));
        }
        Ok(n)
    };
    for (name, value) in params {
        match name.as_str() {
            "limit" => page.limit = Some(number(&name, &value, MAX_VIEW_LIMIT)?),
            "offset" => page.offset = number(&name, &value, usize::MAX)?,
            "group_limit" => page.group_limit = Some(number(&name, &value, MAX_GROUP_LIMIT)?),
            "group_offset" => page.group_offset = number(&name, &value, usize::MAX)?,
            "group" => page.group = Some(Value::from(value.as_str())),
            _ => rest.push((name, value)),
        }
    }
    Ok((page, rest))
}

/// Refuses view parameters a view would read ambiguously: a required one
/// given empty (it would be Blank, and match nothing). (A parameter given
/// twice is refused by [`Params`].) The view is found as `Workbook::view`
/// finds it; an unknown or ambiguous name is left for it to report.
fn view_params(wb: &Workbook, name: &str, params: &[(String, String)]) -> Result<(), ApiError> {
    if params.iter().all(|(_, value)| !value.trim().is_empty()) {
        return Ok(());
    }
    let name = name.trim();
    let (table, bare) = match name.split_once('/') {
        Some((t, v)) => (Some(t.trim()), v.trim()),
        None => (None, name),
    };
    let views = wb.views();
    let mut found = views.iter().filter(|v| {
        v.name.eq_ignore_ascii_case(bare)
            && table.is_none_or(|t| {
                wb.table_name(v.table)
                    .unwrap_or_default()
                    .eq_ignore_ascii_case(t)
            })
    });
    let (Some(view), None) = (found.next(), found.next()) else {
        return Ok(());
    };
    for (given, value) in params {
        let required = view
            .params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(given))
            .is_some_and(|p| p.required);
        if required && value.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "the view `{}` needs its parameter `{given}`, and it is given empty; give a value",
                view.name
            )));
        }
    }
    Ok(())
}

/// One operation of `POST /api/v1/transactions`.
#[derive(Deserialize, Debug)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum OpBody {
    Set {
        table: String,
        row_id: Option<u32>,
        row: Option<String>,
        column: String,
        value: Json,
    },
    Insert {
        table: String,
        #[serde(default)]
        values: Map<String, Json>,
    },
    Delete {
        table: String,
        row_id: Option<u32>,
        row: Option<String>,
    },
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TransactionBody {
    operations: Vec<OpBody>,
}

/// The engine's transaction for a request's operations; errors name the operation.
fn transaction(wb: &Workbook, ops: &[OpBody]) -> Result<Transaction, ApiError> {
    let mut tx = Transaction::new();
    for (i, op) in ops.iter().enumerate() {
        let at =
            |e: ApiError| ApiError::new(e.status, format!("operation {}: {}", i + 1, e.message));
        match op {
            OpBody::Set {
                table: tn,
                row_id,
                row: rn,
                column: cn,
                value,
            } => {
                let t = table(wb, tn).map_err(at)?;
                let r = find_row(wb, t, *row_id, rn.as_deref()).map_err(at)?;
                let c = column(wb, t, cn).map_err(at)?;
                let v = from_json(wb, c, value)
                    .map_err(|m| at(ApiError::bad_request(format!("`{tn}`.`{cn}`: {m}"))))?;
                tx = tx.set(c, r, v);
            }
            OpBody::Insert { table: tn, values } => {
                let t = table(wb, tn).map_err(at)?;
                let mut row = Vec::with_capacity(values.len());
                for (cn, value) in values {
                    let c = column(wb, t, cn).map_err(at)?;
                    let v = from_json(wb, c, value)
                        .map_err(|m| at(ApiError::bad_request(format!("`{tn}`.`{cn}`: {m}"))))?;
                    row.push((c, v));
                }
                tx = tx.insert(t, row);
            }
            OpBody::Delete {
                table: tn,
                row_id,
                row: rn,
            } => {
                let t = table(wb, tn).map_err(at)?;
                let r = find_row(wb, t, *row_id, rn.as_deref()).map_err(at)?;
                tx = tx.delete(t, r);
            }
        }
    }
    Ok(tx)
}

/// The answer to a transaction: its commit, the changed cells (at most
/// `max` of them), the inserted and deleted rows, and how many cells
/// changed in each table. Past `max`, `"truncated": true` and `rest` say
/// where the others are: the data cells in the audit log, by commit; the
/// formula cells in the rows of their tables (they are not kept per commit).
fn changes_json(wb: &Workbook, commit: i64, changes: &ChangeSet, max: usize) -> Json {
    let cells: Vec<Json> = changes
        .changes
        .iter()
        .take(max)
        .map(|c| {
            json!({
                "table": wb.table_name(c.table).unwrap_or_default(),
                "row_id": c.cell.row.get(),
                "column": wb.column_name(c.cell.column).unwrap_or_default(),
                "old": c.old.as_ref().map(|v| to_json(wb, v)),
                "new": to_json(wb, &c.new),
            })
        })
        .collect();
    let rows = |list: &[(TableId, RowId)]| -> Vec<Json> {
        list.iter()
            .map(
                |(t, r)| json!({"table": wb.table_name(*t).unwrap_or_default(), "row_id": r.get()}),
            )
            .collect()
    };
    let mut counted = std::collections::HashMap::<TableId, usize>::new();
    for c in &changes.changes {
        *counted.entry(c.table).or_default() += 1;
    }
    let by_table: Map<String, Json> = wb
        .tables()
        .filter_map(|t| {
            Some((
                wb.table_name(t).unwrap_or_default().to_string(),
                (*counted.get(&t)?).into(),
            ))
        })
        .collect();
    let truncated = changes.changes.len() > max;
    let mut answer = json!({
        "commit": commit,
        "changes": cells,
        "inserted": rows(&changes.inserted),
        "deleted": changes
            .deleted
            .iter()
            .map(|d| json!({"table": wb.table_name(d.table).unwrap_or_default(), "row_id": d.row.get()}))
            .collect::<Vec<Json>>(),
        "counts": {"changes": changes.changes.len(), "by_table": by_table},
        "truncated": truncated,
    });
    if truncated {
        let tables: Vec<String> = by_table
            .keys()
            .map(|t| format!("/api/v1/tables/{}/rows", path_segment(t)))
            .collect();
        answer["rest"] = json!({
            "data_cells": format!("/api/v1/audit?commit={commit}"),
            "formula_cells": tables,
        });
    }
    answer
}

/// A name as one path segment: anything but letters, digits and `-._~`
/// percent-encoded.
fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) async fn transactions(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    headers: HeaderMap,
    raw: Body,
) -> Answer {
    let request: TransactionBody = crate::input::json(&app.config, &headers, raw).await?;
    if request.operations.is_empty() {
        return Err(ApiError::bad_request(
            "`operations` is empty; give at least one set, insert or delete",
        ));
    }
    let max = app.config.max_operations;
    if request.operations.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "this transaction has {} operations and one takes at most {max}; send them in several transactions",
                request.operations.len()
            ),
        ));
    }
    let max_changes = app.config.max_changes;
    if caller.role == Role::Viewer {
        return Err(ApiError::forbidden(format!(
            "{} holds a viewer token, which reads only; ask an admin for a csm or admin token to write",
            caller.person
        )));
    }
    let app2 = app.clone();
    let person = caller.person.clone();
    let operations = std::sync::Arc::new(request.operations);
    let committed = tokio::task::spawn_blocking(move || {
        let build = {
            let caller = caller.clone();
            let operations = operations.clone();
            Box::new(move |wb: &Workbook| {
                let tx = transaction(wb, &operations)?;
                caller.role.check(wb, &tx).map_err(ApiError::forbidden)?;
                Ok(tx)
            })
        };
        let answer = || -> crate::Answer {
            Box::new(move |wb, commit, changes| changes_json(wb, commit, changes, max_changes))
        };
        let first = app2.commit_grouped(build, caller.person.clone(), answer(), None);
        // The store refuses transactions built before another process
        // committed to the file (csip import), and reloads: build this one
        // again, once, against the file as it now is.
        match first {
            Err(e) if e.status == StatusCode::CONFLICT => {
                let build = Box::new(move |wb: &Workbook| {
                    let tx = transaction(wb, &operations)?;
                    caller.role.check(wb, &tx).map_err(ApiError::forbidden)?;
                    Ok(tx)
                });
                app2.commit_grouped(build, caller.person.clone(), answer(), None)
            }
            other => other,
        }
    })
    .await
    .map_err(failed)?;
    let (changes, commit, body) = committed?;
    tracing::info!(
        target: "csip::write",
        person = %person,
        commit,
        cells = changes.changes.len(),
        inserted = changes.inserted.len(),
        deleted = changes.deleted.len(),
        "transaction committed"
    );
    Ok(axum::Json(body))
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct EvalBody {
    formula: String,
    table: Option<String>,
    row_id: Option<u32>,
    row: Option<String>,
}

pub(crate) async fn eval(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    headers: HeaderMap,
    raw: Body,
) -> Answer {
    let arrived = Instant::now();
    let request: EvalBody = crate::input::json(&app.config, &headers, raw).await?;
    let cost_key = format!("eval {}", request.formula);
    evaluate(
        &app,
        caller,
        arrived,
        cost_key,
        move |snapshot, _, budget| {
            let wb = &snapshot.wb;
            let on = match &request.table {
                Some(tn) => {
                    let t = table(wb, tn)?;
                    Some((t, find_row(wb, t, request.row_id, request.row.as_deref())?))
                }
                None if request.row_id.is_some() || request.row.is_some() => {
                    return Err(ApiError::bad_request("a row needs its \"table\""));
                }
                None => None,
            };
            let value = wb
                .eval_within(&request.formula, on, budget)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            if let Value::Error(e) = &value
                && e.kind == ErrorKind::Limit
            {
                return Err(ApiError::limit(&e.message));
            }
            Ok(axum::Json(
                json!({"value": to_json(wb, &value), "display": wb.display(&value)}),
            ))
        },
    )
    .await
}

pub(crate) async fn audit(
    State(app): State<App>,
    Extension(caller): Extension<Principal>,
    query: Params,
) -> Answer {
    let after: i64 = number(&query, "after", 0)?;
    let limit = page_limit(&query)?;
    let commit: Option<i64> = match query.get("commit") {
        None => None,
        Some(_) => match number(&query, "commit", 0)? {
            id @ 1.. => Some(id),
            _ => {
                return Err(ApiError::bad_request(
                    "`commit` must be a commit's number, from 1",
                ));
            }
        },
    };
    if !caller.role.reads_audit() {
        return Err(ApiError::forbidden("only an admin reads the audit log"));
    }
    let log = app.audit.clone();
    tokio::task::spawn_blocking(move || {
        let entries = log
            .entries(after, limit, commit)
            .map_err(ApiError::from)?;
        let next = entries.last().map_or(after, |e| e.id);
        let entries: Vec<Json> = entries
            .into_iter()
            .map(|e| {
                json!({"id": e.id, "commit": e.commit, "at": e.at, "actor": e.actor, "table": e.table,
                       "row_id": e.row, "column": e.column, "old": e.old, "new": e.new})
            })
            .collect();
        Ok(axum::Json(json!({"entries": entries, "next": next})))
    })
    .await
    .map_err(failed)?
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such route; the API lives under /api/v1 (tables, views, transactions, eval, audit)",
    )
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may panic

    use super::*;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "op", "op", "table", "table", "row_id", "row", "column", "value", "values", "extra",
    ];
    const VALUES: &[&str] = &[
        "\"set\"",
        "\"insert\"",
        "\"delete\"",
        "\"upsert\"",
        "\"Tasks\"",
        "\"Account_Master\"",
        "\"Platform_Health_Metrics\"",
        "\"Nope\"",
        "\"Title\"",
        "\"ARR\"",
        "\"Current_Value\"",
        "\"Status\"",
        "\"Gard AS\"",
        "\"Kari Nordmann\"",
        "1",
        "0",
        "-1",
        "4294967296",
        "1e400",
        "99999999999999999999999999999",
        "0.1000000000000000000000000001",
        "null",
        "true",
        "\"2026-11-24\"",
        "\"0000-01-01\"",
        "{\"row_id\": 1}",
        "{\"row_id\": 0}",
        "{\"Title\": \"x\", \"Title\": \"y\"}",
        "{\"Title\": \"x\", \"Account\": \"Gard AS\"}",
        "[1, 2]",
        "\"\"",
    ];

    /// A transactions body, written as text so that it may repeat keys,
    /// miss them or give them the wrong type.
    fn body() -> impl Strategy<Value = String> {
        let field = (prop::sample::select(KEYS), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("\"{k}\": {v}"));
        let op = prop::collection::vec(field, 0..6).prop_map(|f| format!("{{{}}}", f.join(", ")));
        prop::collection::vec(op, 0..5)
            .prop_map(|ops| format!("{{\"operations\": [{}]}}", ops.join(", ")))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Any body, through everything `POST /api/v1/transactions` does with
        /// it short of the file: repeated keys, shape, names, values, role,
        /// the engine. Applied or refused; never a panic, and a refused
        /// transaction changes nothing.
        #[test]
        fn any_transaction_body_is_applied_or_refused(body in body()) {
            static PILOT: std::sync::OnceLock<Workbook> = std::sync::OnceLock::new();
            let wb = PILOT
                .get_or_init(|| csip_workbook::pilot(csip_workbook::sample_today()).unwrap())
                .clone();
            if crate::input::unique_keys(body.as_bytes()).is_err() {
                return Ok(());
            }
            let Ok(request) = serde_json::from_slice::<TransactionBody>(body.as_bytes()) else {
                return Ok(());
            };
            let Ok(tx) = transaction(&wb, &request.operations) else {
                return Ok(());
            };
            let _ = Role::Csm.check(&wb, &tx);
            let mut after = wb.clone();
            match after.apply(tx) {
                Ok(changes) => {
                    let answer = changes_json(&after, 1, &changes, 10);
                    prop_assert!(answer["counts"]["changes"].as_u64().is_some());
                }
                Err(_) => {
                    for t in wb.tables() {
                        prop_assert_eq!(wb.rows(t), after.rows(t));
                    }
                }
            }
        }
    }
}
