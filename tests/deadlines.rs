//! One deadline model: `ClientBuilder::timeout` bounds the time without
//! progress — connecting, waiting for headers, each wait for body bytes and
//! each retry's backoff — for every call, export windows included. A body
//! that keeps arriving is never cut. The bounds below are generous; the old
//! behaviour took several times the timeout (or an hour).

mod common;
mod hostile;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{CaptureServer, Reply, TEST_KEY};
use datafold_sdk::{Client, Error, RetryPolicy};
use hostile::{head, record, stall, trickle, Hostile};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(1);

/// A client with the default retry policy (2 retries) and a 1 s timeout.
fn client(url: &str) -> Client {
    Client::builder()
        .api_key(TEST_KEY)
        .host(url)
        .timeout(TIMEOUT)
        .build()
        .unwrap()
}

/// Run `call` with an outer limit, so a test of the old behaviour fails
/// instead of hanging; returns the result and how long it took.
async fn timed<T>(call: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("still waiting after 20 s");
    (result, started.elapsed())
}

fn assert_about_the_timeout(what: &str, elapsed: Duration) {
    assert!(
        elapsed >= TIMEOUT.mul_f64(0.9) && elapsed < TIMEOUT.mul_f64(2.5),
        "{what}: gave up after {elapsed:?} with a {TIMEOUT:?} timeout"
    );
}

fn assert_timeout(what: &str, error: &Error) {
    assert!(matches!(error, Error::Timeout { .. }), "{what}: {error:?}");
    let message = error.to_string();
    assert!(
        message.contains("ClientBuilder::timeout") && message.contains("1s"),
        "{what}: says which setting and how long: {message}"
    );
}

fn hour() -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    (start, start + chrono::Duration::hours(1))
}

#[tokio::test]
async fn a_silent_server_ends_a_call_after_about_the_timeout_not_once_per_attempt() {
    let server = Hostile::start(|c| stall(c.stream)).await;
    let client = client(&server.url);
    let (result, elapsed) = timed(client.audit_logs().list().send()).await;
    let error = result.unwrap_err();
    assert_timeout("list", &error);
    assert_about_the_timeout("list", elapsed);
    let (result, elapsed) = timed(client.bi().get(1)).await;
    assert_timeout("get", &result.unwrap_err());
    assert_about_the_timeout("get", elapsed);
}

/// Headers and half of the announced body, then nothing.
async fn half_a_body_then_silence(mut c: hostile::Conn) {
    let body = format!(
        r#"{{"logs": [{}, {}]}}"#,
        record("a", "2026-11-20T10:10:00Z"),
        record("b", "2026-11-20T10:20:00Z")
    );
    head(
        &mut c.stream,
        200,
        &[("content-type", "application/json")],
        Some(body.len() as u64),
    )
    .await;
    use tokio::io::AsyncWriteExt;
    // All but the end: the first record is whole, the second is not.
    let _ = c
        .stream
        .write_all(&body.as_bytes()[..body.len() - 20])
        .await;
    stall(c.stream).await;
}

#[tokio::test]
async fn a_body_that_stalls_halfway_ends_a_list_after_about_the_timeout() {
    let server = Hostile::start(half_a_body_then_silence).await;
    let (result, elapsed) = timed(client(&server.url).audit_logs().list().send()).await;
    assert_timeout("list", &result.unwrap_err());
    assert_about_the_timeout("list", elapsed);
}

#[tokio::test]
async fn an_export_window_that_stalls_halfway_ends_after_about_the_timeout() {
    let server = Hostile::start(half_a_body_then_silence).await;
    let (start, end) = hour();
    let export = client(&server.url).audit_logs().between(start, end);
    let (result, elapsed) = timed(async move {
        let mut records = export.records().unwrap();
        let mut seen = Vec::new();
        while let Some(item) = records.next().await {
            match item {
                Ok(record) => seen.push(record.event_uuid),
                Err(error) => return Err((seen, error)),
            }
        }
        Ok(seen)
    })
    .await;
    let (seen, error) = result.expect_err("a stalled window is an error");
    assert_eq!(seen, ["a"], "the records before the stall came through");
    assert_timeout("export", &error);
    assert_about_the_timeout("export", elapsed);
}

#[tokio::test]
async fn a_server_that_never_accepts_the_request_body_ends_after_about_the_timeout() {
    // Connected, but the response never starts: the headers wait is bounded.
    let server = Hostile::start(|c| stall(c.stream)).await;
    let (start, end) = hour();
    let export = client(&server.url).audit_logs().between(start, end);
    let (result, elapsed) = timed(async move { export.records().unwrap().next().await }).await;
    assert_timeout("export", &result.expect("an item").unwrap_err());
    assert_about_the_timeout("export", elapsed);
}

/// A valid audit-log body, a few bytes every 150 ms: about 2.5 s in all,
/// never silent for long.
async fn steady_trickle(mut c: hostile::Conn) {
    let body = format!(
        r#"{{"logs": [{}]}}"#,
        record("slow", "2026-11-20T10:30:00Z")
    );
    head(
        &mut c.stream,
        200,
        &[("content-type", "application/json")],
        Some(body.len() as u64),
    )
    .await;
    let piece = body.len().div_ceil(16);
    trickle(
        &mut c.stream,
        body.as_bytes(),
        piece,
        Duration::from_millis(150),
    )
    .await;
}

#[tokio::test]
async fn a_body_that_keeps_arriving_is_never_cut() {
    let server = Hostile::start(steady_trickle).await;
    let client = client(&server.url).with_retry_policy(RetryPolicy::none());
    let (result, elapsed) = timed(client.audit_logs().list().send()).await;
    let logs = result.expect("a slow but steady body is not a timeout");
    assert_eq!(logs.len(), 1);
    assert!(elapsed > TIMEOUT * 2, "the body took {elapsed:?}");

    let (start, end) = hour();
    let export = client.audit_logs().between(start, end);
    let (result, _) = timed(async move {
        let mut records = export.records().unwrap();
        let mut seen = Vec::new();
        while let Some(item) = records.next().await {
            seen.push(item?.event_uuid);
        }
        Ok::<_, Error>(seen)
    })
    .await;
    assert_eq!(result.expect("the export window is not cut"), ["slow"]);
}

#[tokio::test]
async fn a_retry_wait_longer_than_the_time_left_is_not_taken() {
    let server = CaptureServer::script(vec![
        Reply::json(503, json!({"detail": "busy"})).header("retry-after", "3"),
        Reply::json(200, json!({"id": 1})),
    ])
    .await;
    let (result, elapsed) = timed(client(&server.url).bi().get(1)).await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Server(_)), "{error:?}");
    assert_eq!(
        server.requests().len(),
        1,
        "no retry after 3 s of a 1 s timeout"
    );
    assert!(elapsed < TIMEOUT, "returned at once: {elapsed:?}");
}

#[tokio::test]
async fn backoff_counts_as_time_without_progress() {
    // Refused connections, retried every 400 ms: a 1 s timeout allows two
    // waits, not ten.
    let policy = RetryPolicy::default()
        .max_retries(10)
        .base_delay(Duration::from_millis(400))
        .max_delay(Duration::from_millis(400));
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(common::refused_url())
        .timeout(TIMEOUT)
        .retry_policy(policy)
        .build()
        .unwrap();
    let (result, elapsed) = timed(client.bi().list()).await;
    assert!(
        matches!(result, Err(Error::Connection { .. })),
        "{result:?}"
    );
    assert!(elapsed < TIMEOUT.mul_f64(1.5), "gave up after {elapsed:?}");
}

#[tokio::test]
async fn the_per_call_timeout_applies_to_export_windows_too() {
    let server = Hostile::start(|c| stall(c.stream)).await;
    let patient = Client::builder()
        .api_key(TEST_KEY)
        .host(&server.url)
        .build()
        .unwrap();
    let (start, end) = hour();
    let export = patient
        .with_timeout(TIMEOUT)
        .audit_logs()
        .between(start, end);
    let (result, elapsed) = timed(async move { export.records().unwrap().next().await }).await;
    assert_timeout("export", &result.expect("an item").unwrap_err());
    assert_about_the_timeout("export", elapsed);
}

// A guard, not a fix: the old total timeout did not panic on these either;
// the idle clock must not start to (Instant + Duration::MAX overflows).
#[tokio::test]
async fn huge_durations_never_panic() {
    let server = CaptureServer::script(vec![
        Reply::json(503, json!({"detail": "busy"})),
        Reply::json(200, json!({"logs": []})),
    ])
    .await;
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(&server.url)
        .timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .retry_policy(
            RetryPolicy::default()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2))
                .max_retry_after(Duration::MAX),
        )
        .build()
        .unwrap();
    client.audit_logs().list().send().await.unwrap();
    client
        .with_timeout(Duration::MAX)
        .audit_logs()
        .list()
        .send()
        .await
        .unwrap();
    let (start, end) = hour();
    let mut records = client
        .with_timeout(Duration::MAX)
        .audit_logs()
        .between(start, end)
        .records()
        .unwrap();
    while let Some(record) = records.next().await {
        record.unwrap();
    }
    // A zero timeout is a timeout, not a hang or a panic.
    let error = client
        .with_timeout(Duration::ZERO)
        .bi()
        .get(1)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}
