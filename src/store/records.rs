//! Records posted to endpoints.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::records;
use crate::db::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = records)]
pub struct RecordRow {
    pub id: i64,
    pub endpoint_id: i64,
    #[diesel(deserialize_as = crate::db::types::Instant)]
    pub received_at: NaiveDateTime,
    pub data: String,
}

/// Keyset page of an endpoint's records, oldest first.
#[derive(Debug, Default, Clone)]
pub struct RecordQuery {
    pub after: Option<i64>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Records received before this moment are past retention and not served.
    pub not_before: Option<NaiveDateTime>,
    pub limit: i64,
}

pub fn insert(
    conn: &mut DbConn,
    endpoint_id: i64,
    received_at: NaiveDateTime,
    data: &str,
) -> QueryResult<i64> {
    diesel::insert_into(records::table)
        .values((
            records::endpoint_id.eq(endpoint_id),
            records::received_at.eq(received_at),
            records::data.eq(data),
        ))
        .returning(records::id)
        .get_result(conn)
}

/// A record with the id the writer gave it.
#[derive(Debug, Insertable)]
#[diesel(table_name = records)]
pub struct NewRecord<'a> {
    pub id: i64,
    pub endpoint_id: i64,
    pub received_at: NaiveDateTime,
    pub data: &'a str,
}

/// Inserts `rows` in one statement.
pub fn insert_many(conn: &mut DbConn, rows: &[NewRecord<'_>]) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    // SQLite: a multi-row `VALUES`. PostgreSQL: one array a column, so one prepared
    // statement serves every batch size (`store::bulk`).
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(records::table).values(rows).execute(c),
        DbConn::Postgres(c) => super::bulk::insert_records(c, rows),
    }
}

pub fn find(conn: &mut DbConn, endpoint_id: i64, id: i64) -> QueryResult<Option<RecordRow>> {
    records::table
        .filter(records::endpoint_id.eq(endpoint_id))
        .filter(records::id.eq(id))
        .select(RecordRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_data(conn: &mut DbConn, id: i64) -> QueryResult<Option<String>> {
    records::table
        .find(id)
        .select(records::data)
        .first(conn)
        .optional()
}

pub fn page(conn: &mut DbConn, endpoint_id: i64, q: &RecordQuery) -> QueryResult<Vec<RecordRow>> {
    let mut query = records::table
        .filter(records::endpoint_id.eq(endpoint_id))
        .select(RecordRow::as_select())
        .into_boxed();
    if let Some(after) = q.after {
        query = query.filter(records::id.gt(after));
    }
    if let Some(since) = q.since {
        query = query.filter(records::received_at.ge(since));
    }
    if let Some(until) = q.until {
        query = query.filter(records::received_at.lt(until));
    }
    if let Some(not_before) = q.not_before {
        query = query.filter(records::received_at.ge(not_before));
    }
    query.order(records::id.asc()).limit(q.limit).load(conn)
}

pub fn delete(conn: &mut DbConn, endpoint_id: i64, id: i64) -> QueryResult<usize> {
    diesel::delete(
        records::table
            .filter(records::endpoint_id.eq(endpoint_id))
            .filter(records::id.eq(id)),
    )
    .execute(conn)
}

pub fn delete_all(conn: &mut DbConn, endpoint_id: i64) -> QueryResult<usize> {
    diesel::delete(records::table.filter(records::endpoint_id.eq(endpoint_id))).execute(conn)
}

/// Deletes up to `limit` of the endpoint's records received before `cutoff`.
pub fn delete_older_than(
    conn: &mut DbConn,
    endpoint_id: i64,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let batch: Vec<i64> = records::table
        .filter(records::endpoint_id.eq(endpoint_id))
        .filter(records::received_at.lt(cutoff))
        .select(records::id)
        .limit(limit)
        .load(conn)?;
    if batch.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        records::table
            .filter(records::received_at.lt(cutoff))
            .filter(records::id.eq_any(batch)),
    )
    .execute(conn)
}

pub fn count(conn: &mut DbConn, endpoint_id: i64) -> QueryResult<i64> {
    records::table
        .filter(records::endpoint_id.eq(endpoint_id))
        .count()
        .get_result(conn)
}

/// (id, size of the payload in bytes) of the records `ids` that exist (`spans`: where
/// they lie, kept across the calls of one export).
pub fn sizes(
    conn: &mut DbConn,
    spans: &mut super::records_by_id::Spans,
    ids: &[i64],
) -> QueryResult<Vec<(i64, i64)>> {
    if let Some(found) = super::records_by_id::sizes(conn, spans, ids)? {
        return Ok(found);
    }
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let bytes = match conn {
        DbConn::Sqlite(_) => "CAST(length(CAST(data AS BLOB)) AS BIGINT)",
        DbConn::Postgres(_) => "CAST(octet_length(data) AS BIGINT)",
    };
    records::table
        .filter(records::id.eq_any(ids))
        .select((records::id, sql::<BigInt>(bytes)))
        .load(conn)
}

/// (id, payload) of the records `ids` that exist.
pub fn data_of(
    conn: &mut DbConn,
    spans: &mut super::records_by_id::Spans,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String)>> {
    if let Some(found) = super::records_by_id::data_of(conn, spans, ids)? {
        return Ok(found);
    }
    records::table
        .filter(records::id.eq_any(ids))
        .select((records::id, records::data))
        .load(conn)
}

/// The `limit` newest records of an endpoint as (id, JSON text), newest first: what a
/// schema is drafted from and checked against.
pub fn newest_data(
    conn: &mut DbConn,
    endpoint_id: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, String)>> {
    records::table
        .filter(records::endpoint_id.eq(endpoint_id))
        .order(records::id.desc())
        .select((records::id, records::data))
        .limit(limit)
        .load(conn)
}
