//! PostgreSQL's side of the payload search: a pg_trgm GIN index on `lower(data)`
//! in each partition of `records`, which the database keeps.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::PgConnection;

use super::plan::Plan;
use super::{Found, RECENT};
use crate::db::schema::records;
use crate::db::DbConn;
use crate::store::calls::lower;

/// How long a search's candidate query may run.
const TIMEOUT_MS: u32 = 10_000;

#[derive(QueryableByName)]
struct IdAt {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamp)]
    received_at: NaiveDateTime,
}

/// The records found, newest first, with when the oldest of them was received.
fn found(rows: Vec<(i64, NaiveDateTime)>) -> Found {
    Found {
        oldest: rows.iter().map(|r| r.1).min(),
        ids: rows.into_iter().map(|r| r.0).collect(),
    }
}

/// The trigram index asked for the trigrams `plan` picked, each candidate checked
/// against the whole pattern. When they are rare, that is all; when none is, the
/// newest records are read directly first (a term in many payloads fills the
/// answer from them: the index would hand over every match to sort), then the
/// index is asked for the whole pattern.
pub fn matching(
    c: &mut PgConnection,
    plan: &Plan,
    pattern: &str,
    limit: i64,
) -> QueryResult<Found> {
    c.transaction(|c| {
        // A search never holds a connection for long: past this, it fails (503)
        // instead of starving the pool.
        diesel::sql_query(format!("SET LOCAL statement_timeout = {TIMEOUT_MS}")).execute(c)?;
        if plan.narrow {
            return narrow(c, plan, pattern, limit).map(found);
        }
        let recent: Vec<IdAt> = diesel::sql_query(
            "SELECT id, received_at FROM (SELECT id, received_at, data FROM records \
             ORDER BY id DESC LIMIT $3) r \
             WHERE lower(data) LIKE $1 ESCAPE '\\' ORDER BY id DESC LIMIT $2",
        )
        .bind::<Text, _>(pattern)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(RECENT)
        .load(c)?;
        let rows = match recent.len() as i64 >= limit {
            true => recent,
            false => diesel::sql_query(
                "SELECT id, received_at FROM records WHERE lower(data) LIKE $1 ESCAPE '\\' \
                 ORDER BY id DESC LIMIT $2",
            )
            .bind::<Text, _>(pattern)
            .bind::<BigInt, _>(limit)
            .load(c)?,
        };
        Ok(found(
            rows.into_iter().map(|r| (r.id, r.received_at)).collect(),
        ))
    })
}

/// The records holding every one of `plan`'s (rare) trigrams, newest first, each
/// checked against the whole pattern: `LIKE '%abc%'` is exactly the trigram `abc`,
/// and with `|| ''` the whole pattern is no index condition, whose every trigram
/// (`rea`, `ead`, ... in every payload) the index would walk.
///
/// Planning this over every partition costs more than running it, so the
/// statement is kept (prepared once per connection, one per number of trigrams)
/// and, with two trigrams or more, run by its generic plan: two rare trigrams
/// select few records in any estimate, so that plan is the bitmap of the index.
/// With one, each search is planned with the statistics, which tell a rare trigram
/// from a common one (and the index from walking the newest records).
fn narrow(
    c: &mut PgConnection,
    plan: &Plan,
    pattern: &str,
    limit: i64,
) -> QueryResult<Vec<(i64, NaiveDateTime)>> {
    if plan.grams.len() >= 2 {
        diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan").execute(c)?;
    }
    let mut q = records::table
        .select((records::id, records::received_at))
        .into_boxed();
    for gram in &plan.grams {
        q = q.filter(lower(records::data).like(format!("%{gram}%")));
    }
    q.filter(
        lower(records::data)
            .concat("")
            .like(pattern.to_owned())
            .escape('\\'),
    )
    .order(records::id.desc())
    .limit(limit)
    .load(c)
}

/// Merges the pending entries of the index on the records of `partition` (`None`:
/// of every partition) into the index proper, off the ingest path: an insert that
/// overflowed the pending list would otherwise merge it itself, and a search reads
/// the whole pending list of every partition it asks (rows loaded in bulk, straight
/// into old days, leave up to 4 MB in each). Nothing on SQLite.
pub fn merge_pending(conn: &mut DbConn, partition: Option<&str>) -> QueryResult<()> {
    let DbConn::Postgres(c) = conn else {
        return Ok(());
    };
    diesel::sql_query(
        "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid \
         JOIN pg_am a ON a.oid = x.relam JOIN pg_inherits h ON h.inhrelid = t.oid \
         WHERE h.inhparent = 'records'::regclass AND a.amname = 'gin' \
         AND ($1::text IS NULL OR t.relname = $1)",
    )
    .bind::<diesel::sql_types::Nullable<Text>, _>(partition)
    .execute(c)?;
    Ok(())
}
