//! One test per row of the retry table in `datafold_sdk::retry`: which
//! operation, which failure, retried or not — counted at the server. (The
//! rows about the time without progress are in `tests/deadlines.rs` too.)

mod common;

use std::time::{Duration, Instant};

use common::{CaptureServer, Fault, Reply, TEST_KEY};
use datafold_sdk::{types, Client, Error, RetryPolicy};
use serde_json::json;

fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

fn client(url: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .api_key(TEST_KEY)
        .host(url)
        .retry_policy(policy)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

fn ok() -> Reply {
    Reply::json(200, json!({"id": 1}))
}

fn status(code: u16) -> Reply {
    Reply::json(code, json!({"detail": "injected"}))
}

fn slow() -> Reply {
    ok().delayed(Duration::from_secs(3))
}

fn dbt() -> types::DbtDataSourceConfig {
    types::DbtDataSourceConfig {
        ci_config_id: 1,
        indexing_cron: None,
        name: None,
    }
}

/// Which call a row is about.
#[derive(Clone, Copy, Debug)]
enum Call {
    GetAuditLogs,
    List,
    Get,
    Update,
    Remove,
    Create,
    Sync,
}

const IDEMPOTENT: [Call; 5] = [
    Call::GetAuditLogs,
    Call::List,
    Call::Get,
    Call::Update,
    Call::Remove,
];
const NOT_IDEMPOTENT: [Call; 2] = [Call::Create, Call::Sync];

async fn run(call: Call, client: &Client) -> Result<(), Error> {
    match call {
        Call::GetAuditLogs => client.audit_logs().list().send().await.map(drop),
        Call::List => client.bi().list().await.map(drop),
        Call::Get => client.bi().get(1).await.map(drop),
        Call::Update => client.bi().update(1, dbt()).await.map(drop),
        Call::Remove => client.bi().remove(1).await.map(drop),
        Call::Create => client.bi().create(dbt()).await.map(drop),
        Call::Sync => client.bi().sync(1).await.map(drop),
    }
}

fn success_body(call: Call) -> Reply {
    match call {
        Call::GetAuditLogs => Reply::json(200, json!({"logs": []})),
        Call::List => Reply::json(200, json!([])),
        _ => ok(),
    }
}

/// Serve `first`, then success; return how many requests arrived and the result.
async fn attempts(call: Call, first: Reply, policy: RetryPolicy) -> (usize, Result<(), Error>) {
    let server = CaptureServer::script(vec![first, success_body(call)]).await;
    let result = run(call, &client(&server.url, policy)).await;
    (server.requests().len(), result)
}

#[tokio::test]
async fn idempotent_calls_retry_retryable_statuses() {
    for call in IDEMPOTENT {
        for code in [408, 429, 500, 502, 503, 504] {
            let (count, result) = attempts(call, status(code), fast()).await;
            assert_eq!(count, 2, "{call:?} after {code}");
            assert!(result.is_ok(), "{call:?} after {code}: {result:?}");
        }
    }
}

#[tokio::test]
async fn idempotent_calls_do_not_retry_client_errors() {
    for call in IDEMPOTENT {
        for code in [400, 401, 403, 404, 422] {
            let (count, result) = attempts(call, status(code), fast()).await;
            assert_eq!(count, 1, "{call:?} after {code}");
            assert_eq!(result.unwrap_err().status().map(|s| s.as_u16()), Some(code));
        }
    }
}

/// Connections that broke after the request may have reached the server.
fn broken_after_sending() -> [(&'static str, Reply); 2] {
    [
        ("reset", ok().fault(Fault::Reset)),
        (
            "truncated body",
            Reply::json(200, json!({"id": 1, "name": "a long enough body"})).fault(Fault::Truncate),
        ),
    ]
}

#[tokio::test]
async fn idempotent_calls_retry_resets_and_truncated_bodies() {
    for call in IDEMPOTENT {
        for (what, first) in broken_after_sending() {
            let (count, result) = attempts(call, first, fast()).await;
            assert_eq!(count, 2, "{call:?} after {what}");
            assert!(result.is_ok(), "{call:?} after {what}: {result:?}");
        }
    }
}

#[tokio::test]
async fn no_call_retries_a_timeout_the_time_without_progress_is_spent() {
    for call in IDEMPOTENT.into_iter().chain(NOT_IDEMPOTENT) {
        let (count, result) = attempts(call, slow(), fast()).await;
        assert_eq!(count, 1, "{call:?}");
        assert!(
            matches!(result, Err(Error::Timeout { .. })),
            "{call:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_redirect_that_is_not_followed_is_not_retried() {
    for call in IDEMPOTENT {
        let elsewhere = "http://127.0.0.1:9/api/v1/elsewhere/";
        let (count, result) =
            attempts(call, status(307).header("location", elsewhere), fast()).await;
        assert_eq!(count, 1, "{call:?}");
        assert!(
            matches!(result, Err(Error::Redirect { .. })),
            "{call:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_not_retried() {
    for call in IDEMPOTENT {
        let server = CaptureServer::start(success_body(call)).await;
        let capped = Client::builder()
            .api_key(TEST_KEY)
            .host(&server.url)
            .retry_policy(fast())
            .max_response_bytes(1)
            .build()
            .unwrap();
        let result = run(call, &capped).await;
        assert_eq!(server.requests().len(), 1, "{call:?}");
        assert!(
            matches!(result, Err(Error::ResponseTooLarge { .. })),
            "{call:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn creates_and_sync_never_retry_once_the_request_may_have_arrived() {
    for call in NOT_IDEMPOTENT {
        for (what, first) in broken_after_sending().into_iter().chain([
            ("timeout", slow()),
            ("429", status(429).header("retry-after", "0")),
            ("500", status(500)),
            ("502", status(502)),
            ("503", status(503)),
            ("504", status(504)),
        ]) {
            let (count, result) = attempts(call, first, fast()).await;
            assert_eq!(count, 1, "{call:?} after {what} must not be sent twice");
            assert!(result.is_err(), "{call:?} after {what}");
        }
    }
}

/// A port that refuses connections now and accepts them `after` from now.
async fn refusing_then_listening(
    after: Duration,
    reply: Reply,
) -> (String, tokio::task::JoinHandle<CaptureServer>) {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let handle = tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        CaptureServer::serve_on(listener, vec![reply])
    });
    (format!("http://{addr}"), handle)
}

#[tokio::test]
async fn every_call_retries_when_the_connection_was_refused() {
    let policy = RetryPolicy::default()
        .max_retries(3)
        .base_delay(Duration::from_millis(300))
        .max_delay(Duration::from_millis(300));
    for call in IDEMPOTENT.into_iter().chain(NOT_IDEMPOTENT) {
        let (url, server) =
            refusing_then_listening(Duration::from_millis(50), success_body(call)).await;
        let result = run(call, &client(&url, policy)).await;
        let server = server.await.unwrap();
        assert!(result.is_ok(), "{call:?}: {result:?}");
        assert_eq!(
            server.requests().len(),
            1,
            "{call:?}: exactly one request reached the server"
        );
    }
}

#[tokio::test]
async fn retries_stop_after_the_configured_number() {
    let server = CaptureServer::start(status(503)).await;
    let error = client(&server.url, fast().max_retries(3))
        .bi()
        .get(1)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Server(_)), "{error:?}");
    assert_eq!(server.requests().len(), 4, "1 attempt + 3 retries");
}

#[tokio::test]
async fn no_retries_means_one_attempt() {
    let server = CaptureServer::start(status(503)).await;
    client(&server.url, RetryPolicy::none())
        .bi()
        .get(1)
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn retry_policy_can_be_changed_per_call() {
    let server = CaptureServer::start(status(503)).await;
    let client = client(&server.url, fast().max_retries(5));
    client
        .with_retry_policy(RetryPolicy::none())
        .bi()
        .get(1)
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1, "per-call policy applies");
    assert_eq!(
        client.retry_policy().max_retries_value(),
        5,
        "the original client is unchanged"
    );
}

#[tokio::test]
async fn retry_after_is_waited_out() {
    let server = CaptureServer::script(vec![status(429).header("retry-after", "1"), ok()]).await;
    let started = Instant::now();
    // The wait must fit in the time the call may go without progress.
    client(&server.url, fast())
        .with_timeout(Duration::from_secs(5))
        .bi()
        .get(1)
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited only {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_beyond_the_cap_returns_rate_limited_at_once() {
    let server = CaptureServer::script(vec![status(429).header("retry-after", "3600"), ok()]).await;
    let policy = fast().max_retry_after(Duration::from_secs(10));
    let error = client(&server.url, policy).bi().get(1).await.unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(3600)),
        "{error:?}"
    );
}

#[tokio::test]
async fn per_call_timeout_overrides_the_client_default() {
    let server = CaptureServer::start(ok().delayed(Duration::from_millis(300))).await;
    let patient = Client::builder()
        .api_key(TEST_KEY)
        .host(&server.url)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    patient
        .bi()
        .get(1)
        .await
        .expect("the default timeout is long enough");
    let error = patient
        .with_timeout(Duration::from_millis(50))
        .bi()
        .get(1)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_a_cap() {
    let policy = RetryPolicy::default();
    for _ in 0..50 {
        let d = policy.backoff(0);
        assert!(
            d >= Duration::from_millis(250) && d <= Duration::from_millis(500),
            "{d:?}"
        );
        let d = policy.backoff(3);
        assert!(
            d >= Duration::from_secs(2) && d <= Duration::from_secs(4),
            "{d:?}"
        );
        let d = policy.backoff(30);
        assert!(
            d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
            "capped: {d:?}"
        );
    }
}

/// Collects the WARN events emitted while it is the default subscriber.
#[derive(Default, Clone)]
struct Events(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn each_retry_emits_a_tracing_event_without_secrets() {
    let events = Events::default();
    let _guard = tracing::subscriber::set_default(events.clone());
    let server = CaptureServer::script(vec![status(503), status(502), ok()]).await;
    client(&server.url, fast()).bi().get(1).await.unwrap();
    let events = events.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, (attempt, reason)) in events.iter().zip([(2, "status 503"), (3, "status 502")]) {
        assert!(event.contains("operation=\"get_integration\""), "{event}");
        assert!(event.contains(&format!("attempt={attempt}")), "{event}");
        assert!(event.contains(reason), "{event}");
        assert!(event.contains("delay_ms="), "{event}");
        assert!(!event.contains(TEST_KEY), "{event}");
    }
}
