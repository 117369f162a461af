//! What every handler and operation reaches: the pool, the writer, the caches and
//! limits, the clock and the settings. It sits below the transports (`api/`,
//! `ui/`, `ingest/`) and above nothing they define.

use std::time::Duration;

use actix_web::web;

use crate::access_cache::AccessCache;
use crate::clock::Clock;
use crate::db::{DbConn, DbPool};
use crate::error::{AppError, AppResult};
use crate::generation::GenerationReader;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::writer::{Writer, PG_INGEST_WRITERS};

/// Invalid-token requests per minute from one address before it is blocked.
pub const DEFAULT_FAILED_TOKEN_LIMIT: u32 = 60;
/// Exports streamed at once.
pub const DEFAULT_MAX_EXPORTS: usize = 2;
/// How far behind the primary the read replica may be for viewer reads.
pub const DEFAULT_MAX_REPLICA_LAG: Duration = Duration::from_secs(5);

/// How often the integration health check runs.
pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// Refusals of one mapping in 5 minutes that make a spike.
pub const DEFAULT_REFUSALS_SPIKE_THRESHOLD: i64 = 20;

/// Settings the running server needs (the parsed subset of the configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Take the client address from `X-Forwarded-For` / `Forwarded` (behind a proxy you trust).
    pub trust_proxy_headers: bool,
    /// Mark the session cookie `Secure` (serve over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    pub session_ttl: chrono::TimeDelta,
    /// How often retention and expiry sweeps run.
    pub sweep_interval: Duration,
    /// Invalid-token requests per minute from one address before it is refused
    /// with 429 for a minute (0: never).
    pub failed_token_limit: u32,
    /// Exports streamed at once; one more is refused with 429.
    pub max_exports: usize,
    /// How far behind the primary the read replica may be for viewer reads.
    pub max_replica_lag: Duration,
    /// Days the call log keeps a call (0: forever).
    pub call_retention_days: u32,
    /// The server's secret key: alert targets' signing secrets are sealed under
    /// it. `None`: alert targets cannot be created (see the README, "Alerts").
    pub secret_key: Option<crate::domain::sealing::SecretKey>,
    /// Retries, timeout, polling and concurrency of alert deliveries.
    pub alerts: crate::domain::alert::AlertSettings,
    /// How often the integration health check runs (silences, spikes, expiries).
    pub health_check_interval: Duration,
    /// Refusals of one mapping in one 5-minute window that make a `refusals_spike`.
    pub refusals_spike_threshold: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            trust_proxy_headers: false,
            secure_cookies: false,
            session_ttl: chrono::TimeDelta::hours(12),
            sweep_interval: Duration::from_secs(300),
            failed_token_limit: DEFAULT_FAILED_TOKEN_LIMIT,
            max_exports: DEFAULT_MAX_EXPORTS,
            max_replica_lag: DEFAULT_MAX_REPLICA_LAG,
            call_retention_days: 0,
            secret_key: None,
            alerts: crate::domain::alert::AlertSettings::default(),
            health_check_interval: DEFAULT_HEALTH_CHECK_INTERVAL,
            refusals_spike_threshold: DEFAULT_REFUSALS_SPIKE_THRESHOLD,
        }
    }
}

/// Everything a handler may reach.
pub struct AppState {
    pub pool: DbPool,
    pub clock: Clock,
    pub settings: Settings,
    pub metrics: Metrics,
    /// Requests per minute per token and the invalid-token throttle (shared by the
    /// instances on a PostgreSQL database).
    pub limits: std::sync::Arc<Limits>,
    /// Endpoints and credentials of the ingest path, per access generation.
    pub access_cache: AccessCache,
    /// The access generation, read once per round of requests.
    pub access_generation: GenerationReader,
    /// Group commit of every write.
    pub writer: Writer,
    /// Places for exports running at once.
    pub exports: std::sync::Arc<tokio::sync::Semaphore>,
    /// Refused calls gathered in memory until the writer takes them.
    pub refusals: std::sync::Arc<crate::calls::refusals::Refusals>,
    /// Mappings' calls counted in memory until the writer adds them to the aggregates.
    pub activity: std::sync::Arc<crate::calls::activity::Activity>,
    /// One place per pooled connection: reads beyond them wait here, as tasks, not
    /// as blocking threads parked on the pool (which cost a thread each and a
    /// storm of wake-ups under load).
    readers: std::sync::Arc<tokio::sync::Semaphore>,
    /// The read replica for the data viewer, exports and stats, if there is one.
    pub replica: Option<crate::replica::Replica>,
    /// The database is PostgreSQL (else SQLite).
    pub postgres: bool,
}

/// How long a read waits for a connection before it is answered 503 (the pool's
/// own timeout, which applies after this).
const READ_WAIT: Duration = Duration::from_secs(3);

impl AppState {
    pub fn new(pool: DbPool, clock: Clock, settings: Settings) -> Self {
        // SQLite has one writer; PostgreSQL commits batches side by side.
        let postgres = pool.get().is_ok_and(|c| matches!(**c, DbConn::Postgres(_)));
        let ingest_writers = if postgres { PG_INGEST_WRITERS } else { 1 };
        let metrics = Metrics::new();
        // The writers' own connections: a reader never waits for one a writer holds.
        let writers = u32::try_from(ingest_writers + 1).unwrap_or(u32::MAX);
        let writer_pool = crate::db::sibling(&pool, writers).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the writers share the readers' pool");
            pool.clone()
        });
        let readers = pool.max_size() as usize;
        let limits = match postgres {
            true => Limits::shared(settings.failed_token_limit, pool.clone()),
            false => Limits::local(settings.failed_token_limit),
        };
        Self {
            writer: Writer::start(writer_pool, ingest_writers, metrics.clone()),
            access_cache: AccessCache::default(),
            access_generation: GenerationReader::new(pool.clone()),
            pool,
            clock,
            metrics: metrics.clone(),
            limits: std::sync::Arc::new(limits),
            exports: std::sync::Arc::new(tokio::sync::Semaphore::new(settings.max_exports)),
            refusals: std::sync::Arc::new(crate::calls::refusals::Refusals::new(metrics.clone())),
            activity: std::sync::Arc::default(),
            readers: std::sync::Arc::new(tokio::sync::Semaphore::new(readers)),
            replica: None,
            postgres,

            settings,
        }
    }

    /// Reads of the data viewer, exports and stats go to `pool` (a streaming
    /// replica) while it is at most `max_replica_lag` behind.
    pub fn with_replica(mut self, pool: DbPool) -> Self {
        self.replica = Some(crate::replica::Replica::new(
            pool,
            self.settings.max_replica_lag,
        ));
        self
    }

    /// Writes the refused calls gathered so far: a read of the call log on this
    /// instance then misses none it answered.
    pub async fn settle_calls(&self) -> AppResult<()> {
        self.refusals.flush(&self.writer, self.clock.now()).await
    }

    /// Runs blocking database work on the blocking thread pool.
    pub async fn db<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let work = self.reader_work(f).await?;
        web::block(work).await?
    }

    /// [`AppState::db`], on `thread` instead of the blocking pool.
    pub async fn db_on<T, F>(&self, thread: &crate::threads::OwnThread, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let work = self.reader_work(f).await?;
        thread.run(work).await.ok_or(AppError::Unavailable)?
    }

    /// `f` on a connection of the pool, once a reader's place is free.
    async fn reader_work<T, F>(
        &self,
        f: F,
    ) -> AppResult<impl FnOnce() -> AppResult<T> + Send + 'static>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (pool, metrics) = (self.pool.clone(), self.metrics.clone());
        let waited = std::time::Instant::now();
        let place = tokio::time::timeout(READ_WAIT, self.readers.clone().acquire_owned())
            .await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|_| AppError::Unavailable)?;
        Ok(move || {
            let _place = place;
            let mut conn = pool.get()?;
            metrics.pool_wait(waited.elapsed());
            f(&mut conn)
        })
    }
}
