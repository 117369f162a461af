//! The limits as one process counts them, in memory: per-token requests per minute
//! and the invalid-token throttle per address. Exact where one process serves the
//! database (SQLite); on PostgreSQL the throttle keeps the blocks every instance
//! learns of here, and the counting is shared (`super::shared`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use chrono::{NaiveDateTime, TimeDelta, Timelike};

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<i64, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts one request of `token_id` against `per_minute`; on refusal returns
    /// the seconds until the current minute's window ends.
    pub fn check(&self, token_id: i64, per_minute: u32, now: NaiveDateTime) -> Result<(), u64> {
        let minute = now.and_utc().timestamp().div_euclid(60);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let entry = windows.entry(token_id).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= per_minute {
            return Err(u64::from(60 - now.second()).max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn refuses_past_the_limit_until_the_next_minute() {
        let t = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, 0, 45)
            .unwrap();
        let l = RateLimiter::default();
        assert!(l.check(1, 2, t).is_ok());
        assert!(l.check(1, 2, t).is_ok());
        assert_eq!(l.check(1, 2, t), Err(15));
        assert!(l.check(2, 2, t).is_ok(), "other tokens are unaffected");
        let next = t + chrono::TimeDelta::seconds(15);
        assert!(l.check(1, 2, next).is_ok());
    }
}

/// Slows token guessing and misconfigured clients: once one address has sent
/// `limit` requests with an invalid token (malformed, unknown or deactivated)
/// within a minute, every ingest request from that address is refused with 429
/// for `BLOCK`, before any lookup. Other addresses are unaffected.
pub struct FailedTokenThrottle {
    limit: u32,
    addresses: Mutex<HashMap<IpAddr, Failures>>,
    /// When the latest block ends (Unix seconds): before any block, and once all
    /// have ended, `check` answers without taking the lock.
    blocks_until: AtomicI64,
}

/// One address: the start of its counting window, failures in it, blocked until.
type Failures = (NaiveDateTime, u32, Option<NaiveDateTime>);

impl FailedTokenThrottle {
    pub const WINDOW: TimeDelta = TimeDelta::minutes(1);
    pub const BLOCK: TimeDelta = TimeDelta::minutes(1);

    /// `limit` failures per minute per address; 0 turns the throttle off.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            addresses: Mutex::default(),
            blocks_until: AtomicI64::new(i64::MIN),
        }
    }

    /// `Err(seconds)` while `address` is blocked.
    pub fn check(&self, address: Option<IpAddr>, now: NaiveDateTime) -> Result<(), u64> {
        let Some(address) = address.filter(|_| self.limit > 0) else {
            return Ok(());
        };
        if now.and_utc().timestamp() > self.blocks_until.load(Ordering::Relaxed) {
            return Ok(());
        }
        let map = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&address) {
            Some((_, _, Some(until))) if *until > now => {
                Err((*until - now).num_seconds().max(1) as u64)
            }
            _ => Ok(()),
        }
    }

    /// Blocks `address` until `until` (a block decided elsewhere: another instance, or
    /// this one's shared count).
    pub fn block(&self, address: IpAddr, until: NaiveDateTime) {
        let mut map = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(address).or_insert((until, 0, None));
        if entry.2.is_none_or(|u| u < until) {
            entry.2 = Some(until);
            entry.0 = until;
            entry.1 = 0;
        }
        self.blocks_until
            .fetch_max(until.and_utc().timestamp(), Ordering::Relaxed);
    }

    /// Whether the throttle counts at all (a limit of 0 turns it off).
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts one invalid-token request from `address`.
    pub fn failed(&self, address: Option<IpAddr>, now: NaiveDateTime) {
        let Some(address) = address.filter(|_| self.limit > 0) else {
            return;
        };
        let mut map = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _, until)| {
                now - *start < Self::WINDOW || until.is_some_and(|u| u > now)
            });
        }
        let entry = map.entry(address).or_insert((now, 0, None));
        if now - entry.0 >= Self::WINDOW {
            *entry = (now, 0, None);
        }
        entry.1 += 1;
        if entry.1 >= self.limit {
            let until = now + Self::BLOCK;
            entry.2 = Some(until);
            self.blocks_until
                .fetch_max(until.and_utc().timestamp(), Ordering::Relaxed);
            // The next window starts when the block ends.
            entry.0 = now + Self::BLOCK;
            entry.1 = 0;
        }
    }
}

#[cfg(test)]
mod failed_token_tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn blocks_an_address_after_its_limit_for_the_block_period() {
        let t = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let a = Some("10.0.0.1".parse().unwrap());
        let b = Some("10.0.0.2".parse().unwrap());
        let th = FailedTokenThrottle::new(3);
        for _ in 0..2 {
            th.failed(a, t);
        }
        assert!(th.check(a, t).is_ok(), "below the limit");
        th.failed(a, t);
        assert_eq!(th.check(a, t), Err(60));
        assert!(th.check(b, t).is_ok(), "other addresses are unaffected");
        assert_eq!(th.check(a, t + TimeDelta::seconds(59)), Err(1));
        assert!(th.check(a, t + FailedTokenThrottle::BLOCK).is_ok());
        // Failures spread wider than the window never add up to a block.
        let later = t + TimeDelta::minutes(5);
        th.failed(b, later);
        th.failed(b, later);
        th.failed(b, later + TimeDelta::seconds(61));
        assert!(th.check(b, later + TimeDelta::seconds(61)).is_ok());
        let off = FailedTokenThrottle::new(0);
        for _ in 0..10 {
            off.failed(a, t);
        }
        assert!(off.check(a, t).is_ok(), "0 turns it off");
    }
}
