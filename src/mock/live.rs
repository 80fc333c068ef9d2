//! Live audit traffic: events that the mock commits as time passes, some of
//! them late (with a timestamp earlier than the moment they become visible),
//! the way Datafold's audit log fills up while a poller reads it.
//!
//! Live event `k` is committed at `t0 + k / rate`, `t0` being the moment the
//! server started. Like the seeded history, nothing is stored per event: its
//! fields, its lateness and its timestamp are computed from `(seed, k)`, and
//! the events a query can see are found by arithmetic on the commit moments.
//! Visibility runs on a monotonic clock started with the server, so a wall
//! clock that jumps cannot hide an event that was once visible.

use std::ops::Range;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

use super::audit::{generated_event, partition};
use super::faults::{mix, unit};
use super::{MockServer, MockServerBuilder};
use crate::types::AuditLog;

/// The longest late-commit delay the mock takes: one day.
pub const MAX_LATE_DELAY: Duration = Duration::from_secs(24 * 3600);

/// Live event numbers stay below this, where `f64` still counts exactly.
const MAX_EVENTS: u64 = 1 << 53;

/// Separates the live events' draws from the seeded history's and the
/// recorded events' (other namespaces of the same seed).
const LIVE_NAMESPACE: u64 = 0x11FE_7A44_1C00_0000;
const LATENESS_NAMESPACE: u64 = 0x1A7E_C0FF_EE00_0000;

/// What [`MockServerBuilder::live_rate`] and
/// [`MockServerBuilder::late_commits`] configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LiveConfig {
    pub(crate) rate: Option<f64>,
    pub(crate) late_share: f64,
    pub(crate) late_max: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            rate: None,
            late_share: 0.0,
            late_max: Duration::ZERO,
        }
    }
}

impl LiveConfig {
    /// Refuse values the server cannot honour, naming the builder method.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(rate) = self.rate {
            check_rate(rate).map_err(|e| format!("MockServerBuilder::live_rate: {e}"))?;
        }
        check_share(self.late_share)
            .map_err(|e| format!("MockServerBuilder::late_commits: {e}"))?;
        if self.late_share > 0.0 {
            if self.rate.is_none() {
                return Err(
                    "MockServerBuilder::late_commits needs live traffic: set live_rate too".into(),
                );
            }
            check_late_max(self.late_max)
                .map_err(|e| format!("MockServerBuilder::late_commits: {e}"))?;
        }
        Ok(())
    }
}

/// A live rate must be a finite number of events per second above 0.
pub(crate) fn check_rate(rate: f64) -> Result<(), String> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "the live rate must be more than 0 events per second, got {rate}"
        ))
    }
}

/// A late share is a fraction from 0 to 1.
pub(crate) fn check_share(share: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&share) {
        Ok(())
    } else {
        Err(format!(
            "the share of late events must be from 0 to 1, got {share}"
        ))
    }
}

/// A late delay is more than 0 and at most [`MAX_LATE_DELAY`].
pub(crate) fn check_late_max(delay: Duration) -> Result<(), String> {
    if delay.is_zero() || delay > MAX_LATE_DELAY {
        Err(format!(
            "the longest late delay must be more than 0 and at most 24 hours, got {delay:?}"
        ))
    } else {
        Ok(())
    }
}

// The live traffic's part of the builder and the server, kept beside the
// traffic itself.
impl MockServerBuilder {
    /// Commit live audit events as time passes, `events_per_second` of them
    /// (default: no live traffic). From [`MockServerBuilder::start`] on, live
    /// event `k` (0, 1, 2, ...) is committed, that is becomes visible to
    /// queries, at `start + k / events_per_second`, stamped with that moment
    /// unless it is late ([`MockServerBuilder::late_commits`]).
    ///
    /// A query at time `t` returns, after the seeded and recorded events,
    /// the live events committed by `t` whose timestamps lie in its range,
    /// in commit order, so a late event comes out of timestamp order. An
    /// event once visible never changes. Like the seeded history, live
    /// events are computed from the seed and their number, never stored:
    /// memory does not grow with run time. See
    /// [`MockServer::live_audit_events`] and
    /// [`MockServer::stop_live_traffic`]. The rate must be finite and above
    /// 0 ([`MockServerBuilder::start`] refuses others).
    pub fn live_rate(mut self, events_per_second: f64) -> Self {
        self.live.rate = Some(events_per_second);
        self
    }

    /// Commit `share` (from 0 to 1) of the live events late: each of those
    /// carries a timestamp earlier than its commit by a pseudo-random delay
    /// in `(0, max_delay]`, drawn from the seed, so the same on every run.
    /// The others are stamped with their commit moment. A query for a range
    /// that has passed can therefore still gain events, for up to
    /// `max_delay`: what a poller must re-read. Default: none late. Needs
    /// [`MockServerBuilder::live_rate`]; `max_delay` must be more than 0 and
    /// at most [`MAX_LATE_DELAY`] (one day) when `share` is above 0.
    pub fn late_commits(mut self, share: f64, max_delay: Duration) -> Self {
        self.live.late_share = share;
        self.live.late_max = max_delay;
        self
    }
}

impl MockServer {
    /// Commit no more live events: the ones committed so far become final,
    /// the ground truth a test compares a poller's output with
    /// ([`MockServer::live_audit_events`]). Queries keep seeing exactly
    /// those. Does nothing without live traffic or when already stopped.
    pub fn stop_live_traffic(&self) {
        self.shared.state().stop_live_traffic();
    }

    /// Every live event committed so far, in commit order (so a late one
    /// comes out of timestamp order): ground truth for tests, best taken
    /// after [`MockServer::stop_live_traffic`]. Empty without live traffic.
    /// Builds them all in memory, as the server never does: mind long runs
    /// at high rates.
    pub fn live_audit_events(&self) -> Vec<AuditLog> {
        let live = self.shared.state().live_events();
        live.into_iter().flatten().collect()
    }
}

/// Parse a live rate as the command lines take it: events per second, `N`
/// or `N/s`, decimals allowed (`0.5`, `20/s`), more than 0.
///
/// # Errors
/// Anything else; the message says what is expected.
pub fn parse_live_rate(text: &str) -> Result<f64, String> {
    let expected =
        || format!("expected events per second above 0, e.g. 20, 20/s or 0.5/s, got {text:?}");
    let number = text.trim();
    let number = number.strip_suffix("/s").unwrap_or(number).trim();
    let rate: f64 = number.parse().map_err(|_| expected())?;
    check_rate(rate).map_err(|_| expected())?;
    Ok(rate)
}

/// Parse a share of late events as the command lines take it: a fraction
/// from 0 to 1 (`0.1`).
///
/// # Errors
/// Anything else; the message says what is expected.
pub fn parse_late_share(text: &str) -> Result<f64, String> {
    let expected = || format!("expected a fraction from 0 to 1, e.g. 0.1, got {text:?}");
    let share: f64 = text.trim().parse().map_err(|_| expected())?;
    check_share(share).map_err(|_| expected())?;
    Ok(share)
}

/// The live traffic of a running server: its configuration and clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveTraffic {
    namespace: u64,
    /// Events per second, as configured.
    rate: f64,
    /// Microseconds between two commits (`1e6 / rate`).
    us_per_event: f64,
    late_share: f64,
    late_max_us: u64,
    /// The wall-clock time of event 0's commit, in microseconds.
    t0_us: i64,
    started: Instant,
    /// How many events were committed when the traffic was stopped.
    stopped_at: Option<u64>,
}

impl LiveTraffic {
    /// Traffic starting now; `config` must have passed [`LiveConfig::check`]
    /// and have a rate.
    pub(crate) fn start(seed: u64, rate: f64, config: &LiveConfig) -> Self {
        let late_max_us = u64::try_from(config.late_max.as_micros()).unwrap_or(u64::MAX);
        LiveTraffic {
            namespace: mix(seed ^ LIVE_NAMESPACE, 0),
            rate,
            us_per_event: 1e6 / rate,
            late_share: if late_max_us == 0 {
                0.0
            } else {
                config.late_share
            },
            late_max_us,
            t0_us: Utc::now().timestamp_micros(),
            started: Instant::now(),
            stopped_at: None,
        }
    }

    /// Events per second.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The share of late events and their longest delay.
    pub(crate) fn lateness(&self) -> (f64, Duration) {
        (self.late_share, Duration::from_micros(self.late_max_us))
    }

    /// No event commits after this; the ones so far are final.
    pub(crate) fn stop(&mut self) {
        if self.stopped_at.is_none() {
            self.stopped_at = Some(self.committed());
        }
    }

    /// How many events are committed now: events `0..committed()`.
    pub(crate) fn committed(&self) -> u64 {
        if let Some(stopped) = self.stopped_at {
            return stopped;
        }
        let elapsed = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX / 2);
        self.first_committed_at_or_after(self.t0_us.saturating_add(elapsed).saturating_add(1))
    }

    /// When event `k` is committed, in microseconds since the epoch.
    fn commit_us(&self, k: u64) -> i64 {
        // `as` saturates; commit moments grow with `k` (rounding is monotone).
        self.t0_us
            .saturating_add((k as f64 * self.us_per_event).floor() as i64)
    }

    /// The first event committed at or after `us` (microseconds since the
    /// epoch), at most [`MAX_EVENTS`].
    fn first_committed_at_or_after(&self, us: i64) -> u64 {
        if us <= self.t0_us {
            return 0;
        }
        let before = |k: u64| self.commit_us(k) < us;
        // The quotient is right to within rounding: check a few events around
        // it, and search the whole range only if that fails.
        let estimate = ((us - self.t0_us) as f64 / self.us_per_event) as u64;
        let (lo, hi) = (
            estimate.saturating_sub(2).min(MAX_EVENTS),
            estimate.saturating_add(2).min(MAX_EVENTS),
        );
        if (lo == 0 || before(lo - 1)) && !before(hi) {
            partition(lo..hi, before)
        } else {
            partition(0..MAX_EVENTS, before)
        }
    }

    /// How long before its commit event `k` is stamped (0 for an event on
    /// time): in `(0, late_max]` for the configured share of events.
    fn delay_us(&self, k: u64) -> u64 {
        if self.late_share <= 0.0 {
            return 0;
        }
        let draw = mix(self.namespace ^ LATENESS_NAMESPACE, k);
        if unit(draw) < self.late_share {
            1 + mix(draw, 1) % self.late_max_us
        } else {
            0
        }
    }

    /// Event `k`'s timestamp, in microseconds since the epoch.
    fn timestamp_us(&self, k: u64) -> i64 {
        let delay = i64::try_from(self.delay_us(k)).unwrap_or(i64::MAX);
        self.commit_us(k).saturating_sub(delay)
    }

    /// Live event `k`, the same every time it is built.
    pub(crate) fn event(&self, k: u64) -> AuditLog {
        let timestamp = Utc
            .timestamp_micros(self.timestamp_us(k))
            .single()
            .unwrap_or_default();
        generated_event(self.namespace, k, timestamp, "live")
    }

    /// The committed events stamped inside `[start, end]` (both optional and
    /// inclusive), in commit order.
    pub(crate) fn select(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> LiveSelection {
        // Timestamps are whole microseconds: round the bounds inwards.
        let start_us = start.map_or(i64::MIN, |s| {
            s.timestamp_micros() + i64::from(s.timestamp_subsec_nanos() % 1000 != 0)
        });
        let end_us = end.map_or(i64::MAX, |e| e.timestamp_micros());
        // A timestamp lies at most `late_max` before its commit, so only the
        // events committed in [start, end + late_max] can match.
        let first = self.first_committed_at_or_after(start_us);
        let last_commit =
            i64::try_from(self.late_max_us).map_or(i64::MAX, |late| end_us.saturating_add(late));
        let past_end = self.first_committed_at_or_after(last_commit.saturating_add(1));
        let past_end = past_end.min(self.committed());
        LiveSelection {
            traffic: *self,
            events: first..past_end.max(first),
            start_us,
            end_us,
        }
    }
}

/// The live events a query sees, built one by one as they are served.
#[derive(Debug, Clone)]
pub(crate) struct LiveSelection {
    traffic: LiveTraffic,
    /// Candidates, by number: those committed in the query's reach.
    events: Range<u64>,
    start_us: i64,
    end_us: i64,
}

impl Iterator for LiveSelection {
    type Item = AuditLog;

    fn next(&mut self) -> Option<AuditLog> {
        // Bounded by the candidates' range, like the events served.
        for k in self.events.by_ref() {
            let stamp = self.traffic.timestamp_us(k);
            if (self.start_us..=self.end_us).contains(&stamp) {
                return Some(self.traffic.event(k));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(rate: f64, share: f64, late_max: Duration) -> LiveTraffic {
        let config = LiveConfig {
            rate: Some(rate),
            late_share: share,
            late_max,
        };
        LiveTraffic::start(7, rate, &config)
    }

    #[test]
    fn the_arithmetic_bound_agrees_with_a_scan() {
        for rate in [0.3, 1.0, 7.0, 1000.0, 123_456.7] {
            let live = traffic(rate, 0.5, Duration::from_secs(2));
            for k in 0..2000u64 {
                let at = live.commit_us(k);
                let first = live.first_committed_at_or_after(at);
                assert!(live.commit_us(first) >= at, "rate {rate}, k {k}");
                assert!(first == 0 || live.commit_us(first - 1) < at, "rate {rate}");
                assert!(first <= k);
                let next = live.first_committed_at_or_after(at + 1);
                assert!(next > k && live.commit_us(next - 1) <= at, "rate {rate}");
            }
        }
    }

    #[test]
    fn lateness_follows_the_share_and_stays_within_the_delay() {
        let max = Duration::from_millis(1500);
        let live = traffic(100.0, 0.25, max);
        let late: Vec<u64> = (0..10_000).map(|k| live.delay_us(k)).collect();
        let share = late.iter().filter(|d| **d > 0).count() as f64 / 10_000.0;
        assert!((0.22..0.28).contains(&share), "{share}");
        assert!(late.iter().all(|d| *d <= 1_500_000));
        assert!(late.iter().any(|d| *d > 1_000_000));
        let on_time = traffic(100.0, 0.0, max);
        assert!((0..1000).all(|k| on_time.delay_us(k) == 0));
        let all_late = traffic(100.0, 1.0, max);
        assert!((0..1000).all(|k| all_late.delay_us(k) > 0));
    }

    #[test]
    fn a_selection_holds_exactly_the_committed_events_in_range() {
        let mut live = traffic(1000.0, 0.5, Duration::from_millis(300));
        std::thread::sleep(Duration::from_millis(50));
        live.stop();
        let committed = live.committed();
        assert!(committed >= 40, "{committed}");
        let t = |us: i64| Utc.timestamp_micros(us).single();
        let (lo, hi) = (live.t0_us + 10_000, live.t0_us + 30_000);
        let selected: Vec<String> = live.select(t(lo), t(hi)).map(|e| e.event_uuid).collect();
        let scanned: Vec<String> = (0..committed)
            .filter(|k| (lo..=hi).contains(&live.timestamp_us(*k)))
            .map(|k| live.event(k).event_uuid)
            .collect();
        assert!(!scanned.is_empty());
        assert_eq!(selected, scanned);
        assert_eq!(live.select(None, None).count() as u64, committed);
    }

    #[test]
    fn rates_and_shares_parse_as_typed() {
        assert_eq!(parse_live_rate("20"), Ok(20.0));
        assert_eq!(parse_live_rate(" 2.5/s "), Ok(2.5));
        assert_eq!(parse_live_rate("0.01/s"), Ok(0.01));
        for bad in ["0", "0/s", "-3", "inf", "nan", "5/m", "5 per s", "", "/s"] {
            assert!(parse_live_rate(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_late_share("0"), Ok(0.0));
        assert_eq!(parse_late_share("0.25"), Ok(0.25));
        assert_eq!(parse_late_share("1"), Ok(1.0));
        for bad in ["2", "-0.1", "nan", "10%", ""] {
            assert!(parse_late_share(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config_checks_name_the_method() {
        let bad = |rate: Option<f64>, share: f64, max: Duration| {
            LiveConfig {
                rate,
                late_share: share,
                late_max: max,
            }
            .check()
            .unwrap_err()
        };
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(bad(Some(rate), 0.0, Duration::ZERO).contains("live_rate"));
        }
        let second = Duration::from_secs(1);
        assert!(bad(Some(1.0), 2.0, second).contains("late_commits"));
        assert!(bad(Some(1.0), f64::NAN, second).contains("late_commits"));
        assert!(bad(Some(1.0), 0.5, Duration::ZERO).contains("late_commits"));
        assert!(bad(None, 0.5, second).contains("live_rate"));
        assert!(LiveConfig::default().check().is_ok());
    }
}
