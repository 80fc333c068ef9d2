//! What bounds a request: the idle clock behind [`ClientBuilder::timeout`]
//! and the cap on buffered bodies. Running out of either ends the attempt
//! with a [`Stop`].
//!
//! [`ClientBuilder::timeout`]: crate::ClientBuilder::timeout

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::CONTENT_LENGTH;
use reqwest::{ResponseBuilderExt, Url};

use crate::error::stop::{Stop, Waiting};

/// Default cap on a response body read into memory: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Measures time without progress: since the server last sent something, or
/// since the call (or the current wait for body bytes) began. Retry waits
/// count; the caller's own processing between body chunks does not.
#[derive(Debug, Clone)]
pub(crate) struct IdleClock {
    timeout: Duration,
    since: Instant,
}

impl IdleClock {
    pub(crate) fn start(timeout: Duration) -> Self {
        Self {
            timeout,
            since: Instant::now(),
        }
    }

    /// Start counting again: the server sent something, or the caller is
    /// about to wait for it after doing work of its own.
    pub(crate) fn restart(&mut self) {
        self.since = Instant::now();
    }

    /// How long the call may still go without progress.
    pub(crate) fn remaining(&self) -> Duration {
        self.timeout.saturating_sub(self.since.elapsed())
    }

    /// Await `future` for at most the time left; its success counts as
    /// progress (a failure, like a refused connection, does not). Running
    /// out is a [`Stop::Idle`].
    pub(crate) async fn wait<T>(
        &mut self,
        future: impl Future<Output = reqwest::Result<T>>,
        waiting_for: Waiting,
        url: &Url,
    ) -> reqwest::Result<T> {
        // Many waits for body bytes find them already read: answer those
        // without arming a timer.
        let mut future = std::pin::pin!(future);
        if let Some(output) = futures_util::future::poll_immediate(future.as_mut()).await {
            if output.is_ok() {
                self.restart();
            }
            return output;
        }
        // `tokio::time::timeout` treats a deadline past the end of time as none.
        match tokio::time::timeout(self.remaining(), future).await {
            Ok(output) => {
                if output.is_ok() {
                    self.restart();
                }
                output
            }
            Err(_) => Err(Stop::Idle {
                idle: self.timeout,
                waiting_for,
            }
            .into_error(url)
            .await),
        }
    }
}

/// Read a success response's body into memory, at most `limit` bytes, each
/// wait bounded by `clock`; the same response comes back with the body in
/// memory (and its URL kept, so `Response::url` stays true).
pub(crate) async fn buffer(
    mut response: reqwest::Response,
    clock: &mut IdleClock,
    limit: u64,
) -> reqwest::Result<reqwest::Response> {
    let url = response.url().clone();
    let too_large = || Stop::TooLarge {
        what: "the response body",
        limit,
        advice: TOO_LARGE_ADVICE,
    };
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(too_large().into_error(&url).await);
    }
    // Room for what was announced, within the cap: one allocation and no
    // copies while growing (untouched capacity costs no resident memory, so
    // a lying Content-Length gains nothing beyond the cap it is held to).
    let mut body = Vec::with_capacity(announced.unwrap_or(0).min(limit) as usize);
    while let Some(chunk) = clock.wait(response.chunk(), Waiting::Body, &url).await? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large().into_error(&url).await);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(rebuild(response, url, Bytes::from(body)))
}

/// `response`'s status, version and headers with `body`, answering `url`
/// (the response's own, which the caller already holds a copy of).
pub(crate) fn rebuild(mut response: reqwest::Response, url: Url, body: Bytes) -> reqwest::Response {
    let (status, version) = (response.status(), response.version());
    let headers = std::mem::take(response.headers_mut());
    // The builder is only for the URL (reqwest keeps it in a private
    // extension); the body goes in afterwards, so it is never copied.
    let parts = http::Response::builder()
        .url(url)
        .body(())
        .unwrap_or_else(|_| http::Response::new(()));
    let mut rebuilt = parts.map(|()| body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    reqwest::Response::from(rebuilt)
}

/// What to do about a body over the cap. (The audit-log handler's `list`
/// says only the second half: see `ListAuditLogs::send`.)
const TOO_LARGE_ADVICE: &str = "raise ClientBuilder::max_response_bytes if the server really \
    sends this much; for audit logs, export the range with \
    client.audit_logs().between(start, end), which streams records in bounded memory";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_survives_the_trip_through_reqwest() {
        let url = Url::parse("http://127.0.0.1:9/x").unwrap();
        let error = Stop::Idle {
            idle: Duration::from_secs(3),
            waiting_for: Waiting::Body,
        }
        .into_error(&url)
        .await;
        assert!(matches!(
            Stop::of(&error),
            Some(Stop::Idle { idle, .. }) if *idle == Duration::from_secs(3)
        ));
        assert_eq!(error.url(), Some(&url));
    }

    #[tokio::test]
    async fn huge_and_zero_timeouts_do_not_panic() {
        let url = Url::parse("http://127.0.0.1:9/x").unwrap();
        let mut forever = IdleClock::start(Duration::MAX);
        let ready = async { Ok(7) };
        assert_eq!(
            forever.wait(ready, Waiting::Headers, &url).await.unwrap(),
            7
        );
        assert!(forever.remaining() > Duration::from_secs(u64::MAX / 2));
        let mut never = IdleClock::start(Duration::ZERO);
        let stalled = std::future::pending::<reqwest::Result<()>>();
        assert!(never.wait(stalled, Waiting::Headers, &url).await.is_err());
    }
}
