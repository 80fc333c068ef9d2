//! The per-request pipeline (fault draw, latency, body read, routing,
//! handler, response check, request log) and the response bodies; the
//! connections it runs on are `connection.rs`'s.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Response};
use serde_json::Value;

use super::faults::{Fault, Faults};
use super::handlers::{Answer, State, User};
use super::liveness::Connection;
use super::request_log::{RequestLog, RequestRecord};
use super::router::{self, Incoming as RouterRequest, Outcome};
use super::schema::Spec;
use crate::Secret;

/// Largest request body the mock reads; larger ones get a 413.
const MAX_BODY: usize = 1024 * 1024;
/// How many audit events of one response the response check looks at.
const CHECKED_EVENTS: usize = 10_000;

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) spec: &'static Spec,
    pub(crate) keys: Vec<(Secret, User)>,
    pub(crate) faults: Faults,
    pub(crate) check_responses: bool,
    pub(crate) counter: AtomicU64,
    pub(crate) state: Mutex<State>,
    pub(crate) log: RequestLog,
}

impl Shared {
    /// The state, even if a panicking thread poisoned the lock (the mock's
    /// state stays consistent between statements).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The error a handler returns to make hyper drop the connection unanswered.
#[derive(Debug)]
pub(crate) struct InjectedReset;

impl std::fmt::Display for InjectedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for InjectedReset {}

pub(crate) async fn serve(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    peer: SocketAddr,
    connection: Arc<Connection>,
) -> Result<Response<MockBody>, InjectedReset> {
    let seq = shared.counter.fetch_add(1, Ordering::SeqCst);
    let fault = shared.faults.pick(seq);
    let latency = shared.faults.added_latency();
    if !latency.is_zero() {
        // The server's own delay is not the client's idleness.
        let _busy = connection.busy();
        tokio::time::sleep(latency).await;
    }
    let mut record = RequestRecord {
        seq,
        method: req.method().as_str().to_owned(),
        path: req.uri().path().to_owned(),
        operation: None,
        status: None,
        applied: false,
        fault,
        spec_violations: Vec::new(),
    };
    if let Some(status) = fault.and_then(Fault::status) {
        record.status = Some(status);
        shared.log.push(record);
        return Ok(fault_response(status, shared.faults.retry_after()));
    }
    if fault == Some(Fault::ResetBeforeHandler) {
        shared.log.push(record);
        connection.reset_on_close();
        return Err(InjectedReset);
    }

    let (parts, body) = req.into_parts();
    let Some(body) = read_body(body).await else {
        record.status = Some(413);
        shared.log.push(record);
        let detail = serde_json::json!({"detail": "Request body too large"});
        return Ok(json_response(413, &detail, &[]));
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let incoming = RouterRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        authorization: header("authorization"),
        host: header("host"),
        body: &body,
        client_ip: peer.ip().to_string(),
        user_agent: header("user-agent").map(str::to_owned),
    };
    let (status, answer, headers) = match router::route(shared.spec, &shared.keys, &incoming) {
        Outcome::Answer(op, status, body, headers) => {
            record.operation = op.map(str::to_owned);
            (status, Answer::Json(status, body), headers)
        }
        Outcome::Call(call) => {
            record.operation = Some(call.operation_id.to_owned());
            let (answer, applied) = shared.state().handle(shared.spec, call);
            record.applied = applied;
            let status = match &answer {
                Answer::Json(status, _) => *status,
                Answer::AuditLogs(_) => 200,
            };
            (status, answer, Vec::new())
        }
    };
    if shared.check_responses {
        record.spec_violations = check(shared.spec, record.operation.as_deref(), status, &answer);
    }
    let truncate = fault == Some(Fault::TruncatedBody);
    let response = match answer {
        Answer::Json(307, _) => empty_response(307, &headers),
        Answer::Json(status, body) if truncate => cut_response(status, &body),
        Answer::Json(status, body) => json_response(status, &body, &headers),
        Answer::AuditLogs(chunks) => {
            let body = MockBody::Chunks {
                chunks: Box::new(chunks),
                cut: truncate,
            };
            let mut response = Response::new(body);
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
    };
    if fault == Some(Fault::ResetAfterHandler) {
        shared.log.push(record);
        connection.reset_on_close();
        return Err(InjectedReset);
    }
    record.status = Some(status);
    shared.log.push(record);
    Ok(response)
}

/// The whole request body, or `None` past [`MAX_BODY`] bytes.
async fn read_body(mut body: Incoming) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        // A client that breaks off mid-body sent what it sent.
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > MAX_BODY {
                return None;
            }
        }
    }
    Some(buf)
}

/// The spec violations of one answer (empty when the spec documents no body
/// for the status).
fn check(spec: &Spec, operation: Option<&str>, status: u16, answer: &Answer) -> Vec<String> {
    let Some(op) = operation else {
        return Vec::new();
    };
    let render = |issues: Vec<super::schema::SchemaIssue>| -> Vec<String> {
        issues.iter().map(ToString::to_string).collect()
    };
    match answer {
        Answer::Json(_, body) => {
            render(spec.validate_response(op, status, body).unwrap_or_default())
        }
        Answer::AuditLogs(chunks) => {
            let envelope = serde_json::json!({ "logs": [] });
            let mut out = render(
                spec.validate_response(op, status, &envelope)
                    .unwrap_or_default(),
            );
            for event in chunks.sample(CHECKED_EVENTS) {
                let value = serde_json::to_value(&event).unwrap_or(Value::Null);
                out.extend(render(spec.validate("AuditLogs", &value)));
            }
            out
        }
    }
}

fn fault_response(status: u16, retry_after: u32) -> Response<MockBody> {
    match status {
        429 => {
            let detail = serde_json::json!({"detail": "Too Many Requests"});
            json_response(429, &detail, &[("retry-after", retry_after.to_string())])
        }
        500 => text_response(
            500,
            "text/plain; charset=utf-8",
            "Internal Server Error".into(),
        ),
        _ => {
            let reason = if status == 502 {
                "Bad Gateway"
            } else {
                "Service Unavailable"
            };
            let html = format!("<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>");
            let mut response = text_response(status, "text/html", html);
            if status == 503 {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(retry_after));
            }
            response
        }
    }
}

fn text_response(status: u16, content_type: &'static str, text: String) -> Response<MockBody> {
    let mut response = Response::new(MockBody::Full(Some(Bytes::from(text))));
    *response.status_mut() = to_status(status);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_response(
    status: u16,
    body: &Value,
    headers: &[(&'static str, String)],
) -> Response<MockBody> {
    let mut response = text_response(status, "application/json", body.to_string());
    add_headers(&mut response, headers);
    response
}

fn empty_response(status: u16, headers: &[(&'static str, String)]) -> Response<MockBody> {
    let mut response = Response::new(MockBody::Full(None));
    *response.status_mut() = to_status(status);
    add_headers(&mut response, headers);
    response
}

/// A response announcing the whole body's length and sending half of it.
fn cut_response(status: u16, body: &Value) -> Response<MockBody> {
    let text = body.to_string();
    let half = Bytes::from(text.as_bytes()[..text.len() / 2].to_vec());
    let mut response = Response::new(MockBody::cut(half));
    *response.status_mut() = to_status(status);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    response
}

fn add_headers(response: &mut Response<MockBody>, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::try_from(value.as_str()) {
            response.headers_mut().insert(*name, value);
        }
    }
}

fn to_status(status: u16) -> hyper::StatusCode {
    hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR)
}

/// Response bodies: whole, streamed in chunks, or cut off by a fault.
pub(crate) enum MockBody {
    /// The whole body at once (`None` once sent).
    Full(Option<Bytes>),
    /// Chunks as produced; with `cut`, half of the first chunk and then an
    /// error.
    Chunks {
        chunks: Box<dyn Iterator<Item = Vec<u8>> + Send>,
        cut: bool,
    },
    /// Part of a body whose full length was announced; then, after a pause
    /// that lets hyper flush what was sent, an error that drops the connection.
    Cut {
        data: Option<Bytes>,
        pause: Option<Pin<Box<tokio::time::Sleep>>>,
    },
}

impl MockBody {
    fn cut(data: Bytes) -> Self {
        MockBody::Cut {
            data: Some(data),
            pause: None,
        }
    }
}

/// How long a cut body waits before breaking off: hyper writes out what it
/// holds while the body is pending, so the client sees the partial body.
const CUT_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

impl Body for MockBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let truncated = || {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "body truncated by fault injection",
            )
        };
        let this = self.get_mut();
        let frame = match this {
            MockBody::Full(data) => data.take().map(|d| Ok(Frame::data(d))),
            MockBody::Cut { data, pause } => match data.take() {
                Some(data) => Some(Ok(Frame::data(data))),
                None => {
                    let pause =
                        pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(CUT_PAUSE)));
                    if pause.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    Some(Err(truncated()))
                }
            },
            MockBody::Chunks { chunks, cut: false } => {
                chunks.next().map(|c| Ok(Frame::data(Bytes::from(c))))
            }
            MockBody::Chunks { chunks, cut: true } => {
                let first = chunks.next().unwrap_or_default();
                *this = MockBody::cut(Bytes::from(first[..first.len() / 2].to_vec()));
                return Pin::new(this).poll_frame(cx);
            }
        };
        Poll::Ready(frame)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            MockBody::Full(data) => {
                hyper::body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            _ => hyper::body::SizeHint::default(),
        }
    }
}
