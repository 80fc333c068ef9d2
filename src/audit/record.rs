//! What the SDK adds to the generated [`AuditLogs`] record: its timestamp as
//! a time, and the masking of secrets before a record is passed on.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::error::{Error, Result};
use crate::generated::types::AuditLogs;
use crate::secret::Redactor;

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
