//! Integration events: what an alert target can subscribe to, and one event as it
//! is raised. An event is raised once per state change: its key names the change
//! (kind, subject, the moment the state began), never the check that noticed it.

use chrono::NaiveDateTime;

use super::names::names;

names!(
    /// What happened. `test` is the event an admin sends by hand to try a target;
    /// it is never raised by a check and cannot be subscribed to.
    pub enum EventKind refusing "is not a known event" {
        MappingSilent = "mapping_silent",
        MappingRecovered = "mapping_recovered",
        RefusalsSpike = "refusals_spike",
        TokenExpiring = "token_expiring",
        TokenExpired = "token_expired",
        Test = "test",
    }
);

impl EventKind {
    /// The kinds a target may subscribe to (all but `test`).
    pub fn subscribable() -> impl Iterator<Item = EventKind> {
        Self::ALL.iter().copied().filter(|k| *k != EventKind::Test)
    }
}

impl serde::Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One state change, as a check noticed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// What changed, e.g. `mapping:12:4:POST` or `token:12`.
    pub subject: String,
    /// When the new state began (for a silence: when the mapping became overdue).
    pub since: NaiveDateTime,
    /// The event's data (no secret ever: names, ids, times, counts).
    pub data: serde_json::Value,
}

impl Event {
    /// The key that makes the event unique: the same change noticed twice (by two
    /// checks, or two instances) has the same key.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.kind,
            self.subject,
            self.since.format("%Y-%m-%dT%H:%M:%S")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_change_has_the_same_key_and_test_is_not_subscribable() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .unwrap()
            .and_hms_opt(14, 2, 0)
            .unwrap();
        let e = Event {
            kind: EventKind::MappingSilent,
            subject: "mapping:3:1:POST".into(),
            since: at,
            data: serde_json::json!({}),
        };
        assert_eq!(
            e.key(),
            "mapping_silent:mapping:3:1:POST:2026-11-29T14:02:00"
        );
        assert_eq!(e.key(), e.clone().key());
        assert!(!EventKind::subscribable().any(|k| k == EventKind::Test));
        assert_eq!(EventKind::subscribable().count(), 5);
        assert_eq!("token_expired".parse(), Ok(EventKind::TokenExpired));
        assert!("nope".parse::<EventKind>().is_err());
    }
}
