//! `/api/v1/tokens`: secondary ("endpoint") tokens, their lifecycle and mappings.

use std::str::FromStr;

use actix_web::{web, HttpResponse};

use super::{ApiJson, ApiQuery};
use crate::auth::Admin;
use crate::domain::endpoint::Method;
use crate::error::{AppError, AppResult, Problem};
use crate::operations::mappings::{self, MappingOut, PutMapping};
use crate::operations::tokens::lifecycle::{self, BulkRequest, BulkResult, Lifecycle};
use crate::operations::tokens::{
    self as ops, CreateToken, RegenerateToken, RenewToken, TokenListParams, TokenOut,
    TokenWithValue, UpdateToken,
};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(
        web::resource("/tokens")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(web::resource("/tokens/bulk").route(web::post().to(bulk)));
    cfg.service(
        web::resource("/tokens/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
    cfg.service(web::resource("/tokens/{id}/regenerate").route(web::post().to(regenerate)));
    cfg.service(web::resource("/tokens/{id}/deactivate").route(web::post().to(deactivate)));
    cfg.service(web::resource("/tokens/{id}/activate").route(web::post().to(activate)));
    cfg.service(web::resource("/tokens/{id}/renew").route(web::post().to(renew)));
    cfg.service(web::resource("/tokens/{id}/mappings").route(web::get().to(list_mappings)));
    cfg.service(
        web::resource("/tokens/{id}/mappings/{endpoint_id}/{method}")
            .route(web::put().to(put_mapping))
            .route(web::delete().to(delete_mapping)),
    );
}

/// List tokens (active ones unless `state` says otherwise), optionally by expiry:
/// `expiry=beyond_max` lists those beyond the lifetime policy's maximum.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenListParams),
    responses((status = 200, body = [TokenOut]), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    _admin: Admin,
    state: web::Data<AppState>,
    q: ApiQuery<TokenListParams>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::list(&state, q.0).await?))
}

/// Create a token; its value is in this response only.
///
/// Names are unique, ignoring case: another token's name is `409 name_taken`.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = TokenWithValue), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<CreateToken>,
) -> AppResult<HttpResponse> {
    let out = ops::create(&state, &caller, body.0.validate()?).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/tokens/{}", out.details.id)))
        .json(out))
}

/// One token (without its value).
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::get(&state, id.into_inner()).await?))
}

/// Change a token's settings; takes effect for the very next request.
#[utoipa::path(patch, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)), request_body = UpdateToken,
    responses((status = 200, body = TokenOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ApiJson<UpdateToken>,
) -> AppResult<HttpResponse> {
    let out = ops::update(&state, &caller, id.into_inner(), body.0.validate()?).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Delete a token for good; its calls keep its name in the data viewer.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    ops::delete(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the value. With `grace_seconds` the old value keeps working that long
/// (the token shows as `rotating`); without, it stops at once. With `expires_at`
/// the token gets a new expiry too (beyond the lifetime policy's maximum: `422
/// lifetime_exceeded`).
#[utoipa::path(post, path = "/api/v1/tokens/{id}/regenerate", tag = "tokens", params(("id" = i64, Path)), request_body(content = Option<RegenerateToken>),
    responses((status = 200, body = TokenWithValue), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn regenerate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let req = optional_body::<RegenerateToken>(&body)?;
    let out = ops::regenerate(&state, &caller, id.into_inner(), req.validate()?).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Retire a token: unusable, hidden from the default list, history kept.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/deactivate", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn deactivate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let out = lifecycle::apply(&state, &caller, id.into_inner(), Lifecycle::Deactivate).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Bring a deactivated token back.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/activate", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn activate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let out = lifecycle::apply(&state, &caller, id.into_inner(), Lifecycle::Activate).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Extend the expiry from now: by the lifetime policy's default (a year without
/// one), capped at its maximum; or by `days`, refused beyond the maximum with
/// `422 lifetime_exceeded`.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/renew", tag = "tokens", params(("id" = i64, Path)), request_body(content = Option<RenewToken>),
    responses((status = 200, body = TokenOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn renew(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let days = optional_body::<RenewToken>(&body)?.validate()?;
    let out = lifecycle::apply(&state, &caller, id.into_inner(), Lifecycle::Renew(days)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// An optional JSON body: none (or only whitespace, or `null`) is the default.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> AppResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    Ok(super::parse_json::<Option<T>>(body)?.unwrap_or_default())
}

/// Enable, disable, deactivate, activate or delete many tokens at once: all or nothing.
#[utoipa::path(post, path = "/api/v1/tokens/bulk", tag = "tokens", request_body = BulkRequest,
    responses((status = 200, body = BulkResult), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn bulk(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<BulkRequest>,
) -> AppResult<HttpResponse> {
    let out = lifecycle::bulk(&state, &caller, body.0.validate()?).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The token's mappings.
#[utoipa::path(get, path = "/api/v1/tokens/{id}/mappings", tag = "mappings", params(("id" = i64, Path)),
    responses((status = 200, body = [MappingOut]), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_mappings(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(mappings::of_token(&state, id.into_inner()).await?))
}

fn parse_mapping_path(path: (i64, i64, String)) -> AppResult<(i64, i64, Method)> {
    let (id, endpoint_id, method) = path;
    let method = Method::from_str(&method).map_err(|e| AppError::validation("method", e))?;
    Ok((id, endpoint_id, method))
}

/// Map the token onto (endpoint, method), or set that mapping's `enabled` and its
/// expected cadence (`expect_every_seconds`, see the Health list). Idempotent.
#[utoipa::path(put, path = "/api/v1/tokens/{id}/mappings/{endpoint_id}/{method}", tag = "mappings",
    params(("id" = i64, Path), ("endpoint_id" = i64, Path), ("method" = Method, Path)), request_body = PutMapping,
    responses((status = 200, body = MappingOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put_mapping(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64, String)>,
    body: ApiJson<PutMapping>,
) -> AppResult<HttpResponse> {
    let (id, endpoint_id, method) = parse_mapping_path(path.into_inner())?;
    let expect = body.0.expect()?;
    let out = mappings::set_with(
        &state,
        &caller,
        (id, endpoint_id, method),
        body.0.enabled,
        expect,
    )
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Remove the mapping.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}/mappings/{endpoint_id}/{method}", tag = "mappings",
    params(("id" = i64, Path), ("endpoint_id" = i64, Path), ("method" = Method, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn delete_mapping(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64, String)>,
) -> AppResult<HttpResponse> {
    let (id, endpoint_id, method) = parse_mapping_path(path.into_inner())?;
    mappings::remove(&state, &caller, id, endpoint_id, method).await?;
    Ok(HttpResponse::NoContent().finish())
}
