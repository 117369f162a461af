//! Where a time range of the call log lies among its ids (SQLite).
//!
//! Ids follow time in the log, nearly: a call's `at` is when its request arrived, its
//! id is given when its row commits, so a later id may carry an earlier `at` (a slow
//! body, the writer's queue, the clock set back, calls written straight into the
//! database). The database keeps, for every block of [`BLOCK`] ids, the earliest and
//! the latest `at` among its calls (`calls_spans`, kept by triggers on every insert
//! and every change of a call's id or time: see its migration). A time range's calls
//! lie in the blocks whose span meets the range, so between the first such block and
//! the last.
//!
//! The filter keeps its `at` conditions; the id range only lets an index ending in `id`
//! (by token, endpoint, refusal, or the table itself) read the range instead of
//! walking everything older. Finding it reads every block's span (about 2,500 short
//! rows at 10M calls). PostgreSQL reads a time range from its day partitions and
//! needs none of this.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamp};

use crate::db::DbConn;

/// Ids per block of `calls_spans` (a block is `id >> 12`).
pub const BLOCK: i64 = 1 << 12;

/// Ids a time range's calls lie strictly between (`None`: open on that side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdRange {
    pub above: Option<i64>,
    pub below: Option<i64>,
}

#[derive(QueryableByName)]
struct Blocks {
    #[diesel(sql_type = Nullable<BigInt>)]
    first: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last: Option<i64>,
}

/// The ids calls made in `since..until` lie between, on SQLite; on PostgreSQL, or
/// without a range, an open range.
pub fn ids_within(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> QueryResult<IdRange> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(IdRange::default());
    };
    if since.is_none() && until.is_none() {
        return Ok(IdRange::default());
    }
    // The bounds are bound as the filter's `at` conditions bind them, so a block
    // meets the range exactly when one of its calls could.
    let b: Blocks = diesel::sql_query(
        "SELECT MIN(block) AS first, MAX(block) AS last FROM calls_spans \
         WHERE (?1 IS NULL OR last_at >= ?1) AND (?2 IS NULL OR first_at < ?2)",
    )
    .bind::<Nullable<Timestamp>, _>(since)
    .bind::<Nullable<Timestamp>, _>(until)
    .get_result(c)?;
    let (Some(first), Some(last)) = (b.first, b.last) else {
        // No call in the range: no id is between 0 and 1.
        return Ok(IdRange {
            above: Some(0),
            below: Some(1),
        });
    };
    Ok(IdRange {
        above: since.map(|_| first * BLOCK - 1),
        below: until.map(|_| (last + 1) * BLOCK),
    })
}

#[derive(QueryableByName)]
struct Block {
    #[diesel(sql_type = BigInt)]
    block: i64,
}

/// Runs of the blocks meeting `since..until` read first, newest first, at most.
const RUNS: usize = 4;

/// The ids calls made in `since..until` lie between, as runs of consecutive blocks,
/// newest first (SQLite, with a range; otherwise empty): a block whose calls are
/// far apart in time (old calls written after new ones: an import, a clock set
/// back) meets many ranges, and the one range of [`ids_within`] then spans every
/// block between it and the range's own, whose calls a page by token would walk.
/// Past [`RUNS`], the last run holds all the older blocks.
pub fn runs_within(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> QueryResult<Vec<IdRange>> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(Vec::new());
    };
    if since.is_none() && until.is_none() {
        return Ok(Vec::new());
    }
    let blocks: Vec<Block> = diesel::sql_query(
        "SELECT block FROM calls_spans \
         WHERE (?1 IS NULL OR last_at >= ?1) AND (?2 IS NULL OR first_at < ?2) \
         ORDER BY block DESC",
    )
    .bind::<Nullable<Timestamp>, _>(since)
    .bind::<Nullable<Timestamp>, _>(until)
    .load(c)?;
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for Block { block } in blocks {
        let full = runs.len() == RUNS;
        match runs.last_mut() {
            Some((first, _)) if *first == block + 1 || full => *first = block,
            _ => runs.push((block, block)),
        }
    }
    Ok(runs
        .into_iter()
        .map(|(first, last)| IdRange {
            above: Some(first * BLOCK - 1),
            below: Some((last + 1) * BLOCK),
        })
        .collect())
}
