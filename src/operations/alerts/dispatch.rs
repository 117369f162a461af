//! The dispatcher, one per instance: it hands new events to the targets subscribed
//! to their kind (one delivery per event and target) and sends due deliveries.
//! Everything it knows is in the database, so a restart loses nothing, and every
//! step is claimed there first, so on several instances an event is fanned out
//! once and a delivery is sent by one instance at a time.

use std::sync::Arc;

use actix_web::web;
use chrono::NaiveDateTime;
use tokio::sync::Semaphore;

use super::send::{self, lease_for, new_lease};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store;
use crate::store::alerts::{NewDelivery, Outgoing};

/// Events fanned out per round.
const EVENTS_PER_ROUND: i64 = 100;

/// Hands the oldest undispatched events to their targets: each in its own short
/// transaction that claims it first (another instance that claimed it already
/// makes this a no-op). Returns the deliveries created.
pub fn fan_out(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<usize> {
    let mut created = 0;
    for event in store::events::undispatched(conn, EVENTS_PER_ROUND)? {
        created += conn.write_transaction(|conn| -> AppResult<usize> {
            if !store::events::claim_dispatch(conn, event.id, now)? {
                return Ok(0);
            }
            let mut n = 0;
            for (target_id, events) in store::alerts::subscriptions(conn)? {
                if events.contains(event.kind) {
                    let d = NewDelivery {
                        target_id,
                        event_id: event.id,
                        at: now,
                        lease: None,
                    };
                    store::alerts::insert_delivery(conn, d)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
    }
    Ok(created)
}

/// Claims up to `limit` due deliveries for this instance: the claim's name and
/// what sending each needs.
fn claim(
    conn: &mut DbConn,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> AppResult<(String, Vec<Outgoing>)> {
    let lease = new_lease();
    let due = store::alerts::due(conn, now, limit)?;
    if due.is_empty() {
        return Ok((lease, Vec::new()));
    }
    let ids = conn.write_transaction(|conn| -> AppResult<Vec<i64>> {
        Ok(store::alerts::claim(conn, &due, now, &lease, until)?)
    })?;
    if ids.is_empty() {
        return Ok((lease, Vec::new()));
    }
    Ok((lease, store::alerts::outgoing(conn, &ids)?))
}

/// One round: fan out new events, then start sending what is due, as many at once
/// as `places` allows (each send holds its place until its attempt is recorded).
pub async fn round(state: &web::Data<AppState>, places: &Arc<Semaphore>) -> AppResult<()> {
    let now = state.clock.now();
    let created = state.db(move |conn| fan_out(conn, now)).await?;
    if created > 0 {
        tracing::debug!(deliveries = created, "alert events fanned out");
    }
    let free = places.available_permits();
    if free == 0 {
        return Ok(());
    }
    let until = now + lease_for(state.settings.alerts.timeout);
    let limit = i64::try_from(free).unwrap_or(1);
    let (lease, due) = state.db(move |conn| claim(conn, now, until, limit)).await?;
    for out in due {
        let Ok(place) = places.clone().try_acquire_owned() else {
            break;
        };
        let (state, lease) = (state.clone(), lease.clone());
        tokio::spawn(async move {
            let _place = place;
            let id = out.delivery_id;
            if let Err(e) = send::deliver(&state, out, lease).await {
                tracing::warn!(delivery = id, error = %e, "an alert attempt could not be recorded");
            }
        });
    }
    Ok(())
}

/// Runs [`round`] every `alerts.poll`, for as long as the server runs.
pub async fn dispatch_forever(state: web::Data<AppState>) {
    let places = Arc::new(Semaphore::new(state.settings.alerts.concurrency.max(1)));
    let mut tick = tokio::time::interval(state.settings.alerts.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = round(&state, &places).await {
            tracing::warn!(error = %e, "alert dispatch round failed");
        }
    }
}
