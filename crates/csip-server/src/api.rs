//! The handlers. Each one reads the token, then does its store work on the
//! blocking pool under the store's lock, and answers JSON.

use crate::error::ApiError;
use crate::json::{Names, TableRow, View, from_json, layout_name, to_json};
use crate::{App, now};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use csip_engine::{
    ChangeSet, ColumnId, ColumnType, RowId, TableId, Transaction, Value, ViewResult, Workbook,
};
use csip_store::{Principal, Role, Store};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;

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

fn authenticate(app: &App, token: &str) -> Result<Principal, ApiError> {
    app.tokens
        .authenticate(token, now())
        .map_err(ApiError::from)?
        .ok_or_else(|| {
            ApiError::unauthorized("this token is not valid here; ask an admin for a new one")
        })
}

/// Runs `f` on the blocking pool with the caller known (before any lock is
/// taken) and the store read-locked.
async fn read<T: Send + 'static>(
    app: &App,
    headers: &HeaderMap,
    f: impl FnOnce(&Store, &Principal) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let token = bearer(headers)?;
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let caller = authenticate(&app, &token)?;
        let store = app.store.blocking_read();
        f(&store, &caller)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request failed: {e}")))?
}

/// Runs `f` on the blocking pool with the caller known (before any lock is
/// taken: a bad token never waits) and the store write-locked.
async fn write<T: Send + 'static>(
    app: &App,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Store, &Principal) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let token = bearer(headers)?;
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let caller = authenticate(&app, &token)?;
        let mut store = app.store.blocking_write();
        f(&mut store, &caller)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request failed: {e}")))?
}

/// A JSON body, or the right error: 413 over the limit, 400 unreadable.
fn body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than this service accepts; send fewer operations per transaction",
            )
        } else {
            ApiError::bad_request(format!("the request body could not be read: {e}"))
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not the JSON this takes: {e}")))
}

fn table(wb: &Workbook, name: &str) -> Result<TableId, ApiError> {
    wb.table_id(name).ok_or_else(|| {
        let names: Vec<&str> = wb.tables().map(|t| wb.table_name(t)).collect();
        ApiError::not_found(format!(
            "there is no table `{name}`; the tables are {}",
            names.join(", ")
        ))
    })
}

fn column(wb: &Workbook, t: TableId, name: &str) -> Result<ColumnId, ApiError> {
    wb.column_id(t, name).ok_or_else(|| {
        let names: Vec<&str> = wb.columns(t).iter().map(|c| wb.column_name(*c)).collect();
        ApiError::bad_request(format!(
            "`{}` has no column `{name}`; its columns are {}",
            wb.table_name(t),
            names.join(", ")
        ))
    })
}

/// A row given by id, or by its display name.
fn find_row(
    wb: &Workbook,
    t: TableId,
    id: Option<u32>,
    name: Option<&str>,
) -> Result<RowId, ApiError> {
    match (id, name) {
        (Some(id), _) => {
            let r = RowId::from_raw(id);
            if wb.contains_row(t, r) {
                Ok(r)
            } else {
                Err(ApiError::not_found(format!(
                    "`{}` has no row {id}",
                    wb.table_name(t)
                )))
            }
        }
        (None, Some(name)) => match wb.find_rows(t, name).as_slice() {
            [one] => Ok(*one),
            [] => Err(ApiError::not_found(format!(
                "`{}` has no row named `{name}`",
                wb.table_name(t)
            ))),
            many => Err(ApiError::bad_request(format!(
                "{} rows of `{}` are named `{name}`; give a row_id",
                many.len(),
                wb.table_name(t)
            ))),
        },
        (None, None) => Err(ApiError::bad_request(
            "give a row: \"row_id\": N, or \"row\": \"its name\"",
        )),
    }
}

/// A whole number from the query string, or `default` when it is absent.
fn number<T: std::str::FromStr>(
    query: &HashMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, ApiError> {
    query.get(key).map_or(Ok(default), |v| {
        v.parse().map_err(|_| {
            ApiError::bad_request(format!("`{key}` must be a whole number, not `{v}`"))
        })
    })
}

/// `limit` from the query string: 1 to 1000, 100 when absent.
fn page_limit(query: &HashMap<String, String>) -> Result<usize, ApiError> {
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

pub(crate) async fn healthz(State(app): State<App>) -> Answer {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let store = store.blocking_read();
        let commits = store.last_commit().map_err(ApiError::from)?;
        Ok(axum::Json(json!({
            "status": "ok",
            "tables": store.workbook().tables().count(),
            "last_commit": commits,
            "today": store.workbook().clock().today.to_string(),
        })))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

pub(crate) async fn tables(State(app): State<App>, headers: HeaderMap) -> Answer {
    read(&app, &headers, |store, _| {
        let wb = store.workbook();
        let tables: Vec<Json> = wb
            .tables()
            .map(|t| {
                let columns: Vec<Json> = wb
                    .columns(t)
                    .iter()
                    .map(|&c| {
                        let s = wb.column_schema(c);
                        let mut col = json!({
                            "name": wb.column_name(c),
                            "type": s.ty.to_string(),
                            "required": s.required,
                            "unique": s.unique,
                        });
                        if let Some(f) = wb.formula(c) {
                            col["formula"] = f.into();
                        }
                        if let ColumnType::Select(o) | ColumnType::MultiSelect(o) = &s.ty {
                            col["options"] = o.clone().into();
                        }
                        col
                    })
                    .collect();
                json!({"name": wb.table_name(t), "rows": wb.rows(t).len(), "columns": columns})
            })
            .collect();
        Ok(axum::Json(json!({ "tables": tables })))
    })
    .await
}

pub(crate) async fn rows(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let offset = number(&query, "offset", 0)?;
    let limit = page_limit(&query)?;
    read(&app, &headers, move |store, _| {
        let wb = store.workbook();
        let t = table(wb, &name)?;
        let all = wb.rows(t);
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
            table: wb.table_name(t),
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
    headers: HeaderMap,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    read(&app, &headers, move |store, _| {
        let wb = store.workbook();
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

pub(crate) async fn views(State(app): State<App>, headers: HeaderMap) -> Answer {
    read(&app, &headers, |store, _| {
        let wb = store.workbook();
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
                    "table": wb.table_name(v.table),
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
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    enum Found {
        Cached(Bytes),
        Fresh(u64, Box<(ViewResult, Names)>),
    }
    let key = (name, params);
    let cache = app.views.clone();
    let use_cache = app.config.view_cache;
    let lookup = key.clone();
    // The view is evaluated under the lock (unless its answer for this state
    // of the store is cached); its answer is written after, from the names it
    // needs, so that writers wait only for the evaluation. At most one
    // evaluation per core holds the lock: more would only share the cores,
    // each finishing later and keeping writers waiting longer.
    let permit = app
        .evaluations
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the service is shutting down"))?;
    let found = read(&app, &headers, move |store, _| {
        let generation = store.generation();
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
        let wb = store.workbook();
        let (name, params) = &lookup;
        let params: Vec<(&str, Value)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), Value::from(v.as_str())))
            .collect();
        let result = wb.view(name, &params)?;
        let names = Names::of_view(wb, &result);
        Ok(Found::Fresh(generation, Box::new((result, names))))
    })
    .await?;
    drop(permit);
    let bytes = match found {
        Found::Cached(bytes) => bytes,
        Found::Fresh(generation, fresh) => {
            let (result, names) = *fresh;
            let cache = app.views.clone();
            tokio::task::spawn_blocking(move || {
                let bytes =
                    Bytes::from(serde_json::to_vec(&View(&names, &result)).map_err(|e| {
                        ApiError::internal(format!("the answer could not be written: {e}"))
                    })?);
                if use_cache {
                    if let Ok(mut c) = cache.lock() {
                        c.put(generation, key, bytes.clone());
                    }
                }
                Ok::<Bytes, ApiError>(bytes)
            })
            .await
            .map_err(|e| ApiError::internal(format!("the request failed: {e}")))??
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
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

fn changes_json(wb: &Workbook, commit: i64, changes: &ChangeSet) -> Json {
    let cells: Vec<Json> = changes
        .changes
        .iter()
        .map(|c| {
            json!({
                "table": wb.table_name(c.table),
                "row_id": c.cell.row.get(),
                "column": wb.column_name(c.cell.column),
                "old": c.old.as_ref().map(|v| to_json(wb, v)),
                "new": to_json(wb, &c.new),
            })
        })
        .collect();
    let rows = |list: &[(TableId, RowId)]| -> Vec<Json> {
        list.iter()
            .map(|(t, r)| json!({"table": wb.table_name(*t), "row_id": r.get()}))
            .collect()
    };
    json!({
        "commit": commit,
        "changes": cells,
        "inserted": rows(&changes.inserted),
        "deleted": rows(&changes.deleted),
    })
}

pub(crate) async fn transactions(
    State(app): State<App>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: TransactionBody = body(raw)?;
    if request.operations.is_empty() {
        return Err(ApiError::bad_request(
            "`operations` is empty; give at least one set, insert or delete",
        ));
    }
    write(&app, &headers, move |store, caller| {
        if caller.role == Role::Viewer {
            return Err(ApiError::forbidden(format!(
                "{} holds a viewer token, which reads only; ask an admin for a csm or admin token to write",
                caller.person
            )));
        }
        // The store refuses a transaction built before another process
        // committed to the file (csip import), and reloads: build it again,
        // once, against the file as it now is.
        let mut retried = false;
        let changes = loop {
            let tx = transaction(store.workbook(), &request.operations)?;
            caller.role.check(store.workbook(), &tx).map_err(ApiError::forbidden)?;
            match store.commit(tx, &caller.person, now()) {
                Err(csip_store::StoreError::Stale(_)) if !retried => retried = true,
                result => break result?,
            }
        };
        let commit = store.commit_id();
        tracing::info!(
            target: "csip::write",
            person = %caller.person,
            commit,
            cells = changes.changes.len(),
            inserted = changes.inserted.len(),
            deleted = changes.deleted.len(),
            "transaction committed"
        );
        Ok(axum::Json(changes_json(store.workbook(), commit, &changes)))
    })
    .await
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
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: EvalBody = body(raw)?;
    read(&app, &headers, move |store, _| {
        let wb = store.workbook();
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
            .eval(&request.formula, on)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(axum::Json(
            json!({"value": to_json(wb, &value), "display": wb.display(&value)}),
        ))
    })
    .await
}

pub(crate) async fn audit(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let after: i64 = number(&query, "after", 0)?;
    let limit = page_limit(&query)?;
    read(&app, &headers, move |store, caller| {
        if !caller.role.reads_audit() {
            return Err(ApiError::forbidden("only an admin reads the audit log"));
        }
        let entries = store.audit(after, limit).map_err(ApiError::from)?;
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
