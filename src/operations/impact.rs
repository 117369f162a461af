//! Impact before a cut: what disabling a token, a mapping or an endpoint (or
//! deactivating, deleting, regenerating without grace, narrowing an allowlist)
//! would have refused, judged by the calls it accepted over the last days.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::input::field;
use super::read;
use crate::db::DbConn;
use crate::domain::endpoint::{IpAllowlist, Method};
use crate::error::{missing, AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::impact::ImpactRow;

/// `GET /api/v1/impact`: a token, an endpoint, or a token's mapping onto an endpoint
/// and method.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImpactQuery {
    /// The token to cut (alone: every call it makes).
    pub token: Option<i64>,
    /// The endpoint to cut (alone: every call to it).
    pub endpoint: Option<i64>,
    /// With `token` and `endpoint`: the mapping of that method.
    #[param(value_type = Option<String>)]
    pub method: Option<String>,
    /// The period looked back on: 1 to 90 days (default 7).
    pub days: Option<i64>,
    /// A new IP allowlist for `token` or `endpoint` (one of them, no `method`):
    /// addresses and CIDR networks separated by commas. The answer is then what it
    /// would have refused: the accepted calls from addresses outside it.
    pub allowlist: Option<String>,
}

/// One application the cut would have refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppImpact {
    pub token_id: Option<i64>,
    /// The token's name, or the kind of credential (`primary`, `none`).
    pub name: String,
    pub calls: i64,
    pub last_call: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImpactOut {
    pub days: i64,
    /// Accepted calls over the period that the cut would have refused.
    pub calls: i64,
    pub distinct_applications: usize,
    pub last_call: Option<DateTime<Utc>>,
    /// Per application, the most calls first (at most 1,000).
    pub applications: Vec<AppImpact>,
    /// In words: "would have refused 412 calls from shop-app in the last 7 days, the
    /// last one 2 minutes ago".
    pub summary: String,
}

/// "2 minutes", "3 hours", "5 days".
fn ago(d: TimeDelta) -> String {
    let (n, unit) = match d.num_seconds().max(0) {
        s if s < 120 => (s, "second"),
        s if s < 7_200 => (s / 60, "minute"),
        s if s < 172_800 => (s / 3_600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn summary(out: &ImpactOut, now: DateTime<Utc>) -> String {
    let period = match out.days {
        1 => "the last day".to_owned(),
        d => format!("the last {d} days"),
    };
    if out.calls == 0 {
        return format!("would have refused no call in {period}");
    }
    let from = match out.applications.as_slice() {
        [one] => one.name.clone(),
        many => format!("{} applications", many.len()),
    };
    let last = out
        .last_call
        .map(|t| format!(", the last one {} ago", ago(now - t)))
        .unwrap_or_default();
    let calls = if out.calls == 1 { "call" } else { "calls" };
    format!(
        "would have refused {} {calls} from {from} in {period}{last}",
        out.calls
    )
}

/// The query's allowlist, if any, with the rules it brings.
fn allowlist_of(q: &ImpactQuery, method: Option<Method>) -> AppResult<Option<IpAllowlist>> {
    let Some(text) = q.allowlist.as_deref() else {
        return Ok(None);
    };
    let entries: Vec<&str> = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(AppError::validation(
            "allowlist",
            "give at least one address or network",
        ));
    }
    if q.token.is_some() && q.endpoint.is_some() {
        return Err(AppError::validation(
            "allowlist",
            "is a token's or an endpoint's: give one of them, not both",
        ));
    }
    if method.is_some() {
        return Err(AppError::validation(
            "method",
            "does not go with an allowlist",
        ));
    }
    field("allowlist", IpAllowlist::parse(&entries)).map(Some)
}

/// The accepted calls per credential since `since`, only those from addresses
/// outside `allowlist` when one is given (an address that does not parse is outside,
/// as the access decision has it).
fn accepted(
    conn: &mut DbConn,
    (token, endpoint, method): (Option<i64>, Option<i64>, Option<Method>),
    allowlist: Option<&IpAllowlist>,
    since: NaiveDateTime,
) -> AppResult<Vec<ImpactRow>> {
    let Some(list) = allowlist else {
        return Ok(store::impact::accepted_since(
            conn, token, endpoint, method, since,
        )?);
    };
    let mut out: Vec<ImpactRow> = Vec::new();
    for (row, addr) in store::impact::accepted_by_address(conn, token, endpoint, since)? {
        if addr.parse::<IpAddr>().is_ok_and(|ip| list.allows(ip)) {
            continue;
        }
        match out
            .iter_mut()
            .find(|r| r.token_id == row.token_id && r.token_kind == row.token_kind)
        {
            Some(r) => {
                r.calls += row.calls;
                r.last = r.last.max(row.last);
            }
            None => out.push(row),
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.calls));
    Ok(out)
}

pub async fn impact(state: &AppState, q: ImpactQuery) -> AppResult<ImpactOut> {
    let days = q.days.unwrap_or(7);
    if !(1..=90).contains(&days) {
        return Err(AppError::validation("days", "must be 1 to 90"));
    }
    let method = match q.method.as_deref() {
        None => None,
        Some(m) => Some(
            m.parse::<Method>()
                .map_err(|e| AppError::validation("method", e))?,
        ),
    };
    match (q.token, q.endpoint, method) {
        (None, None, _) => {
            return Err(AppError::validation(
                "token",
                "give a token, an endpoint or both",
            ))
        }
        (_, None, Some(_)) => return Err(AppError::validation("method", "needs an endpoint")),
        _ => {}
    }
    let allowlist = allowlist_of(&q, method)?;
    let now = state.clock.now();
    let since = now - TimeDelta::days(days);
    let (token, endpoint) = (q.token, q.endpoint);
    let rows = read(state, move |conn| {
        if let Some(t) = token {
            store::tokens::find(conn, t).map_err(missing("token"))?;
        }
        if let Some(e) = endpoint {
            store::endpoints::find(conn, e).map_err(missing("endpoint"))?;
        }
        accepted(conn, (token, endpoint, method), allowlist.as_ref(), since)
    })
    .await?;
    let applications: Vec<AppImpact> = rows
        .into_iter()
        .map(|r| AppImpact {
            token_id: r.token_id,
            name: r.token_name.unwrap_or(r.token_kind),
            calls: r.calls,
            last_call: DateTime::from_timestamp(r.last, 0),
        })
        .collect();
    let mut out = ImpactOut {
        days,
        calls: applications.iter().map(|a| a.calls).sum(),
        distinct_applications: applications.len(),
        last_call: applications.iter().filter_map(|a| a.last_call).max(),
        applications,
        summary: String::new(),
    };
    out.summary = summary(&out, now.and_utc());
    Ok(out)
}
