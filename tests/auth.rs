//! Management authentication: sessions with CSRF, personal API keys, and the role
//! of every route tried as anonymous, analyst and admin.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn login_sets_a_strict_http_only_cookie_and_logout_ends_it(app: TestApp) {
    let res = app
        .client
        .post(app.url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("portico_session="));
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"], json!({"username": "admin", "role": "admin"}));
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap().to_owned();

    let replay = |c: &str| {
        reqwest::Client::new()
            .get(app.url("/api/v1/me"))
            .header("cookie", c.to_owned())
            .send()
    };
    assert_eq!(replay(&session).await.unwrap().status(), 200);
    let out = reqwest::Client::new()
        .post(app.url("/api/v1/logout"))
        .header("cookie", session.clone())
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_problem(replay(&session).await.unwrap(), 401, "unauthenticated").await;
}

async fn login_cookie(app: &TestApp, proto: Option<&str>) -> String {
    let mut req = reqwest::Client::new()
        .post(app.url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}));
    if let Some(proto) = proto {
        req = req.header("X-Forwarded-Proto", proto);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.headers()["set-cookie"].to_str().unwrap().to_owned()
}

async fn sessions_expire_on_the_server_and_cookies_are_secure_behind_tls(app: TestApp) {
    let plain = login_cookie(&app, None).await;
    assert!(!plain.contains("Secure"), "{plain}");
    let tls = login_cookie(&app, Some("https")).await;
    assert!(
        tls.contains("Secure") && tls.contains("HttpOnly") && tls.contains("SameSite=Strict"),
        "{tls}"
    );
    // The cookie's Max-Age is only a hint to the browser: the server refuses the
    // session itself once its lifetime is over.
    let admin = app.admin().await;
    assert_eq!(admin.get("/me").await.status(), 200);
    app.clock
        .advance(chrono::TimeDelta::hours(12) - chrono::TimeDelta::minutes(1));
    assert_eq!(
        admin.get("/me").await.status(),
        200,
        "still within its lifetime"
    );
    app.clock.advance(chrono::TimeDelta::minutes(2));
    assert_problem(admin.get("/me").await, 401, "unauthenticated").await;
}

async fn secure_cookies_setting_marks_every_session_cookie(app: TestApp) {
    let cookie = login_cookie(&app, None).await;
    assert!(cookie.contains("Secure"), "{cookie}");
}

async fn wrong_password_and_unknown_user_look_the_same(app: TestApp) {
    for (user, password) in [
        ("admin", "not-the-password"),
        ("nobody", "not-the-password"),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/login"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_problem(res, 401, "login_failed").await;
    }
    let res = app
        .client
        .post(app.url("/api/v1/login"))
        .json(&json!({"username": "admin"}))
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["field"], "password");
}

async fn mutating_calls_need_the_csrf_token(app: TestApp) {
    let admin = app.admin().await;
    let body = json!({"name": "shop-app"});
    let missing = admin
        .client
        .post(app.url("/api/v1/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(missing, 403, "csrf_failed").await;
    let wrong = admin
        .client
        .post(app.url("/api/v1/tokens"))
        .header("X-CSRF-Token", "x".repeat(64))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 403, "csrf_failed").await;
    // Credentials come first: a body that would fail validation does not tell a
    // caller without a CSRF token (or without any credential) what is wrong with it.
    for body in [json!({}), json!([1, 2])] {
        let res = admin
            .client
            .post(app.url("/api/v1/endpoints"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 403, "csrf_failed").await;
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/endpoints"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 401, "unauthenticated").await;
    }
    assert_eq!(
        admin.get("/tokens").await.status(),
        200,
        "reads need no CSRF token"
    );
    let tokens: Vec<Value> = admin.get("/tokens").await.json().await.unwrap();
    assert!(
        tokens.is_empty(),
        "nothing was created without the CSRF token"
    );
    assert_eq!(admin.post("/tokens", body).await.status(), 201);
}

async fn api_keys_authenticate_without_csrf_and_die_on_revoke(app: TestApp) {
    let admin = app.admin().await;
    let res = admin.post("/me/api-keys", json!({"name": "ci"})).await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    let value = key["key"].as_str().unwrap().to_owned();
    assert_eq!(value.len(), 64);
    let listed: Vec<Value> = admin.get("/me/api-keys").await.json().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("key").is_none());
    assert_eq!(listed[0]["hint"], key["hint"]);

    let client = reqwest::Client::new();
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&value)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({"username": "admin", "role": "admin"}));
    let created = client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&value)
        .json(&json!({"name": "by-key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "API keys need no CSRF token");
    let audit: Value = admin.get("/audit").await.json().await.unwrap();
    assert_eq!(audit["entries"][0]["actor"], "admin");

    assert_eq!(
        admin
            .delete(&format!("/me/api-keys/{}", key["id"]))
            .await
            .status(),
        204
    );
    let after = client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&value)
        .send()
        .await
        .unwrap();
    assert_problem(after, 401, "unauthenticated").await;
    let malformed = client
        .get(app.url("/api/v1/me"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 401, "unauthenticated").await;
}

/// Every management route, with whether an analyst may use it.
fn routes(ids: &Ids) -> Vec<(Method, String, Option<Value>, bool)> {
    let (e, t, c) = (ids.endpoint, ids.token, ids.call);
    let p = |m: Method, path: String, body: Option<Value>, analyst: bool| (m, path, body, analyst);
    vec![
        p(Method::GET, "/me".into(), None, true),
        p(Method::GET, "/me/api-keys".into(), None, true),
        p(
            Method::POST,
            "/me/api-keys".into(),
            Some(json!({"name": "k"})),
            true,
        ),
        p(Method::GET, "/calls".into(), None, true),
        p(Method::GET, format!("/calls/{c}"), None, true),
        p(Method::GET, "/calls/export".into(), None, true),
        p(Method::GET, "/stats".into(), None, true),
        p(Method::GET, "/users".into(), None, false),
        p(
            Method::POST,
            "/users".into(),
            Some(json!({"username": "x1", "role": "analyst", "password": "a-long-password-1"})),
            false,
        ),
        p(Method::GET, "/users/1".into(), None, false),
        p(Method::PATCH, "/users/1".into(), Some(json!({})), false),
        p(Method::GET, "/endpoints".into(), None, false),
        p(
            Method::POST,
            "/endpoints".into(),
            Some(json!({"slug": "fresh"})),
            false,
        ),
        p(Method::GET, format!("/endpoints/{e}"), None, false),
        p(
            Method::PATCH,
            format!("/endpoints/{e}"),
            Some(json!({"name": "n"})),
            false,
        ),
        p(
            Method::POST,
            format!("/endpoints/{e}/primary-tokens/GET/regenerate"),
            None,
            false,
        ),
        p(
            Method::GET,
            format!("/endpoints/{e}/tokens?assigned=true"),
            None,
            false,
        ),
        p(Method::GET, "/tokens".into(), None, false),
        p(
            Method::POST,
            "/tokens".into(),
            Some(json!({"name": "t"})),
            false,
        ),
        p(Method::GET, format!("/tokens/{t}"), None, false),
        p(
            Method::PATCH,
            format!("/tokens/{t}"),
            Some(json!({"description": "d"})),
            false,
        ),
        p(Method::POST, format!("/tokens/{t}/regenerate"), None, false),
        p(Method::POST, format!("/tokens/{t}/deactivate"), None, false),
        p(Method::POST, format!("/tokens/{t}/activate"), None, false),
        p(Method::POST, format!("/tokens/{t}/renew"), None, false),
        p(
            Method::POST,
            "/tokens/bulk".into(),
            Some(json!({"action": "enable", "ids": [t]})),
            false,
        ),
        p(Method::GET, format!("/tokens/{t}/mappings"), None, false),
        p(
            Method::PUT,
            format!("/tokens/{t}/mappings/{e}/GET"),
            Some(json!({"enabled": true})),
            false,
        ),
        p(
            Method::DELETE,
            format!("/tokens/{t}/mappings/{e}/GET"),
            None,
            false,
        ),
        p(Method::GET, "/audit".into(), None, false),
        p(Method::DELETE, format!("/tokens/{t}"), None, false),
        p(Method::DELETE, format!("/endpoints/{e}"), None, false),
    ]
}

struct Ids {
    endpoint: i64,
    token: i64,
    call: i64,
}

async fn every_route_enforces_its_role(app: TestApp) {
    let (admin, analyst) = app.analyst().await;
    let ep = admin.create_endpoint("orders", json!({})).await;
    let tok = admin.create_token("shop-app").await;
    app.ingest("orders", tok["token"].as_str().unwrap(), json!({}))
        .await;
    let calls: Value = admin.get("/calls").await.json().await.unwrap();
    let ids = Ids {
        endpoint: ep["id"].as_i64().unwrap(),
        token: tok["id"].as_i64().unwrap(),
        call: calls["calls"][0]["id"].as_i64().unwrap(),
    };
    let anonymous = reqwest::Client::new();
    for (method, path, body, analyst_may) in routes(&ids) {
        let url = app.url(&format!("/api/v1{path}"));
        let mut req = anonymous.request(method.clone(), &url);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "anonymous {method} {path}");
        assert!(res.headers().contains_key("www-authenticate"));

        let res = analyst.send(method.clone(), &path, body.clone()).await;
        if analyst_may {
            assert!(
                res.status().is_success(),
                "analyst {method} {path}: {}",
                res.status()
            );
        } else {
            assert_problem(res, 403, "forbidden").await;
        }
    }
    for (method, path, body, _) in routes(&ids) {
        let res = admin.send(method.clone(), &path, body).await;
        assert!(
            res.status().is_success(),
            "admin {method} {path}: {}",
            res.status()
        );
    }
}

async fn users_are_managed_with_guards(app: TestApp) {
    let (admin, _) = app.analyst().await;
    let users: Vec<Value> = admin.get("/users").await.json().await.unwrap();
    let admin_id = users.iter().find(|u| u["username"] == "admin").unwrap()["id"].clone();
    let ana_id = users.iter().find(|u| u["username"] == "ana").unwrap()["id"].clone();
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));
    assert_problem(
        admin.delete(&format!("/users/{admin_id}")).await,
        409,
        "cannot_delete_self",
    )
    .await;
    assert_problem(
        admin
            .patch(&format!("/users/{admin_id}"), json!({"role": "analyst"}))
            .await,
        409,
        "last_admin",
    )
    .await;
    let short = admin
        .post(
            "/users",
            json!({"username": "bob", "role": "admin", "password": "short"}),
        )
        .await;
    assert_eq!(
        assert_problem(short, 422, "validation_failed").await["field"],
        "password"
    );
    let dup = admin
        .post(
            "/users",
            json!({"username": "ana", "role": "admin", "password": "another-long-password"}),
        )
        .await;
    assert_problem(dup, 409, "username_taken").await;
    let promoted: Value = admin
        .patch(&format!("/users/{ana_id}"), json!({"role": "admin"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(promoted["role"], "admin");
    // A new password ends the user's sessions.
    let ana = app.login_as("ana", ANALYST_PASSWORD).await;
    admin
        .patch(
            &format!("/users/{ana_id}"),
            json!({"password": "a-brand-new-password"}),
        )
        .await;
    assert_problem(ana.get("/me").await, 401, "unauthenticated").await;
    assert_eq!(
        admin.delete(&format!("/users/{ana_id}")).await.status(),
        204
    );
    assert_problem(
        admin.get(&format!("/users/{ana_id}")).await,
        404,
        "not_found",
    )
    .await;
}

on_each_backend!(
    sessions_expire_on_the_server_and_cookies_are_secure_behind_tls_test,
    sessions_expire_on_the_server_and_cookies_are_secure_behind_tls
);
on_each_backend!(
    secure_cookies_setting_marks_every_session_cookie_test,
    secure_cookies_setting_marks_every_session_cookie,
    portico::state::Settings {
        secure_cookies: true,
        ..portico::state::Settings::default()
    }
);
on_each_backend!(
    login_sets_a_strict_http_only_cookie_and_logout_ends_it_test,
    login_sets_a_strict_http_only_cookie_and_logout_ends_it
);
on_each_backend!(
    wrong_password_and_unknown_user_look_the_same_test,
    wrong_password_and_unknown_user_look_the_same
);
on_each_backend!(
    mutating_calls_need_the_csrf_token_test,
    mutating_calls_need_the_csrf_token
);
on_each_backend!(
    api_keys_authenticate_without_csrf_and_die_on_revoke_test,
    api_keys_authenticate_without_csrf_and_die_on_revoke
);
on_each_backend!(
    every_route_enforces_its_role_test,
    every_route_enforces_its_role
);
on_each_backend!(
    users_are_managed_with_guards_test,
    users_are_managed_with_guards
);

async fn repeated_failed_logins_are_slowed_per_user(app: TestApp) {
    let attempt = |user: &'static str, password: &'static str| {
        app.client
            .post(app.url("/api/v1/login"))
            .json(&json!({"username": user, "password": password}))
            .send()
    };
    for _ in 0..5 {
        assert_problem(
            attempt("admin", "guess-guess-guess").await.unwrap(),
            401,
            "login_failed",
        )
        .await;
    }
    let res = attempt("admin", ADMIN_PASSWORD).await.unwrap();
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 800 && retry <= 900, "{retry}");
    assert_problem(res, 429, "rate_limited").await;
    assert_problem(
        attempt("someone-else", "guess-guess-guess").await.unwrap(),
        401,
        "login_failed",
    )
    .await;
    app.clock.advance(chrono::TimeDelta::minutes(16));
    assert_eq!(
        attempt("admin", ADMIN_PASSWORD).await.unwrap().status(),
        200
    );
}

on_each_backend!(
    repeated_failed_logins_are_slowed_per_user_test,
    repeated_failed_logins_are_slowed_per_user
);
