//! `datafold audit-logs follow` run as a service: its metrics against what
//! it wrote, failed and dropped; `/healthz` through an outage;
//! `--max-outage`; the handoff from an export; `--on-close`; its log lines.

#![cfg(all(unix, feature = "cli"))]

mod cli_support;
mod follow_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cli_support::{datafold, scratch};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use follow_support::{
    assert_exactly_the_truth, drain, finish, follow, follow_scripted, live_mock, records_in,
    scripted_server, signal, watermark, LAG_SECS,
};
use serde_json::Value;

/// The stderr lines of `child`, as they arrive.
fn stderr_lines(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let pipe = child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// Wait (at most a minute) for `ready`, checking every 50 ms that `child`
/// runs; kill it and fail otherwise.
fn wait_for(child: &mut Child, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("datafold stopped ({status}) before {what}");
        }
        if Instant::now() >= deadline {
            signal(child, libc::SIGKILL);
            panic!("{what}: not within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The metrics address a follow's start line announces.
fn metrics_addr(lines: &Mutex<Vec<String>>) -> Option<String> {
    lines.lock().unwrap().iter().find_map(|line| {
        let rest = line.split("metrics=http://").nth(1)?;
        Some(rest.split('/').next()?.to_owned())
    })
}

/// Start `command` (a follow with `--metrics-addr 127.0.0.1:0`), and wait
/// for the address its start line announces: the child, its stderr lines
/// as they arrive, and the address.
fn spawn_with_metrics(
    command: &mut std::process::Command,
) -> (Child, Arc<Mutex<Vec<String>>>, String) {
    let mut child = command.spawn().unwrap();
    let lines = stderr_lines(&mut child);
    wait_for(&mut child, "the metrics address", || {
        metrics_addr(&lines).is_some()
    });
    let addr = metrics_addr(&lines).unwrap();
    (child, lines, addr)
}

/// `GET path` from `addr`: the status and the body.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// The samples of a Prometheus exposition: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// The sum of the numbers before `label` in the `-v` poll lines.
fn sum_in_poll_lines(lines: &[String], label: &str) -> f64 {
    lines
        .iter()
        .filter(|l| l.contains(" DEBUG poll "))
        .map(|l| {
            let before = l.split(label).next().unwrap();
            let n = before.rsplit(' ').next().unwrap();
            n.parse::<f64>().unwrap()
        })
        .sum()
}

#[test]
fn the_metrics_count_what_it_wrote_and_dropped_and_healthz_says_ok() {
    let server = live_mock(200.0, Faults::new());
    let dir = scratch("follow-ops", "metrics");
    let (state, out) = (dir.join("state.json"), dir.join("out"));
    let extra = [
        "-v",
        "--metrics-addr",
        "127.0.0.1:0",
        "--rotate-every",
        "1s",
    ];
    let (mut child, lines, addr) = spawn_with_metrics(&mut follow(&server, &state, &out, &extra));
    std::thread::sleep(Duration::from_secs(2));
    // The traffic ends; once the watermark is past every late commit and
    // the last file has closed, no count changes but that of polls.
    server.stop_live_traffic();
    let quiet = chrono::Utc::now() + chrono::Duration::milliseconds(2600);
    wait_for(&mut child, "the follow caught up", || {
        watermark(&state).is_some_and(|w| w - chrono::Duration::seconds(LAG_SECS) > quiet)
    });
    let (status, body) = get(&addr, "/metrics").unwrap();
    assert_eq!(status, 200, "{body}");
    let metrics = samples(&body);
    let (health, why) = get(&addr, "/healthz").unwrap();
    signal(&child, libc::SIGTERM);
    let (code, _) = finish(child);
    assert_eq!(code, Some(0));
    assert_eq!(health, 200, "{why}");
    assert!(why.starts_with("ok"), "{why}");

    let (counts, files) = records_in(&out);
    assert_exactly_the_truth(&server, &counts);
    let written: usize = counts.values().map(|n| *n as usize).sum();
    let metric = |name: &str| metrics[&format!("datafold_follow_{name}")];
    assert_eq!(metric("records_written_total"), written as f64);
    assert_eq!(metric("files_closed_total"), files.len() as f64);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(metric("bytes_written_total"), bytes as f64);
    let lines = lines.lock().unwrap().clone();
    assert_eq!(
        metric("duplicates_dropped_total"),
        sum_in_poll_lines(&lines, " repeated")
    );
    assert_eq!(
        metric("records_written_total"),
        sum_in_poll_lines(&lines, " new record")
    );
    let late = metric("late_records_total");
    assert!(late > 0.0 && late < written as f64, "late: {late}");
    assert!(metric("polls_total") >= 5.0);
    let failures: f64 = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("datafold_follow_poll_failures_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(failures, 0.0);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - metric("last_success_timestamp_seconds")).abs() < 30.0);
    let position = metric("position_timestamp_seconds");
    assert!(position > quiet.timestamp() as f64, "{position}");
}

#[test]
fn failed_polls_are_counted_by_reason_and_each_one_is_a_warning() {
    let base = chrono::Utc::now() - chrono::Duration::seconds(1);
    let url = scripted_server(move |n| match n {
        1 | 2 => "this is not JSON".to_owned(),
        _ => {
            let record = serde_json::json!({
                "timestamp": base.to_rfc3339(), "event_uuid": "only-one",
                "client_ip": "10.0.0.1", "url": "/x",
            });
            format!("{{\"logs\":[{record}]}}")
        }
    });
    let dir = scratch("follow-ops", "failed");
    let state = dir.join("state.json");
    let flags = ["--metrics-addr", "127.0.0.1:0", "--state"].map(std::ffi::OsStr::new);
    let mut command = follow_scripted(&url, &[&flags[..], &[state.as_os_str()]].concat());
    let (mut child, lines, addr) = spawn_with_metrics(&mut command);
    let mut metrics = HashMap::new();
    wait_for(&mut child, "five polls", || {
        metrics = samples(&get(&addr, "/metrics").unwrap().1);
        metrics["datafold_follow_polls_total"] >= 5.0
    });
    signal(&child, libc::SIGTERM);
    let (code, _) = finish(child);
    assert_eq!(code, Some(0));
    let failed = |reason: &str| {
        metrics[&format!("datafold_follow_poll_failures_total{{reason=\"{reason}\"}}")]
    };
    assert_eq!(failed("undecodable"), 2.0);
    assert_eq!(failed("network") + failed("server") + failed("other"), 0.0);
    assert_eq!(metrics["datafold_follow_records_written_total"], 1.0);
    let lines = lines.lock().unwrap();
    let warnings: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("  WARN a poll failed"))
        .collect();
    assert_eq!(warnings.len(), 2, "one warning per failed poll: {lines:?}");
    // Every line is a log line: an RFC 3339 time, then the level.
    for line in lines.iter() {
        let (time, rest) = line.split_once(' ').unwrap();
        chrono::DateTime::parse_from_rfc3339(time).unwrap();
        let level = rest.trim_start().split(' ').next().unwrap();
        assert!(["INFO", "WARN", "ERROR"].contains(&level), "{line}");
    }
}

/// A port nothing listens on (bound, then let go).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn mock_on(port: u16) -> MockServer {
    MockServer::builder()
        .api_key("health-key")
        .port(port)
        .seed_events(0)
        .live_rate(20.0)
        .start()
        .unwrap()
}

#[test]
fn healthz_turns_503_while_the_server_is_down_and_200_when_it_is_back() {
    let port = free_port();
    let server = mock_on(port);
    let mut command = datafold("health-key", server.url());
    command
        .args(["--retries", "0", "--timeout", "2s", "audit-logs", "follow"])
        .args(["--interval", "200ms", "--lag", "3s"])
        .args(["--metrics-addr", "127.0.0.1:0", "--unhealthy-after", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (mut child, lines, addr) = spawn_with_metrics(&mut command);
    let health = || get(&addr, "/healthz").unwrap();
    wait_for(&mut child, "healthy", || health().0 == 200);
    server.shutdown();
    let mut down = (0, String::new());
    wait_for(&mut child, "503 while the server is down", || {
        down = health();
        down.0 == 503
    });
    assert!(down.1.contains("no successful poll for"), "{}", down.1);
    assert!(down.1.contains("the last failure"), "{}", down.1);
    assert!(!down.1.contains("health-key"), "{}", down.1);
    let server = mock_on(port);
    wait_for(&mut child, "200 once the server is back", || {
        health().0 == 200
    });
    signal(&child, libc::SIGTERM);
    let (code, _) = finish(child);
    assert_eq!(code, Some(0), "{:?}", lines.lock().unwrap());
    drop(server);
}

#[test]
fn max_outage_exits_with_the_network_or_api_code_and_saves_the_state() {
    let dir = scratch("follow-ops", "outage");
    // No server at all: the network's code.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let unavailable = MockServer::builder()
        .faults(
            Faults::new()
                .rate(Fault::Unavailable, 1.0)
                .retry_after_secs(0),
        )
        .start()
        .unwrap();
    for (host, key, code) in [
        (closed.as_str(), "k", 7),
        (unavailable.url(), unavailable.api_key(), 6),
    ] {
        let state = dir.join(format!("state-{code}.json"));
        let started = Instant::now();
        let mut command = datafold(key, host);
        command
            .args([
                "--retries",
                "0",
                "audit-logs",
                "follow",
                "--interval",
                "200ms",
            ])
            .args(["--max-outage", "2s", "--state"])
            .arg(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (exit, stderr) = finish(command.spawn().unwrap());
        assert_eq!(exit, Some(code), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(30));
        let last = stderr.lines().last().unwrap();
        assert!(
            last.contains(" ERROR no poll has succeeded for 2s (--max-outage)"),
            "{last}"
        );
        assert!(
            stderr.contains("follow stopped: no successful poll"),
            "{stderr}"
        );
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert_eq!(saved["version"], 1, "the state is saved");
    }
}

/// Every record of a JSON-lines file: `event_uuid` → count.
fn records_of(file: &Path, counts: &mut HashMap<String, u32>) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut records = Vec::new();
    for line in text.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let id = record["event_uuid"].as_str().unwrap().to_owned();
        *counts.entry(id.clone()).or_insert(0) += 1;
        records.push((id, record["timestamp"].as_str().unwrap().to_owned()));
    }
    records
}

#[test]
fn export_then_follow_after_export_writes_every_record_exactly_once() {
    let server = live_mock(300.0, Faults::new());
    let dir = scratch("follow-ops", "handoff");
    let (state, out) = (dir.join("state.json"), dir.join("out"));
    let export = dir.join("backfill.jsonl");
    std::thread::sleep(Duration::from_secs(2));
    // The backfill ends now, while records timestamped before now are still
    // to be committed (late by up to 1.5 s).
    let status = datafold(server.api_key(), server.url())
        .args(["audit-logs", "export", "--since", "1h", "--output"])
        .arg(&export)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let after = ["--after-export", export.to_str().unwrap()];
    let child = follow(&server, &state, &out, &after).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("follow started: after the export"),
        "{stderr}"
    );
    drain(&server, &state, &out, &[]);

    let mut counts = HashMap::new();
    let exported = records_of(&export, &mut counts);
    let (followed, _) = records_in(&out);
    for (id, n) in &followed {
        *counts.entry(id.clone()).or_insert(0) += n;
    }
    assert_exactly_the_truth(&server, &counts);
    // The boundary was crossed by late commits: the follow wrote records
    // timestamped before the export's newest one.
    let parse = |t: &str| datafold_sdk::audit::parse_timestamp(t).unwrap();
    let newest = exported.iter().map(|(_, t)| parse(t)).max().unwrap();
    let truth: HashMap<String, chrono::DateTime<chrono::Utc>> = server
        .live_audit_events()
        .into_iter()
        .map(|e| (e.event_uuid, e.timestamp))
        .collect();
    let before_newest = followed.keys().filter(|id| truth[*id] < newest).count();
    assert!(before_newest > 0, "no late commit around the boundary");
}

#[test]
fn an_export_that_is_unfinished_or_not_records_is_refused() {
    let server = MockServer::start().unwrap();
    let dir = scratch("follow-ops", "handoff-refused");
    let unfinished = dir.join("unfinished.jsonl");
    std::fs::write(&unfinished, "").unwrap();
    std::fs::write(dir.join("unfinished.jsonl.partial"), "{}").unwrap();
    let csv = dir.join("export.csv");
    std::fs::write(&csv, "timestamp,event_uuid\n2026-01-01T00:00:00Z,x\n").unwrap();
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    for (file, says) in [
        (&unfinished, "has not finished"),
        (&csv, "--format jsonl"),
        (&empty, "no record"),
    ] {
        let output = datafold(server.api_key(), server.url())
            .args(["audit-logs", "follow", "--after-export"])
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(5), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(server.request_counts().total, 0, "nothing was requested");
}

#[test]
fn on_close_runs_once_per_closed_file_and_a_failing_one_loses_nothing() {
    let server = live_mock(200.0, Faults::new());
    let dir = scratch("follow-ops", "on-close");
    let shipped = dir.join("shipped.txt");
    // The hook sees no API key, and appends the path it was given.
    let script = format!(
        "test -z \"$DATAFOLD_API_KEY\" && printf '%s\\n' \"$1\" >> {}",
        shipped.display()
    );
    let (state, out) = (dir.join("state.json"), dir.join("out"));
    let extra = [
        "--rotate-every",
        "300ms",
        "--compress",
        "gzip",
        "--on-close",
        "sh",
        "-c",
        &script,
        "sh",
        ";",
    ];
    let child = follow(&server, &state, &out, &extra).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    drain(&server, &state, &out, &extra);
    let (counts, files) = records_in(&out);
    assert_exactly_the_truth(&server, &counts);
    let mut ran: Vec<String> = std::fs::read_to_string(&shipped)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    ran.sort();
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert!(files.len() > 3, "{files:?}");
    assert_eq!(ran, files, "once per closed file");

    // A command that always fails: retried, the files kept, nothing lost.
    let server = live_mock(200.0, Faults::new());
    let (state, out) = (dir.join("state-2.json"), dir.join("out-2"));
    let extra = [
        "--rotate-every",
        "300ms",
        "--log-format",
        "json",
        "--on-close",
        "false",
        ";",
    ];
    let child = follow(&server, &state, &out, &extra).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let said = |start: &str| {
        lines
            .iter()
            .filter(|l| l["message"].as_str().unwrap().starts_with(start))
            .count()
    };
    assert_eq!(said("follow started"), 1, "{stderr}");
    assert_eq!(said("follow stopped by a signal"), 1, "{stderr}");
    assert!(said("file closed") > 1, "{stderr}");
    assert!(said("--on-close failed") > 1, "{stderr}");
    assert!(lines.iter().all(|l| {
        l["timestamp"].is_string()
            && ["INFO", "WARN", "ERROR"].contains(&l["level"].as_str().unwrap())
    }));
    let closed = lines
        .iter()
        .find(|l| l["message"] == "file closed")
        .unwrap();
    assert!(closed["records"].as_u64().unwrap() > 0, "{closed}");
    drain(&server, &state, &out, &extra);
    let (counts, _) = records_in(&out);
    assert_exactly_the_truth(&server, &counts);
}
