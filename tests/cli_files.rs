//! The files `datafold audit-logs export --output FILE` writes, against a
//! hostile directory: planted symbolic links, FIFOs, read-only files,
//! directories, foreign or edited checkpoints, a second run over an
//! interrupted one, and Ctrl-C.

#![cfg(feature = "cli")]

mod cli_support;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli_support::{event_uuids, seeded_range, seeded_uuids};
use datafold_sdk::mock::{Faults, MockServer};
use serde_json::Value;

const KEY: &str = "cli-files-test-key";

fn mock_with(faults: Faults) -> MockServer {
    MockServer::builder()
        .api_key(KEY)
        .seed(7)
        .seed_events(2_000)
        .seed_window(chrono::Utc::now(), Duration::from_secs(2 * 86_400))
        .faults(faults)
        .start()
        .unwrap()
}

fn mock() -> MockServer {
    mock_with(Faults::new())
}

/// A mock slow enough (each answer delayed) to interrupt an export mid-way.
fn slow_mock() -> MockServer {
    mock_with(Faults::new().latency(Duration::from_millis(150)))
}

/// `datafold` with a clean environment pointing at `host`.
fn datafold(host: &str) -> Command {
    cli_support::datafold(KEY, host)
}

fn run(command: &mut Command) -> (i32, String) {
    let Output { status, stderr, .. } = command.output().unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status.code().unwrap_or(-1), stderr)
}

fn scratch(name: &str) -> PathBuf {
    cli_support::scratch("files", name)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// `export --start --end --window 2h --concurrency 1` of the mock's range.
fn export_args(server: &MockServer) -> Vec<String> {
    let (start, end) = seeded_range(server);
    [
        "audit-logs",
        "export",
        "--start",
        &start,
        "--end",
        &end,
        "--window",
        "2h",
        "--concurrency",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

fn no_requests(server: &MockServer) {
    let log = server.request_log();
    assert!(log.is_empty(), "requests were sent: {log:?}");
}

/// Start `command`, wait until its checkpoint exists, then send it SIGINT
/// (Ctrl-C) and wait for it to end.
fn interrupt_after_first_checkpoint(command: &mut Command, out: &Path) -> (Option<i32>, String) {
    interrupt_once_checkpointed(command, out, |_| true)
}

/// Start `command`, wait until its checkpoint exists and `enough` says it
/// got far enough, then send it SIGINT (Ctrl-C) and wait for it to end.
fn interrupt_once_checkpointed(
    command: &mut Command,
    out: &Path,
    enough: impl Fn(&Value) -> bool,
) -> (Option<i32>, String) {
    let checkpoint = sibling(out, ".checkpoint");
    let child: Child = command.stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    // The checkpoint is replaced atomically: each read sees a whole one.
    while !std::fs::read(&checkpoint)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|saved| enough(&saved))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint (far enough) was written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the child's pid, which this test started and has
    // not yet waited for.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status.code(), stderr)
}

/// An export of the slow mock into `out`, interrupted after its first
/// window: `out.partial` and `out.checkpoint` are left.
fn interrupted_export(server: &MockServer, out: &Path) {
    interrupt_after_first_checkpoint(
        datafold(server.url())
            .args(export_args(server))
            .arg("-o")
            .arg(out),
        out,
    );
    assert!(sibling(out, ".partial").exists());
    assert!(sibling(out, ".checkpoint").exists());
    assert!(!out.exists());
}

#[test]
fn a_symlink_planted_at_the_partial_name_is_refused() {
    let server = mock();
    let dir = scratch("partial-link");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.join("audit.jsonl");
    std::os::unix::fs::symlink(&victim, sibling(&out, ".partial")).unwrap();

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("audit.jsonl.partial") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!out.exists());
    no_requests(&server);
}

#[test]
fn a_symlink_planted_at_the_checkpoint_temp_name_is_never_written_through() {
    let server = mock();
    let dir = scratch("temp-link");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.join("audit.jsonl");
    let planted = sibling(&out, ".checkpoint.tmp");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .arg("-o")
        .arg(&out));
    // The temp file has a fresh, exclusive name: the planted link is left alone.
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink());
    let (start, end) = seeded_range(&server);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        event_uuids("jsonl", &text),
        seeded_uuids(&server, &start, &end)
    );
}

#[test]
fn output_into_a_fifo_is_refused_before_any_request() {
    let server = mock();
    let dir = scratch("fifo");
    let fifo = dir.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .arg("-o")
        .arg(&fifo));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("pipe") && stderr.contains("not a regular file"),
        "{stderr}"
    );
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(!sibling(&fifo, ".partial").exists());
    no_requests(&server);
}

#[test]
fn a_read_only_output_is_refused_before_any_request() {
    let server = mock();
    let dir = scratch("read-only");
    let out = dir.join("audit.jsonl");
    std::fs::write(&out, "keep me").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o444)).unwrap();

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444);
    assert!(!sibling(&out, ".partial").exists());
    no_requests(&server);
}

#[test]
fn a_replaced_output_keeps_its_permissions() {
    let server = mock();
    let dir = scratch("keep-mode");
    let out = dir.join("audit.jsonl");
    std::fs::write(&out, "old export").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    let (start, end) = seeded_range(&server);
    assert_eq!(
        event_uuids("jsonl", &std::fs::read_to_string(&out).unwrap()),
        seeded_uuids(&server, &start, &end)
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640, "mode {mode:o}");
}

#[test]
fn output_to_a_directory_fails_before_any_request_and_leaves_nothing() {
    let server = mock();
    let dir = scratch("directory");
    let target = dir.join("exports");
    std::fs::create_dir(&target).unwrap();

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .arg("-o")
        .arg(&target));
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("is a directory"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["exports"], "files left behind");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    no_requests(&server);
}

#[test]
fn a_second_run_without_resume_is_refused_and_restart_starts_over() {
    let server = slow_mock();
    let dir = scratch("rerun");
    let out = dir.join("audit.jsonl");
    interrupted_export(&server, &out);
    let partial = std::fs::read(sibling(&out, ".partial")).unwrap();
    let checkpoint = std::fs::read(sibling(&out, ".checkpoint")).unwrap();
    server.clear_request_log();

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("an interrupted export of")
            && stderr.contains("--resume")
            && stderr.contains("--restart"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(sibling(&out, ".partial")).unwrap(), partial);
    assert_eq!(
        std::fs::read(sibling(&out, ".checkpoint")).unwrap(),
        checkpoint
    );
    no_requests(&server);

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .args(["--restart", "--resume", "-o"])
        .arg(&out));
    assert_eq!(code, 2, "--restart and --resume conflict: {stderr}");

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .args(["--restart", "-o"])
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    let (start, end) = seeded_range(&server);
    assert_eq!(
        event_uuids("jsonl", &std::fs::read_to_string(&out).unwrap()),
        seeded_uuids(&server, &start, &end)
    );
    assert!(!sibling(&out, ".partial").exists());
    assert!(!sibling(&out, ".checkpoint").exists());
}

#[test]
fn ctrl_c_says_how_to_resume_and_resume_loses_and_repeats_nothing() {
    let server = slow_mock();
    let dir = scratch("ctrl-c");
    let out = dir.join("audit.jsonl");
    let (code, stderr) = interrupt_after_first_checkpoint(
        datafold(server.url())
            .args(export_args(&server))
            .arg("-o")
            .arg(&out),
        &out,
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(!out.exists());

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .args(["--resume", "-o"])
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    let (start, end) = seeded_range(&server);
    let exported = event_uuids("jsonl", &std::fs::read_to_string(&out).unwrap());
    let distinct: std::collections::BTreeSet<_> = exported.iter().collect();
    assert_eq!(distinct.len(), exported.len(), "no record twice");
    assert_eq!(exported, seeded_uuids(&server, &start, &end), "none lost");
}

#[test]
fn resume_flags_that_conflict_with_the_checkpoint_are_errors() {
    let server = slow_mock();
    let dir = scratch("conflict");
    let out = dir.join("audit.jsonl");
    interrupted_export(&server, &out);
    let partial = std::fs::read(sibling(&out, ".partial")).unwrap();
    server.clear_request_log();
    let (start, end) = seeded_range(&server);
    let later = (chrono::DateTime::parse_from_rfc3339(&start).unwrap()
        + chrono::Duration::hours(1))
    .to_rfc3339();

    for (conflict, field) in [
        (vec!["--window", "1h"], "window"),
        (vec!["--format", "csv"], "format"),
        (
            vec!["--start", later.as_str(), "--end", end.as_str()],
            "start",
        ),
        (vec!["--since", "3d"], "since"),
    ] {
        let (code, stderr) = run(datafold(server.url())
            .args(["audit-logs", "export", "--resume", "-o"])
            .arg(&out)
            .args(&conflict));
        assert_eq!(code, 5, "{conflict:?}: {stderr}");
        assert!(stderr.contains(field), "{conflict:?}: {stderr}");
        assert_eq!(
            std::fs::read(sibling(&out, ".partial")).unwrap(),
            partial,
            "{conflict:?}"
        );
        assert!(!out.exists());
    }
    no_requests(&server);

    // Flags left out take the checkpoint's values.
    let (code, stderr) = run(datafold(server.url())
        .args(["audit-logs", "export", "--resume", "-o"])
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        event_uuids("jsonl", &std::fs::read_to_string(&out).unwrap()),
        seeded_uuids(&server, &start, &end)
    );
}

#[test]
fn a_foreign_checkpoint_is_refused_naming_the_field() {
    let server = slow_mock();
    let dir = scratch("foreign");
    let ours = dir.join("ours.jsonl");
    interrupted_export(&server, &ours);
    // Another export, of a range an hour later, interrupted the same way.
    let theirs = dir.join("theirs.jsonl");
    let (start, end) = seeded_range(&server);
    let shift = |t: &str| {
        (chrono::DateTime::parse_from_rfc3339(t).unwrap() + chrono::Duration::hours(1)).to_rfc3339()
    };
    let other_args = [
        "audit-logs",
        "export",
        "--start",
        &shift(&start),
        "--end",
        &shift(&end),
        "--window",
        "2h",
        "--concurrency",
        "1",
        "-o",
    ];
    interrupt_after_first_checkpoint(
        datafold(server.url()).args(other_args).arg(&theirs),
        &theirs,
    );
    std::fs::copy(
        sibling(&theirs, ".checkpoint"),
        sibling(&ours, ".checkpoint"),
    )
    .unwrap();
    let partial = std::fs::read(sibling(&ours, ".partial")).unwrap();
    server.clear_request_log();

    let (code, stderr) = run(datafold(server.url())
        .args(export_args(&server))
        .args(["--resume", "-o"])
        .arg(&ours));
    assert_eq!(code, 5, "{stderr}");
    // The differing field, with the checkpoint's value.
    assert!(
        stderr.contains("start") && stderr.contains(&shift(&start)),
        "{stderr}"
    );
    assert_eq!(std::fs::read(sibling(&ours, ".partial")).unwrap(), partial);
    assert!(!ours.exists());
    no_requests(&server);
}

/// The words of the refusal of an edited or damaged checkpoint.
const EDITED: &[&str] = &["was edited or damaged", "seal", "--restart"];

#[test]
fn edited_checkpoints_and_partial_files_are_refused() {
    let server = slow_mock();
    let dir = scratch("edited");
    let out = dir.join("audit.jsonl");
    // Two windows or more, and more output than the digest of its tail covers.
    interrupt_once_checkpointed(
        datafold(server.url())
            .args(export_args(&server))
            .arg("-o")
            .arg(&out),
        &out,
        |c| c["windows_done"].as_u64() >= Some(2) && c["output_bytes"].as_u64() > Some(80_000),
    );
    let partial_path = sibling(&out, ".partial");
    let checkpoint_path = sibling(&out, ".checkpoint");
    let partial = std::fs::read(&partial_path).unwrap();
    let checkpoint: Value =
        serde_json::from_slice(&std::fs::read(&checkpoint_path).unwrap()).unwrap();
    assert!(!out.exists());

    type Edit = fn(&mut Value, &mut Vec<u8>);
    let edits: [(&str, Edit, &[&str], &[&str]); 11] = [
        (
            "windows_done past the end",
            |c, _| c["windows_done"] = 99.into(),
            &[],
            EDITED,
        ),
        (
            // Resumed, the windows after it would be written twice.
            "windows_done lowered",
            |c, _| c["windows_done"] = (c["windows_done"].as_u64().unwrap() - 1).into(),
            &[],
            EDITED,
        ),
        (
            "records_done changed",
            |c, _| c["records_done"] = (c["records_done"].as_u64().unwrap() + 1).into(),
            &[],
            EDITED,
        ),
        (
            "unplaced_uuids changed",
            |c, _| {
                c["unplaced_uuids"] = serde_json::json!(["00000000-0000-0000-0000-000000000000"])
            },
            &[],
            EDITED,
        ),
        (
            "the seal itself edited",
            |c, _| c["seal"] = "0".repeat(64).into(),
            &[],
            EDITED,
        ),
        (
            "a checkpoint of the older format, without a seal",
            |c, _| {
                c["version"] = 2.into();
                c.as_object_mut().unwrap().remove("seal");
            },
            &[],
            &["format version 2", "--restart"],
        ),
        (
            "output_bytes null",
            |c, _| c["output_bytes"] = Value::Null,
            &[],
            &["output_bytes"],
        ),
        (
            "output_format missing, resumed as csv",
            |c, _| {
                c.as_object_mut().unwrap().remove("output_format");
            },
            &["--format", "csv"],
            &["output_format"],
        ),
        (
            "wrong digest",
            |c, _| c["output_tail_sha256"] = "0".repeat(64).into(),
            &[],
            EDITED,
        ),
        (
            "partial file changed",
            |c, p| {
                // A byte of the last record the checkpoint vouches for.
                let at = c["output_bytes"].as_u64().unwrap() as usize - 10;
                p[at] = if p[at] == b'x' { b'y' } else { b'x' };
            },
            &[],
            &["output_tail_sha256"],
        ),
        (
            // Before the last 64 KiB, which the digest covers: the first two
            // records become one line.
            "partial file's records joined before its digested tail",
            |_, p| {
                let at = p.iter().position(|&b| b == b'\n').unwrap();
                p[at] = b' ';
            },
            &[],
            &["records_done", "holds"],
        ),
    ];
    let mut failures = Vec::new();
    for (what, edit, extra, words) in edits {
        let mut edited_checkpoint = checkpoint.clone();
        let mut edited_partial = partial.clone();
        edit(&mut edited_checkpoint, &mut edited_partial);
        let _ = std::fs::remove_file(&out);
        std::fs::write(&partial_path, &edited_partial).unwrap();
        std::fs::write(
            &checkpoint_path,
            serde_json::to_vec_pretty(&edited_checkpoint).unwrap(),
        )
        .unwrap();
        server.clear_request_log();

        let (code, stderr) = run(datafold(server.url())
            .args(export_args(&server))
            .args(extra)
            .args(["--resume", "-o"])
            .arg(&out));
        let requests = server.request_log().len();
        let partial_kept = std::fs::read(&partial_path).ok().as_ref() == Some(&edited_partial);
        if code != 5
            || !words.iter().all(|word| stderr.contains(word))
            || !partial_kept
            || out.exists()
            || requests != 0
        {
            failures.push(format!(
                "{what}: exit {code}, partial file kept: {partial_kept}, output written: {}, \
                 {requests} requests; {stderr}",
                out.exists()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
