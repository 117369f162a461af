//! `/api/v1/me`: the caller, and their personal API keys.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check_text, ApiJson};
use crate::api::session::UserSummary;
use crate::auth::Caller;
use crate::domain::token::TokenValue;
use crate::error::{AppError, AppResult, Problem};
use crate::store;
use crate::store::audit::Entry;
use crate::store::users::ApiKeyRow;
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/me").route(web::get().to(me)));
    cfg.service(
        web::resource("/me/api-keys")
            .route(web::get().to(list_keys))
            .route(web::post().to(create_key)),
    );
    cfg.service(web::resource("/me/api-keys/{id}").route(web::delete().to(delete_key)));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: i64,
    pub name: String,
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyOut {
    fn from(k: ApiKeyRow) -> Self {
        Self {
            id: k.id,
            name: k.name,
            hint: k.hint,
            created_at: k.created_at.and_utc(),
            expires_at: k.expires_at.map(|t| t.and_utc()),
            last_used_at: k.last_used_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyWithValue {
    #[serde(flatten)]
    pub details: ApiKeyOut,
    /// Send as `Authorization: Bearer <key>`: shown once, never again.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who is calling.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = UserSummary), (status = 401, body = Problem)))]
pub async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(UserSummary {
        username: caller.username,
        role: caller.role,
    })
}

/// The caller's API keys (never their values).
#[utoipa::path(get, path = "/api/v1/me/api-keys", tag = "me", responses((status = 200, body = [ApiKeyOut]), (status = 401, body = Problem)))]
pub async fn list_keys(caller: Caller, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let rows = state
        .db(move |conn| Ok(store::users::api_keys_of(conn, caller.user_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(ApiKeyOut::from).collect::<Vec<_>>()))
}

/// Create a personal API key with the caller's role; the value is shown once.
#[utoipa::path(post, path = "/api/v1/me/api-keys", tag = "me", request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyWithValue), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create_key(
    caller: Caller,
    state: web::Data<AppState>,
    body: ApiJson<CreateApiKey>,
) -> AppResult<HttpResponse> {
    let req = body.0;
    check_text("name", &req.name, 1, 200)?;
    let now = state.clock.now();
    let expires_at = req
        .expires_at
        .map(|t| crate::clock::truncate(t.naive_utc()));
    if expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::validation("expires_at", "must be in the future"));
    }
    let value = TokenValue::generate();
    let (hash, hint) = (value.hash(), value.hint());
    let row = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let row = store::users::insert_api_key(
                    conn,
                    caller.user_id,
                    &req.name,
                    &hash,
                    &hint,
                    expires_at,
                    now,
                )?;
                store::audit::record(
                    conn,
                    Entry {
                        actor: &caller.username,
                        action: "api_key.create",
                        target_type: "api_key",
                        target_id: Some(row.id),
                        detail: serde_json::json!({"name": row.name, "hint": row.hint}),
                    },
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(ApiKeyWithValue {
        details: row.into(),
        key: value.expose().to_owned(),
    }))
}

/// Revoke one of the caller's API keys.
#[utoipa::path(delete, path = "/api/v1/me/api-keys/{id}", tag = "me", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_key(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                if store::users::delete_api_key(conn, caller.user_id, id)? == 0 {
                    return Err(AppError::NotFound("api key"));
                }
                store::audit::record(
                    conn,
                    Entry {
                        actor: &caller.username,
                        action: "api_key.delete",
                        target_type: "api_key",
                        target_id: Some(id),
                        detail: serde_json::json!({}),
                    },
                    now,
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
