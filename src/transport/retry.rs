//! [`RetryPolicy`]: when a failed call is sent again, and how long to wait.
//!
//! Retries are decided in one place, this module, for every request the
//! transport sends: each generated call, and each window of an audit-log
//! export (whose body is requested again when it breaks off). The rules:
//!
//! | operation | condition | retried? |
//! |---|---|---|
//! | idempotent: `GET` audit logs, list, get, every `PUT` update, `DELETE` | connection failed before the request was sent (refused, DNS, TLS handshake, [`ClientBuilder::connect_timeout`]) | yes |
//! | idempotent | connection reset or a body cut short after sending | yes |
//! | idempotent | status 408, 429, 500, 502, 503, 504 | yes |
//! | idempotent | any other status (400, 401, 403, 404, 422, …) | no |
//! | not idempotent: every `POST` create, and sync (a `GET` that starts work) | connection failed before the request was sent | yes |
//! | not idempotent | anything after bytes may have reached the server: timeout, reset, any status | no — it could create a second integration or start a second sync |
//! | any | timeout: nothing arrived for [`ClientBuilder::timeout`] | no — the call has waited all the time it may go without progress |
//! | any | the wait before the retry (backoff or `Retry-After`) is longer than what is left of [`ClientBuilder::timeout`] | no: the error is returned at once |
//! | any | `429`/`503` whose `Retry-After` exceeds [`RetryPolicy::max_retry_after`] | no: the rate-limited error is returned at once |
//! | any | a redirect that is not followed, a body over [`ClientBuilder::max_response_bytes`] | no — the same request would get the same answer |
//!
//! Each row is checked by a test in `tests/retries.rs`, `tests/deadlines.rs`
//! or `tests/reliability.rs`. (A request whose body could not be replayed
//! would not be retried either; no operation of this API sends one.)
//!
//! **Deadlines.** [`ClientBuilder::timeout`] bounds the time without progress
//! of a whole call, all its attempts together: the clock restarts whenever
//! the server sends something (response headers, body bytes, an error
//! status) and keeps running while the client waits before a retry. So a
//! call against a silent server ends after about `timeout`, not `timeout`
//! times the number of attempts, and a response that keeps arriving is never
//! cut, however long it takes. Export windows use the same clock for their
//! streamed bodies.
//!
//! Waits grow exponentially from [`RetryPolicy::base_delay`] up to
//! [`RetryPolicy::max_delay`], with jitter (each wait is between half and all
//! of the exponential value), and are at least the server's `Retry-After`
//! (seconds or an HTTP date). Each retry emits a `tracing` event at WARN
//! level with the operation, attempt, reason and delay.
//!
//! [`ClientBuilder::timeout`]: crate::ClientBuilder::timeout
//! [`ClientBuilder::connect_timeout`]: crate::ClientBuilder::connect_timeout
//! [`ClientBuilder::max_response_bytes`]: crate::ClientBuilder::max_response_bytes

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::error::stop::Stop;

/// When and how often a failed call is retried; see the [module
/// docs](crate::retry) for the full table.
///
/// ```
/// use std::time::Duration;
/// use datafold_sdk::RetryPolicy;
///
/// let patient = RetryPolicy::default()
///     .max_retries(5)
///     .base_delay(Duration::from_secs(1))
///     .max_delay(Duration::from_secs(30));
/// assert_eq!(RetryPolicy::none().max_retries_value(), 0);
/// # let _ = patient;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 2 retries, 0.5 s base delay, 8 s cap, `Retry-After` honoured up to 30 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// How many times a call may be sent again after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first wait; each further wait doubles it.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest wait computed by backoff.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest `Retry-After` the client waits out; a longer one returns
    /// [`Error::RateLimited`](crate::Error::RateLimited) (or the 503) at once.
    pub fn max_retry_after(mut self, limit: Duration) -> Self {
        self.max_retry_after = limit;
        self
    }

    /// The configured number of retries.
    pub fn max_retries_value(&self) -> u32 {
        self.max_retries
    }

    /// The wait before retry number `retry` (0-based) when the server gave no
    /// `Retry-After`: `base_delay * 2^retry`, capped at `max_delay`, of which a
    /// random part of up to half is taken off (jitter).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max_delay);
        let half = exponential / 2;
        half + jitter(exponential - half)
    }

    /// The wait before retrying after `failure`, or `None` when it must not be
    /// retried. `retry` counts retries already made; `time_left` is what
    /// remains of the call's time without progress.
    pub(crate) fn decide(
        &self,
        safety: Safety,
        failure: &Failure,
        retry: u32,
        time_left: Duration,
    ) -> Option<Retry> {
        if retry >= self.max_retries {
            return None;
        }
        let reason = match (safety, failure) {
            (_, Failure::Timeout | Failure::Refused) => return None,
            (_, Failure::NotSent) => Reason::NotSent,
            (Safety::NotIdempotent, _) => return None,
            (Safety::Idempotent, Failure::Broken) => Reason::Broken,
            (Safety::Idempotent, Failure::Status(status, _)) if retryable_status(*status) => {
                Reason::Status(*status)
            }
            (Safety::Idempotent, Failure::Status(..)) => return None,
        };
        let mut delay = self.backoff(retry);
        if let Failure::Status(_, Some(retry_after)) = failure {
            if *retry_after > self.max_retry_after {
                return None;
            }
            delay = delay.max(*retry_after);
        }
        // Waiting counts as time without progress.
        if delay >= time_left {
            return None;
        }
        Some(Retry { delay, reason })
    }
}

fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// A random duration in `[0, max]`, for jitter. Randomness comes from the
/// standard library's per-process random hash keys: enough to spread
/// retries, and no extra dependency.
fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(max.as_nanos());
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(fraction)
}

/// Whether sending an operation twice is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    Idempotent,
    NotIdempotent,
}

/// Operations that are `GET`s but start work on the server.
const SIDE_EFFECT_GETS: [&str; 1] = ["sync_integration"];

impl Safety {
    pub(crate) fn of(method: &Method, operation_id: &str) -> Self {
        let idempotent = matches!(
            *method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        ) && !SIDE_EFFECT_GETS.contains(&operation_id);
        if idempotent {
            Safety::Idempotent
        } else {
            Safety::NotIdempotent
        }
    }
}

/// How an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection was never established: nothing reached the server.
    NotSent,
    /// Nothing arrived for the call's whole time without progress.
    Timeout,
    /// The client refused the answer (a redirect it does not follow, a body
    /// over the cap): asking again gets the same.
    Refused,
    /// The connection broke after the request may have been sent.
    Broken,
    /// The server answered with an error status (and maybe `Retry-After`).
    Status(StatusCode, Option<Duration>),
}

/// How an attempt that ended in `error` failed, for [`crate::retry`].
pub(crate) fn failure_of(error: &reqwest::Error) -> Failure {
    match Stop::of(error) {
        Some(Stop::Idle { .. }) => Failure::Timeout,
        Some(Stop::TooLarge { .. } | Stop::Redirect { .. }) => Failure::Refused,
        None if error.is_connect() => Failure::NotSent,
        None if error.is_timeout() => Failure::Timeout,
        None => Failure::Broken,
    }
}

/// A decision to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    pub delay: Duration,
    pub reason: Reason,
}

/// Why a call is retried; printed in the tracing event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    NotSent,
    Broken,
    Status(StatusCode),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotSent => f.write_str("connection failed before sending"),
            Reason::Broken => f.write_str("connection broke"),
            Reason::Status(status) => write!(f, "status {}", status.as_u16()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::stop::Waiting;

    /// The transport's own stops reach the policy as what they are: an idle
    /// stop is a timeout (never retried), a cap or a refused redirect is
    /// `Refused` (asking again gets the same).
    #[tokio::test]
    async fn stops_are_classified_for_the_policy() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/x").unwrap();
        let idle = Stop::Idle {
            idle: Duration::from_secs(3),
            waiting_for: Waiting::Body,
        };
        assert_eq!(failure_of(&idle.into_error(&url).await), Failure::Timeout);
        let too_large = Stop::TooLarge {
            what: "the response body",
            limit: 1,
            advice: "",
        };
        let error = too_large.into_error(&url).await;
        assert_eq!(failure_of(&error), Failure::Refused);
        let policy = RetryPolicy::default();
        let left = Duration::from_secs(60);
        assert!(policy
            .decide(Safety::Idempotent, &Failure::Timeout, 0, left)
            .is_none());
        assert!(policy
            .decide(Safety::Idempotent, &Failure::Refused, 0, left)
            .is_none());
        assert!(policy
            .decide(Safety::Idempotent, &Failure::Broken, 0, left)
            .is_some());
    }
}
