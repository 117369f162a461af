//! The viewer's chart: the calls the table's filters select, per token, as stacked
//! bars over time (server-rendered SVG). Its legend counts every call the table
//! lists; a token has one colour wherever it is drawn, taken from its id.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::calls::stats::{self, StatsSeries};
use crate::calls::CallQuery;
use crate::domain::call::TokenKind;
use crate::domain::timeline::Timeline;
use crate::error::AppResult;
use crate::state::AppState;

/// Colours of secondary tokens, by id: distinct hues (CIE76 distance at least 28
/// between any two, and from the neutrals below), each at least 3:1 against the
/// white panel, ordered so tokens with neighbouring ids differ most.
const PALETTE: [&str; 12] = [
    "#1e40af", "#ea580c", "#0d9488", "#db2777", "#65a30d", "#9333ea", "#854d0e", "#0284c7",
    "#991b1b", "#3f6212", "#86198f", "#16a34a",
];
/// Calls without a secondary token: neutral, so they never pass for one.
const PRIMARY: &str = "#101828";
const NO_TOKEN: &str = "#475467";
const UNKNOWN: &str = "#7c6f64";
/// The fill of the tokens folded into "other tokens" (a hatch the page defines).
const OTHERS: &str = "url(#chart-others)";
/// Tokens drawn one by one; the rest are drawn (and counted) together.
const SHOWN: usize = 8;
const CHART_W: f64 = 900.0;
const CHART_H: f64 = 180.0;

/// The colour of a token's calls in every view: secondary tokens by id, the other
/// kinds of credential each by a neutral of its own.
pub fn colour_of(kind: TokenKind, id: Option<i64>) -> &'static str {
    match (kind, id) {
        (TokenKind::Secondary, Some(id)) => PALETTE[id.rem_euclid(PALETTE.len() as i64) as usize],
        (TokenKind::Primary, _) => PRIMARY,
        (TokenKind::None, _) => NO_TOKEN,
        _ => UNKNOWN,
    }
}

/// One token (or the rest, together) in the legend.
#[derive(Debug, Serialize)]
struct Entry {
    /// `token-12`, `primary`, `none`, `unknown` or `others`.
    key: String,
    name: String,
    fill: &'static str,
    total: i64,
}

/// One token's part of a bar.
#[derive(Debug, Serialize)]
struct Segment {
    y: String,
    height: String,
    fill: &'static str,
    name: String,
    calls: i64,
}

#[derive(Debug, Serialize)]
struct Bar {
    x: String,
    width: String,
    /// When the bar starts (UTC).
    at: String,
    total: i64,
    segments: Vec<Segment>,
}

#[derive(Debug, Serialize)]
pub struct Chart {
    width: i64,
    height: i64,
    /// Every call the filters select (the table's calls, folded rows by their repeats).
    total: i64,
    /// The busiest bar.
    max: i64,
    bars: Vec<Bar>,
    legend: Vec<Entry>,
    start: String,
    end: String,
    /// "per …": `minute`, `5 minutes`, `day`.
    bucket: &'static str,
    bucket_seconds: i64,
}

/// What a series is called and how it is drawn.
fn entry_of(s: &StatsSeries) -> Entry {
    let kind = s.kind.parse::<TokenKind>().unwrap_or(TokenKind::Unknown);
    let (key, name) = match kind {
        TokenKind::Secondary => {
            let id = s.id.unwrap_or_default();
            let name = s.name.clone().unwrap_or_else(|| format!("token #{id}"));
            (format!("token-{id}"), name)
        }
        TokenKind::Primary => ("primary".into(), "primary tokens".into()),
        TokenKind::None => ("none".into(), "none (public)".into()),
        TokenKind::Unknown => ("unknown".into(), "unknown token".into()),
    };
    Entry {
        key,
        name,
        fill: colour_of(kind, s.id),
        total: s.total,
    }
}

/// Calls per bar of each legend entry (the last entry, if it is "others", sums the rest).
fn counts(timeline: &Timeline, series: &[StatsSeries]) -> Vec<Vec<i64>> {
    let mut out = vec![vec![0i64; timeline.bars()]; series.len().min(SHOWN + 1)];
    for (i, s) in series.iter().enumerate() {
        let row = &mut out[i.min(SHOWN)];
        for p in &s.points {
            row[timeline.bar_of(p.t.timestamp())] += p.calls;
        }
    }
    out
}

/// The busiest tokens one by one, then (if more) the rest as "other tokens".
fn legend(series: &[StatsSeries]) -> Vec<Entry> {
    let mut out: Vec<Entry> = series.iter().take(SHOWN).map(entry_of).collect();
    if series.len() > SHOWN {
        let rest = &series[SHOWN..];
        out.push(Entry {
            key: "others".into(),
            name: format!("{} other tokens", rest.len()),
            fill: OTHERS,
            total: rest.iter().map(|s| s.total).sum(),
        });
    }
    out
}

fn bars(timeline: &Timeline, legend: &[Entry], counts: &[Vec<i64>], max: i64) -> Vec<Bar> {
    let slot = CHART_W / timeline.bars() as f64;
    let scale = CHART_H / max as f64;
    let format = time_format(timeline);
    (0..timeline.bars())
        .map(|b| {
            let mut top = CHART_H;
            let segments = legend
                .iter()
                .zip(counts)
                .filter(|(_, c)| c[b] > 0)
                .map(|(e, c)| {
                    let height = c[b] as f64 * scale;
                    top -= height;
                    Segment {
                        y: format!("{top:.1}"),
                        height: format!("{height:.1}"),
                        fill: e.fill,
                        name: e.name.clone(),
                        calls: c[b],
                    }
                })
                .collect();
            Bar {
                x: format!("{:.1}", b as f64 * slot + slot * 0.1),
                width: format!("{:.1}", (slot * 0.8).max(1.0)),
                at: timeline.start_of(b).format(format).to_string(),
                total: counts.iter().map(|c| c[b]).sum(),
                segments,
            }
        })
        .collect()
}

fn time_format(timeline: &Timeline) -> &'static str {
    if timeline.width() >= 86_400 {
        "%Y-%m-%d"
    } else {
        "%Y-%m-%d %H:%M"
    }
}

/// The chart of the calls `q`'s filters select, the busiest tokens first.
pub async fn chart(state: &AppState, q: &CallQuery, now: NaiveDateTime) -> AppResult<Chart> {
    let (timeline, stats) = stats::timeline(state, q.filter.clone(), now).await?;
    let mut series = stats.series;
    series.sort_by(|a, b| b.total.cmp(&a.total).then(a.id.cmp(&b.id)));
    let legend = legend(&series);
    let counts = counts(&timeline, &series);
    let max = (0..timeline.bars())
        .map(|b| counts.iter().map(|c| c[b]).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let format = time_format(&timeline);
    Ok(Chart {
        width: CHART_W as i64,
        height: CHART_H as i64,
        total: legend.iter().map(|e| e.total).sum(),
        max,
        bars: bars(&timeline, &legend, &counts, max),
        legend,
        start: timeline.start().format(format).to_string(),
        end: timeline.end().format(format).to_string(),
        bucket: timeline.label(),
        bucket_seconds: timeline.width(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_keeps_its_colour_and_neighbours_differ() {
        assert_eq!(
            colour_of(TokenKind::Secondary, Some(7)),
            colour_of(TokenKind::Secondary, Some(7))
        );
        let first: Vec<_> = (1..=12)
            .map(|id| colour_of(TokenKind::Secondary, Some(id)))
            .collect();
        let mut distinct = first.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 12, "twelve tokens in a row, twelve colours");
        for neutral in [PRIMARY, NO_TOKEN, UNKNOWN] {
            assert!(!PALETTE.contains(&neutral));
        }
    }
}
