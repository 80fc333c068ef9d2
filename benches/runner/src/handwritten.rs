//! The baseline: the client a user would write without the SDK — reqwest,
//! serde_json and a struct of its own, nothing else.
//!
//! `cargo xtask bench --build` also compiles this file alone, as the library
//! of the scratch crate it times against the SDK, so it may use nothing but
//! reqwest, serde and serde_json.

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Any failure: this is a baseline, not an SDK.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One audit-log record: the fields of the SDK's `types::AuditLog`, and its
/// types but for the time, kept as the server's text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditLog {
    pub action: Option<String>,
    pub client_ip: String,
    pub event_uuid: String,
    pub is_support_user: Option<bool>,
    pub log_entry: Option<String>,
    pub object_id: Option<i64>,
    pub object_type: Option<String>,
    pub payload: Option<Map<String, Value>>,
    pub referer: Option<String>,
    pub request_type: Option<String>,
    pub source: Option<String>,
    pub status: Option<String>,
    pub timestamp: String,
    pub url: String,
    pub user_agent: Option<String>,
    pub user_email: Option<String>,
    pub user_id: Option<i64>,
}

#[derive(Deserialize)]
struct AuditLogsResponse {
    logs: Vec<AuditLog>,
}

/// Parse a `GET /api/v1/audit_logs` body.
pub fn decode_audit_logs(body: &[u8]) -> serde_json::Result<Vec<AuditLog>> {
    serde_json::from_slice::<AuditLogsResponse>(body).map(|r| r.logs)
}

/// reqwest with the `Authorization: Key` header on every request.
#[derive(Clone)]
pub struct RawClient {
    http: reqwest::Client,
    base: String,
}

impl RawClient {
    /// A client for `base` (no trailing slash).
    pub fn new(base: &str, api_key: &str) -> Result<Self, BoxError> {
        let mut auth = HeaderValue::from_str(&format!("Key {api_key}"))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()?;
        Ok(Self {
            http,
            base: base.to_owned(),
        })
    }

    /// Every audit-log record, in one response.
    pub async fn audit_logs(&self) -> Result<Vec<AuditLog>, BoxError> {
        Ok(decode_audit_logs(self.audit_logs_body().await?.as_ref())?)
    }

    /// The audit-log response's body, read whole and not parsed.
    pub async fn audit_logs_body(&self) -> Result<impl AsRef<[u8]>, BoxError> {
        let url = format!("{}/api/v1/audit_logs", self.base);
        let response = self.http.get(url).send().await?.error_for_status()?;
        Ok(response.bytes().await?)
    }

    /// `GET /api/v1/lineage/bi/{id}/`: the integration as JSON.
    pub async fn get_integration(&self, id: i64) -> Result<Value, BoxError> {
        let url = format!("{}/api/v1/lineage/bi/{id}/", self.base);
        let response = self.http.get(url).send().await?.error_for_status()?;
        Ok(response.json().await?)
    }
}
