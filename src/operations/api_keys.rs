//! Personal API keys: a user's own bearer credentials for the management API,
//! shown once, stored as a hash. They carry their user's role and never touch
//! access to endpoints.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::input::{field, moment};
use super::{change, read};
use crate::access_cache::ApiKeyFacts;
use crate::domain::audit::Action;
use crate::domain::text::Name;
use crate::domain::token::TokenValue;
use crate::domain::user::Actor;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::users::ApiKeyRow;

use crate::domain::token::LAST_USED_PRECISION as TOUCH_EVERY;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: i64,
    pub name: String,
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyOut {
    fn from(k: ApiKeyRow) -> Self {
        Self {
            id: k.id,
            name: k.name,
            hint: k.hint,
            created_at: k.created_at.and_utc(),
            expires_at: k.expires_at.map(|t| t.and_utc()),
            last_used_at: k.last_used_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyWithValue {
    #[serde(flatten)]
    pub details: ApiKeyOut,
    /// Send as `Authorization: Bearer <key>`: shown once, never again.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key, valid at `now`.
pub struct ApiKeySpec {
    name: Name,
    expires_at: Option<NaiveDateTime>,
}

impl CreateApiKey {
    pub fn validate(self, now: NaiveDateTime) -> AppResult<ApiKeySpec> {
        let name = field("name", Name::parse(&self.name))?;
        let expires_at = self.expires_at.map(moment);
        if expires_at.is_some_and(|t| t <= now) {
            return Err(AppError::validation("expires_at", "must be in the future"));
        }
        Ok(ApiKeySpec { name, expires_at })
    }
}

/// The actor's keys (never their values).
pub async fn list(state: &AppState, actor: &Actor) -> AppResult<Vec<ApiKeyOut>> {
    let user_id = actor.user_id;
    let rows = read(state, move |conn| {
        Ok(store::users::api_keys_of(conn, user_id)?)
    })
    .await?;
    Ok(rows.into_iter().map(ApiKeyOut::from).collect())
}

/// Creates a key for the actor, with the actor's role; the value is in the result, once.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    spec: ApiKeySpec,
) -> AppResult<ApiKeyWithValue> {
    let value = TokenValue::generate();
    let (hash, hint) = (value.hash(), value.hint());
    let user_id = actor.user_id;
    let row = change(state, actor, move |tx| {
        let row = store::users::insert_api_key(
            tx.conn,
            user_id,
            spec.name.as_str(),
            &hash,
            &hint,
            spec.expires_at,
            tx.now,
        )?;
        tx.audit(
            Action::ApiKeyCreate,
            Some(row.id),
            serde_json::json!({"name": row.name, "hint": row.hint}),
        )?;
        Ok(row)
    })
    .await?;
    Ok(ApiKeyWithValue {
        details: row.into(),
        key: value.expose().to_owned(),
    })
}

/// Revokes one of the actor's keys.
pub async fn delete(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    let user_id = actor.user_id;
    change(state, actor, move |tx| {
        let name = store::users::api_keys_of(tx.conn, user_id)?
            .into_iter()
            .find(|k| k.id == id)
            .map(|k| k.name);
        if store::users::delete_api_key(tx.conn, user_id, id)? == 0 {
            return Err(AppError::not_found("api key"));
        }
        // Cached keys are dropped: it is refused on the next request everywhere.
        tx.access_changed();
        tx.audit(
            Action::ApiKeyDelete,
            Some(id),
            serde_json::json!({"name": name}),
        )?;
        Ok(())
    })
    .await
}

/// The user behind a presented key that is not expired (marking it used), as of an
/// access generation read after the request arrived: from the access cache when it
/// holds the key, else from the database. Revoking a key and changing or deleting a
/// user raise the generation, so each holds on the next request on every instance;
/// expiry is checked on every request.
pub async fn authenticate(state: &AppState, value: &TokenValue) -> AppResult<Actor> {
    let now = state.clock.now();
    let hash = value.hash();
    let generation = state.access_generation.current().await?;
    let cache = &state.access_cache;
    let hashed = hash.to_array();
    let facts = match cache.peek_api_key(generation, &hashed) {
        Some(facts) => facts,
        None => {
            let (row, user) = read(state, move |conn| {
                let found = store::users::find_api_key(conn, &hash, now)?;
                found
                    .filter(|(key, _)| hash.matches(&key.key_hash))
                    .ok_or_else(AppError::unauthenticated)
            })
            .await?;
            let facts = Arc::new(ApiKeyFacts {
                key_id: row.id,
                expires_at: row.expires_at,
                actor: Actor {
                    user_id: user.id,
                    username: user.username,
                    role: user.role,
                },
                used_at: AtomicI64::new(row.last_used_at.map_or(NEVER, seconds)),
            });
            cache.keep_api_key(generation, hashed, facts.clone());
            facts
        }
    };
    if facts.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::unauthenticated());
    }
    record_use(state, &facts, now).await?;
    Ok(facts.actor.clone())
}

/// [`ApiKeyFacts::used_at`] of a key never used.
const NEVER: i64 = i64::MIN;

fn seconds(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

/// Records when `facts`' key was used, once per [`TOUCH_EVERY`].
async fn record_use(state: &AppState, facts: &ApiKeyFacts, now: NaiveDateTime) -> AppResult<()> {
    let used = facts.used_at.load(Ordering::Relaxed);
    if seconds(now).saturating_sub(used) <= TOUCH_EVERY.num_seconds() {
        return Ok(());
    }
    facts.used_at.store(seconds(now), Ordering::Relaxed);
    let id = facts.key_id;
    state
        .writer
        .write(move |conn| Ok(store::users::touch_api_key(conn, id, now)?))
        .await?;
    Ok(())
}
