//! Cached access facts of the ingest path (endpoints by slug and what a presented
//! token hash is on an (endpoint, method)) and of the management API (whose a
//! presented API key is).
//!
//! Every entry belongs to one access generation (`store::access`), which every change to
//! endpoints, tokens and mappings raises in its own transaction. A request reads the
//! generation first: when it is newer than the cache's, the cache is emptied before
//! anything is looked up, so a request sent after a change was acknowledged never
//! decides on facts from before it, on this instance or any other sharing the
//! database. Time-based rules (expiry, grace periods) are evaluated per request from
//! the cached facts, never cached as decisions. Only keys and tokens that exist are
//! cached; no secret is: entries are keyed by the hash, and an API key's entry holds
//! its id, expiry and user (no password hash).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::NaiveDateTime;

use crate::domain::access::Presented;
use crate::domain::contract::Contract;
use crate::domain::endpoint::Method;
use crate::domain::user::Actor;
use crate::store::endpoints::EndpointRow;

/// Beyond this many entries a map starts over (a flood of random tokens must not grow
/// memory without bound).
const MAX_ENTRIES: usize = 50_000;

/// What a token hash is on one endpoint and method: the credential, and the primary
/// token's id when it is one. Shared, so a hit copies a pointer.
pub type CredentialFacts = Arc<(Presented, Option<i64>)>;
/// (endpoint id, method, token hash).
pub type CredentialKey = (i64, Method, [u8; 32]);

/// What an existing API key is: its id, when it expires, and its user as an actor.
#[derive(Debug)]
pub struct ApiKeyFacts {
    pub key_id: i64,
    pub expires_at: Option<NaiveDateTime>,
    pub actor: Actor,
    /// When its use was last recorded, in seconds since the epoch (as loaded, then
    /// as this process records it).
    pub used_at: AtomicI64,
}

#[derive(Default)]
struct Inner {
    generation: Option<i64>,
    endpoints: HashMap<String, Option<Arc<EndpointRow>>>,
    credentials: HashMap<CredentialKey, CredentialFacts>,
    /// By the key's hash.
    api_keys: HashMap<[u8; 32], Arc<ApiKeyFacts>>,
    /// Compiled schemas by version id. A version never changes (a change is a new
    /// version, which the endpoint's row names), so these outlive generations.
    contracts: HashMap<i64, Arc<Contract>>,
}

/// Shared by every worker; cheap to clone.
#[derive(Clone, Default)]
pub struct AccessCache {
    inner: Arc<Mutex<Inner>>,
}

impl AccessCache {
    /// The endpoint named `slug` (or that there is none) at `generation`.
    pub fn endpoint<E>(
        &self,
        generation: i64,
        slug: &str,
        load: impl FnOnce() -> Result<Option<EndpointRow>, E>,
    ) -> Result<Option<Arc<EndpointRow>>, E> {
        if let Some(hit) = self.peek_endpoint(generation, slug) {
            return Ok(hit);
        }
        let loaded = load()?.map(Arc::new);
        if let Some(mut inner) = self.at(generation) {
            insert(&mut inner.endpoints, slug.to_owned(), loaded.clone());
        }
        Ok(loaded)
    }

    /// What `hash` is on (`endpoint_id`, `method`) at `generation`.
    pub fn credential<E>(
        &self,
        generation: i64,
        key: CredentialKey,
        load: impl FnOnce() -> Result<CredentialFacts, E>,
    ) -> Result<CredentialFacts, E> {
        if let Some(hit) = self.peek_credential(generation, &key) {
            return Ok(hit);
        }
        let loaded = load()?;
        if let Some(mut inner) = self.at(generation) {
            insert(&mut inner.credentials, key, loaded.clone());
        }
        Ok(loaded)
    }

    /// The endpoint named `slug` (or that there is none), if cached at `generation`.
    pub fn peek_endpoint(&self, generation: i64, slug: &str) -> Option<Option<Arc<EndpointRow>>> {
        self.at(generation)?.endpoints.get(slug).cloned()
    }

    /// What a token hash is on an endpoint and method, if cached at `generation`.
    pub fn peek_credential(&self, generation: i64, key: &CredentialKey) -> Option<CredentialFacts> {
        self.at(generation)?.credentials.get(key).cloned()
    }

    /// The API key hashing to `hash`, if cached at `generation`.
    pub fn peek_api_key(&self, generation: i64, hash: &[u8; 32]) -> Option<Arc<ApiKeyFacts>> {
        self.at(generation)?.api_keys.get(hash).cloned()
    }

    /// Keeps an existing API key's facts, loaded at `generation`.
    pub fn keep_api_key(&self, generation: i64, hash: [u8; 32], facts: Arc<ApiKeyFacts>) {
        if let Some(mut inner) = self.at(generation) {
            insert(&mut inner.api_keys, hash, facts);
        }
    }

    /// The compiled schema version `id`, if compiled before.
    pub fn peek_contract(&self, id: i64) -> Option<Arc<Contract>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.contracts.get(&id).cloned()
    }

    /// Keeps a compiled schema version (a few hundred at most are kept).
    pub fn keep_contract(&self, contract: Arc<Contract>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.contracts.len() >= 500 {
            inner.contracts.clear();
        }
        inner.contracts.insert(contract.id, contract);
    }

    /// The cache if it holds `generation`, after emptying it for a newer one; `None`
    /// when the caller read an older generation than the cache already holds (it then
    /// neither reads nor fills the cache).
    fn at(&self, generation: i64) -> Option<MutexGuard<'_, Inner>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.generation {
            Some(current) if current == generation => Some(inner),
            Some(current) if current > generation => None,
            _ => {
                inner.endpoints.clear();
                inner.credentials.clear();
                inner.api_keys.clear();
                inner.generation = Some(generation);
                Some(inner)
            }
        }
    }
}

fn insert<K: Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Presented;

    fn facts(cache: &AccessCache, generation: i64, loaded: &mut u32) -> CredentialFacts {
        cache
            .credential(generation, (1, Method::Post, [7; 32]), || {
                *loaded += 1;
                Ok::<_, ()>(Arc::new((Presented::Unknown, None)))
            })
            .unwrap()
    }

    #[test]
    fn a_newer_generation_empties_the_cache_and_an_older_one_bypasses_it() {
        let cache = AccessCache::default();
        let mut loaded = 0;
        facts(&cache, 5, &mut loaded);
        facts(&cache, 5, &mut loaded);
        assert_eq!(
            loaded, 1,
            "the second lookup at the same generation is a hit"
        );
        facts(&cache, 6, &mut loaded);
        assert_eq!(loaded, 2, "a newer generation loads again");
        facts(&cache, 5, &mut loaded);
        facts(&cache, 5, &mut loaded);
        assert_eq!(
            loaded, 4,
            "a reader of an older generation never uses the cache"
        );
        facts(&cache, 6, &mut loaded);
        assert_eq!(loaded, 4, "nor does it disturb the current one");
    }
}
