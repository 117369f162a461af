//! Pages of calls, newest first: on PostgreSQL read over the newest days first
//! (`store::call_days`); on SQLite, a time range's over the runs of ids it meets,
//! newest first (`store::call_order`, read once by `Matching::resolve`).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use super::{Call, CallFilter, Matching};
use crate::db::schema::calls;
use crate::db::DbConn;
use crate::store::call_days::{self, Written};

/// Newest first; `before` is the keyset cursor (the last id of the previous page).
pub fn page(
    conn: &mut DbConn,
    f: &CallFilter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Call>> {
    let matching = Matching::resolve(conn, f)?;
    match matching.records_found() {
        // No record matches: no call does.
        Some(0) => return Ok(Vec::new()),
        // The calls of the records found, through their index at once: there is no
        // walk of the log for the newest days to settle.
        Some(_) => return by_generic_plan(conn, |c| page_in(c, &matching, before, limit, None)),
        None => {}
    }
    // SQLite: the runs of ids the range meets, newest first, until the page is full.
    if matching.runs.len() > 1 {
        let mut rows: Vec<Call> = Vec::new();
        for &ids in &matching.runs {
            let run = Matching {
                ids,
                ..matching.clone()
            };
            let left = limit - rows.len() as i64;
            rows.extend(page_in(conn, &run, before, left, None)?);
            if rows.len() as i64 >= limit {
                break;
            }
        }
        return Ok(rows);
    }
    // PostgreSQL: the newest days first, while they settle the page (`call_days`).
    let bounds = call_days::Bounds {
        since: f.since,
        until: f.until,
        before,
        after: f.after_id,
    };
    for window in call_days::windows(conn, bounds)? {
        let rows = page_in(conn, &matching, before, limit, Some(&window))?;
        let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
        if window.settles(&ids, limit) {
            return Ok(rows);
        }
    }
    page_in(conn, &matching, before, limit, None)
}

/// `f`, its statements run by their generic plans on PostgreSQL: the calls of the
/// records a search found are looked up by `record_id` in every day's partition,
/// which the time cannot prune, and planning that lookup for each search cost
/// several times what running it does (the generic plan is the same index probes).
fn by_generic_plan<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> QueryResult<T>,
) -> QueryResult<T> {
    if !matches!(conn, DbConn::Postgres(_)) {
        return f(conn);
    }
    conn.transaction(|c| {
        diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan").execute(c)?;
        f(c)
    })
}

/// One page of `matching`'s calls, within `window` if given.
fn page_in(
    conn: &mut DbConn,
    matching: &Matching,
    before: Option<i64>,
    limit: i64,
    window: Option<&call_days::Window>,
) -> QueryResult<Vec<Call>> {
    // A range holding the whole window says nothing more than the window does.
    let f = matching.filter;
    let implied = window
        .filter(|w| f.since.is_none_or(|s| s <= w.since) && f.until.is_none_or(|u| u >= w.until));
    let unranged = implied.map(|_| CallFilter {
        since: None,
        until: None,
        ..f.clone()
    });
    let matching = match &unranged {
        Some(filter) => &Matching {
            filter,
            ..matching.clone()
        },
        None => matching,
    };
    let mut q = calls::table.select(Call::as_select()).into_boxed();
    if let Some(p) = matching.predicate() {
        q = q.filter(p);
    }
    if let Some(before) = before {
        q = q.filter(calls::id.lt(before));
    }
    match window {
        None => q.order(calls::id.desc()).limit(limit).load(conn),
        Some(w) => {
            // The window and the limit written out, not bound: PostgreSQL then keeps
            // one plan per window (a few a day) for every page of it, where a bound
            // limit (whose size the plan cannot know) had every page planned anew.
            // Only for filters whose one plan suits every value: a kept plan cannot
            // see how much of the log a time range, a status or a search selects.
            let f = matching.filter;
            let one_plan = f.since.or(f.until).is_none() && f.status.is_none() && f.q.is_none();
            let q = match one_plan {
                true => q.filter(Written::<Bool>::new(w.condition())),
                false => q.filter(diesel::dsl::sql::<Bool>(&w.condition())),
            };
            q.order(Written::<BigInt>::new(format!(
                "\"calls\".\"id\" DESC LIMIT {}",
                limit.max(0)
            )))
            .load(conn)
        }
    }
}
