//! `/api/v1/calls` and `/api/v1/stats`: the endpoint data viewer's queries
//! (analysts and admins).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::clock::parse_rfc3339;
use crate::error::{AppError, AppResult, Problem};
use crate::store;
use crate::store::calls::{CallFilter, CallRow, StatsBy};
use crate::AppState;

const EXPORT_PAGE: i64 = 1000;
const EXPORT_MAX_ROWS: usize = 1_000_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/calls").route(web::get().to(list)));
    cfg.service(web::resource("/calls/export").route(web::get().to(export)));
    cfg.service(web::resource("/calls/{id}").route(web::get().to(get)));
    cfg.service(web::resource("/stats").route(web::get().to(stats)));
}

/// Filters of the call list and export. `token` may be repeated.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CallParams {
    /// Secondary token id; repeat for several (`token=1&token=2`).
    #[param(explode = true)]
    token: Option<Vec<i64>>,
    /// `primary`, `secondary`, `none` or `unknown`.
    token_kind: Option<String>,
    /// Endpoint id.
    endpoint: Option<i64>,
    /// `POST`, `GET` or `DELETE`.
    method: Option<String>,
    /// A status (`201`) or a class (`4xx`).
    status: Option<String>,
    /// RFC 3339; calls at or after.
    since: Option<String>,
    /// RFC 3339; calls before.
    until: Option<String>,
    /// Case-insensitive text in the record payload.
    q: Option<String>,
    /// 1 to 1000, default 100.
    limit: Option<i64>,
    /// The `next` of the previous page.
    cursor: Option<i64>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportParams {
    /// `csv` (default) or `ndjson`.
    format: Option<String>,
}

/// The viewer's query, parsed and validated.
pub struct CallQuery {
    pub filter: CallFilter,
    pub limit: i64,
    pub cursor: Option<i64>,
    pub format: Option<String>,
}

fn parse_params(query: &str) -> AppResult<CallQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| AppError::validation("query", "the query string is malformed"))?;
    parse_pairs(pairs)
}

/// Parses the viewer's filters from query pairs (`token` may repeat); empty values do not filter.
pub fn parse_pairs(pairs: Vec<(String, String)>) -> AppResult<CallQuery> {
    let mut p = CallQuery {
        filter: CallFilter::default(),
        limit: 100,
        cursor: None,
        format: None,
    };
    let int = |field: &str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| AppError::validation(field, "must be an integer"))
    };
    for (k, v) in pairs {
        match k.as_str() {
            "token" => p.filter.token_ids.push(int("token", &v)?),
            "token_kind" => {
                if !["primary", "secondary", "none", "unknown"].contains(&v.as_str()) {
                    return Err(AppError::validation(
                        "token_kind",
                        "must be primary, secondary, none or unknown",
                    ));
                }
                p.filter.token_kind = Some(v);
            }
            "endpoint" => p.filter.endpoint_id = Some(int("endpoint", &v)?),
            "method" => {
                let m = v.to_ascii_uppercase();
                if !["POST", "GET", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]
                    .contains(&m.as_str())
                {
                    return Err(AppError::validation(
                        "method",
                        "must be an HTTP method such as POST, GET or DELETE",
                    ));
                }
                p.filter.method = Some(m);
            }
            "status" => p.filter.status = Some(parse_status(&v)?),
            "since" => {
                p.filter.since =
                    Some(parse_rfc3339(&v).map_err(|e| AppError::validation("since", e))?)
            }
            "until" => {
                p.filter.until =
                    Some(parse_rfc3339(&v).map_err(|e| AppError::validation("until", e))?)
            }
            "q" => {
                if v.chars().count() > 200 {
                    return Err(AppError::validation("q", "must be at most 200 characters"));
                }
                if !v.is_empty() {
                    p.filter.q = Some(v);
                }
            }
            "limit" => {
                p.limit = int("limit", &v)?;
                if !(1..=1000).contains(&p.limit) {
                    return Err(AppError::validation("limit", "must be from 1 to 1000"));
                }
            }
            "cursor" => p.cursor = Some(int("cursor", &v)?),
            "format" => p.format = Some(v),
            _ => {}
        }
    }
    if p.filter.token_ids.len() > 100 {
        return Err(AppError::validation("token", "at most 100 tokens"));
    }
    Ok(p)
}

fn parse_status(v: &str) -> AppResult<(i32, i32)> {
    let bad = || {
        AppError::validation(
            "status",
            "must be a status from 100 to 599 or a class like 4xx",
        )
    };
    if let Some(class) = v.strip_suffix("xx") {
        let c: i32 = class.parse().map_err(|_| bad())?;
        if !(1..=5).contains(&c) {
            return Err(bad());
        }
        return Ok((c * 100, c * 100 + 99));
    }
    let s: i32 = v.parse().map_err(|_| bad())?;
    if !(100..=599).contains(&s) {
        return Err(bad());
    }
    Ok((s, s))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallOut {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub endpoint_id: Option<i64>,
    pub endpoint_slug: String,
    pub method: String,
    /// Path and query, with any `access_token` value redacted.
    pub path: String,
    pub status: i32,
    /// The problem `code` of a refused call.
    pub code: Option<String>,
    /// `primary`, `secondary`, `none` or `unknown`.
    pub token_kind: String,
    pub token_id: Option<i64>,
    pub token_name: Option<String>,
    /// The method of the primary token used.
    pub token_method: Option<String>,
    pub remote_addr: String,
    pub user_agent: Option<String>,
    pub request_bytes: i64,
    pub response_bytes: i64,
    pub duration_us: i64,
    pub record_id: Option<i64>,
    /// How many calls this row stands for: refused calls that repeat (same endpoint,
    /// path, status, code, credential, address and user agent within one second) are
    /// folded into one row. `request_bytes` and `response_bytes` are their sums.
    pub repeats: i64,
}

impl From<CallRow> for CallOut {
    fn from(c: CallRow) -> Self {
        Self {
            id: c.id,
            at: c.at.and_utc(),
            endpoint_id: c.endpoint_id,
            endpoint_slug: c.endpoint_slug,
            method: c.method,
            path: c.path,
            status: c.status,
            code: c.code,
            token_kind: c.token_kind,
            token_id: c.token_id,
            token_name: c.token_name,
            token_method: c.token_method,
            remote_addr: c.remote_addr,
            user_agent: c.user_agent,
            request_bytes: c.request_bytes,
            response_bytes: c.response_bytes,
            duration_us: c.duration_us,
            record_id: c.record_id,
            repeats: c.repeats,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallPage {
    pub calls: Vec<CallOut>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: CallOut,
    /// The stored record's payload, exactly as it was received (any JSON value),
    /// when the call has one that still exists.
    #[schema(value_type = Option<serde_json::Value>)]
    pub payload: Option<Box<serde_json::value::RawValue>>,
}

/// Calls, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(CallParams),
    responses((status = 200, body = CallPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    _caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let p = parse_params(req.query_string())?;
    let limit = p.limit;
    let rows = state
        .db(move |conn| Ok(store::calls::page(conn, &p.filter, p.cursor, limit + 1)?))
        .await?;
    Ok(HttpResponse::Ok().json(page_of(rows, limit)))
}

fn page_of(mut rows: Vec<CallRow>, limit: i64) -> CallPage {
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    CallPage {
        calls: rows.into_iter().map(CallOut::from).collect(),
        next,
    }
}

/// One call with its payload.
#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", params(("id" = i64, Path)),
    responses((status = 200, body = CallDetail), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(call_detail(&state, id.into_inner()).await?))
}

/// One call with its record's payload (if it has one that still exists).
pub async fn call_detail(state: &AppState, id: i64) -> AppResult<CallDetail> {
    let (call, data) = state
        .db(move |conn| {
            let call = store::calls::find(conn, id).map_err(crate::error::missing("call"))?;
            let data = match call.record_id {
                Some(r) => store::records::find_data(conn, r)?,
                None => None,
            };
            Ok((call, data))
        })
        .await?;
    // Passed through as stored: parsing it would round numbers beyond f64 (or drop
    // the payload for one out of its range).
    let payload = data.and_then(|d| serde_json::value::RawValue::from_string(d).ok());
    Ok(CallDetail {
        call: call.into(),
        payload,
    })
}

/// Every call matching the filters as CSV or NDJSON (newest first).
#[utoipa::path(get, path = "/api/v1/calls/export", tag = "calls", params(CallParams, ExportParams),
    responses((status = 200, description = "CSV (text/csv, the default) or NDJSON (application/x-ndjson, `format=ndjson`)",
            content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn export(
    _caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let p = parse_params(req.query_string())?;
    let ndjson = match p.format.as_deref() {
        None | Some("csv") => false,
        Some("ndjson") => true,
        Some(_) => return Err(AppError::validation("format", "must be csv or ndjson")),
    };
    let filter = p.filter;
    let rows = state
        .db(move |conn| {
            let mut all = Vec::new();
            let mut cursor = None;
            loop {
                let page = store::calls::page(conn, &filter, cursor, EXPORT_PAGE)?;
                let done = (page.len() as i64) < EXPORT_PAGE;
                cursor = page.last().map(|r| r.id);
                all.extend(page);
                if done || all.len() >= EXPORT_MAX_ROWS {
                    break;
                }
            }
            Ok(all)
        })
        .await?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    if ndjson {
        let mut out = String::new();
        for r in rows {
            out.push_str(
                &serde_json::to_string(&CallOut::from(r)).map_err(|_| AppError::Internal)?,
            );
            out.push('\n');
        }
        return Ok(HttpResponse::Ok()
            .content_type("application/x-ndjson")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"calls-{stamp}.ndjson\""),
            ))
            .body(out));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(defuse_formulas(CallOut::from(r)))
            .map_err(|_| AppError::Internal)?;
    }
    let bytes = w.into_inner().map_err(|_| AppError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"calls-{stamp}.csv\""),
        ))
        .body(bytes))
}

/// Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a
/// formula; the user agent, path and token name come from callers, so such
/// cells are prefixed with `'` (OWASP's CSV injection advice).
fn defuse_formulas(mut c: CallOut) -> CallOut {
    fn defuse(s: &mut String) {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            s.insert(0, '\'');
        }
    }
    for s in [
        &mut c.endpoint_slug,
        &mut c.path,
        &mut c.remote_addr,
        &mut c.method,
        &mut c.token_kind,
    ] {
        defuse(s);
    }
    for s in [
        &mut c.code,
        &mut c.token_name,
        &mut c.token_method,
        &mut c.user_agent,
    ]
    .into_iter()
    .flatten()
    {
        defuse(s);
    }
    c
}

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

/// Calls per token or per endpoint over time buckets.
#[utoipa::path(get, path = "/api/v1/stats", tag = "calls", params(StatsParams),
    responses((status = 200, body = Stats), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn stats(
    _caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
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
    let until: NaiveDateTime = match get("until") {
        Some(v) => parse_rfc3339(v).map_err(|e| AppError::validation("until", e))?,
        None => state.clock.now(),
    };
    let since: NaiveDateTime = match get("since") {
        Some(v) => parse_rfc3339(v).map_err(|e| AppError::validation("since", e))?,
        None => until - TimeDelta::hours(24),
    };
    if since >= until {
        return Err(AppError::validation("since", "must be before until"));
    }
    if (until - since).num_seconds() / bucket_seconds > 10_000 {
        return Err(AppError::validation(
            "bucket",
            "too many buckets for this range; choose a larger bucket",
        ));
    }
    Ok(HttpResponse::Ok().json(compute_stats(&state, by, bucket_seconds, since, until).await?))
}

/// Calls per token or endpoint in buckets of `bucket_seconds` over `[since, until)`.
pub async fn compute_stats(
    state: &AppState,
    by: StatsBy,
    bucket_seconds: i64,
    since: NaiveDateTime,
    until: NaiveDateTime,
) -> AppResult<Stats> {
    let rows = state
        .db(move |conn| Ok(store::calls::stats(conn, by, bucket_seconds, since, until)?))
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
        by: match by {
            StatsBy::Token => "token".into(),
            StatsBy::Endpoint => "endpoint".into(),
        },
        bucket_seconds,
        since: since.and_utc(),
        until: until.and_utc(),
        series: series.into_values().collect(),
    })
}
