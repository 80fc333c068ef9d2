//! [`Error`]: every way a call can fail, as one enum users can match on.
//!
//! Errors from the generated client (progenitor's `Error<E>`) are converted
//! in one place, the transport, by [`Error::from_api`]. HTTP failures keep their status,
//! headers and a capped excerpt of the body in an [`HttpFailure`]; messages say
//! what to do next and never contain a secret: the transport masks the API
//! key and the secrets of the request just sent wherever an error body or
//! header quotes them, the handlers ([`Client::bi`](crate::Client::bi),
//! [`Client::audit_logs`](crate::Client::audit_logs)) do the same in the
//! excerpt of a success body that does not decode, and secret fields are
//! masked by name — in JSON by key, in any other text by their shape (see
//! [`mask_fields_in_text`](crate::secret::mask_fields_in_text)).
//!
//! Every part of an error is bounded: the body excerpt (512 characters), a
//! `detail` message (512), validation issues (the first [`MAX_ISSUES`], each
//! message 200 characters, plus the count of the rest).

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

pub(crate) mod stop;

pub use stop::RedirectReason;
use stop::{shown, Stop};

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The most validation issues an error keeps (the rest are counted).
pub const MAX_ISSUES: usize = 20;

/// Everything that can go wrong talking to Datafold.
///
/// Match on the variant to decide what to do; [`Error::status`],
/// [`Error::headers`] and [`Error::body_excerpt`] give the raw response details
/// where there was a response.
///
/// ```
/// # async fn demo(client: datafold_sdk::Client) {
/// use datafold_sdk::Error;
///
/// match client.bi().get(42).await {
///     Ok(integration) => println!("{:?}", integration.name()),
///     Err(Error::NotFound(_)) => println!("no integration 42"),
///     Err(Error::Validation { issues, .. }) => {
///         for issue in issues {
///             println!("{issue}"); // e.g. `body.client_secret: Field required`
///         }
///     }
///     Err(other) => eprintln!("{other}"),
/// }
/// # }
/// ```
///
/// `Debug` reads like the message, after the variant's name (and the HTTP
/// status, where there was one), so `fn main() -> Result<(), Error>` prints
/// something a user can act on; `{:#?}` adds the response details.
///
/// ```
/// let error = datafold_sdk::Client::builder().build().unwrap_err();
/// let debug = format!("{error:?}");
/// assert!(debug.starts_with("MissingApiKey: no Datafold API key"), "{debug}");
///
/// let error = datafold_sdk::Client::builder()
///     .api_key("my-api-key")
///     .host("http://example.com")
///     .build()
///     .unwrap_err();
/// // What `main` prints after `Error: ` when it returns this error.
/// assert_eq!(
///     format!("{error:?}"),
///     format!("InsecureHost: {error}"),
/// );
/// assert!(format!("{error:?}").contains("use https://"));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No API key was configured.
    #[error(
        "no Datafold API key: set DATAFOLD_API_KEY (or DATAFOLD_APIKEY) to an API key \
         created in Datafold under Settings > Account, or pass one to ClientBuilder::api_key"
    )]
    MissingApiKey,

    /// The client's configuration is unusable (bad host URL, bad header value…).
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The host is plain `http://` and not on this machine: the API key would
    /// cross the network in clear text.
    #[error(
        "refusing to send the API key over plain http to {host}: use https://, \
         or call ClientBuilder::allow_insecure_http(true) if this is really intended"
    )]
    InsecureHost {
        /// The host as configured.
        host: String,
    },

    /// The caller built a request the client cannot send (e.g. a required
    /// builder field was not set).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is missing or malformed.
        message: String,
    },

    /// 401: the API key was missing or not accepted.
    #[error("Datafold rejected the API key ({}){}: check that {} holds a valid, unrevoked key", .0.status, .0.detail_suffix(), .0.key_source())]
    Unauthorized(Box<HttpFailure>),

    /// 403: the key is valid but may not do this.
    #[error("Datafold refused the API key for this ({}){}: check that {} is a valid key of a user with access to this resource", .0.status, .0.detail_suffix(), .0.key_source())]
    Forbidden(Box<HttpFailure>),

    /// 400: the server refused the request as it stands (e.g. an update sent
    /// to the endpoint of another kind of integration).
    #[error("Datafold refused the request ({}){}: check that the call fits the resource (an update must use the integration's own kind)", .0.status, .0.detail_suffix())]
    BadRequest(Box<HttpFailure>),

    /// 404: no such resource (or wrong host).
    #[error("not found ({}){}: check the id (list integrations to see the ids) and DATAFOLD_HOST", .0.status, .0.detail_suffix())]
    NotFound(Box<HttpFailure>),

    /// 422: the server rejected the request's content. A 422 whose body is
    /// not FastAPI's JSON has no issues; its message shows the body's start.
    #[error("Datafold rejected the request as invalid ({}): {}; fix the fields listed", .response.status, render_issues(.issues, *.more_issues, &.response.body))]
    Validation {
        /// The problems the server listed, e.g. `body.client_secret: Field
        /// required`: the first [`MAX_ISSUES`] of them.
        issues: Vec<ValidationIssue>,
        /// How many more the server listed (at least this many, when its
        /// body was over [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)).
        more_issues: u64,
        /// The response.
        response: Box<HttpFailure>,
    },

    /// 429: too many requests.
    #[error("rate limited by Datafold ({}): {}", .response.status, retry_hint(*.retry_after))]
    RateLimited {
        /// How long the server asked to wait, if it said.
        retry_after: Option<Duration>,
        /// The response.
        response: Box<HttpFailure>,
    },

    /// 5xx: the server failed.
    #[error("Datafold server error ({}){}: retry later; if it persists, contact Datafold support", .0.status, .0.detail_suffix())]
    Server(Box<HttpFailure>),

    /// Any other status the API does not document.
    #[error("unexpected response from Datafold ({}){}", .0.status, .0.body_suffix())]
    UnexpectedStatus(Box<HttpFailure>),

    /// Datafold sent nothing for the time [`ClientBuilder::timeout`] allows
    /// without progress (or a connection could not be made in
    /// [`ClientBuilder::connect_timeout`]).
    ///
    /// [`ClientBuilder::timeout`]: crate::ClientBuilder::timeout
    /// [`ClientBuilder::connect_timeout`]: crate::ClientBuilder::connect_timeout
    // The underlying errors below are part of the message, so they are not
    // also reported as `source()`: printers of error chains would repeat them.
    #[error("{}", timeout_message(.error))]
    Timeout {
        /// The underlying error.
        error: reqwest::Error,
    },

    /// The connection failed: DNS, refused, reset, TLS, or the body broke off.
    #[error("cannot talk to Datafold ({}): check DATAFOLD_HOST and the network", with_root_cause(.error))]
    Connection {
        /// The underlying error.
        error: reqwest::Error,
    },

    /// A redirect the client does not follow: to another origin (scheme,
    /// host or port than the configured host), back to a URL already
    /// visited, or more than [`MAX_REDIRECTS`](crate::MAX_REDIRECTS) hops.
    /// Nothing was sent to `to`.
    #[error("Datafold's answer redirected {from} to {to}, which the client does not follow ({reason}); check the configured host (DATAFOLD_HOST or ClientBuilder::host), and if you trust the new location, configure that as the host")]
    Redirect {
        /// The URL that answered with the redirect (no credentials or query values).
        from: String,
        /// Where it pointed (no credentials or query values).
        to: String,
        /// Why it was not followed.
        reason: RedirectReason,
    },

    /// A response, or one record of an export, is larger than the client
    /// holds in memory.
    #[error(
        "Datafold's response is too large: {what} exceeds the limit of {limit} bytes; {advice}"
    )]
    ResponseTooLarge {
        /// What was too large.
        what: String,
        /// The limit, in bytes.
        limit: u64,
        /// What to do instead.
        advice: String,
    },

    /// Datafold's answers contradict each other (e.g. a repeated request for
    /// the same records returned other records).
    #[error("Datafold's answers are inconsistent: {message}")]
    Inconsistent {
        /// What disagreed, and what to do.
        message: String,
    },

    /// A follower's poll was still reading its responses at its deadline
    /// ([`Follow::poll_deadline`](crate::audit::follow::Follow::poll_deadline)):
    /// a server that keeps sending without ending. The follower tries again
    /// with smaller windows.
    #[error("the audit-log poll for {range} was still reading after {}s: the server keeps sending without ending its answer", .after.as_secs())]
    PollDeadline {
        /// The time range the poll asked for.
        range: String,
        /// How long it had been reading.
        after: Duration,
    },

    /// The response was not what the API describes.
    #[error("could not decode Datafold's response{}: {error}; the body starts with: {excerpt:?}", status.map(|s| format!(" ({s})")).unwrap_or_default())]
    Decode {
        /// The status, when known.
        status: Option<StatusCode>,
        /// The start of the body, capped.
        excerpt: String,
        /// Why decoding failed.
        error: serde_json::Error,
    },

    /// Writing an export's output failed (disk full, closed pipe, …).
    #[error("export output: cannot {what}: {error}")]
    Output {
        /// What was being done, as a verb and its object: `flush`, `write a
        /// record`, `open out.jsonl.partial`.
        what: String,
        /// The I/O error.
        error: std::io::Error,
    },

    /// A file the SDK was asked to write is not safe to write: a symbolic
    /// link, not a regular file (a directory, device, FIFO or socket),
    /// read-only, or shared through hard links. Nothing was written to it;
    /// see [`crate::safe_file`].
    #[error("refusing to write {}: {reason}", path.display())]
    UnsafeFile {
        /// The path refused.
        path: std::path::PathBuf,
        /// Why, and what to do.
        reason: String,
    },

    /// A file the SDK was asked to read (a state, a checkpoint, a
    /// desired-state file, a `${file:…}` secret) cannot be read safely or at
    /// all: a symbolic link, not a regular file (a FIFO or device could
    /// block or never end), larger than such a file can be, or missing.
    /// Nothing was read from it; see [`crate::safe_file`].
    #[error("cannot read {}: {reason}", path.display())]
    InputFile {
        /// The path.
        path: std::path::PathBuf,
        /// Why, and what to do.
        reason: String,
    },

    /// An export into a file was refused before anything was requested or
    /// written, because of what an interrupted run left beside it.
    #[error("{problem}; {}", refusal.hint())]
    Checkpoint {
        /// Why the files on disk do not allow this export.
        refusal: CheckpointRefusal,
        /// What is wrong, naming the files (and the checkpoint field).
        problem: String,
    },

    /// A follow state ([`FollowState`](crate::audit::follow::FollowState))
    /// was refused: another format version, another host, or a watermark
    /// that cannot be right. Nothing was requested.
    #[error("the follow state was refused: {problem}")]
    FollowState {
        /// What is wrong, and what to do.
        problem: String,
    },

    /// An audit-log timestamp that is not a recognisable date and time.
    #[error("audit-log timestamp {value:?} is not an RFC 3339 date-time")]
    InvalidTimestamp {
        /// The timestamp as the server sent it.
        value: String,
    },
}

/// Why [`Error::Checkpoint`] refused to write an export into a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointRefusal {
    /// An interrupted run's partial output or checkpoint exists, and the call
    /// asked neither to resume nor to restart.
    Interrupted,
    /// The checkpoint cannot be used: not JSON, a field missing or of the
    /// wrong type, another format version, or edited or damaged (its seal
    /// does not match its other fields).
    Unreadable,
    /// An interrupted run's partial output is there without its checkpoint:
    /// nothing vouches for what it holds, so it cannot be resumed (and is not
    /// removed unasked).
    NoCheckpoint,
    /// The checkpoint's `field` does not match: the export's identity (`host`,
    /// `start`, `end`, `window_secs`, `overlap_secs`, `output_format`), its
    /// plan (`windows_done`, `records_done`) or the partial output it vouches
    /// for (`output_bytes`, `output_tail_sha256`).
    Mismatch {
        /// The checkpoint field, as named in the file.
        field: &'static str,
    },
}

impl CheckpointRefusal {
    /// What an SDK caller can do about it.
    fn hint(self) -> &'static str {
        match self {
            CheckpointRefusal::Interrupted => {
                "pass IfInterrupted::Resume to continue it, or IfInterrupted::Restart to discard it"
            }
            CheckpointRefusal::Unreadable => {
                "pass IfInterrupted::Restart to discard the interrupted export and start over"
            }
            CheckpointRefusal::NoCheckpoint => {
                "pass IfInterrupted::Restart to discard the partial file and start over, or \
                 move it away"
            }
            _ => {
                "resume with the interrupted export's settings, or pass IfInterrupted::Restart \
                 to discard it and start over"
            }
        }
    }
}

/// The response behind an HTTP error: status, headers and a capped excerpt of
/// the body.
#[derive(Debug, Clone)]
pub struct HttpFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body's first characters (at most 512), lossily decoded as UTF-8.
    pub body: String,
    /// FastAPI's `{"detail": "..."}` message, when the body has one.
    pub detail: Option<String>,
    /// Where the client's API key came from: `DATAFOLD_API_KEY`,
    /// `DATAFOLD_APIKEY`, or the key given to `ClientBuilder::api_key`
    /// (`None` when not known). Named by the 401 and 403 messages.
    pub api_key_source: Option<&'static str>,
}

impl HttpFailure {
    /// What the 401/403 messages tell the user to check.
    fn key_source(&self) -> &'static str {
        self.api_key_source.unwrap_or("DATAFOLD_API_KEY")
    }

    fn detail_suffix(&self) -> String {
        self.detail
            .as_ref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    }

    fn body_suffix(&self) -> String {
        match (&self.detail, self.body.is_empty()) {
            (Some(detail), _) => format!(": {detail}"),
            (None, false) => format!(": {:?}", self.body),
            (None, true) => String::new(),
        }
    }
}

/// The body of a documented error response (422), as received — or, for a
/// body over 64 KiB, the bounded summary the client replaced it with (see
/// [`Error::Validation`]). The generated client returns it inside its errors;
/// [`Error::from_api`] reads FastAPI's `detail[]` from it into
/// [`ValidationIssue`]s.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct ErrorBody(pub serde_json::Value);

/// One item of FastAPI's `detail[]` in a 422 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationIssue {
    /// Where the problem is, e.g. `["body", "client_secret"]`.
    pub loc: Vec<String>,
    /// What is wrong, e.g. `Field required`.
    pub msg: String,
    /// FastAPI's error type, e.g. `missing`.
    pub kind: String,
}

impl fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loc.is_empty() {
            f.write_str(&self.msg)
        } else {
            write!(f, "{}: {}", self.loc.join("."), self.msg)
        }
    }
}

fn render_issues(issues: &[ValidationIssue], more: u64, body: &str) -> String {
    if issues.is_empty() {
        return if body.is_empty() {
            "no details given".into()
        } else {
            format!("{body:?}")
        };
    }
    let mut text = issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if more > 0 {
        text.push_str(&format!("; … and {more} more issues"));
    }
    text
}

/// The message of [`Error::Timeout`]: how long nothing arrived and while
/// waiting for what, or reqwest's own account.
fn timeout_message(error: &reqwest::Error) -> String {
    let url = error.url().map(|u| format!(" ({})", shown(u)));
    match Stop::of(error) {
        Some(Stop::Idle { idle, waiting_for }) => format!(
            "Datafold sent nothing for {idle:?} while the client waited for {waiting_for}{}; \
             that is the time allowed without progress (ClientBuilder::timeout): raise it, \
             or narrow the request",
            url.unwrap_or_default()
        ),
        _ => format!(
            "request to Datafold timed out ({}): raise ClientBuilder::connect_timeout or \
             ClientBuilder::timeout, or check the network",
            with_root_cause(error)
        ),
    }
}

/// `error`'s message and, when it adds something, its root cause
/// (connection refused, a DNS failure, a TLS problem…).
fn with_root_cause(error: &reqwest::Error) -> String {
    let top = error.to_string();
    let cause = innermost(error).to_string();
    if !cause.is_empty() && !top.contains(&cause) {
        format!("{top}: {cause}")
    } else {
        top
    }
}

/// The innermost error of `error`'s chain (`error` itself without a source).
fn innermost<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause
}

/// At most `max` characters of `text`, `…` marking a cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    clip_with(text, max, false)
}

/// At most `max` characters of `text`, one `…` marking a cut there or, with
/// `cut_before`, one made already (the text is the head of something longer).
pub(crate) fn clip_with(text: &str, max: usize, cut_before: bool) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(max).collect();
    if cut_before || chars.next().is_some() {
        out.push('…');
    }
    out
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("retry after {}s", d.as_secs_f64().ceil() as u64),
        None => "retry later, more slowly".into(),
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.variant_name())?;
        if let Some(status) = self.status() {
            write!(f, " ({status})")?;
        }
        write!(f, ": {self}")?;
        if f.alternate() {
            if let Some(response) = self.http_failure() {
                write!(f, "\n{response:#?}")?;
            }
        }
        Ok(())
    }
}

impl Error {
    /// The variant's name, as `Debug` shows it.
    fn variant_name(&self) -> &'static str {
        match self {
            Error::MissingApiKey => "MissingApiKey",
            Error::InvalidConfig { .. } => "InvalidConfig",
            Error::InsecureHost { .. } => "InsecureHost",
            Error::InvalidRequest { .. } => "InvalidRequest",
            Error::Unauthorized(_) => "Unauthorized",
            Error::Forbidden(_) => "Forbidden",
            Error::BadRequest(_) => "BadRequest",
            Error::NotFound(_) => "NotFound",
            Error::Validation { .. } => "Validation",
            Error::RateLimited { .. } => "RateLimited",
            Error::Server(_) => "Server",
            Error::UnexpectedStatus(_) => "UnexpectedStatus",
            Error::Timeout { .. } => "Timeout",
            Error::Connection { .. } => "Connection",
            Error::Redirect { .. } => "Redirect",
            Error::ResponseTooLarge { .. } => "ResponseTooLarge",
            Error::Inconsistent { .. } => "Inconsistent",
            Error::PollDeadline { .. } => "PollDeadline",
            Error::Decode { .. } => "Decode",
            Error::Output { .. } => "Output",
            Error::UnsafeFile { .. } => "UnsafeFile",
            Error::InputFile { .. } => "InputFile",
            Error::Checkpoint { .. } => "Checkpoint",
            Error::FollowState { .. } => "FollowState",
            Error::InvalidTimestamp { .. } => "InvalidTimestamp",
        }
    }

    /// For [`Error::Timeout`] and [`Error::Connection`], the innermost
    /// cause ("Connection refused (os error 111)", a DNS failure, a TLS
    /// problem); `None` for every other error.
    pub fn root_cause(&self) -> Option<String> {
        match self {
            Error::Timeout { error } | Error::Connection { error } => {
                Some(innermost(error).to_string())
            }
            _ => None,
        }
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Decode { status, .. } => *status,
            Error::Timeout { error } | Error::Connection { error } => error.status(),
            _ => self.http_failure().map(|r| r.status),
        }
    }

    /// The response headers, when the error came from a response.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.http_failure().map(|r| &r.headers)
    }

    /// The start of the response body, when there was one.
    pub fn body_excerpt(&self) -> Option<&str> {
        match self {
            Error::Decode { excerpt, .. } => Some(excerpt),
            _ => self.http_failure().map(|r| r.body.as_str()),
        }
    }

    /// The response behind an HTTP error status.
    pub fn http_failure(&self) -> Option<&HttpFailure> {
        match self {
            Error::BadRequest(r)
            | Error::Unauthorized(r)
            | Error::Forbidden(r)
            | Error::NotFound(r)
            | Error::Server(r)
            | Error::UnexpectedStatus(r) => Some(r),
            Error::Validation { response, .. } | Error::RateLimited { response, .. } => {
                Some(response)
            }
            _ => None,
        }
    }

    /// The problems a 422 listed; empty for every other error.
    pub fn validation_issues(&self) -> &[ValidationIssue] {
        match self {
            Error::Validation { issues, .. } => issues,
            _ => &[],
        }
    }

    /// How long a 429 asked to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
