//! Login and logout: server-side sessions in a cookie, with a CSRF token for
//! every mutating call.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::auth::{end_session, session_cookie};
use crate::domain::secret::Password;
use crate::domain::user::Actor;
use crate::error::{AppResult, Problem};
use crate::operations::sessions::{self, UserSummary};
use crate::request::client_address;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/login").route(web::post().to(login)));
    cfg.service(web::resource("/logout").route(web::post().to(logout)));
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schema(value_type = String, format = Password)]
    pub password: Password,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `X-CSRF-Token` on every mutating call made with the session cookie.
    pub csrf_token: String,
    pub user: UserSummary,
}

/// Start a session.
#[utoipa::path(post, path = "/api/v1/login", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse, headers(("Set-Cookie" = String, description = "portico_session, HttpOnly, SameSite=Strict"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "Too many failed logins for this user or address; see Retry-After")))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<LoginRequest>,
) -> AppResult<HttpResponse> {
    let LoginRequest { username, password } = body.0;
    let address = client_address(&req, state.settings.trust_proxy_headers);
    let (session, user) = sessions::start(&state, address, username, password).await?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&req, &state, Some(&session)))
        .json(LoginResponse {
            csrf_token: sessions::csrf_token_for(&session),
            user,
        }))
}

/// End the session: it is deleted on the server, the cookie is cleared.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn logout(
    req: HttpRequest,
    caller: Actor,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    end_session(&req, &state).await?;
    tracing::info!(username = %caller.username, "logout");
    Ok(HttpResponse::NoContent()
        .cookie(session_cookie(&req, &state, None))
        .finish())
}
