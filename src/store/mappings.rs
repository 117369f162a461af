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
}

#[diesel::dsl::auto_type]
fn key(token_id: i64, endpoint_id: i64, method: Method) -> _ {
    mappings::table
        .filter(mappings::token_id.eq(token_id))
        .filter(mappings::endpoint_id.eq(endpoint_id))
        .filter(mappings::method.eq(method))
}

pub fn find(
    conn: &mut DbConn,
    token_id: i64,
    endpoint_id: i64,
    method: Method,
) -> QueryResult<Option<MappingRow>> {
    key(token_id, endpoint_id, method)
        .select(MappingRow::as_select())
        .first(conn)
        .optional()
}

/// Creates the mapping or sets its `enabled`; run inside a transaction.
pub fn put(
    conn: &mut DbConn,
    token_id: i64,
    endpoint_id: i64,
    method: Method,
    enabled: bool,
    now: NaiveDateTime,
) -> QueryResult<(MappingRow, bool)> {
    let updated = diesel::update(key(token_id, endpoint_id, method))
        .set((mappings::enabled.eq(enabled), mappings::updated_at.eq(now)))
        .execute(conn)?;
    let created = updated == 0;
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
    }
    let row = key(token_id, endpoint_id, method)
        .select(MappingRow::as_select())
        .first(conn)?;
    Ok((row, created))
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
