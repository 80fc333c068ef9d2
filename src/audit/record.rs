//! The audit-log record: [`AuditLog`], the spec's `AuditLogs` schema as a
//! typed view that keeps every field the server sent, its timestamp as a
//! time, and the masking of secrets before a record is passed on.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::secret::Redactor;

/// One audit-log record: the spec's `AuditLogs` schema (build.rs puts this
/// type in place of the generated one, and `crate::types::AuditLog` names
/// it), with the fields the spec does not list kept in [`AuditLog::extra`].
///
/// Datafold adds fields to its records over time; an audit trail must not
/// lose them, so they stay reachable here and are written back out by
/// `Serialize`. A test checks these fields against `openapi/datafold.yaml`.
/// A field sent as an explicit `null` reads as `None`; the export's JSON
/// outputs keep the `null` (they copy the record's own bytes).
///
/// The `timestamp` is a time: it reads every form [`parse_timestamp`]
/// accepts and is written back as RFC 3339 in UTC. The server's own text is
/// what the export writes (JSON and CSV alike) and what
/// [`RawRecord::timestamp`](crate::audit::export::RawRecord::timestamp) gives.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuditLog {
    /// What was done, e.g. `login`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The address the request came from.
    pub client_ip: String,
    /// The record's unique id.
    pub event_uuid: String,
    /// Whether Datafold support acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_user: Option<bool>,
    /// A readable summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_entry: Option<String>,
    /// The id of the object acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<i64>,
    /// The kind of object acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    /// Details of the action; secret fields in it are masked on export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Map<String, Value>>,
    /// The request's `Referer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referer: Option<String>,
    /// The HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// Where the action came from, e.g. `web` or `api`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The outcome, e.g. `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When it happened. Read as [`parse_timestamp`] reads it (a record
    /// whose timestamp it cannot read does not decode: the error names the
    /// field and the value); written as RFC 3339 in UTC with the fractional
    /// seconds the time has, in groups of three digits
    /// (`2026-11-25T10:20:30Z`, `2026-11-25T10:20:30.123Z`).
    #[serde(
        serialize_with = "write_timestamp",
        deserialize_with = "read_timestamp"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "DateTime<Utc>"))]
    pub timestamp: DateTime<Utc>,
    /// The URL requested.
    pub url: String,
    /// The request's `User-Agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The acting user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// The acting user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Every field the spec does not list, as the server sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The record's former name, from when one record was called `AuditLogs`
/// (the spec's schema name, which the wire keeps).
#[deprecated(note = "renamed to `AuditLog`: one record is one audit log")]
pub type AuditLogs = AuditLog;

impl AuditLog {
    /// The record's `timestamp`, from when it was the server's text. It is
    /// a time now, so this never fails.
    ///
    /// # Errors
    /// None: a record whose timestamp cannot be read does not decode.
    #[deprecated(note = "`AuditLog::timestamp` is a `DateTime<Utc>`: read the field")]
    pub fn timestamp_utc(&self) -> Result<DateTime<Utc>> {
        Ok(self.timestamp)
    }

    /// Mask what `redactor` masks, as an export does: the values of secret
    /// fields anywhere in `payload` and in the fields the spec does not
    /// list, and known secret values (the API key) in every string. For
    /// records read with [`AuditLogsHandler::list`](crate::audit::AuditLogsHandler::list),
    /// which come as the server sent them. Cheap for the usual record: an
    /// empty `payload` is not walked, and each string is only searched.
    pub fn mask_secrets(&mut self, redactor: &Redactor) {
        if let Some(payload) = self.payload.as_mut().filter(|p| !p.is_empty()) {
            redactor.mask_map(payload);
        }
        if !self.extra.is_empty() {
            redactor.mask_map(&mut self.extra);
        }
        if redactor.knows_no_values() {
            return;
        }
        // The timestamp is a time: it cannot hold a secret.
        for text in [&mut self.client_ip, &mut self.event_uuid, &mut self.url] {
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

/// `timestamp` as RFC 3339 in UTC, with the fractional seconds it has.
fn write_timestamp<S: Serializer>(
    at: &DateTime<Utc>,
    out: S,
) -> std::result::Result<S::Ok, S::Error> {
    out.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// `timestamp` in any form [`parse_timestamp`] reads, borrowed where the
/// input allows (no copy per record).
fn read_timestamp<'de, D: Deserializer<'de>>(
    input: D,
) -> std::result::Result<DateTime<Utc>, D::Error> {
    struct Timestamp;
    impl serde::de::Visitor<'_> for Timestamp {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the field `timestamp` as an RFC 3339 date-time string")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<Self::Value, E> {
            parse_timestamp(text).map_err(|_| E::custom(unreadable_timestamp(text)))
        }
    }
    input.deserialize_str(Timestamp)
}

/// Why a record whose `timestamp` is `text` has no typed view, and what
/// reads it all the same; the value comes last, where serde_json adds the
/// position.
pub(crate) fn unreadable_timestamp(text: &str) -> String {
    format!(
        "the field `timestamp` cannot be read as a time (RFC 3339, e.g. \
         2026-11-25T10:20:30Z, is expected; an export, client.audit_logs().between(start, \
         end), passes such a record on as the server sent it through raw_events(), \
         write_to() and write_to_file()): {:?}",
        crate::error::clip(text, 80)
    )
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
    // The usual RFC 3339 form needs no copy.
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.with_timezone(&Utc));
    }
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

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::AuditLog;

    /// The hand-written record is the spec's `AuditLogs` schema: the same
    /// properties, of the same JSON types, the same ones required.
    #[test]
    fn the_record_is_the_specs_schema() {
        let spec: Value =
            serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/datafold.json"))).unwrap();
        let schema = &spec["components"]["schemas"]["AuditLogs"];
        let properties = schema["properties"].as_object().unwrap();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(schema["additionalProperties"], true);

        let full = AuditLog {
            action: Some("a".into()),
            is_support_user: Some(false),
            log_entry: Some("l".into()),
            object_id: Some(1),
            object_type: Some("o".into()),
            payload: Some(serde_json::Map::new()),
            referer: Some("r".into()),
            request_type: Some("GET".into()),
            source: Some("web".into()),
            status: Some("success".into()),
            user_agent: Some("ua".into()),
            user_email: Some("e".into()),
            user_id: Some(2),
            ..AuditLog::default()
        };
        let Value::Object(fields) = serde_json::to_value(&full).unwrap() else {
            unreachable!()
        };
        let names = |keys: Vec<&String>| keys.into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(fields.keys().collect()),
            names(properties.keys().collect())
        );
        for (name, value) in &fields {
            let json_type = match value {
                Value::String(_) => "string",
                Value::Number(_) => "integer",
                Value::Bool(_) => "boolean",
                Value::Object(_) => "object",
                other => panic!("{name}: {other}"),
            };
            assert_eq!(properties[name]["type"], json_type, "{name}");
            let mut without = fields.clone();
            without.remove(name);
            let decoded = serde_json::from_value::<AuditLog>(Value::Object(without));
            assert_eq!(
                decoded.is_err(),
                required.contains(&name.as_str()),
                "{name}"
            );
        }
    }

    /// The derived JSON Schema says what the wire holds: a date-time string.
    #[cfg(feature = "schema")]
    #[test]
    fn the_timestamp_schema_is_a_date_time_string() {
        let schema = serde_json::to_value(schemars::schema_for!(AuditLog)).unwrap();
        let timestamp = &schema["properties"]["timestamp"];
        assert_eq!(timestamp["type"], "string", "{schema}");
        assert_eq!(timestamp["format"], "date-time", "{schema}");
        assert!(schema["required"]
            .as_array()
            .unwrap()
            .contains(&json!("timestamp")));
    }

    #[test]
    fn fields_the_spec_does_not_list_are_kept() {
        let sent = json!({"timestamp": "2026-11-25T10:20:30Z", "event_uuid": "u",
                          "client_ip": "c", "url": "/",
                          "action": null, "tenant": {"id": 7}, "note": null});
        let record: AuditLog = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(record.extra["tenant"], json!({"id": 7}));
        assert_eq!(record.extra["note"], Value::Null);
        let mut back = sent;
        back.as_object_mut().unwrap().remove("action");
        assert_eq!(serde_json::to_value(&record).unwrap(), back);
    }
}
