//! Secondary ("endpoint") tokens: one per external application. Create, change,
//! rotate and delete them; [`lifecycle`] holds deactivation, renewal and bulk actions.

mod input;
pub mod lifecycle;
pub mod listing;

pub use input::{
    CreateToken, RegenerateToken, Regeneration, RenewToken, StateParam, TokenListParams,
    TokenPatch, TokenSpec, UpdateToken,
};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{change, read, token_policy};
use crate::domain::audit::Action;
use crate::domain::endpoint::IpAllowlist;
use crate::domain::token::TokenValue;
use crate::domain::user::Actor;
use crate::error::{missing, AppError, AppResult, Code};
use crate::state::AppState;
use crate::store;
use crate::store::tokens::{NewToken, TokenChanges, TokenRow};

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
    /// Active and expiring within 14 days (not yet expired).
    pub expiring: bool,
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
    /// The token as it stands at `now` (its status depends on the time).
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
        let soon = now + TimeDelta::days(listing::EXPIRING_DAYS);
        let expiring = t.active && t.expires_at.is_some_and(|e| e > now && e <= soon);
        Self {
            expiring,
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
            ip_allowlist: t.ip_allowlist.as_ref().map(IpAllowlist::entries),
            created_by: t.created_by,
            created_at: t.created_at.and_utc(),
            updated_at: t.updated_at.and_utc(),
            last_used_at: t.last_used_at.map(|x| x.and_utc()),
        }
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

/// The tokens `p` selects, by name.
pub async fn list(state: &AppState, p: TokenListParams) -> AppResult<Vec<TokenOut>> {
    let filter = StateParam {
        state: p.state.clone(),
    }
    .validate()?;
    if p.expiry.as_deref().is_some_and(|e| !e.trim().is_empty()) {
        let q = listing::TokenListQuery {
            show: p.state,
            expiry: p.expiry,
            ..Default::default()
        };
        return listing::all(state, &q).await;
    }
    let now = state.clock.now();
    let rows = read(state, move |conn| Ok(store::tokens::list(conn, filter)?)).await?;
    Ok(rows.into_iter().map(|t| TokenOut::at(t, now)).collect())
}

/// One token (without its value).
pub async fn get(state: &AppState, id: i64) -> AppResult<TokenOut> {
    let now = state.clock.now();
    let row = read(state, move |conn| {
        store::tokens::find(conn, id).map_err(missing("token"))
    })
    .await?;
    Ok(TokenOut::at(row, now))
}

/// A unique violation on a token's row is its name (the only unique column an
/// admin chooses; the hash is random).
fn name_taken(e: AppError) -> AppError {
    match e {
        AppError::Refused(Code::Conflict, _) => AppError::refused(
            Code::NameTaken,
            "another token has this name (names are unique, ignoring case)",
        ),
        other => other,
    }
}

/// Creates a token; the result carries its value, once.
pub async fn create(state: &AppState, actor: &Actor, spec: TokenSpec) -> AppResult<TokenWithValue> {
    let value = TokenValue::generate();
    let (hash, hint) = (value.hash(), value.hint());
    let created_by = actor.username.clone();
    let (row, now) = change(state, actor, move |tx| {
        let policy = token_policy::current(tx.conn)?;
        let expires_at = match spec.expires_at {
            None => policy.default_expiry(tx.now),
            Some(chosen) => {
                token_policy::enforce(&policy, chosen, tx.now)?;
                chosen
            }
        };
        let new = NewToken {
            name: spec.name.as_str(),
            description: spec.description.as_str(),
            token_hash: &hash,
            hint: &hint,
            enabled: spec.enabled,
            active: true,
            expires_at,
            rate_limit_per_minute: spec.rate_limit.map(|r| r.as_i32()),
            ip_allowlist: spec.ip_allowlist,
            created_by: &created_by,
            created_at: tx.now,
            updated_at: tx.now,
        };
        let row = store::tokens::insert(tx.conn, &new).map_err(|e| name_taken(e.into()))?;
        tx.audit(
            Action::TokenCreate,
            Some(row.id),
            // The expiry (the policy's default or the one given) names this entry
            // as the cause when the token is refused as expired.
            serde_json::json!({"name": row.name, "hint": row.hint, "expires_at": row.expires_at}),
        )?;
        tx.access_changed();
        Ok((row, tx.now))
    })
    .await?;
    Ok(TokenWithValue {
        details: TokenOut::at(row, now),
        token_value: value.expose().to_owned(),
    })
}

/// Changes a token's settings; effective from the very next request.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: TokenPatch,
) -> AppResult<TokenOut> {
    let (row, now) = change(state, actor, move |tx| {
        let was = store::tokens::find(tx.conn, id).map_err(missing("token"))?;
        let mut changes = patch.0;
        // Only a changed expiry meets the policy: a token beyond a newer maximum
        // can still be renamed.
        if let Some(e) = changes.expires_at.filter(|e| *e != was.expires_at) {
            token_policy::enforce(&token_policy::current(tx.conn)?, e, tx.now)?;
        }
        changes.updated_at = Some(tx.now);
        let row =
            store::tokens::update(tx.conn, id, &changes).map_err(|e| name_taken(e.into()))?;
        tx.audit(
            Action::TokenUpdate,
            Some(id),
            serde_json::json!({
                "name": changes.name, "description": changes.description, "enabled": changes.enabled,
                "expires_at": changes.expires_at, "rate_limit_per_minute": changes.rate_limit_per_minute,
                "ip_allowlist": changes.ip_allowlist.as_ref().map(|l| l.as_ref().map(IpAllowlist::entries)),
            }),
        )?;
        tx.access_changed();
        Ok((row, tx.now))
    })
    .await?;
    Ok(TokenOut::at(row, now))
}

/// Deletes a token for good; its calls keep its name in the viewer.
pub async fn delete(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    change(state, actor, move |tx| {
        let t = store::tokens::find(tx.conn, id).map_err(missing("token"))?;
        store::tokens::delete(tx.conn, id)?;
        tx.audit(
            Action::TokenDelete,
            Some(id),
            serde_json::json!({"name": t.name, "hint": t.hint}),
        )?;
        tx.access_changed();
        Ok(())
    })
    .await
}

/// Replaces a token's value; the old one keeps working for `grace` (shown as
/// `rotating`), or stops at once when it is zero. A new expiry may come with it.
pub async fn regenerate(
    state: &AppState,
    actor: &Actor,
    id: i64,
    r: Regeneration,
) -> AppResult<TokenWithValue> {
    let value = TokenValue::generate();
    let (hash, hint) = (value.hash(), value.hint());
    let Regeneration { grace, expires_at } = r;
    let (row, now) = change(state, actor, move |tx| {
        store::tokens::find(tx.conn, id).map_err(missing("token"))?;
        if let Some(e) = expires_at {
            token_policy::enforce(&token_policy::current(tx.conn)?, e, tx.now)?;
        }
        let until = (grace.get() > 0).then(|| tx.now + TimeDelta::seconds(grace.get()));
        let mut row = store::tokens::rotate(tx.conn, id, &hash, &hint, until, tx.now)?;
        if let Some(e) = expires_at {
            let changes = TokenChanges {
                expires_at: Some(e),
                ..Default::default()
            };
            row = store::tokens::update(tx.conn, id, &changes)?;
        }
        tx.audit(
            Action::TokenRegenerate,
            Some(id),
            serde_json::json!({"hint": hint, "grace_seconds": grace.get(), "expires_at": expires_at}),
        )?;
        tx.access_changed();
        Ok((row, tx.now))
    })
    .await?;
    Ok(TokenWithValue {
        details: TokenOut::at(row, now),
        token_value: value.expose().to_owned(),
    })
}

/// A token as a picker lists it: id, name, active.
pub type TokenName = (i64, String, bool);

/// The tokens `selected`, and up to `limit` tokens whose name contains `needle`
/// (case-insensitive), by name: the data viewer's token picker.
pub async fn names(
    state: &AppState,
    needle: String,
    selected: Vec<i64>,
    limit: i64,
) -> AppResult<(Vec<TokenName>, Vec<TokenName>)> {
    read(state, move |conn| {
        Ok((
            store::tokens::names_of(conn, &selected)?,
            store::tokens::names_matching(conn, needle.trim(), limit)?,
        ))
    })
    .await
}
