//! The payload search's index ("text in payload", the viewer's `q`).
//!
//! SQLite: an FTS5 table of the payloads (trigram tokenizer, contentless, no
//! positions) that [`index_next`] fills behind ingest; a needle is looked up as the
//! AND of a few of its trigrams, and every candidate is checked against the payload
//! itself, so the answer is exactly `lower(data) LIKE '%needle%'`. Which trigrams:
//! the rare ones, as a small sample of payloads spread over every record shows — a
//! trigram in almost every payload (`"re` of `"reading"`) narrows nothing and its
//! doclist is the whole index. Records after `records_search_progress.indexed_upto`
//! are not in the index yet and are read directly (a few, at most a second's worth),
//! and so are the newest ones when the sample finds the needle common: a term in
//! many payloads is answered by them without the index. PostgreSQL: a pg_trgm GIN
//! index on `lower(data)` that the database keeps, which the same `LIKE` uses.
//!
//! The FTS5 index stays in a dozen segments or so by itself (automerge), and asking
//! it costs about the same merged into one: it needs no merging of ours.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use diesel::{PgConnection, SqliteConnection};

use crate::db::DbConn;

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

/// Needles shorter than this have no trigram: they are searched by reading.
pub const MIN_NEEDLE: usize = 3;
/// The newest records read directly before the index is asked (SQLite: when the
/// needle is common).
const RECENT: i64 = 20_000;
/// PostgreSQL: how long a search's candidate query may run.
const PG_TIMEOUT_MS: u32 = 10_000;
/// SQLite: payloads sampled, spread evenly over every record, to tell which of a
/// needle's trigrams are rare (and whether the needle itself is common); kept in
/// `records_search_sample` by [`resample`].
const SAMPLE: i64 = 128;
/// Characters of each sampled payload looked at.
const SAMPLE_CHARS: i64 = 1_024;
/// Trigrams of a needle weighed against the sample at most (spread over it).
const MAX_WEIGHED: usize = 24;
/// Trigrams looked up in the index at most: each costs a walk of its doclist, and
/// beyond a few rare ones the exact check of the candidates is cheaper.
const MAX_TRIGRAMS: usize = 3;

/// How the SQLite index is asked for a needle, as a sample of payloads suggests.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// The needle is in many of the sampled payloads: the newest records, read
    /// directly, likely hold the answer.
    common: bool,
    /// The FTS5 query: the needle's rarest trigrams (in the sample), each quoted, ANDed.
    query: String,
}

/// The plan for `needle` (lowercased) given `sample` (lowercased payloads); `None`
/// for a needle shorter than [`MIN_NEEDLE`]. Trigrams in at most a sixteenth of
/// the sample count as rare: up to [`MAX_TRIGRAMS`] of them are looked up, those
/// sharing the fewest characters with the ones already picked first (overlapping
/// ones narrow little more), then the rarest. When none is
/// rare, the least common ones are. The sample only steers the cost: every
/// candidate is checked against its payload.
fn plan(needle: &str, sample: &[String]) -> Option<Plan> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.len() < MIN_NEEDLE {
        return None;
    }
    let mut grams: Vec<(usize, String)> = Vec::new();
    for (at, w) in chars.windows(3).enumerate() {
        let gram: String = w.iter().collect();
        if !grams.iter().any(|(_, g)| *g == gram) {
            grams.push((at, gram));
        }
    }
    let step = grams.len().div_ceil(MAX_WEIGHED).max(1);
    let weighed: Vec<(usize, String, usize)> = grams
        .into_iter()
        .step_by(step)
        .map(|(at, g)| {
            let n = sample.iter().filter(|d| d.contains(g.as_str())).count();
            (at, g, n)
        })
        .collect();
    let rare: Vec<&(usize, String, usize)> = weighed
        .iter()
        .filter(|w| w.2 * 16 <= sample.len())
        .collect();
    let mut left = match rare.is_empty() {
        true => weighed.iter().collect(),
        false => rare,
    };
    let mut picked: Vec<&(usize, String, usize)> = Vec::new();
    while picked.len() < MAX_TRIGRAMS && !left.is_empty() {
        // Characters shared with the trigrams picked so far.
        let shared = |w: &(usize, String, usize)| -> usize {
            picked
                .iter()
                .map(|p| 3usize.saturating_sub(p.0.abs_diff(w.0)))
                .sum()
        };
        let best = (0..left.len())
            .min_by_key(|&i| (shared(left[i]), left[i].2, left[i].0))
            .unwrap_or(0);
        picked.push(left.remove(best));
    }
    picked.sort_by_key(|w| w.0);
    let quoted: Vec<String> = picked
        .iter()
        .map(|w| format!("\"{}\"", w.1.replace('"', "\"\"")))
        .collect();
    let found = sample.iter().filter(|d| d.contains(needle)).count();
    Some(Plan {
        common: !sample.is_empty() && found * 8 >= sample.len(),
        query: quoted.join(" AND "),
    })
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
    if needle.chars().count() < MIN_NEEDLE {
        return Ok(None);
    }
    match conn {
        DbConn::Sqlite(c) => c.transaction(|c| sqlite_matching(c, needle, pattern, limit)),
        DbConn::Postgres(c) => pg_matching(c, pattern, limit).map(Some),
    }
}

/// SQLite: the records above a bound are read directly, newest first — those not
/// indexed yet and, for a common needle, the [`RECENT`] newest (so a term in many
/// payloads is answered without the index) — then the index is asked for the rest,
/// below the bound, by the needle's rare trigrams.
fn sqlite_matching(
    c: &mut SqliteConnection,
    needle: &str,
    pattern: &str,
    limit: i64,
) -> QueryResult<Option<Vec<i64>>> {
    let b: Bounds = diesel::sql_query(
        "SELECT (SELECT indexed_upto FROM records_search_progress WHERE id = 1) AS indexed_upto, \
                COALESCE((SELECT MAX(id) FROM records), 0) AS newest",
    )
    .get_result(c)?;
    // Kept by the indexer ([`resample`]): 128 short rows, in order.
    let sample: Vec<Sampled> =
        diesel::sql_query("SELECT data FROM records_search_sample ORDER BY i").load(c)?;
    let sample: Vec<String> = sample
        .into_iter()
        .filter_map(|s| s.data.map(|d| d.to_lowercase()))
        .collect();
    let Some(plan) = plan(needle, &sample) else {
        return Ok(None);
    };
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
        ids.extend(indexed(c, &plan, below, pattern, rest)?);
    }
    Ok(Some(ids.into_iter().map(|r| r.id).collect()))
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
    let query = |order: &str| {
        format!(
            "SELECT r.id AS id FROM records_search s JOIN records r ON r.id = s.rowid \
             WHERE records_search MATCH ?1 AND s.rowid <= ?2 \
             AND lower(r.data) LIKE ?3 ESCAPE '\\' {order} LIMIT ?4"
        )
    };
    if !plan.common {
        let mut all: Vec<Id> = diesel::sql_query(query(""))
            .bind::<Text, _>(&plan.query)
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
        .bind::<Text, _>(&plan.query)
        .bind::<BigInt, _>(below)
        .bind::<Text, _>(pattern)
        .bind::<BigInt, _>(limit)
        .load(c)
}

/// PostgreSQL: the newest records read directly, then the trigram index.
fn pg_matching(c: &mut PgConnection, pattern: &str, limit: i64) -> QueryResult<Vec<i64>> {
    let rows: Vec<Id> = c.transaction(|c| {
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
    })?;
    Ok(rows.into_iter().map(|r| r.id).collect())
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

/// Takes the SQLite sample of payloads again ([`SAMPLE`] of them, spread evenly over
/// every record, one seek each) when the records have moved by more than a sixteenth
/// of their span since it was taken, or it never was; whether it did. (Nothing on
/// PostgreSQL.) The sample only steers how the index is asked, never the answer.
pub fn resample(conn: &mut DbConn) -> QueryResult<bool> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(false);
    };
    let s: SampleSpan = diesel::sql_query(
        "SELECT COALESCE((SELECT MIN(id) FROM records), 0) AS oldest, \
                COALESCE((SELECT MAX(id) FROM records), 0) AS newest, \
                sampled_oldest, sampled_newest FROM records_search_progress WHERE id = 1",
    )
    .get_result(c)?;
    let moved = s.oldest.abs_diff(s.sampled_oldest) + s.newest.abs_diff(s.sampled_newest);
    let taken = s.sampled_newest > 0 || s.newest == 0;
    if taken && moved * 16 <= s.newest.abs_diff(s.oldest) {
        return Ok(false);
    }
    diesel::sql_query("DELETE FROM records_search_sample").execute(c)?;
    diesel::sql_query(
        "INSERT INTO records_search_sample (i, data) \
         WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?1) \
         SELECT i, data FROM (SELECT k.i AS i, (SELECT substr(data, 1, ?4) FROM records \
             WHERE id >= ?2 + k.i * ?3 ORDER BY id LIMIT 1) AS data FROM k) \
         WHERE data IS NOT NULL",
    )
    .bind::<BigInt, _>(SAMPLE)
    .bind::<BigInt, _>(s.oldest)
    .bind::<BigInt, _>(((s.newest - s.oldest) / SAMPLE).max(1))
    .bind::<BigInt, _>(SAMPLE_CHARS)
    .execute(c)?;
    diesel::sql_query(
        "UPDATE records_search_progress SET sampled_oldest = ?1, sampled_newest = ?2 WHERE id = 1",
    )
    .bind::<BigInt, _>(s.oldest)
    .bind::<BigInt, _>(s.newest)
    .execute(c)?;
    Ok(true)
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
    use super::{plan, Plan};

    fn payloads(texts: &[&str], times: usize) -> Vec<String> {
        texts
            .iter()
            .flat_map(|t| std::iter::repeat_n(t.to_string(), times))
            .collect()
    }

    fn query(needle: &str, sample: &[String]) -> String {
        plan(needle, sample).unwrap().query
    }

    #[test]
    fn a_needle_is_the_and_of_a_few_of_its_trigrams() {
        assert_eq!(plan("ab", &[]), None);
        assert_eq!(
            plan("ord", &[]),
            Some(Plan {
                common: false,
                query: "\"ord\"".into()
            })
        );
        assert_eq!(query("ord-1", &[]), "\"ord\" AND \"rd-\" AND \"d-1\"");
        assert_eq!(query("a\"bc", &[]), "\"a\"\"b\" AND \"\"\"bc\"");
        // Not overlapping first: the first, the fourth and the seventh trigram.
        assert_eq!(query("abcdefghi", &[]), "\"abc\" AND \"def\" AND \"ghi\"");
        assert_eq!(query(&"x".repeat(200), &[]), "\"xxx\"");
        let long: String = ('a'..='z').cycle().take(200).collect();
        assert_eq!(query(&long, &[]).matches(" AND ").count(), 2);
    }

    #[test]
    fn the_trigrams_in_most_payloads_are_left_out() {
        // In every payload but this needle's digits: `"re`, `rea`, ... narrow nothing.
        let sample = payloads(
            &[
                r#"{"sensor":"seed","reading":123456,"unit":"c"}"#,
                r#"{"sensor":"seed","reading":912345,"unit":"c"}"#,
            ],
            64,
        );
        let p = plan(r#""reading":999983,"#, &sample).unwrap();
        assert!(!p.common);
        assert_eq!(p.query, "\":99\" AND \"998\" AND \"83,\"");
        // Nothing in the sample: spread over the needle.
        assert_eq!(query("zqxjkv", &sample), "\"zqx\" AND \"qxj\" AND \"jkv\"");
    }

    #[test]
    fn when_every_trigram_is_common_the_least_common_are_looked_up() {
        let mut sample = payloads(&["aba bab"], 100);
        sample.extend(payloads(&["abc"], 20));
        let p = plan("abab", &sample).unwrap();
        assert!(!p.common, "the needle itself is in no sampled payload");
        assert_eq!(p.query, "\"aba\" AND \"bab\"");
    }

    #[test]
    fn a_needle_in_an_eighth_of_the_sample_is_common() {
        let mut sample = payloads(&["tick"], 16);
        sample.extend(payloads(&["tock"], 112));
        assert!(plan("tick", &sample).unwrap().common);
        sample[0] = "tock".into();
        assert!(!plan("tick", &sample).unwrap().common);
        assert!(!plan("tick", &[]).unwrap().common);
    }
}
