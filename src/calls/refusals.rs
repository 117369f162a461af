//! Repeated refusals, counted in memory: the first refused call of a kind is written
//! like any other call (its row committed, without waiting for the disk, before it
//! is answered), and the repeats of that kind within [`FOLD_WINDOW`] of it are a
//! hash-map update — answered at once, counted on its row later.
//!
//! Every [`FLUSH_EVERY`] (and before any read of the call log on this instance, and
//! at shutdown) the counts go to the writer. Rows keep the order their calls were
//! answered in; the viewer of this instance never misses a repeat it answered; a
//! crash of Portico loses at most the counts of the last [`FLUSH_EVERY`], and another
//! instance's viewer sees them within it. An accepted call never takes this path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::fold::{key_of, FOLD_WINDOW};
use crate::error::AppResult;
use crate::metrics::Metrics;
use crate::store::calls::Call;
use crate::writer::Writer;

/// How often counted repeats are written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Kinds of refusal counted at once (a flood of random tokens must not grow memory).
const MAX_KINDS: usize = 10_000;

/// A kind's row and the repeats counted on it but not yet written.
#[derive(Debug, Clone, Copy)]
struct Open {
    row: i64,
    first: NaiveDateTime,
    repeats: i64,
    request_bytes: i64,
    response_bytes: i64,
}

#[derive(Default)]
struct Counts {
    open: HashMap<Call, Open>,
    /// Counts owed to rows whose kind has moved on to a newer row.
    owed: Vec<(i64, i64, i64, i64)>,
}

#[derive(Default)]
pub struct Refusals {
    counts: Mutex<Counts>,
    /// Serialises flushes, so a reader's flush waits for one already under way.
    flushing: tokio::sync::Mutex<()>,
    metrics: Metrics,
}

impl Refusals {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// Counts `call` on the open row of its kind, if there is one within the
    /// window (`true`: nothing more to write now).
    pub fn count(&self, call: &Call) -> bool {
        let Some(key) = key_of(call) else {
            return false;
        };
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.open.get_mut(&key) {
            Some(o) if call.at >= o.first && call.at - o.first < FOLD_WINDOW => {
                o.repeats += call.repeats;
                o.request_bytes += call.request_bytes;
                o.response_bytes += call.response_bytes;
                self.metrics.folded(call.repeats);
                true
            }
            _ => false,
        }
    }

    /// `call` was written into row `row` (its own, or one the writer folded it
    /// into): its repeats may be counted on that row from now on.
    pub fn opened(&self, call: &Call, row: i64) {
        let Some(key) = key_of(call) else {
            return;
        };
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let Counts { open, owed } = &mut *counts;
        if open.len() >= MAX_KINDS {
            for (_, o) in open.drain().filter(|(_, o)| o.repeats > 0) {
                owed.push((o.row, o.repeats, o.request_bytes, o.response_bytes));
            }
        }
        let fresh = Open {
            row,
            first: call.at,
            repeats: 0,
            request_bytes: 0,
            response_bytes: 0,
        };
        if let Some(old) = open.insert(key, fresh) {
            if old.row == row {
                // The same row again (a concurrent first, folded by the writer): keep its counts.
                open.insert(
                    key_of(call).unwrap_or_default(),
                    Open {
                        first: old.first,
                        ..old
                    },
                );
            } else if old.repeats > 0 {
                owed.push((old.row, old.repeats, old.request_bytes, old.response_bytes));
            }
        }
    }

    /// Takes the counted repeats: (row id, calls, request bytes, response bytes);
    /// forgets kinds whose window has closed.
    fn take(&self, now: NaiveDateTime) -> Vec<(i64, i64, i64, i64)> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = std::mem::take(&mut counts.owed);
        for o in counts.open.values_mut().filter(|o| o.repeats > 0) {
            out.push((o.row, o.repeats, o.request_bytes, o.response_bytes));
            (o.repeats, o.request_bytes, o.response_bytes) = (0, 0, 0);
        }
        counts.open.retain(|_, o| now - o.first < FOLD_WINDOW * 2);
        out
    }

    /// Writes the counted repeats and returns once they are committed.
    pub async fn flush(&self, writer: &Writer, now: NaiveDateTime) -> AppResult<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let counts = self.take(now);
        if counts.is_empty() {
            return Ok(());
        }
        writer.add_repeats(counts).await
    }
}

/// Flushes every [`FLUSH_EVERY`] for as long as the server runs.
pub async fn flush_forever(
    refusals: std::sync::Arc<Refusals>,
    writer: Writer,
    clock: crate::clock::Clock,
) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = refusals.flush(&writer, clock.now()).await {
            tracing::error!(error = %e, "could not write the counts of repeated refusals");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call::TokenKind;

    fn refused(at: NaiveDateTime) -> Call {
        Call {
            at,
            endpoint_slug: "orders".into(),
            method: "POST".into(),
            path: "/e/orders".into(),
            status: 401,
            code: Some("token_invalid".into()),
            token_kind: TokenKind::Unknown,
            remote_addr: "127.0.0.1".into(),
            request_bytes: 10,
            response_bytes: 20,
            repeats: 1,
            ..Call::default()
        }
    }

    #[test]
    fn repeats_within_the_window_are_counted_on_the_first_row() {
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let r = Refusals::default();
        let first = refused(t);
        assert!(!r.count(&first), "the first of its kind is written");
        r.opened(&first, 41);
        assert!(r.count(&refused(t + chrono::TimeDelta::milliseconds(100))));
        assert!(r.count(&refused(t + chrono::TimeDelta::milliseconds(900))));
        assert!(
            !r.count(&refused(t + chrono::TimeDelta::milliseconds(1500))),
            "a new window"
        );
        let mut accepted = refused(t);
        accepted.status = 201;
        assert!(!r.count(&accepted), "accepted calls are never counted here");
        assert_eq!(r.take(t), vec![(41, 2, 20, 40)]);
        assert!(r.take(t).is_empty());
    }
}
