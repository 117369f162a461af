//! Records looked up by id in bulk (the exports' payloads).
//!
//! On PostgreSQL the records are partitioned by day and an id says nothing of its
//! day: `id = ANY(...)` on the parent probes every partition's primary key for every
//! id (31 partitions: 31 probes per record, an export of 10M records took minutes).
//! So the partitions that can hold the ids are found first: those whose smallest and
//! largest id (one probe each) span one of them. The ids asked for belong to calls
//! already read, and a record is committed with or before its call, so every record
//! asked for is already in its partition's span when the spans are read.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use super::partitions::{self, Daily};
use crate::db::DbConn;

#[derive(QueryableByName)]
struct Span {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    lo: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    hi: Option<i64>,
}

#[derive(QueryableByName)]
struct Sized {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    size: i64,
}

#[derive(QueryableByName)]
struct Data {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    data: String,
}

/// PostgreSQL, records partitioned: the partitions that may hold one of `ids`
/// (sorted); `None` when the records are not partitioned (or on SQLite).
fn holding(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Option<Vec<String>>> {
    if !partitions::partitioned(conn, Daily::Records)? {
        return Ok(None);
    }
    let days = partitions::days(conn, Daily::Records)?;
    let DbConn::Postgres(c) = conn else {
        return Ok(None);
    };
    if days.is_empty() || ids.is_empty() {
        return Ok(Some(Vec::new()));
    }
    // Partition names are made by Portico from a date: digits and letters only.
    let spans: Vec<String> = days
        .iter()
        .map(|d| {
            let name = Daily::Records.partition(*d);
            format!("SELECT '{name}' AS name, MIN(id) AS lo, MAX(id) AS hi FROM {name}")
        })
        .collect();
    let spans: Vec<Span> = diesel::sql_query(spans.join(" UNION ALL ")).load(c)?;
    Ok(Some(
        spans
            .into_iter()
            .filter_map(|s| {
                let (lo, hi) = (s.lo?, s.hi?);
                // The first id at or above lo is at most hi.
                let at = ids.partition_point(|&id| id < lo);
                (at < ids.len() && ids[at] <= hi).then_some(s.name)
            })
            .collect(),
    ))
}

/// The same query over each of `parts`, the results together.
fn over<'p>(parts: &'p [String], select: &'p str) -> impl Iterator<Item = String> + 'p {
    parts
        .iter()
        .map(move |p| format!("SELECT {select} FROM {p} WHERE id = ANY($1)"))
}

/// `select` of the records `ids` that exist, read from the partitions that may
/// hold them; `None` when the parent table serves as well (not partitioned).
fn load<T>(conn: &mut DbConn, ids: &[i64], select: &str) -> QueryResult<Option<Vec<T>>>
where
    T: QueryableByName<diesel::pg::Pg> + 'static,
{
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let Some(parts) = holding(conn, &sorted)? else {
        return Ok(None);
    };
    let DbConn::Postgres(c) = conn else {
        return Ok(None);
    };
    if parts.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let sql: Vec<String> = over(&parts, select).collect();
    diesel::sql_query(sql.join(" UNION ALL "))
        .bind::<Array<BigInt>, _>(&sorted)
        .load(c)
        .map(Some)
}

/// (id, size of the payload in bytes) of the records `ids` that exist, or `None`
/// when the parent table serves as well (not partitioned).
pub fn sizes(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Option<Vec<(i64, i64)>>> {
    let rows: Option<Vec<Sized>> =
        load(conn, ids, "id, CAST(octet_length(data) AS BIGINT) AS size")?;
    Ok(rows.map(|r| r.into_iter().map(|r| (r.id, r.size)).collect()))
}

/// (id, payload) of the records `ids` that exist, or `None` when the parent table
/// serves as well (not partitioned).
pub fn data_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Option<Vec<(i64, String)>>> {
    let rows: Option<Vec<Data>> = load(conn, ids, "id, data")?;
    Ok(rows.map(|r| r.into_iter().map(|r| (r.id, r.data)).collect()))
}
