//! The `datafold` binary against hostile servers, files and arguments: secrets
//! never printed, memory and input capped, records in time order, no panics,
//! no raw control characters on the terminal, errors in the CLI's terms.

#![cfg(feature = "cli")]

mod cli_support;
mod common;

use cli_support::looker_flags;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{CaptureServer, Reply};
use serde_json::{json, Value};

const KEY: &str = "cli-hostile-key-123456";
const SUBMITTED: &str = "submitted-secret-4567";

/// `datafold` with a clean environment pointing at `host`.
fn datafold(host: &str) -> Command {
    let mut command = cli_support::datafold(KEY, host);
    command.env("LOOKER_SECRET", SUBMITTED);
    command
}

/// Exit code, stdout and stderr; never a panic.
fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("run datafold");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code().unwrap_or(-1), stdout, stderr)
}

/// [`run`] off the async runtime, so the test's own server keeps serving.
async fn run_async(mut command: Command) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || run(&mut command))
        .await
        .unwrap()
}

/// Exit code, stdout, stderr and the peak memory (KiB) of one run.
// The child is reaped by wait4, which also reports its memory.
#[allow(clippy::zombie_processes)]
fn run_measured(command: &mut Command) -> (i32, String, String, i64) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it in for this child only.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain FFI call with valid pointers; the child is ours.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(!stderr.contains("panicked"), "{stderr}");
    (code, stdout, stderr, usage.ru_maxrss)
}

fn scratch(name: &str) -> PathBuf {
    cli_support::scratch("cli-hostile", name)
}

/// One audit-log record with the spec's required fields.
fn record(uuid: &str, timestamp: &str) -> Value {
    json!({
        "event_uuid": uuid,
        "timestamp": timestamp,
        "client_ip": "10.0.0.1",
        "url": "/api/v1/lineage/bi/",
    })
}

fn assert_no_control_characters(text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(raw.is_empty(), "raw control characters {raw:?} in {text:?}");
}

// Defect 5 (CLI side): secrets printed.

#[test]
fn a_secret_given_where_a_variable_name_belongs_is_never_echoed() {
    let (code, stdout, stderr) = run(datafold("http://127.0.0.1:9")
        .args(["bi", "create", "looker", "--client-secret-env", SUBMITTED])
        .args([
            "--base-url",
            "https://l",
            "--client-id",
            "c",
            "--repo-id",
            "1",
        ]));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        !stderr.contains(SUBMITTED) && !stdout.contains(SUBMITTED),
        "{stderr}"
    );
    assert!(
        stderr.contains("--client-secret-env") && stderr.contains("not the secret"),
        "{stderr}"
    );

    let (code, _, stderr) = run(datafold("http://127.0.0.1:9")
        .env_remove("DATAFOLD_API_KEY")
        .args(["--api-key-env", SUBMITTED, "bi", "list"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(!stderr.contains(SUBMITTED), "{stderr}");
    assert!(stderr.contains("--api-key-env"), "{stderr}");
}

/// An integration as a careless server might answer: secret fields under
/// several spellings, the API key and the secret just sent in free text.
fn leaky_integration() -> Value {
    json!({
        "id": 7,
        "name": "Looker prod",
        "type": "looker",
        "client_secret": "srv-client-secret",
        "Token": "srv-token",
        "nested": {"password": "srv-password", "token-value": "srv-token-value", "apiKey": "srv-api-key"},
        "note": format!("called with {KEY}"),
        "echo": SUBMITTED,
    })
}

/// No secret field's value, no API key, and (when this run read it) not
/// the secret just sent.
fn assert_masked(output: &str, sent_a_secret: bool) {
    let sent = if sent_a_secret { SUBMITTED } else { KEY };
    for secret in [
        "srv-client-secret",
        "srv-token",
        "srv-password",
        "srv-token-value",
        "srv-api-key",
        KEY,
        sent,
    ] {
        assert!(!output.contains(secret), "{secret} printed: {output}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_in_answers_are_masked_on_every_output() {
    let server = CaptureServer::start(Reply::json(200, leaky_integration())).await;
    let update = ["bi", "update", "looker", "7"];
    let create = ["bi", "create", "looker"];
    let commands: Vec<Vec<&str>> = vec![
        vec!["bi", "get", "7"],
        vec!["bi", "sync", "7"],
        vec!["bi", "remove", "7", "--yes"],
        create.iter().copied().chain(looker_flags()).collect(),
        update.iter().copied().chain(looker_flags()).collect(),
    ];
    for args in commands {
        let mut command = datafold(&server.url);
        command.args(&args);
        let (code, stdout, stderr) = run_async(command).await;
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let sent_a_secret = args.contains(&"--client-secret-env");
        assert_masked(&stdout, sent_a_secret);
        assert_masked(&stderr, sent_a_secret);
        let shown: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(shown["client_secret"], "[REDACTED]", "{args:?}");
        assert_eq!(shown["nested"]["token-value"], "[REDACTED]", "{args:?}");
        // Everything else stays exact.
        assert_eq!(
            (&shown["id"], &shown["name"]),
            (&json!(7), &json!("Looker prod"))
        );
    }

    let mut listed = leaky_integration();
    listed["name"] = json!(format!("team {KEY}"));
    let list = CaptureServer::start(Reply::json(200, json!([listed]))).await;
    for format in ["json", "table"] {
        let mut command = datafold(&list.url);
        command.args(["bi", "list", "--format", format]);
        let (code, stdout, stderr) = run_async(command).await;
        assert_eq!(code, 0, "{stderr}");
        assert_masked(&stdout, false);
        assert!(stdout.contains("[REDACTED]"), "{format}: {stdout}");
    }

    // An error quoting the secret just sent.
    let conflict = CaptureServer::start(Reply::json(
        409,
        json!({"detail": format!("client secret {SUBMITTED} is already in use")}),
    ))
    .await;
    let mut command = datafold(&conflict.url);
    command.args(create).args(looker_flags());
    let (code, stdout, stderr) = run_async(command).await;
    assert_ne!(code, 0);
    assert_masked(&stdout, true);
    assert_masked(&stderr, true);
    assert!(stderr.contains("already in use"), "{stderr}");
}

// Defect 6 (CLI side): memory and input caps.

/// A server whose every answer is one `{"logs": [...]}` body of `records`
/// records, generated as it is sent.
/// A server answering every audit-log request with `records` records (one a
/// second from midnight), each with a `log_entry` of `pad` bytes, generated
/// as they are sent.
fn huge_logs_server(records: usize, pad: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let padding = std::sync::Arc::new("x".repeat(pad));
    let line = move |i: usize| {
        let mut text = record(
            &format!("{i:012}-0000-0000-0000-000000000000"),
            &format!(
                "2026-11-25T{:02}:{:02}:{:02}Z",
                i / 3600 % 24,
                i / 60 % 60,
                i % 60
            ),
        )
        .to_string();
        if pad > 0 {
            // Spliced in as text: serializing megabytes per record would be
            // the test's own bottleneck.
            text.pop();
            text.push_str(",\"log_entry\":\"");
            text.push_str(&padding);
            text.push_str("\"}");
        }
        text.push(if i + 1 == records { ']' } else { ',' });
        text
    };
    let length = "{\"logs\":[".len() + (0..records).map(|i| line(i).len()).sum::<usize>() + 1;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut body_length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    body_length = value.trim().parse().unwrap_or(0);
                }
                if header == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; body_length];
            let _ = reader.read_exact(&mut body);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n{{\"logs\":["
            );
            let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut stream);
            let _ = out.write_all(head.as_bytes());
            for i in 0..records {
                if out.write_all(line(i).as_bytes()).is_err() {
                    break;
                }
            }
            let _ = out.write_all(b"}");
        }
    });
    url
}

#[test]
fn list_streams_a_huge_answer_in_flat_memory() {
    // About 30 MB of JSON: buffered whole and parsed, several times that.
    let url = huge_logs_server(200_000, 0);
    let (code, stdout, stderr, peak_kib) = run_measured(datafold(&url).args([
        "audit-logs",
        "list",
        "--start",
        "2026-11-25",
        "--end",
        "2026-11-26",
        "--limit",
        "2",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        peak_kib < 64 * 1024,
        "list peaked at {} MiB for a 30 MB answer",
        peak_kib / 1024
    );
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&stdout).unwrap().len(),
        2
    );
    assert!(stderr.contains("2 of 200000"), "{stderr}");
}

#[test]
fn list_keeps_large_records_within_its_memory_cap() {
    // 36 records of 2 MiB: the default --limit 50 would keep them all (and
    // make several copies on the way out); the cap keeps 64 MiB of them.
    let url = huge_logs_server(36, 2 << 20);
    let (code, stdout, stderr, peak_kib) = run_measured(datafold(&url).args([
        "audit-logs",
        "list",
        "--start",
        "2026-11-25",
        "--end",
        "2026-11-26",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        peak_kib < 160 * 1024,
        "list peaked at {} MiB",
        peak_kib / 1024
    );
    let shown = serde_json::from_str::<Vec<Value>>(&stdout).unwrap();
    assert!(shown.len() > 1 && shown.len() < 36, "{}", shown.len());
    // The newest come first, whatever fitted.
    assert_eq!(
        shown[0]["event_uuid"],
        "000000000035-0000-0000-0000-000000000000"
    );
    assert!(
        stderr.contains(&format!("newest {} of 36", shown.len()))
            && stderr.contains("fits in 64 MiB"),
        "{stderr}"
    );
}

#[test]
fn a_config_file_over_the_size_cap_is_refused() {
    let dir = scratch("size-cap");
    let big = dir.join("big.yaml");
    std::fs::write(
        &big,
        format!("ci_config_id: 1\nname: {}\n", "x".repeat(2 << 20)),
    )
    .unwrap();
    let (code, _, stderr) = run(datafold("http://127.0.0.1:9")
        .args(["bi", "create", "dbt", "--from-file"])
        .arg(&big));
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("1 MiB"), "{stderr}");
    // Not a regular file: read up to the cap, then refused.
    let (code, _, stderr) = run(datafold("http://127.0.0.1:9").args([
        "bi",
        "create",
        "dbt",
        "--from-file",
        "/dev/zero",
    ]));
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("1 MiB"), "{stderr}");
}

#[test]
fn a_yaml_alias_bomb_is_refused_in_flat_memory() {
    let dir = scratch("alias-bomb");
    let bomb = dir.join("bomb.yaml");
    let mut text = format!(
        "base_url: https://l\nclient_id: c\nrepo_id: 1\nclient_secret: s3cret-value\nname: &big {}\nproject_ids:\n",
        "x".repeat(100_000)
    );
    for _ in 0..2_000 {
        text.push_str("  - *big\n");
    }
    std::fs::write(&bomb, text).unwrap();
    let (code, _, stderr, peak_kib) = run_measured(
        datafold("http://127.0.0.1:9")
            .args(["bi", "create", "looker", "--from-file"])
            .arg(&bomb),
    );
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("expand"), "{stderr}");
    assert!(peak_kib < 100 * 1024, "peaked at {} MiB", peak_kib / 1024);
}

#[test]
fn deep_nesting_in_a_config_file_is_refused() {
    let dir = scratch("nesting");
    // Flow collections 100,000 deep: refused before the YAML parser sees
    // them (the parser took over a minute, growing quadratically).
    let depth = 100_000;
    let sequences = dir.join("sequences.yaml");
    let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    std::fs::write(&sequences, format!("ci_config_id: {nested}\n")).unwrap();
    let mappings = dir.join("mappings.yaml");
    let nested = format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth));
    std::fs::write(&mappings, format!("ci_config_id: {nested}\n")).unwrap();
    // Block mappings one level too deep.
    let block = dir.join("block.yaml");
    let mut text = String::from("ci_config_id: 1\nextra:\n");
    for level in 1..=65 {
        text.push_str(&format!("{}k:\n", "  ".repeat(level)));
    }
    std::fs::write(&block, text).unwrap();
    for file in [sequences, mappings, block] {
        let started = std::time::Instant::now();
        let (code, _, stderr) = run(datafold("http://127.0.0.1:9")
            .args(["bi", "create", "dbt", "--from-file"])
            .arg(&file));
        assert_eq!(code, 5, "{}: {stderr}", file.display());
        assert!(stderr.contains("64"), "{}: {stderr}", file.display());
        // Generous: refusing is immediate; before, it took over a minute.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}: refused only after {:?}",
            file.display(),
            started.elapsed()
        );
    }
}

// Defect 8: wrong order, silent cuts.

#[tokio::test(flavor = "multi_thread")]
async fn list_orders_by_instant_and_says_what_it_left_out() {
    let mut logs = vec![
        record("garbled", "not a time"),
        record("india", "2026-11-25T14:43:54+05:30"), // 09:13:54Z
        record("utc", "2026-11-25T09:23:54Z"),
    ];
    for minute in 0..60 {
        logs.push(record(
            &format!("bulk-{minute:02}"),
            &format!("2026-11-25T08:{minute:02}:00Z"),
        ));
    }
    let server = CaptureServer::start(Reply::json(200, json!({ "logs": logs }))).await;
    let list = |extra: &[&str]| {
        let mut command = datafold(&server.url);
        command
            .args([
                "audit-logs",
                "list",
                "--start",
                "2026-11-25",
                "--end",
                "2026-11-26",
            ])
            .args(extra);
        run_async(command)
    };
    let uuids = |stdout: &str| -> Vec<String> {
        serde_json::from_str::<Vec<Value>>(stdout)
            .unwrap()
            .iter()
            .map(|r| r["event_uuid"].as_str().unwrap().to_owned())
            .collect()
    };

    let (code, stdout, stderr) = list(&["--format", "json", "--limit", "2"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(uuids(&stdout), ["utc", "india"]);
    assert!(stderr.contains("newest 2 of 63"), "{stderr}");

    let (_, stdout, stderr) = list(&["--format", "json", "--limit", "100"]).await;
    let all = uuids(&stdout);
    assert_eq!(all.len(), 63);
    assert_eq!(
        (&all[2], &all[61]),
        (&"bulk-59".to_owned(), &"bulk-00".to_owned())
    );
    assert_eq!(all.last().unwrap(), "garbled", "unreadable times come last");
    assert!(stderr.is_empty(), "nothing left out: {stderr}");
    // Each record shows the server's text for its time, read or not.
    let shown: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown[1]["timestamp"], "2026-11-25T14:43:54+05:30");
    assert_eq!(shown[62]["timestamp"], "not a time");
    let (code, table, stderr) = list(&["--limit", "100"]).await;
    assert_eq!(code, 0, "{stderr}");
    let last = table.lines().last().unwrap();
    assert!(last.starts_with("not a time"), "{table}");
    assert!(table.contains("2026-11-25 09:13:54"), "{table}");

    let (_, stdout, stderr) = list(&["--format", "json"]).await;
    assert_eq!(uuids(&stdout).len(), 50);
    assert!(
        stderr.contains("newest 50 of 63")
            && stderr.contains("--limit")
            && stderr.contains("audit-logs export"),
        "{stderr}"
    );
    let (_, _, stderr) = list(&["--quiet"]).await;
    assert!(stderr.is_empty(), "{stderr}");
}

// Defect 9: panics.

#[test]
fn huge_and_zero_durations_are_usage_errors() {
    let huge = "4294967295w".repeat(8_000);
    let cases: Vec<Vec<&str>> = vec![
        vec!["audit-logs", "list", "--since", &huge],
        vec!["--timeout", &huge, "bi", "list"],
        vec!["audit-logs", "export", "--since", "1h", "--window", &huge],
        vec!["--timeout", "4294967295w4294967295w", "bi", "list"],
        vec!["--timeout", "5300w", "bi", "list"],
        vec!["--timeout", "0", "bi", "list"],
        vec!["--timeout", "0s", "bi", "list"],
    ];
    for args in cases {
        let (code, stdout, stderr) = run(datafold("http://127.0.0.1:9").args(&args));
        let shown: String = args.join(" ").chars().take(60).collect();
        assert_eq!(code, 2, "{shown}: {stderr}");
        assert!(
            stdout.is_empty() && stderr.starts_with("error:"),
            "{shown}: {stderr}"
        );
    }
    // 100 years is the longest duration taken.
    let (code, _, stderr) = run(datafold(&common::refused_url()).args([
        "--timeout",
        "5200w",
        "--retries",
        "0",
        "bi",
        "list",
    ]));
    assert_eq!(code, 7, "{stderr}");
}

#[test]
fn completions_survive_a_closed_pipe_and_a_full_disk() {
    let mut fds = [0; 2];
    // SAFETY: pipe() fills two descriptors that we then own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors are open and owned by nobody else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end); // like `| head -1` that has already exited
    let (code, _, stderr) = run(datafold("http://127.0.0.1:9")
        .args(["completions", "bash"])
        .stdout(Stdio::from(write_end)));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (code, _, stderr) = run(datafold("http://127.0.0.1:9")
        .args(["completions", "bash"])
        .stdout(Stdio::from(full)));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
}

// Defect 10: terminal escapes.

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_from_the_server_are_escaped_on_the_terminal() {
    let mut evil = record("e1", "2026-11-25T10:00:00Z");
    evil["user_email"] = json!("\u{1b}[31mmallory@example.com\u{1b}[0m");
    evil["action"] = json!("\u{1b}]0;owned\u{7}login");
    evil["url"] = json!("/x\u{9b}2J\r/y");
    let mut plain = record("p1", "2026-11-25T09:00:00Z");
    plain["user_email"] = json!("alice@example.com");
    plain["action"] = json!("logout");
    let server = CaptureServer::start(Reply::json(200, json!({"logs": [evil, plain]}))).await;
    let list = |format: &'static str| {
        let mut command = datafold(&server.url);
        command.env("COLUMNS", "250").args([
            "audit-logs",
            "list",
            "--start",
            "2026-11-25",
            "--end",
            "2026-11-26",
            "--format",
            format,
        ]);
        run_async(command)
    };
    let (code, table, stderr) = list("table").await;
    assert_eq!(code, 0, "{stderr}");
    assert_no_control_characters(&table);
    assert!(
        table.contains(r"\x1b[31mmallory@example.com\x1b[0m"),
        "{table}"
    );
    // Columns line up on the escaped text.
    let lines: Vec<&str> = table.lines().collect();
    let column = |line: &str, text: &str| line.find(text).map(|i| line[..i].chars().count());
    assert_eq!(
        column(lines[0], "ACTION"),
        column(lines[2], "logout"),
        "{table}"
    );
    assert_eq!(
        column(lines[0], "ACTION"),
        column(lines[1], r"\x1b]0;"),
        "{table}"
    );
    // JSON stays exact.
    let (_, json, _) = list("json").await;
    let records: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        records[0]["user_email"],
        "\u{1b}[31mmallory@example.com\u{1b}[0m"
    );

    let mut named = leaky_integration();
    named["name"] = json!("\u{1b}[2Jwiped");
    let bi = CaptureServer::start(Reply::json(200, json!([named]))).await;
    let mut command = datafold(&bi.url);
    command.args(["bi", "list"]);
    let (code, table, _) = run_async(command).await;
    assert_eq!(code, 0);
    assert_no_control_characters(&table);
    assert!(table.contains(r"\x1b[2Jwiped"), "{table}");

    let missing = CaptureServer::start(Reply::json(
        404,
        json!({"detail": "no such thing\u{1b}]0;owned\u{7}\u{1b}[2J"}),
    ))
    .await;
    let mut command = datafold(&missing.url);
    command.args(["bi", "get", "1"]);
    let (code, _, stderr) = run_async(command).await;
    assert_eq!(code, 4, "{stderr}");
    assert_no_control_characters(&stderr);
    assert!(
        stderr.contains(r"no such thing\x1b]0;owned\x07"),
        "{stderr}"
    );
}

// Defect 11 (CLI side): misleading errors.

#[tokio::test(flavor = "multi_thread")]
async fn errors_speak_the_cli_s_language() {
    let slow =
        CaptureServer::start(Reply::json(200, json!([])).delayed(Duration::from_secs(5))).await;
    let mut command = datafold(&slow.url);
    command.args(["--timeout", "1s", "--retries", "0", "bi", "list"]);
    let (code, _, stderr) = run_async(command).await;
    assert_eq!(code, 7, "{stderr}");
    assert!(
        stderr.contains("--timeout") && stderr.contains("1s") && !stderr.contains("ClientBuilder"),
        "{stderr}"
    );
    let (_, help, _) = run(datafold("http://127.0.0.1:9").arg("--help"));
    assert!(help.contains("without progress"), "{help}");

    let (code, _, stderr) = run(datafold("http://datafold.example.com").args(["bi", "list"]));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("https://") && !stderr.contains("allow_insecure_http"),
        "{stderr}"
    );

    let unauthorized = CaptureServer::start(Reply::json(401, json!({"detail": "bad key"}))).await;
    let mut command = datafold(&unauthorized.url);
    command
        .env_remove("DATAFOLD_API_KEY")
        .env("OTHER_KEY_VAR", KEY)
        .args(["--api-key-env", "OTHER_KEY_VAR", "bi", "list"]);
    let (code, _, stderr) = run_async(command).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("OTHER_KEY_VAR") && !stderr.contains("DATAFOLD_API_KEY"),
        "{stderr}"
    );
    let forbidden = CaptureServer::start(Reply::json(403, json!({"detail": "no"}))).await;
    let mut command = datafold(&forbidden.url);
    command
        .env_remove("DATAFOLD_API_KEY")
        .env("DATAFOLD_APIKEY", KEY)
        .args(["bi", "list"]);
    let (code, _, stderr) = run_async(command).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("DATAFOLD_APIKEY") && !stderr.contains("DATAFOLD_API_KEY"),
        "{stderr}"
    );

    let refused = common::refused_url();
    let (code, _, stderr) = run(datafold(&refused).args(["--retries", "0", "bi", "list"]));
    assert_eq!(code, 7, "{stderr}");
    let host = refused.trim_start_matches("http://");
    assert!(
        stderr.to_lowercase().contains("connection refused") && stderr.contains(host),
        "{stderr}"
    );
}

#[test]
fn a_config_type_error_names_the_field_without_quoting_secrets() {
    let dir = scratch("type-error");
    let config = dir.join("looker.yaml");
    std::fs::write(
        &config,
        "base_url: https://l\nclient_id: c\nclient_secret: file-secret-value\nrepo_id: abc\n",
    )
    .unwrap();
    let (code, _, stderr) = run(datafold("http://127.0.0.1:9")
        .args(["bi", "create", "looker", "--from-file"])
        .arg(&config));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("repo_id") && stderr.contains("--repo-id"),
        "{stderr}"
    );
    assert!(!stderr.contains("file-secret-value"), "{stderr}");
}

/// A pseudo-terminal: (the side a person types into, the side a program reads).
fn pty() -> (std::fs::File, std::fs::File) {
    let (mut controller, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the pointers; the rest
    // may be null.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(controller),
            std::fs::File::from_raw_fd(terminal),
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn declining_the_remove_prompt_removes_nothing_and_fails() {
    let server = CaptureServer::start(Reply::json(200, json!({}))).await;
    let (mut keyboard, terminal) = pty();
    keyboard.write_all(b"n\n").unwrap();
    let mut command = datafold(&server.url);
    command
        .args(["bi", "remove", "7"])
        .stdin(Stdio::from(terminal));
    let (code, _, stderr) = run_async(command).await;
    drop(keyboard);
    assert!(stderr.contains("Remove integration 7?"), "{stderr}");
    assert!(stderr.contains("not removed"), "{stderr}");
    assert_eq!(code, 1, "{stderr}");
    assert!(server.requests().is_empty(), "nothing may be sent");
    let (_, help, _) = run(datafold(&server.url).args(["bi", "remove", "--help"]));
    assert!(help.contains("exits 1"), "{help}");
}

// Defects 1, 7 and 11 as a CLI user sees them: exit codes and notes.

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_elsewhere_exits_6_and_sends_the_secret_nowhere() {
    let elsewhere = CaptureServer::start(Reply::json(200, json!({"id": 99}))).await;
    let location = format!("{}/api/v1/lineage/bi/looker/", elsewhere.url);
    let redirecting =
        CaptureServer::start(Reply::json(307, json!({})).header("location", &location)).await;
    let mut command = datafold(&redirecting.url);
    command
        .args(["bi", "create", "looker"])
        .args(looker_flags());
    let (code, stdout, stderr) = run_async(command).await;
    assert_eq!(code, 6, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&elsewhere.url) && stderr.contains("--host"),
        "{stderr}"
    );
    assert!(!stderr.contains(SUBMITTED), "{stderr}");
    assert!(
        elsewhere.requests().is_empty(),
        "the other origin was called"
    );

    // A loop on the same origin is an unexpected answer too, not the network.
    let looping = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", looping.local_addr().unwrap());
    looping.set_nonblocking(true).unwrap();
    let looping = tokio::net::TcpListener::from_std(looping).unwrap();
    let self_url = format!("{url}/api/v1/lineage/bi/");
    let _server = CaptureServer::serve_on(
        looping,
        vec![Reply::json(307, json!({})).header("location", &self_url)],
    );
    let mut command = datafold(&url);
    command.args(["bi", "list"]);
    let (code, _, stderr) = run_async(command).await;
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("redirect"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn records_outside_the_range_are_counted_never_dropped_silently() {
    // Zone-less timestamps in server-local time (+05:30): 5.5 hours off in UTC.
    let logs = vec![
        record("inside", "2026-11-25T10:30:00Z"),
        record("local-time", "2026-11-25T16:00:00"),
    ];
    let server = CaptureServer::start(Reply::json(200, json!({ "logs": logs }))).await;
    let mut command = datafold(&server.url);
    command.args([
        "audit-logs",
        "list",
        "--format",
        "json",
        "--start",
        "2026-11-25T10:00:00Z",
        "--end",
        "2026-11-25T11:00:00Z",
    ]);
    let (code, stdout, stderr) = run_async(command).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("inside"), "{stdout}");
    assert!(
        stderr.contains("1 records") && stderr.contains("outside the range"),
        "{stderr}"
    );

    // An export over a longer range writes the record once and says so.
    let dir = scratch("misplaced");
    let out = dir.join("audit.jsonl");
    let mut command = datafold(&server.url);
    command.args([
        "audit-logs",
        "export",
        "--start",
        "2026-11-25T10:00:00Z",
        "--end",
        "2026-11-25T18:00:00Z",
        "--window",
        "1h",
        "-o",
        out.to_str().unwrap(),
    ]);
    let (code, _, stderr) = run_async(command).await;
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.matches("local-time").count(), 1, "{written}");
    assert_eq!(written.matches("\"inside\"").count(), 1, "{written}");
    assert!(stderr.contains("outside the window"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_that_changes_between_attempts_exits_6() {
    let logs = |prefix: &str| {
        let logs: Vec<Value> = (0..6)
            .map(|i| record(&format!("{prefix}-{i}"), &format!("2026-11-25T10:0{i}:00Z")))
            .collect();
        json!({ "logs": logs })
    };
    // The first answer breaks off halfway; the repeated request gets other
    // records where the first one left off.
    let server = CaptureServer::script(vec![
        Reply::json(200, logs("first")).fault(common::Fault::Truncate),
        Reply::json(200, logs("second")),
    ])
    .await;
    let mut command = datafold(&server.url);
    command.args([
        "audit-logs",
        "export",
        "--start",
        "2026-11-25T10:00:00Z",
        "--end",
        "2026-11-25T11:00:00Z",
    ]);
    let (code, _, stderr) = run_async(command).await;
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("changed between attempts") && !stderr.contains("client."),
        "{stderr}"
    );
}
