//! Audit logs end to end: the date filter in every form the API accepts,
//! against a seeded history with known timestamps.

mod mock_support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use datafold_sdk::mock::MockServer;
use mock_support as support;
use reqwest::Method;
use serde_json::{json, Value};

/// 1,000 seeded events over the 10 days before 2026-01-01: one every 864 s,
/// the first at 2025-12-22T00:00:00Z.
fn window_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

fn day(n: i64) -> DateTime<Utc> {
    window_end() - Duration::days(10) + Duration::days(n)
}

fn server() -> MockServer {
    support::builder()
        .seed_events(1000)
        .seed_window(window_end(), std::time::Duration::from_secs(10 * 86_400))
        .start()
        .expect("the mock starts")
}

fn uuids(logs: &[datafold_sdk::types::AuditLog]) -> Vec<String> {
    logs.iter().map(|l| l.event_uuid.clone()).collect()
}

#[tokio::test]
async fn the_client_filters_by_start_end_both_or_neither() {
    let server = server();
    let client = support::client(&server);
    let audit = client.audit_logs();
    let cases = [
        (None, None, 1000),
        (Some(day(9)), None, 100),
        (None, Some(day(1)), 101),
        (Some(day(2)), Some(day(3)), 101),
        (Some(day(3)), Some(day(2)), 0),
        (Some(day(11)), None, 0),
        (None, Some(day(-1)), 0),
    ];
    for (start, end, expected) in cases {
        let mut request = audit.list();
        if let Some(start) = start {
            request = request.start(start);
        }
        if let Some(end) = end {
            request = request.end(end);
        }
        let logs = request.send().await.expect("audit logs");
        assert_eq!(logs.len(), expected, "start {start:?} end {end:?}");
        assert_eq!(uuids(&logs), uuids(&server.seeded_audit_events(start, end)));
        for log in &logs {
            let t = log.timestamp;
            assert!(
                start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e),
                "{t} outside the range"
            );
        }
    }
    // The GET without a filter carries no body at all.
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn raw_bodies_no_body_null_empty_object_and_null_bounds() {
    let server = server();
    let path = "/api/v1/audit_logs";
    let count = |v: &Value| v["logs"].as_array().map(Vec::len);
    for body in [
        None,
        Some("null"),
        Some("{}"),
        Some(r#"{"start_date": null, "end_date": null}"#),
    ] {
        let (status, _, answer) = support::send(&server, Method::GET, path, body).await;
        assert_eq!((status, count(&answer)), (200, Some(1000)), "body {body:?}");
    }
    let start_only = json!({"start_date": day(9).to_rfc3339(), "end_date": null}).to_string();
    let (status, _, answer) = support::send(&server, Method::GET, path, Some(&start_only)).await;
    assert_eq!((status, count(&answer)), (200, Some(100)));
    // Naive date-times are UTC; a bare date is midnight, as pydantic reads them.
    let naive = json!({"start_date": "2025-12-30T00:00:00", "end_date": "2025-12-31"}).to_string();
    let (status, _, answer) = support::send(&server, Method::GET, path, Some(&naive)).await;
    assert_eq!((status, count(&answer)), (200, Some(101)));
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn a_bad_filter_is_422() {
    let server = server();
    let path = "/api/v1/audit_logs";
    let (status, _, answer) = support::send(
        &server,
        Method::GET,
        path,
        Some(r#"{"start_date": "yesterday"}"#),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(answer["detail"][0]["loc"], json!(["body", "start_date"]));
    let (status, _, answer) =
        support::send(&server, Method::GET, path, Some(r#"{"end_date": 5}"#)).await;
    assert_eq!(
        (status, &answer["detail"][0]["type"]),
        (422, &json!("string_type"))
    );
    let (status, _, _) = support::send(&server, Method::GET, path, Some("[]")).await;
    assert_eq!(status, 422);
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn the_seeded_history_is_deterministic() {
    let list = |seed: u64| async move {
        let server = support::builder()
            .seed(seed)
            .seed_window(window_end(), std::time::Duration::from_secs(86_400))
            .start()
            .expect("starts");
        support::client(&server)
            .audit_logs()
            .list()
            .send()
            .await
            .expect("logs")
    };
    let (a, b, c) = (list(1).await, list(1).await, list(2).await);
    assert_eq!(a, b, "the same seed gives the same events");
    assert_ne!(uuids(&a), uuids(&c), "another seed gives other events");
    assert_eq!(a.len(), 50);
}

#[tokio::test]
async fn a_large_history_is_streamed_in_full() {
    let server = MockServer::builder()
        .api_key(support::KEY)
        .seed_events(200_000)
        .seed_window(window_end(), std::time::Duration::from_secs(30 * 86_400))
        .start()
        .expect("starts");
    let response = support::raw()
        .get(format!("{}/api/v1/audit_logs", server.url()))
        .header("Authorization", format!("Key {}", support::KEY))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed, so no length up front"
    );
    // About 70 MB: over the default cap on buffered bodies, within a raised one.
    let client = support::client(&server);
    let error = client.audit_logs().list().send().await.unwrap_err();
    assert!(
        matches!(error, datafold_sdk::Error::ResponseTooLarge { .. }),
        "{error:?}"
    );
    let client = datafold_sdk::Client::builder()
        .api_key(support::KEY)
        .host(server.url())
        .max_response_bytes(256 * 1024 * 1024)
        .build()
        .unwrap();
    let logs = client
        .audit_logs()
        .list()
        .send()
        .await
        .expect("200,000 events");
    assert_eq!(logs.len(), 200_000);
    let ends = server.seeded_audit_events(Some(day(9)), None);
    assert_eq!(
        logs.last().map(|l| &l.event_uuid),
        ends.last().map(|l| &l.event_uuid)
    );
}

#[tokio::test]
async fn records_stream_with_the_inherent_next_or_the_re_exported_stream_ext() {
    let server = server();
    let client = support::client(&server);
    let all = client
        .audit_logs()
        .list()
        .start(day(0))
        .end(day(10))
        .send()
        .await
        .unwrap();
    assert_eq!(all.len(), 1000);

    // The inherent next(): no trait in scope.
    let mut records = client
        .audit_logs()
        .between(day(0), day(10))
        .records()
        .unwrap();
    let mut seen = Vec::new();
    while let Some(record) = records.next().await {
        seen.push(record.unwrap().event_uuid);
    }
    let mut expected = uuids(&all);
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "every record once");

    // The combinators, through datafold_sdk's re-export alone.
    let first: Vec<String> = {
        use datafold_sdk::StreamExt;
        client
            .audit_logs()
            .between(day(0), day(10))
            .records()
            .unwrap()
            .take(5)
            .map(|record| record.unwrap().event_uuid)
            .collect()
            .await
    };
    assert_eq!(first.len(), 5);
    assert!(first.iter().all(|uuid| expected.contains(uuid)));
}

/// The mock writes times as Datafold does (Python's `isoformat()`:
/// `+00:00`, microseconds); each record read through the SDK carries the
/// instant the server wrote, as a `DateTime<Utc>`.
#[tokio::test]
async fn records_read_through_the_sdk_carry_the_time_the_server_wrote() {
    let server = server();
    let (status, _, answer) = support::send(&server, Method::GET, "/api/v1/audit_logs", None).await;
    assert_eq!(status, 200);
    let sent: Vec<&str> = answer["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timestamp"].as_str().unwrap())
        .collect();
    assert!(
        sent.iter().all(|t| t.ends_with("+00:00")),
        "{:?}",
        &sent[..3]
    );
    let read = support::client(&server)
        .audit_logs()
        .list()
        .send()
        .await
        .unwrap();
    assert_eq!(read.len(), sent.len());
    for (log, text) in read.iter().zip(&sent) {
        let at: DateTime<Utc> = log.timestamp;
        assert_eq!(at, DateTime::parse_from_rfc3339(text).unwrap(), "{text}");
    }
    // The mock's own record of them says the same.
    let truth = server.seeded_audit_events(None, None);
    assert_eq!(read, truth);
}
