//! Reading the audit log: who created, changed or revoked what, and when.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::read;
use crate::domain::audit::{Action, Target};
use crate::domain::page::Page;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    #[schema(value_type = String)]
    pub action: Action,
    #[schema(value_type = String)]
    pub target_type: Target,
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

/// Entries older than `before` (newest first), `limit` at most.
pub async fn page(state: &AppState, before: Option<i64>, limit: i64) -> AppResult<AuditPage> {
    let rows = read(state, move |conn| {
        Ok(store::audit::page(conn, before, Page::<()>::fetch(limit))?)
    })
    .await?;
    let page = Page::of(rows, limit, |r| r.id).map(|r| AuditOut {
        id: r.id,
        at: r.at.and_utc(),
        actor: r.actor,
        action: r.action,
        target_type: r.target_type,
        target_id: r.target_id,
        // Written by us as JSON; a detail that is not is shown as null, not guessed at.
        detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
    });
    Ok(AuditPage {
        entries: page.items,
        next: page.next,
    })
}
