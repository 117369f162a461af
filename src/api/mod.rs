//! `/api/v1`: the management API. Handlers stay thin: parse the request, call one
//! operation (`crate::operations`, `crate::calls`), render its answer as JSON.

pub mod alert_targets;
pub mod audit;
pub mod calls;
pub mod endpoints;
pub mod health;
pub mod impact;
pub mod ingest_doc;
pub mod me;
pub mod openapi;
pub mod schemas;
pub mod session;
pub mod settings;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{AppError, Code};

const MAX_API_BODY: usize = 1 << 20;

pub fn routes(cfg: &mut web::ServiceConfig) {
    openapi::routes(cfg);
    cfg.service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(
                crate::auth::authenticate_first,
            ))
            .configure(session::routes)
            .configure(me::routes)
            .configure(users::routes)
            .configure(endpoints::routes)
            .configure(impact::routes)
            .configure(alert_targets::routes)
            .configure(health::routes)
            .configure(schemas::routes)
            .configure(tokens::routes)
            .configure(calls::routes)
            .configure(audit::routes)
            .configure(settings::routes),
    );
}

/// JSON body extractor whose errors name the offending field (422) or say the
/// body is not JSON (400), as problem+json.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type.starts_with("application/json") {
                return Err(AppError::unsupported_media_type());
            }
            let mut buf = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    AppError::refused(Code::InvalidBody, "the request body could not be read")
                })?;
                if buf.len() + chunk.len() > MAX_API_BODY {
                    return Err(AppError::payload_too_large(MAX_API_BODY as u64));
                }
                buf.extend_from_slice(&chunk);
            }
            parse_json(&buf).map(ApiJson)
        })
    }
}

/// Query-string extractor whose errors name the offending parameter (422).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(
            req.query_string().as_bytes(),
        ));
        let result = serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                let message = e.into_inner().to_string();
                AppError::validation(if field == "." { "query".into() } else { field }, message)
            });
        std::future::ready(result)
    }
}

impl<T> std::ops::Deref for ApiQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Parses a JSON body, naming the field of a type error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(AppError::invalid_json("the body is not valid JSON"));
    };
    // Request bodies are objects; serde alone would also read a struct from an array.
    if value.is_array() {
        return Err(AppError::validation("body", "must be a JSON object"));
    }
    whole_numbers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let message = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
        let field = if path == "." {
            // serde names a missing field only in its message: "missing field `x`".
            message
                .split('`')
                .nth(1)
                .map(str::to_owned)
                .unwrap_or_else(|| "body".into())
        } else {
            path
        };
        AppError::validation(field, message)
    })
}

/// JSON has one number type: `3.0` is the integer 3 (as JSON Schema's `integer`
/// says), so whole numbers written with a fraction read as integers.
fn whole_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    *n = serde_json::Number::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(|err, _| AppError::invalid_json(err).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| AppError::not_found("resource").into())
}
