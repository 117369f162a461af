//! The Health list's shared read of every mapping (calls::activity): this
//! instance's counts show at once, on top of a read already kept; counts written
//! by another instance show once the read is renewed behind the requests.

mod common;
#[path = "health_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use support::*;

async fn this_instances_counts_show_at_once_and_anothers_soon(app: TestApp) {
    let f = app.two_apps().await;
    let (shop, endpoint) = (f.tokens[0]["id"].clone(), f.endpoint["id"].clone());
    let post = |n: i64| app.ingest("orders", f.value(0), json!({ "n": n }));
    assert_eq!(post(0).await.status(), 201);
    // The first read keeps every mapping's row.
    let first = f.admin.read("/health").await;
    assert_eq!(find(&first, "shop-app", "POST")["calls_24h"], 1);
    for n in 1..4 {
        assert_eq!(post(n).await.status(), 201);
    }
    // Within the kept read's age: this instance's counts are added to it.
    let page = f.admin.read("/health").await;
    let row = find(&page, "shop-app", "POST");
    assert_eq!(row["calls_24h"], 4, "{page}");
    assert!(
        row["last_call_at"].as_str() >= find(&first, "shop-app", "POST")["last_call_at"].as_str()
    );
    assert_eq!(
        page["at"], first["at"],
        "the same read, with the counts added"
    );

    // Counts another instance wrote (straight into the aggregates here) show once
    // the read is renewed: at most HEALTH_ROWS_MAX_AGE and one read later.
    let hour = portico::domain::health::hour_of(app.clock.now()).format("%Y-%m-%d %H:%M:%S");
    app.sql(format!(
        "INSERT INTO mapping_hours (token_id, endpoint_id, method, hour, calls, refusals) \
         VALUES ({shop}, {endpoint}, 'GET', '{hour}', 7, 2)"
    ))
    .await;
    let started = Instant::now();
    loop {
        let page = f.admin.read("/health").await;
        let get = find(&page, "shop-app", "GET");
        if get["calls_24h"] == 7 {
            assert_eq!(get["refusals_24h"], 2);
            assert_eq!(find(&page, "shop-app", "POST")["calls_24h"], 4);
            assert_ne!(page["at"], first["at"], "a later read");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "another instance's counts never showed: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
on_each_backend!(
    this_instances_counts_show_at_once_and_anothers_soon_,
    this_instances_counts_show_at_once_and_anothers_soon
);
