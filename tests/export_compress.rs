//! Compressed exports (`audit-logs export --compress`, `.gz`/`.zst` outputs,
//! `AuditExport::write_compressed_to_file`): they decompress to exactly the
//! bytes of the uncompressed export, resume after an interruption to the
//! same bytes, count the records of every run, and refuse a resume with
//! another compression before writing or requesting anything.

#![cfg(feature = "cli")]

mod cli_support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafold_sdk::audit::export::{ExportFiles, ExportFormat, FileCheckpoint, IfInterrupted};
use datafold_sdk::compress::Compression;
use datafold_sdk::mock::{Faults, MockServer};
use datafold_sdk::{CheckpointRefusal, Error};
use serde_json::Value;

use cli_support::{seeded_range, seeded_uuids};

const KEY: &str = "export-compress-test-key";

fn mock_with(faults: Faults) -> MockServer {
    MockServer::builder()
        .api_key(KEY)
        .seed(11)
        .seed_events(2_000)
        .seed_window(chrono::Utc::now(), Duration::from_secs(2 * 86_400))
        .faults(faults)
        .start()
        .unwrap()
}

/// Slow enough (each answer delayed) to interrupt an export mid-way.
fn slow_mock() -> MockServer {
    mock_with(Faults::new().latency(Duration::from_millis(120)))
}

fn datafold(server: &MockServer) -> Command {
    cli_support::datafold(KEY, server.url())
}

/// `export` of the mock's seeded range in windows of 2 hours, one at a time
/// (15 windows).
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

fn run(command: &mut Command) -> (i32, String) {
    let Output { status, stderr, .. } = command.output().unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status.code().unwrap_or(-1), stderr)
}

fn scratch(name: &str) -> PathBuf {
    cli_support::scratch("compress", name)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// `bytes` decompressed by flate2's or zstd's own decoder, every member or
/// frame in turn.
fn decompress(bytes: &[u8], compression: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    match compression {
        Compression::None => out.extend_from_slice(bytes),
        Compression::Gzip => {
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut out)
                .unwrap();
        }
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(bytes)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        }
    }
    out
}

/// `gzip -dc` or `zstd -dc` of `path`, if the tool is installed.
fn tool_decompress(path: &Path, compression: Compression) -> Option<Vec<u8>> {
    let tool = match compression {
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
        Compression::None => return None,
    };
    let output = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    assert!(output.status.success(), "{tool} -dc {}", path.display());
    Some(output.stdout)
}

/// The uncompressed export of the mock's range into `dir`, as bytes.
fn plain_export(server: &MockServer, dir: &Path) -> Vec<u8> {
    let out = dir.join("plain.jsonl");
    let (code, stderr) = run(datafold(server)
        .args(export_args(server))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    std::fs::read(out).unwrap()
}

/// Start `command` (an export into `out`), wait until its checkpoint says
/// `enough`, then send it SIGINT (Ctrl-C) and wait for it to end.
fn interrupt_once_checkpointed(command: &mut Command, out: &Path, enough: impl Fn(&Value) -> bool) {
    let checkpoint = sibling(out, ".checkpoint");
    let child = command.stderr(Stdio::piped()).spawn().unwrap();
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
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(!out.exists());
}

fn windows_done_at_least(n: u64) -> impl Fn(&Value) -> bool {
    move |c| c["windows_done"].as_u64() >= Some(n)
}

#[test]
fn compressed_exports_decompress_to_the_bytes_of_the_plain_one() {
    let server = mock_with(Faults::new());
    let dir = scratch("same-bytes");
    let plain = plain_export(&server, &dir);
    let (start, end) = seeded_range(&server);
    assert_eq!(
        cli_support::event_uuids("jsonl", std::str::from_utf8(&plain).unwrap()),
        seeded_uuids(&server, &start, &end)
    );
    for compression in [Compression::Gzip, Compression::Zstd] {
        // By the name's suffix, and by the flag that agrees with it.
        let by_name = dir.join(format!("by-name.jsonl{}", compression.suffix()));
        let by_flag = dir.join(format!("by-flag.jsonl{}", compression.suffix()));
        for (out, flag) in [(&by_name, None), (&by_flag, Some(compression.name()))] {
            let mut command = datafold(&server);
            command.args(export_args(&server)).arg("-o").arg(out);
            if let Some(flag) = flag {
                command.args(["--compress", flag]);
            }
            let (code, stderr) = run(&mut command);
            assert_eq!(code, 0, "{compression}: {stderr}");
            let bytes = std::fs::read(out).unwrap();
            assert!(bytes.len() < plain.len() / 3, "{compression}: compressed");
            assert!(decompress(&bytes, compression) == plain, "{compression}");
            if let Some(by_tool) = tool_decompress(out, compression) {
                assert!(by_tool == plain, "{compression}: the tool reads it whole");
            }
            assert!(!sibling(out, ".checkpoint").exists());
        }

        // To stdout, when it is not a terminal.
        let Output { status, stdout, .. } = datafold(&server)
            .args(export_args(&server))
            .args(["--compress", compression.name()])
            .output()
            .unwrap();
        assert!(status.success(), "{compression}");
        assert!(decompress(&stdout, compression) == plain, "{compression}");
    }
}

#[test]
fn csv_and_json_compress_too() {
    let server = mock_with(Faults::new());
    let dir = scratch("formats");
    for format in ["csv", "json"] {
        let plain_out = dir.join(format!("plain.{format}"));
        let zst_out = dir.join(format!("packed.{format}.zst"));
        for out in [&plain_out, &zst_out] {
            let (code, stderr) = run(datafold(&server)
                .args(export_args(&server))
                .args(["--format", format, "-o"])
                .arg(out));
            assert_eq!(code, 0, "{format}: {stderr}");
        }
        assert!(
            decompress(&std::fs::read(&zst_out).unwrap(), Compression::Zstd)
                == std::fs::read(&plain_out).unwrap(),
            "{format}"
        );
    }
}

/// Interrupted twice and resumed twice: the output decompresses to the
/// bytes of an export that ran through, each checkpoint counts the records
/// of every run so far, and the summary too.
#[test]
fn an_interrupted_compressed_export_resumes_to_the_same_bytes() {
    let server = slow_mock();
    let dir = scratch("resume");
    let plain = plain_export(&server, &dir);
    let records = plain.iter().filter(|&&b| b == b'\n').count() as u64;
    for compression in [Compression::Gzip, Compression::Zstd] {
        let out = dir.join(format!("audit.jsonl{}", compression.suffix()));
        let partial = sibling(&out, ".partial");
        let mut counted = Vec::new();
        for windows in [3, 6] {
            let mut command = datafold(&server);
            command.args(export_args(&server));
            if windows > 3 {
                command.arg("--resume");
            }
            interrupt_once_checkpointed(
                command.arg("-o").arg(&out),
                &out,
                windows_done_at_least(windows),
            );
            let saved = FileCheckpoint::load(&sibling(&out, ".checkpoint"))
                .unwrap()
                .unwrap();
            assert_eq!(saved.output_compression, compression.name());
            // What the checkpoint vouches for is a complete stream holding
            // as many records as it counts, those of the earlier run too.
            let vouched = &std::fs::read(&partial).unwrap()[..saved.output_bytes as usize];
            let held = decompress(vouched, compression);
            assert!(plain.starts_with(&held), "{compression}: a prefix");
            let lines = held.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(saved.export.records_done, lines, "{compression}");
            counted.push(lines);
        }
        assert!(counted[0] > 0 && counted[1] > counted[0], "{counted:?}");

        let (code, stderr) = run(datafold(&server)
            .args(export_args(&server))
            .args(["--resume", "-o"])
            .arg(&out));
        assert_eq!(code, 0, "{compression}: {stderr}");
        let bytes = std::fs::read(&out).unwrap();
        assert!(decompress(&bytes, compression) == plain, "{compression}");
        if let Some(by_tool) = tool_decompress(&out, compression) {
            assert!(by_tool == plain, "{compression}: the tool reads it whole");
        }
        // The summary counts every run's records, and this run's apart.
        let summary = format!(
            "exported {records} events ({} in this run)",
            records - counted[1]
        );
        assert!(stderr.contains(&summary), "{summary}: {stderr}");
    }
}

#[test]
fn a_compress_flag_that_disagrees_with_the_name_is_a_usage_error() {
    let server = mock_with(Faults::new());
    let dir = scratch("flag-vs-name");
    for (name, flag, expected) in [
        ("audit.jsonl", "gzip", "audit.jsonl.gz"),
        ("audit.jsonl.gz", "zstd", "audit.jsonl.zst"),
        ("audit.jsonl.zst", "none", "audit.jsonl"),
    ] {
        let out = dir.join(name);
        let (code, stderr) = run(datafold(&server)
            .args(export_args(&server))
            .args(["--compress", flag, "-o"])
            .arg(&out));
        assert_eq!(code, 2, "{name} {flag}: {stderr}");
        assert!(
            stderr.contains(&dir.join(expected).display().to_string()),
            "{name} {flag}: {stderr}"
        );
        assert!(!out.exists() && !sibling(&out, ".partial").exists());
    }
    assert!(server.request_log().is_empty(), "no request was sent");
}

#[test]
fn resuming_with_another_compression_is_refused_and_writes_nothing() {
    let server = slow_mock();
    let dir = scratch("other-compression");
    let out = dir.join("audit.jsonl.gz");
    interrupt_once_checkpointed(
        datafold(&server)
            .args(export_args(&server))
            .arg("-o")
            .arg(&out),
        &out,
        windows_done_at_least(2),
    );
    let partial = std::fs::read(sibling(&out, ".partial")).unwrap();
    let checkpoint = std::fs::read(sibling(&out, ".checkpoint")).unwrap();
    server.clear_request_log();

    // A flag that disagrees with the name (and so with the checkpoint).
    let (code, stderr) = run(datafold(&server)
        .args(export_args(&server))
        .args(["--compress", "zstd", "--resume", "-o"])
        .arg(&out));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("audit.jsonl.zst"), "{stderr}");

    // A checkpoint whose compression is not the name's: the export was
    // started (through the SDK) zstd-compressed into a `.gz` name.
    let (saved_by_sdk, sdk_partial) = sdk_export_interrupted(&server, &dir, Compression::Zstd);
    server.clear_request_log();
    let (code, stderr) = run(datafold(&server)
        .args(export_args(&server))
        .args(["--resume", "-o"])
        .arg(&saved_by_sdk));
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("output_compression is zstd") && stderr.contains("--restart"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(sibling(&saved_by_sdk, ".partial")).unwrap(),
        sdk_partial
    );

    assert!(server.request_log().is_empty(), "no request was sent");
    assert_eq!(std::fs::read(sibling(&out, ".partial")).unwrap(), partial);
    assert_eq!(
        std::fs::read(sibling(&out, ".checkpoint")).unwrap(),
        checkpoint
    );
    assert!(!out.exists());
}

/// The CLI's export as the SDK sees it.
fn sdk_export(server: &MockServer) -> datafold_sdk::audit::export::AuditExport {
    let (start, end) = seeded_range(server);
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    server
        .client()
        .unwrap()
        .audit_logs()
        .between(parse(&start), parse(&end))
        .window(Duration::from_secs(7200))
        .concurrency(1)
}

/// An SDK export `compression`-compressed into `zstd-in-gz.jsonl.gz`,
/// dropped after its second window: the output's path and partial file.
fn sdk_export_interrupted(
    server: &MockServer,
    dir: &Path,
    compression: Compression,
) -> (PathBuf, Vec<u8>) {
    let out = dir.join("zstd-in-gz.jsonl.gz");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let second_window = Arc::new(tokio::sync::Notify::new());
        let notify = second_window.clone();
        let write = sdk_export(server)
            .on_progress(move |p| {
                if p.windows_done >= 2 {
                    notify.notify_one();
                }
            })
            .write_compressed_to_file(
                ExportFormat::JsonLines,
                compression,
                &out,
                IfInterrupted::Refuse,
            );
        tokio::select! {
            result = write => panic!("the export ended before it was interrupted: {result:?}"),
            () = second_window.notified() => {}
        }
    });
    let partial = std::fs::read(ExportFiles::new(&out).partial()).unwrap();
    (out, partial)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_refuses_another_compression_and_counts_every_run() {
    let server = slow_mock();
    let dir = scratch("sdk");
    let out = dir.join("audit.jsonl.zst");
    let files = ExportFiles::new(&out);
    let second_window = Arc::new(tokio::sync::Notify::new());
    let notify = second_window.clone();
    let write = sdk_export(&server)
        .on_progress(move |p| {
            if p.windows_done >= 2 {
                notify.notify_one();
            }
        })
        .write_compressed_to_file(
            ExportFormat::JsonLines,
            Compression::Zstd,
            &out,
            IfInterrupted::Refuse,
        );
    tokio::select! {
        result = write => panic!("the export ended before it was interrupted: {result:?}"),
        () = second_window.notified() => {}
    }
    let saved = files.load_checkpoint().unwrap().unwrap();
    let partial = std::fs::read(files.partial()).unwrap();
    server.clear_request_log();

    for (what, result) in [
        (
            "uncompressed",
            sdk_export(&server)
                .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Resume)
                .await,
        ),
        (
            "gzip",
            sdk_export(&server)
                .write_compressed_to_file(
                    ExportFormat::JsonLines,
                    Compression::Gzip,
                    &out,
                    IfInterrupted::Resume,
                )
                .await,
        ),
    ] {
        assert!(
            matches!(
                &result,
                Err(Error::Checkpoint {
                    refusal: CheckpointRefusal::Mismatch {
                        field: "output_compression"
                    },
                    problem,
                }) if problem.contains("zstd")
            ),
            "{what}: {result:?}"
        );
    }
    assert_eq!(std::fs::read(files.partial()).unwrap(), partial);
    assert!(server.request_log().is_empty(), "no request was sent");

    // Resumed: the progress and the summary count the earlier run too.
    let first_report = Arc::new(std::sync::Mutex::new(None));
    let report = first_report.clone();
    let summary = sdk_export(&server)
        .on_progress(move |p| {
            report.lock().unwrap().get_or_insert(*p);
        })
        .write_compressed_to_file(
            ExportFormat::JsonLines,
            Compression::Zstd,
            &out,
            IfInterrupted::Resume,
        )
        .await
        .unwrap();
    let (start, end) = seeded_range(&server);
    let total = seeded_uuids(&server, &start, &end).len() as u64;
    assert_eq!(summary.records_total, total);
    assert_eq!(summary.records, total - saved.export.records_done);
    assert_eq!(summary.bytes, std::fs::metadata(&out).unwrap().len());
    let first = first_report.lock().unwrap().unwrap();
    assert_eq!(
        (first.records, first.records_total, first.windows_done),
        (0, saved.export.records_done, saved.export.windows_done)
    );
    assert!(first.range_secs_done_before > 0 && first.range_secs_done_before < first.range_secs);
    let text = decompress(&std::fs::read(&out).unwrap(), Compression::Zstd);
    assert_eq!(
        cli_support::event_uuids("jsonl", std::str::from_utf8(&text).unwrap()),
        seeded_uuids(&server, &start, &end)
    );
}

#[test]
fn a_checkpoint_of_the_previous_version_says_what_to_do() {
    let server = slow_mock();
    let dir = scratch("old-version");
    let out = dir.join("audit.jsonl.gz");
    interrupt_once_checkpointed(
        datafold(&server)
            .args(export_args(&server))
            .arg("-o")
            .arg(&out),
        &out,
        windows_done_at_least(1),
    );
    // Version 4 did not record the compression (nor was it sealed with it).
    let checkpoint_path = sibling(&out, ".checkpoint");
    let mut checkpoint: Value =
        serde_json::from_slice(&std::fs::read(&checkpoint_path).unwrap()).unwrap();
    checkpoint["version"] = 4.into();
    checkpoint
        .as_object_mut()
        .unwrap()
        .remove("output_compression");
    std::fs::write(
        &checkpoint_path,
        serde_json::to_vec_pretty(&checkpoint).unwrap(),
    )
    .unwrap();
    let partial = std::fs::read(sibling(&out, ".partial")).unwrap();
    server.clear_request_log();

    let (code, stderr) = run(datafold(&server)
        .args(export_args(&server))
        .args(["--resume", "-o"])
        .arg(&out));
    assert_eq!(code, 5, "{stderr}");
    for words in [
        "format version 4",
        "version 5",
        "--restart",
        "without --resume",
    ] {
        assert!(stderr.contains(words), "{words}: {stderr}");
    }
    assert_eq!(std::fs::read(sibling(&out, ".partial")).unwrap(), partial);
    assert!(server.request_log().is_empty(), "no request was sent");
}

/// A byte changed before the tail the checkpoint's digest covers: the
/// compressed prefix no longer decodes, and the resume says the file changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_compressed_partial_file_is_refused() {
    // Dense enough that a few windows compress to well over 64 KiB.
    let server = MockServer::builder()
        .api_key(KEY)
        .seed(12)
        .seed_events(20_000)
        .seed_window(chrono::Utc::now(), Duration::from_secs(2 * 86_400))
        .faults(Faults::new().latency(Duration::from_millis(50)))
        .start()
        .unwrap();
    let dir = scratch("damaged");
    for compression in [Compression::Gzip, Compression::Zstd] {
        let out = dir.join(format!("audit.jsonl{}", compression.suffix()));
        let files = ExportFiles::new(&out);
        let big_enough = Arc::new(tokio::sync::Notify::new());
        let notify = big_enough.clone();
        let checkpoint = files.checkpoint().to_owned();
        let write = sdk_export(&server)
            .on_progress(move |p| {
                let saved = FileCheckpoint::load(&checkpoint).ok().flatten();
                if p.windows_done >= 2 && saved.is_some_and(|c| c.output_bytes > 200_000) {
                    notify.notify_one();
                }
            })
            .write_compressed_to_file(
                ExportFormat::JsonLines,
                compression,
                &out,
                IfInterrupted::Refuse,
            );
        tokio::select! {
            result = write => panic!("the export ended before it was interrupted: {result:?}"),
            () = big_enough.notified() => {}
        }
        let mut partial = std::fs::read(files.partial()).unwrap();
        partial[1000] ^= 0x55;
        std::fs::write(files.partial(), &partial).unwrap();
        server.clear_request_log();

        let result = sdk_export(&server)
            .write_compressed_to_file(
                ExportFormat::JsonLines,
                compression,
                &out,
                IfInterrupted::Resume,
            )
            .await;
        match &result {
            Err(Error::Checkpoint {
                refusal: CheckpointRefusal::Mismatch { field },
                problem,
            }) => assert!(
                *field == "output_bytes"
                    && problem.contains(&format!("do not decompress as {compression}"))
                    && problem.contains("changed since"),
                "{compression}: {field}: {problem}"
            ),
            other => panic!("{compression}: {other:?}"),
        }
        assert_eq!(std::fs::read(files.partial()).unwrap(), partial);
        assert!(server.request_log().is_empty(), "no request was sent");
    }
}

/// Compressed bytes are not written to a terminal; `script` gives the
/// command one (skipped where it is not installed).
#[test]
fn compressed_output_to_a_terminal_is_refused() {
    let server = mock_with(Faults::new());
    let mut command = vec![env!("CARGO_BIN_EXE_datafold").to_owned()];
    command.extend(export_args(&server));
    command.extend(["--compress".into(), "gzip".into()]);
    let output = Command::new("script")
        .args(["-qec", &command.join(" "), "/dev/null"])
        .env_remove("DATAFOLD_APIKEY")
        .env("DATAFOLD_API_KEY", KEY)
        .env("DATAFOLD_HOST", server.url())
        .stdin(Stdio::null())
        .output();
    let Ok(output) = output else {
        eprintln!("script is not installed: skipped");
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("not to a terminal"), "{text}");
    assert!(server.request_log().is_empty(), "no request was sent");
}

#[test]
fn a_partial_file_without_its_checkpoint_is_refused_and_kept() {
    let server = slow_mock();
    let dir = scratch("no-checkpoint");
    for name in ["audit.jsonl", "audit.jsonl.gz", "audit.jsonl.zst"] {
        let out = dir.join(name);
        interrupt_once_checkpointed(
            datafold(&server)
                .args(export_args(&server))
                .arg("-o")
                .arg(&out),
            &out,
            windows_done_at_least(2),
        );
        std::fs::remove_file(sibling(&out, ".checkpoint")).unwrap();
        let partial = std::fs::read(sibling(&out, ".partial")).unwrap();
        assert!(!partial.is_empty());
        server.clear_request_log();

        // --resume, with the range flags or without: refused, nothing touched.
        for with_range in [true, false] {
            let mut command = datafold(&server);
            if with_range {
                command.args(export_args(&server));
            } else {
                command.args(["audit-logs", "export"]);
            }
            let (code, stderr) = run(command.args(["--resume", "-o"]).arg(&out));
            assert_eq!(code, 5, "{name}: {stderr}");
            assert!(
                stderr.contains(&format!("{name}.partial")) && stderr.contains("cannot be resumed"),
                "{stderr}"
            );
            assert!(stderr.contains("--restart"), "{stderr}");
        }
        // Without --resume: the advice is not --resume, which cannot work.
        let (code, stderr) = run(datafold(&server)
            .args(export_args(&server))
            .arg("-o")
            .arg(&out));
        assert_eq!(code, 5, "{stderr}");
        assert!(stderr.contains("cannot be resumed"), "{stderr}");
        assert!(!stderr.contains("rerun with --resume"), "{stderr}");

        assert!(server.request_log().is_empty(), "no request was sent");
        assert_eq!(std::fs::read(sibling(&out, ".partial")).unwrap(), partial);
        assert!(!out.exists());

        // --restart starts over, as it says.
        let (code, stderr) = run(datafold(&server)
            .args(export_args(&server))
            .args(["--restart", "-o"])
            .arg(&out));
        assert_eq!(code, 0, "{stderr}");
        assert!(out.exists() && !sibling(&out, ".partial").exists());
    }
}

#[test]
fn the_sdk_refuses_to_resume_a_partial_file_without_its_checkpoint() {
    let server = slow_mock();
    let dir = scratch("sdk-no-checkpoint");
    let (out, partial) = sdk_export_interrupted(&server, &dir, Compression::Gzip);
    std::fs::remove_file(sibling(&out, ".checkpoint")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime
        .block_on(sdk_export(&server).write_compressed_to_file(
            ExportFormat::JsonLines,
            Compression::Gzip,
            &out,
            IfInterrupted::Resume,
        ))
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Checkpoint {
                refusal: CheckpointRefusal::NoCheckpoint,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("IfInterrupted::Restart"),
        "{error}"
    );
    assert_eq!(std::fs::read(sibling(&out, ".partial")).unwrap(), partial);
}
