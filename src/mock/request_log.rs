//! The request log: the latest records in a ring of fixed capacity, counts
//! of every request ever logged, and a wake-up for readers that wait for
//! new records (the standalone printer).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::faults::Fault;

/// The longest method or path a record keeps, in bytes; longer ones are cut
/// (hyper accepts request lines of many kilobytes).
const MAX_LOGGED_TEXT: usize = 1024;
/// The most spec violations a record keeps; the last kept one says how many
/// more there were.
const MAX_LOGGED_VIOLATIONS: usize = 20;

/// One request the mock received. Holds no header value and no body.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// The request's number, from 0, in arrival order (the fault draw's `n`).
    pub seq: u64,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query (cut to 1 KiB).
    pub path: String,
    /// The spec's operationId, when the path and method matched one.
    pub operation: Option<String>,
    /// The status sent; `None` when the connection was reset instead.
    pub status: Option<u16>,
    /// Whether the handler changed state (created, updated, removed, synced).
    pub applied: bool,
    /// The fault injected into this request, if any.
    pub fault: Option<Fault>,
    /// Where the response body breaks the spec (only with
    /// [`super::MockServerBuilder::check_responses`]; at most 20 entries).
    pub spec_violations: Vec<String>,
}

/// Counts of every request logged since the server started (or since
/// [`super::MockServer::clear_request_log`]), including those the bounded
/// log no longer holds.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// Every request.
    pub total: u64,
    /// Requests answered, by the status sent.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests whose connection was reset instead of answered.
    pub resets: u64,
    /// Requests a fault was injected into, by fault.
    pub by_fault: BTreeMap<Fault, u64>,
    /// Requests whose handler changed state.
    pub applied: u64,
    /// Requests whose response broke the spec (only with
    /// [`super::MockServerBuilder::check_responses`]).
    pub with_spec_violations: u64,
}

impl RequestCounts {
    fn add(&mut self, record: &RequestRecord) {
        self.total += 1;
        match record.status {
            Some(status) => *self.by_status.entry(status).or_default() += 1,
            None => self.resets += 1,
        }
        if let Some(fault) = record.fault {
            *self.by_fault.entry(fault).or_default() += 1;
        }
        self.applied += u64::from(record.applied);
        self.with_spec_violations += u64::from(!record.spec_violations.is_empty());
    }
}

/// The records logged after a cursor; see
/// [`super::MockServer::request_log_after`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestLogPage {
    /// The records logged after the cursor that the log still holds, oldest
    /// first.
    pub records: Vec<RequestRecord>,
    /// Records logged after the cursor that the log no longer holds: dropped
    /// to keep its bound, or cleared.
    pub skipped: u64,
    /// The cursor to pass next time to get only newer records: the number of
    /// records logged so far.
    pub next: u64,
}

/// The ring and the counts, behind one lock.
struct Ring {
    records: VecDeque<RequestRecord>,
    capacity: usize,
    /// How many records were ever logged: the position after the newest one.
    logged: u64,
    counts: RequestCounts,
    /// Readers blocked in [`RequestLog::wait_after`]; a push wakes them only
    /// when there are some (a wake-up costs a system call).
    waiting: usize,
}

impl Ring {
    /// The position of the oldest record held.
    fn first(&self) -> u64 {
        self.logged - self.records.len() as u64
    }

    fn page_after(&self, cursor: u64) -> RequestLogPage {
        let first = self.first();
        let skipped = first.saturating_sub(cursor);
        let start = usize::try_from(cursor.saturating_sub(first)).unwrap_or(usize::MAX);
        RequestLogPage {
            records: self.records.iter().skip(start).cloned().collect(),
            skipped,
            next: self.logged,
        }
    }
}

/// The log every connection writes to.
pub(crate) struct RequestLog {
    ring: Mutex<Ring>,
    added: Condvar,
}

impl RequestLog {
    /// A log that keeps the latest `capacity` records.
    pub(crate) fn new(capacity: usize) -> Self {
        RequestLog {
            ring: Mutex::new(Ring {
                // Grows as records come; a large bound costs nothing until used.
                records: VecDeque::new(),
                capacity,
                logged: 0,
                counts: RequestCounts::default(),
                waiting: 0,
            }),
            added: Condvar::new(),
        }
    }

    /// The ring, even if a panicking thread poisoned the lock (every update
    /// leaves it consistent).
    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Log `record`, dropping the oldest one when the log is full.
    pub(crate) fn push(&self, mut record: RequestRecord) {
        cut(&mut record.method);
        cut(&mut record.path);
        if record.spec_violations.len() > MAX_LOGGED_VIOLATIONS {
            let more = record.spec_violations.len() - (MAX_LOGGED_VIOLATIONS - 1);
            record.spec_violations.truncate(MAX_LOGGED_VIOLATIONS - 1);
            record.spec_violations.push(format!("... and {more} more"));
        }
        for violation in &mut record.spec_violations {
            cut(violation);
        }
        let wake = {
            let mut ring = self.ring();
            ring.counts.add(&record);
            ring.logged += 1;
            if ring.capacity > 0 {
                if ring.records.len() >= ring.capacity {
                    ring.records.pop_front();
                }
                ring.records.push_back(record);
            }
            ring.waiting > 0
        };
        if wake {
            self.added.notify_all();
        }
    }

    /// The records held, oldest first.
    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        self.ring().records.iter().cloned().collect()
    }

    /// The records logged after `cursor` (see [`RequestLogPage::next`]).
    pub(crate) fn after(&self, cursor: u64) -> RequestLogPage {
        self.ring().page_after(cursor)
    }

    /// Block the calling thread until a record is logged after `cursor`,
    /// then return the records after it.
    pub(crate) fn wait_after(&self, cursor: u64) -> RequestLogPage {
        let mut ring = self.ring();
        while ring.logged <= cursor {
            ring.waiting += 1;
            ring = self.added.wait(ring).unwrap_or_else(|p| p.into_inner());
            ring.waiting -= 1;
        }
        ring.page_after(cursor)
    }

    /// The counts of every request logged.
    pub(crate) fn counts(&self) -> RequestCounts {
        self.ring().counts.clone()
    }

    /// How many records the log keeps.
    pub(crate) fn capacity(&self) -> usize {
        self.ring().capacity
    }

    /// Forget the records and the counts; positions keep counting, so a
    /// reader's cursor stays valid (the cleared records count as skipped).
    pub(crate) fn clear(&self) {
        let mut ring = self.ring();
        ring.records.clear();
        ring.counts = RequestCounts::default();
    }
}

/// Cut `text` to [`MAX_LOGGED_TEXT`] bytes at a character boundary.
fn cut(text: &mut String) {
    if text.len() > MAX_LOGGED_TEXT {
        let mut end = MAX_LOGGED_TEXT - 3;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> RequestRecord {
        RequestRecord {
            seq,
            method: "GET".into(),
            path: format!("/{seq}"),
            operation: None,
            status: Some(200),
            applied: false,
            fault: None,
            spec_violations: Vec::new(),
        }
    }

    #[test]
    fn pages_after_a_cursor_report_what_was_dropped() {
        let log = RequestLog::new(3);
        for seq in 0..5 {
            log.push(record(seq));
        }
        let page = log.after(0);
        assert_eq!(page.skipped, 2);
        assert_eq!(
            page.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(page.next, 5);
        let page = log.after(3);
        assert_eq!((page.skipped, page.records.len()), (0, 2));
        // A cursor from the future gets nothing, not an underflow.
        assert_eq!(log.after(99).records.len(), 0);
        assert_eq!(log.after(99).skipped, 0);
        log.clear();
        assert_eq!(log.after(3).skipped, 2, "cleared records count as skipped");
        assert_eq!(log.counts().total, 0);
    }

    #[test]
    fn long_texts_and_many_violations_are_cut() {
        let log = RequestLog::new(1);
        let mut long = record(0);
        long.path = "é".repeat(4000);
        long.spec_violations = vec!["v".to_owned(); 100];
        log.push(long);
        let kept = &log.records()[0];
        assert!(kept.path.len() <= MAX_LOGGED_TEXT && kept.path.ends_with("..."));
        assert_eq!(kept.spec_violations.len(), MAX_LOGGED_VIOLATIONS);
        assert_eq!(kept.spec_violations[19], "... and 81 more");
        assert_eq!(log.counts().with_spec_violations, 1);
    }

    #[test]
    fn a_waiting_reader_wakes_for_a_new_record() {
        let log = std::sync::Arc::new(RequestLog::new(10));
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || log.wait_after(0))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        log.push(record(0));
        let page = reader.join().expect("the reader ends");
        assert_eq!(page.records.len(), 1);
    }
}
