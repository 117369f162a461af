//! Running aggregates of the call log per mapping (token, endpoint, method): the
//! last call and refusal, calls and refusals per hour, refusals per 5-minute
//! window. The Health page and the periodic check read these, never the call log.
//!
//! Every answered call with a secondary token is counted here as it is logged, as
//! the call log counts it (a repeated refusal folded into an earlier row counts
//! too): a hash-map update on the hot path. Every [`FLUSH_EVERY`] (and before this
//! instance reads health) the counts go to the writer as one aggregated upsert
//! per table, so a busy mapping costs one row update per second per instance, not
//! one per batch, and no writer waits on another's lock of a hot row. A crash loses
//! at most the counts of the last [`FLUSH_EVERY`] (as with counted repeats).
//!
//! The Health list reads every mapping's row at most every
//! [`HEALTH_ROWS_MAX_AGE`] (behind the requests, which meanwhile get the last
//! read); what this instance writes is added to that read as it is written, so
//! its own counts show at once and other instances' within that age. A read and a
//! flush never overlap, so no count is in a read twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::domain::activity::Delta;
use crate::domain::health::MappingKey;
use crate::error::AppResult;
use crate::store;
use crate::store::health::HealthRow;
use crate::writer::Writer;

/// How often the counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How long a read of every mapping's health serves the Health list as it is;
/// past it, the list is served from it once more while it is read again.
pub const HEALTH_ROWS_MAX_AGE: Duration = Duration::from_secs(2);

/// Every mapping's health as last read (plus this instance's counts since), for
/// the access generation it was read at.
#[derive(Clone)]
pub struct HealthRows {
    pub read_at: Instant,
    /// The moment of the read, as the clock tells it.
    pub at: NaiveDateTime,
    pub generation: i64,
    pub rows: Arc<Vec<HealthRow>>,
}

impl HealthRows {
    /// Adds counts written after the read.
    fn add(&mut self, delta: &Delta) {
        let rows = Arc::make_mut(&mut self.rows);
        let at: std::collections::HashMap<MappingKey, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (MappingKey::from(r), i))
            .collect();
        for (key, latest) in &delta.latest {
            if let Some(r) = at.get(key).map(|&i| &mut rows[i]) {
                r.last_call_at = r.last_call_at.max(Some(latest.last_call));
                r.last_refusal_at = r.last_refusal_at.max(latest.last_refusal);
            }
        }
        // The 24-hour counts were read from this hour on.
        let day_start = crate::domain::health::day_start(self.at);
        for ((key, hour), (calls, refusals)) in &delta.hours {
            match at.get(key).map(|&i| &mut rows[i]) {
                Some(r) if *hour >= day_start => {
                    r.calls_24h += calls;
                    r.refusals_24h += refusals;
                }
                _ => {}
            }
        }
    }
}

impl From<&HealthRow> for MappingKey {
    fn from(r: &HealthRow) -> Self {
        MappingKey {
            token_id: r.token_id,
            endpoint_id: r.endpoint_id,
            method: r.method,
        }
    }
}

/// What the last read of every mapping's health is worth now.
pub enum Rows {
    /// Read at this generation less than [`HEALTH_ROWS_MAX_AGE`] ago.
    Fresh(HealthRows),
    /// Read at this generation, longer ago: shown once more while read again.
    Aging(HealthRows),
    /// None, or read before access facts changed.
    Stale,
}

/// Counts not yet written, and whether a flush is writing some.
#[derive(Default)]
struct Pending {
    delta: Delta,
    writing: bool,
}

/// The counts of this instance not yet written, and the Health list's last read.
#[derive(Default)]
pub struct Activity {
    counts: Mutex<Pending>,
    /// Serialises flushes and reads of every mapping's health.
    flushing: tokio::sync::Mutex<()>,
    rows: Mutex<Option<HealthRows>>,
    /// One read of every mapping before an answer at a time; the others wait for
    /// it and share it.
    reading: tokio::sync::Mutex<()>,
    /// A read behind the requests is under way.
    refreshing: AtomicBool,
}

impl Activity {
    /// Counts one answered call of `key` at `at`.
    pub fn count(&self, key: MappingKey, at: NaiveDateTime, refused: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.delta.count(key, at, refused, 1);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the counts gathered so far and returns once they are committed (on
    /// failure they are kept for the next flush). Returns at once when there is
    /// nothing to write and no flush is writing.
    pub async fn flush(&self, writer: &Writer) -> AppResult<()> {
        {
            let p = self.pending();
            if p.delta.is_empty() && !p.writing {
                return Ok(());
            }
        }
        let _one_at_a_time = self.flushing.lock().await;
        let delta = {
            let mut p = self.pending();
            p.writing = true;
            std::mem::take(&mut p.delta)
        };
        let written = match delta.is_empty() {
            true => Ok(()),
            false => self.write(writer, delta).await,
        };
        self.pending().writing = false;
        written
    }

    async fn write(&self, writer: &Writer, delta: Delta) -> AppResult<()> {
        let delta = Arc::new(delta);
        let sent = delta.clone();
        let written = writer
            .write_touching(None, move |conn| Ok(store::activity::add(conn, &sent)?))
            .await;
        match written {
            Ok(()) => {
                // Added outside the lock (no read replaces the rows meanwhile: reads
                // hold off flushes, this is one).
                let kept = self.rows.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(mut rows) = kept {
                    rows.add(&delta);
                    *self.rows.lock().unwrap_or_else(|e| e.into_inner()) = Some(rows);
                }
            }
            Err(_) => self.pending().delta.merge(Arc::unwrap_or_clone(delta)),
        }
        written
    }

    /// The Health list's last read, as it stands for `generation`.
    pub fn rows(&self, generation: i64) -> Rows {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        match rows.as_ref() {
            Some(r) if r.generation == generation => {
                match r.read_at.elapsed() < HEALTH_ROWS_MAX_AGE {
                    true => Rows::Fresh(r.clone()),
                    false => Rows::Aging(r.clone()),
                }
            }
            _ => Rows::Stale,
        }
    }

    /// Waits for any read of the rows before an answer under way (then look
    /// again), and holds that turn while the guard lives.
    pub async fn reading(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.reading.lock().await
    }

    /// Holds off flushes while the guard lives: read every mapping's health and
    /// keep it ([`Activity::keep_rows`]) under it.
    pub async fn without_flushes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.flushing.lock().await
    }

    /// Takes the one turn to read the rows behind the requests (`false`: one is
    /// under way); [`Activity::refreshed`] gives it back.
    pub fn start_refresh(&self) -> bool {
        !self.refreshing.swap(true, Ordering::SeqCst)
    }

    pub fn refreshed(&self) {
        self.refreshing.store(false, Ordering::SeqCst);
    }

    /// Keeps `rows` (read while flushes were held off) unless a later read is kept.
    pub fn keep_rows(&self, rows: HealthRows) {
        let mut kept = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if kept.as_ref().is_none_or(|k| k.read_at <= rows.read_at) {
            *kept = Some(rows);
        }
    }
}

/// Flushes every [`FLUSH_EVERY`] for as long as the server runs.
pub async fn flush_forever(activity: Arc<Activity>, writer: Writer) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = activity.flush(&writer).await {
            tracing::error!(error = %e, "could not write the mappings' activity");
        }
    }
}
