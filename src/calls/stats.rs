//! Calls per token or per endpoint over time buckets.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::clock::parse_rfc3339;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::calls::StatsBy;

/// The most buckets one answer holds.
const MAX_BUCKETS: i64 = 10_000;

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StatsParams {
    /// `token` (default) or `endpoint`.
    by: Option<String>,
    /// `minute`, `hour` (default) or `day`.
    bucket: Option<String>,
    /// RFC 3339; default 24 hours before `until`.
    since: Option<String>,
    /// RFC 3339; default now.
    until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsPoint {
    /// Start of the bucket.
    pub t: DateTime<Utc>,
    pub calls: i64,
    /// Calls answered with a status of 400 or more.
    pub errors: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsSeries {
    /// Token or endpoint id (`null` for calls without a secondary token).
    pub id: Option<i64>,
    /// For `by=token`: the token kind (`secondary`, `primary`, `none`, `unknown`); else `endpoint`.
    pub kind: String,
    /// Token name or endpoint slug as last logged.
    pub name: Option<String>,
    pub total: i64,
    pub points: Vec<StatsPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub by: String,
    pub bucket_seconds: i64,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub series: Vec<StatsSeries>,
}

/// A statistics question, valid.
#[derive(Debug, Clone, Copy)]
pub struct StatsQuery {
    pub by: StatsBy,
    pub bucket_seconds: i64,
    pub since: NaiveDateTime,
    pub until: NaiveDateTime,
}

impl StatsQuery {
    /// Reads `by`, `bucket`, `since` and `until` from a query string.
    pub fn parse(query: &str, now: NaiveDateTime) -> AppResult<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| AppError::validation("query", "the query string is malformed"))?;
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let by = match get("by") {
            None | Some("token") => StatsBy::Token,
            Some("endpoint") => StatsBy::Endpoint,
            Some(_) => return Err(AppError::validation("by", "must be token or endpoint")),
        };
        let bucket_seconds = match get("bucket") {
            Some("minute") => 60,
            None | Some("hour") => 3600,
            Some("day") => 86400,
            Some(_) => {
                return Err(AppError::validation(
                    "bucket",
                    "must be minute, hour or day",
                ))
            }
        };
        let until = match get("until") {
            Some(v) => parse_rfc3339(v).map_err(|e| AppError::validation("until", e))?,
            None => now,
        };
        let since = match get("since") {
            Some(v) => parse_rfc3339(v).map_err(|e| AppError::validation("since", e))?,
            None => until - TimeDelta::hours(24),
        };
        if since >= until {
            return Err(AppError::validation("since", "must be before until"));
        }
        if (until - since).num_seconds() / bucket_seconds > MAX_BUCKETS {
            return Err(AppError::validation(
                "bucket",
                "too many buckets for this range; choose a larger bucket",
            ));
        }
        Ok(Self {
            by,
            bucket_seconds,
            since,
            until,
        })
    }
}

/// Calls per token or endpoint in buckets over `[since, until)`.
pub async fn compute(state: &AppState, q: StatsQuery) -> AppResult<Stats> {
    state.settle_calls().await?;
    let rows = crate::replica::viewer_read(state, move |conn| {
        Ok(store::calls::stats(
            conn,
            q.by,
            q.bucket_seconds,
            q.since,
            q.until,
        )?)
    })
    .await?;
    let mut series: BTreeMap<(String, Option<i64>), StatsSeries> = BTreeMap::new();
    for r in rows {
        let s = series
            .entry((r.key_kind.clone(), r.key_id))
            .or_insert_with(|| StatsSeries {
                id: r.key_id,
                kind: r.key_kind.clone(),
                name: None,
                total: 0,
                points: vec![],
            });
        if r.key_name.is_some() {
            s.name = r.key_name.clone();
        }
        s.total += r.calls;
        s.points.push(StatsPoint {
            t: DateTime::from_timestamp(r.bucket, 0).unwrap_or_default(),
            calls: r.calls,
            errors: r.errors,
        });
    }
    Ok(Stats {
        by: match q.by {
            StatsBy::Token => "token".into(),
            StatsBy::Endpoint => "endpoint".into(),
        },
        bucket_seconds: q.bucket_seconds,
        since: q.since.and_utc(),
        until: q.until.and_utc(),
        series: series.into_values().collect(),
    })
}
