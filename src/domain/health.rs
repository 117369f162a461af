//! Integration health, the rules: how often a mapping's application is expected to
//! call, when a mapping is overdue ("silent"), failing or its token expiring, and
//! the buckets the running aggregates count calls in. No SQL, no HTTP.

use chrono::{DurationRound, NaiveDateTime, TimeDelta};

use crate::domain::endpoint::Method;

/// The shortest expected cadence: a minute.
pub const MIN_EXPECT_SECONDS: i64 = 60;
/// The longest: 31 days.
pub const MAX_EXPECT_SECONDS: i64 = 31 * 86_400;
/// A token expiring within this many days is `expiring`.
pub const EXPIRING_DAYS: i64 = 14;
/// The refusals of one mapping in one window of this length make a spike.
pub const SPIKE_WINDOW: TimeDelta = TimeDelta::minutes(5);
/// The hourly buckets kept (a day and the hour under way).
pub const HOURS_KEPT: i64 = 25;

/// An expected cadence, in seconds: between a minute and 31 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectEvery(i64);

impl ExpectEvery {
    pub fn parse(seconds: i64) -> Result<Self, String> {
        if (MIN_EXPECT_SECONDS..=MAX_EXPECT_SECONDS).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(format!(
                "must be a whole number of seconds from {MIN_EXPECT_SECONDS} to {MAX_EXPECT_SECONDS} (31 days)"
            ))
        }
    }

    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// A mapping's key, as subjects and aggregates name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MappingKey {
    pub token_id: i64,
    pub endpoint_id: i64,
    pub method: Method,
}

impl MappingKey {
    /// The event subject: `mapping:{token_id}:{endpoint_id}:{method}`.
    pub fn subject(&self) -> String {
        format!(
            "mapping:{}:{}:{}",
            self.token_id, self.endpoint_id, self.method
        )
    }
}

/// The event subject of token `id`: `token:{id}`.
pub fn token_subject(id: i64) -> String {
    format!("token:{id}")
}

/// The hour bucket of `at`.
pub fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// The 5-minute window of `at`.
pub fn window_of(at: NaiveDateTime) -> NaiveDateTime {
    at.duration_trunc(SPIKE_WINDOW).unwrap_or(at)
}

/// The first hour bucket counted as "the last 24 hours" at `now`: the hour of
/// `now - 24 h` (so the figures cover at least 24 and at most 25 hours).
pub fn day_start(now: NaiveDateTime) -> NaiveDateTime {
    hour_of(now - TimeDelta::hours(24))
}

/// When a mapping expected every `every` seconds is overdue: `every` after the
/// later of its last call and `since` (when it was created or the expectation set).
pub fn overdue_at(
    every: i64,
    since: NaiveDateTime,
    last_call: Option<NaiveDateTime>,
) -> NaiveDateTime {
    let base = last_call.map_or(since, |l| l.max(since));
    base + TimeDelta::seconds(every)
}

/// Whether a mapping overdue at `overdue` is silent at `now`, to the second (as
/// the database compares them).
pub fn is_overdue(overdue: NaiveDateTime, now: NaiveDateTime) -> bool {
    overdue.and_utc().timestamp() <= now.and_utc().timestamp()
}

/// A token's expiry as the Health page tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    None,
    Fine,
    /// Within [`EXPIRING_DAYS`].
    Expiring,
    Expired,
}

pub fn expiry(expires_at: Option<NaiveDateTime>, now: NaiveDateTime) -> Expiry {
    match expires_at {
        None => Expiry::None,
        Some(t) if t <= now => Expiry::Expired,
        Some(t) if t <= now + TimeDelta::days(EXPIRING_DAYS) => Expiry::Expiring,
        Some(_) => Expiry::Fine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    #[test]
    fn cadence_is_bounded() {
        assert!(ExpectEvery::parse(59).is_err());
        assert_eq!(ExpectEvery::parse(60).unwrap().seconds(), 60);
        assert!(ExpectEvery::parse(MAX_EXPECT_SECONDS).is_ok());
        assert!(ExpectEvery::parse(MAX_EXPECT_SECONDS + 1).is_err());
    }

    #[test]
    fn overdue_counts_from_the_later_of_the_last_call_and_the_expectation() {
        let set = at(14, 0, 0);
        assert_eq!(overdue_at(120, set, None), at(14, 2, 0));
        assert_eq!(overdue_at(120, set, Some(at(13, 0, 0))), at(14, 2, 0));
        assert_eq!(overdue_at(120, set, Some(at(14, 5, 0))), at(14, 7, 0));
    }

    #[test]
    fn buckets_and_expiry() {
        assert_eq!(hour_of(at(14, 59, 59)), at(14, 0, 0));
        assert_eq!(window_of(at(14, 7, 3)), at(14, 5, 0));
        assert_eq!(
            day_start(at(14, 30, 0)),
            at(14, 0, 0) - TimeDelta::hours(24)
        );
        let now = at(12, 0, 0);
        assert_eq!(expiry(None, now), Expiry::None);
        assert_eq!(expiry(Some(now), now), Expiry::Expired);
        assert_eq!(
            expiry(Some(now + TimeDelta::days(14)), now),
            Expiry::Expiring
        );
        assert_eq!(expiry(Some(now + TimeDelta::days(15)), now), Expiry::Fine);
        let key = MappingKey {
            token_id: 3,
            endpoint_id: 1,
            method: Method::Post,
        };
        assert_eq!(key.subject(), "mapping:3:1:POST");
        assert_eq!(token_subject(3), "token:3");
    }
}
