//! Records looked up by id in bulk (the exports' payloads).
//!
//! On PostgreSQL the records are partitioned by time and an id says nothing of its
//! partition: `id = ANY(...)` on the parent probes every partition's primary key for
//! every id (31 day partitions: 31 probes per record; an export of 10M records took
//! over 10 minutes). So each partition's span of ids (its smallest and largest, one probe
//! each) is read once per export ([`Spans`]) and a page's ids are looked up in the
//! partitions whose span holds one of them. The spans are read again when an id is
//! above them all (a record newer than the spans), and an id not found where the
//! spans put it (deleted, or committed into a partition after its span was read) is
//! looked up on the parent table, so the answer is exactly the parent's.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use super::partitions::{self, Partitioned};
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

/// Where the records lie, kept across the pages of one export.
#[derive(Default)]
pub struct Spans(Option<Located>);

enum Located {
    /// Not partitioned (or SQLite): the parent table serves.
    Whole,
    Partitions(Vec<Span>),
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

/// Each record partition's smallest and largest id (PostgreSQL, partitioned).
fn locate(conn: &mut DbConn) -> QueryResult<Located> {
    if !partitions::partitioned(conn, Partitioned::Records)? {
        return Ok(Located::Whole);
    }
    let spans = partitions::spans(conn, Partitioned::Records)?;
    let DbConn::Postgres(c) = conn else {
        return Ok(Located::Whole);
    };
    if spans.is_empty() {
        return Ok(Located::Partitions(Vec::new()));
    }
    // Partition names are made by Portico from a date: digits and letters only.
    let spans: Vec<String> = spans
        .iter()
        .map(|s| {
            let name = Partitioned::Records.partition(*s);
            format!("SELECT '{name}' AS name, MIN(id) AS lo, MAX(id) AS hi FROM {name}")
        })
        .collect();
    let spans = diesel::sql_query(spans.join(" UNION ALL ")).load(c)?;
    Ok(Located::Partitions(spans))
}

/// The partitions whose span holds one of `ids` (sorted), and whether an id is above
/// every span (a record newer than the spans).
fn holding(spans: &[Span], ids: &[i64]) -> (Vec<String>, bool) {
    let newest = spans.iter().filter_map(|s| s.hi).max();
    let names = spans
        .iter()
        .filter_map(|s| {
            let (lo, hi) = (s.lo?, s.hi?);
            // The first id at or above lo is at most hi.
            let at = ids.partition_point(|&id| id < lo);
            (at < ids.len() && ids[at] <= hi).then(|| s.name.clone())
        })
        .collect();
    let newer = ids.last().is_some_and(|&id| newest.is_none_or(|n| id > n));
    (names, newer)
}

/// The partitions to read for `ids` (sorted), the spans read (again) when they are
/// older than an id; `None` when the parent table serves.
fn partitions_for(
    conn: &mut DbConn,
    spans: &mut Spans,
    ids: &[i64],
) -> QueryResult<Option<Vec<String>>> {
    if spans.0.is_none() {
        spans.0 = Some(locate(conn)?);
    }
    let Some(Located::Partitions(known)) = &spans.0 else {
        return Ok(None);
    };
    let (names, newer) = holding(known, ids);
    if !newer {
        return Ok(Some(names));
    }
    spans.0 = Some(locate(conn)?);
    match &spans.0 {
        Some(Located::Partitions(known)) => Ok(Some(holding(known, ids).0)),
        _ => Ok(None),
    }
}

/// `select` of the records `ids` that exist, read from the partitions that may hold
/// them (and the parent for any not found there); `None` when the parent table
/// serves as well (not partitioned).
fn load<T>(
    conn: &mut DbConn,
    spans: &mut Spans,
    ids: &[i64],
    select: &str,
    id_of: fn(&T) -> i64,
) -> QueryResult<Option<Vec<T>>>
where
    T: QueryableByName<diesel::pg::Pg> + 'static,
{
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let Some(parts) = partitions_for(conn, spans, &sorted)? else {
        return Ok(None);
    };
    let DbConn::Postgres(c) = conn else {
        return Ok(None);
    };
    c.transaction(|c| lookup(c, &parts, sorted, select, id_of))
        .map(Some)
}

/// `select` of the records `sorted` from the partitions `parts`, then the parent for
/// those not found there.
fn lookup<T>(
    c: &mut diesel::PgConnection,
    parts: &[String],
    sorted: Vec<i64>,
    select: &str,
    id_of: fn(&T) -> i64,
) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::pg::Pg> + 'static,
{
    // A page's ids are a few thousand index probes: PostgreSQL planned them as a
    // parallel scan, and starting its workers for every page (a process each) was
    // most of the export's time (about 10,000 rows/s at 10M calls).
    diesel::sql_query("SET LOCAL max_parallel_workers_per_gather = 0").execute(c)?;
    let mut rows: Vec<T> = Vec::new();
    if !parts.is_empty() {
        let sql: Vec<String> = parts
            .iter()
            .map(|p| format!("SELECT {select} FROM {p} WHERE id = ANY($1)"))
            .collect();
        rows = diesel::sql_query(sql.join(" UNION ALL "))
            .bind::<Array<BigInt>, _>(&sorted)
            .load(c)?;
    }
    let found: HashSet<i64> = rows.iter().map(id_of).collect();
    let missing: Vec<i64> = sorted
        .into_iter()
        .filter(|id| !found.contains(id))
        .collect();
    if !missing.is_empty() {
        let more: Vec<T> =
            diesel::sql_query(format!("SELECT {select} FROM records WHERE id = ANY($1)"))
                .bind::<Array<BigInt>, _>(&missing)
                .load(c)?;
        rows.extend(more);
    }
    Ok(rows)
}

/// (id, size of the payload in bytes) of the records `ids` that exist, or `None`
/// when the parent table serves as well (not partitioned).
pub fn sizes(
    conn: &mut DbConn,
    spans: &mut Spans,
    ids: &[i64],
) -> QueryResult<Option<Vec<(i64, i64)>>> {
    let select = "id, CAST(octet_length(data) AS BIGINT) AS size";
    let rows: Option<Vec<Sized>> = load(conn, spans, ids, select, |r: &Sized| r.id)?;
    Ok(rows.map(|r| r.into_iter().map(|r| (r.id, r.size)).collect()))
}

/// (id, payload) of the records `ids` that exist, or `None` when the parent table
/// serves as well (not partitioned).
pub fn data_of(
    conn: &mut DbConn,
    spans: &mut Spans,
    ids: &[i64],
) -> QueryResult<Option<Vec<(i64, String)>>> {
    let rows: Option<Vec<Data>> = load(conn, spans, ids, "id, data", |r: &Data| r.id)?;
    Ok(rows.map(|r| r.into_iter().map(|r| (r.id, r.data)).collect()))
}

#[cfg(test)]
mod tests {
    use super::{holding, Span};

    fn span(name: &str, lo: Option<i64>, hi: Option<i64>) -> Span {
        Span {
            name: name.into(),
            lo,
            hi,
        }
    }

    #[test]
    fn a_page_reads_the_partitions_whose_span_holds_one_of_its_ids() {
        let spans = [
            span("p1", Some(1), Some(100)),
            span("p2", Some(50), Some(200)),
            span("p3", Some(201), Some(300)),
            span("empty", None, None),
        ];
        assert_eq!(holding(&spans, &[10, 20]), (vec!["p1".into()], false));
        assert_eq!(
            holding(&spans, &[60]),
            (vec!["p1".into(), "p2".into()], false)
        );
        assert_eq!(
            holding(&spans, &[150, 250]),
            (vec!["p2".into(), "p3".into()], false)
        );
        // Above every span: newer than the spans (read them again).
        assert_eq!(holding(&spans, &[250, 301]), (vec!["p3".into()], true));
        assert_eq!(holding(&[], &[1]), (vec![], true));
        assert_eq!(holding(&spans, &[]), (vec![], false));
    }
}
