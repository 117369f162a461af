//! Signing in and out of the UI.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use tera::Context;

use super::errors::message_page;
use super::page::{
    has_flash, read_flash, redirect, redirect_with, render, safe_target, Flash, UiForm,
};
use crate::auth::{end_session, session_cookie};
use crate::domain::secret::Password;
use crate::error::{AppError, AppResult, Code};
use crate::operations::sessions;
use crate::request::client_address;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/login")
            .route(web::get().to(login_page))
            .route(web::post().to(login)),
    );
    cfg.service(web::resource("/logout").route(web::post().to(logout)));
}

#[derive(serde::Deserialize)]
struct NextParam {
    next: Option<String>,
}

async fn login_page(req: HttpRequest, q: web::Query<NextParam>) -> AppResult<HttpResponse> {
    let mut ctx = Context::new();
    ctx.insert("title", "Sign in");
    ctx.insert("next", &safe_target(q.next.as_deref(), "/ui/"));
    ctx.insert("flash", &read_flash(&req));
    ctx.insert("username", "");
    let html = render("login.html", &ctx)?;
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/html; charset=utf-8");
    if has_flash(&req) {
        resp.cookie(super::page::flash_cookie(None));
    }
    Ok(resp.body(html))
}

/// Whether a form post comes from our own pages: the browser's `Sec-Fetch-Site` and
/// `Origin` say so. The login form has no session (so no CSRF token) to check yet.
fn same_origin(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return false;
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            origin
                .split_once("://")
                .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
        }
    }
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    if !same_origin(&req) {
        return Ok(message_page(
            StatusCode::FORBIDDEN,
            "Sign in from Portico",
            "This sign-in did not come from Portico's own login page.",
        ));
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let username = get("username");
    let next = safe_target(Some(&get("next")), "/ui/");
    let address = client_address(&req, state.settings.trust_proxy_headers);
    match sessions::start(
        &state,
        address,
        username.clone(),
        Password::new(get("password")),
    )
    .await
    {
        Ok((session, _)) => {
            let mut r = redirect(&next);
            let _ = r.add_cookie(&session_cookie(&req, &state, Some(&session)));
            Ok(r)
        }
        Err(e) if e.is(Code::LoginFailed) || e.is(Code::RateLimited) => {
            refused(&e, &next, &username)
        }
        Err(other) => Err(other),
    }
}

/// The login page again, saying why the sign-in was refused.
fn refused(e: &AppError, next: &str, username: &str) -> AppResult<HttpResponse> {
    let mut ctx = Context::new();
    ctx.insert("title", "Sign in");
    ctx.insert("next", next);
    ctx.insert("username", username);
    let text = if e.is(Code::LoginFailed) {
        "Wrong username or password.".to_owned()
    } else {
        e.detail()
    };
    ctx.insert(
        "flash",
        &Flash {
            kind: "error",
            text,
        },
    );
    let mut resp = HttpResponse::build(e.status_code());
    resp.content_type("text/html; charset=utf-8");
    if let AppError::RateLimited {
        retry_after_secs, ..
    } = e
    {
        resp.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
    }
    Ok(resp.body(render("login.html", &ctx)?))
}

async fn logout(
    req: HttpRequest,
    form: UiForm,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    end_session(&req, &state).await?;
    tracing::info!(username = %form.user.caller.username, "logout");
    let mut r = redirect_with("/ui/login", "ok", "Signed out.");
    let _ = r.add_cookie(&session_cookie(&req, &state, None));
    Ok(r)
}
