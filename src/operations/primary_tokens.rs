//! Primary tokens: one per method of a `token` endpoint, generated with it and
//! regenerated on demand (the old value stops at once).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{change, Tx};
use crate::domain::audit::Action;
use crate::domain::endpoint::{primary_methods, Method};
use crate::domain::token::TokenValue;
use crate::domain::user::Actor;
use crate::error::{missing, AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::endpoints::EndpointRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct RegeneratedPrimary {
    pub method: Method,
    /// The new value: shown once.
    pub token: String,
}

/// Generates the primary tokens `endpoint`'s settings call for and lacks, removes
/// those they no longer call for; returns the generated values by method. Part of
/// the caller's transaction (which says access changed).
pub fn ensure(tx: &mut Tx<'_>, endpoint: &EndpointRow) -> AppResult<BTreeMap<String, String>> {
    let wanted = primary_methods(endpoint.auth, endpoint.allow_delete);
    let existing = store::endpoints::primary_tokens_of(tx.conn, endpoint.id)?;
    let mut fresh = BTreeMap::new();
    for &m in Method::ALL {
        let has = existing.iter().any(|p| p.method == m);
        if wanted.contains(&m) && !has {
            let value = TokenValue::generate();
            store::endpoints::put_primary_token(
                tx.conn,
                endpoint.id,
                m,
                &value.hash(),
                &value.hint(),
                tx.now,
            )?;
            fresh.insert(m.as_str().to_owned(), value.expose().to_owned());
        } else if !wanted.contains(&m) && has {
            store::endpoints::delete_primary_token(tx.conn, endpoint.id, m)?;
        }
    }
    Ok(fresh)
}

/// Replaces one primary token of endpoint `id`; the new value is in the result, once.
pub async fn regenerate(
    state: &AppState,
    actor: &Actor,
    id: i64,
    method: Method,
) -> AppResult<RegeneratedPrimary> {
    let value = TokenValue::generate();
    let (hash, hint) = (value.hash(), value.hint());
    change(state, actor, move |tx| {
        let e = store::endpoints::find(tx.conn, id).map_err(missing("endpoint"))?;
        if !primary_methods(e.auth, e.allow_delete).contains(&method) {
            // auth 'none', or DELETE while deleting is off
            return Err(AppError::not_found("primary token"));
        }
        store::endpoints::put_primary_token(tx.conn, id, method, &hash, &hint, tx.now)?;
        tx.audit(
            Action::PrimaryTokenRegenerate,
            Some(id),
            serde_json::json!({"method": method, "hint": hint}),
        )?;
        tx.access_changed();
        Ok(())
    })
    .await?;
    Ok(RegeneratedPrimary {
        method,
        token: value.expose().to_owned(),
    })
}
