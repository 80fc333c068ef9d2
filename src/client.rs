//! [`Client`] and [`ClientBuilder`]: configuration and authentication. What
//! happens to each request is the transport's (`src/transport/`).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use progenitor_client::ClientInfo;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use crate::audit::AuditLogsHandler;
use crate::bi::BiHandler;
use crate::error::{Error, Result};
use crate::generated;
use crate::secret::{Redactor, Secret};
use crate::transport::{Hooks, RetryPolicy, DEFAULT_MAX_RESPONSE_BYTES};

/// The host used when none is configured.
pub const DEFAULT_HOST: &str = "https://app.datafold.com";
/// The environment variable holding the API key.
pub const API_KEY_VAR: &str = "DATAFOLD_API_KEY";
/// The older name of [`API_KEY_VAR`], read when that one is unset.
pub const API_KEY_FALLBACK_VAR: &str = "DATAFOLD_APIKEY";
/// The environment variable holding the host.
pub const HOST_VAR: &str = "DATAFOLD_HOST";
/// The `User-Agent` this SDK sends.
pub const USER_AGENT: &str = concat!("datafold-sdk-rust/", env!("CARGO_PKG_VERSION"));
/// Default time a call may go without progress; see [`ClientBuilder::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured connection to Datafold's API.
///
/// Cheap to clone (clones share one connection pool). Build it with
/// [`Client::from_env`] or [`Client::builder`]; then use [`Client::bi`] and
/// [`Client::audit_logs`], or [`Client::api`] for the generated builders of
/// every operation.
#[derive(Clone)]
pub struct Client {
    api: generated::Client,
    host: String,
}

impl Client {
    /// Start configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: `DATAFOLD_API_KEY` (or
    /// `DATAFOLD_APIKEY`) and `DATAFOLD_HOST` (default
    /// `https://app.datafold.com`).
    ///
    /// # Errors
    /// [`Error::MissingApiKey`] when neither key variable is set,
    /// [`Error::InvalidConfig`] / [`Error::InsecureHost`] for a bad host.
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_env().build()
    }

    /// The host requests go to, without a trailing slash.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The generated client: a builder method for each of the 17 operations,
    /// returning progenitor's types. Convert its errors with
    /// [`Error::from_api`].
    pub fn api(&self) -> &generated::Client {
        &self.api
    }

    /// A client like this one with another retry policy, for one call or a
    /// few: `client.with_retry_policy(RetryPolicy::none()).bi().create(cfg)`.
    /// Shares the connection pool.
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Self {
        self.with_hooks(self.api.inner().clone().with_retry(policy))
    }

    /// A client like this one whose calls, export windows included, may go
    /// `timeout` without progress (see [`ClientBuilder::timeout`]). Shares
    /// the connection pool.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        self.with_hooks(self.api.inner().clone().with_timeout(timeout))
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.api.inner().retry()
    }

    /// The time a call may go without progress; see [`ClientBuilder::timeout`].
    pub fn timeout(&self) -> Duration {
        self.api.inner().timeout()
    }

    /// What errors and exported records must not show: the API key's clear
    /// text, and secret fields by name.
    pub(crate) fn redactor(&self) -> &Redactor {
        self.api.inner().redactor()
    }

    fn with_hooks(&self, hooks: Hooks) -> Self {
        let api = generated::Client::new_with_client(&self.host, self.api.client().clone(), hooks);
        Self {
            api,
            host: self.host.clone(),
        }
    }

    /// BI integrations: create, update, list, get, remove, sync.
    pub fn bi(&self) -> BiHandler<'_> {
        BiHandler::new(self)
    }

    /// The organization's audit logs.
    pub fn audit_logs(&self) -> AuditLogsHandler<'_> {
        AuditLogsHandler::new(self)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("api_key", &crate::REDACTED)
            .finish_non_exhaustive()
    }
}

/// Configuration for a [`Client`].
///
/// ```
/// use std::time::Duration;
///
/// let client = datafold_sdk::Client::builder()
///     .api_key("my-api-key")
///     .host("https://app.datafold.com")
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(client.host(), "https://app.datafold.com");
/// # Ok::<(), datafold_sdk::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    api_key: Option<Secret>,
    api_key_source: &'static str,
    host: Option<String>,
    host_source: &'static str,
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: u64,
    user_agent: String,
    allow_insecure_http: bool,
    retry: RetryPolicy,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            api_key_source: "the key given to ClientBuilder::api_key",
            host: None,
            host_source: "the host",
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            user_agent: USER_AGENT.to_owned(),
            allow_insecure_http: false,
            retry: RetryPolicy::default(),
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("host", &self.host)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("user_agent", &self.user_agent)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientBuilder {
    /// A builder preset from the process environment (see [`Client::from_env`]);
    /// later calls override what it read.
    pub fn from_env() -> Self {
        Self::from_env_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`ClientBuilder::from_env`], reading variables through `lookup`
    /// instead of the process environment: for tests and for configuration
    /// systems of your own.
    pub fn from_env_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut builder = Self::default();
        let non_blank = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(key) = non_blank(API_KEY_VAR) {
            builder.api_key = Some(Secret::new(key));
            builder.api_key_source = API_KEY_VAR;
        } else if let Some(key) = non_blank(API_KEY_FALLBACK_VAR) {
            builder.api_key = Some(Secret::new(key));
            builder.api_key_source = API_KEY_FALLBACK_VAR;
        }
        if let Some(host) = non_blank(HOST_VAR) {
            builder.host = Some(host);
            builder.host_source = HOST_VAR;
        }
        builder
    }

    /// The API key, sent as `Authorization: Key <api-key>`.
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self.api_key_source = "the key given to ClientBuilder::api_key";
        self
    }

    /// The base URL, e.g. `https://app.datafold.com` (a trailing slash is fine;
    /// a path prefix is kept).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self.host_source = "the host";
        self
    }

    /// The time a call may go without progress. Default 60 s.
    ///
    /// It bounds every wait of every call, export windows included:
    /// connecting, waiting for the response headers, and each wait for the
    /// next bytes of the body. The clock restarts whenever the server sends
    /// something, and keeps running while the client waits before a retry
    /// (see [`crate::retry`]), so one call — all its attempts together —
    /// gives up once `timeout` has passed without the server sending
    /// anything: against a silent server a call ends after about `timeout`,
    /// not `timeout` times the number of attempts. A response that keeps
    /// arriving is never cut, however long it takes (a large export window):
    /// there is no limit on the total time, only on the size of what is held
    /// in memory ([`ClientBuilder::max_response_bytes`]). A duration too
    /// large to represent means no limit; zero fails every call that must
    /// wait at all. [`Client::with_timeout`] overrides it per call.
    ///
    /// Running out is [`Error::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit for establishing one connection (within [`ClientBuilder::timeout`]).
    /// Default 10 s. A connection that cannot be made in time is retried like
    /// a refused one.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The most bytes of one response body the client reads into memory.
    /// Default [`DEFAULT_MAX_RESPONSE_BYTES`] (64 MiB). A larger body is
    /// [`Error::ResponseTooLarge`]; for audit logs, export the range with
    /// [`AuditLogsHandler::between`](crate::audit::AuditLogsHandler::between), which
    /// streams it in bounded memory. Error bodies are read up to this size
    /// too, and at most 64 KiB of them is kept.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The `User-Agent` header. Default `datafold-sdk-rust/<version>`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// When failed calls are retried; default [`RetryPolicy::default`]. See
    /// [`crate::retry`] for which calls are safe to retry.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Allow a plain `http://` host that is not on this machine. The API key
    /// then crosses the network unencrypted; only for trusted networks.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Check the configuration and build the client.
    ///
    /// # Errors
    /// [`Error::MissingApiKey`], [`Error::InsecureHost`], or
    /// [`Error::InvalidConfig`] naming the setting to fix.
    pub fn build(self) -> Result<Client> {
        let key = self
            .api_key
            .filter(|k| !k.is_blank())
            .ok_or(Error::MissingApiKey)?;
        let host = normalize_host(
            self.host.as_deref().unwrap_or(DEFAULT_HOST),
            self.host_source,
        )?;
        let url = reqwest::Url::parse(&host)
            .map_err(|e| invalid(format!("{}: {e}", self.host_source)))?;
        if url.scheme() == "http" && !self.allow_insecure_http && !is_loopback(&url) {
            return Err(Error::InsecureHost { host });
        }

        let mut auth =
            HeaderValue::try_from(format!("Key {}", key.expose().trim())).map_err(|_| {
                invalid(format!(
                    "{} contains characters that cannot go in an HTTP header (a line break?)",
                    self.api_key_source
                ))
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);

        // Redirects are followed by the SDK itself (see `src/transport/redirect.rs`);
        // the idle clock in the hooks replaces reqwest's total timeout.
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            api: generated::Client::new_with_client(
                &host,
                http,
                Hooks::new(
                    self.retry,
                    self.timeout,
                    self.max_response_bytes,
                    &url,
                    Redactor::new()
                        .with_secret(&key)
                        .with_key_source(self.api_key_source),
                ),
            ),
            host,
        })
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig { message }
}

/// `https://host/` → `https://host`; rejects what is not an http(s) URL.
/// Messages never repeat a user name or password, even from a URL that does
/// not parse.
fn normalize_host(raw: &str, source: &str) -> Result<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let shown = without_userinfo(trimmed);
    let url = reqwest::Url::parse(trimmed).map_err(|e| {
        invalid(format!(
            "{source} {shown:?} is not a URL ({e}); write it like https://app.datafold.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(format!(
            "{source} {shown:?} must be an http(s) URL with a host, like https://app.datafold.com"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Credentials in the URL would be printed wherever the host is.
        return Err(invalid(format!(
            "{source} must not contain a user name or password; the API key goes in DATAFOLD_API_KEY"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "{source} {shown:?} must not have a query or fragment"
        )));
    }
    Ok(trimmed.to_owned())
}

/// `text` with whatever precedes an `@` in its authority (user name and
/// password) replaced by the redaction marker; works on text that is not a
/// valid URL.
fn without_userinfo(text: &str) -> std::borrow::Cow<'_, str> {
    let start = text.find("://").map_or(0, |i| i + 3);
    let authority_end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    match text[start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}{}{}",
            &text[..start],
            crate::REDACTED,
            &text[start + at..]
        )
        .into(),
        None => text.into(),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}
