//! Health of every mapping, read from the mappings, their tokens and endpoints and
//! the running aggregates (never the call log): the Health list with its counts,
//! the page's calls and refusals per day, and what the periodic check looks at.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use crate::db::schema::{endpoints, mapping_activity, mapping_refusal_windows, mappings, tokens};
use crate::db::DbConn;
use crate::domain::endpoint::Method;
use crate::domain::health::MappingKey;

/// One mapping as the Health list reads it.
#[derive(Debug, Clone, QueryableByName)]
pub struct HealthRow {
    #[diesel(sql_type = BigInt)]
    pub token_id: i64,
    #[diesel(sql_type = Text)]
    pub token_name: String,
    #[diesel(sql_type = Bool)]
    pub token_enabled: bool,
    #[diesel(sql_type = Bool)]
    pub token_active: bool,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub expires_at: Option<NaiveDateTime>,
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
    #[diesel(sql_type = Text)]
    pub endpoint_slug: String,
    #[diesel(sql_type = Text)]
    pub method: Method,
    #[diesel(sql_type = Bool)]
    pub enabled: bool,
    #[diesel(sql_type = Nullable<Integer>)]
    pub expect_every_seconds: Option<i32>,
    /// The later of the mapping's creation and when its expectation was set.
    #[diesel(sql_type = Timestamp)]
    pub expect_since: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_call_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_refusal_at: Option<NaiveDateTime>,
    /// What a search matches: the token's name, the endpoint's slug and name, lower case.
    #[diesel(sql_type = Text)]
    pub search_text: String,
    /// Calls and refusals since the start of the hour 24 hours before the read.
    #[diesel(sql_type = BigInt)]
    pub calls_24h: i64,
    #[diesel(sql_type = BigInt)]
    pub refusals_24h: i64,
}

/// Every mapping with its token, endpoint and activity, and its calls and refusals
/// since `day_start`, by token name, endpoint and method (one pass over the
/// mappings and the last 25 hours of their aggregates; the call log is not read).
pub fn all(conn: &mut DbConn, day_start: NaiveDateTime) -> QueryResult<Vec<HealthRow>> {
    let sep = "' ' || ";
    let q = diesel::sql_query(format!(
        "SELECT m.token_id, t.name AS token_name, t.enabled AS token_enabled, \
           t.active AS token_active, t.expires_at, m.endpoint_id, e.slug AS endpoint_slug, \
           m.method, m.enabled, m.expect_every_seconds, \
           COALESCE(m.expect_since, m.created_at) AS expect_since, a.last_call_at, a.last_refusal_at, \
           lower(t.name || {sep}e.slug || {sep}e.name) AS search_text, \
           COALESCE(d.calls, 0) AS calls_24h, COALESCE(d.refusals, 0) AS refusals_24h \
         FROM mappings m JOIN tokens t ON t.id = m.token_id JOIN endpoints e ON e.id = m.endpoint_id \
         LEFT JOIN mapping_activity a ON a.token_id = m.token_id AND a.endpoint_id = m.endpoint_id \
           AND a.method = m.method \
         LEFT JOIN (SELECT token_id, endpoint_id, method, CAST(SUM(calls) AS BIGINT) AS calls, \
             CAST(SUM(refusals) AS BIGINT) AS refusals FROM mapping_hours WHERE hour >= {p} \
             GROUP BY token_id, endpoint_id, method) d \
           ON d.token_id = m.token_id AND d.endpoint_id = m.endpoint_id AND d.method = m.method \
         ORDER BY lower(t.name), e.slug, m.method",
        p = if matches!(conn, DbConn::Postgres(_)) { "$1" } else { "?" },
    ))
    .bind::<Timestamp, _>(day_start);
    match conn {
        DbConn::Postgres(c) => q.load(c),
        DbConn::Sqlite(c) => q.load(c),
    }
}

/// An expected, enabled mapping as the periodic check reads it.
#[derive(Debug, Clone, Queryable)]
pub struct Expected {
    pub token_id: i64,
    pub token_name: String,
    pub endpoint_id: i64,
    pub endpoint_slug: String,
    pub method: Method,
    pub expect_every_seconds: i32,
    pub expect_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub last_call_at: Option<NaiveDateTime>,
    pub silent_since: Option<NaiveDateTime>,
    pub resumed_at: Option<NaiveDateTime>,
}

impl Expected {
    pub fn key(&self) -> MappingKey {
        MappingKey {
            token_id: self.token_id,
            endpoint_id: self.endpoint_id,
            method: self.method,
        }
    }
}

/// Every enabled mapping with an expected cadence, and every mapping whose raised
/// silence has not been ended, with its activity.
pub fn expected(conn: &mut DbConn) -> QueryResult<Vec<Expected>> {
    use mapping_activity as a;
    use mappings as m;
    m::table
        .inner_join(tokens::table.on(tokens::id.eq(m::token_id)))
        .inner_join(endpoints::table.on(endpoints::id.eq(m::endpoint_id)))
        .left_join(
            a::table.on(a::token_id
                .eq(m::token_id)
                .and(a::endpoint_id.eq(m::endpoint_id))
                .and(a::method.eq(m::method))),
        )
        .filter(m::expect_every_seconds.is_not_null())
        .filter(m::enabled.eq(true))
        .select((
            m::token_id,
            tokens::name,
            m::endpoint_id,
            endpoints::slug,
            m::method,
            m::expect_every_seconds.assume_not_null(),
            m::expect_since,
            m::created_at,
            a::last_call_at.nullable(),
            a::silent_since.nullable(),
            a::resumed_at.nullable(),
        ))
        .load(conn)
}

/// A 5-minute window of one mapping's refusals at or over the threshold.
#[derive(Debug, Clone, Queryable)]
pub struct Spike {
    pub token_id: i64,
    pub token_name: String,
    pub endpoint_id: i64,
    pub endpoint_slug: String,
    pub method: Method,
    pub window_start: NaiveDateTime,
    pub refusals: i64,
}

/// Windows starting at or after `since` with at least `threshold` refusals.
pub fn spikes(conn: &mut DbConn, since: NaiveDateTime, threshold: i64) -> QueryResult<Vec<Spike>> {
    use mapping_refusal_windows as w;
    w::table
        .inner_join(tokens::table.on(tokens::id.eq(w::token_id)))
        .inner_join(endpoints::table.on(endpoints::id.eq(w::endpoint_id)))
        .filter(w::window_start.ge(since))
        .filter(w::refusals.ge(threshold))
        .select((
            w::token_id,
            tokens::name,
            w::endpoint_id,
            endpoints::slug,
            w::method,
            w::window_start,
            w::refusals,
        ))
        .load(conn)
}

/// Active tokens whose expiry lies in `(after, before]`: (id, name, expires_at).
pub fn expiring_tokens(
    conn: &mut DbConn,
    after: NaiveDateTime,
    before: NaiveDateTime,
) -> QueryResult<Vec<(i64, String, NaiveDateTime)>> {
    tokens::table
        .filter(tokens::active.eq(true))
        .filter(tokens::expires_at.gt(after))
        .filter(tokens::expires_at.le(before))
        .select((
            tokens::id,
            tokens::name,
            tokens::expires_at.assume_not_null(),
        ))
        .load(conn)
}
