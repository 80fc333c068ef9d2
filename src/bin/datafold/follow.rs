//! `datafold audit-logs follow`: poll the audit log and write each new
//! record once, to stdout or rotated files, resumable through `--state`.
//!
//! The order at each poll's end: the records are made durable (stdout
//! flushed; a file's compressed frame ended and the file synced), then the
//! state file is replaced atomically. So a crash at any moment leaves a
//! state that covers only durable records; a restart cuts the open file back
//! to what the state records and reads the rest again. On stdout, records
//! written after the last saved state are written again after a crash (at
//! least once); with `--output-dir`, exactly once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use datafold_sdk::audit::follow::{FollowEvent, FollowState, PollReport};
use datafold_sdk::safe_file;
use serde::{Deserialize, Serialize};

use futures_util::future::Either;

use crate::audit::{since_ago, CompressFlag};
use crate::follow_hooks::{Hook, OnClose};
use crate::follow_metrics::Metrics;
use crate::follow_output::{Output, OutputError, Position, Rotation};
use crate::time::{human, parse_duration};
use crate::{CliError, CliResult, Global};

/// The state file format.
const STATE_VERSION: u32 = 1;
/// The largest state file read.
const MAX_STATE_BYTES: u64 = 256 * 1024 * 1024;
/// Records written between two saves of the state within a long poll.
const SAVE_EVERY_RECORDS: u64 = 50_000;

#[derive(Args, Debug)]
pub struct FollowArgs {
    /// Time from one poll to the next
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    interval: Duration,
    /// How far each poll reaches back, for records committed late
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    lag: Duration,
    /// Without a state, start at TIME or this long ago [default: now]
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_since)]
    since: Option<Since>,
    /// Without a state, go on from where a finished `export --output FILE` ends
    #[arg(long, value_name = "FILE", conflicts_with = "since")]
    after_export: Option<PathBuf>,
    /// Keep the position in FILE, to resume from after a restart
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Write files into DIR, rotated, instead of stdout
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Close a file at this size in MiB
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 100,
        requires = "output_dir"
    )]
    rotate_mib: u64,
    /// Close a file at this age
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h", requires = "output_dir")]
    rotate_every: Duration,
    /// Compress each file
    #[arg(long, value_name = "HOW", value_enum, default_value_t = CompressFlag::None, requires = "output_dir")]
    compress: CompressFlag,
    /// Run CMD with each closed file's path ({} or last); end CMD with ';'
    #[arg(
        long,
        value_name = "CMD",
        num_args = 1..,
        value_terminator = ";",
        allow_hyphen_values = true,
        requires = "output_dir"
    )]
    on_close: Option<Vec<String>>,
    /// Kill a run of --on-close after this long
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m", requires = "on_close")]
    on_close_timeout: Duration,
    /// Keep records that cannot be read here [default: DIR/rejected with --output-dir]
    #[arg(long, value_name = "DIR")]
    rejected_dir: Option<PathBuf>,
    // Help text as an attribute: rustdoc would read `[HOST:]` as a link.
    #[arg(
        long,
        value_name = "ADDR",
        value_parser = crate::follow_metrics::parse_addr,
        help = "Serve /metrics and /healthz on [HOST:]PORT (loopback unless a HOST is given)"
    )]
    metrics_addr: Option<SocketAddr>,
    /// /healthz fails after this long without a successful poll [default: 3 intervals, at least 1m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "metrics_addr")]
    unhealthy_after: Option<Duration>,
    /// Exit (code 6 or 7) after this long without a successful poll [default: never]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_outage: Option<Duration>,
}

/// `--since`: a time, or a duration before now.
#[derive(Debug, Clone, Copy)]
enum Since {
    At(DateTime<Utc>),
    Ago(Duration),
}

fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(ago) = parse_duration(text) {
        return Ok(Since::Ago(ago));
    }
    crate::time::parse_time(text).map(Since::At).map_err(|_| {
        format!("{text:?} is neither a duration (90s, 15m, 2h) nor a time (2026-11-01T12:00:00Z)")
    })
}

/// The state file: whose it is, where the output stands, and the follower.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    output: Position,
    follow: FollowState,
}

/// Where this run starts, for its first log line.
enum Start {
    Resumed,
    AfterExport { records: u64, taken_over: usize },
    Fresh,
}

pub async fn run(args: FollowArgs, global: &Global) -> CliResult {
    crate::log::use_lines();
    let client = global.client()?;
    let saved = match &args.state {
        Some(path) => load_state(path)?,
        None => None,
    };
    let rotation = Rotation {
        max_bytes: args.rotate_mib.saturating_mul(1 << 20),
        max_age: args.rotate_every,
        compression: args.compress.into(),
    };
    // The directory first (created when missing), so that locking it never
    // creates anything else under its name.
    if let Some(dir) = &args.output_dir {
        crate::follow_output::prepare_dir(dir)?;
    }
    if let Some(dir) = rejected_dir(&args) {
        crate::follow_output::check_dir_for(&dir, "--rejected-dir")?;
    }
    // One run at a time per state file and per directory: a second would
    // cut back or remove the first one's open file.
    let _locks = (
        args.state
            .as_deref()
            .map(|p| lock(&lock_path(p), "--state"))
            .transpose()?,
        args.output_dir
            .as_deref()
            .map(|d| lock(d, "--output-dir"))
            .transpose()?,
    );
    let (position, resume) = match saved {
        Some(state) => (Some(state.output), Some(state.follow)),
        None => (None, None),
    };
    if resume.is_some() && (args.since.is_some() || args.after_export.is_some()) {
        tracing::info!(
            "--since and --after-export are not used: the --state file says where to go on from"
        );
    }
    let mut follow = client
        .audit_logs()
        .follow()
        .interval(args.interval)
        .lag(args.lag);
    let start = match resume {
        Some(state) => {
            follow = follow.resume_from(state);
            Start::Resumed
        }
        None => match (&args.after_export, args.since) {
            (Some(file), _) => {
                let handoff = crate::follow_handoff::read(file, args.lag)?;
                let taken_over = handoff.passed_on.len();
                follow = follow.since(handoff.since).passed_on(handoff.passed_on);
                Start::AfterExport {
                    records: handoff.records,
                    taken_over,
                }
            }
            (None, Some(Since::At(at))) => {
                follow = follow.since(at);
                Start::Fresh
            }
            (None, Some(Since::Ago(ago))) => {
                follow = follow.since(since_ago(Utc::now(), ago)?);
                Start::Fresh
            }
            (None, None) => Start::Fresh,
        },
    };
    let mut follower = follow.start().map_err(|e| match e {
        datafold_sdk::Error::FollowState { problem } => {
            CliError::input(format!("the --state file cannot be used: {problem}"))
        }
        other => other.into(),
    })?;
    // Listening before anything is saved: a SIGTERM after the first save
    // is a clean stop, never the default kill.
    let mut stop = Box::pin(shutdown());
    let mut out = Output::open(
        args.output_dir.as_deref(),
        rotation,
        position,
        args.state.is_some(),
    )?;
    let metrics = Metrics::new(follower.watermark());
    let listening = match args.metrics_addr {
        Some(addr) => {
            let bound = args
                .unhealthy_after
                .unwrap_or_else(|| args.interval.saturating_mul(3).max(Duration::from_secs(60)));
            Some(crate::follow_metrics::serve(addr, metrics.clone(), bound).await?)
        }
        None => None,
    };
    let on_close = args.on_close.clone().map(|command| {
        OnClose::start(Hook {
            command,
            timeout: args.on_close_timeout,
            hidden_vars: vec![
                global.api_key_env.clone(),
                datafold_sdk::API_KEY_VAR.to_owned(),
                datafold_sdk::API_KEY_FALLBACK_VAR.to_owned(),
            ],
            metrics: Some(metrics.clone()),
        })
    });
    let run = Run {
        args: &args,
        metrics: &metrics,
        on_close: on_close.as_ref(),
    };
    log_start(&args, &start, &follower, listening);
    // A state from the start: any file opened later is one it can account
    // for, and a --state path that cannot be written fails now.
    match run.save(&mut out, &follower, false) {
        Ok(()) | Err(OutputError::Closed) => {}
        Err(OutputError::Failed(e)) => return Err(e),
    }

    let mut since_save = 0u64;
    // A record is late when an earlier read covered its time: every record
    // before the watermark, except in a fresh start's first poll (which
    // reads the lag before the start for the first time).
    let mut first_read = matches!(start, Start::Fresh);
    let mut last_failure: Option<datafold_sdk::Error> = None;
    let mut outage_from = tokio::time::Instant::now();
    let stopped = loop {
        let event = {
            let next = std::pin::pin!(follower.next());
            let outage = std::pin::pin!(async {
                match args.max_outage {
                    Some(max) => tokio::time::sleep_until(outage_from + max).await,
                    None => std::future::pending().await,
                }
            });
            let interrupt = futures_util::future::select(stop.as_mut(), outage);
            match futures_util::future::select(interrupt, next).await {
                Either::Left((Either::Left(_), _)) => break Stopped::Signal,
                Either::Left((Either::Right(_), _)) => break Stopped::Outage,
                Either::Right((event, _)) => event,
            }
        };
        match event {
            Ok(FollowEvent::Record(record)) => {
                if let Err(e) = out.record(record.json()) {
                    break Stopped::Output(e);
                }
                Metrics::add(&metrics.records_written, 1);
                Metrics::add(&metrics.bytes_written, record.json().len() as u64 + 1);
                if !first_read
                    && record
                        .timestamp_utc()
                        .is_ok_and(|at| at < follower.watermark())
                {
                    Metrics::add(&metrics.late_records, 1);
                }
                since_save += 1;
                if since_save >= SAVE_EVERY_RECORDS {
                    since_save = 0;
                    if let Err(e) = run.save(&mut out, &follower, false) {
                        break Stopped::Output(e);
                    }
                }
            }
            Ok(FollowEvent::Polled(report)) => {
                since_save = 0;
                if let Err(e) = run.save(&mut out, &follower, false) {
                    break Stopped::Output(e);
                }
                outage_from = tokio::time::Instant::now();
                first_read = false;
                last_failure = None;
                metrics.polled(report.to, report.behind);
                Metrics::add(&metrics.duplicates_dropped, report.repeated);
                tracing::debug!("{}", poll_line(&report));
                if report.out_of_range > 0 {
                    tracing::warn!(
                        records = report.out_of_range,
                        "records Datafold returned have timestamps outside the range asked for \
                         (without a zone, in server-local time?) and were not written"
                    );
                }
            }
            Ok(FollowEvent::Rejected(unreadable)) => {
                Metrics::add(&metrics.quarantined, 1);
                if let Err(e) = set_aside(&args, &unreadable) {
                    break Stopped::Output(OutputError::Failed(e));
                }
            }
            Ok(FollowEvent::PollFailed { error, retry_in }) => {
                metrics.failed(&error);
                tracing::warn!(
                    retry_in = %human(retry_in),
                    "a poll failed ({error}); polling again in {}",
                    human(retry_in)
                );
                last_failure = Some(error);
            }
            Err(error) => break Stopped::Api(error),
        }
    };
    let watermark = |follower: &datafold_sdk::audit::follow::Follower| {
        follower
            .watermark()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let saved = args.state.is_some();
    let result = match stopped {
        // What was written is kept and the state says so; the open file is
        // closed, so that it is visible under its final name.
        Stopped::Signal => match run.save(&mut out, &follower, true) {
            Ok(()) | Err(OutputError::Closed) => {
                tracing::info!(
                    reason = "signal",
                    watermark = %watermark(&follower),
                    state_saved = saved,
                    "follow stopped by a signal"
                );
                Ok(())
            }
            Err(OutputError::Failed(e)) => Err(e),
        },
        // No poll succeeded for --max-outage: the same, then the exit code
        // of the last failure (the network's, when none has ended yet).
        Stopped::Outage => {
            let max = args.max_outage.unwrap_or_default();
            let reason = format!(
                "no poll has succeeded for {} (--max-outage); the state is saved, and a restart \
                 goes on from it",
                human(max)
            );
            match run.save(&mut out, &follower, true) {
                Ok(()) | Err(OutputError::Closed) => {
                    tracing::info!(
                        reason = "max-outage",
                        watermark = %watermark(&follower),
                        state_saved = saved,
                        "follow stopped: no successful poll for {}",
                        human(max)
                    );
                    Err(match last_failure {
                        Some(error) => CliError::after(reason, error),
                        None => CliError::network(format!(
                            "{reason}; the poll in progress had not finished"
                        )),
                    })
                }
                Err(OutputError::Failed(e)) => Err(e),
            }
        }
        // The output is fine: keep what was written.
        Stopped::Api(error) => {
            let saved = run.save(&mut out, &follower, false).is_ok();
            if !saved {
                tracing::warn!(
                    "the state could not be saved; a restart writes the records since the last \
                     save again"
                );
            }
            tracing::info!(
                reason = "error",
                watermark = %watermark(&follower),
                state_saved = saved && args.state.is_some(),
                "follow stopped by an error retrying cannot fix"
            );
            Err(error.into())
        }
        // What was written since the last save may not have arrived: the
        // state stays where it was, and a restart writes those records
        // again. `follow | head` closing the pipe is not a failure.
        Stopped::Output(OutputError::Closed) => {
            tracing::info!(
                reason = "stdout closed",
                watermark = %watermark(&follower),
                "follow stopped: its reader closed stdout"
            );
            Ok(())
        }
        Stopped::Output(OutputError::Failed(e)) => Err(e),
    };
    if let Some(on_close) = on_close {
        on_close.finish().await;
    }
    result
}

/// The first line of a run: where it starts, and what it writes to.
fn log_start(
    args: &FollowArgs,
    start: &Start,
    follower: &datafold_sdk::audit::follow::Follower,
    listening: Option<SocketAddr>,
) {
    let from = follower
        .watermark()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let output = args
        .output_dir
        .as_ref()
        .map_or("stdout".to_owned(), |d| d.display().to_string());
    let metrics = listening.map_or("off".to_owned(), |a| format!("http://{a}/metrics"));
    let lag = human(args.lag);
    let interval = human(args.interval);
    match start {
        Start::Resumed => tracing::info!(
            watermark = %from, output = %output, interval = %interval, lag = %lag, metrics = %metrics,
            "follow started: resumed from the --state file"
        ),
        Start::AfterExport {
            records,
            taken_over,
        } => tracing::info!(
            watermark = %from, output = %output, interval = %interval, lag = %lag, metrics = %metrics,
            export_records = *records, taken_over = *taken_over as u64,
            "follow started: after the export, from its newest record"
        ),
        Start::Fresh => tracing::info!(
            watermark = %from, output = %output, interval = %interval, lag = %lag, metrics = %metrics,
            "follow started: fresh, the first poll reads from the lag before the watermark"
        ),
    }
}

/// What the loop's saves need besides the output and the follower.
struct Run<'a> {
    args: &'a FollowArgs,
    metrics: &'a Metrics,
    on_close: Option<&'a OnClose>,
}

impl Run<'_> {
    /// Make the records durable, then save the state (then close the open
    /// file when it is due, or when `closing`, and save again; then log the
    /// closed file and hand it to --on-close).
    fn save(
        &self,
        out: &mut Output,
        follower: &datafold_sdk::audit::follow::Follower,
        closing: bool,
    ) -> Result<(), OutputError> {
        let position = out.commit()?;
        write_state(self.args, position, follower).map_err(OutputError::Failed)?;
        if let Some((position, closed)) = out.rotate(closing)? {
            write_state(self.args, position, follower).map_err(OutputError::Failed)?;
            Metrics::add(&self.metrics.files_closed, 1);
            tracing::info!(
                file = %closed.path.display(),
                records = closed.records,
                bytes = closed.bytes,
                "file closed"
            );
            if let Some(on_close) = self.on_close {
                on_close.closed(closed.path);
            }
        }
        Ok(())
    }
}

/// Why the loop ended.
enum Stopped {
    /// SIGINT or SIGTERM.
    Signal,
    /// No successful poll for `--max-outage`.
    Outage,
    /// An error retrying cannot fix.
    Api(datafold_sdk::Error),
    /// Writing failed.
    Output(OutputError),
}

/// Where records that cannot be read are kept: `--rejected-dir`, or
/// `rejected` in `--output-dir`.
fn rejected_dir(args: &FollowArgs) -> Option<PathBuf> {
    args.rejected_dir
        .clone()
        .or_else(|| args.output_dir.as_ref().map(|dir| dir.join("rejected")))
}

/// Keep a record that cannot be read as `<rejected dir>/<sha256>.json`
/// (one JSON object: when, why, its `event_uuid` and its JSON, secrets
/// masked, or `null` when it is not JSON), written atomically before the
/// state that records the decision; say so on stderr either way. The name
/// is the record's key, so a record set aside again after a crash replaces
/// its own file.
fn set_aside(
    args: &FollowArgs,
    unreadable: &datafold_sdk::audit::follow::UnreadableRecord,
) -> CliResult {
    let id = unreadable
        .event_uuid()
        .map(|id| format!(" {:?}", id.chars().take(80).collect::<String>()))
        .unwrap_or_default();
    let Some(dir) = rejected_dir(args) else {
        tracing::error!(
            "an audit-log record{id} cannot be read ({}) and is not written; give \
             --rejected-dir DIR to keep such records",
            unreadable.problem()
        );
        return Ok(());
    };
    crate::follow_output::prepare_dir_for(&dir, "--rejected-dir")?;
    let hex = unreadable.key().trim_start_matches("sha256:");
    let path = dir.join(format!("{hex}.json"));
    let string = |text: &str| serde_json::Value::from(text).to_string();
    let body = format!(
        "{{\"set_aside_at\":{},\"problem\":{},\"event_uuid\":{},\"bytes\":{},\"record\":{}}}\n",
        string(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        string(unreadable.problem()),
        unreadable.event_uuid().map_or("null".into(), string),
        unreadable.len(),
        unreadable.json().unwrap_or("null"),
    );
    safe_file::write_atomically(&path, body.as_bytes())?;
    tracing::error!(
        kept_in = %path.display(),
        "an audit-log record{id} cannot be read ({}); it is not written, and kept in {}",
        unreadable.problem(),
        path.display()
    );
    Ok(())
}

fn write_state(
    args: &FollowArgs,
    output: Position,
    follower: &datafold_sdk::audit::follow::Follower,
) -> CliResult {
    let Some(path) = &args.state else {
        return Ok(());
    };
    let state = StateFile {
        version: STATE_VERSION,
        output,
        follow: follower.state(),
    };
    let json = serde_json::to_vec(&state)
        .map_err(|e| CliError::other(format!("cannot encode the state: {e}")))?;
    if json.len() as u64 > MAX_STATE_BYTES {
        return Err(CliError::other(format!(
            "the state ({} MiB) would be larger than a state file may be ({} MiB); lower --lag",
            json.len() >> 20,
            MAX_STATE_BYTES >> 20
        )));
    }
    safe_file::write_atomically(path, &json)?;
    Ok(())
}

fn load_state(path: &std::path::Path) -> CliResult<Option<StateFile>> {
    if safe_file::check_target(path)?.is_none() {
        return Ok(None);
    }
    let bytes = safe_file::read_capped(path, MAX_STATE_BYTES)?;
    let unreadable = |problem: String| {
        CliError::input(format!(
            "the --state file {} cannot be used: {problem}; give another --state file (the first \
             poll then reads from --since, or the lag before now)",
            path.display()
        ))
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| unreadable(format!("not JSON ({e})")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(STATE_VERSION) => {}
        Some(v) => {
            return Err(unreadable(format!(
                "format version {v}; this datafold reads version {STATE_VERSION}"
            )))
        }
        None => return Err(unreadable("it is not a follow state file".into())),
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| unreadable(e.to_string()))
}

/// The lock file beside a state file.
fn lock_path(state: &std::path::Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Hold an exclusive lock on `path` (a lock file, created if missing, or a
/// directory) until the returned handle is dropped; refuse when another
/// process holds it.
#[cfg(unix)]
fn lock(path: &std::path::Path, flag: &str) -> CliResult<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let file = if path.is_dir() {
        std::fs::File::open(path)
    } else {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
    }
    .map_err(|e| CliError::input(format!("cannot open {} to lock it: {e}", path.display())))?;
    let regular_or_dir = file.metadata().map(|m| m.is_file() || m.is_dir());
    if !matches!(regular_or_dir, Ok(true)) {
        return Err(CliError::input(format!(
            "{} is not a regular file; remove it or choose another {flag}",
            path.display()
        )));
    }
    // SAFETY: flock(2) on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(CliError::input(format!(
            "another follow is running with this {flag} ({}); stop it first",
            path.display()
        )));
    }
    Ok(file)
}

/// Elsewhere, no lock: one run at a time is the caller's to ensure.
#[cfg(not(unix))]
fn lock(_path: &std::path::Path, _flag: &str) -> CliResult<()> {
    Ok(())
}

/// One line per poll, for `-v`.
fn poll_line(report: &PollReport) -> String {
    let mut extra = String::new();
    if report.rejected > 0 {
        extra.push_str(&format!(", {} set aside as unreadable", report.rejected));
    }
    if report.failed_polls > 0 {
        extra.push_str(&format!(
            ", after {} failed poll{}",
            report.failed_polls,
            if report.failed_polls == 1 { "" } else { "s" }
        ));
    }
    format!(
        "poll {} to {}: {} new record{}, {} repeated, {} request{}, {} behind now, {} ids \
         remembered{extra}",
        report.from.format("%Y-%m-%dT%H:%M:%SZ"),
        report.to.format("%Y-%m-%dT%H:%M:%SZ"),
        report.records,
        if report.records == 1 { "" } else { "s" },
        report.repeated,
        report.requests,
        if report.requests == 1 { "" } else { "s" },
        human_short(report.behind),
        report.remembered
    )
}

fn human_short(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        human(d)
    }
}

/// Resolves on SIGINT or SIGTERM (never, when no handler can be installed).
/// The handlers are installed when this is called, not when it is first
/// polled.
fn shutdown() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        let wait = |listener: std::io::Result<Signal>| async move {
            match listener {
                Ok(mut listener) => {
                    listener.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        let interrupt = Box::pin(wait(signal(SignalKind::interrupt())));
        let terminate = Box::pin(wait(signal(SignalKind::terminate())));
        async move {
            futures_util::future::select(interrupt, terminate).await;
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
