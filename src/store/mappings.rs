//! Mappings of secondary tokens onto (endpoint, method).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::mappings;
use crate::db::DbConn;
use crate::domain::endpoint::Method;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mappings)]
pub struct MappingRow {
    pub token_id: i64,
    pub endpoint_id: i64,
    pub method: Method,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expect_every_seconds: Option<i32>,
    pub expect_since: Option<NaiveDateTime>,
}

#[diesel::dsl::auto_type]
fn key(token_id: i64, endpoint_id: i64, method: Method) -> _ {
    mappings::table
        .filter(mappings::token_id.eq(token_id))
        .filter(mappings::endpoint_id.eq(endpoint_id))
        .filter(mappings::method.eq(method))
}

/// The mapping of `token_id` onto (`endpoint_id`, `method`). Asked of the token's
/// mappings (a few rows, by the primary key's prefix): given all three columns, a
/// planner without statistics (a database just filled, autovacuum not yet by)
/// may pick `mappings_endpoint` and step through every mapping of the endpoint,
/// 2 ms of the database at 10,000 tokens for each token's first call.
pub fn find(
    conn: &mut DbConn,
    token_id: i64,
    endpoint_id: i64,
    method: Method,
) -> QueryResult<Option<MappingRow>> {
    Ok(of_token(conn, token_id)?
        .into_iter()
        .find(|m| m.endpoint_id == endpoint_id && m.method == method))
}

/// Creates the mapping or sets its `enabled` and, when `expect` is given, its
/// expected cadence (`Some(None)` removes it; a new value restarts the count from
/// `now`); run inside a transaction. The row, whether it was created, and whether
/// the expectation changed.
pub fn put(
    conn: &mut DbConn,
    token_id: i64,
    endpoint_id: i64,
    method: Method,
    enabled: bool,
    expect: Option<Option<i32>>,
    now: NaiveDateTime,
) -> QueryResult<(MappingRow, bool, bool)> {
    let current = find(conn, token_id, endpoint_id, method)?;
    let expect_changed = match (&current, expect) {
        (_, None) => false,
        (Some(c), Some(e)) => c.expect_every_seconds != e,
        (None, Some(e)) => e.is_some(),
    };
    let created = current.is_none();
    if created {
        diesel::insert_into(mappings::table)
            .values((
                mappings::token_id.eq(token_id),
                mappings::endpoint_id.eq(endpoint_id),
                mappings::method.eq(method),
                mappings::enabled.eq(enabled),
                mappings::created_at.eq(now),
                mappings::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        diesel::update(key(token_id, endpoint_id, method))
            .set((mappings::enabled.eq(enabled), mappings::updated_at.eq(now)))
            .execute(conn)?;
    }
    if expect_changed {
        let every = expect.flatten();
        diesel::update(key(token_id, endpoint_id, method))
            .set((
                mappings::expect_every_seconds.eq(every),
                mappings::expect_since.eq(every.map(|_| now)),
            ))
            .execute(conn)?;
    }
    let row = key(token_id, endpoint_id, method)
        .select(MappingRow::as_select())
        .first(conn)?;
    Ok((row, created, expect_changed))
}

pub fn delete(
    conn: &mut DbConn,
    token_id: i64,
    endpoint_id: i64,
    method: Method,
) -> QueryResult<usize> {
    diesel::delete(key(token_id, endpoint_id, method)).execute(conn)
}

pub fn of_token(conn: &mut DbConn, token_id: i64) -> QueryResult<Vec<MappingRow>> {
    mappings::table
        .filter(mappings::token_id.eq(token_id))
        .order((mappings::endpoint_id.asc(), mappings::method.asc()))
        .select(MappingRow::as_select())
        .load(conn)
}

pub fn of_tokens(conn: &mut DbConn, token_ids: &[i64]) -> QueryResult<Vec<MappingRow>> {
    mappings::table
        .filter(mappings::token_id.eq_any(token_ids))
        .select(MappingRow::as_select())
        .load(conn)
}

pub fn of_endpoint(conn: &mut DbConn, endpoint_id: i64) -> QueryResult<Vec<MappingRow>> {
    mappings::table
        .filter(mappings::endpoint_id.eq(endpoint_id))
        .select(MappingRow::as_select())
        .load(conn)
}

/// Number of distinct tokens mapped onto each endpoint.
pub fn count_tokens_by_endpoint(conn: &mut DbConn) -> QueryResult<Vec<(i64, i64)>> {
    let pairs: Vec<(i64, i64)> = mappings::table
        .select((mappings::endpoint_id, mappings::token_id))
        .distinct()
        .load(conn)?;
    let mut counts = std::collections::BTreeMap::new();
    for (endpoint_id, _) in pairs {
        *counts.entry(endpoint_id).or_insert(0) += 1;
    }
    Ok(counts.into_iter().collect())
}
