//! What an export yields is the server's records, exact except that secrets
//! are masked: the values of secret fields anywhere in `payload`, and the API
//! key's clear text in any string. And what its errors say about the output.

mod common;

use std::io;

use chrono::{TimeZone, Utc};
use common::{CaptureServer, Reply, TEST_KEY};
use datafold_sdk::audit::export::{AuditExport, ExportFormat, IfInterrupted};
use datafold_sdk::{Client, Error, REDACTED};
use serde_json::{json, Value};

fn export(client: &Client) -> AuditExport {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    client
        .audit_logs()
        .between(start, start + chrono::Duration::hours(1))
}

fn records() -> Value {
    json!({"logs": [
        {"timestamp": "2026-11-20T10:10:00Z", "event_uuid": "a", "client_ip": "10.0.0.1",
         "url": "/api/v1/lineage/bi/looker/", "action": "create",
         "user_email": format!("ops+{TEST_KEY}@example.com"),
         "payload": {"name": "Looker", "client_secret": "pay-secret-11111",
                     "nested": {"Token": "pay-tok-22222", "list": [{"password": "pay-pw-33333"}],
                                "note": format!("key {TEST_KEY}"), "token_value": null},
                     "api-key": 12345}},
        {"timestamp": "2026-11-20T10:20:00Z", "event_uuid": "b", "client_ip": "10.0.0.2",
         "url": "/plain", "payload": {}, "log_entry": "nothing secret here"},
        {"timestamp": "2026-11-20T10:30:00Z", "event_uuid": "c", "client_ip": "10.0.0.3",
         "url": "/none"}
    ]})
}

fn assert_masked(text: &str) {
    for secret in ["pay-secret", "pay-tok", "pay-pw", "12345", TEST_KEY] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn exported_records_mask_secret_fields_and_the_api_key() {
    let server = CaptureServer::start(Reply::json(200, records())).await;
    let client = server.client();
    let mut stream = export(&client).records().unwrap();
    let mut got = Vec::new();
    while let Some(record) = stream.next().await {
        got.push(serde_json::to_value(record.unwrap()).unwrap());
    }
    assert_eq!(got.len(), 3);
    let text = serde_json::to_string(&got).unwrap();
    assert_masked(&text);
    let payload = &got[0]["payload"];
    assert_eq!(payload["client_secret"], REDACTED);
    assert_eq!(payload["nested"]["Token"], REDACTED);
    assert_eq!(payload["nested"]["list"][0]["password"], REDACTED);
    assert_eq!(payload["api-key"], REDACTED);
    assert_eq!(
        payload["nested"]["token_value"],
        Value::Null,
        "null stays null"
    );
    assert_eq!(payload["nested"]["note"], format!("key {REDACTED}"));
    assert_eq!(got[0]["user_email"], format!("ops+{REDACTED}@example.com"));
    // Everything else is exact.
    assert_eq!(payload["name"], "Looker");
    assert_eq!(got[0]["url"], "/api/v1/lineage/bi/looker/");
    assert_eq!(got[1], records()["logs"][1]);
    assert_eq!(got[2], records()["logs"][2]);
}

#[tokio::test]
async fn every_export_output_masks_them() {
    let server = CaptureServer::start(Reply::json(200, records())).await;
    let client = server.client();
    for format in [
        ExportFormat::JsonLines,
        ExportFormat::Csv,
        ExportFormat::Json,
    ] {
        let mut out = Vec::new();
        let summary = export(&client).write_to(format, &mut out).await.unwrap();
        assert_eq!(summary.records, 3);
        let text = String::from_utf8(out).unwrap();
        assert_masked(&text);
        assert!(text.contains(REDACTED), "{format:?}: {text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    export(&client)
        .write_to_file(ExportFormat::JsonLines, &path, IfInterrupted::Resume)
        .await
        .unwrap();
    assert_masked(&std::fs::read_to_string(&path).unwrap());
}

/// A writer whose writes or flushes fail.
struct Failing {
    on_flush: bool,
}

impl io::Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.on_flush {
            Ok(buf.len())
        } else {
            Err(io::Error::other("disk full"))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::other("disk full"))
    }
}

#[tokio::test]
async fn output_errors_read_as_sentences() {
    let server = CaptureServer::start(Reply::json(200, records())).await;
    let client = server.client();
    for (on_flush, expected) in [
        (true, "export output: cannot flush: disk full"),
        (false, "export output: cannot write a record: disk full"),
    ] {
        let error = export(&client)
            .write_to(ExportFormat::JsonLines, Failing { on_flush })
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Output { .. }), "{error:?}");
        assert_eq!(error.to_string(), expected);
    }
}
