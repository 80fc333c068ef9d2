//! Every exit code of the `datafold` binary in the README's table, each
//! reached the way a user reaches it, with the line on stderr that says what
//! to do next.
//!
//! Other examples of these codes are tested beside their features:
//! `tests/cli.rs` (no key and 401 → 3, `bi get 999` → 4, a 422 and an
//! incomplete configuration → 5, refused connection → 7, clap's errors → 2),
//! `tests/cli_files.rs` (unsafe output paths, foreign or edited checkpoints
//! and a second run over an interrupted export → 5, Ctrl-C → 130 and the
//! resume after it).

#![cfg(feature = "cli")]

mod cli_support;
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{CaptureServer, Reply};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use serde_json::json;

const KEY: &str = "cli-exit-codes-test-key";

/// One way a user reaches an exit code.
struct Case {
    /// What the user did.
    what: &'static str,
    command: Command,
    code: i32,
    /// What stderr must say (each fragment, anywhere in it).
    says: Vec<String>,
}

impl Case {
    fn new(what: &'static str, command: Command, code: i32, says: &[&str]) -> Self {
        Self {
            what,
            command,
            code,
            says: says.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Run the command; what went wrong, if anything.
    fn check(mut self) -> Option<String> {
        let Output { status, stderr, .. } = self.command.output().unwrap();
        let stderr = String::from_utf8(stderr).unwrap();
        let mut wrong = Vec::new();
        if status.code() != Some(self.code) {
            wrong.push(format!("exit code {:?}, not {}", status.code(), self.code));
        }
        if stderr.contains("panicked") || stderr.contains(KEY) {
            wrong.push("a panic or the key on stderr".to_owned());
        }
        for fragment in &self.says {
            if !stderr.contains(fragment.as_str()) {
                wrong.push(format!("stderr does not say {fragment:?}"));
            }
        }
        if self.code != 0 && !stderr.lines().any(|line| line.starts_with("error: ")) {
            wrong.push("no `error: ` line".to_owned());
        }
        (!wrong.is_empty())
            .then(|| format!("{}: {}\n  stderr: {stderr}", self.what, wrong.join("; ")))
    }
}

fn mock_with(faults: Faults) -> MockServer {
    MockServer::builder()
        .api_key(KEY)
        .seed(11)
        .seed_events(500)
        .seed_window(chrono::Utc::now(), Duration::from_secs(2 * 86_400))
        .faults(faults)
        .start()
        .unwrap()
}

fn datafold(host: &str) -> Command {
    cli_support::datafold(KEY, host)
}

/// `datafold ARGS` against `host`.
fn command(host: &str, args: &[&str]) -> Command {
    let mut command = datafold(host);
    command.args(args);
    command
}

/// `audit-logs export` of the mock's seeded range into `out`, one window at
/// a time.
fn export_into(server: &MockServer, out: &Path) -> Command {
    let (start, end) = cli_support::seeded_range(server);
    let mut command = datafold(server.url());
    command
        .args(["audit-logs", "export", "--start", &start, "--end", &end])
        .args(["--window", "2h", "--concurrency", "1", "-o"])
        .arg(out);
    command
}

/// `bi list` against a loopback server that answers every request with
/// `reply`, without retries.
fn bi_list_answered(runtime: &tokio::runtime::Runtime, reply: Reply) -> (CaptureServer, Command) {
    let server = runtime.block_on(CaptureServer::start(reply));
    let command = command(&server.url, &["--retries", "0", "bi", "list"]);
    (server, command)
}

#[test]
fn each_exit_code_is_reached_as_a_user_reaches_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = mock_with(Faults::new());
    let dir = cli_support::scratch("exit-codes", "table");

    // The longest name whose checkpoint (name + ".checkpoint") still fits in
    // a directory entry (255 bytes) but whose checkpoint's temporary file
    // (".name.checkpoint.XXXXXX.tmp") does not: the export starts, and its
    // first checkpoint cannot be written. Unlike a read-only directory, this
    // holds for root too.
    let long_name = "a".repeat(244);
    let unwritable_checkpoint = dir.join(&long_name);

    let (_forbidden, forbidden) = bi_list_answered(
        &runtime,
        Reply::json(403, json!({"detail": "Not enough permissions"})),
    );
    let (_bad_request, bad_request) = bi_list_answered(
        &runtime,
        Reply::json(400, json!({"detail": "Wrong integration type"})),
    );
    let (_rate_limited, rate_limited) =
        bi_list_answered(&runtime, Reply::text(429, "").header("retry-after", "7"));
    let (_teapot, teapot) = bi_list_answered(&runtime, Reply::text(418, "I'm a teapot"));
    let (_not_json, not_json) = bi_list_answered(&runtime, Reply::text(200, "<html>login</html>"));
    let (_redirecting, redirecting) = bi_list_answered(
        &runtime,
        Reply::text(302, "").header("location", "https://elsewhere.example/api/v1/dbt_config"),
    );
    let (_silent, mut silent) = bi_list_answered(
        &runtime,
        Reply::text(200, "[]").delayed(Duration::from_secs(30)),
    );
    silent.args(["--timeout", "300ms"]);
    let failing = mock_with(Faults::new().rate(Fault::InternalError, 1.0));

    let mut cases = vec![
        Case::new(
            "a successful call",
            command(mock.url(), &["bi", "list"]),
            0,
            &[],
        ),
        // 1: local failures.
        Case::new(
            "an export whose checkpoint cannot be written",
            export_into(&mock, &unwritable_checkpoint),
            1,
            &[
                &format!("{long_name}.checkpoint"),
                "choose a shorter --output file name",
            ],
        ),
        Case::new(
            "an export into a directory that does not exist",
            export_into(&mock, &dir.join("missing").join("audit.jsonl")),
            1,
            &[
                "audit.jsonl.partial",
                "check that the directory of --output exists",
            ],
        ),
        // 2: the command line.
        Case::new(
            "--resume without --output",
            command(mock.url(), &["audit-logs", "export", "--resume"]),
            2,
            &["--output"],
        ),
        Case::new(
            "an empty range",
            command(
                mock.url(),
                &[
                    "audit-logs",
                    "export",
                    "--start",
                    "2026-01-02",
                    "--end",
                    "2026-01-01",
                ],
            ),
            2,
            &["the range is empty"],
        ),
        // 3: authentication.
        Case::new(
            "a key without access (403)",
            forbidden,
            3,
            &["DATAFOLD_API_KEY", "Not enough permissions"],
        ),
        // 4: not found.
        Case::new(
            "removing an integration that does not exist",
            command(mock.url(), &["bi", "remove", "999", "--yes"]),
            4,
            &["999", "list integrations"],
        ),
        // 5: rejected input.
        Case::new(
            "a request Datafold refuses (400)",
            bad_request,
            5,
            &["Wrong integration type"],
        ),
        Case::new(
            "a plain-http host on the network",
            command(mock.url(), &["--host", "http://example.com", "bi", "list"]),
            5,
            &["https://", "--host"],
        ),
        Case::new(
            "a host that is not an http(s) URL",
            command(mock.url(), &["--host", "ftp://example.com", "bi", "list"]),
            5,
            &["https://app.datafold.com"],
        ),
        // 6: the API did not behave.
        Case::new(
            "rate limited (429)",
            rate_limited,
            6,
            &["rate limited", "retry after 7s"],
        ),
        Case::new(
            "a server error (500)",
            command(failing.url(), &["--retries", "0", "bi", "list"]),
            6,
            &["retry later"],
        ),
        Case::new(
            "a status the API does not document (418)",
            teapot,
            6,
            &["418", "--host"],
        ),
        Case::new(
            "an answer that is not JSON",
            not_json,
            6,
            &["<html>login</html>", "--host"],
        ),
        Case::new(
            "a redirect to another origin",
            redirecting,
            6,
            &["elsewhere.example", "--host"],
        ),
        // 7: the network.
        Case::new(
            "no answer within --timeout",
            silent,
            7,
            &["--timeout 300ms"],
        ),
        Case::new(
            "nothing listening",
            command(&common::refused_url(), &["--retries", "0", "bi", "list"]),
            7,
            &["cannot reach Datafold", "--host"],
        ),
    ];
    // A full disk, as /dev/full plays one.
    if Path::new("/dev/full").exists() {
        let mut full = command(mock.url(), &["audit-logs", "export", "--since", "3d"]);
        full.stdout(std::fs::File::create("/dev/full").unwrap());
        cases.push(Case::new(
            "an export onto a full disk",
            full,
            1,
            &["free some disk space"],
        ));
    }
    let wrong: Vec<String> = cases.into_iter().filter_map(Case::check).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        !std::fs::read_dir(&dir).unwrap().any(|_| true),
        "the failed exports left files behind"
    );
}

#[test]
fn ctrl_c_exits_130_saying_how_to_resume() {
    let server = mock_with(Faults::new().latency(Duration::from_millis(150)));
    let out = cli_support::scratch("exit-codes", "ctrl-c").join("audit.jsonl");
    let checkpoint = out.with_file_name("audit.jsonl.checkpoint");
    let child = export_into(&server, &out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once a checkpoint exists, the export is under way (and Ctrl-C handled).
    let started = Instant::now();
    while !checkpoint.exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the child's pid, which this test started and has
    // not yet waited for.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("rerun the same command with --resume"),
        "{stderr}"
    );
}

/// What `fn main() -> Result<(), datafold_sdk::Error>` prints when it
/// returns an error: std's `Termination` for `Result` writes `Error: ` and
/// the error's `Debug`, which must read like its message.
#[test]
fn a_main_returning_the_error_prints_its_message() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "main_returning_an_error",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "Error: InsecureHost: refusing to send the API key over plain http to \
             http://example.com: use https://"
        ),
        "{stderr}"
    );
}

/// Run by [`a_main_returning_the_error_prints_its_message`] in a process of
/// its own (its stderr is not captured there): reports an error as `main`'s
/// return value is reported.
#[test]
#[ignore = "run by a_main_returning_the_error_prints_its_message"]
fn main_returning_an_error() {
    use std::process::Termination;
    let main = || -> Result<(), datafold_sdk::Error> {
        datafold_sdk::Client::builder()
            .api_key("not-a-real-key")
            .host("http://example.com")
            .build()?;
        Ok(())
    };
    let _ = main().report();
}
