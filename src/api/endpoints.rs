//! `/api/v1/endpoints`: CRUD, primary tokens, and the endpoint's token view.

use std::str::FromStr;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ApiJson, ApiQuery};
use crate::auth::Admin;
use crate::domain::endpoint::Method;
use crate::error::{AppError, AppResult, Problem};
use crate::operations::endpoints::{self as ops, CreateEndpoint, EndpointOut, UpdateEndpoint};
use crate::operations::mappings::{self, EndpointTokenOut};
use crate::operations::primary_tokens::{self, RegeneratedPrimary};
use crate::operations::tokens::StateParam;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(
        web::resource("/endpoints")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(
        web::resource("/endpoints/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
    cfg.service(
        web::resource("/endpoints/{id}/primary-tokens/{method}/regenerate")
            .route(web::post().to(regenerate)),
    );
    cfg.service(web::resource("/endpoints/{id}/tokens").route(web::get().to(tokens_of_endpoint)));
}

/// List endpoints.
#[utoipa::path(get, path = "/api/v1/endpoints", tag = "endpoints",
    responses((status = 200, body = [EndpointOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(_admin: Admin, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::list(&state).await?))
}

/// Create an endpoint; its primary tokens are generated and shown once.
#[utoipa::path(post, path = "/api/v1/endpoints", tag = "endpoints", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointOut), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<CreateEndpoint>,
) -> AppResult<HttpResponse> {
    let out = ops::create(&state, &caller, body.0.validate()?).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/endpoints/{}", out.id)))
        .json(out))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/endpoints/{id}", tag = "endpoints", params(("id" = i64, Path)),
    responses((status = 200, body = EndpointOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::get(&state, id.into_inner()).await?))
}

/// Change an endpoint. Turning `auth` to `token` or `allow_delete` on generates the
/// missing primary tokens (returned once in `primary_tokens`); the opposite removes them.
#[utoipa::path(patch, path = "/api/v1/endpoints/{id}", tag = "endpoints", params(("id" = i64, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ApiJson<UpdateEndpoint>,
) -> AppResult<HttpResponse> {
    let out = ops::update(&state, &caller, id.into_inner(), body.0.validate()?).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Delete an endpoint with its records, primary tokens and mappings (its calls stay in the log).
#[utoipa::path(delete, path = "/api/v1/endpoints/{id}", tag = "endpoints", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    ops::delete(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace a primary token; the old value stops working at once.
#[utoipa::path(post, path = "/api/v1/endpoints/{id}/primary-tokens/{method}/regenerate", tag = "endpoints",
    params(("id" = i64, Path), ("method" = Method, Path)),
    responses((status = 200, body = RegeneratedPrimary), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn regenerate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> AppResult<HttpResponse> {
    let (id, method) = path.into_inner();
    let method = Method::from_str(&method).map_err(|e| AppError::validation("method", e))?;
    Ok(HttpResponse::Ok().json(primary_tokens::regenerate(&state, &caller, id, method).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignedFilter {
    /// `true`: only tokens mapped onto this endpoint; `false`: only those that are not.
    pub assigned: Option<bool>,
    /// `active` (default), `inactive` or `all`.
    pub state: Option<String>,
}

/// The secondary tokens with their mappings onto this endpoint ("Hide unassigned": `assigned=true`).
#[utoipa::path(get, path = "/api/v1/endpoints/{id}/tokens", tag = "endpoints", params(("id" = i64, Path), AssignedFilter),
    responses((status = 200, body = [EndpointTokenOut]), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn tokens_of_endpoint(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    filter: ApiQuery<AssignedFilter>,
) -> AppResult<HttpResponse> {
    let state_filter = StateParam {
        state: filter.state.clone(),
    }
    .validate()?;
    let out =
        mappings::endpoint_tokens(&state, id.into_inner(), state_filter, filter.assigned).await?;
    Ok(HttpResponse::Ok().json(out))
}
