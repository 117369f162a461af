//! Which application drifted from an endpoint's data contract, and since when: per
//! token, the share of its checked calls (in the view's filter) that did not conform.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::AppResult;
use crate::state::AppState;
use crate::store;
use crate::store::calls::{CallFilter, Matching};

/// One credential's conformance over the filtered calls.
#[derive(Debug, Serialize)]
pub struct TokenConformance {
    pub token_id: Option<i64>,
    /// The token's name, or the kind of credential (`primary`, `none`, `unknown`).
    pub name: String,
    pub checked: i64,
    pub failing: i64,
    /// `failing` of `checked`, in percent (one decimal).
    pub share: f64,
    pub first_failing: Option<DateTime<Utc>>,
    pub last_failing: Option<DateTime<Utc>>,
}

/// Per token, the worst share first; empty when no call in the filter was checked.
pub async fn by_token(state: &AppState, filter: CallFilter) -> AppResult<Vec<TokenConformance>> {
    let rows = crate::replica::viewer_read(state, move |conn| {
        let matching = Matching::resolve(conn, &filter)?;
        Ok(store::calls::conformance_by_token(conn, &matching)?)
    })
    .await?;
    let at = |s: Option<i64>| s.and_then(|s| DateTime::from_timestamp(s, 0));
    let mut out: Vec<TokenConformance> = rows
        .into_iter()
        .map(|r| TokenConformance {
            token_id: r.token_id,
            name: r.token_name.unwrap_or(r.token_kind),
            share: (r.failing as f64 * 1000.0 / r.checked.max(1) as f64).round() / 10.0,
            checked: r.checked,
            failing: r.failing,
            first_failing: at(r.first_failing),
            last_failing: at(r.last_failing),
        })
        .collect();
    out.sort_by(|a, b| b.share.total_cmp(&a.share).then(b.failing.cmp(&a.failing)));
    Ok(out)
}
