//! Personal API keys are looked up once and then served from the access cache: a
//! key's user, role and expiry must still hold on the very next request after they
//! change. (Revocation: `auth.rs`; across instances: `instances.rs`.)

mod common;

use chrono::{TimeDelta, Utc};
use common::*;
use serde_json::{json, Value};

/// `POST /api/v1/tokens` (admins only) with `key`: its status.
async fn create_token(app: &TestApp, key: &str, name: &str) -> u16 {
    reqwest::Client::new()
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(key)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_key_follows_its_users_role_and_deletion(app: TestApp) {
    let (admin, analyst) = app.analyst().await;
    let created: Value = analyst
        .post("/me/api-keys", json!({"name": "ana's"}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (status, body) = app.me_by_key(&key).await;
        assert_eq!((status, body["role"].clone()), (200, json!("analyst")));
        assert_eq!(create_token(&app, &key, "not-yet").await, 403);
    }
    let users: Vec<Value> = admin.get("/users").await.json().await.unwrap();
    let ana = users.iter().find(|u| u["username"] == "ana").unwrap()["id"].clone();

    let res = admin
        .patch(&format!("/users/{ana}"), json!({"role": "admin"}))
        .await;
    assert_eq!(res.status(), 200);
    let (status, body) = app.me_by_key(&key).await;
    assert_eq!((status, body["role"].clone()), (200, json!("admin")));
    assert_eq!(create_token(&app, &key, "now-allowed").await, 201);

    let res = admin
        .patch(&format!("/users/{ana}"), json!({"role": "analyst"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(create_token(&app, &key, "not-again").await, 403);

    assert_eq!(admin.delete(&format!("/users/{ana}")).await.status(), 204);
    assert_eq!(
        app.me_by_key(&key).await.0,
        401,
        "a deleted user's key is dead"
    );
}

async fn a_used_key_is_refused_right_after_its_revocation(app: TestApp) {
    let admin = app.admin().await;
    let created: Value = admin
        .post("/me/api-keys", json!({"name": "ops"}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(app.me_by_key(&key).await.0, 200);
    }
    let res = admin
        .delete(&format!("/me/api-keys/{}", created["id"]))
        .await;
    assert_eq!(res.status(), 204);
    let (status, body) = app.me_by_key(&key).await;
    assert_eq!(status, 401, "{body}");
}

async fn a_key_expires_on_time_and_its_use_is_recorded(app: TestApp) {
    let admin = app.admin().await;
    let soon = (Utc::now() + TimeDelta::minutes(5)).to_rfc3339();
    let created: Value = admin
        .post("/me/api-keys", json!({"name": "short", "expires_at": soon}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(app.me_by_key(&key).await.0, 200);
    assert_eq!(app.me_by_key(&key).await.0, 200, "served from the cache");
    let listed: Vec<Value> = admin.get("/me/api-keys").await.json().await.unwrap();
    let used = listed.iter().find(|k| k["name"] == "short").unwrap();
    assert!(used["last_used_at"].is_string(), "{used}");

    app.clock.advance(TimeDelta::minutes(6));
    let (status, body) = app.me_by_key(&key).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "unauthenticated");
    let unknown = "k".repeat(64);
    assert_eq!(app.me_by_key(&unknown).await.0, 401);
}

on_each_backend!(
    a_key_follows_its_users_role_and_deletion_test,
    a_key_follows_its_users_role_and_deletion
);
on_each_backend!(
    a_used_key_is_refused_right_after_its_revocation_test,
    a_used_key_is_refused_right_after_its_revocation
);
on_each_backend!(
    a_key_expires_on_time_and_its_use_is_recorded_test,
    a_key_expires_on_time_and_its_use_is_recorded
);
