//! Signing in to the dashboards: an API token given once in a form makes a
//! session, kept in memory (lost on restart) for 12 hours and named by a
//! random 32-byte id in an HttpOnly, SameSite=Strict cookie on `/ui`
//! (Secure when the request came over TLS). Each session has its own CSRF
//! token, which every form carries. An `Authorization: Bearer` header works
//! too (scripts, monitoring), with no session and no CSRF token (it carries
//! no cookie). The token is checked again on every request, as the REST API
//! does: a revoke or a person who no longer fits ends the session at once.

use super::pages;
use crate::App;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use csip_store::Principal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "csip_session";

/// How long a session lasts.
const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The sessions, by id.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

struct Session {
    /// The API token signed in with (checked again on every request).
    token: String,
    csrf: String,
    expires: Instant,
}

impl Sessions {
    /// A new session for `token`: its id and CSRF token.
    fn create(&self, token: String) -> Option<(String, String)> {
        let id = random_hex()?;
        let csrf = random_hex()?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(
            id.clone(),
            Session {
                token,
                csrf: csrf.clone(),
                expires: now + LIFETIME,
            },
        );
        Some((id, csrf))
    }

    /// The token and CSRF token of the live session `id`.
    pub(crate) fn get(&self, id: &str) -> Option<(String, String)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| (s.token.clone(), s.csrf.clone()))
    }

    fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// 32 random bytes as hex.
fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether two texts are equal, in a time that does not depend on where
/// they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is asking: the token's holder, the session's CSRF token (empty for
/// a Bearer request) and the session's id (none for a Bearer request).
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    pub(crate) csrf: String,
    pub(crate) session: Option<String>,
}

/// The holder of `token`, if it is valid and its person still fits.
async fn check(app: &App, token: String) -> Result<Principal, String> {
    let tokens = app.tokens.clone();
    let snapshot = app.snapshot();
    tokio::task::spawn_blocking(move || {
        let caller = tokens
            .authenticate(&token, crate::now())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                "this token is not valid here; ask an admin for a new one".to_string()
            })?;
        caller
            .still_fits(&snapshot.wb)
            .map_err(|unfit| unfit.to_string())?;
        Ok(caller)
    })
    .await
    .map_err(|e| format!("checking the token failed: {e}"))?
}

/// The session id in the request's cookies.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
}

/// The caller of a page or form, or the answer for one who is not signed
/// in: a browser (Accept: text/html) goes to the login page, others get 401.
pub(crate) async fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    if let Some(token) = bearer {
        return match check(app, token).await {
            Ok(principal) => Ok(Caller {
                principal,
                csrf: String::new(),
                session: None,
            }),
            Err(e) => Err((StatusCode::UNAUTHORIZED, e).into_response()),
        };
    }
    if let Some(id) = session_id(headers)
        && let Some((token, csrf)) = app.ui.sessions.get(&id)
    {
        match check(app, token).await {
            Ok(principal) => {
                return Ok(Caller {
                    principal,
                    csrf,
                    session: Some(id),
                });
            }
            Err(_) => app.ui.sessions.remove(&id),
        }
    }
    let html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    Err(if html {
        Redirect::to("/ui/login").into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "sign in at /ui/login, or send Authorization: Bearer <token>",
        )
            .into_response()
    })
}

/// Refuses (403) a form from a session whose `csrf` field is not the
/// session's; a Bearer request needs none.
pub(crate) fn check_csrf(
    caller: &Caller,
    form: &HashMap<String, String>,
) -> Result<(), crate::ApiError> {
    if caller.session.is_none() {
        return Ok(());
    }
    match form.get("csrf") {
        Some(given) if same(given, &caller.csrf) => Ok(()),
        _ => Err(crate::ApiError::forbidden(
            "this form is out of date or not ours (its CSRF token does not match); reload the page and try again",
        )),
    }
}

/// `GET /ui/login`.
pub(crate) async fn login_page() -> Response {
    pages::login(None, StatusCode::OK)
}

/// Whether the request came over TLS (directly, or to a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
        || headers
            .get(header::FORWARDED)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"))
}

/// `POST /ui/login` (`token=...`): a session and 303 to `/ui/`, or 401 and
/// the form again.
pub(crate) async fn login(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = form
        .get("token")
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    if token.is_empty() {
        return pages::login(Some("Give your API token."), StatusCode::UNAUTHORIZED);
    }
    if let Err(e) = check(&app, token.clone()).await {
        return pages::login(Some(&e), StatusCode::UNAUTHORIZED);
    }
    let Some((id, _)) = app.ui.sessions.create(token) else {
        return pages::error_page(&crate::ApiError::internal(
            "no random session id could be made",
        ));
    };
    let secure = if over_tls(&headers) { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age={}{secure}",
        LIFETIME.as_secs()
    );
    let mut answer = Redirect::to("/ui/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        answer.headers_mut().insert(header::SET_COOKIE, v);
    }
    answer
}

/// `POST /ui/logout`: the session ends, its cookie is cleared, 303 to the
/// login page.
pub(crate) async fn logout(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let caller = match caller(&app, &headers).await {
        Ok(c) => c,
        Err(_) => return Redirect::to("/ui/login").into_response(),
    };
    if let Err(refused) = check_csrf(&caller, &form) {
        return pages::error_page(&refused);
    }
    if let Some(id) = &caller.session {
        app.ui.sessions.remove(id);
    }
    let mut answer = Redirect::to("/ui/login").into_response();
    answer.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("csip_session=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0"),
    );
    answer
}
