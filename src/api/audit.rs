//! `/api/v1/audit`: who created, changed or revoked what, and when (admin only).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::Admin;
use crate::calls::filter::Syntax;
use crate::error::{AppResult, Problem};
use crate::operations::audit::query::{self, AuditParams};
use crate::operations::audit::{self, AuditPage};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/audit").route(web::get().to(list)));
}

/// The audit log, newest first, filtered by actor, action, target type and time.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem, description = "A filter value is not valid; `field` names it")))]
pub async fn list(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = query::parse(req.query_string(), Syntax::Api)?;
    Ok(HttpResponse::Ok().json(audit::page(&state, q).await?))
}
