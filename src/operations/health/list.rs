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
    let mut chosen: Vec<(&HealthRow, Flags)> = Vec::new();
    for r in rows {
        if s.text
            .as_deref()
            .is_some_and(|t| !r.search_text.contains(t))
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
            chosen.push((r, f));
        }
    }
    // Stable sorts: ties keep the token, endpoint, method order.
    match s.sort {
        HealthSort::Worst => chosen.sort_by_key(|(r, f)| worst_key(f, r)),
        HealthSort::Token => {}
        HealthSort::Endpoint => chosen.sort_by(|a, b| a.0.endpoint_slug.cmp(&b.0.endpoint_slug)),
        HealthSort::LastCall => chosen.sort_by_key(|(r, _)| r.last_call_at),
    }
    if s.descending {
        chosen.reverse();
    }
    let total = chosen.len() as i64;
    let rows = chosen
        .into_iter()
        .skip(usize::try_from(s.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(s.limit).unwrap_or(0))
        .map(|(r, _)| r)
        .collect();
    Selected { rows, total, tally }
}
