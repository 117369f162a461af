//! The endpoint data viewer's API: filters, keyset pages, detail, CSV/NDJSON
//! export and statistics; and the operations routes.

mod common;

use common::*;
use serde_json::{json, Value};

async fn ids_of(admin: &Session, query: &str) -> Vec<Value> {
    let res = admin.get(&format!("/calls{query}")).await;
    assert_eq!(res.status(), 200, "{query}");
    let page: Value = res.json().await.unwrap();
    page["calls"].as_array().unwrap().clone()
}

async fn calls_filter_by_every_field(app: TestApp) {
    let (admin, orders, stock, shop, erp) = app.traffic().await;
    assert_eq!(ids_of(&admin, "").await.len(), 6);
    let shop_calls = ids_of(&admin, &format!("?token={}", shop["id"])).await;
    assert_eq!(shop_calls.len(), 3);
    assert!(shop_calls.iter().all(|c| c["token_name"] == "shop-app"));
    assert_eq!(
        ids_of(
            &admin,
            &format!("?token={}&token={}", shop["id"], erp["id"])
        )
        .await
        .len(),
        5
    );
    assert_eq!(
        ids_of(&admin, &format!("?endpoint={}", stock["id"]))
            .await
            .len(),
        2
    );
    assert_eq!(
        ids_of(
            &admin,
            &format!(
                "?token={}&endpoint={}&method=POST&status=201",
                shop["id"], orders["id"]
            )
        )
        .await
        .len(),
        2
    );
    assert_eq!(ids_of(&admin, "?status=4xx").await.len(), 2);
    assert_eq!(
        ids_of(&admin, "?status=403").await[0]["code"],
        "token_not_mapped"
    );
    assert_eq!(ids_of(&admin, "?token_kind=unknown").await.len(), 1);
    assert_eq!(ids_of(&admin, "?method=GET").await.len(), 0);
    let alice = ids_of(&admin, "?q=alice%20smith").await;
    assert_eq!(alice.len(), 1, "text search is case-insensitive");
    assert_eq!(ids_of(&admin, "?q=x-1").await.len(), 2);
    assert_eq!(
        ids_of(&admin, "?q=%25").await.len(),
        0,
        "LIKE wildcards are literal"
    );
    let future = (chrono::Utc::now() + chrono::TimeDelta::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(ids_of(&admin, &format!("?since={future}")).await.len(), 0);
    assert_eq!(ids_of(&admin, &format!("?until={future}")).await.len(), 6);
    for (bad, field) in [
        ("?status=abc", "status"),
        ("?status=700", "status"),
        ("?limit=0", "limit"),
        ("?since=yesterday", "since"),
        ("?token=x", "token"),
        ("?token_kind=robot", "token_kind"),
    ] {
        let res = admin.get(&format!("/calls{bad}")).await;
        assert_eq!(
            assert_problem(res, 422, "validation_failed").await["field"],
            field,
            "{bad}"
        );
    }
}

async fn calls_page_newest_first_and_show_detail(app: TestApp) {
    let (admin, ..) = app.traffic().await;
    let first: Value = admin.get("/calls?limit=4").await.json().await.unwrap();
    let calls = first["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 4);
    assert!(
        calls
            .windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
        "newest first"
    );
    let second: Value = admin
        .get(&format!("/calls?limit=4&cursor={}", first["next"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["calls"].as_array().unwrap().len(), 2);
    assert!(second["next"].is_null());
    let oldest = &second["calls"][1];
    let detail: Value = admin
        .get(&format!("/calls/{}", oldest["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["payload"], json!({"customer": "Alice Smith"}));
    assert_eq!(detail["token_name"], "shop-app");
    let refused = ids_of(&admin, "?status=401").await;
    let detail: Value = admin
        .get(&format!("/calls/{}", refused[0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert!(detail["payload"].is_null());
    assert_problem(admin.get("/calls/999999").await, 404, "not_found").await;
}

async fn export_as_csv_and_ndjson(app: TestApp) {
    let (admin, _, _, shop, _) = app.traffic().await;
    let res = admin
        .get(&format!("/calls/export?format=csv&token={}", shop["id"]))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "token_name") && headers.iter().any(|h| h == "status"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let name_col = headers.iter().position(|h| h == "token_name").unwrap();
    assert!(rows.iter().all(|r| &r[name_col] == "shop-app"));

    let res = admin.get("/calls/export?format=ndjson").await;
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        assert_problem(
            admin.get("/calls/export?format=xml").await,
            422,
            "validation_failed"
        )
        .await["field"],
        "format"
    );
}

async fn stats_count_calls_per_token_and_endpoint(app: TestApp) {
    let (admin, orders, stock, shop, erp) = app.traffic().await;
    let by_token: Value = admin
        .get("/stats?by=token&bucket=minute")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_token["bucket_seconds"], 60);
    let series = by_token["series"].as_array().unwrap();
    let total_of = |id: &Value| {
        series
            .iter()
            .filter(|s| s["id"] == *id)
            .map(|s| s["total"].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(total_of(&shop["id"]), 3);
    assert_eq!(total_of(&erp["id"]), 2);
    let shop_series = series.iter().find(|s| s["id"] == shop["id"]).unwrap();
    assert_eq!(shop_series["name"], "shop-app");
    let errors: i64 = shop_series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["errors"].as_i64().unwrap())
        .sum();
    assert_eq!(errors, 1);
    let unknown = series.iter().find(|s| s["kind"] == "unknown").unwrap();
    assert_eq!(unknown["total"], 1);

    let by_endpoint: Value = admin
        .get("/stats?by=endpoint&bucket=hour")
        .await
        .json()
        .await
        .unwrap();
    let series = by_endpoint["series"].as_array().unwrap();
    let total_of = |id: &Value| {
        series.iter().find(|s| s["id"] == *id).unwrap()["total"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(total_of(&orders["id"]), 4);
    assert_eq!(total_of(&stock["id"]), 2);
    let empty: Value = admin
        .get("/stats?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z")
        .await
        .json()
        .await
        .unwrap();
    assert!(empty["series"].as_array().unwrap().is_empty());
    for (bad, field) in [
        ("?by=user", "by"),
        ("?bucket=week", "bucket"),
        (
            "?since=2030-01-01T00:00:00Z&until=2029-01-01T00:00:00Z",
            "since",
        ),
        ("?bucket=minute&since=2000-01-01T00:00:00Z", "bucket"),
    ] {
        let res = admin.get(&format!("/stats{bad}")).await;
        assert_eq!(
            assert_problem(res, 422, "validation_failed").await["field"],
            field,
            "{bad}"
        );
    }
}

async fn health_readiness_and_metrics(app: TestApp) {
    let get = |p: &'static str| app.client.get(app.url(p)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let (admin, ..) = app.traffic().await;
    drop(admin);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(
            "portico_ingest_requests_total{endpoint=\"orders\",method=\"POST\",status=\"201\"} 3"
        ),
        "{metrics}"
    );
    assert!(metrics.contains(
        "portico_ingest_requests_total{endpoint=\"stock\",method=\"POST\",status=\"403\"} 1"
    ));
    assert!(metrics.contains("portico_ingest_duration_seconds_count 6"));
    let res = get("/no/such/route").await.unwrap();
    assert_problem(res, 404, "not_found").await;
    let id = get("/healthz").await.unwrap().headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
}

/// A flood of identical refusals is one row counting them; allowed calls never fold.
async fn repeated_refusals_fold_into_one_row(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin.create_endpoint("flood", json!({})).await;
    let ok = admin.create_token("steady").await;
    admin.map(&ok["id"], &ep["id"], "POST", true).await;
    let unknown = "b".repeat(64);
    for _ in 0..5 {
        let res = app.ingest("flood", &unknown, json!({})).await;
        assert_eq!(res.status(), 401);
    }
    for _ in 0..3 {
        let res = app
            .ingest("flood", ok["token"].as_str().unwrap(), json!({"n": 1}))
            .await;
        assert_eq!(res.status(), 201);
    }
    let refused = ids_of(&admin, "?token_kind=unknown").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["repeats"], 5);
    assert_eq!(refused[0]["code"], "token_invalid");
    let allowed = ids_of(&admin, &format!("?token={}", ok["id"])).await;
    assert_eq!(allowed.len(), 3);
    assert!(allowed.iter().all(|c| c["repeats"] == 1));

    // Past the window a repeat starts a new row; stats count every call.
    app.clock.advance(chrono::TimeDelta::seconds(2));
    app.ingest("flood", &unknown, json!({})).await;
    let refused = ids_of(&admin, "?token_kind=unknown").await;
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0]["repeats"], 1);
    let stats: Value = admin
        .get("/stats?by=endpoint&bucket=day")
        .await
        .json()
        .await
        .unwrap();
    let total: i64 = stats["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == ep["id"])
        .map(|s| s["total"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 9, "5 + 1 refused and 3 stored calls: {stats}");
    // The export carries the count too.
    let csv = admin
        .get("/calls/export?token_kind=unknown")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.lines().next().unwrap().contains("repeats"), "{csv}");
}

on_each_backend!(
    repeated_refusals_fold_into_one_row_test,
    repeated_refusals_fold_into_one_row
);
on_each_backend!(
    calls_filter_by_every_field_test,
    calls_filter_by_every_field
);
on_each_backend!(
    calls_page_newest_first_and_show_detail_test,
    calls_page_newest_first_and_show_detail
);
on_each_backend!(export_as_csv_and_ndjson_test, export_as_csv_and_ndjson);
on_each_backend!(
    stats_count_calls_per_token_and_endpoint_test,
    stats_count_calls_per_token_and_endpoint
);
on_each_backend!(
    health_readiness_and_metrics_test,
    health_readiness_and_metrics
);

/// Posts `raw` to /e/orders as `token`'s application; the newest call it made.
async fn post_raw(app: &TestApp, admin: &Session, token: &Value, raw: &'static str) -> Value {
    let res = app
        .client
        .post(app.url("/e/orders"))
        .bearer_auth(token["token"].as_str().unwrap())
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    ids_of(admin, "?limit=1").await.remove(0)
}

/// A payload is valid JSON kept byte for byte: the call detail passes it on as
/// stored, even numbers no float can hold (found by the ingest fuzz target).
async fn call_detail_shows_the_payload_exactly_as_received(app: TestApp) {
    let (admin, _, _, shop, _) = app.traffic().await;
    let raw = r#"{"id": 123456789012345678901234567890, "ratio": 5555E5551, "note": "kept"}"#;
    let newest = &post_raw(&app, &admin, &shop, raw).await;
    let res = admin.get(&format!("/calls/{}", newest["id"])).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains(&format!("\"payload\":{raw}")), "{text}");
    // The UI page shows it too (as stored, since no parsed value can hold it).
    let page = admin
        .client
        .get(app.url(&format!("/ui/viewer/calls/{}", newest["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("5555E5551"), "{page}");

    // Laid out for reading, every token as sent: key order and number text kept.
    let raw = r#"{"zeta":1,"alpha":{"price":2.50,"list":[]}}"#;
    let newest = &post_raw(&app, &admin, &shop, raw).await;
    let detail = format!("/ui/viewer/calls/{}", newest["id"]);
    let from = "/ui/viewer?token=1&status=2xx";
    let page = |session: &Session, referer: Option<String>| {
        let mut req = session.client.get(app.url(&detail));
        if let Some(r) = referer {
            req = req.header("referer", r);
        }
        async move {
            let html = req.send().await.unwrap().text().await.unwrap();
            html.replace("&quot;", "\"")
                .replace("&#x2F;", "/")
                .replace("&amp;", "&")
        }
    };
    let html = page(&admin, Some(app.url(from))).await;
    let shown = "{\n  \"zeta\": 1,\n  \"alpha\": {\n    \"price\": 2.50,\n    \"list\": []\n  }\n}";
    assert!(html.contains(shown), "{html}");
    // It links what it names, and leads back to the filtered viewer.
    assert!(
        html.contains(&format!("href=\"{from}\" id=\"back-to-viewer\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<a href=\"/ui/tokens/{}\">shop-app</a>",
            shop["id"]
        )),
        "{html}"
    );
    assert!(html.contains("<a href=\"/ui/endpoints/"), "{html}");
    // Not back to a page that is not the viewer; analysts get no links to admin pages.
    let html = page(&admin, Some(app.url("/ui/tokens"))).await;
    assert!(
        html.contains("href=\"/ui/viewer\" id=\"back-to-viewer\""),
        "{html}"
    );
    let (_, analyst) = app.analyst().await;
    let html = page(&analyst, None).await;
    assert!(
        html.contains(shown) && !html.contains("href=\"/ui/tokens/"),
        "{html}"
    );
}

on_each_backend!(
    call_detail_shows_the_payload_exactly_as_received_test,
    call_detail_shows_the_payload_exactly_as_received
);
