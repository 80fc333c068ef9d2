//! An embedded, stateful Datafold mock server (feature `mock`).
//!
//! [`MockServer`] serves the 17 operations of `openapi/datafold.yaml` on an
//! ephemeral `127.0.0.1` port, in memory, the way Datafold's FastAPI service
//! answers them:
//!
//! * **auth**: `Authorization: Key <key>` against the configured keys; a
//!   missing header or another scheme is `401`, an unknown key `403`, both
//!   with `{"detail": "..."}`;
//! * **BI integrations**: create per kind (ids count up from 1), list, get,
//!   update, remove, sync; an unknown id is `404`. Secrets (the spec's
//!   `format: password` fields) are stored and never returned. A PUT to another
//!   kind's endpoint (a Looker PUT on a Tableau id) is `400` with a `detail`
//!   naming the right endpoint: the body is valid, so not a `422`, and the id
//!   exists, so not a `404`;
//! * **validation** from the spec's own schemas: missing fields, wrong types,
//!   malformed JSON and non-integer path ids are `422` with FastAPI's
//!   `{"detail": [{"loc", "msg", "type"}]}`; a path without its trailing slash
//!   is `307` to the slash form;
//! * **audit logs**: a deterministic seeded history (generated lazily, so a
//!   million events cost no memory and stream out in chunks) plus an event for
//!   every create, update, remove and sync the server handles, filtered by the
//!   optional `{start_date, end_date}` body (both bounds inclusive);
//! * **live traffic** ([`MockServerBuilder::live_rate`]): audit events that
//!   appear as time passes, some committed late (stamped earlier than the
//!   moment they become visible, [`MockServerBuilder::late_commits`]), as
//!   on the real service, so that a poller can be tested against it. Like
//!   the seeded history they are computed, never stored, and
//!   [`MockServer::live_audit_events`] is their ground truth;
//! * **faults** ([`Faults`]): latency, 429/500/502/503, connection resets before
//!   or after the handler ran, truncated bodies, all drawn from a seed;
//! * a **request log** ([`MockServer::request_log`]) with method, path,
//!   operation, status, injected fault and whether the handler changed state.
//!   It never holds the `Authorization` header or any body.
//!
//! # Limits
//! The mock is meant to run unattended, so nothing in it grows or waits
//! without bound:
//!
//! * **header timeout** ([`MockServerBuilder::header_read_timeout`], default
//!   10 s): a connection must send a complete request head (request line and
//!   headers) within this time of the server starting to wait for it, on
//!   connect and after each response; otherwise it is closed, without an
//!   answer. A keep-alive connection waiting for its next request is
//!   therefore closed after the shorter of the two timeouts.
//! * **idle timeout** ([`MockServerBuilder::idle_timeout`], default 30 s): a
//!   connection on which no byte moves for this long (a request body that
//!   stalls, a client that stops reading a response, nothing between
//!   requests) is closed, mid-request if need be. Time the server spends on
//!   its own, such as injected latency, does not count.
//! * **connection cap** ([`MockServerBuilder::max_connections`], default 128):
//!   when that many connections are open and another client connects, the
//!   connection idle the longest (for at least 1 s, or the idle timeout if
//!   shorter, and not waiting for the server) is closed to make room; if none
//!   is, the newcomer waits, unanswered, until one closes. So a flood of idle
//!   sockets neither exhausts the file descriptors nor keeps a new client
//!   waiting. When accepting fails (out of file descriptors below the cap),
//!   the same eviction frees one, and the server waits for a connection to
//!   close (at most 1 s) instead of retrying in a loop.
//! * **request log bound** ([`MockServerBuilder::request_log_capacity`],
//!   default 10,000 records, about 3 MB): the log keeps the latest records;
//!   [`MockServer::request_counts`] counts every request (by status, fault,
//!   effect), and [`MockServer::request_log_after`] hands a reader only the
//!   records it has not seen, saying how many it missed. A record's method
//!   and path are cut to 1 KiB and its spec violations to 20.
//!
//! The standalone server (`datafold-mock`, `datafold mock serve`) takes
//! these as `--header-timeout`, `--idle-timeout`, `--max-connections` and
//! `--request-log-size`. Its per-request printer sleeps until a request is
//! logged and prints only the new records, with one line for any the bound
//! dropped before they could be printed.
//!
//! # Why hyper, not axum
//! hyper 1, hyper-util and tokio are already compiled for reqwest, so the
//! server adds only hyper's `server`/`http1` code. Routing is driven by the
//! spec's paths (`router.rs`), which would make axum's router, tower and
//! their extractors dead weight on a 2-core build. The spec is read from the
//! JSON copy build.rs writes to `OUT_DIR`, so no YAML parser is compiled.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use datafold_sdk::{mock::MockServer, types::LookerDataSourceConfig};
//!
//! let server = MockServer::start()?;
//! let client = server.client()?;
//! let looker = LookerDataSourceConfig::builder()
//!     .base_url("https://looker.example.com")
//!     .client_id("id")
//!     .client_secret("secret")
//!     .repo_id(1);
//! let created = client.bi().create(looker).await?;
//! assert_eq!(created.type_name(), Some("looker"));
//! assert!(created.get("client_secret").is_none());
//! # Ok(()) }
//! ```

mod audit;
mod connection;
mod faults;
mod handlers;
mod limits;
mod live;
mod liveness;
mod request_log;
mod router;
mod schema;
mod server;
mod standalone;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use faults::{Fault, Faults, DEFAULT_FAULT_SEED, DEFAULT_RETRY_AFTER_SECS};
// For the command lines' `--header-timeout` and `--idle-timeout` (crates of
// their own, so it must be `pub`); not part of the API users see in the docs.
#[doc(hidden)]
pub use limits::parse_timeout_secs;
pub use limits::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_LOG_CAPACITY, MAX_CONNECTION_TIMEOUT, MIN_CONNECTION_TIMEOUT,
};
// For the command lines' `--live-rate` and `--late-share`, like
// `parse_timeout_secs`.
pub use live::MAX_LATE_DELAY;
#[doc(hidden)]
pub use live::{parse_late_share, parse_live_rate};
pub use request_log::{RequestCounts, RequestLogPage, RequestRecord};

use audit::SeedHistory;
use handlers::{State, User};
use limits::Limits;
use live::{LiveConfig, LiveTraffic};
use request_log::RequestLog;
pub(crate) use schema::Spec;
use server::Shared;

use crate::types::AuditLog;
use crate::{Client, Secret};

/// The owner of keys added without one: the `user_email` of their events.
pub const DEFAULT_USER_EMAIL: &str = "mock-user@example.com";
/// The seed of the seeded audit history when none is configured.
pub const DEFAULT_SEED: u64 = 0;
/// Seeded audit events when none is configured.
pub const DEFAULT_SEED_EVENTS: u64 = 100;
/// The time the seeded history covers when none is configured: 30 days.
pub const DEFAULT_SEED_SPAN: Duration = Duration::from_secs(30 * 24 * 3600);

/// Configuration of a [`MockServer`]; see [`MockServer::builder`].
#[derive(Clone)]
pub struct MockServerBuilder {
    keys: Vec<(Secret, String)>,
    seed: u64,
    seed_events: u64,
    seed_end: Option<DateTime<Utc>>,
    seed_span: Duration,
    faults: Faults,
    check_responses: bool,
    port: u16,
    limits: Limits,
    live: LiveConfig,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            seed: DEFAULT_SEED,
            seed_events: DEFAULT_SEED_EVENTS,
            seed_end: None,
            seed_span: DEFAULT_SEED_SPAN,
            faults: Faults::default(),
            check_responses: false,
            port: 0,
            limits: Limits::default(),
            live: LiveConfig::default(),
        }
    }
}

impl fmt::Debug for MockServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServerBuilder")
            .field("keys", &self.keys.len())
            .field("seed", &self.seed)
            .field("seed_events", &self.seed_events)
            .field("seed_end", &self.seed_end)
            .field("seed_span", &self.seed_span)
            .field("faults", &self.faults)
            .field("check_responses", &self.check_responses)
            .field("port", &self.port)
            .field("limits", &self.limits)
            .field("live", &self.live)
            .finish()
    }
}

impl MockServerBuilder {
    /// Accept `key`, owned by [`DEFAULT_USER_EMAIL`]. Without any key the
    /// server makes one up ([`MockServer::api_key`]).
    pub fn api_key(self, key: impl Into<Secret>) -> Self {
        self.api_key_for(key, DEFAULT_USER_EMAIL)
    }

    /// Accept `key`, owned by the user `email` (the `user_email` of the audit
    /// events its calls produce).
    pub fn api_key_for(mut self, key: impl Into<Secret>, email: impl Into<String>) -> Self {
        self.keys.push((key.into(), email.into()));
        self
    }

    /// The seed of the seeded audit history (default [`DEFAULT_SEED`], 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many seeded audit events there are (default
    /// [`DEFAULT_SEED_EVENTS`], 100).
    pub fn seed_events(mut self, count: u64) -> Self {
        self.seed_events = count;
        self
    }

    /// When the seeded history ends (default: when the server starts) and how
    /// long it lasts (default 30 days). Events are spread evenly over it.
    pub fn seed_window(mut self, end: DateTime<Utc>, span: Duration) -> Self {
        self.seed_end = Some(end);
        self.seed_span = span;
        self
    }

    /// Faults to inject (default none).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Check every response body against the spec's schema for its operation
    /// and status, and note violations in the request log (default off; the
    /// audit-log check looks at the first 10,000 events of a response).
    pub fn check_responses(mut self, check: bool) -> Self {
        self.check_responses = check;
        self
    }

    /// Listen on this port of 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long a connection may take to send a complete request head
    /// (request line and headers), counted from when the server starts
    /// waiting for it: on connect and after each response. A connection that
    /// misses it is closed. Default [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s);
    /// from 1 ms to [`MAX_CONNECTION_TIMEOUT`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// How long a connection may go without progress: no byte of a request
    /// body arriving, no byte of a response leaving (a client that stopped
    /// reading), nothing between requests. The time the server itself spends
    /// (injected latency, handlers) does not count. A connection that
    /// exceeds it is closed, mid-request if need be. Default
    /// [`DEFAULT_IDLE_TIMEOUT`] (30 s); from 1 ms to
    /// [`MAX_CONNECTION_TIMEOUT`].
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// How many connections are served at once (default
    /// [`DEFAULT_MAX_CONNECTIONS`], 128; at least 1). A connection beyond the
    /// cap closes the open connection idle the longest (for at least 1 s, or
    /// the idle timeout if shorter, and not waiting for the server); when
    /// none is, it waits, unanswered, until one closes.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections;
        self
    }

    /// How many requests [`MockServer::request_log`] keeps: the latest ones;
    /// older records are dropped, while [`MockServer::request_counts`] keeps
    /// counting every request. Default [`DEFAULT_REQUEST_LOG_CAPACITY`]
    /// (10,000); 0 keeps counts only.
    pub fn request_log_capacity(mut self, records: usize) -> Self {
        self.limits.request_log_capacity = records;
        self
    }

    /// Bind the port and start serving on a thread of its own.
    ///
    /// # Errors
    /// The port cannot be bound, the fault rates are invalid
    /// ([`Faults::check`]), a timeout is outside 1 ms to 24 hours or
    /// `max_connections` is 0, the live traffic's settings are out of range
    /// or late commits are asked for without a live rate (the error names
    /// the method), or the runtime cannot start.
    pub fn start(self) -> io::Result<MockServer> {
        self.limits.check()?;
        self.live
            .check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.faults
            .check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let spec = Spec::get().map_err(io::Error::other)?;
        let mut keys = self.keys;
        if keys.is_empty() {
            keys.push((Secret::new(generated_key()), DEFAULT_USER_EMAIL.to_owned()));
        }
        let users: Vec<(Secret, User)> = keys
            .iter()
            .enumerate()
            .map(|(i, (key, email))| {
                let user = User {
                    id: i as i64 + 1,
                    email: email.clone(),
                };
                (key.clone(), user)
            })
            .collect();
        let seed_end = self.seed_end.unwrap_or_else(Utc::now);
        let span_ms = i64::try_from(self.seed_span.as_millis()).unwrap_or(i64::MAX / 4);
        let history = SeedHistory::new(self.seed, self.seed_events, seed_end, span_ms);
        let live = (self.live.rate).map(|rate| LiveTraffic::start(self.seed, rate, &self.live));
        let shared = Arc::new(Shared {
            spec,
            keys: users,
            faults: self.faults,
            check_responses: self.check_responses,
            counter: AtomicU64::new(0),
            state: Mutex::new(State::new(self.seed, history, live)),
            log: RequestLog::new(self.limits.request_log_capacity),
        });

        let listener =
            std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = shared.clone();
        let limits = self.limits;
        let thread = std::thread::Builder::new()
            .name(format!("datafold-mock-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let accept = tokio::spawn(connection::accept_loop(listener, serving, limits));
                    // Stops on `shutdown`/drop, or when the sender is gone.
                    let _ = stopped.await;
                    accept.abort();
                });
                // Dropping the runtime ends every open connection.
                drop(runtime);
            })?;
        Ok(MockServer {
            url: format!("http://{addr}"),
            api_key: keys[0].0.clone(),
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A running mock server; stops when dropped.
pub struct MockServer {
    url: String,
    api_key: Secret,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Start a server with the defaults: one generated key, 100 seeded audit
    /// events over the last 30 days, no faults.
    ///
    /// # Errors
    /// See [`MockServerBuilder::start`].
    pub fn start() -> io::Result<MockServer> {
        Self::builder().start()
    }

    /// Configure a server.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The first accepted API key (the generated one if none was configured).
    pub fn api_key(&self) -> &str {
        self.api_key.expose()
    }

    /// A client for this server, authenticated with [`MockServer::api_key`].
    ///
    /// # Errors
    /// As [`crate::ClientBuilder::build`] (not expected for a loopback URL).
    pub fn client(&self) -> crate::Result<Client> {
        Client::builder()
            .api_key(self.api_key.clone())
            .host(&self.url)
            .build()
    }

    /// The latest requests, in the order they were answered: at most
    /// [`MockServerBuilder::request_log_capacity`] (default 10,000) of them;
    /// [`MockServer::request_counts`] counts them all.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.log.records()
    }

    /// The records logged after `cursor`, without copying the others:
    /// start with 0, then pass the page's [`RequestLogPage::next`]. Records
    /// come in the order they were logged (when their answer was sent), which
    /// differs from [`RequestRecord::seq`] order when requests overlap.
    pub fn request_log_after(&self, cursor: u64) -> RequestLogPage {
        self.shared.log.after(cursor)
    }

    /// Counts of every request since the start (or the last
    /// [`MockServer::clear_request_log`]), by status, fault and effect,
    /// including requests the bounded log no longer holds.
    pub fn request_counts(&self) -> RequestCounts {
        self.shared.log.counts()
    }

    /// Forget the requests so far and reset [`MockServer::request_counts`]
    /// (the fault draw and the log's cursors keep counting).
    pub fn clear_request_log(&self) {
        self.shared.log.clear();
    }

    /// The audit events recorded by BI calls, oldest first (the seeded ones
    /// are not included).
    pub fn recorded_audit_events(&self) -> Vec<AuditLog> {
        self.shared.state().recorded_events()
    }

    /// How many seeded audit events there are.
    pub fn seeded_audit_event_count(&self) -> u64 {
        self.shared.state().history().count()
    }

    /// The seeded events whose timestamps lie in `[start, end]` (both
    /// optional), in the order the server sends them. Builds them all in
    /// memory: mind large seeds.
    pub fn seeded_audit_events(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Vec<AuditLog> {
        let history = self.shared.state().history();
        history
            .range(start, end)
            .map(|i| history.event(i))
            .collect()
    }

    /// Every stored integration's configuration by id, as received plus the
    /// schema's defaults, **secrets included**: ground truth for tests.
    pub fn stored_integrations(&self) -> BTreeMap<i64, Value> {
        self.shared.state().stored_configs()
    }

    /// Stop serving and wait for the server thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A key for a server started without one: not guessable by accident, though
/// not cryptographic (a mock needs no more).
fn generated_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let a = hasher.finish();
    let b = faults::mix(a, 1);
    format!("mock_{a:016x}{b:016x}")
}
