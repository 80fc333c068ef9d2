//! The standalone `datafold-mock` binary: it starts, prints its URL, and
//! answers a request sent the way Datafold's docs show it (a GET with a JSON
//! body), in the spec's shape (checked by the binary itself, with
//! `--check-responses`, which prints any violation on stderr).

mod mock_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafold_sdk::types::ApiGetAuditLogs;
use serde_json::json;

/// The running binary; killed when dropped.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// What it printed on stderr so far (its line per request).
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_datafold-mock"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("datafold-mock starts");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Its stderr up to the first line containing `wanted` (within 10 s).
    fn stderr_until(&self, wanted: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.stderr.lock().unwrap().clone();
            if let Some(at) = lines.iter().position(|line| line.contains(wanted)) {
                return lines[..=at].to_vec();
            }
            assert!(
                Instant::now() < deadline,
                "no {wanted:?} on stderr: {lines:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The next line of output (empty once the process has ended).
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("stdout reads");
        line.trim().to_owned()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url_of(first_line: &str) -> String {
    first_line
        .strip_prefix("datafold-mock listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
        .to_owned()
}

#[tokio::test]
async fn the_binary_answers_the_documented_curl_request() {
    let mut mock = Running::start(&[
        "--port",
        "0",
        "--api-key",
        "binary-key",
        "--seed-events",
        "10000",
        "--check-responses",
    ]);
    let url = url_of(&mock.line());
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(mock.line(), format!("export DATAFOLD_HOST={url}"));
    assert_eq!(
        mock.line(),
        "(API key as given with --api-key)",
        "a given key is not echoed"
    );

    // curl --request GET --url <mock>/api/v1/audit_logs \
    //   --header 'Authorization: Key <key>' --header 'Content-Type: application/json' \
    //   --data '{"start_date": "...", "end_date": "..."}'
    let now = chrono::Utc::now();
    let range = json!({
        "start_date": (now - chrono::Duration::days(3)).to_rfc3339(),
        "end_date": now.to_rfc3339(),
    });
    let response = mock_support::raw()
        .get(format!("{url}/api/v1/audit_logs"))
        .header("Authorization", "Key binary-key")
        .header("Content-Type", "application/json")
        .body(range.to_string())
        .send()
        .await
        .expect("the binary answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    // In the spec's shape: the response type generated from the spec reads it.
    let body: ApiGetAuditLogs = response
        .json()
        .await
        .expect("an answer in the spec's shape");
    // 10,000 events over 30 days: 3 days hold about a tenth of them.
    let count = body.logs.len();
    assert!((990..=1010).contains(&count), "{count} events in 3 days");

    let refused = mock_support::raw()
        .get(format!("{url}/api/v1/audit_logs"))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 401);
    // Both answers were checked against the spec as they went out (the
    // printer writes a request's violations right after its line, so once
    // the second request is printed, the first one's are in).
    let printed = mock.stderr_until("-> 401");
    assert!(
        printed
            .iter()
            .any(|line| line.contains("GET /api/v1/audit_logs -> 200")),
        "{printed:?}"
    );
    let violations: Vec<_> = printed
        .iter()
        .filter(|line| line.contains("spec violation"))
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test]
async fn without_a_key_the_binary_makes_one_up_and_prints_it() {
    let mut mock = Running::start(&[]);
    let url = url_of(&mock.line());
    let _host = mock.line();
    let key_line = mock.line();
    let key = key_line
        .strip_prefix("export DATAFOLD_API_KEY=")
        .unwrap_or_else(|| panic!("no key printed: {key_line:?}"));
    let client = datafold_sdk::Client::builder()
        .api_key(key)
        .host(&url)
        .build()
        .expect("client");
    let list = client.bi().list().await.expect("the printed key works");
    assert!(list.is_empty());
}

#[test]
fn a_bad_command_line_exits_2_with_a_message() {
    for args in [
        &["--port", "lots"][..],
        &["--fault", "418=0.1"],
        &["--fault", "429=0.8", "--fault", "500=0.8"],
        &["--verbose"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_datafold-mock"))
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("datafold-mock: "), "{stderr}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_datafold-mock"))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--seed-events"));
}

#[test]
fn help_into_a_full_disk_does_not_panic() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not on this platform
    };
    let output = Command::new(env!("CARGO_BIN_EXE_datafold-mock"))
        .arg("--help")
        .stdout(full)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
}

/// Each flag of a `--help` text (its long name) with its whole entry: value
/// name, description and default, whitespace collapsed so that wrapping and
/// alignment do not matter. `-h, --help` is left out.
#[cfg(feature = "cli")]
fn help_entries(help: &str) -> std::collections::BTreeMap<String, String> {
    let mut entries = std::collections::BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in help.lines() {
        let trimmed = line.trim_start();
        let indented = trimmed.len() < line.len();
        if indented && trimmed.starts_with('-') {
            entries.extend(current.take().map(|(flag, words)| (flag, words.join(" "))));
            let flag = trimmed
                .split([' ', ','])
                .find(|word| word.starts_with("--"))
                .unwrap_or(trimmed)
                .trim_end_matches("...")
                .to_owned();
            let words = trimmed.split_whitespace().map(str::to_owned).collect();
            current = Some((flag, words));
        } else if let (true, Some((_, words))) = (indented, current.as_mut()) {
            words.extend(trimmed.split_whitespace().map(str::to_owned));
        } else {
            entries.extend(current.take().map(|(flag, words)| (flag, words.join(" "))));
        }
    }
    entries.extend(current.map(|(flag, words)| (flag, words.join(" "))));
    entries.remove("--help");
    entries
}

/// `datafold-mock --help` and `datafold mock serve --help` describe the same
/// flags, word for word, with the same defaults: the SDK's constants.
#[cfg(feature = "cli")]
#[test]
fn both_command_lines_list_the_same_flags_and_defaults() {
    use datafold_sdk::mock::{
        DEFAULT_FAULT_SEED, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
        DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_LOG_CAPACITY, DEFAULT_RETRY_AFTER_SECS,
        DEFAULT_SEED, DEFAULT_SEED_EVENTS,
    };

    let help = |command: &mut Command| {
        let output = command
            .arg("--help")
            .env("COLUMNS", "100")
            .output()
            .expect("runs");
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let standalone = help(&mut Command::new(env!("CARGO_BIN_EXE_datafold-mock")));
    let serve = help(Command::new(env!("CARGO_BIN_EXE_datafold")).args(["mock", "serve"]));
    let standalone_flags = help_entries(&standalone);
    let serve_flags = help_entries(&serve);
    assert!(standalone_flags.len() >= 14, "{standalone}");
    for (flag, entry) in &standalone_flags {
        assert_eq!(
            serve_flags.get(flag),
            Some(entry),
            "{flag} differs between the two --help texts"
        );
    }
    // Flags of `mock serve` itself (not the CLI's global options) exist in
    // `datafold-mock` too.
    let own_options = serve.split("Global options:").next().unwrap_or_default();
    for flag in help_entries(own_options).keys() {
        assert!(
            standalone_flags.contains_key(flag),
            "{flag} is missing from datafold-mock --help"
        );
    }

    for (flag, default) in [
        ("--seed", DEFAULT_SEED.to_string()),
        ("--seed-events", DEFAULT_SEED_EVENTS.to_string()),
        ("--fault-seed", DEFAULT_FAULT_SEED.to_string()),
        ("--retry-after", DEFAULT_RETRY_AFTER_SECS.to_string()),
        ("--max-connections", DEFAULT_MAX_CONNECTIONS.to_string()),
        (
            "--request-log-size",
            DEFAULT_REQUEST_LOG_CAPACITY.to_string(),
        ),
        (
            "--header-timeout",
            DEFAULT_HEADER_READ_TIMEOUT.as_secs().to_string(),
        ),
        ("--idle-timeout", DEFAULT_IDLE_TIMEOUT.as_secs().to_string()),
    ] {
        let entry = &standalone_flags[flag];
        assert!(
            entry.ends_with(&format!("[default: {default}]")),
            "{flag}: {entry}"
        );
    }
}

/// The events the binary at `url` serves for the whole history.
async fn all_events(url: &str, key: &str) -> Vec<String> {
    let client = datafold_sdk::Client::builder()
        .api_key(key)
        .host(url)
        .build()
        .expect("client");
    let logs = client.audit_logs().list().send().await.expect("an answer");
    logs.into_iter().map(|log| log.event_uuid).collect()
}

#[tokio::test]
async fn with_a_live_rate_the_binary_serves_growing_results() {
    let mut mock = Running::start(&[
        "--api-key",
        "live-key",
        "--seed-events",
        "0",
        "--live-rate",
        "40/s",
        "--late-share",
        "0.2",
        "--late-max",
        "500ms",
    ]);
    let url = url_of(&mock.line());
    let _host = mock.line();
    let _key = mock.line();
    assert_eq!(
        mock.line(),
        "live traffic: 40 events/s, 20% committed late by up to 500ms"
    );
    // Each answer holds the previous one's events and more (polled with a
    // generous deadline: no assumption on how fast the machine is).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut previous = all_events(&url, "live-key").await;
    let mut growths = 0;
    while growths < 2 {
        assert!(Instant::now() < deadline, "the results stopped growing");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = all_events(&url, "live-key").await;
        for uuid in &previous {
            assert!(now.contains(uuid), "{uuid} vanished");
        }
        if now.len() > previous.len() {
            growths += 1;
        }
        previous = now;
    }
}

#[test]
fn live_traffic_flags_are_checked_on_the_command_line() {
    for args in [
        &["--live-rate", "0"][..],
        &["--live-rate", "-5/s"],
        &["--live-rate", "fast"],
        &["--live-rate", "5", "--late-share", "2"],
        &[
            "--live-rate",
            "5",
            "--late-share",
            "0.1",
            "--late-max",
            "0s",
        ],
        &["--late-share", "0.1"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_datafold-mock"))
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("datafold-mock: "), "{stderr}");
    }
    // Durations as `datafold` takes them; rates with or without `/s`.
    for (rate, late_max, shown) in [
        (
            "2.5",
            "5m",
            "live traffic: 2.5 events/s, 50% committed late by up to 300s",
        ),
        (
            "3/s",
            "2s",
            "live traffic: 3 events/s, 50% committed late by up to 2s",
        ),
    ] {
        let mut mock = Running::start(&[
            "--quiet",
            "--live-rate",
            rate,
            "--late-share",
            "0.5",
            "--late-max",
            late_max,
        ]);
        let _url = mock.line();
        let _host = mock.line();
        let _key = mock.line();
        assert_eq!(mock.line(), shown);
    }
}
