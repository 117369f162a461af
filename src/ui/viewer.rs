//! The endpoint data viewer: calls filtered by tokens, endpoint, method, status,
//! time and payload text; a call's detail; calls per token over time; CSV export
//! of the current filter; and a live tail over server-sent events.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::chart::{chart, colour_of, Chart};
use super::page::render;
use super::{show_bytes, show_time, UiUser};
use crate::calls::conformance;
use crate::calls::filter::{self, status_text, Syntax};
use crate::calls::{view, Call, CallQuery};
use crate::domain::call::TokenKind;
use crate::error::AppResult;
use crate::operations::{endpoints, tokens};
use crate::state::AppState;

const PAGE: i64 = 50;
/// A live tail reconnects (and so re-authenticates) at least this often.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/viewer").route(web::get().to(viewer)));
    cfg.service(web::resource("/viewer/stream").route(web::get().to(stream)));
    cfg.service(web::resource("/viewer/token-options").route(web::get().to(picker)));
    cfg.service(web::resource("/viewer/calls/{id}").route(web::get().to(detail)));
}

/// The filter form's values, to refill the form.
#[derive(Debug, Default, Serialize)]
struct FormValues {
    tokens: Vec<i64>,
    endpoint: String,
    method: String,
    status: String,
    since: String,
    until: String,
    q: String,
    /// `true`, `false` or empty.
    conforms: String,
}

impl FormValues {
    fn of(q: &CallQuery) -> Self {
        let f = &q.filter;
        let local = |t: Option<chrono::NaiveDateTime>| {
            t.map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
                .unwrap_or_default()
        };
        Self {
            tokens: f.token_ids.clone(),
            endpoint: f.endpoint_id.map(|e| e.to_string()).unwrap_or_default(),
            method: f.method.clone().unwrap_or_default(),
            status: f.status.map(status_text).unwrap_or_default(),
            since: local(f.since),
            until: local(f.until),
            q: f.q.clone().unwrap_or_default(),
            conforms: f.conforms.map(|c| c.to_string()).unwrap_or_default(),
        }
    }
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
    /// The token's colour, as the chart draws it.
    colour: &'static str,
    status: i32,
    /// `ok`, `warn` or `bad`, for the status badge.
    tone: &'static str,
    code: String,
    size: String,
    duration: String,
    /// Refused calls folded into this row (1 for most rows).
    repeats: i64,
    /// Whether the body conformed to the endpoint's schema (`None`: not checked).
    conforms: Option<bool>,
}

impl From<Call> for CallView {
    fn from(c: Call) -> Self {
        let token = match (c.token_kind, c.token_name, c.token_method) {
            (TokenKind::Secondary, Some(n), _) => n,
            (TokenKind::Secondary, None, _) => format!("token #{}", c.token_id.unwrap_or_default()),
            (TokenKind::Primary, _, Some(m)) => format!("primary {m}"),
            (TokenKind::Primary, _, None) => "primary".into(),
            (TokenKind::None, ..) => "none (public)".into(),
            (TokenKind::Unknown, ..) => "unknown".into(),
        };
        Self {
            id: c.id,
            at: show_time(c.at.and_utc()),
            endpoint: c.endpoint_slug,
            method: c.method,
            token,
            token_kind: c.token_kind.as_str().to_owned(),
            colour: colour_of(c.token_kind, c.token_id),
            status: c.status,
            tone: match c.status {
                200..=299 => "ok",
                400..=499 => "warn",
                _ => "bad",
            },
            code: c.code.unwrap_or_default(),
            repeats: c.repeats,
            conforms: c.conforms,
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
) -> AppResult<Vec<Option_>> {
    let (chosen, matching) = tokens::names(state, needle, selected, PICKER + 1).await?;
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
) -> AppResult<HttpResponse> {
    let selected = filter::parse(req.query_string(), Syntax::Form)?
        .filter
        .token_ids;
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
        .body(render("token_options.html", &ctx)?))
}

async fn viewer(
    user: UiUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let endpoints: Vec<Option_> = endpoints::list(&state)
        .await?
        .into_iter()
        .map(|e| Option_ {
            id: e.id,
            label: e.slug,
            checked: false,
        })
        .collect();
    let parsed = filter::parse(req.query_string(), Syntax::Form);
    let selected = parsed
        .as_ref()
        .map(|q| q.filter.token_ids.clone())
        .unwrap_or_default();
    let tokens = token_options(&state, String::new(), selected).await?;
    let mut ctx = user.context("viewer", "Data viewer");
    ctx.insert("more_tokens", &(tokens.len() as i64 > PICKER));
    ctx.insert("token_options", &tokens);
    ctx.insert("endpoint_options", &endpoints);
    let mut q = match parsed {
        Ok(q) => q,
        Err(e) => {
            ctx.insert("form", &FormValues::default());
            ctx.insert("error", &e.detail());
            ctx.insert("calls", &Vec::<CallView>::new());
            ctx.insert("query", "");
            ctx.insert("newest", &0);
            ctx.insert("next", &None::<i64>);
            ctx.insert("chart", &None::<Chart>);
            ctx.insert("conformance", &Vec::<()>::new());
            ctx.insert("paged", &false);
            return user.render_status(StatusCode::UNPROCESSABLE_ENTITY, "viewer.html", &ctx);
        }
    };
    q.limit = PAGE;
    let chart = chart(&state, &q, state.clock.now()).await?;
    let page = view::page(&state, &q).await?;
    let newest = page.items.first().map(|r| r.id).unwrap_or(0);
    let calls: Vec<CallView> = page.items.into_iter().map(CallView::from).collect();
    ctx.insert("form", &FormValues::of(&q));
    ctx.insert("calls", &calls);
    ctx.insert("query", &filter::encode(&q));
    ctx.insert("newest", &newest);
    ctx.insert("next", &page.next);
    ctx.insert("paged", &q.cursor.is_some());
    ctx.insert("chart", &Some(chart));
    // Drift from a data contract, per application: asked of one endpoint's calls
    // (or of the non-conforming ones), never of the whole log.
    let conformance = match q.filter.endpoint_id.is_some() || q.filter.conforms.is_some() {
        true => conformance::by_token(&state, q.filter.clone()).await?,
        false => Vec::new(),
    };
    ctx.insert("conformance", &conformance);
    user.render("viewer.html", &ctx)
}

#[derive(Serialize)]
struct Meta {
    label: &'static str,
    value: String,
    /// The page of what the value names (admins' pages: for admins only).
    href: Option<String>,
}

/// The call's facts as label and value rows; for admins the endpoint and the token
/// link to their pages.
fn meta_of(c: &Call, admin: bool) -> Vec<Meta> {
    let link = |href: Option<String>| href.filter(|_| admin);
    let endpoint = link(c.endpoint_id.map(|id| format!("/ui/endpoints/{id}")));
    let token = link(match c.token_kind {
        TokenKind::Secondary => c.token_id.map(|id| format!("/ui/tokens/{id}")),
        TokenKind::Primary => c.endpoint_id.map(|id| format!("/ui/endpoints/{id}/tokens")),
        _ => None,
    });
    let mut meta = facts(c);
    for m in &mut meta {
        m.href = match m.label {
            "Endpoint" => endpoint.clone(),
            "Token" => token.clone(),
            _ => None,
        };
    }
    meta
}

/// Whether the body conformed to the endpoint's schema, with where it did not.
fn conformance(c: &Call) -> String {
    let violations: Vec<crate::domain::contract::Violation> = c
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    let said: Vec<String> = violations
        .iter()
        .map(|v| {
            format!(
                "{}: {}",
                if v.pointer.is_empty() {
                    "/"
                } else {
                    &v.pointer
                },
                v.message
            )
        })
        .collect();
    match (c.conforms, said.is_empty()) {
        (None, _) => "not checked (no schema)".into(),
        (Some(true), _) => "conforms".into(),
        (Some(false), true) => "does not conform".into(),
        (Some(false), false) => format!("does not conform — {}", said.join("; ")),
    }
}

fn facts(c: &Call) -> Vec<Meta> {
    let m = |label, value| Meta {
        label,
        value,
        href: None,
    };
    vec![
        m("Time (UTC)", show_time(c.at.and_utc())),
        m("Endpoint", c.endpoint_slug.clone()),
        m("Method", c.method.clone()),
        m("Path", c.path.clone()),
        m("Status", c.status.to_string()),
        m("Code", c.code.clone().unwrap_or_else(|| "—".into())),
        m("Token kind", c.token_kind.as_str().to_owned()),
        m(
            "Token",
            c.token_name
                .clone()
                .or(c.token_method.map(|m| format!("primary {m}")))
                .unwrap_or_else(|| "—".into()),
        ),
        m("Remote address", c.remote_addr.clone()),
        m(
            "User agent",
            c.user_agent.clone().unwrap_or_else(|| "—".into()),
        ),
        m(
            "Calls in this row",
            if c.repeats > 1 {
                format!("{} identical refused calls within one second", c.repeats)
            } else {
                "1".into()
            },
        ),
        m("Schema", conformance(c)),
        m("Request size", show_bytes(c.request_bytes)),
        m("Response size", show_bytes(c.response_bytes)),
        m(
            "Duration",
            format!("{:.2} ms", c.duration_us as f64 / 1000.0),
        ),
        m(
            "Record",
            c.record_id
                .map(|r| format!("#{r}"))
                .unwrap_or_else(|| "—".into()),
        ),
    ]
}

/// The viewer page (with its filters) that led here, to return to; the plain viewer
/// when the call was opened from elsewhere.
fn viewer_behind(req: &HttpRequest) -> String {
    let from = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<actix_web::http::Uri>().ok())
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_owned()));
    match from {
        Some(p) if p == "/ui/viewer" || p.starts_with("/ui/viewer?") => {
            super::page::safe_target(Some(&p), "/ui/viewer")
        }
        _ => "/ui/viewer".to_owned(),
    }
}

async fn detail(
    req: HttpRequest,
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let d = view::detail(&state, id.into_inner()).await?;
    let c = &d.call;
    let meta = meta_of(c, user.is_admin());
    // As sent: key order and number text kept, only laid out.
    let payload = d
        .payload
        .as_ref()
        .map(|p| crate::domain::record::indent_json(p.get()));
    let mut ctx = user.context("viewer", &format!("Call #{}", c.id));
    ctx.insert("back", &viewer_behind(&req));
    ctx.insert("meta", &meta);
    ctx.insert("payload", &payload);
    ctx.insert("call_id", &c.id);
    ctx.insert("had_record", &c.record_id.is_some());
    ctx.insert("why", &d.why);
    if let Some(cause) = &d.caused_by {
        ctx.insert("caused_by", cause);
        ctx.insert("caused_at", &show_time(cause.at));
        ctx.insert("cause_href", &user.is_admin().then(|| audit_link(cause)));
    }
    user.render("call.html", &ctx)
}

/// The audit log filtered to the entry `cause`: its action and actor, it on top.
fn audit_link(cause: &crate::calls::why::CausedBy) -> String {
    let before = (cause.id + 1).to_string();
    let query = [
        ("action", cause.action.as_str()),
        ("actor", &cause.actor),
        ("before", &before),
    ];
    format!(
        "/ui/audit?{}",
        serde_urlencoded::to_string(query).unwrap_or_default()
    )
}

/// Server-sent events: each new call matching the filter as a rendered table row.
async fn stream(
    user: UiUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let mut q = filter::parse(req.query_string(), Syntax::Form)?;
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
            let rows = view::newer(&state, filter.clone(), 100).await;
            let mut out = String::new();
            match rows {
                Ok(rows) => {
                    for r in rows.into_iter().rev() {
                        filter.after_id = Some(r.id);
                        let mut ctx = tera::Context::new();
                        ctx.insert("c", &CallView::from(r.clone()));
                        if let Ok(html) = render("call_row.html", &ctx) {
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
