//! Access facts: the access generation every access change raises, and what a
//! presented token hash is on one endpoint and method.

use diesel::prelude::*;

use crate::db::schema::access_generation;
use crate::db::DbConn;
use crate::domain::access::{Presented, SecondaryAccess};
use crate::domain::endpoint::Method;
use crate::domain::token::TokenHash;

/// The current generation.
pub fn generation(conn: &mut DbConn) -> QueryResult<i64> {
    access_generation::table
        .find(1)
        .select(access_generation::n)
        .first(conn)
}

/// Raises the generation; visible to others when the caller's transaction commits.
/// Returns the new value.
pub fn bump(conn: &mut DbConn) -> QueryResult<i64> {
    diesel::update(access_generation::table.find(1))
        .set(access_generation::n.eq(access_generation::n + 1))
        .returning(access_generation::n)
        .get_result(conn)
}

/// What the token hashing to `hash` is on (`endpoint_id`, `method`): a primary
/// token (with its id), a secondary token with its mapping there, or unknown.
/// Stored hashes are compared in constant time after the indexed lookup.
pub fn credential(
    conn: &mut DbConn,
    hash: &TokenHash,
    endpoint_id: i64,
    method: Method,
) -> QueryResult<(Presented, Option<i64>)> {
    if let Some(p) =
        super::endpoints::find_primary_by_hash(conn, hash)?.filter(|p| hash.matches(&p.token_hash))
    {
        let presented = Presented::Primary {
            endpoint_id: p.endpoint_id,
            method: p.method,
        };
        return Ok((presented, Some(p.id)));
    }
    let Some(t) = super::tokens::find_by_hash(conn, hash)? else {
        return Ok((Presented::Unknown, None));
    };
    let matched_previous = !hash.matches(&t.token_hash);
    if matched_previous && !t.previous_hash.as_ref().is_some_and(|h| hash.matches(h)) {
        return Ok((Presented::Unknown, None));
    }
    let mapping = super::mappings::find(conn, t.id, endpoint_id, method)?;
    let access = SecondaryAccess {
        id: t.id,
        name: t.name,
        enabled: t.enabled,
        active: t.active,
        expires_at: t.expires_at,
        previous_valid_until: t.previous_valid_until,
        matched_previous,
        ip_allowlist: t.ip_allowlist,
        rate_limit_per_minute: t.rate_limit_per_minute,
        mapping_enabled: mapping.map(|m| m.enabled),
    };
    Ok((Presented::Secondary(access), None))
}
