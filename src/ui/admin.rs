//! Users (admin adds and removes them) and the audit log.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::{show_time, UiForm, UiUser};
use crate::domain::secret::Password;
use crate::domain::user::Role;
use crate::error::{AppError, AppResult};
use crate::operations::audit;
use crate::operations::users::{self, CreateUser};
use crate::state::AppState;

const AUDIT_PAGE: i64 = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::get().to(list_users))
            .route(web::post().to(add_user)),
    );
    cfg.service(web::resource("/users/{id}/delete").route(web::post().to(remove_user)));
    cfg.service(web::resource("/audit").route(web::get().to(audit_log)));
}

async fn list_users(user: UiUser, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let users = users::list(&state).await?;
    let mut ctx = user.context("users", "Users");
    ctx.insert("users", &users);
    ctx.insert("me", &user.caller.user_id);
    user.render("users.html", &ctx)
}

async fn add_user(form: UiForm, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let role = form
        .get("role")
        .unwrap_or_default()
        .parse::<Role>()
        .map_err(|e| AppError::validation("role", e));
    let result = match role {
        Ok(role) => {
            let req = CreateUser {
                username: form.text("username").trim().to_owned(),
                role,
                password: Password::new(form.text("password")),
            };
            match req.validate().await {
                Ok(spec) => users::create(&state, form.caller(), spec).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    form.finish("/ui/users", result, |u| {
        format!("{} added as {}.", u.username, u.role.as_str())
    })
}

async fn remove_user(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    if let Some(page) = form.confirm(
        "Remove this user? Their sessions and API keys end at once. This cannot be undone.",
    ) {
        return page;
    }
    let r = users::delete(&state, form.caller(), id.into_inner()).await;
    form.finish("/ui/users", r, |()| "User removed.".into())
}

#[derive(Serialize)]
struct AuditView {
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

/// `{"name":"shop-app","hint":"abcd…wxyz"}` → `name: shop-app · hint: abcd…wxyz`.
fn readable(detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    }
}

#[derive(serde::Deserialize)]
struct AuditQuery {
    before: Option<String>,
}

async fn audit_log(
    user: UiUser,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let before = match q.before.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(_)) => return Err(AppError::validation("before", "must be an integer")),
    };
    let page = audit::page(&state, before, AUDIT_PAGE).await?;
    let entries: Vec<AuditView> = page
        .entries
        .into_iter()
        .map(|r| AuditView {
            at: show_time(r.at),
            actor: r.actor,
            action: r.action.as_str().to_owned(),
            target: match r.target_id {
                Some(id) => format!("{} #{id}", r.target_type),
                None => r.target_type.as_str().to_owned(),
            },
            detail: readable(&r.detail),
        })
        .collect();
    let mut ctx = user.context("audit", "Audit log");
    ctx.insert("entries", &entries);
    ctx.insert("next", &page.next);
    ctx.insert("paged", &before.is_some());
    user.render("audit.html", &ctx)
}
