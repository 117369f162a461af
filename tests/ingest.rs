//! What ingest costs around a call: a refused call's body is read so its connection
//! carries the next request (and its size is logged), one too large to read closes
//! it; a credential's `last_used_at` is written at most once a minute.

mod common;

use chrono::TimeDelta;
use common::*;
use serde_json::{json, Value};

/// POSTs `body` to `/e/orders` with an unknown token; the response's status and
/// whether it closes the connection.
async fn refused(app: &TestApp, body: String) -> (u16, bool) {
    let res = app
        .client
        .post(app.url("/e/orders"))
        .bearer_auth("x".repeat(64))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let closes = res
        .headers()
        .get("connection")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    (res.status().as_u16(), closes)
}

async fn a_refused_call_keeps_its_connection_and_logs_its_size(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let small = json!({"pad": "y".repeat(1000)}).to_string();
    let (status, closes) = refused(&app, small.clone()).await;
    assert_eq!(status, 401);
    assert!(
        !closes,
        "a small refused body is read: the connection stays open"
    );

    let calls: Value = f.admin.get("/calls?status=401").await.json().await.unwrap();
    let row = &calls["calls"][0];
    assert_eq!(row["code"], "token_invalid");
    assert_eq!(row["request_bytes"], small.len() as i64);

    // Larger than what is read for a refusal: answered, and the connection closed.
    let (status, closes) = refused(&app, "1".repeat(200 * 1024)).await;
    assert_eq!(status, 401);
    assert!(
        closes,
        "a large refused body is not read: the connection closes"
    );
}

/// The clock runs: a mark is "at" `t` when it is within a few seconds after it.
fn near(mark: &Value, t: chrono::NaiveDateTime) -> bool {
    let mark = portico::clock::parse_rfc3339(mark.as_str().unwrap()).unwrap();
    mark >= portico::clock::truncate(t) && mark - t < TimeDelta::seconds(5)
}

async fn last_used_at(f: &Mapped) -> Value {
    let token = f
        .admin
        .read(&format!("/tokens/{}", f.tokens[0]["id"]))
        .await;
    token["last_used_at"].clone()
}

async fn push(app: &TestApp, f: &Mapped, n: i64) {
    let res = app.ingest("orders", f.value(0), json!({ "n": n })).await;
    assert_eq!(res.status(), 201);
}

async fn last_used_at_is_written_at_most_once_a_minute(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    assert_eq!(last_used_at(&f).await, Value::Null);
    let first = app.clock.now();
    push(&app, &f, 1).await;
    let marked = last_used_at(&f).await;
    assert!(near(&marked, first), "{marked} at {first}");

    app.clock.advance(TimeDelta::seconds(30));
    push(&app, &f, 2).await;
    assert_eq!(
        last_used_at(&f).await,
        marked,
        "within the minute: not written again"
    );

    app.clock.advance(TimeDelta::seconds(31));
    let later = app.clock.now();
    push(&app, &f, 3).await;
    let again = last_used_at(&f).await;
    assert!(
        near(&again, later),
        "a minute on, written again: {again} at {later}"
    );
}

on_each_backend!(
    a_refused_call_keeps_its_connection_and_logs_its_size_test,
    a_refused_call_keeps_its_connection_and_logs_its_size
);
on_each_backend!(
    last_used_at_is_written_at_most_once_a_minute_test,
    last_used_at_is_written_at_most_once_a_minute
);
