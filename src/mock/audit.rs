//! The mock's audit trail: a deterministic seeded history plus the events the
//! server's own BI calls record, filtered by date and served as a stream.
//!
//! Seeded events are never stored: event `i` is computed from `(seed, i)` when
//! it is served, and seeded timestamps grow with `i`, so a date range maps to
//! an index range by binary search. A million-event history costs no memory
//! and is written out in chunks of about 64 KiB.
//!
//! Live traffic (`live.rs`) is generated the same way, from another
//! namespace of the seed, and served after the seeded and recorded events.

use std::ops::Range;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value};

use super::faults::mix;
use super::live::LiveSelection;
use crate::types::AuditLog;

/// Size at which a chunk of the streamed response is handed to the server.
const CHUNK_BYTES: usize = 64 * 1024;

/// The users seeded events are attributed to: `(user_id, email)`.
const SEED_USERS: [(i64, &str); 4] = [
    (101, "alice@example.com"),
    (102, "bob@example.com"),
    (103, "carol@example.com"),
    (104, "dave@example.com"),
];

/// Seeded actions: `(action, object_type, method, path)`.
const SEED_ACTIONS: [(&str, &str, &str, &str); 7] = [
    ("login", "user", "POST", "/login"),
    (
        "bi_added",
        "bi_datasource",
        "POST",
        "/api/v1/lineage/bi/looker/",
    ),
    (
        "bi_modified",
        "bi_datasource",
        "PUT",
        "/api/v1/lineage/bi/tableau/",
    ),
    (
        "bi_deleted",
        "bi_datasource",
        "DELETE",
        "/api/v1/lineage/bi/",
    ),
    (
        "data_diff_created",
        "data_diff",
        "POST",
        "/api/v1/datadiffs",
    ),
    ("api_key_created", "api_key", "POST", "/api/v1/api_keys"),
    ("ci_run_submitted", "ci_config", "POST", "/api/v1/ci/"),
];

/// Where the seeded history lies in time and how it is generated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeedHistory {
    seed: u64,
    count: u64,
    start_ms: i64,
    span_ms: i64,
}

impl SeedHistory {
    /// `count` events spread evenly over the `span_ms` milliseconds that end
    /// at `end`.
    pub(crate) fn new(seed: u64, count: u64, end: DateTime<Utc>, span_ms: i64) -> Self {
        let span_ms = span_ms.max(1);
        Self {
            seed,
            count,
            start_ms: end.timestamp_millis() - span_ms,
            span_ms,
        }
    }

    fn time_ms(&self, i: u64) -> i64 {
        let offset = i128::from(i) * i128::from(self.span_ms) / i128::from(self.count.max(1));
        self.start_ms + offset as i64
    }

    /// The indices of the seeded events inside `[start, end]`.
    pub(crate) fn range(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Range<u64> {
        let first_at_or_after = |ms: i64| partition(0..self.count, |i| self.time_ms(i) < ms);
        let lo = start.map_or(0, |s| first_at_or_after(s.timestamp_millis()));
        let hi = end.map_or(self.count, |e| first_at_or_after(e.timestamp_millis() + 1));
        lo..hi.max(lo)
    }

    /// Seeded event `i`.
    pub(crate) fn event(&self, i: u64) -> AuditLog {
        generated_event(self.seed, i, self.time_at(i), "seeded")
    }

    fn time_at(&self, i: u64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.time_ms(i))
            .single()
            .unwrap_or_default()
    }

    /// How many seeded events there are.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

/// Event `i` of the generated stream `namespace`: a user, an action and an
/// object drawn from `mix(namespace, i)`, and a payload `{marker: true}`
/// saying where it comes from (the seeded history, live traffic).
pub(crate) fn generated_event(
    namespace: u64,
    i: u64,
    timestamp: DateTime<Utc>,
    marker: &str,
) -> AuditLog {
    let r = mix(namespace, i);
    let (user_id, email) = SEED_USERS[(r % SEED_USERS.len() as u64) as usize];
    let (action, object_type, method, path) =
        SEED_ACTIONS[((r >> 8) % SEED_ACTIONS.len() as u64) as usize];
    let object_id = ((r >> 16) % 5000) as i64 + 1;
    let mut payload = Map::new();
    payload.insert(marker.into(), Value::Bool(true));
    AuditLog {
        action: Some(action.to_owned()),
        client_ip: format!("10.0.{}.{}", (r >> 24) % 256, (r >> 32) % 254 + 1),
        event_uuid: uuid_from(mix(namespace ^ 0xA5A5_A5A5, i), r),
        is_support_user: Some(false),
        log_entry: Some(format!("{email} {action} {object_type} {object_id}")),
        object_id: Some(object_id),
        object_type: Some(object_type.to_owned()),
        payload: Some(payload),
        referer: None,
        request_type: Some(method.to_owned()),
        source: Some(if r & (1 << 40) == 0 { "web" } else { "api" }.to_owned()),
        status: Some("success".to_owned()),
        timestamp,
        url: format!("https://app.datafold.com{path}"),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
        user_email: Some(email.to_owned()),
        user_id: Some(user_id),
        extra: Default::default(),
    }
}

/// The smallest `i` in `range` for which `before(i)` is false, or its end
/// (`before` must be true for a prefix of the range).
pub(crate) fn partition(range: Range<u64>, before: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (range.start, range.end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// An RFC 4122 version-4-shaped UUID from 128 bits.
fn uuid_from(high: u64, low: u64) -> String {
    let high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

/// Timestamps as Python's `datetime.isoformat()` writes an aware UTC time
/// (microseconds: finer digits are dropped, as Python keeps none).
pub(crate) fn format_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// `event` as Datafold sends it, appended to `buf`: its JSON, with the
/// timestamp as Python writes it ([`format_timestamp`]) rather than as the
/// typed record does (RFC 3339 in UTC, `…Z`), so that clients of the mock
/// read the server's own form.
fn write_event(buf: &mut Vec<u8>, event: &AuditLog) {
    let start = buf.len();
    // Serializing a struct of strings, numbers and a time cannot fail.
    let _ = serde_json::to_writer(&mut *buf, event);
    let typed = format!(
        "\"timestamp\":\"{}\"",
        event.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    );
    // The field is written once, at the top level: no other key of a
    // generated event is `timestamp`, and a string's quotes are escaped.
    if let Some(at) = memchr::memmem::find(&buf[start..], typed.as_bytes()) {
        let at = start + at;
        let python = format!("\"timestamp\":\"{}\"", format_timestamp(event.timestamp));
        buf.splice(at..at + typed.len(), python.into_bytes());
    }
}

/// A fresh event id for a recorded event.
pub(crate) fn event_uuid(seed: u64, n: u64) -> String {
    uuid_from(mix(seed ^ 0x5EED, n), mix(seed, n ^ 0xFFFF))
}

/// The `{"logs": [...]}` body for one request, produced chunk by chunk.
pub(crate) struct AuditChunks {
    history: SeedHistory,
    seeded: Range<u64>,
    recorded: std::vec::IntoIter<AuditLog>,
    live: Option<LiveSelection>,
    opened: bool,
    closed: bool,
    first: bool,
}

impl AuditChunks {
    /// The seeded events in `seeded`, then `recorded`, then the `live` ones.
    pub(crate) fn new(
        history: SeedHistory,
        seeded: Range<u64>,
        recorded: Vec<AuditLog>,
        live: Option<LiveSelection>,
    ) -> Self {
        Self {
            history,
            seeded,
            recorded: recorded.into_iter(),
            live,
            opened: false,
            closed: false,
            first: true,
        }
    }

    /// Up to `max` of the events still to be served (seeded first), without
    /// consuming them.
    pub(crate) fn sample(&self, max: usize) -> Vec<AuditLog> {
        let seeded = self.seeded.clone().take(max).map(|i| self.history.event(i));
        seeded
            .chain(self.recorded.as_slice().iter().cloned())
            .chain(self.live.clone().into_iter().flatten())
            .take(max)
            .collect()
    }

    fn push(&mut self, buf: &mut Vec<u8>, event: &AuditLog) {
        if !self.first {
            buf.push(b',');
        }
        self.first = false;
        write_event(buf, event);
    }
}

impl Iterator for AuditChunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.closed {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 1024);
        if !self.opened {
            buf.extend_from_slice(b"{\"logs\":[");
            self.opened = true;
        }
        while buf.len() < CHUNK_BYTES {
            if let Some(i) = self.seeded.next() {
                let event = self.history.event(i);
                self.push(&mut buf, &event);
            } else if let Some(event) = self.recorded.next() {
                self.push(&mut buf, &event);
            } else if let Some(event) = self.live.as_mut().and_then(Iterator::next) {
                self.push(&mut buf, &event);
            } else {
                buf.extend_from_slice(b"]}");
                self.closed = true;
                break;
            }
        }
        Some(buf)
    }
}
