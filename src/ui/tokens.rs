//! Endpoint tokens (secondary tokens): the list, bulk actions, the token page with
//! its settings, lifecycle and the "Assign endpoint tokens" matrix.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::page::redirect_with;
use super::{cuts, int_field, list_field, time_field, token_list, UiForm, UiUser};
use crate::domain::endpoint::primary_methods;
use crate::domain::reveal::Shown;
use crate::error::{AppError, AppResult};
use crate::operations::tokens::lifecycle::{self, BulkAction, BulkRequest, Lifecycle, MAX_BULK};
use crate::operations::tokens::listing::{self, TokenListQuery};
use crate::operations::tokens::{
    self as ops, CreateToken, RegenerateToken, TokenOut, TokenWithValue, UpdateToken,
};
use crate::operations::{endpoints, mappings, token_policy};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tokens")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(web::resource("/tokens/new").route(web::get().to(new_page)));
    cfg.service(web::resource("/tokens/bulk").route(web::post().to(bulk)));
    cfg.service(
        web::resource("/tokens/{id}")
            .route(web::get().to(page))
            .route(web::post().to(save)),
    );
    cfg.service(web::resource("/tokens/{id}/enabled").route(web::post().to(set_enabled)));
    cfg.service(web::resource("/tokens/{id}/lifecycle").route(web::post().to(lifecycle)));
    cfg.service(web::resource("/tokens/{id}/rotate").route(web::post().to(rotate)));
    cfg.service(web::resource("/tokens/{id}/delete").route(web::post().to(delete)));
    cfg.service(web::resource("/tokens/{id}/mappings").route(web::post().to(mapping)));
    cfg.service(web::resource("/tokens/{id}/assign").route(web::get().to(assign_page)));
}

async fn list(
    user: UiUser,
    state: web::Data<AppState>,
    q: web::Query<TokenListQuery>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let q = q.into_inner();
    let (page, endpoints) = listing::page_and_endpoints(&state, &q, true).await?;
    let mut ctx = user.context("tokens", "Endpoint tokens");
    ctx.insert("policy", &token_policy::get(&state).await?);
    token_list::insert(&mut ctx, "/ui/tokens", &q, &page);
    ctx.insert("tokens", &page.tokens);
    ctx.insert("endpoints", &endpoints);
    user.render("tokens.html", &ctx)
}

async fn new_page(user: UiUser, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let mut ctx = user.context("tokens", "New endpoint token");
    ctx.insert("policy", &token_policy::get(&state).await?);
    user.render("token_new.html", &ctx)
}

fn expiry(form: &UiForm) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    time_field(&form.text("expires_at")).map_err(|e| AppError::validation("expires_at", e))
}

async fn create(form: UiForm, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let req = (|| {
        Ok::<_, AppError>(CreateToken {
            name: form.text("name").trim().to_owned(),
            description: form.text("description"),
            enabled: form.flag("enabled"),
            // Empty: the lifetime policy's default; "never expires" ticked: none.
            expires_at: match form.flag("never_expires") {
                true => Some(None),
                false => expiry(&form)?.map(Some),
            },
            rate_limit_per_minute: int_field(&form, "rate_limit_per_minute")?,
            ip_allowlist: list_field(&form.text("ip_allowlist")),
        })
    })();
    let result = match req.and_then(CreateToken::validate) {
        Ok(spec) => ops::create(&state, form.caller(), spec).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => {
            let to = format!("/ui/tokens/{}", t.details.id);
            let note = format!("Token {} created.", t.details.name);
            form.reveal_then(&state, &to, shown(t), &note).await
        }
        Err(e) => form.fail("/ui/tokens", e),
    }
}

#[derive(Serialize)]
struct AssignCell {
    method: &'static str,
    state: &'static str,
}

#[derive(Serialize)]
struct AssignRow {
    endpoint_id: i64,
    slug: String,
    name: String,
    enabled: bool,
    cells: Vec<AssignCell>,
}

/// The token and its "Assign endpoint token" matrix: every token endpoint × method.
async fn token_and_matrix(state: &AppState, id: i64) -> AppResult<(TokenOut, Vec<AssignRow>)> {
    let token = ops::get(state, id).await?;
    let maps = mappings::of_token(state, id).await?;
    let endpoints = endpoints::list(state).await?;
    let assign: Vec<AssignRow> = endpoints
        .into_iter()
        .filter_map(|e| {
            let methods = primary_methods(e.auth, e.allow_delete);
            if methods.is_empty() {
                return None;
            }
            let cells = methods
                .iter()
                .map(|m| AssignCell {
                    method: m.as_str(),
                    state: match maps
                        .iter()
                        .find(|x| x.endpoint_id == e.id && x.method == *m)
                    {
                        Some(x) if x.enabled => "on",
                        Some(_) => "off",
                        None => "none",
                    },
                })
                .collect();
            Some(AssignRow {
                endpoint_id: e.id,
                slug: e.slug,
                name: e.name,
                enabled: e.enabled,
                cells,
            })
        })
        .collect();
    Ok((token, assign))
}

async fn assign_page(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let id = id.into_inner();
    let (t, assign) = token_and_matrix(&state, id).await?;
    let mut ctx = user.context("tokens", "Assign endpoint token");
    ctx.insert("t", &t);
    ctx.insert("assign", &assign);
    ctx.insert("assign_back", &format!("/ui/tokens/{id}/assign"));
    user.render("assign.html", &ctx)
}

fn shown(t: TokenWithValue) -> Vec<Shown> {
    vec![Shown {
        label: "Token value".into(),
        value: t.token_value,
    }]
}

async fn token_page(user: &UiUser, state: &AppState, id: i64) -> AppResult<HttpResponse> {
    let (t, assign) = token_and_matrix(state, id).await?;
    let revealed = user
        .take_revealed(state, &format!("/ui/tokens/{id}"))
        .await?;
    let mut ctx = user.context("tokens", &t.name);
    ctx.insert(
        "allowlist",
        &t.ip_allowlist.clone().unwrap_or_default().join("\n"),
    );
    ctx.insert(
        "expires_local",
        &t.expires_at
            .map(|e| e.format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default(),
    );
    ctx.insert("t", &t);
    ctx.insert("assign", &assign);
    ctx.insert("assign_back", &format!("/ui/tokens/{id}#assign"));
    ctx.insert("revealed", &revealed);
    user.render("token.html", &ctx)
}

async fn page(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    token_page(&user, &state, id.into_inner()).await
}

async fn save(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let back = format!("/ui/tokens/{id}");
    if let Some(page) = confirm_allowlist(&form, &state, id).await {
        return page;
    }
    let req = (|| {
        // The expiry as the page showed it is no change (the policy meets only changes).
        let expires_at = match form.get("expires_was") == form.get("expires_at") {
            true => None,
            false => Some(expiry(&form)?),
        };
        Ok::<_, AppError>(UpdateToken {
            name: Some(form.text("name").trim().to_owned()),
            description: Some(form.text("description")),
            // The enabled switch sits beside the token's state, not in this form.
            enabled: None,
            expires_at,
            rate_limit_per_minute: Some(int_field(&form, "rate_limit_per_minute")?),
            ip_allowlist: Some(list_field(&form.text("ip_allowlist"))),
        })
    })();
    let result = match req.and_then(UpdateToken::validate) {
        Ok(patch) => ops::update(&state, form.caller(), id, patch).await,
        Err(e) => Err(e),
    };
    form.finish(&back, result, |_| "Saved.".into())
}

/// A changed allowlist is confirmed first, with what it would have refused.
async fn confirm_allowlist(
    form: &UiForm,
    state: &AppState,
    id: i64,
) -> Option<AppResult<HttpResponse>> {
    form.get("ip_allowlist").filter(|v| !v.trim().is_empty())?;
    let t = ops::get(state, id).await.ok()?;
    let question = format!(
        "Save the new IP allowlist of {}? Calls with it from any other address are refused at once.",
        t.name
    );
    let current = t.ip_allowlist.as_ref();
    cuts::confirm_allowlist(form, state, cuts::of(Some(id), None), current, &question).await
}

async fn set_enabled(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let on = form.flag("enabled");
    let id = id.into_inner();
    if !on {
        if let Some(page) = form.confirm_impact(
            "Disable this token? Every application using it is refused (403) until it is enabled again.",
            &state, cuts::of(Some(id), None),
        ).await {
            return page;
        }
    }
    let req = UpdateToken {
        enabled: Some(on),
        ..UpdateToken::default()
    };
    let r = match req.validate() {
        Ok(patch) => ops::update(&state, form.caller(), id, patch).await,
        Err(e) => Err(e),
    };
    form.finish("/ui/tokens", r, |t| {
        format!(
            "Token {} {}.",
            t.name,
            if on { "enabled" } else { "disabled" }
        )
    })
}

async fn lifecycle(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let what = match form.get("action") {
        Some("deactivate") => Lifecycle::Deactivate,
        Some("activate") => Lifecycle::Activate,
        Some("renew") => Lifecycle::Renew(None),
        _ => {
            return form.fail(
                "/ui/tokens",
                AppError::validation("action", "must be deactivate, activate or renew"),
            )
        }
    };
    let id = id.into_inner();
    if what == Lifecycle::Deactivate {
        if let Some(page) = form.confirm_impact(
            "Deactivate this token? It stops working at once and is hidden from the default list; its history is kept and it can be activated again.",
            &state, cuts::of(Some(id), None),
        ).await {
            return page;
        }
    }
    let r = lifecycle::apply(&state, form.caller(), id, what).await;
    form.finish("/ui/tokens", r, |t| match what {
        Lifecycle::Deactivate => format!("{} deactivated.", t.name),
        Lifecycle::Activate => format!("{} activated.", t.name),
        Lifecycle::Renew(_) => format!(
            "{} renewed until {}.",
            t.name,
            t.expires_at.map(super::show_time).unwrap_or_default()
        ),
    })
}

async fn rotate(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let grace = match int_field::<i64>(&form, "grace_seconds") {
        Ok(g) => g.unwrap_or(0),
        Err(e) => return form.fail(&format!("/ui/tokens/{id}"), e),
    };
    let asked = match grace {
        0 => form.confirm_impact(
            "Generate a new value for this token? The current value stops working at once.",
            &state, cuts::of(Some(id), None),
        ).await,
        _ => form.confirm(
            "Generate a new value for this token? The current value keeps working for the grace period you chose.",
        ),
    };
    if let Some(page) = asked {
        return page;
    }
    let grace = RegenerateToken {
        grace_seconds: grace,
        expires_at: None,
    }
    .validate();
    let result = match grace {
        Ok(grace) => ops::regenerate(&state, form.caller(), id, grace).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => {
            let note = format!("New value generated for {}.", t.details.name);
            form.reveal_then(&state, &format!("/ui/tokens/{id}"), shown(t), &note)
                .await
        }
        Err(e) => form.fail(&format!("/ui/tokens/{id}"), e),
    }
}

async fn delete(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    if let Some(page) = form.confirm_impact(
        "Delete this token for good? Applications using it are refused at once; its calls keep its name in the data viewer. This cannot be undone.",
        &state, cuts::of(Some(id), None),
    ).await {
        return page;
    }
    match ops::delete(&state, form.caller(), id).await {
        Ok(()) => Ok(redirect_with("/ui/tokens", "ok", "Token deleted.")),
        Err(e) => form.fail("/ui/tokens", e),
    }
}

async fn mapping(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let endpoint_id = match int_field::<i64>(&form, "endpoint_id") {
        Ok(Some(e)) => e,
        Ok(None) => {
            return form.fail(
                &format!("/ui/tokens/{id}"),
                AppError::validation("endpoint_id", "is required"),
            )
        }
        Err(e) => return form.fail(&format!("/ui/tokens/{id}"), e),
    };
    super::endpoints::mapping_action(&form, &state, endpoint_id, &format!("/ui/tokens/{id}")).await
}

fn bulk_action(form: &UiForm) -> AppResult<BulkAction> {
    match form.get("action") {
        Some("enable") => Ok(BulkAction::Enable),
        Some("disable") => Ok(BulkAction::Disable),
        Some("deactivate") => Ok(BulkAction::Deactivate),
        Some("activate") => Ok(BulkAction::Activate),
        Some("delete") => Ok(BulkAction::Delete),
        _ => Err(AppError::validation("action", "choose an action")),
    }
}

/// The tokens a bulk action is for: the ticked ones, or (`scope=matching`) every
/// token the list's choices select.
async fn bulk_ids(form: &UiForm, state: &AppState) -> AppResult<Vec<i64>> {
    if form.get("scope") == Some("matching") {
        let q: TokenListQuery = serde_urlencoded::from_str(form.get("matching").unwrap_or(""))
            .map_err(|_| AppError::validation("matching", "is not a token list's choices"))?;
        let ids = listing::matching_ids(state, &q, MAX_BULK).await?;
        if ids.is_empty() {
            return Err(AppError::validation("ids", "no token matches"));
        }
        return Ok(ids);
    }
    let ids = form
        .all("ids")
        .into_iter()
        .map(|v| v.parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AppError::validation("ids", "must be token ids"))?;
    if ids.is_empty() {
        return Err(AppError::validation("ids", "select at least one token"));
    }
    Ok(ids)
}

async fn bulk(form: UiForm, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let action = match bulk_action(&form) {
        Ok(a) => a,
        Err(e) => return form.fail("/ui/tokens", e),
    };
    let ids = match bulk_ids(&form, &state).await {
        Ok(ids) => ids,
        Err(e) => return form.fail("/ui/tokens", e),
    };
    let verb = form.get("action").unwrap_or_default().to_owned();
    if matches!(
        action,
        BulkAction::Delete | BulkAction::Deactivate | BulkAction::Disable
    ) {
        let which = match form.get("scope") {
            Some("matching") => format!("all {} matching tokens", ids.len()),
            _ => format!("{} selected token(s)", ids.len()),
        };
        if let Some(page) = form.confirm(&format!(
            "{} {which}? Applications using them are refused at once.",
            capitalise(&verb),
        )) {
            return page;
        }
    }
    let r = match (BulkRequest { action, ids }).validate() {
        Ok(bulk) => lifecycle::bulk(&state, form.caller(), bulk).await,
        Err(e) => Err(e),
    };
    form.finish("/ui/tokens", r, |b| {
        format!("{} token(s) {verb}d.", b.affected)
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
