//! The payload search's index ("text in payload", the viewer's `q`).
//!
//! SQLite: an FTS5 table of the payloads (trigram tokenizer, contentless, no
//! positions) that [`index_next`] fills behind ingest; a needle is looked up as the
//! AND of its trigrams, and every candidate is checked against the payload itself,
//! so the answer is exactly `lower(data) LIKE '%needle%'`. Records after
//! `records_search_progress.indexed_upto` are not in the index yet and are read
//! directly (a few, at most a second's worth). PostgreSQL: a pg_trgm GIN index on
//! `lower(data)` that the database keeps, which the same `LIKE` uses.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::DbConn;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Needles shorter than this have no trigram: they are searched by reading.
pub const MIN_NEEDLE: usize = 3;
/// PostgreSQL: the newest records read directly before the index is asked.
const RECENT: i64 = 20_000;
/// PostgreSQL: how long a search's candidate query may run.
const PG_TIMEOUT_MS: u32 = 10_000;
/// Trigrams of a needle looked up at most (more narrow little; the check is exact).
const MAX_TRIGRAMS: usize = 12;

/// The FTS5 query for `needle`: its trigrams (spread over it), each quoted, ANDed.
fn trigram_query(needle: &str) -> Option<String> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.len() < MIN_NEEDLE {
        return None;
    }
    let all: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    let step = all.len().div_ceil(MAX_TRIGRAMS).max(1);
    let mut picked: Vec<&String> = all.iter().step_by(step).collect();
    if let Some(last) = all.last() {
        if picked.last() != Some(&last) {
            picked.push(last);
        }
    }
    let quoted: Vec<String> = picked
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    Some(quoted.join(" AND "))
}

/// The newest records, at most `limit`, whose payload (lowercased) matches `pattern`
/// (`%needle%`, escaped with `\`); `needle` is lowercased. `None` when the index
/// cannot help (a needle shorter than [`MIN_NEEDLE`]).
pub fn matching_records(
    conn: &mut DbConn,
    needle: &str,
    pattern: &str,
    limit: i64,
) -> QueryResult<Option<Vec<i64>>> {
    let Some(fts) = trigram_query(needle) else {
        return Ok(None);
    };
    let rows: Vec<Id> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT id FROM ( \
                 SELECT id FROM records \
                 WHERE id > (SELECT indexed_upto FROM records_search_progress WHERE id = 1) \
                 AND lower(data) LIKE ?2 ESCAPE '\\' \
                 UNION ALL \
                 SELECT id FROM ( \
                     SELECT r.id AS id FROM records_search s JOIN records r ON r.id = s.rowid \
                     WHERE records_search MATCH ?1 AND lower(r.data) LIKE ?2 ESCAPE '\\' \
                     ORDER BY s.rowid DESC LIMIT ?3) \
             ) ORDER BY id DESC LIMIT ?3",
        )
        .bind::<Text, _>(&fts)
        .bind::<Text, _>(pattern)
        .bind::<BigInt, _>(limit)
        .load(c)?,
        DbConn::Postgres(c) => c.transaction(|c| {
            // A search never holds a connection for long: past this, it fails (503)
            // instead of starving the pool.
            diesel::sql_query(format!("SET LOCAL statement_timeout = {}", PG_TIMEOUT_MS))
                .execute(c)?;
            // The newest records first, read directly: a term in many payloads fills
            // the answer from them (the index would hand over every match to sort).
            let recent: Vec<Id> = diesel::sql_query(
                "SELECT id FROM (SELECT id, data FROM records ORDER BY id DESC LIMIT $3) r \
                 WHERE lower(data) LIKE $1 ESCAPE '\\' ORDER BY id DESC LIMIT $2",
            )
            .bind::<Text, _>(pattern)
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(RECENT)
            .load(c)?;
            if recent.len() as i64 >= limit {
                return Ok(recent);
            }
            diesel::sql_query(
                "SELECT id FROM records WHERE lower(data) LIKE $1 ESCAPE '\\' ORDER BY id DESC LIMIT $2",
            )
            .bind::<Text, _>(pattern)
            .bind::<BigInt, _>(limit)
            .load(c)
        })?,
    };
    Ok(Some(rows.into_iter().map(|r| r.id).collect()))
}

/// Adds up to `limit` records after the indexed ones to the SQLite index; how many.
/// (PostgreSQL keeps its index itself: nothing to do.)
pub fn index_next(conn: &mut DbConn, limit: i64) -> QueryResult<usize> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(0);
    };
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
        "INSERT INTO records_search (rowid, data) SELECT id, data FROM records \
         WHERE id > (SELECT indexed_upto FROM records_search_progress WHERE id = 1) AND id <= ?1",
    )
    .bind::<BigInt, _>(upto)
    .execute(c)?;
    diesel::sql_query("UPDATE records_search_progress SET indexed_upto = ?1 WHERE id = 1")
        .bind::<BigInt, _>(upto)
        .execute(c)?;
    Ok(added)
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

/// Merges the pending entries of the PostgreSQL index on the records of `partition`
/// into the index proper (off the ingest path; an insert that overflowed the
/// pending list would otherwise merge it itself). Nothing on SQLite.
pub fn merge_pending(conn: &mut DbConn, partition: &str) -> QueryResult<()> {
    let DbConn::Postgres(c) = conn else {
        return Ok(());
    };
    diesel::sql_query(
        "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid \
         JOIN pg_am a ON a.oid = x.relam WHERE t.relname = $1 AND a.amname = 'gin'",
    )
    .bind::<Text, _>(partition)
    .execute(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::trigram_query;

    #[test]
    fn a_needle_is_the_and_of_its_trigrams() {
        assert_eq!(trigram_query("ab"), None);
        assert_eq!(trigram_query("ord"), Some("\"ord\"".into()));
        assert_eq!(
            trigram_query("ord-1"),
            Some("\"ord\" AND \"rd-\" AND \"d-1\"".into())
        );
        assert_eq!(
            trigram_query("a\"bc"),
            Some("\"a\"\"b\" AND \"\"\"bc\"".into())
        );
        let long = trigram_query(&"x".repeat(200)).unwrap();
        assert!(long.matches(" AND ").count() < 13, "{long}");
    }
}
