//! The mappings' running aggregates (`mapping_activity`, `mapping_hours`,
//! `mapping_refusal_windows`): written by one upsert per table per flush, pruned by
//! the sweep, and the silence state the periodic check keeps on the activity row.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::schema::{mapping_activity as a, mapping_hours as h, mapping_refusal_windows as w};
use crate::db::DbConn;
use crate::domain::activity::Delta;
use crate::domain::health::MappingKey;

/// Rows per statement (well under either backend's bound-parameter limit).
const CHUNK: usize = 500;

/// Adds `delta` to the aggregates: rows in key order, so two instances flushing
/// at once never wait on each other in a cycle.
pub fn add(conn: &mut DbConn, delta: &Delta) -> QueryResult<()> {
    let mut latest: Vec<_> = delta.latest.iter().collect();
    latest.sort_by(|x, y| x.0.cmp(y.0));
    let latest: Vec<_> = latest
        .into_iter()
        .map(|(k, l)| {
            (
                a::token_id.eq(k.token_id),
                a::endpoint_id.eq(k.endpoint_id),
                a::method.eq(k.method.as_str()),
                a::last_call_at.eq(Some(l.last_call)),
                a::last_refusal_at.eq(l.last_refusal),
                // Kept only while a silence is raised (see `upsert_latest`).
                a::resumed_at.eq(Some(l.first_call)),
            )
        })
        .collect();
    for chunk in latest.chunks(CHUNK) {
        upsert_latest(conn, chunk)?;
    }
    let mut hours: Vec<_> = delta.hours.iter().collect();
    hours.sort_by(|x, y| x.0.cmp(y.0));
    let hours: Vec<_> = hours
        .into_iter()
        .map(|((k, hour), (calls, refusals))| {
            (
                h::token_id.eq(k.token_id),
                h::endpoint_id.eq(k.endpoint_id),
                h::method.eq(k.method.as_str()),
                h::hour.eq(*hour),
                h::calls.eq(*calls),
                h::refusals.eq(*refusals),
            )
        })
        .collect();
    for chunk in hours.chunks(CHUNK) {
        upsert_hours(conn, chunk)?;
    }
    let mut windows: Vec<_> = delta.windows.iter().collect();
    windows.sort_by(|x, y| x.0.cmp(y.0));
    let windows: Vec<_> = windows
        .into_iter()
        .map(|((k, start), refusals)| {
            (
                w::token_id.eq(k.token_id),
                w::endpoint_id.eq(k.endpoint_id),
                w::method.eq(k.method.as_str()),
                w::window_start.eq(*start),
                w::refusals.eq(*refusals),
            )
        })
        .collect();
    for chunk in windows.chunks(CHUNK) {
        upsert_windows(conn, chunk)?;
    }
    Ok(())
}

type LatestRow<'a> = (
    diesel::dsl::Eq<a::token_id, i64>,
    diesel::dsl::Eq<a::endpoint_id, i64>,
    diesel::dsl::Eq<a::method, &'a str>,
    diesel::dsl::Eq<a::last_call_at, Option<NaiveDateTime>>,
    diesel::dsl::Eq<a::last_refusal_at, Option<NaiveDateTime>>,
    diesel::dsl::Eq<a::resumed_at, Option<NaiveDateTime>>,
);

/// The latest call and refusal only move forward; the first call after a raised
/// silence is kept as `resumed_at` (once) for the check to raise the recovery.
fn upsert_latest(conn: &mut DbConn, rows: &[LatestRow<'_>]) -> QueryResult<usize> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Nullable, Timestamp};
    let later = |col: &str| {
        sql::<Nullable<Timestamp>>(&format!(
            "CASE WHEN excluded.{col} IS NOT NULL AND (mapping_activity.{col} IS NULL \
             OR excluded.{col} > mapping_activity.{col}) THEN excluded.{col} \
             ELSE mapping_activity.{col} END"
        ))
    };
    let resumed = sql::<Nullable<Timestamp>>(
        "CASE WHEN mapping_activity.silent_since IS NOT NULL AND mapping_activity.resumed_at IS NULL \
         THEN excluded.resumed_at ELSE mapping_activity.resumed_at END",
    );
    let set = (
        a::last_call_at.eq(later("last_call_at")),
        a::last_refusal_at.eq(later("last_refusal_at")),
        a::resumed_at.eq(resumed),
    );
    let target = (a::token_id, a::endpoint_id, a::method);
    match conn {
        DbConn::Postgres(c) => diesel::insert_into(a::table)
            .values(rows)
            .on_conflict(target)
            .do_update()
            .set(set)
            .execute(c),
        DbConn::Sqlite(c) => diesel::insert_into(a::table)
            .values(rows)
            .on_conflict(target)
            .do_update()
            .set(set)
            .execute(c),
    }
}

type HourRow<'a> = (
    diesel::dsl::Eq<h::token_id, i64>,
    diesel::dsl::Eq<h::endpoint_id, i64>,
    diesel::dsl::Eq<h::method, &'a str>,
    diesel::dsl::Eq<h::hour, NaiveDateTime>,
    diesel::dsl::Eq<h::calls, i64>,
    diesel::dsl::Eq<h::refusals, i64>,
);

fn upsert_hours(conn: &mut DbConn, rows: &[HourRow<'_>]) -> QueryResult<usize> {
    let target = (h::token_id, h::endpoint_id, h::method, h::hour);
    let set = (
        h::calls.eq(h::calls + excluded(h::calls)),
        h::refusals.eq(h::refusals + excluded(h::refusals)),
    );
    match conn {
        DbConn::Postgres(c) => diesel::insert_into(h::table)
            .values(rows)
            .on_conflict(target)
            .do_update()
            .set(set)
            .execute(c),
        DbConn::Sqlite(c) => diesel::insert_into(h::table)
            .values(rows)
            .on_conflict(target)
            .do_update()
            .set(set)
            .execute(c),
    }
}

type WindowRow<'a> = (
    diesel::dsl::Eq<w::token_id, i64>,
    diesel::dsl::Eq<w::endpoint_id, i64>,
    diesel::dsl::Eq<w::method, &'a str>,
    diesel::dsl::Eq<w::window_start, NaiveDateTime>,
    diesel::dsl::Eq<w::refusals, i64>,
);

fn upsert_windows(conn: &mut DbConn, rows: &[WindowRow<'_>]) -> QueryResult<usize> {
    let target = (w::token_id, w::endpoint_id, w::method, w::window_start);
    let set = w::refusals.eq(w::refusals + excluded(w::refusals));
    match conn {
        DbConn::Postgres(c) => diesel::insert_into(w::table)
            .values(rows)
            .on_conflict(target)
            .do_update()
            .set(set)
            .execute(c),
        DbConn::Sqlite(c) => diesel::insert_into(w::table)
            .values(rows)
            .on_conflict(target)
            .do_update()
            .set(set)
            .execute(c),
    }
}

#[diesel::dsl::auto_type]
fn row_of<'a>(token_id: i64, endpoint_id: i64, method: &'a str) -> _ {
    a::table
        .filter(a::token_id.eq(token_id))
        .filter(a::endpoint_id.eq(endpoint_id))
        .filter(a::method.eq(method))
}

/// Marks `key` silent since `since`, unless a silence is already marked or a call
/// came after `last_call` (what the check read): whether this call marked it (then
/// it raises the event; another instance's identical attempt marks nothing).
pub fn mark_silent(
    conn: &mut DbConn,
    key: &MappingKey,
    last_call: Option<NaiveDateTime>,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    let m = key.method.as_str();
    let row = row_of(key.token_id, key.endpoint_id, m).filter(a::silent_since.is_null());
    let set = (
        a::silent_since.eq(Some(since)),
        a::resumed_at.eq(None::<NaiveDateTime>),
    );
    let n = match last_call {
        Some(t) => diesel::update(row.filter(a::last_call_at.eq(t)))
            .set(set)
            .execute(conn)?,
        None => {
            let n = diesel::update(row.filter(a::last_call_at.is_null()))
                .set(set)
                .execute(conn)?;
            if n > 0 {
                return Ok(true);
            }
            // Never called: the row starts with the silence (unless a flush or
            // another instance made it meanwhile; the next check sees that).
            let insert = diesel::insert_into(a::table).values((
                a::token_id.eq(key.token_id),
                a::endpoint_id.eq(key.endpoint_id),
                a::method.eq(m),
                a::silent_since.eq(Some(since)),
            ));
            match conn {
                DbConn::Postgres(c) => insert.on_conflict_do_nothing().execute(c)?,
                DbConn::Sqlite(c) => insert.on_conflict_do_nothing().execute(c)?,
            }
        }
    };
    Ok(n > 0)
}

/// Ends the silence of `key` that began at `since` and was broken at `resumed`:
/// whether this call ended it.
pub fn mark_recovered(
    conn: &mut DbConn,
    key: &MappingKey,
    since: NaiveDateTime,
    resumed: NaiveDateTime,
) -> QueryResult<bool> {
    let row = row_of(key.token_id, key.endpoint_id, key.method.as_str())
        .filter(a::silent_since.eq(since))
        .filter(a::resumed_at.eq(resumed));
    let n = diesel::update(row)
        .set((
            a::silent_since.eq(None::<NaiveDateTime>),
            a::resumed_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// Forgets a raised silence without an event (the expectation changed).
pub fn clear_silence(conn: &mut DbConn, key: &MappingKey) -> QueryResult<usize> {
    diesel::update(row_of(key.token_id, key.endpoint_id, key.method.as_str()))
        .set((
            a::silent_since.eq(None::<NaiveDateTime>),
            a::resumed_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Deletes hours before `hours_before` and windows before `windows_before`.
pub fn prune(
    conn: &mut DbConn,
    hours_before: NaiveDateTime,
    windows_before: NaiveDateTime,
) -> QueryResult<usize> {
    let hours = diesel::delete(h::table.filter(h::hour.lt(hours_before))).execute(conn)?;
    let windows =
        diesel::delete(w::table.filter(w::window_start.lt(windows_before))).execute(conn)?;
    Ok(hours + windows)
}
