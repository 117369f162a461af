//! `/api/v1/audit`: who created, changed or revoked what, and when (admin only).

use actix_web::{web, HttpResponse};

use super::{ApiQuery, PageParams};
use crate::auth::Admin;
use crate::error::{AppResult, Problem};
use crate::operations::audit::{self, AuditPage};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(web::resource("/audit").route(web::get().to(list)));
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageParams),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    _admin: Admin,
    state: web::Data<AppState>,
    page: ApiQuery<PageParams>,
) -> AppResult<HttpResponse> {
    let limit = page.limit()?;
    Ok(HttpResponse::Ok().json(audit::page(&state, page.cursor, limit).await?))
}
