//! [`SpanPlanner`]: the spans an export asks for, chosen from the density of
//! the responses seen so far.
//!
//! The range is cut into cells of the longest window ([`AuditExport::plan`](super::AuditExport::plan));
//! a request never crosses a cell's end, so a checkpoint can say how many
//! cells are done. Within a cell, each span is as long as the density seen
//! last says a response of [`TARGET_PERCENT`] of the size bound takes, the
//! reach into its neighbours included (a request asks for its span and,
//! on each side, the overlap, at most the span's length): it
//! grows at most [`GROWTH`]-fold from one span to the next across quiet
//! stretches, and shrinks at once where the records are dense. A response
//! cut at the bound ([`SpanPlanner::cut`]) marks its records' stretch as
//! dense: the spans before it stop at its start, and those inside it are
//! sized by its density.

use chrono::{DateTime, Duration, Utc};

/// How much longer one span may be than the one before it.
pub(crate) const GROWTH: i64 = 8;
/// Responses aim at this percentage of the size bound, reach included: the
/// rest is room for density that varies within a span. Each request reads
/// its reach again (its neighbours read it as theirs), so the fuller a
/// response, the less of it is read twice.
pub(crate) const TARGET_PERCENT: u64 = 85;
/// A span planned before any density is known is read to this fraction of
/// the size bound only: a dense stretch is cut after a few MiB, not after
/// the whole bound's worth that its pieces then read again.
pub(crate) const PROBE_FRACTION: u64 = 8;
/// The first span, before any density is known: a day (or the longest
/// window, if shorter).
const FIRST_SPAN_SECS: i64 = 86_400;

/// A stretch of time known to be dense: where a cut response's records lay.
#[derive(Debug, Clone, Copy)]
struct Dense {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bytes_per_sec: f64,
}

/// A window's span, `[from, to)`.
pub(crate) type Span = (DateTime<Utc>, DateTime<Utc>);

/// Chooses the spans of an export's requests.
#[derive(Debug, Clone)]
pub(crate) struct SpanPlanner {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// The longest window, whole seconds: the cells' length.
    cell_secs: i64,
    target_bytes: u64,
    /// Where the next span starts.
    cursor: DateTime<Utc>,
    /// The length of the last span planned, in seconds.
    last_secs: i64,
    /// How far each request reaches beyond its span on each side, at most
    /// the span's length, in seconds.
    reach_secs: i64,
    /// Bytes of body per second of the last completed span.
    bytes_per_sec: Option<f64>,
    dense: Option<Dense>,
}

impl SpanPlanner {
    /// Spans of `[start, end]` from `cursor` on, at most `cell_secs` long,
    /// aiming at responses of [`TARGET_PERCENT`] of `bound_bytes`.
    pub(crate) fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        cell_secs: u64,
        bound_bytes: u64,
        cursor: DateTime<Utc>,
    ) -> Self {
        let cell_secs = i64::try_from(cell_secs).unwrap_or(i64::MAX).max(1);
        Self {
            start,
            end,
            cell_secs,
            target_bytes: (bound_bytes / 100).saturating_mul(TARGET_PERCENT).max(1),
            cursor,
            last_secs: 0,
            reach_secs: 0,
            bytes_per_sec: None,
            dense: None,
        }
    }

    /// The same planner for requests that reach `overlap_secs` beyond their
    /// span on each side (at most the span's length).
    pub(crate) fn reaching(mut self, overlap_secs: u64) -> Self {
        self.reach_secs = i64::try_from(overlap_secs).unwrap_or(i64::MAX);
        self
    }

    /// Whether a response has told the density yet: a span planned before
    /// that is a guess, and its response is better cut early
    /// ([`PROBE_FRACTION`]).
    pub(crate) fn knows_density(&self) -> bool {
        self.bytes_per_sec.is_some()
    }

    /// The next span to ask for, `None` once the range is covered.
    pub(crate) fn next_span(&mut self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.cursor >= self.end {
            return None;
        }
        let from = self.cursor;
        let mut secs = match self.bytes_per_sec {
            None => FIRST_SPAN_SECS.min(self.cell_secs),
            Some(rate) => self.span_for(rate),
        };
        if self.last_secs > 0 {
            secs = secs.min(self.last_secs.saturating_mul(GROWTH));
        }
        let mut to_limit = self.cell_end(from);
        if let Some(dense) = self.dense {
            if from < dense.from {
                // Up to the dense stretch, not into it.
                to_limit = to_limit.min(whole_seconds_after(from, dense.from));
            } else if from <= dense.to {
                secs = secs.min(self.span_for(dense.bytes_per_sec));
            } else {
                self.dense = None;
            }
        }
        let secs = secs.clamp(1, self.cell_secs);
        let to = from
            .checked_add_signed(Duration::seconds(secs))
            .map_or(to_limit, |t| t.min(to_limit));
        self.last_secs = secs;
        self.cursor = to;
        Some((from, to))
    }

    /// A span's response was read whole: `body_bytes` is its size.
    pub(crate) fn completed(&mut self, span: (DateTime<Utc>, DateTime<Utc>), body_bytes: u64) {
        let secs = seconds(span.1 - span.0).max(1e-3);
        self.bytes_per_sec = Some(body_bytes as f64 / secs);
    }

    /// The response of `span` passed the bound after `body_bytes` bytes,
    /// with records from `seen.0` to `seen.1` (`None`: none read). Plan
    /// again from the span's start, in spans that fit, each shorter than it.
    pub(crate) fn cut(
        &mut self,
        span: (DateTime<Utc>, DateTime<Utc>),
        body_bytes: u64,
        seen: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) {
        let (from, to) = seen.filter(|(a, b)| a <= b).map_or(span, |(a, b)| {
            (a.max(span.0), b.min(span.1).max(a.max(span.0)))
        });
        let stretch = seconds(to - from).max(1.0);
        let rate = body_bytes.max(1) as f64 / stretch;
        self.dense = Some(Dense {
            from,
            to,
            bytes_per_sec: rate,
        });
        self.bytes_per_sec = Some(rate);
        self.cursor = span.0;
        let cut_secs = (span.1 - span.0).num_seconds().max(2);
        // Shorter than the cut span, whatever the density said.
        self.last_secs = (cut_secs / 2 / GROWTH).max(1);
        if self.span_for(rate) >= cut_secs {
            self.bytes_per_sec = Some(self.target_bytes as f64 / (cut_secs / 2) as f64);
        }
    }

    /// Whether `span` can be cut further (longer than a second).
    pub(crate) fn divisible(span: (DateTime<Utc>, DateTime<Utc>)) -> bool {
        span.1 - span.0 > Duration::seconds(1)
    }

    /// How many cells end at or before `at`.
    pub(crate) fn cells_done(&self, at: DateTime<Utc>) -> usize {
        if at >= self.end {
            return self.cells();
        }
        let elapsed = (at - self.start).num_milliseconds().max(0);
        usize::try_from(elapsed / self.cell_secs.saturating_mul(1000)).unwrap_or(usize::MAX)
    }

    /// How many cells the range has.
    pub(crate) fn cells(&self) -> usize {
        let span = (self.end - self.start).num_milliseconds().max(1);
        let cell = self.cell_secs.saturating_mul(1000);
        usize::try_from((span + cell - 1) / cell).unwrap_or(usize::MAX)
    }

    /// The end of the cell `at` lies in (the range's end at the latest).
    fn cell_end(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let index =
            (at - self.start).num_milliseconds().max(0) / self.cell_secs.saturating_mul(1000);
        index
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.cell_secs))
            .and_then(|secs| self.start.checked_add_signed(Duration::seconds(secs)))
            .map_or(self.end, |t| t.min(self.end))
    }

    /// Seconds of a span whose response, its reach on both sides included,
    /// is about the target at `rate`.
    fn span_for(&self, bytes_per_sec: f64) -> i64 {
        let response = self.secs_for(bytes_per_sec);
        let reach = self.reach_secs;
        if response == i64::MAX {
            response
        } else if response >= reach.saturating_mul(3) {
            response - 2 * reach
        } else {
            // The reach shrinks with the span: a third each.
            response / 3
        }
    }

    /// Seconds of a response that is about the target at `rate`.
    fn secs_for(&self, bytes_per_sec: f64) -> i64 {
        if bytes_per_sec <= 0.0 {
            return i64::MAX;
        }
        let secs = self.target_bytes as f64 / bytes_per_sec;
        if secs >= i64::MAX as f64 {
            i64::MAX
        } else {
            secs as i64
        }
    }
}

/// `from` plus the whole seconds before `to`, at least one.
fn whole_seconds_after(from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let secs = (to - from).num_seconds().max(1);
    from.checked_add_signed(Duration::seconds(secs))
        .unwrap_or(to)
}

fn seconds(duration: Duration) -> f64 {
    duration.num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::hours(hours)
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn quiet_stretches_take_few_spans_and_spans_stay_in_their_cells() {
        let days = 24 * 365;
        let mut planner = SpanPlanner::new(at(0), at(days), 30 * 86_400, 64 * MIB, at(0));
        let mut spans = Vec::new();
        while let Some(span) = planner.next_span() {
            planner.completed(span, 20_000);
            spans.push(span);
        }
        assert!(spans.len() <= 20, "{}", spans.len());
        assert!(spans.windows(2).all(|w| w[0].1 == w[1].0));
        assert_eq!((spans[0].0, spans.last().unwrap().1), (at(0), at(days)));
        assert_eq!(planner.cells(), 13);
        for (from, to) in spans {
            assert!(
                to <= planner.cell_end(from),
                "{from}..{to} crosses a cell's end"
            );
        }
    }

    #[test]
    fn a_cut_response_plans_its_span_again_in_pieces_that_fit() {
        let mut planner = SpanPlanner::new(at(0), at(24), 30 * 86_400, 64 * MIB, at(0));
        let first = planner.next_span().unwrap();
        assert_eq!(first, (at(0), at(24)));
        // 64 MiB seen from 12:00 to 12:08: 8 MiB a minute.
        let dense = (at(12), at(12) + Duration::minutes(8));
        planner.cut(first, 64 * MIB, Some(dense));
        let mut spans = Vec::new();
        while let Some(span) = planner.next_span() {
            let (from, to) = span;
            // Dense from 12:00 to 13:00 only.
            let dense_secs = (to.min(at(13)) - from.max(at(12))).num_seconds().max(0);
            let bytes = dense_secs as u64 * 8 * MIB / 60;
            assert!(bytes <= 64 * MIB, "{span:?}: {} MiB", bytes / MIB);
            planner.completed(span, bytes);
            spans.push(span);
        }
        assert_eq!((spans[0].0, spans.last().unwrap().1), (at(0), at(24)));
        assert!(spans.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(spans.len() < 60, "{}", spans.len());
    }
    /// The reach is part of the response: at 8 MiB a minute, a 64 MiB bound
    /// and a minute's overlap, spans are sized so that the span and its
    /// reach fill most of the bound, never more.
    #[test]
    fn spans_are_sized_with_their_reach() {
        let rate = 8 * MIB / 60;
        for (overlap, most_reread) in [(0, 1.01), (60, 1.5), (600, 3.01)] {
            let mut planner =
                SpanPlanner::new(at(0), at(2), 30 * 86_400, 64 * MIB, at(0)).reaching(overlap);
            planner.completed((at(0), at(0) + Duration::seconds(60)), 60 * rate);
            let mut read = 0;
            while let Some((from, to)) = planner.next_span() {
                let span = (to - from).num_seconds() as u64;
                let response = (span + 2 * overlap.min(span)) * rate;
                assert!(
                    response <= 64 * MIB,
                    "overlap {overlap}: {} MiB",
                    response / MIB
                );
                if to < at(2) {
                    assert!(
                        response >= 40 * MIB,
                        "overlap {overlap}: {} MiB",
                        response / MIB
                    );
                }
                read += response;
                // As the export does: the density over the time asked for.
                let reach = Duration::seconds(overlap.min(span) as i64);
                planner.completed((from - reach, to + reach), response);
            }
            let reread = read as f64 / (7200 * rate) as f64;
            assert!(
                reread <= most_reread,
                "overlap {overlap}: read {reread} times"
            );
        }
    }
}
