//! Portico: an endpoint integration hub. This crate builds the whole server so the
//! binary and the tests start exactly the same application.
//!
//! Layers, top to bottom (nothing imports upward):
//! - transports: `api` (JSON), `ui` (HTML), `ingest` (`/e/...`), `probes`, with
//!   `auth` (who is calling) and `request` (what every transport reads);
//! - `operations` (what a user can do) and `calls` (the call log and its viewer);
//! - `state` (what handlers reach), `writer` (group commit), `access_cache`,
//!   `limits`, `metrics`;
//! - `store` (every query), `domain` (plain types and rules), `db` (pool,
//!   backends, schema, column types), `error`, `clock`.

pub mod access_cache;
pub mod api;
pub mod auth;
pub mod calls;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod generation;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod operations;
pub mod probes;
pub mod replica;
pub mod request;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod threads;
pub mod tls;
pub mod ui;
pub mod writer;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::state::AppState;

/// Registers every route: ingest, management API, OpenAPI, UI, probes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    probes::routes(cfg);
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
    serve_with(listener, state, workers, None)
}

/// Starts the server on `listener`, speaking HTTPS when `tls` is given.
pub fn serve_with(
    listener: TcpListener,
    state: web::Data<AppState>,
    workers: Option<usize>,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    tokio::spawn(calls::refusals::flush_forever(
        state.refusals.clone(),
        state.writer.clone(),
        state.clock.clone(),
    ));
    tokio::spawn(calls::activity::flush_forever(
        state.activity.clone(),
        state.writer.clone(),
    ));
    tokio::spawn(operations::health::check::check_forever(state.clone()));
    tokio::spawn(operations::alerts::dispatch::dispatch_forever(
        state.clone(),
    ));
    tokio::spawn(replica::watch_forever(state.clone()));
    tokio::spawn(calls::search::index_forever(state.clone()));
    tokio::spawn(limits::poll_forever(
        state.limits.clone(),
        state.clock.clone(),
    ));
    let server = HttpServer::new(move || {
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
                probes::method_not_allowed,
            ))
            .wrap(actix_web::middleware::from_fn(telemetry::request_log))
            .configure(routes)
            .default_service(web::to(probes::not_found))
    });
    let mut server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
