//! A time range of the viewer is exact at its edges. On SQLite it is read as a range
//! of ids (`store::call_order`), widened by how far the log's times have run against
//! its ids: calls at `since`, just before `until`, and calls whose id came after a
//! later call's are in or out exactly as their `at` says, in the page, the stats and
//! the export alike.

mod common;

use chrono::{NaiveDateTime, TimeDelta};
use common::*;
use diesel::sql_types::{BigInt, Nullable};
use diesel::{QueryableByName, RunQueryDsl};
use portico::db::{self, DatabaseUrl};
use portico::store::call_order::{self, IdRange};
use serde_json::Value;

const TOKEN: i64 = 4242;
/// The calls' ids start above this.
const BASE: i64 = 1_000_000;

fn rfc3339(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Ids (less [`BASE`]) of the token's calls a query of the API returns, through
/// pages of two (the cursor goes with the range).
async fn ids_in(admin: &Session, range: &str) -> Vec<i64> {
    let (mut ids, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = admin
            .read(&format!("/calls?token={TOKEN}&{range}&limit=2{cursor}"))
            .await;
        for call in page["calls"].as_array().unwrap() {
            ids.push(call["id"].as_i64().unwrap() - BASE);
        }
        match page["next"].as_i64() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    ids
}

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = Nullable<BigInt>)]
    lag_ms: Option<i64>,
}

/// The measured disorder (SQLite) and the ids `since..until` lies between.
async fn order_of(app: &TestApp, since: NaiveDateTime, until: NaiveDateTime) -> (i64, IdRange) {
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let lag: Lag = diesel::sql_query("SELECT lag_ms FROM calls_disorder")
            .get_result(&mut **conn)
            .unwrap();
        let range = call_order::ids_within(&mut conn, Some(since), Some(until)).unwrap();
        (lag.lag_ms.unwrap_or(-1), range)
    })
    .await
    .unwrap()
}

async fn a_time_range_is_exact_at_its_edges(app: TestApp) {
    let admin = app.admin().await;
    let day = app.clock.now().date() - TimeDelta::days(3);
    app.prepare_days(day - TimeDelta::days(1), day + TimeDelta::days(1))
        .await;
    let since = day.and_hms_opt(0, 0, 0).unwrap();
    let until = since + TimeDelta::days(1);
    let (ms, us, hour) = (
        TimeDelta::milliseconds,
        TimeDelta::microseconds,
        TimeDelta::hours,
    );
    // In id order, as the writer numbers them; 3 and 10 are behind an earlier id's
    // call by 1.2 s and 1.5 s.
    let calls = [
        since - hour(12),
        since + ms(200),
        since - ms(1000),
        since,
        since - us(1),
        since + hour(1),
        until - us(1),
        until,
        until + ms(1000),
        until - ms(500),
        until + hour(1),
        until + hour(2),
    ];
    let values: Vec<String> = calls
        .iter()
        .enumerate()
        .map(|(i, at)| {
            format!(
                "({}, '{}', 'orders', 'POST', '/e/orders', 201, 'secondary', {TOKEN}, '127.0.0.1', 10, 10, 10)",
                BASE + 1 + i as i64,
                at.format("%Y-%m-%d %H:%M:%S%.6f")
            )
        })
        .collect();
    app.sql(format!(
        "INSERT INTO calls (id, at, endpoint_slug, method, path, status, token_kind, token_id, \
         remote_addr, request_bytes, response_bytes, duration_us) VALUES {}",
        values.join(", ")
    ))
    .await;
    if app.backend == Backend::Sqlite {
        // The database measured the disorder; the day lies between calls 1 and 11.
        let (lag, range) = order_of(&app, since, until).await;
        assert!((1500..1600).contains(&lag), "lag {lag} ms");
        let expect = IdRange {
            above: Some(BASE + 1),
            below: Some(BASE + 11),
        };
        assert_eq!(range, expect);
    }
    let day_range = format!("since={}&until={}", rfc3339(since), rfc3339(until));
    assert_eq!(ids_in(&admin, &day_range).await, [10, 7, 6, 4, 2]);
    let from = format!("since={}", rfc3339(since));
    assert_eq!(ids_in(&admin, &from).await, [12, 11, 10, 9, 8, 7, 6, 4, 2]);
    let to = format!("until={}", rfc3339(until));
    assert_eq!(ids_in(&admin, &to).await, [10, 7, 6, 5, 4, 3, 2, 1]);
    // The stats and the export read the same calls.
    let stats = admin
        .read(&format!(
            "/stats?by=token&bucket=hour&token={TOKEN}&{day_range}"
        ))
        .await;
    let total: i64 = stats["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["total"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 5, "{stats}");
    let export = admin
        .get(&format!(
            "/calls/export?format=ndjson&token={TOKEN}&{day_range}"
        ))
        .await
        .text()
        .await
        .unwrap();
    let exported: Vec<i64> = export
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
                - BASE
        })
        .collect();
    assert_eq!(exported, [10, 7, 6, 4, 2]);

    // A call whose `at` is changed: the disorder is no longer known, nothing is narrowed.
    app.sql(format!(
        "UPDATE calls SET at = '{}' WHERE id = {}",
        (since + TimeDelta::minutes(1)).format("%Y-%m-%d %H:%M:%S%.6f"),
        BASE + 12
    ))
    .await;
    if app.backend == Backend::Sqlite {
        assert_eq!(order_of(&app, since, until).await, (-1, IdRange::default()));
    }
    assert_eq!(ids_in(&admin, &day_range).await, [12, 10, 7, 6, 4, 2]);
}

on_each_backend!(
    a_time_range_is_exact_at_its_edges_test,
    a_time_range_is_exact_at_its_edges
);
