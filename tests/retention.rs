//! Retention: calls older than `--call-retention-days` and each endpoint's records
//! older than its retention leave the database, by whole day partitions on
//! PostgreSQL (a day shared with rows that stay loses only the expired ones) and in
//! batches on SQLite; what stays is untouched.

mod common;

use chrono::{NaiveDate, TimeDelta};
use common::*;
use portico::operations::retention::Swept;
use portico::store::partitions::Daily;
use serde_json::{json, Value};

/// One pass of upkeep at the app's time, with a call-log retention of `days`.
async fn sweep(app: &TestApp, days: u32) -> Swept {
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    let now = app.clock.now();
    tokio::task::spawn_blocking(move || {
        let pool = portico::db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        portico::operations::upkeep::sweep(&mut conn, now, days).unwrap()
    })
    .await
    .unwrap()
}

/// The days `table` has a partition for (none on SQLite).
async fn partition_days(app: &TestApp, table: Daily) -> Vec<NaiveDate> {
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        let pool = portico::db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        portico::store::partitions::days(&mut conn, table).unwrap()
    })
    .await
    .unwrap()
}

async fn push(app: &TestApp, slug: &str, token: &str) {
    let res = app.ingest(slug, token, json!({"at": "now"})).await;
    assert_eq!(res.status(), 201);
}

/// The ids of the records `GET /e/{slug}` serves.
async fn records(app: &TestApp, slug: &str, token: &str) -> Vec<i64> {
    let res = app
        .client
        .get(app.url(&format!("/e/{slug}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let page: Value = res.json().await.unwrap();
    page["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

async fn calls_past_retention_leave_by_whole_days(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let today = app.clock.now().date();
    push(&app, "orders", f.value(0)).await;
    push(&app, "orders", f.value(0)).await;
    app.clock.advance(TimeDelta::days(3));
    push(&app, "orders", f.value(0)).await;

    let swept = sweep(&app, 2).await;
    assert_eq!(swept.calls_deleted, 2, "{swept:?}");
    // (Three days on, the admin signs in again: sessions last 12 hours.)
    let admin = app.admin().await;
    let calls = admin
        .read(&format!("/calls?token={}", f.tokens[0]["id"]))
        .await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 1, "{calls}");
    // Retention reaches the call log only: the records stay.
    assert_eq!(records(&app, "orders", f.value(0)).await.len(), 3);

    let days = partition_days(&app, Daily::Calls).await;
    match app.backend {
        Backend::Postgres => {
            assert!(swept.partitions_dropped >= 1, "{swept:?}");
            assert!(!days.contains(&today), "today's day went whole: {days:?}");
            assert!(days.contains(&(today + TimeDelta::days(3))));
        }
        Backend::Sqlite => assert_eq!(swept.partitions_dropped, 0),
    }
    // Nothing more is due: a second pass removes nothing.
    assert_eq!(sweep(&app, 2).await.calls_deleted, 0);
}

async fn records_past_their_endpoints_retention_leave(app: TestApp) {
    let short = app
        .mapped("short", json!({"retention_days": 1}), &["a"])
        .await;
    let kept = app.mapped("kept", json!({}), &["b"]).await;
    let first_day = app.clock.now().date();
    push(&app, "short", short.value(0)).await;
    push(&app, "kept", kept.value(0)).await;
    app.clock.advance(TimeDelta::days(2));
    push(&app, "short", short.value(0)).await;

    // The first day also holds a record that stays: only the expired one goes.
    let swept = sweep(&app, 0).await;
    assert_eq!(swept.records_deleted, 1, "{swept:?}");
    assert_eq!(records(&app, "short", short.value(0)).await.len(), 1);
    assert_eq!(records(&app, "kept", kept.value(0)).await.len(), 1);
    let days = partition_days(&app, Daily::Records).await;
    if app.backend == Backend::Postgres {
        assert!(days.contains(&first_day), "{days:?}");
    }

    // Two days on, the third day held only the short-lived endpoint's record.
    let third_day = app.clock.now().date();
    app.clock.advance(TimeDelta::days(2));
    let swept = sweep(&app, 0).await;
    assert_eq!(swept.records_deleted, 1, "{swept:?}");
    assert!(records(&app, "short", short.value(0)).await.is_empty());
    assert_eq!(records(&app, "kept", kept.value(0)).await.len(), 1);
    if app.backend == Backend::Postgres {
        let days = partition_days(&app, Daily::Records).await;
        assert!(!days.contains(&third_day), "dropped whole: {days:?}");
        assert!(
            days.contains(&first_day),
            "still holds a kept record: {days:?}"
        );
    }
}

on_each_backend!(
    calls_past_retention_leave_by_whole_days_test,
    calls_past_retention_leave_by_whole_days
);
on_each_backend!(
    records_past_their_endpoints_retention_leave_test,
    records_past_their_endpoints_retention_leave
);
