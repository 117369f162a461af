//! Exports stream every matching call (or the first `limit`) with its payload as
//! sent, stop when the client goes away, and run at most `max_exports` at once.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The payloads an analyst exports for: key order, big numbers, text, nesting.
const PAYLOADS: [&str; 4] = [
    r#"{"z":1,"a":2,"amount":12345678901234567890}"#,
    r#"{"name":"Zoë \"the\" analyst","tags":["a","b"],"nested":{"x":[1,2.50,{"y":null}]}}"#,
    r#"-5"#,
    r#"  [1, 2,   3]"#,
];

async fn post_raw(app: &TestApp, token: &str, body: &'static str) {
    let res = app
        .client
        .post(app.url("/e/orders"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

async fn payloads_are_exported_as_sent(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    for p in PAYLOADS {
        post_raw(&app, f.value(0), p).await;
    }
    app.ingest("orders", "=not-a-token", json!({})).await; // refused: no payload
    let text = f
        .admin
        .get("/calls/export?format=ndjson")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].ends_with(",\"data\":null}"),
        "newest first: the refusal"
    );
    for (line, sent) in lines[1..].iter().zip(PAYLOADS.iter().rev()) {
        let data = line.split_once(",\"data\":").unwrap().1;
        assert_eq!(data, format!("{sent}}}"), "byte for byte");
        let parsed: Value = serde_json::from_str(line).unwrap();
        assert_eq!(parsed["status"], 201);
    }

    let csv_text = f
        .admin
        .get("/calls/export?format=csv&data=true")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(headers.iter().next_back(), Some("data"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let data: Vec<&str> = rows
        .iter()
        .map(|r| r.get(headers.len() - 1).unwrap())
        .collect();
    assert_eq!(data[0], "", "a refused call has no payload");
    assert_eq!(data[1], PAYLOADS[3]);
    assert_eq!(data[2], "'-5", "a cell a spreadsheet would run is defused");
    assert_eq!(data[4], PAYLOADS[0]);

    let plain = f
        .admin
        .get("/calls/export?format=csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !plain.lines().next().unwrap().contains("data"),
        "no payloads unless asked"
    );
    let two = f
        .admin
        .get("/calls/export?format=ndjson&limit=2")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(two.lines().count(), 2, "the limit the caller chose");
    for bad in [
        "limit=0",
        "limit=x",
        "limit=9223372036854775808",
        "data=yes",
        "format=xml",
    ] {
        let res = f.admin.get(&format!("/calls/export?{bad}")).await;
        assert_problem(res, 422, "validation_failed").await;
    }
}

on_each_backend!(
    exports_carry_payloads_exactly_as_sent,
    payloads_are_exported_as_sent
);

async fn every_row_streams(app: TestApp) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("orders", json!({})).await;
    let n = 12_345;
    app.seed_records(endpoint["id"].as_i64().unwrap(), "orders", n, 40)
        .await;
    let res = admin.get("/calls/export?format=ndjson").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let ids: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len() as i64, n, "every matching call, no cap");
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once"
    );
    let csv_rows = admin
        .get("/calls/export?format=csv&data=true")
        .await
        .text()
        .await
        .unwrap()
        .lines()
        .count();
    assert_eq!(csv_rows as i64, n + 1, "every row and the header");
}

on_each_backend!(exports_stream_every_matching_call, every_row_streams);

/// Records of several days whose ids interleave (PostgreSQL: in day partitions whose
/// id spans overlap), and a later day of their own: every payload is exported, and
/// the calls of deleted records without one.
async fn payloads_of_every_day(app: TestApp) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("orders", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let first = app.clock.now().date() - chrono::TimeDelta::days(10);
    app.prepare_days(first, first + chrono::TimeDelta::days(5))
        .await;
    // Record n (1..=400) on day n % 3 of the first three, or day 5 from 301 on.
    let day = format!("'{}'", first.format("%Y-%m-%d"));
    let (numbers, at) = match app.backend {
        Backend::Sqlite => (
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 400) SELECT n FROM s",
            format!("datetime({day}, '+' || (CASE WHEN n > 300 THEN 5 ELSE n % 3 END) || ' days', '+' || n || ' seconds')"),
        ),
        Backend::Postgres => (
            "SELECT n FROM generate_series(1, 400) AS s(n)",
            format!("CAST({day} AS timestamp) + make_interval(days => CASE WHEN n > 300 THEN 5 ELSE n % 3 END, secs => n)"),
        ),
    };
    app.sql(format!(
        "INSERT INTO records (endpoint_id, received_at, data) \
         SELECT {endpoint}, {at}, '{{\"n\":' || n || '}}' FROM ({numbers}) AS s ORDER BY n"
    ))
    .await;
    app.seed_calls_of_records(endpoint, "orders").await;
    // Two records deleted (their calls stay): exported without a payload.
    app.sql(format!(
        "DELETE FROM records WHERE endpoint_id = {endpoint} AND data IN ('{{\"n\":5}}', '{{\"n\":305}}')"
    ))
    .await;
    let text = admin
        .get("/calls/export?format=ndjson&data=true")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 400, "every call");
    let mut numbers: Vec<i64> = lines
        .iter()
        .filter_map(|l| l["data"]["n"].as_i64())
        .collect();
    numbers.sort_unstable();
    let kept: Vec<i64> = (1..=400).filter(|n| ![5, 305].contains(n)).collect();
    assert_eq!(numbers, kept);
    let csv = admin
        .get("/calls/export?format=csv&data=true")
        .await
        .text()
        .await
        .unwrap();
    let with_data = csv.lines().filter(|l| l.contains(r#"{""n"":"#)).count();
    assert_eq!(with_data, 398, "{csv}");
}

on_each_backend!(exports_carry_payloads_of_every_day, payloads_of_every_day);

/// A sample of `/metrics`, 0 when absent.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn a_client_gone_stops_its_export(app: TestApp) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("orders", json!({})).await;
    let n = 20_000;
    app.seed_records(endpoint["id"].as_i64().unwrap(), "orders", n, 2_000)
        .await;
    // One export reads a first chunk and then waits: it holds the only place.
    let first = admin.get("/calls/export?format=ndjson").await;
    assert_eq!(first.status(), 200);
    let mut body = first.bytes_stream();
    assert!(!body.next().await.unwrap().unwrap().is_empty());
    assert_eq!(metric(&app, "portico_exports_in_flight").await, 1.0);
    let second = admin.get("/calls/export?format=csv").await;
    assert!(second.headers().get("retry-after").is_some());
    assert_problem(second, 429, "rate_limited").await;
    // The client goes away: the export stops without reading the rest.
    drop(body);
    let mut stopped = false;
    for _ in 0..100 {
        if metric(&app, "portico_exports_in_flight").await == 0.0 {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        stopped,
        "{:?}: the export ended with its client",
        app.backend
    );
    let exported = metric(&app, "portico_exported_rows_total").await;
    assert!(exported < n as f64, "{exported} of {n} rows were read");
    let again = admin.get("/calls/export?format=csv&limit=10").await;
    assert_eq!(again.status(), 200, "the place is free again");
    assert_eq!(again.text().await.unwrap().lines().count(), 11);
}

on_each_backend!(
    an_export_cut_by_its_client_stops_and_frees_its_place,
    a_client_gone_stops_its_export,
    portico::state::Settings {
        max_exports: 1,
        ..portico::state::Settings::default()
    }
);
