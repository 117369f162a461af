//! SQLite: the payload search's index lives in a database file of its own beside
//! the database (`PATH.search`), attached to every connection as `search`. A file
//! has one writer at a time: in the database's own file, every batch the indexer
//! added held the write lock that ingest waits for (durable ingest lost 12-15 % of
//! its rate); in its own file, the indexer writes beside ingest on a connection of
//! its own. The file holds only what can be rebuilt from the records: lose it, and
//! the index is built again behind ingest.
//!
//! Tables there (names unqualified in queries: SQLite looks in `main`, then in the
//! attached files): `records_search` (FTS5), `records_search_progress` (how far the
//! index goes, the sample's span) and `records_search_sample`. Records deleted from
//! `main` are queued by a trigger in `records_search_forgotten` (a trigger cannot
//! reach another file) and forgotten by the indexer.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// The index's file for the database at `main`.
pub fn path(main: &str) -> String {
    format!("{main}.search")
}

/// The files beside `path(main)` that SQLite keeps while it is open.
pub const SIDE_FILES: [&str; 3] = ["", "-wal", "-shm"];

const SCHEMA: &str = "\
    PRAGMA search.journal_mode = WAL; \
    PRAGMA search.synchronous = NORMAL; \
    CREATE VIRTUAL TABLE IF NOT EXISTS search.records_search USING fts5( \
        data, content = '', contentless_delete = 1, tokenize = 'trigram', detail = 'none'); \
    CREATE TABLE IF NOT EXISTS search.records_search_progress ( \
        id INTEGER PRIMARY KEY NOT NULL, \
        indexed_upto BIGINT NOT NULL, \
        sampled_oldest BIGINT NOT NULL DEFAULT 0, \
        sampled_newest BIGINT NOT NULL DEFAULT 0); \
    CREATE TABLE IF NOT EXISTS search.records_search_sample ( \
        i INTEGER PRIMARY KEY NOT NULL, \
        data TEXT NOT NULL);";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Attaches the index's file to `conn` (of the database at `main`), creating what
/// it lacks. A statement that creates nothing writes nothing: only the first
/// connection to a new file takes its write lock.
pub fn attach(conn: &mut SqliteConnection, main: &str) -> QueryResult<()> {
    diesel::sql_query("ATTACH DATABASE ? AS search")
        .bind::<Text, _>(path(main))
        .execute(conn)?;
    conn.batch_execute(SCHEMA)?;
    let rows: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM search.records_search_progress")
        .get_result(conn)?;
    if rows.n == 0 {
        diesel::sql_query(
            "INSERT OR IGNORE INTO search.records_search_progress (id, indexed_upto) VALUES (1, 0)",
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Runs `f` in a transaction that takes the index file's write lock first (waiting
/// its turn), then reads: a transaction that reads first cannot take the lock once
/// another connection holds it, and fails at once. `BEGIN IMMEDIATE` would lock the
/// database's own file too, which ingest writes.
pub fn write<T>(
    c: &mut SqliteConnection,
    f: impl FnOnce(&mut SqliteConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    c.transaction(|c| {
        diesel::sql_query(TAKE_LOCK).execute(c)?;
        f(c)
    })
}

/// Takes the index file's write lock, writing nothing: a statement that may write
/// takes the lock as it starts (the first of a transaction, waiting its turn).
pub const TAKE_LOCK: &str = "DELETE FROM search.records_search_sample WHERE 0";
