//! Who is calling the management API: sessions (cookie + CSRF header) or personal
//! API keys (bearer), and what their role lets them do.

pub mod password;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method as HttpMethod;
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use actix_web::{web, FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::token::{TokenHash, TokenValue};
use crate::error::AppError;
use crate::store;
use crate::AppState;

pub const SESSION_COOKIE: &str = "portico_session";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            _ => Err("must be 'admin' or 'analyst'".into()),
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    ApiKey,
}

/// An authenticated management caller; put it in a handler's signature.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub via: Via,
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Analyst => Err(AppError::Forbidden(
                "this action needs the admin role".into(),
            )),
        }
    }
}

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

async fn authenticate(req: HttpRequest) -> Result<Caller, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(AppError::Internal)?;
    let now = state.clock.now();

    if let Some(presented) = bearer(&req) {
        let value = TokenValue::parse(presented).map_err(|_| AppError::Unauthenticated)?;
        let hash = value.hash();
        return state
            .db(move |conn| {
                let (key, user) = store::users::find_api_key(conn, &hash, now)?
                    .ok_or(AppError::Unauthenticated)?;
                if !hash.matches(&key.key_hash) {
                    return Err(AppError::Unauthenticated);
                }
                if key
                    .last_used_at
                    .is_none_or(|t| now - t > chrono::TimeDelta::seconds(60))
                {
                    store::users::touch_api_key(conn, key.id, now)?;
                }
                Ok(Caller {
                    user_id: user.id,
                    role: Role::from_str(&user.role).map_err(|_| AppError::Internal)?,
                    username: user.username,
                    via: Via::ApiKey,
                })
            })
            .await;
    }

    let cookie = req
        .cookie(SESSION_COOKIE)
        .ok_or(AppError::Unauthenticated)?;
    let session = TokenValue::parse(cookie.value()).map_err(|_| AppError::Unauthenticated)?;
    let csrf = (!is_safe(req.method())).then(|| {
        req.headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(TokenHash::of)
    });
    session_caller(&state, &session, csrf).await
}

/// The CSRF token of a session. It is derived from the session value (which only
/// the browser holds), so pages can embed it while the server stores only hashes.
pub fn csrf_token_for(session: &TokenValue) -> String {
    let mut h = Sha256::new();
    h.update(b"portico-csrf\0");
    h.update(session.expose().as_bytes());
    hex::encode(h.finalize())
}

/// The caller behind a live session. `csrf` is `None` for safe methods, else the
/// hash of the presented CSRF token (`Some(None)` when none was presented).
pub async fn session_caller(
    state: &AppState,
    session: &TokenValue,
    csrf: Option<Option<TokenHash>>,
) -> Result<Caller, AppError> {
    let now = state.clock.now();
    let hash = session.hash();
    state
        .db(move |conn| {
            let (row, user) =
                store::users::find_session(conn, &hash, now)?.ok_or(AppError::Unauthenticated)?;
            if !hash.matches(&row.session_hash) {
                return Err(AppError::Unauthenticated);
            }
            match csrf {
                None => {}
                Some(None) => return Err(AppError::CsrfFailed),
                Some(Some(presented)) if !presented.matches(&row.csrf_hash) => {
                    return Err(AppError::CsrfFailed)
                }
                Some(Some(_)) => {}
            }
            Ok(Caller {
                user_id: user.id,
                role: Role::from_str(&user.role).map_err(|_| AppError::Internal)?,
                username: user.username,
                via: Via::Session,
            })
        })
        .await
}

/// Authenticates a management request before its handler's extractors run: a
/// request without valid credentials (or without its CSRF token) is refused before
/// its body or parameters are looked at. The caller is kept for `Caller`/`Admin`.
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
fn caller_of(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<Caller, AppError>>>> {
    match req.extensions().get::<Caller>().cloned() {
        Some(caller) => Box::pin(std::future::ready(Ok(caller))),
        None => Box::pin(authenticate(req.clone())),
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        caller_of(req)
    }
}

/// A caller with the admin role.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = caller_of(req);
        Box::pin(async move {
            let caller = caller.await?;
            caller.require_admin()?;
            Ok(Admin(caller))
        })
    }
}
