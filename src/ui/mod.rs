//! The admin web UI: server-rendered tera pages under `/ui`. Pages read and forms
//! act through the operations layer (`crate::operations`, `crate::calls`), the same
//! one the JSON API calls, so every rule, validation and audit entry is shared.
//! Works without JavaScript; `app.js` only adds dialogs, copy, reveal and the live
//! tail.

mod admin;
mod alerts;
mod chart;
mod cuts;
mod endpoints;
mod errors;
mod health;
mod login;
mod page;
mod schema;
mod settings;
mod token_list;
mod tokens;
mod viewer;

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use tera::Tera;

use crate::error::{AppError, AppResult, Code};
pub use page::{Flash, UiForm, UiUser};

/// UI pages may run only our own script and style, and may not be framed.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(root)));
    cfg.service(web::resource("/favicon.ico").route(web::get().to(icon)));
    cfg.service(
        web::scope("/ui")
            .wrap(actix_web::middleware::from_fn(errors::html_errors))
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
            .configure(login::routes)
            .configure(endpoints::routes)
            .configure(tokens::routes)
            .configure(schema::routes)
            .configure(viewer::routes)
            .configure(health::routes)
            .configure(admin::routes)
            .configure(alerts::routes)
            .configure(settings::routes)
            .default_service(web::to(not_found)),
    );
}

/// `(name, text)` of each named file of `templates/ui/`, built into the binary.
macro_rules! ui_templates {
    ($($name:literal),* $(,)?) => {
        vec![$(($name, include_str!(concat!("../../templates/ui/", $name))),)*]
    };
}

fn templates() -> &'static Tera {
    static TERA: OnceLock<Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut t = Tera::default();
        t.add_raw_templates(ui_templates![
            "macros.html",
            "base.html",
            "login.html",
            "message.html",
            "confirm.html",
            "endpoints.html",
            "endpoint.html",
            "endpoint_form.html",
            "tokens.html",
            "token.html",
            "token_form.html",
            "assign_section.html",
            "assign.html",
            "endpoint_new.html",
            "token_new.html",
            "viewer.html",
            "call_row.html",
            "call.html",
            "token_options.html",
            "users.html",
            "token_filters.html",
            "pager.html",
            "endpoint_head.html",
            "endpoint_schema.html",
            "audit.html",
            "alerts.html",
            "alert.html",
            "alert_events.html",
            "health.html",
            "settings.html",
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

/// Parses an optional integer form field, naming it when it is not one.
pub fn int_field<T: std::str::FromStr>(form: &UiForm, key: &str) -> AppResult<Option<T>> {
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

/// The site's root is the UI.
async fn root() -> HttpResponse {
    page::redirect("/ui/")
}

async fn home(user: UiUser) -> AppResult<HttpResponse> {
    Ok(page::redirect(if user.is_admin() {
        "/ui/endpoints"
    } else {
        "/ui/viewer"
    }))
}

async fn not_found(req: HttpRequest) -> AppResult<HttpResponse> {
    Err(AppError::refused(
        Code::NotFound,
        format!("There is no page at {}.", req.path()),
    ))
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
