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
//! * **faults** ([`Faults`]): latency, 429/500/502/503, connection resets before
//!   or after the handler ran, truncated bodies, all drawn from a seed;
//! * a **request log** ([`MockServer::request_log`]) with method, path,
//!   operation, status, injected fault and whether the handler changed state.
//!   It never holds the `Authorization` header or any body.
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
mod faults;
mod handlers;
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

pub use faults::{Fault, Faults};
pub use handlers::KIND_MISMATCH_STATUS;
pub use schema::{parse_date_time, LocItem, Operation, SchemaIssue, Spec};

use audit::SeedHistory;
use handlers::{State, User};
use server::Shared;

use crate::types::AuditLogs;
use crate::{Client, Secret};

/// The owner of keys added without one: the `user_email` of their events.
pub const DEFAULT_USER_EMAIL: &str = "mock-user@example.com";
/// Seeded audit events when none is configured.
pub const DEFAULT_SEED_EVENTS: u64 = 100;
/// The time the seeded history covers when none is configured: 30 days.
pub const DEFAULT_SEED_SPAN: Duration = Duration::from_secs(30 * 24 * 3600);

/// One request the mock received. Holds no header value and no body.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// The request's number, from 0, in arrival order (the fault draw's `n`).
    pub seq: u64,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The spec's operationId, when the path and method matched one.
    pub operation: Option<String>,
    /// The status sent; `None` when the connection was reset instead.
    pub status: Option<u16>,
    /// Whether the handler changed state (created, updated, removed, synced).
    pub applied: bool,
    /// The fault injected into this request, if any.
    pub fault: Option<Fault>,
    /// Where the response body breaks the spec (only with
    /// [`MockServerBuilder::check_responses`]).
    pub spec_violations: Vec<String>,
}

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
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            seed: 0,
            seed_events: DEFAULT_SEED_EVENTS,
            seed_end: None,
            seed_span: DEFAULT_SEED_SPAN,
            faults: Faults::default(),
            check_responses: false,
            port: 0,
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

    /// The seed of the seeded audit history (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many seeded audit events there are (default 100).
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

    /// Bind the port and start serving on a thread of its own.
    ///
    /// # Errors
    /// The port cannot be bound, the fault rates are invalid
    /// ([`Faults::check`]), or the runtime cannot start.
    pub fn start(self) -> io::Result<MockServer> {
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
        let shared = Arc::new(Shared {
            spec,
            keys: users,
            faults: self.faults,
            check_responses: self.check_responses,
            counter: AtomicU64::new(0),
            state: Mutex::new(State::new(self.seed, history)),
            log: Mutex::new(Vec::new()),
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
        let thread = std::thread::Builder::new()
            .name(format!("datafold-mock-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let accept = tokio::spawn(server::accept_loop(listener, serving));
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

    /// Every request so far, in the order they were answered.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.log().clone()
    }

    /// Forget the requests so far (the fault draw keeps counting).
    pub fn clear_request_log(&self) {
        self.shared.log().clear();
    }

    /// The audit events recorded by BI calls, oldest first (the seeded ones
    /// are not included).
    pub fn recorded_audit_events(&self) -> Vec<AuditLogs> {
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
    ) -> Vec<AuditLogs> {
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
