//! A fake Anypoint control plane for this crate's tests: a local HTTP/1.1
//! server (std `TcpListener`, a thread per connection, `Connection:
//! close`) that speaks the JSON shapes `csip_anypoint::client` documents,
//! with scriptable faults and a log of every request.
//!
//! ```ignore
//! mod fake;
//! use fake::{FakeAnypoint, Fault};
//! let server = FakeAnypoint::start();
//! server.add_org("org-1");
//! server.set_assets("org-1", fake::catalogue("org-1", 20, 7).assets);
//! server.fail_next("/exchange/", [Fault::Pass, Fault::ExpireTokens]);
//! let settings = server.settings(); // fast retries, its base URL
//! let mut client = csip_anypoint::Client::new(settings, server.credentials()).unwrap();
//! ```
//!
//! Endpoints (each but the token one wants `Authorization: Bearer` with a
//! token it issued, else 401):
//! - `POST /accounts/api/v2/oauth2/token` (form: [`CLIENT_ID`],
//!   [`CLIENT_SECRET`], `grant_type=client_credentials`);
//! - `GET /exchange/api/v2/assets/search?organizationId&types&offset&limit`;
//! - `GET /accounts/api/organizations/{org}/environments`;
//! - `POST /observability/api/v1/metrics:search?offset&limit` (the AMQL
//!   query is checked for its metric, `"sub_org.id"` and grouping, and
//!   kept: [`FakeAnypoint::monitoring_queries`]);
//! - `GET /analytics/1.0/{org}/environments/{env}/events?format=json&
//!   startDate&endDate&fields` (events in `[startDate, endDate)`, the
//!   fields asked for, at most 20,000, as Anypoint cuts them).
//!
//! An organization it was not given is a 404.

#![allow(dead_code)] // each test file uses a part of it
#![allow(unreachable_pub)] // `mod fake;` or `pub mod fake;`, as a test file likes

use chrono::{DateTime, Utc};
use csip_anypoint::client::{Credentials, MetricsSource, Settings};
use csip_store::{Backoff, Secret};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The client id the fake accepts.
pub const CLIENT_ID: &str = "fake-client-id-5f1c";
/// The client secret the fake accepts.
pub const CLIENT_SECRET: &str = "fake-client-secret-9a7e3b";
/// The most analytics events one answer holds (as Anypoint documents).
pub const MAX_EVENTS: usize = 20_000;

/// One version of one Exchange asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeAsset {
    /// Its group.
    pub group_id: String,
    /// Its asset id.
    pub asset_id: String,
    /// This version.
    pub version: String,
    /// Its name at this version.
    pub name: String,
    /// Its description at this version.
    pub description: Option<String>,
}

/// One environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeEnvironment {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Production or not.
    pub production: bool,
}

/// One Anypoint Monitoring row: an API's aggregates.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeRow {
    /// The `api_id` dimension (the asset id).
    pub api: String,
    /// `COUNT(requests)`.
    pub requests: u64,
    /// `SUM(errors)`.
    pub errors: u64,
    /// `AVG(response_time)`, in ms.
    pub avg_ms: f64,
}

/// One analytics event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeEvent {
    /// `API ID` (the API Manager instance id).
    pub api_id: String,
    /// `API Name` (the asset id).
    pub api_name: String,
    /// `Response Time`, in ms.
    pub response_ms: u64,
    /// `Status Code`.
    pub status: u16,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// What the fake does to a request instead of (or besides) answering it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: the request is answered as usual (to reach a later one).
    Pass,
    /// This status, with a small JSON body.
    Status(u16),
    /// This status with `Retry-After: seconds`.
    RetryAfter {
        /// The status (429, 503).
        status: u16,
        /// The `Retry-After` value.
        seconds: u64,
    },
    /// 401, and every token issued so far forgotten (they expired).
    ExpireTokens,
    /// The usual answer, after this long.
    Slow(Duration),
    /// 200 with a body that is not JSON.
    Malformed,
    /// The usual answer with `X-RateLimit-Remaining: 0` and
    /// `X-RateLimit-Reset: reset_seconds`.
    RateLimitExhausted {
        /// Seconds until the limit resets.
        reset_seconds: u64,
    },
    /// For the Exchange search: a full page whatever the offset.
    EndlessPage,
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, decoded as sent.
    pub path: String,
    /// The query string as sent.
    pub query: String,
    /// The body as text.
    pub body: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// When it arrived.
    pub at: Instant,
    /// The status answered (0 when the fake never answered).
    pub status: u16,
}

/// An organization's catalogue: every version of each of its APIs, in a
/// shuffled order, and what the latest of each is.
#[derive(Clone, Debug)]
pub struct Catalogue {
    /// Every version of every asset, shuffled.
    pub assets: Vec<FakeAsset>,
    /// Each asset id's latest version and the name it has there.
    pub latest: BTreeMap<String, (String, String)>,
}

/// The fake server. It stops when dropped.
pub struct FakeAnypoint {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeAnypoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAnypoint")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    orgs: BTreeSet<String>,
    assets: BTreeMap<String, Vec<FakeAsset>>,
    environments: BTreeMap<String, Vec<FakeEnvironment>>,
    rows: BTreeMap<String, Vec<FakeRow>>,
    events: BTreeMap<String, Vec<FakeEvent>>,
    token_life: u64,
    issued: Vec<String>,
    valid: BTreeSet<String>,
    next: Vec<(String, VecDeque<Fault>)>,
    always: Vec<(String, Fault)>,
    log: Vec<Logged>,
    queries: Vec<String>,
}

impl FakeAnypoint {
    /// A server on a free local port, with no organization yet.
    pub fn start() -> FakeAnypoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        let addr = listener.local_addr().expect("its address");
        let state = Arc::new(Mutex::new(State {
            token_life: 3600,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = state.clone();
                    std::thread::spawn(move || serve(stream, &state));
                }
            })
        };
        FakeAnypoint {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The credentials it accepts.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            client_id: Secret::new(CLIENT_ID),
            client_secret: Secret::new(CLIENT_SECRET),
        }
    }

    /// Settings for a test: its base URL, a 5 s request timeout, a 60 s
    /// deadline, 5 attempts 10 ms apart doubling to 50 ms, pages of 100,
    /// Monitoring.
    pub fn settings(&self) -> Settings {
        Settings {
            base_url: self.base_url(),
            request_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(60),
            retry: Backoff {
                first: Duration::from_millis(10),
                max: Duration::from_millis(50),
                attempts: 5,
            },
            page_size: 100,
            metrics: MetricsSource::Monitoring,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Makes `org` known (with no assets, environments or metrics).
    pub fn add_org(&self, org: &str) {
        self.state().orgs.insert(org.to_string());
    }

    /// `org`'s Exchange assets, every version, in the order served.
    pub fn set_assets(&self, org: &str, assets: Vec<FakeAsset>) {
        let mut s = self.state();
        s.orgs.insert(org.to_string());
        s.assets.insert(org.to_string(), assets);
    }

    /// `org`'s environments.
    pub fn set_environments(&self, org: &str, environments: Vec<FakeEnvironment>) {
        let mut s = self.state();
        s.orgs.insert(org.to_string());
        s.environments.insert(org.to_string(), environments);
    }

    /// `org`'s Anypoint Monitoring rows (one per API).
    pub fn set_monitoring(&self, org: &str, rows: Vec<FakeRow>) {
        let mut s = self.state();
        s.orgs.insert(org.to_string());
        s.rows.insert(org.to_string(), rows);
    }

    /// Environment `env`'s analytics events.
    pub fn set_events(&self, env: &str, events: Vec<FakeEvent>) {
        self.state().events.insert(env.to_string(), events);
    }

    /// The `expires_in` of the tokens it issues (3600 by default).
    pub fn set_token_life(&self, seconds: u64) {
        self.state().token_life = seconds;
    }

    /// The next requests whose path contains `path` meet `faults`, one
    /// each, in order (then they are answered as usual).
    pub fn fail_next(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        self.state()
            .next
            .push((path.to_string(), faults.into_iter().collect()));
    }

    /// Every request whose path contains `path` meets `fault`.
    pub fn fail_always(&self, path: &str, fault: Fault) {
        self.state().always.push((path.to_string(), fault));
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Logged> {
        self.state().log.clone()
    }

    /// The requests whose path contains `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Logged> {
        self.state()
            .log
            .iter()
            .filter(|r| r.path.contains(path))
            .cloned()
            .collect()
    }

    /// Every token it issued.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state().issued.clone()
    }

    /// Every AMQL query it was sent.
    pub fn monitoring_queries(&self) -> Vec<String> {
        self.state().queries.clone()
    }
}

impl Drop for FakeAnypoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// A catalogue of `apis` REST APIs of group `group` (`api-000`…), each in
/// several versions: `1.0.0`, `1.10.0`, `1.2.0`, `2.0.0-rc.1` (latest
/// `2.0.0-rc.1`); every third also `2.0.0` (latest); every fifth also
/// `zzz-not-semver` (which loses); every tenth from the 10th on (`i % 10
/// == 9`) only `v1`, `v2-beta`, `release-10`, none semantic (latest
/// `v2-beta`, the lexically greatest). Shuffled with `seed`.
pub fn catalogue(group: &str, apis: usize, seed: u64) -> Catalogue {
    let mut assets = Vec::new();
    let mut latest = BTreeMap::new();
    for i in 0..apis {
        let asset_id = format!("api-{i:03}");
        let versions: Vec<&str> = if i % 10 == 9 {
            vec!["v1", "v2-beta", "release-10"]
        } else {
            let mut v = vec!["1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1"];
            if i % 3 == 0 {
                v.push("2.0.0");
            }
            if i % 5 == 0 {
                v.push("zzz-not-semver");
            }
            v
        };
        let top = if i % 10 == 9 {
            "v2-beta"
        } else if i % 3 == 0 {
            "2.0.0"
        } else {
            "2.0.0-rc.1"
        };
        for version in versions {
            assets.push(FakeAsset {
                group_id: group.to_string(),
                asset_id: asset_id.clone(),
                version: version.to_string(),
                name: format!("API {i} ({version})"),
                description: (i % 2 == 0).then(|| format!("The API number {i}, at {version}")),
            });
        }
        latest.insert(asset_id, (top.to_string(), format!("API {i} ({top})")));
    }
    shuffle(&mut assets, seed);
    Catalogue { assets, latest }
}

/// `items` in an order drawn from `seed` (Fisher–Yates, xorshift).
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// One request read off the wire.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// An answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, serde_json::json!({ "message": message }))
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let at = Instant::now();
    let Some(request) = read_request(&stream) else {
        return;
    };
    let index = {
        let mut s = lock(state);
        s.log.push(Logged {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            body: request.body.clone(),
            authorization: request.headers.get("authorization").cloned(),
            at,
            status: 0,
        });
        s.log.len() - 1
    };
    let fault = {
        let mut s = lock(state);
        let scripted = s
            .next
            .iter_mut()
            .find(|(p, q)| request.path.contains(p.as_str()) && !q.is_empty())
            .and_then(|(_, q)| q.pop_front());
        scripted.or_else(|| {
            s.always
                .iter()
                .find(|(p, _)| request.path.contains(p.as_str()))
                .map(|(_, f)| f.clone())
        })
    };
    let answer = match fault {
        Some(Fault::Status(status)) => Answer::error(status, "a scripted fault"),
        Some(Fault::RetryAfter { status, seconds }) => {
            let mut a = Answer::error(status, "slow down");
            a.headers.push(("Retry-After".into(), seconds.to_string()));
            a
        }
        Some(Fault::ExpireTokens) => {
            lock(state).valid.clear();
            Answer::error(401, "the token expired")
        }
        Some(Fault::Malformed) => Answer {
            status: 200,
            headers: Vec::new(),
            body: "{\"data\": [ {\"id\": ".into(),
        },
        Some(Fault::Slow(delay)) => {
            std::thread::sleep(delay);
            route(&request, state, false)
        }
        Some(Fault::RateLimitExhausted { reset_seconds }) => {
            let mut a = route(&request, state, false);
            a.headers.push(("X-RateLimit-Remaining".into(), "0".into()));
            a.headers
                .push(("X-RateLimit-Reset".into(), reset_seconds.to_string()));
            a
        }
        Some(Fault::EndlessPage) => route(&request, state, true),
        Some(Fault::Pass) | None => route(&request, state, false),
    };
    lock(state).log[index].status = answer.status;
    write_answer(stream, &answer);
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Request {
        method,
        path,
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn write_answer(mut stream: TcpStream, answer: &Answer) {
    let mut head = format!(
        "HTTP/1.1 {} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.body.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn route(request: &Request, state: &Mutex<State>, endless: bool) -> Answer {
    let segments: Vec<String> = request
        .path
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = query_map(&request.query);
    if segments == ["accounts", "api", "v2", "oauth2", "token"] && request.method == "POST" {
        return token(request, state);
    }
    let authorized = request
        .headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| lock(state).valid.contains(t));
    if !authorized {
        return Answer::error(401, "unauthorized");
    }
    let s = lock(state);
    let known = |org: &str| s.orgs.contains(org);
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["exchange", "api", "v2", "assets", "search"]) => {
            let org = query.get("organizationId").cloned().unwrap_or_default();
            if !known(&org) {
                return Answer::error(404, "organization not found");
            }
            if query.get("types").map(String::as_str) != Some("rest-api") {
                return Answer::error(400, "types=rest-api expected");
            }
            let number = |k: &str, d: usize| query.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
            let (offset, limit) = (number("offset", 0), number("limit", 20));
            let all = s.assets.get(&org).cloned().unwrap_or_default();
            let page: Vec<FakeAsset> = if endless {
                all.first()
                    .map(|a| vec![a.clone(); limit])
                    .unwrap_or_default()
            } else {
                all.into_iter().skip(offset).take(limit).collect()
            };
            let items: Vec<serde_json::Value> = page
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "groupId": a.group_id,
                        "assetId": a.asset_id,
                        "version": a.version,
                        "name": a.name,
                        "description": a.description,
                        "type": "rest-api",
                        "status": "published",
                        "createdAt": "2026-01-15T10:00:00.000Z",
                        "organizationId": org,
                    })
                })
                .collect();
            Answer::json(200, serde_json::Value::Array(items))
        }
        ("GET", ["accounts", "api", "organizations", org, "environments"]) => {
            if !known(org) {
                return Answer::error(404, "organization not found");
            }
            let data: Vec<serde_json::Value> = s
                .environments
                .get(*org)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "id": e.id,
                        "name": e.name,
                        "organizationId": org,
                        "isProduction": e.production,
                        "type": if e.production { "production" } else { "sandbox" },
                    })
                })
                .collect();
            let total = data.len();
            Answer::json(200, serde_json::json!({ "data": data, "total": total }))
        }
        ("POST", ["observability", "api", "v1", "metrics:search"]) => {
            drop(s);
            monitoring(request, &query, state)
        }
        ("GET", ["analytics", "1.0", org, "environments", env, "events"]) => {
            if !known(org) {
                return Answer::error(404, "organization not found");
            }
            events(&s, env, &query)
        }
        _ => Answer::error(404, "no such endpoint"),
    }
}

fn token(request: &Request, state: &Mutex<State>) -> Answer {
    let form = query_map(&request.body);
    let fits = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && request
            .headers
            .get("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !fits {
        return Answer::json(401, serde_json::json!({ "error": "invalid_client" }));
    }
    let mut s = lock(state);
    let token = format!("fake-token-{}-{:x}", s.issued.len() + 1, s.log.len() * 7919);
    s.issued.push(token.clone());
    s.valid.insert(token.clone());
    Answer::json(
        200,
        serde_json::json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": s.token_life,
        }),
    )
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

fn monitoring(request: &Request, query: &BTreeMap<String, String>, state: &Mutex<State>) -> Answer {
    let Ok(body) = serde_json::from_str::<serde_json::Value>(&request.body) else {
        return Answer::error(400, "a JSON body expected");
    };
    let Some(amql) = body.get("query").and_then(|q| q.as_str()) else {
        return Answer::error(400, "{\"query\"} expected");
    };
    let mut s = lock(state);
    s.queries.push(amql.to_string());
    let shaped = amql.starts_with("SELECT ")
        && amql.contains("COUNT(requests)")
        && amql.contains("AVG(response_time)")
        && amql.contains("SUM(errors)")
        && amql.contains("FROM \"mulesoft.api\"")
        && amql.contains("WHERE timestamp BETWEEN ")
        && amql.ends_with("GROUP BY \"api_id\"");
    if !shaped {
        return Answer::error(400, "the AMQL query is not of the expected shape");
    }
    let Some(org) = between(amql, "\"sub_org.id\" = '", "'") else {
        return Answer::error(400, "no sub_org.id condition");
    };
    if !s.orgs.contains(org) {
        return Answer::error(404, "organization not found");
    }
    let number = |k: &str, d: usize| query.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (offset, limit) = (number("offset", 0), number("limit", 20));
    let data: Vec<serde_json::Value> = s
        .rows
        .get(org)
        .cloned()
        .unwrap_or_default()
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            serde_json::json!({
                "api_id": r.api,
                "COUNT(requests)": r.requests,
                "AVG(response_time)": r.avg_ms,
                "SUM(errors)": r.errors,
            })
        })
        .collect();
    Answer::json(200, serde_json::json!({ "format": "v1", "data": data }))
}

fn events(s: &State, env: &str, query: &BTreeMap<String, String>) -> Answer {
    if query.get("format").map(String::as_str) != Some("json") {
        return Answer::error(400, "format=json expected");
    }
    let date = |k: &str| {
        query
            .get(k)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|d| d.with_timezone(&Utc))
    };
    let (Some(start), Some(end)) = (date("startDate"), date("endDate")) else {
        return Answer::error(400, "startDate and endDate expected (RFC 3339)");
    };
    let fields: Vec<String> = query
        .get("fields")
        .map(|f| f.split('.').map(str::to_string).collect())
        .unwrap_or_default();
    let all = s.events.get(env).cloned().unwrap_or_default();
    let items: Vec<serde_json::Value> = all
        .iter()
        .filter(|e| start <= e.at && e.at < end)
        .take(MAX_EVENTS)
        .map(|e| {
            let mut item = serde_json::Map::new();
            for field in &fields {
                let value = match field.as_str() {
                    "API ID" => serde_json::json!(e.api_id),
                    "API Name" => serde_json::json!(e.api_name),
                    "Response Time" => serde_json::json!(e.response_ms),
                    "Status Code" => serde_json::json!(e.status),
                    "Timestamp" => serde_json::json!(e.at.to_rfc3339()),
                    _ => continue,
                };
                item.insert(field.clone(), value);
            }
            serde_json::Value::Object(item)
        })
        .collect();
    Answer::json(200, serde_json::Value::Array(items))
}
