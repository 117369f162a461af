//! Alerts: the targets events are sent to (list, create with the secret shown
//! once, settings, rotation, removal) and each target's deliveries with every
//! attempt, with a "Send test event" button.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::page::redirect_with;
use super::{UiForm, UiUser};
use crate::domain::event::EventKind;
use crate::domain::reveal::Shown;
use crate::error::AppResult;
use crate::operations::alerts::deliveries::{self, DeliveryOut, DeliveryQuery};
use crate::operations::alerts::{
    self as ops, AlertTargetWithSecret, CreateAlertTarget, UpdateAlertTarget,
};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/alerts")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(
        web::resource("/alerts/{id}")
            .route(web::get().to(page))
            .route(web::post().to(save)),
    );
    cfg.service(web::resource("/alerts/{id}/rotate").route(web::post().to(rotate)));
    cfg.service(web::resource("/alerts/{id}/delete").route(web::post().to(delete)));
    cfg.service(web::resource("/alerts/{id}/test").route(web::post().to(test)));
}

/// A kind a target may subscribe to, as the forms offer it.
#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

fn label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::MappingSilent => "A mapping went silent (overdue)",
        EventKind::MappingRecovered => "A silent mapping is called again",
        EventKind::RefusalsSpike => "Refusals of a mapping spiked",
        EventKind::TokenExpiring => "A token expires within 14 days",
        EventKind::TokenExpired => "A token expired",
        EventKind::Test => "Test event",
    }
}

fn choices(checked: impl Fn(&str) -> bool) -> Vec<Choice> {
    EventKind::subscribable()
        .map(|k| Choice {
            value: k.as_str(),
            label: label(k),
            checked: checked(k.as_str()),
        })
        .collect()
}

async fn list(user: UiUser, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let targets = ops::list(&state).await?;
    let mut ctx = user.context("alerts", "Alerts");
    ctx.insert("targets", &targets);
    ctx.insert("choices", &choices(|_| true));
    ctx.insert("keyed", &state.settings.secret_key.is_some());
    user.render("alerts.html", &ctx)
}

fn shown(t: AlertTargetWithSecret) -> Vec<Shown> {
    vec![Shown {
        label: "Signing secret".into(),
        value: t.secret,
    }]
}

async fn create(form: UiForm, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let req = CreateAlertTarget {
        name: form.text("name"),
        url: form.text("url"),
        events: form.all("events").into_iter().map(str::to_owned).collect(),
        enabled: form.flag("enabled"),
    };
    let result = match req.validate() {
        Ok(spec) => ops::create(&state, form.caller(), spec).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => {
            let to = format!("/ui/alerts/{}", t.details.id);
            let note = format!("Alert target {} added.", t.details.name);
            form.reveal_then(&state, &to, shown(t), &note).await
        }
        Err(e) => form.fail("/ui/alerts", e),
    }
}

/// A delivery as its row shows it.
#[derive(Serialize)]
struct DeliveryRow {
    #[serde(flatten)]
    d: DeliveryOut,
    state_class: &'static str,
}

async fn page(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<DeliveryQuery>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let id = id.into_inner();
    let t = ops::get(&state, id).await?;
    let q = q.into_inner();
    let paged = q.before.is_some();
    let page = deliveries::list(&state, id, q).await?;
    let revealed = user
        .take_revealed(&state, &format!("/ui/alerts/{id}"))
        .await?;
    let rows: Vec<DeliveryRow> = page
        .deliveries
        .into_iter()
        .map(|d| DeliveryRow {
            state_class: match d.state.as_str() {
                "delivered" => "ok",
                "failed" => "bad",
                _ => "warn",
            },
            d,
        })
        .collect();
    let mut ctx = user.context("alerts", &t.name);
    ctx.insert("choices", &choices(|k| t.events.iter().any(|e| e == k)));
    ctx.insert("t", &t);
    ctx.insert("deliveries", &rows);
    ctx.insert("next", &page.next);
    ctx.insert("paged", &paged);
    ctx.insert("revealed", &revealed);
    user.render("alert.html", &ctx)
}

async fn save(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let req = UpdateAlertTarget {
        name: Some(form.text("name")),
        url: Some(form.text("url")),
        events: Some(form.all("events").into_iter().map(str::to_owned).collect()),
        enabled: Some(form.flag("enabled")),
    };
    let result = match req.validate() {
        Ok(patch) => ops::update(&state, form.caller(), id, patch).await,
        Err(e) => Err(e),
    };
    form.finish(&format!("/ui/alerts/{id}"), result, |t| {
        format!("Saved {}.", t.name)
    })
}

async fn rotate(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    if let Some(page) = form.confirm(
        "Rotate the signing secret? Deliveries are signed with the new one at once; the receiver must switch to it.",
    ) {
        return page;
    }
    let to = format!("/ui/alerts/{id}");
    match ops::rotate(&state, form.caller(), id).await {
        Ok(t) => {
            let note = format!("New signing secret for {}.", t.details.name);
            form.reveal_then(&state, &to, shown(t), &note).await
        }
        Err(e) => form.fail(&to, e),
    }
}

async fn delete(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    if let Some(page) = form.confirm(
        "Remove this alert target? Its deliveries and their attempts go with it. This cannot be undone.",
    ) {
        return page;
    }
    match ops::delete(&state, form.caller(), id.into_inner()).await {
        Ok(()) => Ok(redirect_with("/ui/alerts", "ok", "Alert target removed.")),
        Err(e) => form.fail("/ui/alerts", e),
    }
}

/// What a test's one attempt came to, in a sentence.
fn tested(d: DeliveryOut) -> String {
    let Some(a) = d.attempts.last() else {
        return "Test event queued.".into();
    };
    match (d.state.as_str(), a.status, &a.error) {
        ("delivered", Some(s), _) => {
            format!("Test event delivered: answered {s} in {} ms.", a.latency_ms)
        }
        (_, _, Some(e)) => format!("Test event not delivered ({e}); it is tried again later."),
        _ => "Test event not delivered; it is tried again later.".into(),
    }
}

async fn test(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let result = deliveries::send_test(&state, form.caller(), id).await;
    form.finish(&format!("/ui/alerts/{id}"), result, tested)
}
