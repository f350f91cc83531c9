//! `csip_anypoint::client` against a local fake of the Anypoint control
//! plane (`fake/mod.rs`): tokens, paging, the latest version by semver,
//! metrics from Monitoring and from analytics events, and every limit the
//! client must live with (401, 429, 503, slow answers, malformed bodies,
//! rate-limit headers, a server that is down, the deadline). The only
//! timing assertions are lower bounds the protocol sets (`Retry-After`,
//! `X-RateLimit-Reset`).

#![allow(clippy::unwrap_used)]

mod fake;

use chrono::{DateTime, Duration as Days, TimeZone, Utc};
use csip_anypoint::client::{AnypointError, Client, Credentials, MetricsSource, Settings};
use csip_store::{Backoff, Secret};
use fake::{FakeAnypoint, FakeEnvironment, FakeEvent, FakeRow, Fault};
use std::collections::BTreeMap;
use std::time::Duration;

const ORG: &str = "3f1c0a2e-7d4b-4c59-9e0f-5a6b7c8d9e01";

fn client(settings: Settings, server: &FakeAnypoint) -> Client {
    Client::new(settings, server.credentials()).unwrap()
}

/// The window of the metrics tests: 30 days to a fixed end.
fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    let to = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    (to - Days::days(30), to)
}

/// Neither the credentials nor any token the fake issued is in `text`.
fn assert_no_secret(text: &str, server: &FakeAnypoint) {
    assert!(
        !text.contains(fake::CLIENT_SECRET),
        "the secret leaked: {text}"
    );
    assert!(
        !text.contains(fake::CLIENT_ID),
        "the client id leaked: {text}"
    );
    for token in server.issued_tokens() {
        assert!(!text.contains(&token), "a token leaked: {text}");
    }
}

fn shown(e: &AnypointError) -> String {
    format!("{e} {e:?}")
}

/// A server with an organization of `apis` APIs in several versions each.
fn organization(apis: usize) -> (FakeAnypoint, fake::Catalogue) {
    let server = FakeAnypoint::start();
    let catalogue = fake::catalogue(ORG, apis, 0x5eed);
    server.set_assets(ORG, catalogue.assets.clone());
    (server, catalogue)
}

fn pages(entries: usize, page: usize) -> usize {
    entries / page + 1
}

#[test]
fn five_hundred_apis_come_back_each_at_its_semver_latest() {
    let (server, catalogue) = organization(500);
    let mut client = client(server.settings(), &server);
    let assets = client.assets(ORG).unwrap();
    assert_eq!(assets.len(), 500);
    for asset in &assets {
        let (version, name) = &catalogue.latest[&asset.asset_id];
        assert_eq!(&asset.version, version, "{}", asset.asset_id);
        assert_eq!(&asset.name, name);
        assert_eq!(asset.group_id, ORG);
        assert_eq!(asset.status.as_deref(), Some("published"));
    }
    // The cases the catalogue was built for.
    let by_id: BTreeMap<_, _> = assets.iter().map(|a| (a.asset_id.as_str(), a)).collect();
    assert_eq!(by_id["api-000"].version, "2.0.0"); // 2.0.0 > 2.0.0-rc.1, and beats zzz-not-semver
    assert_eq!(by_id["api-001"].version, "2.0.0-rc.1"); // > 1.10.0 > 1.2.0
    assert_eq!(by_id["api-009"].version, "v2-beta"); // none parses: the lexically greatest
    assert_eq!(
        by_id["api-002"].description.as_deref(),
        Some("The API number 2, at 2.0.0-rc.1")
    );

    let stats = client.stats();
    let expected_pages = pages(catalogue.assets.len(), 100);
    println!(
        "500 APIs ({} asset versions): {} requests ({} pages + {} token), {} retries",
        catalogue.assets.len(),
        stats.requests,
        expected_pages,
        stats.token_fetches,
        stats.retries
    );
    assert_eq!(stats.token_fetches, 1);
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.requests as usize, expected_pages + 1);
    assert_eq!(server.requests().len(), expected_pages + 1);
    // Every page asked with the documented parameters and the token.
    let first = &server.requests_to("/exchange/api/v2/assets/search")[0];
    assert!(
        first.query.contains(&format!("organizationId={ORG}")),
        "{}",
        first.query
    );
    assert!(first.query.contains("types=rest-api") && first.query.contains("limit=100"));
    assert_eq!(
        first.authorization.as_deref(),
        Some(format!("Bearer {}", server.issued_tokens()[0]).as_str())
    );
    let token = &server.requests_to("/oauth2/token")[0];
    assert!(
        token.body.contains("grant_type=client_credentials"),
        "{}",
        token.body
    );
}

#[test]
fn an_expired_token_is_fetched_again_once_mid_sync() {
    let (server, catalogue) = organization(150);
    server.fail_next(
        "/exchange/",
        [Fault::Pass, Fault::Pass, Fault::ExpireTokens],
    );
    let mut client = client(server.settings(), &server);
    let assets = client.assets(ORG).unwrap();
    assert_eq!(assets.len(), 150);
    let stats = client.stats();
    assert_eq!(stats.token_fetches, 2);
    assert_eq!(stats.retries, 1);
    let tokens = server.issued_tokens();
    assert_eq!(tokens.len(), 2);
    let pages = server.requests_to("/exchange/");
    assert_eq!(pages.len(), pages_of(&catalogue) + 1);
    // The page refused was asked again with the new token.
    assert_eq!(pages[2].status, 401);
    assert_eq!(pages[2].query, pages[3].query);
    assert_eq!(
        pages[3].authorization,
        Some(format!("Bearer {}", tokens[1]))
    );
}

fn pages_of(catalogue: &fake::Catalogue) -> usize {
    pages(catalogue.assets.len(), 100)
}

#[test]
fn a_second_401_is_unauthorized_and_says_what_to_check() {
    let (server, _) = organization(10);
    server.fail_next("/exchange/", [Fault::ExpireTokens, Fault::ExpireTokens]);
    let mut client = client(server.settings(), &server);
    let e = client.assets(ORG).unwrap_err();
    assert!(matches!(e, AnypointError::Unauthorized), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("CSIP_ANYPOINT_CLIENT_ID/SECRET") && text.contains("scopes"),
        "{text}"
    );
    assert_eq!(client.stats().token_fetches, 2);
    assert_no_secret(&shown(&e), &server);
    assert_no_secret(&format!("{client:?}"), &server);
}

#[test]
fn wrong_credentials_are_unauthorized_without_retries() {
    let (server, _) = organization(10);
    let wrong = Credentials {
        client_id: Secret::new(fake::CLIENT_ID),
        client_secret: Secret::new("not-the-secret-4242"),
    };
    let mut client = Client::new(server.settings(), wrong).unwrap();
    let e = client.assets(ORG).unwrap_err();
    assert!(matches!(e, AnypointError::Unauthorized), "{e:?}");
    assert!(!shown(&e).contains("not-the-secret-4242"));
    assert_eq!(server.requests().len(), 1);
    assert_eq!(client.stats().token_fetches, 0);
}

#[test]
fn a_429_waits_as_long_as_retry_after_says() {
    let (server, _) = organization(10);
    server.fail_next(
        "/exchange/",
        [Fault::RetryAfter {
            status: 429,
            seconds: 1,
        }],
    );
    let mut client = client(server.settings(), &server);
    assert_eq!(client.assets(ORG).unwrap().len(), 10);
    let calls = server.requests_to("/exchange/");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].status, 429);
    // The protocol's lower bound: not before Retry-After.
    assert!(calls[1].at - calls[0].at >= Duration::from_secs(1));
    assert_eq!(client.stats().retries, 1);
}

#[test]
fn a_retry_after_past_the_deadline_stops_at_once() {
    let (server, _) = organization(10);
    server.fail_next(
        "/exchange/",
        [Fault::RetryAfter {
            status: 503,
            seconds: 3600,
        }],
    );
    let settings = Settings {
        deadline: Duration::from_secs(20),
        ..server.settings()
    };
    let mut client = client(settings, &server);
    let e = client.assets(ORG).unwrap_err();
    match &e {
        AnypointError::Deadline { reached } => {
            assert!(
                reached.contains("Exchange assets") && reached.contains("offset 0"),
                "{reached}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests_to("/exchange/").len(), 1);
}

#[test]
fn two_503s_then_an_answer() {
    let (server, _) = organization(10);
    server.fail_next("/exchange/", [Fault::Status(503), Fault::Status(503)]);
    let mut client = client(server.settings(), &server);
    assert_eq!(client.assets(ORG).unwrap().len(), 10);
    assert_eq!(client.stats().retries, 2);
    let statuses: Vec<u16> = server
        .requests_to("/exchange/")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
}

#[test]
fn a_500_on_every_attempt_is_unavailable() {
    let (server, _) = organization(10);
    server.fail_always("/exchange/", Fault::Status(500));
    let mut client = client(server.settings(), &server);
    let e = client.assets(ORG).unwrap_err();
    match &e {
        AnypointError::Unavailable {
            endpoint,
            status,
            attempts,
        } => {
            assert_eq!(endpoint, "/exchange/api/v2/assets/search");
            assert_eq!((*status, *attempts), (500, 5));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests_to("/exchange/").len(), 5);
    assert!(e.to_string().contains("try again later"));
}

#[test]
fn an_answer_slower_than_the_request_timeout_is_asked_again() {
    let (server, _) = organization(10);
    server.fail_next("/exchange/", [Fault::Slow(Duration::from_millis(1500))]);
    let settings = Settings {
        request_timeout: Duration::from_millis(300),
        ..server.settings()
    };
    let mut client = client(settings, &server);
    assert_eq!(client.assets(ORG).unwrap().len(), 10);
    assert_eq!(client.stats().retries, 1);
    assert_eq!(server.requests_to("/exchange/").len(), 2);
}

#[test]
fn a_malformed_answer_names_its_endpoint() {
    let server = FakeAnypoint::start();
    server.set_environments(ORG, vec![]);
    server.fail_next("/environments", [Fault::Malformed]);
    let mut client = client(server.settings(), &server);
    let e = client.environments(ORG).unwrap_err();
    match &e {
        AnypointError::Malformed { endpoint, reason } => {
            assert_eq!(
                endpoint,
                &format!("/accounts/api/organizations/{ORG}/environments")
            );
            assert!(reason.contains("not JSON"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("/environments"));
    // Not asked again: a body does not get better by asking.
    assert_eq!(server.requests_to("/environments").len(), 1);
}

#[test]
fn a_malformed_token_answer_names_the_token_endpoint_and_no_secret() {
    let server = FakeAnypoint::start();
    server.add_org(ORG);
    server.fail_next("/oauth2/token", [Fault::Malformed]);
    let mut client = client(server.settings(), &server);
    let e = client.environments(ORG).unwrap_err();
    match &e {
        AnypointError::Malformed { endpoint, .. } => {
            assert_eq!(endpoint, "/accounts/api/v2/oauth2/token");
        }
        other => panic!("{other:?}"),
    }
    assert_no_secret(&shown(&e), &server);
}

#[test]
fn an_exhausted_rate_limit_holds_the_next_call_until_its_reset() {
    let (server, catalogue) = organization(60); // more than one page
    assert!(catalogue.assets.len() > 100);
    server.fail_next(
        "/exchange/",
        [Fault::RateLimitExhausted { reset_seconds: 1 }],
    );
    let mut client = client(server.settings(), &server);
    assert_eq!(client.assets(ORG).unwrap().len(), 60);
    let calls = server.requests_to("/exchange/");
    assert!(calls.len() >= 2);
    assert_eq!(calls[0].status, 200);
    // The protocol's lower bound: nothing before the reset.
    assert!(calls[1].at - calls[0].at >= Duration::from_secs(1));
    assert_eq!(client.stats().retries, 0);
}

#[test]
fn a_server_that_is_down_is_unreachable_after_the_attempts() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let settings = Settings {
        base_url: format!("http://127.0.0.1:{port}"),
        request_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(60),
        retry: Backoff {
            first: Duration::from_millis(10),
            max: Duration::from_millis(40),
            attempts: 5,
        },
        page_size: 100,
        metrics: MetricsSource::Monitoring,
    };
    let credentials = Credentials {
        client_id: Secret::new("down-client"),
        client_secret: Secret::new("down-secret-77"),
    };
    let mut client = Client::new(settings, credentials).unwrap();
    let e = client.assets(ORG).unwrap_err();
    match &e {
        AnypointError::Unreachable {
            endpoint, attempts, ..
        } => {
            assert_eq!(endpoint, "/accounts/api/v2/oauth2/token");
            assert_eq!(*attempts, 5);
        }
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("could not be reached") && text.contains("base_url"),
        "{text}"
    );
    assert!(!shown(&e).contains("down-secret-77"));
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries), (5, 4));
}

#[test]
fn a_server_that_always_answers_503_stops_at_the_deadline() {
    let (server, _) = organization(10);
    server.fail_always("/exchange/", Fault::Status(503));
    let settings = Settings {
        deadline: Duration::from_millis(1500),
        retry: Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(200),
            attempts: 1_000,
        },
        ..server.settings()
    };
    let mut client = client(settings, &server);
    let e = client.assets(ORG).unwrap_err();
    match &e {
        AnypointError::Deadline { reached } => {
            assert_eq!(
                reached,
                &format!("the Exchange assets of organization {ORG} from offset 0")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("deadline"), "{e}");
    assert!(server.requests_to("/exchange/").len() >= 2);
}

#[test]
fn an_unknown_organization_is_told_in_a_sentence() {
    let (server, _) = organization(10);
    let mut client = client(server.settings(), &server);
    let e = client.assets("no-such-org-0000").unwrap_err();
    assert!(
        matches!(&e, AnypointError::UnknownOrganization { org_id } if org_id == "no-such-org-0000"),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("no-such-org-0000") && text.contains("Anypoint_Org_ID"),
        "{text}"
    );
    let e = client.environments("no-such-org-0000").unwrap_err();
    assert!(
        matches!(e, AnypointError::UnknownOrganization { .. }),
        "{e:?}"
    );
}

#[test]
fn an_id_that_could_escape_its_place_is_refused_before_any_request() {
    let (server, _) = organization(10);
    let mut client = client(server.settings(), &server);
    let e = client.assets("x' OR '1'='1").unwrap_err();
    assert!(matches!(e, AnypointError::InvalidInput { .. }), "{e:?}");
    let e = client.environments("../admin").unwrap_err();
    assert!(matches!(e, AnypointError::InvalidInput { .. }), "{e:?}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_listing_that_never_ends_stops_and_says_so() {
    let (server, _) = organization(3);
    server.fail_always("/exchange/", Fault::EndlessPage);
    let settings = Settings {
        page_size: 1,
        ..server.settings()
    };
    let mut client = client(settings, &server);
    let e = client.assets(ORG).unwrap_err();
    match &e {
        AnypointError::TooManyPages { endpoint, pages } => {
            assert_eq!(endpoint, "/exchange/api/v2/assets/search");
            assert_eq!(*pages, 1_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests_to("/exchange/").len(), 1_000);
}

#[test]
fn a_short_lived_token_is_renewed_before_it_expires() {
    let (server, _) = organization(150);
    server.set_token_life(0); // expired at once: every call fetches one
    let mut client = client(server.settings(), &server);
    assert_eq!(client.assets(ORG).unwrap().len(), 150);
    let pages = server.requests_to("/exchange/").len() as u64;
    assert_eq!(client.stats().token_fetches, pages);
    assert_eq!(client.stats().retries, 0);
}

/// The 500 APIs' Monitoring rows: all but every fiftieth from the 7th on,
/// plus rows of APIs not asked for.
fn monitoring_rows() -> Vec<FakeRow> {
    let mut rows: Vec<FakeRow> = (0..500)
        .filter(|i| i % 50 != 7)
        .map(|i| FakeRow {
            api: format!("api-{i:03}"),
            requests: 1_000 + i * 3,
            errors: i % 17,
            avg_ms: 100.0 + i as f64 / 4.0,
        })
        .collect();
    rows.push(FakeRow {
        api: "someone-elses-api".into(),
        requests: 5,
        errors: 0,
        avg_ms: 1.0,
    });
    fake::shuffle(&mut rows, 99);
    rows
}

#[test]
fn metrics_of_500_apis_from_monitoring() {
    let (server, _) = organization(500);
    let rows = monitoring_rows();
    server.set_monitoring(ORG, rows.clone());
    server.fail_next("metrics:search", [Fault::Pass, Fault::Status(503)]);
    let mut client = client(server.settings(), &server);
    let apis: Vec<String> = client
        .assets(ORG)
        .unwrap()
        .into_iter()
        .map(|a| a.asset_id)
        .collect();
    let before = client.stats();
    let (from, to) = window();
    let metrics = client.metrics(ORG, &apis, from, to).unwrap();
    let after = client.stats();
    println!(
        "Monitoring metrics of 500 APIs: {} requests, {} retries",
        after.requests - before.requests,
        after.retries - before.retries
    );

    assert_eq!(metrics.per_api.len(), 490);
    for row in rows.iter().filter(|r| r.api.starts_with("api-")) {
        let m = metrics.per_api[&row.api];
        assert_eq!(m.requests, row.requests);
        assert_eq!(m.errors, row.errors);
        assert_eq!(m.avg_response_ms, Some(row.avg_ms));
    }
    assert!(!metrics.per_api.contains_key("someone-elses-api"));
    let unreached: Vec<&str> = metrics.unreached.iter().map(|(a, _)| a.as_str()).collect();
    let expected: Vec<String> = (0..500)
        .filter(|i| i % 50 == 7)
        .map(|i| format!("api-{i:03}"))
        .collect();
    assert_eq!(unreached, expected);
    assert!(
        metrics.unreached[0]
            .1
            .contains("Anypoint Monitoring has no data")
    );
    let m = metrics.per_api["api-010"];
    assert_eq!(m.monthly_volume(30), 1_030.0);
    assert_eq!(m.error_rate_percent(), Some(10.0 * 100.0 / 1_030.0));

    // One query, for the window, of this organization; paged by 100 (491
    // rows: 5 pages), the second asked again after its 503.
    let queries = server.monitoring_queries();
    assert_eq!(queries.len(), 5);
    let q = &queries[0];
    assert!(
        q.contains(&format!(
            "BETWEEN {} AND {}",
            from.timestamp_millis(),
            to.timestamp_millis()
        )),
        "{q}"
    );
    assert!(q.contains(&format!("\"sub_org.id\" = '{ORG}'")), "{q}");
    assert_eq!(after.requests - before.requests, 6);
    assert_eq!(after.retries - before.retries, 1);
    let calls = server.requests_to("metrics:search");
    let offsets: Vec<&str> = calls.iter().map(|r| r.query.as_str()).collect();
    assert_eq!(
        offsets,
        [
            "offset=0&limit=100",
            "offset=100&limit=100",
            "offset=100&limit=100",
            "offset=200&limit=100",
            "offset=300&limit=100",
            "offset=400&limit=100"
        ]
    );
    assert_eq!(calls[1].status, 503);
}

#[test]
fn a_window_longer_than_30_days_is_asked_in_parts_and_combined() {
    let server = FakeAnypoint::start();
    server.set_monitoring(
        ORG,
        vec![FakeRow {
            api: "api-000".into(),
            requests: 10,
            errors: 1,
            avg_ms: 50.0,
        }],
    );
    let mut client = client(server.settings(), &server);
    let (_, to) = window();
    let from = to - Days::days(45);
    let metrics = client.metrics(ORG, &["api-000".into()], from, to).unwrap();
    // The fake answers each part alike: two parts, twice the traffic.
    assert_eq!(server.monitoring_queries().len(), 2);
    let m = metrics.per_api["api-000"];
    assert_eq!(
        (m.requests, m.errors, m.avg_response_ms),
        (20, 2, Some(50.0))
    );
    let q = &server.monitoring_queries()[1];
    assert!(q.contains(&format!("AND {}", to.timestamp_millis())), "{q}");
}

#[test]
fn an_empty_window_is_refused() {
    let server = FakeAnypoint::start();
    let mut client = client(server.settings(), &server);
    let (from, _) = window();
    let e = client.metrics(ORG, &[], from, from).unwrap_err();
    assert!(matches!(e, AnypointError::InvalidInput { .. }), "{e:?}");
    assert!(server.requests().is_empty());
}

/// Events of environment `env`: for each of the 500 APIs whose index
/// `keep` accepts, `per_api` events spread over the window.
fn events_for(per_api: usize, keep: impl Fn(usize) -> bool, base_ms: u64) -> Vec<FakeEvent> {
    let (from, _) = window();
    let span = 30 * 86_400;
    let mut events = Vec::new();
    for k in (0..500).filter(|k| keep(*k)) {
        for j in 0..per_api {
            let second = ((k * 7_919 + j * 104_729) % span) as i64;
            events.push(FakeEvent {
                api_id: format!("{}", 17_000_000 + k),
                api_name: format!("api-{k:03}"),
                response_ms: base_ms + ((k * 7 + j * 13) % 300) as u64,
                status: match (k + j) % 13 {
                    0 => 500,
                    5 => 404,
                    _ => 200,
                },
                at: from + Days::seconds(second),
            });
        }
    }
    fake::shuffle(&mut events, 4242);
    events
}

#[test]
fn metrics_of_500_apis_from_analytics_events() {
    let (server, _) = organization(500);
    server.set_environments(
        ORG,
        vec![
            FakeEnvironment {
                id: "env-prod".into(),
                name: "Production".into(),
                production: true,
            },
            FakeEnvironment {
                id: "env-sandbox".into(),
                name: "Sandbox".into(),
                production: false,
            },
            FakeEnvironment {
                id: "env-prod-eu".into(),
                name: "Production EU".into(),
                production: true,
            },
        ],
    );
    // 50 events for each API but every fiftieth from the 3rd (25,000 in
    // all: more than one answer holds), some more in the second
    // production environment, and sandbox traffic that must not count.
    let prod = events_for(50, |k| k % 50 != 3, 10);
    let prod_eu = events_for(3, |k| k % 5 == 0, 400);
    let sandbox = events_for(4, |_| true, 90_000);
    assert!(prod.len() > fake::MAX_EVENTS);
    server.set_events("env-prod", prod.clone());
    server.set_events("env-prod-eu", prod_eu.clone());
    server.set_events("env-sandbox", sandbox);

    let settings = Settings {
        metrics: MetricsSource::Analytics,
        ..server.settings()
    };
    let mut client = client(settings, &server);
    let apis: Vec<String> = client
        .assets(ORG)
        .unwrap()
        .into_iter()
        .map(|a| a.asset_id)
        .collect();
    let before = client.stats();
    let (from, to) = window();
    let metrics = client.metrics(ORG, &apis, from, to).unwrap();
    let after = client.stats();
    println!(
        "Analytics metrics of 500 APIs ({} events): {} requests",
        prod.len() + prod_eu.len(),
        after.requests - before.requests
    );

    // What the server was given, added up here.
    let mut expected: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for e in prod.iter().chain(&prod_eu) {
        let t = expected.entry(e.api_name.clone()).or_default();
        t.0 += 1;
        t.1 += u64::from(e.status >= 400);
        t.2 += e.response_ms;
    }
    assert_eq!(metrics.per_api.len(), expected.len());
    for (api, (requests, errors, total_ms)) in &expected {
        let m = metrics.per_api[api];
        assert_eq!((m.requests, m.errors), (*requests, *errors), "{api}");
        let avg = *total_ms as f64 / *requests as f64;
        assert!((m.avg_response_ms.unwrap() - avg).abs() < 1e-9, "{api}");
    }
    // api-003 has events only in the sandbox.
    let unreached: Vec<&str> = metrics.unreached.iter().map(|(a, _)| a.as_str()).collect();
    let none: Vec<String> = (0..500)
        .filter(|k| k % 50 == 3 && k % 5 != 0)
        .map(|k| format!("api-{k:03}"))
        .collect();
    assert_eq!(unreached, none);
    assert!(
        metrics.unreached[0].1.contains("Production, Production EU"),
        "{}",
        metrics.unreached[0].1
    );

    // Only production environments were asked; the full first answer of
    // env-prod was asked again in halves.
    assert!(server.requests_to("env-sandbox").is_empty());
    let prod_calls = server.requests_to("/environments/env-prod/events");
    assert_eq!(prod_calls.len(), 3);
    let q = &prod_calls[0].query;
    assert!(q.contains("format=json"), "{q}");
    assert!(
        q.contains("fields=API%20ID.API%20Name.Response%20Time.Status%20Code"),
        "{q}"
    );
    assert!(q.contains("startDate=2026-01-30T00%3A00%3A00Z"), "{q}");
    assert_eq!(
        server.requests_to("/environments/env-prod-eu/events").len(),
        1
    );
    assert_eq!(after.requests - before.requests, 1 + 3 + 1);
}

#[test]
fn settings_come_from_the_anypoint_section() {
    let settings: Settings = toml::from_str(
        "region = \"eu\"\nrequest_timeout_seconds = 10\ndeadline_seconds = 120\n\
         retry_attempts = 3\nretry_first_seconds = 2\nretry_max_seconds = 30\n\
         page_size = 250\nmetrics = \"analytics\"\n",
    )
    .unwrap();
    assert_eq!(settings.base_url, csip_anypoint::client::ANYPOINT_EU);
    assert_eq!(settings.request_timeout, Duration::from_secs(10));
    assert_eq!(settings.deadline, Duration::from_secs(120));
    assert_eq!(
        settings.retry,
        Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(30),
            attempts: 3
        }
    );
    assert_eq!(settings.page_size, 250);
    assert_eq!(settings.metrics, MetricsSource::Analytics);
    let defaults: Settings = toml::from_str("").unwrap();
    assert_eq!(defaults, Settings::default());
    assert_eq!(defaults.base_url, csip_anypoint::client::ANYPOINT_US);
    assert_eq!(defaults.retry.attempts, 5);
    assert_eq!(defaults.deadline, Duration::from_secs(600));
    let e = toml::from_str::<Settings>("region = \"eu\"\nbase_url = \"http://x\"").unwrap_err();
    assert!(e.to_string().contains("not both"), "{e}");
    assert!(toml::from_str::<Settings>("timeout = 3").is_err());
}
