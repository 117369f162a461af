//! Integration events, one row per state change (see `domain::event`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use crate::db::schema::events;
use crate::db::DbConn;
use crate::domain::event::{Event, EventKind};

/// One stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub kind: EventKind,
    pub key: String,
    pub at: NaiveDateTime,
    pub payload: String,
    pub dispatched_at: Option<NaiveDateTime>,
}

/// Writes `event` unless the same change (its key) is already written, by this
/// instance or another: its id when this call wrote it, `None` when it was known.
pub fn raise(conn: &mut DbConn, event: &Event, at: NaiveDateTime) -> QueryResult<Option<i64>> {
    let p = match conn {
        DbConn::Postgres(_) => "$",
        DbConn::Sqlite(_) => "?",
    };
    let query = diesel::sql_query(format!(
        "INSERT INTO events (kind, key, at, payload) VALUES ({p}1, {p}2, {p}3, {p}4) \
         ON CONFLICT (key) DO NOTHING RETURNING id"
    ))
    .bind::<Text, _>(event.kind)
    .bind::<Text, _>(event.key())
    .bind::<Timestamp, _>(at)
    .bind::<Text, _>(event.data.to_string());
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let id: Option<Id> = match conn {
        DbConn::Postgres(c) => query.get_result(c).optional()?,
        DbConn::Sqlite(c) => query.get_result(c).optional()?,
    };
    Ok(id.map(|i| i.id))
}

/// The oldest events not yet handed to their targets, at most `limit`.
pub fn undispatched(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::dispatched_at.is_null())
        .order(events::id)
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// Marks event `id` handed on, unless another instance did first: whether this
/// call did (the caller that did fans it out, in the same transaction).
pub fn claim_dispatch(conn: &mut DbConn, id: i64, at: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        events::table
            .filter(events::id.eq(id))
            .filter(events::dispatched_at.is_null()),
    )
    .set(events::dispatched_at.eq(at))
    .execute(conn)?;
    Ok(n == 1)
}

/// The newest events, newest first (for the health and alert pages).
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .order(events::id.desc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}
