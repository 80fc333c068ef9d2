//! [`FollowState`]: where a [`Follower`](super::Follower) stands, to save and
//! resume from.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The state format this SDK reads and writes.
const VERSION: u32 = 1;

/// How far a [`Follower`](super::Follower) has read, and the records it has
/// already passed on that a later poll may return again.
///
/// Serialize it (it is `serde`-ready, as JSON) **after** the records it
/// covers are durable, and give it back to
/// [`Follow::resume_from`](super::Follow::resume_from): the follower then
/// continues at the watermark, without passing on any record in
/// [`FollowState::seen`] again. A state taken in the middle of a poll is as
/// good as one taken after it (the watermark is the last completed poll's;
/// the records of the poll in progress are in the seen set).
///
/// Its size grows with the records whose timestamps lie within the lag
/// before the watermark (and, during a poll, with the poll's records), never
/// with run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowState {
    /// Format version (1); another is refused.
    version: u32,
    /// The API host the records were read from.
    host: String,
    /// Every record with a timestamp before `watermark - lag` has been read,
    /// as far as the server had committed it when it was asked.
    watermark: DateTime<Utc>,
    /// From when on `seen` is complete: a follower resumed with a longer lag
    /// reads no earlier than this (records before it were passed on, or
    /// given up, under the shorter lag).
    seen_from: DateTime<Utc>,
    /// `event_uuid`s passed on, with their times (microseconds since the
    /// epoch).
    seen: Vec<(String, i64)>,
    /// The keys ([`UnreadableRecord::key`](crate::audit::export::UnreadableRecord::key))
    /// of records set aside as unreadable, oldest first: never passed on,
    /// nor set aside again. At most [`MAX_REJECTED`].
    #[serde(default)]
    rejected: Vec<String>,
}

/// The most records set aside as unreadable that a follower remembers
/// (the oldest are forgotten first: one the server still returns after
/// that is set aside again).
pub const MAX_REJECTED: usize = 10_000;

impl FollowState {
    pub(crate) fn new(
        host: &str,
        watermark: DateTime<Utc>,
        seen_from: DateTime<Utc>,
        seen: &Seen,
    ) -> Self {
        let mut ids: Vec<(String, i64)> = seen
            .ids
            .iter()
            .map(|(id, at)| (id.to_string(), *at))
            .collect();
        // A stable order: the same state saves as the same bytes.
        ids.sort_unstable_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Self {
            version: VERSION,
            host: host.to_owned(),
            watermark,
            seen_from,
            seen: ids,
            rejected: seen.rejected_order.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// The host the state's records were read from.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where the next poll starts, before the lag is taken off.
    pub fn watermark(&self) -> DateTime<Utc> {
        self.watermark
    }

    /// How many `event_uuid`s the state remembers.
    pub fn seen(&self) -> usize {
        self.seen.len()
    }

    /// How many records set aside as unreadable the state remembers.
    pub fn rejected(&self) -> usize {
        self.rejected.len()
    }

    /// Check that this state is one this SDK wrote for `host`, and give its
    /// watermark, the time its seen set is complete from, and the set.
    pub(crate) fn open(self, host: &str) -> Result<(DateTime<Utc>, DateTime<Utc>, Seen)> {
        if self.version != VERSION {
            return Err(refused(format!(
                "it has format version {}, and this datafold-sdk reads version {VERSION}; \
                 start without it (the first poll reads from --since, or the lag before now)",
                self.version
            )));
        }
        if self.host != host {
            return Err(refused(format!(
                "it belongs to another host ({}, not {host}); give the host it was saved with \
                 (--host or DATAFOLD_HOST), or another state file",
                self.host
            )));
        }
        let far_future = Utc::now() + chrono::Duration::days(1);
        if self.seen_from > self.watermark || self.watermark.timestamp() < 0 {
            return Err(refused(format!(
                "its watermark ({}) or seen_from ({}) cannot be right; start without it",
                self.watermark, self.seen_from
            )));
        }
        if self.watermark > far_future {
            return Err(refused(format!(
                "its watermark ({}) lies more than a day ahead of this machine's clock; check \
                 the clock, or start without the state",
                self.watermark
            )));
        }
        let mut seen = Seen::default();
        for (id, at) in self.seen {
            seen.ids.insert(id.into_boxed_str(), at);
        }
        for key in self.rejected {
            seen.reject(&key);
        }
        Ok((self.watermark, self.seen_from, seen))
    }
}

fn refused(problem: String) -> Error {
    Error::FollowState { problem }
}

/// The `event_uuid`s passed on that a later poll may return again, with the
/// time each counts at (microseconds since the epoch).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    ids: HashMap<Box<str>, i64>,
    /// Keys of records set aside as unreadable, and their order.
    rejected: HashSet<Box<str>>,
    rejected_order: VecDeque<Box<str>>,
}

impl Seen {
    /// Whether the record with this key was set aside already.
    pub(crate) fn is_rejected(&self, key: &str) -> bool {
        self.rejected.contains(key)
    }

    /// Remember that the record with this key was set aside (forgetting the
    /// oldest beyond [`MAX_REJECTED`]).
    pub(crate) fn reject(&mut self, key: &str) {
        if !self.rejected.insert(key.into()) {
            return;
        }
        self.rejected_order.push_back(key.into());
        while self.rejected_order.len() > MAX_REJECTED {
            if let Some(oldest) = self.rejected_order.pop_front() {
                self.rejected.remove(&oldest);
            }
        }
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    pub(crate) fn insert(&mut self, id: &str, at: DateTime<Utc>) {
        self.ids.insert(id.into(), at.timestamp_micros());
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Forget the records no poll from `from` on can return.
    pub(crate) fn forget_before(&mut self, from: DateTime<Utc>) {
        let from = from.timestamp_micros();
        self.ids.retain(|_, at| *at >= from);
        // Give back what a catch-up poll took: memory follows the lag.
        if self.ids.capacity() > 4 * self.ids.len().max(1024) {
            self.ids.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_state_round_trips_and_refuses_another_host_or_version() {
        let mut seen = Seen::default();
        seen.insert("b", at(100));
        seen.insert("a", at(90));
        let state = FollowState::new("https://app.datafold.com", at(120), at(60), &seen);
        let json = serde_json::to_string(&state).unwrap();
        let back: FollowState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        let (watermark, seen_from, seen) = back.clone().open("https://app.datafold.com").unwrap();
        assert_eq!((watermark, seen_from), (at(120), at(60)));
        assert!(seen.contains("a") && seen.contains("b") && !seen.contains("c"));

        let other = back.clone().open("https://other.example").unwrap_err();
        assert_eq!(back.rejected(), 0);
        assert!(other.to_string().contains("another host"), "{other}");
        let mut newer = back;
        newer.version = 2;
        let version = newer.open("https://app.datafold.com").unwrap_err();
        assert!(
            version.to_string().contains("format version 2"),
            "{version}"
        );
    }

    #[test]
    fn forgetting_keeps_what_a_later_poll_can_return() {
        let mut seen = Seen::default();
        for i in 0..10 {
            seen.insert(&format!("id{i}"), at(i));
        }
        seen.forget_before(at(7));
        assert_eq!(seen.len(), 3);
        assert!(seen.contains("id7") && !seen.contains("id6"));
    }
}

#[cfg(test)]
mod rejected_tests {
    use super::*;

    #[test]
    fn set_aside_records_are_kept_across_a_save_and_bounded() {
        let mut seen = Seen::default();
        for i in 0..MAX_REJECTED + 5 {
            seen.reject(&format!("sha256:{i}"));
        }
        seen.reject("sha256:9"); // again: no change
        let at = DateTime::from_timestamp(100, 0).unwrap();
        let state = FollowState::new("h", at, at, &seen);
        assert_eq!(state.rejected(), MAX_REJECTED);
        let json = serde_json::to_string(&state).unwrap();
        let (_, _, back) = serde_json::from_str::<FollowState>(&json)
            .unwrap()
            .open("h")
            .unwrap();
        // The oldest five were forgotten, the rest kept in order.
        assert!(!back.is_rejected("sha256:4") && back.is_rejected("sha256:5"));
        assert!(back.is_rejected(&format!("sha256:{}", MAX_REJECTED + 4)));
        // A state saved before this field existed reads as none set aside.
        let older = json.replace(r#","rejected":[]"#, "");
        let mut value: serde_json::Value = serde_json::from_str(&older).unwrap();
        value.as_object_mut().unwrap().remove("rejected");
        let old: FollowState = serde_json::from_value(value).unwrap();
        assert_eq!(old.rejected(), 0);
    }
}
