//! Health of every mapping, read from the mappings, their tokens and endpoints and
//! the running aggregates (never the call log): the Health list with its counts,
//! the page's calls and refusals per day, and what the periodic check looks at.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use crate::db::schema::{
    endpoints, mapping_activity, mapping_hours, mapping_refusal_windows, mappings, tokens,
};
use crate::db::DbConn;
use crate::domain::endpoint::Method;
use crate::domain::health::MappingKey;

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
pub struct HealthSearch {
    /// Text in the token's name or the endpoint's slug or name.
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
    #[diesel(sql_type = Timestamp)]
    pub expect_since: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_call_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_refusal_at: Option<NaiveDateTime>,
}

/// How many mappings the text selects, and how many of them are in each state.
#[derive(Debug, Clone, Copy, Default, QueryableByName)]
pub struct HealthCounts {
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub silent: i64,
    #[diesel(sql_type = BigInt)]
    pub failing: i64,
    #[diesel(sql_type = BigInt)]
    pub expiring: i64,
}

/// The selection as SQL: `(inner select, placeholder prefix)`. The inner select
/// gives each mapping `overdue_s` (epoch seconds when it is or will be overdue;
/// NULL when not expected or switched off), `failing` and `expiring`.
fn inner(conn: &DbConn) -> (String, &'static str) {
    let (p, epoch, greatest) = match conn {
        DbConn::Postgres(_) => (
            "$",
            "CAST(floor(extract(epoch FROM {})) AS BIGINT)",
            "GREATEST",
        ),
        DbConn::Sqlite(_) => ("?", "CAST(strftime('%s', {}) AS INTEGER)", "MAX"),
    };
    let ep = |x: &str| epoch.replace("{}", x);
    let sql = format!(
        "SELECT m.token_id, t.name AS token_name, t.enabled AS token_enabled, \
           t.active AS token_active, t.expires_at, m.endpoint_id, e.slug AS endpoint_slug, \
           m.method, m.enabled, m.expect_every_seconds, \
           COALESCE(m.expect_since, m.created_at) AS expect_since, a.last_call_at, a.last_refusal_at, \
           CASE WHEN m.expect_every_seconds IS NULL OR NOT m.enabled THEN NULL \
             ELSE {greatest}(COALESCE({last}, 0), {base}) + m.expect_every_seconds END AS overdue_s, \
           CASE WHEN a.last_refusal_at >= {p}2 THEN 1 ELSE 0 END AS failing, \
           CASE WHEN t.expires_at IS NOT NULL AND t.expires_at <= {p}3 THEN 1 ELSE 0 END AS expiring \
         FROM mappings m JOIN tokens t ON t.id = m.token_id JOIN endpoints e ON e.id = m.endpoint_id \
         LEFT JOIN mapping_activity a ON a.token_id = m.token_id AND a.endpoint_id = m.endpoint_id \
           AND a.method = m.method \
         WHERE ({p}4 = '' OR lower(t.name) LIKE {p}4 ESCAPE '\\' OR lower(e.slug) LIKE {p}4 ESCAPE '\\' \
           OR lower(e.name) LIKE {p}4 ESCAPE '\\')",
        last = ep("a.last_call_at"),
        base = ep("COALESCE(m.expect_since, m.created_at)"),
    );
    (sql, p)
}

fn silent(p: &str) -> String {
    format!("(overdue_s IS NOT NULL AND overdue_s <= {p}1)")
}

macro_rules! run {
    ($conn:expr, $sql:expr, $search:expr, $load:ident) => {{
        let pattern = $search
            .text
            .as_deref()
            .map(|t| super::like_pattern(&t.to_lowercase()))
            .unwrap_or_default();
        let q = diesel::sql_query($sql)
            .bind::<BigInt, _>($search.now.and_utc().timestamp())
            .bind::<Timestamp, _>($search.day_start)
            .bind::<Timestamp, _>($search.expiring_before)
            .bind::<Text, _>(pattern);
        match $conn {
            DbConn::Postgres(c) => q.$load(c),
            DbConn::Sqlite(c) => q.$load(c),
        }
    }};
}

/// The mappings `search` selects, in its order, one page of them.
pub fn page(conn: &mut DbConn, search: &HealthSearch) -> QueryResult<Vec<HealthRow>> {
    let (inner, p) = inner(conn);
    let silent = silent(p);
    let state = match search.state {
        None => "1 = 1".to_owned(),
        Some(HealthState::Silent) => silent.clone(),
        Some(HealthState::Failing) => "failing = 1".to_owned(),
        Some(HealthState::Expiring) => "expiring = 1".to_owned(),
    };
    let dir = if search.descending { "DESC" } else { "ASC" };
    let order = match search.sort {
        HealthSort::Worst => format!(
            "CASE WHEN {silent} THEN 0 WHEN failing = 1 THEN 1 WHEN expiring = 1 THEN 2 ELSE 3 END {dir}, \
             CASE WHEN {silent} THEN overdue_s END {dir}, last_refusal_at DESC, expires_at {dir}, \
             lower(token_name), endpoint_slug, method"
        ),
        HealthSort::Token => format!("lower(token_name) {dir}, endpoint_slug, method"),
        HealthSort::Endpoint => format!("endpoint_slug {dir}, lower(token_name), method"),
        HealthSort::LastCall => format!(
            "CASE WHEN last_call_at IS NULL THEN 0 ELSE 1 END {dir}, last_call_at {dir}, \
             lower(token_name), endpoint_slug, method"
        ),
    };
    let sql = format!(
        "SELECT * FROM ({inner}) h WHERE {state} ORDER BY {order} LIMIT {} OFFSET {}",
        search.limit.max(0),
        search.offset.max(0)
    );
    run!(conn, sql, search, load)
}

/// How many mappings the search's text selects, in all and in each state.
pub fn counts(conn: &mut DbConn, search: &HealthSearch) -> QueryResult<HealthCounts> {
    let (inner, p) = inner(conn);
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS total, \
           CAST(COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS BIGINT) AS silent, \
           CAST(COALESCE(SUM(failing), 0) AS BIGINT) AS failing, \
           CAST(COALESCE(SUM(expiring), 0) AS BIGINT) AS expiring FROM ({inner}) h",
        silent(p)
    );
    run!(conn, sql, search, get_result)
}

/// One mapping's calls and refusals over a day.
#[derive(Debug, Clone, Queryable)]
pub struct DayCount {
    pub token_id: i64,
    pub endpoint_id: i64,
    pub method: String,
    pub calls: i64,
    pub refusals: i64,
}

/// Calls and refusals since `since` of the mappings of `tokens` onto `endpoints`,
/// from at most 25 hours per mapping.
pub fn day_counts(
    conn: &mut DbConn,
    tokens: &[i64],
    endpoints: &[i64],
    since: NaiveDateTime,
) -> QueryResult<Vec<DayCount>> {
    use diesel::dsl::sql;
    use mapping_hours as h;
    h::table
        .filter(h::hour.ge(since))
        .filter(h::token_id.eq_any(tokens))
        .filter(h::endpoint_id.eq_any(endpoints))
        .group_by((h::token_id, h::endpoint_id, h::method))
        .select((
            h::token_id,
            h::endpoint_id,
            h::method,
            sql::<BigInt>("CAST(SUM(calls) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(refusals) AS BIGINT)"),
        ))
        .load(conn)
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
