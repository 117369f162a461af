//! The payload search (`q`, "text in payload") at scale: the index answers the same
//! as reading every payload would — before a record is indexed and after, for a
//! needle in a few records and for a term in thousands, for needles too short for
//! the index — and a deleted record is no longer found. The index is asked by the
//! needle's rare trigrams (as a kept sample of payloads tells them), and a common
//! needle is found among the newest records first: the answer is the same whichever
//! way it was found.

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

/// The record ids of every call the viewer finds for `q`, newest first (all pages).
async fn found_all(admin: &Session, q: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = admin.read(&format!("/calls?limit=200&q={q}{cursor}")).await;
        let calls = page["calls"].as_array().unwrap_or_else(|| panic!("{page}"));
        ids.extend(calls.iter().map(|c| c["record_id"].as_i64().unwrap()));
        match page["next"].as_i64() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

/// Stores records `from..=to` of `endpoint` straight into the database, each with
/// its call; `payload` is an SQL expression of `n`, the record's number.
async fn seed(app: &TestApp, endpoint: i64, slug: &str, (from, to): (i64, i64), payload: &str) {
    let numbers = match app.backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM s WHERE n < {to}) \
             SELECT n, datetime('now') AS at FROM s"
        ),
        Backend::Postgres => format!(
            "SELECT n, now() at time zone 'utc' AS at FROM generate_series({from}, {to}) AS s(n)"
        ),
    };
    app.sql(format!(
        "INSERT INTO records (endpoint_id, received_at, data) \
         SELECT {endpoint}, at, {payload} FROM ({numbers}) AS s ORDER BY n"
    ))
    .await;
    app.sql(format!(
        "INSERT INTO calls (at, endpoint_id, endpoint_slug, method, path, status, token_kind, \
         remote_addr, request_bytes, response_bytes, duration_us, record_id) \
         SELECT received_at, endpoint_id, '{slug}', 'POST', '/e/{slug}', 201, 'none', \
         '127.0.0.1', 100, 40, 500, id FROM records WHERE endpoint_id = {endpoint} \
         AND id > (SELECT COALESCE(MAX(record_id), 0) FROM calls) ORDER BY id"
    ))
    .await;
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
        assert_eq!(
            found(&f.admin, "%22%3A%22").await,
            [c, b, a],
            "{round}: a needle of no letter or digit"
        );
        assert!(found(&f.admin, "9%25").await.is_empty(), "{round}");
        assert!(found(&f.admin, "ord-77122").await.is_empty(), "{round}");
    }
    // A NUL is in no payload (JSON writes it `\u0000`) and PostgreSQL refuses it in
    // text: nothing matches, never a 500.
    let res = f
        .admin
        .get("/calls?q=ord%00&since=0161-12-23T16:25:50Z")
        .await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["calls"], json!([]), "{page}");

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

async fn a_needle_of_common_trigrams_is_found_in_an_old_record(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let endpoint = f.endpoint["id"].as_i64().unwrap();
    let old = push(&app, &f, json!({"p": "abab"})).await;
    // Every later payload holds both of the needle's trigrams, none the needle.
    seed(
        &app,
        endpoint,
        "orders",
        (1, 3_000),
        "'{\"p\":\"aba bab\"}'",
    )
    .await;
    indexed(&app).await;
    assert_eq!(found(&f.admin, "abab").await, [old]);
    let newest = push(&app, &f, json!({"p": "ABABA"})).await;
    assert_eq!(found(&f.admin, "abab").await, [newest, old]);
    indexed(&app).await;
    assert_eq!(found(&f.admin, "abab").await, [newest, old]);
}

/// The calls of a record a search finds are found whenever they were made: its
/// POST, a read by an instance whose clock is hours behind the one that stored it,
/// and a read days later (PostgreSQL reads only the days since the oldest record
/// found, less a day for such clocks).
async fn the_calls_of_a_found_record_are_found_whenever_they_were_made(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let other = push(&app, &f, json!({"order": "ord-31336"})).await;
    let id = push(&app, &f, json!({"order": "ord-31337"})).await;
    let read = || async {
        let res = app
            .client
            .get(app.url(&format!("/e/orders/{id}")))
            .bearer_auth(f.value(0))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    };
    app.clock.advance(chrono::TimeDelta::hours(-3));
    read().await;
    app.clock.advance(chrono::TimeDelta::days(3));
    read().await;
    indexed(&app).await;
    // (The session of three days ago has lapsed.)
    let admin = app.admin().await;
    assert_eq!(found(&admin, "ord-31337").await, [id, id, id]);
    assert_eq!(found(&admin, "ord-3133").await, [id, id, id, other]);
    // The chart of the search counts them too.
    let day =
        |d: i64| (chrono::Utc::now() + chrono::TimeDelta::days(d)).format("%Y-%m-%dT00:00:00Z");
    let (since, until) = (day(-1), day(5));
    let chart = admin
        .read(&format!(
            "/stats?bucket=day&q=ord-31337&since={since}&until={until}"
        ))
        .await;
    assert_eq!(chart["series"][0]["total"], 3, "{chart}");
}

/// In every sixth payload: common enough that the newest records are read directly
/// (20,000 of them), fewer than the index hands over at once (4,000 in all).
const TICKS: &str = "CASE WHEN n % 6 = 0 THEN '{\"n\":' || n || ',\"tag\":\"tick\"}' \
                     ELSE '{\"n\":' || n || ',\"tag\":\"tock\"}' END";

async fn a_common_needle_is_found_among_the_newest_records_and_before_them(app: TestApp) {
    let admin = app.admin().await;
    let early = admin.create_endpoint("early", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let late = admin.create_endpoint("late", json!({})).await["id"]
        .as_i64()
        .unwrap();
    seed(&app, early, "early", (1, 3_000), TICKS).await;
    seed(&app, late, "late", (3_001, 24_002), TICKS).await;
    let first = found(&admin, "%22n%22%3A1%2C").await[0];
    let ticks = |upto: i64| -> Vec<i64> {
        (1..=upto)
            .rev()
            .filter(|n| n % 6 == 0)
            .map(|n| first + n - 1)
            .collect()
    };
    for round in ["before indexing", "indexed"] {
        if round == "indexed" {
            indexed(&app).await;
        }
        assert_eq!(found_all(&admin, "tick").await, ticks(24_002), "{round}");
        // The early ones are all older than the newest 20,000.
        assert_eq!(
            found_all(&admin, &format!("tick&endpoint={early}")).await,
            ticks(3_000),
            "{round}"
        );
        assert_eq!(found(&admin, "%22n%22%3A23994%2C").await, [first + 23_993]);
        assert_eq!(found(&admin, "%22n%22%3A6%2C").await, [first + 5]);
    }
}

/// A needle in one payload of fifty: rare enough (in the sample) to be looked up in
/// the index oldest first; when it has more matches than asked for, the index is
/// asked again newest first, so the answer is the newest ones either way.
async fn a_rare_needle_with_more_matches_than_asked_gives_the_newest(app: TestApp) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("zoo", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let payload = "CASE WHEN n % 50 = 7 THEN '{\"n\":' || n || ',\"a\":\"zebra\"}' \
                   ELSE '{\"n\":' || n || ',\"a\":\"horse\"}' END";
    seed(&app, endpoint, "zoo", (1, 3_000), payload).await;
    indexed(&app).await;
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    let (all, newest_ten, every) = tokio::task::spawn_blocking(move || {
        let pool = portico::db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let pattern = portico::store::like_pattern("zebra");
        let mut ask = |limit| {
            portico::store::search::matching_records(&mut conn, "zebra", &pattern, limit)
                .unwrap()
                .unwrap()
                .ids
        };
        (ask(100), ask(10), ask(60))
    })
    .await
    .unwrap();
    assert_eq!(all.len(), 60, "{all:?}");
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first: {all:?}");
    assert_eq!(newest_ten, all[..10], "more matches than asked: the newest");
    assert_eq!(every, all, "exactly as many as asked");
    assert_eq!(found(&admin, "zebra").await, all);
}

#[derive(diesel::QueryableByName)]
struct Sampled {
    #[diesel(sql_type = diesel::sql_types::Text)]
    data: String,
}

/// The payloads in the kept sample (which the server takes again once the records
/// moved by more than a sixteenth of their span) and, when `retake`, whether taking
/// it again now did (first).
async fn sample_of(app: &TestApp, retake: bool) -> (Vec<String>, bool) {
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let pool = portico::db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let again = retake && portico::store::search::resample(&mut conn).unwrap();
        let rows: Vec<Sampled> =
            diesel::sql_query("SELECT data FROM records_search_sample ORDER BY i")
                .load(&mut **conn)
                .unwrap();
        (rows.into_iter().map(|r| r.data).collect(), again)
    })
    .await
    .unwrap()
}

async fn the_sample_follows_the_records(app: TestApp) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("zoo", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let horse = "'{\"n\":' || n || ',\"a\":\"horse\"}'";
    let zebra = "'{\"n\":' || n || ',\"a\":\"zebra\"}'";
    seed(&app, endpoint, "zoo", (1, 3_000), horse).await;
    let zebras = |s: &[String]| s.iter().filter(|d| d.contains("zebra")).count();
    let mut waited = 0;
    let sample = loop {
        match sample_of(&app, false).await {
            (sample, _) if sample.len() == 128 => break sample,
            _ if waited < 100 => waited += 1,
            other => panic!("the server never took a sample: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(sample.iter().all(|d| d.contains("horse")), "{sample:?}");
    // 100 more records move them by less than a sixteenth: the sample stays.
    seed(&app, endpoint, "zoo", (3_001, 3_100), zebra).await;
    let (kept, again) = sample_of(&app, true).await;
    assert!(!again && kept == sample, "taken again after 100 records");
    // 300 more (400 of 3,400): the indexer takes it again, over the zebras too.
    seed(&app, endpoint, "zoo", (3_101, 3_400), zebra).await;
    for _ in 0..100 {
        let (now, _) = sample_of(&app, false).await;
        if zebras(&now) > 0 {
            assert_eq!(now.len(), 128);
            assert!((10..=20).contains(&zebras(&now)), "evenly spread: {now:?}");
            assert_eq!(found_all(&admin, "zebra").await.len(), 400);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sample was never taken again");
}

#[derive(diesel::QueryableByName)]
struct Pending {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pages: i64,
}

/// PostgreSQL: the pages in the pending list of the payload index of the records
/// of `partition` (pageinspect reads the index's first page).
async fn pending_pages(app: &TestApp, partition: String) -> i64 {
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let pool = portico::db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let row: Pending = diesel::sql_query(format!(
            "SELECT (gin_metapage_info(get_raw_page(x.relname::text, 0))).n_pending_pages AS pages \
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_am a ON a.oid = x.relam \
             WHERE t.relname = '{partition}' AND a.amname = 'gin'"
        ))
        .get_result(&mut **conn)
        .unwrap();
        row.pages
    })
    .await
    .unwrap()
}

/// Records loaded in bulk into an old day (an import, an upgrade) leave their index
/// entries pending, and a search reads the whole pending list: the server merges
/// every day's, not only today's.
async fn pending_index_entries_of_old_days_are_merged(app: TestApp) {
    if app.backend == Backend::Sqlite {
        return;
    }
    app.sql("CREATE EXTENSION IF NOT EXISTS pageinspect".into())
        .await;
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("old", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let day = chrono::Utc::now().date_naive() - chrono::TimeDelta::days(5);
    app.prepare_days(day, day).await;
    app.sql(format!(
        "INSERT INTO records (endpoint_id, received_at, data) \
         SELECT {endpoint}, '{day} 12:00:00', '{{\"n\":' || n || ',\"tag\":\"bulk\"}}' \
         FROM generate_series(1, 3000) AS s(n)"
    ))
    .await;
    let records = portico::store::partitions::Partitioned::Records;
    let span = app
        .partitions(records)
        .await
        .into_iter()
        .find(|s| s.holds(day));
    let partition = records.partition(span.expect("the day's partition was made"));
    assert!(
        pending_pages(&app, partition.clone()).await > 0,
        "the bulk insert left no pending entries: nothing to test"
    );
    for _ in 0..150 {
        if pending_pages(&app, partition.clone()).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the pending entries of {partition} were never merged");
}

on_each_backend!(
    pending_index_entries_of_old_days_are_merged_test,
    pending_index_entries_of_old_days_are_merged
);
on_each_backend!(
    a_rare_needle_with_more_matches_than_asked_gives_the_newest_test,
    a_rare_needle_with_more_matches_than_asked_gives_the_newest
);
on_each_backend!(
    the_index_answers_as_reading_would_test,
    the_index_answers_as_reading_would
);
on_each_backend!(
    a_term_in_thousands_of_records_pages_newest_first_test,
    a_term_in_thousands_of_records_pages_newest_first
);
on_each_backend!(
    a_needle_of_common_trigrams_is_found_in_an_old_record_test,
    a_needle_of_common_trigrams_is_found_in_an_old_record
);
on_each_backend!(
    a_common_needle_is_found_among_the_newest_records_and_before_them_test,
    a_common_needle_is_found_among_the_newest_records_and_before_them
);
on_each_backend!(
    the_sample_follows_the_records_test,
    the_sample_follows_the_records
);
on_each_backend!(
    the_calls_of_a_found_record_are_found_whenever_they_were_made_test,
    the_calls_of_a_found_record_are_found_whenever_they_were_made
);
