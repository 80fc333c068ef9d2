//! Typed Rust client for Datafold's audit-log and BI-integration REST API.
//!
//! The 17 operations — `GET /api/v1/audit_logs` and the 16 BI-integration
//! endpoints under `/api/v1/lineage/bi/` — are generated at build time from the
//! hand-maintained `openapi/datafold.yaml` (see [`generated`]). This crate wraps
//! them with configuration from the environment, `Authorization: Key …`
//! authentication, one matchable [`Error`], redacted [`Secret`]s, and handlers
//! that read like sentences: [`Client::bi`] and [`Client::audit_logs`].
//!
//! # Configuration
//!
//! [`Client::from_env`] reads `DATAFOLD_API_KEY` (falling back to
//! `DATAFOLD_APIKEY`) and `DATAFOLD_HOST` (default `https://app.datafold.com`),
//! the same variables as Datafold's own tooling. [`Client::builder`] sets the
//! same things, plus timeouts and the user agent, in code. The key is never
//! sent over plain `http://` except to this machine, unless you opt in with
//! [`ClientBuilder::allow_insecure_http`].
//!
//! # Limits
//!
//! Every call is bounded. [`ClientBuilder::timeout`] is the time a call may
//! go without progress (retries and export windows included; a response that
//! keeps arriving is never cut). Redirects are followed only within the
//! configured host's origin, at most [`MAX_REDIRECTS`] hops. A body read into
//! memory is capped by [`ClientBuilder::max_response_bytes`] (default
//! [`DEFAULT_MAX_RESPONSE_BYTES`]); an error body keeps at most
//! [`ERROR_BODY_BYTES`] and [`MAX_ISSUES`] validation issues; one exported
//! record at most [`audit::export::MAX_RECORD_BYTES`] (feature `export`).
//!
//! # Example: audit logs
//!
//! ```no_run
//! use datafold_sdk::chrono::{Duration, Utc};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), datafold_sdk::Error> {
//!     let client = datafold_sdk::Client::from_env()?;
//!
//!     // The last 24 hours; without .start()/.end() every record is returned.
//!     let logs = client
//!         .audit_logs()
//!         .list()
//!         .start(Utc::now() - Duration::hours(24))
//!         .end(Utc::now())
//!         .send()
//!         .await?;
//!     for log in &logs {
//!         println!(
//!             "{} {} {} {}",
//!             log.timestamp,
//!             log.user_email.as_deref().unwrap_or("-"),
//!             log.action.as_deref().unwrap_or("-"),
//!             log.url,
//!         );
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Example: streaming a long range
//!
//! With the `export` feature
//! (`datafold-sdk = { version = "0.1", features = ["export"] }`):
//!
//! ```no_run
//! use datafold_sdk::chrono::{Duration, Utc};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), datafold_sdk::Error> {
//!     let client = datafold_sdk::Client::from_env()?;
//!
//!     // Window by window, in bounded memory; `next()` needs no trait import.
//!     let mut records = client
//!         .audit_logs()
//!         .between(Utc::now() - Duration::days(30), Utc::now())
//!         .records()?;
//!     let mut count = 0;
//!     while let Some(record) = records.next().await {
//!         let record = record?;
//!         count += 1;
//!         if count <= 3 {
//!             println!("{} {}", record.timestamp, record.url);
//!         }
//!     }
//!     println!("{count} records");
//!     Ok(())
//! }
//! ```
//!
//! The streams are also [`Stream`]s: with `use datafold_sdk::StreamExt;`
//! (re-exported, no `futures` dependency needed) they take `map`, `take`,
//! `filter` and the rest.
//!
//! For long ranges, [`audit::export`] streams a range window by window,
//! resumably and in bounded memory; to keep audit logs flowing (into a SIEM,
//! say), [`audit::follow`] polls as they grow and passes each record on once,
//! across restarts.
//!
//! # Example: a BI integration
//!
//! ```no_run
//! use datafold_sdk::{types::LookerDataSourceConfig, Error};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let client = datafold_sdk::Client::from_env()?;
//!
//!     // The configuration's type picks the endpoint (here POST /api/v1/lineage/bi/looker/).
//!     // The client secret is a `Secret`: `{:?}` of the config prints `[REDACTED]`.
//!     let config = LookerDataSourceConfig::builder()
//!         .base_url("https://acme.looker.com")
//!         .client_id("looker-client-id")
//!         .client_secret(std::env::var("LOOKER_CLIENT_SECRET").unwrap_or_default())
//!         .repo_id(42)
//!         // Optional fields take the value itself, or an `Option<String>`.
//!         .name("Looker (prod)");
//!
//!     match client.bi().create(config).await {
//!         Ok(integration) => {
//!             println!("created integration {}", integration.id());
//!             client.bi().sync(integration.id()).await?;
//!         }
//!         // FastAPI's 422 detail, one line per field: `body.client_secret: Field required`
//!         Err(Error::Validation { issues, .. }) => {
//!             issues.iter().for_each(|issue| eprintln!("{issue}"));
//!         }
//!         Err(other) => return Err(other),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Dates and times
//!
//! Times in the API are [`chrono`] types (`DateTime<Utc>` for a range's
//! bounds and a record's timestamp). The crate re-exports [`chrono`], so
//! `use datafold_sdk::chrono::{DateTime, Duration, TimeZone, Utc};` needs no
//! chrono dependency of your own, and its version always matches the SDK's.
//!
//! # Features
//!
//! - `rustls` (default): TLS through rustls.
//! - `export`: audit-log export and follow ([`audit::export`],
//!   [`audit::follow`]: [`AuditLogsHandler::between`](audit::AuditLogsHandler::between)
//!   and [`AuditLogsHandler::follow`](audit::AuditLogsHandler::follow)), about 40%
//!   of the library's code; without it, the client and all 17 operations.
//! - `schema`: `schemars::JsonSchema` for every generated type.
//! - `as-code`: BI integrations as code ([`bi::Desired`], [`bi::Plan`]):
//!   a YAML or JSON file of integrations, planned against the server and
//!   applied (implies `schema`).
//! - `compress` (implies `export`): [`compress`], gzip and zstd output in
//!   frames that a resumed export can cut back to and append to.
//! - `cli`: the `datafold` command-line tool (implies `mock-cli`, `export`,
//!   `schema`, `as-code` and `compress`).
//! - `mock`: [`mock`], an embedded, stateful Datafold server for tests.
//! - `mock-cli`: the `datafold-mock` binary, the mock as a process of its own
//!   (implies `mock`; its flags are those of `datafold mock serve`).

#![warn(missing_docs)]
// On docs.rs (nightly, `--cfg docsrs`), items behind a feature say which.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The docs describe every feature and link to what each adds; a build with
// some feature off lacks those items. The published docs (docs.rs, and CI's
// `RUSTDOCFLAGS="-D warnings" cargo doc --all-features`) have them all, and
// there every link must resolve.
#![cfg_attr(
    not(all(
        feature = "export",
        feature = "as-code",
        feature = "compress",
        feature = "mock"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod audit;
pub mod bi;
mod client;
#[cfg(feature = "compress")]
#[cfg_attr(docsrs, doc(cfg(feature = "compress")))]
pub mod compress;
mod error;
pub mod generated;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;
mod optional;
pub mod safe_file;
pub mod secret;
#[cfg(any(feature = "export", feature = "as-code"))]
mod sha256;
mod transport;

/// The date and time library of the public API, re-exported so that its
/// version always matches the SDK's; see [Dates and times](crate#dates-and-times).
pub use chrono;

// The README's Rust examples are compiled (and those that need no server run)
// as doc-tests. They use the embedded mock, hence the feature.
#[cfg(all(doctest, feature = "mock"))]
#[doc = include_str!("../README.md")]
mod readme {}

pub use client::{
    Client, ClientBuilder, API_KEY_FALLBACK_VAR, API_KEY_VAR, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_HOST, DEFAULT_TIMEOUT, HOST_VAR, USER_AGENT,
};
pub use error::{
    CheckpointRefusal, Error, ErrorBody, HttpFailure, RedirectReason, Result, ValidationIssue,
    MAX_ISSUES,
};
/// The stream traits of the public API (from `futures-util`), re-exported
/// so that consuming [`audit::export::Records`] and the other streams needs no
/// other crate: `use datafold_sdk::StreamExt;` for `next()`, `map()`,
/// `take()` and the like. Each stream also has an inherent `next()`.
pub use futures_util::stream::{Stream, StreamExt, TryStreamExt};
pub use generated::types;
pub use optional::IntoOptional;
pub use secret::{Secret, REDACTED, SECRET_FIELDS};
pub use transport::retry;
pub use transport::{RetryPolicy, DEFAULT_MAX_RESPONSE_BYTES, ERROR_BODY_BYTES, MAX_REDIRECTS};
