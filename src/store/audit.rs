//! The audit log of management changes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_log;
use crate::db::DbConn;
use crate::domain::audit::{Action, Target};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: Action,
    pub target_type: Target,
    pub target_id: Option<i64>,
    pub detail: String,
}

/// One audit entry; `detail` is JSON and must never hold a secret.
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: Action,
    pub target_id: Option<i64>,
    pub detail: serde_json::Value,
}

/// Writes an audit entry. Auditing is a record of what happened and nothing else:
/// access caches are the business of the operation that changed access facts.
pub fn record(conn: &mut DbConn, entry: Entry<'_>, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(now),
            audit_log::actor.eq(entry.actor),
            audit_log::action.eq(entry.action),
            audit_log::target_type.eq(entry.action.target()),
            audit_log::target_id.eq(entry.target_id),
            audit_log::detail.eq(entry.detail.to_string()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn page(conn: &mut DbConn, before: Option<i64>, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let mut q = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(before) = before {
        q = q.filter(audit_log::id.lt(before));
    }
    q.order(audit_log::id.desc()).limit(limit).load(conn)
}
