//! A time range of the viewer is exact at its edges. On SQLite it is read as a range
//! of ids (`store::call_order`): the blocks of ids whose calls' times meet it. Calls
//! at `since`, just before `until`, and calls whose id came after a later call's are
//! in or out exactly as their `at` says, in the page, the stats and the export alike.

mod common;

use chrono::{NaiveDateTime, TimeDelta};
use common::*;
use portico::db::{self, DatabaseUrl};
use portico::store::call_days;
use portico::store::call_order::{self, IdRange, BLOCK};
use portico::store::partitions::{self, Partitioned, Span};
use serde_json::Value;

const TOKEN: i64 = 4242;
/// Call `n`'s id is `BASE + n * STEP`: two calls a block of ids, from call 2 on.
const BASE: i64 = 256 * BLOCK;
const STEP: i64 = BLOCK / 2;

fn rfc3339(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The numbers of the token's calls a query of the API returns, through
/// pages of two (the cursor goes with the range).
async fn ids_in(admin: &Session, range: &str) -> Vec<i64> {
    let (mut ids, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = admin
            .read(&format!("/calls?token={TOKEN}&{range}&limit=2{cursor}"))
            .await;
        for call in page["calls"].as_array().unwrap() {
            ids.push((call["id"].as_i64().unwrap() - BASE) / STEP);
        }
        match page["next"].as_i64() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    ids
}

/// The ids `since..until` lies between (SQLite): in one range, and in runs of
/// consecutive blocks, newest first.
async fn order_of(app: &TestApp, since: NaiveDateTime, until: NaiveDateTime) -> IdRange {
    order_and_runs_of(app, since, until).await.0
}

async fn order_and_runs_of(
    app: &TestApp,
    since: NaiveDateTime,
    until: NaiveDateTime,
) -> (IdRange, Vec<IdRange>) {
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let (since, until) = (Some(since), Some(until));
        (
            call_order::ids_within(&mut conn, since, until).unwrap(),
            call_order::runs_within(&mut conn, since, until).unwrap(),
        )
    })
    .await
    .unwrap()
}

/// The ids of blocks `first..=last` after `BASE`.
fn blocks(first: i64, last: i64) -> IdRange {
    IdRange {
        above: Some(BASE + first * BLOCK - 1),
        below: Some(BASE + (last + 1) * BLOCK),
    }
}

/// Writes the token's calls `(n, at)` straight into the database, call `n` under id
/// `BASE + n * STEP`, in one statement.
async fn insert_calls(app: &TestApp, calls: &[(i64, NaiveDateTime)]) {
    let values: Vec<String> = calls
        .iter()
        .map(|(n, at)| {
            format!(
                "({}, '{}', 'orders', 'POST', '/e/orders', 201, 'secondary', {TOKEN}, '127.0.0.1', 10, 10, 10)",
                BASE + n * STEP,
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
    // Calls 1 to 12 in id order, as the writer numbers them; 3 and 10 are behind an
    // earlier id's call by 1.2 s and 1.5 s.
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
    let numbered: Vec<(i64, NaiveDateTime)> = (1..).zip(calls).collect();
    insert_calls(&app, &numbered).await;
    if app.backend == Backend::Sqlite {
        // The blocks of calls 2-3, 4-5, 6-7 and 10-11 meet the day; those of 1, 8-9
        // (until and after) and 12 do not.
        // A page reads the run of blocks 5 first, then that of 1-3 (block 4 is
        // not read).
        let expect = (blocks(1, 5), vec![blocks(5, 5), blocks(1, 3)]);
        assert_eq!(order_and_runs_of(&app, since, until).await, expect);
        let later = (until + hour(3), until + hour(4));
        let none = IdRange {
            above: Some(0),
            below: Some(1),
        };
        assert_eq!(order_of(&app, later.0, later.1).await, none, "no call");
    }
    let empty = format!(
        "since={}&until={}",
        rfc3339(until + hour(3)),
        rfc3339(until + hour(4))
    );
    assert!(ids_in(&admin, &empty).await.is_empty());
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
            (serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
                - BASE)
                / STEP
        })
        .collect();
    assert_eq!(exported, [10, 7, 6, 4, 2]);

    // A call whose `at` is changed into the day: its block now meets it.
    app.sql(format!(
        "UPDATE calls SET at = '{}' WHERE id = {}",
        (since + TimeDelta::minutes(1)).format("%Y-%m-%d %H:%M:%S%.6f"),
        BASE + 12 * STEP
    ))
    .await;
    if app.backend == Backend::Sqlite {
        let expect = (blocks(1, 6), vec![blocks(5, 6), blocks(1, 3)]);
        assert_eq!(order_and_runs_of(&app, since, until).await, expect);
    }
    assert_eq!(ids_in(&admin, &day_range).await, [12, 10, 7, 6, 4, 2]);
}

on_each_backend!(
    a_time_range_is_exact_at_its_edges_test,
    a_time_range_is_exact_at_its_edges
);

/// The newest pages without a range (or with a wide one) read the newest days first
/// on PostgreSQL (`store::call_days`); calls written late into older days, or moved
/// there, still come in the order of their ids.
async fn the_newest_pages_come_in_id_order_across_days(app: TestApp) {
    let admin = app.admin().await;
    let today = app.clock.now().date();
    let first = today - TimeDelta::days(9);
    app.prepare_days(first - TimeDelta::days(1), today + TimeDelta::days(1))
        .await;
    let noon = |days_ago: i64| {
        (today - TimeDelta::days(days_ago))
            .and_hms_opt(12, 0, 0)
            .unwrap()
    };
    // Calls 1 to 30: three a day over ten days, oldest first; call 40 written late
    // into the day seven days ago; call 35 made yesterday, then moved eight days back.
    let mut calls: Vec<(i64, NaiveDateTime)> = (0..30)
        .map(|n| (n + 1, noon(9 - n / 3) + TimeDelta::minutes(n % 3)))
        .collect();
    calls.push((40, noon(7) + TimeDelta::hours(3)));
    calls.push((35, noon(1) + TimeDelta::hours(1)));
    insert_calls(&app, &calls).await;
    app.sql(format!(
        "UPDATE calls SET at = '{}' WHERE id = {}",
        noon(8).format("%Y-%m-%d %H:%M:%S%.6f"),
        BASE + 35 * STEP
    ))
    .await;
    let mut expect: Vec<i64> = (1..=30).rev().collect();
    expect.splice(0..0, [40, 35]);
    assert_eq!(ids_in(&admin, "method=POST").await, expect);
    let wide = format!("since={}", rfc3339(noon(20)));
    assert_eq!(ids_in(&admin, &wide).await, expect);
    for limit in [1, 5, 12] {
        let page = admin
            .read(&format!("/calls?token={TOKEN}&limit={limit}"))
            .await;
        let ids: Vec<i64> = page["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_i64().unwrap() - BASE) / STEP)
            .collect();
        assert_eq!(ids, expect[..limit], "limit {limit}");
    }
    if app.backend == Backend::Postgres {
        the_bounds_follow_the_days(&app, first, noon(7).date()).await;
    }
}

/// The days' id bounds hold the late and the moved calls, and a dropped day
/// partition takes its bounds along.
async fn the_bounds_follow_the_days(
    app: &TestApp,
    first: chrono::NaiveDate,
    late: chrono::NaiveDate,
) {
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let spans = call_days::spans(&mut conn).unwrap();
        let of = |day| spans.iter().find(|s| s.day == day).copied().unwrap();
        assert!(of(late).last_id >= BASE + 40 * STEP, "{spans:?}");
        let moved = of(late - TimeDelta::days(1));
        assert!(moved.last_id >= BASE + 35 * STEP, "{spans:?}");
        assert!(of(first).first_id <= BASE + STEP, "{spans:?}");
        let day = Span {
            from: first,
            to: first + TimeDelta::days(1),
        };
        partitions::drop_partition(&mut conn, Partitioned::Calls, day).unwrap();
        let after = call_days::spans(&mut conn).unwrap();
        assert!(after.iter().all(|s| s.day != first), "{after:?}");
        assert_eq!(after.len(), spans.len() - 1);
    })
    .await
    .unwrap()
}

on_each_backend!(
    the_newest_pages_come_in_id_order_across_days_test,
    the_newest_pages_come_in_id_order_across_days
);
