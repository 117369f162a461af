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

use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::domain::activity::Delta;
use crate::domain::health::MappingKey;
use crate::error::AppResult;
use crate::store;
use crate::store::health::HealthRow;
use crate::writer::Writer;

/// How often the counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How long a read of every mapping's health serves the Health list on this
/// instance (unless this instance changes access facts or writes counts first).
pub const HEALTH_ROWS_MAX_AGE: Duration = Duration::from_secs(2);

/// Every mapping's health as last read, for the access generation it was read at.
#[derive(Clone)]
pub struct HealthRows {
    pub read_at: std::time::Instant,
    pub generation: i64,
    pub rows: std::sync::Arc<Vec<HealthRow>>,
}

/// The counts of this instance not yet written, and the Health list's last read.
#[derive(Default)]
pub struct Activity {
    counts: Mutex<Delta>,
    /// Serialises flushes, so a reader's flush waits for one already under way.
    flushing: tokio::sync::Mutex<()>,
    rows: Mutex<Option<HealthRows>>,
    /// One read of every mapping at a time; the others wait for it and share it.
    reading: tokio::sync::Mutex<()>,
}

impl Activity {
    /// Counts one answered call of `key` at `at`.
    pub fn count(&self, key: MappingKey, at: NaiveDateTime, refused: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.count(key, at, refused, 1);
    }

    fn take(&self) -> Delta {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Writes the counts gathered so far and returns once they are committed (on
    /// failure they are kept for the next flush).
    pub async fn flush(&self, writer: &Writer) -> AppResult<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let delta = self.take();
        if delta.is_empty() {
            return Ok(());
        }
        let kept = delta.clone();
        let written = writer
            .write_touching(None, move |conn| Ok(store::activity::add(conn, &delta)?))
            .await;
        match written {
            Ok(()) => self.forget_rows(),
            Err(_) => {
                let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
                counts.merge(kept);
            }
        }
        written
    }

    /// The Health list's rows if read at `generation` less than
    /// [`HEALTH_ROWS_MAX_AGE`] ago.
    pub fn fresh_rows(&self, generation: i64) -> Option<HealthRows> {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.as_ref()
            .filter(|r| r.generation == generation && r.read_at.elapsed() < HEALTH_ROWS_MAX_AGE)
            .cloned()
    }

    /// Waits for any read of the rows under way (then look again), and holds the
    /// turn to read them while the guard lives.
    pub async fn reading(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.reading.lock().await
    }

    pub fn keep_rows(&self, rows: HealthRows) {
        *self.rows.lock().unwrap_or_else(|e| e.into_inner()) = Some(rows);
    }

    /// The next Health list reads every mapping again.
    pub fn forget_rows(&self) {
        *self.rows.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Flushes every [`FLUSH_EVERY`] for as long as the server runs.
pub async fn flush_forever(activity: std::sync::Arc<Activity>, writer: Writer) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = activity.flush(&writer).await {
            tracing::error!(error = %e, "could not write the mappings' activity");
        }
    }
}
