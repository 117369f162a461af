//! Users (admin adds and removes them) and the audit log.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::{show_time, UiForm, UiResult, UiUser};
use crate::api::users::{create_user, delete_user, CreateUser, UserOut};
use crate::auth::Role;
use crate::domain::secret::Password;
use crate::error::AppError;
use crate::store;
use crate::AppState;

const AUDIT_PAGE: i64 = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::get().to(users))
            .route(web::post().to(add_user)),
    );
    cfg.service(web::resource("/users/{id}/delete").route(web::post().to(remove_user)));
    cfg.service(web::resource("/audit").route(web::get().to(audit)));
}

async fn users(user: UiUser, state: web::Data<AppState>) -> UiResult<HttpResponse> {
    user.require_admin()?;
    let rows = state.db(|conn| Ok(store::users::list(conn)?)).await?;
    let users: Vec<UserOut> = rows.into_iter().map(UserOut::from).collect();
    let mut ctx = user.context("users", "Users");
    ctx.insert("users", &users);
    ctx.insert("me", &user.caller.user_id);
    user.render("users.html", &ctx)
}

async fn add_user(form: UiForm, state: web::Data<AppState>) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let role = form
        .get("role")
        .unwrap_or_default()
        .parse::<Role>()
        .map_err(|e| AppError::validation("role", e));
    let result = match role {
        Ok(role) => {
            create_user(
                form.caller(),
                &state,
                CreateUser {
                    username: form.text("username").trim().to_owned(),
                    role,
                    password: Password::new(form.text("password")),
                },
            )
            .await
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
) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    if let Some(page) = form.confirm(
        "Remove this user? Their sessions and API keys end at once. This cannot be undone.",
    ) {
        return page;
    }
    let r = delete_user(form.caller(), &state, id.into_inner()).await;
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
fn readable(detail: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(m)) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        _ => detail.to_owned(),
    }
}

#[derive(serde::Deserialize)]
struct AuditQuery {
    before: Option<String>,
}

async fn audit(
    user: UiUser,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> UiResult<HttpResponse> {
    user.require_admin()?;
    let before = match q.before.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(_)) => {
            return Err(AppError::validation("before", "must be an integer").into());
        }
    };
    let mut rows = state
        .db(move |conn| Ok(store::audit::page(conn, before, AUDIT_PAGE + 1)?))
        .await?;
    let next = if rows.len() as i64 > AUDIT_PAGE {
        rows.truncate(AUDIT_PAGE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let entries: Vec<AuditView> = rows
        .into_iter()
        .map(|r| AuditView {
            at: show_time(r.at.and_utc()),
            actor: r.actor,
            action: r.action,
            target: match r.target_id {
                Some(id) => format!("{} #{id}", r.target_type),
                None => r.target_type,
            },
            detail: readable(&r.detail),
        })
        .collect();
    let mut ctx = user.context("audit", "Audit log");
    ctx.insert("entries", &entries);
    ctx.insert("next", &next);
    ctx.insert("paged", &before.is_some());
    user.render("audit.html", &ctx)
}
