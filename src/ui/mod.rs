//! The admin web UI: server-rendered tera pages under `/ui`. Pages read through the
//! same store and management operations as the JSON API; forms post to `/ui/...`
//! handlers that call those operations, so every rule, validation and audit entry
//! is shared. Works without JavaScript; `app.js` only adds dialogs, copy, reveal
//! and the live tail.

mod admin;
mod endpoints;
mod tokens;
mod viewer;

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use actix_web::body::BoxBody;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use tera::{Context, Tera};

use crate::auth::{Caller, Role, SESSION_COOKIE};
use crate::domain::secret::Password;
use crate::domain::token::{TokenHash, TokenValue};
use crate::error::AppError;
use crate::AppState;

const FLASH_COOKIE: &str = "portico_flash";
const FORM_LIMIT: usize = 256 * 1024;

/// UI pages may run only our own script and style, and may not be framed.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(home)));
    cfg.service(web::resource("/favicon.ico").route(web::get().to(icon)));
    cfg.service(
        web::scope("/ui")
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("Content-Security-Policy", CSP))
                    .add(("X-Frame-Options", "DENY"))
                    // Same-origin form posts then carry a real `Origin` (no-referrer sends "null").
                    .add(("Referrer-Policy", "same-origin")),
            )
            .service(web::resource("").route(web::get().to(home)))
            .service(web::resource("/").route(web::get().to(home)))
            .service(web::resource("/static/app.css").route(web::get().to(css)))
            .service(web::resource("/static/app.js").route(web::get().to(js)))
            .service(web::resource("/static/icon.svg").route(web::get().to(icon)))
            .service(
                web::resource("/login")
                    .route(web::get().to(login_page))
                    .route(web::post().to(login)),
            )
            .service(web::resource("/logout").route(web::post().to(logout)))
            .configure(endpoints::routes)
            .configure(tokens::routes)
            .configure(viewer::routes)
            .configure(admin::routes)
            .default_service(web::to(not_found)),
    );
}

fn templates() -> &'static Tera {
    static TERA: OnceLock<Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut t = Tera::default();
        t.add_raw_templates(vec![
            (
                "macros.html",
                include_str!("../../templates/ui/macros.html"),
            ),
            ("base.html", include_str!("../../templates/ui/base.html")),
            ("login.html", include_str!("../../templates/ui/login.html")),
            (
                "message.html",
                include_str!("../../templates/ui/message.html"),
            ),
            (
                "confirm.html",
                include_str!("../../templates/ui/confirm.html"),
            ),
            (
                "endpoints.html",
                include_str!("../../templates/ui/endpoints.html"),
            ),
            (
                "endpoint.html",
                include_str!("../../templates/ui/endpoint.html"),
            ),
            (
                "endpoint_form.html",
                include_str!("../../templates/ui/endpoint_form.html"),
            ),
            (
                "tokens.html",
                include_str!("../../templates/ui/tokens.html"),
            ),
            ("token.html", include_str!("../../templates/ui/token.html")),
            (
                "token_form.html",
                include_str!("../../templates/ui/token_form.html"),
            ),
            (
                "assign_section.html",
                include_str!("../../templates/ui/assign_section.html"),
            ),
            (
                "assign.html",
                include_str!("../../templates/ui/assign.html"),
            ),
            (
                "endpoint_new.html",
                include_str!("../../templates/ui/endpoint_new.html"),
            ),
            (
                "token_new.html",
                include_str!("../../templates/ui/token_new.html"),
            ),
            (
                "viewer.html",
                include_str!("../../templates/ui/viewer.html"),
            ),
            (
                "call_row.html",
                include_str!("../../templates/ui/call_row.html"),
            ),
            ("call.html", include_str!("../../templates/ui/call.html")),
            (
                "token_options.html",
                include_str!("../../templates/ui/token_options.html"),
            ),
            ("users.html", include_str!("../../templates/ui/users.html")),
            ("audit.html", include_str!("../../templates/ui/audit.html")),
        ])
        .expect("UI templates are valid (checked by the UI tests)");
        t.register_filter("when", when);
        t
    })
}

/// Tera filter: an RFC 3339 time as `2026-11-24 10:03` (UTC); empty for none.
fn when(
    v: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    Ok(tera::Value::String(match v.as_str() {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| s.to_owned()),
        None => String::new(),
    }))
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .body(include_str!("../../templates/static/app.css"))
}

async fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "max-age=86400"))
        .body(include_str!("../../templates/static/icon.svg"))
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .body(include_str!("../../templates/static/app.js"))
}

/// Why a UI request did not get its page.
#[derive(Debug)]
pub enum UiError {
    /// No live session: go to the login page, then come back.
    LoginRequired(String),
    /// A page explaining what went wrong.
    Page(StatusCode, &'static str, String),
}

pub type UiResult<T> = Result<T, UiError>;

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::LoginRequired(_) => f.write_str("login required"),
            UiError::Page(status, title, _) => write!(f, "{status} {title}"),
        }
    }
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        let status = e.status_code();
        match e {
            AppError::Unauthenticated => UiError::LoginRequired("/ui/".into()),
            AppError::Forbidden(m) => UiError::Page(status, "Not for your role", m),
            AppError::CsrfFailed => UiError::Page(
                status,
                "Form expired",
                "This form belongs to another session. Reload the page and try again.".into(),
            ),
            AppError::NotFound(what) => {
                UiError::Page(status, "Not found", format!("No such {what}."))
            }
            AppError::Internal | AppError::Unavailable => UiError::Page(
                status,
                "Something went wrong",
                "The server could not complete this request. Try again shortly.".into(),
            ),
            other => UiError::Page(status, "Request refused", other.detail()),
        }
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::LoginRequired(_) => StatusCode::SEE_OTHER,
            UiError::Page(s, ..) => *s,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        match self {
            UiError::LoginRequired(next) => {
                let target = format!(
                    "/ui/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                redirect(&target)
            }
            UiError::Page(status, title, message) => {
                let mut ctx = Context::new();
                ctx.insert("title", title);
                ctx.insert("message", message);
                match templates().render("message.html", &ctx) {
                    Ok(html) => HttpResponse::build(*status)
                        .content_type("text/html; charset=utf-8")
                        .body(html),
                    Err(_) => HttpResponse::build(*status).finish(),
                }
            }
        }
    }
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// Only our own pages are redirect targets (no open redirects).
fn safe_target(path: Option<&str>, fallback: &str) -> String {
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

/// A secret value shown once on the page that created it.
#[derive(Serialize)]
pub struct Revealed {
    pub label: String,
    pub value: String,
}

/// A message carried across one redirect.
#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    pub kind: &'static str,
    pub text: String,
}

fn flash_cookie(flash: Option<&Flash>) -> Cookie<'static> {
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

fn read_flash(req: &HttpRequest) -> Option<Flash> {
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

/// Redirects to `to` with a message for the next page.
fn redirect_with(to: &str, kind: &'static str, text: impl Into<String>) -> HttpResponse {
    let mut r = redirect(to);
    let _ = r.add_cookie(&flash_cookie(Some(&Flash {
        kind,
        text: text.into(),
    })));
    r
}

/// The signed-in user of a page, with the CSRF token its forms carry.
pub struct UiUser {
    pub caller: Caller,
    pub csrf: String,
    flash: Option<Flash>,
    path: String,
}

impl UiUser {
    pub fn is_admin(&self) -> bool {
        self.caller.role == Role::Admin
    }

    pub fn require_admin(&self) -> UiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(UiError::Page(
                StatusCode::FORBIDDEN,
                "Admins only",
                "This page is for admins. Analysts have the data viewer.".into(),
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
    pub fn render(&self, template: &str, ctx: &Context) -> UiResult<HttpResponse> {
        self.render_status(StatusCode::OK, template, ctx)
    }

    pub fn render_status(
        &self,
        status: StatusCode,
        template: &str,
        ctx: &Context,
    ) -> UiResult<HttpResponse> {
        let html = render(template, ctx)?;
        let mut resp = HttpResponse::build(status);
        resp.content_type("text/html; charset=utf-8");
        if self.flash.is_some() {
            resp.cookie(flash_cookie(None));
        }
        Ok(resp.body(html))
    }
}

fn render(template: &str, ctx: &Context) -> UiResult<String> {
    templates().render(template, ctx).map_err(|e| {
        tracing::error!(template, error = ?e, "template failed to render");
        UiError::from(AppError::Internal)
    })
}

fn state_of(req: &HttpRequest) -> UiResult<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(UiError::from(AppError::Internal))
}

fn session_of(req: &HttpRequest) -> UiResult<TokenValue> {
    let here = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    req.cookie(SESSION_COOKIE)
        .and_then(|c| TokenValue::parse(c.value()).ok())
        .ok_or(UiError::LoginRequired(here))
}

async fn ui_user(req: HttpRequest, csrf: Option<Option<TokenHash>>) -> UiResult<UiUser> {
    let state = state_of(&req)?;
    let session = session_of(&req)?;
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let caller = crate::auth::session_caller(&state, &session, csrf)
        .await
        .map_err(|e| match e {
            AppError::Unauthenticated => {
                UiError::LoginRequired(if req.method() == actix_web::http::Method::GET {
                    path.clone()
                } else {
                    "/ui/".into()
                })
            }
            other => other.into(),
        })?;
    Ok(UiUser {
        caller,
        csrf: crate::auth::csrf_token_for(&session),
        flash: read_flash(&req),
        path,
    })
}

impl FromRequest for UiUser {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = UiResult<UiUser>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(ui_user(req.clone(), None))
    }
}

/// A submitted form of a signed-in user whose CSRF token checked out.
pub struct UiForm {
    pub user: UiUser,
    fields: Vec<(String, String)>,
}

impl FromRequest for UiForm {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = UiResult<UiForm>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| {
                UiError::Page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Form too large",
                    "The form could not be read.".into(),
                )
            })?;
            if body.len() > FORM_LIMIT {
                return Err(UiError::Page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Form too large",
                    "The form could not be read.".into(),
                ));
            }
            let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let presented = fields
                .iter()
                .find(|(k, _)| k == "_csrf")
                .map(|(_, v)| TokenHash::of(v));
            let user = ui_user(req, Some(presented)).await?;
            Ok(UiForm { user, fields })
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

    pub fn caller(&self) -> Caller {
        self.user.caller.clone()
    }

    /// Where to go after the action: the page the form came from.
    pub fn back(&self, fallback: &str) -> String {
        safe_target(self.get("_back"), fallback)
    }

    /// Back to the form's page with the outcome as a message.
    pub fn finish<T>(
        &self,
        fallback: &str,
        result: Result<T, AppError>,
        ok: impl FnOnce(T) -> String,
    ) -> UiResult<HttpResponse> {
        let to = self.back(fallback);
        Ok(match result {
            Ok(v) => redirect_with(&to, "ok", ok(v)),
            Err(e) => fail(&to, e)?,
        })
    }

    /// A destructive action runs only once confirmed: by the dialog (with JavaScript)
    /// or by this confirmation page (without).
    pub fn confirm(&self, question: &str) -> Option<UiResult<HttpResponse>> {
        if self.flag("_confirmed") {
            return None;
        }
        let mut ctx = self.user.context("", "Please confirm");
        ctx.insert("question", question);
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
fn fail(to: &str, e: AppError) -> UiResult<HttpResponse> {
    match e {
        AppError::Validation(..) | AppError::Conflict(..) | AppError::RateLimited { .. } => {
            Ok(redirect_with(to, "error", e.detail()))
        }
        AppError::NotFound(what) => Ok(redirect_with(
            to,
            "error",
            format!("That {what} no longer exists."),
        )),
        other => Err(other.into()),
    }
}

/// Parses an optional integer form field, naming it when it is not one.
pub fn int_field<T: std::str::FromStr>(form: &UiForm, key: &str) -> Result<Option<T>, AppError> {
    match form.get(key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| AppError::validation(key, "must be a whole number")),
    }
}

/// A `datetime-local` value (taken as UTC) or RFC 3339.
pub fn time_field(v: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(Some(t.and_utc()));
        }
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| Some(t.with_timezone(&chrono::Utc)))
        .map_err(|_| "must be a date and time like 2026-11-24T10:00".to_owned())
}

/// Lines or commas → allowlist entries; empty means none.
pub fn list_field(v: &str) -> Option<Vec<String>> {
    let items: Vec<String> = v
        .split([',', '\n'])
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

async fn home(req: HttpRequest) -> UiResult<HttpResponse> {
    let user = ui_user(req, None).await?;
    Ok(redirect(if user.is_admin() {
        "/ui/endpoints"
    } else {
        "/ui/viewer"
    }))
}

async fn not_found(req: HttpRequest) -> UiResult<HttpResponse> {
    Err(UiError::Page(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("There is no page at {}.", req.path()),
    ))
}

#[derive(serde::Deserialize)]
struct NextParam {
    next: Option<String>,
}

async fn login_page(req: HttpRequest, q: web::Query<NextParam>) -> UiResult<HttpResponse> {
    let mut ctx = Context::new();
    ctx.insert("title", "Sign in");
    ctx.insert("next", &safe_target(q.next.as_deref(), "/ui/"));
    ctx.insert("flash", &read_flash(&req));
    ctx.insert("username", "");
    let html = render("login.html", &ctx)?;
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/html; charset=utf-8");
    if req.cookie(FLASH_COOKIE).is_some() {
        resp.cookie(flash_cookie(None));
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

async fn login(req: HttpRequest, body: web::Bytes) -> UiResult<HttpResponse> {
    if !same_origin(&req) {
        return Err(UiError::Page(
            StatusCode::FORBIDDEN,
            "Sign in from Portico",
            "This sign-in did not come from Portico's own login page.".into(),
        ));
    }
    let state = state_of(&req)?;
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
    let address = crate::ingest::client_address(&req, state.settings.trust_proxy_headers);
    match crate::api::session::start_session(
        &state,
        address,
        username.clone(),
        Password::new(get("password")),
    )
    .await
    {
        Ok((session, _)) => {
            let mut r = redirect(&next);
            let _ = r.add_cookie(&crate::api::session::session_cookie(
                &req,
                &state,
                Some(&session),
            ));
            Ok(r)
        }
        Err(e @ (AppError::LoginFailed | AppError::RateLimited { .. })) => {
            let mut ctx = Context::new();
            ctx.insert("title", "Sign in");
            ctx.insert("next", &next);
            ctx.insert("username", &username);
            ctx.insert(
                "flash",
                &Flash {
                    kind: "error",
                    text: match &e {
                        AppError::LoginFailed => "Wrong username or password.".into(),
                        other => other.detail(),
                    },
                },
            );
            Ok(HttpResponse::build(e.status_code())
                .content_type("text/html; charset=utf-8")
                .body(render("login.html", &ctx)?))
        }
        Err(other) => Err(other.into()),
    }
}

async fn logout(req: HttpRequest, form: UiForm) -> UiResult<HttpResponse> {
    let state = state_of(&req)?;
    crate::api::session::end_session(&req, &state).await?;
    tracing::info!(username = %form.user.caller.username, "logout");
    let mut r = redirect_with("/ui/login", "ok", "Signed out.");
    let _ = r.add_cookie(&crate::api::session::session_cookie(&req, &state, None));
    Ok(r)
}

/// Formats a time for tables: `2026-11-24 10:03:07`.
pub fn show_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A byte count for people: `312 B`, `4.2 KiB`.
pub fn show_bytes(n: i64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_registered_and_parses() {
        let registered: Vec<&str> = templates().get_template_names().collect();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/ui");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                registered.contains(&name.as_str()),
                "{name} is not registered"
            );
        }
    }

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

    #[test]
    fn form_times_are_utc() {
        let t = time_field("2026-11-24T10:00").unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T10:00:00+00:00");
        assert_eq!(time_field(" ").unwrap(), None);
        assert!(time_field("tomorrow").is_err());
        assert_eq!(
            list_field("10.0.0.0/8, 192.168.1.1\n\n"),
            Some(vec!["10.0.0.0/8".to_owned(), "192.168.1.1".to_owned()])
        );
        assert_eq!(list_field(" \n "), None);
    }
}
