//! Idempotency keys of POSTs: a repeat within the window returns the first response.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::idempotency_keys;
use crate::db::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub principal: String,
    pub idem_key: String,
    pub body_hash: Vec<u8>,
    pub record_id: i64,
    pub received_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// The stored first response for this key, if it is younger than `not_before`.
pub fn find(
    conn: &mut DbConn,
    endpoint_id: i64,
    principal: &str,
    key: &str,
    not_before: NaiveDateTime,
) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .filter(idempotency_keys::endpoint_id.eq(endpoint_id))
        .filter(idempotency_keys::principal.eq(principal))
        .filter(idempotency_keys::idem_key.eq(key))
        .filter(idempotency_keys::created_at.ge(not_before))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()
}

/// Drops an expired key so it can be used again.
pub fn delete_expired(
    conn: &mut DbConn,
    endpoint_id: i64,
    principal: &str,
    key: &str,
    not_before: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::endpoint_id.eq(endpoint_id))
            .filter(idempotency_keys::principal.eq(principal))
            .filter(idempotency_keys::idem_key.eq(key))
            .filter(idempotency_keys::created_at.lt(not_before)),
    )
    .execute(conn)
}

#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &mut DbConn,
    endpoint_id: i64,
    principal: &str,
    key: &str,
    body_hash: &[u8],
    record_id: i64,
    received_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::endpoint_id.eq(endpoint_id),
            idempotency_keys::principal.eq(principal),
            idempotency_keys::idem_key.eq(key),
            idempotency_keys::body_hash.eq(body_hash),
            idempotency_keys::record_id.eq(record_id),
            idempotency_keys::received_at.eq(received_at),
            idempotency_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn purge_older_than(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
        .execute(conn)
}
