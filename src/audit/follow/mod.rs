//! Following the audit log as it grows: poll, pass each record on once,
//! survive restarts.
//!
//! Datafold offers no stream or cursor for audit logs, only a time filter. A
//! [`Follower`] polls every [`Follow::interval`] (default 30 s) from a
//! **watermark**, the end of its last completed poll, and re-reads a
//! [`Follow::lag`] (default 5 minutes) before it: poll *n* asks for
//! `[watermark − lag, now]`. A record the server commits late, with a
//! timestamp inside the lag, is therefore still read. Records already passed
//! on are recognised by `event_uuid` and skipped, across polls and, through
//! [`FollowState`], across restarts; the follower remembers only the ids of
//! records whose timestamps lie within the lag before the watermark, so its
//! memory follows the traffic inside the lag, never the run time.
//!
//! **What can still be missed:** a record that becomes visible on the
//! server later than the lag after its own timestamp, counting any
//! difference between the server's clock and this machine's (its timestamp
//! is then before `watermark − lag` when it first shows up, and no poll asks
//! for that time again). Choose the lag longer than the lateness you expect.
//!
//! **Each poll is an export.** A poll reads its range as
//! [`AuditLogsHandler::between`](crate::audit::AuditLogsHandler::between)
//! does: windows sized by density, each response at most
//! [`Follow::max_response_bytes`], records exactly as the server sent them
//! (secrets masked), retries by the client's [`RetryPolicy`](crate::RetryPolicy)
//! and deadlines by its timeout. After a long pause the follower catches up
//! in steps (ten minutes at first, shorter where records are dense, longer
//! where they are sparse, up to a day), one poll after the other, so that the ids it remembers
//! stay bounded.
//!
//! **Failures.** A poll that fails in a way a later poll may not yields
//! [`FollowEvent::PollFailed`] and is tried again after a back-off (the
//! interval, doubling up to 5 minutes or the interval if longer); the
//! records it passed on before failing are not passed on again. That is
//! every failure but those retrying cannot fix: authentication, a refused
//! request or configuration, answers that are not the API's (404, a
//! redirect elsewhere, another status) before any poll of this run has
//! completed (a wrong host), and (after 5 polls in a row) answers that keep
//! changing between attempts; those are returned as `Err`. A body that is
//! not JSON, or breaks off, fails the poll; so does one still arriving after
//! [`Follow::poll_deadline`] or past [`Follow::max_response_bytes`] (a server
//! that sends without end): the next polls then reach less far past the
//! watermark, and the export cuts its windows smaller.
//!
//! **Unreadable records.** A record that is not JSON (or not an object),
//! breaks the schema (a required field missing, a numeric `timestamp`) or
//! has a `timestamp` that cannot be read as a time fails the poll that meets
//! it, so that a body damaged once is simply read again (after the interval,
//! without back-off). Once two polls in a row have failed that way, the
//! next sets aside every unreadable record it meets: it yields
//! [`FollowEvent::Rejected`] with the record ([`UnreadableRecord`]: why,
//! and its JSON with secrets masked when it is JSON), never a
//! [`FollowEvent::Record`], and goes on. Its key (a SHA-256 of its JSON) is
//! kept in the [`FollowState`], so the same record is set aside once,
//! across restarts, for the last [`MAX_REJECTED`] such records; a corrected
//! copy (another body, the same `event_uuid`) is read as any record.
//!
//! **Changing the lag.** A follower resumed with a longer lag than the state
//! was saved with reads no earlier than the old lag reached: records before
//! that were passed on (or given up) already, and are no longer remembered.
//!
//! **Saving.** [`Follower::state`] may be taken at any moment between two
//! calls of [`Follower::next`]; save it after the records passed on so far
//! are durable. A state saved that way and given to [`Follow::resume_from`]
//! continues with nothing lost and nothing passed on twice. [`Follower::next`]
//! is cancel-safe: a call dropped while it waits (in a `select!` with a
//! shutdown signal, say) loses nothing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), datafold_sdk::Error> {
//! use std::time::Duration;
//! use datafold_sdk::audit::follow::FollowEvent;
//!
//! let client = datafold_sdk::Client::from_env()?;
//! let mut follower = client
//!     .audit_logs()
//!     .follow()
//!     .interval(Duration::from_secs(30))
//!     .lag(Duration::from_secs(300))
//!     .start()?;
//! loop {
//!     match follower.next().await? {
//!         FollowEvent::Record(record) => println!("{}", record.json()),
//!         FollowEvent::Polled(report) => eprintln!("{} new records", report.records),
//!         FollowEvent::PollFailed { error, retry_in } => {
//!             eprintln!("poll failed ({error}); again in {retry_in:?}")
//!         }
//!         FollowEvent::Rejected(unreadable) => {
//!             eprintln!("set aside: {}", unreadable.problem())
//!         }
//!     }
//! }
//! # }
//! ```

mod state;

use std::time::Duration;

use chrono::{DateTime, Utc};
use progenitor_client::ClientInfo;
use tokio::time::Instant;

pub use super::export::UnreadableRecord;
pub use state::{FollowState, MAX_REJECTED};

use super::export::stream::FeedItem;
use super::export::{AuditExport, RawExportEvent, RawExportStream, RawRecord};
use crate::error::{Error, Result};
use crate::generated;
use state::Seen;

/// How often a follower polls unless told otherwise: 30 seconds.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// How far each poll reaches back before the watermark unless told
/// otherwise: 5 minutes.
pub const DEFAULT_LAG: Duration = Duration::from_secs(300);
/// The longest interval: a day.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
/// The longest lag: 7 days.
const MAX_LAG: Duration = Duration::from_secs(7 * 86_400);
/// The longest wait after failed polls: 5 minutes (or the interval).
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first step of a catch-up (ten minutes), and its bounds (a minute, a
/// day), in seconds.
const CATCH_UP_FIRST: i64 = 600;
const CATCH_UP_MIN: i64 = 60;
const CATCH_UP_MAX: i64 = 86_400;
/// The poll that sets unreadable records aside: the third in a row to meet
/// one (the two before it failed on unreadable records).
pub const UNREADABLE_ATTEMPTS: u32 = 3;
/// The shortest deadline of a poll unless told otherwise: 10 minutes (or
/// 20 times the client's timeout, if longer).
const MIN_POLL_DEADLINE: Duration = Duration::from_secs(600);
/// The most polls in a row that may fail with [`Error::Inconsistent`]
/// before it is taken as lasting (a body that changed between attempts is
/// worth another poll; a server that keeps placing records out of their
/// windows is not).
const MAX_INCONSISTENT: u32 = 5;
/// A poll that passes on more records than this halves the next catch-up
/// step (and one with under an eighth of it doubles it): the ids a follower
/// remembers during a poll stay around this many.
const CATCH_UP_RECORDS: u64 = 100_000;

/// A follower being configured; get one with
/// [`AuditLogsHandler::follow`](crate::audit::AuditLogsHandler::follow) and
/// start it with [`Follow::start`]. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use = "a follower does nothing until it is started"]
pub struct Follow {
    api: generated::Client,
    interval: Duration,
    lag: Duration,
    since: Option<DateTime<Utc>>,
    resume: Option<FollowState>,
    passed_on: Vec<(String, DateTime<Utc>)>,
    max_response_bytes: u64,
    poll_deadline: Option<Duration>,
}

impl Follow {
    pub(crate) fn new(api: generated::Client) -> Self {
        Self {
            api,
            interval: DEFAULT_INTERVAL,
            lag: DEFAULT_LAG,
            since: None,
            resume: None,
            passed_on: Vec::new(),
            max_response_bytes: super::export::DEFAULT_MAX_RESPONSE_BYTES,
            poll_deadline: None,
        }
    }

    /// The longest a poll may read its responses before it fails
    /// ([`Error::PollDeadline`]) and is tried again with smaller windows:
    /// what bounds a server that keeps sending (each wait is bounded by the
    /// client's timeout already). Default: 10 minutes, or 20 times
    /// [`ClientBuilder::timeout`](crate::ClientBuilder::timeout) if longer;
    /// at least a second. It counts from the poll's start, the time the
    /// caller takes between calls of [`Follower::next`] included.
    pub fn poll_deadline(mut self, deadline: Duration) -> Self {
        self.poll_deadline = Some(deadline);
        self
    }

    /// How long from the start of one poll to the start of the next, while
    /// caught up. Default [`DEFAULT_INTERVAL`]; more than zero, at most a day.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How far each poll reaches back before the watermark, to read records
    /// committed late. Default [`DEFAULT_LAG`]; at least a second, at most
    /// 7 days.
    pub fn lag(mut self, lag: Duration) -> Self {
        self.lag = lag;
        self
    }

    /// Without a state to resume from, the first watermark: the first poll
    /// reads from `since − lag`. Default: now.
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// Without a state to resume from: records passed on already by other
    /// means, as `(event_uuid, timestamp)`, that the first polls must not
    /// pass on again. This is how a follower takes over from a backfill
    /// without a gap or a repeat: give [`Follow::since`] the newest
    /// timestamp the backfill wrote, and here every record it wrote within
    /// the lag before that (older ones are ignored: no poll reads them).
    /// The first poll then reads from `since − lag`, and passes on only
    /// what the backfill missed, records committed late around its end
    /// among them.
    pub fn passed_on<I, S>(mut self, records: I) -> Self
    where
        I: IntoIterator<Item = (S, DateTime<Utc>)>,
        S: Into<String>,
    {
        self.passed_on
            .extend(records.into_iter().map(|(id, at)| (id.into(), at)));
        self
    }

    /// Continue from a saved state (checked when the follower starts).
    pub fn resume_from(mut self, state: FollowState) -> Self {
        self.resume = Some(state);
        self
    }

    /// The most bytes of body one response is read to; see
    /// [`AuditExport::max_response_bytes`]. A follower never reads a
    /// response past it: one that goes on fails the poll.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Start following. Nothing is requested until [`Follower::next`].
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an interval or lag out of bounds;
    /// [`Error::FollowState`] when the state to resume from belongs to
    /// another host or format version.
    pub fn start(self) -> Result<Follower> {
        let invalid = |message: String| Err(Error::InvalidRequest { message });
        if self.interval.is_zero() || self.interval > MAX_INTERVAL {
            return invalid(format!(
                "the follow interval ({:?}) must be more than zero and at most a day",
                self.interval
            ));
        }
        if self.lag < Duration::from_secs(1) || self.lag > MAX_LAG {
            return invalid(format!(
                "the follow lag ({:?}) must be at least a second and at most 7 days",
                self.lag
            ));
        }
        let poll_deadline = self.poll_deadline.unwrap_or_else(|| {
            MIN_POLL_DEADLINE.max(self.api.inner().timeout().saturating_mul(20))
        });
        if poll_deadline < Duration::from_secs(1) {
            return invalid(format!(
                "the follow poll deadline ({poll_deadline:?}) must be at least a second"
            ));
        }
        let host = self.api.baseurl().to_owned();
        let lag = chrono::Duration::from_std(self.lag).unwrap_or(chrono::Duration::MAX);
        let (watermark, seen_from, seen) = match self.resume {
            Some(state) => state.open(&host)?,
            None => {
                let since = self.since.unwrap_or_else(Utc::now);
                let Some(from) = since.checked_sub_signed(lag).filter(|t| t.timestamp() >= 0)
                else {
                    return invalid(format!(
                        "the follow start ({since}) less the lag is before 1970; start later"
                    ));
                };
                let mut seen = Seen::default();
                for (id, at) in &self.passed_on {
                    if *at >= from {
                        seen.insert(id, *at);
                    }
                }
                (since, from, seen)
            }
        };
        Ok(Follower {
            api: self.api,
            host,
            interval: self.interval,
            lag,
            max_response_bytes: self.max_response_bytes,
            watermark,
            seen_from,
            seen,
            poll: None,
            next_poll_at: Instant::now(),
            step: chrono::Duration::seconds(CATCH_UP_FIRST),
            failures: 0,
            failed_polls: 0,
            inconsistent: 0,
            poll_deadline,
            unreadable_streak: 0,
            completed_any: false,
        })
    }
}

/// What a [`Follower`] yields.
#[derive(Debug)]
pub enum FollowEvent {
    /// A record not passed on before, as the server sent it (compacted,
    /// secrets masked).
    Record(RawRecord),
    /// A poll is complete: every record of its range has been passed on.
    Polled(PollReport),
    /// A poll failed in a way a later one may not; the follower tries again
    /// after `retry_in`.
    PollFailed {
        /// Why the poll failed.
        error: Error,
        /// When the follower polls again.
        retry_in: Duration,
    },
    /// A record that cannot be read was set aside, by the
    /// [`UNREADABLE_ATTEMPTS`]th poll in a row to meet unreadable records:
    /// keep it somewhere for a person to look at; it is not passed on as a
    /// record, nor yielded again (see the [module docs](self)).
    Rejected(UnreadableRecord),
}

/// One completed poll.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollReport {
    /// The range read: from the previous watermark minus the lag…
    pub from: DateTime<Utc>,
    /// …to the new watermark.
    pub to: DateTime<Utc>,
    /// Records passed on.
    pub records: u64,
    /// Records returned again (read by an earlier poll) and skipped.
    pub repeated: u64,
    /// Requests made, retries included.
    pub requests: u64,
    /// Records the server returned with a timestamp outside the range
    /// asked for, by more than the overlap: not passed on (no later poll
    /// asks for that time again). See the
    /// [export's docs](crate::audit::export) on records placed differently.
    pub out_of_range: u64,
    /// How far the new watermark is behind this machine's clock.
    pub behind: Duration,
    /// Records set aside as unreadable ([`FollowEvent::Rejected`]).
    pub rejected: u64,
    /// Polls that failed ([`FollowEvent::PollFailed`]) since the previous
    /// poll completed.
    pub failed_polls: u32,
    /// `event_uuid`s remembered for the polls to come.
    pub remembered: usize,
}

/// A running follower; see the [module docs](self).
#[derive(Debug)]
pub struct Follower {
    api: generated::Client,
    host: String,
    interval: Duration,
    lag: chrono::Duration,
    max_response_bytes: u64,
    watermark: DateTime<Utc>,
    /// From when on `seen` is complete (a poll reads no earlier).
    seen_from: DateTime<Utc>,
    seen: Seen,
    poll: Option<Poll>,
    next_poll_at: Instant,
    /// The longest range of one poll while catching up.
    step: chrono::Duration,
    /// Polls failed in a row, for the back-off (not those that met an
    /// unreadable record: the server answered).
    failures: u32,
    /// Polls failed since the last completed one, for its report.
    failed_polls: u32,
    /// Of those, failed with [`Error::Inconsistent`].
    inconsistent: u32,
    poll_deadline: Duration,
    /// Polls in a row (since the last completed one) that failed on an
    /// unreadable record.
    unreadable_streak: u32,
    /// Whether a poll of this run completed: until one has, answers that
    /// are not the API's (404, a redirect elsewhere, another status) are
    /// taken for a wrong host and returned.
    completed_any: bool,
}

/// The poll in progress.
struct Poll {
    stream: RawExportStream,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Whether `to` was this machine's clock when the poll opened.
    reaches_now: bool,
    opened: Instant,
    records: u64,
    repeated: u64,
    rejected: u64,
}

impl std::fmt::Debug for Poll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poll")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// The next record, poll report or failed poll; waits for the next poll
    /// when the last one is done. Cancel-safe.
    ///
    /// # Errors
    /// Errors that retrying cannot fix (see the [module docs](self)); after
    /// one, stop following.
    pub async fn next(&mut self) -> Result<FollowEvent> {
        loop {
            let Some(poll) = self.poll.as_mut() else {
                tokio::time::sleep_until(self.next_poll_at).await;
                self.poll = self.open_poll()?;
                if self.poll.is_none() {
                    // This machine's clock is behind the watermark.
                    self.next_poll_at = Instant::now() + self.interval;
                }
                continue;
            };
            let item = std::future::poll_fn(|cx| poll.stream.poll_item(cx));
            // A deadline past the end of time is none.
            let item = match poll.opened.checked_add(self.poll_deadline) {
                None => item.await,
                Some(deadline) => match tokio::time::timeout_at(deadline, item).await {
                    Ok(item) => item,
                    Err(_) => Some(Err(Error::PollDeadline {
                        range: format!("{}..{}", poll.from, poll.to),
                        after: self.poll_deadline,
                    })),
                },
            };
            match item {
                Some(Ok(FeedItem::Event(RawExportEvent::Record(record)))) => {
                    if self.seen.contains(record.event_uuid()) {
                        poll.repeated += 1;
                        continue;
                    }
                    let Some(at) = record.at() else {
                        let redactor = self.api.inner().redactor().clone();
                        let unreadable = UnreadableRecord::of_timestamp(record, &redactor);
                        if let Some(event) = self.unreadable(unreadable) {
                            return event;
                        }
                        continue;
                    };
                    self.seen.insert(record.event_uuid(), at);
                    poll.records += 1;
                    return Ok(FollowEvent::Record(record));
                }
                Some(Ok(FeedItem::Unreadable(unreadable))) => {
                    if let Some(event) = self.unreadable(unreadable) {
                        return event;
                    }
                }
                Some(Ok(FeedItem::Event(RawExportEvent::WindowDone(_)))) => {}
                Some(Err(error)) => return self.poll_failed(error),
                None => {
                    if let Some(done) = self.poll.take() {
                        return Ok(FollowEvent::Polled(self.close_poll(done)));
                    }
                }
            }
        }
    }

    /// What to do with a record of the poll in progress that cannot be
    /// read: skip it (set aside already), set it aside, or fail the poll.
    fn unreadable(&mut self, unreadable: UnreadableRecord) -> Option<Result<FollowEvent>> {
        let poll = self.poll.as_mut()?;
        if self.seen.is_rejected(unreadable.key()) {
            poll.repeated += 1;
            return None;
        }
        if self.unreadable_streak + 1 >= UNREADABLE_ATTEMPTS {
            // Polls in a row failed on unreadable records: this one sets
            // aside every one it meets.
            self.seen.reject(unreadable.key());
            poll.rejected += 1;
            return Some(Ok(FollowEvent::Rejected(unreadable)));
        }
        self.unreadable_streak += 1;
        let error = unreadable.error(Some(UNREADABLE_ATTEMPTS - self.unreadable_streak));
        // The server answers: read again at the usual pace, no back-off.
        self.poll = None;
        self.failed_polls = self.failed_polls.saturating_add(1);
        self.next_poll_at = Instant::now() + self.interval;
        Some(Ok(FollowEvent::PollFailed {
            error,
            retry_in: self.interval,
        }))
    }

    /// End the poll in progress with `error`: a failed poll, tried again
    /// after a back-off, or (when retrying cannot fix it) the error.
    fn poll_failed(&mut self, error: Error) -> Result<FollowEvent> {
        self.poll = None;
        if matches!(error, Error::Inconsistent { .. }) {
            self.inconsistent += 1;
        }
        let wrong_host = !self.completed_any
            && matches!(
                error,
                Error::NotFound(_) | Error::Redirect { .. } | Error::UnexpectedStatus(_)
            );
        if wrong_host || !may_pass(&error) || self.inconsistent >= MAX_INCONSISTENT {
            return Err(error);
        }
        if matches!(
            error,
            Error::ResponseTooLarge { .. } | Error::PollDeadline { .. }
        ) {
            // Reach less far past the watermark next time.
            self.step = (self.step / 2).max(chrono::Duration::seconds(1));
        }
        self.failures = self.failures.saturating_add(1);
        self.failed_polls = self.failed_polls.saturating_add(1);
        let retry_in = self.backoff();
        self.next_poll_at = Instant::now() + retry_in;
        Ok(FollowEvent::PollFailed { error, retry_in })
    }

    /// Where the follower stands: save it once the records passed on so far
    /// are durable.
    pub fn state(&self) -> FollowState {
        FollowState::new(&self.host, self.watermark, self.seen_from, &self.seen)
    }

    /// The end of the last completed poll.
    pub fn watermark(&self) -> DateTime<Utc> {
        self.watermark
    }

    /// The next poll's export, or `None` when this machine's clock has not
    /// reached the watermark yet.
    fn open_poll(&mut self) -> Result<Option<Poll>> {
        let now = Utc::now();
        let from = self
            .watermark
            .checked_sub_signed(self.lag)
            .map_or(self.seen_from, |from| from.max(self.seen_from));
        let step_end = self.watermark.checked_add_signed(self.step).unwrap_or(now);
        let to = now.min(step_end);
        if to <= self.watermark {
            return Ok(None);
        }
        let stream = AuditExport::new(self.api.clone(), from, to)
            .max_response_bytes(self.max_response_bytes)
            .feed()
            .raw_events()?;
        Ok(Some(Poll {
            stream,
            from,
            to,
            reaches_now: to == now,
            opened: Instant::now(),
            records: 0,
            repeated: 0,
            rejected: 0,
        }))
    }

    /// Move the watermark to the end of the completed poll.
    fn close_poll(&mut self, poll: Poll) -> PollReport {
        self.failures = 0;
        let failed_polls = std::mem::take(&mut self.failed_polls);
        self.inconsistent = 0;
        self.unreadable_streak = 0;
        self.completed_any = true;
        self.watermark = poll.to;
        if let Some(from) = poll.to.checked_sub_signed(self.lag) {
            self.seen_from = self.seen_from.max(from);
        }
        self.seen.forget_before(self.seen_from);
        if poll.reaches_now {
            // Caught up: the next catch-up starts small again.
            self.step = chrono::Duration::seconds(CATCH_UP_FIRST);
        } else if poll.records > CATCH_UP_RECORDS {
            self.step = (self.step / 2).max(chrono::Duration::seconds(CATCH_UP_MIN));
        } else if poll.records < CATCH_UP_RECORDS / 8 {
            self.step = (self.step * 2).min(chrono::Duration::seconds(CATCH_UP_MAX));
        }
        self.next_poll_at = if poll.reaches_now {
            poll.opened + self.interval
        } else {
            Instant::now()
        };
        PollReport {
            from: poll.from,
            to: poll.to,
            records: poll.records,
            repeated: poll.repeated,
            requests: poll.stream.requests(),
            out_of_range: poll.stream.out_of_range(),
            behind: (Utc::now() - poll.to).to_std().unwrap_or_default(),
            rejected: poll.rejected,
            failed_polls,
            remembered: self.seen.len(),
        }
    }

    /// How long to wait after the latest failed poll.
    fn backoff(&self) -> Duration {
        let cap = MAX_BACKOFF.max(self.interval);
        let doublings = self.failures.saturating_sub(1).min(16);
        self.interval
            .max(Duration::from_secs(1))
            .saturating_mul(1 << doublings)
            .min(cap)
    }
}

/// Whether a later poll may succeed where this one failed: all but
/// authentication and what this side asked for or was configured with.
fn may_pass(error: &Error) -> bool {
    !matches!(
        error,
        Error::MissingApiKey
            | Error::InvalidConfig { .. }
            | Error::InsecureHost { .. }
            | Error::InvalidRequest { .. }
            | Error::Unauthorized(_)
            | Error::Forbidden(_)
            | Error::BadRequest(_)
            | Error::Validation { .. }
            | Error::FollowState { .. }
            | Error::Output { .. }
            | Error::UnsafeFile { .. }
    )
}
