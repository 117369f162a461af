//! `/api/v1/tokens`: secondary ("endpoint") tokens, their lifecycle and mappings.

use std::str::FromStr;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{check_allowlist, check_text, double_option, ApiJson};
use crate::auth::{Admin, Caller};
use crate::domain::endpoint::{primary_methods, AuthType, IpAllowlist, Method};
use crate::domain::token::TokenValue;
use crate::error::{missing, AppError, AppResult, Problem};
use crate::store::audit::Entry;
use crate::store::mappings::MappingRow;
use crate::store::tokens::{NewToken, StateFilter, TokenChanges, TokenRow};
use crate::store::{self};
use crate::AppState;

pub const MAX_GRACE_SECONDS: i64 = 30 * 24 * 3600;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(
        web::resource("/tokens")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(web::resource("/tokens/bulk").route(web::post().to(bulk)));
    cfg.service(
        web::resource("/tokens/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
    cfg.service(web::resource("/tokens/{id}/regenerate").route(web::post().to(regenerate)));
    cfg.service(web::resource("/tokens/{id}/deactivate").route(web::post().to(deactivate)));
    cfg.service(web::resource("/tokens/{id}/activate").route(web::post().to(activate)));
    cfg.service(web::resource("/tokens/{id}/renew").route(web::post().to(renew)));
    cfg.service(web::resource("/tokens/{id}/mappings").route(web::get().to(list_mappings)));
    cfg.service(
        web::resource("/tokens/{id}/mappings/{endpoint_id}/{method}")
            .route(web::put().to(put_mapping))
            .route(web::delete().to(delete_mapping)),
    );
}

/// A secondary token as shown after creation: never its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// First and last four characters of the value.
    pub hint: String,
    pub enabled: bool,
    /// `false` once deactivated (retired; unusable, hidden by default).
    pub active: bool,
    /// `active`, `inactive`, `disabled`, `expired` or `rotating` (old value in its grace period).
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// Until when the value replaced by the last rotation still works.
    pub rotating_until: Option<DateTime<Utc>>,
    pub rate_limit_per_minute: Option<i32>,
    pub ip_allowlist: Option<Vec<String>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenOut {
    pub fn at(t: TokenRow, now: NaiveDateTime) -> Self {
        let rotating_until = t.previous_valid_until.filter(|u| *u > now);
        let status = if !t.active {
            "inactive"
        } else if t.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else if !t.enabled {
            "disabled"
        } else if rotating_until.is_some() {
            "rotating"
        } else {
            "active"
        };
        Self {
            id: t.id,
            name: t.name,
            description: t.description,
            hint: t.hint,
            enabled: t.enabled,
            active: t.active,
            status: status.into(),
            expires_at: t.expires_at.map(|x| x.and_utc()),
            rotating_until: rotating_until.map(|x| x.and_utc()),
            rate_limit_per_minute: t.rate_limit_per_minute,
            ip_allowlist: t
                .ip_allowlist
                .as_deref()
                .map(|s| IpAllowlist::from_stored(s).entries()),
            created_by: t.created_by,
            created_at: t.created_at.and_utc(),
            updated_at: t.updated_at.and_utc(),
            last_used_at: t.last_used_at.map(|x| x.and_utc()),
        }
    }
}

impl From<TokenRow> for TokenOut {
    fn from(t: TokenRow) -> Self {
        let now = crate::clock::truncate(Utc::now().naive_utc());
        Self::at(t, now)
    }
}

/// A token with its value, in the one response that shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenWithValue {
    #[serde(flatten)]
    pub details: TokenOut,
    /// The 64-character value: shown once, never again.
    #[serde(rename = "token")]
    pub token_value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Recommended: the name of the application that will use it.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "super::default_true")]
    pub enabled: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// 1 to 1,000,000 requests per minute; absent means unlimited.
    pub rate_limit_per_minute: Option<i32>,
    pub ip_allowlist: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateToken {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// `null` removes the expiry.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub rate_limit_per_minute: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub ip_allowlist: Option<Option<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateToken {
    /// Seconds the old value keeps working (default 0: it stops at once).
    #[serde(default)]
    pub grace_seconds: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    Enable,
    Disable,
    Deactivate,
    Activate,
    Delete,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub action: BulkAction,
    /// 1 to 1000 token ids; all must exist or nothing changes.
    pub ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub affected: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMapping {
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingOut {
    pub token_id: i64,
    pub endpoint_id: i64,
    pub method: Method,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<MappingRow> for MappingOut {
    fn from(m: MappingRow) -> Self {
        Self {
            token_id: m.token_id,
            endpoint_id: m.endpoint_id,
            method: Method::from_str(&m.method).unwrap_or(Method::Post),
            enabled: m.enabled,
            created_at: m.created_at.and_utc(),
            updated_at: m.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StateParam {
    /// `active` (default), `inactive` or `all`.
    pub state: Option<String>,
}

pub fn parse_state(s: Option<&str>) -> AppResult<StateFilter> {
    match s {
        None | Some("active") => Ok(StateFilter::Active),
        Some("inactive") => Ok(StateFilter::Inactive),
        Some("all") => Ok(StateFilter::All),
        Some(_) => Err(AppError::validation(
            "state",
            "must be active, inactive or all",
        )),
    }
}

fn check_rate(v: Option<i32>) -> AppResult<Option<i32>> {
    match v {
        Some(n) if !(1..=1_000_000).contains(&n) => Err(AppError::validation(
            "rate_limit_per_minute",
            "must be from 1 to 1000000",
        )),
        other => Ok(other),
    }
}

fn audit(
    conn: &mut crate::db::DbConn,
    actor: &str,
    action: &str,
    id: Option<i64>,
    detail: serde_json::Value,
    now: NaiveDateTime,
) -> AppResult<()> {
    store::audit::record(
        conn,
        Entry {
            actor,
            action,
            target_type: "token",
            target_id: id,
            detail,
        },
        now,
    )?;
    Ok(())
}

/// List tokens (active ones unless `state` says otherwise).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(StateParam),
    responses((status = 200, body = [TokenOut]), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    _admin: Admin,
    state: web::Data<AppState>,
    q: super::ApiQuery<StateParam>,
) -> AppResult<HttpResponse> {
    let filter = parse_state(q.state.as_deref())?;
    let now = state.clock.now();
    let rows = state
        .db(move |conn| Ok(store::tokens::list(conn, filter)?))
        .await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|t| TokenOut::at(t, now))
            .collect::<Vec<_>>(),
    ))
}

/// Create a token; its value is in this response only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = TokenWithValue), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<CreateToken>,
) -> AppResult<HttpResponse> {
    let out = create_token(caller, &state, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/tokens/{}", out.details.id)))
        .json(out))
}

/// Creates a token (validated, audited); the result carries its value, once.
pub async fn create_token(
    caller: Caller,
    state: &AppState,
    req: CreateToken,
) -> AppResult<TokenWithValue> {
    check_text("name", &req.name, 1, 200)?;
    check_text("description", &req.description, 0, 2000)?;
    let rate = check_rate(req.rate_limit_per_minute)?;
    let allow = check_allowlist(req.ip_allowlist)?;
    let now = state.clock.now();
    let expires_at = req
        .expires_at
        .map(|t| crate::clock::truncate(t.naive_utc()));
    let value = TokenValue::generate();
    let (hash, hint) = (value.hash(), value.hint());
    let row = state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                let row = store::tokens::insert(
                    conn,
                    &NewToken {
                        name: &req.name,
                        description: &req.description,
                        token_hash: hash.as_bytes(),
                        hint: &hint,
                        enabled: req.enabled,
                        active: true,
                        expires_at,
                        rate_limit_per_minute: rate,
                        ip_allowlist: allow,
                        created_by: &caller.username,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                audit(
                    conn,
                    &caller.username,
                    "token.create",
                    Some(row.id),
                    serde_json::json!({"name": row.name, "hint": row.hint}),
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(TokenWithValue {
        details: TokenOut::at(row, now),
        token_value: value.expose().to_owned(),
    })
}

/// One token (without its value).
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let row = state
        .db(move |conn| store::tokens::find(conn, id).map_err(missing("token")))
        .await?;
    Ok(HttpResponse::Ok().json(TokenOut::at(row, now)))
}

/// Change a token's settings; takes effect for the very next request.
#[utoipa::path(patch, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)), request_body = UpdateToken,
    responses((status = 200, body = TokenOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ApiJson<UpdateToken>,
) -> AppResult<HttpResponse> {
    let out = update_token(caller, &state, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Changes a token's settings (validated, audited).
pub async fn update_token(
    caller: Caller,
    state: &AppState,
    id: i64,
    req: UpdateToken,
) -> AppResult<TokenOut> {
    let now = state.clock.now();
    let mut changes = TokenChanges {
        updated_at: Some(now),
        ..TokenChanges::default()
    };
    if let Some(name) = req.name {
        check_text("name", &name, 1, 200)?;
        changes.name = Some(name);
    }
    if let Some(d) = req.description {
        check_text("description", &d, 0, 2000)?;
        changes.description = Some(d);
    }
    changes.enabled = req.enabled;
    changes.expires_at = req
        .expires_at
        .map(|e| e.map(|t| crate::clock::truncate(t.naive_utc())));
    changes.rate_limit_per_minute = req.rate_limit_per_minute.map(check_rate).transpose()?;
    changes.ip_allowlist = req.ip_allowlist.map(check_allowlist).transpose()?;
    let row = state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                store::tokens::find(conn, id).map_err(missing("token"))?;
                let row = store::tokens::update(conn, id, &changes)?;
                audit(
                    conn,
                    &caller.username,
                    "token.update",
                    Some(id),
                    serde_json::json!({
                        "name": changes.name, "description": changes.description, "enabled": changes.enabled,
                        "expires_at": changes.expires_at, "rate_limit_per_minute": changes.rate_limit_per_minute,
                        "ip_allowlist": changes.ip_allowlist,
                    }),
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(TokenOut::at(row, now))
}

/// Delete a token for good; its calls keep its name in the data viewer.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    delete_token(caller, &state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a token for good (audited).
pub async fn delete_token(caller: Caller, state: &AppState, id: i64) -> AppResult<()> {
    let now = state.clock.now();
    state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                let t = store::tokens::find(conn, id).map_err(missing("token"))?;
                store::tokens::delete(conn, id)?;
                audit(
                    conn,
                    &caller.username,
                    "token.delete",
                    Some(id),
                    serde_json::json!({"name": t.name, "hint": t.hint}),
                    now,
                )
            })
        })
        .await
}

/// Replace the value. With `grace_seconds` the old value keeps working that long
/// (the token shows as `rotating`); without, it stops at once.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/regenerate", tag = "tokens", params(("id" = i64, Path)), request_body(content = Option<RegenerateToken>),
    responses((status = 200, body = TokenWithValue), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn regenerate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let req: RegenerateToken = if body.iter().all(u8::is_ascii_whitespace) {
        RegenerateToken::default()
    } else {
        super::parse_json::<Option<RegenerateToken>>(&body)?.unwrap_or_default()
    };
    let out = regenerate_token(caller, &state, id.into_inner(), req).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Replaces a token's value, the old one working `grace_seconds` longer (audited).
pub async fn regenerate_token(
    caller: Caller,
    state: &AppState,
    id: i64,
    req: RegenerateToken,
) -> AppResult<TokenWithValue> {
    if !(0..=MAX_GRACE_SECONDS).contains(&req.grace_seconds) {
        return Err(AppError::validation(
            "grace_seconds",
            format!("must be from 0 to {MAX_GRACE_SECONDS}"),
        ));
    }
    let now = state.clock.now();
    let until = (req.grace_seconds > 0).then(|| now + TimeDelta::seconds(req.grace_seconds));
    let value = TokenValue::generate();
    let (hash, hint) = (value.hash(), value.hint());
    let row = state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                store::tokens::find(conn, id).map_err(missing("token"))?;
                let row = store::tokens::rotate(conn, id, &hash, &hint, until, now)?;
                audit(
                    conn,
                    &caller.username,
                    "token.regenerate",
                    Some(id),
                    serde_json::json!({"hint": hint, "grace_seconds": req.grace_seconds}),
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(TokenWithValue {
        details: TokenOut::at(row, now),
        token_value: value.expose().to_owned(),
    })
}

/// The one-switch lifecycle changes of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Deactivate,
    Activate,
    Renew,
}

/// Deactivates, activates or renews a token (audited).
pub async fn change_lifecycle(
    caller: Caller,
    state: &AppState,
    id: i64,
    what: Lifecycle,
) -> AppResult<TokenOut> {
    let (action, changes) = match what {
        Lifecycle::Deactivate => (
            "token.deactivate",
            TokenChanges {
                active: Some(false),
                ..Default::default()
            },
        ),
        Lifecycle::Activate => (
            "token.activate",
            TokenChanges {
                active: Some(true),
                ..Default::default()
            },
        ),
        Lifecycle::Renew => (
            "token.renew",
            TokenChanges {
                expires_at: Some(Some(state.clock.now() + TimeDelta::days(365))),
                ..Default::default()
            },
        ),
    };
    let now = state.clock.now();
    let changes = TokenChanges {
        updated_at: Some(now),
        ..changes
    };
    let row = state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                store::tokens::find(conn, id).map_err(missing("token"))?;
                let row = store::tokens::update(conn, id, &changes)?;
                audit(
                    conn,
                    &caller.username,
                    action,
                    Some(id),
                    serde_json::json!({"expires_at": changes.expires_at}),
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(TokenOut::at(row, now))
}

/// Retire a token: unusable, hidden from the default list, history kept.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/deactivate", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn deactivate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let out = change_lifecycle(caller, &state, id.into_inner(), Lifecycle::Deactivate).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Bring a deactivated token back.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/activate", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn activate(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let out = change_lifecycle(caller, &state, id.into_inner(), Lifecycle::Activate).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Set the expiry to one year from now.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/renew", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn renew(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let out = change_lifecycle(caller, &state, id.into_inner(), Lifecycle::Renew).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Enable, disable, deactivate, activate or delete many tokens at once: all or nothing.
#[utoipa::path(post, path = "/api/v1/tokens/bulk", tag = "tokens", request_body = BulkRequest,
    responses((status = 200, body = BulkResult), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn bulk(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<BulkRequest>,
) -> AppResult<HttpResponse> {
    let out = bulk_apply(caller, &state, body.0).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Applies one action to many tokens: all or nothing (audited).
pub async fn bulk_apply(
    caller: Caller,
    state: &AppState,
    req: BulkRequest,
) -> AppResult<BulkResult> {
    let mut ids = req.ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > 1000 {
        return Err(AppError::validation("ids", "must list 1 to 1000 token ids"));
    }
    let now = state.clock.now();
    let (action, changes) = match req.action {
        BulkAction::Enable => (
            "token.bulk.enable",
            Some(TokenChanges {
                enabled: Some(true),
                ..Default::default()
            }),
        ),
        BulkAction::Disable => (
            "token.bulk.disable",
            Some(TokenChanges {
                enabled: Some(false),
                ..Default::default()
            }),
        ),
        BulkAction::Deactivate => (
            "token.bulk.deactivate",
            Some(TokenChanges {
                active: Some(false),
                ..Default::default()
            }),
        ),
        BulkAction::Activate => (
            "token.bulk.activate",
            Some(TokenChanges {
                active: Some(true),
                ..Default::default()
            }),
        ),
        BulkAction::Delete => ("token.bulk.delete", None),
    };
    let affected = state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                let found = store::tokens::find_many(conn, &ids)?;
                if found.len() != ids.len() {
                    let missing: Vec<i64> = ids
                        .iter()
                        .copied()
                        .filter(|id| !found.iter().any(|t| t.id == *id))
                        .collect();
                    return Err(AppError::Missing(format!(
                        "no token with id {}; nothing was changed",
                        missing
                            .iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                let n = match changes {
                    Some(c) => store::tokens::update_many(
                        conn,
                        &ids,
                        &TokenChanges {
                            updated_at: Some(now),
                            ..c
                        },
                    )?,
                    None => store::tokens::delete_many(conn, &ids)?,
                };
                audit(
                    conn,
                    &caller.username,
                    action,
                    None,
                    serde_json::json!({"ids": ids}),
                    now,
                )?;
                Ok(n)
            })
        })
        .await?;
    Ok(BulkResult { affected })
}

/// The token's mappings.
#[utoipa::path(get, path = "/api/v1/tokens/{id}/mappings", tag = "mappings", params(("id" = i64, Path)),
    responses((status = 200, body = [MappingOut]), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_mappings(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let rows = state
        .db(move |conn| {
            store::tokens::find(conn, id).map_err(missing("token"))?;
            Ok(store::mappings::of_token(conn, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(MappingOut::from).collect::<Vec<_>>()))
}

fn parse_mapping_path(path: (i64, i64, String)) -> AppResult<(i64, i64, Method)> {
    let (id, endpoint_id, method) = path;
    let method = Method::from_str(&method).map_err(|e| AppError::validation("method", e))?;
    Ok((id, endpoint_id, method))
}

/// Map the token onto (endpoint, method), or set that mapping's `enabled`. Idempotent.
#[utoipa::path(put, path = "/api/v1/tokens/{id}/mappings/{endpoint_id}/{method}", tag = "mappings",
    params(("id" = i64, Path), ("endpoint_id" = i64, Path), ("method" = Method, Path)), request_body = PutMapping,
    responses((status = 200, body = MappingOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put_mapping(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64, String)>,
    body: ApiJson<PutMapping>,
) -> AppResult<HttpResponse> {
    let (id, endpoint_id, method) = parse_mapping_path(path.into_inner())?;
    let out = set_mapping(caller, &state, id, endpoint_id, method, body.0.enabled).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Maps a token onto (endpoint, method) or sets that mapping's switch (audited).
pub async fn set_mapping(
    caller: Caller,
    state: &AppState,
    id: i64,
    endpoint_id: i64,
    method: Method,
    enabled: bool,
) -> AppResult<MappingOut> {
    let now = state.clock.now();
    let row = state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                store::tokens::find(conn, id).map_err(missing("token"))?;
                let e = store::endpoints::find(conn, endpoint_id).map_err(missing("endpoint"))?;
                let auth = AuthType::from_str(&e.auth).unwrap_or_default();
                if !primary_methods(auth, e.allow_delete).contains(&method) {
                    return Err(AppError::Conflict(
                        "no_primary_token",
                        format!(
                            "endpoint '{}' has no {method} primary token to map onto (auth 'none', or DELETE while deleting is off)",
                            e.slug
                        ),
                    ));
                }
                let (row, created) = store::mappings::put(conn, id, endpoint_id, method, enabled, now)?;
                audit(
                    conn,
                    &caller.username,
                    if created { "mapping.create" } else { "mapping.update" },
                    Some(id),
                    serde_json::json!({"endpoint_id": endpoint_id, "method": method, "enabled": enabled}),
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(MappingOut::from(row))
}

/// Remove the mapping.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}/mappings/{endpoint_id}/{method}", tag = "mappings",
    params(("id" = i64, Path), ("endpoint_id" = i64, Path), ("method" = Method, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn delete_mapping(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64, String)>,
) -> AppResult<HttpResponse> {
    let (id, endpoint_id, method) = parse_mapping_path(path.into_inner())?;
    remove_mapping(caller, &state, id, endpoint_id, method).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a mapping (audited).
pub async fn remove_mapping(
    caller: Caller,
    state: &AppState,
    id: i64,
    endpoint_id: i64,
    method: Method,
) -> AppResult<()> {
    let now = state.clock.now();
    state
        .writer
        .write(move |conn| {
            conn.write_transaction(|conn| {
                if store::mappings::delete(conn, id, endpoint_id, method)? == 0 {
                    return Err(AppError::NotFound("mapping"));
                }
                audit(
                    conn,
                    &caller.username,
                    "mapping.delete",
                    Some(id),
                    serde_json::json!({"endpoint_id": endpoint_id, "method": method}),
                    now,
                )
            })
        })
        .await
}
