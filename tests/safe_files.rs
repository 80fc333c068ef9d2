//! The SDK's file writing against a hostile directory: `write_to_file`,
//! checkpoints and `safe_file` refuse symbolic links, non-regular, read-only
//! and hard-linked files before any request, and an interrupted export is
//! only continued by a checkpoint of the same export.

#![cfg(unix)]

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use datafold_sdk::audit::export::{
    AuditExport, Checkpoint, ExportFiles, ExportFormat, FileCheckpoint, IfInterrupted,
};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use datafold_sdk::{safe_file, CheckpointRefusal, Client, Error, RetryPolicy};

const KEY: &str = "safe-files-test-key";

fn range_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn range_start() -> DateTime<Utc> {
    range_end() - chrono::Duration::hours(10)
}

fn server(faults: Faults) -> MockServer {
    MockServer::builder()
        .api_key(KEY)
        .seed(3)
        .seed_events(2_000)
        .seed_window(range_end(), Duration::from_secs(10 * 3600))
        .faults(faults)
        .start()
        .unwrap()
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .host(server.url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn export(client: &Client) -> AuditExport {
    client
        .audit_logs()
        .between(range_start(), range_end())
        .window(Duration::from_secs(3600))
        .concurrency(1)
}

fn truth(server: &MockServer) -> Vec<String> {
    let mut uuids: Vec<String> = server
        .seeded_audit_events(Some(range_start()), Some(range_end()))
        .into_iter()
        .map(|e| e.event_uuid)
        .collect();
    uuids.sort();
    uuids
}

fn exported(path: &Path) -> Vec<String> {
    let mut uuids: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_uuid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    uuids.sort();
    uuids
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("datafold-safe-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn refused_path(result: datafold_sdk::Result<impl std::fmt::Debug>) -> PathBuf {
    match result {
        Err(Error::UnsafeFile { path, .. }) => path,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Run the export into `out` until its first checkpoint is saved, then drop
/// it, as a crash or Ctrl-C would.
async fn interrupt_after_first_window(export: AuditExport, out: &Path) {
    let first_window = Arc::new(tokio::sync::Notify::new());
    let notify = first_window.clone();
    let write = export
        .on_progress(move |p| {
            if p.windows_done >= 1 {
                notify.notify_one();
            }
        })
        .write_to_file(ExportFormat::JsonLines, out, IfInterrupted::Refuse);
    tokio::select! {
        result = write => panic!("the export ended before it was interrupted: {result:?}"),
        () = first_window.notified() => {}
    }
    let files = ExportFiles::new(out);
    assert!(files.partial().exists() && files.checkpoint().exists());
}

#[tokio::test]
async fn unsafe_targets_are_refused_before_any_request() {
    let server = server(Faults::new());
    let client = client(&server);
    let dir = scratch("targets");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let read_only = dir.join("read-only.jsonl");
    std::fs::write(&read_only, "kept").unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o444)).unwrap();
    let linked = dir.join("linked.jsonl");
    std::os::unix::fs::symlink(&victim, &linked).unwrap();
    let partial_linked = dir.join("p.jsonl");
    std::os::unix::fs::symlink(&victim, ExportFiles::new(&partial_linked).partial()).unwrap();
    let checkpoint_linked = dir.join("c.jsonl");
    std::os::unix::fs::symlink(&victim, ExportFiles::new(&checkpoint_linked).checkpoint()).unwrap();

    for (out, refused) in [
        (dir.clone(), dir.clone()),
        (fifo.clone(), fifo.clone()),
        (read_only.clone(), read_only.clone()),
        (linked.clone(), linked.clone()),
        (
            partial_linked.clone(),
            ExportFiles::new(&partial_linked).partial().to_owned(),
        ),
        (
            checkpoint_linked.clone(),
            ExportFiles::new(&checkpoint_linked).checkpoint().to_owned(),
        ),
    ] {
        for if_interrupted in [
            IfInterrupted::Refuse,
            IfInterrupted::Resume,
            IfInterrupted::Restart,
        ] {
            let result = export(&client)
                .write_to_file(ExportFormat::JsonLines, &out, if_interrupted)
                .await;
            assert_eq!(refused_path(result), refused, "{if_interrupted:?}");
        }
    }
    assert!(server.request_log().is_empty(), "no request was sent");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&read_only).unwrap(), "kept");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(!ExportFiles::new(&read_only).partial().exists());
    assert!(!ExportFiles::new(&fifo).partial().exists());
}

#[tokio::test]
async fn a_run_that_fails_before_its_first_window_leaves_nothing() {
    let server = server(
        Faults::new()
            .rate(Fault::Unavailable, 1.0)
            .retry_after_secs(0),
    );
    let dir = scratch("first-window");
    let out = dir.join("audit.jsonl");
    let result = export(&client(&server))
        .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Refuse)
        .await;
    assert!(matches!(result, Err(Error::Server(_))), "{result:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "files left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_export_is_refused_unless_resumed_or_restarted() {
    let server = server(Faults::new().latency(Duration::from_millis(40)));
    let client = client(&server);
    let dir = scratch("interrupted");
    let out = dir.join("audit.jsonl");
    let files = ExportFiles::new(&out);
    interrupt_after_first_window(export(&client), &out).await;
    let partial = std::fs::read(files.partial()).unwrap();

    let refused = export(&client)
        .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Refuse)
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::Checkpoint {
                refusal: CheckpointRefusal::Interrupted,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(files.partial()).unwrap(), partial);

    export(&client)
        .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
        .await
        .unwrap();
    assert_eq!(exported(&out), truth(&server), "0 lost, 0 doubled");
    assert!(!files.partial().exists() && !files.checkpoint().exists());

    interrupt_after_first_window(export(&client), &dir.join("again.jsonl")).await;
    export(&client)
        .write_to_file(
            ExportFormat::JsonLines,
            &dir.join("again.jsonl"),
            IfInterrupted::Restart,
        )
        .await
        .unwrap();
    assert_eq!(exported(&dir.join("again.jsonl")), truth(&server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_from_another_host_is_refused() {
    let first = server(Faults::new().latency(Duration::from_millis(40)));
    let second = server(Faults::new());
    let dir = scratch("host");
    let out = dir.join("audit.jsonl");
    interrupt_after_first_window(export(&client(&first)), &out).await;
    let partial = std::fs::read(ExportFiles::new(&out).partial()).unwrap();

    let result = export(&client(&second))
        .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
        .await;
    match &result {
        Err(Error::Checkpoint {
            refusal: CheckpointRefusal::Mismatch { field: "host" },
            problem,
        }) => assert!(problem.contains(first.url()), "{problem}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read(ExportFiles::new(&out).partial()).unwrap(),
        partial
    );
    assert!(second.request_log().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_checkpoint_is_refused_before_anything_is_written_or_requested() {
    let server = server(Faults::new().latency(Duration::from_millis(40)));
    let client = client(&server);
    let dir = scratch("edited");
    let out = dir.join("audit.jsonl");
    let files = ExportFiles::new(&out);
    interrupt_after_first_window(export(&client), &out).await;
    let partial = std::fs::read(files.partial()).unwrap();
    let saved = std::fs::read(files.checkpoint()).unwrap();
    server.clear_request_log();

    for field in ["windows_done", "records_done"] {
        let mut edited: serde_json::Value = serde_json::from_slice(&saved).unwrap();
        edited[field] = (edited[field].as_u64().unwrap() + 1).into();
        std::fs::write(files.checkpoint(), serde_json::to_vec(&edited).unwrap()).unwrap();
        let result = export(&client)
            .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
            .await;
        match &result {
            Err(Error::Checkpoint {
                refusal: CheckpointRefusal::Unreadable,
                problem,
            }) => assert!(
                problem.contains("was edited or damaged") && problem.contains("seal"),
                "{field}: {problem}"
            ),
            other => panic!("{field}: {other:?}"),
        }
        assert_eq!(std::fs::read(files.partial()).unwrap(), partial, "{field}");
        assert!(!out.exists(), "{field}");
    }
    assert!(server.request_log().is_empty(), "no request was sent");

    // Unedited, it resumes: nothing lost, nothing doubled.
    std::fs::write(files.checkpoint(), &saved).unwrap();
    export(&client)
        .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
        .await
        .unwrap();
    assert_eq!(exported(&out), truth(&server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_counting_other_records_than_its_file_holds_is_refused() {
    let server = server(Faults::new().latency(Duration::from_millis(40)));
    let client = client(&server);
    let dir = scratch("records-done");
    let out = dir.join("audit.jsonl");
    let files = ExportFiles::new(&out);
    interrupt_after_first_window(export(&client), &out).await;
    let partial = std::fs::read(files.partial()).unwrap();
    // Saved through the SDK, so sealed: only the file can contradict it.
    let mut saved = FileCheckpoint::load(files.checkpoint()).unwrap().unwrap();
    saved.export.records_done += 1;
    saved.save(files.checkpoint()).unwrap();
    server.clear_request_log();

    let result = export(&client)
        .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
        .await;
    match &result {
        Err(Error::Checkpoint {
            refusal:
                CheckpointRefusal::Mismatch {
                    field: "records_done",
                },
            problem,
        }) => assert!(
            problem.contains(&saved.export.records_done.to_string()),
            "{problem}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(files.partial()).unwrap(), partial);
    assert!(server.request_log().is_empty(), "no request was sent");
}

#[tokio::test]
async fn a_csv_export_whose_fields_hold_line_ends_and_quotes_resumes() {
    // Records with line ends and quotes inside fields: CSV rows that span
    // lines, which the resume's count of records must not mistake for more.
    let in_first_window = |i: u32| range_start() + chrono::Duration::minutes(10 * i64::from(i));
    let logs: Vec<_> = (0..3u32)
        .map(|i| {
            serde_json::json!({
                "timestamp": in_first_window(i).to_rfc3339(),
                "event_uuid": format!("uuid-{i}"),
                "client_ip": "10.0.0.1",
                "url": "/x",
                "log_entry": format!("line one\nline two, \"quoted\"\r\n{i}"),
                "user_agent": "say \"hi\"\n",
            })
        })
        .collect();
    // The first run: the first window, then a failure. The resumed run: an
    // empty second window.
    let server = common::CaptureServer::script(vec![
        common::Reply::json(200, serde_json::json!({ "logs": logs })),
        common::Reply::json(503, serde_json::json!({ "detail": "try later" })),
        common::Reply::json(200, serde_json::json!({ "logs": [] })),
    ])
    .await;
    let two_windows = |client: &Client| {
        client
            .audit_logs()
            .between(range_start(), range_start() + chrono::Duration::hours(2))
            .window(Duration::from_secs(3600))
            .concurrency(1)
    };
    let dir = scratch("csv-line-ends");
    let out = dir.join("audit.csv");
    let result = two_windows(&server.client())
        .write_to_file(ExportFormat::Csv, &out, IfInterrupted::Refuse)
        .await;
    assert!(matches!(result, Err(Error::Server(_))), "{result:?}");
    let saved = FileCheckpoint::load(ExportFiles::new(&out).checkpoint())
        .unwrap()
        .unwrap();
    assert_eq!(
        (saved.export.windows_done, saved.export.records_done),
        (1, 3)
    );

    let resumed = two_windows(&server.client())
        .write_to_file(ExportFormat::Csv, &out, IfInterrupted::Resume)
        .await;
    assert!(resumed.is_ok(), "{resumed:?}");
    let text = std::fs::read(&out).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_slice());
    let rows: Vec<_> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[2][15], "line one\nline two, \"quoted\"\r\n2");
}

#[test]
fn an_edited_checkpoint_does_not_load() {
    let dir = scratch("checkpoint-edit");
    let path = dir.join("export.checkpoint");
    let checkpoint = Checkpoint {
        version: 5,
        host: "https://app.datafold.com".into(),
        start: range_start(),
        end: range_end(),
        window_secs: 3600,
        overlap_secs: 60,
        windows_done: 6,
        done_until: range_start() + chrono::Duration::hours(6),
        records_done: 500,
        unplaced_uuids: vec!["an-unplaced-uuid".into()],
    };
    checkpoint.save(&path).unwrap();
    assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint));
    let saved = std::fs::read_to_string(&path).unwrap();
    for (from, to) in [
        ("\"windows_done\": 6", "\"windows_done\": 2"),
        ("\"records_done\": 500", "\"records_done\": 50"),
        ("an-unplaced-uuid", "another-uuid"),
    ] {
        assert!(saved.contains(from), "{saved}");
        std::fs::write(&path, saved.replace(from, to)).unwrap();
        let result = Checkpoint::load(&path);
        assert!(
            matches!(
                &result,
                Err(Error::Checkpoint {
                    refusal: CheckpointRefusal::Unreadable,
                    problem,
                }) if problem.contains("was edited or damaged")
            ),
            "{to}: {result:?}"
        );
    }
}

#[tokio::test]
async fn resume_from_refuses_a_checkpoint_past_the_plan() {
    let server = server(Faults::new());
    let client = client(&server);
    let mut checkpoint = Checkpoint {
        version: 5,
        host: client.host().to_owned(),
        start: range_start(),
        end: range_end(),
        window_secs: 3600,
        overlap_secs: 60,
        windows_done: 10,
        done_until: range_start() + chrono::Duration::hours(10),
        records_done: 5,
        unplaced_uuids: Vec::new(),
    };
    assert!(export(&client).resume_from(checkpoint.clone()).is_ok());
    checkpoint.windows_done = 11;
    let result = export(&client).resume_from(checkpoint);
    assert!(
        matches!(
            result,
            Err(Error::Checkpoint {
                refusal: CheckpointRefusal::Mismatch {
                    field: "windows_done"
                },
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn checkpoints_are_saved_without_following_links() {
    let dir = scratch("checkpoint-save");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let checkpoint = Checkpoint {
        version: 5,
        host: "https://app.datafold.com".into(),
        start: range_start(),
        end: range_end(),
        window_secs: 3600,
        overlap_secs: 60,
        windows_done: 1,
        done_until: range_start() + chrono::Duration::hours(1),
        records_done: 5,
        unplaced_uuids: Vec::new(),
    };
    // A link at the old fixed temp name is never used...
    let path = dir.join("export.checkpoint");
    std::os::unix::fs::symlink(&victim, dir.join("export.checkpoint.tmp")).unwrap();
    checkpoint.save(&path).unwrap();
    assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint.clone()));
    // ...and a link at the checkpoint's own name is refused.
    let linked = dir.join("linked.checkpoint");
    std::os::unix::fs::symlink(&victim, &linked).unwrap();
    assert_eq!(refused_path(checkpoint.save(&linked)), linked);
    assert_eq!(refused_path(Checkpoint::load(&linked)), linked);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "export.checkpoint",
            "export.checkpoint.tmp",
            "linked.checkpoint",
            "victim"
        ],
        "no temporary file left"
    );
}

#[test]
fn a_replaced_file_keeps_its_mode_and_a_read_only_one_is_refused() {
    let dir = scratch("modes");
    let path = dir.join("state.json");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    safe_file::write_atomically(&path, b"new").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_eq!(refused_path(safe_file::write_atomically(&path, b"x")), path);
    assert_eq!(refused_path(safe_file::open_to_update(&path)), path);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
}

#[test]
fn hard_linked_and_symlinked_files_are_not_opened_for_update() {
    let dir = scratch("links");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let hard = dir.join("hard");
    std::fs::hard_link(&victim, &hard).unwrap();
    let soft = dir.join("soft");
    std::os::unix::fs::symlink(&victim, &soft).unwrap();
    assert_eq!(refused_path(safe_file::open_to_update(&hard)), hard);
    assert_eq!(refused_path(safe_file::open_to_update(&soft)), soft);
    match safe_file::open_to_read(&soft) {
        Err(Error::InputFile { path, reason }) => {
            assert_eq!(path, soft);
            assert!(reason.contains("symbolic link"), "{reason}");
        }
        other => panic!("expected a refusal to read, got {other:?}"),
    }
    assert_eq!(refused_path(safe_file::create_new(&soft)), soft);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn files_that_cannot_be_read_say_so_never_refusing_to_write() {
    let dir = scratch("reads");
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let big = dir.join("big");
    std::fs::write(&big, vec![b'x'; 2048]).unwrap();
    let cases = [
        (safe_file::read_capped(&fifo, 1024), "not a regular file"),
        (safe_file::read_capped(&big, 1024), "longer than 1024 bytes"),
        (safe_file::read_capped(&dir, 1024), "directory"),
        (
            safe_file::read_capped(&dir.join("missing"), 1024),
            "check the path",
        ),
    ];
    for (result, says) in cases {
        let error = result.unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, Error::InputFile { .. }), "{error:?}");
        assert!(message.starts_with("cannot read "), "{message}");
        assert!(message.contains(says), "{message}");
        assert!(!message.contains("write"), "{message}");
    }
}
