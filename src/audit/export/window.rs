//! [`WindowRecords`]: the records of one window's request, parsed as the body
//! arrives, with the body requested again if it breaks off. Every wait —
//! for the headers, for each chunk of the body, before a retry — runs on the
//! client's idle clock ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout)).
//! [`OpenWindow`]: a window being requested, with the records it read ahead
//! of its turn, bounded by count and by bytes ([`Prefetched`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use progenitor_client::ClientInfo;

use super::scan::LogsScanner;
use crate::audit::endpoint::AUDIT_LOGS;
use crate::error::{Error, Result};
use crate::generated;
use crate::generated::types::{ApiDownloadAuditLogs, AuditLogs};
use crate::secret::Redactor;
use crate::transport::{Read, StreamedCall};

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
    pub(super) index: usize,
    records: WindowRecords,
    ahead: Prefetched,
    exhausted: bool,
}

impl OpenWindow {
    pub(super) fn new(index: usize, records: WindowRecords) -> Self {
        Self {
            index,
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

    /// The window's next record: those read ahead first, then from the
    /// body; `None` once the window is complete.
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<AuditLogs>>> {
        if let Some(item) = self.ahead.pop() {
            return Poll::Ready(Some(item));
        }
        if self.exhausted {
            return Poll::Ready(None);
        }
        let item = std::task::ready!(self.records.poll_next_unpin(cx));
        self.exhausted = item.is_none();
        Poll::Ready(item.map(|item| item.map(|fetched| fetched.record)))
    }
}

/// Records read ahead of their turn, and the bytes of their JSON.
#[derive(Default)]
struct Prefetched {
    items: VecDeque<Result<Fetched>>,
    bytes: usize,
}

impl Prefetched {
    /// Whether to read another record: fewer than [`PREFETCH_RECORDS`] held,
    /// and fewer than [`PREFETCH_BYTES`].
    fn has_room(&self) -> bool {
        self.items.len() < PREFETCH_RECORDS && self.bytes < PREFETCH_BYTES
    }

    fn push(&mut self, item: Result<Fetched>) {
        if let Ok(fetched) = &item {
            self.bytes += fetched.raw_bytes;
        }
        self.items.push_back(item);
    }

    fn pop(&mut self) -> Option<Result<AuditLogs>> {
        let item = self.items.pop_front()?;
        Some(item.map(|fetched| {
            self.bytes -= fetched.raw_bytes;
            fetched.record
        }))
    }
}

/// A record as read from a window's body.
pub(crate) struct Fetched {
    record: AuditLogs,
    /// The size of its JSON in the body.
    raw_bytes: usize,
}

/// The records of the audit-log endpoint for one `[from, to]` filter.
pub(crate) struct WindowRecords {
    inner: Pin<Box<dyn Stream<Item = Result<Fetched>> + Send>>,
}

impl WindowRecords {
    pub(crate) fn new(api: generated::Client, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let filter = ApiDownloadAuditLogs {
            start_date: Some(from),
            end_date: Some(to),
        };
        let redactor = api.inner().redactor().clone();
        let fetch = StreamedCall::get_json(&api, AUDIT_LOGS, &filter).map(|call| Fetch {
            call,
            scanner: LogsScanner::masking(redactor.clone()),
            redactor,
            filter,
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
                Ok(Some(record)) => Some((Ok(record), Some(Ok(fetch)))),
                Ok(None) => None,
                // An error ends the window's stream.
                Err(error) => Some((Err(error), None)),
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }

    fn poll_next_unpin(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Fetched>>> {
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
    /// Records read of the current response.
    position: u64,
    /// Records passed on, over all responses.
    yielded: u64,
    last_uuid: Option<String>,
}

impl Fetch {
    async fn next(&mut self) -> Result<Option<Fetched>> {
        loop {
            if let Some((record, raw_bytes)) = self.scanner.next_record()? {
                self.position += 1;
                if self.position < self.yielded {
                    continue;
                }
                if self.position == self.yielded {
                    // The record passed on last before the body broke: the
                    // repeated response must agree, or positions mean nothing.
                    if self.last_uuid.as_deref() != Some(record.event_uuid.as_str()) {
                        return Err(self.changed(&record.event_uuid));
                    }
                    continue;
                }
                self.yielded += 1;
                self.last_uuid = Some(record.event_uuid.clone());
                self.call.progressed();
                return Ok(Some(Fetched { record, raw_bytes }));
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
                    self.scanner = LogsScanner::masking(self.redactor.clone());
                    self.position = 0;
                }
                Read::Chunk(chunk) => self.scanner.push(&chunk),
                Read::End => match self.scanner.finish() {
                    Ok(()) => return Ok(None),
                    // A body that ends before the document does was cut short.
                    Err(error) => self.call.cut_short(error).await?,
                },
            }
        }
    }

    /// The error for a repeated request that returned other records than
    /// the first: the server's data moved, so positions mean nothing.
    fn changed(&self, found: &str) -> Error {
        let (from, to) = (self.filter.start_date, self.filter.end_date);
        let span = match (from, to) {
            (Some(from), Some(to)) => format!(" for {from}..{to}"),
            _ => String::new(),
        };
        Error::Inconsistent {
            message: format!(
                "the audit-log response{span} changed between attempts (its body broke off \
                 after record {} ({:?}); the repeated request has {found:?} there), so the \
                 window cannot be continued where it broke; some of its records were passed \
                 on, but the window is not complete: run the export again (an export into a \
                 file continues after the last window it completed)",
                self.yielded,
                self.last_uuid.as_deref().unwrap_or_default(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(raw_bytes: usize) -> Result<Fetched> {
        let record = serde_json::from_value(serde_json::json!({
            "timestamp": "2026-11-20T10:00:00Z", "event_uuid": "u", "client_ip": "1", "url": "/"
        }))
        .unwrap();
        Ok(Fetched { record, raw_bytes })
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
