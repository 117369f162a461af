//! The access generation: a counter every audited change raises in its transaction.

use diesel::prelude::*;

use crate::db::schema::access_generation;
use crate::db::DbConn;

/// The current generation.
pub fn generation(conn: &mut DbConn) -> QueryResult<i64> {
    access_generation::table
        .find(1)
        .select(access_generation::n)
        .first(conn)
}

/// Raises the generation; visible to others when the caller's transaction commits.
pub fn bump(conn: &mut DbConn) -> QueryResult<()> {
    diesel::update(access_generation::table.find(1))
        .set(access_generation::n.eq(access_generation::n + 1))
        .execute(conn)?;
    Ok(())
}
