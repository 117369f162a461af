//! Keeping the payload search's index: on SQLite, records are added to it behind
//! ingest, a few hundred at a time on the writer (so ingest batches and index
//! batches take turns); on PostgreSQL the database indexes as it inserts, and the
//! index's pending entries are merged here every second, off the ingest path.

use std::time::Duration;

use actix_web::web;

use crate::state::AppState;
use crate::store;
use crate::store::partitions::Daily;

/// How often the index is brought up to date.
pub const EVERY: Duration = Duration::from_millis(250);
/// Records added to the SQLite index per writer job.
const PER_JOB: i64 = 500;
/// Jobs per round at most (a round catches up 20,000 records; an old database
/// catches up over many rounds, while searches read the rest directly).
const JOBS_PER_ROUND: usize = 40;

/// Keeps the index for as long as the server runs.
pub async fn index_forever(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(EVERY);
    let mut since_merge = Duration::ZERO;
    loop {
        tick.tick().await;
        if let Err(e) = round(&state, &mut since_merge).await {
            tracing::warn!(error = %e, "could not update the payload search index");
        }
    }
}

async fn round(state: &AppState, since_merge: &mut Duration) -> crate::error::AppResult<()> {
    if state.postgres {
        *since_merge += EVERY;
        if *since_merge >= Duration::from_secs(1) {
            *since_merge = Duration::ZERO;
            let today = Daily::Records.partition(state.clock.now().date());
            state
                .db(move |conn| Ok(store::search::merge_pending(conn, &today)?))
                .await?;
        }
        return Ok(());
    }
    for _ in 0..JOBS_PER_ROUND {
        let added = state
            .writer
            .write(|conn| Ok(store::search::index_next(conn, PER_JOB)?))
            .await?;
        if (added as i64) < PER_JOB {
            break;
        }
    }
    // Before the lag is told: a search after the index caught up weighs its needle
    // against a sample of the records it finds.
    state
        .writer
        .write(|conn| Ok(store::search::resample(conn)?))
        .await?;
    let lag = state.db(|conn| Ok(store::search::lag(conn)?)).await?;
    state.metrics.search_lag(lag);
    Ok(())
}
