//! The running export: [`RawExportStream`] opens the windows the planner
//! chooses, places each record in exactly one window, cuts windows whose
//! response passes the bound, and yields checkpoints; [`ExportStream`] is
//! the same with typed records.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use progenitor_client::ClientInfo;

use super::placement::{self, Placement};
use super::plan::{Span, SpanPlanner, PROBE_FRACTION};
use super::window::{OpenWindow, WindowItem, WindowRecords};
use super::{AuditExport, Checkpoint, ExportEvent, RawExportEvent, RawRecord, UnreadableRecord};
use crate::audit::AuditLog;
use crate::error::{Error, Result};
use crate::secret::Redactor;

/// The running export, records as the server sent them; see
/// [`AuditExport::raw_events`].
pub struct RawExportStream {
    pub(super) export: AuditExport,
    pub(super) planner: SpanPlanner,
    pub(super) overlap: chrono::Duration,
    redactor: Redactor,
    open: VecDeque<OpenWindow>,
    /// Everything timestamped before this has been passed on.
    done_until: DateTime<Utc>,
    records_done: u64,
    /// Records passed on since the last checkpoint.
    uncommitted: u64,
    placement: Placement,
    /// The head window's records passed on (hashes of their `event_uuid`s),
    /// to skip if it is cut.
    head_passed: Vec<u64>,
    /// The earliest and latest timestamps the head window returned.
    head_seen: Option<Span>,
    /// Records passed on by cut windows, skipped by their pieces; no
    /// checkpoint is yielded until the pieces pass `skip_until`.
    skip: placement::HashSet,
    skip_until: Option<DateTime<Utc>>,
    /// The span and position (in its window) of the last record passed on.
    last_record: (Span, u64),
    requests: u64,
    largest_response: u64,
    finished: bool,
}

impl RawExportStream {
    pub(super) fn new(export: AuditExport) -> Self {
        let overlap = chrono::Duration::seconds(export.overlap.as_secs() as i64);
        let (done_until, records_done, unplaced) = match &export.resume {
            Some(c) => (c.done_until, c.records_done, c.unplaced_uuids.clone()),
            None => (export.start, 0, Vec::new()),
        };
        Self {
            overlap,
            redactor: export.api.inner().redactor().clone(),
            planner: export
                .planner(done_until)
                .reaching(export.overlap.as_secs()),
            placement: Placement::new((export.start, export.end), overlap, unplaced),
            last_record: ((export.start, export.start), 0),
            export,
            open: VecDeque::new(),
            done_until,
            records_done,
            uncommitted: 0,
            head_passed: Vec::new(),
            head_seen: None,
            skip: placement::HashSet::default(),
            skip_until: None,
            requests: 0,
            largest_response: 0,
            finished: false,
        }
    }

    /// How many longest windows ([`AuditExport::plan`]) the export has.
    pub fn windows(&self) -> usize {
        self.planner.cells()
    }

    /// How many of them were done before this stream started (when resuming).
    pub fn windows_done(&self) -> usize {
        self.export.resume.as_ref().map_or(0, |c| c.windows_done)
    }

    /// Records emitted so far although their timestamp does not place them
    /// in the window that returned them (or cannot be read); see the
    /// [module docs](crate::audit::export).
    pub fn misplaced(&self) -> u64 {
        self.placement.misplaced
    }

    /// Distinct records returned so far whose timestamp lies outside the
    /// export's range, and that were therefore not emitted.
    pub fn out_of_range(&self) -> u64 {
        self.placement.out_of_range
    }

    /// Requests sent so far (a body that broke off and was asked for again
    /// counts twice).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The most bytes of body read from one response so far.
    pub fn largest_response_bytes(&self) -> u64 {
        self.largest_response
    }

    /// Where the last record passed on came from: its window's span, and its
    /// position among the records that window passed on (from 1).
    pub fn last_record_origin(&self) -> (DateTime<Utc>, DateTime<Utc>, u64) {
        let ((from, to), position) = self.last_record;
        (from, to, position)
    }

    fn open_windows(&mut self) {
        while self.open.len() < self.export.concurrency {
            let Some(span) = self.planner.next_span() else {
                break;
            };
            let bound = if !SpanPlanner::divisible(span) {
                u64::MAX
            } else if self.planner.knows_density() {
                self.export.max_response_bytes
            } else {
                // A guess: cut early if it was wrong.
                self.export.max_response_bytes / PROBE_FRACTION
            };
            let feed = self.export.feed.then_some(self.export.max_response_bytes);
            let records =
                WindowRecords::new(self.export.api.clone(), self.reach_of(span), bound, feed);
            self.open.push_back(OpenWindow::new(span, records));
        }
    }

    fn fail<T>(&mut self, error: Error) -> Poll<Option<Result<T>>> {
        self.finished = true;
        Poll::Ready(Some(Err(error)))
    }

    /// What the request for `span` asks for: the span and, on each side, the
    /// overlap, but never more than the span is long, so that short spans
    /// in dense stretches do not read their neighbours many times over.
    fn reach_of(&self, span: Span) -> Span {
        let reach = self.overlap.min(span.1 - span.0);
        (span.0 - reach, span.1 + reach)
    }

    /// The head window `span` was read whole.
    fn window_complete(&mut self, span: Span, body_bytes: u64) -> Option<Checkpoint> {
        self.open.pop_front();
        // The body covered the time asked for, overlap included.
        self.planner.completed(self.reach_of(span), body_bytes);
        self.placement.edge_seen.clear();
        self.head_passed.clear();
        self.head_seen = None;
        self.placement.warn_about_placement(span);
        self.done_until = span.1;
        if self.skip_until.is_some_and(|until| span.1 <= until) {
            // Records of a cut window lie beyond: a checkpoint here would
            // have a resume pass them on again.
            return None;
        }
        self.skip.clear();
        self.skip_until = None;
        self.records_done += std::mem::take(&mut self.uncommitted);
        Some(self.export.checkpoint_at(
            self.done_until,
            self.records_done,
            self.placement.unplaced.iter().cloned().collect(),
        ))
    }

    /// The head window `span` passed the bound: ask for it again in pieces,
    /// skipping what it passed on. Windows opened after it are dropped too,
    /// to be planned again after the pieces.
    fn window_cut(&mut self, span: Span, body_bytes: u64) {
        self.skip.extend(self.head_passed.drain(..));
        if let Some((_, latest)) = self.head_seen {
            self.skip_until = Some(self.skip_until.map_or(latest, |t| t.max(latest)));
        }
        self.planner.cut(span, body_bytes, self.head_seen.take());
        self.open.clear();
        self.placement.edge_seen.clear();
    }
}

/// What a feed's export stream yields ([`RawExportStream::poll_item`]).
pub(crate) enum FeedItem {
    Event(RawExportEvent),
    /// A record that cannot be read (only from an export read as a feed).
    Unreadable(UnreadableRecord),
}

impl Stream for RawExportStream {
    type Item = Result<RawExportEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        Poll::Ready(match std::task::ready!(this.poll_item(cx)) {
            None => None,
            Some(Ok(FeedItem::Event(event))) => Some(Ok(event)),
            Some(Err(error)) => Some(Err(error)),
            // Not yielded unless the export is read as a feed.
            Some(Ok(FeedItem::Unreadable(unreadable))) => {
                this.finished = true;
                Some(Err(unreadable.error(None)))
            }
        })
    }
}

impl RawExportStream {
    /// The next event, or (read as a feed) unreadable record.
    pub(crate) fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<FeedItem>>> {
        let this = self;
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
            let span = head.span;
            match std::task::ready!(head.poll_next(cx)) {
                Some(Ok(WindowItem::Record(record))) => {
                    let at = record.at();
                    if let Some(at) = at {
                        this.head_seen = Some(
                            this.head_seen
                                .map_or((at, at), |(a, b)| (a.min(at), b.max(at))),
                        );
                    }
                    match this.placement.place(span, &record, at, &this.skip) {
                        Ok(Some(hash)) => {
                            this.head_passed.push(hash);
                            this.uncommitted += 1;
                            let position = if this.last_record.0 == span {
                                this.last_record.1 + 1
                            } else {
                                1
                            };
                            this.last_record = (span, position);
                            return Poll::Ready(Some(Ok(FeedItem::Event(RawExportEvent::Record(
                                record,
                            )))));
                        }
                        Ok(None) => {}
                        Err(error) => return this.fail(error),
                    }
                }
                Some(Ok(WindowItem::Complete(stats))) => {
                    this.requests += stats.requests;
                    this.largest_response = this.largest_response.max(stats.body_bytes);
                    if let Some(checkpoint) = this.window_complete(span, stats.body_bytes) {
                        return Poll::Ready(Some(Ok(FeedItem::Event(RawExportEvent::WindowDone(
                            checkpoint,
                        )))));
                    }
                }
                Some(Ok(WindowItem::Unreadable(unreadable))) => {
                    return Poll::Ready(Some(Ok(FeedItem::Unreadable(unreadable))));
                }
                Some(Ok(WindowItem::TooLarge(stats))) => {
                    this.requests += stats.requests;
                    this.largest_response = this.largest_response.max(stats.body_bytes);
                    this.window_cut(span, stats.body_bytes);
                }
                Some(Err(error)) => return this.fail(error),
                None => {
                    return this.fail(Error::Inconsistent {
                        message: format!(
                            "the audit-log window {}..{} ended without completing; run the \
                             export again",
                            span.0, span.1
                        ),
                    })
                }
            }
        }
    }
}

impl std::fmt::Debug for RawExportStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawExportStream")
            .field("windows", &self.planner.cells())
            .field("done_until", &self.done_until)
            .field("open", &self.open.len())
            .field("records_done", &self.records_done)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

/// The running export, records typed; see [`AuditExport::events`].
#[derive(Debug)]
pub struct ExportStream {
    raw: RawExportStream,
}

impl ExportStream {
    pub(super) fn new(raw: RawExportStream) -> Self {
        Self { raw }
    }

    /// As [`RawExportStream::windows`].
    pub fn windows(&self) -> usize {
        self.raw.windows()
    }

    /// As [`RawExportStream::windows_done`].
    pub fn windows_done(&self) -> usize {
        self.raw.windows_done()
    }

    /// As [`RawExportStream::misplaced`].
    pub fn misplaced(&self) -> u64 {
        self.raw.misplaced()
    }

    /// As [`RawExportStream::out_of_range`].
    pub fn out_of_range(&self) -> u64 {
        self.raw.out_of_range()
    }

    /// As [`RawExportStream::requests`].
    pub fn requests(&self) -> u64 {
        self.raw.requests()
    }

    /// As [`RawExportStream::largest_response_bytes`].
    pub fn largest_response_bytes(&self) -> u64 {
        self.raw.largest_response_bytes()
    }
}

impl Stream for ExportStream {
    type Item = Result<ExportEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let event = std::task::ready!(Pin::new(&mut this.raw).poll_next(cx));
        Poll::Ready(event.map(|event| match event? {
            RawExportEvent::Record(record) => match this.raw.decode(&record) {
                Ok(typed) => Ok(ExportEvent::Record(Box::new(typed))),
                Err(error) => {
                    this.raw.finished = true;
                    Err(error)
                }
            },
            RawExportEvent::WindowDone(checkpoint) => Ok(ExportEvent::WindowDone(checkpoint)),
        }))
    }
}

/// The error for a record whose fields the typed view cannot hold: where
/// it came from, and why.
pub(super) fn schema_error(
    stream: &RawExportStream,
    record: &RawRecord,
    error: serde_json::Error,
) -> Error {
    let (from, to, position) = stream.last_record_origin();
    let why = if record.timestamp_utc().is_err() {
        // The export passes the record on; only the typed view cannot.
        format!(
            "has a timestamp that cannot be read as a time ({:?}), so it has no typed view \
             (`AuditLog::timestamp` is a time); raw_events(), write_to() and write_to_file() \
             pass such a record on as the server sent it",
            crate::error::clip(&stream.redactor.text(record.timestamp()), 80)
        )
    } else {
        format!(
            "breaks the schema: {}",
            stream.redactor.text(&error.to_string())
        )
    };
    Error::Decode {
        status: None,
        excerpt: crate::transport::excerpt(record.json().as_bytes(), &stream.redactor),
        error: <serde_json::Error as serde::de::Error>::custom(format!(
            "audit-log record {position} of the window {from}..{to} ({:?}) {why}",
            stream.redactor.text(record.event_uuid())
        )),
    }
}

impl RawExportStream {
    /// The typed view of `record`, the record this stream passed on last
    /// (as [`RawRecord::decode`]); its error says where the record came from
    /// and why it has no typed view.
    ///
    /// # Errors
    /// [`Error::Decode`] when a field the spec lists has another type, or
    /// the `timestamp` cannot be read as a time.
    pub fn decode(&self, record: &RawRecord) -> Result<AuditLog> {
        record
            .decode()
            .map_err(|error| schema_error(self, record, error))
    }
}

impl RawExportStream {
    /// The next event, or `None` once the export is done: the stream's
    /// `next()` without importing [`StreamExt`](crate::StreamExt).
    pub async fn next(&mut self) -> Option<Result<RawExportEvent>> {
        StreamExt::next(self).await
    }
}

impl ExportStream {
    /// The next event, or `None` once the export is done: the stream's
    /// `next()` without importing [`StreamExt`](crate::StreamExt).
    pub async fn next(&mut self) -> Option<Result<ExportEvent>> {
        StreamExt::next(self).await
    }
}

/// The records of an export, without its checkpoints; see
/// [`AuditExport::records`]. A [`Stream`], with an inherent
/// [`Records::next`] that needs no trait in scope.
pub struct Records {
    pub(super) events: ExportStream,
}

impl Records {
    /// The next record, or `None` once the export is done. After an
    /// error, the stream ends.
    pub async fn next(&mut self) -> Option<Result<AuditLog>> {
        StreamExt::next(self).await
    }

    /// The running export behind the records, for its counters
    /// ([`ExportStream::requests`] and the like).
    pub fn events(&self) -> &ExportStream {
        &self.events
    }
}

impl Stream for Records {
    type Item = Result<AuditLog>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            return match std::task::ready!(Pin::new(&mut this.events).poll_next(cx)) {
                Some(Ok(ExportEvent::Record(record))) => Poll::Ready(Some(Ok(*record))),
                Some(Ok(ExportEvent::WindowDone(_))) => continue,
                Some(Err(error)) => Poll::Ready(Some(Err(error))),
                None => Poll::Ready(None),
            };
        }
    }
}
