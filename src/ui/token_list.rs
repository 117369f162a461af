//! What the token list and an endpoint's Tokens tab share: the choices in the
//! address (search, filters, sort, page), the links that change one of them, the
//! pager and the count.

use std::collections::BTreeMap;

use serde::Serialize;
use tera::Context;

use crate::operations::tokens::listing::{TokenListQuery, TokenPage, PAGE_SIZES};

/// The address of `base` with `q` (empty choices left out).
pub fn address(base: &str, q: &TokenListQuery) -> String {
    let pairs = [
        ("q", &q.q),
        ("show", &q.show),
        ("enabled", &q.enabled),
        ("expiry", &q.expiry),
        ("endpoint", &q.endpoint),
        ("sort", &q.sort),
        ("dir", &q.dir),
        ("page", &q.page),
        ("per", &q.per),
    ];
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    let query = s.finish();
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

fn changed(base: &str, q: &TokenListQuery, f: impl FnOnce(&mut TokenListQuery)) -> String {
    let mut q = q.clone();
    f(&mut q);
    address(base, &q)
}

/// A column header that sorts: its link and which way it sorts now.
#[derive(Serialize)]
struct SortLink {
    url: String,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    state: &'static str,
}

#[derive(Serialize)]
struct Pager {
    first: i64,
    last: i64,
    total: i64,
    page: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
}

/// Puts the list's choices, sort links, pager and bulk scope into `ctx`.
pub fn insert(ctx: &mut Context, base: &str, q: &TokenListQuery, page: &TokenPage) {
    let sort = q.sort.as_deref().unwrap_or("name");
    let desc = q.dir.as_deref() == Some("desc");
    let sorts: BTreeMap<&str, SortLink> = ["name", "created", "last_used", "expires"]
        .into_iter()
        .map(|key| {
            let active = key == sort;
            let link = SortLink {
                url: changed(base, q, |q| {
                    q.sort = Some(key.to_owned());
                    q.dir = Some(if active && !desc { "desc" } else { "asc" }.to_owned());
                    q.page = None;
                }),
                state: match (active, desc) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
            };
            (key, link)
        })
        .collect();
    let to_page = |n: i64| {
        changed(base, q, |q| {
            q.page = (n > 1).then(|| n.to_string());
        })
    };
    let pager = Pager {
        first: page.first,
        last: page.last,
        total: page.total,
        page: page.page,
        pages: page.pages,
        prev: (page.page > 1).then(|| to_page(page.page - 1)),
        next: (page.page < page.pages).then(|| to_page(page.page + 1)),
    };
    // "All N matching": the same choices, without the page.
    let matching = changed("", q, |q| {
        q.page = None;
        q.per = None;
    });
    ctx.insert("query", q);
    ctx.insert("sorts", &sorts);
    ctx.insert("pager", &pager);
    ctx.insert("page_sizes", &PAGE_SIZES);
    ctx.insert("per", &page.per);
    ctx.insert("matching", matching.strip_prefix('?').unwrap_or(&matching));
    let filtered = [&q.q, &q.enabled, &q.expiry, &q.endpoint]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()));
    ctx.insert("filtered", &filtered);
    let endpoint_id = q
        .endpoint
        .as_deref()
        .and_then(|e| e.trim().parse::<i64>().ok());
    ctx.insert("endpoint_id", &endpoint_id);
    ctx.insert("base", base);
    ctx.insert(
        "clear_url",
        &changed(base, q, |q| {
            *q = TokenListQuery {
                show: q.show.take(),
                ..TokenListQuery::default()
            }
        }),
    );
}
