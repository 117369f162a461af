//! Time partitions of the call log and the records (PostgreSQL): which exist, making
//! them ahead of need, and taking one out whole. On SQLite there are none and every
//! function here does nothing.
//!
//! The call log is partitioned by UTC day: retention drops a day at a time and the
//! viewer's time range reads only its days. The records are partitioned by UTC week
//! (Monday to Monday): every read of a record by id or by payload (the trigram
//! index) probes each partition, and a week is a seventh of the partitions to probe,
//! at the cost of retention dropping records a week at a time (the expired rows of a
//! week that stays are deleted in batches). A database made before records went by
//! week keeps its day partitions of records until retention drops them; the week
//! after them starts where they end.
//!
//! A partition is named after its table and the days it holds, `[from, to)`:
//! `calls_p20261129` for one day, `records_p20261123_20261130` for more.

use chrono::{Datelike, NaiveDate, TimeDelta};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::db::DbConn;

/// A table partitioned by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioned {
    /// By day.
    Calls,
    /// By week, Monday to Monday.
    Records,
}

/// The days a partition holds: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Span {
    pub fn holds(&self, day: NaiveDate) -> bool {
        self.from <= day && day < self.to
    }
}

impl Partitioned {
    pub const ALL: [Partitioned; 2] = [Partitioned::Calls, Partitioned::Records];

    pub fn table(self) -> &'static str {
        match self {
            Partitioned::Calls => "calls",
            Partitioned::Records => "records",
        }
    }

    /// The first day of the period (day or week) that holds `day`.
    fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Partitioned::Calls => day,
            Partitioned::Records => {
                day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
            }
        }
    }

    /// The first day after the period (day or week) that holds `day`.
    fn end_after(self, day: NaiveDate) -> NaiveDate {
        match self {
            Partitioned::Calls => day + TimeDelta::days(1),
            Partitioned::Records => self.start_of(day) + TimeDelta::days(7),
        }
    }

    /// The name of the partition of `span`.
    pub fn partition(self, span: Span) -> String {
        let from = span.from.format("%Y%m%d");
        match span.to == span.from + TimeDelta::days(1) {
            true => format!("{}_p{from}", self.table()),
            false => format!("{}_p{from}_{}", self.table(), span.to.format("%Y%m%d")),
        }
    }

    fn span_of(self, partition: &str) -> Option<Span> {
        let days = partition.strip_prefix(self.table())?.strip_prefix("_p")?;
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y%m%d").ok();
        let (from, to) = match days.split_once('_') {
            None => (day(days)?, day(days)? + TimeDelta::days(1)),
            Some((from, to)) => (day(from)?, day(to)?),
        };
        (from < to).then_some(Span { from, to })
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
pub fn partitioned(conn: &mut DbConn, table: Partitioned) -> QueryResult<bool> {
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

/// The partitions of `table` (attached, not being detached), oldest first.
pub fn spans(conn: &mut DbConn, table: Partitioned) -> QueryResult<Vec<Span>> {
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
    let mut spans: Vec<Span> = rows.iter().filter_map(|r| table.span_of(&r.name)).collect();
    spans.sort();
    Ok(spans)
}

/// The partition of `table` that holds `day`, if there is one.
pub fn holding(conn: &mut DbConn, table: Partitioned, day: NaiveDate) -> QueryResult<Option<Span>> {
    Ok(spans(conn, table)?.into_iter().find(|s| s.holds(day)))
}

/// The name of the partition of `table` that holds `day`, if there is one.
pub fn name_holding(
    conn: &mut DbConn,
    table: Partitioned,
    day: NaiveDate,
) -> QueryResult<Option<String>> {
    Ok(holding(conn, table, day)?.map(|s| table.partition(s)))
}

/// Makes the partition of the period (day or week) holding `day`, which no
/// partition holds; where partitions made before hold part of that period (day
/// partitions of records, made before records went by week), only the part between
/// them. A new table, attached (which locks out neither reads nor writes of the
/// others). Someone else making it first is fine.
pub fn create(conn: &mut DbConn, table: Partitioned, day: NaiveDate) -> QueryResult<()> {
    let have = spans(conn, table)?;
    if have.iter().any(|s| s.holds(day)) {
        return Ok(());
    }
    let before = have.iter().map(|s| s.to).filter(|to| *to <= day).max();
    let after = have.iter().map(|s| s.from).filter(|from| *from > day).min();
    let (from, to) = (table.start_of(day), table.end_after(day));
    let span = Span {
        from: before.map_or(from, |b| b.max(from)),
        to: after.map_or(to, |a| a.min(to)),
    };
    let Some(c) = postgres(conn) else {
        return Ok(());
    };
    let (name, parent) = (table.partition(span), table.table());
    let attached = c.transaction(|c| {
        diesel::sql_query("SET LOCAL lock_timeout = '5s'").execute(c)?;
        diesel::sql_query(format!(
            "CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        ))
        .execute(c)?;
        diesel::sql_query(format!(
            "ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ('{}') TO ('{}')",
            span.from, span.to
        ))
        .execute(c)
    });
    match attached {
        Ok(_) => Ok(()),
        // Made meanwhile by another instance.
        Err(_) if holding(conn, table, day)?.is_some() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes the partition of `span` out and drops it: detached concurrently (ingest
/// into the others goes on; it waits for queries that may read it), then dropped.
/// Finishes a detach that an earlier attempt left pending.
pub fn drop_partition(conn: &mut DbConn, table: Partitioned, span: Span) -> QueryResult<()> {
    let Some(c) = postgres(conn) else {
        return Ok(());
    };
    let (name, parent) = (table.partition(span), table.table());
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
    if table == Partitioned::Calls {
        // Its ids' bounds go with it (`call_days`).
        diesel::sql_query("DELETE FROM calls_days WHERE day >= $1 AND day < $2")
            .bind::<diesel::sql_types::Date, _>(span.from)
            .bind::<diesel::sql_types::Date, _>(span.to)
            .execute(c)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many rows the partition of `span` holds.
pub fn rows(conn: &mut DbConn, table: Partitioned, span: Span) -> QueryResult<usize> {
    let Some(c) = postgres(conn) else {
        return Ok(0);
    };
    let row: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {}",
        table.partition(span)
    ))
    .get_result(c)?;
    Ok(usize::try_from(row.n).unwrap_or(0))
}

/// Whether the partition of `span` holds no row.
pub fn empty(conn: &mut DbConn, table: Partitioned, span: Span) -> QueryResult<bool> {
    let Some(c) = postgres(conn) else {
        return Ok(true);
    };
    let row: Flag = diesel::sql_query(format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {}) AS flag",
        table.partition(span)
    ))
    .get_result(c)?;
    Ok(row.flag)
}

/// Whether the records partition of `span` holds a row of any of `endpoints`.
pub fn records_of_any(conn: &mut DbConn, span: Span, endpoints: &[i64]) -> QueryResult<bool> {
    let Some(c) = postgres(conn) else {
        return Ok(true);
    };
    if endpoints.is_empty() {
        return Ok(false);
    }
    let list: Vec<String> = endpoints.iter().map(i64::to_string).collect();
    let row: Flag = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE endpoint_id IN ({})) AS flag",
        Partitioned::Records.partition(span),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_records_partition_runs_from_monday_to_monday() {
        // 2026-11-30 is a Monday.
        let r = Partitioned::Records;
        assert_eq!(r.end_after(day("2026-11-30")), day("2026-12-07"));
        assert_eq!(r.end_after(day("2026-12-06")), day("2026-12-07"));
        assert_eq!(r.end_after(day("2026-12-02")), day("2026-12-07"));
        assert_eq!(r.start_of(day("2026-12-06")), day("2026-11-30"));
        assert_eq!(r.start_of(day("2026-11-30")), day("2026-11-30"));
        assert_eq!(
            Partitioned::Calls.end_after(day("2026-12-02")),
            day("2026-12-03")
        );
    }

    #[test]
    fn a_partition_is_named_after_its_days_and_read_back() {
        let week = Span {
            from: day("2026-11-30"),
            to: day("2026-12-07"),
        };
        let one = Span {
            from: day("2026-11-29"),
            to: day("2026-11-30"),
        };
        let r = Partitioned::Records;
        assert_eq!(r.partition(week), "records_p20261130_20261207");
        assert_eq!(r.partition(one), "records_p20261129");
        assert_eq!(r.span_of("records_p20261130_20261207"), Some(week));
        assert_eq!(r.span_of("records_p20261129"), Some(one));
        assert_eq!(Partitioned::Calls.span_of("records_p20261129"), None);
        assert_eq!(r.span_of("records_p20261207_20261130"), None);
        assert_eq!(r.span_of("records_search"), None);
    }
}
