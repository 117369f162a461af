//! Where a time range of the call log lies among its ids (SQLite).
//!
//! Ids follow time in the log, nearly: a call's `at` is when its request arrived, its
//! id is given when its row commits, so a later id may carry an earlier `at` (a slow
//! body, the writer's queue, the clock set back, calls written straight into the
//! database). The database keeps, for every block of [`BLOCK`] ids, the earliest and
//! the latest `at` among its calls (`calls_spans`, kept by triggers on every insert
//! and every change of a call's id or time: see its migration). A time range's calls
//! lie in the blocks whose span meets the range, so between the first such block and
//! the last ([`Placed::hull`]), and within its runs of consecutive blocks.
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
struct Block {
    #[diesel(sql_type = BigInt)]
    block: i64,
}

/// Runs of the blocks meeting `since..until` read first, newest first, at most.
const RUNS: usize = 4;

/// Where a time range's calls lie among the ids, read once for every query of a view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placed {
    /// Between the first block meeting the range and the last.
    pub hull: IdRange,
    /// The blocks meeting the range as runs of consecutive blocks, newest first
    /// (empty without a range, or on PostgreSQL).
    pub runs: Vec<IdRange>,
}

/// Where calls made in `since..until` lie, on SQLite; on PostgreSQL, or without a
/// range, an open range and no runs. A block whose calls are far apart in time (old
/// calls written after new ones: an import, a clock set back) meets many ranges, and
/// the hull then spans every block between it and the range's own, whose calls a page
/// by token would walk: a page reads the runs instead. Past [`RUNS`], the last run
/// holds all the older blocks.
pub fn placed(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> QueryResult<Placed> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(Placed::default());
    };
    if since.is_none() && until.is_none() {
        return Ok(Placed::default());
    }
    // The bounds are bound as the filter's `at` conditions bind them, so a block
    // meets the range exactly when one of its calls could.
    let blocks: Vec<Block> = diesel::sql_query(
        "SELECT block FROM calls_spans \
         WHERE (?1 IS NULL OR last_at >= ?1) AND (?2 IS NULL OR first_at < ?2) \
         ORDER BY block DESC",
    )
    .bind::<Nullable<Timestamp>, _>(since)
    .bind::<Nullable<Timestamp>, _>(until)
    .load(c)?;
    let (Some(last), Some(first)) = (blocks.first(), blocks.last()) else {
        // No call in the range: no id is between 0 and 1.
        let none = IdRange {
            above: Some(0),
            below: Some(1),
        };
        return Ok(Placed {
            hull: none,
            runs: Vec::new(),
        });
    };
    let hull = IdRange {
        above: since.map(|_| first.block * BLOCK - 1),
        below: until.map(|_| (last.block + 1) * BLOCK),
    };
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for Block { block } in blocks {
        let full = runs.len() == RUNS;
        match runs.last_mut() {
            Some((first, _)) if *first == block + 1 || full => *first = block,
            _ => runs.push((block, block)),
        }
    }
    let runs = runs
        .into_iter()
        .map(|(first, last)| IdRange {
            above: Some(first * BLOCK - 1),
            below: Some((last + 1) * BLOCK),
        })
        .collect();
    Ok(Placed { hull, runs })
}

/// [`Placed::hull`] of `since..until`.
pub fn ids_within(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> QueryResult<IdRange> {
    Ok(placed(conn, since, until)?.hull)
}

/// [`Placed::runs`] of `since..until`.
pub fn runs_within(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> QueryResult<Vec<IdRange>> {
    Ok(placed(conn, since, until)?.runs)
}
