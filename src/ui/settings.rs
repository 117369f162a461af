//! Settings (admin): the token lifetime policy.

use actix_web::{web, HttpResponse};

use super::{int_field, UiForm, UiUser};
use crate::error::AppError;
use crate::error::AppResult;
use crate::operations::token_policy::{self, PutTokenPolicy};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/settings").route(web::get().to(page)));
    cfg.service(web::resource("/settings/token-policy").route(web::post().to(save_policy)));
}

async fn page(user: UiUser, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let mut ctx = user.context("settings", "Settings");
    ctx.insert("policy", &token_policy::get(&state).await?);
    user.render("settings.html", &ctx)
}

async fn save_policy(form: UiForm, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let req = (|| {
        Ok::<_, AppError>(PutTokenPolicy {
            default_expiry_days: int_field(&form, "default_expiry_days")?,
            max_lifetime_days: int_field(&form, "max_lifetime_days")?,
        })
    })();
    let result = match req.and_then(PutTokenPolicy::validate) {
        Ok(policy) => token_policy::put(&state, form.caller(), policy).await,
        Err(e) => Err(e),
    };
    form.finish("/ui/settings", result, |p| {
        let days = |d: Option<i64>, none: &str| match d {
            Some(n) => format!("{n} days"),
            None => none.to_owned(),
        };
        format!(
            "Token lifetime policy saved: new tokens expire after {}; maximum lifetime {}.",
            days(p.default_expiry_days, "never"),
            days(p.max_lifetime_days, "none"),
        )
    })
}
