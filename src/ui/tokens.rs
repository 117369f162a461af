//! Endpoint tokens (secondary tokens): the list, bulk actions, the token page with
//! its settings, lifecycle and the "Assign endpoint tokens" matrix.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::{int_field, list_field, time_field, Revealed, UiForm, UiResult, UiUser};
use crate::api::endpoints::list_endpoints;
use crate::api::tokens::{
    bulk_apply, change_lifecycle, create_token, delete_token, regenerate_token, update_token,
    BulkAction, BulkRequest, CreateToken, Lifecycle, RegenerateToken, TokenOut, TokenWithValue,
    UpdateToken,
};
use crate::domain::endpoint::primary_methods;
use crate::error::{missing, AppError};
use crate::store;
use crate::store::tokens::StateFilter;
use crate::AppState;

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

#[derive(serde::Deserialize)]
struct ListQuery {
    show: Option<String>,
}

async fn list(
    user: UiUser,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> UiResult<HttpResponse> {
    user.require_admin()?;
    let inactive = q.show.as_deref() == Some("inactive");
    let filter = if inactive {
        StateFilter::Inactive
    } else {
        StateFilter::Active
    };
    let now = state.clock.now();
    let rows = state
        .db(move |conn| Ok(store::tokens::list(conn, filter)?))
        .await?;
    let tokens: Vec<TokenOut> = rows.into_iter().map(|t| TokenOut::at(t, now)).collect();
    let mut ctx = user.context("tokens", "Endpoint tokens");
    ctx.insert("tokens", &tokens);
    ctx.insert("inactive", &inactive);
    user.render("tokens.html", &ctx)
}

async fn new_page(user: UiUser) -> UiResult<HttpResponse> {
    user.require_admin()?;
    let ctx = user.context("tokens", "New endpoint token");
    user.render("token_new.html", &ctx)
}

fn expiry(form: &UiForm) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    time_field(&form.text("expires_at")).map_err(|e| AppError::validation("expires_at", e))
}

async fn create(form: UiForm, state: web::Data<AppState>) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let req = (|| {
        Ok::<_, AppError>(CreateToken {
            name: form.text("name").trim().to_owned(),
            description: form.text("description"),
            enabled: form.flag("enabled"),
            expires_at: expiry(&form)?,
            rate_limit_per_minute: int_field(&form, "rate_limit_per_minute")?,
            ip_allowlist: list_field(&form.text("ip_allowlist")),
        })
    })();
    let result = match req {
        Ok(req) => create_token(form.caller(), &state, req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => token_page(&form.user, &state, t.details.id, Some(t), "Token created.").await,
        Err(e) => form.finish("/ui/tokens", Err::<(), _>(e), |_| String::new()),
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
async fn token_and_matrix(state: &AppState, id: i64) -> UiResult<(TokenOut, Vec<AssignRow>)> {
    let now = state.clock.now();
    let (row, maps) = state
        .db(move |conn| {
            let t = store::tokens::find(conn, id).map_err(missing("token"))?;
            let m = store::mappings::of_token(conn, id)?;
            Ok((t, m))
        })
        .await?;
    let endpoints = list_endpoints(state).await?;
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
                        .find(|x| x.endpoint_id == e.id && x.method == m.as_str())
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
    Ok((TokenOut::at(row, now), assign))
}

async fn assign_page(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    user.require_admin()?;
    let id = id.into_inner();
    let (t, assign) = token_and_matrix(&state, id).await?;
    let mut ctx = user.context("tokens", "Assign endpoint token");
    ctx.insert("t", &t);
    ctx.insert("assign", &assign);
    ctx.insert("assign_back", &format!("/ui/tokens/{id}/assign"));
    user.render("assign.html", &ctx)
}

async fn token_page(
    user: &UiUser,
    state: &AppState,
    id: i64,
    revealed: Option<TokenWithValue>,
    note: &str,
) -> UiResult<HttpResponse> {
    let (t, assign) = token_and_matrix(state, id).await?;
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
    ctx.insert("note", note);
    let revealed: Vec<Revealed> = revealed
        .map(|r| Revealed {
            label: "Token value".into(),
            value: r.token_value,
        })
        .into_iter()
        .collect();
    ctx.insert("revealed", &revealed);
    user.render("token.html", &ctx)
}

async fn page(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    user.require_admin()?;
    token_page(&user, &state, id.into_inner(), None, "").await
}

async fn save(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let req = (|| {
        Ok::<_, AppError>(UpdateToken {
            name: Some(form.text("name").trim().to_owned()),
            description: Some(form.text("description")),
            enabled: Some(form.flag("enabled")),
            expires_at: Some(expiry(&form)?),
            rate_limit_per_minute: Some(int_field(&form, "rate_limit_per_minute")?),
            ip_allowlist: Some(list_field(&form.text("ip_allowlist"))),
        })
    })();
    let result = match req {
        Ok(req) => update_token(form.caller(), &state, id, req).await,
        Err(e) => Err(e),
    };
    form.finish(&format!("/ui/tokens/{id}"), result, |_| "Saved.".into())
}

async fn set_enabled(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let on = form.flag("enabled");
    if !on {
        if let Some(page) = form.confirm(
            "Disable this token? Every application using it is refused (403) until it is enabled again.",
        ) {
            return page;
        }
    }
    let req = UpdateToken {
        name: None,
        description: None,
        enabled: Some(on),
        expires_at: None,
        rate_limit_per_minute: None,
        ip_allowlist: None,
    };
    let r = update_token(form.caller(), &state, id.into_inner(), req).await;
    form.finish("/ui/tokens", r, |t| {
        format!("{} {}.", t.name, if on { "enabled" } else { "disabled" })
    })
}

async fn lifecycle(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let what = match form.get("action") {
        Some("deactivate") => Lifecycle::Deactivate,
        Some("activate") => Lifecycle::Activate,
        Some("renew") => Lifecycle::Renew,
        _ => {
            return form.finish(
                "/ui/tokens",
                Err::<(), _>(AppError::validation(
                    "action",
                    "must be deactivate, activate or renew",
                )),
                |_| String::new(),
            )
        }
    };
    if what == Lifecycle::Deactivate {
        if let Some(page) = form.confirm(
            "Deactivate this token? It stops working at once and is hidden from the default list; its history is kept and it can be activated again.",
        ) {
            return page;
        }
    }
    let r = change_lifecycle(form.caller(), &state, id.into_inner(), what).await;
    form.finish("/ui/tokens", r, |t| match what {
        Lifecycle::Deactivate => format!("{} deactivated.", t.name),
        Lifecycle::Activate => format!("{} activated.", t.name),
        Lifecycle::Renew => format!(
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
) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let grace = match int_field::<i64>(&form, "grace_seconds") {
        Ok(g) => g.unwrap_or(0),
        Err(e) => {
            return form.finish(&format!("/ui/tokens/{id}"), Err::<(), _>(e), |_| {
                String::new()
            })
        }
    };
    if let Some(page) = form.confirm(if grace == 0 {
        "Generate a new value for this token? The current value stops working at once."
    } else {
        "Generate a new value for this token? The current value keeps working for the grace period you chose."
    }) {
        return page;
    }
    match regenerate_token(
        form.caller(),
        &state,
        id,
        RegenerateToken {
            grace_seconds: grace,
        },
    )
    .await
    {
        Ok(t) => token_page(&form.user, &state, id, Some(t), "New value generated.").await,
        Err(e) => form.finish(&format!("/ui/tokens/{id}"), Err::<(), _>(e), |_| {
            String::new()
        }),
    }
}

async fn delete(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    if let Some(page) = form.confirm(
        "Delete this token for good? Applications using it are refused at once; its calls keep its name in the data viewer. This cannot be undone.",
    ) {
        return page;
    }
    match delete_token(form.caller(), &state, id.into_inner()).await {
        Ok(()) => Ok(super::redirect_with("/ui/tokens", "ok", "Token deleted.")),
        Err(e) => form.finish("/ui/tokens", Err::<(), _>(e), |_| String::new()),
    }
}

async fn mapping(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let endpoint_id = match int_field::<i64>(&form, "endpoint_id") {
        Ok(Some(e)) => e,
        Ok(None) => {
            return form.finish(
                &format!("/ui/tokens/{id}"),
                Err::<(), _>(AppError::validation("endpoint_id", "is required")),
                |_| String::new(),
            )
        }
        Err(e) => {
            return form.finish(&format!("/ui/tokens/{id}"), Err::<(), _>(e), |_| {
                String::new()
            })
        }
    };
    super::endpoints::mapping_action(&form, &state, endpoint_id, &format!("/ui/tokens/{id}")).await
}

async fn bulk(form: UiForm, state: web::Data<AppState>) -> UiResult<HttpResponse> {
    form.user.require_admin()?;
    let parsed = (|| {
        let action = match form.get("action") {
            Some("enable") => BulkAction::Enable,
            Some("disable") => BulkAction::Disable,
            Some("deactivate") => BulkAction::Deactivate,
            Some("activate") => BulkAction::Activate,
            Some("delete") => BulkAction::Delete,
            _ => return Err(AppError::validation("action", "choose an action")),
        };
        let ids = form
            .all("ids")
            .into_iter()
            .map(|v| v.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| AppError::validation("ids", "must be token ids"))?;
        if ids.is_empty() {
            return Err(AppError::validation("ids", "select at least one token"));
        }
        Ok((action, ids))
    })();
    let (action, ids) = match parsed {
        Ok(v) => v,
        Err(e) => return form.finish("/ui/tokens", Err::<(), _>(e), |_| String::new()),
    };
    let verb = form.get("action").unwrap_or_default().to_owned();
    if matches!(
        action,
        BulkAction::Delete | BulkAction::Deactivate | BulkAction::Disable
    ) {
        if let Some(page) = form.confirm(&format!(
            "{} {} selected token(s)? Applications using them are refused at once.",
            capitalise(&verb),
            ids.len()
        )) {
            return page;
        }
    }
    let r = bulk_apply(form.caller(), &state, BulkRequest { action, ids }).await;
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
