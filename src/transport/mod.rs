//! The transport: the one seam every request passes through.
//!
//! The generated client calls [`ClientHooks::exec`] for each of its
//! operations; the audit-log export streams its windows through
//! [`StreamedCall`]. Both go through [`execute`], where the retry loop
//! ([`retry`]), the idle clock and the body cap ([`limits`]), the redirect
//! rule ([`redirect`]) and the bounding and masking of error bodies
//! ([`error_body`]) apply; [`classify`] turns what comes back into
//! [`Error`](crate::Error). Nothing outside this module sends a request or
//! decides about retrying.

mod classify;
mod error_body;
mod limits;
mod redirect;
pub mod retry;
#[cfg(feature = "export")]
mod streamed;

use std::borrow::Cow;
use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};

#[cfg(feature = "export")]
pub(crate) use classify::excerpt;
pub(crate) use classify::{finish, success_with_json_or_nothing};
pub use error_body::ERROR_BODY_BYTES;
use limits::IdleClock;
pub use limits::DEFAULT_MAX_RESPONSE_BYTES;
use redirect::Origin;
pub use redirect::MAX_REDIRECTS;
pub use retry::RetryPolicy;
use retry::{failure_of, Failure, Safety};
#[cfg(feature = "export")]
pub(crate) use streamed::{Endpoint, Read, StreamedCall};

use crate::generated;
use crate::secret::Redactor;
use classify::parse_retry_after;

/// State the generated client carries into [`ClientHooks`]: the seam every
/// generated call passes through, where retries, the idle clock, redirects,
/// body caps and the redaction of error bodies apply.
///
/// Public only because the generated client's `inner()` returns it; this
/// module is private, so users can neither name nor build it.
#[derive(Debug, Clone)]
pub struct Hooks {
    retry: RetryPolicy,
    timeout: Duration,
    max_response_bytes: u64,
    /// The configured host's origin: the only one redirects may lead to.
    origin: Origin,
    /// Masks the API key (`Debug` shows only how many values it knows).
    redactor: Redactor,
}

impl Hooks {
    /// The hooks of a client of `host`, whose API key `redactor` masks.
    pub(crate) fn new(
        retry: RetryPolicy,
        timeout: Duration,
        max_response_bytes: u64,
        host: &reqwest::Url,
        redactor: Redactor,
    ) -> Self {
        Self {
            retry,
            timeout,
            max_response_bytes,
            origin: Origin::of(host),
            redactor,
        }
    }

    /// What errors and exported records must not show: the API key's clear
    /// text, and secret fields by name.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The retry policy in force.
    pub(crate) fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// The time a call may go without progress.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// These hooks with another retry policy.
    pub(crate) fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// These hooks with another time without progress.
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl ClientHooks<Hooks> for generated::Client {
    async fn exec(
        &self,
        mut request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        drop_null_body(&mut request);
        // progenitor adds `api-version: <info.version>`; Datafold documents no
        // such header, so it is not sent.
        request.headers_mut().remove("api-version");
        // Buffer the body inside the retry loop, so that a response cut short
        // is retried like any other broken connection (where that is safe).
        let mut clock = IdleClock::start(self.inner().timeout);
        execute(self, request, info, Buffering::WholeBody, &mut clock).await
    }
}

/// Whether [`execute`] reads the response body before returning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Buffering {
    /// Read it all: a body that breaks off counts as a failed attempt.
    WholeBody,
    /// Return once the headers are in; the caller streams the body.
    #[cfg(feature = "export")]
    HeadersOnly,
}

/// Send `request` under the client's retry policy (see [`retry`]),
/// every wait bounded by `clock`. An error status comes back with its body
/// read, bounded and redacted (see [`error_body`]) whatever the
/// `buffering`.
pub(crate) async fn execute(
    api: &generated::Client,
    mut request: reqwest::Request,
    info: &OperationInfo,
    buffering: Buffering,
    clock: &mut IdleClock,
) -> reqwest::Result<reqwest::Response> {
    let hooks = api.inner();
    let safety = Safety::of(request.method(), info.operation_id);
    // What an error body must not show: the key and the secrets sent now
    // (a request without a body sends none, and borrows the client's).
    let mut redactor = Cow::Borrowed(&hooks.redactor);
    if let Some(sent) = request.body().and_then(reqwest::Body::as_bytes) {
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(sent) {
            redactor.to_mut().add_secrets_of(&json);
        }
    }
    let mut retries = 0;
    loop {
        let replay = request.try_clone();
        tracing::debug!(
            operation = info.operation_id,
            method = %request.method(),
            path = request.url().path(),
            attempt = retries + 1,
            "sending request"
        );
        let result = attempt(api, request, replay.as_ref(), buffering, clock, &redactor).await;
        let failure = match &result {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(Failure::Status(
                response.status(),
                parse_retry_after(response.headers()),
            )),
            Err(error) => Some(failure_of(error)),
        };
        let decision =
            failure.and_then(|f| hooks.retry.decide(safety, &f, retries, clock.remaining()));
        let (Some(retry), Some(next)) = (decision, replay) else {
            if let Ok(response) = &result {
                tracing::debug!(
                    operation = info.operation_id,
                    status = response.status().as_u16(),
                    "response"
                );
            }
            return result;
        };
        retries += 1;
        tracing::warn!(
            operation = info.operation_id,
            attempt = retries + 1,
            reason = %retry.reason,
            delay_ms = retry.delay.as_millis() as u64,
            "retrying Datafold request"
        );
        tokio::time::sleep(retry.delay).await;
        request = next;
    }
}

/// One attempt: send (following same-origin redirects, for which `copy`,
/// a copy of `request` when it has one, is the template), then read the
/// body as `buffering` says, within the caps.
async fn attempt(
    api: &generated::Client,
    request: reqwest::Request,
    copy: Option<&reqwest::Request>,
    buffering: Buffering,
    clock: &mut IdleClock,
    redactor: &Redactor,
) -> reqwest::Result<reqwest::Response> {
    let hooks = api.inner();
    let response = redirect::send(api.client(), request, copy, &hooks.origin, clock).await?;
    if !response.status().is_success() {
        let limit = hooks.max_response_bytes;
        return error_body::bound(response, clock, limit, redactor).await;
    }
    match buffering {
        #[cfg(feature = "export")]
        Buffering::HeadersOnly => Ok(response),
        Buffering::WholeBody => {
            let limit = hooks.max_response_bytes;
            limits::buffer(response, clock, limit).await
        }
    }
}

/// progenitor serializes an optional request body that was left unset as JSON
/// `null`. Datafold's docs show such calls (an unfiltered audit-log GET) with
/// no body at all, so send none.
fn drop_null_body(request: &mut reqwest::Request) {
    let is_null = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .is_some_and(|bytes| bytes == b"null");
    if is_null {
        *request.body_mut() = None;
        request.headers_mut().remove(CONTENT_TYPE);
        request.headers_mut().remove(CONTENT_LENGTH);
    }
}
