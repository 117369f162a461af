//! Ids the writer assigns itself when it inserts many rows in one statement (so it
//! knows which id each row got without relying on the order of `RETURNING`).

use diesel::prelude::*;
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
        DbConn::Postgres(c) => {
            let ids: Vec<Id> = diesel::sql_query(format!(
                "SELECT nextval(pg_get_serial_sequence('{}', 'id')) AS id FROM generate_series(1, $1)",
                table.table()
            ))
            .bind::<BigInt, _>(count)
            .load(c)?;
            Ok(ids.into_iter().map(|i| i.id).collect())
        }
    }
}
