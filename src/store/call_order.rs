//! Where a time range of the call log lies among its ids (SQLite).
//!
//! Ids follow time in the log, nearly: a call's `at` is when its request arrived, its
//! id is given when its row commits, so a later id may carry an earlier `at` (a slow
//! body, the writer's queue, the clock set back). The database measures by how much
//! on every insert (`calls_disorder.lag_ms`, kept by a trigger: see its migration):
//! no call's `at` is more than `lag` behind that of a call with a smaller id. So
//!
//! - a call `g` made before `since - lag` has every call with a smaller id made before
//!   `since`: the range's calls have ids above `g`'s;
//! - a call `h` made at or after `until + lag` has every call with a larger id made at
//!   or after `until`: the range's calls have ids below `h`'s.
//!
//! One seek each in the index on `at` finds such calls. The filter keeps its `at`
//! conditions; the id range only lets an index ending in `id` (by token, endpoint,
//! refusal, or the table itself) read the range instead of walking everything older.
//! PostgreSQL reads a time range from its day partitions and needs none of this.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};

use crate::db::schema::calls;
use crate::db::DbConn;

/// Ids a time range's calls lie strictly between (`None`: open on that side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdRange {
    pub above: Option<i64>,
    pub below: Option<i64>,
}

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = Nullable<BigInt>)]
    lag_ms: Option<i64>,
}

/// The ids calls made in `since..until` lie between, on SQLite; on PostgreSQL, or
/// while the log's disorder is unknown, an open range.
pub fn ids_within(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> QueryResult<IdRange> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(IdRange::default());
    };
    if since.is_none() && until.is_none() {
        return Ok(IdRange::default());
    }
    // One read transaction: the calls found are in the log the lag was measured on.
    c.transaction(|c| {
        let lag: Option<Lag> = diesel::sql_query("SELECT lag_ms FROM calls_disorder WHERE id = 1")
            .get_result(c)
            .optional()?;
        let Some(lag) = lag.and_then(|l| l.lag_ms).map(TimeDelta::milliseconds) else {
            return Ok(IdRange::default());
        };
        let above = match since.and_then(|s| s.checked_sub_signed(lag)) {
            None => None,
            Some(before) => calls::table
                .filter(calls::at.lt(before))
                .order(calls::at.desc())
                .select(calls::id)
                .first::<i64>(c)
                .optional()?,
        };
        let below = match until.and_then(|u| u.checked_add_signed(lag)) {
            None => None,
            Some(after) => calls::table
                .filter(calls::at.ge(after))
                .order(calls::at.asc())
                .select(calls::id)
                .first::<i64>(c)
                .optional()?,
        };
        Ok(IdRange { above, below })
    })
}
