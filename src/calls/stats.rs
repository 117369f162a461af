//! Calls per token or per endpoint over time buckets.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::filter::{self, Syntax};
use crate::domain::timeline::Timeline;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::calls::{CallFilter, Matching, StatsBy, StatsRow};

/// The most buckets one answer holds.
const MAX_BUCKETS: i64 = 10_000;

/// What the statistics count by (the calls they count are chosen by the call
/// list's filters, `FilterParams`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StatsParams {
    /// `token` (default) or `endpoint`.
    by: Option<String>,
    /// `minute`, `hour` (default) or `day`.
    bucket: Option<String>,
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
#[derive(Debug, Clone)]
pub struct StatsQuery {
    pub by: StatsBy,
    pub bucket_seconds: i64,
    /// The calls counted; its `since` and `until` are always set.
    pub filter: CallFilter,
}

impl StatsQuery {
    /// Reads `by`, `bucket` and the call list's filters from a query string.
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
        let mut filter = filter::parse_pairs(pairs.clone(), Syntax::Api)?.filter;
        let until = filter.until.unwrap_or(now);
        let since = filter.since.unwrap_or(until - TimeDelta::hours(24));
        if since >= until {
            return Err(AppError::validation("since", "must be before until"));
        }
        if (until - since).num_seconds() / bucket_seconds > MAX_BUCKETS {
            return Err(AppError::validation(
                "bucket",
                "too many buckets for this range; choose a larger bucket",
            ));
        }
        (filter.since, filter.until) = (Some(since), Some(until));
        Ok(Self {
            by,
            bucket_seconds,
            filter,
        })
    }
}

/// Calls matching `q.filter`, per token or endpoint, in buckets.
pub async fn compute(state: &AppState, q: StatsQuery) -> AppResult<Stats> {
    state.settle_calls().await?;
    let (by, width) = (q.by, q.bucket_seconds);
    let filter = q.filter.clone();
    let rows = crate::replica::viewer_read(state, move |conn| {
        let matching = Matching::resolve(conn, &filter)?;
        Ok(store::calls::stats(conn, &matching, by, width)?)
    })
    .await?;
    let (since, until) = (
        q.filter.since.unwrap_or_default(),
        q.filter.until.unwrap_or_default(),
    );
    Ok(gather(rows, by, width, since, until))
}

/// Calls matching `filter`, per token, for a chart: over the filter's time range,
/// or (where it leaves an end open) as far as its calls reach, in bars from the
/// ladder. Every matching call is counted.
pub async fn timeline(
    state: &AppState,
    filter: CallFilter,
    now: NaiveDateTime,
) -> AppResult<(Timeline, Stats)> {
    state.settle_calls().await?;
    let (timeline, rows) = crate::replica::viewer_read(state, move |conn| {
        let matching = Matching::resolve(conn, &filter)?;
        let timeline = match (filter.since, filter.until) {
            (Some(since), Some(until)) => Timeline::over(since, until),
            (since, until) => match store::calls::extent(conn, &matching)? {
                None => {
                    let until = until.unwrap_or(now);
                    Timeline::over(since.unwrap_or(until - TimeDelta::hours(24)), until)
                }
                Some((first, last)) if since.is_none() && until.is_none() => {
                    Timeline::around(first, last)
                }
                Some((first, last)) => Timeline::over(
                    since.unwrap_or(first),
                    until.unwrap_or(last + TimeDelta::seconds(1)),
                ),
            },
        };
        let rows = store::calls::stats(conn, &matching, StatsBy::Token, timeline.width())?;
        Ok((timeline, rows))
    })
    .await?;
    let stats = gather(
        rows,
        StatsBy::Token,
        timeline.width(),
        timeline.start(),
        timeline.end(),
    );
    Ok((timeline, stats))
}

/// Rows per bucket and key, as one series per key.
fn gather(
    rows: Vec<StatsRow>,
    by: StatsBy,
    width: i64,
    since: NaiveDateTime,
    until: NaiveDateTime,
) -> Stats {
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
    Stats {
        by: match by {
            StatsBy::Token => "token".into(),
            StatsBy::Endpoint => "endpoint".into(),
        },
        bucket_seconds: width,
        since: since.and_utc(),
        until: until.and_utc(),
        series: series.into_values().collect(),
    }
}
