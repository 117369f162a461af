//! `/api/v1/calls` and `/api/v1/stats`: the endpoint data viewer's queries
//! (analysts and admins), over the call log (`crate::calls`).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use crate::calls::export::{self, ExportParams};
use crate::calls::filter::{self, FilterParams, ListParams, Syntax};
use crate::calls::stats::{self, Stats, StatsParams, StatsQuery};
use crate::calls::view::{self, CallDetail, CallPage};
use crate::domain::user::Actor;
use crate::error::{AppResult, Problem};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/calls").route(web::get().to(list)));
    cfg.service(web::resource("/calls/export").route(web::get().to(export)));
    cfg.service(web::resource("/calls/{id}").route(web::get().to(get)));
    cfg.service(web::resource("/stats").route(web::get().to(stats)));
}

/// Calls, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(FilterParams, ListParams),
    responses((status = 200, body = CallPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    _caller: Actor,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = filter::parse(req.query_string(), Syntax::Api)?;
    let page = view::page(&state, &q).await?;
    Ok(HttpResponse::Ok().json(CallPage {
        calls: page.items,
        next: page.next,
    }))
}

/// One call with its payload.
#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", params(("id" = i64, Path)),
    responses((status = 200, body = CallDetail), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _caller: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(view::detail(&state, id.into_inner()).await?))
}

/// Every call matching the filters (or the first `limit`) as CSV or NDJSON, newest
/// first, with payloads (NDJSON always; CSV with `data=true`), streamed as it is read.
#[utoipa::path(get, path = "/api/v1/calls/export", tag = "calls", params(FilterParams, ExportParams),
    responses((status = 200, description = "CSV (text/csv, the default) or NDJSON (application/x-ndjson, `format=ndjson`)",
            content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "As many exports as allowed are running; see Retry-After")))]
pub async fn export(
    _caller: Actor,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let export = export::parse(req.query_string(), Syntax::Api)?;
    let permit = export::admit(&state)?;
    state.settle_calls().await?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let format = export.format;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"calls-{stamp}.{}\"",
                format.extension()
            ),
        ))
        .streaming(export::stream(&state, export, permit)))
}

/// Calls per token or per endpoint over time buckets.
///
/// The calls counted are those the same filters select in the call list (a folded
/// row counts its `repeats`). Without `since`, the period starts 24 hours before
/// `until` (default now).
#[utoipa::path(get, path = "/api/v1/stats", tag = "calls", params(StatsParams, FilterParams),
    responses((status = 200, body = Stats), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn stats(
    _caller: Actor,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = StatsQuery::parse(req.query_string(), state.clock.now())?;
    Ok(HttpResponse::Ok().json(stats::compute(&state, q).await?))
}
