//! The newest page of calls over many day partitions (PostgreSQL).
//!
//! The call log is partitioned by the day of `at` and a page is ordered by id. A
//! query without a time range (or with a wide one) would plan and probe every day's
//! partition for the page's 50 newest ids, though they nearly always lie in the
//! newest day or two: at 10M calls over 37 partitions that was most of the cost of
//! the viewer's first page. The database keeps, for each day, bounds around the ids
//! of its calls (`calls_days`, kept by a trigger on every statement that inserts or
//! updates calls: see its migration). A page is then read over the newest days
//! first ([`windows`]): it is settled as soon as it is full and no older day's ids
//! reach above its last id; otherwise over more days, and at last over all of them.
//! Which days a window spans changes only how much is read, never the answer.

use std::marker::PhantomData;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::backend::Backend;
use diesel::expression::{is_aggregate, AppearsOnTable, TypedExpressionType, ValidGrouping};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::SqlType;

use crate::db::DbConn;

diesel::table! {
    /// PostgreSQL only (see its migration).
    calls_days (day) {
        day -> Date,
        first_id -> BigInt,
        last_id -> BigInt,
    }
}

/// Days the first window spans; each next one spans [`GROWTH`] times as many.
const FIRST: usize = 2;
const GROWTH: usize = 4;

/// The bounds around the ids of one day's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = calls_days)]
pub struct DaySpan {
    pub day: NaiveDate,
    pub first_id: i64,
    pub last_id: i64,
}

/// Whole days to read a page in: `since..until` (midnights), and the largest id any
/// call outside them (among the days the page may read) can have, `None` when the
/// window holds every day the page may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: NaiveDateTime,
    pub until: NaiveDateTime,
    older_last_id: Option<i64>,
}

impl Window {
    /// The window as SQL on `calls.at`, its times written out: the statement is then
    /// prepared once per window (a few a day) and connection, and its plan, kept
    /// from one execution to the next, reads only the window's partitions (with
    /// the times as parameters, each page was planned anew).
    pub fn condition(&self) -> String {
        let f = "%Y-%m-%d %H:%M:%S";
        format!(
            "\"calls\".\"at\" >= '{}' AND \"calls\".\"at\" < '{}'",
            self.since.format(f),
            self.until.format(f)
        )
    }

    /// Whether `ids` (a page read in this window, newest first, up to `limit`) is the
    /// page over every day: the window holds them all, or the page is full and no
    /// call outside the window is newer than its last.
    pub fn settles(&self, ids: &[i64], limit: i64) -> bool {
        match self.older_last_id {
            None => true,
            Some(older) => ids.len() as i64 >= limit && ids.last().is_some_and(|l| *l > older),
        }
    }
}

/// What a page asks of the ids and times of its calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bounds {
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Ids below this (the cursor).
    pub before: Option<i64>,
    /// Ids above this (the live tail).
    pub after: Option<i64>,
}

/// SQL written out in a query, which (unlike diesel's `sql`, which never lets a
/// statement be kept) leaves its statement to be prepared once per connection and
/// kept by its text: it must not vary with anything but what it says.
#[derive(Debug, Clone)]
pub struct Written<ST>(pub String, PhantomData<ST>);

impl<ST> Written<ST> {
    pub fn new(sql: String) -> Self {
        Self(sql, PhantomData)
    }
}

impl<ST: SqlType + TypedExpressionType> Expression for Written<ST> {
    type SqlType = ST;
}

impl<ST, QS> AppearsOnTable<QS> for Written<ST> where Self: Expression {}

impl<ST, QS> SelectableExpression<QS> for Written<ST> where Self: Expression {}

impl<ST, GB> ValidGrouping<GB> for Written<ST> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST> QueryId for Written<ST> {
    type QueryId = ();
    // Keyed by its text, never by its type: two texts are two statements.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, DB: Backend> QueryFragment<DB> for Written<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(&self.0);
        Ok(())
    }
}

/// Every day's bounds, oldest first (none on SQLite).
pub fn spans(conn: &mut DbConn) -> QueryResult<Vec<DaySpan>> {
    let DbConn::Postgres(c) = conn else {
        return Ok(Vec::new());
    };
    calls_days::table
        .select(DaySpan::as_select())
        .order(calls_days::day)
        .load(c)
}

/// The windows to read a page in, the narrowest first, the last one holding every
/// day the page may read; empty on SQLite, and when no day is known to hold calls
/// (the page is then read with no window). A range within [`FIRST`] days is one
/// window, its days', whether or not they hold calls.
pub fn windows(conn: &mut DbConn, bounds: Bounds) -> QueryResult<Vec<Window>> {
    if !matches!(conn, DbConn::Postgres(_)) {
        return Ok(Vec::new());
    }
    if let Some(whole) = short_range(bounds) {
        return Ok(vec![whole]);
    }
    Ok(windows_of(&spans(conn)?, bounds))
}

/// The one window of a time range within [`FIRST`] days: the days' bounds would only
/// narrow it to the same days, so they are not read (a round trip a page saved).
fn short_range(b: Bounds) -> Option<Window> {
    let (since, until) = (b.since?, b.until?);
    let first = since.date();
    // The day of the range's last instant (`until` itself is outside it).
    let last = (until - TimeDelta::microseconds(1)).date();
    let days = (last - first).num_days() + 1;
    (1..=FIRST as i64).contains(&days).then(|| Window {
        since: first.and_hms_opt(0, 0, 0).expect("midnight exists"),
        until: (last + TimeDelta::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists"),
        older_last_id: None,
    })
}

/// [`windows`] over the bounds `spans` (oldest first).
pub fn windows_of(spans: &[DaySpan], b: Bounds) -> Vec<Window> {
    let start = |day: NaiveDate| day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // The days that may hold a call of the page, newest first.
    let days: Vec<&DaySpan> = spans
        .iter()
        .rev()
        .filter(|d| {
            b.since
                .is_none_or(|s| start(d.day) + TimeDelta::days(1) > s)
        })
        .filter(|d| b.until.is_none_or(|u| start(d.day) < u))
        .filter(|d| b.before.is_none_or(|before| d.first_id < before))
        .filter(|d| b.after.is_none_or(|after| d.last_id > after))
        .collect();
    let Some(newest) = days.first() else {
        return Vec::new();
    };
    let hi = start(newest.day) + TimeDelta::days(1);
    let mut out = Vec::new();
    let mut span = FIRST;
    loop {
        let n = span.min(days.len());
        span *= GROWTH;
        let lo = start(days[n - 1].day);
        out.push(Window {
            since: lo,
            until: hi,
            older_last_id: days[n..].iter().map(|d| d.last_id).max(),
        });
        if n == days.len() {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
    }

    fn midnight(n: u32) -> NaiveDateTime {
        day(n).and_hms_opt(0, 0, 0).unwrap()
    }

    /// Ten days, the ids of day `n` in `n * 1000 ..= n * 1000 + 999`, and day 3 also
    /// holding one late call above them all.
    fn ten_days() -> Vec<DaySpan> {
        (1..=10)
            .map(|n| DaySpan {
                day: day(n),
                first_id: n as i64 * 1000,
                last_id: if n == 3 {
                    20_000
                } else {
                    n as i64 * 1000 + 999
                },
            })
            .collect()
    }

    #[test]
    fn windows_grow_from_the_newest_days() {
        let w = windows_of(&ten_days(), Bounds::default());
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!((w[0].since, w[0].until), (midnight(9), midnight(11)));
        assert_eq!((w[1].since, w[2].since), (midnight(3), midnight(1)));
        // Day 3's late call is outside the first window, not the second.
        assert_eq!(w[0].older_last_id, Some(20_000));
        assert_eq!(w[1].older_last_id, Some(2999));
        assert_eq!(w[2].older_last_id, None);
        assert!(!w[0].settles(&[10_999, 10_500], 2), "day 3 may hold newer");
        assert!(w[1].settles(&[10_999, 10_500], 2));
        assert!(!w[1].settles(&[10_999], 2), "not full");
        assert!(w[2].settles(&[], 2), "every day read");
    }

    #[test]
    fn windows_keep_to_the_range_and_the_cursor() {
        let since = day(2).and_hms_opt(12, 0, 0).unwrap();
        let until = day(8).and_hms_opt(6, 0, 0).unwrap();
        let bounds = Bounds {
            since: Some(since),
            until: Some(until),
            before: Some(7000),
            after: Some(3500),
        };
        // Days 3 to 6 hold ids between 3500 and 7000 in the range: 6 and 5, then all.
        let w = windows_of(&ten_days(), bounds);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!((w[0].since, w[0].until), (midnight(5), midnight(7)));
        assert_eq!((w[1].since, w[1].until), (midnight(3), midnight(7)));
        let one_day = Bounds {
            since: Some(since),
            until: Some(midnight(3)),
            ..Bounds::default()
        };
        let narrow = windows_of(&ten_days(), one_day);
        assert_eq!(narrow.len(), 1);
        assert_eq!(
            (narrow[0].since, narrow[0].until),
            (midnight(2), midnight(3))
        );
        assert_eq!(
            narrow[0].condition(),
            r#""calls"."at" >= '2026-11-02 00:00:00' AND "calls"."at" < '2026-11-03 00:00:00'"#
        );
        assert!(windows_of(&[], Bounds::default()).is_empty());
    }

    #[test]
    fn a_range_within_two_days_is_one_window_of_its_days() {
        let range = |since: NaiveDateTime, until: NaiveDateTime| Bounds {
            since: Some(since),
            until: Some(until),
            ..Bounds::default()
        };
        let noon = |n: u32| day(n).and_hms_opt(12, 0, 0).unwrap();
        let whole = short_range(range(midnight(2), midnight(3))).unwrap();
        assert_eq!((whole.since, whole.until), (midnight(2), midnight(3)));
        assert!(whole.settles(&[], 50), "it holds every day of the range");
        let two = short_range(range(noon(2), noon(3))).unwrap();
        assert_eq!((two.since, two.until), (midnight(2), midnight(4)));
        assert!(short_range(range(noon(2), noon(4))).is_none(), "three days");
        assert!(
            short_range(range(noon(3), noon(2))).is_none(),
            "empty range"
        );
        let open = Bounds {
            since: Some(midnight(2)),
            ..Bounds::default()
        };
        assert!(short_range(open).is_none());
    }
}
