//! Pages of calls, newest first, and one call with its payload.

use serde::Serialize;
use utoipa::ToSchema;

use super::filter::CallQuery;
use super::why::{self, CausedBy};
use crate::domain::page::Page;
use crate::error::{missing, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::calls::{Call, CallFilter};

#[derive(Debug, Serialize, ToSchema)]
pub struct CallPage {
    pub calls: Vec<Call>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: Call,
    /// The stored record's payload, exactly as it was received (any JSON value),
    /// when the call has one that still exists.
    #[schema(value_type = Option<serde_json::Value>)]
    pub payload: Option<Box<serde_json::value::RawValue>>,
    /// For a refused call, the rule that refused it, naming the thing (e.g. "the POST
    /// mapping of shop-app onto /e/orders was switched off"), and whether that still
    /// holds now; `null` for a call that was not refused.
    pub why: Option<String>,
    /// For a refused call, the change that caused it: the newest audit entry at or
    /// before the call that set the refusing state; `null` when none did (or the
    /// call was not refused).
    pub caused_by: Option<CausedBy>,
}

/// The calls matching `q`, newest first, one page.
pub async fn page(state: &AppState, q: &CallQuery) -> AppResult<Page<Call>> {
    state.settle_calls().await?;
    let (filter, cursor, limit) = (q.filter.clone(), q.cursor, q.limit);
    let rows = crate::replica::viewer_read(state, move |conn| {
        Ok(store::calls::page(
            conn,
            &filter,
            cursor,
            Page::<()>::fetch(limit),
        )?)
    })
    .await?;
    Ok(Page::of(rows, limit, |c| c.id))
}

/// Up to `limit` calls newer than `filter.after_id`, newest first (the live tail).
pub async fn newer(state: &AppState, filter: CallFilter, limit: i64) -> AppResult<Vec<Call>> {
    state.settle_calls().await?;
    crate::replica::viewer_read(state, move |conn| {
        Ok(store::calls::page(conn, &filter, None, limit)?)
    })
    .await
}

/// One call with its record's payload (if it has one that still exists) and, when
/// it was refused, why.
pub async fn detail(state: &AppState, id: i64) -> AppResult<CallDetail> {
    state.settle_calls().await?;
    let (call, data, why) = crate::replica::viewer_read(state, move |conn| {
        let call = store::calls::find(conn, id).map_err(missing("call"))?;
        let data = match call.record_id {
            Some(r) => store::records::find_data(conn, r)?,
            None => None,
        };
        let why = why::explain(conn, &call)?;
        Ok((call, data, why))
    })
    .await?;
    // Passed through as stored: parsing it would round numbers beyond f64 (or drop
    // the payload for one out of its range).
    let payload = data.and_then(|d| serde_json::value::RawValue::from_string(d).ok());
    let (why, caused_by) = match why {
        Some(w) => (Some(w.why), w.caused_by),
        None => (None, None),
    };
    Ok(CallDetail {
        call,
        payload,
        why,
        caused_by,
    })
}
