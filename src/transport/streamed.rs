//! [`StreamedCall`]: a request whose body the caller reads as it arrives (an
//! audit-log export window), under the client's idle clock and retry policy.
//! The caller parses; this decides, through [`retry`](super::retry), whether
//! a body that broke off is requested again.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use progenitor_client::{ClientInfo, OperationInfo};
use reqwest::header::{HeaderValue, ACCEPT};
use reqwest::Url;

use super::limits::IdleClock;
use super::retry::{failure_of, Failure, Safety};
use super::{execute, Buffering};
use crate::error::stop::Waiting;
use crate::error::{Error, Result};
use crate::generated;

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// An operation of the spec that is called by hand rather than through its
/// generated builder (which reads the whole body into memory).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    /// The spec's `operationId`: what the retry rules and tracing go by.
    pub(crate) operation_id: &'static str,
    /// The path under the host.
    pub(crate) path: &'static str,
}

/// What [`StreamedCall::read`] found.
#[derive(Debug)]
pub(crate) enum Read {
    /// A response begins: the first, or a repeated request after the body
    /// broke off. What was read of an earlier body is void; parse afresh.
    Started,
    /// The next bytes of the body.
    Chunk(Bytes),
    /// The body ended.
    End,
}

/// A `GET` with a JSON body whose response is read chunk by chunk.
pub(crate) struct StreamedCall {
    api: generated::Client,
    endpoint: Endpoint,
    body: serde_json::Value,
    clock: IdleClock,
    /// Where the body being read came from (after any redirect), and the body.
    open: Option<(Url, Body)>,
    /// Requests repeated since records last came through.
    retries: u32,
}

impl StreamedCall {
    /// A call of `endpoint` with `body`; nothing is sent before the first
    /// [`StreamedCall::read`].
    pub(crate) fn get_json(
        api: &generated::Client,
        endpoint: Endpoint,
        body: &impl serde::Serialize,
    ) -> Result<Self> {
        let body = serde_json::to_value(body).map_err(|error| Error::InvalidRequest {
            message: format!(
                "cannot encode the {} request: {error}",
                endpoint.operation_id
            ),
        })?;
        Ok(Self {
            clock: IdleClock::start(api.inner().timeout()),
            api: api.clone(),
            endpoint,
            body,
            open: None,
            retries: 0,
        })
    }

    /// Send the request if no response is open (with the client's retries for
    /// connecting and for error statuses), else wait for the body's next
    /// bytes. A body that breaks off is requested again where the retry
    /// policy allows it ([`Read::Started`] says so); otherwise its error is
    /// returned.
    pub(crate) async fn read(&mut self) -> Result<Read> {
        loop {
            let Some((url, body)) = self.open.as_mut() else {
                self.send().await?;
                return Ok(Read::Started);
            };
            // The wait starts now: time the caller spent on what it read is
            // its own, not the server's.
            self.clock.restart();
            let next = body.next().map(Option::transpose);
            match self.clock.wait(next, Waiting::Body, url).await {
                Ok(Some(chunk)) => return Ok(Read::Chunk(chunk)),
                Ok(None) => return Ok(Read::End),
                Err(error) => {
                    let failure = failure_of(&error);
                    self.retry_after_break(failure, Error::from_transport(error))
                        .await?;
                }
            }
        }
    }

    /// The body ended before its document did (the caller's `error` says
    /// how): request it again where the retry policy allows it, so that the
    /// next [`StreamedCall::read`] is [`Read::Started`]; otherwise `error`.
    pub(crate) async fn cut_short(&mut self, error: Error) -> Result<()> {
        self.retry_after_break(Failure::Broken, error).await
    }

    /// The caller got something out of the body: a body that breaks now and
    /// then still finishes, so the count of repeats starts again.
    pub(crate) fn progressed(&mut self) {
        self.retries = 0;
    }

    async fn send(&mut self) -> Result<()> {
        let url = format!("{}{}", self.api.baseurl(), self.endpoint.path);
        let request = self
            .api
            .client()
            .get(url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .json(&self.body)
            .build()
            .map_err(Error::from_transport)?;
        let info = OperationInfo {
            operation_id: self.endpoint.operation_id,
        };
        let response = execute(
            &self.api,
            request,
            &info,
            Buffering::HeadersOnly,
            &mut self.clock,
        )
        .await
        .map_err(Error::from_transport)?;
        if !response.status().is_success() {
            let redactor = self.api.inner().redactor();
            return Err(Error::from_response(response, redactor).await);
        }
        let url = response.url().clone();
        self.open = Some((url, Box::pin(response.bytes_stream())));
        Ok(())
    }

    async fn retry_after_break(&mut self, failure: Failure, error: Error) -> Result<()> {
        let policy = self.api.inner().retry();
        let time_left = self.clock.remaining();
        let safety = Safety::of(&reqwest::Method::GET, self.endpoint.operation_id);
        let decision = policy.decide(safety, &failure, self.retries, time_left);
        let Some(retry) = decision else {
            return Err(error);
        };
        self.retries += 1;
        tracing::warn!(
            operation = self.endpoint.operation_id,
            attempt = self.retries + 1,
            reason = %retry.reason,
            delay_ms = retry.delay.as_millis() as u64,
            "response body broke off; sending the request again"
        );
        tokio::time::sleep(retry.delay).await;
        self.open = None;
        Ok(())
    }
}
