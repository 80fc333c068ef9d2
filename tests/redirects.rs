//! The redirect rule: same-origin redirects are followed (a few hops at
//! most); a redirect to another origin, a loop or too many hops is an
//! `Error::Redirect` that names both URLs, and nothing — no body, no key —
//! is sent to the other origin.

mod common;
mod hostile;

use std::time::Duration;

use common::{CaptureServer, Reply, TEST_KEY};
use datafold_sdk::{types, Client, Error, RedirectReason};
use hostile::{redirect, respond, Hostile};
use serde_json::json;

const LOOKER_SECRET: &str = "looker-client-secret-must-stay-home";

fn looker() -> types::builder::LookerDataSourceConfig {
    types::LookerDataSourceConfig::builder()
        .base_url("https://looker.example.com")
        .client_id("looker-client")
        .client_secret(LOOKER_SECRET)
        .repo_id(3)
}

fn client(url: &str) -> Client {
    common::client_for(url)
}

/// `host:port` of a base URL, as error messages show it.
fn authority(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[tokio::test]
async fn a_307_or_308_to_another_origin_is_refused_and_nothing_reaches_it() {
    for status in [301, 302, 303, 307, 308] {
        // The other origin answers like a Datafold that accepted the create.
        let elsewhere = CaptureServer::start(Reply::json(200, json!({"id": 99}))).await;
        let target = format!("{}/api/v1/lineage/bi/looker/", elsewhere.url);
        let server = Hostile::start(move |mut c| {
            let target = target.clone();
            async move { redirect(&mut c.stream, status, &target).await }
        })
        .await;

        let error = client(&server.url)
            .bi()
            .create(looker())
            .await
            .expect_err("a create redirected to another origin must fail");

        assert!(
            elsewhere.requests().is_empty(),
            "{status}: the other origin received {:?}",
            elsewhere.requests()
        );
        assert_eq!(server.requests().len(), 1, "{status}");
        let message = error.to_string();
        assert!(
            message.contains(authority(&server.url)) && message.contains(authority(&elsewhere.url)),
            "{status}: the error names both URLs: {message}"
        );
        assert!(!message.contains(LOOKER_SECRET) && !message.contains(TEST_KEY));
        assert!(
            matches!(
                &error,
                Error::Redirect {
                    reason: RedirectReason::OtherOrigin,
                    ..
                }
            ),
            "{status}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_get_redirected_to_another_port_is_not_followed_either() {
    let elsewhere = CaptureServer::start(Reply::json(200, json!([]))).await;
    let target = format!("{}/api/v1/lineage/bi/", elsewhere.url);
    let server = Hostile::start(move |mut c| {
        let target = target.clone();
        async move { redirect(&mut c.stream, 302, &target).await }
    })
    .await;
    let error = client(&server.url).bi().list().await.unwrap_err();
    assert!(elsewhere.requests().is_empty());
    assert!(matches!(error, Error::Redirect { .. }), "{error:?}");
}

#[tokio::test]
async fn an_export_window_redirected_to_another_origin_fails_without_sending_there() {
    let elsewhere = CaptureServer::start(Reply::json(200, json!({"logs": []}))).await;
    let target = format!("{}/api/v1/audit_logs", elsewhere.url);
    let server = Hostile::start(move |mut c| {
        let target = target.clone();
        async move { redirect(&mut c.stream, 307, &target).await }
    })
    .await;
    let end = chrono::Utc::now();
    let mut records = client(&server.url)
        .audit_logs()
        .between(end - chrono::Duration::hours(1), end)
        .records()
        .unwrap();
    let error = records
        .next()
        .await
        .expect("an item")
        .expect_err("a redirected window must fail");
    assert!(elsewhere.requests().is_empty());
    assert!(matches!(error, Error::Redirect { .. }), "{error:?}");
}

#[tokio::test]
async fn a_same_origin_redirect_is_followed_and_keeps_its_body() {
    let server = Hostile::start(|mut c| async move {
        match c.index {
            0 => redirect(&mut c.stream, 307, "/api/v1/lineage/bi/looker/moved/").await,
            1 => {
                let location = format!("{}/api/v1/lineage/bi/looker/final/", c.url);
                redirect(&mut c.stream, 308, &location).await
            }
            _ => {
                respond(
                    &mut c.stream,
                    200,
                    "application/json",
                    r#"{"id": 7, "name": "L"}"#,
                )
                .await
            }
        }
    })
    .await;
    let created = client(&server.url).bi().create(looker()).await.unwrap();
    assert_eq!(created.id(), 7);
    let requests = server.requests();
    assert_eq!(
        requests.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [
            "/api/v1/lineage/bi/looker/",
            "/api/v1/lineage/bi/looker/moved/",
            "/api/v1/lineage/bi/looker/final/"
        ]
    );
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert!(
            request.body_text().contains(LOOKER_SECRET),
            "307/308 keep the body"
        );
    }
}

#[tokio::test]
async fn a_post_turned_into_a_get_by_a_303_stays_a_get_on_later_hops() {
    let server = Hostile::start(|mut c| async move {
        match c.index {
            0 => redirect(&mut c.stream, 303, "/api/v1/lineage/bi/looker/created/").await,
            1 => redirect(&mut c.stream, 307, "/api/v1/lineage/bi/looker/final/").await,
            _ => {
                respond(
                    &mut c.stream,
                    200,
                    "application/json",
                    r#"{"id": 8, "name": "L"}"#,
                )
                .await
            }
        }
    })
    .await;
    let created = client(&server.url).bi().create(looker()).await.unwrap();
    assert_eq!(created.id(), 8);
    let requests = server.requests();
    let seen: Vec<_> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/api/v1/lineage/bi/looker/"),
            ("GET", "/api/v1/lineage/bi/looker/created/"),
            // A 307 keeps the method of the request it answers: the GET.
            ("GET", "/api/v1/lineage/bi/looker/final/"),
        ]
    );
    assert!(requests[0].body_text().contains(LOOKER_SECRET));
    for request in &requests[1..] {
        assert!(
            !request.body_text().contains(LOOKER_SECRET),
            "after the 303 no body is sent: {}",
            request.body_text()
        );
    }
}

#[tokio::test]
async fn a_redirect_loop_is_a_redirect_error_not_a_network_failure() {
    for location in ["/api/v1/lineage/bi/", "/a/", "/b/"] {
        let server = Hostile::start(move |mut c| async move {
            // `/a/` and `/b/` send the client back and forth.
            let next = match (location, c.request.path.as_str()) {
                ("/a/", "/a/") => "/b/",
                ("/a/", _) => "/a/",
                ("/b/", _) => {
                    // Always somewhere new: too many hops, not a loop.
                    return redirect(&mut c.stream, 307, &format!("/hop/{}/", c.index)).await;
                }
                (same, _) => same,
            };
            redirect(&mut c.stream, 307, next).await
        })
        .await;
        let error = client(&server.url).bi().list().await.unwrap_err();
        assert!(
            !matches!(error, Error::Connection { .. } | Error::Timeout { .. }),
            "{location}: a redirect loop is not a network failure: {error:?}"
        );
        assert!(
            matches!(
                &error,
                Error::Redirect {
                    reason: RedirectReason::Loop | RedirectReason::TooManyHops,
                    ..
                }
            ),
            "{location}: {error:?}"
        );
        assert!(
            server.requests().len() <= 6,
            "a small hop limit: {}",
            server.requests().len()
        );
    }
}

#[tokio::test]
async fn after_a_redirect_a_connection_error_names_the_url_it_failed_on() {
    // One connection: a same-origin redirect, then the server goes away.
    let server = Hostile::start_limited(1, |mut c| async move {
        redirect(&mut c.stream, 307, "/api/v1/lineage/bi/elsewhere/").await
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = client(&server.url).bi().list().await.unwrap_err();
    assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("/api/v1/lineage/bi/elsewhere/"),
        "names the URL that failed: {message}"
    );
}
