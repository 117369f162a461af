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
        data, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1', \
        detail = 'none'); \
    CREATE TABLE IF NOT EXISTS search.records_search_progress ( \
        id INTEGER PRIMARY KEY NOT NULL, \
        indexed_upto BIGINT NOT NULL, \
        sampled_oldest BIGINT NOT NULL DEFAULT 0, \
        sampled_newest BIGINT NOT NULL DEFAULT 0); \
    CREATE TABLE IF NOT EXISTS search.records_search_sample ( \
        i INTEGER PRIMARY KEY NOT NULL, \
        data TEXT NOT NULL);";

/// The index's format (the file's `user_version`): a file of an older one is made
/// again, empty, and built behind ingest. 3: the text indexed is [`index_text`]'s,
/// and FTS5 folds no case (`case_sensitive 1`): `index_text` lowercases ASCII, the
/// only case the search's `lower()` folds, and FTS5's folding of the characters it
/// moves above U+007F looked each up in a table, which cost as much CPU as the
/// hash saved.
pub const FORMAT: i32 = 3;

/// Makes the index again, empty (its tokenizer is part of its definition).
const REMAKE: &str = "\
    DROP TABLE IF EXISTS search.records_search; \
    CREATE VIRTUAL TABLE search.records_search USING fts5( \
        data, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1', \
        detail = 'none');";

/// Empties the index, its sample and its progress (built again behind ingest).
pub const RESET: &str = "\
    INSERT INTO search.records_search (records_search) VALUES ('delete-all'); \
    DELETE FROM search.records_search_sample; \
    UPDATE search.records_search_progress SET indexed_upto = 0, sampled_oldest = 0, \
        sampled_newest = 0 WHERE id = 1;";

diesel::define_sql_function! {
    /// [`index_text`] in SQL, on the connections that attach the index.
    #[sql_name = "portico_index_text"]
    fn index_text_sql(data: Text) -> Text;
}

/// The text the index is given for `data`, and each of a needle's trigrams it is
/// asked for: ASCII lowercased (the search compares `lower(data)`) and moved to
/// U+0080-U+00FF, so each character is two bytes in UTF-8; the rest unchanged.
/// FTS5's hash of a pending term folds 3 bytes into few values: the 46,656
/// trigrams of lowercase letters and digits share 3,072 of them, and every term
/// added walked a chain of about 18. Hashed over 6 bytes they spread over 30,336.
/// A character mapped on another one already in that range (`é` and `i`) only
/// adds candidates, and every candidate is checked against the payload itself.
pub fn index_text(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_ascii() {
            true => char::from_u32(0x80 + c.to_ascii_lowercase() as u32).unwrap_or(c),
            false => c,
        })
        .collect()
}

/// FTS5's settings, kept in the file: a level's segments are merged once it holds
/// 16 (4 by default; every merge writes each trigram again: fewer merges, less CPU
/// taken from ingest, a few more segments for a search to read), and a job's
/// trigrams are held in memory up to 8 MB (1 MB by default) before they are written
/// as a segment, so a job of a few thousand records makes one segment, not several.
const SETTINGS: &str = "\
    INSERT INTO search.records_search (records_search, rank) VALUES ('automerge', 16); \
    INSERT INTO search.records_search (records_search, rank) VALUES ('hashsize', 8388608);";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Attaches the index's file to `conn` (of the database at `main`), creating what
/// it lacks. A statement that creates nothing writes nothing: only the first
/// connection to a new file takes its write lock.
pub fn attach(conn: &mut SqliteConnection, main: &str) -> QueryResult<()> {
    index_text_sql_utils::register_impl(conn, |data: String| index_text(&data))?;
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
    if format(conn)? < FORMAT {
        write(conn, |c| {
            // Another connection may have done it meanwhile.
            if format(c)? < FORMAT {
                c.batch_execute(REMAKE)?;
                c.batch_execute(RESET)?;
                c.batch_execute(SETTINGS)?;
                c.batch_execute(&format!("PRAGMA search.user_version = {FORMAT}"))?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    user_version: i32,
}

fn format(conn: &mut SqliteConnection) -> QueryResult<i32> {
    let v: Version = diesel::sql_query("PRAGMA search.user_version").get_result(conn)?;
    Ok(v.user_version)
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

#[cfg(test)]
mod tests {
    use super::index_text;

    #[test]
    fn ascii_is_lowercased_and_moved_the_rest_kept() {
        assert_eq!(index_text("aZ 9"), "\u{e1}\u{fa}\u{a0}\u{b9}");
        assert_eq!(index_text("été"), "\u{e9}\u{f4}\u{e9}");
        assert_eq!(index_text("Été"), "\u{c9}\u{f4}\u{e9}");
        assert_eq!(index_text(""), "");
    }
}
