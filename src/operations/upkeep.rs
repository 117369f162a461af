//! Upkeep: the database made ready at start (migrations, a first admin) and the
//! periodic sweep (records past retention, old idempotency keys, expired sessions).

use chrono::NaiveDateTime;

use super::retention::{self, Swept};
use crate::clock::Clock;
use crate::db::{self, DbConn, DbPool};
use crate::domain::record::IDEMPOTENCY_WINDOW;
use crate::domain::secret::Password;
use crate::domain::token::TokenValue;
use crate::domain::user::Role;
use crate::domain::{health, password};
use crate::error::AppResult;
use crate::state::AppState;
use crate::store;

/// Applies migrations and makes sure an admin exists. Returns the generated
/// password when this call created the first admin without one being given.
pub fn prepare_database(
    pool: &DbPool,
    admin_password: Option<Password>,
    clock: &Clock,
) -> anyhow::Result<Option<Password>> {
    let mut conn = pool.get()?;
    db::migrate(&mut conn)?;
    retention::prepare_around(&mut conn, clock.now().date())?;
    if store::users::count(&mut conn)? > 0 {
        return Ok(None);
    }
    let (password, generated) = match admin_password {
        Some(p) => (p, false),
        None => (
            Password::new(TokenValue::generate().expose()[..24].to_owned()),
            true,
        ),
    };
    let hash = password::hash(&password)?;
    store::users::insert(&mut conn, "admin", &hash, Role::Admin, clock.now())?;
    Ok(generated.then_some(password))
}

/// How long finished alert deliveries and attempts are kept (a delivery is
/// retried for at most a day, so its attempts stay bounded).
const ALERTS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// How long windows, blocks and failed sign-ins are kept (longer than any of them lasts).
const LIMITS_KEPT: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// One pass of upkeep without a call-log retention. Returns the number of records
/// removed.
pub fn sweep_once(conn: &mut DbConn, now: NaiveDateTime) -> AppResult<usize> {
    Ok(sweep(conn, now, 0)?.records_deleted)
}

/// One pass of upkeep: partitions ahead of need, retention (calls older than
/// `call_retention_days`, 0: kept; records per endpoint), old idempotency keys,
/// expired sessions, spent limit windows, health buckets past their day.
pub fn sweep(conn: &mut DbConn, now: NaiveDateTime, call_retention_days: u32) -> AppResult<Swept> {
    let swept = retention::sweep(conn, now, call_retention_days)?;
    store::idempotency::purge_older_than(conn, now - IDEMPOTENCY_WINDOW)?;
    store::users::purge_sessions(conn, now)?;
    store::limits::prune(conn, now - LIMITS_KEPT)?;
    store::alerts::prune(conn, now - ALERTS_KEPT)?;
    store::activity::prune(
        conn,
        health::hour_of(now) - chrono::TimeDelta::hours(health::HOURS_KEPT),
        health::window_of(now) - chrono::TimeDelta::hours(1),
    )?;
    Ok(swept)
}

/// Runs [`sweep`] every `sweep_interval`.
pub async fn sweep_forever(state: actix_web::web::Data<AppState>) {
    let mut tick = tokio::time::interval(state.settings.sweep_interval);
    let days = state.settings.call_retention_days;
    loop {
        tick.tick().await;
        let now = state.clock.now();
        match state.db(move |conn| sweep(conn, now, days)).await {
            Ok(swept) => {
                state.metrics.retention(
                    swept.records_deleted,
                    swept.calls_deleted,
                    swept.partitions_dropped,
                );
                if swept != Swept::default() {
                    tracing::info!(
                        partitions_dropped = swept.partitions_dropped,
                        calls_removed = swept.calls_deleted,
                        records_removed = swept.records_deleted,
                        "retention sweep"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
        }
    }
}
