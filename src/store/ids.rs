//! Ids the writer assigns itself when it inserts many rows in one statement (so it
//! knows which id each row got without relying on the order of `RETURNING`).

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};

use crate::db::DbConn;

/// Tables whose rows the writer numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbered {
    Records,
    Calls,
}

impl Numbered {
    fn table(self) -> &'static str {
        match self {
            Numbered::Records => "records",
            Numbered::Calls => "calls",
        }
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// `n` fresh ids of `table`, in the caller's write transaction. On SQLite (one
/// writer, which holds the write lock) they are the next ones after the largest
/// ever used; rows inserted with them move that mark on. On PostgreSQL they come
/// from the table's sequence, as a default id would.
pub fn reserve(conn: &mut DbConn, table: Numbered, n: usize) -> QueryResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    match conn {
        DbConn::Sqlite(c) => {
            let last: Id = diesel::sql_query(
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0) AS id",
            )
            .bind::<Text, _>(table.table())
            .get_result(c)?;
            Ok((last.id + 1..=last.id + count).collect())
        }
        DbConn::Postgres(c) => Reserve { table, count }.load(c),
    }
}

/// PostgreSQL's ids from the table's sequence: a statement of fixed text for each
/// table (the count a bind), so the connection keeps it prepared, where
/// `sql_query` parses and plans it on every batch.
struct Reserve {
    table: Numbered,
    count: i64,
}

impl QueryId for Reserve {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Reserve {
    type SqlType = BigInt;
}

impl QueryFragment<Pg> for Reserve {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT nextval(pg_get_serial_sequence('");
        out.push_sql(self.table.table());
        out.push_sql("', 'id')) FROM generate_series(1, ");
        out.push_bind_param::<BigInt, _>(&self.count)?;
        out.push_sql(")");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for Reserve {}
