//! [`RawRecord`]: one audit-log record as the server sent it, compacted and
//! with secrets masked, read in one pass over its bytes.
//!
//! The export copies records instead of decoding and encoding them again, so
//! every field survives: fields the spec does not list, explicit `null`s,
//! numbers as written, keys in their order. Only what the export needs is
//! read: `event_uuid` and `timestamp`, and that the spec's required fields
//! (`timestamp`, `event_uuid`, `client_ip`, `url`) are there as strings.
//!
//! Masking is what [`Redactor::json`] does to a JSON value, applied to the
//! bytes: the value of a secret field
//! ([`is_secret_field`](crate::secret::is_secret_field)) anywhere in the
//! record becomes [`REDACTED`](crate::REDACTED) (`null` stays `null`), and a
//! known secret value (the API key) is masked in every string and key. A
//! string is only decoded when it has escapes or a known value may hide in
//! it; everything else is copied, in runs.
//!
//! The same pass checks the JSON grammar (as strictly as `serde_json`), so
//! nothing that is not JSON is written, and no second parse is needed.

mod compact;

use chrono::{DateTime, Utc};

use super::AuditLog;
use crate::error::{Error, Result};
use crate::secret::Redactor;
use compact::{invalid, needs_masking, Compactor, Stop, MAX_DEPTH};

/// The spec's required fields of a record, all strings.
const REQUIRED: [&str; 4] = ["timestamp", "event_uuid", "client_ip", "url"];
/// How many of them (the first) the export keeps the values of.
const KEPT: usize = 2;
/// One audit-log record: its JSON exactly as the server sent it, without
/// white space between tokens and with secrets masked; and the two fields
/// the export reads from it.
///
/// [`RawRecord::json`] is one line of compact JSON (a record never holds a
/// raw line end); [`RawRecord::decode`] gives the typed view.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRecord {
    json: String,
    event_uuid: String,
    timestamp: String,
    /// `timestamp`, parsed once; `None` when it cannot be read.
    at: Option<DateTime<Utc>>,
}

impl RawRecord {
    /// Read the record in `raw` (one JSON object); `Err` says what breaks
    /// the schema or JSON, for the caller to place in its response.
    pub(crate) fn read(raw: &[u8], redactor: &Redactor) -> std::result::Result<Self, String> {
        let mask_values = needs_masking(raw, redactor);
        let mut copy = Compactor::new(raw, redactor, MAX_DEPTH, mask_values);
        // The grammar is checked as the record is copied: what is not
        // JSON is refused, never written.
        match copy.record() {
            Ok(()) => {}
            Err(Stop::Invalid(problem)) => return Err(problem),
            Err(Stop::Incomplete) => return Err(invalid("it ends before its object does")),
        }
        if copy.at < raw.len() {
            return Err("data after the record's object".into());
        }
        copy.into_record()
    }

    /// Read the record that `bytes` starts with, when it is whole there and
    /// sound, nested at most `max_depth` deep: the record, and how many
    /// bytes it took. `None` when it goes on past `bytes` or breaks the
    /// schema (for the caller to find its end, then [`RawRecord::read`] it).
    pub(crate) fn read_prefix(
        bytes: &[u8],
        redactor: &Redactor,
        max_depth: usize,
    ) -> Option<(Self, usize)> {
        let mut copy = Compactor::new(bytes, redactor, max_depth, false);
        copy.record().ok()?;
        let len = copy.at;
        let raw = &bytes[..len];
        if needs_masking(raw, redactor) {
            // Seldom: copied again, each string checked.
            copy = Compactor::new(raw, redactor, max_depth, true);
            copy.record().ok()?;
        }
        copy.into_record().ok().map(|record| (record, len))
    }

    /// The record as compact JSON, secrets masked.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The record's `event_uuid`.
    pub fn event_uuid(&self) -> &str {
        &self.event_uuid
    }

    /// The record's `timestamp`, as the server wrote it.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The record's `timestamp` as a UTC time; see
    /// [`parse_timestamp`](crate::audit::parse_timestamp).
    ///
    /// # Errors
    /// [`Error::InvalidTimestamp`] when the
    /// server sent something else.
    pub fn timestamp_utc(&self) -> Result<DateTime<Utc>> {
        self.at.ok_or_else(|| Error::InvalidTimestamp {
            value: self.timestamp.clone(),
        })
    }

    /// The record's time, if its `timestamp` can be read.
    pub(crate) fn at(&self) -> Option<DateTime<Utc>> {
        self.at
    }

    /// The typed view: fields the spec does not list land in
    /// [`AuditLog::extra`].
    ///
    /// # Errors
    /// [`serde_json::Error`] when a field the spec lists has another type
    /// (e.g. a string `object_id`), or when the `timestamp` cannot be read
    /// as a time ([`RawRecord::timestamp_utc`] fails): [`AuditLog::timestamp`]
    /// is one. An export passes such a record on all the same (see the
    /// [export docs](crate::audit::export)); its JSON and
    /// [`RawRecord::timestamp`] are the server's.
    pub fn decode(&self) -> std::result::Result<AuditLog, serde_json::Error> {
        serde_json::from_str(&self.json)
    }

    /// The typed view for an output that writes the server's own text for
    /// the time, [`RawRecord::timestamp`], as the CSV does: a record whose
    /// timestamp cannot be read is read too, with the Unix epoch as a
    /// stand-in for its `timestamp`, which such an output never shows.
    pub(crate) fn decode_for_text(&self) -> std::result::Result<AuditLog, serde_json::Error> {
        if self.at.is_some() {
            return self.decode();
        }
        let mut fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.json)?;
        fields.insert(
            "timestamp".into(),
            DateTime::<Utc>::UNIX_EPOCH.to_rfc3339().into(),
        );
        serde_json::from_value(fields.into())
    }

    /// The record's JSON, as [`RawRecord::json`].
    pub fn into_json(self) -> String {
        self.json
    }
}

/// A record the server sent that cannot be passed on as one: it is not
/// JSON, breaks the schema (a required field missing or not a string), or
/// has a `timestamp` that cannot be read as a time. A
/// [`Follower`](crate::audit::follow::Follower) sets such a record aside
/// ([`FollowEvent::Rejected`](crate::audit::follow::FollowEvent::Rejected))
/// after polls keep failing on it; see the [follow docs](crate::audit::follow).
#[derive(Clone, PartialEq, Eq)]
pub struct UnreadableRecord {
    problem: String,
    json: Option<String>,
    event_uuid: Option<String>,
    key: String,
    bytes: usize,
    excerpt: String,
}

impl UnreadableRecord {
    /// The record in `raw` that cannot be read, and why: its JSON kept
    /// (compacted, secrets masked) when it is JSON.
    pub(crate) fn of_bytes(raw: &[u8], redactor: &Redactor, problem: String) -> Self {
        let mut copy = Compactor::new(raw, redactor, MAX_DEPTH, true);
        let (json, event_uuid) = match copy.record() {
            Ok(()) if raw[copy.at..].iter().all(u8::is_ascii_whitespace) => copy.into_lenient(),
            _ => (None, None),
        };
        let key = key_of(json.as_deref().map_or(raw, str::as_bytes));
        Self {
            problem,
            excerpt: crate::transport::excerpt(
                json.as_deref().map_or(raw, str::as_bytes),
                redactor,
            ),
            json,
            event_uuid,
            key,
            bytes: raw.len(),
        }
    }

    /// A record that is JSON and has the required fields, but whose
    /// `timestamp` cannot be read.
    pub(crate) fn of_timestamp(record: RawRecord, redactor: &Redactor) -> Self {
        let problem = format!(
            "its timestamp {:?} cannot be read as a time",
            crate::error::clip(&redactor.text(&record.timestamp), 80)
        );
        Self {
            problem,
            excerpt: crate::transport::excerpt(record.json.as_bytes(), redactor),
            key: key_of(record.json.as_bytes()),
            bytes: record.json.len(),
            event_uuid: Some(record.event_uuid),
            json: Some(record.json),
        }
    }

    /// Why it cannot be read.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// Its JSON, compacted and with secrets masked, when it is a JSON
    /// object; `None` when it is not (its bytes are not kept: what is not
    /// an object cannot be masked field by field).
    pub fn json(&self) -> Option<&str> {
        self.json.as_deref()
    }

    /// Its `event_uuid`, when it has one as a string.
    pub fn event_uuid(&self) -> Option<&str> {
        self.event_uuid.as_deref()
    }

    /// What identifies it across responses: `sha256:` and the SHA-256 (in
    /// hex) of its compact JSON, or of its bytes when it is not JSON. A
    /// corrected record with the same `event_uuid` has another key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Its length as received, in bytes.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// Whether it was empty (it never is: a record is at least `{}`).
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The error of a poll that met it, when `attempts_left` more polls may
    /// meet it before it is set aside (`None`: an export, which stops).
    pub(crate) fn error(&self, attempts_left: Option<u32>) -> Error {
        let then = match attempts_left {
            Some(n) => format!(
                "; it is set aside (not written) if the next {n} poll{} cannot read it either",
                if n == 1 { "" } else { "s" }
            ),
            None => String::new(),
        };
        Error::Decode {
            status: None,
            excerpt: self.excerpt.clone(),
            error: <serde_json::Error as serde::de::Error>::custom(format!(
                "an audit-log record{} cannot be read: {}{then}",
                self.event_uuid
                    .as_deref()
                    .map(|id| format!(" ({:?})", crate::error::clip(id, 80)))
                    .unwrap_or_default(),
                self.problem,
            )),
        }
    }
}

/// `sha256:<hex>` of `bytes`.
fn key_of(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::sha256::Sha256::hex(bytes))
}

impl std::fmt::Debug for UnreadableRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnreadableRecord")
            .field("event_uuid", &self.event_uuid)
            .field("problem", &self.problem)
            .field("key", &self.key)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Masked already; the JSON itself can be long.
        f.debug_struct("RawRecord")
            .field("event_uuid", &self.event_uuid)
            .field("timestamp", &self.timestamp)
            .field("json_bytes", &self.json.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::REDACTED;

    fn read(raw: &str) -> std::result::Result<RawRecord, String> {
        RawRecord::read(raw.as_bytes(), &Redactor::new())
    }

    const BASE: &str =
        r#""timestamp":"2026-01-01T00:00:00Z","event_uuid":"u","client_ip":"1","url":"/""#;

    #[test]
    fn white_space_goes_and_everything_else_stays() {
        let raw = format!(
            "{{ \"zz\" : [ 1.50 , -0, 1e2, null ],\n\t{} , \"s\" : \"a b\\n\\u00e9\", \"n\": null }}",
            BASE.replace(',', " , ")
        );
        let record = read(&raw).unwrap();
        assert_eq!(
            record.json(),
            format!(r#"{{"zz":[1.50,-0,1e2,null],{BASE},"s":"a b\n\u00e9","n":null}}"#)
        );
        assert_eq!(
            (record.event_uuid(), record.timestamp()),
            ("u", "2026-01-01T00:00:00Z")
        );
        assert_eq!(record.decode().unwrap().extra["n"], serde_json::Value::Null);
    }

    #[test]
    fn required_fields_are_checked() {
        for (raw, problem) in [
            (
                r#"{"timestamp":"t","event_uuid":"u","client_ip":"1"}"#.to_owned(),
                "`url` is missing",
            ),
            (
                format!(r#"{{{BASE},"event_uuid":"v"}}"#),
                "`event_uuid` appears twice",
            ),
            ("[1]".to_owned(), "not an object"),
            (
                format!(r#"{{{}}}"#, BASE.replace("\"u\"", "7")),
                "`event_uuid` is not a string",
            ),
            (format!(r#"{{{BASE},"x":}}"#), "valid JSON"),
            (format!(r#"{{{BASE},"x" 1}}"#), "no `:`"),
            (format!(r#"{{{BASE}}} {{}}"#), "after the record"),
        ] {
            let error = read(&raw).unwrap_err();
            assert!(error.contains(problem), "{raw}: {error}");
        }
        // A nested `url` is not the record's.
        let error = read(r#"{"timestamp":"t","event_uuid":"u","client_ip":"1","p":{"url":"/"}}"#)
            .unwrap_err();
        assert!(error.contains("`url` is missing"), "{error}");
    }

    #[test]
    fn secrets_are_masked_anywhere_and_null_stays() {
        let key = "key-0123456789";
        let redactor = Redactor::new().with_secret(&Secret::new(key));
        let raw = format!(
            r#"{{{BASE},"user_email":"ops+{key}@x","payload":{{"Client-Secret":{{"a":[1]}},"token_value":null,"n":{{"password":"p","k\u0065y-0123456789":1}}}},"new":{{"api_key":"s"}},"esc":"\u006bey-0123456789"}}"#
        );
        let record = RawRecord::read(raw.as_bytes(), &redactor).unwrap();
        let json = record.json();
        assert!(
            !json.contains(key) && !json.contains("\"p\"") && !json.contains("\"s\""),
            "{json}"
        );
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(value["payload"]["Client-Secret"], REDACTED);
        assert_eq!(value["payload"]["token_value"], serde_json::Value::Null);
        assert_eq!(value["payload"]["n"]["password"], REDACTED);
        assert_eq!(value["payload"]["n"][REDACTED], 1);
        assert_eq!(value["new"]["api_key"], REDACTED);
        assert_eq!(value["esc"], REDACTED);
        assert_eq!(value["user_email"], format!("ops+{REDACTED}@x"));
    }

    #[test]
    fn a_raw_line_end_in_a_string_is_refused() {
        let error = read(&format!("{{{BASE},\"s\":\"a\nb\"}}")).unwrap_err();
        assert!(error.contains("valid JSON"), "{error}");
    }

    /// The one-pass masking agrees with `Redactor::json` on decoded values.
    #[test]
    fn masking_the_bytes_is_masking_the_value() {
        let key = "key-0123456789";
        let redactor = Redactor::new().with_secret(&Secret::new(key));
        let records = [
            format!(
                r#"{{{BASE},"payload":{{"token":"t","list":[{{"Password":[1,{{"x":"}}"}}]}},"{key}"],"api_key":null}}}}"#
            ),
            format!(
                r#"{{{BASE},"x":{{"k-{key}":"v","t":"\"{key}\\"}},"token_value":{{"a":null}}}}"#
            ),
            format!(r#"{{{BASE},"n":[[],{{}},"",0,-1.5e-3,true,false,null]}}"#),
        ];
        for raw in records {
            let value: serde_json::Value = serde_json::from_str(&raw).unwrap();
            for redactor in [Redactor::new(), redactor.clone()] {
                let record = RawRecord::read(raw.as_bytes(), &redactor).unwrap();
                let masked: serde_json::Value = serde_json::from_str(record.json()).unwrap();
                assert_eq!(masked, redactor.json(&value), "{raw}");
            }
        }
    }
    /// What the one pass refuses, serde refuses; what it accepts, it copies
    /// to the same value (white space aside), secrets masked as
    /// `Redactor::json` masks them.
    #[test]
    fn the_grammar_is_checked_as_serde_checks_it() {
        let invalid_values = [
            "[1 2]",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":}",
            "{1:2}",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nul",
            "nulls",
            "truefalse",
            "\"\\x\"",
            "\"\\u12G4\"",
            "\"\\u12\"",
            "\"a\tb\"",
            "\"a\u{1}b\"",
            "\"open",
            "[[1]",
            "{\"a\":[1}",
            "'single'",
            "NaN",
        ];
        for bad in invalid_values {
            for field in ["x", "token", "payload"] {
                let raw = format!(r#"{{{BASE},"{field}":{bad}}}"#);
                assert!(
                    serde_json::from_str::<serde_json::Value>(&raw).is_err(),
                    "{raw}"
                );
                let error = read(&raw).unwrap_err();
                assert!(
                    error.contains("JSON") || error.contains("`:`"),
                    "{raw}: {error}"
                );
            }
        }
        let key = "key-0123456789";
        let valid_values = [
            r#""\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#.to_owned(),
            "\"é😀 ünïcødé \u{7f}\"".to_owned(),
            "[-0, 0.5e+10, 1E-3, -12.25e0, 0, 123456789012345678901234567890]".to_owned(),
            r#"{"a":{"b":[{"Token":{"c":[1,null]}},{"password":null},{"api-key":"k"}]}}"#
                .to_owned(),
            r#"[[],{},"",null,true,false,[[[]]],{"":{"":""}}]"#.to_owned(),
            format!(r#"{{"{key}":"v","t\u006fken":"{key}","list":["a{key}b"]}}"#),
            " \n\t[ 1 ,\r\n {\"k\" : \"v\" } ] ".to_owned(),
        ];
        let redactor = Redactor::new().with_secret(&Secret::new(key));
        for good in valid_values {
            let raw = format!("{{ {BASE} , \"x\" : {good} , \"n\" : null }}");
            let value: serde_json::Value = serde_json::from_str(&raw).unwrap();
            for redactor in [Redactor::new(), redactor.clone()] {
                let record = RawRecord::read(raw.as_bytes(), &redactor).unwrap();
                let json = record.json();
                assert!(
                    !json.contains([' ', '\n', '\t', '\r']) || good.contains("é😀"),
                    "{json}"
                );
                let copied: serde_json::Value = serde_json::from_str(json).unwrap();
                assert_eq!(copied, redactor.json(&value), "{raw}");
            }
        }
        // Numbers are copied as written, not as serde would print them.
        let record = read(&format!(r#"{{{BASE},"x":[1E-3,-0,1e999,0.50]}}"#)).unwrap();
        assert!(
            record.json().ends_with(r#""x":[1E-3,-0,1e999,0.50]}"#),
            "{}",
            record.json()
        );
    }
}
