//! Versions of endpoints' JSON Schemas. Versions are never changed: a new one is
//! inserted and the endpoint pointed at it (`endpoints.schema_id`), so a compiled
//! validator can be cached by version id for as long as the process runs.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{endpoint_schemas, endpoints};
use crate::db::DbConn;
use crate::domain::contract::SchemaMode;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = endpoint_schemas)]
pub struct SchemaRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub version: i32,
    pub mode: SchemaMode,
    /// The schema as JSON text.
    pub schema: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// Adds version `n + 1` of endpoint `endpoint_id`'s schema and puts it in force.
pub fn put(
    conn: &mut DbConn,
    endpoint_id: i64,
    mode: SchemaMode,
    schema: &str,
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<SchemaRow> {
    let last: Option<i32> = endpoint_schemas::table
        .filter(endpoint_schemas::endpoint_id.eq(endpoint_id))
        .select(diesel::dsl::max(endpoint_schemas::version))
        .first(conn)?;
    let id: i64 = diesel::insert_into(endpoint_schemas::table)
        .values((
            endpoint_schemas::endpoint_id.eq(endpoint_id),
            endpoint_schemas::version.eq(last.unwrap_or(0) + 1),
            endpoint_schemas::mode.eq(mode),
            endpoint_schemas::schema.eq(schema),
            endpoint_schemas::created_by.eq(actor),
            endpoint_schemas::created_at.eq(now),
        ))
        .returning(endpoint_schemas::id)
        .get_result(conn)?;
    set_current(conn, endpoint_id, Some(id))?;
    find(conn, id)
}

/// Points endpoint `endpoint_id` at schema version `id` (`None`: no schema).
pub fn set_current(conn: &mut DbConn, endpoint_id: i64, id: Option<i64>) -> QueryResult<usize> {
    diesel::update(endpoints::table.find(endpoint_id))
        .set(endpoints::schema_id.eq(id))
        .execute(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<SchemaRow> {
    endpoint_schemas::table
        .find(id)
        .select(SchemaRow::as_select())
        .first(conn)
}

/// Every version of an endpoint's schema, newest first.
pub fn history(conn: &mut DbConn, endpoint_id: i64) -> QueryResult<Vec<SchemaRow>> {
    endpoint_schemas::table
        .filter(endpoint_schemas::endpoint_id.eq(endpoint_id))
        .order(endpoint_schemas::version.desc())
        .select(SchemaRow::as_select())
        .load(conn)
}
