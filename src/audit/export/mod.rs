//! Loss-free, resumable, bounded-memory audit-log export.
//!
//! Datafold returns every matching record in one response, so a long range is
//! one huge body. [`AuditExport`] splits the range into windows, requests them
//! (several at once, bounded), parses each body incrementally, and yields the
//! records in window order as a [`Stream`] of [`ExportEvent`]s.
//!
//! **Records are exact, except that secrets are masked.** Each record is
//! passed on as the server sent it, except for [`REDACTED`](crate::REDACTED)
//! in place of the values of secret fields
//! ([`is_secret_field`](crate::secret::is_secret_field): `token`,
//! `password`, `client_secret`, `token_value`, `api_key`, in any case, with
//! or without `_` or `-`; `null` stays `null`) anywhere inside `payload`, and
//! in place of the API key's clear text inside any string field. That holds
//! for every way out: [`AuditExport::events`], [`AuditExport::records`],
//! [`AuditExport::write_to`] and [`AuditExport::write_to_file`].
//!
//! **Nothing lost, nothing doubled.** Each window is requested with a small
//! overlap on both sides, so a record on a boundary is returned whatever the
//! server's boundary semantics (inclusive, exclusive, rounded). Each record
//! then belongs to exactly one window, by its timestamp — `[start, end)` of
//! the window, the last one including the export's end — and only that window
//! emits it; within a window's edge zones a repeated `event_uuid` is dropped.
//! A record whose timestamp cannot be parsed is emitted once, by the first
//! window that sees it, and its `event_uuid` is remembered (in the checkpoint
//! too).
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
//! [`ExportEvent::WindowDone`] with a [`Checkpoint`]. Persist the records
//! first, then save the checkpoint; [`AuditExport::resume_from`] continues
//! after the last saved window. [`AuditExport::write_to_file`] does exactly
//! that, and binds each checkpoint to its export and output
//! ([`FileCheckpoint`]): a resume that does not match is refused.
//!
//! **Bounded memory.** The head window's body is parsed as it arrives, one
//! record at a time; a window fetched ahead stops reading once it holds
//! [`PREFETCH_BYTES`] (8 MiB) of records, counted as the bytes of their JSON,
//! or 256 records, and lets TCP flow control hold the rest. So an export
//! holds at most about `concurrency - 1` times (8 MiB plus one record), plus
//! the record being passed on; one record is at most [`MAX_RECORD_BYTES`].
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
//! [`ClientBuilder::timeout`]: crate::ClientBuilder::timeout
//! [`Client::with_timeout`]: crate::Client::with_timeout

mod checkpoint;
mod file;
mod placement;
mod scan;
mod window;
mod write;

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use progenitor_client::ClientInfo;

pub use checkpoint::{Checkpoint, FileCheckpoint};
pub use file::{ExportFiles, IfInterrupted};
pub use scan::MAX_RECORD_BYTES;
pub use window::PREFETCH_BYTES;
pub use write::{ExportFormat, ExportSummary, CSV_COLUMNS};

use crate::error::{Error, Result};
use crate::generated;
use crate::generated::types::AuditLogs;
use crate::secret::Redactor;
use window::{OpenWindow, WindowRecords};

/// How far each window's request reaches into its neighbours, unless the
/// caller sets it: one minute, or the window if that is shorter.
const DEFAULT_OVERLAP: Duration = Duration::from_secs(60);
/// The longest window: 10 years.
const MAX_WINDOW_SECS: u64 = 10 * 366 * 86_400;
/// The most windows one export may have.
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
///     .window(Duration::from_secs(3600))
///     .concurrency(4)
///     // Written as october.jsonl.partial and renamed when complete; an
///     // interrupted run (october.jsonl.checkpoint) continues where it stopped.
///     .write_to_file(ExportFormat::JsonLines, "october.jsonl".as_ref(), IfInterrupted::Resume)
///     .await?;
/// println!("{} records in {} windows", summary.records, summary.windows);
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
    resume: Option<Checkpoint>,
    progress: Option<ProgressFn>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportProgress {
    /// Windows completed, earlier runs included.
    pub windows_done: usize,
    /// Windows in all.
    pub windows_total: usize,
    /// Records written in this run.
    pub records: u64,
}

#[derive(Clone)]
struct ProgressFn(std::sync::Arc<dyn Fn(&ExportProgress) + Send + Sync>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// What an export stream yields.
#[derive(Debug, Clone)]
pub enum ExportEvent {
    /// One audit-log record.
    Record(Box<AuditLogs>),
    /// Every record of a window has been yielded. Once they are persisted,
    /// saving this checkpoint lets an interrupted export resume after it.
    WindowDone(Checkpoint),
}

impl AuditExport {
    pub(crate) fn new(api: generated::Client, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self {
            api,
            start,
            end,
            window: Duration::from_secs(3600),
            overlap: DEFAULT_OVERLAP,
            overlap_chosen: false,
            concurrency: 4,
            resume: None,
            progress: None,
        }
    }

    /// Call `report` as a written export ([`AuditExport::write_to`],
    /// [`AuditExport::write_to_file`]) advances: after each window and every
    /// few thousand records. For progress bars.
    pub fn on_progress(mut self, report: impl Fn(&ExportProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressFn(std::sync::Arc::new(report)));
        self
    }

    /// Length of each window, in whole seconds. Default one hour.
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

    /// Continue after the windows `checkpoint` records as done.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the field when the checkpoint belongs to
    /// an export with another host, range, window or overlap, or counts more
    /// windows than this export has; [`Error::InvalidRequest`] as
    /// [`AuditExport::plan`].
    pub fn resume_from(mut self, checkpoint: Checkpoint) -> Result<Self> {
        let (windows, _) = self.windows()?;
        let expected = self.checkpoint_at(0, 0, Vec::new());
        let windows = usize::try_from(windows).unwrap_or(usize::MAX);
        checkpoint.check_belongs_to(&expected, windows, "the checkpoint")?;
        self.resume = Some(checkpoint);
        Ok(self)
    }

    /// This export's checkpoint after `windows_done` windows.
    fn checkpoint_at(
        &self,
        windows_done: usize,
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
            windows_done,
            records_done,
            unplaced_uuids,
        }
    }

    /// The windows this export covers, as `(start, end)` pairs.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty range, a window or overlap that
    /// is not whole seconds (or an overlap longer than the window), a window
    /// over 10 years, a concurrency outside 1 to [`MAX_CONCURRENCY`], or more
    /// than a million windows.
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

    /// How many windows, and how long each is.
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

    /// Start the export: a stream of records and window completions.
    ///
    /// # Errors
    /// As [`AuditExport::plan`].
    pub fn events(self) -> Result<ExportStream> {
        let plan = self.plan()?;
        let (done, records_done, unplaced) = match &self.resume {
            Some(c) => (c.windows_done, c.records_done, c.unplaced_uuids.clone()),
            None => (0, 0, Vec::new()),
        };
        Ok(ExportStream {
            overlap: chrono::Duration::seconds(self.overlap.as_secs() as i64),
            redactor: self.api.inner().redactor().clone(),
            next_open: done.min(plan.len()),
            unplaced: unplaced.into_iter().collect(),
            export: self,
            plan,
            open: VecDeque::new(),
            records_done,
            window_records: 0,
            edge_seen: HashSet::new(),
            recent: placement::Recent::default(),
            out_of_range_seen: HashSet::default(),
            misplaced: 0,
            out_of_range: 0,
            window_misplaced: 0,
            window_out_of_range: 0,
            finished: false,
        })
    }

    /// Start the export and yield only the records. Simpler than
    /// [`AuditExport::events`], but without checkpoints.
    ///
    /// # Errors
    /// As [`AuditExport::plan`].
    pub fn records(self) -> Result<impl Stream<Item = Result<AuditLogs>> + Send + Unpin> {
        Ok(self.events()?.filter_map(|event| {
            std::future::ready(match event {
                Ok(ExportEvent::Record(record)) => Some(Ok(*record)),
                Ok(ExportEvent::WindowDone(_)) => None,
                Err(e) => Some(Err(e)),
            })
        }))
    }
}

/// The running export; see [`AuditExport::events`].
pub struct ExportStream {
    export: AuditExport,
    plan: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    overlap: chrono::Duration,
    /// Masks secrets in every record passed on (see the module docs).
    redactor: Redactor,
    next_open: usize,
    open: VecDeque<OpenWindow>,
    records_done: u64,
    window_records: u64,
    unplaced: HashSet<String>,
    edge_seen: HashSet<String>,
    recent: placement::Recent,
    out_of_range_seen: placement::HashSet,
    misplaced: u64,
    out_of_range: u64,
    window_misplaced: u64,
    window_out_of_range: u64,
    finished: bool,
}

impl ExportStream {
    /// How many windows the export has in all.
    pub fn windows(&self) -> usize {
        self.plan.len()
    }

    /// How many windows were done before this stream started (when resuming).
    pub fn windows_done(&self) -> usize {
        self.export.resume.as_ref().map_or(0, |c| c.windows_done)
    }

    /// Records emitted so far although their timestamp does not place them
    /// in the window that returned them (or cannot be read); see the
    /// [module docs](crate::audit::export).
    pub fn misplaced(&self) -> u64 {
        self.misplaced
    }

    /// Distinct records returned so far whose timestamp lies outside the
    /// export's range, and that were therefore not emitted.
    pub fn out_of_range(&self) -> u64 {
        self.out_of_range
    }

    fn open_windows(&mut self) {
        while self.open.len() < self.export.concurrency && self.next_open < self.plan.len() {
            let (from, to) = self.plan[self.next_open];
            let records = WindowRecords::new(
                self.export.api.clone(),
                from - self.overlap,
                to + self.overlap,
            );
            self.open
                .push_back(OpenWindow::new(self.next_open, records));
            self.next_open += 1;
        }
    }

    fn checkpoint(&self, windows_done: usize) -> Checkpoint {
        self.export.checkpoint_at(
            windows_done,
            self.records_done,
            self.unplaced.iter().cloned().collect(),
        )
    }
}

impl Stream for ExportStream {
    type Item = Result<ExportEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            this.open_windows();
            for ahead in this.open.iter_mut().skip(1) {
                ahead.prefetch(cx);
            }
            let Some(head) = this.open.front_mut() else {
                this.finished = true;
                return Poll::Ready(None);
            };
            let item = std::task::ready!(head.poll_next(cx));
            let index = head.index;
            match item {
                Some(Ok(mut record)) => match this.place(index, &record) {
                    Ok(true) => {
                        this.window_records += 1;
                        record.mask_secrets(&this.redactor);
                        return Poll::Ready(Some(Ok(ExportEvent::Record(Box::new(record)))));
                    }
                    Ok(false) => {}
                    Err(error) => {
                        this.finished = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                },
                Some(Err(error)) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    this.open.pop_front();
                    this.records_done += std::mem::take(&mut this.window_records);
                    this.edge_seen.clear();
                    this.warn_about_placement(index);
                    let checkpoint = this.checkpoint(index + 1);
                    return Poll::Ready(Some(Ok(ExportEvent::WindowDone(checkpoint))));
                }
            }
        }
    }
}

impl std::fmt::Debug for ExportStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportStream")
            .field("windows", &self.plan.len())
            .field("next_open", &self.next_open)
            .field("open", &self.open.len())
            .field("records_done", &self.records_done)
            .finish_non_exhaustive()
    }
}
