//! `/api/v1/alert-targets`: where integration events are sent, signed per
//! Standard Webhooks; their deliveries and attempts, and a test event.

use actix_web::{web, HttpResponse};

use super::{ApiJson, ApiQuery};
use crate::auth::Admin;
use crate::error::{AppResult, Problem};
use crate::operations::alerts::deliveries::{self, DeliveryOut, DeliveryPage, DeliveryQuery};
use crate::operations::alerts::{
    self as ops, AlertTargetOut, AlertTargetWithSecret, CreateAlertTarget, UpdateAlertTarget,
};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/alert-targets")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(
        web::resource("/alert-targets/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
    cfg.service(web::resource("/alert-targets/{id}/rotate-secret").route(web::post().to(rotate)));
    cfg.service(web::resource("/alert-targets/{id}/test").route(web::post().to(test)));
    cfg.service(
        web::resource("/alert-targets/{id}/deliveries").route(web::get().to(list_deliveries)),
    );
}

/// Every alert target, by name (never a secret).
#[utoipa::path(get, path = "/api/v1/alert-targets", tag = "alerts",
    responses((status = 200, body = [AlertTargetOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(_admin: Admin, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::list(&state).await?))
}

/// Register a target; its signing secret (`whsec_...`) is in this response only.
///
/// Without a server secret key to keep the secret under: `409 secret_key_missing`.
#[utoipa::path(post, path = "/api/v1/alert-targets", tag = "alerts", request_body = CreateAlertTarget,
    responses((status = 201, body = AlertTargetWithSecret), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<CreateAlertTarget>,
) -> AppResult<HttpResponse> {
    let out = ops::create(&state, &caller, body.0.validate()?).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/alert-targets/{}", out.details.id),
        ))
        .json(out))
}

/// One target (without its secret).
#[utoipa::path(get, path = "/api/v1/alert-targets/{id}", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertTargetOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::get(&state, id.into_inner()).await?))
}

/// Change a target's name, address, events or switch.
#[utoipa::path(patch, path = "/api/v1/alert-targets/{id}", tag = "alerts", params(("id" = i64, Path)), request_body = UpdateAlertTarget,
    responses((status = 200, body = AlertTargetOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ApiJson<UpdateAlertTarget>,
) -> AppResult<HttpResponse> {
    let out = ops::update(&state, &caller, id.into_inner(), body.0.validate()?).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Remove a target with its deliveries and their attempts.
#[utoipa::path(delete, path = "/api/v1/alert-targets/{id}", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    ops::delete(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the signing secret at once; the new one is in this response only.
#[utoipa::path(post, path = "/api/v1/alert-targets/{id}/rotate-secret", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertTargetWithSecret), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rotate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::rotate(&state, &caller, id.into_inner()).await?))
}

/// Send a `test` event to this target now; the answer is its delivery with the
/// attempt made (a failed test is retried like any delivery).
#[utoipa::path(post, path = "/api/v1/alert-targets/{id}/test", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 201, body = DeliveryOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn test(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let out = deliveries::send_test(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Created().json(out))
}

/// The target's deliveries, newest first, each with every attempt (when, status,
/// latency, error); `next` pages on.
#[utoipa::path(get, path = "/api/v1/alert-targets/{id}/deliveries", tag = "alerts", params(("id" = i64, Path), DeliveryQuery),
    responses((status = 200, body = DeliveryPage), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_deliveries(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: ApiQuery<DeliveryQuery>,
) -> AppResult<HttpResponse> {
    let page = deliveries::list(&state, id.into_inner(), q.0).await?;
    Ok(HttpResponse::Ok().json(page))
}
