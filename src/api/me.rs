//! `/api/v1/me`: the caller, and their personal API keys.

use actix_web::{web, HttpResponse};

use super::ApiJson;
use crate::domain::user::Actor;
use crate::error::{AppResult, Problem};
use crate::operations::api_keys::{self, ApiKeyOut, ApiKeyWithValue, CreateApiKey};
use crate::operations::sessions::UserSummary;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/me").route(web::get().to(me)));
    cfg.service(
        web::resource("/me/api-keys")
            .route(web::get().to(list_keys))
            .route(web::post().to(create_key)),
    );
    cfg.service(web::resource("/me/api-keys/{id}").route(web::delete().to(delete_key)));
}

/// Who is calling.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = UserSummary), (status = 401, body = Problem)))]
pub async fn me(caller: Actor) -> HttpResponse {
    HttpResponse::Ok().json(UserSummary {
        username: caller.username,
        role: caller.role,
    })
}

/// The caller's API keys (never their values).
#[utoipa::path(get, path = "/api/v1/me/api-keys", tag = "me", responses((status = 200, body = [ApiKeyOut]), (status = 401, body = Problem)))]
pub async fn list_keys(caller: Actor, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(api_keys::list(&state, &caller).await?))
}

/// Create a personal API key with the caller's role; the value is shown once.
#[utoipa::path(post, path = "/api/v1/me/api-keys", tag = "me", request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyWithValue), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create_key(
    caller: Actor,
    state: web::Data<AppState>,
    body: ApiJson<CreateApiKey>,
) -> AppResult<HttpResponse> {
    let spec = body.0.validate(state.clock.now())?;
    Ok(HttpResponse::Created().json(api_keys::create(&state, &caller, spec).await?))
}

/// Revoke one of the caller's API keys.
#[utoipa::path(delete, path = "/api/v1/me/api-keys/{id}", tag = "me", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_key(
    caller: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    api_keys::delete(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
