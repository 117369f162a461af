//! Structured logs with a request id on every line. URLs are logged without any
//! `access_token` value.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// Sets up the global subscriber: JSON or human-readable lines on stderr.
pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The query string with the value of every `access_token` replaced.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k == "access_token" => format!("{k}=[redacted]"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Path and query as safe to log or show.
pub fn redacted_target(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", redact_query(query))
    }
}

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let n: u128 = rand::random();
            format!("{n:032x}")
        })
}

/// Logs one line per request and echoes the request id in `X-Request-Id`.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&req);
    let target = redacted_target(req.path(), req.query_string());
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id);
    let started = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(%method, target = %target, status, duration_ms = started.elapsed().as_secs_f64() * 1e3, "handled");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_values_are_redacted() {
        assert_eq!(
            redact_query("limit=5&access_token=abc&x=1"),
            "limit=5&access_token=[redacted]&x=1"
        );
        assert_eq!(redacted_target("/e/a", ""), "/e/a");
        assert_eq!(
            redacted_target("/e/a", "access_token=s"),
            "/e/a?access_token=[redacted]"
        );
    }
}
