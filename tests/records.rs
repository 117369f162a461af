//! Pushing and reading records: shapes, paging, idempotency, public endpoints,
//! the `access_token` parameter, retention (hidden on read; the sweep deletes), and
//! what the call log keeps.

mod common;

use chrono::TimeDelta;
use common::*;
use serde_json::{json, Value};

async fn get_json(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn post_returns_id_and_location_and_get_reads_it_back(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let res = app
        .ingest(
            "orders",
            f.value(0),
            json!({"order": 42, "items": ["a", "b"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/e/orders/{}", body["id"]));
    assert!(body["received_at"].as_str().unwrap().ends_with('Z'));
    let (status, one) = get_json(&app, &location, f.value(0)).await;
    assert_eq!(status, 200);
    assert_eq!(
        one,
        json!({"id": body["id"], "received_at": body["received_at"], "data": {"order": 42, "items": ["a", "b"]}})
    );
    let (status, _) = get_json(&app, "/e/orders/999999", f.value(0)).await;
    assert_eq!(status, 404);
    let (status, _) = get_json(&app, "/e/orders/not-an-id", f.value(0)).await;
    assert_eq!(status, 404);
}

async fn list_is_oldest_first_with_keyset_pages(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    for n in 0..5 {
        assert_eq!(
            app.ingest("orders", f.value(0), json!({"n": n}))
                .await
                .status(),
            201
        );
    }
    let (status, page) = get_json(&app, "/e/orders?limit=2", f.value(0)).await;
    assert_eq!(status, 200);
    let ns: Vec<i64> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![0, 1]);
    let mut seen = ns;
    let mut next = page["next"].clone();
    while !next.is_null() {
        let (_, page) =
            get_json(&app, &format!("/e/orders?limit=2&after={next}"), f.value(0)).await;
        seen.extend(
            page["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["data"]["n"].as_i64().unwrap()),
        );
        next = page["next"].clone();
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    let (_, all) = get_json(&app, "/e/orders", f.value(0)).await;
    assert_eq!(all["records"].as_array().unwrap().len(), 5);
    assert!(all["next"].is_null());
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "after=x",
        "since=yesterday",
    ] {
        let res = app
            .client
            .get(app.url(&format!("/e/orders?{bad}")))
            .bearer_auth(f.value(0))
            .send()
            .await
            .unwrap();
        assert_problem(res, 400, "invalid_parameter").await;
    }
}

async fn since_and_until_bound_the_list(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    app.ingest("orders", f.value(0), json!({"n": "old"})).await;
    app.clock.advance(TimeDelta::hours(2));
    let cut = (chrono::Utc::now() + TimeDelta::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    app.ingest("orders", f.value(0), json!({"n": "new"})).await;
    let (_, after) = get_json(&app, &format!("/e/orders?since={cut}"), f.value(0)).await;
    assert_eq!(after["records"].as_array().unwrap().len(), 1);
    assert_eq!(after["records"][0]["data"]["n"], "new");
    let (_, before) = get_json(&app, &format!("/e/orders?until={cut}"), f.value(0)).await;
    assert_eq!(before["records"][0]["data"]["n"], "old");
    assert_eq!(before["records"].as_array().unwrap().len(), 1);
}

async fn idempotency_key_replays_the_first_response(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let send = |key: &'static str, body: Value| {
        app.client
            .post(app.url("/e/orders"))
            .bearer_auth(f.value(0))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first: Value = send("order-7", json!({"n": 7}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = send("order-7", json!({"n": 7})).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_problem(
        send("order-7", json!({"n": 8})).await.unwrap(),
        409,
        "idempotency_key_reused",
    )
    .await;
    // Concurrent repeats of a new key store one record.
    let (a, b, c, d) = tokio::join!(
        send("burst", json!({"n": 9})),
        send("burst", json!({"n": 9})),
        send("burst", json!({"n": 9})),
        send("burst", json!({"n": 9}))
    );
    let mut ids = Vec::new();
    for res in [a, b, c, d] {
        let res = res.unwrap();
        assert_eq!(res.status(), 201);
        ids.push(res.json::<Value>().await.unwrap()["id"].clone());
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "every repeat names the same record: {ids:?}"
    );
    let (_, list) = get_json(&app, "/e/orders", f.value(0)).await;
    assert_eq!(
        list["records"].as_array().unwrap().len(),
        2,
        "one record per key"
    );
    // After 24 hours the key may be used afresh.
    app.clock.advance(TimeDelta::hours(25));
    let later: Value = send("order-7", json!({"n": 8}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(later["id"], first["id"]);
    let bad = app
        .client
        .post(app.url("/e/orders"))
        .bearer_auth(f.value(0))
        .header("Idempotency-Key", "")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(bad, 400, "invalid_idempotency_key").await;
}

async fn access_token_parameter_works_and_is_never_logged(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let res = app
        .client
        .get(app.url(&format!("/e/orders?limit=5&access_token={}", f.value(0))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let calls: Value = f.admin.get("/calls?limit=1").await.json().await.unwrap();
    let path = calls["calls"][0]["path"].as_str().unwrap();
    assert_eq!(path, "/e/orders?limit=5&access_token=[redacted]");
    assert_eq!(calls["calls"][0]["token_kind"], "secondary");
}

async fn public_endpoint_needs_no_token(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin
        .create_endpoint("public", json!({"auth": "none"}))
        .await;
    assert!(ep["primary_tokens"].as_object().unwrap().is_empty());
    let res = app
        .client
        .post(app.url("/e/public"))
        .json(&json!({"hello": "world"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app.client.get(app.url("/e/public")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let calls: Value = admin.get("/calls").await.json().await.unwrap();
    assert!(calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["token_kind"] == "none"));
    let res: Value = admin
        .patch(
            &format!("/endpoints/{}", ep["id"]),
            json!({"auth": "token"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let tokens = res["primary_tokens"].as_object().unwrap();
    assert!(
        tokens.contains_key("POST") && tokens.contains_key("GET"),
        "switching to token auth generates primaries"
    );
    let res = app
        .client
        .post(app.url("/e/public"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "token_missing").await;
}

async fn retention_hides_records_past_it(app: TestApp) {
    let f = app
        .mapped("orders", json!({"retention_days": 1}), &["shop-app"])
        .await;
    let old: Value = app
        .ingest("orders", f.value(0), json!({"n": "old"}))
        .await
        .json()
        .await
        .unwrap();
    app.clock.advance(TimeDelta::days(2));
    app.ingest("orders", f.value(0), json!({"n": "new"})).await;
    let (_, list) = get_json(&app, "/e/orders", f.value(0)).await;
    let kept: Vec<&Value> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["data"]["n"])
        .collect();
    assert_eq!(kept, vec!["new"]);
    let (status, _) = get_json(&app, &format!("/e/orders/{}", old["id"]), f.value(0)).await;
    assert_eq!(status, 404);

    // The sweep deletes what retention hides, and nothing else.
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    let now = app.clock.now();
    let removed = tokio::task::spawn_blocking(move || {
        let pool = portico::db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        portico::operations::upkeep::sweep_once(&mut conn, now).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(removed, 1);
    let (_, list) = get_json(&app, "/e/orders", f.value(0)).await;
    assert_eq!(list["records"].as_array().unwrap().len(), 1);
}

async fn call_log_records_who_what_and_how_much(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let res = app
        .client
        .post(app.url("/e/orders"))
        .bearer_auth(f.value(0))
        .header("user-agent", "shop-app/1.0")
        .json(&json!({"order": 1}))
        .send()
        .await
        .unwrap();
    let created: Value = res.json().await.unwrap();
    let calls: Value = f
        .admin
        .get(&format!("/calls?token={}", f.tokens[0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    let c = &calls["calls"][0];
    assert_eq!(c["status"], 201);
    assert_eq!(c["method"], "POST");
    assert_eq!(c["endpoint_id"], f.endpoint["id"]);
    assert_eq!(c["token_kind"], "secondary");
    assert_eq!(c["token_name"], "shop-app");
    assert_eq!(c["record_id"], created["id"]);
    assert_eq!(c["remote_addr"], "127.0.0.1");
    assert_eq!(c["user_agent"], "shop-app/1.0");
    assert_eq!(c["request_bytes"], 11);
    assert!(c["response_bytes"].as_i64().unwrap() > 10);
    assert!(c["duration_us"].as_i64().unwrap() > 0);
    assert!(c["code"].is_null());
    let token: Value = f
        .admin
        .get(&format!("/tokens/{}", f.tokens[0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        token["last_used_at"].is_string(),
        "last_used_at is maintained"
    );
    let detail: Value = f
        .admin
        .get(&format!("/calls/{}", c["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["payload"], json!({"order": 1}));
}

on_each_backend!(
    post_returns_id_and_location_and_get_reads_it_back_test,
    post_returns_id_and_location_and_get_reads_it_back
);
on_each_backend!(
    list_is_oldest_first_with_keyset_pages_test,
    list_is_oldest_first_with_keyset_pages
);
on_each_backend!(
    since_and_until_bound_the_list_test,
    since_and_until_bound_the_list
);
on_each_backend!(
    idempotency_key_replays_the_first_response_test,
    idempotency_key_replays_the_first_response
);
on_each_backend!(
    access_token_parameter_works_and_is_never_logged_test,
    access_token_parameter_works_and_is_never_logged
);
on_each_backend!(
    public_endpoint_needs_no_token_test,
    public_endpoint_needs_no_token
);
on_each_backend!(
    retention_hides_records_past_it_test,
    retention_hides_records_past_it
);
on_each_backend!(
    call_log_records_who_what_and_how_much_test,
    call_log_records_who_what_and_how_much
);
