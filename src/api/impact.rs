//! `/api/v1/impact`: what a cut would have refused, before it is made.

use actix_web::{web, HttpResponse};

use super::ApiQuery;
use crate::auth::Admin;
use crate::error::{AppResult, Problem};
use crate::operations::impact::{self as ops, ImpactOut, ImpactQuery};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/impact").route(web::get().to(impact)));
}

/// What disabling a token, a mapping (`token`, `endpoint`, `method`) or an endpoint
/// would have refused over the last `days`: calls, applications, the last call.
#[utoipa::path(get, path = "/api/v1/impact", tag = "endpoints", params(ImpactQuery),
    responses((status = 200, body = ImpactOut), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn impact(
    _admin: Admin,
    state: web::Data<AppState>,
    q: ApiQuery<ImpactQuery>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::impact(&state, q.0).await?))
}
