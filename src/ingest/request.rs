//! The request as the ingest path needs it, read once before the body: what it
//! targets, who sent it from where, the token it presents, its query and headers.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method as HttpMethod;
use actix_web::HttpRequest;
use chrono::NaiveDateTime;

use crate::domain::endpoint::Method;
use crate::domain::record::{IdempotencyKey, ListLimit};
use crate::error::{AppError, AppResult, Code};
use crate::request::client_address;
use crate::telemetry::redacted_target;

/// What under `/e/{slug}` a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `/e/{slug}`
    Collection,
    /// `/e/{slug}/all`
    All,
    /// `/e/{slug}/{id}`; `None` when the id is not a positive integer.
    Item(Option<i64>),
}

impl Target {
    pub fn of_segment(id: &str) -> Self {
        if id == "all" {
            Target::All
        } else {
            Target::Item(id.parse::<i64>().ok().filter(|n| *n > 0))
        }
    }
}

/// A page of records as asked: `limit`, `after`, `since`, `until`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: ListLimit,
    pub after: Option<i64>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// The request, read once.
pub struct Incoming {
    pub method: HttpMethod,
    pub slug: String,
    pub target: Target,
    /// Path and query as safe to log (any `access_token` redacted).
    pub path: String,
    pub remote: Option<IpAddr>,
    pub remote_text: String,
    pub user_agent: Option<String>,
    /// The token as presented (bearer header, else `access_token`), unparsed.
    pub presented: Option<String>,
    /// The query string's pairs; `None` when it is malformed.
    pairs: Option<Vec<(String, String)>>,
    pub content_length: Option<u64>,
    pub json_content: bool,
    idempotency_key: Option<HeaderValue>,
    pub started: Instant,
    pub now: NaiveDateTime,
}

impl Incoming {
    pub fn read(
        req: &HttpRequest,
        slug: String,
        target: Target,
        trust_proxy: bool,
        now: NaiveDateTime,
    ) -> Self {
        let remote = client_address(req, trust_proxy);
        let headers = req.headers();
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).ok();
        let presented = match headers.get(header::AUTHORIZATION) {
            Some(value) => bearer(value),
            None => pairs
                .as_ref()
                .and_then(|p| p.iter().find(|(k, _)| k == "access_token"))
                .map(|(_, v)| v.clone()),
        };
        Self {
            method: req.method().clone(),
            slug: slug.chars().take(200).collect(),
            target,
            path: redacted_target(req.path(), req.query_string()),
            remote,
            remote_text: remote
                .map(|ip| ip.to_canonical().to_string())
                .unwrap_or_default(),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
            presented,
            pairs,
            content_length: headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok()),
            json_content: is_json(headers.get(header::CONTENT_TYPE)),
            idempotency_key: headers.get("idempotency-key").cloned(),
            started: Instant::now(),
            now,
        }
    }

    /// The method this request exercises on the endpoint, or 405.
    pub fn endpoint_method(&self) -> AppResult<Method> {
        match (&self.method, self.target) {
            (&HttpMethod::POST, Target::Collection) => Ok(Method::Post),
            (&HttpMethod::GET, _) => Ok(Method::Get),
            (&HttpMethod::DELETE, Target::All | Target::Item(_)) => Ok(Method::Delete),
            _ => Err(AppError::method_not_allowed(format!(
                "{} is not served here; use POST or GET on /e/{{slug}}, GET or DELETE on /e/{{slug}}/{{id}}",
                self.method
            ))),
        }
    }

    /// The `Idempotency-Key` header, if sent.
    pub fn idempotency_key(&self) -> AppResult<Option<IdempotencyKey>> {
        self.idempotency_key
            .as_ref()
            .map(|v| {
                IdempotencyKey::parse(v.as_bytes())
                    .map_err(|e| AppError::refused(Code::InvalidIdempotencyKey, e))
            })
            .transpose()
    }

    /// The list parameters of `GET /e/{slug}`.
    pub fn list_query(&self) -> AppResult<ListQuery> {
        match &self.pairs {
            Some(pairs) => list_params(pairs),
            None => Err(malformed_query()),
        }
    }
}

fn malformed_query() -> AppError {
    AppError::refused(Code::InvalidParameter, "the query string is malformed")
}

/// The token of a `Bearer` authorization; another scheme presents none.
fn bearer(value: &HeaderValue) -> Option<String> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Whether a `Content-Type` is JSON (`application/json` or `application/*+json`).
pub fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The list parameters of a query string (for tests and the fuzz target).
pub fn list_query(query: &str) -> AppResult<ListQuery> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| malformed_query())?;
    list_params(&pairs)
}

fn list_params(pairs: &[(String, String)]) -> AppResult<ListQuery> {
    let bad = |msg: String| AppError::refused(Code::InvalidParameter, msg);
    let mut q = ListQuery::default();
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => q.limit = ListLimit::parse(v).map_err(bad)?,
            "after" => {
                q.after = Some(v.parse::<i64>().map_err(|_| {
                    bad("after must be a record id (the `next` of a previous page)".into())
                })?)
            }
            "since" => {
                q.since =
                    Some(crate::clock::parse_rfc3339(v).map_err(|e| bad(format!("since {e}")))?)
            }
            "until" => {
                q.until =
                    Some(crate::clock::parse_rfc3339(v).map_err(|e| bad(format!("until {e}")))?)
            }
            _ => {}
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_list_parameters() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json; charset=utf-8"))));
        assert!(is_json(Some(&v("application/cloudevents+json"))));
        assert!(!is_json(Some(&v("text/plain"))));
        assert!(!is_json(None));
        let q = list_query("limit=5&after=9&access_token=x").unwrap();
        assert_eq!((q.limit.get(), q.after), (5, Some(9)));
        assert!(list_query("limit=0").is_err());
        assert!(list_query("after=x").is_err());
        assert!(list_query("since=yesterday").is_err());
    }
}
