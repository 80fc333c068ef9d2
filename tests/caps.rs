//! Every buffer has a cap and a clear error beyond it: buffered response
//! bodies, error bodies (size, issue count, message length) and the records
//! of an export. Bodies here are generated as they are sent; the tests
//! assert on the errors, not on memory.

mod common;
mod hostile;

use chrono::{TimeZone, Utc};
use common::TEST_KEY;
use datafold_sdk::{Client, Error, RetryPolicy};
use hostile::{endless, head, record, respond, Hostile};

const MIB: u64 = 1024 * 1024;

fn client(url: &str) -> Client {
    common::client_for(url)
}

/// An audit-log body of about `total` bytes of records, without a
/// Content-Length (so the client cannot tell in advance).
async fn huge_audit_logs(total: u64) -> Hostile {
    let unit = format!("{},", record("r", "2026-11-20T10:00:00Z"));
    Hostile::start(move |mut c| {
        let unit = unit.clone();
        async move {
            head(
                &mut c.stream,
                200,
                &[("content-type", "application/json")],
                None,
            )
            .await;
            let last = record("last", "2026-11-20T10:00:00Z");
            endless(
                &mut c.stream,
                b"{\"logs\": [",
                unit.as_bytes(),
                total,
                format!("{last}]}}").as_bytes(),
            )
            .await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_refuses_a_body_over_the_cap_and_points_to_the_export() {
    let server = huge_audit_logs(300 * MIB).await;
    let error = client(&server.url)
        .audit_logs()
        .list()
        .send()
        .await
        .expect_err("a 300 MB list body must not be buffered");
    assert!(
        matches!(error, Error::ResponseTooLarge { limit, .. } if limit == 64 * MIB),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("between(") && message.contains("max_response_bytes"),
        "says what to do: {message}"
    );
}

#[tokio::test]
async fn the_cap_is_configurable_and_checked_before_reading_a_announced_length() {
    let body = format!(r#"{{"logs": [{}]}}"#, record("a", "2026-11-20T10:00:00Z"));
    let reply = body.clone();
    let server = Hostile::start(move |mut c| {
        let reply = reply.clone();
        async move { respond(&mut c.stream, 200, "application/json", &reply).await }
    })
    .await;
    let small = |cap: u64| {
        Client::builder()
            .api_key(TEST_KEY)
            .host(&server.url)
            .max_response_bytes(cap)
            .build()
            .unwrap()
    };
    let logs = small(body.len() as u64).audit_logs().list().send().await;
    assert_eq!(logs.expect("exactly the cap is fine").len(), 1);
    let error = small(body.len() as u64 - 1)
        .audit_logs()
        .list()
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::ResponseTooLarge { limit, .. } if limit == body.len() as u64 - 1),
        "{error:?}"
    );
}

fn issue(i: usize) -> serde_json::Value {
    serde_json::json!({"loc": ["body", "bindings", i, "boundIds"], "msg": "Input should be a valid list", "type": "list_type"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_422_with_200000_issues_is_a_short_error_with_the_real_count() {
    let server = Hostile::start(|mut c| async move {
        head(
            &mut c.stream,
            422,
            &[("content-type", "application/json")],
            None,
        )
        .await;
        let unit = format!("{},", issue(7));
        endless(
            &mut c.stream,
            b"{\"detail\": [",
            unit.as_bytes(),
            (unit.len() * 199_999) as u64,
            format!("{}]}}", issue(8)).as_bytes(),
        )
        .await;
    })
    .await;
    let error = client(&server.url).bi().list().await.unwrap_err();
    assert!(matches!(error, Error::Validation { .. }), "{error:?}");
    assert_eq!(
        error.validation_issues().len(),
        20,
        "at most 20 issues kept"
    );
    let message = error.to_string();
    assert!(
        message.len() < 8 * 1024,
        "{} bytes of message",
        message.len()
    );
    assert!(
        message.contains("and 199980 more issues"),
        "the real count: {}",
        &message[message.len().saturating_sub(300)..]
    );
}

#[tokio::test]
async fn a_2_mib_message_in_a_422_or_a_detail_is_cut() {
    let long = "x".repeat(2 * MIB as usize);
    for (status, body) in [
        (
            422,
            serde_json::json!({"detail": [{"loc": ["body", "name"], "msg": long, "type": "value_error"}]}),
        ),
        (409, serde_json::json!({"detail": long})),
        (500, serde_json::json!({"detail": long})),
    ] {
        let text = body.to_string();
        let server = Hostile::start(move |mut c| {
            let text = text.clone();
            async move { respond(&mut c.stream, status, "application/json", &text).await }
        })
        .await;
        let error = client(&server.url).bi().list().await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.len() < 4 * 1024,
            "{status}: {} bytes of message",
            message.len()
        );
        assert!(
            message.contains("xxxxxxxxxx"),
            "{status}: some of it is shown"
        );
        assert!(
            format!("{error:?}").len() < 256 * 1024,
            "{status}: Debug is bounded too"
        );
        for issue in error.validation_issues() {
            assert!(issue.msg.chars().count() <= 201, "{}", issue.msg.len());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_body_of_any_size_keeps_a_bounded_excerpt() {
    let server = Hostile::start(|mut c| async move {
        head(&mut c.stream, 502, &[("content-type", "text/html")], None).await;
        endless(
            &mut c.stream,
            b"<html>",
            b"<p>bad gateway</p>",
            200 * MIB,
            b"</html>",
        )
        .await;
    })
    .await;
    let error = client(&server.url).bi().list().await.unwrap_err();
    assert!(matches!(error, Error::Server(_)), "{error:?}");
    assert!(error
        .body_excerpt()
        .unwrap()
        .starts_with("<html><p>bad gateway"));
    assert!(format!("{error:?}").len() < 256 * 1024);
}

fn hour() -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    (start, start + chrono::Duration::hours(1))
}

async fn export_all(client: &Client) -> Result<Vec<String>, Error> {
    let (start, end) = hour();
    let mut records = client.audit_logs().between(start, end).records()?;
    let mut seen = Vec::new();
    while let Some(record) = records.next().await {
        seen.push(record?.event_uuid);
    }
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_record_over_16_mib_is_an_error() {
    let server = Hostile::start(|mut c| async move {
        head(&mut c.stream, 200, &[("content-type", "application/json")], None).await;
        let first = record("small", "2026-11-20T10:10:00Z");
        let prefix = format!(
            r#"{{"logs": [{first}, {{"timestamp": "2026-11-20T10:20:00Z", "event_uuid": "big", "client_ip": "1", "url": "/", "payload": {{"blob": ""#
        );
        endless(&mut c.stream, prefix.as_bytes(), b"y", 40 * MIB, b"\"}}]}").await;
    })
    .await;
    let error = export_all(&client(&server.url)).await.unwrap_err();
    assert!(
        matches!(error, Error::ResponseTooLarge { limit, .. } if limit == 16 * MIB),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_skips_a_300_mb_string_outside_logs() {
    let server = Hostile::start(|mut c| async move {
        head(
            &mut c.stream,
            200,
            &[("content-type", "application/json")],
            None,
        )
        .await;
        let prefix = format!(
            r#"{{"logs": [{}], "padding": ""#,
            record("kept", "2026-11-20T10:10:00Z")
        );
        endless(&mut c.stream, prefix.as_bytes(), b"z", 300 * MIB, b"\"}").await;
    })
    .await;
    assert_eq!(export_all(&client(&server.url)).await.unwrap(), ["kept"]);
}

/// How much of the second window's body the server has managed to send
/// while the first window stalls: the client reads a window it fetches ahead
/// only up to a bounded number of bytes, and TCP flow control holds the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_fetched_ahead_holds_a_bounded_number_of_bytes() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;

    const RECORDS: u64 = 50;
    const RECORD_BYTES: u64 = 4 * MIB;
    let sent = Arc::new(AtomicU64::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let (sent_by_server, released) = (sent.clone(), release.clone());
    let server = Hostile::start(move |mut c| {
        let (sent, release) = (sent_by_server.clone(), released.clone());
        async move {
            head(&mut c.stream, 200, &[("content-type", "application/json")], None).await;
            let first_window = c.request.body_text().contains("T09:59:00");
            if first_window {
                // The head window says nothing until the test has measured.
                let _ = c.stream.write_all(b"{\"logs\": [").await;
                release.notified().await;
                let one = record("head", "2026-11-20T10:30:00Z");
                let _ = c.stream.write_all(format!("{one}]}}").as_bytes()).await;
                let _ = c.stream.shutdown().await;
                return;
            }
            let _ = c.stream.write_all(b"{\"logs\": [").await;
            let blob = vec![b'y'; 64 * 1024];
            for i in 0..RECORDS {
                let open = format!(
                    r#"{}{{"timestamp": "2026-11-20T11:30:00Z", "event_uuid": "big-{i}", "client_ip": "1", "url": "/", "payload": {{"blob": ""#,
                    if i == 0 { "" } else { "," }
                );
                if c.stream.write_all(open.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..RECORD_BYTES / blob.len() as u64 {
                    if c.stream.write_all(&blob).await.is_err() {
                        return;
                    }
                    sent.fetch_add(blob.len() as u64, Ordering::SeqCst);
                }
                let _ = c.stream.write_all(b"\"}}").await;
            }
            let _ = c.stream.write_all(b"]}").await;
            let _ = c.stream.shutdown().await;
        }
    })
    .await;
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(&server.url)
        .retry_policy(RetryPolicy::none())
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap();
    let (start, _) = hour();
    let mut records = client
        .audit_logs()
        .between(start, start + chrono::Duration::hours(2))
        // Two windows of an hour (the default longest window is 30 days).
        .window(std::time::Duration::from_secs(3600))
        .concurrency(2)
        .records()
        .unwrap();
    // The stream is polled (the head window is waited for) while the server
    // sends the second window's body as fast as the client takes it.
    let first = tokio::spawn(async move {
        let first = records.next().await;
        (first, records)
    });
    let mut last = u64::MAX;
    let mut still = 0;
    while still < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = sent.load(Ordering::SeqCst);
        still = if now == last { still + 1 } else { 0 };
        last = now;
        if now >= RECORDS * RECORD_BYTES {
            break;
        }
    }
    assert!(
        last < 100 * MIB,
        "the client read {} MiB of a window it fetched ahead",
        last / MIB
    );
    release.notify_one();
    let (first, mut records) = first.await.unwrap();
    assert_eq!(first.unwrap().unwrap().event_uuid, "head");
    let next = records.next().await.unwrap().unwrap();
    assert_eq!(next.event_uuid, "big-0");
    assert_eq!(
        next.payload.unwrap()["blob"].as_str().unwrap().len() as u64,
        RECORD_BYTES
    );
}
