//! Errors on UI pages: the one error type (`AppError`) rendered for people. A
//! request without a live session goes to the login page (and comes back after);
//! every other error becomes a page that says what happened.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use tera::Context;

use super::page::{redirect, render};
use crate::error::{AppError, Code};

/// Renders an error response of a `/ui` route as HTML.
pub async fn html_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let next_page = if req.method() == Method::GET {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    } else {
        "/ui/".to_owned()
    };
    let res = next.call(req).await?;
    let page = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .map(|e| page_for(e, &next_page));
    match page {
        None => Ok(res.map_into_left_body()),
        Some(page) => {
            let (req, _) = res.into_parts();
            Ok(ServiceResponse::new(req, page).map_into_right_body())
        }
    }
}

/// The title and words of an error page.
fn words(e: &AppError) -> (&'static str, String) {
    let detail = e.detail();
    match e.code() {
        Code::Forbidden => ("Admins only", detail),
        Code::CsrfFailed => (
            "Form expired",
            "This form belongs to another session. Reload the page and try again.".into(),
        ),
        Code::NotFound => match detail.strip_suffix(" not found") {
            Some(what) => ("Not found", format!("No such {what}.")),
            None => ("Not found", detail),
        },
        Code::PayloadTooLarge => ("Form too large", "The form could not be read.".into()),
        Code::InternalError | Code::ServiceUnavailable => (
            "Something went wrong",
            "The server could not complete this request. Try again shortly.".into(),
        ),
        _ => ("Request refused", detail),
    }
}

fn page_for(e: &AppError, next_page: &str) -> HttpResponse {
    if e.is(Code::Unauthenticated) {
        let next = form_urlencoded::byte_serialize(next_page.as_bytes()).collect::<String>();
        return redirect(&format!("/ui/login?next={next}"));
    }
    let (title, message) = words(e);
    message_page(e.status_code(), title, &message)
}

/// A page that says `message` under `title`.
pub fn message_page(
    status: actix_web::http::StatusCode,
    title: &str,
    message: &str,
) -> HttpResponse {
    let mut ctx = Context::new();
    ctx.insert("title", title);
    ctx.insert("message", message);
    match render("message.html", &ctx) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(_) => HttpResponse::build(status).finish(),
    }
}
