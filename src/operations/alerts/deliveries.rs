//! A target's deliveries with every attempt, and the test event an admin sends by
//! hand to try a target.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::send::{self, lease_for, new_lease};
use crate::domain::event::{Event, EventKind};
use crate::domain::page::Page;
use crate::domain::user::Actor;
use crate::error::{missing, AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::alerts::{AttemptRow, DeliveryRow, NewDelivery};

/// One try at a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptOut {
    pub at: DateTime<Utc>,
    /// The HTTP status the target answered with; none when it did not answer.
    pub status: Option<i32>,
    pub latency_ms: i64,
    /// What went wrong, when it did.
    pub error: Option<String>,
}

impl From<AttemptRow> for AttemptOut {
    fn from(a: AttemptRow) -> Self {
        Self {
            at: a.at.and_utc(),
            status: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
        }
    }
}

/// One event's delivery to a target.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: i64,
    pub event_id: i64,
    /// The event's kind (the body's `type`).
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: EventKind,
    /// `pending` (tried again at `next_attempt_at`), `delivered` or `failed`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptOut>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryOut>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next: Option<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Deliveries older than this one (the `next` of the page before).
    pub before: Option<i64>,
    /// At most this many (1 to 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

fn with_attempts(rows: Vec<DeliveryRow>, attempts: Vec<AttemptRow>) -> Vec<DeliveryOut> {
    rows.into_iter()
        .map(|d| DeliveryOut {
            id: d.id,
            event_id: d.event_id,
            kind: d.kind,
            state: d.state.as_str().to_owned(),
            created_at: d.created_at.and_utc(),
            next_attempt_at: (d.state == crate::domain::alert::DeliveryState::Pending)
                .then(|| d.next_attempt_at.and_utc()),
            finished_at: d.finished_at.map(|t| t.and_utc()),
            attempts: attempts
                .iter()
                .filter(|a| a.delivery_id == d.id)
                .cloned()
                .map(AttemptOut::from)
                .collect(),
        })
        .collect()
}

/// Target `id`'s deliveries, newest first, with their attempts.
pub async fn list(state: &AppState, id: i64, q: DeliveryQuery) -> AppResult<DeliveryPage> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation("limit", "must be 1 to 100"));
    }
    let page = super::read(state, move |conn| {
        store::alerts::find_target(conn, id).map_err(missing("alert target"))?;
        let rows = store::alerts::deliveries(conn, id, q.before, Page::<()>::fetch(limit))?;
        let page = Page::of(rows, limit, |d| d.id);
        let ids: Vec<i64> = page.items.iter().map(|d| d.id).collect();
        let attempts = store::alerts::attempts(conn, &ids)?;
        Ok(Page {
            items: with_attempts(page.items, attempts),
            next: page.next,
        })
    })
    .await?;
    Ok(DeliveryPage {
        deliveries: page.items,
        next: page.next,
    })
}

/// One delivery of target `target` with its attempts.
async fn one(state: &AppState, target: i64, delivery: i64) -> AppResult<DeliveryOut> {
    super::read(state, move |conn| {
        let rows = store::alerts::deliveries(conn, target, Some(delivery + 1), 1)?;
        let attempts = store::alerts::attempts(conn, &[delivery])?;
        with_attempts(rows, attempts)
            .pop()
            .filter(|d| d.id == delivery)
            .ok_or_else(|| AppError::not_found("delivery"))
    })
    .await
}

/// Sends a `test` event to target `id` now (whether or not it is enabled), and
/// returns its delivery with the attempt made. A failed test is retried like any
/// delivery. The event is raised with a subject of its own and handed on at once,
/// so it never reaches another target.
pub async fn send_test(state: &AppState, actor: &Actor, id: i64) -> AppResult<DeliveryOut> {
    let now = state.clock.now();
    let lease = new_lease();
    let until = now + lease_for(state.settings.alerts.timeout);
    let by = actor.username.clone();
    let claimed = lease.clone();
    let out = state
        .db(move |conn| {
            conn.write_transaction(|conn| -> AppResult<_> {
                let t = store::alerts::find_target(conn, id).map_err(missing("alert target"))?;
                let event = Event {
                    kind: EventKind::Test,
                    subject: format!("alert_target:{id}:{}", new_lease()),
                    since: now,
                    data: serde_json::json!({
                        "target": {"id": t.id, "name": t.name},
                        "sent_by": by,
                        "message": "A test event from Portico: this target receives its alerts.",
                    }),
                };
                let event_id =
                    store::events::raise(conn, &event, now)?.ok_or(AppError::Internal)?;
                store::events::claim_dispatch(conn, event_id, now)?;
                let d = NewDelivery {
                    target_id: id,
                    event_id,
                    at: now,
                    lease: Some((&claimed, until)),
                };
                let delivery = store::alerts::insert_delivery(conn, d)?;
                let mut out = store::alerts::outgoing(conn, &[delivery])?;
                out.pop().ok_or(AppError::Internal)
            })
        })
        .await?;
    let delivery = out.delivery_id;
    send::deliver(state, out, lease).await?;
    one(state, id, delivery).await
}
