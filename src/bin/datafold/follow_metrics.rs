//! `follow --metrics-addr`: what a follow has done, in the Prometheus text
//! format at `/metrics`, and whether it is healthy at `/healthz`.
//!
//! The listener is hyper's HTTP/1 server (no parser of ours). It is bounded
//! like everything unattended: at most [`MAX_CONNECTIONS`] at once (one more
//! is closed at once), [`HEADER_TIMEOUT`] to send the request head, and
//! [`CONNECTION_TIMEOUT`] for a whole connection. Request bodies are never
//! read. Nothing served carries a secret: counters, times, and the last
//! failure's message with secrets masked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use datafold_sdk::Error;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::time::human;
use crate::{CliError, CliResult};

/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;
/// The time a client has to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection stays open.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// What a follow has done so far; shared by the loop and the listener.
#[derive(Debug, Default)]
pub struct Metrics {
    pub records_written: AtomicU64,
    pub duplicates_dropped: AtomicU64,
    pub late_records: AtomicU64,
    pub quarantined: AtomicU64,
    pub polls: AtomicU64,
    pub bytes_written: AtomicU64,
    pub files_closed: AtomicU64,
    pub on_close_succeeded: AtomicU64,
    pub on_close_failed: AtomicU64,
    /// Failed polls by reason.
    failed: Mutex<BTreeMap<&'static str, u64>>,
    /// The last failure, masked, for `/healthz`.
    last_failure: Mutex<Option<String>>,
    /// Milliseconds since the epoch: the start, the last successful poll (0
    /// for none), the watermark.
    started_ms: AtomicI64,
    last_success_ms: AtomicI64,
    position_ms: AtomicI64,
    behind_ms: AtomicU64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Metrics {
    pub fn new(position: chrono::DateTime<chrono::Utc>) -> Arc<Self> {
        let metrics = Self::default();
        metrics.started_ms.store(now_ms(), Ordering::Relaxed);
        metrics
            .position_ms
            .store(position.timestamp_millis(), Ordering::Relaxed);
        Arc::new(metrics)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A poll completed, its range read up to `watermark`.
    pub fn polled(&self, watermark: chrono::DateTime<chrono::Utc>, behind: Duration) {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.last_success_ms.store(now_ms(), Ordering::Relaxed);
        self.position_ms
            .store(watermark.timestamp_millis(), Ordering::Relaxed);
        self.behind_ms
            .store(behind.as_millis() as u64, Ordering::Relaxed);
        *lock(&self.last_failure) = None;
    }

    /// A poll failed with `error`.
    pub fn failed(&self, error: &Error) {
        *lock(&self.failed).entry(reason(error)).or_insert(0) += 1;
        *lock(&self.last_failure) = Some(crate::output::masked_text(&error.to_string()));
    }

    /// How long since the last successful poll (or the start, before one).
    pub fn since_success(&self) -> Duration {
        let last = match self.last_success_ms.load(Ordering::Relaxed) {
            0 => self.started_ms.load(Ordering::Relaxed),
            ms => ms,
        };
        Duration::from_millis(u64::try_from(now_ms() - last).unwrap_or(0))
    }

    /// Whether the follow is healthy under `bound`, and why (for the body).
    pub fn health(&self, bound: Duration) -> (bool, String) {
        let since = self.since_success();
        let polled = self.last_success_ms.load(Ordering::Relaxed) != 0;
        if since <= bound {
            let what = if polled {
                format!("ok: the last poll succeeded {} ago\n", human(since))
            } else {
                "ok: starting, no poll has completed yet\n".to_owned()
            };
            return (true, what);
        }
        let mut why = if polled {
            format!(
                "unhealthy: no successful poll for {} (more than {})",
                human(since),
                human(bound)
            )
        } else {
            format!(
                "unhealthy: no poll has succeeded in the {} since the start (more than {})",
                human(since),
                human(bound)
            )
        };
        if let Some(failure) = lock(&self.last_failure).as_deref() {
            let _ = write!(why, "; the last failure: {failure}");
        }
        why.push('\n');
        (false, why)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, retries: u64) -> String {
        let mut out = String::with_capacity(4096);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let counters: [(&str, &str, u64); 9] = [
            ("records_written_total", "Records written to the output.", load(&self.records_written)),
            ("duplicates_dropped_total", "Records read again (by the overlap of polls) and not written.", load(&self.duplicates_dropped)),
            ("late_records_total", "Records written on a re-read: timestamped before the watermark of the poll that found them.", load(&self.late_records)),
            ("records_quarantined_total", "Records that cannot be read, set aside and not written.", load(&self.quarantined)),
            ("polls_total", "Polls completed.", load(&self.polls)),
            ("retries_total", "Requests sent again after a failed attempt.", retries),
            ("bytes_written_total", "Bytes of records written (before compression).", load(&self.bytes_written)),
            ("files_closed_total", "Output files that reached their final name.", load(&self.files_closed)),
            ("on_close_runs_total", "Runs of --on-close that succeeded.", load(&self.on_close_succeeded)),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP datafold_follow_{name} {help}\n# TYPE datafold_follow_{name} counter\ndatafold_follow_{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP datafold_follow_on_close_failures_total Runs of --on-close that failed (each retried).\n\
             # TYPE datafold_follow_on_close_failures_total counter\n\
             datafold_follow_on_close_failures_total {}",
            load(&self.on_close_failed)
        );
        out.push_str(
            "# HELP datafold_follow_poll_failures_total Polls that failed, by reason.\n\
             # TYPE datafold_follow_poll_failures_total counter\n",
        );
        let failed = lock(&self.failed).clone();
        for reason in REASONS {
            let n = failed.get(reason).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "datafold_follow_poll_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let seconds = |ms: i64| ms as f64 / 1000.0;
        let last = self.last_success_ms.load(Ordering::Relaxed);
        let gauges: [(&str, &str, f64); 4] = [
            (
                "last_success_timestamp_seconds",
                "When the last poll completed (0: none yet), Unix time.",
                seconds(last),
            ),
            (
                "position_timestamp_seconds",
                "The watermark: records before it, less the lag, are all written. Unix time.",
                seconds(self.position_ms.load(Ordering::Relaxed)),
            ),
            (
                "behind_seconds",
                "How far the watermark was behind this machine's clock at the last poll.",
                load_ms(&self.behind_ms),
            ),
            (
                "start_timestamp_seconds",
                "When this follow started, Unix time.",
                seconds(self.started_ms.load(Ordering::Relaxed)),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP datafold_follow_{name} {help}\n# TYPE datafold_follow_{name} gauge\ndatafold_follow_{name} {value}"
            );
        }
        out
    }
}

fn load_ms(gauge: &AtomicU64) -> f64 {
    gauge.load(Ordering::Relaxed) as f64 / 1000.0
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The reasons a poll fails, as the `reason` label says them.
const REASONS: [&str; 10] = [
    "network",
    "timeout",
    "rate_limited",
    "server",
    "unexpected_answer",
    "undecodable",
    "inconsistent",
    "too_large",
    "deadline",
    "other",
];

/// The `reason` label of a failed poll's error.
fn reason(error: &Error) -> &'static str {
    match error {
        Error::Connection { .. } => "network",
        Error::Timeout { .. } => "timeout",
        Error::RateLimited { .. } => "rate_limited",
        Error::Server(_) => "server",
        Error::NotFound(_) | Error::UnexpectedStatus(_) | Error::Redirect { .. } => {
            "unexpected_answer"
        }
        // A body that is not JSON or breaks off, or a record that cannot be read.
        Error::Decode { .. } | Error::InvalidTimestamp { .. } => "undecodable",
        Error::Inconsistent { .. } => "inconsistent",
        Error::ResponseTooLarge { .. } => "too_large",
        Error::PollDeadline { .. } => "deadline",
        _ => "other",
    }
}

/// Parse `--metrics-addr`: `HOST:PORT` with an IP address or `localhost`,
/// or a bare `PORT` (on loopback).
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
    Err(format!(
        "{text:?} is not HOST:PORT with an IP address (127.0.0.1:9464, 0.0.0.0:9464, \
         [::1]:9464) or a port (9464, on loopback)"
    ))
}

/// Bind the listener now (a port in use fails the start), and serve it in
/// the background until the process ends.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    bound: Duration,
) -> CliResult<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        CliError::input(format!(
            "cannot listen on --metrics-addr {addr}: {e}; choose another address or port"
        ))
    })?;
    let local = listener.local_addr().unwrap_or(addr);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors, most likely: try again shortly.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = respond(&request, &metrics, bound);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
                drop(permit);
            });
        }
    });
    Ok(local)
}

fn respond<B>(request: &Request<B>, metrics: &Metrics, bound: Duration) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Ok(value) = content_type.parse() {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    let text = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, text, "GET only\n".into());
    }
    match request.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(crate::log::retries()),
        ),
        "/healthz" => {
            let (healthy, why) = metrics.health(bound);
            let status = if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            reply(status, text, why)
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            text,
            "not found: /metrics or /healthz\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_addr("9464").unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(
            parse_addr("localhost:9").unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert_eq!(parse_addr("0.0.0.0:80").unwrap().to_string(), "0.0.0.0:80");
        assert_eq!(parse_addr("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_addr("example.com:80").is_err());
        assert!(parse_addr("70000").is_err());
    }

    #[test]
    fn the_exposition_has_one_sample_per_counter_and_reason() {
        let metrics = Metrics::new(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        Metrics::add(&metrics.records_written, 7);
        metrics.failed(&Error::InvalidRequest {
            message: "x".into(),
        });
        let text = metrics.render(3);
        assert!(
            text.contains("\ndatafold_follow_records_written_total 7\n"),
            "{text}"
        );
        assert!(
            text.contains("\ndatafold_follow_retries_total 3\n"),
            "{text}"
        );
        assert!(text.contains("datafold_follow_poll_failures_total{reason=\"other\"} 1\n"));
        assert!(text.contains("datafold_follow_poll_failures_total{reason=\"network\"} 0\n"));
        assert!(text.contains("\ndatafold_follow_position_timestamp_seconds 1700000000\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("datafold_follow_"), "{line}");
            value.parse::<f64>().unwrap();
        }
    }
}
