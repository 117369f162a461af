//! Injected time, so expiry and grace periods are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};

/// The system clock, or a manual offset from it that tests move forward.
#[derive(Clone, Default)]
pub struct Clock {
    offset_us: Arc<AtomicI64>,
}

impl Clock {
    /// Now in UTC, truncated to microseconds (what both backends store).
    pub fn now(&self) -> NaiveDateTime {
        let now = Utc::now() + TimeDelta::microseconds(self.offset_us.load(Ordering::Relaxed));
        truncate(now.naive_utc())
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: TimeDelta) {
        let us = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_us.fetch_add(us, Ordering::Relaxed);
    }
}

pub fn truncate(t: NaiveDateTime) -> NaiveDateTime {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// RFC 3339 with a `Z`, the form every timestamp takes in responses.
pub fn rfc3339(t: NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 timestamp into naive UTC.
pub fn parse_rfc3339(s: &str) -> Result<NaiveDateTime, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| truncate(t.with_timezone(&Utc).naive_utc()))
        .map_err(|_| "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z".to_string())
}

/// Serde: a naive UTC time as `DateTime<Utc>` serialises it.
pub fn serialize_utc<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&t.and_utc(), s)
}
