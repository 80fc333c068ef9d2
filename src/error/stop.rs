//! The transport's own reasons to end an attempt ([`Stop`]), which travel to
//! [`Error`](crate::Error) inside the `reqwest::Error` that the generated
//! client's hook must return, and the parts of them an error shows.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;

/// Why a redirect was not followed; see [`Error::Redirect`](crate::Error::Redirect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectReason {
    /// The new location is on another origin: another scheme (`https` to
    /// `http` included), host or port than the configured host.
    OtherOrigin,
    /// The new location was already visited in this chain.
    Loop,
    /// More than [`MAX_REDIRECTS`](crate::MAX_REDIRECTS) redirects.
    TooManyHops,
}

impl fmt::Display for RedirectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedirectReason::OtherOrigin => {
                "another origin: the request body and the API key stay with the configured host"
            }
            RedirectReason::Loop => "a redirect loop",
            RedirectReason::TooManyHops => "too many redirects",
        })
    }
}

/// What the client was waiting for when a [`Stop::Idle`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    Headers,
    Body,
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Waiting::Headers => "the response to start",
            Waiting::Body => "more of the response body",
        })
    }
}

/// A reason of the transport's own to end an attempt.
#[derive(Debug, Clone)]
pub(crate) enum Stop {
    /// Nothing arrived for `idle`.
    Idle {
        idle: Duration,
        waiting_for: Waiting,
    },
    /// A body (or one record of it) passed its cap.
    TooLarge {
        what: &'static str,
        limit: u64,
        advice: &'static str,
    },
    /// A redirect that is not followed.
    Redirect {
        from: String,
        to: String,
        reason: RedirectReason,
    },
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Idle { idle, waiting_for } => {
                write!(
                    f,
                    "nothing arrived for {idle:?} while waiting for {waiting_for}"
                )
            }
            Stop::TooLarge { what, limit, .. } => write!(f, "{what} exceeds {limit} bytes"),
            Stop::Redirect { from, to, reason } => {
                write!(f, "redirect from {from} to {to} not followed: {reason}")
            }
        }
    }
}

impl std::error::Error for Stop {}

impl Stop {
    /// This stop as the `reqwest::Error` the generated client's hook has to
    /// return (reqwest offers no constructor; a body that fails with this
    /// stop yields one). [`Stop::of`] finds it again.
    pub(crate) async fn into_error(self, url: &Url) -> reqwest::Error {
        // A stream of nothing but this error, so reading it can only fail.
        let body = reqwest::Body::wrap_stream(futures_util::stream::repeat_with(move || {
            Err::<Bytes, Stop>(self.clone())
        }));
        let mut response = reqwest::Response::from(http::Response::new(body));
        loop {
            if let Err(error) = response.chunk().await {
                return error.with_url(url.clone());
            }
        }
    }

    /// The stop inside `error`, if the transport made it.
    pub(crate) fn of(error: &reqwest::Error) -> Option<&Stop> {
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(stop) = cause.downcast_ref::<Stop>() {
                return Some(stop);
            }
            source = cause.source();
        }
        None
    }
}

/// A URL fit for an error message: no user name or password, and no query
/// values (a redirect's target is the server's choice and could carry a token).
pub(crate) fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    let had_query = url.query().is_some();
    url.set_query(None);
    let mut text = url.to_string();
    if had_query {
        text.push_str("?…");
    }
    text
}
