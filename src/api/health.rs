//! `/api/v1/health`: every mapping's health (analysts and admins), read from the
//! running aggregates.

use actix_web::{web, HttpResponse};

use super::ApiQuery;
use crate::domain::user::Actor;
use crate::error::{AppResult, Problem};
use crate::operations::health::{self, HealthPage, HealthQuery};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(list)));
}

/// Every mapping with its token and endpoint, last call, calls and refusals in the
/// last 24 hours, whether it is overdue (`silent_since`) and its token's expiry;
/// the worst first (silent longest first, then failing, then expiring), searched,
/// filtered by state and paged, with a count per state.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", params(HealthQuery),
    responses((status = 200, body = HealthPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    _caller: Actor,
    state: web::Data<AppState>,
    q: ApiQuery<HealthQuery>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(health::page(&state, &q).await?))
}
