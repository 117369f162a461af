//! `/api/v1/audit`: who created, changed or revoked what, and when (admin only).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::PageParams;
use crate::auth::Admin;
use crate::error::{AppResult, Problem};
use crate::store;
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/audit").route(web::get().to(list)));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditOut>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageParams),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    _admin: Admin,
    state: web::Data<AppState>,
    page: super::ApiQuery<PageParams>,
) -> AppResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor = page.cursor;
    let mut rows = state
        .db(move |conn| Ok(store::audit::page(conn, cursor, limit + 1)?))
        .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let entries = rows
        .into_iter()
        .map(|r| AuditOut {
            id: r.id,
            at: r.at.and_utc(),
            actor: r.actor,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditPage { entries, next }))
}
