//! Where a record belongs: which window emits it, once, and what happens to
//! records the server placed outside the window they were asked for (see
//! the [module docs](super)).

use std::collections::VecDeque;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use chrono::{DateTime, Utc};

use super::plan::Span;
use super::{RawRecord, MAX_UNPLACED};
use crate::error::{Error, Result};

/// How many recently emitted records are remembered, so that a misplaced
/// copy of one (from a server ignoring the filter) is not emitted again.
const RECENT_RECORDS: usize = 100_000;

/// A set of hashes (of `event_uuid`s).
pub(super) type HashSet = std::collections::HashSet<u64, BuildHasherDefault<Prehashed>>;

/// What placing records needs to remember: the export's range and overlap,
/// the records emitted outside their window, near a window's edge, and
/// lately, and the counts of records the server placed elsewhere.
pub(super) struct Placement {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    overlap: chrono::Duration,
    /// Records emitted although no window's time places them (kept in the
    /// checkpoint, so that a resumed export does not emit them again).
    pub(super) unplaced: std::collections::HashSet<String>,
    /// Records near the edge of the head window, emitted once.
    pub(super) edge_seen: std::collections::HashSet<String>,
    recent: Recent,
    out_of_range_seen: HashSet,
    pub(super) misplaced: u64,
    pub(super) out_of_range: u64,
    window_misplaced: u64,
    window_out_of_range: u64,
}

impl Placement {
    /// Placement for the export of `[start, end]` whose windows overlap by
    /// `overlap`, with the records a checkpoint says were emitted unplaced.
    pub(super) fn new(
        (start, end): Span,
        overlap: chrono::Duration,
        unplaced: Vec<String>,
    ) -> Self {
        Self {
            start,
            end,
            overlap,
            unplaced: unplaced.into_iter().collect(),
            edge_seen: std::collections::HashSet::new(),
            recent: Recent::default(),
            out_of_range_seen: HashSet::default(),
            misplaced: 0,
            out_of_range: 0,
            window_misplaced: 0,
            window_out_of_range: 0,
        }
    }

    /// Whether the head window (`span`) emits `record`, timestamped `at`
    /// (`None`: unreadable); see the module docs. When it does, the hash of
    /// its `event_uuid`. `skip` holds records a cut window passed on already.
    pub(super) fn place(
        &mut self,
        span: Span,
        record: &RawRecord,
        at: Option<DateTime<Utc>>,
        skip: &HashSet,
    ) -> Result<Option<u64>> {
        let uuid = record.event_uuid();
        let hash = self.recent.hash(uuid);
        let Some(at) = at else {
            return self.keep_unplaced(uuid).map(|kept| kept.then_some(hash));
        };
        let (from, to) = span;
        let last = to == self.end;
        if from <= at && (at < to || (last && at == to)) {
            // Its own window, unless an earlier window emitted it misplaced,
            // or a cut window passed it on already.
            if !self.unplaced.is_empty() && self.unplaced.contains(uuid) {
                return Ok(None);
            }
            if !skip.is_empty() && skip.contains(&hash) {
                return Ok(None);
            }
            let near_edge = at - from < self.overlap || to - at < self.overlap;
            let first = !near_edge || self.edge_seen.insert(uuid.to_owned());
            if first {
                self.recent.remember(hash);
            }
            return Ok(first.then_some(hash));
        }
        if from - self.overlap <= at && at <= to + self.overlap {
            // The overlap asked for: a neighbour's, or just beyond the range.
            return Ok(None);
        }
        if at < self.start || at > self.end {
            let full = self.out_of_range_seen.len() >= MAX_UNPLACED;
            if full || self.out_of_range_seen.insert(hash) {
                self.out_of_range += 1;
                self.window_out_of_range += 1;
            }
            return Ok(None);
        }
        if self.recent.contains(uuid) {
            // Its own window emitted it already: the server ignores the filter.
            return Ok(None);
        }
        self.keep_unplaced(uuid).map(|kept| kept.then_some(hash))
    }

    /// Emit a record that no window's time places, once.
    fn keep_unplaced(&mut self, uuid: &str) -> Result<bool> {
        if self.unplaced.contains(uuid) {
            return Ok(false);
        }
        if self.unplaced.len() >= MAX_UNPLACED {
            return Err(Error::Inconsistent {
                message: format!(
                    "more than {MAX_UNPLACED} audit-log records came back outside the window \
                     they were asked for, or with unreadable timestamps: the server's timestamps \
                     do not match its time filter (timestamps without a zone in server-local \
                     time?); check the records' timestamps on a short range, or ask Datafold \
                     support"
                ),
            });
        }
        self.unplaced.insert(uuid.to_owned());
        self.misplaced += 1;
        self.window_misplaced += 1;
        Ok(true)
    }

    /// Say so when the window just done had records the server placed
    /// differently.
    pub(super) fn warn_about_placement(&mut self, span: Span) {
        let kept = std::mem::take(&mut self.window_misplaced);
        let outside = std::mem::take(&mut self.window_out_of_range);
        if kept + outside > 0 {
            let (from, to) = span;
            tracing::warn!(
                window_start = %from,
                window_end = %to,
                written_outside_their_window = kept,
                not_written_outside_the_range = outside,
                "audit-log records came back outside the window asked for (timestamps \
                 without a zone, or a server ignoring the time filter); records inside the \
                 export's range were written once, the others only counted"
            );
        }
    }
}

/// The last [`RECENT_RECORDS`] emitted `event_uuid`s, as hashes.
#[derive(Default)]
pub(super) struct Recent {
    hashes: RandomState,
    set: HashSet,
    order: VecDeque<u64>,
}

impl Recent {
    pub(super) fn hash(&self, uuid: &str) -> u64 {
        self.hashes.hash_one(uuid)
    }

    /// Remember the record whose `event_uuid` has `hash` ([`Recent::hash`]).
    pub(super) fn remember(&mut self, hash: u64) {
        if self.set.insert(hash) {
            self.order.push_back(hash);
            if self.order.len() > RECENT_RECORDS {
                if let Some(oldest) = self.order.pop_front() {
                    self.set.remove(&oldest);
                }
            }
        }
    }

    pub(super) fn contains(&self, uuid: &str) -> bool {
        self.set.contains(&self.hash(uuid))
    }
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}
