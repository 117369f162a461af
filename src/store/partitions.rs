//! Day partitions of the call log and the records (PostgreSQL): which exist, making
//! one ahead of need, and taking one out whole. On SQLite there are none and every
//! function here does nothing.
//!
//! A partition is named after its table and day, `calls_p20261129`, and holds the
//! rows of that UTC day: `[day, day + 1)`.

use chrono::{NaiveDate, TimeDelta};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::db::DbConn;

/// A table partitioned by day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daily {
    Calls,
    Records,
}

impl Daily {
    pub const ALL: [Daily; 2] = [Daily::Calls, Daily::Records];

    pub fn table(self) -> &'static str {
        match self {
            Daily::Calls => "calls",
            Daily::Records => "records",
        }
    }

    /// The name of the partition holding `day`.
    pub fn partition(self, day: NaiveDate) -> String {
        format!("{}_p{}", self.table(), day.format("%Y%m%d"))
    }

    fn day_of(self, partition: &str) -> Option<NaiveDate> {
        let digits = partition.strip_prefix(self.table())?.strip_prefix("_p")?;
        NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

fn postgres(conn: &mut DbConn) -> Option<&mut diesel::PgConnection> {
    match conn {
        DbConn::Postgres(c) => Some(c),
        DbConn::Sqlite(_) => None,
    }
}

/// Whether `table` is partitioned here (PostgreSQL, migrated far enough).
pub fn partitioned(conn: &mut DbConn, table: Daily) -> QueryResult<bool> {
    let Some(c) = postgres(conn) else {
        return Ok(false);
    };
    let row: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid \
         WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace) AS flag",
    )
    .bind::<Text, _>(table.table())
    .get_result(c)?;
    Ok(row.flag)
}

/// The days `table` has a partition for (attached, not being detached), oldest first.
pub fn days(conn: &mut DbConn, table: Daily) -> QueryResult<Vec<NaiveDate>> {
    let Some(c) = postgres(conn) else {
        return Ok(Vec::new());
    };
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
         WHERE p.relname = $1 AND p.relnamespace = current_schema()::regnamespace \
         AND NOT i.inhdetachpending",
    )
    .bind::<Text, _>(table.table())
    .load(c)?;
    let mut days: Vec<NaiveDate> = rows.iter().filter_map(|r| table.day_of(&r.name)).collect();
    days.sort();
    Ok(days)
}

/// Makes the partition of `day`: a new table, attached (which locks out neither
/// reads nor writes of the others). Someone else making it first is fine.
pub fn create(conn: &mut DbConn, table: Daily, day: NaiveDate) -> QueryResult<()> {
    let Some(c) = postgres(conn) else {
        return Ok(());
    };
    let (name, parent) = (table.partition(day), table.table());
    let next = day + TimeDelta::days(1);
    let attached = c.transaction(|c| {
        diesel::sql_query("SET LOCAL lock_timeout = '5s'").execute(c)?;
        diesel::sql_query(format!(
            "CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        ))
        .execute(c)?;
        diesel::sql_query(format!(
            "ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ('{day}') TO ('{next}')"
        ))
        .execute(c)
    });
    match attached {
        Ok(_) => Ok(()),
        // Made meanwhile by another instance.
        Err(_) if days(conn, table)?.contains(&day) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes the partition of `day` out and drops it: detached concurrently (ingest
/// into the other days goes on; it waits for queries that may read it), then
/// dropped. Finishes a detach that an earlier attempt left pending.
pub fn drop_day(conn: &mut DbConn, table: Daily, day: NaiveDate) -> QueryResult<()> {
    let Some(c) = postgres(conn) else {
        return Ok(());
    };
    let (name, parent) = (table.partition(day), table.table());
    let pending: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE c.relname = $1 AND i.inhdetachpending) AS flag",
    )
    .bind::<Text, _>(&name)
    .get_result(c)?;
    let detach = match pending.flag {
        true => format!("ALTER TABLE {parent} DETACH PARTITION {name} FINALIZE"),
        false => format!("ALTER TABLE {parent} DETACH PARTITION {name} CONCURRENTLY"),
    };
    diesel::sql_query(detach).execute(c)?;
    diesel::sql_query(format!("DROP TABLE {name}")).execute(c)?;
    if table == Daily::Calls {
        // Its ids' bounds go with it (`call_days`).
        diesel::sql_query("DELETE FROM calls_days WHERE day = $1")
            .bind::<diesel::sql_types::Date, _>(day)
            .execute(c)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many rows the partition of `day` holds.
pub fn rows(conn: &mut DbConn, table: Daily, day: NaiveDate) -> QueryResult<usize> {
    let Some(c) = postgres(conn) else {
        return Ok(0);
    };
    let row: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {}",
        table.partition(day)
    ))
    .get_result(c)?;
    Ok(usize::try_from(row.n).unwrap_or(0))
}

/// Whether the records partition of `day` holds a row of any of `endpoints`.
pub fn records_of_any(conn: &mut DbConn, day: NaiveDate, endpoints: &[i64]) -> QueryResult<bool> {
    let Some(c) = postgres(conn) else {
        return Ok(true);
    };
    if endpoints.is_empty() {
        return Ok(false);
    }
    let list: Vec<String> = endpoints.iter().map(i64::to_string).collect();
    let row: Flag = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE endpoint_id IN ({})) AS flag",
        Daily::Records.partition(day),
        list.join(",")
    ))
    .get_result(c)?;
    Ok(row.flag)
}

/// One instance at a time maintains partitions: a session lock on this connection
/// (`true`: taken). Release it with [`unlock_maintenance`].
pub fn lock_maintenance(conn: &mut DbConn) -> QueryResult<bool> {
    let Some(c) = postgres(conn) else {
        return Ok(true);
    };
    let row: Flag = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS flag")
        .bind::<BigInt, _>(MAINTENANCE_LOCK)
        .get_result(c)?;
    Ok(row.flag)
}

pub fn unlock_maintenance(conn: &mut DbConn) -> QueryResult<()> {
    if let Some(c) = postgres(conn) {
        diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(MAINTENANCE_LOCK)
            .execute(c)?;
    }
    Ok(())
}

/// The advisory lock key of partition maintenance ("portico" in ASCII).
const MAINTENANCE_LOCK: i64 = 0x0070_6f72_7469_636f;
