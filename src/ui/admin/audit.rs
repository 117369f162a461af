//! The audit log page: each entry as a sentence that links to what it touched,
//! filtered by who, action, target type and time; the filters live in the URL, so a
//! view can be bookmarked, and the pager keeps them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::calls::filter::Syntax;
use crate::domain::audit::story::{Kind, Part};
use crate::domain::audit::{Action, Target};
use crate::error::AppResult;
use crate::operations::audit::query::{self, form_value};
use crate::operations::audit::{self, Told};
use crate::operations::users;
use crate::state::AppState;
use crate::ui::{show_time, UiUser};

/// Entries per page.
const PAGE: i64 = 100;

/// A piece of a sentence: words, a link to a thing, or a thing that is gone.
#[derive(Serialize)]
struct Piece {
    /// `words`, `thing`, `gone` or `raw` (an action this version does not know).
    kind: &'static str,
    text: String,
    href: Option<String>,
}

impl From<Part> for Piece {
    fn from(p: Part) -> Self {
        let (kind, text, href) = match p {
            Part::Words(w) => ("words", w, None),
            Part::Raw(r) => ("raw", r, None),
            Part::Thing { kind, name, id } => match id.and_then(|id| page_of(kind, id)) {
                Some(href) => ("thing", name, Some(href)),
                None => ("gone", name, None),
            },
        };
        Piece { kind, text, href }
    }
}

/// The page that shows a thing (API keys have none).
fn page_of(kind: Kind, id: i64) -> Option<String> {
    match kind {
        Kind::Token => Some(format!("/ui/tokens/{id}")),
        Kind::Endpoint => Some(format!("/ui/endpoints/{id}")),
        Kind::User => Some("/ui/users".to_owned()),
        Kind::ApiKey => None,
        Kind::AlertTarget => Some(format!("/ui/alerts/{id}")),
    }
}

#[derive(Serialize)]
struct Row {
    at: String,
    /// RFC 3339, for `<time datetime>`.
    datetime: String,
    action: String,
    pieces: Vec<Piece>,
}

impl From<Told> for Row {
    fn from(t: Told) -> Self {
        Row {
            at: show_time(t.at),
            datetime: t.at.to_rfc3339(),
            action: t.action,
            pieces: t.story.into_iter().map(Piece::from).collect(),
        }
    }
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

/// The actions a filter offers, under their target's label.
#[derive(Serialize)]
struct Group {
    label: &'static str,
    actions: Vec<Choice>,
}

fn action_groups() -> Vec<Group> {
    Target::ALL
        .iter()
        .map(|t| Group {
            label: t.label(),
            actions: Action::ALL
                .iter()
                .filter(|a| a.target() == *t)
                .map(|a| Choice {
                    value: a.as_str(),
                    label: a.label(),
                })
                .collect(),
        })
        .collect()
}

fn targets() -> Vec<Choice> {
    Target::ALL
        .iter()
        .map(|t| Choice {
            value: t.as_str(),
            label: t.label(),
        })
        .collect()
}

/// The filter form's values, to refill it.
#[derive(Serialize, Default)]
struct FormValues {
    actor: String,
    action: String,
    target_type: String,
    from: String,
    to: String,
}

impl FormValues {
    fn of(f: &crate::store::audit::AuditFilter) -> Self {
        FormValues {
            actor: f.actor.clone().unwrap_or_default(),
            action: f.action.map(|a| a.as_str().to_owned()).unwrap_or_default(),
            target_type: f.target.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            from: f.from.map(form_value).unwrap_or_default(),
            to: f.to.map(form_value).unwrap_or_default(),
        }
    }

    /// The values as sent, for a form that did not parse (to correct them).
    fn sent(query: &str) -> Self {
        let mut v = FormValues::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "actor" => &mut v.actor,
                "action" => &mut v.action,
                "target_type" => &mut v.target_type,
                "from" => &mut v.from,
                "to" => &mut v.to,
                _ => continue,
            };
            *slot = value.chars().take(100).collect();
        }
        v
    }
}

/// `/ui/audit`: a bad filter value shows the form again with what is wrong (422).
pub async fn page(
    user: UiUser,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    user.require_admin()?;
    let mut ctx = user.context("audit", "Audit log");
    ctx.insert("action_groups", &action_groups());
    ctx.insert("targets", &targets());
    let actors: Vec<String> = users::list(&state)
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    ctx.insert("actors", &actors);
    let mut q = match query::parse(req.query_string(), Syntax::Form) {
        Ok(q) => q,
        Err(e) => {
            ctx.insert("form", &FormValues::sent(req.query_string()));
            ctx.insert("error", &e.detail());
            ctx.insert("entries", &Vec::<Row>::new());
            ctx.insert("query", "");
            ctx.insert("next", &None::<i64>);
            ctx.insert("paged", &false);
            ctx.insert("filtered", &true);
            return user.render_status(StatusCode::UNPROCESSABLE_ENTITY, "audit.html", &ctx);
        }
    };
    q.limit = PAGE;
    let filters = query::encode(&q.filter);
    ctx.insert("form", &FormValues::of(&q.filter));
    ctx.insert("filtered", &!filters.is_empty());
    ctx.insert("query", &filters);
    ctx.insert("paged", &q.before.is_some());
    let page = audit::told(&state, q).await?;
    let entries: Vec<Row> = page.items.into_iter().map(Row::from).collect();
    ctx.insert("entries", &entries);
    ctx.insert("next", &page.next);
    user.render("audit.html", &ctx)
}
