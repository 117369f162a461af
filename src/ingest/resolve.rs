//! Resolving access: the access generation (read once per round of requests), then
//! the access cache at that generation, then — on a miss — one named store query
//! for the endpoint and one for the credential's facts (`store::access::credential`).
//! A missing or malformed token needs no lookup at all.

use std::sync::Arc;

use crate::access_cache::{AccessCache, CredentialFacts, CredentialKey};
use crate::db::DbConn;
use crate::domain::access::Presented;
use crate::domain::contract::Contract;
use crate::domain::endpoint::Method;
use crate::domain::token::{TokenHash, TokenValue};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::endpoints::EndpointRow;

/// The endpoint and what the presented token is on it.
pub struct Resolved {
    pub endpoint: Arc<EndpointRow>,
    pub credential: CredentialFacts,
}

/// What was presented, as far as it can be known without a lookup.
#[derive(Clone)]
pub enum Presentation {
    Missing,
    Malformed,
    Token(TokenValue),
}

impl Presentation {
    pub fn of(text: Option<&str>) -> Self {
        match text {
            None => Presentation::Missing,
            Some(t) => TokenValue::parse(t).map_or(Presentation::Malformed, Presentation::Token),
        }
    }
}

/// The endpoint named `slug` (`None`: there is none) and what `presented` is on it
/// for `method`, as of an access generation read after this request arrived.
pub async fn resolve(
    state: &AppState,
    slug: &str,
    method: Method,
    presented: &Presentation,
) -> AppResult<Option<Resolved>> {
    let generation = state.access_generation.current().await?;
    let cache = &state.access_cache;
    if let Some(found) = cached(cache, generation, slug, method, presented) {
        state.metrics.access_cache(true);
        return Ok(found);
    }
    state.metrics.access_cache(false);
    let (cache, slug, presented) = (cache.clone(), slug.to_owned(), presented.clone());
    state
        .db(move |conn| load(conn, &cache, generation, &slug, method, &presented))
        .await
}

/// Both facts from the cache at `generation`, or `None` when one is missing there.
fn cached(
    cache: &AccessCache,
    generation: i64,
    slug: &str,
    method: Method,
    presented: &Presentation,
) -> Option<Option<Resolved>> {
    let Some(endpoint) = cache.peek_endpoint(generation, slug)? else {
        return Some(None);
    };
    let credential = match without_lookup(endpoint.id, method, presented) {
        Ok(facts) => facts,
        Err((key, _)) => cache.peek_credential(generation, &key)?,
    };
    Some(Some(Resolved {
        endpoint,
        credential,
    }))
}

/// Both facts from the database (cached on the way at `generation`).
fn load(
    conn: &mut DbConn,
    cache: &AccessCache,
    generation: i64,
    slug: &str,
    method: Method,
    presented: &Presentation,
) -> AppResult<Option<Resolved>> {
    let Some(endpoint) = cache.endpoint(generation, slug, || {
        store::endpoints::find_by_slug(conn, slug)
    })?
    else {
        return Ok(None);
    };
    let credential = match without_lookup(endpoint.id, method, presented) {
        Ok(facts) => facts,
        Err((key, hash)) => cache.credential(generation, key, || {
            store::access::credential(conn, &hash, endpoint.id, method).map(Arc::new)
        })?,
    };
    Ok(Some(Resolved {
        endpoint,
        credential,
    }))
}

/// A missing or malformed token needs no lookup: its facts. Otherwise the cache key
/// of what the presented token is on (`endpoint_id`, `method`), and its hash.
fn without_lookup(
    endpoint_id: i64,
    method: Method,
    presented: &Presentation,
) -> Result<CredentialFacts, (CredentialKey, TokenHash)> {
    static MISSING: std::sync::OnceLock<CredentialFacts> = std::sync::OnceLock::new();
    static MALFORMED: std::sync::OnceLock<CredentialFacts> = std::sync::OnceLock::new();
    match presented {
        Presentation::Malformed => Ok(MALFORMED
            .get_or_init(|| Arc::new((Presented::Malformed, None)))
            .clone()),
        Presentation::Missing => Ok(MISSING
            .get_or_init(|| Arc::new((Presented::Missing, None)))
            .clone()),
        Presentation::Token(value) => {
            let hash = value.hash();
            Err(((endpoint_id, method, hash.to_array()), hash))
        }
    }
}

/// Schema version `id` compiled: from the cache, or read and compiled once (off the
/// request's thread) and kept.
pub async fn contract(state: &AppState, id: i64) -> AppResult<Arc<Contract>> {
    if let Some(hit) = state.access_cache.peek_contract(id) {
        return Ok(hit);
    }
    let row = state
        .db(move |conn| Ok(store::schemas::find(conn, id)?))
        .await?;
    let compiled = actix_web::web::block(move || {
        let schema: serde_json::Value =
            serde_json::from_str(&row.schema).map_err(|e| e.to_string())?;
        Contract::new(row.id, row.mode, &schema)
    })
    .await?
    .map_err(|e| {
        // It compiled when it was saved; a newer validator may disagree.
        tracing::error!(schema_version = id, error = %e, "a stored schema no longer compiles");
        AppError::Internal
    })?;
    state.access_cache.keep_contract(compiled.clone());
    Ok(compiled)
}
