//! Keeping the payload search's index: on SQLite, records are added to it behind
//! ingest, everything new each quarter of a second (up to 5,000 records a
//! transaction), in the index's own file (`db::search_file`) on
//! a reader's connection, beside the writer (ingest never waits for it), on a
//! thread of its own (`threads::OwnThread`: the memory of its jobs held once, not
//! by each thread of the blocking pool); records deleted are forgotten there too.
//! On PostgreSQL the database indexes as it
//! inserts, and the index's pending entries are merged here, off the ingest path:
//! the current week's every second, every week's every ten seconds. On both, the
//! sample of payloads that steers a search is taken again as the records move.

use std::time::Duration;

use actix_web::web;

use crate::error::AppResult;
use crate::state::AppState;
use crate::store;
use crate::threads::OwnThread;

/// How often the index is brought up to date.
pub const EVERY: Duration = Duration::from_millis(250);
/// Records added to the SQLite index per job (one transaction of its file, one
/// segment of FTS5's: a few large segments cost less to write and merge than many
/// small ones. With random payloads, jobs of 500 cost durable ingest 30 % of its
/// rate, jobs of 5,000 (and an 8 MB hash, `db::search_file`) 21 %.)
const PER_JOB: i64 = 5_000;
/// Deleted records forgotten in the SQLite index per round at most.
const FORGET_PER_ROUND: i64 = 5_000;
/// Jobs per round at most (a round catches up 20,000 records; an old database
/// catches up over many rounds, while searches read the rest directly).
const JOBS_PER_ROUND: usize = 4;
/// Pages of the SQLite index's segments merged per round while ingest is quiet.
const MERGE_PAGES: i64 = 500;

/// Keeps the index for as long as the server runs.
pub async fn index_forever(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(EVERY);
    let mut rounds: u64 = 0;
    // SQLite: nothing left to merge since records were last added or forgotten.
    let mut merged = false;
    match state
        .db(|conn| Ok(store::search::reset_if_ahead(conn)?))
        .await
    {
        Ok(true) => tracing::warn!("the payload index named records past the newest: built again"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not check the payload search index"),
    }
    let own = match state.postgres {
        true => None,
        false => OwnThread::start("portico-index")
            .inspect_err(|e| tracing::warn!(error = %e, "the payload index runs on the blocking pool: no thread of its own"))
            .ok(),
    };
    let index = Index {
        state: &state,
        own: own.as_ref(),
    };
    loop {
        tick.tick().await;
        rounds += 1;
        if let Err(e) = round(&index, rounds, &mut merged).await {
            tracing::warn!(error = %e, "could not update the payload search index");
        }
    }
}

/// Where the index's jobs run: on SQLite, its own thread.
struct Index<'a> {
    state: &'a AppState,
    own: Option<&'a OwnThread>,
}

impl Index<'_> {
    async fn db<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut crate::db::DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match self.own {
            Some(thread) => self.state.db_on(thread, f).await,
            None => self.state.db(f).await,
        }
    }
}

async fn round(index: &Index<'_>, rounds: u64, merged: &mut bool) -> AppResult<()> {
    let state = index.state;
    if state.postgres {
        // This week's partition every second; every partition every ten seconds (the
        // records loaded in bulk: an import, a restore, an upgrade moving rows across).
        let per_second = Duration::from_secs(1).as_millis() as u64 / EVERY.as_millis() as u64;
        if rounds.is_multiple_of(per_second) {
            let (today, all) = (
                state.clock.now().date(),
                rounds.is_multiple_of(10 * per_second),
            );
            state
                .db(move |conn| {
                    let records = store::partitions::Partitioned::Records;
                    if all {
                        store::search::merge_pending(conn, None)?;
                    } else if let Some(name) =
                        store::partitions::name_holding(conn, records, today)?
                    {
                        store::search::merge_pending(conn, Some(&name))?;
                    }
                    Ok(store::search::resample(conn)?)
                })
                .await?;
        }
        return Ok(());
    }
    let forgotten = index
        .db(|conn| Ok(store::search::forget_deleted(conn, FORGET_PER_ROUND)?))
        .await?;
    let mut changed = !forgotten.is_empty();
    if changed {
        state
            .writer
            .write(move |conn| Ok(store::search::dequeue_forgotten(conn, &forgotten)?))
            .await?;
    }
    for _ in 0..JOBS_PER_ROUND {
        let added = index
            .db(|conn| Ok(store::search::index_next(conn, PER_JOB)?))
            .await?;
        changed |= added > 0;
        if (added as i64) < PER_JOB {
            break;
        }
    }
    if changed {
        *merged = false;
    } else if !*merged {
        // Ingest is quiet: the segments it left are merged down, a few at a time.
        *merged = !index
            .db(|conn| Ok(store::search::merge_segments(conn, MERGE_PAGES)?))
            .await?;
    }
    // Before the lag is told: a search after the index caught up weighs its needle
    // against a sample of the records it finds.
    index.db(|conn| Ok(store::search::resample(conn)?)).await?;
    let lag = index.db(|conn| Ok(store::search::lag(conn)?)).await?;
    state.metrics.search_lag(lag);
    Ok(())
}
