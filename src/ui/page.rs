//! What every page and form shares: the signed-in user, the submitted form with its
//! CSRF check, flash messages across a redirect, confirmations, rendering.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use tera::Context;

use super::templates;
use crate::auth::session_of;
use crate::domain::reveal::Shown;
use crate::domain::token::{TokenHash, TokenValue};
use crate::domain::user::Actor;
use crate::error::{AppError, AppResult, Code};
use crate::operations::impact::{self, ImpactQuery};
use crate::operations::sessions;
use crate::state::AppState;

const FLASH_COOKIE: &str = "portico_flash";
const FORM_LIMIT: usize = 256 * 1024;

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// Only our own pages are redirect targets (no open redirects).
pub fn safe_target(path: Option<&str>, fallback: &str) -> String {
    match path {
        Some(p)
            if p.starts_with("/ui/")
                && !p.starts_with("/ui//")
                && !p.contains('\\')
                && !p.contains("://")
                && p.chars().all(|c| !c.is_control()) =>
        {
            p.to_owned()
        }
        _ => fallback.to_owned(),
    }
}

/// A message carried across one redirect.
#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    pub kind: &'static str,
    pub text: String,
}

pub fn flash_cookie(flash: Option<&Flash>) -> Cookie<'static> {
    let (value, age) = match flash {
        Some(f) => (
            format!(
                "{}:{}",
                f.kind,
                form_urlencoded::byte_serialize(f.text.as_bytes()).collect::<String>()
            ),
            CookieDuration::seconds(60),
        ),
        None => (String::new(), CookieDuration::ZERO),
    };
    Cookie::build(FLASH_COOKIE, value)
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(age)
        .finish()
}

pub fn read_flash(req: &HttpRequest) -> Option<Flash> {
    let c = req.cookie(FLASH_COOKIE)?;
    let (kind, text) = c.value().split_once(':')?;
    let kind = match kind {
        "ok" => "ok",
        _ => "error",
    };
    let text: String = form_urlencoded::parse(format!("t={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    (!text.is_empty()).then(|| Flash {
        kind,
        text: text.chars().take(500).collect(),
    })
}

/// Whether the request carries a flash message (to clear it once shown).
pub fn has_flash(req: &HttpRequest) -> bool {
    req.cookie(FLASH_COOKIE).is_some()
}

/// Redirects to `to` with a message for the next page.
pub fn redirect_with(to: &str, kind: &'static str, text: impl Into<String>) -> HttpResponse {
    let mut r = redirect(to);
    let _ = r.add_cookie(&flash_cookie(Some(&Flash {
        kind,
        text: text.into(),
    })));
    r
}

/// Renders `template` with `ctx` to HTML.
pub fn render(template: &str, ctx: &Context) -> AppResult<String> {
    templates().render(template, ctx).map_err(|e| {
        tracing::error!(template, error = ?e, "template failed to render");
        AppError::Internal
    })
}

/// The signed-in user of a page, with the CSRF token its forms carry.
pub struct UiUser {
    pub caller: Actor,
    pub csrf: String,
    flash: Option<Flash>,
    pub path: String,
    session: TokenValue,
}

impl UiUser {
    pub fn is_admin(&self) -> bool {
        self.caller.is_admin()
    }

    pub fn require_admin(&self) -> AppResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "This page is for admins. Analysts have the data viewer.",
            ))
        }
    }

    /// The base context of every page.
    pub fn context(&self, nav: &str, title: &str) -> Context {
        let mut ctx = Context::new();
        ctx.insert("nav", nav);
        ctx.insert("title", title);
        ctx.insert("csrf", &self.csrf);
        ctx.insert("username", &self.caller.username);
        ctx.insert("is_admin", &self.is_admin());
        ctx.insert("flash", &self.flash);
        ctx.insert("here", &self.path);
        ctx
    }

    /// Renders `template`, consuming any flash message shown on it.
    pub fn render(&self, template: &str, ctx: &Context) -> AppResult<HttpResponse> {
        self.render_status(StatusCode::OK, template, ctx)
    }

    /// The show-once values a form left for this page (see `domain::reveal`),
    /// gone once shown.
    pub async fn take_revealed(&self, state: &AppState, page: &str) -> AppResult<Vec<Shown>> {
        sessions::take_reveal(state, &self.session, page).await
    }

    pub fn render_status(
        &self,
        status: StatusCode,
        template: &str,
        ctx: &Context,
    ) -> AppResult<HttpResponse> {
        let html = render(template, ctx)?;
        let mut resp = HttpResponse::build(status);
        resp.content_type("text/html; charset=utf-8");
        if self.flash.is_some() {
            resp.cookie(flash_cookie(None));
        }
        Ok(resp.body(html))
    }
}

fn path_of(req: &HttpRequest) -> String {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default()
}

async fn ui_user(req: HttpRequest, csrf: Option<Option<TokenHash>>) -> AppResult<UiUser> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(AppError::Internal)?;
    let session = session_of(&req).ok_or_else(AppError::unauthenticated)?;
    let caller = sessions::authenticate(&state, &session, csrf).await?;
    Ok(UiUser {
        caller,
        csrf: sessions::csrf_token_for(&session),
        flash: read_flash(&req),
        path: path_of(&req),
        session,
    })
}

impl FromRequest for UiUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = AppResult<UiUser>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(ui_user(req.clone(), None))
    }
}

/// A submitted form of a signed-in user whose CSRF token checked out.
pub struct UiForm {
    pub user: UiUser,
    fields: Vec<(String, String)>,
    /// Sent by the page's script (`X-Portico-Inplace: 1`), which changes the page in
    /// place: the outcome comes back as JSON instead of a redirect.
    inplace: bool,
}

/// An in-place form's outcome: `{"ok", "message"}` (or `"confirm"`: ask first).
fn inplace_reply(status: StatusCode, ok: bool, key: &str, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "ok": ok, key: text }))
}

impl FromRequest for UiForm {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = AppResult<UiForm>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let too_large = || AppError::payload_too_large(FORM_LIMIT as u64);
            let body = body.await.map_err(|_| too_large())?;
            if body.len() > FORM_LIMIT {
                return Err(too_large());
            }
            let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let presented = fields
                .iter()
                .find(|(k, _)| k == "_csrf")
                .map(|(_, v)| TokenHash::of(v));
            let inplace = req
                .headers()
                .get("x-portico-inplace")
                .is_some_and(|v| v.as_bytes() == b"1");
            let user = ui_user(req, Some(presented)).await?;
            Ok(UiForm {
                user,
                fields,
                inplace,
            })
        })
    }
}

impl UiForm {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The field's text, empty when absent.
    pub fn text(&self, key: &str) -> String {
        self.get(key).unwrap_or_default().to_owned()
    }

    /// A checkbox or switch: on when present with a true-ish value.
    pub fn flag(&self, key: &str) -> bool {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .is_some_and(|(_, v)| matches!(v.as_str(), "on" | "true" | "1" | "yes"))
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn caller(&self) -> &Actor {
        &self.user.caller
    }

    /// Where to go after the action: the page the form came from.
    pub fn back(&self, fallback: &str) -> String {
        safe_target(self.get("_back"), fallback)
    }

    /// Back to the form's page with the outcome as a message.
    pub fn finish<T>(
        &self,
        fallback: &str,
        result: AppResult<T>,
        ok: impl FnOnce(T) -> String,
    ) -> AppResult<HttpResponse> {
        let to = self.back(fallback);
        match (result, self.inplace) {
            (Ok(v), true) => Ok(inplace_reply(StatusCode::OK, true, "message", &ok(v))),
            (Ok(v), false) => Ok(redirect_with(&to, "ok", ok(v))),
            (Err(e), _) => self.fail(fallback, e),
        }
    }

    /// Post/redirect/get for a form that made secrets: they wait, sealed, for the one
    /// view of `to`, which the browser is sent to with `note` as its message.
    pub async fn reveal_then(
        &self,
        state: &AppState,
        to: &str,
        shown: Vec<Shown>,
        note: &str,
    ) -> AppResult<HttpResponse> {
        sessions::stash_reveal(state, &self.user.session, to, shown).await?;
        Ok(redirect_with(to, "ok", note))
    }

    /// Back to the form's page with `e` as the message (or its error page).
    pub fn fail(&self, fallback: &str, e: AppError) -> AppResult<HttpResponse> {
        if self.inplace {
            let status = e.code().status();
            let message = match &e {
                AppError::Refused(Code::NotFound, _) => "That no longer exists.".to_owned(),
                e if status.is_client_error() => e.detail(),
                _ => return Err(e),
            };
            return Ok(inplace_reply(status, false, "message", &message));
        }
        fail(&self.back(fallback), e)
    }

    /// A destructive action runs only once confirmed: by the dialog (with JavaScript)
    /// or by this confirmation page (without).
    pub fn confirm(&self, question: &str) -> Option<AppResult<HttpResponse>> {
        if self.flag("_confirmed") {
            return None;
        }
        self.ask(question, None)
    }

    /// [`UiForm::confirm`] for a cut: the page without JavaScript also says what the
    /// cut would have refused (`q`, asked of the call log only when the page is
    /// shown; the dialog asks `GET /api/v1/impact` itself).
    pub async fn confirm_impact(
        &self,
        question: &str,
        state: &AppState,
        q: ImpactQuery,
    ) -> Option<AppResult<HttpResponse>> {
        if self.flag("_confirmed") {
            return None;
        }
        let figure = match self.inplace {
            true => None,
            false => impact::impact(state, q)
                .await
                .ok()
                .map(|i| format!("In the call log, this {}.", i.summary)),
        };
        self.ask(question, figure.as_deref())
    }

    fn ask(&self, question: &str, impact: Option<&str>) -> Option<AppResult<HttpResponse>> {
        if self.inplace {
            let reply = inplace_reply(
                StatusCode::PRECONDITION_REQUIRED,
                false,
                "confirm",
                question,
            );
            return Some(Ok(reply));
        }
        let mut ctx = self.user.context("", "Please confirm");
        ctx.insert("question", question);
        ctx.insert("impact", &impact);
        ctx.insert("action", &self.user.path);
        let fields: Vec<&(String, String)> = self
            .fields
            .iter()
            .filter(|(k, _)| k != "_csrf" && k != "_confirmed")
            .collect();
        ctx.insert("fields", &fields);
        ctx.insert("cancel", &self.back("/ui/"));
        Some(self.user.render("confirm.html", &ctx))
    }
}

/// An error the user can fix goes back to the form as a message; the rest become pages.
fn fail(to: &str, e: AppError) -> AppResult<HttpResponse> {
    match &e {
        AppError::Validation(..) | AppError::RateLimited { .. } => {
            Ok(redirect_with(to, "error", e.detail()))
        }
        AppError::Refused(code, _)
            if matches!(
                code.status(),
                StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
            ) =>
        {
            Ok(redirect_with(to, "error", e.detail()))
        }
        AppError::Refused(Code::NotFound, detail) => {
            let what = detail.strip_suffix(" not found").unwrap_or("item");
            Ok(redirect_with(
                to,
                "error",
                format!("That {what} no longer exists."),
            ))
        }
        _ => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_our_pages() {
        for bad in [
            "//evil.example",
            "https://evil.example/ui/",
            "/ui//evil",
            "/e/x",
            "/ui/\\evil",
            "/ui/a\nb",
        ] {
            assert_eq!(safe_target(Some(bad), "/ui/"), "/ui/", "{bad:?}");
        }
        assert_eq!(
            safe_target(Some("/ui/tokens?show=inactive"), "/ui/"),
            "/ui/tokens?show=inactive"
        );
        assert_eq!(safe_target(None, "/ui/x"), "/ui/x");
    }
}
