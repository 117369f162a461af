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
    // The explorer: Swagger UI from the binary, over the served document.
    let res = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200, "/api/docs leads to /api/docs/");
    assert_eq!(res.url().path(), "/api/docs/");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    // Nothing from elsewhere: every asset is relative to the page.
    for attribute in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attribute) {
            let rest = &html[i + attribute.len()..];
            let remote = ["http:", "https:", "//"]
                .iter()
                .any(|p| rest.starts_with(p));
            assert!(!remote, "{html}");
        }
    }
    let get = |path: &'static str| {
        let req = app.client.get(app.url(path));
        async move {
            let res = req.send().await.unwrap();
            let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
            (res.status().as_u16(), kind, res.text().await.unwrap())
        }
    };
    let (status, kind, init) = get("/api/docs/swagger-initializer.js").await;
    assert_eq!((status, kind.contains("javascript")), (200, true));
    assert!(init.contains("\"/api/openapi.json\""), "{init}");
    assert!(init.contains("\"persistAuthorization\": false"), "{init}");
    assert!(init.contains("\"tryItOutEnabled\": true"), "{init}");
    let (status, _, bundle) = get("/api/docs/swagger-ui-bundle.js").await;
    assert!(status == 200 && bundle.len() > 100_000);
    let (status, kind, _) = get("/api/docs/swagger-ui.css").await;
    assert_eq!((status, kind.starts_with("text/css")), (200, true));
    assert_eq!(get("/api/docs/no-such-file.js").await.0, 404);
}

on_each_backend!(
    openapi_is_served_and_rendered,
    served_document_is_the_generated_one
);

#[test]
fn ingest_routes_take_a_token_either_way_and_only_they_do() {
    let doc: serde_json::Value = serde_json::from_str(&portico::api::openapi::document()).unwrap();
    let either_way = serde_json::json!([
        {"ingest_bearer": []},
        {"ingest_access_token": []},
        {}
    ]);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["ingest_bearer"]["scheme"], "bearer");
    assert_eq!(
        (
            &schemes["ingest_access_token"]["in"],
            &schemes["ingest_access_token"]["name"]
        ),
        (
            &serde_json::json!("query"),
            &serde_json::json!("access_token")
        )
    );
    let mut ingest = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security = op.get("security").unwrap_or(&doc["security"]);
            if path.starts_with("/e/") {
                assert_eq!(security, &either_way, "{method} {path}");
                ingest.push(format!("{} {path}", method.to_uppercase()));
            } else {
                assert!(!security.to_string().contains("ingest_"), "{method} {path}");
            }
        }
    }
    ingest.sort();
    assert_eq!(
        ingest,
        [
            "DELETE /e/{slug}/all",
            "DELETE /e/{slug}/{id}",
            "GET /e/{slug}",
            "GET /e/{slug}/{id}",
            "POST /e/{slug}",
        ]
    );
}
