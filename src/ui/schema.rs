//! An endpoint's Schema tab: its data contract with an editor, a draft learned from
//! recent records, a check of a schema against the last 1,000 records before it is
//! saved, and the history of versions.

use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::page::redirect_with;
use super::{UiForm, UiUser};
use crate::domain::contract::SchemaMode;
use crate::error::{AppError, AppResult};
use crate::operations::endpoints;
use crate::operations::schemas::{self as ops, DraftOut, PreviewOut, SchemaIn};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/endpoints/{id}/schema")
            .route(web::get().to(tab))
            .route(web::post().to(save)),
    );
    cfg.service(web::resource("/endpoints/{id}/schema/preview").route(web::post().to(preview)));
    cfg.service(web::resource("/endpoints/{id}/schema/delete").route(web::post().to(delete)));
}

#[derive(serde::Deserialize)]
struct TabQuery {
    draft: Option<String>,
}

/// What the editor shows: the text and mode, and a draft or preview if asked for.
#[derive(Default)]
struct Editor {
    text: Option<String>,
    mode: Option<SchemaMode>,
    draft: Option<DraftOut>,
    preview: Option<PreviewOut>,
    /// What is wrong with the submitted schema.
    error: Option<String>,
}

async fn render(user: &UiUser, state: &AppState, id: i64, ed: Editor) -> AppResult<HttpResponse> {
    let e = endpoints::get(state, id).await?;
    let versions = ops::history(state, id).await?;
    let current = versions.iter().find(|v| v.current);
    let text = match (&ed.text, &ed.draft, current) {
        (Some(t), _, _) => t.clone(),
        (None, Some(d), _) => pretty(&d.schema),
        (None, None, Some(c)) => pretty(&c.schema),
        (None, None, None) => String::new(),
    };
    let mode = ed
        .mode
        .or(current.map(|c| c.mode))
        .unwrap_or(SchemaMode::Observe);
    let mut ctx = user.context("endpoints", &e.name);
    ctx.insert("tab", "schema");
    ctx.insert("e", &e);
    ctx.insert("current", &current);
    ctx.insert("versions", &versions);
    ctx.insert("text", &text);
    ctx.insert("mode", mode.as_str());
    ctx.insert("draft", &ed.draft);
    ctx.insert("preview", &ed.preview);
    ctx.insert("error", &ed.error);
    user.render("endpoint_schema.html", &ctx)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn tab(
    user: UiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<TabQuery>,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let id = id.into_inner();
    let draft = match q.draft.as_deref() {
        Some("1") => Some(ops::draft(&state, id, None).await?),
        _ => None,
    };
    let ed = Editor {
        draft,
        ..Editor::default()
    };
    render(&user, &state, id, ed).await
}

/// The editor's schema and mode, or what is wrong with them.
fn submitted(form: &UiForm) -> AppResult<SchemaIn> {
    let schema: Value = serde_json::from_str(&form.text("schema")).map_err(|e| {
        AppError::validation(
            "schema",
            format!("is not JSON (line {} column {})", e.line(), e.column()),
        )
    })?;
    let mode = form
        .text("mode")
        .parse()
        .map_err(|e: String| AppError::validation("mode", e))?;
    Ok(SchemaIn { mode, schema })
}

async fn save(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let back = format!("/ui/endpoints/{id}/schema");
    let result = match submitted(&form) {
        Ok(input) => ops::put(&state, form.caller(), id, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => Ok(redirect_with(
            &back,
            "ok",
            format!(
                "Schema version {} saved; it is in force ({}).",
                v.version, v.mode
            ),
        )),
        // A schema with a mistake comes back in the editor, with the message.
        Err(e @ AppError::Validation(..)) => {
            let ed = Editor {
                text: Some(form.text("schema")),
                mode: form.text("mode").parse().ok(),
                ..Editor::default()
            };
            refused(&form.user, &state, id, ed, &e).await
        }
        Err(e) => form.fail(&back, e),
    }
}

/// The editor again, with what was typed and what is wrong with it (422).
async fn refused(
    user: &UiUser,
    state: &AppState,
    id: i64,
    mut ed: Editor,
    e: &AppError,
) -> AppResult<HttpResponse> {
    ed.error = Some(e.detail());
    let mut page = render(user, state, id, ed).await?;
    *page.status_mut() = e.code().status();
    Ok(page)
}

async fn preview(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    let checked = match submitted(&form) {
        Ok(input) => ops::preview(&state, id, input.schema).await,
        Err(e) => Err(e),
    };
    let mut ed = Editor {
        text: Some(form.text("schema")),
        mode: form.text("mode").parse().ok(),
        ..Editor::default()
    };
    match checked {
        Ok(p) => {
            ed.preview = Some(p);
            render(&form.user, &state, id, ed).await
        }
        Err(e @ AppError::Validation(..)) => refused(&form.user, &state, id, ed, &e).await,
        Err(e) => Err(e),
    }
}

async fn delete(
    form: UiForm,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let id = id.into_inner();
    if let Some(page) = form.confirm(
        "Take this endpoint's schema out of force? Bodies are then accepted unchecked; its versions are kept.",
    ) {
        return page;
    }
    let r = ops::delete(&state, form.caller(), id).await;
    form.finish(&format!("/ui/endpoints/{id}/schema"), r, |()| {
        "Schema taken out of force.".into()
    })
}
