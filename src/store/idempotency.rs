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

/// A first response to remember for a key.
pub struct NewKey<'a> {
    pub endpoint_id: i64,
    pub principal: &'a str,
    pub key: &'a str,
    pub body_hash: &'a [u8],
    pub record_id: i64,
    pub received_at: NaiveDateTime,
}

/// Remembers `new` unless another transaction remembered the same key first
/// (`false` then: that one's response stands). Never fails on the conflict, so the
/// caller's transaction stays usable without a savepoint.
pub fn insert_if_absent(conn: &mut DbConn, new: &NewKey<'_>) -> QueryResult<bool> {
    let values = (
        idempotency_keys::endpoint_id.eq(new.endpoint_id),
        idempotency_keys::principal.eq(new.principal),
        idempotency_keys::idem_key.eq(new.key),
        idempotency_keys::body_hash.eq(new.body_hash),
        idempotency_keys::record_id.eq(new.record_id),
        idempotency_keys::received_at.eq(new.received_at),
        idempotency_keys::created_at.eq(new.received_at),
    );
    let inserted = match conn {
        DbConn::Postgres(c) => diesel::insert_into(idempotency_keys::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(idempotency_keys::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

pub fn purge_older_than(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
        .execute(conn)
}
