//! The viewer's chart: calls per token over the period, as SVG polylines.

use chrono::{NaiveDateTime, TimeDelta};
use serde::Serialize;

use crate::calls::stats::{self, StatsQuery};
use crate::calls::CallQuery;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::calls::StatsBy;

const PALETTE: [&str; 6] = [
    "#4f46e5", "#0891b2", "#d97706", "#db2777", "#16a34a", "#7c3aed",
];
const CHART_W: f64 = 900.0;
const CHART_H: f64 = 180.0;

#[derive(Serialize)]
struct Series {
    name: String,
    color: &'static str,
    points: String,
    total: i64,
}

#[derive(Serialize)]
pub struct Chart {
    width: i64,
    height: i64,
    series: Vec<Series>,
    max: i64,
    start: String,
    end: String,
    bucket: &'static str,
}

/// The period of `q` (the last 24 hours unless it says otherwise) and its bucket.
fn period(q: &CallQuery, now: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime, i64, &'static str) {
    let until = q.filter.until.unwrap_or(now);
    let since = q.filter.since.unwrap_or(until - TimeDelta::hours(24));
    let since = if since >= until {
        until - TimeDelta::hours(1)
    } else {
        since
    };
    let span = (until - since).num_seconds();
    let (bucket, label) = if span <= 3 * 3600 {
        (60, "minute")
    } else if span <= 4 * 86400 {
        (3600, "hour")
    } else {
        (86400, "day")
    };
    (since, until, bucket, label)
}

/// Calls per token over `q`'s period, the busiest tokens first.
pub async fn chart(state: &AppState, q: &CallQuery) -> AppResult<Chart> {
    let (since, until, bucket, label) = period(q, state.clock.now());
    let stats = stats::compute(
        state,
        StatsQuery {
            by: StatsBy::Token,
            bucket_seconds: bucket,
            since,
            until,
        },
    )
    .await?;
    let first = since.and_utc().timestamp() / bucket * bucket;
    let n = ((until.and_utc().timestamp() - first) / bucket + 1).max(2);
    let mut series: Vec<_> = stats
        .series
        .into_iter()
        .filter(|s| {
            q.filter.token_ids.is_empty() || s.id.is_some_and(|id| q.filter.token_ids.contains(&id))
        })
        .collect();
    series.sort_by_key(|s| std::cmp::Reverse(s.total));
    series.truncate(PALETTE.len());
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.calls))
        .max()
        .unwrap_or(0)
        .max(1);
    let out = series
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut counts = vec![0i64; n as usize];
            for p in &s.points {
                let idx = (p.t.timestamp() - first) / bucket;
                if (0..n).contains(&idx) {
                    counts[idx as usize] += p.calls;
                }
            }
            let points = counts
                .iter()
                .enumerate()
                .map(|(x, c)| {
                    format!(
                        "{:.1},{:.1}",
                        x as f64 * CHART_W / (n - 1) as f64,
                        CHART_H - *c as f64 * CHART_H / max as f64
                    )
                })
                .collect::<Vec<_>>()
                .join(" ");
            let name = match (s.kind.as_str(), s.name) {
                ("secondary", Some(n)) => n,
                ("secondary", None) => format!("token #{}", s.id.unwrap_or_default()),
                (kind, _) => format!("{kind} token"),
            };
            Series {
                name,
                color: PALETTE[i],
                points,
                total: s.total,
            }
        })
        .collect();
    Ok(Chart {
        width: CHART_W as i64,
        height: CHART_H as i64,
        series: out,
        max,
        start: since.format("%Y-%m-%d %H:%M").to_string(),
        end: until.format("%Y-%m-%d %H:%M").to_string(),
        bucket: label,
    })
}
