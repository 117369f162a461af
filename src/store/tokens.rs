//! Secondary ("endpoint") tokens.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::tokens;
use crate::db::DbConn;
use crate::domain::endpoint::IpAllowlist;
use crate::domain::token::TokenHash;

#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tokens)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub token_hash: TokenHash,
    pub hint: String,
    pub previous_hash: Option<TokenHash>,
    pub previous_valid_until: Option<NaiveDateTime>,
    pub enabled: bool,
    pub active: bool,
    pub expires_at: Option<NaiveDateTime>,
    pub rate_limit_per_minute: Option<i32>,
    pub ip_allowlist: Option<IpAllowlist>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = tokens)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub token_hash: &'a TokenHash,
    pub hint: &'a str,
    pub enabled: bool,
    pub active: bool,
    pub expires_at: Option<NaiveDateTime>,
    pub rate_limit_per_minute: Option<i32>,
    pub ip_allowlist: Option<IpAllowlist>,
    pub created_by: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

crate::debug_redacting!(TokenRow {
    id, name, description, hint, previous_valid_until, enabled, active, expires_at,
    rate_limit_per_minute, ip_allowlist, created_by, created_at, updated_at, last_used_at,
} secret { token_hash, previous_hash });
crate::debug_redacting!(NewToken<'a> {
    name, description, hint, enabled, active, expires_at, rate_limit_per_minute,
    ip_allowlist, created_by, created_at, updated_at,
} secret { token_hash });

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tokens)]
pub struct TokenChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub active: Option<bool>,
    pub expires_at: Option<Option<NaiveDateTime>>,
    pub rate_limit_per_minute: Option<Option<i32>>,
    pub ip_allowlist: Option<Option<IpAllowlist>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Which tokens a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Active,
    Inactive,
    All,
}

pub fn insert(conn: &mut DbConn, new: &NewToken<'_>) -> QueryResult<TokenRow> {
    let id: i64 = diesel::insert_into(tokens::table)
        .values(new)
        .returning(tokens::id)
        .get_result(conn)?;
    find(conn, id)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<TokenRow> {
    tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
}

pub fn list(conn: &mut DbConn, state: StateFilter) -> QueryResult<Vec<TokenRow>> {
    let mut q = tokens::table.select(TokenRow::as_select()).into_boxed();
    q = match state {
        StateFilter::Active => q.filter(tokens::active.eq(true)),
        StateFilter::Inactive => q.filter(tokens::active.eq(false)),
        StateFilter::All => q,
    };
    q.order((tokens::name.asc(), tokens::id.asc())).load(conn)
}

/// Up to `limit` (id, name, active) of tokens whose name contains `needle`
/// (case-insensitive), by name: the data viewer's token picker.
pub fn names_matching(
    conn: &mut DbConn,
    needle: &str,
    limit: i64,
) -> QueryResult<Vec<(i64, String, bool)>> {
    let mut q = tokens::table
        .select((tokens::id, tokens::name, tokens::active))
        .into_boxed();
    if !needle.is_empty() {
        q = q.filter(
            super::calls::lower(tokens::name)
                .like(super::like_pattern(&needle.to_lowercase()))
                .escape('\\'),
        );
    }
    q.order((tokens::name.asc(), tokens::id.asc()))
        .limit(limit)
        .load(conn)
}

/// (id, name, active) of the given tokens.
pub fn names_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String, bool)>> {
    tokens::table
        .filter(tokens::id.eq_any(ids))
        .select((tokens::id, tokens::name, tokens::active))
        .order(tokens::name.asc())
        .load(conn)
}

pub fn find_many(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<TokenRow>> {
    tokens::table
        .filter(tokens::id.eq_any(ids))
        .select(TokenRow::as_select())
        .load(conn)
}

pub fn update(conn: &mut DbConn, id: i64, changes: &TokenChanges) -> QueryResult<TokenRow> {
    diesel::update(tokens::table.find(id))
        .set(changes)
        .execute(conn)?;
    find(conn, id)
}

pub fn update_many(conn: &mut DbConn, ids: &[i64], changes: &TokenChanges) -> QueryResult<usize> {
    diesel::update(tokens::table.filter(tokens::id.eq_any(ids)))
        .set(changes)
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(tokens::table.find(id)).execute(conn)
}

pub fn delete_many(conn: &mut DbConn, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(tokens::table.filter(tokens::id.eq_any(ids))).execute(conn)
}

/// Replaces the value; the old one stays valid until `previous_valid_until`
/// (or not at all when that is `None`).
pub fn rotate(
    conn: &mut DbConn,
    id: i64,
    hash: &TokenHash,
    hint: &str,
    previous_valid_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<TokenRow> {
    let current = find(conn, id)?;
    let previous = previous_valid_until.map(|_| current.token_hash);
    diesel::update(tokens::table.find(id))
        .set((
            tokens::token_hash.eq(hash),
            tokens::hint.eq(hint),
            tokens::previous_hash.eq(previous),
            tokens::previous_valid_until.eq(previous_valid_until),
            tokens::updated_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, id)
}

/// The token whose current value, or value replaced during a grace period, hashes to `hash`.
pub fn find_by_hash(conn: &mut DbConn, hash: &TokenHash) -> QueryResult<Option<TokenRow>> {
    let current = tokens::table
        .filter(tokens::token_hash.eq(hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?;
    if current.is_some() {
        return Ok(current);
    }
    tokens::table
        .filter(tokens::previous_hash.eq(hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}
