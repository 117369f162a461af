//! `openapi/openapi.json` is generated from the code; this test keeps the two equal.

mod common;

use common::*;

const COMMITTED: &str = "openapi/openapi.json";

#[test]
fn committed_document_matches_the_code() {
    let generated = portico::api::openapi::document();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_diff = committed
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}:\n  committed: {a}\n  generated: {b}", i + 1))
            .unwrap_or_else(|| "the files differ in length".into());
        panic!("{COMMITTED} is out of date ({first_diff}).\nRegenerate it with: UPDATE_OPENAPI=1 cargo test --test openapi");
    }
}

#[test]
fn every_management_route_is_documented() {
    let doc: serde_json::Value = serde_json::from_str(&portico::api::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/login", "post"),
        ("/api/v1/endpoints", "post"),
        (
            "/api/v1/endpoints/{id}/primary-tokens/{method}/regenerate",
            "post",
        ),
        ("/api/v1/endpoints/{id}/tokens", "get"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens/{id}/regenerate", "post"),
        ("/api/v1/tokens/{id}/mappings/{endpoint_id}/{method}", "put"),
        (
            "/api/v1/tokens/{id}/mappings/{endpoint_id}/{method}",
            "delete",
        ),
        ("/api/v1/tokens/bulk", "post"),
        ("/api/v1/calls", "get"),
        ("/api/v1/calls/export", "get"),
        ("/api/v1/stats", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/me/api-keys", "post"),
        ("/api/v1/audit", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
}

async fn served_document_is_the_generated_one(app: TestApp) {
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), portico::api::openapi::document());
    let res = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"));
    // Tera escapes '/' as "&#x2F;" in text; browsers show it as '/'.
    assert!(html.contains("tokens&#x2F;{id}&#x2F;regenerate"), "{html}");
}

on_each_backend!(
    openapi_is_served_and_rendered,
    served_document_is_the_generated_one
);
