//! The audit log reads as sentences that link to what each entry touched, and
//! filters by who, action, target type and time, in the UI (`/ui/audit`, filters in
//! the URL, kept by the pager) and the API (`/api/v1/audit`) alike; admins only.

mod common;

use common::ui::{find, Ui};
use common::*;
use serde_json::{json, Value};

/// `&#x2F;` and friends back to text (tera escapes what it prints).
fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The audit table's rows as (sentence, raw action), newest first.
fn rows(html: &str) -> Vec<(String, String)> {
    let body = find(html, "<tbody>", "</tbody>").unwrap_or("");
    body.split("<td class=\"story\">")
        .skip(1)
        .map(|chunk| {
            let story = &chunk[..chunk.find("</td>").unwrap()];
            let action = find(chunk, "<code class=\"muted small\">", "</code>").unwrap();
            (unescape(&strip_tags(story)), action.to_owned())
        })
        .collect()
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn sentences(html: &str) -> Vec<String> {
    rows(html).into_iter().map(|(s, _)| s).collect()
}

/// The href of the pager link labelled `label`, unescaped.
fn pager_link(html: &str, label: &str) -> Option<String> {
    let nav = find(html, "<nav class=\"pager\"", "</nav>")?;
    let end = nav.find(&format!(">{label}</a>"))?;
    let start = nav[..end].rfind("href=\"")? + 6;
    let close = nav[start..].find('"')? + start;
    Some(unescape(&nav[start..close]))
}

/// Admin `ana` (who bulk-disables) beside `admin`; `shop-app` and `erp-app` mapped
/// onto `orders`; returns (admin API session, orders, shop-app, erp-app).
async fn history(app: &TestApp) -> (Session, Value, Value, Value) {
    let admin = app.admin().await;
    let orders = admin.create_endpoint("orders", json!({})).await;
    let shop = admin.create_token("shop-app").await;
    let erp = admin.create_token("erp-app").await;
    admin.map(&shop["id"], &orders["id"], "POST", true).await;
    admin.map(&shop["id"], &orders["id"], "POST", false).await;
    let res = admin
        .post(
            &format!("/endpoints/{}/primary-tokens/POST/regenerate", orders["id"]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = admin
        .post(
            "/users",
            json!({"username": "ana", "role": "admin", "password": ANALYST_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ana = app.login_as("ana", ANALYST_PASSWORD).await;
    let res = ana
        .post(
            "/tokens/bulk",
            json!({"action": "disable", "ids": [shop["id"], erp["id"]]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        admin
            .delete(&format!("/tokens/{}", erp["id"]))
            .await
            .status(),
        204
    );
    (admin, orders, shop, erp)
}

async fn entries_read_as_sentences_that_link(app: TestApp) {
    let (_, orders, shop, erp) = history(&app).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = ui.get("/ui/audit").await;
    assert_eq!(status, 200);
    assert_eq!(
        sentences(&html),
        vec![
            "admin deleted token erp-app",
            "ana disabled 2 tokens: shop-app, erp-app",
            "admin added user ana as an admin",
            "admin regenerated the POST primary token of orders",
            "admin switched off the mapping shop-app → orders (POST)",
            "admin mapped shop-app → orders (POST)",
            "admin created token erp-app",
            "admin created token shop-app",
            "admin created endpoint orders",
        ],
        "{:?}",
        app.backend
    );
    // The raw action stays beside the sentence, for those who know the codes.
    assert_eq!(rows(&html)[1].1, "token.bulk.disable");
    let html = unescape(&html);
    // What exists links to its page; the deleted token is named, not linked.
    for link in [
        format!("<a href=\"/ui/tokens/{}\">shop-app</a>", shop["id"]),
        format!("<a href=\"/ui/endpoints/{}\">orders</a>", orders["id"]),
        "<a href=\"/ui/users\">ana</a>".to_owned(),
    ] {
        assert!(html.contains(&link), "{link}");
    }
    assert!(html.contains("<span class=\"gone\">erp-app</span>"));
    assert!(!html.contains(&format!("/ui/tokens/{}\"", erp["id"])));
    // Values never appear; the page's links are underlined, not told by colour alone.
    assert!(!html.contains(shop["token"].as_str().unwrap()));
    assert!(!html.contains(orders["primary_tokens"]["POST"].as_str().unwrap()));
    let (_, css) = ui.get("/ui/static/app.css").await;
    assert!(css.contains("#audit .story a { text-decoration: underline;"));
    // Every filter control has a label.
    for id in ["f-actor", "f-action", "f-target", "f-from", "f-to"] {
        assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
    }
}

on_each_backend!(
    entries_read_as_sentences_that_link_test,
    entries_read_as_sentences_that_link
);

/// Seeds `n` entries by `actor`, a minute apart from `start` (`YYYY-MM-DD HH:MM`).
async fn seed(app: &TestApp, actor: &str, action: &str, target: &str, start: &str, n: usize) {
    let start = chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%d %H:%M").unwrap();
    let values: Vec<String> = (0..n)
        .map(|i| {
            let at = start + chrono::TimeDelta::minutes(i as i64);
            format!(
                "('{}', '{actor}', '{action}', '{target}', {}, '{{\"name\":\"t{i}\"}}')",
                at.format("%Y-%m-%d %H:%M:%S"),
                1000 + i
            )
        })
        .collect();
    app.sql(format!(
        "INSERT INTO audit_log (at, actor, action, target_type, target_id, detail) VALUES {}",
        values.join(", ")
    ))
    .await;
}

async fn each_filter_narrows_the_log(app: TestApp) {
    let (admin, ..) = history(&app).await;
    seed(&app, "bob", "token.create", "token", "2026-11-10 10:00", 5).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let ui_rows = |html: &str| rows(html).into_iter().map(|(_, a)| a).collect::<Vec<_>>();

    let (_, html) = ui.get("/ui/audit?actor=ana").await;
    assert_eq!(ui_rows(&html), vec!["token.bulk.disable"]);
    assert!(
        html.contains("name=\"actor\" value=\"ana\""),
        "the form keeps the filter"
    );
    let (_, html) = ui.get("/ui/audit?action=token.bulk.disable").await;
    assert_eq!(
        sentences(&html),
        vec!["ana disabled 2 tokens: shop-app, erp-app"]
    );
    assert!(html.contains("<option value=\"token.bulk.disable\" selected>"));
    let (_, html) = ui.get("/ui/audit?target_type=mapping").await;
    assert_eq!(ui_rows(&html), vec!["mapping.update", "mapping.create"]);
    let (_, html) = ui
        .get("/ui/audit?actor=&action=&target_type=&from=2026-11-10T10:01&to=2026-11-10T10:03")
        .await;
    assert_eq!(
        sentences(&html),
        vec!["bob created token t2", "bob created token t1"],
        "from is inclusive, to exclusive"
    );
    let (_, html) = ui.get("/ui/audit?actor=bob&target_type=endpoint").await;
    assert!(html.contains("No entries match these filters."));

    // The API filters alike.
    let api = |q: &'static str| {
        let admin = &admin;
        async move {
            let page: Value = admin.read(&format!("/audit?{q}")).await;
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(api("actor=ana").await, vec!["token.bulk.disable"]);
    assert_eq!(
        api("target_type=mapping").await,
        vec!["mapping.update", "mapping.create"]
    );
    assert_eq!(api("action=user.create").await, vec!["user.create"]);
    assert_eq!(
        api("actor=bob&from=2026-11-10T10:03:00Z&to=2026-11-10T11:04:00%2B01:00").await,
        vec!["token.create"],
        "11:04+01:00 is 10:04Z, which is left out"
    );
    assert_eq!(api("actor=bob&from=2026-11-10T10:03:00Z").await.len(), 2);
    let mapping: Value = admin.read("/audit?target_type=mapping&limit=1").await;
    assert_eq!(mapping["entries"][0]["target_type"], "mapping");
    assert_eq!(mapping["entries"][0]["detail"]["endpoint"], "orders");
}

on_each_backend!(
    each_filter_narrows_the_log_test,
    each_filter_narrows_the_log
);

async fn bad_filter_values_are_named(app: TestApp) {
    let admin = app.admin().await;
    for (query, field) in [
        ("action=token.explode", "action"),
        ("target_type=planet", "target_type"),
        ("from=yesterday", "from"),
        ("from=2026-11-10T10:00", "from"),
        ("from=2026-11-10T10:00:00Z&to=2026-11-09T10:00:00Z", "to"),
        ("actor=", "actor"),
        ("actor=ana&actor=bob", "actor"),
        ("limit=0", "limit"),
        ("cursor=later", "cursor"),
    ] {
        let problem = assert_problem(
            admin.get(&format!("/audit?{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field, "{query}");
    }
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = ui.get("/ui/audit?action=token.explode&actor=ana").await;
    assert_eq!(status, 422);
    assert!(
        html.contains("role=\"alert\">action: is not a known audit action"),
        "{html}"
    );
    assert!(
        html.contains("name=\"actor\" value=\"ana\""),
        "what was sent stays in the form"
    );
    let (status, html) = ui
        .get("/ui/audit?from=2026-11-10T10:00&to=2026-11-10T09:00")
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("to: must be later than from"));
}

on_each_backend!(
    bad_filter_values_are_named_test,
    bad_filter_values_are_named
);

async fn the_pager_keeps_the_filters(app: TestApp) {
    seed(
        &app,
        "bob",
        "token.create",
        "token",
        "2026-11-10 10:00",
        130,
    )
    .await;
    seed(
        &app,
        "carl",
        "token.delete",
        "token",
        "2026-11-10 10:00",
        30,
    )
    .await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, first) = ui.get("/ui/audit?actor=bob&target_type=token").await;
    assert_eq!(rows(&first).len(), 100);
    assert!(pager_link(&first, "« Newest").is_none());
    let older = pager_link(&first, "Older »").unwrap();
    assert!(
        older.starts_with("/ui/audit?actor=bob&target_type=token&before="),
        "{older}"
    );
    let (status, second) = ui.get(&older).await;
    assert_eq!(status, 200);
    let second_rows = rows(&second);
    assert_eq!(second_rows.len(), 30);
    assert!(second_rows
        .iter()
        .all(|(s, _)| s.starts_with("bob created token")));
    assert_eq!(sentences(&second).last().unwrap(), "bob created token t0");
    assert!(pager_link(&second, "Older »").is_none());
    assert_eq!(
        pager_link(&second, "« Newest").unwrap(),
        "/ui/audit?actor=bob&target_type=token"
    );

    let admin = app.admin().await;
    let page: Value = admin.read("/audit?actor=carl&limit=20").await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 20);
    let rest: Value = admin
        .read(&format!(
            "/audit?actor=carl&limit=20&cursor={}",
            page["next"]
        ))
        .await;
    let rest = rest["entries"].as_array().unwrap();
    assert_eq!(rest.len(), 10);
    assert!(rest.iter().all(|e| e["actor"] == "carl"));
}

on_each_backend!(
    the_pager_keeps_the_filters_test,
    the_pager_keeps_the_filters
);

async fn an_unknown_action_reads_as_stored(app: TestApp) {
    seed(
        &app,
        "future",
        "token.explode",
        "token",
        "2026-11-10 10:00",
        1,
    )
    .await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = ui.get("/ui/audit").await;
    assert_eq!(status, 200);
    assert_eq!(sentences(&html)[0], "future token.explode (token #1000)");
    let entries: Value = app.admin().await.read("/audit?actor=future").await;
    assert_eq!(entries["entries"][0]["action"], "token.explode");
}

on_each_backend!(
    an_unknown_action_reads_as_stored_test,
    an_unknown_action_reads_as_stored
);

async fn analysts_are_refused(app: TestApp) {
    let (_, analyst) = app.analyst().await;
    assert_problem(analyst.get("/audit?actor=admin").await, 403, "forbidden").await;
    let ana = Ui::login(&app, "ana", ANALYST_PASSWORD).await;
    let (status, html) = ana.get("/ui/audit?actor=admin").await;
    assert_eq!(status, 403);
    assert!(html.contains("Admins only"));
}

on_each_backend!(analysts_are_refused_test, analysts_are_refused);
