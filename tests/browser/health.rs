//! The Health page in the browser: a silent mapping of an expiring token, the
//! silent filter kept in the address, Renew in place (the page keeps its filter and
//! the row its place), the phone layout; axe-core at 1280 and 390 px on each state.

use serde_json::{json, Value};

use crate::common::{Session, TestApp};
use crate::driver::Browser;

pub async fn health_page(b: &mut Browser, app: &TestApp, api: &Session, eid: i64) {
    let soon = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    let res = api
        .post("/tokens", json!({"name": "quiet-app", "expires_at": soon}))
        .await;
    assert_eq!(res.status(), 201);
    let t = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let res = api
        .put(
            &format!("/tokens/{t}/mappings/{eid}/POST"),
            json!({"enabled": true, "expect_every_seconds": 60}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Expected since five minutes ago and never called: silent for four.
    let ago = (chrono::Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%d %H:%M:%S");
    app.sql(format!(
        "UPDATE mappings SET expect_since = '{ago}' WHERE token_id = {t} AND endpoint_id = {eid}"
    ))
    .await;

    b.goto("/ui/health").await;
    b.wait_text("#health-count", "mapping").await;
    assert!(
        b.text("#health-table tbody tr:first-child")
            .await
            .contains("quiet-app"),
        "the worst first"
    );
    b.shot("health").await;

    b.el("#filter-state")
        .await
        .select_by_value("silent")
        .await
        .unwrap();
    b.click("#apply-filters").await;
    b.wait_text("#health-count", "1–1 of 1 mapping").await;
    assert!(b.path().await.contains("state=silent"));
    let row = b.text("#health-table tbody tr:first-child").await;
    assert!(
        row.contains("silent since") && row.contains("Expiring"),
        "{row}"
    );
    b.shot("health-silent").await;

    // Renew in place: the outcome is announced, the page keeps its filter.
    b.click(&format!("#renew-{t}-{eid}-POST")).await;
    b.wait_text("#inplace-flash", "renewed until").await;
    assert!(b.path().await.contains("state=silent"));
    let row = b.text("#health-table tbody tr:first-child").await;
    assert!(!row.contains("Expiring") && !row.contains("Renew"), "{row}");
    b.shot("health-renewed").await;

    // A phone shows each mapping as a card.
    b.phone(true).await;
    let display = b
        .js("return getComputedStyle(document.querySelector('#health-table tbody tr')).display;")
        .await;
    assert_eq!(display, json!("block"));
    b.phone(false).await;
}
