//! The ingest API (`/e/{slug}`, served by `crate::ingest`) as the OpenAPI document
//! states it, so an application's developers can generate a client from it.
//!
//! Ingest answers every method of a path in one handler (each call is logged,
//! refused or not), which `#[utoipa::path]` cannot describe per operation: the
//! functions here carry the annotations only and are never routed. Their error
//! responses are made from [`OPERATIONS`], every problem code each operation
//! answers with (under the code's own status). `tests/ingest_openapi.rs` provokes
//! each documented answer over HTTP, and `tests/generated_client.rs` drives the
//! routes through a client generated from the document.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::error::Code;

/// A record as stored: `201` of `POST /e/{slug}` (and its replays).
#[derive(ToSchema)]
pub struct RecordCreated {
    /// The record's id (also the last segment of `Location`).
    pub id: i64,
    /// When Portico received it (UTC, microseconds).
    pub received_at: DateTime<Utc>,
}

/// One stored record.
#[derive(ToSchema)]
pub struct Record {
    pub id: i64,
    /// When Portico received it (UTC, microseconds).
    pub received_at: DateTime<Utc>,
    /// The JSON value as it was posted, byte for byte (key order, number text).
    pub data: serde_json::Value,
}

/// A page of records, oldest first.
#[derive(ToSchema)]
pub struct RecordPage {
    pub records: Vec<Record>,
    /// When more records follow, the id of this page's last record: send it as
    /// `after` for the next page. `null` on the last page.
    #[schema(required = true)]
    pub next: Option<i64>,
}

/// `200` of `DELETE /e/{slug}/all`.
#[derive(ToSchema)]
pub struct RecordsDeleted {
    /// How many records were deleted.
    pub deleted: u64,
}

/// `/e/{slug}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct EndpointPath {
    /// The endpoint's slug (no endpoint by that name: `404 endpoint_not_found`).
    #[param(pattern = "^[a-z0-9-]{1,64}$")]
    slug: String,
}

/// `/e/{slug}/{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct RecordPath {
    /// The endpoint's slug (no endpoint by that name: `404 endpoint_not_found`).
    #[param(pattern = "^[a-z0-9-]{1,64}$")]
    slug: String,
    /// The record's id, as `POST` answered it (anything else: `404 not_found`).
    #[param(minimum = 1)]
    id: i64,
}

/// The `Idempotency-Key` of `POST /e/{slug}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyHeader {
    /// Makes a retry safe: 1 to 255 visible ASCII characters, one per record the
    /// client means to store.
    #[param(
        rename = "Idempotency-Key",
        required = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$"
    )]
    key: String,
}

/// Which records `GET /e/{slug}` returns.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RecordsQuery {
    /// Records per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    /// Only records after this id: the `next` of the previous page.
    after: Option<i64>,
    /// Only records received at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only records received before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
}

/// Post a record: any JSON value, stored as sent.
///
/// The body is one JSON value of any kind (object, array, string, number, `true`,
/// `false`, `null`) in UTF-8, sent as `application/json` or `application/*+json`,
/// no larger than the endpoint's body limit (1 MiB unless the admin set another).
/// It is stored byte for byte and served back so. Where the endpoint has a JSON
/// Schema in `enforce` mode, a body that does not conform is refused (`422
/// schema_violation`); in `observe` mode it is stored.
///
/// With an `Idempotency-Key`, the same key with the same body within 24 hours
/// stores nothing new and answers the first response again (same `id`,
/// `received_at` and `Location`, plus `Idempotent-Replayed: true`); the same key
/// with another body is `409 idempotency_key_reused`. Keys are per endpoint and
/// per token (the callers of a public endpoint share one set).
#[utoipa::path(post, path = "/e/{slug}", tag = "ingest", operation_id = "post_record",
    params(EndpointPath, IdempotencyHeader),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "Any JSON value (`application/*+json` is accepted too)."),
    responses((status = 201, description = "Stored (or, with a repeated `Idempotency-Key`, stored before).",
        body = RecordCreated,
        headers(("Location" = String, description = "The record's path, `/e/{slug}/{id}`."),
            ("Idempotent-Replayed" = String, description = "`true` when this answers a repeated `Idempotency-Key`; absent otherwise.")))),
    security(("ingest_bearer" = []), ("ingest_access_token" = []), ()))]
pub fn post_record() {
    // Documentation only: src/ingest serves every method of the path in one handler.
}

/// Read records, oldest first, a page at a time.
///
/// Keyset paging: the first request sends no `after`; while `next` is not `null`,
/// send it as `after` (with the same `limit`, `since` and `until`) for the next
/// page. Records past the endpoint's retention are not served. Other query
/// parameters are ignored.
#[utoipa::path(get, path = "/e/{slug}", tag = "ingest", operation_id = "list_records",
    params(EndpointPath, RecordsQuery),
    responses((status = 200, description = "A page of records.", body = RecordPage)),
    security(("ingest_bearer" = []), ("ingest_access_token" = []), ()))]
pub fn list_records() {
    // Documentation only: src/ingest serves every method of the path in one handler.
}

/// Read one record.
///
/// A record past the endpoint's retention is not served.
#[utoipa::path(get, path = "/e/{slug}/{id}", tag = "ingest", operation_id = "get_record",
    params(RecordPath),
    responses((status = 200, description = "The record.", body = Record)),
    security(("ingest_bearer" = []), ("ingest_access_token" = []), ()))]
pub fn get_record() {
    // Documentation only: src/ingest serves every method of the path in one handler.
}

/// Delete one record.
///
/// Only where the endpoint allows deleting (`405 method_not_allowed` otherwise,
/// answered before the token is looked at), with a token for `DELETE`.
#[utoipa::path(delete, path = "/e/{slug}/{id}", tag = "ingest", operation_id = "delete_record",
    params(RecordPath),
    responses((status = 204, description = "Deleted.")),
    security(("ingest_bearer" = []), ("ingest_access_token" = []), ()))]
pub fn delete_record() {
    // Documentation only: src/ingest serves every method of the path in one handler.
}

/// Delete every record of the endpoint.
///
/// Only where the endpoint allows deleting (`405 method_not_allowed` otherwise,
/// answered before the token is looked at), with a token for `DELETE`.
#[utoipa::path(delete, path = "/e/{slug}/all", tag = "ingest", operation_id = "delete_all_records",
    params(EndpointPath),
    responses((status = 200, description = "Deleted; how many.", body = RecordsDeleted)),
    security(("ingest_bearer" = []), ("ingest_access_token" = []), ()))]
pub fn delete_all_records() {
    // Documentation only: src/ingest serves every method of the path in one handler.
}

/// What every ingest request can be refused with: the endpoint, the access
/// decision, the address's throttle and the token's rate, the database's absence
/// (or a bug).
const ACCESS: &[Code] = &[
    Code::EndpointNotFound,
    Code::TokenMissing,
    Code::TokenInvalid,
    Code::TokenExpired,
    Code::TokenDisabled,
    Code::TokenNotMapped,
    Code::MappingDisabled,
    Code::EndpointDisabled,
    Code::IpNotAllowed,
    Code::RateLimited,
    Code::ServiceUnavailable,
    Code::InternalError,
];

/// Every ingest operation (method, path) with the refusals of its own, beside [`ACCESS`].
pub const OPERATIONS: &[(&str, &str, &[Code])] = &[
    (
        "post",
        "/e/{slug}",
        &[
            Code::InvalidBody,
            Code::InvalidIdempotencyKey,
            Code::InvalidJson,
            Code::IdempotencyKeyReused,
            Code::PayloadTooLarge,
            Code::UnsupportedMediaType,
            Code::SchemaViolation,
        ],
    ),
    ("get", "/e/{slug}", &[Code::InvalidParameter]),
    ("get", "/e/{slug}/{id}", &[Code::NotFound]),
    (
        "delete",
        "/e/{slug}/{id}",
        &[Code::NotFound, Code::MethodNotAllowed],
    ),
    ("delete", "/e/{slug}/all", &[Code::MethodNotAllowed]),
];

/// Every problem code the operation `method` `path` answers with.
pub fn refusals(method: &str, path: &str) -> Vec<Code> {
    OPERATIONS
        .iter()
        .filter(|(m, p, _)| *m == method && *p == path)
        .flat_map(|(_, _, own)| ACCESS.iter().chain(own.iter()).copied())
        .collect()
}

/// What a refusal means on the ingest API.
fn meaning(code: Code) -> &'static str {
    match code {
        Code::EndpointNotFound => "no endpoint has this slug",
        Code::NotFound => "this endpoint has no record with this id (or it is past the endpoint's retention)",
        Code::InvalidParameter => "`limit`, `after`, `since` or `until` is not as described, or the query string is malformed",
        Code::InvalidBody => "the request body could not be read to its end",
        Code::InvalidIdempotencyKey => "`Idempotency-Key` is not 1 to 255 visible ASCII characters",
        Code::InvalidJson => "the body is not UTF-8 text holding exactly one JSON value; `detail` says where it broke",
        Code::TokenMissing => "no token: neither a Bearer `Authorization` header nor `access_token` (an `Authorization` header of another scheme presents none, and `access_token` is then not read)",
        Code::TokenInvalid => "the token is malformed (not 64 characters `[A-Za-z0-9]` with a valid checksum), unknown, deactivated, or a replaced value whose grace period is over",
        Code::TokenExpired => "the token's expiry has passed",
        Code::TokenDisabled => "the token is switched off",
        Code::TokenNotMapped => "the token is not mapped onto this endpoint and method (a primary token: it is another endpoint's or another method's)",
        Code::MappingDisabled => "the token's mapping onto this endpoint and method is switched off",
        Code::EndpointDisabled => "the endpoint is switched off",
        Code::IpNotAllowed => "the caller's address is outside the token's or the endpoint's allowlist",
        Code::MethodNotAllowed => "the endpoint does not allow deleting",
        Code::IdempotencyKeyReused => "this `Idempotency-Key` came with another body within the last 24 hours",
        Code::PayloadTooLarge => "the body is larger than the endpoint's limit, which `detail` states",
        Code::UnsupportedMediaType => "`Content-Type` is not `application/json` or `application/*+json`",
        Code::SchemaViolation => "the endpoint's JSON Schema, enforced, refuses the body (nothing is stored); `errors` says where and why, at most 10",
        Code::RateLimited => "the token's requests per minute are used up, or this address sent too many invalid tokens",
        Code::ServiceUnavailable => "the database is unavailable (a `POST` with an `Idempotency-Key` is safe to repeat)",
        Code::InternalError => "an unexpected failure, logged by Portico",
        _ => "",
    }
}

/// The headers a refusal with `status` carries.
fn headers_of(status: u16) -> Value {
    let retry_after = json!({"Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0}
    }});
    match status {
        401 => json!({"WWW-Authenticate": {
            "description": "`Bearer realm=\"portico\"`, with `error=\"invalid_token\"` when a token was presented.",
            "schema": {"type": "string"}
        }}),
        429 | 503 => retry_after,
        _ => json!({}),
    }
}

/// Adds each ingest operation's error responses (a status per code's status, the
/// codes listed in the description and in `x-problem-codes`) to the document.
pub fn describe_refusals(doc: &mut Value) {
    for (method, path, _) in OPERATIONS {
        let Some(responses) = doc
            .pointer_mut(&format!("/paths/{}/{method}/responses", escape(path)))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let mut by_status: BTreeMap<u16, Vec<Code>> = BTreeMap::new();
        for code in refusals(method, path) {
            by_status
                .entry(code.status().as_u16())
                .or_default()
                .push(code);
        }
        for (status, codes) in by_status {
            let reason = codes[0].status().canonical_reason().unwrap_or_default();
            let mut description = format!("{reason} (problem+json), `code`:");
            for code in &codes {
                description.push_str(&format!("\n- `{}`: {}", code.as_str(), meaning(*code)));
            }
            let mut response = json!({
                "description": description,
                "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}
                }},
                "x-problem-codes": codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            });
            let headers = headers_of(status);
            if headers.as_object().is_some_and(|h| !h.is_empty()) {
                response["headers"] = headers;
            }
            responses.insert(status.to_string(), response);
        }
    }
}

/// A path as one JSON Pointer segment.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ingest_refusal_has_a_meaning_and_an_error_status() {
        for (method, path, _) in OPERATIONS {
            let codes = refusals(method, path);
            let unique: std::collections::HashSet<_> = codes.iter().collect();
            assert_eq!(
                unique.len(),
                codes.len(),
                "{method} {path} lists a code twice"
            );
            for code in codes {
                assert!(!meaning(code).is_empty(), "{}", code.as_str());
                assert!(code.status().as_u16() >= 400);
            }
        }
    }
}
