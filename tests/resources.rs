//! Endpoints, tokens and mappings through `/api/v1`: SPEC's fixed shapes,
//! validation (422 naming the field), unknown ids (404), bulk actions, audit.

mod common;

use common::*;
use serde_json::{json, Value};

async fn field_of(res: reqwest::Response) -> String {
    assert_problem(res, 422, "validation_failed").await["field"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn endpoint_shapes_and_primary_token_lifecycle(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin.create_endpoint("orders", json!({})).await;
    assert_eq!(ep["slug"], "orders");
    assert_eq!(ep["auth"], "token");
    assert_eq!(ep["max_body_bytes"], 1_048_576);
    let primaries = ep["primary_tokens"].as_object().unwrap();
    assert_eq!(primaries.keys().collect::<Vec<_>>(), vec!["GET", "POST"]);
    for v in primaries.values() {
        let v = v.as_str().unwrap();
        assert!(v.len() == 64 && v.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    let post = primaries["POST"].as_str().unwrap();
    assert_eq!(
        ep["primary_token_hints"]["POST"]["hint"],
        format!("{}…{}", &post[..4], &post[60..])
    );

    let shown: Value = admin
        .get(&format!("/endpoints/{}", ep["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        shown.get("primary_tokens").is_none(),
        "values are never shown again"
    );

    let on: Value = admin
        .patch(
            &format!("/endpoints/{}", ep["id"]),
            json!({"allow_delete": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        on["primary_tokens"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["DELETE"]
    );
    let off: Value = admin
        .patch(
            &format!("/endpoints/{}", ep["id"]),
            json!({"allow_delete": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(off["primary_token_hints"].get("DELETE").is_none());
    let public: Value = admin
        .patch(&format!("/endpoints/{}", ep["id"]), json!({"auth": "none"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(public["primary_token_hints"]
        .as_object()
        .unwrap()
        .is_empty());
    let res = admin
        .post(
            &format!("/endpoints/{}/primary-tokens/POST/regenerate", ep["id"]),
            json!({}),
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    admin
        .patch(
            &format!("/endpoints/{}", ep["id"]),
            json!({"auth": "token"}),
        )
        .await;
    let regen: Value = admin
        .post(
            &format!("/endpoints/{}/primary-tokens/GET/regenerate", ep["id"]),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(regen["method"], "GET");
    assert_eq!(regen["token"].as_str().unwrap().len(), 64);
    let res = admin
        .post(
            &format!("/endpoints/{}/primary-tokens/PUT/regenerate", ep["id"]),
            json!({}),
        )
        .await;
    assert_eq!(field_of(res).await, "method");

    let ep2 = admin
        .create_endpoint("with-delete", json!({"allow_delete": true}))
        .await;
    assert!(ep2["primary_tokens"].get("DELETE").is_some());
    let endpoints: Vec<Value> = admin.get("/endpoints").await.json().await.unwrap();
    assert_eq!(endpoints.len(), 2);
    assert_eq!(
        admin
            .delete(&format!("/endpoints/{}", ep2["id"]))
            .await
            .status(),
        204
    );
    assert_problem(
        admin.get(&format!("/endpoints/{}", ep2["id"])).await,
        404,
        "not_found",
    )
    .await;
}

async fn endpoint_input_is_validated(app: TestApp) {
    let admin = app.admin().await;
    admin.create_endpoint("orders", json!({})).await;
    let cases = [
        (json!({"slug": "Bad Slug"}), "slug"),
        (json!({"slug": "x".repeat(65)}), "slug"),
        (json!({"slug": "ok", "auth": "basic"}), "auth"),
        (json!({"slug": "ok", "enabled": "yes"}), "enabled"),
        (json!({"slug": "ok", "max_body_bytes": 0}), "max_body_bytes"),
        (json!({"slug": "ok", "retention_days": 0}), "retention_days"),
        (
            json!({"slug": "ok", "ip_allowlist": ["10.0.0.0/40"]}),
            "ip_allowlist",
        ),
        (json!({"slug": "ok", "name": ""}), "name"),
        (json!({"slug": "ok", "surprise": 1}), "surprise"),
        (json!({"name": "no slug"}), "slug"),
        // serde alone would read a struct from an array
        (json!(["ok", "a name"]), "body"),
        // a name with a control character
        (json!({"slug": "ok", "name": "a\u{7}b"}), "name"),
    ];
    for (body, field) in cases {
        let res = admin.post("/endpoints", body.clone()).await;
        assert_eq!(field_of(res).await, field, "{body}");
    }
    assert_problem(
        admin.post("/endpoints", json!({"slug": "orders"})).await,
        409,
        "slug_taken",
    )
    .await;
    // JSON has one number type: 2048.0 is the integer 2048.
    let whole: Value = admin
        .post(
            "/endpoints",
            json!({"slug": "whole", "max_body_bytes": 2048.0}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(whole["max_body_bytes"], 2048, "{whole}");
    assert_eq!(
        field_of(
            admin
                .post(
                    "/endpoints",
                    json!({"slug": "half", "max_body_bytes": 2048.5})
                )
                .await
        )
        .await,
        "max_body_bytes"
    );
    admin.delete(&format!("/endpoints/{}", whole["id"])).await;
    let raw = admin
        .client
        .post(app.url("/api/v1/endpoints"))
        .header("X-CSRF-Token", &admin.csrf)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_problem(raw, 400, "invalid_json").await;
    let text = admin
        .client
        .post(app.url("/api/v1/endpoints"))
        .header("X-CSRF-Token", &admin.csrf)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(text, 415, "unsupported_media_type").await;
    assert_problem(
        admin.patch("/endpoints/999", json!({"name": "x"})).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(admin.get("/endpoints/abc").await, 404, "not_found").await;
    let endpoints: Vec<Value> = admin.get("/endpoints").await.json().await.unwrap();
    assert_eq!(endpoints.len(), 1, "nothing half-created");
}

async fn token_shapes_states_and_validation(app: TestApp) {
    let admin = app.admin().await;
    let res = admin.post("/tokens", json!({"name": "shop-app", "description": "the shop", "enabled": true, "expires_at": null})).await;
    assert_eq!(res.status(), 201);
    let tok: Value = res.json().await.unwrap();
    let value = tok["token"].as_str().unwrap();
    assert_eq!(tok["hint"], format!("{}…{}", &value[..4], &value[60..]));
    assert_eq!(
        (
            tok["name"].as_str(),
            tok["created_by"].as_str(),
            tok["status"].as_str()
        ),
        (Some("shop-app"), Some("admin"), Some("active"))
    );
    let shown: Value = admin
        .get(&format!("/tokens/{}", tok["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert!(shown.get("token").is_none());
    let disabled: Value = admin
        .patch(&format!("/tokens/{}", tok["id"]), json!({"enabled": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (disabled["enabled"].as_bool(), disabled["status"].as_str()),
        (Some(false), Some("disabled"))
    );

    let other = admin.create_token("erp").await;
    admin
        .post(&format!("/tokens/{}/deactivate", other["id"]), json!({}))
        .await;
    let names = |v: Vec<Value>| {
        v.iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(admin.get("/tokens").await.json().await.unwrap()),
        vec!["shop-app"]
    );
    assert_eq!(
        names(
            admin
                .get("/tokens?state=inactive")
                .await
                .json()
                .await
                .unwrap()
        ),
        vec!["erp"]
    );
    assert_eq!(
        names(admin.get("/tokens?state=all").await.json().await.unwrap()),
        vec!["erp", "shop-app"]
    );
    assert_eq!(
        field_of(admin.get("/tokens?state=bogus").await).await,
        "state"
    );

    assert_eq!(
        field_of(
            admin
                .post("/tokens", json!({"description": "no name"}))
                .await
        )
        .await,
        "name"
    );
    assert_eq!(
        field_of(
            admin
                .post("/tokens", json!({"name": "x", "expires_at": "soon"}))
                .await
        )
        .await,
        "expires_at"
    );
    assert_eq!(
        field_of(
            admin
                .post("/tokens", json!({"name": "x", "rate_limit_per_minute": 0}))
                .await
        )
        .await,
        "rate_limit_per_minute"
    );
    assert_eq!(
        field_of(
            admin
                .post(
                    &format!("/tokens/{}/regenerate", tok["id"]),
                    json!({"grace_seconds": -1})
                )
                .await
        )
        .await,
        "grace_seconds"
    );
    assert_problem(
        admin.post("/tokens/999/regenerate", json!({})).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(admin.delete("/tokens/999").await, 404, "not_found").await;
}

async fn mappings_are_idempotent_and_filter_the_endpoint_view(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin.create_endpoint("orders", json!({})).await;
    let mapped = admin.create_token("mapped").await;
    admin.create_token("unmapped").await;
    let path = format!("/tokens/{}/mappings/{}/POST", mapped["id"], ep["id"]);
    for _ in 0..2 {
        let res = admin.put(&path, json!({"enabled": true})).await;
        assert_eq!(res.status(), 200);
        let m: Value = res.json().await.unwrap();
        assert_eq!(
            (m["method"].as_str(), m["enabled"].as_bool()),
            (Some("POST"), Some(true))
        );
    }
    let maps: Vec<Value> = admin
        .get(&format!("/tokens/{}/mappings", mapped["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(maps.len(), 1, "PUT twice is one mapping");

    let base = format!("/endpoints/{}/tokens", ep["id"]);
    let assigned: Vec<Value> = admin
        .get(&format!("{base}?assigned=true"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0]["name"], "mapped");
    assert_eq!(assigned[0]["mappings"], json!({"POST": true}));
    let unassigned: Vec<Value> = admin
        .get(&format!("{base}?assigned=false"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unassigned[0]["name"], "unmapped");
    let all: Vec<Value> = admin.get(&base).await.json().await.unwrap();
    assert_eq!(all.len(), 2);

    let res = admin
        .put(
            &format!("/tokens/{}/mappings/{}/DELETE", mapped["id"], ep["id"]),
            json!({"enabled": true}),
        )
        .await;
    // No DELETE primary token while deleting is off: a conflict with the
    // endpoint's state, not a malformed request.
    let problem = assert_problem(res, 409, "no_primary_token").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no DELETE primary token"),
        "{problem}"
    );
    let res = admin
        .post(
            &format!("/endpoints/{}/primary-tokens/DELETE/regenerate", ep["id"]),
            json!({}),
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = admin
        .put(
            &format!("/tokens/{}/mappings/{}/PATCH", mapped["id"], ep["id"]),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(field_of(res).await, "method");
    assert_eq!(
        field_of(admin.put(&path, json!({"enabled": "no"})).await).await,
        "enabled"
    );
    assert_problem(
        admin
            .put(
                &format!("/tokens/{}/mappings/999/POST", mapped["id"]),
                json!({"enabled": true}),
            )
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        admin
            .put(
                &format!("/tokens/999/mappings/{}/POST", ep["id"]),
                json!({"enabled": true}),
            )
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(admin.delete(&path).await.status(), 204);
    assert_problem(admin.delete(&path).await, 404, "not_found").await;
}

async fn bulk_actions_are_all_or_nothing(app: TestApp) {
    let admin = app.admin().await;
    let a = admin.create_token("a").await;
    let b = admin.create_token("b").await;
    let res = admin
        .post(
            "/tokens/bulk",
            json!({"action": "disable", "ids": [a["id"], b["id"], 999]}),
        )
        .await;
    let problem = assert_problem(res, 404, "not_found").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("999;"),
        "names the unknown id: {problem}"
    );
    let tokens: Vec<Value> = admin.get("/tokens").await.json().await.unwrap();
    assert!(
        tokens.iter().all(|t| t["enabled"] == true),
        "nothing changed"
    );
    let res: Value = admin
        .post(
            "/tokens/bulk",
            json!({"action": "disable", "ids": [a["id"], b["id"]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res, json!({"affected": 2}));
    let res: Value = admin
        .post(
            "/tokens/bulk",
            json!({"action": "deactivate", "ids": [a["id"]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["affected"], 1);
    let active: Vec<Value> = admin.get("/tokens").await.json().await.unwrap();
    assert_eq!(active.len(), 1);
    let res: Value = admin
        .post(
            "/tokens/bulk",
            json!({"action": "delete", "ids": [a["id"], b["id"]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["affected"], 2);
    let all: Vec<Value> = admin.get("/tokens?state=all").await.json().await.unwrap();
    assert!(all.is_empty());
    assert_eq!(
        field_of(
            admin
                .post("/tokens/bulk", json!({"action": "explode", "ids": [1]}))
                .await
        )
        .await,
        "action"
    );
    assert_eq!(
        field_of(
            admin
                .post("/tokens/bulk", json!({"action": "enable", "ids": []}))
                .await
        )
        .await,
        "ids"
    );
}

async fn every_change_is_audited_without_secrets(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin.create_endpoint("orders", json!({})).await;
    let tok = admin.create_token("shop-app").await;
    admin.map(&tok["id"], &ep["id"], "POST", true).await;
    let rotated: Value = admin
        .post(&format!("/tokens/{}/regenerate", tok["id"]), json!({}))
        .await
        .json()
        .await
        .unwrap();
    admin
        .patch(&format!("/tokens/{}", tok["id"]), json!({"enabled": false}))
        .await;
    admin.delete(&format!("/tokens/{}", tok["id"])).await;
    let res = admin.get("/audit").await;
    let text = res.text().await.unwrap();
    for secret in [
        tok["token"].as_str().unwrap(),
        rotated["token"].as_str().unwrap(),
        ep["primary_tokens"]["POST"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret));
    }
    let audit: Value = serde_json::from_str(&text).unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "token.delete",
            "token.update",
            "token.regenerate",
            "mapping.create",
            "token.create",
            "endpoint.create"
        ]
    );
    assert!(audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"] == "admin" && e["at"].is_string()));
    assert_eq!(audit["entries"][0]["target_id"], tok["id"]);
    let page: Value = admin.get("/audit?limit=2").await.json().await.unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let rest: Value = admin
        .get(&format!("/audit?limit=10&cursor={}", page["next"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["entries"].as_array().unwrap().len(), 4);
}

on_each_backend!(
    endpoint_shapes_and_primary_token_lifecycle_test,
    endpoint_shapes_and_primary_token_lifecycle
);
on_each_backend!(
    endpoint_input_is_validated_test,
    endpoint_input_is_validated
);
on_each_backend!(
    token_shapes_states_and_validation_test,
    token_shapes_states_and_validation
);
on_each_backend!(
    mappings_are_idempotent_and_filter_the_endpoint_view_test,
    mappings_are_idempotent_and_filter_the_endpoint_view
);
on_each_backend!(
    bulk_actions_are_all_or_nothing_test,
    bulk_actions_are_all_or_nothing
);
on_each_backend!(
    every_change_is_audited_without_secrets_test,
    every_change_is_audited_without_secrets
);

async fn query_parameters_are_validated_by_name(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin.create_endpoint("orders", json!({})).await;
    for (path, field) in [
        (
            format!("/endpoints/{}/tokens?assigned=maybe", ep["id"]),
            "assigned",
        ),
        ("/audit?limit=abc".to_owned(), "limit"),
        ("/audit?limit=5000".to_owned(), "limit"),
        ("/tokens?state=gone".to_owned(), "state"),
    ] {
        assert_eq!(field_of(admin.get(&path).await).await, field, "{path}");
    }
}

on_each_backend!(
    query_parameters_are_validated_by_name_test,
    query_parameters_are_validated_by_name
);
