//! What operators and load balancers probe: health, readiness, Prometheus metrics;
//! and the answers for unknown routes and methods.

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpResponse, ResponseError};

use crate::error::AppError;
use crate::state::AppState;
use crate::store;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The database answers; with a read replica, its lag and whether the viewer uses
/// it (a lagging replica does not make the instance unready: the viewer falls
/// back to the primary).
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state
        .db(|conn| store::ping(conn).map_err(|_| AppError::Unavailable))
        .await?;
    let mut body = serde_json::json!({"status": "ready"});
    if let Some(replica) = &state.replica {
        body["replica"] = serde_json::json!({
            "lag_seconds": replica.lag(),
            "max_lag_seconds": state.settings.max_replica_lag.as_secs_f64(),
            "in_use": replica.in_use(),
        });
    }
    Ok(HttpResponse::Ok().json(body))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(pool_sample(&state.pool)))
}

fn pool_sample(pool: &crate::db::DbPool) -> crate::metrics::PoolSample {
    let now = pool.state();
    crate::metrics::PoolSample {
        max: pool.max_size(),
        open: now.connections,
        idle: now.idle_connections,
    }
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::not_found("route"))
}

/// Turns the router's bare 405 (a known path, another method) into problem+json.
pub fn method_not_allowed<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let detail = format!(
        "{} is not supported on {}",
        res.request().method(),
        res.request().path()
    );
    let allow = res
        .request()
        .match_pattern()
        .and_then(|pattern| crate::api::openapi::methods_of(&pattern));
    let (req, _) = res.into_parts();
    let mut problem = AppError::method_not_allowed(detail).error_response();
    if let Some(allow) = allow.and_then(|a| header::HeaderValue::from_str(&a).ok()) {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, problem).map_into_right_body(),
    ))
}
