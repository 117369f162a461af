//! Integration health: every mapping with its token and endpoint, its last call,
//! calls and refusals in the last 24 hours, whether it is overdue ("silent since
//! 14:02") and its token's expiry; searched, filtered, sorted (worst first) and
//! paged by the database from the running aggregates, never the call log.
//! [`check`] is the periodic check that raises the events.

pub mod check;
pub mod list;

use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::read;
use crate::calls::activity::{HealthRows, Rows};
use crate::domain::endpoint::Method;
use crate::domain::health::{self, day_start, Expiry, EXPIRING_DAYS};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::health::HealthRow;
use list::{HealthSort, HealthState, Selection, Tally};

pub const PAGE_SIZES: [i64; 4] = [25, 50, 100, 200];
const DEFAULT_PAGE_SIZE: i64 = 50;

/// The Health list's choices, as they travel in the address (all optional).
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HealthQuery {
    /// Text in the token's name or the endpoint's slug or name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `silent` (overdue), `failing` (refused at least once in the last 24 hours)
    /// or `expiring` (the token expires within 14 days or has expired).
    pub state: Option<String>,
    /// `worst` (default: silent longest first, then failing, then expiring),
    /// `token`, `endpoint` or `last_call`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub dir: Option<String>,
    /// The page, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Mappings per page, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub per: Option<String>,
}

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn bad(field: &str, expected: &str) -> AppError {
    AppError::validation(field, format!("must be {expected}"))
}

fn whole(v: &Option<String>, field: &str, min: i64, max: i64) -> AppResult<Option<i64>> {
    some(v)
        .map(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| bad(field, &format!("a whole number from {min} to {max}")))
        })
        .transpose()
}

impl HealthQuery {
    /// The validated selection at `now`: a bad choice is named, never ignored.
    pub fn search(&self, now: NaiveDateTime) -> AppResult<Selection> {
        let state = match some(&self.state) {
            None => None,
            Some("silent") => Some(HealthState::Silent),
            Some("failing") => Some(HealthState::Failing),
            Some("expiring") => Some(HealthState::Expiring),
            _ => return Err(bad("state", "silent, failing or expiring")),
        };
        let sort = match some(&self.sort) {
            None | Some("worst") => HealthSort::Worst,
            Some("token") => HealthSort::Token,
            Some("endpoint") => HealthSort::Endpoint,
            Some("last_call") => HealthSort::LastCall,
            _ => return Err(bad("sort", "worst, token, endpoint or last_call")),
        };
        let descending = match some(&self.dir) {
            None | Some("asc") => false,
            Some("desc") => true,
            _ => return Err(bad("dir", "asc or desc")),
        };
        let text = some(&self.q).map(str::to_lowercase);
        if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err(bad("q", "at most 200 characters"));
        }
        let per = whole(&self.per, "per", 1, 200)?.unwrap_or(DEFAULT_PAGE_SIZE);
        let page = whole(&self.page, "page", 1, 1_000_000)?.unwrap_or(1);
        Ok(Selection {
            text,
            state,
            sort,
            descending,
            offset: (page - 1) * per,
            limit: per,
            now,
            day_start: day_start(now),
            expiring_before: now + TimeDelta::days(EXPIRING_DAYS),
        })
    }
}

/// A token as the Health list names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthToken {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    /// `false` once deactivated.
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// Expires within 14 days (and has not yet).
    pub expiring: bool,
    pub expired: bool,
}

/// An endpoint as the Health list names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthEndpoint {
    pub id: i64,
    pub slug: String,
}

/// One mapping's health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MappingHealth {
    pub token: HealthToken,
    pub endpoint: HealthEndpoint,
    pub method: Method,
    pub enabled: bool,
    /// How often its application is expected to call (`null`: no expectation).
    pub expect_every_seconds: Option<i32>,
    /// The last call (accepted or refused).
    pub last_call_at: Option<DateTime<Utc>>,
    pub last_refusal_at: Option<DateTime<Utc>>,
    /// Calls and refusals since the start of the hour 24 hours ago (a folded
    /// repeat counts as the call log counts it).
    pub calls_24h: i64,
    pub refusals_24h: i64,
    /// When overdue: the moment it became so (its last call, or the later of its
    /// creation and the expectation, plus the cadence). `null` when not silent.
    pub silent_since: Option<DateTime<Utc>>,
    /// Refused at least once in the last 24 hours.
    pub failing: bool,
}

/// How many mappings the search text selects in each state.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct HealthTally {
    pub all: i64,
    pub silent: i64,
    pub failing: i64,
    pub expiring: i64,
}

impl From<Tally> for HealthTally {
    fn from(c: Tally) -> Self {
        Self {
            all: c.all,
            silent: c.silent,
            failing: c.failing,
            expiring: c.expiring,
        }
    }
}

/// One page of the Health list.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthPage {
    pub mappings: Vec<MappingHealth>,
    /// Every mapping the choices select.
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub per: i64,
    /// The 1-based positions of the first and last mapping shown.
    pub first: i64,
    pub last: i64,
    /// Per state, over the mappings the search text selects (any state).
    pub counts: HealthTally,
    /// The moment the figures were read.
    pub at: DateTime<Utc>,
}

fn mapping_health(r: &HealthRow, s: &Selection) -> MappingHealth {
    let expiry = health::expiry(r.expires_at, s.now);
    MappingHealth {
        token: HealthToken {
            id: r.token_id,
            name: r.token_name.clone(),
            enabled: r.token_enabled,
            active: r.token_active,
            expires_at: r.expires_at.map(|t| t.and_utc()),
            expiring: expiry == Expiry::Expiring,
            expired: expiry == Expiry::Expired,
        },
        endpoint: HealthEndpoint {
            id: r.endpoint_id,
            slug: r.endpoint_slug.clone(),
        },
        method: r.method,
        enabled: r.enabled,
        expect_every_seconds: r.expect_every_seconds,
        last_call_at: r.last_call_at.map(|t| t.and_utc()),
        last_refusal_at: r.last_refusal_at.map(|t| t.and_utc()),
        calls_24h: r.calls_24h,
        refusals_24h: r.refusals_24h,
        silent_since: list::silent_since(r, s.now).map(|t| t.and_utc()),
        failing: list::failing(r, s.day_start),
    }
}

/// Every mapping's row: read once and shared for a moment by this instance's
/// Health lists, then read again behind them (see `calls::activity`); read
/// before the answer only when there is none for the current access facts.
async fn rows(state: &AppState) -> AppResult<HealthRows> {
    // What this instance counted is in the figures it shows.
    if let Err(e) = state.activity.flush(&state.writer).await {
        tracing::warn!(error = %e, "health read without this instance's latest counts");
    }
    let generation = state.access_generation.current().await?;
    match state.activity.rows(generation) {
        Rows::Fresh(rows) => return Ok(rows),
        Rows::Aging(rows) => {
            refresh_behind(state, generation);
            return Ok(rows);
        }
        Rows::Stale => {}
    }
    let _turn = state.activity.reading().await;
    if let Rows::Fresh(rows) | Rows::Aging(rows) = state.activity.rows(generation) {
        return Ok(rows);
    }
    let _no_flush = state.activity.without_flushes().await;
    let (read_at, at) = (Instant::now(), state.clock.now());
    let all = read(state, move |conn| {
        Ok(store::health::all(conn, day_start(at))?)
    })
    .await?;
    let rows = health_rows(read_at, at, generation, all);
    state.activity.keep_rows(rows.clone());
    Ok(rows)
}

fn health_rows(
    read_at: Instant,
    at: NaiveDateTime,
    generation: i64,
    all: Vec<HealthRow>,
) -> HealthRows {
    HealthRows {
        read_at,
        at,
        generation,
        rows: std::sync::Arc::new(all),
    }
}

/// Reads every mapping's row again behind the requests (one such read at a
/// time), which meanwhile are answered from the last read.
fn refresh_behind(state: &AppState, generation: i64) {
    if !state.activity.start_refresh() {
        return;
    }
    let (pool, activity, clock) = (
        state.pool.clone(),
        state.activity.clone(),
        state.clock.clone(),
    );
    tokio::spawn(async move {
        let no_flush = activity.without_flushes().await;
        let (read_at, at) = (Instant::now(), clock.now());
        let all = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            store::health::all(&mut conn, day_start(at)).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match all {
            Ok(all) => activity.keep_rows(health_rows(read_at, at, generation, all)),
            Err(e) => tracing::warn!(error = %e, "could not read the mappings' health again"),
        }
        drop(no_flush);
        activity.refreshed();
    });
}

/// One page of the mappings `q` selects (a bad choice is a validation error).
pub async fn page(state: &AppState, q: &HealthQuery) -> AppResult<HealthPage> {
    let now = state.clock.now();
    let s = q.search(now)?;
    let all = rows(state).await?;
    let chosen = list::select(&all.rows, &s);
    let mappings: Vec<MappingHealth> = chosen.rows.iter().map(|r| mapping_health(r, &s)).collect();
    let (total, shown) = (chosen.total, mappings.len() as i64);
    Ok(HealthPage {
        first: if shown == 0 { 0 } else { s.offset + 1 },
        last: s.offset + shown,
        mappings,
        total,
        page: s.offset / s.limit + 1,
        pages: ((total + s.limit - 1) / s.limit).max(1),
        per: s.limit,
        counts: chosen.tally.into(),
        at: all.at.and_utc(),
    })
}
