//! Users (admin adds and removes them) and the audit log.

mod audit;

use actix_web::{web, HttpResponse};

use super::{UiForm, UiUser};
use crate::domain::secret::Password;
use crate::domain::user::Role;
use crate::error::{AppError, AppResult};
use crate::operations::users::{self, CreateUser};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::get().to(list_users))
            .route(web::post().to(add_user)),
    );
    cfg.service(web::resource("/users/{id}/delete").route(web::post().to(remove_user)));
    cfg.service(web::resource("/audit").route(web::get().to(audit::page)));
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
