//! Mappings: which secondary token may call which (endpoint, method), each with its
//! own switch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tokens::TokenOut;
use super::{change, read};
use crate::domain::audit::Action;
use crate::domain::endpoint::{primary_methods, Method};
use crate::domain::health::{ExpectEvery, MappingKey};
use crate::domain::user::Actor;
use crate::error::{missing, AppError, AppResult, Code};
use crate::state::AppState;
use crate::store;
use crate::store::mappings::MappingRow;
use crate::store::tokens::StateFilter;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMapping {
    pub enabled: bool,
    /// How often the application is expected to call, in seconds (60 to 2678400,
    /// i.e. 31 days): past it without a call the mapping is silent (Health page,
    /// `mapping_silent`). `null` removes the expectation; absent keeps it.
    #[serde(default, deserialize_with = "crate::operations::input::double_option")]
    #[schema(value_type = Option<i64>, minimum = 60, maximum = 2678400)]
    pub expect_every_seconds: Option<Option<i64>>,
}

impl PutMapping {
    /// The expected cadence, checked: absent, removed, or within its bounds.
    pub fn expect(&self) -> AppResult<Option<Option<ExpectEvery>>> {
        self.expect_every_seconds
            .map(|e| e.map(ExpectEvery::parse).transpose())
            .transpose()
            .map_err(|m| AppError::validation("expect_every_seconds", m))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingOut {
    pub token_id: i64,
    pub endpoint_id: i64,
    pub method: Method,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How often the application is expected to call, in seconds (`null`: no expectation).
    pub expect_every_seconds: Option<i32>,
}

impl From<MappingRow> for MappingOut {
    fn from(m: MappingRow) -> Self {
        Self {
            token_id: m.token_id,
            endpoint_id: m.endpoint_id,
            method: m.method,
            enabled: m.enabled,
            created_at: m.created_at.and_utc(),
            updated_at: m.updated_at.and_utc(),
            expect_every_seconds: m.expect_every_seconds,
        }
    }
}

/// A secondary token and its mapping per method on one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointTokenOut {
    #[serde(flatten)]
    pub token: TokenOut,
    /// Mapping `enabled` by method; a method without a mapping is absent.
    pub mappings: BTreeMap<String, bool>,
}

/// The mappings of token `id`.
pub async fn of_token(state: &AppState, id: i64) -> AppResult<Vec<MappingOut>> {
    let rows = read(state, move |conn| {
        store::tokens::find(conn, id).map_err(missing("token"))?;
        Ok(store::mappings::of_token(conn, id)?)
    })
    .await?;
    Ok(rows.into_iter().map(MappingOut::from).collect())
}

/// Maps token `id` onto (endpoint, method), or sets that mapping's switch. Idempotent.
pub async fn set(
    state: &AppState,
    actor: &Actor,
    id: i64,
    endpoint_id: i64,
    method: Method,
    enabled: bool,
) -> AppResult<MappingOut> {
    set_with(state, actor, (id, endpoint_id, method), enabled, None).await
}

/// As [`set`], also setting (`Some(Some)`), removing (`Some(None)`) or keeping
/// (`None`) the mapping's expected cadence. Idempotent.
pub async fn set_with(
    state: &AppState,
    actor: &Actor,
    key: (i64, i64, Method),
    enabled: bool,
    expect: Option<Option<ExpectEvery>>,
) -> AppResult<MappingOut> {
    put(state, actor, key, Some(enabled), expect).await
}

/// Sets (`Some`) or removes (`None`) the expected cadence of an existing mapping,
/// keeping its switch.
pub async fn set_expectation(
    state: &AppState,
    actor: &Actor,
    key: (i64, i64, Method),
    expect: Option<ExpectEvery>,
) -> AppResult<MappingOut> {
    put(state, actor, key, None, Some(expect)).await
}

/// The mapping's switch (`None`: as it is; the mapping must exist) and cadence.
async fn put(
    state: &AppState,
    actor: &Actor,
    (id, endpoint_id, method): (i64, i64, Method),
    enabled: Option<bool>,
    expect: Option<Option<ExpectEvery>>,
) -> AppResult<MappingOut> {
    let row = change(state, actor, move |tx| {
        let t = store::tokens::find(tx.conn, id).map_err(missing("token"))?;
        let e = store::endpoints::find(tx.conn, endpoint_id).map_err(missing("endpoint"))?;
        let enabled = match enabled {
            Some(on) => on,
            None => store::mappings::find(tx.conn, id, endpoint_id, method)?
                .ok_or_else(|| AppError::not_found("mapping"))?
                .enabled,
        };
        if !primary_methods(e.auth, e.allow_delete).contains(&method) {
            return Err(AppError::refused(
                Code::NoPrimaryToken,
                format!(
                    "endpoint '{}' has no {method} primary token to map onto (auth 'none', or DELETE while deleting is off)",
                    e.slug
                ),
            ));
        }
        let every = expect.map(|e| e.and_then(|e| i32::try_from(e.seconds()).ok()));
        let (row, created, expect_changed) =
            store::mappings::put(tx.conn, id, endpoint_id, method, enabled, every, tx.now)?;
        if expect_changed {
            // A new expectation starts afresh: a silence raised under the old one is forgotten.
            let key = MappingKey {
                token_id: id,
                endpoint_id,
                method,
            };
            store::activity::clear_silence(tx.conn, &key)?;
        }
        let mut detail = serde_json::json!({"endpoint_id": endpoint_id, "method": method, "enabled": enabled,
            "token": t.name, "endpoint": e.slug});
        if let Some(every) = every {
            detail["expect_every_seconds"] = serde_json::json!(every);
        }
        tx.audit(
            if created {
                Action::MappingCreate
            } else {
                Action::MappingUpdate
            },
            Some(id),
            detail,
        )?;
        tx.access_changed();
        Ok(row)
    })
    .await?;
    Ok(MappingOut::from(row))
}

/// Removes the mapping of token `id` onto (endpoint, method).
pub async fn remove(
    state: &AppState,
    actor: &Actor,
    id: i64,
    endpoint_id: i64,
    method: Method,
) -> AppResult<()> {
    change(state, actor, move |tx| {
        if store::mappings::delete(tx.conn, id, endpoint_id, method)? == 0 {
            return Err(AppError::not_found("mapping"));
        }
        // A mapping exists only between a token and an endpoint that exist.
        let token = store::tokens::find(tx.conn, id)?.name;
        let endpoint = store::endpoints::find(tx.conn, endpoint_id)?.slug;
        tx.audit(
            Action::MappingDelete,
            Some(id),
            serde_json::json!({"endpoint_id": endpoint_id, "method": method,
                "token": token, "endpoint": endpoint}),
        )?;
        tx.access_changed();
        Ok(())
    })
    .await
}

/// The tokens in `filter` with their mappings onto endpoint `id`; with `assigned`,
/// only those that have (`true`) or lack (`false`) one.
pub async fn endpoint_tokens(
    state: &AppState,
    id: i64,
    filter: StateFilter,
    assigned: Option<bool>,
) -> AppResult<Vec<EndpointTokenOut>> {
    let now = state.clock.now();
    read(state, move |conn| {
        store::endpoints::find(conn, id).map_err(missing("endpoint"))?;
        let maps = store::mappings::of_endpoint(conn, id)?;
        let tokens = store::tokens::list(conn, filter)?;
        let mut out = Vec::new();
        for t in tokens {
            let mappings: BTreeMap<String, bool> = maps
                .iter()
                .filter(|m| m.token_id == t.id)
                .map(|m| (m.method.as_str().to_owned(), m.enabled))
                .collect();
            if assigned.is_some_and(|a| a == mappings.is_empty()) {
                continue;
            }
            out.push(EndpointTokenOut {
                token: TokenOut::at(t, now),
                mappings,
            });
        }
        Ok(out)
    })
    .await
}
