//! Turning what the wire gave — a generated call's error, a failed response,
//! a `reqwest::Error` — into [`Error`], in one place: statuses classified,
//! bodies bounded and masked, FastAPI's validation issues read.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::error_body::{mask_headers, ERROR_BODY_BYTES, SUMMARY_KEY};
use crate::error::stop::Stop;
use crate::error::{clip, clip_with, Error, HttpFailure, Result, ValidationIssue, MAX_ISSUES};
use crate::generated;
use crate::secret::{mask_fields_in_text, Redactor};

/// How much of a response body an error keeps (bytes read) and shows (chars).
const BODY_READ_CAP: usize = ERROR_BODY_BYTES;
const EXCERPT_CHARS: usize = 512;
/// How much of a body that is not JSON is masked before its excerpt is cut:
/// more than the excerpt can show (512 characters of at most 4 bytes), so a
/// secret cut at the end of this is never shown in part.
const MASKED_TEXT_BYTES: usize = 4 * EXCERPT_CHARS + 1024;
/// The longest issue message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 200;
/// The most parts of an issue's `loc` kept.
const MAX_LOC_PARTS: usize = 10;
/// The longest `detail` message kept, in characters.
const MAX_DETAIL_CHARS: usize = 512;

impl Error {
    /// Convert an error of the generated client (see [`crate::generated`])
    /// into this crate's error, reading the body of an undocumented response.
    ///
    /// Error bodies were masked by the client's transport already (the API
    /// key, the secrets of the request, secret fields). The excerpt of a
    /// success body that does not decode ([`Error::Decode`]) is masked here
    /// by secret field names only, since this function knows no values; the
    /// handlers ([`Client::bi`](crate::Client::bi),
    /// [`Client::audit_logs`](crate::Client::audit_logs)) also mask the API
    /// key and the secrets they sent there.
    pub async fn from_api<E: serde::Serialize>(error: generated::Error<E>) -> Self {
        Self::from_api_masked(error, &Redactor::new()).await
    }

    /// [`Error::from_api`], masking the values `redactor` knows as well.
    pub(crate) async fn from_api_masked<E: serde::Serialize>(
        error: generated::Error<E>,
        redactor: &Redactor,
    ) -> Self {
        use progenitor_client::Error as E;
        match error {
            E::InvalidRequest(message) | E::Custom(message) => Error::InvalidRequest { message },
            E::CommunicationError(source)
            | E::InvalidUpgrade(source)
            | E::ResponseBodyError(source) => Self::from_transport(source),
            E::ErrorResponse(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                let body = serde_json::to_vec(&*response).unwrap_or_default();
                Self::from_status(status, headers, &body, redactor)
            }
            // The transport hands on every error body as JSON (one that is
            // not becomes a JSON string, see `error_body.rs`), so this is
            // the body of a documented success, and every documented success
            // is 200.
            E::InvalidResponsePayload(bytes, error) => Error::Decode {
                status: Some(StatusCode::OK),
                excerpt: excerpt(&bytes, redactor),
                error: redacted(error, redactor),
            },
            E::UnexpectedResponse(response) => Self::from_response(response, redactor).await,
        }
    }

    /// Classify a response whose status says it failed (or that the API does
    /// not document), reading at most 64 KiB of its body.
    pub(crate) async fn from_response(
        mut response: reqwest::Response,
        redactor: &Redactor,
    ) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(&mut response).await;
        Self::from_status(status, headers, &body, redactor)
    }

    pub(crate) fn from_transport(error: reqwest::Error) -> Self {
        match Stop::of(&error) {
            Some(Stop::Idle { .. }) => return Error::Timeout { error },
            Some(Stop::TooLarge {
                what,
                limit,
                advice,
            }) => {
                return Error::ResponseTooLarge {
                    what: (*what).to_owned(),
                    limit: *limit,
                    advice: (*advice).to_owned(),
                }
            }
            Some(Stop::Redirect { from, to, reason }) => {
                return Error::Redirect {
                    from: from.clone(),
                    to: to.clone(),
                    reason: *reason,
                }
            }
            None => {}
        }
        if error.is_timeout() {
            Error::Timeout { error }
        } else if error.is_builder() {
            Error::InvalidRequest {
                message: error.to_string(),
            }
        } else {
            Error::Connection { error }
        }
    }

    pub(crate) fn from_status(
        status: StatusCode,
        mut headers: HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Self {
        let mut json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        // A body that was not JSON, as the transport hands it on: its text.
        let text = match json.take() {
            Some(serde_json::Value::String(text)) => Some(text),
            other => {
                json = other.map(|json| redactor.error_json(&json));
                None
            }
        };
        let body = text.as_ref().map_or(body, String::as_bytes);
        mask_headers(&mut headers, redactor);
        let detail = json
            .as_ref()
            .and_then(|v| v.get("detail"))
            .and_then(|d| d.as_str())
            .map(|d| clip(d, MAX_DETAIL_CHARS));
        let (issues, more_issues) = json.as_ref().map(validation_issues).unwrap_or_default();
        let retry_after = parse_retry_after(&headers);
        let response = Box::new(HttpFailure {
            status,
            headers,
            body: excerpt(body, redactor),
            detail,
            api_key_source: redactor.key_source(),
        });
        match status.as_u16() {
            400 => Error::BadRequest(response),
            401 => Error::Unauthorized(response),
            403 => Error::Forbidden(response),
            404 => Error::NotFound(response),
            422 => Error::Validation {
                issues,
                more_issues,
                response,
            },
            429 => Error::RateLimited {
                retry_after,
                response,
            },
            500..=599 => Error::Server(response),
            _ => Error::UnexpectedStatus(response),
        }
    }
}

/// A decoding error whose text quotes the body (serde names the value it
/// did not expect: `invalid type: string "…"`) with the known secrets masked;
/// the error itself when it shows none.
pub(crate) fn redacted(error: serde_json::Error, redactor: &Redactor) -> serde_json::Error {
    let text = error.to_string();
    match redactor.text(&text) {
        std::borrow::Cow::Borrowed(_) => error,
        std::borrow::Cow::Owned(masked) => <serde_json::Error as serde::de::Error>::custom(masked),
    }
}

/// Unwrap a generated call's result: the value, or this crate's error, with
/// the values `redactor` knows (the API key, the secrets of the request)
/// masked wherever the error quotes the response.
pub(crate) async fn finish<T, E: serde::Serialize>(
    result: std::result::Result<generated::ResponseValue<T>, generated::Error<E>>,
    redactor: &Redactor,
) -> Result<T> {
    match result {
        Ok(value) => Ok(value.into_inner()),
        Err(error) => Err(Error::from_api_masked(error, redactor).await),
    }
}

/// FastAPI's `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`:
/// the first [`MAX_ISSUES`] issues, each cut to size, and how many more
/// there were (counted by the transport when it summarized a large body).
fn validation_issues(body: &serde_json::Value) -> (Vec<ValidationIssue>, u64) {
    let Some(items) = body.get("detail").and_then(|d| d.as_array()) else {
        return (Vec::new(), 0);
    };
    let text = |v: Option<&serde_json::Value>, max| {
        clip(v.and_then(|m| m.as_str()).unwrap_or_default(), max)
    };
    let issues: Vec<ValidationIssue> = items
        .iter()
        .take(MAX_ISSUES)
        .map(|item| ValidationIssue {
            loc: item
                .get("loc")
                .and_then(|l| l.as_array())
                .map(|parts| {
                    parts
                        .iter()
                        .take(MAX_LOC_PARTS)
                        .map(|p| clip(&p.as_str().map_or_else(|| p.to_string(), str::to_owned), 64))
                        .collect()
                })
                .unwrap_or_default(),
            msg: text(item.get("msg"), MAX_MESSAGE_CHARS),
            kind: text(item.get("type"), 64),
        })
        .collect();
    let total = body
        .get(SUMMARY_KEY)
        .and_then(|s| s.get("detail_items"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(items.len() as u64);
    let more = total.saturating_sub(issues.len() as u64);
    (issues, more)
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// At most [`BODY_READ_CAP`] bytes of a response's body. A broken body
/// still leaves a useful error: what arrived is kept.
async fn read_capped(response: &mut reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < BODY_READ_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// For a call whose success may come without the documented body (a
/// removal, a sync): `Some` of the documented body, or `None` for a success
/// with nothing or other JSON in it, so that what was asked happened.
/// Anything else is [`Error::Decode`] (a proxy's or a login page's HTML
/// answered with 200 says nothing about whether the server acted), and an
/// error status is classified as usual.
pub(crate) async fn success_with_json_or_nothing<T, E: serde::Serialize>(
    result: std::result::Result<generated::ResponseValue<T>, generated::Error<E>>,
    redactor: &Redactor,
) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value.into_inner())),
        // progenitor reads a body only for the documented status, 200; one
        // that is not JSON is classified as any other undecodable body.
        Err(progenitor_client::Error::InvalidResponsePayload(body, _))
            if not_json(&body, false).is_none() =>
        {
            Ok(None)
        }
        Err(progenitor_client::Error::UnexpectedResponse(mut response))
            if response.status().is_success() =>
        {
            let status = response.status();
            let body = read_capped(&mut response).await;
            match not_json(&body, body.len() >= BODY_READ_CAP) {
                None => Ok(None),
                Some(error) => Err(Error::Decode {
                    status: Some(status),
                    excerpt: excerpt(&body, redactor),
                    error: redacted(error, redactor),
                }),
            }
        }
        Err(error) => Err(Error::from_api_masked(error, redactor).await),
    }
}

/// Why `body` is neither empty (white space only) nor JSON; `None` when it
/// is one of them. A body `cut` at the read cap counts as JSON when it
/// starts as an object or an array: a document too long to read whole.
fn not_json(body: &[u8], cut: bool) -> Option<serde_json::Error> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let error = serde_json::from_slice::<serde::de::IgnoredAny>(body).err()?;
    (!(cut && matches!(body[start], b'{' | b'['))).then_some(error)
}

/// The first characters of a body for error messages, stripped of secrets
/// first: a JSON body as [`Redactor::json`] does (FastAPI's `input` dropped
/// too), any other text by the shape of secret fields
/// ([`mask_fields_in_text`]); in both, the values `redactor` knows.
pub(crate) fn excerpt(body: &[u8], redactor: &Redactor) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => raw_excerpt(redactor.error_json(&json).to_string().as_bytes()),
        Err(_) => {
            let head = &body[..body.len().min(MASKED_TEXT_BYTES)];
            let text = String::from_utf8_lossy(head);
            let masked = mask_fields_in_text(&text);
            let masked = redactor.text(&masked);
            clip_with(&masked, EXCERPT_CHARS, body.len() > head.len())
        }
    }
}

/// The first characters of a body, lossily decoded.
fn raw_excerpt(body: &[u8]) -> String {
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    clip_with(
        &String::from_utf8_lossy(head),
        EXCERPT_CHARS,
        body.len() > head.len(),
    )
}
