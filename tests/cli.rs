//! End-to-end tests of the `datafold` binary against the embedded mock:
//! stdout, stderr and exit codes of every subcommand.

#![cfg(feature = "cli")]

mod cli_support;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cli_support::{event_uuids, seeded_range, seeded_uuids};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use serde_json::{json, Value};

const KEY: &str = "cli-test-key";
const SECRET: &str = "cli-secret-value-never-printed";

fn mock() -> MockServer {
    mock_with(Faults::new(), 2_000)
}

fn mock_with(faults: Faults, seed_events: u64) -> MockServer {
    MockServer::builder()
        .api_key(KEY)
        .seed(3)
        .seed_events(seed_events)
        .seed_window(chrono::Utc::now(), Duration::from_secs(2 * 86_400))
        .faults(faults)
        .start()
        .unwrap()
}

/// `datafold` with a clean environment pointing at `host`.
fn datafold(host: &str) -> Command {
    let mut command = cli_support::datafold(KEY, host);
    command.env("LOOKER_SECRET", SECRET);
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "a secret leaked:\n{stdout}\n{stderr}"
    );
    (status.code().unwrap_or(-1), stdout, stderr)
}

fn create_looker(host: &str) -> i64 {
    let (code, stdout, stderr) = run(datafold(host)
        .args(["bi", "create", "looker"])
        .args(cli_support::looker_flags())
        .args(["--name", "Looker prod"]));
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(created["name"], "Looker prod");
    assert!(created.get("client_secret").is_none());
    created["id"].as_i64().unwrap()
}

#[test]
fn every_help_fits_in_forty_lines() {
    let commands: &[&[&str]] = &[
        &[],
        &["audit-logs"],
        &["audit-logs", "export"],
        &["audit-logs", "list"],
        &["audit-logs", "follow"],
        &["bi"],
        &["bi", "list"],
        &["bi", "get"],
        &["bi", "sync"],
        &["bi", "remove"],
        &["bi", "create"],
        &["bi", "update"],
        &["bi", "schema"],
        &["bi", "plan"],
        &["bi", "apply"],
        &["bi", "export"],
        &["mock"],
        &["mock", "serve"],
        &["completions"],
    ];
    let kinds = ["dbt", "hightouch", "looker", "mode", "powerbi", "tableau"];
    let mut all: Vec<Vec<&str>> = commands.iter().map(|c| c.to_vec()).collect();
    for kind in kinds {
        all.push(vec!["bi", "create", kind]);
        all.push(vec!["bi", "update", kind]);
    }
    for args in all {
        let (code, stdout, _) = run(datafold("http://127.0.0.1:9")
            .args(&args)
            .arg("--help")
            .env("COLUMNS", "100"));
        assert_eq!(code, 0, "{args:?}");
        let lines = stdout.lines().count();
        assert!(
            lines <= 40,
            "`datafold {} --help` has {lines} lines",
            args.join(" ")
        );
    }
}

#[test]
fn bi_lifecycle_through_the_cli() {
    let server = mock();
    let host = server.url();
    let id = create_looker(host);

    let (code, stdout, _) = run(datafold(host).args(["bi", "list", "--format", "json"]));
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (code, stdout, _) = run(datafold(host).args(["bi", "list"]));
    assert_eq!(code, 0);
    assert!(stdout.starts_with("ID  KIND"), "{stdout}");
    assert!(
        stdout.contains(&format!("{id}   looker  Looker prod")),
        "{stdout}"
    );

    let (code, stdout, _) = run(datafold(host).args(["bi", "get", &id.to_string()]));
    assert_eq!(
        (
            code,
            serde_json::from_str::<Value>(&stdout).unwrap()["id"].as_i64()
        ),
        (0, Some(id))
    );

    let (code, _, stderr) = run(datafold(host).args([
        "bi",
        "update",
        "looker",
        &id.to_string(),
        "--base-url",
        "https://looker.example.com",
        "--client-id",
        "cid",
        "--repo-id",
        "4",
        "--client-secret-env",
        "LOOKER_SECRET",
        "--indexing-cron",
        "0 * * * *",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        server.stored_integrations()[&id]["indexing_cron"],
        "0 * * * *"
    );

    let (code, _, _) = run(datafold(host).args(["bi", "sync", &id.to_string()]));
    assert_eq!(code, 0);

    // Without --yes and without a terminal, nothing is removed.
    let (code, _, stderr) = run(datafold(host).args(["bi", "remove", &id.to_string()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(server.stored_integrations().len(), 1);
    let (code, _, _) = run(datafold(host).args(["bi", "remove", &id.to_string(), "--yes"]));
    assert_eq!(code, 0);
    assert!(server.stored_integrations().is_empty());
}

#[test]
fn secrets_come_from_stdin_files_or_config_files() {
    let server = mock();
    let dir = cli_support::scratch("cli", "secrets");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{SECRET}\n")).unwrap();
    let mut child = datafold(server.url())
        .args(["bi", "create", "mode", "--token-file"])
        .arg(&token_file)
        .args(["--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"mode-password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stored = server.stored_integrations();
    let mode = stored.values().next().unwrap();
    assert_eq!(
        (mode["token"].as_str(), mode["password"].as_str()),
        (Some(SECRET), Some("mode-password"))
    );

    let config = dir.join("tableau.yaml");
    std::fs::write(&config, "server_url: https://t.example\nsite_id: s\ntoken_name: pat\ntoken_value: from-file\nname: from file\n").unwrap();
    let (code, stdout, stderr) = run(datafold(server.url())
        .args([
            "bi",
            "create",
            "tableau",
            "--name",
            "flag wins",
            "--from-file",
        ])
        .arg(&config));
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(created["name"], "flag wins");
    assert!(created.get("token_value").is_none());
}

#[test]
fn a_missing_required_field_is_caught_before_sending() {
    let server = mock();
    let (code, stdout, stderr) = run(datafold(server.url()).args([
        "bi",
        "create",
        "looker",
        "--base-url",
        "https://l",
        "--client-id",
        "c",
        "--repo-id",
        "1",
    ]));
    assert_eq!(code, 5);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("client_secret") && stderr.contains("--client-secret-env"),
        "{stderr}"
    );
    assert!(server.request_log().is_empty(), "nothing may be sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_422_from_the_server_is_shown_field_by_field() {
    let reply = common::Reply::json(
        422,
        json!({"detail": [{"loc": ["body", "ci_config_id"], "msg": "Field required", "type": "missing"}]}),
    );
    let server = common::CaptureServer::start(reply).await;
    let url = server.url.clone();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || {
        run(datafold(&url).args(["bi", "create", "dbt", "--ci-config-id", "1"]))
    })
    .await
    .unwrap();
    assert_eq!(code, 5);
    assert!(
        stderr.contains("body.ci_config_id: Field required"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line a person can act on: {stderr}"
    );
}

#[test]
fn auth_and_lookup_failures_have_their_own_exit_codes() {
    let server = mock();
    let (code, _, stderr) = run(datafold(server.url())
        .env("DATAFOLD_API_KEY", "wrong-key")
        .args(["bi", "list"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("DATAFOLD_API_KEY") && !stderr.contains("wrong-key"),
        "{stderr}"
    );

    let (code, _, stderr) = run(datafold(server.url())
        .env_remove("DATAFOLD_API_KEY")
        .args(["bi", "list"]));
    assert_eq!(code, 3);
    assert!(
        stderr.contains("no API key: set DATAFOLD_API_KEY"),
        "{stderr}"
    );

    let (code, _, stderr) = run(datafold(server.url())
        .env_remove("DATAFOLD_API_KEY")
        .env("MY_KEY", KEY)
        .args(["--api-key-env", "MY_KEY", "bi", "list"]));
    assert_eq!(code, 0, "{stderr}");

    let (code, _, stderr) = run(datafold(server.url()).args(["bi", "get", "999"]));
    assert_eq!(code, 4);
    assert!(stderr.starts_with("error: not found"), "{stderr}");

    let (code, _, stderr) =
        run(datafold("http://127.0.0.1:9").args(["--retries", "0", "bi", "list"]));
    assert_eq!(code, 7, "{stderr}");

    let (code, _, stderr) = run(datafold(server.url()).args(["bi", "get", "not-a-number"]));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn export_to_a_file_in_each_format() {
    let server = mock();
    let (start, end) = seeded_range(&server);
    let dir = cli_support::scratch("cli", "export");
    for format in ["jsonl", "csv", "json"] {
        let out = dir.join(format!("audit.{format}"));
        let (code, stdout, stderr) = run(datafold(server.url())
            .args([
                "audit-logs",
                "export",
                "--start",
                &start,
                "--end",
                &end,
                "--window",
                "6h",
                "--format",
                format,
                "--output",
            ])
            .arg(&out));
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.is_empty(), "data goes to the file");
        assert!(stderr.contains("exported"), "{stderr}");
        assert!(!dir.join(format!("audit.{format}.partial")).exists());
        assert!(!dir.join(format!("audit.{format}.checkpoint")).exists());
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            event_uuids(format, &text),
            seeded_uuids(&server, &start, &end),
            "{format}"
        );
    }
}

#[test]
fn an_interrupted_export_resumes_with_resume() {
    let faults = Faults::new()
        .seed(9)
        .rate(Fault::Unavailable, 0.35)
        .retry_after_secs(0);
    let server = mock_with(faults, 3_000);
    let (start, end) = seeded_range(&server);
    let out = cli_support::scratch("cli", "resume").join("audit.jsonl");
    let base = [
        "audit-logs",
        "export",
        "--start",
        &start,
        "--end",
        &end,
        "--window",
        "2h",
        "--concurrency",
        "2",
    ];
    let (code, _, stderr) = run(datafold(server.url())
        .args(["--retries", "0"])
        .args(base)
        .arg("--output")
        .arg(&out));
    assert_eq!(code, 6, "the first run must be interrupted: {stderr}");
    assert!(!out.exists(), "no half file under the final name");
    let mut runs = 1;
    loop {
        runs += 1;
        assert!(runs < 100, "never finished");
        let (code, _, stderr) = run(datafold(server.url())
            .args(["--retries", "0"])
            .args(base)
            .args(["--resume", "--output"])
            .arg(&out));
        match code {
            0 => break,
            6 => continue,
            other => panic!("exit {other}: {stderr}"),
        }
    }
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        event_uuids("jsonl", &text),
        seeded_uuids(&server, &start, &end),
        "after {runs} runs"
    );
}

#[test]
fn export_to_a_closed_pipe_exits_cleanly() {
    let server = mock_with(Faults::new(), 50_000);
    let mut child = datafold(server.url())
        .args(["audit-logs", "export", "--since", "3d", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, like `| head -1`.
    assert!(serde_json::from_str::<Value>(&first).unwrap()["event_uuid"].is_string());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
}

#[test]
fn audit_log_table_fits_the_terminal() {
    let server = mock();
    let (code, stdout, _) = run(datafold(server.url()).env("COLUMNS", "72").args([
        "audit-logs",
        "list",
        "--since",
        "2d",
    ]));
    assert_eq!(code, 0);
    assert!(stdout.starts_with("TIME"), "{stdout}");
    assert!(stdout.lines().count() > 10);
    for line in stdout.lines() {
        assert!(line.chars().count() <= 72, "{line:?}");
    }
    let (code, stdout, _) = run(datafold(server.url()).args([
        "audit-logs",
        "list",
        "--since",
        "2d",
        "--format",
        "json",
        "--limit",
        "3",
    ]));
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&stdout).unwrap().len(),
        3
    );
}

#[test]
fn schema_and_completions() {
    let (code, stdout, _) = run(datafold("http://127.0.0.1:9").args(["bi", "schema", "looker"]));
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(schema["properties"]["client_secret"]["format"], "password");
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in ["base_url", "client_id", "client_secret", "repo_id"] {
        assert!(required.contains(&field), "{required:?}");
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, stdout, _) = run(datafold("http://127.0.0.1:9").args(["completions", shell]));
        assert_eq!(code, 0);
        assert!(stdout.contains("audit-logs"), "{shell}");
    }
}

#[test]
fn mock_serve_answers_requests() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_datafold"))
        .args([
            "mock",
            "serve",
            "--api-key",
            KEY,
            "--seed-events",
            "10",
            "-q",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.split_whitespace().last().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let (code, stdout, stderr) = run(datafold(&url).args(["bi", "list", "--format", "json"]));
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "[]");
}

#[test]
fn bad_input_never_panics_or_echoes_secrets() {
    let server = mock();
    let dir = cli_support::scratch("cli", "bad-input");
    let config = dir.join("mode.yaml");
    std::fs::write(&config, "token: tok\npassword: 20240917\n").unwrap();
    let (code, _, stderr) = run(datafold(server.url())
        .args(["bi", "create", "mode", "--from-file"])
        .arg(&config));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("password must be a string") && !stderr.contains("20240917"),
        "{stderr}"
    );

    for args in [
        &["audit-logs", "export", "--since", "15000000w"][..],
        &[
            "audit-logs",
            "export",
            "--since",
            "1h",
            "--window",
            "15000000w",
        ],
        &[
            "audit-logs",
            "export",
            "--since",
            "1h",
            "--concurrency",
            "100000",
        ],
    ] {
        let (code, stdout, stderr) = run(datafold(server.url()).args(args));
        assert!(code == 2 || code == 5, "{args:?}: exit {code}: {stderr}");
        assert!(
            stdout.is_empty() && stderr.starts_with("error: "),
            "{args:?}: {stderr}"
        );
    }

    let out = dir.join("never.jsonl");
    let (code, _, stderr) = run(datafold(server.url())
        .args(["audit-logs", "export", "--resume", "--output"])
        .arg(&out));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to resume"), "{stderr}");
    assert!(!out.exists());
}
