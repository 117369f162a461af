//! The OpenAPI document (generated from the handlers' annotations), served at
//! `/api/openapi.json` and rendered for people at `/api/docs`.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{audit, calls, endpoints, me, session, tokens, users};
use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(title = "Portico management API", description = "Endpoints, primary and secondary tokens, mappings, the call log and its statistics. \
Authenticate with a session (`POST /api/v1/login`, cookie + `X-CSRF-Token` on mutating calls) or a personal API key (`Authorization: Bearer`)."),
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
        (name = "calls", description = "The endpoint data viewer: calls, export and statistics (analyst, admin)"),
        (name = "audit", description = "Who changed what, when (admin)"),
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
        }
    }
    let mut text = doc.to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/openapi.json", web::get().to(openapi_json))
        .route("/api/docs", web::get().to(docs));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

/// A plain, dependency-free rendering of the document (no CDN, no script).
async fn docs() -> HttpResponse {
    let doc = ApiDoc::openapi();
    let mut ops = Vec::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in methods {
            if let Some(op) = op {
                let responses: Vec<String> = op.responses.responses.keys().cloned().collect();
                ops.push(serde_json::json!({
                    "method": method,
                    "path": path,
                    "tag": op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_default(),
                    "summary": op.summary.clone().unwrap_or_default(),
                    "description": op.description.clone().unwrap_or_default(),
                    "responses": responses.join(" "),
                }));
            }
        }
    }
    let mut ctx = tera::Context::new();
    ctx.insert("title", &doc.info.title);
    ctx.insert(
        "description",
        &doc.info.description.clone().unwrap_or_default(),
    );
    ctx.insert("ops", &ops);
    match tera::Tera::one_off(include_str!("../../templates/api_docs.html"), &ctx, true) {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "rendering the API docs failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
