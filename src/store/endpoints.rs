//! Endpoints and their primary tokens.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{endpoints, primary_tokens};
use crate::db::DbConn;
use crate::domain::endpoint::{AuthType, IpAllowlist, Method};
use crate::domain::token::TokenHash;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = endpoints)]
pub struct EndpointRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub auth: AuthType,
    pub allow_delete: bool,
    pub enabled: bool,
    pub max_body_bytes: i64,
    pub retention_days: Option<i32>,
    pub ip_allowlist: Option<IpAllowlist>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The version of its JSON Schema in force (`endpoint_schemas`), if any.
    pub schema_id: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = endpoints)]
pub struct NewEndpoint<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub auth: AuthType,
    pub allow_delete: bool,
    pub enabled: bool,
    pub max_body_bytes: i64,
    pub retention_days: Option<i32>,
    pub ip_allowlist: Option<IpAllowlist>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Fields an update may change; `None` leaves a field alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = endpoints)]
pub struct EndpointChanges {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub auth: Option<AuthType>,
    pub allow_delete: Option<bool>,
    pub enabled: Option<bool>,
    pub max_body_bytes: Option<i64>,
    pub retention_days: Option<Option<i32>>,
    pub ip_allowlist: Option<Option<IpAllowlist>>,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = primary_tokens)]
pub struct PrimaryTokenRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub method: Method,
    pub token_hash: TokenHash,
    pub hint: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

crate::debug_redacting!(PrimaryTokenRow { id, endpoint_id, method, hint, created_at, last_used_at } secret { token_hash });

pub fn insert(conn: &mut DbConn, new: &NewEndpoint<'_>) -> QueryResult<EndpointRow> {
    let id: i64 = diesel::insert_into(endpoints::table)
        .values(new)
        .returning(endpoints::id)
        .get_result(conn)?;
    find(conn, id)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<EndpointRow> {
    endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
}

pub fn find_by_slug(conn: &mut DbConn, slug: &str) -> QueryResult<Option<EndpointRow>> {
    endpoints::table
        .filter(endpoints::slug.eq(slug))
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<EndpointRow>> {
    endpoints::table
        .order(endpoints::slug.asc())
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn update(conn: &mut DbConn, id: i64, changes: &EndpointChanges) -> QueryResult<EndpointRow> {
    diesel::update(endpoints::table.find(id))
        .set(changes)
        .execute(conn)?;
    find(conn, id)
}

/// Deletes the endpoint; its primary tokens, mappings and records go with it
/// (foreign keys cascade), its calls stay in the log.
pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(endpoints::table.find(id)).execute(conn)
}

pub fn primary_tokens_of(conn: &mut DbConn, endpoint_id: i64) -> QueryResult<Vec<PrimaryTokenRow>> {
    primary_tokens::table
        .filter(primary_tokens::endpoint_id.eq(endpoint_id))
        .select(PrimaryTokenRow::as_select())
        .load(conn)
}

/// Sets the primary token of (endpoint, method), replacing any previous one.
pub fn put_primary_token(
    conn: &mut DbConn,
    endpoint_id: i64,
    method: Method,
    hash: &TokenHash,
    hint: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(
        primary_tokens::table
            .filter(primary_tokens::endpoint_id.eq(endpoint_id))
            .filter(primary_tokens::method.eq(method)),
    )
    .execute(conn)?;
    diesel::insert_into(primary_tokens::table)
        .values((
            primary_tokens::endpoint_id.eq(endpoint_id),
            primary_tokens::method.eq(method),
            primary_tokens::token_hash.eq(hash),
            primary_tokens::hint.eq(hint),
            primary_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete_primary_token(
    conn: &mut DbConn,
    endpoint_id: i64,
    method: Method,
) -> QueryResult<usize> {
    diesel::delete(
        primary_tokens::table
            .filter(primary_tokens::endpoint_id.eq(endpoint_id))
            .filter(primary_tokens::method.eq(method)),
    )
    .execute(conn)
}

pub fn delete_all_primary_tokens(conn: &mut DbConn, endpoint_id: i64) -> QueryResult<usize> {
    diesel::delete(primary_tokens::table.filter(primary_tokens::endpoint_id.eq(endpoint_id)))
        .execute(conn)
}

pub fn find_primary_by_hash(
    conn: &mut DbConn,
    hash: &TokenHash,
) -> QueryResult<Option<PrimaryTokenRow>> {
    primary_tokens::table
        .filter(primary_tokens::token_hash.eq(hash))
        .select(PrimaryTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Endpoints with a retention period, for the retention sweep.
/// Every endpoint with its retention in days (`None`: kept forever).
pub fn retention_of_all(conn: &mut DbConn) -> QueryResult<Vec<(i64, Option<i32>)>> {
    endpoints::table
        .select((endpoints::id, endpoints::retention_days))
        .load(conn)
}
