//! The payload search (`q`, "text in payload") at scale: the index answers the same
//! as reading every payload would — before a record is indexed and after, for a
//! needle in a few records and for a term in thousands, for needles too short for
//! the index — and a deleted record is no longer found.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Waits (up to 10 s) until the payload index holds every record (SQLite; at once
/// on PostgreSQL, whose index is kept by the database).
async fn indexed(app: &TestApp) {
    for _ in 0..100 {
        if app.metric("portico_search_index_lag_records").await == Some(0.0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the payload index never caught up: {}", app.metrics().await);
}

/// The record ids of the calls the viewer finds for `q`, newest first (one page).
async fn found(admin: &Session, q: &str) -> Vec<i64> {
    let calls = admin.read(&format!("/calls?limit=200&q={q}")).await;
    calls["calls"]
        .as_array()
        .unwrap_or_else(|| panic!("{calls}"))
        .iter()
        .map(|c| c["record_id"].as_i64().unwrap())
        .collect()
}

async fn push(app: &TestApp, f: &Mapped, body: Value) -> i64 {
    let res = app.ingest("orders", f.value(0), body).await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn the_index_answers_as_reading_would(app: TestApp) {
    let f = app
        .mapped("orders", json!({"allow_delete": true}), &["shop-app"])
        .await;
    let a = push(&app, &f, json!({"order": "ORD-77120", "to": "Alice Smith"})).await;
    let b = push(&app, &f, json!({"order": "ord-77121", "note": "50% off_"})).await;
    let c = push(&app, &f, json!({"order": "x-9", "to": "Bob"})).await;

    // Right after storing (not indexed yet on SQLite) and once indexed: the same.
    for round in ["before indexing", "indexed"] {
        if round == "indexed" {
            indexed(&app).await;
        }
        assert_eq!(found(&f.admin, "ord-7712").await, [b, a], "{round}");
        assert_eq!(
            found(&f.admin, "alice%20smith").await,
            [a],
            "{round}: any case"
        );
        assert_eq!(
            found(&f.admin, "x-").await,
            [c],
            "{round}: a needle of two characters"
        );
        assert_eq!(
            found(&f.admin, "50%25%20off_").await,
            [b],
            "{round}: % and _ are literal"
        );
        assert!(found(&f.admin, "9%25").await.is_empty(), "{round}");
        assert!(found(&f.admin, "ord-77122").await.is_empty(), "{round}");
    }

    // A deleted record is not found any more (its call stays in the log).
    let res = app
        .client
        .delete(app.url(&format!("/e/orders/{a}")))
        .bearer_auth(f.primary("DELETE"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    assert_eq!(found(&f.admin, "ord-7712").await, [b]);
}

async fn a_term_in_thousands_of_records_pages_newest_first(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let endpoint = f.endpoint["id"].as_i64().unwrap();
    // More matches than the index hands over at once: the page is found by walking.
    app.seed_records(endpoint, "orders", 6_000, 10).await;
    let newest = push(&app, &f, json!({"n": "rare-needle", "pad": "xxxxxxxxxx"})).await;
    indexed(&app).await;
    let page = found(&f.admin, "xxxxxxxxxx").await;
    assert_eq!(page.len(), 200);
    assert_eq!(page[0], newest);
    assert!(page.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(found(&f.admin, "rare-needle").await, [newest]);
}

on_each_backend!(
    the_index_answers_as_reading_would_test,
    the_index_answers_as_reading_would
);
on_each_backend!(
    a_term_in_thousands_of_records_pages_newest_first_test,
    a_term_in_thousands_of_records_pages_newest_first
);
