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
//! bytes: the value of a secret field ([`is_secret_field`]) anywhere in the
//! record becomes [`REDACTED`] (`null` stays `null`), and a known secret
//! value (the API key) is masked in every string and key. A string is only decoded when it
//! has escapes or a known value may hide in it; everything else is copied.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;

use super::AuditLogs;
use crate::audit::record::parse_timestamp;
use crate::error::{Error, Result};
use crate::secret::{is_secret_field, Redactor, REDACTED};

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
        let text =
            std::str::from_utf8(raw).map_err(|e| format!("the record is not UTF-8 text ({e})"))?;
        // Known values could only hide behind an escape or in plain sight.
        let mask_values = !redactor.knows_no_values()
            && (text.contains('\\') || matches!(redactor.text(text), Cow::Owned(_)));
        let mut copy = Compactor {
            text,
            bytes: raw,
            at: 0,
            out: String::with_capacity(raw.len()),
            redactor,
            mask_values,
            required: Default::default(),
        };
        copy.record()?;
        // The copy is checked as JSON, so a record the one-pass copy got
        // wrong is refused, never written.
        serde_json::from_str::<IgnoredAny>(&copy.out)
            .map_err(|e| format!("the record is not valid JSON ({e})"))?;
        let [timestamp, event_uuid, client_ip, url] = copy.required;
        for (name, value) in REQUIRED
            .iter()
            .zip([&timestamp, &event_uuid, &client_ip, &url])
        {
            match value {
                Field::Missing => return Err(format!("the required field `{name}` is missing")),
                Field::NotString => {
                    return Err(format!("the required field `{name}` is not a string"))
                }
                Field::Repeated => return Err(format!("the field `{name}` appears twice")),
                Field::String(_) => {}
            }
        }
        let (Field::String(timestamp), Field::String(event_uuid)) = (timestamp, event_uuid) else {
            return Err("the required fields are missing".into());
        };
        Ok(Self {
            json: copy.out,
            event_uuid,
            at: parse_timestamp(&timestamp).ok(),
            timestamp,
        })
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

    /// The record's `timestamp` as a UTC time; see [`parse_timestamp`].
    ///
    /// # Errors
    /// [`Error::InvalidTimestamp`](crate::Error::InvalidTimestamp) when the
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
    /// [`AuditLogs::extra`].
    ///
    /// # Errors
    /// [`serde_json::Error`] when a field the spec lists has another type
    /// (e.g. a string `object_id`).
    pub fn decode(&self) -> std::result::Result<AuditLogs, serde_json::Error> {
        serde_json::from_str(&self.json)
    }

    /// The record's JSON, as [`RawRecord::json`].
    pub fn into_json(self) -> String {
        self.json
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

/// What the copy found of a required field.
#[derive(Default)]
enum Field {
    #[default]
    Missing,
    NotString,
    Repeated,
    String(String),
}

/// The one pass over a record: white space dropped, secrets masked,
/// required fields read.
///
/// Every token is copied as a slice of `text` cut at ASCII delimiters, so
/// the copy is UTF-8 without checking it again.
struct Compactor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    out: String,
    redactor: &'a Redactor,
    mask_values: bool,
    required: [Field; 4],
}

/// Where the copy stands inside a container.
#[derive(Clone, Copy, PartialEq)]
enum Open {
    Object,
    Array,
}

impl<'a> Compactor<'a> {
    fn record(&mut self) -> std::result::Result<(), String> {
        let mut open: Vec<Open> = Vec::new();
        let mut expect_key = false;
        self.skip_space();
        if self.bytes.get(self.at) != Some(&b'{') {
            return Err("the record is not an object".into());
        }
        loop {
            self.skip_space();
            let Some(&byte) = self.bytes.get(self.at) else {
                break;
            };
            if open.is_empty() && !self.out.is_empty() {
                return Err("data after the record's object".into());
            }
            match byte {
                b'{' | b'[' => {
                    open.push(if byte == b'{' {
                        Open::Object
                    } else {
                        Open::Array
                    });
                    expect_key = byte == b'{';
                    self.out.push(char::from(byte));
                    self.at += 1;
                }
                b'}' | b']' => {
                    open.pop();
                    expect_key = false;
                    self.out.push(char::from(byte));
                    self.at += 1;
                }
                b',' => {
                    expect_key = open.last() == Some(&Open::Object);
                    self.out.push(char::from(byte));
                    self.at += 1;
                }
                b'"' if expect_key => {
                    expect_key = false;
                    self.member(open.len() == 1)?;
                }
                b'"' => {
                    let token = self.string_token()?;
                    self.write_string(token)?;
                }
                _ => {
                    let token = self.scalar_token();
                    if token.is_empty() {
                        return Err(format!("unexpected `{}`", char::from(byte)));
                    }
                    self.out.push_str(token);
                }
            }
        }
        Ok(())
    }

    /// A key, its `:` and its value when the key is a secret field or one
    /// of the required ones (`top`: a field of the record itself).
    fn member(&mut self, top: bool) -> std::result::Result<(), String> {
        let token = self.string_token()?;
        let key = decode_string(token)?;
        self.write_string(token)?;
        self.skip_space();
        if self.bytes.get(self.at) != Some(&b':') {
            return Err(format!("no `:` after the key {key:?}"));
        }
        self.out.push(':');
        self.at += 1;
        self.skip_space();
        if is_secret_field(&key) {
            let value = self.value_token()?;
            if value == "null" {
                self.out.push_str(value);
            } else {
                self.out.push('"');
                self.out.push_str(REDACTED);
                self.out.push('"');
            }
            return Ok(());
        }
        let Some(slot) = REQUIRED.iter().position(|name| top && *name == key) else {
            return Ok(());
        };
        let found = if self.bytes.get(self.at) == Some(&b'"') {
            let token = self.string_token()?;
            self.write_string(token)?;
            if slot < KEPT {
                // The field as written out: masked like every string.
                let written = match self.redact(&decode_string(token)?) {
                    Cow::Borrowed(text) => text.to_owned(),
                    Cow::Owned(text) => text,
                };
                Field::String(written)
            } else {
                Field::String(String::new())
            }
        } else {
            Field::NotString
        };
        self.required[slot] = match self.required[slot] {
            Field::Missing => found,
            _ => Field::Repeated,
        };
        Ok(())
    }

    fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.mask_values {
            self.redactor.text(text)
        } else {
            Cow::Borrowed(text)
        }
    }

    /// Write a string token: as it is, or masked and encoded again.
    fn write_string(&mut self, token: &str) -> std::result::Result<(), String> {
        if self.mask_values {
            let text = decode_string(token)?;
            if let Cow::Owned(masked) = self.redactor.text(&text) {
                let encoded = serde_json::to_string(&masked).map_err(|e| e.to_string())?;
                self.out.push_str(&encoded);
                return Ok(());
            }
        }
        self.out.push_str(token);
        Ok(())
    }

    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        {
            self.at += 1;
        }
    }

    /// The string starting at `at`, quotes included; `at` moves past it.
    fn string_token(&mut self) -> std::result::Result<&'a str, String> {
        let bytes: &'a [u8] = self.bytes;
        let start = self.at;
        let mut i = start + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
                Some(offset) if bytes[i + offset] == b'\\' => i += offset + 2,
                Some(offset) => {
                    self.at = i + offset + 1;
                    return Ok(&self.text[start..self.at]);
                }
                None => return Err("a string does not end".into()),
            }
        }
    }

    /// A number or literal at `at`; `at` moves past it.
    fn scalar_token(&mut self) -> &'a str {
        let bytes: &'a [u8] = self.bytes;
        let start = self.at;
        while bytes.get(self.at).is_some_and(|b| {
            !matches!(
                b,
                b',' | b'}' | b']' | b':' | b'"' | b'{' | b'[' | b' ' | b'\n' | b'\r' | b'\t'
            )
        }) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    /// A whole value at `at` (not written); `at` moves past it.
    fn value_token(&mut self) -> std::result::Result<&'a str, String> {
        let bytes: &'a [u8] = self.bytes;
        let start = self.at;
        match bytes.get(start) {
            Some(b'"') => self.string_token(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(&byte) = bytes.get(self.at) {
                    match byte {
                        b'"' => {
                            self.string_token()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Ok(&self.text[start..self.at]);
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
                Err("an object or array does not end".into())
            }
            Some(_) => Ok(self.scalar_token()),
            None => Err("a value is missing".into()),
        }
    }
}

/// The text of a string token (quotes included).
fn decode_string(token: &str) -> std::result::Result<Cow<'_, str>, String> {
    let inner = token
        .get(1..token.len().saturating_sub(1).max(1))
        .unwrap_or_default();
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(token)
        .map(Cow::Owned)
        .map_err(|e| format!("a string is not valid JSON ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

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
}
