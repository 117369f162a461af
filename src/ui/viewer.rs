//! The endpoint data viewer: calls filtered by tokens, endpoint, method, status,
//! time and payload text; a call's detail; calls per token over time; CSV export
//! of the current filter; and a live tail over server-sent events.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeDelta};
use serde::Serialize;

use super::{show_bytes, show_time, time_field, UiError, UiResult, UiUser};
use crate::api::calls::{call_detail, compute_stats, parse_pairs, CallOut, CallQuery};
use crate::api::endpoints::list_endpoints;
use crate::error::AppError;
use crate::store;
use crate::store::calls::StatsBy;
use crate::AppState;

const PAGE: i64 = 50;
/// A live tail reconnects (and so re-authenticates) at least this often.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);
const PALETTE: [&str; 6] = [
    "#4f46e5", "#0891b2", "#d97706", "#db2777", "#16a34a", "#7c3aed",
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/viewer").route(web::get().to(viewer)));
    cfg.service(web::resource("/viewer/stream").route(web::get().to(stream)));
    cfg.service(web::resource("/viewer/token-options").route(web::get().to(picker)));
    cfg.service(web::resource("/viewer/calls/{id}").route(web::get().to(detail)));
}

/// The filter form's values, as typed, to refill the form.
#[derive(Debug, Default, Serialize)]
struct FormValues {
    tokens: Vec<i64>,
    endpoint: String,
    method: String,
    status: String,
    since: String,
    until: String,
    q: String,
}

/// The viewer's query translated for the management API.
struct Translated {
    /// The API's filter pairs (times as RFC 3339).
    pairs: Vec<(String, String)>,
    /// The form's values as typed.
    form: FormValues,
    cursor: Option<i64>,
}

/// The UI's query string → the management API's filters.
fn api_pairs(query: &str) -> Result<Translated, AppError> {
    let raw: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut pairs = Vec::new();
    let mut form = FormValues::default();
    let mut cursor = None;
    for (k, v) in raw {
        let v = v.trim().to_owned();
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "token" => {
                let id = v
                    .parse::<i64>()
                    .map_err(|_| AppError::validation("token", "must be a token id"))?;
                form.tokens.push(id);
                pairs.push((k, v));
            }
            "endpoint" | "method" | "status" | "q" => {
                match k.as_str() {
                    "endpoint" => form.endpoint = v.clone(),
                    "method" => form.method = v.clone(),
                    "status" => form.status = v.clone(),
                    _ => form.q = v.clone(),
                }
                pairs.push((k, v));
            }
            "since" | "until" => {
                let t = time_field(&v).map_err(|e| AppError::validation(k.clone(), e))?;
                if k == "since" {
                    form.since = v.clone();
                } else {
                    form.until = v.clone();
                }
                if let Some(t) = t {
                    pairs.push((k, t.to_rfc3339()));
                }
            }
            "cursor" => {
                cursor = Some(
                    v.parse::<i64>()
                        .map_err(|_| AppError::validation("cursor", "must be an integer"))?,
                )
            }
            _ => {}
        }
    }
    Ok(Translated {
        pairs,
        form,
        cursor,
    })
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A call as a table row shows it.
#[derive(Debug, Serialize)]
pub struct CallView {
    id: i64,
    at: String,
    endpoint: String,
    method: String,
    token: String,
    token_kind: String,
    status: i32,
    /// `ok`, `warn` or `bad`, for the status badge.
    tone: &'static str,
    code: String,
    size: String,
    duration: String,
    /// Refused calls folded into this row (1 for most rows).
    repeats: i64,
}

impl From<CallOut> for CallView {
    fn from(c: CallOut) -> Self {
        let token = match (c.token_kind.as_str(), c.token_name, c.token_method) {
            ("secondary", Some(n), _) => n,
            ("secondary", None, _) => format!("token #{}", c.token_id.unwrap_or_default()),
            ("primary", _, Some(m)) => format!("primary {m}"),
            ("primary", _, None) => "primary".into(),
            ("none", ..) => "none (public)".into(),
            _ => "unknown".into(),
        };
        Self {
            id: c.id,
            at: show_time(c.at),
            endpoint: c.endpoint_slug,
            method: c.method,
            token,
            token_kind: c.token_kind,
            status: c.status,
            tone: match c.status {
                200..=299 => "ok",
                400..=499 => "warn",
                _ => "bad",
            },
            code: c.code.unwrap_or_default(),
            repeats: c.repeats,
            size: show_bytes(c.request_bytes),
            duration: if c.duration_us < 1000 {
                format!("{} µs", c.duration_us)
            } else {
                format!("{:.1} ms", c.duration_us as f64 / 1000.0)
            },
        }
    }
}

#[derive(Serialize)]
struct Option_ {
    id: i64,
    label: String,
    checked: bool,
}

/// How many tokens the viewer's token picker lists before one types to narrow it.
const PICKER: i64 = 50;

/// The selected tokens, then up to [`PICKER`] tokens whose name contains `needle`.
async fn token_options(
    state: &AppState,
    needle: String,
    selected: Vec<i64>,
) -> UiResult<Vec<Option_>> {
    let (chosen, matching) = state
        .db(move |conn| {
            Ok((
                store::tokens::names_of(conn, &selected)?,
                store::tokens::names_matching(conn, needle.trim(), PICKER + 1)?,
            ))
        })
        .await?;
    let label = |name: String, active: bool| {
        if active {
            name
        } else {
            format!("{name} (inactive)")
        }
    };
    let mut out: Vec<Option_> = chosen
        .iter()
        .map(|(id, name, active)| Option_ {
            id: *id,
            label: label(name.clone(), *active),
            checked: true,
        })
        .collect();
    for (id, name, active) in matching {
        if !chosen.iter().any(|c| c.0 == id) {
            out.push(Option_ {
                id,
                label: label(name, active),
                checked: false,
            });
        }
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
struct PickerQuery {
    q: Option<String>,
}

/// The token picker's options for what was typed (an HTML fragment for `app.js`).
async fn picker(
    _user: UiUser,
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<PickerQuery>,
) -> UiResult<HttpResponse> {
    let selected = api_pairs(req.query_string())
        .map(|t| t.form.tokens)
        .map_err(UiError::from)?;
    let needle: String = q.q.clone().unwrap_or_default().chars().take(200).collect();
    let mut options = token_options(&state, needle, selected).await?;
    let more = options.iter().filter(|o| !o.checked).count() as i64 > PICKER;
    if more {
        options.pop();
    }
    let mut ctx = tera::Context::new();
    ctx.insert("token_options", &options);
    ctx.insert("more_tokens", &more);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(super::render("token_options.html", &ctx)?))
}

#[derive(Serialize)]
struct Series {
    name: String,
    color: &'static str,
    points: String,
    total: i64,
}

#[derive(Serialize)]
struct Chart {
    width: i64,
    height: i64,
    series: Vec<Series>,
    max: i64,
    start: String,
    end: String,
    bucket: &'static str,
}

const CHART_W: f64 = 900.0;
const CHART_H: f64 = 180.0;

async fn chart(state: &AppState, q: &CallQuery) -> Result<Chart, AppError> {
    let until: NaiveDateTime = q.filter.until.unwrap_or_else(|| state.clock.now());
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
    let stats = compute_stats(state, StatsBy::Token, bucket, since, until).await?;
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

async fn viewer(
    user: UiUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> UiResult<HttpResponse> {
    let endpoints: Vec<Option_> = list_endpoints(&state)
        .await?
        .into_iter()
        .map(|e| Option_ {
            id: e.id,
            label: e.slug,
            checked: false,
        })
        .collect();
    let selected = api_pairs(req.query_string())
        .map(|t| t.form.tokens)
        .unwrap_or_default();
    let tokens = token_options(&state, String::new(), selected).await?;
    let mut ctx = user.context("viewer", "Data viewer");
    ctx.insert("more_tokens", &(tokens.len() as i64 > PICKER));
    ctx.insert("token_options", &tokens);
    ctx.insert("endpoint_options", &endpoints);
    let parsed = api_pairs(req.query_string()).and_then(|t| {
        let Translated {
            pairs,
            form,
            cursor,
        } = t;
        let mut q = parse_pairs(pairs.clone())?;
        q.cursor = cursor;
        q.limit = PAGE;
        Ok((pairs, form, q))
    });
    let (pairs, form, q) = match parsed {
        Ok(v) => v,
        Err(e) => {
            ctx.insert("form", &FormValues::default());
            ctx.insert("error", &e.detail());
            ctx.insert("calls", &Vec::<CallView>::new());
            ctx.insert("query", "");
            ctx.insert("newest", &0);
            ctx.insert("next", &None::<i64>);
            ctx.insert("chart", &None::<Chart>);
            ctx.insert("paged", &false);
            return user.render_status(StatusCode::UNPROCESSABLE_ENTITY, "viewer.html", &ctx);
        }
    };
    let chart = chart(&state, &q).await?;
    let (filter, cursor) = (q.filter.clone(), q.cursor);
    let mut rows = state
        .db(move |conn| Ok(store::calls::page(conn, &filter, cursor, PAGE + 1)?))
        .await?;
    let next = if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let newest = rows.first().map(|r| r.id).unwrap_or(0);
    let calls: Vec<CallView> = rows
        .into_iter()
        .map(|r| CallView::from(CallOut::from(r)))
        .collect();
    ctx.insert("form", &form);
    ctx.insert("calls", &calls);
    ctx.insert("query", &encode(&pairs));
    ctx.insert("newest", &newest);
    ctx.insert("next", &next);
    ctx.insert("paged", &cursor.is_some());
    ctx.insert("chart", &Some(chart));
    user.render("viewer.html", &ctx)
}

#[derive(Serialize)]
struct Meta {
    label: &'static str,
    value: String,
}

async fn detail(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    let d = call_detail(&state, id.into_inner()).await?;
    let c = &d.call;
    let meta = vec![
        Meta {
            label: "Time (UTC)",
            value: show_time(c.at),
        },
        Meta {
            label: "Endpoint",
            value: c.endpoint_slug.clone(),
        },
        Meta {
            label: "Method",
            value: c.method.clone(),
        },
        Meta {
            label: "Path",
            value: c.path.clone(),
        },
        Meta {
            label: "Status",
            value: c.status.to_string(),
        },
        Meta {
            label: "Code",
            value: c.code.clone().unwrap_or_else(|| "—".into()),
        },
        Meta {
            label: "Token kind",
            value: c.token_kind.clone(),
        },
        Meta {
            label: "Token",
            value: c
                .token_name
                .clone()
                .or(c.token_method.clone().map(|m| format!("primary {m}")))
                .unwrap_or_else(|| "—".into()),
        },
        Meta {
            label: "Remote address",
            value: c.remote_addr.clone(),
        },
        Meta {
            label: "User agent",
            value: c.user_agent.clone().unwrap_or_else(|| "—".into()),
        },
        Meta {
            label: "Calls in this row",
            value: if c.repeats > 1 {
                format!("{} identical refused calls within one second", c.repeats)
            } else {
                "1".into()
            },
        },
        Meta {
            label: "Request size",
            value: show_bytes(c.request_bytes),
        },
        Meta {
            label: "Response size",
            value: show_bytes(c.response_bytes),
        },
        Meta {
            label: "Duration",
            value: format!("{:.2} ms", c.duration_us as f64 / 1000.0),
        },
        Meta {
            label: "Record",
            value: c
                .record_id
                .map(|r| format!("#{r}"))
                .unwrap_or_else(|| "—".into()),
        },
    ];
    let payload =
        d.payload.as_ref().map(
            |p| match serde_json::from_str::<serde_json::Value>(p.get()) {
                Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
                // beyond what a parsed value can hold: shown as stored
                Err(_) => p.get().to_owned(),
            },
        );
    let mut ctx = user.context("viewer", &format!("Call #{}", c.id));
    ctx.insert("meta", &meta);
    ctx.insert("payload", &payload);
    ctx.insert("call_id", &c.id);
    ctx.insert("had_record", &c.record_id.is_some());
    user.render("call.html", &ctx)
}

/// Server-sent events: each new call matching the filter as a rendered table row.
async fn stream(
    user: UiUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> UiResult<HttpResponse> {
    let t = api_pairs(req.query_string()).map_err(UiError::from)?;
    let mut q = parse_pairs(t.pairs).map_err(UiError::from)?;
    let after = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .or_else(|| {
            form_urlencoded::parse(req.query_string().as_bytes())
                .find(|(k, _)| k == "after")
                .and_then(|(_, v)| v.parse().ok())
        })
        .unwrap_or(0);
    q.filter.after_id = Some(after);
    drop(user);
    let started = std::time::Instant::now();
    let events = futures_util::stream::unfold(
        (state, q.filter, 0u32),
        move |(state, mut filter, ticks)| async move {
            if started.elapsed() > STREAM_LIFETIME {
                return None;
            }
            if ticks > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let f = filter.clone();
            let rows = state
                .db(move |conn| Ok(store::calls::page(conn, &f, None, 100)?))
                .await;
            let mut out = String::new();
            match rows {
                Ok(rows) => {
                    for r in rows.into_iter().rev() {
                        filter.after_id = Some(r.id);
                        let mut ctx = tera::Context::new();
                        ctx.insert("c", &CallView::from(CallOut::from(r.clone())));
                        if let Ok(html) = super::render("call_row.html", &ctx) {
                            out.push_str(&format!(
                                "id: {}\nevent: call\ndata: {}\n\n",
                                r.id,
                                html.replace(['\n', '\r'], " ")
                            ));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "live tail query failed"),
            }
            if out.is_empty() && ticks % 15 == 0 {
                out.push_str(": keep-alive\n\n");
            }
            Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(out)),
                (state, filter, ticks + 1),
            ))
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}
