//! Streaming replication, as a read replica's user sees it: where the primary's
//! write-ahead log is, and how far behind it a replica has replayed.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Nullable, Text};

use crate::db::DbConn;

#[derive(QueryableByName)]
struct Lsn {
    #[diesel(sql_type = Text)]
    lsn: String,
}

/// The primary's current write-ahead log position (PostgreSQL only).
pub fn current_lsn(conn: &mut DbConn) -> QueryResult<String> {
    let DbConn::Postgres(c) = conn else {
        return Err(diesel::result::Error::QueryBuilderError(
            "replication needs PostgreSQL".into(),
        ));
    };
    let row: Lsn = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn").get_result(c)?;
    Ok(row.lsn)
}

#[derive(QueryableByName)]
struct Replay {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
    #[diesel(sql_type = Nullable<Double>)]
    bytes_behind: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    seconds_since_replay: Option<f64>,
}

/// How far behind `primary_lsn` the server of `conn` is, in seconds: 0 when it has
/// replayed at least that far (or is not a replica at all), else the age of the
/// last transaction it replayed; `None` when it cannot tell (nothing replayed yet).
pub fn lag_behind(conn: &mut DbConn, primary_lsn: &str) -> QueryResult<Option<f64>> {
    let DbConn::Postgres(c) = conn else {
        return Err(diesel::result::Error::QueryBuilderError(
            "replication needs PostgreSQL".into(),
        ));
    };
    let r: Replay = diesel::sql_query(
        "SELECT pg_is_in_recovery() AS in_recovery, \
                pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())::float8 AS bytes_behind, \
                EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8 \
                    AS seconds_since_replay",
    )
    .bind::<Text, _>(primary_lsn)
    .get_result(c)?;
    Ok(match (r.in_recovery, r.bytes_behind) {
        (false, _) => Some(0.0),
        (true, Some(behind)) if behind <= 0.0 => Some(0.0),
        (true, _) => r.seconds_since_replay.map(|s| s.max(0.0)),
    })
}
