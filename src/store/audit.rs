//! The audit log of management changes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{audit_log, endpoints, tokens, users};
use crate::db::DbConn;
use crate::domain::audit::story::{Known, Wanted};
use crate::domain::audit::{Action, Target};

/// One stored entry. `action` and `target_type` are read as stored text: a newer
/// version may have written one this version does not know, and the log still reads.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub target_type: String,
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

/// Which entries a page shows; empty fields do not filter. Each filter has its
/// index, `(column, id)`, so a filtered page is a walk down one index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The acting user's name, exactly.
    pub actor: Option<String>,
    pub action: Option<Action>,
    pub target: Option<Target>,
    /// At or after.
    pub from: Option<NaiveDateTime>,
    /// Before.
    pub to: Option<NaiveDateTime>,
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

/// Entries matching `filter` older than `before`, newest first, `limit` at most.
pub fn page(
    conn: &mut DbConn,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let mut q = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(before) = before {
        q = q.filter(audit_log::id.lt(before));
    }
    if let Some(actor) = &filter.actor {
        q = q.filter(audit_log::actor.eq(actor.clone()));
    }
    if let Some(action) = filter.action {
        q = q.filter(audit_log::action.eq(action));
    }
    if let Some(target) = filter.target {
        q = q.filter(audit_log::target_type.eq(target));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_log::at.lt(to));
    }
    q.order(audit_log::id.desc()).limit(limit).load(conn)
}

/// The current names of the wanted things that still exist: one query per kind.
pub fn names(conn: &mut DbConn, wanted: &Wanted) -> QueryResult<Known> {
    let mut known = Known::default();
    if !wanted.tokens.is_empty() {
        let ids: Vec<i64> = wanted.tokens.iter().copied().collect();
        known.tokens = tokens::table
            .filter(tokens::id.eq_any(ids))
            .select((tokens::id, tokens::name))
            .load(conn)?
            .into_iter()
            .collect();
    }
    if !wanted.endpoints.is_empty() {
        let ids: Vec<i64> = wanted.endpoints.iter().copied().collect();
        known.endpoints = endpoints::table
            .filter(endpoints::id.eq_any(ids))
            .select((endpoints::id, endpoints::slug))
            .load(conn)?
            .into_iter()
            .collect();
    }
    if !wanted.users.is_empty() {
        let ids: Vec<i64> = wanted.users.iter().copied().collect();
        known.users = users::table
            .filter(users::id.eq_any(ids))
            .select((users::id, users::username))
            .load(conn)?
            .into_iter()
            .collect();
    }
    Ok(known)
}

/// Where to look for the change behind a state: entries of these actions about
/// these things, at or before `until`.
#[derive(Debug, Clone, Default)]
pub struct CauseSearch {
    pub actions: Vec<Action>,
    /// The things' ids (`target_id`); a match on id alone, kinds are told apart by action.
    pub targets: Vec<i64>,
    /// Entries without a target too (bulk actions name their tokens in the detail).
    pub untargeted: bool,
    pub until: NaiveDateTime,
}

/// The newest `limit` entries `search` describes, newest first: one query down the
/// `(action, id)` index, bounded by `limit` (the caller reads their details).
pub fn causes(conn: &mut DbConn, search: &CauseSearch, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let actions: Vec<&str> = search.actions.iter().map(|a| a.as_str()).collect();
    let mut q = audit_log::table
        .select(AuditRow::as_select())
        .filter(audit_log::action.eq_any(actions))
        .filter(audit_log::at.le(search.until))
        .into_boxed();
    let targets = search.targets.clone();
    q = match search.untargeted {
        true => q.filter(
            audit_log::target_id
                .eq_any(targets)
                .or(audit_log::target_id.is_null()),
        ),
        false => q.filter(audit_log::target_id.eq_any(targets)),
    };
    q.order(audit_log::id.desc()).limit(limit).load(conn)
}
