//! The token lifetime policy: the expiry a new secondary token gets when none is
//! given, and the furthest expiry any token may be given. Pure rules: the moment
//! (`now`) is always passed in.

use chrono::{NaiveDateTime, TimeDelta};

use super::bounded::Bounded;

/// A policy's number of days: 1 to 3650 (ten years).
pub type PolicyDays = Bounded<1, 3650>;

/// How long a renewal extends a token when the policy names no default: a year,
/// as Cloudflare Access's Refresh does.
pub const RENEWAL_DAYS: i64 = 365;

/// A valid policy: a default within the maximum, and a default whenever there is a
/// maximum (a token created without an expiry must get one within it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    default_expiry_days: Option<PolicyDays>,
    max_lifetime_days: Option<PolicyDays>,
}

/// What is wrong with a proposed policy: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

/// An expiry the policy refuses: the maximum it exceeds, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifetimeExceeded {
    pub max_days: i64,
    /// The furthest expiry allowed at the moment of the check.
    pub latest: NaiveDateTime,
}

impl LifetimeExceeded {
    /// "a token may live at most 365 days (an expiry on or before 2027-11-29 12:00 UTC)".
    pub fn detail(&self, what: &str) -> String {
        format!(
            "{what}: the token lifetime policy allows at most {} (an expiry on or before {} UTC)",
            days(self.max_days),
            self.latest.format("%Y-%m-%d %H:%M")
        )
    }
}

/// "1 day", "365 days".
pub fn days(n: i64) -> String {
    format!("{n} day{}", if n == 1 { "" } else { "s" })
}

fn parse_days(field: &'static str, v: Option<i64>) -> Result<Option<PolicyDays>, Invalid> {
    v.map(|n| {
        PolicyDays::parse(n).map_err(|message| Invalid {
            field,
            message: format!("{message} (or null: none)"),
        })
    })
    .transpose()
}

impl TokenPolicy {
    pub fn parse(
        default_expiry_days: Option<i64>,
        max_lifetime_days: Option<i64>,
    ) -> Result<Self, Invalid> {
        let default = parse_days("default_expiry_days", default_expiry_days)?;
        let max = parse_days("max_lifetime_days", max_lifetime_days)?;
        match (default, max) {
            (Some(d), Some(m)) if d.get() > m.get() => Err(Invalid {
                field: "default_expiry_days",
                message: format!(
                    "must be at most the maximum lifetime ({})",
                    days(m.get())
                ),
            }),
            (None, Some(m)) => Err(Invalid {
                field: "default_expiry_days",
                message: format!(
                    "is required with a maximum lifetime: tokens created without an expiry need one of at most {}",
                    days(m.get())
                ),
            }),
            _ => Ok(Self {
                default_expiry_days: default,
                max_lifetime_days: max,
            }),
        }
    }

    pub fn default_expiry_days(&self) -> Option<i64> {
        self.default_expiry_days.map(PolicyDays::get)
    }

    pub fn max_lifetime_days(&self) -> Option<i64> {
        self.max_lifetime_days.map(PolicyDays::get)
    }

    /// The expiry of a token created at `now` without one (`None`: it never expires).
    pub fn default_expiry(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.default_expiry_days
            .map(|d| now + TimeDelta::days(d.get()))
    }

    /// The furthest expiry a token may be given at `now` (`None`: no limit).
    pub fn latest(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.max_lifetime_days
            .map(|m| now + TimeDelta::days(m.get()))
    }

    /// Whether a token may be given `expires_at` (`None`: never) at `now`.
    pub fn check(
        &self,
        expires_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Result<(), LifetimeExceeded> {
        let (Some(max), Some(latest)) = (self.max_lifetime_days, self.latest(now)) else {
            return Ok(());
        };
        match expires_at {
            Some(at) if at <= latest => Ok(()),
            _ => Err(LifetimeExceeded {
                max_days: max.get(),
                latest,
            }),
        }
    }

    /// The expiry a renewal at `now` gives: the default (a year without one), never
    /// beyond the maximum.
    pub fn renewal(&self, now: NaiveDateTime) -> NaiveDateTime {
        let wanted = self
            .default_expiry(now)
            .unwrap_or(now + TimeDelta::days(RENEWAL_DAYS));
        match self.latest(now) {
            Some(latest) => wanted.min(latest),
            None => wanted,
        }
    }

    /// The expiry a renewal for `days` from `now` gives, if the policy allows it.
    pub fn renewal_for(
        &self,
        days: i64,
        now: NaiveDateTime,
    ) -> Result<NaiveDateTime, LifetimeExceeded> {
        let at = now + TimeDelta::days(days);
        self.check(Some(at), now).map(|()| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        "2026-12-01T12:00:00".parse().unwrap()
    }

    #[test]
    fn a_policy_needs_its_default_within_its_maximum() {
        let p = TokenPolicy::parse(Some(90), Some(365)).unwrap();
        assert_eq!(
            (p.default_expiry_days(), p.max_lifetime_days()),
            (Some(90), Some(365))
        );
        assert!(TokenPolicy::parse(Some(365), None).is_ok());
        assert!(TokenPolicy::parse(None, None).is_ok());
        let beyond = TokenPolicy::parse(Some(400), Some(365)).unwrap_err();
        assert_eq!(beyond.field, "default_expiry_days");
        assert!(beyond.message.contains("365 days"), "{}", beyond.message);
        assert_eq!(
            TokenPolicy::parse(None, Some(30)).unwrap_err().field,
            "default_expiry_days"
        );
        assert_eq!(
            TokenPolicy::parse(Some(0), None).unwrap_err().field,
            "default_expiry_days"
        );
        assert_eq!(
            TokenPolicy::parse(Some(1), Some(3651)).unwrap_err().field,
            "max_lifetime_days"
        );
    }

    #[test]
    fn the_default_applies_and_the_maximum_refuses_later_or_no_expiry() {
        let p = TokenPolicy::parse(Some(30), Some(365)).unwrap();
        assert_eq!(p.default_expiry(now()), Some(now() + TimeDelta::days(30)));
        assert!(p.check(Some(now() + TimeDelta::days(365)), now()).is_ok());
        let e = p
            .check(Some(now() + TimeDelta::days(366)), now())
            .unwrap_err();
        assert_eq!(e.max_days, 365);
        assert!(
            e.detail("x").contains("at most 365 days"),
            "{}",
            e.detail("x")
        );
        assert!(e.detail("x").contains("2027-12-01 12:00 UTC"));
        assert!(
            p.check(None, now()).is_err(),
            "never expiring is beyond any maximum"
        );
        let open = TokenPolicy::parse(None, None).unwrap();
        assert_eq!(open.default_expiry(now()), None);
        assert!(open.check(None, now()).is_ok());
    }

    #[test]
    fn a_renewal_follows_the_default_capped_at_the_maximum() {
        let year = now() + TimeDelta::days(365);
        assert_eq!(TokenPolicy::parse(None, None).unwrap().renewal(now()), year);
        let p = TokenPolicy::parse(Some(90), Some(180)).unwrap();
        assert_eq!(p.renewal(now()), now() + TimeDelta::days(90));
        assert_eq!(p.renewal_for(180, now()), Ok(now() + TimeDelta::days(180)));
        assert!(p.renewal_for(181, now()).is_err());
    }
}
