//! Impact before a cut: `GET /api/v1/impact` says what disabling a token, a mapping
//! or an endpoint would have refused over the last days, from the call log.

mod common;

use common::*;
use serde_json::{json, Value};

async fn impact(admin: &Session, q: &str) -> Value {
    let res = admin.get(&format!("/impact?{q}")).await;
    assert_eq!(res.status(), 200, "{q}");
    res.json().await.unwrap()
}

async fn figures_match_the_call_log(app: TestApp) {
    let m = app.two_apps().await;
    let (shop, erp) = (
        m.tokens[0]["id"].as_i64().unwrap(),
        m.tokens[1]["id"].as_i64().unwrap(),
    );
    let e = m.endpoint["id"].as_i64().unwrap();
    for n in 0..3 {
        assert_eq!(
            app.ingest("orders", m.value(0), json!({"n": n}))
                .await
                .status(),
            201
        );
    }
    for n in 0..2 {
        assert_eq!(
            app.ingest("orders", m.value(1), json!({"n": n}))
                .await
                .status(),
            201
        );
    }
    // A refusal is not something a cut would take away.
    m.admin.map(&json!(shop), &json!(e), "POST", false).await;
    assert_eq!(
        app.ingest("orders", m.value(0), json!({"late": 1}))
            .await
            .status(),
        403
    );
    m.admin.map(&json!(shop), &json!(e), "POST", true).await;

    let t = impact(&m.admin, &format!("token={shop}")).await;
    assert_eq!(
        (t["calls"].as_i64(), t["distinct_applications"].as_i64()),
        (Some(3), Some(1))
    );
    let summary = t["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(
            "would have refused 3 calls from shop-app in the last 7 days, the last one "
        ),
        "{summary}"
    );
    // The same figure the call log gives.
    let log: Value = m
        .admin
        .get(&format!("/calls?token={shop}&status=2xx&limit=1000"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["calls"].as_array().unwrap().len(), 3);

    let ep = impact(&m.admin, &format!("endpoint={e}&days=1")).await;
    assert_eq!(
        (ep["calls"].as_i64(), ep["distinct_applications"].as_i64()),
        (Some(5), Some(2))
    );
    assert!(ep["summary"]
        .as_str()
        .unwrap()
        .contains("5 calls from 2 applications in the last day"));
    let names: Vec<&str> = ep["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["shop-app", "erp"], "the most calls first");

    let mapping = impact(&m.admin, &format!("token={erp}&endpoint={e}&method=GET")).await;
    assert_eq!(mapping["calls"], 0);
    assert_eq!(
        mapping["summary"],
        "would have refused no call in the last 7 days"
    );

    for (q, status, code) in [
        ("", 422, "validation_failed"),
        ("token=1&method=GET", 422, "validation_failed"),
        ("token=1&days=0", 422, "validation_failed"),
        ("endpoint=1&method=PATCH", 422, "validation_failed"),
        ("token=99999", 404, "not_found"),
        ("token=x", 422, "validation_failed"),
    ] {
        let res = m.admin.get(&format!("/impact?{q}")).await;
        assert_problem(res, status, code).await;
    }
    let (_, analyst) = app.analyst().await;
    assert_eq!(
        analyst.get(&format!("/impact?token={shop}")).await.status(),
        403
    );
}

on_each_backend!(
    figures_match_the_call_log_on_each_backend,
    figures_match_the_call_log
);
