//! Records the server returns outside the window they were asked for (a
//! timestamp without a zone in server-local time, a server that ignores the
//! time filter) are never dropped silently: inside the export's range they
//! are written once and counted; outside it they are counted, not written.

mod common;
mod hostile;

use chrono::{DateTime, TimeZone, Utc};
use common::{CaptureServer, Reply};
use datafold_sdk::audit::export::{ExportEvent, ExportFormat};
use datafold_sdk::Client;
use hostile::{respond, Hostile};
use serde_json::json;

fn client(url: &str) -> Client {
    common::client_for(url)
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap()
}

fn log(uuid: &str, timestamp: &str) -> serde_json::Value {
    json!({"timestamp": timestamp, "event_uuid": uuid, "client_ip": "10.0.0.1", "url": "/x"})
}

/// Export 10:00–13:00 in hour windows as JSON Lines; the uuids written and
/// the summary.
async fn export(client: &Client) -> (Vec<String>, datafold_sdk::audit::export::ExportSummary) {
    let mut out = Vec::new();
    let summary = client
        .audit_logs()
        .between(at(10, 0), at(13, 0))
        .window(std::time::Duration::from_secs(3600))
        .write_to(ExportFormat::JsonLines, &mut out)
        .await
        .unwrap();
    let uuids = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_uuid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (uuids, summary)
}

#[tokio::test]
async fn zone_less_local_times_outside_their_window_are_written_once_and_counted() {
    // The server filters by the true (UTC) time but prints naive local time,
    // two hours ahead.
    let truth = [("r1", at(10, 15)), ("r2", at(11, 15)), ("r3", at(12, 15))];
    let server = Hostile::start(move |mut c| async move {
        let filter: serde_json::Value = serde_json::from_slice(&c.request.body).unwrap();
        let date = |k: &str| {
            DateTime::parse_from_rfc3339(filter[k].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc)
        };
        let (from, to) = (date("start_date"), date("end_date"));
        let logs: Vec<_> = truth
            .iter()
            .filter(|(_, t)| from <= *t && *t <= to)
            .map(|(uuid, t)| {
                let local = *t + chrono::Duration::hours(2);
                log(uuid, &local.format("%Y-%m-%dT%H:%M:%S").to_string())
            })
            .collect();
        let body = json!({ "logs": logs }).to_string();
        respond(&mut c.stream, 200, "application/json", &body).await
    })
    .await;
    let (uuids, summary) = export(&client(&server.url)).await;
    // r1 reads 12:15, inside the range: written. r2 and r3 read 13:15 and
    // 14:15, after the range's end: not asked for, so counted only.
    assert_eq!(uuids, ["r1"]);
    assert_eq!(summary.records, 1);
    assert_eq!(summary.misplaced, 1, "{summary:?}");
    assert_eq!(summary.out_of_range, 2, "{summary:?}");
}

#[tokio::test]
async fn a_server_that_ignores_the_filter_still_gives_each_record_once() {
    // Every window gets the same answer.
    let body = json!({"logs": [
        log("in-window-0", "2026-11-20T10:30:00Z"),
        log("zone-less", "2026-11-20 12:15:00"),
        log("in-window-1", "2026-11-20T11:45:00+00:00"),
        log("last-year", "2025-11-20T10:30:00Z"),
    ]});
    let server = CaptureServer::start(Reply::json(200, body)).await;
    let client = client(&server.url);
    let (mut uuids, summary) = export(&client).await;
    uuids.sort();
    assert_eq!(uuids, ["in-window-0", "in-window-1", "zone-less"]);
    assert_eq!(server.requests().len(), 3, "three windows");
    assert_eq!(summary.out_of_range, 1, "{summary:?}");

    // The stream counts too.
    let mut events = client
        .audit_logs()
        .between(at(10, 0), at(13, 0))
        .window(std::time::Duration::from_secs(3600))
        .events()
        .unwrap();
    let mut written = 0;
    while let Some(event) = events.next().await {
        if let ExportEvent::Record(_) = event.unwrap() {
            written += 1;
        }
    }
    assert_eq!(written, 3);
    assert_eq!(events.out_of_range(), 1);
    assert!(events.misplaced() >= 1, "zone-less came back in window 0");
}

#[tokio::test]
async fn a_window_under_a_minute_reaches_at_most_one_window_into_its_neighbours() {
    let server = CaptureServer::start(Reply::json(
        200,
        json!({"logs": [log("a", "2026-11-20T10:00:10Z")]}),
    ))
    .await;
    let client = client(&server.url);
    let short = || {
        client
            .audit_logs()
            .between(at(10, 0), at(10, 1))
            .window(std::time::Duration::from_secs(30))
    };
    assert_eq!(short().plan().unwrap().len(), 2);
    let mut events = short().events().unwrap();
    let mut records = Vec::new();
    let mut overlaps = Vec::new();
    while let Some(event) = events.next().await {
        match event.unwrap() {
            ExportEvent::Record(r) => records.push(r.event_uuid),
            ExportEvent::WindowDone(checkpoint) => overlaps.push(checkpoint.overlap_secs),
        }
    }
    assert_eq!(records, ["a"]);
    assert_eq!(
        overlaps,
        [30, 30],
        "the checkpoint records the overlap used"
    );
    let mut reaches: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.json()["start_date"].as_str().unwrap().to_owned())
        .collect();
    reaches.sort();
    assert_eq!(reaches, ["2026-11-20T09:59:30Z", "2026-11-20T10:00:00Z"]);

    // An overlap the caller chose is kept, and checked.
    let chosen = short().overlap(std::time::Duration::from_secs(5)).plan();
    assert_eq!(chosen.unwrap().len(), 2);
    let error = short()
        .overlap(std::time::Duration::from_secs(90))
        .plan()
        .unwrap_err();
    assert!(
        matches!(error, datafold_sdk::Error::InvalidRequest { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("overlap"), "{error}");
    // The default overlap follows the window, whatever the order of calls.
    let longer = short().window(std::time::Duration::from_secs(3600));
    let mut events = longer.events().unwrap();
    while let Some(event) = events.next().await {
        if let ExportEvent::WindowDone(checkpoint) = event.unwrap() {
            assert_eq!(checkpoint.overlap_secs, 60);
        }
    }
}

#[tokio::test]
async fn too_many_misplaced_records_is_an_error_that_names_no_sdk_call() {
    // Every timestamp unreadable: each is written once and remembered, up to
    // the limit.
    let logs: Vec<_> = (0..=datafold_sdk::audit::export::MAX_UNPLACED)
        .map(|i| log(&format!("u{i}"), "not a time"))
        .collect();
    let server = CaptureServer::start(Reply::json(200, json!({ "logs": logs }))).await;
    // Records without a readable time have no typed view: the raw stream.
    let mut records = client(&server.url)
        .audit_logs()
        .between(at(10, 0), at(11, 0))
        .raw_events()
        .unwrap();
    let error = loop {
        match records.next().await.expect("the export ends in an error") {
            Ok(_) => continue,
            Err(error) => break error,
        }
    };
    assert!(
        matches!(error, datafold_sdk::Error::Inconsistent { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(!message.contains("client."), "{message}");
    assert!(message.contains("short range"), "{message}");
}
