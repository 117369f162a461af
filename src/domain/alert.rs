//! Alerts: where events go (a target's address, the kinds it subscribes to, its
//! signing secret), what is sent (the Standard Webhooks body) and when a failed
//! delivery is tried again (exponential backoff with jitter, for a bounded time).

use std::fmt;
use std::time::Duration;

use base64::Engine;
use chrono::{NaiveDateTime, TimeDelta};
use rand::RngCore;

use super::event::EventKind;
use super::names::names;

names!(
    /// Where a delivery stands: being tried (now or later), answered 2xx, given up.
    pub enum DeliveryState refusing "is not a delivery state" {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
);

/// The longest address a target may have.
pub const MAX_URL: usize = 2048;

/// A target's address: `http` or `https`, with a host, without credentials (the
/// signature authenticates Portico; a password in the address would be shown in
/// every listing) and without a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(String);

impl TargetUrl {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.len() > MAX_URL {
            return Err(format!("must be at most {MAX_URL} characters"));
        }
        let url = url::Url::parse(value).map_err(|e| format!("is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must start with http:// or https://".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user or password (deliveries are signed)".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment".into());
        }
        Ok(Self(url.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The kinds a target subscribes to: a non-empty set of subscribable kinds, kept
/// in the order [`EventKind::ALL`] lists them and stored space-separated.
#[derive(Debug, Clone, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct EventSet {
    text: String,
}

impl EventSet {
    /// The set of `names`; an unknown name, `test` or none at all is refused, with
    /// the index of the offending entry when there is one.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, (Option<usize>, String)> {
        let mut kinds = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let kind: EventKind = name.as_ref().parse().map_err(|e| (Some(i), e))?;
            if kind == EventKind::Test {
                return Err((
                    Some(i),
                    "cannot be subscribed to (it is sent by hand)".into(),
                ));
            }
            kinds.push(kind);
        }
        if kinds.is_empty() {
            return Err((
                None,
                format!(
                    "must name at least one of: {}",
                    EventKind::subscribable()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let text = EventKind::ALL
            .iter()
            .filter(|k| kinds.contains(k))
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Self { text })
    }

    pub fn kinds(&self) -> Vec<EventKind> {
        self.text
            .split(' ')
            .filter_map(|k| k.parse().ok())
            .collect()
    }

    pub fn contains(&self, kind: EventKind) -> bool {
        self.text.split(' ').any(|k| k == kind.as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::str::FromStr for EventSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let names: Vec<&str> = s.split(' ').collect();
        Self::parse(&names).map_err(|(_, e)| e)
    }
}

const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A target's signing secret, `whsec_` and the base64 of random bytes, as the
/// Standard Webhooks specification writes it. Printed only as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        Self(format!("{SECRET_PREFIX}{b64}"))
    }

    /// A secret read back from its sealed form.
    pub fn from_opened(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `whsec_AbCd…wXyZ`: enough to tell two secrets apart, never enough to sign.
    pub fn hint(&self) -> String {
        let body = self.0.strip_prefix(SECRET_PREFIX).unwrap_or(&self.0);
        let head: String = body.chars().take(4).collect();
        let tail: String = body
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{SECRET_PREFIX}{head}…{tail}")
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure; it doubles after each next one.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub cap: Duration,
    /// How long after its creation a delivery is given up.
    pub give_up_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failure (1 for the first): `base` doubled
    /// for each failure before, at most `cap`, scaled by `jitter` (0.75 to 1.25,
    /// so instances and targets do not retry in step).
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doubled = self.base.saturating_mul(
            1u32.checked_shl(failures.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        doubled.min(self.cap).mul_f64(jitter.clamp(0.75, 1.25))
    }

    /// When to try a delivery created at `created` again after its `failures`-th
    /// failure at `now`: `None` when that would be past `give_up_after` (failed).
    pub fn next_attempt(
        &self,
        created: NaiveDateTime,
        now: NaiveDateTime,
        failures: u32,
        jitter: f64,
    ) -> Option<NaiveDateTime> {
        let wait = TimeDelta::from_std(self.delay(failures, jitter)).ok()?;
        let limit = TimeDelta::from_std(self.give_up_after).ok()?;
        let next = now + wait;
        (next <= created + limit).then_some(next)
    }
}

/// How alerts are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertSettings {
    pub backoff: Backoff,
    /// How long a target has to answer one attempt.
    pub timeout: Duration,
    /// How often the dispatcher looks for new events and due deliveries.
    pub poll: Duration,
    /// Deliveries in flight at once, per instance.
    pub concurrency: usize,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            concurrency: 8,
        }
    }
}

/// A random factor for [`Backoff::delay`].
pub fn jitter() -> f64 {
    0.75 + rand::random::<f64>() * 0.5
}

/// The body of a delivery, as Standard Webhooks suggests: the event's kind as
/// `type`, when it was raised and its data.
pub fn body(kind: EventKind, at: NaiveDateTime, data: &serde_json::Value) -> String {
    serde_json::json!({
        "type": kind.as_str(),
        "timestamp": at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// The `webhook-id` of a delivery: the same on every attempt, so a receiver can
/// drop a repeat it already handled.
pub fn message_id(delivery_id: i64) -> String {
    format!("msg_portico_{delivery_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_http_with_a_host_and_no_credentials() {
        assert!(TargetUrl::parse("https://hooks.example.com/portico?x=1").is_ok());
        assert!(TargetUrl::parse(" http://127.0.0.1:9000/in ").is_ok());
        for bad in [
            "ftp://example.com/",
            "not a url",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "mailto:a@example.com",
            "",
        ] {
            assert!(TargetUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(TargetUrl::parse(&format!("https://e.com/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn event_sets_are_non_empty_known_subscribable_and_ordered() {
        let s = EventSet::parse(&["token_expired", "mapping_silent", "token_expired"]).unwrap();
        assert_eq!(s.as_str(), "mapping_silent token_expired");
        assert!(s.contains(EventKind::MappingSilent));
        assert!(!s.contains(EventKind::RefusalsSpike));
        assert_eq!(s.as_str().parse::<EventSet>(), Ok(s.clone()));
        assert_eq!(
            EventSet::parse(&["mapping_silent", "nope"]).unwrap_err().0,
            Some(1)
        );
        assert_eq!(EventSet::parse(&["test"]).unwrap_err().0, Some(0));
        assert_eq!(EventSet::parse::<&str>(&[]).unwrap_err().0, None);
    }

    #[test]
    fn secrets_follow_standard_webhooks_and_never_print() {
        let s = SigningSecret::generate();
        assert!(s.expose().starts_with("whsec_"));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&s.expose()[6..])
            .unwrap();
        assert!((24..=64).contains(&raw.len()));
        assert!(standardwebhooks::Webhook::new(s.expose()).is_ok());
        assert!(!format!("{s:?}").contains(&s.expose()[6..]));
        assert_eq!(s.hint().chars().count(), "whsec_".len() + 9);
        assert_ne!(s, SigningSecret::generate());
    }

    #[test]
    fn backoff_doubles_is_capped_jittered_and_gives_up() {
        let b = Backoff {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(60),
            give_up_after: Duration::from_secs(100),
        };
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(10));
        assert_eq!(b.delay(3, 1.0), Duration::from_secs(40));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay(200, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay(1, 5.0), Duration::from_millis(12_500));
        let t0 = chrono::DateTime::from_timestamp(1_000_000, 0)
            .unwrap()
            .naive_utc();
        let next = b.next_attempt(t0, t0, 1, 1.0).unwrap();
        assert!(b
            .next_attempt(t0, t0 + TimeDelta::seconds(50), 3, 1.0)
            .is_some());
        assert_eq!(next - t0, TimeDelta::seconds(10));
        assert_eq!(
            b.next_attempt(t0, t0 + TimeDelta::seconds(50), 4, 1.0),
            None
        );
        assert!((0.75..=1.25).contains(&jitter()));
    }

    #[test]
    fn the_body_has_type_timestamp_and_data() {
        let at = chrono::DateTime::from_timestamp(1_764_000_000, 0)
            .unwrap()
            .naive_utc();
        let body = body(
            EventKind::TokenExpired,
            at,
            &serde_json::json!({"token": {"id": 3}}),
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["type"], "token_expired");
        assert_eq!(v["timestamp"], "2025-11-24T16:00:00.000Z");
        assert_eq!(v["data"]["token"]["id"], 3);
    }
}
