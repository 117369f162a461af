//! Portico: an endpoint integration hub. This crate builds the whole server so the
//! binary and the tests start exactly the same application.

pub mod access_cache;
pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod ingest;
pub mod limiter;
pub mod metrics;
pub mod ops;
pub mod store;
pub mod telemetry;
pub mod ui;
pub mod writer;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::clock::Clock;
use crate::db::{DbConn, DbPool};
use crate::domain::secret::Password;
use crate::error::AppResult;

/// Invalid-token requests per minute from one address before it is blocked.
pub const DEFAULT_FAILED_TOKEN_LIMIT: u32 = 60;

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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            trust_proxy_headers: false,
            secure_cookies: false,
            session_ttl: chrono::TimeDelta::hours(12),
            sweep_interval: Duration::from_secs(300),
            failed_token_limit: DEFAULT_FAILED_TOKEN_LIMIT,
        }
    }
}

/// Everything a handler may reach.
pub struct AppState {
    pub pool: DbPool,
    pub clock: Clock,
    pub settings: Settings,
    pub metrics: metrics::Metrics,
    pub limiter: limiter::RateLimiter,
    pub login_throttle: limiter::LoginThrottle,
    pub failed_tokens: limiter::FailedTokenThrottle,
    /// Endpoints and credentials of the ingest path, per access generation.
    pub access_cache: access_cache::AccessCache,
    /// The access generation, read once per round of requests.
    pub access_generation: access_cache::GenerationReader,
    /// Group commit of the ingest path's writes.
    pub writer: writer::Writer,
}

impl AppState {
    pub fn new(pool: DbPool, clock: Clock, settings: Settings) -> Self {
        Self {
            writer: writer::Writer::start(pool.clone(), {
                // SQLite has one writer; PostgreSQL commits batches side by side.
                let postgres = pool.get().is_ok_and(|c| matches!(*c, DbConn::Postgres(_)));
                if postgres {
                    writer::PG_INGEST_WRITERS
                } else {
                    1
                }
            }),
            access_cache: access_cache::AccessCache::default(),
            access_generation: access_cache::GenerationReader::new(pool.clone()),
            pool,
            clock,
            metrics: metrics::Metrics::new(),
            limiter: limiter::RateLimiter::default(),
            login_throttle: limiter::LoginThrottle::default(),
            failed_tokens: limiter::FailedTokenThrottle::new(settings.failed_token_limit),
            settings,
        }
    }

    /// Runs blocking database work on the blocking thread pool.
    pub async fn db<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }
}

/// Registers every route: ingest, management API, OpenAPI, operations.
pub fn routes(cfg: &mut web::ServiceConfig) {
    ops::routes(cfg);
    api::routes(cfg);
    ui::routes(cfg);
    ingest::routes(cfg);
}

/// Starts the HTTP server on `listener`.
pub fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(api::json_config())
            .app_data(api::path_config())
            // Token values and payloads must not sit in shared caches or be sniffed.
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Cache-Control", "no-store"))
                    .add(("Referrer-Policy", "no-referrer")),
            )
            .wrap(actix_web::middleware::ErrorHandlers::new().handler(
                actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
                ops::method_not_allowed,
            ))
            .wrap(actix_web::middleware::from_fn(telemetry::request_log))
            .configure(routes)
            .default_service(web::to(ops::not_found))
    })
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}

/// Applies migrations and makes sure an admin exists. Returns the generated
/// password when this call created the first admin without one being given.
pub fn prepare_database(
    pool: &DbPool,
    admin_password: Option<Password>,
    clock: &Clock,
) -> anyhow::Result<Option<Password>> {
    let mut conn = pool.get()?;
    db::migrate(&mut conn)?;
    if store::users::count(&mut conn)? > 0 {
        return Ok(None);
    }
    let (password, generated) = match admin_password {
        Some(p) => (p, false),
        None => (
            Password::new(domain::token::TokenValue::generate().expose()[..24].to_owned()),
            true,
        ),
    };
    let hash = auth::password::hash(&password)?;
    store::users::insert(
        &mut conn,
        "admin",
        &hash,
        auth::Role::Admin.as_str(),
        clock.now(),
    )?;
    Ok(generated.then_some(password))
}

/// One pass of upkeep: records past their endpoint's retention, idempotency keys
/// past their window, expired sessions. Returns the number of records removed.
pub fn sweep_once(conn: &mut DbConn, now: chrono::NaiveDateTime) -> AppResult<usize> {
    let mut removed = 0;
    for (endpoint_id, days) in store::endpoints::with_retention(conn)? {
        let cutoff = now - chrono::TimeDelta::days(i64::from(days));
        removed += store::records::delete_older_than(conn, endpoint_id, cutoff)?;
    }
    store::idempotency::purge_older_than(conn, now - ingest::IDEMPOTENCY_WINDOW)?;
    store::users::purge_sessions(conn, now)?;
    Ok(removed)
}

/// Runs [`sweep_once`] every `sweep_interval`.
pub async fn sweep_forever(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(state.settings.sweep_interval);
    loop {
        tick.tick().await;
        let now = state.clock.now();
        match state.db(move |conn| sweep_once(conn, now)).await {
            Ok(n) if n > 0 => tracing::info!(records_removed = n, "retention sweep"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
        }
    }
}
