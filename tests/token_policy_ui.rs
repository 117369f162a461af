//! The token lifetime policy in the admin UI (issue 16, point 2): the settings
//! page, the token forms under a policy, and the token list's Renew in place (the
//! page's script, a JSON answer) and without JavaScript (post, redirect, flash).

mod common;

use chrono::{TimeDelta, Utc};
use common::policy::*;
use common::ui::{find, location, Ui};
use common::*;
use serde_json::{json, Value};

async fn the_token_list_renews_in_place(app: TestApp) {
    let admin = app.admin().await;
    set_policy(&admin, json!(90), json!(365)).await;
    let mut ids = Vec::new();
    for (name, days) in [("soon-app", 3), ("fine-app", 60)] {
        let t: Value = admin
            .post(
                "/tokens",
                json!({"name": name, "expires_at": in_days(days)}),
            )
            .await
            .json()
            .await
            .unwrap();
        ids.push(t["id"].as_i64().unwrap());
    }
    let past: Value = admin
        .post(
            "/tokens",
            json!({"name": "late-app", "expires_at": in_days(-2)}),
        )
        .await
        .json()
        .await
        .unwrap();
    let late = past["id"].as_i64().unwrap();

    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, all) = ui.get("/ui/tokens").await;
    assert!(
        all.contains(&format!("id=\"renew-{}\"", ids[0])),
        "expiring: Renew"
    );
    assert!(
        all.contains(&format!("id=\"renew-{late}\"")),
        "expired: Renew"
    );
    assert!(
        !all.contains(&format!("id=\"renew-{}\"", ids[1])),
        "not expiring: none"
    );
    let (_, soon) = ui.get("/ui/tokens?expiry=soon").await;
    assert!(soon.contains("soon-app") && !soon.contains("fine-app"));
    assert!(soon.contains("id=\"token-results\" data-region"));

    // In place (the page's script): a JSON answer naming the token and its new expiry.
    let csrf = ui.csrf().await;
    let res = ui
        .client
        .post(format!("{}/ui/tokens/{}/lifecycle", ui.base, ids[0]))
        .header("X-Portico-Inplace", "1")
        .form(&[
            ("_csrf", csrf.as_str()),
            ("_back", "/ui/tokens?expiry=soon"),
            ("action", "renew"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ok"], true);
    let renewed = admin.read(&format!("/tokens/{}", ids[0])).await;
    assert!(about_days_from_now(expiry(&renewed), 90));
    let shown = expiry(&renewed).format("%Y-%m-%d %H:%M").to_string();
    assert_eq!(
        body["message"],
        format!(
            "soon-app renewed until {}.",
            expiry(&renewed).format("%Y-%m-%d %H:%M:%S")
        )
    );
    assert!(body["message"].as_str().unwrap().contains(&shown));
    let (_, soon) = ui.get("/ui/tokens?expiry=soon").await;
    assert!(!soon.contains("soon-app"), "renewed: no longer expiring");
}

on_each_backend!(
    the_token_list_renews_in_place_test,
    the_token_list_renews_in_place
);

async fn the_token_list_renews_by_redirect_without_javascript(app: TestApp) {
    let admin = app.admin().await;
    set_policy(&admin, json!(90), json!(365)).await;
    let past: Value = admin
        .post(
            "/tokens",
            json!({"name": "late-app", "expires_at": in_days(-2)}),
        )
        .await
        .json()
        .await
        .unwrap();
    let late = past["id"].as_i64().unwrap();
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, expired) = ui.get("/ui/tokens?expiry=expired").await;
    assert!(
        expired.contains(&format!("id=\"renew-{late}\"")),
        "expired: Renew"
    );

    // Without the script: post, redirect to the same filtered list, a flash message.
    let res = ui
        .submit(
            &format!("/ui/tokens/{late}/lifecycle"),
            &[("_back", "/ui/tokens?expiry=expired"), ("action", "renew")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/ui/tokens?expiry=expired");
    let (_, page) = ui.get("/ui/tokens?expiry=expired").await;
    let flash = find(&page, "class=\"flash ok\" role=\"status\">", "</div>").unwrap();
    assert!(flash.starts_with("late-app renewed until "), "{flash}");
    assert!(
        !page.contains("<tr data-token="),
        "nothing expired any more"
    );
    let audit = admin.read("/audit?action=token.renew").await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1);
}

on_each_backend!(
    the_token_list_renews_by_redirect_without_javascript_test,
    the_token_list_renews_by_redirect_without_javascript
);

async fn the_settings_page_refuses_a_default_beyond_the_maximum(app: TestApp) {
    let admin = app.admin().await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;

    // The settings page refuses a default beyond the maximum, with the reason.
    let (status, _) = ui.get("/ui/settings").await;
    assert_eq!(status, 200);
    let res = ui
        .submit(
            "/ui/settings/token-policy",
            &[
                ("_back", "/ui/settings"),
                ("default_expiry_days", "400"),
                ("max_lifetime_days", "365"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/ui/settings");
    let (_, page) = ui.get("/ui/settings").await;
    let flash = find(&page, "class=\"flash error\" role=\"alert\">", "</div>").unwrap();
    assert!(
        flash.contains("at most the maximum lifetime (365 days)"),
        "{flash}"
    );
    assert_eq!(
        admin.read("/settings/token-policy").await["max_lifetime_days"],
        Value::Null
    );
    let (_, page) = ui
        .submit_and_follow(
            "/ui/settings/token-policy",
            &[
                ("_back", "/ui/settings"),
                ("default_expiry_days", "30"),
                ("max_lifetime_days", "365"),
            ],
        )
        .await;
    assert!(page.contains(
        "Token lifetime policy saved: new tokens expire after 30 days; maximum lifetime 365 days."
    ));
    assert!(page.contains("value=\"30\"") && page.contains("value=\"365\""));
}

on_each_backend!(
    the_settings_page_refuses_a_default_beyond_the_maximum_test,
    the_settings_page_refuses_a_default_beyond_the_maximum
);

async fn the_token_forms_follow_the_policy(app: TestApp) {
    let admin = app.admin().await;
    let old = admin.create_token("old-app").await;
    set_policy(&admin, json!(30), json!(365)).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;

    // A token made without an expiry gets the default; one beyond the maximum is refused.
    let res = ui
        .submit("/ui/tokens", &[("name", "ui-app"), ("enabled", "on")])
        .await;
    assert_eq!(res.status(), 303);
    let made = admin.read("/tokens").await;
    let ui_app = made
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ui-app")
        .unwrap();
    assert!(about_days_from_now(expiry(ui_app), 30));
    let far = (Utc::now() + TimeDelta::days(400))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let res = ui
        .submit(
            "/ui/tokens",
            &[
                ("_back", "/ui/tokens"),
                ("name", "far-app"),
                ("expires_at", &far),
            ],
        )
        .await;
    assert_eq!(location(&res), "/ui/tokens");
    let (_, list) = ui.get("/ui/tokens").await;
    let flash = find(&list, "class=\"flash error\" role=\"alert\">", "</div>").unwrap();
    assert!(flash.contains("at most 365 days"), "{flash}");
    assert!(
        list.contains("at most 365 days</span>"),
        "the form says the maximum"
    );

    // A token that never expires (from before the maximum) can still be saved as it is.
    let (_, token_page) = ui.get(&format!("/ui/tokens/{}", old["id"])).await;
    assert!(token_page.contains("name=\"expires_was\" value=\"\""));
    let (_, saved) = ui
        .submit_and_follow(
            &format!("/ui/tokens/{}", old["id"]),
            &[
                ("_back", &format!("/ui/tokens/{}", old["id"])),
                ("name", "old-app"),
                ("description", "kept"),
                ("expires_was", ""),
                ("expires_at", ""),
                ("rate_limit_per_minute", ""),
                ("ip_allowlist", ""),
            ],
        )
        .await;
    assert!(saved.contains("Saved."), "{saved}");
}

on_each_backend!(
    the_token_forms_follow_the_policy_test,
    the_token_forms_follow_the_policy
);
