//! [`Client`] and [`ClientBuilder`]: configuration, authentication, and the one
//! seam ([`Hooks`]) that every generated call passes through.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};

use crate::audit::AuditLogsApi;
use crate::bi::Bi;
use crate::error::{parse_retry_after, Error, Result};
use crate::generated;
use crate::limits::{failure_of, IdleClock, DEFAULT_MAX_RESPONSE_BYTES};
use crate::redirect::Origin;
use crate::retry::{Failure, RetryPolicy, Safety};
use crate::secret::{Redactor, Secret};

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
        let hooks = Hooks {
            retry: policy,
            ..self.api.inner().clone()
        };
        self.with_hooks(hooks)
    }

    /// A client like this one whose calls, export windows included, may go
    /// `timeout` without progress (see [`ClientBuilder::timeout`]). Shares
    /// the connection pool.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        let hooks = Hooks {
            timeout,
            ..self.api.inner().clone()
        };
        self.with_hooks(hooks)
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.api.inner().retry
    }

    /// The time a call may go without progress; see [`ClientBuilder::timeout`].
    pub fn timeout(&self) -> Duration {
        self.api.inner().timeout
    }

    /// What errors and exported records must not show: the API key's clear
    /// text, and secret fields by name.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.api.inner().redactor
    }

    /// A clock for one call under this client's timeout.
    pub(crate) fn idle_clock(&self) -> IdleClock {
        IdleClock::start(self.timeout())
    }

    fn with_hooks(&self, hooks: Hooks) -> Self {
        let api = generated::Client::new_with_client(&self.host, self.api.client().clone(), hooks);
        Self {
            api,
            host: self.host.clone(),
        }
    }

    /// BI integrations: create, update, list, get, remove, sync.
    pub fn bi(&self) -> Bi<'_> {
        Bi::new(self)
    }

    /// The organization's audit logs.
    pub fn audit_logs(&self) -> AuditLogsApi<'_> {
        AuditLogsApi::new(self)
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
            api_key_source: "the API key",
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
        self.api_key_source = "the API key";
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
    /// [`AuditLogsApi::between`](crate::audit::AuditLogsApi::between), which
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

        // Redirects are followed by the SDK itself (see `crate::redirect`);
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
                Hooks {
                    retry: self.retry,
                    timeout: self.timeout,
                    max_response_bytes: self.max_response_bytes,
                    origin: Origin::of(&url),
                    redactor: Redactor::new().with_secret(&key),
                },
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

/// State the generated client carries into [`ClientHooks`]: the seam every
/// generated call passes through, where retries, the idle clock, redirects,
/// body caps and the redaction of error bodies apply.
#[derive(Debug, Clone)]
pub struct Hooks {
    retry: RetryPolicy,
    timeout: Duration,
    max_response_bytes: u64,
    /// The configured host's origin: the only one redirects may lead to.
    origin: Origin,
    /// Masks the API key (`Debug` shows only how many values it knows).
    redactor: Redactor,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            // (An origin that matches nothing if it could not be read: no
            // redirect is followed then.)
            origin: reqwest::Url::parse(DEFAULT_HOST)
                .map(|url| Origin::of(&url))
                .unwrap_or_default(),
            redactor: Redactor::new(),
        }
    }
}

impl ClientHooks<Hooks> for generated::Client {
    async fn exec(
        &self,
        mut request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        drop_null_body(&mut request);
        // progenitor adds `api-version: <info.version>`; Datafold documents no
        // such header, so it is not sent.
        request.headers_mut().remove("api-version");
        // Buffer the body inside the retry loop, so that a response cut short
        // is retried like any other broken connection (where that is safe).
        let mut clock = IdleClock::start(self.inner().timeout);
        execute(self, request, info, Buffering::WholeBody, &mut clock).await
    }
}

/// Whether [`execute`] reads the response body before returning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Buffering {
    /// Read it all: a body that breaks off counts as a failed attempt.
    WholeBody,
    /// Return once the headers are in; the caller streams the body.
    HeadersOnly,
}

/// Send `request` under the client's retry policy (see [`crate::retry`]),
/// every wait bounded by `clock`. An error status comes back with its body
/// read, bounded and redacted (see [`crate::error_body`]) whatever the
/// `buffering`.
pub(crate) async fn execute(
    api: &generated::Client,
    mut request: reqwest::Request,
    info: &OperationInfo,
    buffering: Buffering,
    clock: &mut IdleClock,
) -> reqwest::Result<reqwest::Response> {
    let hooks = api.inner();
    let safety = Safety::of(request.method(), info.operation_id);
    // What an error body must not show: the key and the secrets sent now.
    let mut redactor = hooks.redactor.clone();
    if let Some(sent) = request.body().and_then(reqwest::Body::as_bytes) {
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(sent) {
            redactor.add_secrets_of(&json);
        }
    }
    let mut retries = 0;
    loop {
        let replay = request.try_clone();
        tracing::debug!(
            operation = info.operation_id,
            method = %request.method(),
            path = request.url().path(),
            attempt = retries + 1,
            "sending request"
        );
        let result = attempt(api, request, info, buffering, clock, &redactor).await;
        let failure = match &result {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(Failure::Status(
                response.status(),
                parse_retry_after(response.headers()),
            )),
            Err(error) => Some(failure_of(error)),
        };
        let decision =
            failure.and_then(|f| hooks.retry.decide(safety, &f, retries, clock.remaining()));
        let (Some(retry), Some(next)) = (decision, replay) else {
            if let Ok(response) = &result {
                tracing::debug!(
                    operation = info.operation_id,
                    status = response.status().as_u16(),
                    "response"
                );
            }
            return result;
        };
        retries += 1;
        tracing::warn!(
            operation = info.operation_id,
            attempt = retries + 1,
            reason = %retry.reason,
            delay_ms = retry.delay.as_millis() as u64,
            "retrying Datafold request"
        );
        tokio::time::sleep(retry.delay).await;
        request = next;
    }
}

/// One attempt: send (following same-origin redirects), then read the body
/// as `buffering` says, within the caps.
async fn attempt(
    api: &generated::Client,
    request: reqwest::Request,
    info: &OperationInfo,
    buffering: Buffering,
    clock: &mut IdleClock,
    redactor: &Redactor,
) -> reqwest::Result<reqwest::Response> {
    let hooks = api.inner();
    let response = crate::redirect::send(api.client(), request, &hooks.origin, clock).await?;
    if !response.status().is_success() {
        let limit = hooks.max_response_bytes;
        return crate::error_body::bound(response, clock, limit, redactor).await;
    }
    match buffering {
        Buffering::HeadersOnly => Ok(response),
        Buffering::WholeBody => {
            let limit = hooks.max_response_bytes;
            crate::limits::buffer(response, clock, limit, info.operation_id).await
        }
    }
}

/// progenitor serializes an optional request body that was left unset as JSON
/// `null`. Datafold's docs show such calls (an unfiltered audit-log GET) with
/// no body at all, so send none.
fn drop_null_body(request: &mut reqwest::Request) {
    let is_null = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .is_some_and(|bytes| bytes == b"null");
    if is_null {
        *request.body_mut() = None;
        request.headers_mut().remove(CONTENT_TYPE);
        request.headers_mut().remove(CONTENT_LENGTH);
    }
}
