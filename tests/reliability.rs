//! Reliability against the mock's fault injection: retries that ride out 429s
//! and 503s, creates that are never applied twice, and an audit-log export
//! that survives interruptions and resumes to exactly the server's events.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use datafold_sdk::audit::export::{
    Checkpoint, ExportEvent, ExportFiles, ExportFormat, FileCheckpoint, IfInterrupted,
};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use datafold_sdk::{types, CheckpointRefusal, Client, Error, RetryPolicy};

const KEY: &str = "reliability-test-key";

fn quick_retries(n: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(n)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(4))
}

fn start(faults: Faults, seed_events: u64) -> MockServer {
    MockServer::builder()
        .api_key(KEY)
        .seed(11)
        .seed_events(seed_events)
        .seed_window(range_end(), Duration::from_secs(10 * 3600))
        .faults(faults)
        .start()
        .expect("mock server")
}

fn range_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn range_start() -> DateTime<Utc> {
    range_end() - chrono::Duration::hours(10)
}

fn client(server: &MockServer, policy: RetryPolicy) -> Client {
    Client::builder()
        .api_key(KEY)
        .host(server.url())
        .retry_policy(policy)
        .build()
        .unwrap()
}

fn tableau(name: &str) -> types::builder::TableauDataSourceConfig {
    types::TableauDataSourceConfig::builder()
        .server_url("https://tableau.example.com")
        .site_id("site")
        .token_name("pat")
        .token_value("token-value")
        .name(Some(name.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idempotent_calls_ride_out_thirty_percent_429_and_503() {
    let faults = Faults::new()
        .seed(42)
        .rate(Fault::RateLimited, 0.15)
        .rate(Fault::Unavailable, 0.15)
        .retry_after_secs(0);
    let server = start(faults, 50);
    let client = client(&server, quick_retries(12));
    // One integration to read and update. Creates are not retried after a
    // 429/503 (the table says why), so try a few times here.
    let mut id = None;
    for _ in 0..20 {
        if let Ok(created) = client.bi().create(tableau("base")).await {
            id = Some(created.id());
            break;
        }
    }
    let id = id.expect("a create got through");
    server.clear_request_log();

    let mut failures = Vec::new();
    for call in 0..1000 {
        let result = match call % 4 {
            0 => client.bi().list().await.map(drop),
            1 => client.bi().get(id).await.map(drop),
            2 => client
                .bi()
                .update(id, tableau(&format!("v{call}")))
                .await
                .map(drop),
            _ => client
                .audit_logs()
                .list()
                .start(range_end())
                .send()
                .await
                .map(drop),
        };
        if let Err(e) = result {
            failures.push(format!("call {call}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    let log = server.request_log();
    let injected = log.iter().filter(|r| r.fault.is_some()).count();
    let rate = injected as f64 / log.len() as f64;
    assert!(
        log.len() > 1000,
        "retries were needed: {} requests",
        log.len()
    );
    assert!(
        (0.25..0.35).contains(&rate),
        "injected fault rate {rate:.3}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_are_never_applied_twice_when_responses_break() {
    let faults = Faults::new()
        .seed(7)
        .rate(Fault::ResetAfterHandler, 0.2)
        .rate(Fault::TruncatedBody, 0.1)
        .rate(Fault::ResetBeforeHandler, 0.1)
        .rate(Fault::Unavailable, 0.1);
    let server = start(faults, 10);
    // Generous retries: the policy, not a low count, must keep creates single.
    let client = client(&server, quick_retries(10));

    let calls = 200;
    let mut failed = 0;
    for i in 0..calls {
        if client
            .bi()
            .create(tableau(&format!("create-{i}")))
            .await
            .is_err()
        {
            failed += 1;
        }
    }

    let log = server.request_log();
    let creates: Vec<_> = log
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/lineage/bi/tableau/")
        .collect();
    assert_eq!(creates.len(), calls, "every create was sent exactly once");
    let applied = creates.iter().filter(|r| r.applied).count();
    let stored = server.stored_integrations();
    assert_eq!(
        stored.len(),
        applied,
        "stored integrations match applied creates"
    );
    let mut per_name: BTreeMap<String, usize> = BTreeMap::new();
    for config in stored.values() {
        *per_name
            .entry(config["name"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(
        per_name.values().all(|&n| n == 1),
        "a create was applied twice: {per_name:?}"
    );
    assert!(
        failed > 0 && failed < calls,
        "faults hit some creates ({failed} failed)"
    );
}

/// The server's events in the export's range, as a sorted list of uuids.
fn ground_truth(server: &MockServer) -> Vec<String> {
    let mut uuids: Vec<String> = server
        .seeded_audit_events(Some(range_start()), Some(range_end()))
        .into_iter()
        .map(|e| e.event_uuid)
        .collect();
    uuids.sort();
    uuids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_rides_out_truncated_bodies_and_errors_with_retries() {
    let faults = Faults::new()
        .seed(3)
        .rate(Fault::TruncatedBody, 0.25)
        .rate(Fault::BadGateway, 0.1)
        .retry_after_secs(0);
    let server = start(faults, 20_000);
    let client = client(&server, quick_retries(15));
    let mut uuids = Vec::new();
    let mut records = client
        .audit_logs()
        .between(range_start(), range_end())
        .window(Duration::from_secs(3600))
        .concurrency(3)
        .records()
        .unwrap();
    while let Some(record) = records.next().await {
        uuids.push(record.expect("retries absorb every fault").event_uuid);
    }
    uuids.sort();
    let truth = ground_truth(&server);
    assert!(truth.len() > 19_000, "{}", truth.len());
    assert_eq!(uuids, truth);
    let truncated = server
        .request_log()
        .iter()
        .filter(|r| r.fault == Some(Fault::TruncatedBody))
        .count();
    assert!(truncated > 0, "the test must actually break bodies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_export_resumes_to_exactly_the_servers_events() {
    let server = start(Faults::new(), 30_000);
    let client = client(&server, RetryPolicy::none());
    let export = || {
        client
            .audit_logs()
            .between(range_start(), range_end())
            .window(Duration::from_secs(3600))
            .overlap(Duration::from_secs(120))
            .concurrency(4)
    };

    // Run 1: stop in the middle of window 4, like a crash: records of the
    // unfinished window are not committed.
    let mut committed: Vec<String> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut saved: Option<Checkpoint> = None;
    let mut events = export().events().unwrap();
    let mut windows = 0;
    while let Some(event) = events.next().await {
        match event.unwrap() {
            ExportEvent::Record(r) => {
                pending.push(r.event_uuid);
                if windows == 3 && pending.len() == 500 {
                    break;
                }
            }
            ExportEvent::WindowDone(checkpoint) => {
                committed.append(&mut pending);
                windows += 1;
                saved = Some(checkpoint);
            }
        }
    }
    drop(events);
    let saved = saved.expect("three windows completed");
    assert_eq!(saved.windows_done, 3);
    assert_eq!(saved.records_done, committed.len() as u64);

    // Run 2: resume from the checkpoint and finish.
    let mut events = export().resume_from(saved).unwrap().events().unwrap();
    while let Some(event) = events.next().await {
        match event.unwrap() {
            ExportEvent::Record(r) => committed.push(r.event_uuid),
            ExportEvent::WindowDone(_) => {}
        }
    }
    committed.sort();
    let truth = ground_truth(&server);
    let distinct: std::collections::BTreeSet<_> = committed.iter().collect();
    assert_eq!(
        distinct.len(),
        committed.len(),
        "no event was exported twice"
    );
    assert_eq!(committed, truth, "exactly the server's events, none lost");
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("datafold-sdk-{}-{name}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_export_killed_by_errors_resumes_from_its_checkpoint() {
    // No retries and 30% of responses failing: each run dies somewhere, the
    // next one picks up from the checkpoint.
    let faults = Faults::new()
        .seed(5)
        .rate(Fault::Unavailable, 0.15)
        .rate(Fault::TruncatedBody, 0.15)
        .retry_after_secs(0);
    let server = start(faults, 20_000);
    let client = client(&server, RetryPolicy::none());
    for format in [
        ExportFormat::JsonLines,
        ExportFormat::Csv,
        ExportFormat::Json,
    ] {
        let out = scratch(&format!("{format:?}.out"));
        let files = ExportFiles::new(&out);
        let _ = std::fs::remove_file(files.checkpoint());
        let _ = std::fs::remove_file(files.partial());
        let mut runs = 0;
        let summary = loop {
            runs += 1;
            assert!(runs <= 200, "the export never finished");
            let result = client
                .audit_logs()
                .between(range_start(), range_end())
                .window(Duration::from_secs(1800))
                .concurrency(2)
                .write_to_file(format, &out, IfInterrupted::Resume)
                .await;
            match result {
                Ok(summary) => break summary,
                Err(Error::Server(_) | Error::Connection { .. } | Error::Decode { .. }) => continue,
                Err(other) => panic!("unexpected error: {other}"),
            }
        };
        assert!(runs > 1, "the faults must interrupt at least one run");
        let text = std::fs::read_to_string(&out).unwrap();
        let mut uuids: Vec<String> = match format {
            ExportFormat::JsonLines => text
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["event_uuid"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect(),
            ExportFormat::Json => serde_json::from_str::<Vec<serde_json::Value>>(&text)
                .expect("one valid JSON array")
                .iter()
                .map(|r| r["event_uuid"].as_str().unwrap().to_owned())
                .collect(),
            ExportFormat::Csv => {
                let mut lines = text.lines();
                assert!(lines
                    .next()
                    .unwrap()
                    .starts_with("timestamp,event_uuid,action"));
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_reader(text.as_bytes());
                reader.records().map(|r| r.unwrap()[1].to_owned()).collect()
            }
        };
        assert_eq!(summary.bytes, text.len() as u64, "{format:?}");
        uuids.sort();
        assert_eq!(uuids, ground_truth(&server), "{format:?} after {runs} runs");
        assert!(!files.partial().exists() && !files.checkpoint().exists());
        let _ = std::fs::remove_file(&out);
    }
}

#[tokio::test]
async fn a_checkpoint_of_another_export_is_refused() {
    let server = start(Faults::new(), 10);
    let client = client(&server, RetryPolicy::none());
    let mut events = client
        .audit_logs()
        .between(range_start(), range_end())
        .events()
        .unwrap();
    let checkpoint = loop {
        if let ExportEvent::WindowDone(c) = events.next().await.unwrap().unwrap() {
            break c;
        }
    };
    let other = client
        .audit_logs()
        .between(range_start(), range_end())
        .window(Duration::from_secs(60))
        .resume_from(checkpoint);
    assert!(
        matches!(
            other,
            Err(Error::Checkpoint {
                refusal: CheckpointRefusal::Mismatch {
                    field: "window_secs"
                },
                ..
            })
        ),
        "{other:?}"
    );
}

#[test]
fn export_plans_cover_the_range_without_gaps() {
    let server = start(Faults::new(), 1);
    let client = client(&server, RetryPolicy::none());
    let plan = client
        .audit_logs()
        .between(range_start(), range_end() + chrono::Duration::minutes(30))
        .window(Duration::from_secs(3600))
        .plan()
        .unwrap();
    assert_eq!(plan.len(), 11);
    assert_eq!(plan[0].0, range_start());
    assert!(
        plan.windows(2).all(|w| w[0].1 == w[1].0),
        "windows are contiguous"
    );
    assert_eq!(plan[10].1, range_end() + chrono::Duration::minutes(30));
    let empty = client
        .audit_logs()
        .between(range_end(), range_start())
        .plan();
    assert!(matches!(empty, Err(Error::InvalidRequest { .. })));
}

#[test]
fn plans_cover_a_range_that_ends_between_seconds() {
    let server = start(Faults::new(), 1);
    let client = client(&server, RetryPolicy::none());
    let end = range_end() + chrono::Duration::milliseconds(990);
    let plan = client
        .audit_logs()
        .between(range_start(), end)
        .window(Duration::from_secs(3600))
        .plan()
        .unwrap();
    assert_eq!(plan.len(), 11, "10 whole hours and the 990 ms after them");
    assert_eq!(plan.last().unwrap().1, end);
    let short = client
        .audit_logs()
        .between(
            range_end(),
            range_end() + chrono::Duration::milliseconds(300),
        )
        .plan()
        .unwrap();
    assert_eq!(short.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_in_the_last_fraction_of_a_second_is_exported() {
    let server = start(Faults::new(), 0);
    let client = client(&server, RetryPolicy::none());
    client.bi().create(tableau("recorded")).await.unwrap();
    let event = server
        .recorded_audit_events()
        .pop()
        .expect("the create was recorded");
    let at = event.timestamp;
    let mut records = client
        .audit_logs()
        // Two whole seconds and a fraction, the record in the fraction.
        .between(
            at - chrono::Duration::seconds(2) - chrono::Duration::microseconds(500),
            at + chrono::Duration::microseconds(100),
        )
        .window(Duration::from_secs(1))
        .overlap(Duration::from_secs(1))
        .records()
        .unwrap();
    let mut found = Vec::new();
    while let Some(record) = records.next().await {
        found.push(record.unwrap().event_uuid);
    }
    assert_eq!(found, [event.event_uuid]);
}

#[test]
fn absurd_export_parameters_are_errors_not_panics() {
    let server = start(Faults::new(), 1);
    let client = client(&server, RetryPolicy::none());
    let export = || client.audit_logs().between(range_start(), range_end());
    let huge = Duration::from_secs(15_000_000 * 7 * 86_400);
    for (what, plan) in [
        ("huge window", export().window(huge).plan()),
        (
            "overflowing window",
            export().window(Duration::from_secs(u64::MAX / 2)).plan(),
        ),
        (
            "overlap beyond the window",
            export()
                .window(Duration::from_secs(60))
                .overlap(Duration::from_secs(61))
                .plan(),
        ),
        ("zero concurrency", export().concurrency(0).plan()),
        ("too much concurrency", export().concurrency(100_000).plan()),
        (
            "too many windows",
            export()
                .window(Duration::from_secs(1))
                .plan()
                .and_then(|_| {
                    client
                        .audit_logs()
                        .between(range_start() - chrono::Duration::days(400), range_end())
                        .window(Duration::from_secs(1))
                        .plan()
                }),
        ),
    ] {
        assert!(
            matches!(plan, Err(Error::InvalidRequest { .. })),
            "{what}: {plan:?}"
        );
    }
    let edge = client
        .audit_logs()
        .between(
            chrono::DateTime::<Utc>::MIN_UTC,
            chrono::DateTime::<Utc>::MIN_UTC + chrono::Duration::hours(1),
        )
        .plan();
    assert!(
        matches!(edge, Err(Error::InvalidRequest { .. })),
        "{edge:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_refuses_a_shortened_file_or_another_format() {
    let faults = Faults::new()
        .seed(21)
        .rate(Fault::Unavailable, 0.5)
        .retry_after_secs(0);
    let server = start(faults, 5_000);
    let client = client(&server, RetryPolicy::none());
    let out = scratch("refuse.out");
    let files = ExportFiles::new(&out);
    let _ = std::fs::remove_file(files.checkpoint());
    let _ = std::fs::remove_file(files.partial());
    let export = || {
        client
            .audit_logs()
            .between(range_start(), range_end())
            .window(Duration::from_secs(1800))
            .concurrency(1)
    };
    // Run until a checkpoint with some output exists.
    let mut saved = None;
    for _ in 0..50 {
        let _ = export()
            .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
            .await;
        saved = FileCheckpoint::load(files.checkpoint())
            .unwrap()
            .filter(|c| c.output_bytes > 0);
        if saved.is_some() {
            break;
        }
    }
    let saved = saved.expect("some window completed");
    assert_eq!(saved.output_format, ExportFormat::JsonLines);

    let error = export()
        .write_to_file(ExportFormat::Csv, &out, IfInterrupted::Resume)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Checkpoint {
                refusal: CheckpointRefusal::Mismatch {
                    field: "output_format"
                },
                ..
            }
        ),
        "{error}"
    );

    let keep = saved.output_bytes;
    std::fs::OpenOptions::new()
        .write(true)
        .open(files.partial())
        .unwrap()
        .set_len(keep / 2)
        .unwrap();
    let error = export()
        .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Checkpoint {
                refusal: CheckpointRefusal::Mismatch {
                    field: "output_bytes"
                },
                ..
            }
        ) && error.to_string().contains("was changed"),
        "{error}"
    );
    assert_eq!(
        std::fs::metadata(files.partial()).unwrap().len(),
        keep / 2,
        "the file was left alone"
    );
    let _ = std::fs::remove_file(files.partial());
    let _ = std::fs::remove_file(files.checkpoint());
}
