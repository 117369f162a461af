//! Why a call was refused: the call's detail names the rule and the thing and,
//! where a change caused it, the audit entry of that change (who, what).

mod common;

use chrono::{TimeDelta, Utc};
use common::ui::Ui;
use common::*;
use serde_json::{json, Value};

/// The detail of the newest call (the one just made).
async fn last_call(admin: &Session) -> Value {
    let page = admin.read("/calls?limit=1").await;
    let id = &page["calls"][0]["id"];
    let res = admin.get(&format!("/calls/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Asserts the newest call was refused with `code`, its `why` holds `says`, and
/// its cause is `cause` ((actor, action)) or none.
async fn explained(admin: &Session, code: &str, says: &str, cause: Option<(&str, &str)>) -> Value {
    let d = last_call(admin).await;
    assert_eq!(d["code"], code, "{d}");
    let why = d["why"].as_str().unwrap_or_default();
    assert!(why.contains(says), "{code}: {why:?} should say {says:?}");
    match cause {
        Some((actor, action)) => {
            assert_eq!(d["caused_by"]["actor"], actor, "{d}");
            assert_eq!(d["caused_by"]["action"], action, "{d}");
            assert!(d["caused_by"]["id"].is_i64() && d["caused_by"]["at"].is_string());
        }
        None => assert!(d["caused_by"].is_null(), "{code}: {d}"),
    }
    d
}

async fn a_switched_off_mapping_names_it_and_who_switched_it_off(app: TestApp) {
    let f = app.two_apps().await;
    let (shop, orders) = (&f.tokens[0], &f.endpoint);
    let res = app.ingest("orders", f.value(0), json!({"n": 1})).await;
    assert_eq!(res.status(), 201);
    let ok = last_call(&f.admin).await;
    assert!(ok["why"].is_null() && ok["caused_by"].is_null(), "{ok}");

    f.admin.map(&shop["id"], &orders["id"], "POST", false).await;
    app.ingest("orders", f.value(0), json!({"n": 2})).await;
    let d = explained(
        &f.admin,
        "mapping_disabled",
        "the POST mapping of shop-app onto /e/orders was switched off; it is still off",
        Some(("admin", "mapping.update")),
    )
    .await;
    let summary = d["caused_by"]["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        "admin switched off the mapping shop-app → orders (POST)"
    );

    // Switched on again since: the detail says so and still names the change then.
    f.admin.map(&shop["id"], &orders["id"], "POST", true).await;
    let again = f.admin.read(&format!("/calls/{}", d["id"])).await;
    assert!(
        again["why"]
            .as_str()
            .unwrap()
            .ends_with("it has since been switched on"),
        "{again}"
    );
    assert_eq!(again["caused_by"]["id"], d["caused_by"]["id"]);
}

async fn a_disabled_token_and_endpoint_name_their_changes(app: TestApp) {
    let f = app.two_apps().await;
    let erp = &f.tokens[1];
    let res = f
        .admin
        .patch(&format!("/tokens/{}", erp["id"]), json!({"enabled": false}))
        .await;
    assert_eq!(res.status(), 200);
    app.ingest("orders", f.value(1), json!({})).await;
    explained(
        &f.admin,
        "token_disabled",
        "token erp was disabled",
        Some(("admin", "token.update")),
    )
    .await;

    let res = f
        .admin
        .patch(
            &format!("/endpoints/{}", f.endpoint["id"]),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.ingest("orders", f.value(0), json!({})).await;
    explained(
        &f.admin,
        "endpoint_disabled",
        "endpoint orders was disabled",
        Some(("admin", "endpoint.update")),
    )
    .await;
}

async fn an_unmapped_method_says_so_with_or_without_a_removal(app: TestApp) {
    let f = app.two_apps().await;
    let reader = f.admin.create_token("reader").await;
    f.admin
        .map(&reader["id"], &f.endpoint["id"], "POST", true)
        .await;
    let value = reader["token"].as_str().unwrap();
    let get = |token: String| {
        let (app, client) = (&app, app.client.clone());
        async move {
            client
                .get(app.url("/e/orders"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(get(value.to_owned()).await.status(), 403);
    explained(
        &f.admin,
        "token_not_mapped",
        "reader was not mapped onto /e/orders for GET; it still is not",
        None,
    )
    .await;

    let shop = &f.tokens[0];
    let path = format!("/tokens/{}/mappings/{}/GET", shop["id"], f.endpoint["id"]);
    assert_eq!(f.admin.delete(&path).await.status(), 204);
    assert_eq!(get(f.value(0).to_owned()).await.status(), 403);
    explained(
        &f.admin,
        "token_not_mapped",
        "shop-app was not mapped onto /e/orders for GET",
        Some(("admin", "mapping.delete")),
    )
    .await;
}

async fn an_expired_or_unknown_token_is_explained(app: TestApp) {
    let f = app.two_apps().await;
    app.ingest("orders", &"a".repeat(64), json!({})).await;
    explained(
        &f.admin,
        "token_invalid",
        "the token matched nothing: unknown, malformed or deactivated",
        None,
    )
    .await;

    let soon = Utc::now() + TimeDelta::minutes(5);
    let res = f
        .admin
        .patch(
            &format!("/tokens/{}", f.tokens[0]["id"]),
            json!({"expires_at": soon.to_rfc3339()}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.clock.advance(TimeDelta::minutes(6));
    app.ingest("orders", f.value(0), json!({})).await;
    let d = explained(
        &f.admin,
        "token_expired",
        "token shop-app expired at ",
        Some(("admin", "token.update")),
    )
    .await;
    let minute = soon.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(d["why"].as_str().unwrap().contains(&minute), "{d}");
}

async fn the_call_page_shows_why_and_links_the_change(app: TestApp) {
    let f = app.two_apps().await;
    f.admin
        .map(&f.tokens[0]["id"], &f.endpoint["id"], "POST", false)
        .await;
    app.ingest("orders", f.value(0), json!({})).await;
    let d = last_call(&f.admin).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = ui.get(&format!("/ui/viewer/calls/{}", d["id"])).await;
    assert_eq!(status, 200);
    let html = html.replace("&#x2F;", "/").replace("&amp;", "&");
    assert!(html.contains("Why refused"), "{html}");
    assert!(html.contains("the POST mapping of shop-app onto /e/orders was switched off"));
    let link = format!(
        "<a href=\"/ui/audit?action=mapping.update&actor=admin&before={}\">admin switched off the mapping",
        d["caused_by"]["id"].as_i64().unwrap() + 1
    );
    assert!(html.contains(&link), "{html}");
}

on_each_backend!(
    a_switched_off_mapping_names_it_and_who_switched_it_off_test,
    a_switched_off_mapping_names_it_and_who_switched_it_off
);
on_each_backend!(
    a_disabled_token_and_endpoint_name_their_changes_test,
    a_disabled_token_and_endpoint_name_their_changes
);
on_each_backend!(
    an_unmapped_method_says_so_with_or_without_a_removal_test,
    an_unmapped_method_says_so_with_or_without_a_removal
);
on_each_backend!(
    an_expired_or_unknown_token_is_explained_test,
    an_expired_or_unknown_token_is_explained
);
on_each_backend!(
    the_call_page_shows_why_and_links_the_change_test,
    the_call_page_shows_why_and_links_the_change
);
