//! Operations: what a user can do, independent of HTTP. `api/` (JSON) and `ui/`
//! (HTML) parse a request, call one operation and render its result; neither holds
//! a rule of its own.
//!
//! An operation takes validated domain values and the acting user, runs as one
//! transaction on the writer's management lane ([`change`]), writes its audit entry
//! and says explicitly when it changed access facts ([`Tx::access_changed`]): only
//! then are the ingest path's caches dropped, on every instance. Reads run on the
//! pool ([`read`]).

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod endpoints;
pub mod health;
pub mod impact;
pub mod input;
pub mod mappings;
pub mod primary_tokens;
pub mod retention;
pub mod schemas;
pub mod sessions;
pub mod token_policy;
pub mod tokens;
pub mod upkeep;
pub mod users;

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::domain::audit::Action;
use crate::domain::user::Actor;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store;

/// An operation's transaction: its connection, its moment, its actor.
pub struct Tx<'a> {
    pub conn: &'a mut DbConn,
    /// The moment of the change (one value for every row it writes).
    pub now: NaiveDateTime,
    actor: &'a str,
    access_changed: bool,
}

impl Tx<'_> {
    /// Who makes the change (their username).
    pub fn actor(&self) -> &str {
        self.actor
    }

    /// Records what the operation did, in its transaction.
    pub fn audit(
        &mut self,
        action: Action,
        target_id: Option<i64>,
        detail: serde_json::Value,
    ) -> AppResult<()> {
        let entry = store::audit::Entry {
            actor: self.actor,
            action,
            target_id,
            detail,
        };
        Ok(store::audit::record(self.conn, entry, self.now)?)
    }

    /// This change alters who may call what (an endpoint, token, mapping or primary
    /// token): the access generation is raised in the same transaction, so every
    /// instance drops its cached access facts before the next request decides.
    pub fn access_changed(&mut self) {
        self.access_changed = true;
    }
}

/// Runs `f` as one transaction on the writer's management lane and returns its
/// result once it has committed. A failure leaves nothing behind.
pub async fn change<T, F>(state: &AppState, actor: &Actor, f: F) -> AppResult<T>
where
    F: FnOnce(&mut Tx<'_>) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let now = state.clock.now();
    let actor = actor.username.clone();
    let (out, generation) = state
        .writer
        .write(move |conn| {
            let mut tx = Tx {
                conn,
                now,
                actor: &actor,
                access_changed: false,
            };
            let out = f(&mut tx)?;
            let generation = match tx.access_changed {
                true => Some(store::access::bump(tx.conn)?),
                false => None,
            };
            Ok((out, generation))
        })
        .await?;
    // Committed: readers of this process see it before the change is acknowledged.
    if let Some(n) = generation {
        state.access_generation.published(n);
    }
    Ok(out)
}

/// Runs a read on the pool's blocking threads.
pub async fn read<T, F>(state: &AppState, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    state.db(f).await
}
