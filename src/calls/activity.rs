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
use crate::writer::Writer;

/// How often the counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The counts of this instance not yet written.
#[derive(Default)]
pub struct Activity {
    counts: Mutex<Delta>,
    /// Serialises flushes, so a reader's flush waits for one already under way.
    flushing: tokio::sync::Mutex<()>,
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
        if written.is_err() {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            counts.merge(kept);
        }
        written
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
