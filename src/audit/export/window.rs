//! [`WindowRecords`]: the records of one window's request, parsed as the body
//! arrives, with the body requested again if it breaks off. Every wait —
//! for the headers, for each chunk of the body, before a retry — runs on the
//! client's idle clock ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout)).
//! A body that passes the size bound is dropped ([`WindowItem::TooLarge`]),
//! for the export to ask for the window again in pieces.
//! [`OpenWindow`]: a window being requested, with the records it read ahead
//! of its turn, bounded by count and by bytes ([`Prefetched`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use progenitor_client::ClientInfo;

use super::raw::{RawRecord, UnreadableRecord};
use super::scan::LogsScanner;
use crate::audit::endpoint::AUDIT_LOGS;
use crate::error::{Error, Result};
use crate::generated;
use crate::generated::types::ApiDownloadAuditLogs;
use crate::secret::Redactor;
use crate::transport::{excerpt, Read, StreamedCall};

/// Records a window fetched ahead of the head may hold before it waits.
pub(super) const PREFETCH_RECORDS: usize = 256;
/// Bytes of records (their JSON as received) a window fetched ahead may hold
/// before it waits: it stops reading at this, so it holds at most this much
/// plus one record, and TCP flow control holds the rest of its body.
pub const PREFETCH_BYTES: usize = 8 * 1024 * 1024;

/// A window being requested: [`OpenWindow::prefetch`] reads ahead while it
/// is not the head, [`OpenWindow::poll_next`] passes its records on in turn
/// (the head reads one record at a time).
pub(super) struct OpenWindow {
    /// The window's own span: the records it emits lie in `[from, to)`.
    pub(super) span: (DateTime<Utc>, DateTime<Utc>),
    records: WindowRecords,
    ahead: Prefetched,
    exhausted: bool,
}

impl OpenWindow {
    pub(super) fn new(span: (DateTime<Utc>, DateTime<Utc>), records: WindowRecords) -> Self {
        Self {
            span,
            records,
            ahead: Prefetched::default(),
            exhausted: false,
        }
    }

    /// Read ahead, within the bounds, without waiting.
    pub(super) fn prefetch(&mut self, cx: &mut Context<'_>) {
        while !self.exhausted && self.ahead.has_room() {
            match self.records.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => self.ahead.push(item),
                Poll::Ready(None) => self.exhausted = true,
                Poll::Pending => break,
            }
        }
    }

    /// The window's next item: those read ahead first, then from the body;
    /// `None` after [`WindowItem::Complete`] or [`WindowItem::TooLarge`].
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<WindowItem>>> {
        if let Some(item) = self.ahead.pop() {
            return Poll::Ready(Some(item));
        }
        if self.exhausted {
            return Poll::Ready(None);
        }
        let item = std::task::ready!(self.records.poll_next_unpin(cx));
        self.exhausted = item.is_none();
        Poll::Ready(item)
    }
}

/// What a window's request yields.
pub(crate) enum WindowItem {
    /// The next record of the body.
    Record(RawRecord),
    /// The next record of the body, which cannot be read (only when the
    /// window is read as a feed).
    Unreadable(UnreadableRecord),
    /// The body ended: every record has been yielded.
    Complete(ResponseStats),
    /// The body passed the size bound: the request was dropped, and only the
    /// records yielded so far were read.
    TooLarge(ResponseStats),
}

/// What a window's request cost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResponseStats {
    /// Requests sent (a body that broke off is requested again).
    pub(crate) requests: u64,
    /// Bytes of the body read, of the last response.
    pub(crate) body_bytes: u64,
}

/// Items read ahead of their turn, and the bytes of their records' JSON.
#[derive(Default)]
struct Prefetched {
    items: VecDeque<Result<WindowItem>>,
    bytes: usize,
}

impl Prefetched {
    /// Whether to read another record: fewer than [`PREFETCH_RECORDS`] held,
    /// and fewer than [`PREFETCH_BYTES`].
    fn has_room(&self) -> bool {
        self.items.len() < PREFETCH_RECORDS && self.bytes < PREFETCH_BYTES
    }

    fn push(&mut self, item: Result<WindowItem>) {
        if let Ok(WindowItem::Record(record)) = &item {
            self.bytes += record.json().len();
        }
        self.items.push_back(item);
    }

    fn pop(&mut self) -> Option<Result<WindowItem>> {
        let item = self.items.pop_front()?;
        if let Ok(WindowItem::Record(record)) = &item {
            self.bytes -= record.json().len();
        }
        Some(item)
    }
}

/// The records of the audit-log endpoint for one `[from, to]` filter.
pub(crate) struct WindowRecords {
    inner: Pin<Box<dyn Stream<Item = Result<WindowItem>> + Send>>,
}

impl WindowRecords {
    /// The request for `[from, to]`, read until its body passes
    /// `bound_bytes` (then [`WindowItem::TooLarge`]); `u64::MAX` reads it
    /// whole. With `feed` (`Some(cap)`), unreadable records are yielded as
    /// such, and a body past `cap` bytes is an error whatever it holds.
    pub(crate) fn new(
        api: generated::Client,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        bound_bytes: u64,
        feed: Option<u64>,
    ) -> Self {
        let filter = ApiDownloadAuditLogs {
            start_date: Some(from),
            end_date: Some(to),
        };
        let redactor = api.inner().redactor().clone();
        let fetch = StreamedCall::get_json(&api, AUDIT_LOGS, &filter).map(|call| Fetch {
            call,
            scanner: scanner(&redactor, feed.is_some()),
            redactor,
            filter,
            bound_bytes,
            feed,
            stats: ResponseStats::default(),
            asked_for_bytes: 0,
            position: 0,
            yielded: 0,
            last_uuid: None,
        });
        let inner = futures_util::stream::unfold(Some(fetch), |fetch| async move {
            let mut fetch = match fetch? {
                Ok(fetch) => fetch,
                Err(error) => return Some((Err(error), None)),
            };
            match fetch.next().await {
                Ok(item @ (WindowItem::Record(_) | WindowItem::Unreadable(_))) => {
                    Some((Ok(item), Some(Ok(fetch))))
                }
                // The last item: the request is dropped with `fetch`.
                Ok(item) => Some((Ok(item), None)),
                // An error ends the window's stream.
                Err(error) => Some((Err(error), None)),
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }

    fn poll_next_unpin(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<WindowItem>>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// One window's records, read from its streamed call. A body that breaks
/// off is requested again (as the transport's retry policy allows), and the
/// records already passed on are skipped by position, checked by uuid.
struct Fetch {
    call: StreamedCall,
    filter: ApiDownloadAuditLogs,
    redactor: Redactor,
    scanner: LogsScanner,
    bound_bytes: u64,
    /// Read as a feed: the hard cap on a body.
    feed: Option<u64>,
    stats: ResponseStats,
    /// Bytes of the current response's records that lie in the filter.
    asked_for_bytes: u64,
    /// Records read of the current response.
    position: u64,
    /// Records passed on, over all responses.
    yielded: u64,
    last_uuid: Option<String>,
}

impl Fetch {
    async fn next(&mut self) -> Result<WindowItem> {
        loop {
            if let Some((raw, read)) = self.scanner.next_found()? {
                self.position += 1;
                let item = match read {
                    // Read in the pass that found it.
                    Some(record) => self.readable(record),
                    None => match RawRecord::read(raw, &self.redactor) {
                        Ok(record) => self.readable(record),
                        Err(problem) if self.feed.is_some() => WindowItem::Unreadable(
                            UnreadableRecord::of_bytes(raw, &self.redactor, problem),
                        ),
                        Err(problem) => {
                            return Err(Error::Decode {
                                status: None,
                                excerpt: excerpt(raw, &self.redactor),
                                error: <serde_json::Error as serde::de::Error>::custom(format!(
                                    "audit-log record {} of the response{} breaks the schema: \
                                     {problem}",
                                    self.position,
                                    span_text(&self.filter)
                                )),
                            })
                        }
                    },
                };
                let id = match &item {
                    WindowItem::Record(record) => {
                        let asked_for = (self.filter.start_date, self.filter.end_date, record.at());
                        if let (Some(from), Some(to), Some(at)) = asked_for {
                            if from <= at && at <= to {
                                self.asked_for_bytes += record.json().len() as u64;
                            }
                        }
                        record.event_uuid()
                    }
                    WindowItem::Unreadable(unreadable) => unreadable.key(),
                    _ => "",
                };
                if self.position < self.yielded {
                    continue;
                }
                if self.position == self.yielded {
                    // The record passed on last before the body broke: the
                    // repeated response must agree, or positions mean nothing.
                    if self.last_uuid.as_deref() != Some(id) {
                        return Err(self.changed(id));
                    }
                    continue;
                }
                self.yielded += 1;
                self.last_uuid = Some(id.to_owned());
                self.call.progressed();
                return Ok(item);
            }
            match self.call.read().await? {
                Read::Started => {
                    if self.yielded > 0 {
                        tracing::warn!(
                            from = ?self.filter.start_date,
                            to = ?self.filter.end_date,
                            records_kept = self.yielded,
                            "audit-log body broke off; reading the window again past the records kept"
                        );
                    }
                    self.scanner = scanner(&self.redactor, self.feed.is_some());
                    self.position = 0;
                    self.stats.requests += 1;
                    self.stats.body_bytes = 0;
                    self.asked_for_bytes = 0;
                }
                Read::Chunk(chunk) => {
                    let bytes = self.stats.body_bytes + chunk.len() as u64;
                    if bytes > self.bound_bytes {
                        if self.asked_for_bytes.saturating_mul(2) >= self.stats.body_bytes {
                            // Not read: the window is asked for again in pieces.
                            return Ok(WindowItem::TooLarge(self.stats));
                        }
                        // Mostly what was not asked for (data beside the
                        // records, or a server ignoring the filter): pieces
                        // would be as large, so this one is read whole.
                        self.bound_bytes = u64::MAX;
                    }
                    // A feed reads no body past its cap, even one that
                    // cannot be cut or is mostly not asked for.
                    let uncut = self.bound_bytes == u64::MAX;
                    if let Some(cap) = self.feed.filter(|cap| uncut && bytes > *cap) {
                        return Err(Error::ResponseTooLarge {
                            what: format!("the audit-log response{}", span_text(&self.filter)),
                            limit: cap,
                            advice: "the poll is tried again, its windows cut smaller".into(),
                        });
                    }
                    self.stats.body_bytes = bytes;
                    self.scanner.push(&chunk);
                }
                Read::End => match self.scanner.finish() {
                    Ok(()) => return Ok(WindowItem::Complete(self.stats)),
                    // A body that ends before the document does was cut short.
                    Err(error) => self.call.cut_short(error).await?,
                },
            }
        }
    }

    /// A record read whole: read as a feed, one whose timestamp cannot be
    /// read is unreadable (it never reaches placement, so that a readable
    /// copy with its `event_uuid` is passed on as usual).
    fn readable(&self, record: RawRecord) -> WindowItem {
        if self.feed.is_some() && record.at().is_none() {
            return WindowItem::Unreadable(UnreadableRecord::of_timestamp(record, &self.redactor));
        }
        WindowItem::Record(record)
    }

    /// The error for a repeated request that returned other records than
    /// the first: the server's data moved, so positions mean nothing.
    fn changed(&self, found: &str) -> Error {
        Error::Inconsistent {
            message: format!(
                "the audit-log response{} changed between attempts (its body broke off \
                 after record {} ({:?}); the repeated request has {found:?} there), so the \
                 window cannot be continued where it broke; some of its records were passed \
                 on, but the window is not complete: run the export again (an export into a \
                 file continues after the last window it completed)",
                span_text(&self.filter),
                self.yielded,
                self.last_uuid.as_deref().unwrap_or_default(),
            ),
        }
    }
}

/// The scanner of one response: lenient when read as a feed.
fn scanner(redactor: &Redactor, feed: bool) -> LogsScanner {
    if feed {
        LogsScanner::lenient(redactor.clone())
    } else {
        LogsScanner::masking(redactor.clone())
    }
}

/// " for FROM..TO", the span a request asked for.
fn span_text(filter: &ApiDownloadAuditLogs) -> String {
    match (filter.start_date, filter.end_date) {
        (Some(from), Some(to)) => format!(" for {from}..{to}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(raw_bytes: usize) -> Result<WindowItem> {
        let record = |padding: &str| {
            format!(
                r#"{{"timestamp":"2026-11-20T10:00:00Z","event_uuid":"u","client_ip":"1","url":"/","p":"{padding}"}}"#
            )
        };
        let raw = record(&"x".repeat(raw_bytes - record("").len()));
        let record = RawRecord::read(raw.as_bytes(), &Redactor::new()).unwrap();
        assert_eq!(record.json().len(), raw_bytes);
        Ok(WindowItem::Record(record))
    }

    #[test]
    fn records_read_ahead_are_bounded_by_bytes() {
        let mut ahead = Prefetched::default();
        let three_mib = 3 * 1024 * 1024;
        ahead.push(fetched(three_mib));
        ahead.push(fetched(three_mib));
        assert!(ahead.has_room(), "6 MiB held");
        ahead.push(fetched(three_mib));
        assert!(!ahead.has_room(), "9 MiB held");
        assert!(ahead.pop().unwrap().is_ok());
        assert!(ahead.has_room(), "6 MiB held again");
        ahead.pop();
        ahead.pop();
        assert_eq!(ahead.bytes, 0);
        assert!(ahead.pop().is_none());
        // One record larger than the bound is read ahead alone.
        ahead.push(fetched(16 * 1024 * 1024));
        assert!(!ahead.has_room());
    }

    #[test]
    fn records_read_ahead_are_bounded_by_count() {
        let mut ahead = Prefetched::default();
        for _ in 0..PREFETCH_RECORDS {
            assert!(ahead.has_room());
            ahead.push(fetched(100));
        }
        assert!(!ahead.has_room());
    }
}
