//! One error type for the whole service, rendered as RFC 9457 problem+json with a
//! stable `code`. [`Code`] lists every code Portico answers with, once, with its
//! status and title; call sites name a `Code`, never a string. Messages never carry
//! secrets: details come from our own text, never from a database driver's.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::access::Denial;
use crate::domain::contract::Violation;

/// Every problem code, with its HTTP status and title.
macro_rules! codes {
    ($($variant:ident = $code:literal, $status:literal, $title:literal;)*) => {
        /// A stable, machine-readable problem code (`code` in problem+json).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the order the OpenAPI document lists them.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                let n: u16 = match self {
                    $(Code::$variant => $status,)*
                };
                StatusCode::from_u16(n).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    EndpointNotFound = "endpoint_not_found", 404, "Endpoint not found";
    NotFound = "not_found", 404, "Not found";
    ValidationFailed = "validation_failed", 422, "Invalid value";
    InvalidParameter = "invalid_parameter", 400, "Bad request";
    InvalidBody = "invalid_body", 400, "Bad request";
    InvalidIdempotencyKey = "invalid_idempotency_key", 400, "Bad request";
    InvalidJson = "invalid_json", 400, "Invalid JSON";
    Unauthenticated = "unauthenticated", 401, "Unauthorized";
    LoginFailed = "login_failed", 401, "Unauthorized";
    TokenMissing = "token_missing", 401, "Unauthorized";
    TokenInvalid = "token_invalid", 401, "Unauthorized";
    TokenExpired = "token_expired", 401, "Unauthorized";
    Forbidden = "forbidden", 403, "Forbidden";
    CsrfFailed = "csrf_failed", 403, "Forbidden";
    TokenDisabled = "token_disabled", 403, "Forbidden";
    TokenNotMapped = "token_not_mapped", 403, "Forbidden";
    MappingDisabled = "mapping_disabled", 403, "Forbidden";
    EndpointDisabled = "endpoint_disabled", 403, "Forbidden";
    IpNotAllowed = "ip_not_allowed", 403, "Forbidden";
    MethodNotAllowed = "method_not_allowed", 405, "Method not allowed";
    Conflict = "conflict", 409, "Conflict";
    SlugTaken = "slug_taken", 409, "Conflict";
    UsernameTaken = "username_taken", 409, "Conflict";
    NameTaken = "name_taken", 409, "Conflict";
    LastAdmin = "last_admin", 409, "Conflict";
    CannotDeleteSelf = "cannot_delete_self", 409, "Conflict";
    NoPrimaryToken = "no_primary_token", 409, "Conflict";
    IdempotencyKeyReused = "idempotency_key_reused", 409, "Conflict";
    SecretKeyMissing = "secret_key_missing", 409, "Conflict";
    PayloadTooLarge = "payload_too_large", 413, "Payload too large";
    UnsupportedMediaType = "unsupported_media_type", 415, "Unsupported media type";
    SchemaViolation = "schema_violation", 422, "Body does not conform to the endpoint's schema";
    LifetimeExceeded = "lifetime_exceeded", 422, "Beyond the token lifetime policy";
    RateLimited = "rate_limited", 429, "Too many requests";
    InternalError = "internal_error", 500, "Internal server error";
    ServiceUnavailable = "service_unavailable", 503, "Service unavailable";
}

impl From<Denial> for Code {
    fn from(d: Denial) -> Self {
        match d {
            Denial::TokenMissing => Code::TokenMissing,
            Denial::TokenInvalid => Code::TokenInvalid,
            Denial::TokenExpired => Code::TokenExpired,
            Denial::TokenDisabled => Code::TokenDisabled,
            Denial::TokenNotMapped => Code::TokenNotMapped,
            Denial::MappingDisabled => Code::MappingDisabled,
            Denial::EndpointDisabled => Code::EndpointDisabled,
            Denial::IpNotAllowed => Code::IpNotAllowed,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A refusal with its code and our own words.
    #[error("{1}")]
    Refused(Code, String),
    /// A value the caller sent is not acceptable: the field and why.
    #[error("{0}: {1}")]
    Validation(String, String),
    /// The access decision refused an ingest request.
    #[error("access denied: {}", Code::from(*.0).as_str())]
    Denied(Denial),
    #[error("{reason}; retry after {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        reason: &'static str,
    },
    /// A body the endpoint's schema (in `enforce` mode) refuses: where and why.
    #[error("the body does not conform to this endpoint's JSON Schema ({} error(s) in `errors`)", .0.len())]
    SchemaViolation(Vec<Violation>),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal,
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
    /// `schema_violation`: where the body breaks the schema (a JSON Pointer) and how,
    /// at most 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<Violation>>,
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(field.into(), message.into())
    }

    /// `what` does not exist (a 404 naming it).
    pub fn not_found(what: &str) -> Self {
        AppError::Refused(Code::NotFound, format!("{what} not found"))
    }

    pub fn endpoint_not_found() -> Self {
        AppError::Refused(Code::EndpointNotFound, "no endpoint with this slug".into())
    }

    pub fn unauthenticated() -> Self {
        AppError::Refused(Code::Unauthenticated, "authentication required".into())
    }

    pub fn login_failed() -> Self {
        AppError::Refused(Code::LoginFailed, "wrong username or password".into())
    }

    pub fn forbidden(why: impl Into<String>) -> Self {
        AppError::Refused(Code::Forbidden, why.into())
    }

    pub fn csrf_failed() -> Self {
        AppError::Refused(
            Code::CsrfFailed,
            "missing or wrong X-CSRF-Token header".into(),
        )
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        AppError::Refused(Code::MethodNotAllowed, detail.into())
    }

    pub fn invalid_json(where_: impl std::fmt::Display) -> Self {
        AppError::Refused(
            Code::InvalidJson,
            format!("request body is not valid JSON: {where_}"),
        )
    }

    pub fn unsupported_media_type() -> Self {
        AppError::Refused(
            Code::UnsupportedMediaType,
            "content type must be application/json".into(),
        )
    }

    pub fn payload_too_large(limit: u64) -> Self {
        AppError::Refused(
            Code::PayloadTooLarge,
            format!("request body exceeds this endpoint's limit of {limit} bytes"),
        )
    }

    /// A 400, 409 or other refusal with its code and our own words.
    pub fn refused(code: Code, detail: impl Into<String>) -> Self {
        AppError::Refused(code, detail.into())
    }

    pub fn code(&self) -> Code {
        match self {
            AppError::Refused(code, _) => *code,
            AppError::Validation(..) => Code::ValidationFailed,
            AppError::Denied(d) => Code::from(*d),
            AppError::RateLimited { .. } => Code::RateLimited,
            AppError::SchemaViolation(_) => Code::SchemaViolation,
            AppError::Unavailable => Code::ServiceUnavailable,
            AppError::Internal => Code::InternalError,
        }
    }

    /// Whether this is `code`.
    pub fn is(&self, code: Code) -> bool {
        self.code() == code
    }

    pub fn detail(&self) -> String {
        match self {
            AppError::Denied(d) => denial_detail(*d).into(),
            other => other.to_string(),
        }
    }

    pub fn problem(&self) -> Problem {
        let code = self.code();
        Problem {
            type_: format!("urn:portico:problem:{}", code.as_str()),
            title: code.title().into(),
            status: code.status().as_u16(),
            detail: self.detail(),
            code: code.as_str().into(),
            field: match self {
                AppError::Validation(field, _) => Some(field.clone()),
                _ => None,
            },
            errors: match self {
                AppError::SchemaViolation(errors) => Some(errors.clone()),
                _ => None,
            },
        }
    }
}

fn denial_detail(d: Denial) -> &'static str {
    match d {
        Denial::TokenMissing => {
            "send the token as 'Authorization: Bearer <token>' or the access_token query parameter"
        }
        Denial::TokenInvalid => "the token is malformed, unknown or deactivated",
        Denial::TokenExpired => "the token has expired",
        Denial::TokenDisabled => "the token is disabled",
        Denial::TokenNotMapped => "the token is not mapped to this endpoint and method",
        Denial::MappingDisabled => "the token's mapping to this endpoint and method is disabled",
        Denial::EndpointDisabled => "the endpoint is disabled",
        Denial::IpNotAllowed => "the caller's address is not on the allowlist",
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
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
            AppError::Refused(Code::Unauthenticated, _) => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"portico-api\""));
            }
            AppError::RateLimited {
                retry_after_secs, ..
            } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    res.insert_header((header::RETRY_AFTER, v));
                }
            }
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
            Error::NotFound => AppError::not_found("resource"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::refused(Code::Conflict, "a resource with this value already exists")
            }
            // The connection went away under the query, or a transaction could not
            // be rolled back on it: the database is away, not the request wrong.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )
            | Error::BrokenTransactionManager => {
                tracing::error!("database connection lost");
                AppError::Unavailable
            }
            Error::DatabaseError(kind, info) => {
                let msg = info.message();
                let slow = msg.contains("statement timeout");
                if slow || msg.contains("locked") || msg.contains("busy") || msg.contains("disk") {
                    tracing::error!(?kind, message = %msg, "database unavailable");
                    AppError::Unavailable
                } else {
                    tracing::error!(?kind, message = %msg, "database error");
                    AppError::Internal
                }
            }
            Error::DeserializationError(e) => {
                // A stored value that does not parse: never guessed at, reported.
                tracing::error!(error = %e, "a stored value could not be read");
                AppError::Internal
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
        diesel::result::Error::NotFound => AppError::not_found(what),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_with_a_client_or_server_error_status() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            let status = code.status().as_u16();
            assert!((400..600).contains(&status), "{}", code.as_str());
            assert!(!code.title().is_empty());
        }
    }

    #[test]
    fn denials_map_to_their_codes_and_statuses() {
        for d in [
            Denial::TokenMissing,
            Denial::TokenInvalid,
            Denial::TokenExpired,
            Denial::TokenDisabled,
            Denial::TokenNotMapped,
            Denial::MappingDisabled,
            Denial::EndpointDisabled,
            Denial::IpNotAllowed,
        ] {
            let e = AppError::Denied(d);
            assert_eq!(e.code().as_str(), d.code());
            assert_eq!(e.code().status().as_u16(), d.status());
        }
    }
}
