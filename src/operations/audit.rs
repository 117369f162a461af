//! Reading the audit log: who created, changed or revoked what, and when; as stored
//! (the API) or told as sentences that name what each entry touched (the UI).

pub mod query;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::read;
use crate::domain::audit::story::{self, Part, Wanted};
use crate::domain::page::Page;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store;
use crate::store::audit::AuditRow;
pub use query::AuditQuery;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// e.g. `token.bulk.disable` (see the `action` filter for the list).
    pub action: String,
    /// `endpoint`, `token`, `mapping`, `user` or `api_key`.
    pub target_type: String,
    /// The thing changed; for a mapping, its token (the detail names the endpoint).
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

impl From<AuditRow> for AuditOut {
    fn from(r: AuditRow) -> Self {
        AuditOut {
            id: r.id,
            at: r.at.and_utc(),
            // Written by us as JSON; a detail that is not is shown as null, not guessed at.
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            actor: r.actor,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
        }
    }
}

/// One entry told as a sentence.
#[derive(Debug)]
pub struct Told {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The action as stored.
    pub action: String,
    pub story: Vec<Part>,
}

/// Entries matching the query, newest first, as stored.
pub async fn page(state: &AppState, q: AuditQuery) -> AppResult<AuditPage> {
    let rows = read(state, move |conn| {
        let fetch = Page::<()>::fetch(q.limit);
        Ok(store::audit::page(conn, &q.filter, q.before, fetch)?)
    })
    .await?;
    let page = Page::of(rows, q.limit, |r| r.id).map(AuditOut::from);
    Ok(AuditPage {
        entries: page.items,
        next: page.next,
    })
}

/// Entries matching the query, newest first, each told as a sentence. The things
/// the page names are looked up together: one query per kind, not one per entry.
pub async fn told(state: &AppState, q: AuditQuery) -> AppResult<Page<Told>> {
    let (rows, known) = read(state, move |conn| {
        let fetch = Page::<()>::fetch(q.limit);
        let rows = store::audit::page(conn, &q.filter, q.before, fetch)?;
        let page = Page::of(rows, q.limit, |r| r.id).map(AuditOut::from);
        let mut wanted = Wanted::default();
        for e in &page.items {
            entry(e).wanted(&mut wanted);
        }
        let known = match wanted.is_empty() {
            true => story::Known::default(),
            false => store::audit::names(conn, &wanted)?,
        };
        Ok((page, known))
    })
    .await?;
    Ok(rows.map(|e| Told {
        id: e.id,
        at: e.at,
        story: entry(&e).tell(&known),
        actor: e.actor,
        action: e.action,
    }))
}

fn entry(e: &AuditOut) -> story::Entry<'_> {
    story::Entry {
        actor: &e.actor,
        action: &e.action,
        target_type: &e.target_type,
        target_id: e.target_id,
        detail: &e.detail,
    }
}
