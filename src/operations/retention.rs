//! Retention: calls older than `--call-retention-days`, and each endpoint's records
//! older than its retention, leave the database.
//!
//! On PostgreSQL the call log is partitioned by UTC day and the records by UTC week
//! (`store::partitions`); a partition goes whole (detached concurrently, then
//! dropped) once every row in it has passed its retention, so retention costs ingest
//! nothing. A records partition that still holds rows of an endpoint that keeps them
//! (no retention, or a longer one) stays; the expired rows of the others in it are
//! deleted in batches. Retention there is by whole days: a row leaves within a day of
//! passing it. On SQLite rows are deleted in batches of [`BATCH`], each a short
//! transaction, so the write lock is never held long.
//!
//! The partitions themselves are made ahead of need, to hold every day from
//! [`DAYS_BEHIND`] before today to [`DAYS_AHEAD`] after, at start and at every sweep.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use crate::db::DbConn;
use crate::error::AppResult;
use crate::store;
use crate::store::partitions::{self, Partitioned};

pub const DAYS_BEHIND: i64 = 1;
pub const DAYS_AHEAD: i64 = 7;
/// Rows deleted per statement.
pub const BATCH: i64 = 5_000;

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub partitions_dropped: usize,
    pub calls_deleted: usize,
    pub records_deleted: usize,
}

/// Makes the partitions that the days of `[from, to]` lack (PostgreSQL); how many.
pub fn prepare_days(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> AppResult<usize> {
    let mut made = 0;
    for table in Partitioned::ALL {
        if !partitions::partitioned(conn, table)? {
            continue;
        }
        let mut have = partitions::spans(conn, table)?;
        let mut day = from;
        while day <= to {
            match have.iter().find(|s| s.holds(day)) {
                Some(span) => day = span.to,
                None => {
                    partitions::create(conn, table, day)?;
                    made += 1;
                    have = partitions::spans(conn, table)?;
                    if !have.iter().any(|s| s.holds(day)) {
                        // Not partitioned by time after all: nothing to walk.
                        break;
                    }
                }
            }
        }
    }
    Ok(made)
}

/// The days around `today` that must exist.
pub fn prepare_around(conn: &mut DbConn, today: NaiveDate) -> AppResult<usize> {
    prepare_days(
        conn,
        today - TimeDelta::days(DAYS_BEHIND),
        today + TimeDelta::days(DAYS_AHEAD),
    )
}

/// One pass: partitions ahead of need, then retention. On PostgreSQL one instance at
/// a time does it (the others skip the pass).
pub fn sweep(conn: &mut DbConn, now: NaiveDateTime, call_retention_days: u32) -> AppResult<Swept> {
    if !partitions::lock_maintenance(conn)? {
        return Ok(Swept::default());
    }
    let outcome = (|| {
        prepare_around(conn, now.date())?;
        let mut swept = Swept::default();
        calls(conn, now, call_retention_days, &mut swept)?;
        records(conn, now, &mut swept)?;
        Ok(swept)
    })();
    partitions::unlock_maintenance(conn)?;
    outcome
}

/// The start of the day of `cutoff`: rows before it lie in days wholly past it.
fn whole_days_before(cutoff: NaiveDateTime) -> NaiveDateTime {
    cutoff.date().and_time(chrono::NaiveTime::MIN)
}

fn calls(conn: &mut DbConn, now: NaiveDateTime, days: u32, swept: &mut Swept) -> AppResult<()> {
    if days == 0 {
        return Ok(());
    }
    let cutoff = now - TimeDelta::days(i64::from(days));
    if partitions::partitioned(conn, Partitioned::Calls)? {
        let before = whole_days_before(cutoff).date();
        for span in partitions::spans(conn, Partitioned::Calls)? {
            if span.to <= before {
                swept.calls_deleted += partitions::rows(conn, Partitioned::Calls, span)?;
                partitions::drop_partition(conn, Partitioned::Calls, span)?;
                swept.partitions_dropped += 1;
            }
        }
        return Ok(());
    }
    loop {
        let n = store::calls::delete_before(conn, cutoff, BATCH)?;
        swept.calls_deleted += n;
        if (n as i64) < BATCH {
            return Ok(());
        }
    }
}

fn records(conn: &mut DbConn, now: NaiveDateTime, swept: &mut Swept) -> AppResult<()> {
    let endpoints = store::endpoints::retention_of_all(conn)?;
    let cutoff_of = |days: i32| now - TimeDelta::days(i64::from(days));
    let partitioned = partitions::partitioned(conn, Partitioned::Records)?;
    if partitioned {
        for span in partitions::spans(conn, Partitioned::Records)? {
            let end = span.to.and_time(chrono::NaiveTime::MIN);
            // Endpoints whose rows of this span are not all past their retention.
            let keepers: Vec<i64> = endpoints
                .iter()
                .filter(|(_, days)| days.is_none_or(|d| whole_days_before(cutoff_of(d)) < end))
                .map(|(id, _)| *id)
                .collect();
            // Yesterday's partition is kept even when empty: it is made again ahead of
            // need. An empty one stays while a record loaded into it would be kept (a
            // bulk load makes its partitions first, then fills them).
            let past = span.to <= now.date() - TimeDelta::days(DAYS_BEHIND);
            let expired = match keepers.is_empty() {
                true => true,
                false => {
                    !partitions::empty(conn, Partitioned::Records, span)?
                        && !partitions::records_of_any(conn, span, &keepers)?
                }
            };
            if past && expired {
                swept.records_deleted += partitions::rows(conn, Partitioned::Records, span)?;
                partitions::drop_partition(conn, Partitioned::Records, span)?;
                swept.partitions_dropped += 1;
            }
        }
    }
    for (endpoint_id, days) in endpoints {
        let Some(days) = days else { continue };
        let cutoff = match partitioned {
            true => whole_days_before(cutoff_of(days)),
            false => cutoff_of(days),
        };
        loop {
            let n = store::records::delete_older_than(conn, endpoint_id, cutoff, BATCH)?;
            swept.records_deleted += n;
            if (n as i64) < BATCH {
                break;
            }
        }
    }
    Ok(())
}
