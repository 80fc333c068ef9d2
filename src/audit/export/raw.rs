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
//! record becomes [`REDACTED`] (`null` stays `null`), and a known secret
//! value (the API key) is masked in every string and key. A string is only
//! decoded when it has escapes or a known value may hide in it; everything
//! else is copied, in runs.
//!
//! The same pass checks the JSON grammar (as strictly as `serde_json`), so
//! nothing that is not JSON is written, and no second parse is needed.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::AuditLogs;
use crate::audit::record::parse_timestamp;
use crate::error::{Error, Result};
use crate::secret::{is_secret_key_bytes, Redactor, REDACTED};

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

/// How deep a record's objects and arrays may nest (the scanner allows no
/// deeper document either).
const MAX_DEPTH: usize = 512;

/// Why the copy stopped.
enum Stop {
    /// The bytes end before the record does.
    Incomplete,
    /// What breaks the record.
    Invalid(String),
}

impl From<String> for Stop {
    fn from(problem: String) -> Self {
        Stop::Invalid(problem)
    }
}

/// What a step of the copy returns.
type Step<T = ()> = std::result::Result<T, Stop>;

/// A string token: its bytes (quotes included), and whether it has escapes.
#[derive(Clone, Copy)]
struct Token<'a> {
    bytes: &'a [u8],
    escaped: bool,
}

impl<'a> Token<'a> {
    /// The text between the quotes, when it is the string's text (no escapes).
    fn plain(self) -> Option<&'a [u8]> {
        let inner = self.bytes.get(1..self.bytes.len().saturating_sub(1))?;
        (!self.escaped).then_some(inner)
    }
}

/// The one pass over a record: it checks the JSON grammar, drops white
/// space, masks secrets and reads the required fields.
///
/// What is not left out (white space, secrets) is copied in runs as long
/// as the input allows: a compact record in one. Runs are cut at ASCII
/// delimiters, and strings with bytes beyond ASCII are checked as UTF-8, so
/// the copy is UTF-8; since the grammar is checked token by token, nothing
/// that is not JSON is ever written.
struct Compactor<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The input before this is in the copy, or left out of it.
    copied: usize,
    out: Vec<u8>,
    redactor: &'a Redactor,
    /// Whether known values (the API key) are masked in strings.
    mask_values: bool,
    max_depth: usize,
    required: [Field; 4],
}

/// The error for a record that is not JSON.
fn invalid(what: &str) -> String {
    format!("the record is not valid JSON ({what})")
}

impl<'a> Compactor<'a> {
    /// `mask_values`: whether strings are checked for known values.
    fn new(bytes: &'a [u8], redactor: &'a Redactor, max_depth: usize, mask_values: bool) -> Self {
        Self {
            bytes,
            at: 0,
            copied: 0,
            // Records are mostly compact already.
            out: Vec::with_capacity(bytes.len().min(1024)),
            redactor,
            mask_values,
            max_depth,
            required: Default::default(),
        }
    }

    /// The record read: its required fields checked.
    fn into_record(self) -> std::result::Result<RawRecord, String> {
        let [timestamp, event_uuid, client_ip, url] = self.required;
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
        let json =
            String::from_utf8(self.out).map_err(|_| invalid("the record is not UTF-8 text"))?;
        Ok(RawRecord {
            json,
            event_uuid,
            at: parse_timestamp(&timestamp).ok(),
            timestamp,
        })
    }

    /// The object at the start (after white space).
    fn record(&mut self) -> Step {
        self.skip_space(true);
        self.copied = self.at;
        match self.peek() {
            Some(b'{') => self.object(true, true, 1)?,
            Some(_) => return Err(Stop::Invalid("the record is not an object".into())),
            None => return Err(Stop::Incomplete),
        }
        self.flush();
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// `Incomplete` when the bytes ended, else `what`.
    fn fail(&self, what: &str) -> Stop {
        if self.at >= self.bytes.len() {
            Stop::Incomplete
        } else {
            Stop::Invalid(invalid(what))
        }
    }

    /// Copy what was read since the last copy.
    fn flush(&mut self) {
        if self.copied < self.at {
            self.out
                .extend_from_slice(&self.bytes[self.copied..self.at]);
        }
        self.copied = self.at;
    }

    /// The value at `at` (white space skipped already); `write`: part of the
    /// copy (else checked only).
    fn value(&mut self, write: bool, depth: usize) -> Step {
        match self.peek() {
            Some(b'{') => self.object(write, false, depth + 1),
            Some(b'[') => self.array(write, depth + 1),
            Some(b'"') => {
                let token = self.string_token()?;
                if write {
                    self.write_string(token)?;
                }
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(self.fail("a value is expected")),
        }
    }

    /// An object at `at`; `top`: the record itself.
    fn object(&mut self, write: bool, top: bool, depth: usize) -> Step {
        if depth > self.max_depth {
            return Err(Stop::Invalid(invalid("nested too deeply")));
        }
        self.at += 1;
        self.skip_space(write);
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.skip_space(write);
            if self.peek() != Some(b'"') {
                return Err(self.fail("a key is expected"));
            }
            self.member(write, top, depth)?;
            self.skip_space(write);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.fail("`,` or `}` is expected after a value")),
            }
        }
    }

    /// An array at `at`.
    fn array(&mut self, write: bool, depth: usize) -> Step {
        if depth > self.max_depth {
            return Err(Stop::Invalid(invalid("nested too deeply")));
        }
        self.at += 1;
        self.skip_space(write);
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.skip_space(write);
            self.value(write, depth)?;
            self.skip_space(write);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.fail("`,` or `]` is expected after a value")),
            }
        }
    }

    /// A key, its `:` and its value: masked when the key is a secret field,
    /// read when it is one of the required ones (`top`: a field of the
    /// record itself).
    fn member(&mut self, write: bool, top: bool, depth: usize) -> Step {
        let token = self.string_token()?;
        // Most keys are compared as they are; one with escapes is decoded.
        let decoded = match token.plain() {
            Some(_) => None,
            None => Some(decode_string(token)?),
        };
        let key: &[u8] = match (&decoded, token.plain()) {
            (Some(text), _) => text.as_bytes(),
            (None, plain) => plain.unwrap_or_default(),
        };
        if write {
            self.write_string(token)?;
        }
        self.skip_space(write);
        match self.peek() {
            Some(b':') => {}
            Some(_) => {
                let key = decode_string(token)?;
                let key = self.redact(&key);
                return Err(Stop::Invalid(format!("no `:` after the key {key:?}")));
            }
            None => return Err(Stop::Incomplete),
        }
        self.at += 1;
        self.skip_space(write);
        if is_secret_key_bytes(key) {
            let null = self.bytes[self.at..].starts_with(b"null");
            if write {
                self.flush();
            }
            // Checked, not copied.
            self.value(false, depth)?;
            if write {
                self.copied = self.at;
                if null {
                    self.out.extend_from_slice(b"null");
                } else {
                    self.out.push(b'"');
                    self.out.extend_from_slice(REDACTED.as_bytes());
                    self.out.push(b'"');
                }
            }
            return Ok(());
        }
        let slot = if top {
            REQUIRED.iter().position(|name| name.as_bytes() == key)
        } else {
            None
        };
        let Some(slot) = slot else {
            return self.value(write, depth);
        };
        let found = if self.peek() == Some(b'"') {
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
            self.value(write, depth)?;
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

    /// The string token just read (`at` is past it) in the copy: as it is,
    /// or masked and encoded again.
    fn write_string(&mut self, token: Token<'_>) -> Step {
        if !self.mask_values {
            return Ok(());
        }
        let text = decode_string(token)?;
        if let Cow::Owned(masked) = self.redactor.text(&text) {
            let encoded = serde_json::to_string(&masked).map_err(|e| e.to_string())?;
            let end = self.at;
            self.at -= token.bytes.len();
            self.flush();
            self.out.extend_from_slice(encoded.as_bytes());
            self.at = end;
            self.copied = end;
        }
        Ok(())
    }

    /// Skip white space; `write`: leave it out of the copy.
    fn skip_space(&mut self, write: bool) {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        {
            self.at += 1;
        }
        if write && self.at > start {
            let end = self.at;
            self.at = start;
            self.flush();
            self.at = end;
            self.copied = end;
        }
    }

    /// The string starting at `at`, quotes included, checked: no control
    /// character, only JSON's escapes, UTF-8; `at` moves past it.
    fn string_token(&mut self) -> Step<Token<'a>> {
        let bytes: &'a [u8] = self.bytes;
        let start = self.at;
        let mut i = start + 1;
        let (mut escaped, mut ascii) = (false, true);
        loop {
            // Only a quote or a backslash stops a run; what lies before is
            // checked for control characters and bytes beyond ASCII at once.
            let rest = bytes.get(i..).unwrap_or_default();
            let Some(offset) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(Stop::Incomplete);
            };
            let (mut control, mut high) = (false, 0u8);
            for &b in &rest[..offset] {
                control |= b < 0x20;
                high |= b;
            }
            if control {
                return Err(Stop::Invalid(invalid("a control character in a string")));
            }
            ascii &= high < 0x80;
            i += offset;
            if bytes[i] == b'"' {
                break;
            }
            escaped = true;
            i += match bytes.get(i + 1) {
                None => return Err(Stop::Incomplete),
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                Some(b'u') => {
                    let hex = bytes.get(i + 2..).unwrap_or_default();
                    let digits = hex.iter().take(4).take_while(|b| b.is_ascii_hexdigit());
                    match digits.count() {
                        4 => 6,
                        n if n == hex.len() => return Err(Stop::Incomplete),
                        _ => return Err(Stop::Invalid(invalid("a bad `\\u` escape"))),
                    }
                }
                Some(_) => return Err(Stop::Invalid(invalid("an unknown escape in a string"))),
            };
        }
        self.at = i + 1;
        let token = &bytes[start..self.at];
        if !ascii && std::str::from_utf8(token).is_err() {
            return Err(Stop::Invalid(invalid("a string is not UTF-8 text")));
        }
        Ok(Token {
            bytes: token,
            escaped,
        })
    }

    /// The number at `at`, checked against JSON's grammar; `at` moves past it.
    fn number(&mut self) -> Step<&'a [u8]> {
        let bytes: &'a [u8] = self.bytes;
        let digits = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let start = self.at;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        i = match bytes.get(i) {
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits(i + 1),
            None => return Err(Stop::Incomplete),
            _ => return Err(Stop::Invalid(invalid("a number without digits"))),
        };
        if bytes.get(i) == Some(&b'.') {
            let end = digits(i + 1);
            if end == i + 1 {
                self.at = end;
                return Err(self.fail("a number without digits after its `.`"));
            }
            i = end;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let end = digits(i);
            if end == i {
                self.at = end;
                return Err(self.fail("a number without digits in its exponent"));
            }
            i = end;
        }
        self.at = i;
        // A record never ends in a number: more digits may follow.
        if i >= bytes.len() {
            return Err(Stop::Incomplete);
        }
        Ok(&bytes[start..i])
    }

    /// `true`, `false` or `null` at `at`; `at` moves past it.
    fn literal(&mut self, word: &[u8]) -> Step {
        let rest = &self.bytes[self.at..];
        if !rest.starts_with(word) {
            return Err(if word.starts_with(rest) {
                Stop::Incomplete
            } else {
                Stop::Invalid(invalid("an unknown literal"))
            });
        }
        self.at += word.len();
        Ok(())
    }
}

/// Whether known values (the API key) may need masking in `raw`: they
/// could only hide behind an escape or in plain sight.
fn needs_masking(raw: &[u8], redactor: &Redactor) -> bool {
    !redactor.knows_no_values()
        && (memchr::memchr(b'\\', raw).is_some() || redactor.appears_in(raw))
}

/// The text of a string token (quotes included).
fn decode_string(token: Token<'_>) -> std::result::Result<Cow<'_, str>, String> {
    let bytes = token.bytes;
    let inner = bytes
        .get(1..bytes.len().saturating_sub(1).max(1))
        .unwrap_or_default();
    if !token.escaped {
        return std::str::from_utf8(inner)
            .map(Cow::Borrowed)
            .map_err(|_| invalid("a string is not UTF-8 text"));
    }
    serde_json::from_slice::<String>(bytes)
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
