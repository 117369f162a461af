//! A mapping's calls gathered in memory until they are written to the running
//! aggregates by the ingest path's counter (`calls::activity`): plain counts, no SQL.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::health::{hour_of, window_of, MappingKey};

/// A mapping's calls since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// The first call counted (the first after a silence, if there was one).
    pub first_call: NaiveDateTime,
    pub last_call: NaiveDateTime,
    pub last_refusal: Option<NaiveDateTime>,
}

/// Counts gathered since the last flush.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delta {
    pub latest: HashMap<MappingKey, Latest>,
    /// (mapping, hour) → (calls, refusals).
    pub hours: HashMap<(MappingKey, NaiveDateTime), (i64, i64)>,
    /// (mapping, 5-minute window) → refusals.
    pub windows: HashMap<(MappingKey, NaiveDateTime), i64>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// Counts `n` calls of `key` at `at` (`refused`: answered 400 or above).
    pub fn count(&mut self, key: MappingKey, at: NaiveDateTime, refused: bool, n: i64) {
        let refusal = refused.then_some(at);
        self.latest
            .entry(key.clone())
            .and_modify(|l| {
                l.first_call = l.first_call.min(at);
                l.last_call = l.last_call.max(at);
                l.last_refusal = l.last_refusal.max(refusal);
            })
            .or_insert(Latest {
                first_call: at,
                last_call: at,
                last_refusal: refusal,
            });
        let h = self.hours.entry((key.clone(), hour_of(at))).or_default();
        h.0 += n;
        if refused {
            h.1 += n;
            *self.windows.entry((key, window_of(at))).or_default() += n;
        }
    }

    /// Adds `other` (counts that could not be written) back in.
    pub fn merge(&mut self, other: Delta) {
        for (k, l) in other.latest {
            self.latest
                .entry(k)
                .and_modify(|m| {
                    m.first_call = m.first_call.min(l.first_call);
                    m.last_call = m.last_call.max(l.last_call);
                    m.last_refusal = m.last_refusal.max(l.last_refusal);
                })
                .or_insert(l);
        }
        for (k, (c, r)) in other.hours {
            let h = self.hours.entry(k).or_default();
            h.0 += c;
            h.1 += r;
        }
        for (k, r) in other.windows {
            *self.windows.entry(k).or_default() += r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::endpoint::Method;

    #[test]
    fn calls_are_counted_per_hour_and_refusals_per_window() {
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let key = MappingKey {
            token_id: 1,
            endpoint_id: 2,
            method: Method::Post,
        };
        let mut d = Delta::default();
        d.count(key.clone(), t, false, 1);
        d.count(key.clone(), t + chrono::TimeDelta::seconds(5), true, 3);
        let l = d.latest[&key];
        assert_eq!(
            (l.first_call, l.last_call),
            (t, t + chrono::TimeDelta::seconds(5))
        );
        assert_eq!(l.last_refusal, Some(t + chrono::TimeDelta::seconds(5)));
        assert_eq!(d.hours[&(key.clone(), hour_of(t))], (4, 3));
        assert_eq!(d.windows.values().sum::<i64>(), 3);
        let mut e = Delta::default();
        e.merge(d.clone());
        e.merge(d);
        assert_eq!(e.hours[&(key, hour_of(t))], (8, 6));
    }
}
