//! `client.audit_logs().follow()` against servers that misbehave: a body
//! broken mid-stream, records that can never be read (a numeric timestamp,
//! a timestamp that is not a time), a response that never ends and one that
//! trickles on forever. A follower keeps going: bad polls are failed polls,
//! unreadable records are set aside once (and remembered in the state), and
//! every readable record is passed on exactly once.

#![cfg(feature = "mock")]

mod common;
mod hostile;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::TEST_KEY;
use datafold_sdk::audit::follow::{FollowEvent, FollowState, Follower, UnreadableRecord};
use datafold_sdk::{Client, Error};
use hostile::{endless, head, respond, Conn, Hostile};
use tokio::io::AsyncWriteExt;

fn client(url: &str) -> Client {
    common::client_for(url)
}

/// A follower of `url` polling every 100 ms with a 30 s lag (records stay
/// remembered for the whole test).
fn follower(url: &str, resume: Option<FollowState>) -> datafold_sdk::audit::follow::Follow {
    let follow = client(url)
        .audit_logs()
        .follow()
        .interval(Duration::from_millis(100))
        .lag(Duration::from_secs(30));
    match resume {
        Some(state) => follow.resume_from(state),
        None => follow,
    }
}

/// A readable record `good-<i>`, a second before `base`.
fn good(i: usize, base: DateTime<Utc>) -> String {
    let at = base - chrono::Duration::seconds(1) + chrono::Duration::milliseconds(i as i64);
    hostile::record(&format!("good-{i}"), &at.to_rfc3339())
}

/// `{"logs": [...]}` of `records`.
fn logs(records: &[String]) -> String {
    format!("{{\"logs\":[{}]}}", records.join(","))
}

/// What a follower yielded, until `polls` polls completed.
#[derive(Default, Debug)]
struct Yielded {
    records: HashMap<String, u32>,
    failed: Vec<String>,
    rejected: Vec<UnreadableRecord>,
    polls: usize,
}

async fn run(follower: &mut Follower, polls: usize, yielded: &mut Yielded) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while yielded.polls < polls {
        let event = tokio::time::timeout_at(deadline, follower.next())
            .await
            .unwrap_or_else(|_| panic!("the follower stalled: {yielded:?}"))
            .expect("the follower stopped: a bad body must be a failed poll");
        match event {
            FollowEvent::Record(record) => {
                *yielded
                    .records
                    .entry(record.event_uuid().to_owned())
                    .or_default() += 1;
            }
            FollowEvent::Polled(_) => yielded.polls += 1,
            FollowEvent::PollFailed { error, .. } => yielded.failed.push(error.to_string()),
            FollowEvent::Rejected(unreadable) => yielded.rejected.push(unreadable),
        }
    }
}

fn assert_goods_once(yielded: &Yielded, goods: usize) {
    for i in 0..goods {
        assert_eq!(
            yielded.records.get(&format!("good-{i}")),
            Some(&1),
            "good-{i}: {yielded:?}"
        );
    }
    assert_eq!(yielded.records.len(), goods, "{yielded:?}");
}

#[tokio::test]
async fn a_body_broken_mid_stream_is_a_failed_poll_and_read_again() {
    let base = Utc::now();
    let server = Hostile::start(move |mut conn: Conn| async move {
        let goods: Vec<String> = (0..5).map(|i| good(i, base)).collect();
        let body = if conn.index < 2 {
            // Two records, then brackets that do not close what they open.
            format!("{{\"logs\":[{},{}]]", goods[0], goods[1])
        } else {
            logs(&goods)
        };
        respond(&mut conn.stream, 200, "application/json", &body).await;
    })
    .await;
    let mut follower = follower(&server.url, None).start().unwrap();
    let mut yielded = Yielded::default();
    run(&mut follower, 3, &mut yielded).await;
    assert_eq!(yielded.failed.len(), 2, "{yielded:?}");
    assert!(yielded.failed[0].contains("decode"), "{:?}", yielded.failed);
    assert!(yielded.rejected.is_empty());
    assert_goods_once(&yielded, 5);
}

#[tokio::test]
async fn a_record_that_can_never_be_read_is_set_aside_once_and_remembered() {
    let base = Utc::now();
    let bad = r#"{"timestamp":1764000000,"event_uuid":"bad-num","client_ip":"1","url":"/","client_secret":"hunter2-do-not-show"}"#;
    let server = Hostile::start(move |mut conn: Conn| async move {
        let mut records: Vec<String> = (0..3).map(|i| good(i, base)).collect();
        records.push(bad.to_owned());
        records.extend((3..5).map(|i| good(i, base)));
        respond(&mut conn.stream, 200, "application/json", &logs(&records)).await;
    })
    .await;
    let mut follower = follower(&server.url, None).start().unwrap();
    let mut yielded = Yielded::default();
    run(&mut follower, 4, &mut yielded).await;
    // Two polls fail on it (nothing readable is lost meanwhile), the third
    // sets it aside, and no later poll fails or sets it aside again.
    assert_eq!(yielded.failed.len(), 2, "{yielded:?}");
    assert!(
        yielded.failed.iter().all(|f| f.contains("bad-num")),
        "{yielded:?}"
    );
    assert!(
        yielded.failed.iter().all(|f| !f.contains("hunter2")),
        "{yielded:?}"
    );
    assert_eq!(yielded.rejected.len(), 1, "{yielded:?}");
    let rejected = &yielded.rejected[0];
    assert_eq!(rejected.event_uuid(), Some("bad-num"));
    assert!(
        rejected.problem().contains("timestamp"),
        "{}",
        rejected.problem()
    );
    let json = rejected.json().unwrap();
    assert!(json.contains(r#""timestamp":1764000000"#), "{json}");
    assert!(!json.contains("hunter2"), "secrets are masked: {json}");
    assert!(!format!("{rejected:?}").contains("hunter2"));
    assert_goods_once(&yielded, 5);

    // Resumed from its state, the decision holds: nothing set aside again,
    // no poll fails on it, no record passed on twice.
    let state = follower.state();
    assert_eq!(state.rejected(), 1);
    let state: FollowState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    let mut resumed = follower_resumed(&server.url, state);
    let mut again = Yielded::default();
    run(&mut resumed, 3, &mut again).await;
    assert!(
        again.failed.is_empty() && again.rejected.is_empty(),
        "{again:?}"
    );
    assert!(again.records.is_empty(), "{again:?}");
}

fn follower_resumed(url: &str, state: FollowState) -> Follower {
    follower(url, Some(state)).start().unwrap()
}

#[tokio::test]
async fn records_whose_timestamps_cannot_be_read_are_never_written_and_set_aside_once() {
    let base = Utc::now();
    let server = Hostile::start(move |mut conn: Conn| async move {
        let mut records: Vec<String> = (0..4).map(|i| good(i, base)).collect();
        records.insert(1, hostile::record("bad-time", "not a time"));
        records.push(hostile::record("bad-year", "+262143-01-01T00:00:00Z"));
        respond(&mut conn.stream, 200, "application/json", &logs(&records)).await;
    })
    .await;
    let mut follower = follower(&server.url, None).start().unwrap();
    let mut yielded = Yielded::default();
    run(&mut follower, 10, &mut yielded).await;
    let mut set_aside: Vec<_> = yielded
        .rejected
        .iter()
        .map(|r| r.event_uuid().unwrap().to_owned())
        .collect();
    set_aside.sort();
    assert_eq!(set_aside, ["bad-time", "bad-year"], "{yielded:?}");
    assert!(!yielded.records.contains_key("bad-time"), "{yielded:?}");
    assert!(!yielded.records.contains_key("bad-year"), "{yielded:?}");
    assert_goods_once(&yielded, 4);
    assert_eq!(follower.state().rejected(), 2);
}

#[tokio::test]
async fn a_response_past_its_cap_fails_the_poll_even_when_it_is_records_outside_the_range() {
    let base = Utc::now();
    let server = Hostile::start(move |mut conn: Conn| async move {
        if conn.index == 0 {
            // 64 MiB of records from 2001: none asked for, none to write.
            let unit = format!("{},", hostile::record("old", "2001-01-01T00:00:00Z"));
            head(
                &mut conn.stream,
                200,
                &[("content-type", "application/json")],
                None,
            )
            .await;
            endless(
                &mut conn.stream,
                b"{\"logs\":[",
                unit.as_bytes(),
                64 << 20,
                format!("{}]}}", good(0, base)).as_bytes(),
            )
            .await;
            return;
        }
        let goods: Vec<String> = (0..3).map(|i| good(i, base)).collect();
        respond(&mut conn.stream, 200, "application/json", &logs(&goods)).await;
    })
    .await;
    let mut follower = follower(&server.url, None)
        .max_response_bytes(1 << 20)
        .start()
        .unwrap();
    let first = follower.next().await.unwrap();
    match &first {
        FollowEvent::PollFailed {
            error: Error::ResponseTooLarge { limit, .. },
            ..
        } => assert_eq!(*limit, 1 << 20),
        other => panic!("expected a poll failed on the cap, got {other:?}"),
    }
    let mut yielded = Yielded::default();
    run(&mut follower, 2, &mut yielded).await;
    assert_goods_once(&yielded, 3);
}

#[tokio::test]
async fn a_response_that_never_ends_fails_the_poll_at_its_deadline() {
    let base = Utc::now();
    let server = Hostile::start(move |mut conn: Conn| async move {
        if conn.index == 0 {
            // The same readable record over and over, 20 a second, for a
            // minute at most: progress on every read, never an end.
            head(
                &mut conn.stream,
                200,
                &[("content-type", "application/json")],
                None,
            )
            .await;
            let _ = conn.stream.write_all(b"{\"logs\":[").await;
            let unit = Arc::new(format!("{},", good(0, base)));
            for _ in 0..1200 {
                if conn.stream.write_all(unit.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            return;
        }
        let goods: Vec<String> = (0..3).map(|i| good(i, base)).collect();
        respond(&mut conn.stream, 200, "application/json", &logs(&goods)).await;
    })
    .await;
    let mut follower = follower(&server.url, None)
        .poll_deadline(Duration::from_secs(2))
        .start()
        .unwrap();
    let mut yielded = Yielded::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while yielded.failed.is_empty() {
        match tokio::time::timeout_at(deadline, follower.next())
            .await
            .expect("no failed poll: the endless response stalled the follower")
            .unwrap()
        {
            FollowEvent::Record(record) => {
                *yielded
                    .records
                    .entry(record.event_uuid().to_owned())
                    .or_default() += 1;
            }
            FollowEvent::PollFailed { error, .. } => {
                assert!(matches!(error, Error::PollDeadline { .. }), "{error:?}");
                assert!(error.to_string().contains("still reading"), "{error}");
                yielded.failed.push(error.to_string());
            }
            other => panic!("{other:?}"),
        }
    }
    run(&mut follower, 2, &mut yielded).await;
    assert_goods_once(&yielded, 3);
}

#[test]
fn a_poll_deadline_under_a_second_is_refused() {
    let error = follower("http://127.0.0.1:9", None)
        .poll_deadline(Duration::from_millis(10))
        .start()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
}

#[tokio::test]
async fn elements_that_are_not_objects_are_set_aside_and_records_after_them_read() {
    let base = Utc::now();
    let server = Hostile::start(move |mut conn: Conn| async move {
        let body = format!(
            "{{\"logs\":[{}, 5 ,null,\"a string\",[1,{{\"x\":2}}],{}]}}",
            good(0, base),
            good(1, base)
        );
        respond(&mut conn.stream, 200, "application/json", &body).await;
    })
    .await;
    let mut follower = follower(&server.url, None).start().unwrap();
    let mut yielded = Yielded::default();
    run(&mut follower, 3, &mut yielded).await;
    assert_goods_once(&yielded, 2);
    // Not objects: set aside by their bytes' digest, their bytes not kept.
    let mut lengths: Vec<_> = yielded.rejected.iter().map(|r| r.len()).collect();
    lengths.sort();
    assert_eq!(lengths, [1, 4, 10, 11], "{yielded:?}");
    for rejected in &yielded.rejected {
        assert!(rejected.problem().contains("not an object"), "{rejected:?}");
        assert!(rejected.json().is_none() && rejected.event_uuid().is_none());
    }
    // Two polls failed on them, then one set them all aside at once.
    assert_eq!(yielded.failed.len(), 2, "{yielded:?}");
}

#[tokio::test]
async fn a_readable_copy_of_an_unreadable_record_in_the_same_poll_is_passed_on() {
    let base = Utc::now();
    let server = Hostile::start(move |mut conn: Conn| async move {
        let records = [hostile::record("good-0", "not a time"), good(0, base)];
        respond(&mut conn.stream, 200, "application/json", &logs(&records)).await;
    })
    .await;
    let mut follower = follower(&server.url, None).start().unwrap();
    let mut yielded = Yielded::default();
    run(&mut follower, 3, &mut yielded).await;
    assert_goods_once(&yielded, 1);
    assert_eq!(yielded.rejected.len(), 1, "{yielded:?}");
}

#[tokio::test]
async fn a_client_without_a_timeout_follows_without_panicking() {
    let server = Hostile::start(move |mut conn: Conn| async move {
        respond(&mut conn.stream, 200, "application/json", "{\"logs\":[]}").await;
    })
    .await;
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(&server.url)
        .timeout(Duration::MAX)
        .build()
        .unwrap();
    let mut follower = client
        .audit_logs()
        .follow()
        .interval(Duration::from_millis(100))
        .start()
        .unwrap();
    let event = follower.next().await.unwrap();
    assert!(matches!(event, FollowEvent::Polled(_)), "{event:?}");
}

#[tokio::test]
async fn a_wrong_host_stops_the_first_poll_and_a_later_404_is_retried() {
    // Answers 404 on its first connection: a host that is not the API.
    let server = Hostile::start(move |mut conn: Conn| async move {
        let body = if conn.index == 0 || conn.index == 2 {
            respond(&mut conn.stream, 404, "text/html", "<h1>no</h1>").await;
            return;
        } else {
            logs(&[])
        };
        respond(&mut conn.stream, 200, "application/json", &body).await;
    })
    .await;
    let mut follower = follower(&server.url, None).start().unwrap();
    let error = follower.next().await.unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    // Once a poll has completed, a 404 (a proxy during a deploy) is a
    // failed poll.
    let mut follower = follower_resumed(&server.url, follower.state());
    let mut yielded = Yielded::default();
    run(&mut follower, 2, &mut yielded).await;
    assert_eq!(yielded.failed.len(), 1, "{yielded:?}");
}

/// Records over ten minutes: a sparse first half, then 20 records a second
/// of about 1 KB each (6 MB), served as a real server does: those in the
/// range asked for.
async fn burst_server(now: DateTime<Utc>) -> Hostile {
    let pad = "x".repeat(900);
    let mut records = Vec::new();
    for s in 0..300 {
        let at = now - chrono::Duration::seconds(600 - s);
        records.push((at, hostile::record(&format!("s{s}"), &at.to_rfc3339())));
    }
    for s in 0..299 {
        for k in 0..20 {
            let at =
                now - chrono::Duration::seconds(300 - s) + chrono::Duration::milliseconds(k * 40);
            let mut json: serde_json::Value =
                serde_json::from_str(&hostile::record(&format!("d{s}-{k}"), &at.to_rfc3339()))
                    .unwrap();
            json["p"] = pad.clone().into();
            records.push((at, json.to_string()));
        }
    }
    let records = Arc::new(records);
    Hostile::start(move |mut conn: Conn| {
        let records = records.clone();
        async move {
            let query: serde_json::Value =
                serde_json::from_slice(&conn.request.body).unwrap_or_default();
            let at = |k: &str| {
                query[k]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|d| d.with_timezone(&Utc))
            };
            let (from, to) = (at("start_date"), at("end_date"));
            let kept: Vec<String> = records
                .iter()
                .filter(|(t, _)| from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t <= e))
                .map(|(_, r)| r.clone())
                .collect();
            respond(&mut conn.stream, 200, "application/json", &logs(&kept)).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_dense_burst_is_cut_into_windows_under_the_cap_not_failed() {
    let now = Utc::now();
    let server = burst_server(now).await;
    let mut follower = client(&server.url)
        .audit_logs()
        .follow()
        .interval(Duration::from_millis(100))
        .lag(Duration::from_secs(630))
        .max_response_bytes(1 << 20)
        .start()
        .unwrap();
    let mut yielded = Yielded::default();
    run(&mut follower, 1, &mut yielded).await;
    assert!(yielded.failed.is_empty(), "{:?}", yielded.failed.first());
    assert_eq!(yielded.records.len(), 300 + 299 * 20);
    assert!(yielded.records.values().all(|n| *n == 1));
}
