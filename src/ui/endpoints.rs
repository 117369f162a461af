//! Endpoints: the list, the General tab and the Tokens tab.

use std::collections::BTreeMap;
use std::str::FromStr;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::page::redirect_with;
use super::{cuts, int_field, list_field, token_list, UiForm, UiUser};
use crate::domain::endpoint::{primary_methods, AuthType, Method};
use crate::domain::reveal::Shown;
use crate::error::{AppError, AppResult};
use crate::operations::endpoints::{
    self as ops, CreateEndpoint, EndpointOut, PrimaryTokenInfo, UpdateEndpoint,
};
use crate::operations::impact::ImpactQuery;
use crate::operations::tokens::listing::{self, TokenListQuery};
use crate::operations::tokens::TokenOut;
use crate::operations::{mappings, primary_tokens};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/endpoints")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(web::resource("/endpoints/new").route(web::get().to(new_page)));
    cfg.service(
        web::resource("/endpoints/{id}")
            .route(web::get().to(general))
            .route(web::post().to(save)),
    );
    cfg.service(web::resource("/endpoints/{id}/enabled").route(web::post().to(set_enabled)));
    cfg.service(web::resource("/endpoints/{id}/delete").route(web::post().to(delete)));
    cfg.service(web::resource("/endpoints/{id}/tokens").route(web::get().to(tokens_tab)));
    cfg.service(
        web::resource("/endpoints/{id}/primary/{method}").route(web::post().to(regenerate)),
    );
    cfg.service(web::resource("/endpoints/{id}/mappings").route(web::post().to(mapping)));
}

#[derive(Serialize)]
struct ListRow {
    e: EndpointOut,
    tokens: i64,
    calls_24h: i64,
}

async fn list(user: UiUser, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let endpoints = ops::list(&state).await?;
    let (tokens, calls) = ops::activity(&state).await?;
    let tokens: BTreeMap<i64, i64> = tokens.into_iter().collect();
    let calls: BTreeMap<i64, i64> = calls
        .into_iter()
        .filter_map(|(e, n)| e.map(|e| (e, n)))
        .collect();
    let rows: Vec<ListRow> = endpoints
        .into_iter()
        .map(|e| ListRow {
            tokens: tokens.get(&e.id).copied().unwrap_or(0),
            calls_24h: calls.get(&e.id).copied().unwrap_or(0),
            e,
        })
        .collect();
    let mut ctx = user.context("endpoints", "Endpoints");
    ctx.insert("rows", &rows);
    user.render("endpoints.html", &ctx)
}

async fn new_page(user: UiUser) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let ctx = user.context("endpoints", "New endpoint");
    user.render("endpoint_new.html", &ctx)
}

fn auth_field(form: &UiForm) -> Result<AuthType, AppError> {
    AuthType::from_str(form.get("auth").unwrap_or("token"))
        .map_err(|e| AppError::validation("auth", e))
}

async fn create(form: UiForm, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let req = (|| {
        Ok::<_, AppError>(CreateEndpoint {
            slug: form.text("slug").trim().to_owned(),
            name: Some(form.text("name").trim().to_owned()).filter(|n| !n.is_empty()),
            description: form.text("description"),
            auth: auth_field(&form)?,
            allow_delete: form.flag("allow_delete"),
            enabled: form.flag("enabled"),
            max_body_bytes: int_field(&form, "max_body_bytes")?,
            retention_days: int_field(&form, "retention_days")?,
            ip_allowlist: list_field(&form.text("ip_allowlist")),
        })
    })();
    let result = match req.and_then(CreateEndpoint::validate) {
        Ok(spec) => ops::create(&state, form.caller(), spec).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(mut e) => {
            let fresh = e.primary_tokens.take().unwrap_or_default();
            let note = format!("Endpoint {} created.", e.name);
            let to = format!("/ui/endpoints/{}/tokens", e.id);
            form.reveal_then(&state, &to, shown(fresh), &note).await
        }
        Err(e) => form.fail("/ui/endpoints", e),
    }
}

async fn general(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let e = ops::get(&state, id.into_inner()).await?;
    let mut ctx = user.context("endpoints", &e.name);
    ctx.insert("tab", "general");
    ctx.insert("e", &e);
    ctx.insert(
        "allowlist",
        &e.ip_allowlist.clone().unwrap_or_default().join("\n"),
    );
    user.render("endpoint.html", &ctx)
}

async fn save(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    if let Some(page) = confirm_allowlist(&form, &state, id).await {
        return page;
    }
    let req = (|| {
        Ok::<_, AppError>(UpdateEndpoint {
            slug: Some(form.text("slug").trim().to_owned()),
            name: Some(form.text("name").trim().to_owned()),
            description: Some(form.text("description")),
            auth: Some(auth_field(&form)?),
            allow_delete: Some(form.flag("allow_delete")),
            enabled: Some(form.flag("enabled")),
            max_body_bytes: int_field(&form, "max_body_bytes")?,
            retention_days: Some(int_field(&form, "retention_days")?),
            ip_allowlist: Some(list_field(&form.text("ip_allowlist"))),
        })
    })();
    let result = match req.and_then(UpdateEndpoint::validate) {
        Ok(changes) => ops::update(&state, form.caller(), id, changes).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(mut e) => match e.primary_tokens.take().filter(|f| !f.is_empty()) {
            // Turning auth or deleting on generated primary tokens: show them once.
            Some(fresh) => {
                let to = format!("/ui/endpoints/{id}/tokens");
                let note = "Saved; new primary tokens generated.";
                form.reveal_then(&state, &to, shown(fresh), note).await
            }
            None => form.finish(&format!("/ui/endpoints/{id}"), Ok(()), |_| "Saved.".into()),
        },
        Err(e) => form.fail(&format!("/ui/endpoints/{id}"), e),
    }
}

/// A changed allowlist is confirmed first, with what it would have refused.
async fn confirm_allowlist(
    form: &UiForm,
    state: &AppState,
    id: i64,
) -> Option<AppResult<HttpResponse>> {
    form.get("ip_allowlist").filter(|v| !v.trim().is_empty())?;
    let e = ops::get(state, id).await.ok()?;
    let question = format!(
        "Save the new IP allowlist of endpoint {}? Calls to it from any other address are refused at once.",
        e.slug
    );
    let current = e.ip_allowlist.as_ref();
    cuts::confirm_allowlist(form, state, cuts::of(None, Some(id)), current, &question).await
}

async fn set_enabled(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let on = form.flag("enabled");
    if !on {
        if let Some(page) = form
            .confirm_impact(
                "Disable this endpoint? Every call to it will be refused with 403 until it is enabled again.",
                &state,
                cuts::of(None, Some(id)),
            )
            .await
        {
            return page;
        }
    }
    let r = match UpdateEndpoint::enabled(on).validate() {
        Ok(changes) => ops::update(&state, form.caller(), id, changes).await,
        Err(e) => Err(e),
    };
    form.finish("/ui/endpoints", r, |e| {
        format!("{} {}.", e.name, if on { "enabled" } else { "disabled" })
    })
}

async fn delete(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    if let Some(page) = form
        .confirm_impact(
            "Delete this endpoint with all its records, primary tokens and mappings? Its calls stay in the data viewer. This cannot be undone.",
            &state,
            cuts::of(None, Some(id)),
        )
        .await
    {
        return page;
    }
    match ops::delete(&state, form.caller(), id).await {
        Ok(()) => Ok(redirect_with("/ui/endpoints", "ok", "Endpoint deleted.")),
        Err(e) => form.fail("/ui/endpoints", e),
    }
}

async fn tokens_tab(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<TokenListQuery>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    tokens_page(&user, &state, id.into_inner(), q.into_inner()).await
}

#[derive(Serialize)]
struct Cell {
    method: &'static str,
    /// `on`, `off` (mapped, switched off) or `none` (not mapped).
    state: &'static str,
}

/// A primary token's hint, in method order (POST, GET, DELETE).
#[derive(Serialize)]
struct Primary<'a> {
    method: &'static str,
    p: &'a PrimaryTokenInfo,
}

#[derive(Serialize)]
struct TokenLine {
    t: TokenOut,
    cells: Vec<Cell>,
}

/// Primary token values, labelled, in method order.
fn shown(fresh: BTreeMap<String, String>) -> Vec<Shown> {
    Method::ALL
        .iter()
        .filter_map(|m| {
            fresh.get(m.as_str()).map(|v| Shown {
                label: format!("{m} primary token"),
                value: v.clone(),
            })
        })
        .collect()
}

/// The Tokens tab: primary tokens, then a page of endpoint tokens with a switch per
/// method. "Hide unassigned" is the list's endpoint filter set to this endpoint.
async fn tokens_page(
    user: &UiUser,
    state: &AppState,
    id: i64,
    q: TokenListQuery,
) -> AppResult<HttpResponse> {
    let e = ops::get(state, id).await?;
    let methods = primary_methods(e.auth, e.allow_delete);
    let (mut page, maps) = listing::endpoint_page(state, id, &q, None).await?;
    let hide_unassigned = q.endpoint.as_deref() == Some(id.to_string().as_str());
    let base = format!("/ui/endpoints/{id}/tokens");
    let mut toggled = q.clone();
    toggled.endpoint = (!hide_unassigned).then(|| id.to_string());
    toggled.page = None;
    let lines: Vec<TokenLine> = std::mem::take(&mut page.tokens)
        .into_iter()
        .zip(maps)
        .map(|(t, on)| TokenLine {
            cells: methods
                .iter()
                .map(|m| Cell {
                    method: m.as_str(),
                    state: match on.get(m.as_str()) {
                        Some(true) => "on",
                        Some(false) => "off",
                        None => "none",
                    },
                })
                .collect(),
            t,
        })
        .collect();
    let revealed = user
        .take_revealed(state, &format!("/ui/endpoints/{id}/tokens"))
        .await?;
    let primaries: Vec<Primary> = Method::ALL
        .iter()
        .filter_map(|m| {
            e.primary_token_hints.get(m.as_str()).map(|p| Primary {
                method: m.as_str(),
                p,
            })
        })
        .collect();
    let mut ctx = user.context("endpoints", &e.name);
    ctx.insert("tab", "tokens");
    ctx.insert("primaries", &primaries);
    ctx.insert(
        "methods",
        &methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
    );
    ctx.insert("lines", &lines);
    ctx.insert("hide_unassigned", &hide_unassigned);
    ctx.insert("hide_toggle", &token_list::address(&base, &toggled));
    token_list::insert(&mut ctx, &base, &q, &page);
    ctx.insert("endpoints", &Vec::<()>::new());
    ctx.insert("revealed", &revealed);
    ctx.insert("e", &e);
    user.render("endpoint.html", &ctx)
}

async fn regenerate(
    form: UiForm,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let (id, method) = path.into_inner();
    let back = format!("/ui/endpoints/{id}/tokens");
    let method = match Method::from_str(&method) {
        Ok(m) => m,
        Err(e) => return form.fail(&back, AppError::validation("method", e)),
    };
    if let Some(page) = form.confirm(&format!(
        "Generate a new {method} primary token? The current value stops working at once."
    )) {
        return page;
    }
    match primary_tokens::regenerate(&state, form.caller(), id, method).await {
        Ok(r) => {
            let note = format!("New {} primary token generated.", r.method);
            let fresh = BTreeMap::from([(r.method.as_str().to_owned(), r.token)]);
            form.reveal_then(&state, &back, shown(fresh), &note).await
        }
        Err(e) => form.fail(&back, e),
    }
}

async fn mapping(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    mapping_action(&form, &state, id, &format!("/ui/endpoints/{id}/tokens")).await
}

/// One mapping switch: `action` is `on`, `off` or `remove`; `token_id` and `method` say which.
pub async fn mapping_action(
    form: &UiForm,
    state: &AppState,
    endpoint_id: i64,
    fallback: &str,
) -> AppResult<HttpResponse> {
    let parsed = (|| {
        let token_id: i64 = int_field(form, "token_id")?
            .ok_or_else(|| AppError::validation("token_id", "is required"))?;
        let method = Method::from_str(form.get("method").unwrap_or_default())
            .map_err(|e| AppError::validation("method", e))?;
        Ok::<_, AppError>((token_id, method))
    })();
    let (token_id, method) = match parsed {
        Ok(v) => v,
        Err(e) => return form.fail(fallback, e),
    };
    let names = async {
        let t = crate::operations::tokens::get(state, token_id).await?;
        let e = ops::get(state, endpoint_id).await?;
        Ok::<_, AppError>((t.name, e.slug))
    };
    let (token, slug) = match names.await {
        Ok(n) => n,
        Err(e) => return form.fail(fallback, e),
    };
    let which = format!("{method} mapping of {token} onto /e/{slug}");
    let action = form.get("action").unwrap_or_default();
    let question = match action {
        "off" => Some(format!(
            "Switch off the {which}? {token} is refused {method} there until it is switched on again."
        )),
        "remove" => Some(format!(
            "Remove the {which}? {token} loses that access at once."
        )),
        _ => None,
    };
    if let Some(q) = question {
        let mapping = ImpactQuery {
            method: Some(method.as_str().to_owned()),
            ..cuts::of(Some(token_id), Some(endpoint_id))
        };
        if let Some(page) = form.confirm_impact(&q, state, mapping).await {
            return page;
        }
    }
    let result = match action {
        "on" | "off" => mappings::set(
            state,
            form.caller(),
            token_id,
            endpoint_id,
            method,
            action == "on",
        )
        .await
        .map(|m| format!("{which} switched {}.", if m.enabled { "on" } else { "off" })),
        "remove" => mappings::remove(state, form.caller(), token_id, endpoint_id, method)
            .await
            .map(|()| format!("{which} removed.")),
        _ => Err(AppError::validation("action", "must be on, off or remove")),
    };
    form.finish(fallback, result, |m| m)
}
