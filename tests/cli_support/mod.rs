//! What the tests of the `datafold` binary share: the command with a clean
//! environment, scratch directories, and the records a mock was seeded with.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use datafold_sdk::mock::MockServer;
use serde_json::Value;

/// `datafold` with a clean environment: `key` in `DATAFOLD_API_KEY`, `host`
/// in `DATAFOLD_HOST`, no `DATAFOLD_APIKEY` or `COLUMNS`, no stdin.
///
/// `DATAFOLD_TEST_BIN`, when set, names another `datafold` binary to run
/// (an older build, to see a new test fail before its fix).
pub fn datafold(key: &str, host: &str) -> Command {
    let binary = std::env::var_os("DATAFOLD_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_datafold").into());
    let mut command = Command::new(binary);
    command
        .env_remove("DATAFOLD_APIKEY")
        .env_remove("COLUMNS")
        .env("DATAFOLD_API_KEY", key)
        .env("DATAFOLD_HOST", host)
        .stdin(Stdio::null());
    command
}

/// The required flags of `bi create looker`, its secret read from the
/// environment variable `LOOKER_SECRET`.
pub fn looker_flags() -> Vec<&'static str> {
    vec![
        "--base-url",
        "https://looker.example.com",
        "--client-id",
        "cid",
        "--repo-id",
        "4",
        "--client-secret-env",
        "LOOKER_SECRET",
    ]
}

/// An empty directory of its own for one test of `suite`.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("datafold-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A range over the seeded history: 30 hours from an hour before its first
/// event, as RFC 3339 `(start, end)`.
pub fn seeded_range(server: &MockServer) -> (String, String) {
    let events = server.seeded_audit_events(None, None);
    let first = events.iter().map(|e| e.timestamp).min().unwrap();
    let start = first - chrono::Duration::hours(1);
    let end = start + chrono::Duration::hours(30);
    (start.to_rfc3339(), end.to_rfc3339())
}

/// The sorted `event_uuid`s the mock holds in `[start, end]`: the truth an
/// export is held against.
pub fn seeded_uuids(server: &MockServer, start: &str, end: &str) -> Vec<String> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    let mut uuids: Vec<String> = server
        .seeded_audit_events(Some(parse(start)), Some(parse(end)))
        .into_iter()
        .map(|e| e.event_uuid)
        .collect();
    uuids.sort();
    uuids
}

/// The sorted `event_uuid`s of an export's output in `format` (`jsonl`,
/// `json` or `csv`).
pub fn event_uuids(format: &str, text: &str) -> Vec<String> {
    let uuid = |record: &Value| record["event_uuid"].as_str().unwrap().to_owned();
    let mut uuids: Vec<String> = match format {
        "jsonl" => text
            .lines()
            .map(|l| uuid(&serde_json::from_str::<Value>(l).unwrap()))
            .collect(),
        "json" => serde_json::from_str::<Vec<Value>>(text)
            .unwrap()
            .iter()
            .map(uuid)
            .collect(),
        _ => text
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().to_owned())
            .collect(),
    };
    uuids.sort();
    uuids
}
