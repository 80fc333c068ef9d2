//! The one pass behind [`RawRecord::read`](super::RawRecord::read): a
//! record's JSON checked, compacted and masked, its required fields read.

use std::borrow::Cow;

use super::{RawRecord, KEPT, REQUIRED};
use crate::audit::record::parse_timestamp;
use crate::secret::{is_secret_key_bytes, Redactor, REDACTED};

/// What the copy found of a required field.
#[derive(Default)]
pub(super) enum Field {
    #[default]
    Missing,
    NotString,
    Repeated,
    String(String),
}

/// How deep a record's objects and arrays may nest (the scanner allows no
/// deeper document either).
pub(super) const MAX_DEPTH: usize = 512;

/// Why the copy stopped.
pub(super) enum Stop {
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
pub(super) struct Compactor<'a> {
    bytes: &'a [u8],
    pub(super) at: usize,
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
pub(super) fn invalid(what: &str) -> String {
    format!("the record is not valid JSON ({what})")
}

impl<'a> Compactor<'a> {
    /// `mask_values`: whether strings are checked for known values.
    pub(super) fn new(
        bytes: &'a [u8],
        redactor: &'a Redactor,
        max_depth: usize,
        mask_values: bool,
    ) -> Self {
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

    /// The copy, and the `event_uuid` it found, whatever the other
    /// required fields: what is kept of a record that is JSON but breaks
    /// the schema.
    pub(super) fn into_lenient(self) -> (Option<String>, Option<String>) {
        let [_, event_uuid, _, _] = self.required;
        let event_uuid = match event_uuid {
            Field::String(id) => Some(id),
            _ => None,
        };
        (String::from_utf8(self.out).ok(), event_uuid)
    }

    /// The record read: its required fields checked.
    pub(super) fn into_record(self) -> std::result::Result<RawRecord, String> {
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
    pub(super) fn record(&mut self) -> Step {
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
pub(super) fn needs_masking(raw: &[u8], redactor: &Redactor) -> bool {
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
