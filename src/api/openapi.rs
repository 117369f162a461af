//! The OpenAPI document (generated from the handlers' annotations), served at
//! `/api/openapi.json` and rendered for people at `/api/docs`.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    alert_targets, audit, calls, endpoints, health, impact, ingest_doc, me, schemas, session,
    settings, tokens, users,
};
use crate::domain::audit::{Action, Target};
use crate::domain::endpoint::BodyLimit;
use crate::domain::token::Grace;
use crate::error::{Code, Problem};

mod alerts;
mod health_query;

#[derive(OpenApi)]
#[openapi(
    info(title = "Portico API", description = "The management API (`/api/v1`): endpoints, primary and secondary tokens, mappings, the call log and its statistics. \
Authenticate with a session (`POST /api/v1/login`, cookie + `X-CSRF-Token` on mutating calls) or a personal API key (`Authorization: Bearer`).\n\n\
The ingest API (`/e/{slug}`, tag `ingest`): external applications post records to an endpoint and read them back, each with a token of its own \
(a secondary token mapped onto the endpoint and method, or the endpoint's primary token for the method), \
sent as `Authorization: Bearer <token>` or, for clients that cannot set headers, the `access_token` query parameter. \
A public endpoint needs no token. Errors are `application/problem+json` (RFC 9457) with a stable `code`."),
    paths(
        session::login, session::logout,
        me::me, me::list_keys, me::create_key, me::delete_key,
        users::list, users::create, users::get, users::update, users::delete,
        endpoints::list, endpoints::create, endpoints::get, endpoints::update, endpoints::delete,
        endpoints::regenerate, endpoints::tokens_of_endpoint,
        tokens::list, tokens::create, tokens::bulk, tokens::get, tokens::update, tokens::delete,
        tokens::regenerate, tokens::deactivate, tokens::activate, tokens::renew,
        tokens::list_mappings, tokens::put_mapping, tokens::delete_mapping,
        calls::list, calls::export, calls::get, calls::stats,
        audit::list,
        schemas::get, schemas::put, schemas::delete, schemas::versions, schemas::draft, schemas::preview,
        impact::impact,
        alert_targets::list, alert_targets::create, alert_targets::get, alert_targets::update,
        alert_targets::delete, alert_targets::rotate, alert_targets::test, alert_targets::list_deliveries,
        health::list,
        settings::get_token_policy, settings::put_token_policy,
        ingest_doc::post_record, ingest_doc::list_records, ingest_doc::get_record,
        ingest_doc::delete_record, ingest_doc::delete_all_records,
    ),
    components(schemas(Problem)),
    modifiers(&Security),
    security(("session" = []), ("api_key" = [])),
    tags(
        (name = "session", description = "Log in and out"),
        (name = "me", description = "The caller and their API keys"),
        (name = "users", description = "Users and roles (admin)"),
        (name = "endpoints", description = "Integration endpoints and their primary tokens (admin)"),
        (name = "tokens", description = "Secondary tokens, one per external application (admin)"),
        (name = "mappings", description = "Which token may call which endpoint and method (admin)"),
        (name = "schemas", description = "Data contracts: an endpoint's JSON Schema, enforced or observed (admin)"),
        (name = "calls", description = "The endpoint data viewer: calls, export and statistics (analyst, admin)"),
        (name = "audit", description = "Who changed what, when (admin)"),
        (name = "alerts", description = "Alert targets: integration events sent as signed webhooks (Standard Webhooks), their deliveries and attempts (admin)"),
        (name = "health", description = "Integration health: silent mappings, refusals, expiring tokens (analyst, admin)"),
        (name = "settings", description = "Instance-wide settings: the token lifetime policy (admin)"),
        (name = "ingest", description = "For external applications: post records to an endpoint and read them back, with a token of their own"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Session from POST /api/v1/login; mutating calls also send X-CSRF-Token",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("Personal API key"))
                    .build(),
            ),
        );
        // The ingest API's two ways to present a token (either one; the header wins).
        components.add_security_scheme(
            "ingest_bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Ingest token (64 characters): `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "ingest_access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "Ingest token as a query parameter, for clients that cannot set headers \
                 (redacted wherever Portico logs or shows a URL); not read when an \
                 `Authorization` header is sent",
            ))),
        );
    }
}

/// The document as committed at `openapi/openapi.json`.
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    // Login needs no authentication.
    for path in ["/api/v1/login"] {
        if let Some(item) = doc.paths.paths.get_mut(path) {
            if let Some(op) = item.post.as_mut() {
                op.security = Some(vec![
                    utoipa::openapi::security::SecurityRequirement::default(),
                ]);
            }
        }
    }
    // Handler names repeat across modules (`list`, `get`); prefix the tag so
    // every operationId is unique, as OpenAPI requires.
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let tag = op
                .tags
                .as_ref()
                .and_then(|t| t.first())
                .cloned()
                .unwrap_or_default();
            if let Some(id) = op.operation_id.as_mut() {
                if !id.starts_with(&tag) {
                    *id = format!("{tag}_{id}");
                }
            }
            problems_as_problem_json(&mut op.responses);
        }
    }
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    precise(&mut doc);
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// Free text: no control characters but tab and newline (`char::is_control`).
const TEXT: &str = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$";
/// An IPv4 or IPv6 address, or a network in CIDR form.
const IP_OR_NETWORK: &str = concat!(
    "^(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    "(/(3[0-2]|[12]?[0-9]))?",
    "|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:",
    "|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}",
    "|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}",
    "|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}",
    "|:((:[0-9a-fA-F]{1,4}){1,7}|:))(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$"
);

/// The rules the handlers enforce, stated in the document so that a client (or a
/// fuzzer) knows what is valid before it asks: lengths, ranges, patterns, choices.
fn precise(doc: &mut serde_json::Value) {
    precise_properties(doc);
    precise_codes(doc);
    precise_parameters(doc);
    ingest_doc::describe_refusals(doc);
}

/// Lengths, ranges and patterns of request bodies' properties.
fn precise_properties(doc: &mut serde_json::Value) {
    use serde_json::json;
    let text = |min: u32, max: u32| json!({"minLength": min, "maxLength": max, "pattern": TEXT});
    let range = |min: i64, max: i64| json!({"minimum": min, "maximum": max});
    let allowlist = json!({"items": {"pattern": IP_OR_NETWORK}, "maxItems": 256});
    let properties = [
        (
            "CreateEndpoint",
            "slug",
            json!({"pattern": "^[a-z0-9-]{1,64}$"}),
        ),
        (
            "UpdateEndpoint",
            "slug",
            json!({"pattern": "^[a-z0-9-]{1,64}$"}),
        ),
        (
            "CreateUser",
            "username",
            json!({"pattern": "^[A-Za-z0-9._-]{1,64}$"}),
        ),
        (
            "CreateUser",
            "password",
            json!({"minLength": 12, "maxLength": 1024}),
        ),
        (
            "UpdateUser",
            "password",
            json!({"minLength": 12, "maxLength": 1024}),
        ),
        (
            "BulkRequest",
            "ids",
            json!({"minItems": 1, "maxItems": 1000}),
        ),
        ("RegenerateToken", "grace_seconds", range(0, Grace::MAX)),
        ("RenewToken", "days", range(1, 3650)),
        ("PutTokenPolicy", "default_expiry_days", range(1, 3650)),
        ("PutTokenPolicy", "max_lifetime_days", range(1, 3650)),
        ("CreateApiKey", "name", text(1, 200)),
        ("CreateToken", "rate_limit_per_minute", range(1, 1_000_000)),
        ("UpdateToken", "rate_limit_per_minute", range(1, 1_000_000)),
        ("CreateEndpoint", "max_body_bytes", range(1, BodyLimit::MAX)),
        ("UpdateEndpoint", "max_body_bytes", range(1, BodyLimit::MAX)),
        ("CreateEndpoint", "retention_days", range(1, 36500)),
        ("UpdateEndpoint", "retention_days", range(1, 36500)),
        // A JSON Schema is an object or a boolean; the mode one of two.
        ("SchemaIn", "schema", json!({"type": ["object", "boolean"]})),
        (
            "PreviewIn",
            "schema",
            json!({"type": ["object", "boolean"]}),
        ),
        ("SchemaIn", "mode", json!({"enum": ["enforce", "observe"]})),
        (
            "SchemaOut",
            "schema",
            json!({"type": ["object", "boolean"]}),
        ),
        ("DraftOut", "schema", json!({"type": ["object", "boolean"]})),
    ]
    .into_iter()
    .chain(
        [
            "CreateEndpoint",
            "UpdateEndpoint",
            "CreateToken",
            "UpdateToken",
        ]
        .into_iter()
        .flat_map(|s| {
            [
                (s, "name", text(1, 200)),
                (s, "description", text(0, 2000)),
                (s, "ip_allowlist", allowlist.clone()),
            ]
        }),
    );
    let properties = properties.chain(alerts::target_properties());
    for (schema, property, rules) in properties {
        if let Some(target) = doc
            .pointer_mut(&format!(
                "/components/schemas/{schema}/properties/{property}"
            ))
            .and_then(|v| v.as_object_mut())
        {
            merge(target, &rules);
        }
    }
}

/// Every problem code a response may carry, from the one list of them.
fn precise_codes(doc: &mut serde_json::Value) {
    if let Some(code) = doc
        .pointer_mut("/components/schemas/Problem/properties/code")
        .and_then(|v| v.as_object_mut())
    {
        let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        code.insert("enum".into(), serde_json::json!(codes));
    }
}

/// Ranges and choices of query parameters.
fn precise_parameters(doc: &mut serde_json::Value) {
    use serde_json::json;
    let range = |min: i64, max: i64| json!({"minimum": min, "maximum": max});
    let choices = |v: &[&str]| json!({"enum": v});
    let parameters = [
        ("limit", range(1, 1000)),
        ("token", json!({"maxItems": 100})),
        (
            "token_kind",
            choices(&["primary", "secondary", "none", "unknown"]),
        ),
        (
            "method",
            choices(&["POST", "GET", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]),
        ),
        ("status", json!({"pattern": "^([1-5][0-9][0-9]|[1-5]xx)$"})),
        ("since", json!({"format": "date-time"})),
        ("until", json!({"format": "date-time"})),
        ("q", json!({"maxLength": 200})),
        ("format", choices(&["csv", "ndjson"])),
        ("by", choices(&["token", "endpoint"])),
        ("bucket", choices(&["minute", "hour", "day"])),
        ("state", choices(&["active", "inactive", "all"])),
        ("expiry", choices(&["soon", "expired", "beyond_max"])),
        ("actor", json!({"minLength": 1, "maxLength": 64})),
        ("from", json!({"format": "date-time"})),
        ("to", json!({"format": "date-time"})),
        ("days", range(1, 90)),
    ];
    let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    let targets: Vec<&str> = Target::ALL.iter().map(|t| t.as_str()).collect();
    let parameters: Vec<(&str, serde_json::Value)> = parameters
        .into_iter()
        .chain([
            ("action", choices(&actions)),
            ("target_type", choices(&targets)),
        ])
        .collect();
    // The impact of a mapping: one of the methods a mapping has.
    let mapping_method = choices(&["POST", "GET", "DELETE"]);
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    // An export's `limit` counts calls, not a page: any positive int64. A schema
    // draft's counts the records it learns from.
    let export_limit = range(1, i64::MAX);
    let draft_limit = range(1, 10_000);
    // An alert target's deliveries page by at most 100.
    let deliveries_limit = range(1, 100);
    for (path, item) in paths.iter_mut() {
        let export = path == "/api/v1/calls/export";
        let draft = path == "/api/v1/endpoints/{id}/schema/draft";
        let impact = path == "/api/v1/impact";
        let deliveries = path == "/api/v1/alert-targets/{id}/deliveries";
        // The health page has choices of its own (`state` among them).
        let health = path == "/api/v1/health";
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) else {
                continue;
            };
            for param in params.iter_mut().filter(|p| p["in"] == "query") {
                let name = param["name"].as_str().unwrap_or_default().to_owned();
                let health_rules = health.then(|| health_query::parameter(&name)).flatten();
                let rules = match name.as_str() {
                    _ if health_rules.is_some() => health_rules.as_ref(),
                    "limit" if export => Some(&export_limit),
                    "limit" if draft => Some(&draft_limit),
                    "limit" if deliveries => Some(&deliveries_limit),
                    "method" if impact => Some(&mapping_method),
                    _ => parameters.iter().find(|(n, _)| *n == name).map(|(_, r)| r),
                };
                if let Some(rules) = rules {
                    if let Some(schema) = param.get_mut("schema").and_then(|s| s.as_object_mut()) {
                        merge(schema, rules);
                    }
                }
            }
        }
    }
}

fn merge(target: &mut serde_json::Map<String, serde_json::Value>, rules: &serde_json::Value) {
    for (k, v) in rules.as_object().into_iter().flatten() {
        match (target.get_mut(k), v) {
            (Some(serde_json::Value::Object(inner)), serde_json::Value::Object(_)) => {
                merge(inner, v)
            }
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The methods the management API serves on a route pattern (`/api/v1/tokens/{id}`),
/// as an `Allow` header value, from the OpenAPI document.
pub fn methods_of(pattern: &str) -> Option<String> {
    static METHODS: std::sync::OnceLock<std::collections::HashMap<String, String>> =
        std::sync::OnceLock::new();
    METHODS
        .get_or_init(|| {
            let doc: serde_json::Value = serde_json::from_str(&document()).unwrap_or_default();
            let mut out = std::collections::HashMap::new();
            if let Some(paths) = doc["paths"].as_object() {
                for (path, item) in paths {
                    let methods: Vec<String> = ["get", "post", "put", "patch", "delete"]
                        .iter()
                        .filter(|m| item.get(**m).is_some())
                        .map(|m| m.to_uppercase())
                        .collect();
                    out.insert(path.clone(), methods.join(", "));
                }
            }
            out
        })
        .get(pattern)
        .cloned()
}

/// Errors are sent as `application/problem+json` (RFC 9457): say so wherever a
/// response's body is the `Problem` schema.
fn problems_as_problem_json(responses: &mut utoipa::openapi::Responses) {
    use utoipa::openapi::RefOr;
    for response in responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_problem = |c: &utoipa::openapi::Content| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
        if response
            .content
            .get("application/json")
            .is_some_and(is_problem)
        {
            if let Some(content) = response.content.shift_remove("application/json") {
                response
                    .content
                    .insert("application/problem+json".into(), content);
            }
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/openapi.json", web::get().to(openapi_json))
        .route("/api/docs", web::get().to(docs_root))
        .route("/api/docs/{tail:.*}", web::get().to(docs));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

/// The explorer's assets are relative to its directory.
async fn docs_root() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/api/docs/"))
        .finish()
}

/// Swagger UI over the served document, its assets inside the binary: an admin
/// authorizes with an API key and tries calls. Authorization is not kept in the
/// browser's storage.
async fn docs(tail: web::Path<String>) -> Result<HttpResponse, crate::error::AppError> {
    static CONFIG: std::sync::LazyLock<std::sync::Arc<utoipa_swagger_ui::Config<'static>>> =
        std::sync::LazyLock::new(|| {
            std::sync::Arc::new(
                utoipa_swagger_ui::Config::from("/api/openapi.json")
                    .try_it_out_enabled(true)
                    .display_request_duration(true)
                    .filter(true)
                    .persist_authorization(false),
            )
        });
    match utoipa_swagger_ui::serve(tail.as_str(), CONFIG.clone()) {
        Ok(Some(file)) => Ok(HttpResponse::Ok()
            .content_type(file.content_type)
            .insert_header(("Content-Security-Policy", DOCS_CSP))
            .insert_header(("Cache-Control", "no-cache"))
            .body(file.bytes.into_owned())),
        Ok(None) => Err(crate::error::AppError::not_found("file")),
        Err(e) => {
            tracing::error!(error = %e, "serving the API explorer failed");
            Err(crate::error::AppError::Internal)
        }
    }
}

/// Own scripts and styles (Swagger UI sets element styles and shows data: icons),
/// requests to this origin only, never framed.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";
