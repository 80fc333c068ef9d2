//! Loss-free, resumable, bounded-memory audit-log export.
//!
//! Datafold returns every matching record in one response, so a long range is
//! one huge body. [`AuditExport`] splits the range into windows, requests them
//! (several at once, bounded), parses each body incrementally, and yields the
//! records in window order as a [`Stream`](crate::Stream) of [`ExportEvent`]s (typed) or
//! [`RawExportEvent`]s (each record's own bytes).
//!
//! **Windows sized by density.** [`AuditExport::window`] is the longest
//! window. Each request's span is chosen from the density of the responses
//! before it: spans grow (at most eightfold a step) across quiet stretches,
//! so a quiet year takes a few dozen requests, and shrink where records are
//! dense. A response whose body passes [`AuditExport::max_response_bytes`]
//! (64 MiB by default) is dropped there and its span asked for again in
//! pieces that fit; the records it had already passed on are not passed on
//! again. So no response read is larger than the bound, except one of a
//! single second. A span asked for before any density is known is read to
//! an eighth of the bound and asked for again in pieces if it passes that;
//! spans then aim at 85% of the bound, their reach into the neighbours
//! included.
//!
//! **Records are exact, except that secrets are masked.** Each record is
//! passed on with the bytes the server sent, white space between tokens
//! aside: every field, those the spec does not list and explicit `null`s
//! included. In place of the values of secret fields
//! ([`is_secret_field`](crate::secret::is_secret_field): `token`,
//! `password`, `client_secret`, `token_value`, `api_key`, in any case, with
//! or without `_` or `-`; `null` stays `null`) anywhere in the record (in
//! `payload`, or in a field the spec does not list), and in place of the
//! API key's clear text inside any string, it has
//! [`REDACTED`](crate::REDACTED). That holds for every way out:
//! [`AuditExport::events`], [`AuditExport::raw_events`],
//! [`AuditExport::records`], [`AuditExport::write_to`] and
//! [`AuditExport::write_to_file`]. A record without the spec's required
//! fields (`timestamp`, `event_uuid`, `client_ip`, `url`, as strings), or
//! that is not JSON, ends the export with [`Error::Decode`] naming its
//! window and its position in the response.
//!
//! **Nothing lost, nothing doubled.** Each window is requested with a small
//! overlap on both sides, so a record on a boundary is returned whatever the
//! server's boundary semantics (inclusive, exclusive, rounded). Each record
//! then belongs to exactly one window, by its timestamp — `[start, end)` of
//! the window, the last one including the export's end — and only that window
//! emits it; within a window's edge zones a repeated `event_uuid` is dropped.
//! A record whose timestamp cannot be parsed is emitted once, by the first
//! window that sees it, and its `event_uuid` is remembered (in the checkpoint
//! too). It is written as the server sent it by [`AuditExport::raw_events`],
//! [`AuditExport::write_to`] and [`AuditExport::write_to_file`] (in CSV too:
//! the `timestamp` column is the server's text); it has no typed view
//! ([`AuditLog::timestamp`] is a time), so [`AuditExport::events`] and
//! [`AuditExport::records`] end there with an [`Error::Decode`] that says so.
//!
//! **Records the server placed differently.** A record whose timestamp lies
//! outside the whole span its window asked for (the window plus the overlap
//! on both sides) was placed by the server by another clock: a timestamp
//! without a zone in server-local time (read as UTC), or a server that
//! ignores the time filter. No other window is sure to return it, so it is
//! never dropped silently:
//! - inside the export's range, it is emitted once, by the first window that
//!   returns it (its `event_uuid` is remembered like an unreadable timestamp's,
//!   in the checkpoint too, and the window it reads as skips it), and counted
//!   by [`ExportStream::misplaced`] and [`ExportSummary::misplaced`];
//! - outside the export's range it was not asked for: it is not written, and
//!   counted (once per `event_uuid`) by [`ExportStream::out_of_range`] and
//!   [`ExportSummary::out_of_range`].
//!
//! Each window that had such records emits a `tracing` warning with both
//! counts. More than [`MAX_UNPLACED`] remembered records is an
//! [`Error::Inconsistent`]: the server's timestamps do not match its filter.
//!
//! **Resumable.** After the last record of a window the stream yields
//! [`ExportEvent::WindowDone`] with a [`Checkpoint`] (not while the pieces
//! of a cut window are still to come). Persist the records
//! first, then save the checkpoint; [`AuditExport::resume_from`] continues
//! after the last saved window. [`AuditExport::write_to_file`] does exactly
//! that, and binds each checkpoint to its export and output
//! ([`FileCheckpoint`]): a resume that does not match is refused. A
//! checkpoint counts the records of every run so far, and a resumed export
//! reports the whole output ([`ExportProgress`], [`ExportSummary::records_total`]).
//!
//! **Compressed files.** With the `compress` feature,
//! `AuditExport::write_compressed_to_file` writes gzip or zstd, ending a
//! gzip member or zstd frame at each checkpoint: what a checkpoint vouches
//! for is a complete stream, a resume cuts the file back to it and appends
//! new frames, and the whole file decompresses as one stream (`gzip -dc`,
//! `zstd -dc`, `compress::decoder`).
//!
//! **Bounded memory.** The head window's body is parsed as it arrives, one
//! record at a time; a window fetched ahead stops reading once it holds
//! [`PREFETCH_BYTES`] (8 MiB) of records, counted as the bytes of their JSON,
//! or 256 records, and lets TCP flow control hold the rest. So an export
//! holds at most about `concurrency - 1` times (8 MiB plus one record), plus
//! the record being passed on; one record is at most [`MAX_RECORD_BYTES`].
//! While a cut window's pieces run, a hash (8 bytes) of each record it had
//! passed on is kept.
//!
//! **Retries.** Opening a window follows the client's [`RetryPolicy`]
//! (audit-log reads are idempotent). A body that breaks off is requested again
//! and the records already emitted are skipped by position, checked by
//! `event_uuid`; a repeated body with other records is [`Error::Inconsistent`].
//!
//! **Deadlines.** Windows run on the client's clock: each wait (for the
//! headers, for each chunk of the body, before a retry) may last at most
//! [`ClientBuilder::timeout`] without the server sending anything; a window
//! whose body keeps arriving is never cut. [`Client::with_timeout`] sets it
//! for one export.
//!
//! [`RetryPolicy`]: crate::RetryPolicy
//! [`Client::with_timeout`]: crate::Client::with_timeout
//! [`ClientBuilder::timeout`]: crate::ClientBuilder::timeout
//! [`Client::with_timeout`]: crate::Client::with_timeout

mod checkpoint;
mod file;
mod output_file;
mod placement;
mod plan;
mod raw;
mod scan;
pub(crate) mod stream;
mod window;
mod write;

use std::time::Duration;

use chrono::{DateTime, Utc};
use progenitor_client::ClientInfo;

pub use checkpoint::{Checkpoint, FileCheckpoint};
pub use file::{ExportFiles, IfInterrupted};
pub use raw::{RawRecord, UnreadableRecord};
pub use scan::MAX_RECORD_BYTES;
pub use stream::{ExportStream, RawExportStream, Records};
pub use window::PREFETCH_BYTES;
pub use write::{ExportFormat, ExportSummary, CSV_COLUMNS};

use crate::error::{Error, Result};
use crate::generated;
use crate::generated::types::AuditLog;
use plan::SpanPlanner;

/// How far each window's request reaches into its neighbours, unless the
/// caller sets it: one minute, or the window if that is shorter.
const DEFAULT_OVERLAP: Duration = Duration::from_secs(60);
/// The longest window unless the caller sets it: 30 days.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30 * 86_400);
/// The size bound of one response unless the caller sets it: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// The smallest size bound accepted: 1 MiB.
const MIN_RESPONSE_BYTES: u64 = 1024 * 1024;
/// The longest window: 10 years.
const MAX_WINDOW_SECS: u64 = 10 * 366 * 86_400;
/// The most longest-windows one export may have.
const MAX_WINDOWS: u64 = 1_000_000;
/// The most windows requested at once.
pub const MAX_CONCURRENCY: usize = 64;
/// The most `event_uuid`s an export remembers of records emitted outside
/// their window (or with an unreadable timestamp); see the module docs.
pub const MAX_UNPLACED: usize = 100_000;

/// An audit-log export being configured; start it with
/// [`AuditLogsHandler::between`](crate::audit::AuditLogsHandler::between).
///
/// ```no_run
/// # async fn demo() -> Result<(), datafold_sdk::Error> {
/// use std::time::Duration;
/// use datafold_sdk::chrono::{TimeZone, Utc};
/// use datafold_sdk::audit::export::{ExportFormat, IfInterrupted};
///
/// let client = datafold_sdk::Client::from_env()?;
/// let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
/// let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
/// let summary = client
///     .audit_logs()
///     .between(start, end)
///     // No request spans more than a day; dense stretches take shorter ones.
///     .window(Duration::from_secs(86_400))
///     .concurrency(4)
///     // Written as october.jsonl.partial and renamed when complete; an
///     // interrupted run (october.jsonl.checkpoint) continues where it stopped.
///     .write_to_file(ExportFormat::JsonLines, "october.jsonl".as_ref(), IfInterrupted::Resume)
///     .await?;
/// println!("{} records in {} requests", summary.records, summary.requests);
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "an export does nothing until it is streamed or written"]
pub struct AuditExport {
    /// The client's generated half: its host, hooks and connection pool.
    api: generated::Client,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    window: Duration,
    overlap: Duration,
    /// Whether the caller chose the overlap (else it follows the window).
    overlap_chosen: bool,
    concurrency: usize,
    max_response_bytes: u64,
    resume: Option<Checkpoint>,
    progress: Option<ProgressFn>,
    /// Read as a feed ([`AuditExport::feed`]).
    feed: bool,
}

/// The export's settings and its host: not the client's internals (its
/// connection pool and headers), which say nothing about the export.
impl std::fmt::Debug for AuditExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditExport")
            .field("host", &self.api.baseurl())
            .field("start", &self.start)
            .field("end", &self.end)
            .field("window", &self.window)
            .field("overlap", &self.overlap)
            .field("concurrency", &self.concurrency)
            .field("resume", &self.resume.is_some())
            .finish_non_exhaustive()
    }
}

/// How far a written export has got; see [`AuditExport::on_progress`].
///
/// A resumed export reports the whole output, earlier runs included, and
/// where this run started, so that a rate and what is left can be told
/// apart: this run's pace is `records` and `range_secs_done -
/// range_secs_done_before` over its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportProgress {
    /// Longest windows ([`AuditExport::plan`]) completed, earlier runs included.
    pub windows_done: usize,
    /// Longest windows in all.
    pub windows_total: usize,
    /// Records written in this run.
    pub records: u64,
    /// Records in the output, earlier runs included.
    pub records_total: u64,
    /// Whole seconds of the export's range.
    pub range_secs: u64,
    /// Of those, the seconds done (every record before then is written),
    /// earlier runs included.
    pub range_secs_done: u64,
    /// Of those, the seconds earlier runs had done: where this run started.
    pub range_secs_done_before: u64,
}

#[derive(Clone)]
struct ProgressFn(std::sync::Arc<dyn Fn(&ExportProgress) + Send + Sync>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// What a typed export stream yields ([`AuditExport::events`]).
#[derive(Debug, Clone)]
pub enum ExportEvent {
    /// One audit-log record; fields the spec does not list are in
    /// [`AuditLog::extra`].
    Record(Box<AuditLog>),
    /// Every record of a window has been yielded. Once they are persisted,
    /// saving this checkpoint lets an interrupted export resume after it.
    WindowDone(Checkpoint),
}

/// What a raw export stream yields ([`AuditExport::raw_events`]).
#[derive(Debug, Clone)]
pub enum RawExportEvent {
    /// One audit-log record, as the server sent it (compacted, secrets masked).
    Record(RawRecord),
    /// As [`ExportEvent::WindowDone`].
    WindowDone(Checkpoint),
}

impl AuditExport {
    pub(crate) fn new(api: generated::Client, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self {
            api,
            start,
            end,
            window: DEFAULT_WINDOW,
            overlap: DEFAULT_OVERLAP,
            overlap_chosen: false,
            concurrency: 4,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            resume: None,
            progress: None,
            feed: false,
        }
    }

    /// Read as a follower's poll does: a record that cannot be read is
    /// yielded as [`UnreadableRecord`] for the caller to decide on, instead
    /// of ending the export; and no response is read past
    /// [`AuditExport::max_response_bytes`], whatever it holds (the export
    /// otherwise reads on through a response that is mostly records outside
    /// its filter, or one whose span cannot be cut): a poll that meets such
    /// a response fails and is tried again.
    pub(crate) fn feed(mut self) -> Self {
        self.feed = true;
        self
    }

    /// Call `report` as a written export ([`AuditExport::write_to`],
    /// [`AuditExport::write_to_file`]) advances: after each window and every
    /// few thousand records. For progress bars.
    pub fn on_progress(mut self, report: impl Fn(&ExportProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressFn(std::sync::Arc::new(report)));
        self
    }

    /// The longest window one request may span, in whole seconds. Default
    /// [`DEFAULT_WINDOW`] (30 days); each request's span is chosen within it
    /// from the density seen so far (see the [module docs](self)).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        if !self.overlap_chosen {
            self.overlap = window.min(DEFAULT_OVERLAP);
        }
        self
    }

    /// How far each request reaches into its neighbours, in whole seconds,
    /// at most the window. Default one minute, or the window if that is
    /// shorter.
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self.overlap_chosen = true;
        self
    }

    /// How many windows are requested at once. Default 4, at most
    /// [`MAX_CONCURRENCY`].
    pub fn concurrency(mut self, windows: usize) -> Self {
        self.concurrency = windows;
        self
    }

    /// The most bytes of body one response is read to: a window whose
    /// response passes it is asked for again in shorter pieces. Default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`] (64 MiB), at least 1 MiB. A window of
    /// one second is read whole, whatever its size.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Continue after the windows `checkpoint` records as done.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the field when the checkpoint belongs to
    /// an export with another host, range, window or overlap, or does not fit
    /// this export's plan; [`Error::InvalidRequest`] as [`AuditExport::plan`].
    pub fn resume_from(mut self, checkpoint: Checkpoint) -> Result<Self> {
        self.check_checkpoint(&checkpoint, "the checkpoint")?;
        self.resume = Some(checkpoint);
        Ok(self)
    }

    /// Check that `checkpoint`, read from `source`, belongs to this export.
    fn check_checkpoint(&self, checkpoint: &Checkpoint, source: &str) -> Result<()> {
        let (windows, _) = self.windows()?;
        let expected = self.checkpoint_at(self.start, 0, Vec::new());
        let windows = usize::try_from(windows).unwrap_or(usize::MAX);
        let planner = self.planner(self.start);
        checkpoint.check_belongs_to(&expected, windows, |at| planner.cells_done(at), source)
    }

    /// This export's checkpoint once everything before `done_until` is done.
    fn checkpoint_at(
        &self,
        done_until: DateTime<Utc>,
        records_done: u64,
        unplaced_uuids: Vec<String>,
    ) -> Checkpoint {
        Checkpoint {
            version: checkpoint::VERSION,
            host: self.api.baseurl().to_owned(),
            start: self.start,
            end: self.end,
            window_secs: self.window.as_secs(),
            overlap_secs: self.overlap.as_secs(),
            windows_done: self.planner(self.start).cells_done(done_until),
            done_until,
            records_done,
            unplaced_uuids,
        }
    }

    /// The planner of this export's spans, from `cursor` on.
    fn planner(&self, cursor: DateTime<Utc>) -> SpanPlanner {
        SpanPlanner::new(
            self.start,
            self.end,
            self.window.as_secs(),
            self.max_response_bytes,
            cursor,
        )
    }

    /// The windows this export covers at their longest, as `(start, end)`
    /// pairs: each request spans one of them or part of one.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty range, a window or overlap that
    /// is not whole seconds (or an overlap longer than the window), a window
    /// over 10 years, a concurrency outside 1 to [`MAX_CONCURRENCY`], a
    /// response bound under 1 MiB, or more than a million windows.
    pub fn plan(&self) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        let (count, step) = self.windows()?;
        let start_of = |i: u64| self.start.checked_add_signed(step * i as i32);
        Ok((0..count)
            .filter_map(|i| {
                let from = start_of(i)?;
                let to = from
                    .checked_add_signed(step)
                    .map_or(self.end, |t| t.min(self.end));
                Some((from, to))
            })
            .collect())
    }

    /// Check the export's parameters without planning its windows: what
    /// [`AuditExport::plan`] would refuse, this refuses.
    ///
    /// # Errors
    /// As [`AuditExport::plan`].
    pub fn validate(&self) -> Result<()> {
        self.windows().map(drop)
    }

    /// How many longest windows, and how long each is.
    fn windows(&self) -> Result<(u64, chrono::Duration)> {
        let invalid = |message: String| Err(Error::InvalidRequest { message });
        if self.end <= self.start {
            return invalid(format!(
                "export range is empty: {} is not before {}",
                self.start, self.end
            ));
        }
        let window = self.window.as_secs();
        if window == 0 || self.window.subsec_nanos() != 0 || window > MAX_WINDOW_SECS {
            return invalid(format!(
                "the export window must be a whole number of seconds from 1 to {MAX_WINDOW_SECS} (10 years)"
            ));
        }
        if self.overlap.subsec_nanos() != 0 || self.overlap > self.window {
            return invalid(format!(
                "the export overlap (AuditExport::overlap, {:?}) must be a whole number of \
                 seconds, at most the window ({:?})",
                self.overlap, self.window
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return invalid(format!(
                "export concurrency must be from 1 to {MAX_CONCURRENCY}"
            ));
        }
        if self.max_response_bytes < MIN_RESPONSE_BYTES {
            return invalid(format!(
                "the export's response bound (AuditExport::max_response_bytes, {} bytes) must \
                 be at least {MIN_RESPONSE_BYTES} (1 MiB)",
                self.max_response_bytes
            ));
        }
        let step = chrono::Duration::seconds(window as i64);
        let overlap = chrono::Duration::seconds(self.overlap.as_secs() as i64);
        // Each request reaches `overlap` beyond the range; it must stay a time.
        if self.start.checked_sub_signed(overlap).is_none()
            || self.end.checked_add_signed(overlap).is_none()
        {
            return invalid("the export range is too close to the limits of time".into());
        }
        // Whole windows, plus one for any remainder, down to the nanosecond.
        let span = self.end - self.start;
        let mut count = (span.num_milliseconds() / step.num_milliseconds()).max(0) as u64;
        let start_of = |i: u64| self.start.checked_add_signed(step * i as i32);
        while count <= MAX_WINDOWS && start_of(count).is_some_and(|t| t < self.end) {
            count += 1;
        }
        if count > MAX_WINDOWS {
            return invalid(format!(
                "the range needs more than {MAX_WINDOWS} windows; choose a longer window"
            ));
        }
        Ok((count, step))
    }

    /// Start the export: a stream of typed records and window completions.
    ///
    /// # Errors
    /// As [`AuditExport::plan`].
    pub fn events(self) -> Result<ExportStream> {
        self.raw_events().map(ExportStream::new)
    }

    /// Start the export: a stream of records as the server sent them, and
    /// window completions. What [`AuditExport::write_to`] writes.
    ///
    /// # Errors
    /// As [`AuditExport::plan`].
    pub fn raw_events(self) -> Result<RawExportStream> {
        self.validate()?;
        Ok(RawExportStream::new(self))
    }

    /// Start the export and yield only the records. Simpler than
    /// [`AuditExport::events`], but without checkpoints.
    ///
    /// # Errors
    /// As [`AuditExport::plan`].
    pub fn records(self) -> Result<Records> {
        Ok(Records {
            events: self.events()?,
        })
    }
}
