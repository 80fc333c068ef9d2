//! Error bodies, bounded and redacted before anything else sees them.
//!
//! The body of a response with an error status is read under the idle clock
//! (at most [`ClientBuilder::max_response_bytes`]). A body up to
//! [`ERROR_BODY_BYTES`] is kept as it is; a longer JSON body is replaced by a
//! summary built while it streams by ([`Shrinker`]): strings cut to 512
//! characters, arrays to their first 20 items, objects to 64 keys, nesting to
//! 16 levels, the whole to about 32 KiB, and
//! `"datafold_sdk_truncated": {"bytes": …, "complete": …, "detail_items": …}`
//! added so the real number of FastAPI issues is not lost. A longer body that
//! is not JSON keeps its first 64 KiB. Then the clear text of known secrets
//! (the API key, the secret fields of the request) is masked in the body and
//! the headers, and secret fields are masked: by name in JSON, by their shape
//! in other text ([`mask_fields_in_text`]).
//!
//! A body that is not JSON (an HTML error page, a cut or malformed document)
//! is handed on as a JSON string of its text: the generated client decodes
//! every documented error body as JSON, and would otherwise report a 422
//! page as an undecodable success. The conversion into [`Error`](crate::Error)
//! shows the text again.
//!
//! [`ClientBuilder::max_response_bytes`]: crate::ClientBuilder::max_response_bytes

use bytes::Bytes;
use reqwest::header::HeaderValue;
use serde_json::{Map, Value};

use super::limits::{rebuild, IdleClock};
use crate::error::clip_with;
use crate::error::stop::Waiting;
use crate::secret::{mask_fields_in_text, Redactor};

/// Error bodies up to this size are kept whole; longer ones are summarized.
pub const ERROR_BODY_BYTES: usize = 64 * 1024;
/// The key of the summary an oversized error body is replaced with.
pub(crate) const SUMMARY_KEY: &str = "datafold_sdk_truncated";

const MAX_STRING_CHARS: usize = 512;
/// Raw bytes of a string kept to decode its first [`MAX_STRING_CHARS`]
/// characters (escapes take up to 6 bytes each).
const MAX_STRING_RAW: usize = MAX_STRING_CHARS * 6 + 16;
const MAX_ITEMS: usize = 20;
const MAX_KEYS: usize = 64;
const MAX_DEPTH: usize = 16;
const SUMMARY_BUDGET: usize = 32 * 1024;
const MAX_SCALAR: usize = 64;

/// Read, bound and redact the body of an error response.
pub(crate) async fn bound(
    mut response: reqwest::Response,
    clock: &mut IdleClock,
    max_bytes: u64,
    redactor: &Redactor,
) -> reqwest::Result<reqwest::Response> {
    let url = response.url().clone();
    let mut head = Vec::new();
    let mut shrinker = Shrinker::default();
    let mut total = 0u64;
    let mut complete = false;
    // A body that breaks off or stalls still leaves a useful error: keep
    // what arrived (the status decides about retries).
    while total < max_bytes {
        match clock.wait(response.chunk(), Waiting::Body, &url).await {
            Ok(Some(chunk)) => {
                let room = ERROR_BODY_BYTES.saturating_sub(head.len());
                head.extend_from_slice(&chunk[..room.min(chunk.len())]);
                shrinker.push(&chunk);
                total += chunk.len() as u64;
            }
            Ok(None) => {
                complete = true;
                break;
            }
            Err(_) => break,
        }
    }
    let body = if complete && total as usize <= ERROR_BODY_BYTES {
        redact_raw(head, redactor)
    } else {
        match shrinker.finish() {
            Some((Value::Object(mut map), detail_items)) => {
                let mut summary = Map::new();
                summary.insert("bytes".into(), total.into());
                summary.insert("complete".into(), complete.into());
                if let Some(items) = detail_items {
                    summary.insert("detail_items".into(), items.into());
                }
                map.insert(SUMMARY_KEY.into(), Value::Object(summary));
                Bytes::from(redactor.json(&Value::Object(map)).to_string())
            }
            Some((other, _)) => Bytes::from(redactor.json(&other).to_string()),
            None => text_as_json(&head, redactor),
        }
    };
    mask_headers(response.headers_mut(), redactor);
    Ok(rebuild(response, url, body))
}

/// Header values with the secrets `redactor` knows masked.
pub(crate) fn mask_headers(headers: &mut reqwest::header::HeaderMap, redactor: &Redactor) {
    if redactor.knows_no_values() {
        return;
    }
    for value in headers.values_mut() {
        let masked = value.to_str().ok().map(|text| redactor.text(text));
        if let Some(std::borrow::Cow::Owned(masked)) = masked {
            *value = HeaderValue::from_str(&masked)
                .unwrap_or_else(|_| HeaderValue::from_static(crate::REDACTED));
        }
    }
}

/// A body that is not JSON, masked, as a JSON string.
fn text_as_json(body: &[u8], redactor: &Redactor) -> Bytes {
    let text = String::from_utf8_lossy(body);
    let masked = mask_fields_in_text(&text);
    let masked = redactor.text(&masked);
    Bytes::from(Value::String(masked.into_owned()).to_string())
}

/// A whole small body, with secrets masked; a JSON body without secrets is
/// unchanged.
fn redact_raw(body: Vec<u8>, redactor: &Redactor) -> Bytes {
    if let Ok(json) = serde_json::from_slice::<Value>(&body) {
        let masked = redactor.json(&json);
        return if masked == json {
            Bytes::from(body)
        } else {
            Bytes::from(masked.to_string())
        };
    }
    text_as_json(&body, redactor)
}

/// Builds a bounded copy of a JSON document that arrives in chunks, in
/// memory that does not grow with the document.
#[derive(Debug, Default)]
struct Shrinker {
    stack: Vec<Frame>,
    root: Option<Value>,
    /// Depth inside a container being skipped (0: not skipping).
    skipping: usize,
    token: Token,
    spent: usize,
    detail_items: Option<u64>,
    failed: bool,
}

#[derive(Debug)]
enum Frame {
    Array {
        items: Vec<Value>,
        seen: u64,
    },
    Object {
        map: Map<String, Value>,
        key: Option<String>,
        after_colon: bool,
    },
}

#[derive(Debug, Default)]
enum Token {
    #[default]
    None,
    Str {
        raw: Vec<u8>,
        escaped: bool,
        cut: bool,
        keep: bool,
    },
    Scalar(Vec<u8>),
}

impl Shrinker {
    fn push(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            if self.failed || self.root.is_some() && !byte.is_ascii_whitespace() {
                // Data after the document: not JSON.
                self.failed |= self.root.is_some();
                return;
            }
            self.byte(byte);
        }
    }

    fn byte(&mut self, byte: u8) {
        if let Token::Str {
            raw,
            escaped,
            cut,
            keep,
        } = &mut self.token
        {
            if *escaped {
                *escaped = false;
            } else if byte == b'\\' {
                *escaped = true;
            } else if byte == b'"' {
                return self.end_string();
            }
            if *keep && raw.len() < MAX_STRING_RAW {
                raw.push(byte);
            } else {
                *cut = true;
            }
            return;
        }
        if self.skipping > 0 {
            match byte {
                b'"' => {
                    self.token = Token::Str {
                        raw: Vec::new(),
                        escaped: false,
                        cut: false,
                        keep: false,
                    }
                }
                b'{' | b'[' => self.skipping += 1,
                b'}' | b']' => {
                    self.skipping -= 1;
                    if self.skipping == 0 {
                        self.complete(None);
                    }
                }
                _ => {}
            }
            return;
        }
        match byte {
            b'"' => {
                self.end_scalar();
                let keep = self.wants_value() || self.expects_key();
                self.token = Token::Str {
                    raw: Vec::new(),
                    escaped: false,
                    cut: false,
                    keep,
                };
            }
            b'{' | b'[' => {
                self.end_scalar();
                if self.stack.len() >= MAX_DEPTH || !self.wants_value() {
                    self.skipping = 1;
                } else {
                    self.spent += 8;
                    self.stack.push(match byte {
                        b'{' => Frame::Object {
                            map: Map::new(),
                            key: None,
                            after_colon: false,
                        },
                        _ => Frame::Array {
                            items: Vec::new(),
                            seen: 0,
                        },
                    });
                }
            }
            b'}' | b']' => {
                self.end_scalar();
                self.close();
            }
            b':' => {
                self.end_scalar();
                if let Some(Frame::Object { after_colon, .. }) = self.stack.last_mut() {
                    *after_colon = true;
                }
            }
            b',' => self.end_scalar(),
            b if b.is_ascii_whitespace() => self.end_scalar(),
            other => match &mut self.token {
                Token::Scalar(bytes) if bytes.len() < MAX_SCALAR => bytes.push(other),
                Token::Scalar(_) => self.failed = true,
                _ => self.token = Token::Scalar(vec![other]),
            },
        }
    }

    /// Whether a value completed now would be kept.
    fn wants_value(&self) -> bool {
        self.spent < SUMMARY_BUDGET
            && match self.stack.last() {
                Some(Frame::Array { items, .. }) => items.len() < MAX_ITEMS,
                Some(Frame::Object { map, .. }) => map.len() < MAX_KEYS,
                None => true,
            }
    }

    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Object {
                key: None,
                after_colon: false,
                ..
            })
        )
    }

    fn end_string(&mut self) {
        let Token::Str { raw, cut, keep, .. } = std::mem::take(&mut self.token) else {
            return;
        };
        if self.skipping > 0 {
            return;
        }
        let text = keep.then(|| decode(&raw, cut));
        if self.expects_key() {
            let text = text.unwrap_or_default();
            self.spent += text.len();
            if let Some(Frame::Object { key, .. }) = self.stack.last_mut() {
                *key = Some(text);
            }
            return;
        }
        self.complete(text.map(Value::String));
    }

    fn end_scalar(&mut self) {
        if let Token::Scalar(bytes) = std::mem::take(&mut self.token) {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(value) => self.complete(Some(value)),
                Err(_) => self.failed = true,
            }
        }
    }

    fn close(&mut self) {
        let Some(frame) = self.stack.pop() else {
            self.failed = true;
            return;
        };
        let value = match frame {
            Frame::Array { items, seen } => {
                let is_detail = matches!(
                    self.stack.as_slice(),
                    [Frame::Object { key: Some(key), .. }] if key == "detail"
                );
                if is_detail {
                    self.detail_items = Some(seen);
                }
                Value::Array(items)
            }
            Frame::Object { map, .. } => Value::Object(map),
        };
        // Kept: whether to keep a container was decided when it opened.
        self.attach(Some(value));
    }

    /// A scalar value ended (`None`: skipped); kept while there is room.
    fn complete(&mut self, value: Option<Value>) {
        let value = value.filter(|_| self.wants_value());
        if let Some(value) = &value {
            self.spent += value.as_str().map_or(8, str::len);
        }
        self.attach(value);
    }

    /// Put a value (or the fact that one was skipped) into its container.
    fn attach(&mut self, value: Option<Value>) {
        match self.stack.last_mut() {
            None => self.root = Some(value.unwrap_or(Value::Null)),
            Some(Frame::Array { items, seen }) => {
                *seen += 1;
                items.extend(value);
            }
            Some(Frame::Object {
                map,
                key,
                after_colon,
            }) => {
                if let (Some(key), Some(value)) = (key.take(), value) {
                    map.insert(key, value);
                }
                *after_colon = false;
            }
        }
    }

    /// The bounded document, closing whatever the body left open, and the
    /// number of items of a top-level `detail` array; `None` if the body is
    /// not JSON.
    fn finish(mut self) -> Option<(Value, Option<u64>)> {
        if self.failed {
            return None;
        }
        self.end_scalar();
        // A string the body broke off in keeps what arrived of it.
        if let Token::Str { cut, .. } = &mut self.token {
            *cut = true;
            self.end_string();
        }
        if self.skipping > 0 {
            self.skipping = 0;
            self.complete(None);
        }
        while !self.stack.is_empty() && !self.failed {
            self.close();
        }
        let root = self.root.take()?;
        (!self.failed).then_some((root, self.detail_items))
    }
}

/// A string's raw JSON content (without quotes) decoded; when `cut`, the raw
/// bytes were cut short, so a partial escape or character at the end is
/// dropped first. At most [`MAX_STRING_CHARS`] characters, `…` marking a cut.
fn decode(raw: &[u8], cut: bool) -> String {
    let mut end = raw.len();
    let mut text = None;
    for _ in 0..12 {
        let mut quoted = Vec::with_capacity(end + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(&raw[..end]);
        quoted.push(b'"');
        if let Ok(decoded) = serde_json::from_slice::<String>(&quoted) {
            text = Some(decoded);
            break;
        }
        if end == 0 {
            break;
        }
        end -= 1;
    }
    let text = text.unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
    clip_with(&text, MAX_STRING_CHARS, cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shrink(text: &str, chunk: usize) -> Option<(Value, Option<u64>)> {
        let mut shrinker = Shrinker::default();
        for piece in text.as_bytes().chunks(chunk) {
            shrinker.push(piece);
        }
        shrinker.finish()
    }

    #[test]
    fn small_documents_come_back_unchanged_whatever_the_chunking() {
        let doc = json!({"detail": [{"loc": ["body", 0, "x"], "msg": "a \"quoted\" \\ é \u{1F600}", "type": "t"}],
                         "n": -1.5e3, "t": true, "f": false, "z": null, "e": {}, "a": []});
        for chunk in [1, 2, 5, 1000] {
            let (value, items) = shrink(&doc.to_string(), chunk).unwrap();
            assert_eq!(value, doc, "chunk {chunk}");
            assert_eq!(items, Some(1));
        }
    }

    #[test]
    fn large_documents_are_cut_but_counted() {
        let issue = json!({"loc": ["body", "x"], "msg": "m", "type": "t"});
        let many: Vec<_> = std::iter::repeat_n(issue, 5000).collect();
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let text = json!({"detail": many, "long": "é".repeat(100_000)}).to_string();
        let text = format!("{}, \"deep\": {deep}}}", &text[..text.len() - 1]);
        let (value, items) = shrink(&text, 4096).unwrap();
        assert_eq!(items, Some(5000));
        assert_eq!(value["detail"].as_array().unwrap().len(), MAX_ITEMS);
        let long = value["long"].as_str().unwrap();
        assert_eq!(long.chars().count(), MAX_STRING_CHARS + 1);
        assert!(long.ends_with('…'));
        assert!(value.to_string().len() < 2 * SUMMARY_BUDGET);
    }

    #[test]
    fn a_cut_document_is_closed_and_other_text_is_not_json() {
        let (value, items) = shrink(r#"{"detail": [{"msg": "a"}, {"msg": "b"#, 3).unwrap();
        assert_eq!(items, Some(2));
        assert_eq!(value["detail"][0]["msg"], "a");
        assert!(shrink("<html>oops</html>", 4).is_none());
        assert!(shrink("{} {}", 4).is_none());
    }

    #[test]
    fn cut_strings_end_on_a_whole_character() {
        let raw = "ab\\u00e9\\u00e9".as_bytes();
        assert_eq!(decode(&raw[..9], true), "abé…");
        assert_eq!(decode("é".as_bytes().get(..1).unwrap(), true), "…");
    }
}
