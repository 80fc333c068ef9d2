//! [`LogsScanner`]: finds the records of `{"logs": [ {...}, {...} ]}` in a
//! body that arrives in chunks, so memory holds one record at a time, not the
//! whole response. A record that is whole in the bytes at hand when its
//! first byte is found is read ([`RawRecord::read_prefix`]) in the same pass
//! that finds its end; one that arrives in pieces is found first, then read.
//! Whatever lies outside `logs` is skipped as it streams by
//! (a key longer than a few bytes cannot be `logs`, so it is not kept); one
//! record larger than [`MAX_RECORD_BYTES`] and nesting deeper than
//! [`MAX_NESTING`] are errors.

use super::raw::RawRecord;
use crate::error::{Error, Result};
use crate::secret::Redactor;
use crate::transport::excerpt;

/// Bytes already scanned are dropped once this many pile up.
const COMPACT_AT: usize = 64 * 1024;
/// The largest audit-log record an export accepts: 16 MiB.
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;
/// The deepest nesting of objects and arrays an export accepts.
const MAX_NESTING: usize = 512;
/// Top-level strings up to this length are kept, to recognize the `logs` key.
const MAX_KEY_BYTES: usize = 64;

/// An incremental scanner for the audit-log response.
///
/// Feed it chunks with [`LogsScanner::push`], take records out with
/// [`LogsScanner::next_found`], and call [`LogsScanner::finish`] at the end
/// of the body to learn whether the document was complete.
#[derive(Debug, Default)]
pub(crate) struct LogsScanner {
    buf: Vec<u8>,
    /// Next byte to look at.
    pos: usize,
    /// Nesting depth of objects and arrays at `pos`.
    depth: usize,
    /// The brackets open at `pos`, innermost last.
    open: Vec<u8>,
    in_string: bool,
    escaped: bool,
    /// Whether the current string is at depth 1 (a key, or a top-level value).
    depth1_string: bool,
    /// Where the current depth-1 string started (just after its quote), while
    /// it is short enough to be a key worth recognizing.
    string_start: Option<usize>,
    /// The last complete depth-1 string, and whether a `:` followed it.
    last_string: Vec<u8>,
    key: Vec<u8>,
    /// In the `logs` array (at depth 2).
    in_logs: bool,
    /// Where the element being read started.
    element_start: Option<usize>,
    seen_logs: bool,
    done: bool,
    /// What excerpts in errors must not show (the API key).
    redactor: Redactor,
    /// Elements of `logs` that are not objects are found too (for the
    /// caller to set aside), not an error.
    lenient: bool,
    /// The element at `element_start` is a scalar (not an object, array
    /// or string): it ends before the next `,`, `]` or white space.
    scalar: bool,
}

impl LogsScanner {
    /// A scanner whose errors mask what `redactor` masks.
    pub(crate) fn masking(redactor: Redactor) -> Self {
        Self {
            redactor,
            ..Self::default()
        }
    }

    /// As [`LogsScanner::masking`], finding elements of `logs` that are not
    /// objects as well (a follower sets them aside).
    pub(crate) fn lenient(redactor: Redactor) -> Self {
        Self {
            redactor,
            lenient: true,
            ..Self::default()
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(chunk);
    }

    /// The bytes of the next complete record, if one has arrived.
    #[cfg(test)]
    pub(crate) fn next_record(&mut self) -> Result<Option<&[u8]>> {
        Ok(self.next_found()?.map(|(raw, _)| raw))
    }

    /// The bytes of the next complete record, if one has arrived, and the
    /// record when it was read in the same pass (else the caller reads the
    /// bytes with [`RawRecord::read`]).
    pub(crate) fn next_found(&mut self) -> Result<Option<(&[u8], Option<RawRecord>)>> {
        while self.pos < self.buf.len() {
            if self.in_string && !self.escaped {
                // Inside a string only a quote or a backslash matters: jump there.
                let rest = &self.buf[self.pos..];
                match memchr::memchr2(b'"', b'\\', rest) {
                    Some(offset) => self.pos += offset,
                    None => self.pos = self.buf.len(),
                }
                // A long top-level string is not `logs`: stop keeping it.
                if self
                    .string_start
                    .is_some_and(|s| self.pos - s > MAX_KEY_BYTES)
                {
                    self.string_start = None;
                }
                if self.pos == self.buf.len() {
                    break;
                }
            }
            let byte = self.buf[self.pos];
            let at = self.pos;
            self.pos += 1;
            if self.scalar {
                if byte == b',' || byte == b']' || byte.is_ascii_whitespace() {
                    // The scalar ends here: this byte is read again next.
                    self.scalar = false;
                    self.pos = at;
                    let start = self.element_start.take().unwrap_or(at);
                    return Ok(Some((&self.buf[start..at], None)));
                }
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                    if self.lenient && self.in_logs && self.depth == 2 {
                        if let Some(start) = self.element_start.take() {
                            // A string where a record belongs.
                            return Ok(Some((&self.buf[start..=at], None)));
                        }
                    }
                    if std::mem::take(&mut self.depth1_string) {
                        self.last_string = match self.string_start.take() {
                            Some(start) => self.buf[start..at].to_vec(),
                            None => Vec::new(),
                        };
                    }
                }
                continue;
            }
            if self.done && !byte.is_ascii_whitespace() {
                return Err(self.malformed("data after the end of the document"));
            }
            match byte {
                b'"' => {
                    self.in_string = true;
                    if self.lenient && self.in_logs && self.depth == 2 {
                        self.element_start = Some(at);
                    }
                    if self.depth == 1 {
                        self.depth1_string = true;
                        self.string_start = Some(at + 1);
                    }
                }
                b':' if self.depth == 1 => self.key = std::mem::take(&mut self.last_string),
                b',' if self.depth == 1 => self.key.clear(),
                b'{' | b'[' => {
                    if self.open.len() >= MAX_NESTING {
                        return Err(self.malformed("nested too deeply"));
                    }
                    self.depth += 1;
                    self.open.push(byte);
                    if self.depth == 2 && byte == b'[' && self.key == b"logs" {
                        self.in_logs = true;
                        self.seen_logs = true;
                    } else if self.in_logs && self.depth == 3 {
                        if byte != b'{' {
                            if !self.lenient {
                                return Err(self.malformed("a log record is not an object"));
                            }
                            // An array where a record belongs: found whole
                            // when it closes.
                            self.element_start = Some(at);
                            continue;
                        }
                        // The nesting the document has room for below here.
                        let room = MAX_NESTING + 1 - self.open.len();
                        let read = RawRecord::read_prefix(&self.buf[at..], &self.redactor, room);
                        if let Some((record, len)) = read {
                            if len as u64 <= MAX_RECORD_BYTES {
                                self.open.pop();
                                self.depth -= 1;
                                self.pos = at + len;
                                return Ok(Some((&self.buf[at..at + len], Some(record))));
                            }
                        }
                        self.element_start = Some(at);
                    }
                }
                b'}' | b']' => {
                    let opener = if byte == b'}' { b'{' } else { b'[' };
                    if self.open.pop() != Some(opener) {
                        return Err(self.malformed("unbalanced brackets"));
                    }
                    self.depth -= 1;
                    if self.in_logs && self.depth == 2 {
                        let start = self.element_start.take().unwrap_or(at);
                        return Ok(Some((&self.buf[start..=at], None)));
                    }
                    if self.in_logs && self.depth == 1 {
                        self.in_logs = false;
                    }
                    if self.depth == 0 {
                        self.done = true;
                    }
                }
                other
                    if self.in_logs
                        && self.depth == 2
                        && !other.is_ascii_whitespace()
                        && other != b',' =>
                {
                    if !self.lenient {
                        return Err(self.malformed("a log record is not an object"));
                    }
                    // A number or literal where a record belongs.
                    self.scalar = true;
                    self.element_start = Some(at);
                }
                _ => {}
            }
        }
        if let Some(start) = self.element_start {
            if (self.buf.len() - start) as u64 > MAX_RECORD_BYTES {
                return Err(Error::ResponseTooLarge {
                    what: "one audit-log record".into(),
                    limit: MAX_RECORD_BYTES,
                    advice: "an export holds one record at a time, up to 16 MiB; a record \
                             this large is not what the API describes: report it to Datafold \
                             support"
                        .into(),
                });
            }
        }
        Ok(None)
    }

    /// Check, at the end of the body, that the document was whole.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.next_found()?.is_some() {
            // Callers drain records before finishing; one left is a bug here.
            return Err(self.malformed("records left unread"));
        }
        if !self.done {
            return Err(self.malformed("the response ended early"));
        }
        if !self.seen_logs {
            return Err(self.malformed("the response has no `logs` array"));
        }
        Ok(())
    }

    /// Drop bytes no longer needed: before the current record or string.
    fn compact(&mut self) {
        if self.pos < COMPACT_AT {
            return;
        }
        let keep_from = self
            .element_start
            .or(self.string_start)
            .unwrap_or(self.pos)
            .min(self.pos);
        self.buf.drain(..keep_from);
        self.pos -= keep_from;
        self.element_start = self.element_start.map(|s| s - keep_from);
        self.string_start = self.string_start.map(|s| s - keep_from);
    }

    fn malformed(&self, what: &str) -> Error {
        let from = self.pos.saturating_sub(40);
        Error::Decode {
            status: None,
            excerpt: excerpt(
                &self.buf[from..self.buf.len().min(self.pos + 40)],
                &self.redactor,
            ),
            error: <serde_json::Error as serde::de::Error>::custom(format!(
                "audit-log response: {what}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(uuid: &str) -> String {
        format!(
            r#"{{"timestamp":"2026-01-01T00:00:00Z","event_uuid":"{uuid}","client_ip":"1.2.3.4","url":"/a\"}}]b","payload":{{"k":[1,{{"x":"}}"}}]}}}}"#
        )
    }

    fn scan_in_chunks(body: &str, chunk: usize) -> Result<Vec<String>> {
        let mut scanner = LogsScanner::default();
        let mut out = Vec::new();
        for piece in body.as_bytes().chunks(chunk) {
            scanner.push(piece);
            while let Some(raw) = scanner.next_record()? {
                let record: serde_json::Value = serde_json::from_slice(raw).unwrap();
                out.push(record["event_uuid"].as_str().unwrap().to_owned());
            }
        }
        scanner.finish()?;
        Ok(out)
    }

    #[test]
    fn records_come_out_whatever_the_chunking() {
        let body = format!(
            r#"{{"count": {{"logs": [1]}}, "note": "logs", "logs" : [ {}, {} ,{}], "tail": [{{}}]}}"#,
            record("a"),
            record("b"),
            record("c")
        );
        for chunk in [1, 2, 3, 7, 64, 10_000] {
            assert_eq!(
                scan_in_chunks(&body, chunk).unwrap(),
                ["a", "b", "c"],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn an_empty_list_is_fine_and_a_cut_body_is_not() {
        assert!(scan_in_chunks(r#"{"logs": []}"#, 3).unwrap().is_empty());
        let body = format!(r#"{{"logs": [{}, {}"#, record("a"), record("b"));
        let error = scan_in_chunks(&body, 5).unwrap_err();
        assert!(error.to_string().contains("ended early"), "{error}");
        assert!(scan_in_chunks(r#"{"other": []}"#, 3).is_err());
        assert!(scan_in_chunks(r#"{"logs": [1]}"#, 3).is_err());
        assert!(
            scan_in_chunks(r#"{"logs": []]"#, 3).is_err(),
            "mismatched brackets"
        );
        assert!(
            scan_in_chunks(r#"{"logs": []} {"logs": []}"#, 3).is_err(),
            "two documents"
        );
        assert!(
            scan_in_chunks("{\"logs\": []}\n  ", 3).is_ok(),
            "trailing white space"
        );
    }

    #[test]
    fn memory_stays_bounded_by_one_record() {
        let mut scanner = LogsScanner::default();
        scanner.push(b"{\"logs\": [");
        let one = record("x");
        for _ in 0..20_000 {
            scanner.push(one.as_bytes());
            scanner.push(b",");
            assert!(scanner.next_record().unwrap().is_some());
        }
        assert!(
            scanner.buf.len() < COMPACT_AT + 2 * one.len(),
            "{}",
            scanner.buf.len()
        );
    }

    /// Feed `megabytes` MiB of `byte`, checking after each MiB that the
    /// scanner holds little more than that one chunk.
    fn feed(scanner: &mut LogsScanner, byte: u8, megabytes: usize) -> Result<()> {
        let block = vec![byte; 1 << 20];
        for _ in 0..megabytes {
            scanner.push(&block);
            assert!(scanner.next_record()?.is_none());
            assert!(
                scanner.buf.len() < (1 << 20) + COMPACT_AT,
                "{}",
                scanner.buf.len()
            );
        }
        Ok(())
    }

    #[test]
    fn data_outside_logs_is_skipped_in_constant_memory() {
        let mut scanner = LogsScanner::default();
        scanner.push(br#"{"padding": ""#);
        feed(&mut scanner, b'z', 300).unwrap();
        scanner.push(format!(r#"", "logs": [{}], "{}"#, record("a"), "k".repeat(1000)).as_bytes());
        let raw = scanner.next_record().unwrap().unwrap();
        assert!(raw.ends_with(br#""event_uuid":"a","client_ip":"1.2.3.4","url":"/a\"}]b","payload":{"k":[1,{"x":"}"}]}}"#));
        // A 20 MiB key, then a value of 20 MiB of white space in arrays.
        feed(&mut scanner, b'k', 20).unwrap();
        scanner.push(br#"": [["#);
        feed(&mut scanner, b' ', 20).unwrap();
        scanner.push(b"]]}");
        assert!(scanner.next_record().unwrap().is_none());
        scanner.finish().unwrap();
    }

    #[test]
    fn a_record_over_the_cap_is_an_error() {
        let mut scanner = LogsScanner::default();
        scanner.push(br#"{"logs": [{"payload": ""#);
        let block = vec![b'y'; 1 << 20];
        let mut failed = None;
        for mib in 0..40 {
            scanner.push(&block);
            if let Err(error) = scanner.next_record() {
                failed = Some((mib, error));
                break;
            }
        }
        let (mib, error) = failed.expect("a 40 MiB record is refused");
        assert!(mib <= 17, "refused only after {mib} MiB");
        assert!(error.to_string().contains("16 MiB"), "{error}");
    }

    #[test]
    fn nesting_is_capped() {
        let mut scanner = LogsScanner::default();
        scanner.push(b"{\"deep\": ");
        scanner.push(&vec![b'['; 100_000]);
        assert!(scanner.next_record().is_err());
    }
    /// Whatever the chunking, a record read in the pass that finds it is the
    /// record `RawRecord::read` makes of its bytes; whole in one chunk, it
    /// is read in that pass.
    #[test]
    fn records_read_as_they_are_found_equal_those_read_after() {
        use crate::Secret;
        let key = "key-0123456789";
        let redactor = Redactor::new().with_secret(&Secret::new(key));
        let base =
            r#""timestamp":"2026-01-01T00:00:00Z","event_uuid":"u","client_ip":"1","url":"/""#;
        let records = [
            format!(r#"{{{base},"n":-12.5e+3,"z":0}}"#),
            format!(
                "{{ {base} , \"s\" : \"\\\"\\\\\\/\\b\\u00e9\\ud83d\\ude00 é😀\" , \"t\":true }}"
            ),
            format!(
                r#"{{{base},"payload":{{"list":[{{"Token":{{"a":[1,"{key}"]}}}},null],"password":null}}}}"#
            ),
            format!(r#"{{{base},"note":"with {key} inside","k\u0065y":"{key}","e":[[],{{}}]}}"#),
        ];
        let body = format!("{{\"logs\":[{}]}}", records.join(" ,\n "));
        for chunk in [1, 2, 3, 7, 64, 10_000] {
            let mut scanner = LogsScanner::masking(redactor.clone());
            let (mut found, mut read_in_pass) = (Vec::new(), 0);
            for piece in body.as_bytes().chunks(chunk) {
                scanner.push(piece);
                while let Some((raw, read)) = scanner.next_found().unwrap() {
                    let after = RawRecord::read(raw, &redactor).unwrap();
                    if let Some(record) = read {
                        assert_eq!(record, after, "chunk {chunk}");
                        read_in_pass += 1;
                    }
                    found.push(after.json().to_owned());
                }
            }
            scanner.finish().unwrap();
            assert_eq!(found.len(), records.len(), "chunk {chunk}");
            for (json, raw) in found.iter().zip(&records) {
                let value: serde_json::Value = serde_json::from_str(raw).unwrap();
                let copied: serde_json::Value = serde_json::from_str(json).unwrap();
                assert_eq!(copied, redactor.json(&value), "chunk {chunk}");
                assert!(!json.contains(key), "{json}");
            }
            if chunk == 10_000 {
                assert_eq!(read_in_pass, records.len());
            }
        }
        // A record that breaks the schema is handed over as bytes, for the
        // caller to say what breaks it.
        let mut scanner = LogsScanner::default();
        scanner.push(format!(r#"{{"logs":[{{{base},"x":[1 2]}}]}}"#).as_bytes());
        let (raw, read) = scanner.next_found().unwrap().unwrap();
        assert!(read.is_none());
        let error = RawRecord::read(raw, &Redactor::new()).unwrap_err();
        assert!(error.contains("valid JSON"), "{error}");
    }

    #[test]
    fn a_lenient_scanner_finds_elements_that_are_not_objects() {
        let body = r#"{"logs":[{"a":1}, 5 ,null,"s\"q",[1,{"x":[2]}],{"b":2}]}"#;
        for chunk in [1, 3, body.len()] {
            let mut scanner = LogsScanner::lenient(Redactor::new());
            let mut found = Vec::new();
            for piece in body.as_bytes().chunks(chunk) {
                scanner.push(piece);
                while let Some((raw, _)) = scanner.next_found().unwrap() {
                    found.push(String::from_utf8(raw.to_vec()).unwrap());
                }
            }
            scanner.finish().unwrap();
            assert_eq!(
                found,
                [
                    r#"{"a":1}"#,
                    "5",
                    "null",
                    r#""s\"q""#,
                    r#"[1,{"x":[2]}]"#,
                    r#"{"b":2}"#
                ],
                "chunks of {chunk}"
            );
        }
        // Not lenient: the same body is an error.
        let mut strict = LogsScanner::masking(Redactor::new());
        strict.push(body.as_bytes());
        let mut result = Ok(None);
        for _ in 0..3 {
            result = strict.next_found().map(|f| f.map(|(raw, _)| raw.to_vec()));
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err());
    }
}
