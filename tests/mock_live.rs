//! The mock's live audit traffic, seen through the SDK the way a poller sees
//! the real service: events that appear as time passes, some committed late
//! (stamped before the moment they become visible), and a ground truth
//! (`live_audit_events`, final after `stop_live_traffic`) that queries match.
//!
//! Nothing here depends on timing precision: a test waits for what it needs
//! with a generous deadline, and asserts only on what the queries return.

mod mock_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use datafold_sdk::types::AuditLog;
use datafold_sdk::Client;

/// Long enough for the slowest machine; a passing test never waits this long.
const PATIENCE: Duration = Duration::from_secs(60);

/// The events of `[start, end]` (each bound optional), asking again through
/// injected faults.
async fn query(
    client: &Client,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Vec<AuditLog> {
    let mut last_error = None;
    for _ in 0..100 {
        let mut request = client.audit_logs().list();
        if let Some(start) = start {
            request = request.start(start);
        }
        if let Some(end) = end {
            request = request.end(end);
        }
        match request.send().await {
            Ok(logs) => return logs,
            Err(error) => last_error = Some(error),
        }
    }
    panic!("no answer in 100 attempts: {last_error:?}");
}

/// Wait (polling, within [`PATIENCE`]) until at least `count` live events
/// are committed.
fn wait_for_live_events(server: &MockServer, count: usize) {
    let deadline = Instant::now() + PATIENCE;
    while server.live_audit_events().len() < count {
        assert!(
            Instant::now() < deadline,
            "fewer than {count} live events after {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn uuids(logs: &[AuditLog]) -> Vec<String> {
    logs.iter().map(|log| log.event_uuid.clone()).collect()
}

fn uuid_set(logs: &[AuditLog]) -> BTreeSet<String> {
    let set: BTreeSet<String> = uuids(logs).into_iter().collect();
    assert_eq!(set.len(), logs.len(), "an event_uuid came twice");
    set
}

fn stamp(log: &AuditLog) -> DateTime<Utc> {
    log.timestamp
}

#[tokio::test]
async fn a_late_event_is_invisible_before_its_commit_and_visible_after() {
    // Every live event is late, by up to 5 s.
    let server = MockServer::builder()
        .seed_events(0)
        .live_rate(50.0)
        .late_commits(1.0, Duration::from_secs(5))
        .start()
        .expect("the mock starts");
    let client = server.client().expect("client");
    wait_for_live_events(&server, 5);

    // A range that has already passed when it is first asked for...
    let start = Utc::now() - chrono::Duration::minutes(1);
    let end = Utc::now();
    let first = query(&client, Some(start), Some(end)).await;
    // ...gains events later: committed after the first answer, though
    // stamped inside the range.
    let deadline = Instant::now() + PATIENCE;
    let later = loop {
        let later = query(&client, Some(start), Some(end)).await;
        if later.len() > first.len() {
            break later;
        }
        assert!(Instant::now() < deadline, "the range never gained an event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let first_by_uuid: BTreeMap<String, AuditLog> = first
        .iter()
        .map(|log| (log.event_uuid.clone(), log.clone()))
        .collect();
    let later_by_uuid: BTreeMap<String, AuditLog> = later
        .iter()
        .map(|log| (log.event_uuid.clone(), log.clone()))
        .collect();
    for (uuid, log) in &first_by_uuid {
        assert_eq!(
            later_by_uuid.get(uuid),
            Some(log),
            "a visible event changed"
        );
    }
    let arrived: Vec<&AuditLog> = later
        .iter()
        .filter(|log| !first_by_uuid.contains_key(&log.event_uuid))
        .collect();
    assert!(!arrived.is_empty());
    for log in &arrived {
        let at = stamp(log);
        assert!(start <= at && at <= end, "{at} outside the range");
    }

    // Once visible, a late event stays the same, and the ground truth holds it.
    server.stop_live_traffic();
    let again = query(&client, Some(start), Some(end)).await;
    for log in &arrived {
        assert!(
            again.contains(log),
            "{} changed or vanished",
            log.event_uuid
        );
    }
    let truth = server.live_audit_events();
    for log in &arrived {
        assert!(
            truth.contains(log),
            "{} is not in the ground truth",
            log.event_uuid
        );
    }
}

#[tokio::test]
async fn after_stopping_full_range_queries_return_exactly_the_ground_truth() {
    let faults = Faults::new()
        .seed(3)
        .rate(Fault::Unavailable, 0.2)
        .rate(Fault::TruncatedBody, 0.2)
        .retry_after_secs(0);
    let server = mock_support::builder()
        .live_rate(200.0)
        .late_commits(0.3, Duration::from_millis(800))
        .faults(faults)
        .start()
        .expect("the mock starts");
    let client = mock_support::client(&server);
    // A BI call records an event of its own, served between the seeded and
    // the live ones (a fault may make it answer an error after recording).
    for _ in 0..20 {
        if client.bi().create(mock_support::dbt("live")).await.is_ok() {
            break;
        }
    }
    let recorded = server.recorded_audit_events();
    assert!(!recorded.is_empty());
    wait_for_live_events(&server, 300);
    server.stop_live_traffic();
    let truth = server.live_audit_events();
    assert!(truth.len() >= 300);
    // Late commits are in it: served in commit order, a late event comes
    // before events stamped earlier than it.
    let out_of_order = truth.windows(2).filter(|w| stamp(&w[1]) < stamp(&w[0]));
    assert!(
        out_of_order.count() > 0,
        "no late event in the ground truth"
    );

    let seeded = server.seeded_audit_events(None, None);
    let mut expected = seeded.clone();
    expected.extend(recorded.iter().cloned());
    expected.extend(truth.iter().cloned());
    let now = Utc::now();
    let wide = (
        Some(now - chrono::Duration::days(365)),
        Some(now + chrono::Duration::days(1)),
    );
    for (start, end) in [(None, None), wide, (None, None), wide] {
        // Had the traffic not stopped, 200 events/s would show in between.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let served = query(&client, start, end).await;
        // Seeded first, then recorded, then the live events in commit
        // order, each once.
        assert_eq!(uuid_set(&served).len(), expected.len());
        assert_eq!(served, expected);
    }
    assert_eq!(server.live_audit_events(), truth, "stopped means final");
    // Live uuids are distinct from the seeded and recorded ones.
    assert!(uuid_set(&seeded).is_disjoint(&uuid_set(&truth)));
    assert!(uuid_set(&recorded).is_disjoint(&uuid_set(&truth)));
    mock_support::assert_spec_clean(&server);
}

#[tokio::test]
async fn narrow_ranges_partition_the_ground_truth() {
    let server = MockServer::builder()
        .seed_events(0)
        .live_rate(100.0)
        .late_commits(0.5, Duration::from_secs(1))
        .check_responses(true)
        .start()
        .expect("the mock starts");
    let client = server.client().expect("client");
    wait_for_live_events(&server, 200);
    server.stop_live_traffic();
    let truth = server.live_audit_events();
    let truth_set = uuid_set(&truth);
    let first = truth.iter().map(stamp).min().expect("events");
    let last = truth.iter().map(stamp).max().expect("events");

    // Disjoint ranges of 50 ms, each bound inclusive, one microsecond apart
    // (timestamps are whole microseconds), covering all of the events.
    let step = chrono::Duration::milliseconds(50);
    let tick = chrono::Duration::microseconds(1);
    let mut seen: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut from = first - step / 2;
    let mut ranges = 0;
    while from <= last {
        let to = from + step - tick;
        for log in query(&client, Some(from), Some(to)).await {
            let at = stamp(&log);
            assert!(from <= at && at <= to, "{at} outside [{from}, {to}]");
            let earlier = seen.insert(log.event_uuid.clone(), from);
            assert!(earlier.is_none(), "{} in two ranges", log.event_uuid);
        }
        from += step;
        ranges += 1;
    }
    assert!(ranges > 10, "{ranges} ranges");
    let seen_set: BTreeSet<String> = seen.into_keys().collect();
    assert_eq!(seen_set, truth_set);

    // A range that is a single instant holds the event stamped then.
    let one = &truth[truth.len() / 2];
    let at = stamp(one);
    let exact = query(&client, Some(at), Some(at)).await;
    assert!(exact.contains(one));
    assert!(exact.iter().all(|log| stamp(log) == at));
    let problems = server.request_counts().with_spec_violations;
    assert_eq!(problems, 0, "{:?}", server.request_log());
}

#[test]
fn live_settings_out_of_range_are_refused_at_start() {
    let refused = |builder: datafold_sdk::mock::MockServerBuilder| {
        builder
            .start()
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default()
    };
    for rate in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        let message = refused(MockServer::builder().live_rate(rate));
        assert!(message.contains("live_rate"), "{rate}: {message}");
    }
    let second = Duration::from_secs(1);
    let message = refused(
        MockServer::builder()
            .live_rate(1.0)
            .late_commits(1.5, second),
    );
    assert!(message.contains("late_commits"), "{message}");
    let message = refused(MockServer::builder().late_commits(0.5, second));
    assert!(message.contains("live_rate"), "{message}");
    let message = refused(
        MockServer::builder()
            .live_rate(1.0)
            .late_commits(0.5, Duration::ZERO),
    );
    assert!(message.contains("late_commits"), "{message}");
}

#[tokio::test]
async fn without_live_traffic_nothing_changes() {
    let server = MockServer::builder()
        .seed_events(20)
        .start()
        .expect("the mock starts");
    let client = server.client().expect("client");
    server.stop_live_traffic();
    assert!(server.live_audit_events().is_empty());
    let served = query(&client, None, None).await;
    assert_eq!(served, server.seeded_audit_events(None, None));
}
