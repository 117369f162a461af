//! The read replica (`--database-read-url`): the data viewer, exports and stats read
//! from it while it is no more than `--max-replica-lag` behind the primary; access
//! decisions and every write stay on the primary. Its lag is measured every
//! [`WATCH_EVERY`]; while it is unknown or too large, viewer reads go to the primary.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::web;

use crate::db::{DbConn, DbPool};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;

/// How often the replica's lag is measured.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

pub struct Replica {
    pool: DbPool,
    /// One place per pooled connection (reads wait here as tasks).
    readers: std::sync::Arc<tokio::sync::Semaphore>,
    /// The lag measured last, in seconds (`None`: unknown, or the replica is away).
    lag: Mutex<Option<f64>>,
    max_lag: Duration,
}

impl Replica {
    pub fn new(pool: DbPool, max_lag: Duration) -> Self {
        let places = pool.max_size() as usize;
        Self {
            pool,
            readers: std::sync::Arc::new(tokio::sync::Semaphore::new(places)),
            lag: Mutex::new(None),
            max_lag,
        }
    }

    /// The lag measured last, in seconds.
    pub fn lag(&self) -> Option<f64> {
        *self.lag.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_lag(&self, lag: Option<f64>) {
        *self.lag.lock().unwrap_or_else(|e| e.into_inner()) = lag;
    }

    /// Whether viewer reads go to the replica now.
    pub fn in_use(&self) -> bool {
        self.lag()
            .is_some_and(|lag| lag <= self.max_lag.as_secs_f64())
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Runs `f` on a replica connection.
    async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let place = self
            .readers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Unavailable)?;
        let pool = self.pool.clone();
        web::block(move || {
            let _place = place;
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }
}

/// A read of the data viewer: on the replica while it is in use, else (or if the
/// replica fails it) on the primary. `f` may run twice: it must only read.
pub async fn viewer_read<T, F>(state: &AppState, f: F) -> AppResult<T>
where
    F: Fn(&mut DbConn) -> AppResult<T> + Send + Sync + 'static,
    T: Send + 'static,
{
    let f = std::sync::Arc::new(f);
    if let Some(replica) = state.replica.as_ref().filter(|r| r.in_use()) {
        let on_replica = f.clone();
        match replica.run(move |conn| on_replica(conn)).await {
            Ok(out) => {
                state.metrics.viewer_read(true);
                return Ok(out);
            }
            Err(AppError::Unavailable) => {
                tracing::warn!("the read replica is away: viewer reads go to the primary");
                replica.set_lag(None);
            }
            Err(e) => return Err(e),
        }
    }
    state.metrics.viewer_read(false);
    state.db(move |conn| f(conn)).await
}

/// The pool exports read from: the replica's while it is in use.
pub fn viewer_pool(state: &AppState) -> (DbPool, bool) {
    match state.replica.as_ref().filter(|r| r.in_use()) {
        Some(replica) => (replica.pool().clone(), true),
        None => (state.pool.clone(), false),
    }
}

/// Measures the replica's lag every [`WATCH_EVERY`] for as long as the server runs.
pub async fn watch_forever(state: web::Data<AppState>) {
    let Some(replica) = state.replica.as_ref() else {
        return;
    };
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        let lag = measure(&state, replica).await;
        if let Err(e) = &lag {
            tracing::warn!(error = %e, "could not measure the read replica's lag");
        }
        let lag = lag.ok().flatten();
        replica.set_lag(lag);
        state.metrics.replica(lag, replica.in_use());
    }
}

async fn measure(state: &AppState, replica: &Replica) -> AppResult<Option<f64>> {
    let primary = state
        .db(|conn| Ok(store::replication::current_lsn(conn)?))
        .await?;
    replica
        .run(move |conn| Ok(store::replication::lag_behind(conn, &primary)?))
        .await
}
