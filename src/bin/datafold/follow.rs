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

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use datafold_sdk::audit::follow::{FollowEvent, FollowState, PollReport};
use datafold_sdk::safe_file;
use serde::{Deserialize, Serialize};

use futures_util::future::Either;

use crate::audit::{since_ago, CompressFlag};
use crate::follow_output::{Output, OutputError, Position, Rotation};
use crate::output;
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
    /// Without a state, start this long ago [default: now]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<Duration>,
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
    /// Keep records that cannot be read here [default: DIR/rejected with --output-dir]
    #[arg(long, value_name = "DIR")]
    rejected_dir: Option<PathBuf>,
}

/// The state file: whose it is, where the output stands, and the follower.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    output: Position,
    follow: FollowState,
}

pub async fn run(args: FollowArgs, global: &Global) -> CliResult {
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
    if resume.is_some() && args.since.is_some() && !global.quiet {
        output::note("note: --since is not used: the --state file says where to go on from");
    }
    let mut follow = client
        .audit_logs()
        .follow()
        .interval(args.interval)
        .lag(args.lag);
    match resume {
        Some(state) => follow = follow.resume_from(state),
        None => {
            if let Some(since) = args.since {
                follow = follow.since(since_ago(chrono::Utc::now(), since)?);
            }
        }
    }
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
    // A state from the start: any file opened later is one it can account
    // for, and a --state path that cannot be written fails now.
    match save(&args, &mut out, &follower, false) {
        Ok(()) | Err(OutputError::Closed) => {}
        Err(OutputError::Failed(e)) => return Err(e),
    }

    let mut since_save = 0u64;
    let stopped = loop {
        let event = {
            let next = std::pin::pin!(follower.next());
            match futures_util::future::select(stop.as_mut(), next).await {
                Either::Left(((), _)) => break Stopped::Signal,
                Either::Right((event, _)) => event,
            }
        };
        match event {
            Ok(FollowEvent::Record(record)) => {
                if let Err(e) = out.record(record.json()) {
                    break Stopped::Output(e);
                }
                since_save += 1;
                if since_save >= SAVE_EVERY_RECORDS {
                    since_save = 0;
                    if let Err(e) = save(&args, &mut out, &follower, false) {
                        break Stopped::Output(e);
                    }
                }
            }
            Ok(FollowEvent::Polled(report)) => {
                since_save = 0;
                if let Err(e) = save(&args, &mut out, &follower, false) {
                    break Stopped::Output(e);
                }
                if global.verbose > 0 && !global.quiet {
                    output::note(&poll_line(&report));
                }
                if report.out_of_range > 0 && !global.quiet {
                    output::note(&format!(
                        "warning: {} records Datafold returned have timestamps outside the range \
                         asked for (without a zone, in server-local time?) and were not written",
                        report.out_of_range
                    ));
                }
            }
            Ok(FollowEvent::Rejected(unreadable)) => {
                if let Err(e) = set_aside(&args, &unreadable, global.quiet) {
                    break Stopped::Output(OutputError::Failed(e));
                }
            }
            Ok(FollowEvent::PollFailed { error, retry_in }) => {
                if !global.quiet {
                    output::note(&format!(
                        "warning: a poll failed ({error}); polling again in {}",
                        human(retry_in)
                    ));
                }
            }
            Err(error) => break Stopped::Api(error),
        }
    };
    match stopped {
        // What was written is kept and the state says so; the open file is
        // closed, so that it is visible under its final name.
        Stopped::Signal => match save(&args, &mut out, &follower, true) {
            Ok(()) | Err(OutputError::Closed) => Ok(()),
            Err(OutputError::Failed(e)) => Err(e),
        },
        // The output is fine: keep what was written.
        Stopped::Api(error) => {
            if save(&args, &mut out, &follower, false).is_err() && !global.quiet {
                output::note(
                    "warning: the state could not be saved; a restart writes the records since \
                     the last save again",
                );
            }
            Err(error.into())
        }
        // What was written since the last save may not have arrived: the
        // state stays where it was, and a restart writes those records
        // again. `follow | head` closing the pipe is not a failure.
        Stopped::Output(OutputError::Closed) => Ok(()),
        Stopped::Output(OutputError::Failed(e)) => Err(e),
    }
}

/// Why the loop ended.
enum Stopped {
    /// SIGINT or SIGTERM.
    Signal,
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
    quiet: bool,
) -> CliResult {
    let id = unreadable
        .event_uuid()
        .map(|id| format!(" {:?}", id.chars().take(80).collect::<String>()))
        .unwrap_or_default();
    let Some(dir) = rejected_dir(args) else {
        if !quiet {
            output::note(&format!(
                "error: an audit-log record{id} cannot be read ({}) and is not written; give \
                 --rejected-dir DIR to keep such records",
                unreadable.problem()
            ));
        }
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
    if !quiet {
        output::note(&format!(
            "error: an audit-log record{id} cannot be read ({}); it is not written, and kept in \
             {}",
            unreadable.problem(),
            path.display()
        ));
    }
    Ok(())
}

/// Make the records durable, then save the state (then close the open file
/// when it is due, or when `closing`, and save again).
fn save(
    args: &FollowArgs,
    out: &mut Output,
    follower: &datafold_sdk::audit::follow::Follower,
    closing: bool,
) -> Result<(), OutputError> {
    let position = out.commit()?;
    write_state(args, position, follower).map_err(OutputError::Failed)?;
    if let Some(position) = out.rotate(closing)? {
        write_state(args, position, follower).map_err(OutputError::Failed)?;
    }
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
