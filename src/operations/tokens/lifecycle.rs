//! A token's life after creation: deactivate (retire), activate, renew, and the
//! same switches applied to many tokens at once.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::TokenOut;
use crate::domain::audit::Action;
use crate::domain::token_policy::days as days_text;
use crate::domain::user::Actor;
use crate::error::{missing, AppError, AppResult};
use crate::operations::{change, token_policy};
use crate::state::AppState;
use crate::store;
use crate::store::tokens::TokenChanges;

/// The most tokens one bulk action names.
pub const MAX_BULK: usize = 1000;

/// The one-switch lifecycle changes of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Deactivate,
    Activate,
    /// To `days` from now, or (`None`) as the lifetime policy says: its default
    /// expiry (a year without one), capped at its maximum.
    Renew(Option<i64>),
}

/// Deactivates, activates or renews token `id`.
pub async fn apply(
    state: &AppState,
    actor: &Actor,
    id: i64,
    what: Lifecycle,
) -> AppResult<TokenOut> {
    let (row, now) = change(state, actor, move |tx| {
        let (action, changes) = match what {
            Lifecycle::Deactivate => (
                Action::TokenDeactivate,
                TokenChanges {
                    active: Some(false),
                    ..Default::default()
                },
            ),
            Lifecycle::Activate => (
                Action::TokenActivate,
                TokenChanges {
                    active: Some(true),
                    ..Default::default()
                },
            ),
            Lifecycle::Renew(days) => {
                let policy = token_policy::current(tx.conn)?;
                let until = match days {
                    None => policy.renewal(tx.now),
                    Some(d) => policy
                        .renewal_for(d, tx.now)
                        .map_err(token_policy::exceeded(&format!(
                            "a renewal for {} is beyond the maximum lifetime",
                            days_text(d)
                        )))?,
                };
                (
                    Action::TokenRenew,
                    TokenChanges {
                        expires_at: Some(Some(until)),
                        ..Default::default()
                    },
                )
            }
        };
        let changes = TokenChanges {
            updated_at: Some(tx.now),
            ..changes
        };
        store::tokens::find(tx.conn, id).map_err(missing("token"))?;
        let row = store::tokens::update(tx.conn, id, &changes)?;
        tx.audit(
            action,
            Some(id),
            serde_json::json!({"expires_at": changes.expires_at}),
        )?;
        tx.access_changed();
        Ok((row, tx.now))
    })
    .await?;
    Ok(TokenOut::at(row, now))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
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

/// A valid bulk action: distinct ids, 1 to [`MAX_BULK`] of them.
pub struct Bulk {
    action: BulkAction,
    ids: Vec<i64>,
}

impl BulkRequest {
    pub fn validate(self) -> AppResult<Bulk> {
        let mut ids = self.ids;
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(AppError::validation("ids", "must list 1 to 1000 token ids"));
        }
        Ok(Bulk {
            action: self.action,
            ids,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub affected: usize,
}

impl BulkAction {
    fn audited(self) -> (Action, Option<TokenChanges>) {
        let set = |enabled, active| {
            Some(TokenChanges {
                enabled,
                active,
                ..Default::default()
            })
        };
        match self {
            BulkAction::Enable => (Action::TokenBulkEnable, set(Some(true), None)),
            BulkAction::Disable => (Action::TokenBulkDisable, set(Some(false), None)),
            BulkAction::Deactivate => (Action::TokenBulkDeactivate, set(None, Some(false))),
            BulkAction::Activate => (Action::TokenBulkActivate, set(None, Some(true))),
            BulkAction::Delete => (Action::TokenBulkDelete, None),
        }
    }
}

/// Applies one action to many tokens: all or nothing (an unknown id changes nothing).
pub async fn bulk(state: &AppState, actor: &Actor, req: Bulk) -> AppResult<BulkResult> {
    let Bulk { action, ids } = req;
    let (audited, changes) = action.audited();
    let affected = change(state, actor, move |tx| {
        let found = store::tokens::find_many(tx.conn, &ids)?;
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !found.iter().any(|t| t.id == **id))
            .map(i64::to_string)
            .collect();
        if !unknown.is_empty() {
            return Err(AppError::refused(
                crate::error::Code::NotFound,
                format!(
                    "no token with id {}; nothing was changed",
                    unknown.join(", ")
                ),
            ));
        }
        let n = match changes {
            Some(c) => store::tokens::update_many(
                tx.conn,
                &ids,
                &TokenChanges {
                    updated_at: Some(tx.now),
                    ..c
                },
            )?,
            None => store::tokens::delete_many(tx.conn, &ids)?,
        };
        // Names beside ids: a deleted token is still named in the log.
        let names: Vec<&str> = ids
            .iter()
            .filter_map(|id| found.iter().find(|t| t.id == *id).map(|t| t.name.as_str()))
            .collect();
        tx.audit(
            audited,
            None,
            serde_json::json!({"ids": ids, "names": names}),
        )?;
        tx.access_changed();
        Ok(n)
    })
    .await?;
    Ok(BulkResult { affected })
}
