//! Per-token request rate limits (requests per minute), kept in memory per instance.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{NaiveDateTime, Timelike};

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
