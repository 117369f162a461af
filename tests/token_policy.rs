//! The token lifetime policy (issue 16, point 2): an admin setting gives new tokens
//! a default expiry and an optional maximum lifetime, which creating, changing,
//! regenerating and renewing meet (`422 lifetime_exceeded` naming the maximum);
//! tokens beyond it are listed; the token list renews expiring tokens in place.

mod common;

use chrono::TimeDelta;
use common::policy::*;
use common::ui::Ui;
use common::*;
use serde_json::{json, Value};

async fn assert_exceeded(res: reqwest::Response, max: &str) {
    let body = assert_problem(res, 422, "lifetime_exceeded").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("at most {max}")), "{detail}");
}

async fn the_policy_is_validated_and_admin_only(app: TestApp) {
    let (admin, analyst) = app.analyst().await;
    let initial = admin.read("/settings/token-policy").await;
    assert_eq!(
        initial["default_expiry_days"], 365,
        "a year, as Cloudflare Access"
    );
    assert_eq!(initial["max_lifetime_days"], Value::Null);
    assert_eq!(initial["beyond_max"], 0);

    for (body, field) in [
        (
            json!({"default_expiry_days": 400, "max_lifetime_days": 365}),
            "default_expiry_days",
        ),
        (
            json!({"default_expiry_days": null, "max_lifetime_days": 30}),
            "default_expiry_days",
        ),
        (json!({"default_expiry_days": 0}), "default_expiry_days"),
        (
            json!({"default_expiry_days": 30, "max_lifetime_days": 3651}),
            "max_lifetime_days",
        ),
        (
            json!({"default_expiry_days": "soon"}),
            "default_expiry_days",
        ),
        (
            json!({"default_expiry_days": 30, "forever": true}),
            "forever",
        ),
    ] {
        let res = admin.put("/settings/token-policy", body.clone()).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert!(
            problem["field"].as_str().unwrap().contains(field),
            "{body}: {problem}"
        );
    }
    let res = admin
        .put(
            "/settings/token-policy",
            json!({"default_expiry_days": 400, "max_lifetime_days": 365}),
        )
        .await;
    let problem: Value = res.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("at most the maximum lifetime (365 days)"),
        "{problem}"
    );

    assert_problem(
        analyst.get("/settings/token-policy").await,
        403,
        "forbidden",
    )
    .await;
    let res = analyst
        .put("/settings/token-policy", json!({"default_expiry_days": 1}))
        .await;
    assert_problem(res, 403, "forbidden").await;
    let ana = Ui::login(&app, "ana", ANALYST_PASSWORD).await;
    assert_eq!(ana.get("/ui/settings").await.0, 403);
}

on_each_backend!(
    the_policy_is_validated_and_admin_only_test,
    the_policy_is_validated_and_admin_only
);

async fn a_saved_policy_is_audited_and_holds_on_every_instance(app: TestApp) {
    let admin = app.admin().await;
    let saved = set_policy(&admin, json!(90), json!(365)).await;
    assert_eq!(
        (
            saved["default_expiry_days"].as_i64(),
            saved["max_lifetime_days"].as_i64()
        ),
        (Some(90), Some(365))
    );
    assert_eq!(saved["updated_by"], "admin");
    assert_eq!(
        admin.read("/settings/token-policy").await["max_lifetime_days"],
        365
    );

    let audit = admin.read("/audit?action=settings.token_policy").await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "refusals change nothing: {audit}");
    assert_eq!(entries[0]["target_type"], "settings");
    assert_eq!(entries[0]["actor"], "admin");
    assert_eq!(entries[0]["detail"]["max_lifetime_days"], 365);
    assert_eq!(entries[0]["detail"]["before"]["default_expiry_days"], 365);
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, log) = ui.get("/ui/audit").await;
    assert!(log.contains(
        "set the token lifetime policy: default expiry 90 days, maximum lifetime 365 days"
    ));

    // Another instance on the same database applies the same policy at once.
    let other = second_instance(&app).await;
    let admin2 = other.admin().await;
    let t: Value = admin2
        .post("/tokens", json!({"name": "from-the-other"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(about_days_from_now(expiry(&t), 90), "{t}");
    assert_exceeded(
        admin2
            .post(
                "/tokens",
                json!({"name": "too-long", "expires_at": in_days(400)}),
            )
            .await,
        "365 days",
    )
    .await;
}

on_each_backend!(
    a_saved_policy_is_audited_and_holds_on_every_instance_test,
    a_saved_policy_is_audited_and_holds_on_every_instance
);

async fn creating_and_changing_meet_the_policy(app: TestApp) {
    let admin = app.admin().await;
    // The default applies even before anyone sets a policy: one year.
    let first: Value = admin
        .post("/tokens", json!({"name": "first"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(about_days_from_now(expiry(&first), 365), "{first}");

    set_policy(&admin, json!(30), json!(365)).await;
    let t: Value = admin
        .post("/tokens", json!({"name": "shop-app"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(about_days_from_now(expiry(&t), 30), "{t}");
    let id = t["id"].as_i64().unwrap();

    // Create: beyond the maximum, or never expiring, is refused.
    assert_exceeded(
        admin
            .post("/tokens", json!({"name": "x", "expires_at": in_days(366)}))
            .await,
        "365 days",
    )
    .await;
    assert_exceeded(
        admin
            .post("/tokens", json!({"name": "x", "expires_at": null}))
            .await,
        "365 days",
    )
    .await;
    let within: Value = admin
        .post(
            "/tokens",
            json!({"name": "within", "expires_at": in_days(300)}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(about_days_from_now(expiry(&within), 300));

    // Update: a changed expiry meets it; other changes do not.
    let path = format!("/tokens/{id}");
    assert_exceeded(
        admin
            .patch(&path, json!({"expires_at": in_days(400)}))
            .await,
        "365 days",
    )
    .await;
    assert_exceeded(
        admin.patch(&path, json!({"expires_at": null})).await,
        "365 days",
    )
    .await;
    let ok = admin
        .patch(&path, json!({"expires_at": in_days(200)}))
        .await;
    assert_eq!(ok.status(), 200);
}

on_each_backend!(
    creating_and_changing_meet_the_policy_test,
    creating_and_changing_meet_the_policy
);

async fn regenerating_and_renewing_meet_the_policy(app: TestApp) {
    let admin = app.admin().await;
    set_policy(&admin, json!(30), json!(365)).await;
    let t: Value = admin
        .post(
            "/tokens",
            json!({"name": "shop-app", "expires_at": in_days(200)}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = t["id"].as_i64().unwrap();
    let value = t["token"].as_str().unwrap().to_owned();
    let path = format!("/tokens/{id}");

    // Regenerate: a new expiry with the new value meets it; nothing changes when refused.
    let regen = format!("/tokens/{id}/regenerate");
    assert_exceeded(
        admin
            .post(&regen, json!({"expires_at": in_days(500)}))
            .await,
        "365 days",
    )
    .await;
    let still: Value = admin.read(&path).await;
    assert_eq!(still["hint"], t["hint"], "the value was not replaced");
    assert!(about_days_from_now(expiry(&still), 200));
    let res = admin
        .post(&regen, json!({"expires_at": in_days(100)}))
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert!(about_days_from_now(expiry(&fresh), 100));
    assert_ne!(fresh["token"].as_str().unwrap(), value);

    // Renew: the default, never beyond the maximum; a longer renewal is refused.
    let renew = format!("/tokens/{id}/renew");
    let renewed: Value = admin.post(&renew, json!({})).await.json().await.unwrap();
    assert!(about_days_from_now(expiry(&renewed), 30), "{renewed}");
    let problem = assert_problem(
        admin.post(&renew, json!({"days": 400})).await,
        422,
        "lifetime_exceeded",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("a renewal for 400 days"),
        "{problem}"
    );
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("at most 365 days"));
    let longer: Value = admin
        .post(&renew, json!({"days": 365}))
        .await
        .json()
        .await
        .unwrap();
    assert!(about_days_from_now(expiry(&longer), 365));
    assert_problem(
        admin.post(&renew, json!({"days": 0})).await,
        422,
        "validation_failed",
    )
    .await;
    // Without a body, as before.
    let bare = admin.send(reqwest::Method::POST, &renew, None).await;
    assert_eq!(bare.status(), 200);

    // Every refusal left the audit log alone; the renewals are there.
    let audit = admin.read("/audit?action=token.renew").await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 3);
}

on_each_backend!(
    regenerating_and_renewing_meet_the_policy_test,
    regenerating_and_renewing_meet_the_policy
);

async fn without_a_default_or_maximum_tokens_may_never_expire(app: TestApp) {
    let admin = app.admin().await;
    let t = admin.create_token("shop-app").await;
    let path = format!("/tokens/{}", t["id"]);
    let renew = format!("{path}/renew");
    // No maximum, no default: a token without an expiry never expires; renewing
    // extends by a year.
    set_policy(&admin, Value::Null, Value::Null).await;
    let open: Value = admin
        .post("/tokens", json!({"name": "open"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["expires_at"], Value::Null);
    let renewed: Value = admin.post(&renew, json!({})).await.json().await.unwrap();
    assert!(about_days_from_now(expiry(&renewed), 365));
    let never = admin.patch(&path, json!({"expires_at": null})).await;
    assert_eq!(never.status(), 200);
}

on_each_backend!(
    without_a_default_or_maximum_tokens_may_never_expire_test,
    without_a_default_or_maximum_tokens_may_never_expire
);

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

async fn tokens_beyond_the_maximum_are_listed(app: TestApp) {
    let admin = app.admin().await;
    admin.create_token("forever-app").await;
    for (name, days) in [("long-app", 500), ("short-app", 10)] {
        let res = admin
            .post(
                "/tokens",
                json!({"name": name, "expires_at": in_days(days)}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let gone = admin.create_token("retired-app").await;
    admin
        .post(&format!("/tokens/{}/deactivate", gone["id"]), json!({}))
        .await;
    assert_eq!(
        admin.read("/tokens?expiry=beyond_max").await,
        json!([]),
        "no maximum yet"
    );

    let policy = set_policy(&admin, json!(30), json!(365)).await;
    assert_eq!(policy["beyond_max"], 2, "{policy}");
    let beyond = admin.read("/tokens?expiry=beyond_max").await;
    assert_eq!(names(&beyond), vec!["forever-app", "long-app"]);
    assert_eq!(
        names(&admin.read("/tokens?expiry=soon").await),
        vec!["short-app"]
    );
    assert_eq!(
        names(&admin.read("/tokens?state=all&expiry=beyond_max").await),
        vec!["forever-app", "long-app", "retired-app"]
    );
    assert_problem(
        admin.get("/tokens?expiry=later").await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        admin.get("/tokens?state=gone&expiry=soon").await,
        422,
        "validation_failed",
    )
    .await;

    // Beyond the maximum, a token can still be renamed; its expiry is not touched.
    let long = &beyond[1];
    let res = admin
        .patch(
            &format!("/tokens/{}", long["id"]),
            json!({"name": "long-app-2", "expires_at": long["expires_at"]}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = ui.get("/ui/settings").await;
    assert!(
        page.contains("href=\"/ui/tokens?expiry=beyond_max\""),
        "{page}"
    );
    assert!(page.contains("2 active tokens are beyond the maximum lifetime"));
    let (_, list) = ui.get("/ui/tokens?expiry=beyond_max").await;
    assert_eq!(list.matches("<tr data-token=").count(), 2);
    assert!(list.contains("forever-app") && list.contains("long-app-2"));
    assert!(list.contains("value=\"beyond_max\" selected"));
}

on_each_backend!(
    tokens_beyond_the_maximum_are_listed_test,
    tokens_beyond_the_maximum_are_listed
);

async fn a_token_expired_by_the_default_names_its_creation(app: TestApp) {
    let admin = app.admin().await;
    set_policy(&admin, json!(1), json!(30)).await;
    let orders = admin.create_endpoint("orders", json!({})).await;
    let t: Value = admin
        .post("/tokens", json!({"name": "brief-app"}))
        .await
        .json()
        .await
        .unwrap();
    admin.map(&t["id"], &orders["id"], "POST", true).await;
    let value = t["token"].as_str().unwrap();
    assert_eq!(app.ingest("orders", value, json!({})).await.status(), 201);
    app.clock.advance(TimeDelta::days(2));
    assert_problem(
        app.ingest("orders", value, json!({})).await,
        401,
        "token_expired",
    )
    .await;
    let admin = app.admin().await; // the session of two days ago has ended
    let page = admin.read("/calls?limit=1").await;
    let call = admin
        .read(&format!("/calls/{}", page["calls"][0]["id"]))
        .await;
    assert_eq!(call["code"], "token_expired", "{call}");
    assert_eq!(call["caused_by"]["action"], "token.create", "{call}");
    assert_eq!(call["caused_by"]["actor"], "admin");
}

on_each_backend!(
    a_token_expired_by_the_default_names_its_creation_test,
    a_token_expired_by_the_default_names_its_creation
);
