//! Data contracts: an endpoint's JSON Schema, enforced (a non-conforming body is
//! refused with `422 schema_violation` and stored nowhere) or observed (stored, its
//! call marked `conforms: false`); versions, audit, every instance from the next
//! request on; a draft learned from the endpoint's records, and a preview.

mod common;

use common::*;
use serde_json::{json, Value};

fn orders_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["order", "total"],
        "properties": {
            "order": {"type": "string", "pattern": "^A-[0-9]+$"},
            "total": {"type": "number", "minimum": 0}
        }
    })
}

async fn records(app: &TestApp, m: &Mapped) -> usize {
    let page: Value = app
        .client
        .get(app.url("/e/orders?limit=1000"))
        .bearer_auth(m.value(0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["records"].as_array().map_or(0, Vec::len)
}

/// The newest call of the endpoint, as the calls API shows it.
async fn last_call(m: &Mapped) -> Value {
    let calls: Value = m
        .admin
        .get(&format!("/calls?endpoint={}&limit=1", m.endpoint["id"]))
        .await
        .json()
        .await
        .unwrap();
    calls["calls"][0].clone()
}

async fn enforce_refuses_and_observe_marks(app: TestApp) {
    let m = app.mapped("orders", json!({}), &["shop-app"]).await;
    let id = m.endpoint["id"].as_i64().unwrap();
    let path = format!("/endpoints/{id}/schema");
    assert_problem(m.admin.get(&path).await, 404, "not_found").await;

    // A schema that does not compile is refused, naming what is wrong.
    let res = m
        .admin
        .put(
            &path,
            json!({"mode": "enforce", "schema": {"type": "whole number"}}),
        )
        .await;
    let p = assert_problem(res, 422, "validation_failed").await;
    assert!(
        p["detail"].as_str().unwrap().contains("draft 2020-12"),
        "{p}"
    );
    let res = m
        .admin
        .put(&path, json!({"mode": "strict", "schema": {}}))
        .await;
    assert!(res.status().is_client_error());

    let res = m
        .admin
        .put(&path, json!({"mode": "enforce", "schema": orders_schema()}))
        .await;
    assert_eq!(res.status(), 200);
    let put: Value = res.json().await.unwrap();
    assert_eq!(
        (put["version"].as_i64(), put["current"].as_bool()),
        (Some(1), Some(true))
    );

    let ok = app
        .ingest("orders", m.value(0), json!({"order": "A-1", "total": 3.5}))
        .await;
    assert_eq!(ok.status(), 201, "{:?}", app.backend);
    assert_eq!(last_call(&m).await["conforms"], true);
    let before = records(&app, &m).await;
    let res = app
        .ingest("orders", m.value(0), json!({"order": "nope", "total": -1}))
        .await;
    let refused = last_call(&m).await;
    let p = assert_problem(res, 422, "schema_violation").await;
    let errors = p["errors"].as_array().unwrap();
    let pointers: Vec<&str> = errors
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/order") && pointers.contains(&"/total"),
        "{p}"
    );
    assert!(errors
        .iter()
        .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    assert_eq!(refused["status"], 422);
    assert_eq!(refused["code"], "schema_violation");
    assert_eq!(refused["conforms"], false);
    assert_eq!(records(&app, &m).await, before, "nothing stored");
    // The viewer filters on it.
    let bad: Value = m
        .admin
        .get(&format!("/calls?endpoint={id}&conforms=false"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bad["calls"].as_array().unwrap().len(), 1, "{bad}");

    // Observe: stored and marked.
    let res = m
        .admin
        .put(&path, json!({"mode": "observe", "schema": orders_schema()}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["version"], 2);
    let res = app.ingest("orders", m.value(0), json!({"order": 7})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(last_call(&m).await["conforms"], false);
    assert_eq!(records(&app, &m).await, before + 1);

    // Versions are kept; taking the schema out of force leaves calls unchecked.
    let versions: Value = m
        .admin
        .get(&format!("{path}/versions"))
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<(i64, bool)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, vec![(2, true), (1, false)]);
    assert_eq!(m.admin.delete(&path).await.status(), 204);
    assert_problem(m.admin.delete(&path).await, 404, "not_found").await;
    let res = app
        .ingest("orders", m.value(0), json!({"anything": true}))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(last_call(&m).await["conforms"], Value::Null);

    // Every change is audited.
    let audit: Value = m
        .admin
        .get("/audit?action=endpoint.schema.put")
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .len();
    assert_eq!(entries, 2, "{audit}");
}

on_each_backend!(
    enforce_refuses_and_observe_marks_on_each_backend,
    enforce_refuses_and_observe_marks
);

async fn a_schema_change_holds_on_every_instance_from_the_next_request(app: TestApp) {
    let m = app.mapped("orders", json!({}), &["shop-app"]).await;
    let other = second_instance(&app).await;
    // The other instance has the endpoint's facts cached before the change.
    let res = other
        .ingest("orders", m.value(0), json!({"free": "form"}))
        .await;
    assert_eq!(res.status(), 201);
    let path = format!("/endpoints/{}/schema", m.endpoint["id"]);
    let res = m
        .admin
        .put(&path, json!({"mode": "enforce", "schema": orders_schema()}))
        .await;
    assert_eq!(res.status(), 200);
    let res = other
        .ingest("orders", m.value(0), json!({"free": "form"}))
        .await;
    assert_problem(res, 422, "schema_violation").await;
    assert_eq!(m.admin.delete(&path).await.status(), 204);
    let res = other
        .ingest("orders", m.value(0), json!({"free": "form"}))
        .await;
    assert_eq!(res.status(), 201);
}

on_each_backend!(
    a_schema_change_holds_on_every_instance_on_each_backend,
    a_schema_change_holds_on_every_instance_from_the_next_request
);

/// 1,000 varied records: what applications really send.
fn varied(i: usize) -> Value {
    let status = ["new", "paid", "shipped", "cancelled"][i % 4];
    let mut r = json!({
        "order": format!("A-{i}"),
        "total": if i.is_multiple_of(3) { json!(i) } else { json!(i as f64 + 0.25) },
        "status": status,
        "placed_at": format!("2026-11-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
        "customer": {"name": format!("customer {i}"), "vip": i.is_multiple_of(7)},
        "lines": (0..(i % 4)).map(|n| json!({"sku": format!("S{n}"), "qty": n + 1})).collect::<Vec<_>>(),
    });
    if i.is_multiple_of(5) {
        r["note"] = json!(null);
    }
    if i.is_multiple_of(11) {
        r["coupon"] = json!(format!("C{i}"));
    }
    r
}

async fn a_draft_of_real_traffic_accepts_all_of_it(app: TestApp) {
    let m = app.mapped("orders", json!({}), &["shop-app"]).await;
    let id = m.endpoint["id"].as_i64().unwrap();
    for i in 0..1000 {
        let res = app.ingest("orders", m.value(0), varied(i)).await;
        assert_eq!(res.status(), 201);
    }
    let res = m
        .admin
        .post(&format!("/endpoints/{id}/schema/draft"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let draft: Value = res.json().await.unwrap();
    assert_eq!(draft["records_read"], 1000);
    let schema = draft["schema"].clone();
    assert!(schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("order")));
    assert!(!schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("coupon")));
    // The preview checks the newest 1,000: the draft refuses none of them.
    let preview: Value = m
        .admin
        .post(
            &format!("/endpoints/{id}/schema/preview"),
            json!({"schema": schema}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            preview["records_checked"].as_i64(),
            preview["would_refuse"].as_i64()
        ),
        (Some(1000), Some(0)),
        "{preview}"
    );
    // A stricter edit would refuse some, with examples saying why.
    let mut strict = schema.clone();
    strict["required"] = json!(["order", "coupon"]);
    let preview: Value = m
        .admin
        .post(
            &format!("/endpoints/{id}/schema/preview"),
            json!({"schema": strict}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["would_refuse"], 1000 - 91, "{preview}");
    assert_eq!(preview["examples"].as_array().unwrap().len(), 5);
    // Saved, it is enforced; a draft of nothing accepts anything.
    let res = m
        .admin
        .put(
            &format!("/endpoints/{id}/schema"),
            json!({"mode": "enforce", "schema": schema}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.ingest("orders", m.value(0), varied(5000))
            .await
            .status(),
        201
    );
    let other = m.admin.create_endpoint("empty", json!({})).await;
    let draft: Value = m
        .admin
        .post(
            &format!("/endpoints/{}/schema/draft", other["id"]),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(draft["records_read"], 0);
}

on_each_backend!(
    a_draft_of_real_traffic_accepts_all_of_it_on_each_backend,
    a_draft_of_real_traffic_accepts_all_of_it
);

async fn hostile_schemas_and_bodies_are_bounded(app: TestApp) {
    let m = app
        .mapped(
            "orders",
            json!({"max_body_bytes": 4_000_000}),
            &["shop-app"],
        )
        .await;
    let path = format!("/endpoints/{}/schema", m.endpoint["id"]);
    // Catastrophic backtracking is not possible: patterns run on a linear engine.
    let res = m
        .admin
        .put(
            &path,
            json!({"mode": "enforce", "schema": {"type": "object", "properties": {
                       "s": {"type": "string", "pattern": "^(a+)+$"},
                       "x": {"type": "array", "items": {"type": "string"}}}}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let long = format!("{}!", "a".repeat(1_000_000));
    let res = app.ingest("orders", m.value(0), json!({"s": long})).await;
    let p = assert_problem(res, 422, "schema_violation").await;
    assert_eq!(p["errors"][0]["pointer"], "/s");
    // A huge array: ten errors, no more.
    let many: Vec<Value> = (0..200_000).map(|n| json!(n)).collect();
    let res = app.ingest("orders", m.value(0), json!({"x": many})).await;
    let p = assert_problem(res, 422, "schema_violation").await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 10);
    // A schema that nests without end, or is not JSON Schema at all, is refused.
    let mut deep = json!({"type": "object"});
    // 80 levels: within what a request body may nest, beyond what a schema may.
    for _ in 0..40 {
        deep = json!({"properties": {"a": deep}});
    }
    let res = m
        .admin
        .put(&path, json!({"mode": "enforce", "schema": deep}))
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = m
        .admin
        .put(
            &path,
            json!({"mode": "enforce", "schema": {"$ref": "https://example.com/s.json"}}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    // The instance still serves.
    assert_eq!(
        app.ingest("orders", m.value(0), json!({"s": "aaa"}))
            .await
            .status(),
        201
    );
}

on_each_backend!(
    hostile_schemas_and_bodies_are_bounded_on_each_backend,
    hostile_schemas_and_bodies_are_bounded
);

async fn the_schema_tab_drafts_checks_and_saves(app: TestApp) {
    use common::ui::{location, Ui};
    let m = app.mapped("orders", json!({}), &["shop-app"]).await;
    let id = m.endpoint["id"].as_i64().unwrap();
    for i in 0..30 {
        app.ingest("orders", m.value(0), varied(i)).await;
    }
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let tab = format!("/ui/endpoints/{id}/schema");
    let (status, html) = ui.get(&tab).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("No schema"));
    let (_, drafted) = ui.get(&format!("{tab}?draft=1")).await;
    assert!(drafted.contains("Drafted from 30 records"), "{drafted}");
    // A mistake comes back in the editor, with what was typed and why (422).
    let res = ui
        .submit(&tab, &[("schema", "{\"type\": 5"), ("mode", "enforce")])
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("is not JSON") && page.contains("{&quot;type&quot;: 5"),
        "{page}"
    );
    let strict = json!({"type": "object", "required": ["coupon"]}).to_string();
    let res = ui
        .submit(
            &format!("{tab}/preview"),
            &[("schema", &strict), ("mode", "enforce")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<strong>27</strong> of the last 30 records"),
        "{page}"
    );
    let res = ui
        .submit(&tab, &[("schema", &strict), ("mode", "observe")])
        .await;
    assert_eq!(res.status(), 303);
    let (_, saved) = ui.get(&location(&res)).await;
    assert!(saved.contains("Schema version 1 saved; it is in force (observe)."));
    assert!(saved.contains("Version 1: observe"));

    // Which application drifted, and since when: the viewer's share per token.
    for body in [
        json!({"coupon": "C1"}),
        json!({}),
        json!({"x": 1}),
        json!({}),
    ] {
        assert_eq!(app.ingest("orders", m.value(0), body).await.status(), 201);
    }
    let (_, viewer) = ui.get(&format!("/ui/viewer?endpoint={id}")).await;
    let table = viewer
        .split("id=\"conformance\"")
        .nth(1)
        .expect("the conformance table");
    let row = table.split("shop-app").nth(1).unwrap();
    let cells: Vec<&str> = row
        .split("<td class=\"num\">")
        .skip(1)
        .take(3)
        .map(|c| c.split('<').next().unwrap())
        .collect();
    assert_eq!(cells, vec!["4", "3", "75 %"], "{row}");
    let (_, unfiltered) = ui.get("/ui/viewer").await;
    assert!(
        !unfiltered.contains("id=\"conformance\""),
        "only asked of one endpoint"
    );
}

on_each_backend!(
    the_schema_tab_drafts_checks_and_saves_on_each_backend,
    the_schema_tab_drafts_checks_and_saves
);
