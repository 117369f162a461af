//! The payload search's index ("text in payload", the viewer's `q`).
//!
//! SQLite: an FTS5 table of the payloads (trigram tokenizer, contentless, no
//! positions) that [`index_next`] fills behind ingest. PostgreSQL: a pg_trgm GIN
//! index on `lower(data)` that the database keeps. Either is asked for the AND of a
//! few of the needle's trigrams, and every candidate is checked against the payload
//! itself, so the answer is exactly `lower(data) LIKE '%needle%'`. Which trigrams:
//! the rare ones, as a small sample of payloads spread over every record shows
//! (`plan`) — a trigram in almost every payload (`rea` of `"reading"`) narrows
//! nothing and its posting list is the whole index. SQLite: records after
//! `records_search_progress.indexed_upto` are not in the index yet and are read
//! directly (a few, at most a second's worth), and so are the newest ones when the
//! sample finds the needle common: a term in many payloads is answered by them
//! without the index. PostgreSQL: a common needle is left to the viewer, which
//! checks each call's record as it walks the calls (the newest settle a page).
//!
//! The FTS5 index is given its text as `db::search_file::index_text` makes it, and
//! asked for the needle's trigrams made the same way. It merges its segments less
//! eagerly than FTS5's default while ingest runs (CPU taken from ingest), and
//! [`merge_segments`] merges them down while ingest is quiet. It lives in a file of
//! its own (`db::search_file`), written beside ingest, not by the writer.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use diesel::connection::SimpleConnection;
use diesel::SqliteConnection;

use crate::db::{search_file, DbConn};

mod plan;
mod postgres;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Bounds {
    /// The newest record in the SQLite index.
    #[diesel(sql_type = BigInt)]
    indexed_upto: i64,
    #[diesel(sql_type = BigInt)]
    newest: i64,
}

#[derive(QueryableByName)]
struct Sampled {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    data: Option<String>,
}

pub use plan::MIN_NEEDLE;
use plan::{pg_usable, plan, Plan};
pub use postgres::merge_pending;

/// The records a payload search found, newest first.
pub struct Found {
    pub ids: Vec<i64>,
    /// When the oldest of them was received (PostgreSQL: it bounds the days their
    /// calls lie in).
    pub oldest: Option<chrono::NaiveDateTime>,
}

/// The newest records read directly before the index is asked (when the needle is
/// common).
const RECENT: i64 = 20_000;
/// Payloads sampled, spread evenly over every record, to tell which of a needle's
/// trigrams are rare (and whether the needle itself is common); kept in
/// `records_search_sample` by [`resample`].
const SAMPLE: i64 = 128;
/// Characters of each sampled payload looked at.
const SAMPLE_CHARS: i64 = 1_024;

/// The newest records, at most `limit`, whose payload (lowercased) matches `pattern`
/// (`%needle%`, escaped with `\`); `needle` is lowercased. `None` when the index
/// cannot help: a needle shorter than [`MIN_NEEDLE`] or, on PostgreSQL, one the
/// sample finds common or with no trigram of letters and digits (the calls are then
/// walked and each record checked).
pub fn matching_records(
    conn: &mut DbConn,
    needle: &str,
    pattern: &str,
    limit: i64,
) -> QueryResult<Option<Found>> {
    if needle.chars().count() < MIN_NEEDLE {
        return Ok(None);
    }
    // Kept by [`resample`]: 128 short rows, in order.
    let sample: Vec<Sampled> =
        diesel::sql_query("SELECT data FROM records_search_sample ORDER BY i").load(conn)?;
    let sample: Vec<String> = sample
        .into_iter()
        .filter_map(|s| s.data.map(|d| d.to_lowercase()))
        .collect();
    match conn {
        DbConn::Sqlite(c) => match plan(needle, &sample, |_| true) {
            None => Ok(None),
            Some(plan) => c
                .transaction(|c| sqlite_matching(c, &plan, pattern, limit))
                .map(|ids| Some(Found { ids, oldest: None })),
        },
        DbConn::Postgres(c) => match plan(needle, &sample, pg_usable) {
            Some(plan) if !plan.common && !plan.grams.is_empty() => {
                postgres::matching(c, &plan, pattern, limit).map(Some)
            }
            _ => Ok(None),
        },
    }
}

/// SQLite: the records above a bound are read directly, newest first — those not
/// indexed yet and, for a common needle, the [`RECENT`] newest (so a term in many
/// payloads is answered without the index) — then the index is asked for the rest,
/// below the bound, by the needle's rare trigrams.
fn sqlite_matching(
    c: &mut SqliteConnection,
    plan: &Plan,
    pattern: &str,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let b: Bounds = diesel::sql_query(
        "SELECT (SELECT indexed_upto FROM records_search_progress WHERE id = 1) AS indexed_upto, \
                COALESCE((SELECT MAX(id) FROM records), 0) AS newest",
    )
    .get_result(c)?;
    let below = match plan.common {
        true => b.indexed_upto.min(b.newest - RECENT),
        false => b.indexed_upto,
    };
    let mut ids: Vec<Id> = diesel::sql_query(
        "SELECT id FROM records WHERE id > ?1 AND lower(data) LIKE ?2 ESCAPE '\\' \
         ORDER BY id DESC LIMIT ?3",
    )
    .bind::<BigInt, _>(below)
    .bind::<Text, _>(pattern)
    .bind::<BigInt, _>(limit)
    .load(c)?;
    let rest = limit - ids.len() as i64;
    if rest > 0 {
        ids.extend(indexed(c, plan, below, pattern, rest)?);
    }
    Ok(ids.into_iter().map(|r| r.id).collect())
}

/// The newest `limit` records at or below `below` that the index names for `plan`
/// and that match `pattern`. For a rare needle the index is first walked forward
/// (FTS5 walks a doclist backwards at about twice the cost): when it holds no more
/// than `limit` matches, that is all of them; otherwise, and for a common needle,
/// it is walked newest first and stops at `limit`.
fn indexed(
    c: &mut SqliteConnection,
    plan: &Plan,
    below: i64,
    pattern: &str,
    limit: i64,
) -> QueryResult<Vec<Id>> {
    let fts = plan.fts_query(search_file::index_text);
    let query = |order: &str| {
        format!(
            "SELECT r.id AS id FROM records_search s JOIN records r ON r.id = s.rowid \
             WHERE records_search MATCH ?1 AND s.rowid <= ?2 \
             AND lower(r.data) LIKE ?3 ESCAPE '\\' {order} LIMIT ?4"
        )
    };
    if !plan.common {
        let mut all: Vec<Id> = diesel::sql_query(query(""))
            .bind::<Text, _>(&fts)
            .bind::<BigInt, _>(below)
            .bind::<Text, _>(pattern)
            .bind::<BigInt, _>(limit + 1)
            .load(c)?;
        if all.len() as i64 <= limit {
            all.sort_unstable_by_key(|r| std::cmp::Reverse(r.id));
            return Ok(all);
        }
    }
    diesel::sql_query(query("ORDER BY s.rowid DESC"))
        .bind::<Text, _>(&fts)
        .bind::<BigInt, _>(below)
        .bind::<Text, _>(pattern)
        .bind::<BigInt, _>(limit)
        .load(c)
}

/// Adds up to `limit` records after the indexed ones to the SQLite index, in one
/// transaction that writes the index's file only (`db::search_file`); how many.
/// (PostgreSQL keeps its index itself: nothing to do.)
pub fn index_next(conn: &mut DbConn, limit: i64) -> QueryResult<usize> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(0);
    };
    search_file::write(c, |c| index_next_in(c, limit))
}

fn index_next_in(c: &mut SqliteConnection, limit: i64) -> QueryResult<usize> {
    let last: Option<Id> = diesel::sql_query(
        "SELECT COALESCE(MAX(id), 0) AS id FROM ( \
             SELECT id FROM records \
             WHERE id > (SELECT indexed_upto FROM records_search_progress WHERE id = 1) \
             ORDER BY id LIMIT ?1)",
    )
    .bind::<BigInt, _>(limit)
    .get_result(c)
    .optional()?;
    let Some(Id { id: upto }) = last.filter(|l| l.id > 0) else {
        return Ok(0);
    };
    let added = diesel::sql_query(
        "INSERT INTO records_search (rowid, data) SELECT id, portico_index_text(data) FROM records \
         WHERE id > (SELECT indexed_upto FROM records_search_progress WHERE id = 1) AND id <= ?1",
    )
    .bind::<BigInt, _>(upto)
    .execute(c)?;
    diesel::sql_query("UPDATE records_search_progress SET indexed_upto = ?1 WHERE id = 1")
        .bind::<BigInt, _>(upto)
        .execute(c)?;
    Ok(added)
}

/// SQLite: merges some of the index's segments (FTS5's `merge`: about `pages`
/// pages written, in the levels holding 4 segments or more); whether there was any
/// to merge. Ingest leaves up to 15 a level (`db::search_file`'s automerge: less
/// CPU taken from it), and each costs a search a lookup of every trigram asked;
/// while ingest is quiet, the indexer merges them down.
pub fn merge_segments(conn: &mut DbConn, pages: i64) -> QueryResult<bool> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(false);
    };
    search_file::write(c, |c| {
        let changes = |c: &mut SqliteConnection| -> QueryResult<i64> {
            Ok(diesel::sql_query("SELECT total_changes() AS id")
                .get_result::<Id>(c)?
                .id)
        };
        let before = changes(c)?;
        diesel::sql_query("INSERT INTO records_search (records_search, rank) VALUES ('merge', ?1)")
            .bind::<BigInt, _>(pages)
            .execute(c)?;
        // FTS5 counts 2 changes or more when it merged anything.
        Ok(changes(c)? - before >= 2)
    })
}

/// SQLite: forgets in the index up to `limit` of the records deleted (a trigger
/// queues them in `records_search_forgotten`: it cannot reach the index's file);
/// the ids taken, for [`dequeue_forgotten`] to take off the queue on the writer.
/// Those after the indexed ones were never in the index.
pub fn forget_deleted(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<i64>> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(Vec::new());
    };
    search_file::write(c, |c| {
        let queued: Vec<Id> =
            diesel::sql_query("SELECT id FROM records_search_forgotten ORDER BY id LIMIT ?1")
                .bind::<BigInt, _>(limit)
                .load(c)?;
        let upto: Id = diesel::sql_query(
            "SELECT indexed_upto AS id FROM records_search_progress WHERE id = 1",
        )
        .get_result(c)?;
        // One rowid at a time: FTS5 looks a rowid up, where `IN (...)` may walk
        // the whole index.
        for r in queued.iter().filter(|r| r.id <= upto.id) {
            diesel::sql_query("DELETE FROM records_search WHERE rowid = ?1")
                .bind::<BigInt, _>(r.id)
                .execute(c)?;
        }
        Ok(queued.into_iter().map(|r| r.id).collect())
    })
}

/// SQLite: takes the records [`forget_deleted`] forgot off the queue.
pub fn dequeue_forgotten(conn: &mut DbConn, ids: &[i64]) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    // Numbers of ours, written into the SQL.
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    diesel::sql_query(format!(
        "DELETE FROM records_search_forgotten WHERE id IN ({})",
        list.join(",")
    ))
    .execute(conn)
}

/// SQLite: empties the index when it names records past the newest id ever given
/// (the database was put back to an older copy, or a power loss undid its last
/// commits while the index's file kept them): those ids will name other records.
/// Whether it did.
pub fn reset_if_ahead(conn: &mut DbConn) -> QueryResult<bool> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(false);
    };
    search_file::write(c, |c| {
        let b: Bounds = diesel::sql_query(
            "SELECT (SELECT indexed_upto FROM records_search_progress WHERE id = 1) AS indexed_upto, \
                    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'records'), 0) AS newest",
        )
        .get_result(c)?;
        if b.indexed_upto <= b.newest {
            return Ok(false);
        }
        c.batch_execute(search_file::RESET)?;
        Ok(true)
    })
}

#[derive(QueryableByName)]
struct SampleSpan {
    #[diesel(sql_type = BigInt)]
    oldest: i64,
    #[diesel(sql_type = BigInt)]
    newest: i64,
    #[diesel(sql_type = BigInt)]
    sampled_oldest: i64,
    #[diesel(sql_type = BigInt)]
    sampled_newest: i64,
}

/// The records' span now and when the sample was taken (`lock`: SQL after it).
fn span(conn: &mut DbConn, lock: &str) -> QueryResult<SampleSpan> {
    diesel::sql_query(format!(
        "SELECT COALESCE((SELECT MIN(id) FROM records), 0) AS oldest, \
                COALESCE((SELECT MAX(id) FROM records), 0) AS newest, \
                sampled_oldest, sampled_newest FROM records_search_progress WHERE id = 1{lock}"
    ))
    .get_result(conn)
}

impl SampleSpan {
    /// The records moved by more than a sixteenth of their span since the sample
    /// was taken, or it never was.
    fn due(&self) -> bool {
        let moved =
            self.oldest.abs_diff(self.sampled_oldest) + self.newest.abs_diff(self.sampled_newest);
        let taken = self.sampled_newest > 0 || self.newest == 0;
        !taken || moved * 16 > self.newest.abs_diff(self.oldest)
    }
}

/// Takes the sample of payloads again ([`SAMPLE`] of them, spread evenly over every
/// record, one seek each) when the records have moved by more than a sixteenth of
/// their span since it was taken, or it never was; whether it did. The sample only
/// steers how the index is asked, never the answer. (The values written into the
/// SQL are numbers of ours.)
pub fn resample(conn: &mut DbConn) -> QueryResult<bool> {
    let postgres = matches!(conn, DbConn::Postgres(_));
    if !span(conn, "")?.due() {
        return Ok(false);
    }
    conn.transaction(|conn| {
        // PostgreSQL: one instance at a time; the others wait, then find it taken.
        // SQLite: the index file's lock first (`search_file::write`).
        if !postgres {
            diesel::sql_query(search_file::TAKE_LOCK).execute(conn)?;
        }
        let s = span(conn, if postgres { " FOR UPDATE" } else { "" })?;
        if !s.due() {
            return Ok(false);
        }
        let (oldest, step) = (s.oldest, ((s.newest - s.oldest) / SAMPLE).max(1));
        let take = match postgres {
            true => format!(
                "INSERT INTO records_search_sample (i, data) SELECT k.i, r.data \
                 FROM generate_series(0, {last}) AS k(i) CROSS JOIN LATERAL ( \
                     SELECT substr(data, 1, {SAMPLE_CHARS}) AS data FROM records \
                     WHERE id >= {oldest} + k.i * {step} ORDER BY id LIMIT 1) r",
                last = SAMPLE - 1
            ),
            false => format!(
                "INSERT INTO records_search_sample (i, data) \
                 WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < {SAMPLE}) \
                 SELECT i, data FROM (SELECT k.i AS i, (SELECT substr(data, 1, {SAMPLE_CHARS}) \
                     FROM records WHERE id >= {oldest} + k.i * {step} ORDER BY id LIMIT 1) AS data FROM k) \
                 WHERE data IS NOT NULL"
            ),
        };
        diesel::sql_query("DELETE FROM records_search_sample").execute(conn)?;
        diesel::sql_query(take).execute(conn)?;
        diesel::sql_query(format!(
            "UPDATE records_search_progress SET sampled_oldest = {}, sampled_newest = {} WHERE id = 1",
            s.oldest, s.newest
        ))
        .execute(conn)?;
        Ok(true)
    })
}

/// Records stored but not yet in the SQLite index (0 on PostgreSQL).
pub fn lag(conn: &mut DbConn) -> QueryResult<i64> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(0);
    };
    let row: Id = diesel::sql_query(
        "SELECT COALESCE((SELECT MAX(id) FROM records), 0) - \
                (SELECT indexed_upto FROM records_search_progress WHERE id = 1) AS id",
    )
    .get_result(c)?;
    Ok(row.id.max(0))
}
