//! Operations: health, readiness, Prometheus metrics, and the fallback 404.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::error::AppError;
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The database answers.
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state
        .db(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(|_| AppError::Unavailable)
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound("route"))
}
