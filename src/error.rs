//! One error type for the whole service, rendered as RFC 9457 problem+json with a
//! stable `code`. Messages never carry secrets: details come from our own text,
//! never from a database driver's.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::access::Denial;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no endpoint with this slug")]
    EndpointNotFound,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A 404 whose detail names what is missing.
    #[error("{0}")]
    Missing(String),
    #[error("{1}")]
    Validation(String, String),
    #[error("{0}")]
    BadRequest(&'static str, String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("wrong username or password")]
    LoginFailed,
    #[error("{0}")]
    Forbidden(String),
    #[error("missing or wrong X-CSRF-Token header")]
    CsrfFailed,
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("access denied: {}", .0.code())]
    Denied(Denial),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("request body exceeds this endpoint's limit of {0} bytes")]
    PayloadTooLarge(u64),
    #[error("{reason}; retry after {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        reason: &'static str,
    },
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal,
    /// Not an error: an idempotent repeat, carried out of a rolled-back transaction.
    #[error("idempotent replay")]
    Replay(i64, chrono::NaiveDateTime),
}

/// The problem+json body (RFC 9457) with Portico's stable `code`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type: `urn:portico:problem:{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `token_invalid`.
    pub code: String,
    /// The request field a validation error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(field.into(), message.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::EndpointNotFound => "endpoint_not_found",
            AppError::NotFound(_) | AppError::Missing(_) => "not_found",
            AppError::Validation(..) => "validation_failed",
            AppError::BadRequest(code, _) => code,
            AppError::Unauthenticated => "unauthenticated",
            AppError::LoginFailed => "login_failed",
            AppError::Forbidden(_) => "forbidden",
            AppError::CsrfFailed => "csrf_failed",
            AppError::Conflict(code, _) => code,
            AppError::Denied(d) => d.code(),
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::InvalidJson(_) => "invalid_json",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable => "service_unavailable",
            AppError::Internal | AppError::Replay(..) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::EndpointNotFound => "Endpoint not found",
            AppError::NotFound(_) | AppError::Missing(_) => "Not found",
            AppError::Validation(..) => "Invalid value",
            AppError::BadRequest(..) => "Bad request",
            AppError::Unauthenticated | AppError::LoginFailed => "Unauthorized",
            AppError::Forbidden(_) | AppError::CsrfFailed => "Forbidden",
            AppError::Conflict(..) => "Conflict",
            AppError::Denied(d) if d.status() == 401 => "Unauthorized",
            AppError::Denied(_) => "Forbidden",
            AppError::MethodNotAllowed(_) => "Method not allowed",
            AppError::InvalidJson(_) => "Invalid JSON",
            AppError::UnsupportedMediaType => "Unsupported media type",
            AppError::PayloadTooLarge(_) => "Payload too large",
            AppError::RateLimited { .. } => "Too many requests",
            AppError::Unavailable => "Service unavailable",
            AppError::Internal | AppError::Replay(..) => "Internal server error",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            AppError::Denied(d) => match d {
                Denial::TokenMissing => {
                    "send the token as 'Authorization: Bearer <token>' or the access_token query parameter".into()
                }
                Denial::TokenInvalid => "the token is malformed, unknown or deactivated".into(),
                Denial::TokenExpired => "the token has expired".into(),
                Denial::TokenDisabled => "the token is disabled".into(),
                Denial::TokenNotMapped => "the token is not mapped to this endpoint and method".into(),
                Denial::MappingDisabled => "the token's mapping to this endpoint and method is disabled".into(),
                Denial::EndpointDisabled => "the endpoint is disabled".into(),
                Denial::IpNotAllowed => "the caller's address is not on the allowlist".into(),
            },
            AppError::Validation(field, msg) => format!("{field}: {msg}"),
            other => other.to_string(),
        }
    }

    pub fn problem(&self) -> Problem {
        let code = self.code();
        Problem {
            type_: format!("urn:portico:problem:{code}"),
            title: self.title().into(),
            status: self.status_code().as_u16(),
            detail: self.detail(),
            code: code.into(),
            field: match self {
                AppError::Validation(field, _) => Some(field.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::EndpointNotFound | AppError::NotFound(_) | AppError::Missing(_) => {
                StatusCode::NOT_FOUND
            }
            AppError::Validation(..) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(..) | AppError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated | AppError::LoginFailed => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::CsrfFailed => StatusCode::FORBIDDEN,
            AppError::Conflict(..) => StatusCode::CONFLICT,
            AppError::Denied(d) => {
                StatusCode::from_u16(d.status()).unwrap_or(StatusCode::FORBIDDEN)
            }
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal | AppError::Replay(..) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            AppError::Denied(d) if d.status() == 401 => {
                let error = if *d == Denial::TokenMissing {
                    ""
                } else {
                    ", error=\"invalid_token\""
                };
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"portico\"{error}"),
                ));
            }
            AppError::Unauthenticated => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"portico-api\""));
            }
            AppError::RateLimited {
                retry_after_secs, ..
            } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    res.insert_header((header::RETRY_AFTER, v));
                }
            }
            AppError::MethodNotAllowed(_) => {}
            AppError::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        res.body(body)
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::NotFound("resource"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => AppError::Conflict(
                "conflict",
                "a resource with this value already exists".into(),
            ),
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                tracing::error!("database connection closed");
                AppError::Unavailable
            }
            Error::DatabaseError(kind, info) => {
                let msg = info.message();
                if msg.contains("locked") || msg.contains("busy") || msg.contains("disk") {
                    tracing::error!(?kind, message = %msg, "database unavailable");
                    AppError::Unavailable
                } else {
                    tracing::error!(?kind, message = %msg, "database error");
                    AppError::Internal
                }
            }
            other => {
                tracing::error!(error = %other, "database error");
                AppError::Internal
            }
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::error!(error = %e, "no database connection");
        AppError::Unavailable
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        tracing::error!("blocking task was cancelled");
        AppError::Internal
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Maps diesel's "no row" to a 404 naming `what`; other errors as usual.
pub fn missing(what: &'static str) -> impl Fn(diesel::result::Error) -> AppError {
    move |e| match e {
        diesel::result::Error::NotFound => AppError::NotFound(what),
        other => other.into(),
    }
}
