//! Windows sized by density: a quiet year takes few requests, a dense
//! stretch is cut so that no response read passes the bound, and whatever
//! the cuts, each of the server's records is exported once, across resumes.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use datafold_sdk::audit::export::{Checkpoint, ExportEvent, ExportFormat};
use datafold_sdk::mock::MockServer;
use datafold_sdk::{CheckpointRefusal, Error};

fn year_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn mock(events: u64, end: DateTime<Utc>, span: Duration) -> MockServer {
    MockServer::builder()
        .api_key(common::TEST_KEY)
        .seed_events(events)
        .seed_window(end, span)
        .start()
        .unwrap()
}

/// The seeded events of `[start, end]`, sorted.
fn truth(server: &MockServer, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<String> {
    let mut uuids: Vec<String> = server
        .seeded_audit_events(Some(start), Some(end))
        .into_iter()
        .map(|e| e.event_uuid)
        .collect();
    uuids.sort();
    uuids
}

fn uuids_of(jsonl: &[u8]) -> Vec<String> {
    let mut uuids: Vec<String> = std::str::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["event_uuid"].as_str().unwrap().to_owned()
        })
        .collect();
    uuids.sort();
    uuids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_year_takes_few_requests() {
    let start = year_end() - chrono::Duration::days(365);
    let server = mock(5_000, year_end(), Duration::from_secs(365 * 86_400));
    let mut out = Vec::new();
    let summary = server
        .client()
        .unwrap()
        .audit_logs()
        .between(start, year_end())
        .write_to(ExportFormat::JsonLines, &mut out)
        .await
        .unwrap();
    assert!(summary.requests <= 50, "{summary:?}");
    assert_eq!(summary.requests, server.request_log().len() as u64);
    assert_eq!(uuids_of(&out), truth(&server, start, year_end()));
}

/// A day whose records all lie in one hour, 2 MiB or so of them, exported
/// with a bound of 1 MiB.
fn dense_day() -> (MockServer, DateTime<Utc>, DateTime<Utc>) {
    let start = year_end() - chrono::Duration::days(1);
    let dense_end = start + chrono::Duration::hours(13);
    (
        mock(6_000, dense_end, Duration::from_secs(3600)),
        start,
        year_end(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dense_hour_is_cut_below_the_bound_and_nothing_is_lost_or_doubled() {
    let (server, start, end) = dense_day();
    let mut out = Vec::new();
    let summary = server
        .client()
        .unwrap()
        .audit_logs()
        .between(start, end)
        .max_response_bytes(1 << 20)
        .write_to(ExportFormat::JsonLines, &mut out)
        .await
        .unwrap();
    assert!(out.len() > 2 << 20, "{} bytes", out.len());
    assert!(summary.largest_response_bytes <= 1 << 20, "{summary:?}");
    assert!(summary.requests < 40, "{summary:?}");
    assert_eq!(uuids_of(&out), truth(&server, start, end));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_interrupted_around_cut_windows_resumes_to_exactly_the_servers_events() {
    let (server, start, end) = dense_day();
    let client = server.client().unwrap();
    let export = || {
        client
            .audit_logs()
            .between(start, end)
            .max_response_bytes(1 << 20)
            .concurrency(2)
    };
    for stop_after in [1, 3, 6] {
        let mut committed: Vec<String> = Vec::new();
        let mut pending: Vec<String> = Vec::new();
        let mut saved: Option<Checkpoint> = None;
        let mut events = export().events().unwrap();
        let mut checkpoints = 0;
        while let Some(event) = events.next().await {
            match event.unwrap() {
                ExportEvent::Record(r) => pending.push(r.event_uuid),
                ExportEvent::WindowDone(checkpoint) => {
                    committed.append(&mut pending);
                    saved = Some(checkpoint);
                    checkpoints += 1;
                    if checkpoints == stop_after {
                        break;
                    }
                }
            }
        }
        drop(events);
        let saved = saved.expect("a checkpoint");
        assert_eq!(saved.records_done, committed.len() as u64);
        let mut events = export().resume_from(saved).unwrap().events().unwrap();
        while let Some(event) = events.next().await {
            if let ExportEvent::Record(r) = event.unwrap() {
                committed.push(r.event_uuid);
            }
        }
        let distinct: BTreeSet<_> = committed.iter().cloned().collect();
        assert_eq!(
            distinct.len(),
            committed.len(),
            "stopped after {stop_after}: doubles"
        );
        assert_eq!(
            distinct.into_iter().collect::<Vec<_>>(),
            truth(&server, start, end),
            "stopped after {stop_after}"
        );
    }
}

#[test]
fn a_checkpoint_of_fixed_windows_is_refused_by_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.checkpoint");
    std::fs::write(
        &path,
        r#"{"version": 3, "host": "https://app.datafold.com", "start": "2026-11-01T00:00:00Z",
            "end": "2026-11-02T00:00:00Z", "window_secs": 3600, "overlap_secs": 60,
            "windows_done": 2, "records_done": 10, "unplaced_uuids": [], "seal": "0"}"#,
    )
    .unwrap();
    let result = Checkpoint::load(&path);
    assert!(
        matches!(
            &result,
            Err(Error::Checkpoint { refusal: CheckpointRefusal::Unreadable, problem })
                if problem.contains("format version 3") && problem.contains("version 5")
        ),
        "{result:?}"
    );
}

/// So dense that a span sized for the bound is shorter than the overlap: the
/// requests must not read their neighbours' minute again and again (each
/// short span asking for itself plus a minute on each side was read at three
/// times its size or more, cut, and asked for in ever shorter pieces).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_shorter_than_the_overlap_do_not_reread_their_neighbours() {
    let end = year_end();
    let start = end - chrono::Duration::hours(1);
    // About 50 MB in the hour: spans for a 2 MiB bound last under a minute.
    let server = mock(100_000, end, Duration::from_secs(3600));
    let mut out = Vec::new();
    let summary = server
        .client()
        .unwrap()
        .audit_logs()
        .between(start, end)
        .max_response_bytes(2 << 20)
        .write_to(ExportFormat::JsonLines, &mut out)
        .await
        .unwrap();
    assert!(summary.largest_response_bytes <= 2 << 20, "{summary:?}");
    // 50 MB in requests of at most 2 MiB, each a span and its reach on both
    // sides: some 75 to 100 requests. Rereading neighbours took thousands.
    assert!(summary.requests < 250, "{summary:?}");
    assert_eq!(uuids_of(&out), truth(&server, start, end));
}
