//! The admin UI with hundreds of tokens: forms redirect (a reload sends nothing
//! again) and show a new secret once; the token list and an endpoint's Tokens tab
//! search, filter, sort and page on the server, with bulk actions on "all N
//! matching"; mapping switches answer in place and name what they changed.

mod common;

use common::ui::{find, location, revealed_values, Ui};
use common::*;
use serde_json::{json, Value};

/// `n` tokens named `{prefix}-001`… through the API; their ids in order.
async fn tokens(admin: &Session, prefix: &str, n: usize, extra: Value) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 1..=n {
        let mut body = json!({"name": format!("{prefix}-{i:03}"), "description": format!("{prefix} application")});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let t: Value = admin.post("/tokens", body).await.json().await.unwrap();
        ids.push(t["id"].as_i64().expect("token created"));
    }
    ids
}

fn count(html: &str) -> String {
    find(html, "id=\"token-count\" role=\"status\">", "</p>")
        .unwrap_or_default()
        .to_owned()
}

fn rows(html: &str) -> usize {
    html.matches("<tr data-token=").count()
}

async fn forms_redirect_and_show_a_secret_once(app: TestApp) {
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let res = ui
        .submit("/ui/tokens", &[("name", "shop-app"), ("enabled", "on")])
        .await;
    assert_eq!(res.status(), 303, "{:?}", app.backend);
    let page = location(&res);
    assert!(page.starts_with("/ui/tokens/"), "{page}");
    let (_, html) = ui.get(&page).await;
    assert!(html.contains("Token shop-app created."));
    let value = revealed_values(&html).pop().expect("shown once");
    // Waiting in the session, it was sealed: its row never held the value in clear,
    // and once shown it is gone from there.
    let (_, again) = ui.get(&page).await;
    assert!(revealed_values(&again).is_empty());
    assert!(!again.contains(&value));
    // Another signed-in admin (another session) never sees it.
    let other = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let res = other
        .submit(&format!("{page}/rotate"), &[("_confirmed", "1")])
        .await;
    assert_eq!(res.status(), 303);
    let (_, mine) = ui.get(&page).await;
    assert!(revealed_values(&mine).is_empty(), "not my session's value");
    let (_, theirs) = other.get(&page).await;
    let rotated = revealed_values(&theirs).pop().expect("the new value, once");
    assert_ne!(rotated, value);
    assert!(theirs.contains("New value generated for shop-app."));

    // The form sent again (a reload of the POST) creates nothing: the name is taken.
    let res = ui
        .submit("/ui/tokens", &[("name", "shop-app"), ("enabled", "on")])
        .await;
    assert_eq!(res.status(), 303);
    let (_, back) = ui.get(&location(&res)).await;
    assert!(
        back.contains("another token has this name"),
        "{}",
        count(&back)
    );
    let all: Value = app
        .admin()
        .await
        .get("/tokens?state=all")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
}

on_each_backend!(
    forms_redirect_and_show_a_secret_once_on_each_backend,
    forms_redirect_and_show_a_secret_once
);

async fn the_list_searches_filters_sorts_and_pages(app: TestApp) {
    let admin = app.admin().await;
    let shop = tokens(&admin, "shop", 60, json!({})).await;
    let erp = tokens(&admin, "erp", 5, json!({"enabled": false})).await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let expiring = tokens(&admin, "crm", 2, json!({"expires_at": soon})).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;

    let (status, html) = ui.get("/ui/tokens").await;
    assert_eq!(status, 200);
    assert_eq!(count(&html), "1–50 of 67 tokens", "{:?}", app.backend);
    assert_eq!(rows(&html), 50);
    assert!(html.contains("page=2"), "a link to the next page");
    let (_, second) = ui.get("/ui/tokens?page=2").await;
    assert_eq!(count(&second), "51–67 of 67 tokens");
    assert_eq!(rows(&second), 17);

    // Search: name, description and hint, ignoring case.
    let (_, found) = ui.get("/ui/tokens?q=SHOP-05").await;
    assert_eq!(count(&found), "1–10 of 10 tokens");
    let (_, by_desc) = ui.get("/ui/tokens?q=erp+application").await;
    assert_eq!(rows(&by_desc), 5);
    let t: Value = admin
        .get(&format!("/tokens/{}", shop[0]))
        .await
        .json()
        .await
        .unwrap();
    let hint = t["hint"].as_str().unwrap();
    let (_, by_hint) = ui.get(&format!("/ui/tokens?q={}", &hint[..4])).await;
    assert!(by_hint.contains("shop-001"));
    // The search index follows a change of name or description (and a deletion):
    // the new text is found, the old no longer; a quote is text too.
    let res = admin
        .patch(
            &format!("/tokens/{}", shop[1]),
            json!({"name": "ledger-sync", "description": "the \"ledger\" app"}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let (_, renamed) = ui.get("/ui/tokens?q=LEDGER-S").await;
    assert_eq!(rows(&renamed), 1);
    let (_, old_name) = ui.get("/ui/tokens?q=shop-002").await;
    assert_eq!(rows(&old_name), 0);
    let (_, quoted) = ui.get("/ui/tokens?q=%22ledger%22").await;
    assert_eq!(rows(&quoted), 1);
    // A match never spans two of the texts (name "ledger-sync", description "the …").
    for spanning in ["sync%01the", "syncthe", "sync+the"] {
        let (_, across) = ui.get(&format!("/ui/tokens?q={spanning}")).await;
        assert_eq!(rows(&across), 0, "{spanning}");
    }
    assert_eq!(
        admin.delete(&format!("/tokens/{}", shop[1])).await.status(),
        204
    );
    let (_, deleted) = ui.get("/ui/tokens?q=ledger").await;
    assert_eq!(rows(&deleted), 0);
    // Two characters are below the index's reach: the table is read instead.
    let (_, short) = ui.get("/ui/tokens?q=p-").await;
    assert_eq!(rows(&short), 50, "every shop-NNN token, first page");
    let (_, none) = ui.get("/ui/tokens?q=100%25_").await;
    assert_eq!(rows(&none), 0, "LIKE's wildcards are text here");
    assert!(none.contains("No token matches these choices."));

    // Filters.
    let (_, off) = ui.get("/ui/tokens?enabled=off").await;
    assert_eq!(rows(&off), 5);
    let (_, exp) = ui.get("/ui/tokens?expiry=soon").await;
    assert_eq!(rows(&exp), 2);
    assert!(exp.contains("Expiring"));
    let e = admin.create_endpoint("orders", json!({})).await;
    for id in [shop[3], erp[0]] {
        let res = admin
            .put(
                &format!("/tokens/{id}/mappings/{}/POST", e["id"]),
                json!({"enabled": true}),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
    }
    let (_, mapped) = ui.get(&format!("/ui/tokens?endpoint={}", e["id"])).await;
    assert_eq!(rows(&mapped), 2);
    assert!(mapped.contains("shop-004") && mapped.contains("erp-001"));

    // Sort: newest first puts the last created on top.
    let (_, newest) = ui.get("/ui/tokens?sort=created&dir=desc&per=25").await;
    let first_row = find(&newest, "<tr data-token=\"", "\"").unwrap();
    assert_eq!(first_row, expiring[1].to_string());
    assert_eq!(rows(&newest), 25);
    assert!(newest.contains("aria-sort=\"descending\""));

    // A bad choice is named, not ignored.
    for bad in [
        "sort=colour",
        "per=0",
        "page=x",
        "show=some",
        "expiry=later",
    ] {
        let (status, page) = ui.get(&format!("/ui/tokens?{bad}")).await;
        assert_eq!(status, 422, "{bad}");
        let field = bad.split('=').next().unwrap();
        assert!(page.contains(field), "{bad}: names the choice");
    }
}

on_each_backend!(
    the_list_searches_filters_sorts_and_pages_on_each_backend,
    the_list_searches_filters_sorts_and_pages
);

async fn bulk_actions_apply_to_all_matching(app: TestApp) {
    let admin = app.admin().await;
    tokens(&admin, "shop", 30, json!({})).await;
    tokens(&admin, "erp", 3, json!({})).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, html) = ui.get("/ui/tokens?q=shop&per=25").await;
    let matching = find(&html, "name=\"matching\" value=\"", "\"").unwrap();
    assert_eq!(matching, "q=shop");
    assert!(html.contains("All 30 matching"));
    let fields = [
        ("action", "disable"),
        ("scope", "matching"),
        ("matching", matching),
        ("_back", "/ui/tokens?q=shop&per=25"),
    ];
    // Disabling asks first, naming how many.
    let res = ui.submit("/ui/tokens/bulk", &fields).await;
    assert_eq!(res.status(), 200);
    let ask = res.text().await.unwrap();
    assert!(ask.contains("Disable all 30 matching tokens?"), "{ask}");
    let mut confirmed = fields.to_vec();
    confirmed.push(("_confirmed", "1"));
    let (_, done) = ui.submit_and_follow("/ui/tokens/bulk", &confirmed).await;
    assert!(done.contains("30 token(s) disabled."));
    let all: Value = admin.get("/tokens").await.json().await.unwrap();
    for t in all.as_array().unwrap() {
        let shop = t["name"].as_str().unwrap().starts_with("shop");
        assert_eq!(t["enabled"], !shop, "{t}");
    }
    // Nothing matches: nothing happens, and it says so.
    let (_, nothing) = ui
        .submit_and_follow(
            "/ui/tokens/bulk",
            &[
                ("action", "enable"),
                ("scope", "matching"),
                ("matching", "q=zzz"),
            ],
        )
        .await;
    assert!(nothing.contains("no token matches"));
}

on_each_backend!(
    bulk_actions_apply_to_all_matching_on_each_backend,
    bulk_actions_apply_to_all_matching
);

async fn the_tokens_tab_pages_and_switches_in_place(app: TestApp) {
    let admin = app.admin().await;
    let ids = tokens(&admin, "app", 30, json!({})).await;
    let e = admin.create_endpoint("orders", json!({})).await;
    let eid = e["id"].as_i64().unwrap();
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let tab = format!("/ui/endpoints/{eid}/tokens");
    let (_, html) = ui.get(&format!("{tab}?per=25")).await;
    assert_eq!(count(&html), "1–25 of 30 tokens");

    // A switch posted by the page's script answers in JSON, naming what changed.
    let inplace = |fields: Vec<(&'static str, String)>| {
        let ui = &ui;
        let tab = tab.clone();
        async move {
            let csrf = ui.csrf().await;
            let mut all = vec![("_csrf", csrf), ("_back", tab)];
            all.extend(fields);
            ui.client
                .post(format!("{}/ui/endpoints/{eid}/mappings", ui.base))
                .header("X-Portico-Inplace", "1")
                .form(&all)
                .send()
                .await
                .unwrap()
        }
    };
    let on = vec![
        ("token_id", ids[4].to_string()),
        ("method", "POST".to_owned()),
        ("action", "on".to_owned()),
    ];
    let res = inplace(on).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(
        body["message"],
        "POST mapping of app-005 onto /e/orders switched on."
    );

    // Switching off asks first, like the token and endpoint switches.
    let off = vec![
        ("token_id", ids[4].to_string()),
        ("method", "POST".to_owned()),
        ("action", "off".to_owned()),
    ];
    let res = inplace(off.clone()).await;
    assert_eq!(res.status(), 428);
    let body: Value = res.json().await.unwrap();
    assert!(body["confirm"]
        .as_str()
        .unwrap()
        .contains("Switch off the POST mapping of app-005"));
    let maps: Value = admin
        .get(&format!("/tokens/{}/mappings", ids[4]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(maps[0]["enabled"], true, "not switched off unconfirmed");
    let mut confirmed = off;
    confirmed.push(("_confirmed", "1".to_owned()));
    let body: Value = inplace(confirmed).await.json().await.unwrap();
    assert_eq!(
        body["message"],
        "POST mapping of app-005 onto /e/orders switched off."
    );
    // A mistake is told in place too.
    let res = inplace(vec![
        ("token_id", "999999".to_owned()),
        ("method", "POST".to_owned()),
        ("action", "on".to_owned()),
    ])
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["ok"], false);

    // "Hide unassigned" is the endpoint filter; the page keeps it in its links.
    let (_, hidden) = ui.get(&format!("{tab}?endpoint={eid}")).await;
    assert_eq!(count(&hidden), "1–1 of 1 token");
    assert!(hidden.contains("aria-checked=\"true\" id=\"hide-unassigned\""));
    let back = find(&hidden, "name=\"_back\" value=\"", "\"").unwrap();
    assert_eq!(back.replace("&#x2F;", "/"), format!("{tab}?endpoint={eid}"));
}

on_each_backend!(
    the_tokens_tab_pages_and_switches_in_place_on_each_backend,
    the_tokens_tab_pages_and_switches_in_place
);
