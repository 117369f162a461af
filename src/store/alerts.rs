//! Alert targets, their deliveries (one per event and target) and every attempt.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{alert_attempts, alert_deliveries, alert_targets, events};
use crate::db::DbConn;
use crate::domain::alert::{DeliveryState, EventSet};
use crate::domain::event::EventKind;

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = alert_targets)]
pub struct TargetRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub events: EventSet,
    pub enabled: bool,
    pub secret_sealed: Vec<u8>,
    pub secret_hint: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

crate::debug_redacting!(TargetRow { id, name, url, events, enabled, secret_hint, created_by, created_at, updated_at } secret { secret_sealed });

#[derive(Insertable)]
#[diesel(table_name = alert_targets)]
pub struct NewTarget<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub events: &'a EventSet,
    pub enabled: bool,
    pub secret_sealed: &'a [u8],
    pub secret_hint: &'a str,
    pub created_by: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The settings an update changes (`None`: kept).
#[derive(Default, AsChangeset)]
#[diesel(table_name = alert_targets)]
pub struct TargetChanges<'a> {
    pub name: Option<&'a str>,
    pub url: Option<&'a str>,
    pub events: Option<&'a EventSet>,
    pub enabled: Option<bool>,
    pub secret_sealed: Option<&'a [u8]>,
    pub secret_hint: Option<&'a str>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn insert_target(conn: &mut DbConn, new: NewTarget<'_>) -> QueryResult<TargetRow> {
    let id: i64 = diesel::insert_into(alert_targets::table)
        .values(&new)
        .returning(alert_targets::id)
        .get_result(conn)?;
    find_target(conn, id)
}

pub fn find_target(conn: &mut DbConn, id: i64) -> QueryResult<TargetRow> {
    alert_targets::table
        .find(id)
        .select(TargetRow::as_select())
        .first(conn)
}

/// Every target, by name.
pub fn list_targets(conn: &mut DbConn) -> QueryResult<Vec<TargetRow>> {
    alert_targets::table
        .order((alert_targets::name, alert_targets::id))
        .select(TargetRow::as_select())
        .load(conn)
}

/// The enabled targets and the kinds each subscribes to.
pub fn subscriptions(conn: &mut DbConn) -> QueryResult<Vec<(i64, EventSet)>> {
    alert_targets::table
        .filter(alert_targets::enabled.eq(true))
        .select((alert_targets::id, alert_targets::events))
        .load(conn)
}

/// Changes target `id`: the number of rows changed (0: no such target).
pub fn update_target(
    conn: &mut DbConn,
    id: i64,
    changes: &TargetChanges<'_>,
) -> QueryResult<usize> {
    diesel::update(alert_targets::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Deletes target `id` with its deliveries and their attempts.
pub fn delete_target(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(alert_targets::table.find(id)).execute(conn)
}

/// Deliveries per target and state: `(target, state, count)`.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(i64, DeliveryState, i64)>> {
    alert_deliveries::table
        .group_by((alert_deliveries::target_id, alert_deliveries::state))
        .select((
            alert_deliveries::target_id,
            alert_deliveries::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)
}

/// A delivery to create: for `event` to `target`, due at `at`; `lease` when the
/// caller sends it itself at once.
pub struct NewDelivery<'a> {
    pub target_id: i64,
    pub event_id: i64,
    pub at: NaiveDateTime,
    pub lease: Option<(&'a str, NaiveDateTime)>,
}

pub fn insert_delivery(conn: &mut DbConn, d: NewDelivery<'_>) -> QueryResult<i64> {
    use alert_deliveries as ad;
    diesel::insert_into(ad::table)
        .values((
            ad::target_id.eq(d.target_id),
            ad::event_id.eq(d.event_id),
            ad::state.eq(DeliveryState::Pending),
            ad::attempts.eq(0),
            ad::created_at.eq(d.at),
            ad::next_attempt_at.eq(d.at),
            ad::lease.eq(d.lease.map(|(l, _)| l)),
            ad::leased_until.eq(d.lease.map(|(_, u)| u)),
        ))
        .returning(ad::id)
        .get_result(conn)
}

/// Up to `limit` pending deliveries due at `now` to enabled targets that no
/// instance holds, the longest waiting first (a read: [`claim`] takes them).
pub fn due(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<i64>> {
    use alert_deliveries as ad;
    let enabled = alert_targets::table
        .filter(alert_targets::enabled.eq(true))
        .select(alert_targets::id);
    ad::table
        .filter(ad::state.eq(DeliveryState::Pending))
        .filter(ad::next_attempt_at.le(now))
        .filter(ad::leased_until.is_null().or(ad::leased_until.lt(now)))
        .filter(ad::target_id.eq_any(enabled))
        .order((ad::next_attempt_at, ad::id))
        .limit(limit)
        .select(ad::id)
        .load(conn)
}

/// Takes those of deliveries `ids` that are still pending and free at `now`, for
/// `lease` until `until`: the ids taken. Run in a write transaction; on
/// PostgreSQL the guard is checked again on each row as it is updated, so of two
/// instances claiming at once each row goes to one.
pub fn claim(
    conn: &mut DbConn,
    ids: &[i64],
    now: NaiveDateTime,
    lease: &str,
    until: NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    use alert_deliveries as ad;
    diesel::update(
        ad::table
            .filter(ad::id.eq_any(ids))
            .filter(ad::state.eq(DeliveryState::Pending))
            .filter(ad::leased_until.is_null().or(ad::leased_until.lt(now))),
    )
    .set((ad::lease.eq(lease), ad::leased_until.eq(until)))
    .execute(conn)?;
    ad::table
        .filter(ad::id.eq_any(ids))
        .filter(ad::lease.eq(lease))
        .select(ad::id)
        .load(conn)
}

/// What sending one delivery needs.
#[derive(Clone, Queryable)]
pub struct Outgoing {
    pub delivery_id: i64,
    pub created_at: NaiveDateTime,
    pub attempts: i32,
    pub url: String,
    pub secret_sealed: Vec<u8>,
    pub kind: EventKind,
    pub event_at: NaiveDateTime,
    pub payload: String,
}

crate::debug_redacting!(Outgoing { delivery_id, created_at, attempts, url, kind, event_at } secret { secret_sealed, payload });

/// The deliveries `ids` with their target and event.
pub fn outgoing(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Outgoing>> {
    use alert_deliveries as ad;
    ad::table
        .inner_join(alert_targets::table)
        .inner_join(events::table)
        .filter(ad::id.eq_any(ids))
        .order(ad::id)
        .select((
            ad::id,
            ad::created_at,
            ad::attempts,
            alert_targets::url,
            alert_targets::secret_sealed,
            events::kind,
            events::at,
            events::payload,
        ))
        .load(conn)
}

/// One attempt's outcome as it is recorded.
pub struct AttemptRecord<'a> {
    pub at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    /// Where the delivery stands after it, and when it is tried next.
    pub state: DeliveryState,
    pub next_attempt_at: NaiveDateTime,
}

/// Records an attempt at delivery `id` made under `lease` and releases it; nothing
/// when the lease was lost (it ran out and another instance took the delivery).
/// Whether it was recorded.
pub fn record_attempt(
    conn: &mut DbConn,
    id: i64,
    lease: &str,
    a: &AttemptRecord<'_>,
) -> QueryResult<bool> {
    use alert_deliveries as ad;
    let finished = (a.state != DeliveryState::Pending).then_some(a.at);
    let n = diesel::update(ad::table.find(id).filter(ad::lease.eq(lease)))
        .set((
            ad::state.eq(a.state),
            ad::attempts.eq(ad::attempts + 1),
            ad::next_attempt_at.eq(a.next_attempt_at),
            ad::lease.eq(None::<String>),
            ad::leased_until.eq(None::<NaiveDateTime>),
            ad::finished_at.eq(finished),
        ))
        .execute(conn)?;
    if n == 0 {
        return Ok(false);
    }
    diesel::insert_into(alert_attempts::table)
        .values((
            alert_attempts::delivery_id.eq(id),
            alert_attempts::at.eq(a.at),
            alert_attempts::status_code.eq(a.status_code),
            alert_attempts::latency_ms.eq(a.latency_ms),
            alert_attempts::error.eq(a.error),
        ))
        .execute(conn)?;
    Ok(true)
}

/// A delivery as listed under its target.
#[derive(Debug, Clone, Queryable)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: i64,
    pub kind: EventKind,
    pub state: DeliveryState,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable)]
pub struct AttemptRow {
    pub id: i64,
    pub delivery_id: i64,
    pub at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// Target `target`'s deliveries, newest first, below id `before`, at most `limit`.
pub fn deliveries(
    conn: &mut DbConn,
    target: i64,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    use alert_deliveries as ad;
    let mut q = ad::table
        .inner_join(events::table)
        .filter(ad::target_id.eq(target))
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(ad::id.lt(before));
    }
    q.order(ad::id.desc())
        .limit(limit)
        .select((
            ad::id,
            ad::event_id,
            events::kind,
            ad::state,
            ad::attempts,
            ad::created_at,
            ad::next_attempt_at,
            ad::finished_at,
        ))
        .load(conn)
}

/// The attempts at deliveries `ids`, oldest first.
pub fn attempts(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<AttemptRow>> {
    alert_attempts::table
        .filter(alert_attempts::delivery_id.eq_any(ids))
        .order((alert_attempts::delivery_id, alert_attempts::id))
        .select((
            alert_attempts::id,
            alert_attempts::delivery_id,
            alert_attempts::at,
            alert_attempts::status_code,
            alert_attempts::latency_ms,
            alert_attempts::error,
        ))
        .load(conn)
}

/// Removes deliveries finished before `before` (with their attempts) and any
/// attempt made before it: the number of attempts and deliveries removed.
pub fn prune(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<(usize, usize)> {
    use alert_deliveries as ad;
    let attempts = diesel::delete(alert_attempts::table.filter(alert_attempts::at.lt(before)))
        .execute(conn)?;
    let deliveries = diesel::delete(ad::table.filter(ad::finished_at.lt(before))).execute(conn)?;
    Ok((attempts, deliveries))
}
