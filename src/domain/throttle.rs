//! The rules of the limits, whatever keeps their counts: sign-in throttling, the
//! size of the share of a budget an instance takes at once.

use chrono::{NaiveDateTime, TimeDelta};

/// Failed sign-ins for one username before it must wait.
pub const LOGIN_MAX_PER_USER: usize = 5;
/// Failed sign-ins from one address before it must wait.
pub const LOGIN_MAX_PER_ADDRESS: usize = 20;
/// How long a failed sign-in counts.
pub const LOGIN_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// The keys a sign-in attempt is counted under, with their maxima.
pub fn login_keys(username: &str, address: Option<std::net::IpAddr>) -> [(String, usize); 2] {
    [
        (
            format!("user:{}", username.to_lowercase()),
            LOGIN_MAX_PER_USER,
        ),
        (
            format!(
                "addr:{}",
                address.map(|a| a.to_string()).unwrap_or_default()
            ),
            LOGIN_MAX_PER_ADDRESS,
        ),
    ]
}

/// Seconds to wait before trying again, given the failures under one key within the
/// window (oldest first): until the oldest of the last `max` leaves the window.
pub fn login_wait(failures: &[NaiveDateTime], max: usize, now: NaiveDateTime) -> Option<u64> {
    let recent: Vec<_> = failures
        .iter()
        .filter(|t| now - **t < LOGIN_WINDOW)
        .collect();
    if recent.len() < max {
        return None;
    }
    let until = *recent[recent.len() - max] + LOGIN_WINDOW;
    Some((until - now).num_seconds().max(1) as u64)
}

/// How much of a window's budget of `limit` an instance takes at once: an eighth,
/// between 1 and 64. A share taken and not spent is lost to the other instances
/// until the window ends, so it stays small; a budget of 8 or less is taken one
/// unit at a time, exactly.
pub fn lease(limit: i64) -> i64 {
    (limit / 8).clamp(1, 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(s: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            + TimeDelta::seconds(s)
    }

    #[test]
    fn five_failures_make_the_user_wait_until_the_oldest_leaves_the_window() {
        let failures: Vec<_> = (0..5).map(t).collect();
        assert_eq!(login_wait(&failures[..4], 5, t(10)), None);
        assert_eq!(login_wait(&failures, 5, t(10)), Some(890));
        assert_eq!(login_wait(&failures, 5, t(900)), None, "the oldest left");
        assert_eq!(login_wait(&failures, 5, t(899)), Some(1));
    }

    #[test]
    fn leases_are_small_shares() {
        assert_eq!(lease(1), 1);
        assert_eq!(lease(8), 1);
        assert_eq!(lease(60), 7);
        assert_eq!(lease(100_000), 64);
    }
}
