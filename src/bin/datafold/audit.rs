//! `datafold audit-logs export|list`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use datafold_sdk::audit::export::{
    AuditExport, ExportFiles, ExportFormat, IfInterrupted, RawExportEvent, RawExportStream,
    RawRecord,
};
use datafold_sdk::compress::{Compression, FrameWriter};
use datafold_sdk::types::AuditLog;
use datafold_sdk::{CheckpointRefusal, Error};
use futures_util::future::Either;

use crate::output::{self, Progress};
use crate::time::{parse_duration, parse_time};
use crate::{CliError, CliResult, Global};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Export a time range window by window (resumable, constant memory)
    Export(ExportArgs),
    /// Poll for new records and write each once (resumable with --state)
    Follow(crate::follow::FollowArgs),
    /// Show recent records
    List(ListArgs),
}

/// The time range, relative or absolute.
#[derive(Args, Debug)]
pub struct Range {
    /// From this long ago until now, e.g. 7d or 12h
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with_all = ["start", "end"])]
    since: Option<Duration>,
    /// Start of the range (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    start: Option<DateTime<Utc>>,
    /// End of the range [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time, requires = "start")]
    end: Option<DateTime<Utc>>,
}

impl Range {
    /// `(start, end)`; `default_since` when no bound was given.
    fn resolve(&self, default_since: Duration) -> CliResult<(DateTime<Utc>, DateTime<Utc>)> {
        let now = Utc::now();
        let ago = |d: Duration| since_ago(now, d);
        let (start, end) = match (self.since, self.start) {
            (Some(since), _) => (ago(since)?, now),
            (None, Some(start)) => (start, self.end.unwrap_or(now)),
            (None, None) => (ago(default_since)?, now),
        };
        if start >= end {
            return Err(CliError::usage(format!(
                "the range is empty: {start} is not before {end}"
            )));
        }
        Ok((start, end))
    }
}

/// `--since d`: the time `d` before `now`.
pub fn since_ago(now: DateTime<Utc>, d: Duration) -> CliResult<DateTime<Utc>> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| {
            CliError::usage(format!(
                "--since {} reaches before the start of time",
                crate::time::human(d)
            ))
        })
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    range: Range,
    /// Longest window of one request; shorter ones are chosen where records
    /// are dense [default: 30d]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    window: Option<Duration>,
    /// Windows fetched at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    concurrency: usize,
    /// Output format [default: jsonl]
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write to FILE (as FILE.partial, renamed when complete) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Compress the output [default: by --output's suffix, .gz or .zst]
    #[arg(long, value_enum, value_name = "HOW")]
    compress: Option<CompressFlag>,
    /// Continue the interrupted export into --output, with its flags
    #[arg(long, requires = "output", conflicts_with = "restart")]
    resume: bool,
    /// Discard an interrupted export into --output and start over
    #[arg(long, requires = "output")]
    restart: bool,
}

/// The longest window when neither --window nor a checkpoint gives one.
const DEFAULT_WINDOW: Duration = datafold_sdk::audit::export::DEFAULT_WINDOW;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Jsonl,
    Csv,
    Json,
}

impl From<Format> for ExportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Jsonl => ExportFormat::JsonLines,
            Format::Csv => ExportFormat::Csv,
            Format::Json => ExportFormat::Json,
        }
    }
}

/// `--compress` of `export` and `follow`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressFlag {
    None,
    Gzip,
    Zstd,
}

impl From<CompressFlag> for Compression {
    fn from(flag: CompressFlag) -> Self {
        match flag {
            CompressFlag::None => Compression::None,
            CompressFlag::Gzip => Compression::Gzip,
            CompressFlag::Zstd => Compression::Zstd,
        }
    }
}

/// The compression of the export. An output's name decides it (`.gz` gzip,
/// `.zst` zstd, else none), so that the name always tells how to read the
/// file and a resume finds the compression it started with; `--compress`
/// must agree with the name. Compressed bytes never go to a terminal.
fn compression(args: &ExportArgs) -> CliResult<Compression> {
    let flag = args.compress.map(Compression::from);
    let Some(path) = &args.output else {
        let compression = flag.unwrap_or_default();
        if compression != Compression::None && std::io::stdout().is_terminal() {
            return Err(CliError::usage(format!(
                "--compress {compression} writes binary data, not to a terminal: redirect stdout \
                 (> FILE{}) or use --output FILE{}",
                compression.suffix(),
                compression.suffix()
            )));
        }
        return Ok(compression);
    };
    let named = Compression::from_path_suffix(path).unwrap_or_default();
    match flag {
        Some(flag) if flag != named => {
            let mut expected = path.clone();
            if named != Compression::None {
                expected.set_extension("");
            }
            let mut name = expected.into_os_string();
            name.push(flag.suffix());
            Err(CliError::usage(format!(
                "--compress {flag} does not fit the output's name {}: the name's suffix picks \
                 the compression (.gz gzip, .zst zstd, else none); name it {} or leave out \
                 --compress",
                path.display(),
                PathBuf::from(name).display()
            )))
        }
        _ => Ok(named),
    }
}

/// The most records `list` keeps: it holds them in memory to sort them.
const MAX_LIST_LIMIT: usize = 100_000;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    range: Range,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// Show the newest N records, at most 100000 (`audit-logs export` gives all)
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=MAX_LIST_LIMIT as i64))]
    limit: u32,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    Table,
    Json,
}

pub async fn run(command: AuditCommand, global: &Global) -> CliResult {
    match command {
        AuditCommand::Export(args) => export(args, global).await,
        AuditCommand::Follow(args) => crate::follow::run(args, global).await,
        AuditCommand::List(args) => list(args, global).await,
    }
}

/// The newest `--limit` records of the range, newest first. The answer is
/// streamed (one request, parsed as it arrives) and only the newest records
/// are kept, so memory stays flat however long the answer is.
async fn list(args: ListArgs, global: &Global) -> CliResult {
    let client = global.client()?;
    let (start, end) = args.range.resolve(Duration::from_secs(24 * 3600))?;
    let limit = args.limit as usize;
    let mut events = list_request(&client, start, end).raw_events()?;
    let mut newest = Newest::new(limit);
    while let Some(event) = events.next().await {
        if let RawExportEvent::Record(record) = event? {
            newest.push(Listed::read(&record, &events)?);
        }
    }
    let outside = events.out_of_range();
    if !global.quiet && outside > 0 {
        output::note(&format!(
            "{outside} records Datafold returned have timestamps outside the range asked for \
             (timestamps without a zone, in server-local time?) and are not shown"
        ));
    }
    let (logs, total, cut_by_size) = newest.into_sorted();
    if !global.quiet && cut_by_size {
        output::note(&format!(
            "showing the newest {} of {total} records: that is all that fits in {} MiB; use \
             `datafold audit-logs export` for all of them",
            logs.len(),
            MAX_LIST_BYTES >> 20
        ));
    } else if !global.quiet && logs.len() < total {
        output::note(&format!(
            "showing the newest {} of {total} records; use --limit N (up to {MAX_LIST_LIMIT}), \
             or `datafold audit-logs export` for all of them",
            logs.len()
        ));
    }
    match args.format {
        ListFormat::Json => output::json_array(&logs),
        ListFormat::Table => {
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let rows: Vec<Vec<String>> = logs
                .iter()
                .map(|listed| {
                    let l = &listed.record;
                    let object = match (&l.object_type, l.object_id) {
                        (Some(t), Some(id)) => format!("{t} {id}"),
                        (Some(t), None) => t.clone(),
                        _ => "-".into(),
                    };
                    // Seconds are enough to scan a table; JSON has the rest.
                    let time = listed.at.map_or_else(
                        || listed.timestamp.clone(),
                        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                    );
                    vec![
                        time,
                        dash(&l.user_email),
                        dash(&l.action),
                        object,
                        l.url.clone(),
                    ]
                })
                .collect();
            output::table(&["TIME", "USER", "ACTION", "OBJECT", "URL"], &rows)
        }
    }
}

/// The SDK's longest export window, a little under its limit of 10 years.
const LONGEST_WINDOW: Duration = Duration::from_secs(10 * 365 * 86_400);

/// One request for the whole range, streamed: an export with a single
/// window of the range (whole seconds, rounded up) and no overlap. A range
/// over 10 years takes several windows, one after the other, overlapping as
/// exports do so that nothing on a boundary is lost.
fn list_request(
    client: &datafold_sdk::Client,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> AuditExport {
    let span = (end - start).to_std().unwrap_or(Duration::ZERO);
    let whole_seconds = span.as_secs() + u64::from(span.subsec_nanos() > 0);
    // No bound on a response's size: list streams each response and keeps
    // only the newest records within its own memory cap, so a large answer
    // is read through once rather than asked for again in pieces (which a
    // server that ignores the time filter would answer whole every time).
    let export = client
        .audit_logs()
        .between(start, end)
        .concurrency(1)
        .max_response_bytes(u64::MAX);
    if whole_seconds <= LONGEST_WINDOW.as_secs() {
        export
            .window(Duration::from_secs(whole_seconds.max(1)))
            .overlap(Duration::ZERO)
    } else {
        export.window(LONGEST_WINDOW)
    }
}

/// The newest `limit` records seen, by instant (a record whose timestamp
/// cannot be read counts as older than any other; among equal times the
/// server's order is kept), and how many were seen.
struct Newest {
    limit: usize,
    seen: usize,
    /// The kept records, the oldest on top.
    heap: BinaryHeap<Reverse<Ranked>>,
    /// The JSON size of the kept records.
    bytes: u64,
    /// Whether records within --limit were dropped to stay under
    /// [`MAX_LIST_BYTES`].
    cut_by_size: bool,
}

/// The most the kept records of `audit-logs list` may take, as JSON: the
/// SDK's cap on a response held in memory.
const MAX_LIST_BYTES: u64 = datafold_sdk::DEFAULT_MAX_RESPONSE_BYTES;

/// One record as `list` shows it: the typed view, and its `timestamp` as
/// the server wrote it, which `--format json` shows (the typed view writes
/// a time as RFC 3339 in UTC) and the table shows when it is not a time.
struct Listed {
    /// The time, when `timestamp` can be read as one.
    at: Option<DateTime<Utc>>,
    timestamp: String,
    record: AuditLog,
}

impl Listed {
    /// `raw`, just passed on by `events`; an error says where it came from.
    fn read(raw: &RawRecord, events: &RawExportStream) -> Result<Self, Error> {
        let at = raw.timestamp_utc().ok();
        let record = match at {
            Some(_) => events.decode(raw)?,
            // A record whose timestamp is not a time has no typed view, but
            // is listed all the same (last): its other fields are read with
            // a stand-in for the time, which is never shown.
            None => match untimed(raw) {
                Some(record) => record,
                None => events.decode(raw)?,
            },
        };
        Ok(Self {
            at,
            timestamp: raw.timestamp().to_owned(),
            record,
        })
    }

    /// Its size as compact JSON, as shown.
    fn json_size(&self) -> u64 {
        // The typed view writes its time as RFC 3339 in UTC, with the
        // fractional seconds it has; what is shown has the server's text.
        let typed_time = self
            .record
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        (json_size(&self.record) + json_size(&self.timestamp))
            .saturating_sub(json_size(&typed_time))
    }
}

/// The typed view of `raw`, whose timestamp is not a time, with the Unix
/// epoch in its place; `None` when another field breaks the schema.
fn untimed(raw: &RawRecord) -> Option<AuditLog> {
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw.json()).ok()?;
    fields.insert(
        "timestamp".into(),
        DateTime::<Utc>::UNIX_EPOCH.to_rfc3339().into(),
    );
    serde_json::from_value(fields.into()).ok()
}

impl serde::Serialize for Listed {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.record).map_err(serde::ser::Error::custom)?;
        if let Some(fields) = value.as_object_mut() {
            fields.insert("timestamp".into(), self.timestamp.clone().into());
        }
        value.serialize(out)
    }
}

/// The size of `value` as compact JSON, counted without writing it out.
fn json_size(value: &impl serde::Serialize) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // A record that does not serialize cannot be shown either; count 0.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

struct Ranked {
    at: Option<DateTime<Utc>>,
    /// Arrival order, reversed: the earlier of two equal times ranks newer.
    order: Reverse<usize>,
    /// The record's size as JSON, counted against [`MAX_LIST_BYTES`].
    bytes: u64,
    record: Listed,
}

impl Ranked {
    fn key(&self) -> (Option<DateTime<Utc>>, Reverse<usize>) {
        (self.at, self.order)
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl Newest {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            seen: 0,
            bytes: 0,
            cut_by_size: false,
            heap: BinaryHeap::with_capacity(limit.min(1024) + 1),
        }
    }

    fn push(&mut self, record: Listed) {
        let ranked = Ranked {
            at: record.at,
            order: Reverse(self.seen),
            bytes: record.json_size(),
            record,
        };
        self.seen += 1;
        self.bytes += ranked.bytes;
        self.heap.push(Reverse(ranked));
        // Fewer than --limit records when they would not fit in memory's
        // share: the oldest go first, and the note says so.
        while self.heap.len() > self.limit || (self.bytes > MAX_LIST_BYTES && self.heap.len() > 1) {
            if self.heap.len() <= self.limit {
                self.cut_by_size = true;
            }
            if let Some(Reverse(oldest)) = self.heap.pop() {
                self.bytes -= oldest.bytes;
            }
        }
    }

    /// The kept records, newest first, how many were seen in all, and
    /// whether the size cap (not --limit) cut the list.
    fn into_sorted(self) -> (Vec<Listed>, usize, bool) {
        // Ascending `Reverse` is descending rank: newest first.
        let sorted = self.heap.into_sorted_vec();
        (
            sorted.into_iter().map(|r| r.0.record).collect(),
            self.seen,
            self.cut_by_size,
        )
    }
}

async fn export(args: ExportArgs, global: &Global) -> CliResult {
    let client = global.client()?;
    let progress = Arc::new(Mutex::new(Progress::new(global.quiet)));
    let reporter = progress.clone();
    let report = move |p: &datafold_sdk::audit::export::ExportProgress| {
        if let Ok(mut bar) = reporter.lock() {
            let last = p.windows_done == p.windows_total;
            bar.update(p, last);
        }
    };
    let compression = compression(&args)?;
    let Some(path) = &args.output else {
        let (export, format) = from_flags(&client, &args)?;
        let export = export.concurrency(args.concurrency).on_progress(report);
        export.validate()?;
        let stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let result = match FrameWriter::new(stdout, compression) {
            Ok(mut stdout) => match export.write_to(format, &mut stdout).await {
                Ok(_) => stdout
                    .into_inner()
                    .map(drop)
                    .map_err(|error| Error::Output {
                        what: "write to stdout".into(),
                        error,
                    }),
                Err(error) => Err(error),
            },
            Err(error) => Err(Error::Output {
                what: format!("start compressing with {compression}"),
                error,
            }),
        };
        if let Ok(mut bar) = progress.lock() {
            bar.finish();
        }
        return match result {
            // `datafold audit-logs export | head` closes the pipe: not a failure.
            Err(Error::Output { error, .. }) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(())
            }
            other => other.map_err(CliError::from),
        };
    };

    // Every check of the files, and of a checkpoint against the flags,
    // happens in write_to_file before the first request.
    let files = ExportFiles::new(path);
    let (export, format) = if args.resume {
        resumed_export(&client, &files, &args)?
    } else {
        from_flags(&client, &args)?
    };
    let if_interrupted = match (args.resume, args.restart) {
        (true, _) => IfInterrupted::Resume,
        (false, true) => IfInterrupted::Restart,
        (false, false) => IfInterrupted::Refuse,
    };
    let write = export
        .concurrency(args.concurrency)
        .on_progress(report)
        .write_compressed_to_file(format, compression, path, if_interrupted);
    let result = until_ctrl_c(write).await;
    if let Ok(mut bar) = progress.lock() {
        bar.finish();
    }
    match result {
        Some(Ok(summary)) => {
            if !global.quiet {
                // A resumed export counts its earlier runs' records too.
                let this_run = if summary.records_total == summary.records {
                    String::new()
                } else {
                    format!(" ({} in this run)", summary.records)
                };
                output::note(&format!(
                    "exported {} events{this_run} in {} request{} (the largest response {:.1} MiB)",
                    summary.records_total,
                    summary.requests,
                    if summary.requests == 1 { "" } else { "s" },
                    summary.largest_response_bytes as f64 / 1_048_576.0
                ));
                if summary.misplaced > 0 {
                    output::note(&format!(
                        "{} of them came back outside the window asked for (timestamps \
                         without a zone, in server-local time?): each was written once",
                        summary.misplaced
                    ));
                }
                if summary.out_of_range > 0 {
                    output::note(&format!(
                        "{} records Datafold returned lie outside the export's range and were \
                         not written",
                        summary.out_of_range
                    ));
                }
            }
            Ok(())
        }
        Some(Err(error)) => Err(file_failure(error, &files)),
        None => Err(interrupted(&files)),
    }
}

/// The export the flags describe, with the defaults for flags left out.
fn from_flags(
    client: &datafold_sdk::Client,
    args: &ExportArgs,
) -> CliResult<(AuditExport, ExportFormat)> {
    let (start, end) = args.range.resolve(Duration::from_secs(24 * 3600))?;
    let export = client
        .audit_logs()
        .between(start, end)
        .window(args.window.unwrap_or(DEFAULT_WINDOW));
    Ok((export, args.format.unwrap_or(Format::Jsonl).into()))
}

/// The export an interrupted run's checkpoint describes: flags that are
/// given must agree with it (write_to_file checks each), flags left out take
/// its values.
fn resumed_export(
    client: &datafold_sdk::Client,
    files: &ExportFiles,
    args: &ExportArgs,
) -> CliResult<(AuditExport, ExportFormat)> {
    let saved = files
        .load_checkpoint()
        .map_err(|error| file_failure(error, files))?;
    let Some(saved) = saved else {
        if files.interrupted() {
            // A partial file without its checkpoint: nothing says what it
            // holds, so it is neither continued nor removed.
            return Err(no_checkpoint(files));
        }
        return Err(CliError::usage(format!(
            "nothing to resume: there is no {}; run without --resume to start an export",
            files.checkpoint().display()
        )));
    };
    let checkpoint = &saved.export;
    if args.range.since.is_some() {
        return Err(CliError::input(format!(
            "--since counts from now, so it cannot name the interrupted export's range {} to {}: \
             rerun with --resume and without --since",
            checkpoint.start.to_rfc3339(),
            checkpoint.end.to_rfc3339()
        )));
    }
    let export = client
        .audit_logs()
        .between(
            args.range.start.unwrap_or(checkpoint.start),
            args.range.end.unwrap_or(checkpoint.end),
        )
        .window(
            args.window
                .unwrap_or(Duration::from_secs(checkpoint.window_secs)),
        )
        .overlap(Duration::from_secs(checkpoint.overlap_secs));
    Ok((export, args.format.map_or(saved.output_format, Into::into)))
}

/// Resolves to `None` when Ctrl-C comes first (and `work` is dropped, which
/// leaves the export's files as its last checkpoint describes them).
async fn until_ctrl_c<T>(work: impl std::future::Future<Output = T>) -> Option<T> {
    let work = std::pin::pin!(work);
    let ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    match futures_util::future::select(work, ctrl_c).await {
        Either::Left((done, _)) => Some(done),
        Either::Right((Ok(()), _)) => None,
        // No signal handler could be installed: wait for the work alone.
        Either::Right((Err(_), work)) => Some(work.await),
    }
}

/// Ctrl-C: exit 130, as a shell does for SIGINT, saying how to go on.
fn interrupted(files: &ExportFiles) -> CliError {
    let message = if files.checkpoint().exists() {
        format!(
            "interrupted: rerun the same command with --resume to continue the export into {}",
            files.output().display()
        )
    } else {
        "interrupted before the first window was complete; nothing was kept".to_owned()
    };
    CliError::interrupted(message)
}

/// A partial file without its checkpoint: it cannot be resumed; say how
/// to start over.
fn no_checkpoint(files: &ExportFiles) -> CliError {
    CliError::input(format!(
        "{} is an interrupted export without its checkpoint ({} is missing), so it cannot be \
         resumed; to start over, rerun with --restart (it discards that file) or move the file \
         away (--resume continues it only with its checkpoint back in place)",
        files.partial().display(),
        files.checkpoint().display()
    ))
}

/// Failures of an export into a file, with next steps in flags.
fn file_failure(error: Error, files: &ExportFiles) -> CliError {
    match error {
        Error::Checkpoint {
            refusal: CheckpointRefusal::Interrupted,
            ..
        } if files.checkpoint().exists() => CliError::input(format!(
            "an interrupted export of {} exists: rerun with --resume, or --restart to discard it",
            files.output().display()
        )),
        Error::Checkpoint {
            refusal: CheckpointRefusal::Interrupted | CheckpointRefusal::NoCheckpoint,
            ..
        } => no_checkpoint(files),
        Error::Checkpoint {
            refusal:
                CheckpointRefusal::Mismatch {
                    field: "output_compression",
                },
            problem,
        } => CliError::input(format!(
            "cannot resume: {problem}; the output's name picks its compression (.gz gzip, .zst \
             zstd, else none): rerun with --restart to discard the interrupted export, or \
             export into another --output"
        )),
        Error::Checkpoint {
            refusal: CheckpointRefusal::Mismatch { .. },
            problem,
        } => CliError::input(format!(
            "cannot resume: {problem}; rerun with the interrupted export's flags (or leave them \
             out), or with --restart to discard it"
        )),
        Error::Checkpoint { problem, .. } => CliError::input(format!(
            "cannot resume: {problem}; rerun with --restart to discard the interrupted export, \
             or without --resume into another --output (the interrupted files stay as they are)"
        )),
        Error::UnsafeFile { .. } => CliError::input(error.to_string()),
        other => other.into(),
    }
}
