//! The periodic health check: reads the running aggregates, decides which state
//! changes happened and raises one event per change (`store::events::raise`: the
//! same change noticed by two checks or two instances is written once). A silence
//! is marked on the mapping's activity row by a conditional update, so a recovery
//! is raised only after its silence was, and once.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::DbConn;
use crate::domain::event::{Event, EventKind};
use crate::domain::health::{
    self, is_overdue, overdue_at, token_subject, window_of, MappingKey, EXPIRING_DAYS, SPIKE_WINDOW,
};
use crate::error::AppResult;
use crate::operations::read;
use crate::state::AppState;
use crate::store;
use crate::store::health::{Expected, Spike};

/// Expired tokens are looked at for this long after their expiry (an instance
/// down for less than this still raises `token_expired`).
const EXPIRED_LOOKBACK: TimeDelta = TimeDelta::days(7);

/// What one check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    /// Mappings overdue now.
    pub silent: i64,
    /// Active tokens expiring within 14 days (not yet expired).
    pub expiring: i64,
    /// Events this check wrote (others were already known).
    pub raised: usize,
}

/// A change to write.
#[derive(Debug)]
enum Step {
    /// Mark `key` silent (unless a call came after `last_call`), then raise.
    Silent(MappingKey, Option<NaiveDateTime>, Event),
    /// End the silence that began at `.1` and was broken at `.2`, then raise.
    Recovered(MappingKey, NaiveDateTime, NaiveDateTime, Event),
    Raise(Event),
}

fn names(token: (i64, &str), endpoint: (i64, &str)) -> (serde_json::Value, serde_json::Value) {
    (
        json!({"id": token.0, "name": token.1}),
        json!({"id": endpoint.0, "slug": endpoint.1}),
    )
}

fn rfc(t: NaiveDateTime) -> String {
    crate::clock::rfc3339(t)
}

/// The silence or recovery of one expected mapping, if any.
fn mapping_step(e: &Expected, now: NaiveDateTime) -> Option<Step> {
    let key = e.key();
    let (token, endpoint) = names(
        (e.token_id, &e.token_name),
        (e.endpoint_id, &e.endpoint_slug),
    );
    if let (Some(since), Some(resumed)) = (e.silent_since, e.resumed_at) {
        let event = Event {
            kind: EventKind::MappingRecovered,
            subject: key.subject(),
            since: resumed,
            data: json!({"token": token, "endpoint": endpoint, "method": e.method,
                "silent_since": rfc(since), "resumed_at": rfc(resumed)}),
        };
        return Some(Step::Recovered(key, since, resumed, event));
    }
    let every = i64::from(e.expect_every_seconds);
    let expected_since = e.expect_since.unwrap_or(e.created_at);
    let overdue = overdue_at(every, expected_since, e.last_call_at);
    if e.silent_since.is_some() || !is_overdue(overdue, now) {
        return None;
    }
    let event = Event {
        kind: EventKind::MappingSilent,
        subject: key.subject(),
        since: overdue,
        data: json!({"token": token, "endpoint": endpoint, "method": e.method,
            "expect_every_seconds": every,
            "last_call_at": e.last_call_at.map(rfc), "silent_since": rfc(overdue)}),
    };
    Some(Step::Silent(key, e.last_call_at, event))
}

fn spike_event(s: &Spike, threshold: i64) -> Event {
    let key = MappingKey {
        token_id: s.token_id,
        endpoint_id: s.endpoint_id,
        method: s.method,
    };
    let (token, endpoint) = names(
        (s.token_id, &s.token_name),
        (s.endpoint_id, &s.endpoint_slug),
    );
    Event {
        kind: EventKind::RefusalsSpike,
        subject: key.subject(),
        since: s.window_start,
        data: json!({"token": token, "endpoint": endpoint, "method": s.method,
            "window_start": rfc(s.window_start), "window_seconds": SPIKE_WINDOW.num_seconds(),
            "refusals": s.refusals, "threshold": threshold}),
    }
}

fn token_event(id: i64, name: &str, expires_at: NaiveDateTime, now: NaiveDateTime) -> Event {
    let token = json!({"id": id, "name": name});
    match health::expiry(Some(expires_at), now) {
        health::Expiry::Expired => Event {
            kind: EventKind::TokenExpired,
            subject: token_subject(id),
            since: expires_at,
            data: json!({"token": token, "expires_at": rfc(expires_at)}),
        },
        _ => Event {
            kind: EventKind::TokenExpiring,
            subject: token_subject(id),
            since: expires_at - TimeDelta::days(EXPIRING_DAYS),
            data: json!({"token": token, "expires_at": rfc(expires_at),
                "days_left": (expires_at - now).num_days()}),
        },
    }
}

/// What the check reads.
struct Seen {
    expected: Vec<Expected>,
    spikes: Vec<Spike>,
    tokens: Vec<(i64, String, NaiveDateTime)>,
}

fn look(conn: &mut DbConn, now: NaiveDateTime, threshold: i64) -> AppResult<Seen> {
    Ok(Seen {
        expected: store::health::expected(conn)?,
        spikes: store::health::spikes(conn, window_of(now) - SPIKE_WINDOW, threshold)?,
        tokens: store::health::expiring_tokens(
            conn,
            now - EXPIRED_LOOKBACK,
            now + TimeDelta::days(EXPIRING_DAYS),
        )?,
    })
}

fn apply(conn: &mut DbConn, steps: Vec<Step>, now: NaiveDateTime) -> AppResult<usize> {
    let mut raised = 0;
    for step in steps {
        let event = match step {
            Step::Silent(key, last_call, event) => {
                if !store::activity::mark_silent(conn, &key, last_call, event.since)? {
                    continue;
                }
                event
            }
            Step::Recovered(key, since, resumed, event) => {
                if !store::activity::mark_recovered(conn, &key, since, resumed)? {
                    continue;
                }
                event
            }
            Step::Raise(event) => event,
        };
        if store::events::raise(conn, &event, now)?.is_some() {
            raised += 1;
        }
    }
    Ok(raised)
}

/// One check at the state's clock: the state changes since the last one become
/// events; the gauges are set.
pub async fn run(state: &AppState) -> AppResult<Checked> {
    if let Err(e) = state.activity.flush(&state.writer).await {
        tracing::warn!(error = %e, "health check without this instance's latest counts");
    }
    let now = state.clock.now();
    let threshold = state.settings.refusals_spike_threshold.max(1);
    let seen = read(state, move |conn| look(conn, now, threshold)).await?;
    let mut checked = Checked::default();
    let mut steps: Vec<Step> = Vec::new();
    for e in &seen.expected {
        let overdue = overdue_at(
            i64::from(e.expect_every_seconds),
            e.expect_since.unwrap_or(e.created_at),
            e.last_call_at,
        );
        checked.silent += i64::from(is_overdue(overdue, now));
        steps.extend(mapping_step(e, now));
    }
    steps.extend(
        seen.spikes
            .iter()
            .map(|s| Step::Raise(spike_event(s, threshold))),
    );
    for (id, name, expires_at) in &seen.tokens {
        checked.expiring += i64::from(*expires_at > now);
        steps.push(Step::Raise(token_event(*id, name, *expires_at, now)));
    }
    if !steps.is_empty() {
        checked.raised = state
            .writer
            .write(move |conn| apply(conn, steps, now))
            .await?;
    }
    state.metrics.health(checked.silent, checked.expiring);
    Ok(checked)
}

/// Runs [`run`] every `health_check_interval`.
pub async fn check_forever(state: actix_web::web::Data<AppState>) {
    let mut tick = tokio::time::interval(state.settings.health_check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run(&state).await {
            Ok(c) if c.raised > 0 => {
                tracing::info!(raised = c.raised, "health check raised events")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "health check failed"),
        }
    }
}
