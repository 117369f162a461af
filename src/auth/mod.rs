//! Who is calling the management API: sessions (cookie + CSRF header) or personal
//! API keys (bearer), as extractors for handler signatures; the session cookie.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method as HttpMethod;
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use actix_web::{web, FromRequest, HttpRequest};

use crate::domain::token::{TokenHash, TokenValue};
use crate::domain::user::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::operations::{api_keys, sessions};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "portico_session";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn is_safe(method: &HttpMethod) -> bool {
    matches!(
        *method,
        HttpMethod::GET | HttpMethod::HEAD | HttpMethod::OPTIONS
    )
}

fn state_of(req: &HttpRequest) -> AppResult<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(AppError::Internal)
}

/// The session value of the request's cookie, if it holds a well-formed one.
pub fn session_of(req: &HttpRequest) -> Option<TokenValue> {
    req.cookie(SESSION_COOKIE)
        .and_then(|c| TokenValue::parse(c.value()).ok())
}

async fn authenticate(req: HttpRequest) -> Result<Actor, AppError> {
    let state = state_of(&req)?;
    if let Some(presented) = bearer(&req) {
        let value = TokenValue::parse(presented).map_err(|_| AppError::unauthenticated())?;
        return api_keys::authenticate(&state, &value).await;
    }
    let session = session_of(&req).ok_or_else(AppError::unauthenticated)?;
    let csrf = (!is_safe(req.method())).then(|| {
        req.headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(TokenHash::of)
    });
    sessions::authenticate(&state, &session, csrf).await
}

/// Authenticates a management request before its handler's extractors run: a
/// request without valid credentials (or without its CSRF token) is refused before
/// its body or parameters are looked at. The caller is kept for `Actor`/`Admin`.
pub async fn authenticate_first(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.path() != "/api/v1/login" {
        match authenticate(req.request().clone()).await {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
            }
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The caller `authenticate_first` found, or authenticates now (routes outside it).
fn caller_of(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<Actor, AppError>>>> {
    match req.extensions().get::<Actor>().cloned() {
        Some(caller) => Box::pin(std::future::ready(Ok(caller))),
        None => Box::pin(authenticate(req.clone())),
    }
}

impl FromRequest for Actor {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Actor, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        caller_of(req)
    }
}

/// Refuses an analyst: this needs the admin role.
pub fn require_admin(actor: &Actor) -> Result<(), AppError> {
    match actor.role {
        Role::Admin => Ok(()),
        Role::Analyst => Err(AppError::forbidden("this action needs the admin role")),
    }
}

/// A caller with the admin role.
#[derive(Debug, Clone)]
pub struct Admin(pub Actor);

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = caller_of(req);
        Box::pin(async move {
            let caller = caller.await?;
            require_admin(&caller)?;
            Ok(Admin(caller))
        })
    }
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
    match session_of(req) {
        Some(value) => sessions::end(state, &value).await,
        None => Ok(()),
    }
}
