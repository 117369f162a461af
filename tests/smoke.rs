mod common;

use common::*;
use serde_json::json;

async fn full_flow(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin.create_endpoint("orders", json!({})).await;
    let tok = admin.create_token("shop-app").await;
    admin.map(&tok["id"], &ep["id"], "POST", true).await;
    let res = app
        .ingest(
            "orders",
            tok["token"].as_str().unwrap(),
            json!({"order": 1}),
        )
        .await;
    assert_eq!(res.status(), 201, "{:?}", app.backend);
}

on_each_backend!(full_flow_works, full_flow);
