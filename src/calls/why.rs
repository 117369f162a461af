//! Why a refused call was refused: the rule in plain words, naming the thing, and,
//! where a change made it so, the audit entry of that change.
//!
//! The call's own columns say what was refused and why (its `code`); the token,
//! endpoint and mapping are read as they are *now* only to say whether that still
//! holds, never as the cause. The cause is the newest audit entry at or before the
//! call that set the refusing state: one query down the audit log's indexes, bounded.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::QueryResult;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::db::DbConn;
use crate::domain::audit::story::{self, Part, Wanted};
use crate::domain::audit::Action;
use crate::domain::call::TokenKind;
use crate::domain::endpoint::{IpAllowlist, Method};
use crate::store;
use crate::store::audit::{AuditRow, CauseSearch};
use crate::store::calls::Call;

mod said;

/// The most candidate entries one explanation reads (newest first).
const CANDIDATES: i64 = 100;

/// The change that caused a refusal: one audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CausedBy {
    /// The audit entry's id.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user who made the change.
    pub actor: String,
    /// e.g. `mapping.update`.
    pub action: String,
    /// The entry as a sentence, e.g. "admin switched off the mapping shop-app → orders (POST)".
    pub summary: String,
}

/// A refused call explained.
#[derive(Debug, Clone)]
pub struct Why {
    pub why: String,
    pub caused_by: Option<CausedBy>,
}

/// What the call named, as it is now (`None`: it did not name one, or it is gone).
#[derive(Debug, Default)]
pub(super) struct Now {
    pub token: Option<store::tokens::TokenRow>,
    pub endpoint: Option<store::endpoints::EndpointRow>,
    /// The token's mapping onto the endpoint and method.
    pub mapping: Option<store::mappings::MappingRow>,
}

/// Whether `call` was refused: a client error with a problem code.
pub fn refused(call: &Call) -> bool {
    call.code.is_some() && (400..500).contains(&call.status)
}

/// Explains `call` if it was refused.
pub fn explain(conn: &mut DbConn, call: &Call) -> QueryResult<Option<Why>> {
    if !refused(call) {
        return Ok(None);
    }
    let now = now_of(conn, call)?;
    let cause = match search(call) {
        Some(s) => store::audit::causes(conn, &s, CANDIDATES)?
            .into_iter()
            .map(|r| (parsed(&r), r))
            .find_map(|(detail, r)| bears(call, &r, &detail).map(|b| (b, detail, r)))
            .filter(|(caused, ..)| *caused)
            .map(|(_, detail, r)| (detail, r)),
        None => None,
    };
    let why = said::why(call, &now, cause.as_ref().map(|(d, r)| (r, d)));
    let caused_by = match cause {
        Some((detail, row)) => Some(caused_by(conn, row, &detail)?),
        None => None,
    };
    Ok(Some(Why { why, caused_by }))
}

fn now_of(conn: &mut DbConn, call: &Call) -> QueryResult<Now> {
    use diesel::OptionalExtension;
    let mut now = Now::default();
    if let Some(id) = call.token_id {
        now.token = store::tokens::find(conn, id).optional()?;
    }
    if let Some(id) = call.endpoint_id {
        now.endpoint = store::endpoints::find(conn, id).optional()?;
    }
    if let (Some(t), Some(e), Ok(m)) = (&now.token, &now.endpoint, call.method.parse::<Method>()) {
        now.mapping = store::mappings::find(conn, t.id, e.id, m)?;
    }
    Ok(now)
}

/// Where the change behind the call's refusal would be recorded, if one can be.
fn search(call: &Call) -> Option<CauseSearch> {
    let token = call
        .token_id
        .filter(|_| call.token_kind == TokenKind::Secondary);
    let endpoint = call.endpoint_id;
    let (actions, targets, untargeted) = match call.code.as_deref()? {
        "mapping_disabled" => (
            vec![Action::MappingUpdate, Action::MappingCreate],
            vec![token?],
            false,
        ),
        "token_not_mapped" => (
            vec![Action::MappingDelete, Action::MappingCreate],
            vec![token?],
            false,
        ),
        "token_disabled" => (
            vec![
                Action::TokenUpdate,
                Action::TokenBulkDisable,
                Action::TokenBulkEnable,
            ],
            vec![token?],
            true,
        ),
        "endpoint_disabled" => (vec![Action::EndpointUpdate], vec![endpoint?], false),
        // Creation (the policy's default expiry) and regeneration may set it too.
        "token_expired" => (
            vec![
                Action::TokenUpdate,
                Action::TokenRenew,
                Action::TokenCreate,
                Action::TokenRegenerate,
            ],
            vec![token?],
            false,
        ),
        "token_invalid" => (
            vec![
                Action::TokenDeactivate,
                Action::TokenActivate,
                Action::TokenBulkDeactivate,
                Action::TokenBulkActivate,
                Action::TokenRegenerate,
            ],
            vec![token?],
            true,
        ),
        "ip_not_allowed" => (
            vec![Action::TokenUpdate, Action::EndpointUpdate],
            token.into_iter().chain(endpoint).collect(),
            false,
        ),
        "rate_limited" => (vec![Action::TokenUpdate], vec![token?], false),
        "schema_violation" => (
            vec![Action::EndpointSchemaPut, Action::EndpointSchemaDelete],
            vec![endpoint?],
            false,
        ),
        _ => return None,
    };
    Some(CauseSearch {
        actions,
        targets,
        untargeted,
        until: call.at,
    })
}

fn parsed(r: &AuditRow) -> Value {
    serde_json::from_str(&r.detail).unwrap_or(Value::Null)
}

/// How entry `r` bears on the state that refused `call`: `None` when it is about
/// something else; `Some(true)` when it set that state, `Some(false)` when it undid
/// it (then no earlier entry is the cause).
fn bears(call: &Call, r: &AuditRow, d: &Value) -> Option<bool> {
    let action = r.action.parse::<Action>().ok()?;
    let at_token = r.target_id.is_some() && r.target_id == call.token_id;
    let lists_token = || {
        d.get("ids")
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(|i| i.as_i64() == call.token_id))
    };
    let same_mapping = || {
        at_token
            && d.get("endpoint_id").and_then(Value::as_i64) == call.endpoint_id
            && d.get("method").and_then(Value::as_str) == Some(call.method.as_str())
    };
    let enabled = d.get("enabled").and_then(Value::as_bool);
    use Action as A;
    match (call.code.as_deref()?, action) {
        ("mapping_disabled", _) if same_mapping() => enabled.map(|on| !on),
        ("token_not_mapped", _) if same_mapping() => Some(action == A::MappingDelete),
        ("token_disabled", A::TokenUpdate) if at_token => enabled.map(|on| !on),
        ("token_disabled", A::TokenBulkDisable | A::TokenBulkEnable) if lists_token() => {
            Some(action == A::TokenBulkDisable)
        }
        ("endpoint_disabled", A::EndpointUpdate) => enabled.map(|on| !on),
        ("token_expired", _) => {
            let until = d.get("expires_at").and_then(Value::as_str)?;
            Some(moment(until).is_some_and(|t| t <= call.at))
        }
        ("token_invalid", A::TokenDeactivate | A::TokenRegenerate) if at_token => Some(true),
        ("token_invalid", A::TokenActivate) if at_token => Some(false),
        ("token_invalid", A::TokenBulkDeactivate | A::TokenBulkActivate) if lists_token() => {
            Some(action == A::TokenBulkDeactivate)
        }
        ("ip_not_allowed", A::TokenUpdate) if at_token => excludes(call, d),
        ("ip_not_allowed", A::EndpointUpdate) if r.target_id == call.endpoint_id => {
            excludes(call, d)
        }
        ("rate_limited", _) => d.get("rate_limit_per_minute")?.as_i64().map(|_| true),
        ("schema_violation", A::EndpointSchemaPut) => {
            Some(d.get("mode").and_then(Value::as_str) == Some("enforce"))
        }
        ("schema_violation", A::EndpointSchemaDelete) => Some(false),
        _ => None,
    }
}

/// Whether the allowlist an update set leaves the caller's address out (`None`
/// when the update did not touch the list).
fn excludes(call: &Call, d: &Value) -> Option<bool> {
    let entries: Vec<String> = d
        .get("ip_allowlist")?
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let list = IpAllowlist::parse(&entries).ok()?;
    let ip = call.remote_addr.parse().ok()?;
    (!list.allows(ip)).then_some(true)
}

/// A time as an audit detail records it (`2026-12-24T10:00:00`, maybe with a fraction).
pub(super) fn moment(s: &str) -> Option<NaiveDateTime> {
    s.parse::<NaiveDateTime>().ok()
}

fn caused_by(conn: &mut DbConn, r: AuditRow, detail: &Value) -> QueryResult<CausedBy> {
    let entry = story::Entry {
        actor: &r.actor,
        action: &r.action,
        target_type: &r.target_type,
        target_id: r.target_id,
        detail,
    };
    let mut wanted = Wanted::default();
    entry.wanted(&mut wanted);
    let known = match wanted.is_empty() {
        true => story::Known::default(),
        false => store::audit::names(conn, &wanted)?,
    };
    let summary = entry
        .tell(&known)
        .into_iter()
        .map(|p| match p {
            Part::Words(w) | Part::Raw(w) => w,
            Part::Thing { name, .. } => name,
        })
        .collect();
    Ok(CausedBy {
        id: r.id,
        at: r.at.and_utc(),
        summary,
        actor: r.actor,
        action: r.action,
    })
}

#[cfg(test)]
mod tests;
