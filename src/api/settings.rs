//! `/api/v1/settings`: instance-wide admin settings (the token lifetime policy).

use actix_web::{web, HttpResponse};

use super::ApiJson;
use crate::auth::Admin;
use crate::error::{AppResult, Problem};
use crate::operations::token_policy::{self as ops, PutTokenPolicy, TokenPolicyOut};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/settings/token-policy")
            .route(web::get().to(get_token_policy))
            .route(web::put().to(put_token_policy)),
    );
}

/// The token lifetime policy: the default expiry of new tokens and the maximum
/// lifetime, with the count of active tokens beyond that maximum.
#[utoipa::path(get, path = "/api/v1/settings/token-policy", tag = "settings",
    responses((status = 200, body = TokenPolicyOut), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn get_token_policy(
    _admin: Admin,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::get(&state).await?))
}

/// Replace the token lifetime policy (audited). Every instance applies it from the
/// next token change; tokens already beyond a new maximum keep their expiry and
/// are listed by `GET /api/v1/tokens?expiry=beyond_max`.
#[utoipa::path(put, path = "/api/v1/settings/token-policy", tag = "settings", request_body = PutTokenPolicy,
    responses((status = 200, body = TokenPolicyOut), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put_token_policy(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<PutTokenPolicy>,
) -> AppResult<HttpResponse> {
    let out = ops::put(&state, &caller, body.0.validate()?).await?;
    Ok(HttpResponse::Ok().json(out))
}
