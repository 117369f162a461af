//! The only place with diesel queries, one file per table family. Functions take
//! a connection so callers can compose them inside one transaction.

pub mod access;
pub mod activity;
pub mod alerts;
pub mod audit;
mod bulk;
pub mod call_days;
pub mod call_order;
pub mod calls;
pub mod endpoints;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod ids;
pub mod impact;
pub mod limits;
pub mod mappings;
pub mod partitions;
pub mod records;
pub mod records_by_id;
pub mod replication;
pub mod schemas;
pub mod search;
pub mod token_policy;
pub mod token_search;
pub mod tokens;
pub mod users;

/// A round trip to the database (readiness).
pub fn ping(conn: &mut crate::db::DbConn) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT 1")
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Marks tokens (`tokens`) or primary tokens (`primary_tokens`) used at `at`, in
/// one statement.
///
/// On PostgreSQL several writers commit side by side, so the mark never waits for a
/// row another transaction holds (`SKIP LOCKED`: the next use marks it) and never
/// moves backwards; SQLite has one writer and updates in order.
pub fn touch_credentials(
    conn: &mut crate::db::DbConn,
    table: TouchTable,
    ids: &[i64],
    at: chrono::NaiveDateTime,
) -> diesel::QueryResult<usize> {
    use diesel::sql_types::{Array, BigInt, Timestamp};
    use diesel::RunQueryDsl;
    if ids.is_empty() {
        return Ok(0);
    }
    let table = match table {
        TouchTable::Tokens => "tokens",
        TouchTable::PrimaryTokens => "primary_tokens",
    };
    match conn {
        crate::db::DbConn::Postgres(c) => diesel::sql_query(format!(
            "UPDATE {table} SET last_used_at = GREATEST(COALESCE(last_used_at, $1), $1) \
             WHERE id IN (SELECT id FROM {table} WHERE id = ANY($2) FOR UPDATE SKIP LOCKED)"
        ))
        .bind::<Timestamp, _>(at)
        .bind::<Array<BigInt>, _>(ids)
        .execute(c),
        crate::db::DbConn::Sqlite(c) => {
            // Ids are integers from our own rows: safe to inline.
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            diesel::sql_query(format!(
                "UPDATE {table} SET last_used_at = ?1 WHERE id IN ({})",
                list.join(",")
            ))
            .bind::<Timestamp, _>(at)
            .execute(c)
        }
    }
}

/// The tables whose rows carry `last_used_at` for the ingest path.
#[derive(Debug, Clone, Copy)]
pub enum TouchTable {
    Tokens,
    PrimaryTokens,
}
