//! Audit logs: the [`AuditLogsApi`] handler, its [`ListAuditLogs`] request,
//! and timestamp parsing for [`AuditLogs`] records.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::client::Client;
use crate::error::{finish, Error, Result};
use crate::export::AuditExport;
use crate::generated::types::{ApiDownloadAuditLogs, AuditLogs};
use crate::secret::Redactor;

/// Audit-log calls; get one with [`Client::audit_logs`].
#[derive(Debug, Clone, Copy)]
pub struct AuditLogsApi<'a> {
    client: &'a Client,
}

impl<'a> AuditLogsApi<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Records in one response (`GET /api/v1/audit_logs`), optionally limited
    /// to a time range. Without `start`/`end`, every record is returned.
    ///
    /// The response is read into memory, at most
    /// [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)
    /// (64 MiB by default; beyond it, [`Error::ResponseTooLarge`]). For long
    /// ranges use [`AuditLogsApi::between`], which streams the records.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), datafold_sdk::Error> {
    /// use chrono::{Duration, Utc};
    ///
    /// let client = datafold_sdk::Client::from_env()?;
    /// let logs = client
    ///     .audit_logs()
    ///     .list()
    ///     .start(Utc::now() - Duration::hours(24))
    ///     .send()
    ///     .await?;
    /// for log in &logs {
    ///     println!("{} {:?} {:?}", log.timestamp_utc()?, log.action, log.user_email);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListAuditLogs<'a> {
        ListAuditLogs {
            client: self.client,
            start: None,
            end: None,
        }
    }

    /// Export the records of `[start, end]` window by window: loss-free,
    /// resumable and in bounded memory. See [`crate::export`].
    pub fn between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> AuditExport {
        AuditExport::new(self.client.clone(), start, end)
    }
}

/// A `GET /api/v1/audit_logs` request being built; see [`AuditLogsApi::list`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct ListAuditLogs<'a> {
    client: &'a Client,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

impl ListAuditLogs<'_> {
    /// Only records at or after `start` (the body's `start_date`).
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// Only records up to `end` (the body's `end_date`).
    pub fn end(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// Send the request. With neither bound set, the GET carries no body.
    pub async fn send(self) -> Result<Vec<AuditLogs>> {
        let filter = (self.start.is_some() || self.end.is_some()).then_some(ApiDownloadAuditLogs {
            start_date: self.start,
            end_date: self.end,
        });
        let sent = self.client.api().get_audit_logs().body(filter).send().await;
        let response = finish(sent, self.client.redactor()).await?;
        Ok(response.logs)
    }
}

impl AuditLogs {
    /// The record's `timestamp` as a UTC time; see [`parse_timestamp`].
    ///
    /// # Errors
    /// [`Error::InvalidTimestamp`] when the server sent something else.
    pub fn timestamp_utc(&self) -> Result<DateTime<Utc>> {
        parse_timestamp(&self.timestamp)
    }

    /// Mask what `redactor` masks: the values of secret fields anywhere in
    /// `payload`, and known secret values (the API key) in every string.
    /// Cheap for the usual record: an empty `payload` is not walked, and each
    /// string is only searched.
    pub(crate) fn mask_secrets(&mut self, redactor: &Redactor) {
        if let Some(payload) = self.payload.as_mut().filter(|p| !p.is_empty()) {
            redactor.mask_map(payload);
        }
        if redactor.knows_no_values() {
            return;
        }
        for text in [
            &mut self.client_ip,
            &mut self.event_uuid,
            &mut self.timestamp,
            &mut self.url,
        ] {
            redactor.mask_string(text);
        }
        for text in [
            &mut self.action,
            &mut self.log_entry,
            &mut self.object_type,
            &mut self.referer,
            &mut self.request_type,
            &mut self.source,
            &mut self.status,
            &mut self.user_agent,
            &mut self.user_email,
        ]
        .into_iter()
        .flatten()
        {
            redactor.mask_string(text);
        }
    }
}

/// Parse an audit-log timestamp. Datafold types it as a plain string, so this
/// accepts RFC 3339 with or without an offset (no offset means UTC), with `T`
/// or a space between date and time, with or without fractional seconds, and
/// offsets written `+00:00` or `+0000`.
///
/// ```
/// use datafold_sdk::audit::parse_timestamp;
///
/// let a = parse_timestamp("2026-11-25T10:00:00Z")?;
/// let b = parse_timestamp("2026-11-25 12:00:00.000+02:00")?;
/// let c = parse_timestamp("2026-11-25T10:00:00")?;
/// assert!(a == b && b == c);
/// assert!(parse_timestamp("yesterday").is_err());
/// # Ok::<(), datafold_sdk::Error>(())
/// ```
pub fn parse_timestamp(value: &str) -> Result<DateTime<Utc>> {
    let trimmed = value.trim();
    let normalized = match trimmed.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &trimmed[..10], &trimmed[11..]),
        _ => trimmed.to_owned(),
    };
    DateTime::parse_from_rfc3339(&normalized)
        .or_else(|_| DateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
        })
        .map_err(|_| Error::InvalidTimestamp {
            value: value.to_owned(),
        })
}
