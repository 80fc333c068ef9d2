//! JSON outputs of an export are the server's records: every field, those
//! the spec does not list and explicit `null`s included, whatever the
//! body's layout or key order; JSON Lines is the compact form of each record,
//! byte for byte.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{CaptureServer, Reply};
use datafold_sdk::audit::export::ExportFormat;
use datafold_sdk::mock::MockServer;
use serde_json::{json, Value};

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, minute, 0).unwrap()
}

/// Records a newer server could send: fields the spec does not list (at the
/// top and nested), explicit nulls of known and unknown fields, numbers
/// written in several ways, unicode, and keys in no particular order.
fn tricky_records() -> Vec<Value> {
    vec![
        json!({"url": "/a", "client_ip": "10.0.0.1", "event_uuid": "a",
               "timestamp": "2026-11-20T10:01:00Z", "action": null, "user_id": null,
               "tenant": {"id": 7, "region": "eu", "tags": ["x", null, 1.5e3]},
               "risk_score": 0.25, "flags": [], "note": null}),
        json!({"zeta": true, "timestamp": "2026-11-20T10:02:00+00:00", "payload": null,
               "event_uuid": "b", "client_ip": "10.0.0.2", "url": "/b",
               "object_id": 12345678901_i64, "log_entry": "é ✓ \"quoted\" \\ back\nslash",
               "session": {"started": "2026-11-20T09:00:00Z", "mfa": false}}),
        json!({"timestamp": "2026-11-20 10:03:00", "event_uuid": "c", "client_ip": "::1",
               "url": "/c", "payload": {"deep": {"deeper": [{"k": null}]}, "n": -0.0},
               "A": 1, "a": 2, "_": ""}),
    ]
}

/// `{"logs": [...]}` pretty-printed, with extra space around every token.
fn pretty_body(records: &[Value]) -> String {
    let pretty = serde_json::to_string_pretty(&json!({ "logs": records })).unwrap();
    pretty
        .replace(": ", " :\t ")
        .replace(",\n", " ,\r\n")
        .replace('[', "[ \n")
}

async fn export_to(server: &CaptureServer, format: ExportFormat) -> String {
    let mut out = Vec::new();
    server
        .client()
        .audit_logs()
        .between(at(0), at(30))
        .write_to(format, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn every_exported_record_equals_the_served_record_field_for_field() {
    let served = tricky_records();
    let body = pretty_body(&served);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["logs"],
        Value::Array(served.clone()),
        "the body is valid JSON"
    );
    let server =
        CaptureServer::start(Reply::text(200, &body).header("content-type", "application/json"))
            .await;

    let lines = export_to(&server, ExportFormat::JsonLines).await;
    let exported: Vec<Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported.len(), served.len(), "{lines}");
    for (got, want) in exported.iter().zip(&served) {
        assert_eq!(got, want, "JSON Lines record");
    }

    let array = export_to(&server, ExportFormat::Json).await;
    let exported: Value = serde_json::from_str(&array).unwrap();
    assert_eq!(exported, Value::Array(served), "JSON array");
}

#[tokio::test]
async fn json_lines_are_each_records_compact_form_byte_for_byte() {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let end = start + chrono::Duration::hours(6);
    let server = MockServer::builder()
        .api_key(common::TEST_KEY)
        .seed_events(3_000)
        .seed_window(end, std::time::Duration::from_secs(6 * 3600))
        .start()
        .unwrap();

    // The server's compact body for the range, as `curl` would save it.
    let body = reqwest::Client::new()
        .get(format!("{}/api/v1/audit_logs", server.url()))
        .header("authorization", format!("Key {}", common::TEST_KEY))
        .json(&json!({"start_date": start, "end_date": end}))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // What `jq -c '.logs[]'` prints: each record compact, one per line. The
    // mock writes each record's keys sorted, so a round trip through
    // serde_json's (sorted) map keeps them in place.
    let logs = serde_json::from_slice::<Value>(&body).unwrap()["logs"].clone();
    let mut expected = String::new();
    for record in logs.as_array().unwrap() {
        expected.push_str(&serde_json::to_string(record).unwrap());
        expected.push('\n');
    }
    assert_eq!(logs.as_array().unwrap().len(), 3_000);

    let mut out = Vec::new();
    server
        .client()
        .unwrap()
        .audit_logs()
        .between(start, end)
        .write_to(ExportFormat::JsonLines, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out == expected,
        "the export differs from the compact records"
    );
}

/// The typed record's `timestamp` is a time, but every output of an export
/// keeps the server's text, that of a timestamp that is not a time included
/// (its record is written where it came); only the typed stream, which has
/// no view of such a record, stops there and says what reads it.
#[tokio::test]
async fn outputs_keep_the_servers_timestamp_text_even_when_it_is_not_a_time() {
    let texts = [
        "2026-11-20T10:02:00.000000+00:00",
        "not a time",
        "2026-11-20 10:03:00.5",
    ];
    let served: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"timestamp": t, "event_uuid": format!("e{i}"), "client_ip": "::1", "url": "/x"}))
        .collect();
    let body = serde_json::to_string(&json!({ "logs": served })).unwrap();
    let server =
        CaptureServer::start(Reply::text(200, &body).header("content-type", "application/json"))
            .await;

    let lines = export_to(&server, ExportFormat::JsonLines).await;
    let expected: Vec<String> = served.iter().map(Value::to_string).collect();
    assert_eq!(lines.lines().collect::<Vec<_>>(), expected, "byte for byte");

    let csv = export_to(&server, ExportFormat::Csv).await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "timestamp");
    let column: Vec<String> = reader
        .records()
        .map(|row| row.unwrap()[0].to_owned())
        .collect();
    assert_eq!(column, texts, "{csv}");

    let mut records = server
        .client()
        .audit_logs()
        .between(at(0), at(30))
        .records()
        .unwrap();
    let first = records.next().await.unwrap().unwrap();
    assert_eq!(first.timestamp, at(2));
    let error = records.next().await.unwrap().unwrap_err();
    let message = error.to_string();
    for part in [
        "\"e1\"",
        "\"not a time\"",
        "raw_events()",
        "write_to_file()",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(
        records.next().await.is_none(),
        "the stream ends after an error"
    );
}
