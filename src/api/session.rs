//! Login and logout: server-side sessions in a cookie, with a CSRF token for
//! every mutating call.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::auth::{password, Caller, Role, SESSION_COOKIE};
use crate::domain::secret::Password;
use crate::domain::token::{TokenHash, TokenValue};
use crate::error::{AppError, AppResult, Problem};
use crate::store;
use crate::AppState;

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

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSummary {
    pub username: String,
    pub role: Role,
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
    let address = crate::ingest::client_address(&req, state.settings.trust_proxy_headers);
    let (session, user) = start_session(&state, address, username, password).await?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&req, &state, Some(&session)))
        .json(LoginResponse {
            csrf_token: crate::auth::csrf_token_for(&session),
            user,
        }))
}

/// Checks a username and password (throttled per user and address) and opens a
/// server-side session. The value goes into the session cookie and nowhere else.
pub async fn start_session(
    state: &AppState,
    address: Option<std::net::IpAddr>,
    username: String,
    presented: Password,
) -> AppResult<(TokenValue, UserSummary)> {
    if username.len() > 64 || presented.expose().len() > 1024 {
        return Err(AppError::LoginFailed);
    }
    let now = state.clock.now();
    state
        .login_throttle
        .check(&username, address, now)
        .map_err(|retry_after_secs| AppError::RateLimited {
            retry_after_secs,
            reason: "too many failed sign-ins for this user or address",
        })?;
    let user = {
        let username = username.clone();
        state
            .db(move |conn| Ok(store::users::find_by_username(conn, &username)?))
            .await?
    };
    let known = user.is_some();
    let user = web::block(move || match user {
        Some(u) if password::verify(&presented, &u.password_hash) => Some(u),
        Some(_) => None,
        None => {
            password::verify_dummy(&presented);
            None
        }
    })
    .await?;
    let Some(user) = user else {
        state.login_throttle.failed(&username, address, now);
        // An unknown name is not logged: people type passwords into the wrong field.
        if known {
            tracing::info!(%username, "login failed: wrong password");
        } else {
            tracing::info!("login failed: unknown user");
        }
        return Err(AppError::LoginFailed);
    };
    state.login_throttle.succeeded(&username);
    let role: Role = user.role.parse().map_err(|_| AppError::Internal)?;
    let session = TokenValue::generate();
    let ttl = state.settings.session_ttl;
    let csrf_hash = TokenHash::of(&crate::auth::csrf_token_for(&session));
    let (session_hash, user_id) = (session.hash(), user.id);
    state
        .db(move |conn| {
            Ok(store::users::insert_session(
                conn,
                &session_hash,
                &csrf_hash,
                user_id,
                now,
                now + ttl,
            )?)
        })
        .await?;
    tracing::info!(username = %user.username, "login");
    Ok((
        session,
        UserSummary {
            username: user.username,
            role,
        },
    ))
}

/// The session cookie carrying `session`, or clearing it when `None`. `Secure`
/// when configured, and whenever the request came over TLS (directly or as a
/// proxy's `X-Forwarded-Proto`/`Forwarded` says: a client that lies only hides
/// the cookie from itself on plain HTTP).
pub fn session_cookie(
    req: &HttpRequest,
    state: &AppState,
    session: Option<&TokenValue>,
) -> Cookie<'static> {
    let secure = state.settings.secure_cookies || req.connection_info().scheme() == "https";
    let (value, max_age) = match session {
        Some(s) => (
            s.expose().to_owned(),
            CookieDuration::seconds(state.settings.session_ttl.num_seconds()),
        ),
        None => (String::new(), CookieDuration::ZERO),
    };
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

/// Deletes the session behind the request's cookie, if any.
pub async fn end_session(req: &HttpRequest, state: &AppState) -> AppResult<()> {
    if let Some(value) = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| TokenValue::parse(c.value()).ok())
    {
        let hash = value.hash();
        state
            .db(move |conn| Ok(store::users::delete_session(conn, &hash)?))
            .await?;
    }
    Ok(())
}

/// End the session: it is deleted on the server, the cookie is cleared.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn logout(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    end_session(&req, &state).await?;
    tracing::info!(username = %caller.username, "logout");
    Ok(HttpResponse::NoContent()
        .cookie(session_cookie(&req, &state, None))
        .finish())
}
