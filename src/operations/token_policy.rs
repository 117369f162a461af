//! The token lifetime policy (an admin setting): read it, change it, and the rule
//! every token change applies inside its own transaction ([`current`], [`enforce`]).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{change, read};
use crate::db::DbConn;
use crate::domain::audit::Action;
use crate::domain::token_policy::{LifetimeExceeded, TokenPolicy};
use crate::domain::user::Actor;
use crate::error::{AppError, AppResult, Code};
use crate::state::AppState;
use crate::store;
use crate::store::token_search::{TokenSearch, TokenSort};
use crate::store::tokens::StateFilter;

/// The policy as `GET`/`PUT /api/v1/settings/token-policy` show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPolicyOut {
    /// Days until a new token created without an expiry expires (`null`: never).
    pub default_expiry_days: Option<i64>,
    /// The furthest expiry a token may be given, in days from the change (`null`:
    /// no maximum; a token may then also never expire).
    pub max_lifetime_days: Option<i64>,
    /// Active tokens whose expiry is beyond the maximum now (or that never expire):
    /// `GET /api/v1/tokens?expiry=beyond_max` lists them.
    pub beyond_max: i64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// The new policy: each value 1 to 3650 days, or `null` (or absent) for none. The
/// default must be within the maximum, and is required when there is one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTokenPolicy {
    #[serde(default)]
    pub default_expiry_days: Option<i64>,
    #[serde(default)]
    pub max_lifetime_days: Option<i64>,
}

impl PutTokenPolicy {
    pub fn validate(self) -> AppResult<TokenPolicy> {
        TokenPolicy::parse(self.default_expiry_days, self.max_lifetime_days)
            .map_err(|e| AppError::validation(e.field, e.message))
    }
}

/// The policy in force, read in the caller's transaction.
pub fn current(conn: &mut DbConn) -> AppResult<TokenPolicy> {
    Ok(match store::token_policy::get(conn)? {
        Some(row) => parsed(&row)?,
        None => TokenPolicy::parse(Some(365), None).map_err(|_| AppError::Internal)?,
    })
}

fn parsed(row: &store::token_policy::PolicyRow) -> AppResult<TokenPolicy> {
    let days = |v: Option<i32>| v.map(i64::from);
    TokenPolicy::parse(days(row.default_expiry_days), days(row.max_lifetime_days)).map_err(|e| {
        tracing::error!(field = e.field, "the stored token policy does not parse");
        AppError::Internal
    })
}

/// `lifetime_exceeded` (422) naming the maximum; `what` says which value.
pub fn exceeded(what: &str) -> impl Fn(LifetimeExceeded) -> AppError + '_ {
    move |e| AppError::refused(Code::LifetimeExceeded, e.detail(what))
}

/// Refuses `expires_at` (`None`: never) beyond the policy at `now`.
pub fn enforce(
    policy: &TokenPolicy,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let what = match expires_at {
        Some(_) => "expires_at is beyond the maximum lifetime",
        None => "a token that never expires is beyond the maximum lifetime",
    };
    policy.check(expires_at, now).map_err(exceeded(what))
}

/// The active tokens beyond the maximum at `now` (a listing's filter).
pub fn beyond_search(policy: &TokenPolicy, now: NaiveDateTime) -> Option<TokenSearch> {
    policy.latest(now).map(|latest| TokenSearch {
        text: None,
        state: StateFilter::Active,
        enabled: None,
        expiring_before: None,
        expired: false,
        beyond_max: Some(Some(latest)),
        mapped_to: None,
        sort: TokenSort::Name,
        descending: false,
        offset: 0,
        limit: 1,
    })
}

fn out(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<TokenPolicyOut> {
    let row = store::token_policy::get(conn)?.ok_or(AppError::Internal)?;
    let policy = parsed(&row)?;
    let beyond_max = match beyond_search(&policy, now) {
        Some(s) => store::token_search::count(conn, &s, now)?,
        None => 0,
    };
    Ok(TokenPolicyOut {
        default_expiry_days: policy.default_expiry_days(),
        max_lifetime_days: policy.max_lifetime_days(),
        beyond_max,
        updated_by: row.updated_by,
        updated_at: row.updated_at.and_utc(),
    })
}

/// The policy in force, with the count of active tokens beyond its maximum.
pub async fn get(state: &AppState) -> AppResult<TokenPolicyOut> {
    let now = state.clock.now();
    read(state, move |conn| out(conn, now)).await
}

/// Replaces the policy; every instance applies it from the next token change.
/// Tokens already beyond a new maximum keep their expiry (they are listed).
pub async fn put(
    state: &AppState,
    actor: &Actor,
    policy: TokenPolicy,
) -> AppResult<TokenPolicyOut> {
    let narrow = |v: Option<i64>| v.and_then(|n| i32::try_from(n).ok());
    change(state, actor, move |tx| {
        let before = current(tx.conn)?;
        let actor = tx.actor().to_owned();
        store::token_policy::put(
            tx.conn,
            narrow(policy.default_expiry_days()),
            narrow(policy.max_lifetime_days()),
            &actor,
            tx.now,
        )?;
        tx.audit(
            Action::SettingsTokenPolicy,
            None,
            serde_json::json!({
                "default_expiry_days": policy.default_expiry_days(),
                "max_lifetime_days": policy.max_lifetime_days(),
                "before": {
                    "default_expiry_days": before.default_expiry_days(),
                    "max_lifetime_days": before.max_lifetime_days(),
                },
            }),
        )?;
        out(tx.conn, tx.now)
    })
    .await
}
