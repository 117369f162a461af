//! One attempt at a delivery: the signed POST, its outcome in our own words, and
//! the record of it (with the next attempt scheduled, or the delivery finished).
//! Runs off the request path; the database is touched only before and after the
//! request, in short transactions on the pool, never through the ingest writer.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::open_secret;
use crate::domain::alert::{self, DeliveryState};
use crate::error::AppResult;
use crate::state::AppState;
use crate::store;
use crate::store::alerts::{AttemptRecord, Outgoing};

/// How long a claim on a delivery lasts beyond the request's timeout: if the
/// instance sending it dies, another takes it over after this.
pub(super) fn lease_for(timeout: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(timeout * 2 + Duration::from_secs(30))
        .unwrap_or(chrono::TimeDelta::minutes(5))
}

/// A random name for one claim.
pub(super) fn new_lease() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// One client for every delivery: no redirects followed (a 3xx is a failure; a
/// signed body is not re-sent elsewhere), no cookies, the request timeout per call.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Portico/", env!("CARGO_PKG_VERSION"), " (alerts)"))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    })
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// Our own words; never a secret.
    pub error: Option<String>,
}

impl Outcome {
    fn delivered(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The innermost cause of a failed request, bounded (no secret is ever in it:
/// the address has no credentials and the secret is only in a header).
fn cause(e: &reqwest::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string().chars().take(200).collect()
}

/// Posts delivery `out` once, signed with its target's secret.
pub async fn attempt(state: &AppState, out: &Outgoing) -> Outcome {
    let timeout = state.settings.alerts.timeout;
    let secret = match open_secret(state.settings.secret_key.as_ref(), &out.secret_sealed) {
        Ok(s) => s,
        Err(why) => {
            return Outcome {
                status: None,
                latency_ms: 0,
                error: Some(why.to_owned()),
            }
        }
    };
    let data = serde_json::from_str(&out.payload).unwrap_or(serde_json::Value::Null);
    let body = alert::body(out.kind, out.event_at, &data);
    let id = alert::message_id(out.delivery_id);
    let ts = state.clock.now().and_utc().timestamp();
    let signature = standardwebhooks::Webhook::new(secret.expose())
        .and_then(|w| w.sign(&id, ts, body.as_bytes()));
    let Ok(signature) = signature else {
        return Outcome {
            status: None,
            latency_ms: 0,
            error: Some("the signing secret is not a Standard Webhooks secret".into()),
        };
    };
    let started = Instant::now();
    let sent = client()
        .post(&out.url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header(standardwebhooks::HEADER_WEBHOOK_ID, &id)
        .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string())
        .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
        .body(body)
        .send()
        .await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match sent {
        Ok(res) => {
            let status = res.status().as_u16();
            let error = match status {
                200..=299 => None,
                300..=399 => Some(format!("answered {status} (redirects are not followed)")),
                _ => Some(format!("answered {status}")),
            };
            Outcome {
                status: Some(status),
                latency_ms,
                error,
            }
        }
        Err(e) if e.is_timeout() => Outcome {
            status: None,
            latency_ms,
            error: Some(format!("no answer within {} ms", timeout.as_millis())),
        },
        Err(e) if e.is_connect() => Outcome {
            status: None,
            latency_ms,
            error: Some(format!("could not connect: {}", cause(&e))),
        },
        Err(e) => Outcome {
            status: None,
            latency_ms,
            error: Some(format!("the request failed: {}", cause(&e))),
        },
    }
}

/// Where a delivery stands after `outcome` at `now`.
fn next_state(
    state: &AppState,
    out: &Outgoing,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> (DeliveryState, NaiveDateTime) {
    if outcome.delivered() {
        return (DeliveryState::Delivered, now);
    }
    let failures = u32::try_from(out.attempts).unwrap_or(0) + 1;
    let backoff = state.settings.alerts.backoff;
    match backoff.next_attempt(out.created_at, now, failures, alert::jitter()) {
        Some(next) => (DeliveryState::Pending, next),
        None => (DeliveryState::Failed, now),
    }
}

/// Makes one attempt at `out` (claimed under `lease`) and records it.
pub async fn deliver(state: &AppState, out: Outgoing, lease: String) -> AppResult<Outcome> {
    let outcome = attempt(state, &out).await;
    let now = state.clock.now();
    let (next, at) = next_state(state, &out, &outcome, now);
    if let Some(error) = &outcome.error {
        tracing::warn!(delivery = out.delivery_id, status = ?outcome.status, error = %error,
            next = next.as_str(), "alert delivery attempt failed");
    }
    let (id, recorded_outcome) = (out.delivery_id, outcome.clone());
    let recorded = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let record = AttemptRecord {
                    at: now,
                    status_code: recorded_outcome.status.map(i32::from),
                    latency_ms: recorded_outcome.latency_ms,
                    error: recorded_outcome.error.as_deref(),
                    state: next,
                    next_attempt_at: at,
                };
                Ok(store::alerts::record_attempt(conn, id, &lease, &record)?)
            })
        })
        .await?;
    if !recorded {
        tracing::warn!(
            delivery = id,
            "an alert delivery's claim ran out before its attempt was recorded"
        );
    }
    Ok(outcome)
}
