//! `client.audit_logs().follow()` against the mock's live traffic: late
//! commits within the lag are read, each record is passed on once, across
//! polls, failed polls and a resume from a saved state.

#![cfg(feature = "mock")]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use datafold_sdk::audit::follow::{Follow, FollowEvent, FollowState, Follower};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use datafold_sdk::Client;

/// A mock with live traffic: `rate` events a second, a third of them
/// committed up to `late` after their timestamps, and `faults`.
fn live_mock(rate: f64, late: Duration, faults: Faults) -> MockServer {
    MockServer::builder()
        .seed_events(0)
        .live_rate(rate)
        .late_commits(0.3, late)
        .faults(faults)
        .start()
        .unwrap()
}

/// A client that retries quickly.
fn client(server: &MockServer) -> Client {
    Client::builder()
        .host(server.url())
        .api_key(server.api_key())
        .retry_policy(
            datafold_sdk::RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(50)),
        )
        .build()
        .unwrap()
}

/// A follow of `server` polling every 100 ms with a lag of `lag_secs`.
fn follow(server: &MockServer, lag_secs: u64) -> Follow {
    client(server)
        .audit_logs()
        .follow()
        .interval(Duration::from_millis(100))
        .lag(Duration::from_secs(lag_secs))
}

/// What a follower passed on: each `event_uuid` with how often.
#[derive(Default)]
struct Seen {
    counts: HashMap<String, u32>,
    failed_polls: u32,
}

impl Seen {
    fn ids(&self) -> HashSet<String> {
        self.counts.keys().cloned().collect()
    }

    fn doubled(&self) -> Vec<&String> {
        self.counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| id)
            .collect()
    }
}

/// Follow until `done(watermark)` holds after a poll, or `max_events`
/// events have come (then return the follower mid-poll).
async fn follow_until(
    follower: &mut Follower,
    seen: &mut Seen,
    max_events: usize,
    mut done: impl FnMut(chrono::DateTime<chrono::Utc>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for _ in 0..max_events {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the follower did not get there"
        );
        match follower.next().await.unwrap() {
            FollowEvent::Record(record) => {
                *seen
                    .counts
                    .entry(record.event_uuid().to_owned())
                    .or_default() += 1;
            }
            FollowEvent::Polled(report) => {
                if done(report.to) {
                    return;
                }
            }
            FollowEvent::PollFailed { .. } => seen.failed_polls += 1,
            FollowEvent::Rejected(unreadable) => {
                panic!("the mock's records are readable: {unreadable:?}")
            }
        }
    }
}

/// Every live event the mock committed, and when the last one's timestamp
/// can still be read by a poll: the latest commit plus the late delay.
fn truth(server: &MockServer) -> (HashSet<String>, chrono::DateTime<chrono::Utc>) {
    let events = server.live_audit_events();
    let latest = events.iter().map(|e| e.timestamp).max().unwrap();
    (events.into_iter().map(|e| e.event_uuid).collect(), latest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_commits_within_the_lag_are_read_and_every_record_passed_on_once() {
    let late = Duration::from_millis(800);
    let faults = Faults::new()
        .seed(7)
        .rate(Fault::Unavailable, 0.15)
        .rate(Fault::TruncatedBody, 0.1)
        .rate(Fault::ResetBeforeHandler, 0.05)
        .retry_after_secs(0);
    let server = live_mock(200.0, late, faults);
    let mut follower = follow(&server, 2).start().unwrap();
    let mut seen = Seen::default();
    let started = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to > started + chrono::Duration::seconds(3)
    })
    .await;
    server.stop_live_traffic();
    let (truth, latest) = truth(&server);
    // Once a poll starts after every late event's commit, all are read.
    let stopped = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to - chrono::Duration::seconds(2) > stopped.max(latest)
    })
    .await;

    assert!(truth.len() > 300, "{} live events", truth.len());
    assert!(
        seen.doubled().is_empty(),
        "passed on twice: {:?}",
        seen.doubled()
    );
    let ids = seen.ids();
    let missing: Vec<_> = truth.difference(&ids).collect();
    let some: Vec<_> = missing.iter().take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} missed, e.g. {some:?}",
        missing.len(),
        truth.len()
    );
    assert_eq!(seen.ids(), truth);
    let injected: u64 = server.request_counts().by_fault.values().sum();
    assert!(injected > 0, "the faults were injected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_resumed_from_a_state_saved_mid_poll_passes_nothing_twice() {
    let server = live_mock(300.0, Duration::from_millis(500), Faults::new());
    let mut seen = Seen::default();
    let mut follower = follow(&server, 2).start().unwrap();
    // Stop in the middle of the stream, as a crash would, and keep only the
    // saved state (as JSON, as a file holds it).
    follow_until(&mut follower, &mut seen, 400, |_| false).await;
    let saved = serde_json::to_string(&follower.state()).unwrap();
    drop(follower);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let state: FollowState = serde_json::from_str(&saved).unwrap();
    assert!(state.seen() > 0);
    let mut follower = follow(&server, 2).resume_from(state).start().unwrap();
    let resumed = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to > resumed + chrono::Duration::seconds(1)
    })
    .await;
    server.stop_live_traffic();
    let (truth, latest) = truth(&server);
    let stopped = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to - chrono::Duration::seconds(2) > stopped.max(latest)
    })
    .await;

    assert!(
        seen.doubled().is_empty(),
        "passed on twice: {:?}",
        seen.doubled()
    );
    assert_eq!(seen.ids(), truth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_committed_later_than_the_lag_are_the_ones_missed() {
    // Late by up to 3 s, read back only 1 s: what the docs say is missed.
    let server = live_mock(200.0, Duration::from_secs(3), Faults::new());
    let mut follower = follow(&server, 1).start().unwrap();
    let mut seen = Seen::default();
    let started = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to > started + chrono::Duration::seconds(3)
    })
    .await;
    server.stop_live_traffic();
    let stopped = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to > stopped + chrono::Duration::seconds(5)
    })
    .await;
    let events = server.live_audit_events();
    let ids = seen.ids();
    let missed: Vec<_> = events
        .iter()
        .filter(|e| !ids.contains(&e.event_uuid))
        .collect();
    assert!(
        !missed.is_empty(),
        "a lag shorter than the lateness misses some records"
    );
    assert!(seen.doubled().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_with_a_longer_lag_passes_nothing_twice() {
    let server = live_mock(300.0, Duration::from_millis(300), Faults::new());
    let mut seen = Seen::default();
    let mut follower = follow(&server, 1).start().unwrap();
    let started = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to > started + chrono::Duration::seconds(4)
    })
    .await;
    let state = follower.state();
    drop(follower);
    // The longer lag reaches back over records passed on and forgotten.
    let mut follower = follow(&server, 4).resume_from(state).start().unwrap();
    let resumed = chrono::Utc::now();
    follow_until(&mut follower, &mut seen, usize::MAX, |to| {
        to > resumed + chrono::Duration::seconds(1)
    })
    .await;
    assert!(
        seen.doubled().is_empty(),
        "passed on twice: {:?}",
        seen.doubled().len()
    );
}

#[test]
fn a_state_from_another_host_is_refused() {
    let server = live_mock(10.0, Duration::from_millis(100), Faults::new());
    let state = client(&server)
        .audit_logs()
        .follow()
        .start()
        .unwrap()
        .state();
    let other = Client::builder()
        .host("https://app.datafold.com")
        .api_key("k")
        .build()
        .unwrap();
    let error = other
        .audit_logs()
        .follow()
        .resume_from(state)
        .start()
        .unwrap_err();
    assert!(
        matches!(error, datafold_sdk::Error::FollowState { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("another host"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_passed_on_by_a_backfill_are_not_passed_on_again() {
    let now = chrono::Utc::now();
    let server = MockServer::builder()
        .seed_events(200)
        .seed_window(now, Duration::from_secs(60))
        .start()
        .unwrap();
    let mut events: Vec<(String, chrono::DateTime<chrono::Utc>)> = server
        .seeded_audit_events(None, None)
        .into_iter()
        .map(|e| (e.event_uuid, e.timestamp))
        .collect();
    events.sort_by_key(|(_, at)| *at);
    // A backfill wrote the first half; the follow starts at its newest.
    let newest = events[99].1;
    let (backfill, rest): (Vec<_>, Vec<_>) = events.into_iter().partition(|(_, at)| *at <= newest);
    let mut follower = follow(&server, 120)
        .since(newest)
        .passed_on(backfill.clone())
        .start()
        .unwrap();
    let mut seen = Seen::default();
    follow_until(&mut follower, &mut seen, 10_000, |watermark| {
        watermark > now
    })
    .await;
    let expected: HashSet<String> = rest.into_iter().map(|(id, _)| id).collect();
    assert!(seen.doubled().is_empty());
    assert_eq!(
        seen.ids(),
        expected,
        "exactly what the backfill did not write"
    );
    assert!(backfill.iter().all(|(id, _)| !seen.counts.contains_key(id)));
}
