//! `export_rss` and `export_throughput`: exporting one window of many events
//! to JSON Lines in a child process, measured from outside.
//!
//! The mock serves from this process; the exporter is this program started
//! again as `datafold-bench export-child <mode> <url> <out>`. The child prints
//! `done <records> <bytes> <seconds>` and then waits for its stdin to close, so
//! the parent reads the child's `VmHWM` (peak resident set) from
//! `/proc/<pid>/status` and its CPU time from `/proc/<pid>/task/*/schedstat`
//! while it is still alive, with nothing left to run.
//!
//! Two modes, interleaved: `streaming` is the SDK's export
//! (`audit_logs().between(..).write_to_file(JsonLines, ..)`); `naive` is one
//! `audit_logs().list()` (the whole body buffered and decoded), then every
//! record written.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use datafold_sdk::audit::export::{ExportFormat, IfInterrupted};
use datafold_sdk::mock::MockServer;

use crate::handwritten::BoxError;
use crate::lines::Line;
use crate::samples::{cpu_secs, median, order, MOCK_THREAD};
use crate::{report, KEY};

/// How the child exports; the name is its `export-child` argument.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Debug)]
pub enum Mode {
    /// The SDK's streaming export.
    Streaming,
    /// One buffered `list()`, then every record written.
    Naive,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match clap::ValueEnum::to_possible_value(self) {
            Some(value) => f.write_str(value.get_name()),
            None => write!(f, "{self:?}"),
        }
    }
}

/// What one child run measured.
struct ChildRun {
    records: u64,
    bytes: u64,
    secs: f64,
    peak_mib: f64,
    cpu_secs: f64,
    mock_cpu_secs: f64,
}

fn window_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 1, 0, 0).unwrap()
}

/// Run both figures: `events` in one hour-long window, `runs` per mode.
pub fn run(events: u64, runs: usize) -> Result<(), BoxError> {
    let server = MockServer::builder()
        .api_key(KEY)
        .seed_events(events)
        .seed_window(window_end(), Duration::from_secs(3600))
        .start()?;
    println!(
        "export: {events} events in one window to JSON Lines, {runs} runs per mode, alternating"
    );
    let mut results: [Vec<ChildRun>; 2] = Default::default();
    for round in 0..runs {
        for mode in order(&[Mode::Streaming, Mode::Naive], round) {
            let run = run_child(mode, server.url())?;
            println!(
                "  {:<9}: {} records, {:.1} MiB written in {:.2} s ({:.0} events/s), peak RSS {:.1} MiB, \
                 CPU exporter {:.2} s, mock {:.2} s",
                mode.to_string(),
                run.records,
                run.bytes as f64 / 1048576.0,
                run.secs,
                run.records as f64 / run.secs,
                run.peak_mib,
                run.cpu_secs,
                run.mock_cpu_secs,
            );
            if run.records != events {
                return Err(format!("{mode} exported {} of {events}", run.records).into());
            }
            results[mode as usize].push(run);
        }
    }
    // Both modes wrote every record (checked above), but not the same bytes:
    // the export copies each record's text as the server sent it, while the
    // naive arm re-serializes the typed `AuditLog` (its timestamp as RFC 3339
    // with `Z`). So the sizes are compared within a mode, where they must
    // agree run after run.
    for (mode, runs) in [Mode::Streaming, Mode::Naive].iter().zip(&results) {
        let bytes: Vec<u64> = runs.iter().map(|r| r.bytes).collect();
        if bytes.iter().any(|&b| b != bytes[0]) {
            return Err(format!("the {mode} runs wrote different output sizes: {bytes:?}").into());
        }
    }

    let rate = |mode: Mode| {
        let rates: Vec<f64> = results[mode as usize]
            .iter()
            .map(|r| r.records as f64 / r.secs)
            .collect();
        median(&rates)
    };
    // The peak is a maximum, so report the highest of the runs.
    let peak = |mode: Mode| {
        results[mode as usize]
            .iter()
            .map(|r| r.peak_mib)
            .fold(0.0, f64::max)
    };
    let (streaming, naive) = (rate(Mode::Streaming), rate(Mode::Naive));
    report(Line::figure("export_rss_naive", peak(Mode::Naive), "MiB"));
    report(Line::figure("export_throughput_naive", naive, "events/s"));
    report(Line::figure("export_rss", peak(Mode::Streaming), "MiB"));
    report(Line::figure("export_throughput", streaming, "events/s"));
    report(Line::ratio(
        "export_throughput",
        "streaming/naive",
        streaming / naive,
    ));
    Ok(())
}

fn run_child(mode: Mode, url: &str) -> Result<ChildRun, BoxError> {
    let out = std::env::temp_dir().join(format!(
        "datafold-bench-{}-{mode}.jsonl",
        std::process::id()
    ));
    let mock_cpu_before = cpu_secs("self", MOCK_THREAD).unwrap_or(f64::NAN);
    let mut child = Command::new(std::env::current_exe()?)
        .arg("export-child")
        .arg(mode.to_string())
        .arg(url)
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id().to_string();
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().ok_or("no child stdout")?).read_line(&mut line);
    let peak_kib = status_kib(&pid, "VmHWM:");
    let cpu = cpu_secs(&pid, "");
    let mock_cpu_secs = cpu_secs("self", MOCK_THREAD).unwrap_or(f64::NAN) - mock_cpu_before;
    drop(child.stdin.take());
    let status = child.wait()?;
    let _ = std::fs::remove_file(&out);
    read?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let ["done", records, bytes, secs] = words.as_slice() else {
        return Err(format!("the {mode} export failed ({status}): {line:?}").into());
    };
    Ok(ChildRun {
        records: records.parse()?,
        bytes: bytes.parse()?,
        secs: secs.parse()?,
        peak_mib: peak_kib.ok_or("cannot read VmHWM from /proc (Linux only)")? as f64 / 1024.0,
        cpu_secs: cpu.unwrap_or(f64::NAN),
        mock_cpu_secs,
    })
}

/// A `kB` field of `/proc/<pid>/status`.
pub(crate) fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child (`export-child <mode> <url> <out>`): exports, prints
/// `done ...`, then waits for stdin to close.
pub fn child(mode: Mode, url: &str, out: &std::path::Path) -> Result<(), BoxError> {
    // As the export_rss example: two workers, as on the 2-core reference machine.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (from, to) = (window_end() - chrono::Duration::hours(1), window_end());
    let started = Instant::now();
    let (records, bytes) = runtime.block_on(async {
        let client = datafold_sdk::Client::builder()
            .api_key(KEY)
            .host(url)
            // The naive path holds the whole 480 MiB body on purpose: that
            // is the baseline the streaming export is measured against.
            .max_response_bytes(1 << 30)
            .build()?;
        match mode {
            Mode::Streaming => {
                let summary = client
                    .audit_logs()
                    .between(from, to)
                    .window(Duration::from_secs(3600))
                    .write_to_file(ExportFormat::JsonLines, out, IfInterrupted::Restart)
                    .await?;
                Ok::<_, BoxError>((summary.records, summary.bytes))
            }
            Mode::Naive => {
                let logs = client
                    .audit_logs()
                    .list()
                    .start(from)
                    .end(to)
                    .send()
                    .await?;
                let mut file =
                    std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::create(out)?);
                for record in &logs {
                    serde_json::to_writer(&mut file, record)?;
                    file.write_all(b"\n")?;
                }
                file.flush()?;
                let bytes = file.get_ref().metadata()?.len();
                Ok((logs.len() as u64, bytes))
            }
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "done {records} {bytes} {secs}")?;
    stdout.flush()?;
    drop(stdout);
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line)? > 0 {
        line.clear();
    }
    Ok(())
}
