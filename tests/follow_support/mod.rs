//! What the tests of `datafold audit-logs follow` share: a mock with live
//! traffic and late commits, the follow command, stopping and draining it,
//! and the records its files hold against the mock's truth.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use datafold_sdk::audit::parse_timestamp;
use datafold_sdk::compress::{decoder, Compression};
use datafold_sdk::mock::{Faults, MockServer};
use serde_json::Value;

use crate::cli_support::datafold;

/// The lag the tests follow with, in seconds.
pub const LAG_SECS: i64 = 3;

pub fn live_mock(rate: f64, faults: Faults) -> MockServer {
    MockServer::builder()
        .seed_events(0)
        .live_rate(rate)
        .late_commits(0.25, Duration::from_millis(1500))
        .faults(faults)
        .start()
        .unwrap()
}

/// `datafold audit-logs follow` into `dir` with the state in `state`.
pub fn follow(server: &MockServer, state: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut command = datafold(server.api_key(), server.url());
    command
        .args([
            "--retries",
            "3",
            "audit-logs",
            "follow",
            "--interval",
            "100ms",
        ])
        .args(["--lag", &format!("{LAG_SECS}s"), "--state"])
        .arg(state)
        .arg("--output-dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// `datafold audit-logs follow` of a scripted server at `url` (no
/// retries: each bad answer is a failed poll), every 100 ms with a lag of
/// a minute, then `extra`; stdout discarded, stderr piped.
pub fn follow_scripted(url: &str, extra: &[&std::ffi::OsStr]) -> Command {
    let mut command = datafold("k", url);
    command
        .args(["--retries", "0", "audit-logs", "follow"])
        .args(["--interval", "100ms", "--lag", "60s"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

pub fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

/// Wait for `child` to end (at most a minute): its exit code and stderr.
pub fn finish(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "datafold did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (child.wait().unwrap().code(), stderr)
}

/// The watermark the state file records, if there is one yet.
pub fn watermark(state: &Path) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = std::fs::read_to_string(state).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    parse_timestamp(value["follow"]["watermark"].as_str()?).ok()
}

/// Stop the live traffic and run a last follow until its watermark is past
/// every late commit, then stop it with SIGTERM (exit 0 expected).
pub fn drain(server: &MockServer, state: &Path, dir: &Path, extra: &[&str]) {
    server.stop_live_traffic();
    let stopped = chrono::Utc::now() + chrono::Duration::milliseconds(1600);
    let child = follow(server, state, dir, extra).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while watermark(state).is_none_or(|w| w - chrono::Duration::seconds(LAG_SECS) <= stopped) {
        assert!(Instant::now() < deadline, "the follow did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
}

/// Every record in the files of `dir`, decompressed: `event_uuid` → count.
/// Only final names: the hidden `.partial` files are not output yet.
pub fn records_in(dir: &Path) -> (HashMap<String, u32>, Vec<PathBuf>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("audit-")
        })
        .collect();
    files.sort();
    let mut counts = HashMap::new();
    for file in &files {
        let compression = Compression::from_path_suffix(file).unwrap_or(Compression::None);
        let mut text = String::new();
        decoder(std::fs::File::open(file).unwrap(), compression)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            let id = record["event_uuid"].as_str().unwrap().to_owned();
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    (counts, files)
}

/// Every record written exactly once, and exactly the mock's live events.
pub fn assert_exactly_the_truth(server: &MockServer, counts: &HashMap<String, u32>) {
    let truth: Vec<String> = server
        .live_audit_events()
        .into_iter()
        .map(|e| e.event_uuid)
        .collect();
    assert!(truth.len() > 100, "{} live events", truth.len());
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(doubled.is_empty(), "written more than once: {doubled:?}");
    let missing: Vec<_> = truth
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    let some: Vec<_> = missing.iter().take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} missing, e.g. {some:?}",
        missing.len(),
        truth.len()
    );
    assert_eq!(counts.len(), truth.len(), "records that are not the mock's");
}

/// A server answering every audit-log request with `body(n)` for its n-th
/// connection (Content-Length, one request a connection).
pub fn scripted_server(body: impl Fn(usize) -> String + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            let body = body(n);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}
