//! The Health list's selection over every mapping's row (read once and shared for
//! a moment, see `calls::activity`): search, state filter, counts per state, the
//! worst first or another order, one page. Plain computation, no I/O.

use chrono::NaiveDateTime;

use crate::domain::health::{is_overdue, overdue_at};
use crate::store::health::HealthRow;

/// Which mappings a Health list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Overdue: expected, enabled, and no call within its cadence.
    Silent,
    /// Refused at least once in the last 24 hours.
    Failing,
    /// Its token expires within 14 days or has expired.
    Expiring,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthSort {
    /// Silent longest first, then failing (latest refusal first), then expiring
    /// (soonest first), then the rest by token and endpoint.
    Worst,
    Token,
    Endpoint,
    LastCall,
}

/// A Health list's selection.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Lower-case text in the token's name or the endpoint's slug or name.
    pub text: Option<String>,
    pub state: Option<HealthState>,
    pub sort: HealthSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
    pub now: NaiveDateTime,
    /// The first hour counted as the last 24 hours.
    pub day_start: NaiveDateTime,
    /// Tokens expiring before this are `expiring`.
    pub expiring_before: NaiveDateTime,
}

/// How many mappings the search text selects in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub all: i64,
    pub silent: i64,
    pub failing: i64,
    pub expiring: i64,
}

/// The page the selection asks for, how many rows it selects, the counts.
pub struct Selected<'a> {
    pub rows: Vec<&'a HealthRow>,
    pub total: i64,
    pub tally: Tally,
}

/// When `r` became overdue, if it is silent at `now`.
pub fn silent_since(r: &HealthRow, now: NaiveDateTime) -> Option<NaiveDateTime> {
    r.expect_every_seconds
        .filter(|_| r.enabled)
        .map(|every| overdue_at(i64::from(every), r.expect_since, r.last_call_at))
        .filter(|at| is_overdue(*at, now))
}

pub fn failing(r: &HealthRow, day_start: NaiveDateTime) -> bool {
    r.last_refusal_at.is_some_and(|t| t >= day_start)
}

struct Flags {
    silent: Option<NaiveDateTime>,
    failing: bool,
    expiring: bool,
}

fn flags(r: &HealthRow, s: &Selection) -> Flags {
    Flags {
        silent: silent_since(r, s.now),
        failing: failing(r, s.day_start),
        expiring: r.expires_at.is_some_and(|t| t <= s.expiring_before),
    }
}

fn epoch(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// Worst first: the state's rank, then within it the worst first.
fn worst_key(f: &Flags, r: &HealthRow) -> (u8, i64) {
    match (f.silent, f.failing, f.expiring) {
        (Some(since), _, _) => (0, epoch(since)),
        (None, true, _) => (1, -r.last_refusal_at.map_or(0, epoch)),
        (None, false, true) => (2, r.expires_at.map_or(0, epoch)),
        _ => (3, 0),
    }
}

/// Selects from `rows` (in token, endpoint, method order) as `s` says.
pub fn select<'a>(rows: &'a [HealthRow], s: &Selection) -> Selected<'a> {
    let mut tally = Tally::default();
    let mut chosen: Vec<(usize, Flags)> = Vec::new();
    let finder = s.text.as_deref().map(memchr::memmem::Finder::new);
    for (i, r) in rows.iter().enumerate() {
        if finder
            .as_ref()
            .is_some_and(|f| f.find(r.search_text.as_bytes()).is_none())
        {
            continue;
        }
        let f = flags(r, s);
        tally.all += 1;
        tally.silent += i64::from(f.silent.is_some());
        tally.failing += i64::from(f.failing);
        tally.expiring += i64::from(f.expiring);
        let keep = match s.state {
            None => true,
            Some(HealthState::Silent) => f.silent.is_some(),
            Some(HealthState::Failing) => f.failing,
            Some(HealthState::Expiring) => f.expiring,
        };
        if keep {
            chosen.push((i, f));
        }
    }
    let total = chosen.len() as i64;
    // Ties keep the token, endpoint, method order (the rows' own).
    let shown = match s.sort {
        HealthSort::Worst => one_page(keyed(chosen, |i, f| worst_key(f, &rows[i])), s),
        HealthSort::Token => one_page(keyed(chosen, |_, _| ()), s),
        HealthSort::Endpoint => one_page(keyed(chosen, |i, _| rows[i].endpoint_slug.as_str()), s),
        HealthSort::LastCall => one_page(keyed(chosen, |i, _| rows[i].last_call_at), s),
    };
    let rows = shown.into_iter().map(|i| &rows[i]).collect();
    Selected { rows, total, tally }
}

fn keyed<K>(chosen: Vec<(usize, Flags)>, key: impl Fn(usize, &Flags) -> K) -> Vec<(K, usize)> {
    chosen.into_iter().map(|(i, f)| (key(i, &f), i)).collect()
}

/// The positions of the page `s` asks for, in order: only the rows up to its end
/// are sorted (a partial selection first), ascending or, with `descending`, the
/// whole order reversed.
fn one_page<K: Ord>(mut keyed: Vec<(K, usize)>, s: &Selection) -> Vec<usize> {
    let start = usize::try_from(s.offset).unwrap_or(usize::MAX);
    let end = start
        .saturating_add(usize::try_from(s.limit).unwrap_or(0))
        .min(keyed.len());
    if start >= end {
        return Vec::new();
    }
    let order = |a: &(K, usize), b: &(K, usize)| match s.descending {
        false => a.cmp(b),
        true => b.cmp(a),
    };
    if end < keyed.len() {
        keyed.select_nth_unstable_by(end - 1, order);
        keyed.truncate(end);
    }
    keyed.sort_unstable_by(order);
    keyed.drain(start..).map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(offset: i64, limit: i64, descending: bool) -> Selection {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        Selection {
            text: None,
            state: None,
            sort: HealthSort::Worst,
            descending,
            offset,
            limit,
            now,
            day_start: now,
            expiring_before: now,
        }
    }

    /// A page taken by partial selection is the page of a stable sort of every row
    /// (reversed whole when descending), ties in the rows' own order.
    #[test]
    fn a_page_is_the_page_of_the_whole_sorted_order() {
        let keys: Vec<u8> = (0..97u32).map(|i| ((i * 37 + 11) % 7) as u8).collect();
        for descending in [false, true] {
            let mut whole: Vec<(u8, usize)> = keys.iter().copied().zip(0..).collect();
            whole.sort_by_key(|(k, _)| *k);
            if descending {
                whole.reverse();
            }
            let whole: Vec<usize> = whole.into_iter().map(|(_, i)| i).collect();
            for (offset, limit) in [
                (0, 10),
                (0, 200),
                (5, 7),
                (90, 10),
                (96, 1),
                (97, 5),
                (40, 1),
            ] {
                let keyed: Vec<(u8, usize)> = keys.iter().copied().zip(0..).collect();
                let got = one_page(keyed, &selection(offset, limit, descending));
                let want: Vec<usize> = whole
                    .iter()
                    .copied()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .collect();
                assert_eq!(got, want, "offset {offset} limit {limit} desc {descending}");
            }
        }
    }
}
