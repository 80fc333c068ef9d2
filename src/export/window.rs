//! [`WindowRecords`]: the records of one window's request, parsed as the body
//! arrives, with the body requested again if it breaks off. Every wait —
//! for the headers, for each chunk of the body, before a retry — runs on the
//! client's idle clock ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout)).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{FutureExt, Stream, StreamExt};
use progenitor_client::OperationInfo;
use reqwest::header::{HeaderValue, ACCEPT};

use super::scan::LogsScanner;
use crate::client::{execute, Buffering, Client};
use crate::error::{Error, Result};
use crate::generated::types::{ApiDownloadAuditLogs, AuditLogs};
use crate::limits::{failure_of, IdleClock, Waiting};
use crate::retry::{Failure, Safety};

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The records of `GET /api/v1/audit_logs` for one `[from, to]` filter.
pub(crate) struct WindowRecords {
    inner: Pin<Box<dyn Stream<Item = Result<AuditLogs>> + Send>>,
}

impl WindowRecords {
    pub(crate) fn new(client: Client, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let fetch = Fetch {
            clock: client.idle_clock(),
            url: None,
            client,
            filter: ApiDownloadAuditLogs {
                start_date: Some(from),
                end_date: Some(to),
            },
            body: None,
            scanner: LogsScanner::default(),
            position: 0,
            yielded: 0,
            last_uuid: None,
            body_retries: 0,
        };
        let inner = futures_util::stream::unfold(Some(fetch), |fetch| async move {
            let mut fetch = fetch?;
            match fetch.next().await {
                Ok(Some(record)) => Some((Ok(record), Some(fetch))),
                Ok(None) => None,
                // An error ends the window's stream.
                Err(error) => Some((Err(error), None)),
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }

    pub(crate) fn poll_next_unpin(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<AuditLogs>>> {
        self.inner.poll_next_unpin(cx)
    }
}

struct Fetch {
    client: Client,
    filter: ApiDownloadAuditLogs,
    clock: IdleClock,
    /// Where the body being read came from (after any redirect).
    url: Option<reqwest::Url>,
    body: Option<Body>,
    scanner: LogsScanner,
    /// Records read in the current attempt.
    position: u64,
    /// Records passed on, over all attempts.
    yielded: u64,
    last_uuid: Option<String>,
    body_retries: u32,
}

impl Fetch {
    async fn next(&mut self) -> Result<Option<AuditLogs>> {
        loop {
            if let Some(record) = self.scanner.next_record()? {
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
                // Progress: a body that breaks now and then still finishes.
                self.body_retries = 0;
                return Ok(Some(record));
            }
            let (Some(body), Some(url)) = (self.body.as_mut(), self.url.as_ref()) else {
                self.open().await?;
                continue;
            };
            // The wait starts now: time spent on the records already read is
            // the caller's, not the server's.
            self.clock.restart();
            let next = body.next().map(Option::transpose);
            match self.clock.wait(next, Waiting::Body, url).await {
                Ok(Some(chunk)) => self.scanner.push(&chunk),
                Err(error) => {
                    self.retry_broken_body(failure_of(&error), Error::from_transport(error))
                        .await?
                }
                Ok(None) => match self.scanner.finish() {
                    Ok(()) => return Ok(None),
                    // A body that ends before the document does was cut short.
                    Err(error) => self.retry_broken_body(Failure::Broken, error).await?,
                },
            }
        }
    }

    /// Send the window's request (with the client's retries for connecting and
    /// for error statuses) and start reading its body.
    async fn open(&mut self) -> Result<()> {
        let api = self.client.api();
        let url = format!("{}/api/v1/audit_logs", self.client.host());
        let request = progenitor_client::ClientInfo::client(api)
            .get(url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .json(&self.filter)
            .build()
            .map_err(Error::from_transport)?;
        let info = OperationInfo {
            operation_id: "get_audit_logs",
        };
        let response = execute(api, request, &info, Buffering::HeadersOnly, &mut self.clock)
            .await
            .map_err(Error::from_transport)?;
        if !response.status().is_success() {
            return Err(Error::from_response(response).await);
        }
        self.url = Some(response.url().clone());
        self.body = Some(Box::pin(response.bytes_stream()));
        self.scanner = LogsScanner::default();
        self.position = 0;
        Ok(())
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
                 window cannot be continued where it broke; records of this window were \
                 passed on but the window is not complete: run the export again, resuming \
                 from the last checkpoint you saved if there is one",
                self.yielded,
                self.last_uuid.as_deref().unwrap_or_default(),
            ),
        }
    }

    async fn retry_broken_body(&mut self, failure: Failure, error: Error) -> Result<()> {
        let policy = self.client.retry_policy();
        let time_left = self.clock.remaining();
        let decision = policy.decide(Safety::Idempotent, &failure, self.body_retries, time_left);
        let Some(retry) = decision else {
            return Err(error);
        };
        self.body_retries += 1;
        tracing::warn!(
            operation = "get_audit_logs",
            attempt = self.body_retries + 1,
            reason = %retry.reason,
            delay_ms = retry.delay.as_millis() as u64,
            records_kept = self.yielded,
            "audit-log body broke off; requesting the window again"
        );
        tokio::time::sleep(retry.delay).await;
        self.body = None;
        self.url = None;
        Ok(())
    }
}
