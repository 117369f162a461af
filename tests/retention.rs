//! Retention: calls older than `--call-retention-days` and each endpoint's records
//! older than its retention leave the database, by whole partitions on PostgreSQL
//! (days of calls, weeks of records; a week shared with rows that stay loses only
//! the expired ones) and in batches on SQLite; what stays is untouched.

mod common;

use chrono::{Datelike, NaiveDate, TimeDelta};
use common::*;
use portico::operations::retention::Swept;
use portico::store::partitions::{Partitioned, Span};
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

/// The partitions of `table` (none on SQLite).
async fn partitions(app: &TestApp, table: Partitioned) -> Vec<Span> {
    app.partitions(table).await
}

fn holds(spans: &[Span], day: NaiveDate) -> bool {
    spans.iter().any(|s| s.holds(day))
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

    let days = partitions(&app, Partitioned::Calls).await;
    match app.backend {
        Backend::Postgres => {
            assert!(swept.partitions_dropped >= 1, "{swept:?}");
            assert!(!holds(&days, today), "today's day went whole: {days:?}");
            assert!(holds(&days, today + TimeDelta::days(3)));
            assert!(
                days.iter().all(|d| d.to == d.from + TimeDelta::days(1)),
                "{days:?}"
            );
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
    app.clock.advance(TimeDelta::days(14));
    // (Portico makes the partitions of the days around today as time goes on.)
    let now = app.clock.now().date();
    app.prepare_days(now, now).await;
    push(&app, "short", short.value(0)).await;

    // The first week also holds a record that stays: only the expired one goes.
    let swept = sweep(&app, 0).await;
    assert_eq!(swept.records_deleted, 1, "{swept:?}");
    assert_eq!(records(&app, "short", short.value(0)).await.len(), 1);
    assert_eq!(records(&app, "kept", kept.value(0)).await.len(), 1);
    let weeks = partitions(&app, Partitioned::Records).await;
    if app.backend == Backend::Postgres {
        assert!(holds(&weeks, first_day), "{weeks:?}");
    }

    // Two weeks on, the third week held only the short-lived endpoint's record.
    let third_week = app.clock.now().date();
    app.clock.advance(TimeDelta::days(14));
    let swept = sweep(&app, 0).await;
    assert_eq!(swept.records_deleted, 1, "{swept:?}");
    assert!(records(&app, "short", short.value(0)).await.is_empty());
    assert_eq!(records(&app, "kept", kept.value(0)).await.len(), 1);
    if app.backend == Backend::Postgres {
        let weeks = partitions(&app, Partitioned::Records).await;
        assert!(swept.partitions_dropped >= 1, "{swept:?}");
        assert!(!holds(&weeks, third_week), "dropped whole: {weeks:?}");
        assert!(
            holds(&weeks, first_day),
            "still holds a kept record: {weeks:?}"
        );
        // An empty week stays while a record loaded into it would be kept.
        assert!(holds(&weeks, first_day + TimeDelta::days(7)), "{weeks:?}");
    }
}

/// The records go by week, Monday to Monday; a database that an older version
/// partitioned by day keeps its days, and the weeks are made around them.
async fn records_are_partitioned_by_week_around_older_days(app: TestApp) {
    if app.backend != Backend::Postgres {
        return;
    }
    let today = app.clock.now().date();
    let weeks = partitions(&app, Partitioned::Records).await;
    let around = |day: NaiveDate| weeks.iter().find(|s| s.holds(day)).copied().unwrap();
    let this = around(today);
    assert_eq!(this.from.weekday(), chrono::Weekday::Mon, "{weeks:?}");
    assert_eq!(this.to, this.from + TimeDelta::days(7), "{weeks:?}");
    assert!(holds(&weeks, today - TimeDelta::days(1)) && holds(&weeks, today + TimeDelta::days(7)));

    // Four weeks on, two days as an older version made them, then the weeks.
    let monday = this.from + TimeDelta::days(28);
    for day in [monday + TimeDelta::days(2), monday + TimeDelta::days(3)] {
        let name = format!("records_p{}", day.format("%Y%m%d"));
        app.sql(format!(
            "CREATE TABLE {name} PARTITION OF records FOR VALUES FROM ('{day}') TO ('{}')",
            day + TimeDelta::days(1)
        ))
        .await;
    }
    app.prepare_days(monday, monday + TimeDelta::days(13)).await;
    let spans: Vec<(i64, i64)> = partitions(&app, Partitioned::Records)
        .await
        .into_iter()
        .filter(|s| s.from >= monday)
        .map(|s| ((s.from - monday).num_days(), (s.to - monday).num_days()))
        .collect();
    assert_eq!(spans, [(0, 2), (2, 3), (3, 4), (4, 7), (7, 14)]);
    // A record of each lands in its partition.
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    app.clock.advance(monday + TimeDelta::days(3) - today);
    push(&app, "orders", f.value(0)).await;
    app.clock.advance(TimeDelta::days(1));
    push(&app, "orders", f.value(0)).await;
    assert_eq!(records(&app, "orders", f.value(0)).await.len(), 2);
}

on_each_backend!(
    calls_past_retention_leave_by_whole_days_test,
    calls_past_retention_leave_by_whole_days
);
on_each_backend!(
    records_past_their_endpoints_retention_leave_test,
    records_past_their_endpoints_retention_leave
);
on_each_backend!(
    records_are_partitioned_by_week_around_older_days_test,
    records_are_partitioned_by_week_around_older_days
);
