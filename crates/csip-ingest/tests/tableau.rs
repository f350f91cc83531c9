//! `tableau::fetch_view_csv` against a local HTTP server that speaks
//! Tableau's REST API wire format (sign-in with a personal access token,
//! Query View Data, sign-out), scripted to refuse, stall, rate-limit,
//! fail and expire as a real server does.

#![cfg(feature = "tableau")]
#![allow(clippy::unwrap_used)] // tests (and the scripted server) may panic

use csip_ingest::tableau::{
    RETRY, ServerMessage, Step, TableauConfig, TableauError, fetch_view_csv, fetch_view_csv_with,
};
use csip_store::{Backoff, Secret};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN_NAME: &str = "csip-ingest-pat";
const TOKEN_SECRET: &str = "pat-S3cr3t-q9Xw7";
const SITE: &str = "customer-success";
const SITE_ID: &str = "a1b2c3d4-0000-4000-8000-5173e1d00001";
const DEFAULT_SITE_ID: &str = "a1b2c3d4-0000-4000-8000-5173e1d00000";
const VIEW: &str = "9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d";
/// What every session token the server makes starts with.
const SESSION: &str = "sess-Zq8v";
const CSV: &[u8] = "\u{feff}Customer,Metric,Value\r\n\"Gard AS\",API Uptime,\"99,95%\"\r\nNordlys ASA,Error Rate,0.4%\r\n".as_bytes();

/// How the scripted server misbehaves (all off: a healthy server).
#[derive(Default, Clone)]
struct Script {
    /// Answer the sign-in in XML, as a server that ignores `Accept`.
    xml_sign_in: bool,
    /// This raw sign-in answer (status, body) instead of the real one.
    sign_in_answer: Option<(u16, &'static str)>,
    /// Redirect the sign-in elsewhere.
    redirect_sign_in: bool,
    /// Echo the PAT name and secret given in the sign-in's error detail.
    echo_credentials: bool,
    /// 429s (with this `Retry-After`) before the data.
    busy: Vec<&'static str>,
    /// 503s before the data.
    unavailable: u32,
    /// The first session's token lapses before its data request.
    expire_first_session: bool,
    /// Every session's token is refused on the data request.
    expire_every_session: bool,
    /// Wait this long before answering the data request.
    stall_data: Option<Duration>,
}

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: Option<String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    at: Instant,
}

#[derive(Default)]
struct State {
    script: Script,
    requests: Vec<Request>,
    /// Live session tokens and the site id each was made for.
    sessions: HashMap<String, String>,
    made: u32,
    data_requests: u32,
}

/// A scripted Tableau on a local port.
struct Tableau {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Tableau {
    fn start(script: Script) -> Tableau {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            script,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Tableau { base, state }
    }

    fn config(&self) -> TableauConfig {
        TableauConfig {
            server: self.base.clone(),
            version: "3.22".into(),
            site: SITE.into(),
            view: VIEW.into(),
            mapping: Some("anypoint-daily".into()),
            filters: BTreeMap::new(),
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    fn count(&self, method: &str, path_end: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(path_end))
            .count()
    }

    fn sign_ins(&self) -> usize {
        self.count("POST", "/api/3.22/auth/signin")
    }

    fn data_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/data"))
            .collect()
    }

    /// The tokens sign-out was called with.
    fn signed_out(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/api/3.22/auth/signout")
            .map(|r| r.headers.get("x-tableau-auth").cloned().unwrap_or_default())
            .collect()
    }
}

/// A response: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let (status, headers, body) = answer(&request, state);
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |l| l.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (target, None),
    };
    Some(Request {
        method,
        path,
        query,
        headers,
        body,
        at: Instant::now(),
    })
}

fn answer(request: &Request, state: &Mutex<State>) -> Answer {
    let mut s = state.lock().unwrap();
    s.requests.push(request.clone());
    let script = s.script.clone();
    let json = || vec![("Content-Type", "application/json".to_string())];
    let path: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    match (request.method.as_str(), path.as_slice()) {
        ("POST", ["api", "3.22", "auth", "signin"]) => {
            if script.redirect_sign_in {
                let to = "http://elsewhere.invalid/api/3.22/auth/signin".to_string();
                return (302, vec![("Location", to)], Vec::new());
            }
            if let Some((status, body)) = script.sign_in_answer {
                return (status, json(), body.into());
            }
            assert_eq!(request.headers["content-type"], "application/json");
            assert_eq!(request.headers["accept"], "application/json");
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            let credentials = &body["credentials"];
            let name = credentials["personalAccessTokenName"]
                .as_str()
                .unwrap_or("");
            let secret = credentials["personalAccessTokenSecret"]
                .as_str()
                .unwrap_or("");
            let site = credentials["site"]["contentUrl"].as_str();
            let site_id = match site {
                Some(SITE) => SITE_ID,
                Some("") => DEFAULT_SITE_ID,
                _ => "",
            };
            if name != TOKEN_NAME || secret != TOKEN_SECRET || site_id.is_empty() {
                let detail = if script.echo_credentials {
                    format!("The personal access token {name} (secret {secret}) is not valid.")
                } else {
                    "Error signing in to Tableau Server".to_string()
                };
                let error = serde_json::json!({"error": {
                    "summary": "Signin Error", "detail": detail, "code": "401001"
                }});
                return (401, json(), error.to_string().into());
            }
            s.made += 1;
            let token = format!("{SESSION}|{}", s.made);
            s.sessions.insert(token.clone(), site_id.to_string());
            let site = site.unwrap_or_default();
            if script.xml_sign_in {
                let xml = format!(
                    "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><credentials token=\"{token}\" estimatedTimeToExpiration=\"365:22:13\"><site id=\"{site_id}\" contentUrl=\"{site}\"/><user id=\"9f9e9d9c-user\"/></credentials></tsResponse>"
                );
                return (
                    200,
                    vec![("Content-Type", "application/xml;charset=UTF-8".into())],
                    xml.into(),
                );
            }
            let answer = serde_json::json!({"credentials": {
                "token": token,
                "site": {"id": site_id, "contentUrl": site},
                "user": {"id": "9f9e9d9c-user"},
                "estimatedTimeToExpiration": "365:22:13"
            }});
            (200, json(), answer.to_string().into())
        }
        ("POST", ["api", "3.22", "auth", "signout"]) => {
            let token = request.headers.get("x-tableau-auth").cloned();
            s.sessions.remove(&token.unwrap_or_default());
            (204, Vec::new(), Vec::new())
        }
        ("GET", ["api", "3.22", "sites", site_id, "views", view, "data"]) => {
            s.data_requests += 1;
            let unauthorized = || {
                let error = serde_json::json!({"error": {
                    "summary": "Unauthorized Access",
                    "detail": "Invalid authentication credentials were provided.",
                    "code": "401002"
                }});
                (401, json(), error.to_string().into_bytes())
            };
            let token = request
                .headers
                .get("x-tableau-auth")
                .cloned()
                .unwrap_or_default();
            let Some(session_site) = s.sessions.get(&token).cloned() else {
                return unauthorized();
            };
            if script.expire_every_session
                || (script.expire_first_session && token == format!("{SESSION}|1"))
            {
                s.sessions.remove(&token);
                return unauthorized();
            }
            if *site_id != session_site {
                return (403, json(), b"{}".to_vec());
            }
            if *view != VIEW {
                let xml = format!(
                    "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\"><error code=\"404011\"><summary>Resource Not Found</summary><detail>View &apos;{view}&apos; could not be found.</detail></error></tsResponse>"
                );
                return (
                    404,
                    vec![("Content-Type", "application/xml".into())],
                    xml.into(),
                );
            }
            let busy = script.busy.len() as u32;
            if s.data_requests <= busy {
                let after = script.busy[s.data_requests as usize - 1].to_string();
                return (429, vec![("Retry-After", after)], Vec::new());
            }
            if s.data_requests <= busy + script.unavailable {
                let error = serde_json::json!({"error": {
                    "summary": "Service Unavailable", "detail": "Try again later.", "code": "503000"
                }});
                return (503, json(), error.to_string().into());
            }
            drop(s);
            if let Some(stall) = script.stall_data {
                std::thread::sleep(stall);
            }
            (
                200,
                vec![("Content-Type", "text/csv; charset=utf-8".into())],
                CSV.to_vec(),
            )
        }
        _ => (404, json(), b"{}".to_vec()),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Other",
    }
}

/// Retries as `RETRY` does, but quickly.
const FAST: Backoff = Backoff {
    first: Duration::from_millis(10),
    max: Duration::from_secs(5),
    attempts: 4,
};

fn fetch(config: &TableauConfig) -> Result<Vec<u8>, TableauError> {
    fetch_with(config, TOKEN_SECRET)
}

fn fetch_with(config: &TableauConfig, secret: &str) -> Result<Vec<u8>, TableauError> {
    let name = Secret::new(TOKEN_NAME);
    let secret = Secret::new(secret);
    fetch_view_csv_with(config, &name, &secret, Duration::from_secs(10), &FAST)
}

/// Neither the PAT's name or secret nor a session token is in the error's
/// message or its `Debug`.
fn assert_no_secret(error: &TableauError) {
    for shown in [error.to_string(), format!("{error:?}")] {
        for secret in [TOKEN_NAME, TOKEN_SECRET, "wrong-S3cr3t", SESSION] {
            assert!(!shown.contains(secret), "{secret:?} in {shown:?}");
        }
    }
}

#[test]
fn fetches_the_view_csv_signing_in_and_out() {
    let tableau = Tableau::start(Script::default());
    let config = tableau.config();
    let csv = fetch_view_csv(
        &config,
        &Secret::new(TOKEN_NAME),
        &Secret::new(TOKEN_SECRET),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(csv, CSV, "the bytes as Tableau sent them, BOM included");
    assert_eq!(tableau.sign_ins(), 1);
    let sign_in = &tableau.requests()[0];
    let body: serde_json::Value = serde_json::from_slice(&sign_in.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"credentials": {
            "personalAccessTokenName": TOKEN_NAME,
            "personalAccessTokenSecret": TOKEN_SECRET,
            "site": {"contentUrl": SITE}
        }})
    );
    let data = tableau.data_requests();
    assert_eq!(data.len(), 1);
    assert_eq!(
        data[0].path,
        format!("/api/3.22/sites/{SITE_ID}/views/{VIEW}/data")
    );
    assert_eq!(data[0].headers["x-tableau-auth"], format!("{SESSION}|1"));
    assert_eq!(data[0].query, None);
    assert_eq!(tableau.signed_out(), [format!("{SESSION}|1")]);
    let methods: Vec<_> = tableau
        .requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(methods, ["POST", "GET", "POST"]);
}

#[test]
fn reads_the_xml_sign_in_answer() {
    let tableau = Tableau::start(Script {
        xml_sign_in: true,
        ..Script::default()
    });
    assert_eq!(fetch(&tableau.config()).unwrap(), CSV);
    assert_eq!(tableau.sign_ins(), 1);
    assert_eq!(tableau.signed_out(), [format!("{SESSION}|1")]);
}

#[test]
fn signs_in_to_the_default_site_and_sends_the_filters() {
    let tableau = Tableau::start(Script::default());
    let config = TableauConfig {
        site: String::new(),
        filters: BTreeMap::from([
            ("Region".to_string(), "North America,EMEA".to_string()),
            ("Customer Tier".to_string(), "Gold & Platinum".to_string()),
        ]),
        ..tableau.config()
    };
    assert_eq!(fetch(&config).unwrap(), CSV);
    let data = tableau.data_requests();
    assert_eq!(
        data[0].path,
        format!("/api/3.22/sites/{DEFAULT_SITE_ID}/views/{VIEW}/data")
    );
    assert_eq!(
        data[0].query.as_deref(),
        Some("vf_Customer%20Tier=Gold%20%26%20Platinum&vf_Region=North%20America%2CEMEA")
    );
}

#[test]
fn a_server_url_with_a_trailing_slash_and_the_env_override() {
    let tableau = Tableau::start(Script::default());
    let config = TableauConfig {
        server: "https://tableau.example.invalid".into(),
        ..tableau.config()
    };
    let url = format!("{}/", tableau.base);
    let env = |name: &str| (name == "CSIP_TABLEAU_URL").then(|| url.clone());
    let config = config.with_env_override(&env);
    assert_eq!(config.server, format!("{}/", tableau.base));
    assert_eq!(fetch(&config).unwrap(), CSV);
    // Unset or blank: the configured server stays.
    let blank = |_: &str| Some("  ".to_string());
    assert_eq!(
        config.clone().with_env_override(&blank).server,
        config.server
    );
    assert_eq!(config.clone().with_env_override(&|_| None), config);
}

#[test]
fn a_wrong_token_is_unauthorized_and_named_nowhere() {
    let tableau = Tableau::start(Script {
        echo_credentials: true,
        ..Script::default()
    });
    let error = fetch_with(&tableau.config(), "wrong-S3cr3t").unwrap_err();
    let TableauError::Unauthorized { tableau: said } = &error else {
        panic!("{error:?}");
    };
    let said = said.as_ref().unwrap();
    assert_eq!(said.code.as_deref(), Some("401001"));
    assert_eq!(said.summary.as_deref(), Some("Signin Error"));
    assert_eq!(
        said.detail.as_deref(),
        Some("The personal access token *** (secret ***) is not valid.")
    );
    let message = error.to_string();
    assert!(
        message.starts_with("the personal access token was refused"),
        "{message}"
    );
    assert!(message.contains("CSIP_TABLEAU_TOKEN_NAME"), "{message}");
    assert!(message.contains("401001"), "{message}");
    assert_no_secret(&error);
    assert_eq!(tableau.sign_ins(), 1);
    assert!(tableau.data_requests().is_empty());
    assert!(tableau.signed_out().is_empty(), "no session to end");
}

#[test]
fn a_wrong_site_is_unauthorized() {
    let tableau = Tableau::start(Script::default());
    let config = TableauConfig {
        site: "marketing".into(),
        ..tableau.config()
    };
    let error = fetch(&config).unwrap_err();
    assert!(
        matches!(error, TableauError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("ingest.tableau.site"), "{error}");
    assert_no_secret(&error);
}

#[test]
fn an_expired_session_signs_in_again_once() {
    let tableau = Tableau::start(Script {
        expire_first_session: true,
        ..Script::default()
    });
    assert_eq!(fetch(&tableau.config()).unwrap(), CSV);
    assert_eq!(tableau.sign_ins(), 2);
    let tokens: Vec<_> = tableau
        .data_requests()
        .iter()
        .map(|r| r.headers["x-tableau-auth"].clone())
        .collect();
    assert_eq!(tokens, [format!("{SESSION}|1"), format!("{SESSION}|2")]);
    assert_eq!(tableau.signed_out(), [format!("{SESSION}|2")]);
}

#[test]
fn a_session_refused_twice_is_unauthorized() {
    let tableau = Tableau::start(Script {
        expire_every_session: true,
        ..Script::default()
    });
    let error = fetch(&tableau.config()).unwrap_err();
    let TableauError::Unauthorized { tableau: said } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(said.as_ref().unwrap().code.as_deref(), Some("401002"));
    assert_no_secret(&error);
    assert_eq!(tableau.sign_ins(), 2, "one sign-in again, not more");
    assert_eq!(tableau.data_requests().len(), 2);
    assert_eq!(tableau.signed_out().len(), 1);
}

#[test]
fn a_429_waits_as_retry_after_says() {
    let tableau = Tableau::start(Script {
        busy: vec!["1"],
        ..Script::default()
    });
    assert_eq!(fetch(&tableau.config()).unwrap(), CSV);
    let data = tableau.data_requests();
    assert_eq!(data.len(), 2);
    let gap = data[1].at - data[0].at;
    assert!(gap >= Duration::from_secs(1), "waited only {gap:?}");
    assert_eq!(tableau.sign_ins(), 1);
    assert_eq!(tableau.signed_out().len(), 1);
}

#[test]
fn a_retry_after_longer_than_csip_waits_ends_the_fetch() {
    let tableau = Tableau::start(Script {
        busy: vec!["3600"],
        ..Script::default()
    });
    let error = fetch(&tableau.config()).unwrap_err();
    let TableauError::WaitTooLong {
        step,
        status,
        seconds,
        max_seconds,
    } = error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        (step, status, seconds, max_seconds),
        (Step::ViewData, 429, 3600, 5)
    );
    assert_eq!(tableau.data_requests().len(), 1);
    assert_eq!(
        tableau.signed_out().len(),
        1,
        "signed out after a failure too"
    );
}

#[test]
fn a_503_is_retried_until_tableau_answers() {
    let tableau = Tableau::start(Script {
        unavailable: 2,
        ..Script::default()
    });
    assert_eq!(fetch(&tableau.config()).unwrap(), CSV);
    assert_eq!(tableau.data_requests().len(), 3);
    assert_eq!(tableau.sign_ins(), 1);
    assert_eq!(tableau.signed_out().len(), 1);
}

#[test]
fn a_server_down_for_every_attempt_is_unavailable() {
    let tableau = Tableau::start(Script {
        busy: vec!["0"],
        unavailable: 10,
        ..Script::default()
    });
    let error = fetch(&tableau.config()).unwrap_err();
    let TableauError::Unavailable {
        step,
        status,
        attempts,
        tableau: said,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*step, *status, *attempts), (Step::ViewData, 503, 4));
    assert_eq!(
        said.as_ref().unwrap(),
        &ServerMessage {
            code: Some("503000".into()),
            summary: Some("Service Unavailable".into()),
            detail: Some("Try again later.".into()),
        }
    );
    assert!(error.to_string().contains("try again later"), "{error}");
    assert_eq!(tableau.data_requests().len(), 4, "at most 4 attempts");
    assert_eq!(tableau.signed_out().len(), 1);
}

#[test]
fn an_unknown_view_is_named() {
    let tableau = Tableau::start(Script::default());
    let config = TableauConfig {
        view: "00000000-no-such-view".into(),
        ..tableau.config()
    };
    let error = fetch(&config).unwrap_err();
    let TableauError::NoSuchView {
        view,
        site,
        tableau: said,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        (view.as_str(), site.as_str()),
        ("00000000-no-such-view", SITE)
    );
    let said = said.as_ref().unwrap();
    assert_eq!(said.code.as_deref(), Some("404011"));
    assert_eq!(
        said.detail.as_deref(),
        Some("View '00000000-no-such-view' could not be found.")
    );
    let message = error.to_string();
    for part in ["00000000-no-such-view", SITE, "ingest.tableau.view"] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    assert_no_secret(&error);
    assert_eq!(tableau.signed_out(), [format!("{SESSION}|1")]);
}

#[test]
fn malformed_sign_in_answers_are_errors() {
    let answers = [
        "not json",
        "{\"credentials\": {\"token\": \"t\"}}",
        "{\"credentials\": {\"site\": {\"id\": \"s\"}}}",
        "{\"credentials\": {\"token\": \"bad\\ntoken\", \"site\": {\"id\": \"s\"}}}",
        "<tsResponse><credentials token=\"t\"></tsResponse>",
        "<tsResponse><credentials token=\"t",
        "",
    ];
    for answer in answers {
        let tableau = Tableau::start(Script {
            sign_in_answer: Some((200, answer)),
            ..Script::default()
        });
        let error = fetch(&tableau.config()).unwrap_err();
        assert!(
            matches!(
                error,
                TableauError::BadAnswer {
                    step: Step::SignIn,
                    ..
                }
            ),
            "{answer:?}: {error:?}"
        );
        assert!(tableau.data_requests().is_empty());
    }
}

#[test]
fn another_refusal_at_sign_in_is_refused() {
    let tableau = Tableau::start(Script {
        sign_in_answer: Some((
            400,
            "{\"error\": {\"summary\": \"Bad Request\", \"detail\": \"Payload is either malformed or incomplete\", \"code\": 400000}}",
        )),
        ..Script::default()
    });
    let error = fetch(&tableau.config()).unwrap_err();
    let TableauError::Refused {
        step,
        status,
        tableau: said,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*step, *status), (Step::SignIn, 400));
    assert_eq!(said.as_ref().unwrap().code.as_deref(), Some("400000"));
}

#[test]
fn a_redirect_is_not_followed() {
    let tableau = Tableau::start(Script {
        redirect_sign_in: true,
        ..Script::default()
    });
    let error = fetch(&tableau.config()).unwrap_err();
    let TableauError::Redirect {
        step,
        status,
        location,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*step, *status), (Step::SignIn, 302));
    assert!(
        location
            .as_deref()
            .unwrap()
            .starts_with("http://elsewhere.invalid/")
    );
    assert_eq!(tableau.requests().len(), 1);
    assert_no_secret(&error);
}

#[test]
fn a_data_request_that_times_out_still_signs_out() {
    let tableau = Tableau::start(Script {
        stall_data: Some(Duration::from_secs(3)),
        ..Script::default()
    });
    let name = Secret::new(TOKEN_NAME);
    let secret = Secret::new(TOKEN_SECRET);
    let error = fetch_view_csv_with(
        &tableau.config(),
        &name,
        &secret,
        Duration::from_millis(300),
        &RETRY,
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            TableauError::Transport {
                step: Step::ViewData,
                ..
            }
        ),
        "{error:?}"
    );
    assert_no_secret(&error);
    assert_eq!(tableau.signed_out(), [format!("{SESSION}|1")]);
}

#[test]
fn no_server_is_a_transport_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = TableauConfig {
        server: format!("http://127.0.0.1:{port}"),
        version: "3.22".into(),
        site: SITE.into(),
        view: VIEW.into(),
        mapping: None,
        filters: BTreeMap::new(),
    };
    let error = fetch(&config).unwrap_err();
    assert!(
        matches!(
            error,
            TableauError::Transport {
                step: Step::SignIn,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("ingest.tableau.server"),
        "{error}"
    );
    assert_no_secret(&error);
}

#[test]
fn only_http_and_https_servers() {
    for server in [
        "ftp://tableau.example.com",
        "tableau.example.com",
        "file:///etc/passwd",
    ] {
        let config = TableauConfig {
            server: server.into(),
            version: "3.22".into(),
            site: SITE.into(),
            view: VIEW.into(),
            mapping: None,
            filters: BTreeMap::new(),
        };
        let error = fetch(&config).unwrap_err();
        assert!(
            matches!(error, TableauError::BadUrl { .. }),
            "{server}: {error:?}"
        );
        assert!(error.to_string().contains("http:// or https://"), "{error}");
    }
}

#[test]
fn the_config_section_reads_and_refuses_unknown_keys() {
    let config: TableauConfig = toml::from_str(
        r#"
        server = "https://tableau.example.com"
        version = "3.22"
        site = ""
        view = "9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d"
        "#,
    )
    .unwrap();
    assert_eq!(config.mapping, None);
    assert!(config.filters.is_empty());
    let unknown = toml::from_str::<TableauConfig>(
        r#"
        server = "https://tableau.example.com"
        version = "3.22"
        site = ""
        view = "v"
        token = "x"
        "#,
    );
    assert!(unknown.unwrap_err().to_string().contains("token"));
}

#[test]
fn secrets_print_as_stars() {
    let name = Secret::new(TOKEN_NAME);
    let secret = Secret::new(TOKEN_SECRET);
    let shown = format!("{name:?} {secret:?} {name} {secret}");
    assert!(
        !shown.contains(TOKEN_NAME) && !shown.contains(TOKEN_SECRET),
        "{shown}"
    );
}
