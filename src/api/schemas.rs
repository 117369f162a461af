//! `/api/v1/endpoints/{id}/schema`: an endpoint's data contract (JSON Schema 2020-12
//! in `enforce` or `observe` mode), its versions, a draft learned from its records
//! and a preview of what a schema would have refused.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiJson, ApiQuery};
use crate::auth::Admin;
use crate::error::{AppResult, Problem};
use crate::operations::schemas::{self as ops, DraftOut, PreviewOut, SchemaIn, SchemaOut};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/endpoints/{id}/schema")
            .route(web::get().to(get))
            .route(web::put().to(put))
            .route(web::delete().to(delete)),
    );
    cfg.service(web::resource("/endpoints/{id}/schema/versions").route(web::get().to(versions)));
    cfg.service(web::resource("/endpoints/{id}/schema/draft").route(web::post().to(draft)));
    cfg.service(web::resource("/endpoints/{id}/schema/preview").route(web::post().to(preview)));
}

/// The schema in force on an endpoint (`404` when it has none).
#[utoipa::path(get, path = "/api/v1/endpoints/{id}/schema", tag = "schemas", params(("id" = i64, Path)),
    responses((status = 200, body = SchemaOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::get(&state, id.into_inner()).await?))
}

/// Put a schema in force (a new version; earlier ones are kept). It holds from the
/// next request on every instance. A schema that does not compile is `422`, naming
/// what is wrong.
#[utoipa::path(put, path = "/api/v1/endpoints/{id}/schema", tag = "schemas", params(("id" = i64, Path)), request_body = SchemaIn,
    responses((status = 200, body = SchemaOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ApiJson<SchemaIn>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::put(&state, &caller, id.into_inner(), body.0).await?))
}

/// Take the endpoint's schema out of force (its versions are kept).
#[utoipa::path(delete, path = "/api/v1/endpoints/{id}/schema", tag = "schemas", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    ops::delete(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every version of the endpoint's schema, newest first.
#[utoipa::path(get, path = "/api/v1/endpoints/{id}/schema/versions", tag = "schemas", params(("id" = i64, Path)),
    responses((status = 200, body = [SchemaOut]), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn versions(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::history(&state, id.into_inner()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DraftParams {
    /// How many of the newest records to learn from: 1 to 10000 (default 1000).
    pub limit: Option<i64>,
}

/// A schema inferred from the endpoint's newest records, for an admin to review and save.
#[utoipa::path(post, path = "/api/v1/endpoints/{id}/schema/draft", tag = "schemas", params(("id" = i64, Path), DraftParams),
    responses((status = 200, body = DraftOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn draft(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: ApiQuery<DraftParams>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::draft(&state, id.into_inner(), q.0.limit).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// The schema to try (draft 2020-12).
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// How many of the endpoint's last 1,000 records a schema would have refused, with examples.
#[utoipa::path(post, path = "/api/v1/endpoints/{id}/schema/preview", tag = "schemas", params(("id" = i64, Path)), request_body = PreviewIn,
    responses((status = 200, body = PreviewOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn preview(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ApiJson<PreviewIn>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::preview(&state, id.into_inner(), body.0.schema).await?))
}
