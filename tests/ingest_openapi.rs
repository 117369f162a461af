//! The ingest API as `openapi/openapi.json` describes it: every status and problem
//! code documented for an `/e/...` operation is answered over HTTP (but the few a
//! client cannot provoke on purpose, proven elsewhere), with the headers the
//! document promises; nothing undocumented is answered.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{json, Value};

/// (method, path template, status, problem code or "" for a success) of one answer.
type Answer = (String, String, u16, String);

/// Every (operation, status, code) the document states for `/e/...`.
fn documented_ingest_answers(doc: &Value) -> BTreeSet<Answer> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/e/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let status: u16 = status.parse().unwrap();
                let codes = match response.get("x-problem-codes") {
                    Some(codes) => codes.as_array().unwrap().clone(),
                    None => vec![json!("")],
                };
                for code in codes {
                    let code = code.as_str().unwrap().to_owned();
                    out.insert((method.to_uppercase(), path.clone(), status, code));
                }
            }
        }
    }
    out
}

/// Answers not provoked here, with where each is proven.
const NOT_PROVOKED_HERE: &[(&str, &str)] = &[
    ("service_unavailable", "tests/outage.rs (the database away)"),
    ("internal_error", "only a bug answers it"),
    (
        "invalid_body",
        "a body that breaks off in transit; HTTP/1.1 drops the connection before the answer",
    ),
];

/// What the ingest scenario has to work with: tokens in every state the access
/// rules refuse, mapped onto `orders` (POST, GET, DELETE) unless they are the one
/// that is not, and the id of a stored record.
struct Cast {
    good: String,
    refused: Vec<(&'static str, String)>,
    limited: String,
    expiring: String,
    record: i64,
}

async fn new_token(admin: &Session, name: &str, extra: Value) -> (Value, String) {
    let mut body = json!({"name": name});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let res = admin.post("/tokens", body).await;
    assert_eq!(res.status(), 201, "token {name}");
    let t: Value = res.json().await.unwrap();
    (t["id"].clone(), t["token"].as_str().unwrap().to_owned())
}

async fn map_all(admin: &Session, token: &Value, endpoint: &Value, enabled: bool) {
    for method in ["POST", "GET", "DELETE"] {
        admin.map(token, &endpoint["id"], method, enabled).await;
    }
}

async fn cast(app: &TestApp, admin: &Session) -> Cast {
    let limits = json!({"allow_delete": true, "max_body_bytes": 1024});
    let orders = admin.create_endpoint("orders", limits).await;
    let off = admin
        .create_endpoint("off", json!({"allow_delete": true}))
        .await;
    admin.create_endpoint("frozen", json!({})).await;
    let strict = admin.create_endpoint("strict", json!({})).await;
    let schema = json!({"mode": "enforce", "schema": {"type": "object", "required": ["sku"]}});
    let res = admin
        .put(&format!("/endpoints/{}/schema", strict["id"]), schema)
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (id, good) = new_token(admin, "good", json!({})).await;
    for endpoint in [&orders, &off] {
        map_all(admin, &id, endpoint, true).await;
    }
    admin.map(&id, &strict["id"], "POST", true).await;
    let res = admin
        .patch(
            &format!("/endpoints/{}", off["id"]),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let soon = (chrono::Utc::now() + chrono::TimeDelta::minutes(5)).to_rfc3339();
    let mut made = Vec::new();
    for (name, extra, mapped) in [
        ("disabled", json!({"enabled": false}), Some(true)),
        ("unmapped", json!({}), None),
        ("mapping-off", json!({}), Some(false)),
        (
            "fenced",
            json!({"ip_allowlist": ["10.0.0.0/8"]}),
            Some(true),
        ),
        ("limited", json!({"rate_limit_per_minute": 1}), Some(true)),
        ("expiring", json!({"expires_at": soon}), Some(true)),
    ] {
        let (id, value) = new_token(admin, name, extra).await;
        if let Some(enabled) = mapped {
            map_all(admin, &id, &orders, enabled).await;
        }
        made.push(value);
    }
    let created = app.ingest("orders", &good, json!({"n": 0})).await;
    assert_eq!(created.status(), 201);
    let record = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let refused = [
        "token_disabled",
        "token_not_mapped",
        "mapping_disabled",
        "ip_not_allowed",
    ]
    .into_iter()
    .zip(made.drain(..4))
    .collect();
    Cast {
        good,
        refused,
        limited: made.remove(0),
        expiring: made.remove(0),
        record,
    }
}

/// Sends `method` to `template` filled with `slug` and `id`, with `token` as a
/// bearer (and on POST a JSON body, unless `tweak` gives one).
async fn ask(
    app: &TestApp,
    (method, template): (&str, &str),
    slug: &str,
    id: i64,
    token: Option<&str>,
    tweak: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> reqwest::Response {
    let path = template
        .replace("{slug}", slug)
        .replace("{id}", &id.to_string());
    let mut req = app.client.request(method.parse().unwrap(), app.url(&path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let mut req = tweak(req).build().unwrap();
    if method == "POST" && req.body().is_none() {
        let json = reqwest::header::HeaderValue::from_static("application/json");
        req.headers_mut()
            .insert(reqwest::header::CONTENT_TYPE, json);
        *req.body_mut() = Some(r#"{"n":1}"#.into());
    }
    app.client.execute(req).await.unwrap()
}

/// Notes `res` as an answer of (method, template), checking what the document
/// promises of its status: problem+json, `WWW-Authenticate`, `Retry-After`, `Location`.
async fn note(
    answered: &mut BTreeSet<Answer>,
    (method, template): (&str, &str),
    res: reqwest::Response,
) -> Value {
    let status = res.status().as_u16();
    let has = |name: &str| res.headers().contains_key(name);
    match status {
        201 => assert!(has("location"), "{method} {template}: Location"),
        401 => assert!(has("www-authenticate"), "{method} {template}"),
        429 | 503 => assert!(has("retry-after"), "{method} {template}"),
        _ => {}
    }
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = match status {
        204 => Value::Null,
        _ => res.json().await.unwrap(),
    };
    let code = match status >= 400 {
        true => {
            assert!(kind.starts_with("application/problem+json"), "{kind}");
            body["code"].as_str().unwrap().to_owned()
        }
        false => String::new(),
    };
    let answer = (method.into(), template.into(), status, code);
    answered.insert(answer);
    body
}

/// The refusals of the access rules, on every ingest operation.
async fn access_refusals(app: &TestApp, cast: &Cast, answered: &mut BTreeSet<Answer>) {
    let invalid = "a".repeat(64);
    for (method, template, _) in portico::api::ingest_doc::OPERATIONS {
        let op = (method.to_uppercase(), *template);
        let op = (op.0.as_str(), op.1);
        let mut asks: Vec<(&str, &str, Option<&str>)> = vec![
            ("endpoint_not_found", "nope", Some(&cast.good)),
            ("endpoint_disabled", "off", Some(&cast.good)),
            ("token_missing", "orders", None),
            ("token_invalid", "orders", Some(&invalid)),
        ];
        for (code, token) in &cast.refused {
            asks.push((code, "orders", Some(token)));
        }
        for (code, slug, token) in asks {
            let res = ask(app, op, slug, cast.record, token, |r| r).await;
            let body = note(answered, op, res).await;
            assert_eq!(body["code"], code, "{op:?} {body}");
        }
        // The token's one request a minute: used up here (again, should the
        // minute have turned between the two).
        for _ in 0..3 {
            let burn = ask(
                app,
                ("GET", "/e/{slug}"),
                "orders",
                0,
                Some(&cast.limited),
                |r| r,
            );
            drop(burn.await);
            let res = ask(app, op, "orders", cast.record, Some(&cast.limited), |r| r).await;
            if res.status() == 429 {
                note(answered, op, res).await;
                break;
            }
        }
    }
}

/// `POST /e/{slug}`: stored, replayed, and what only it refuses.
async fn post_answers(app: &TestApp, cast: &Cast, answered: &mut BTreeSet<Answer>) {
    let good = Some(cast.good.as_str());
    let post = ("POST", "/e/{slug}");
    let key = |k: &'static str| move |r: reqwest::RequestBuilder| r.header("Idempotency-Key", k);
    let res = ask(app, post, "orders", 0, good, key("k-1")).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let first = note(answered, post, res).await;
    assert_eq!(location, format!("/e/orders/{}", first["id"]));
    assert!(first["received_at"].is_string(), "{first}");
    let res = ask(app, post, "orders", 0, good, key("k-1")).await;
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(
        note(answered, post, res).await,
        first,
        "a replay answers the first response"
    );
    let other = |r: reqwest::RequestBuilder| r.header("Idempotency-Key", "k-1").json(&json!(2));
    let body = |b: &'static str, kind: &'static str| {
        move |r: reqwest::RequestBuilder| r.header("content-type", kind).body(b)
    };
    let large = "[".to_owned() + &"0,".repeat(600) + "0]";
    for (res, code) in [
        (
            ask(app, post, "orders", 0, good, other).await,
            "idempotency_key_reused",
        ),
        (
            ask(app, post, "orders", 0, good, key("has space")).await,
            "invalid_idempotency_key",
        ),
        (
            ask(app, post, "orders", 0, good, body("{", "application/json")).await,
            "invalid_json",
        ),
        (
            ask(app, post, "orders", 0, good, body("{}", "text/plain")).await,
            "unsupported_media_type",
        ),
        (
            ask(app, post, "orders", 0, good, |r| r.body(large)).await,
            "payload_too_large",
        ),
        (
            ask(app, post, "strict", 0, good, |r| r).await,
            "schema_violation",
        ),
    ] {
        assert_eq!(note(answered, post, res).await["code"], code);
    }
}

/// Reading and deleting: successes and what only they refuse.
async fn read_and_delete_answers(app: &TestApp, cast: &Cast, answered: &mut BTreeSet<Answer>) {
    let good = Some(cast.good.as_str());
    let list = ("GET", "/e/{slug}");
    let page = note(
        answered,
        list,
        ask(app, list, "orders", 0, good, |r| r.query(&[("limit", "1")])).await,
    )
    .await;
    assert_eq!(page["records"][0]["id"], cast.record, "{page}");
    assert!(page["next"].is_i64(), "more follow: {page}");
    let res = ask(app, list, "orders", 0, good, |r| r.query(&[("limit", "0")])).await;
    assert_eq!(note(answered, list, res).await["code"], "invalid_parameter");

    let one = ("GET", "/e/{slug}/{id}");
    let record = note(
        answered,
        one,
        ask(app, one, "orders", cast.record, good, |r| r).await,
    )
    .await;
    assert_eq!(
        (record["id"].as_i64(), &record["data"]),
        (Some(cast.record), &json!({"n": 0}))
    );
    let res = ask(app, one, "orders", 999_999, good, |r| r).await;
    assert_eq!(note(answered, one, res).await["code"], "not_found");

    for op in [("DELETE", "/e/{slug}/{id}"), ("DELETE", "/e/{slug}/all")] {
        let res = ask(app, op, "frozen", cast.record, good, |r| r).await;
        assert_eq!(note(answered, op, res).await["code"], "method_not_allowed");
    }
    let delete = ("DELETE", "/e/{slug}/{id}");
    let res = ask(app, delete, "orders", 999_999, good, |r| r).await;
    assert_eq!(note(answered, delete, res).await["code"], "not_found");
    note(
        answered,
        delete,
        ask(app, delete, "orders", cast.record, good, |r| r).await,
    )
    .await;
    let all = ("DELETE", "/e/{slug}/all");
    let deleted = note(answered, all, ask(app, all, "orders", 0, good, |r| r).await).await;
    assert!(deleted["deleted"].as_u64().unwrap() >= 1, "{deleted}");
}

/// Both ways to present a token, and the header's precedence; a public endpoint.
async fn token_ways(app: &TestApp, admin: &Session, cast: &Cast) {
    let url = app.url("/e/orders");
    let res = app
        .client
        .get(&url)
        .query(&[("access_token", &cast.good)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the access_token parameter");
    let res = app
        .client
        .get(&url)
        .query(&[("access_token", &cast.good)])
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "token_missing").await;
    admin.create_endpoint("open", json!({"auth": "none"})).await;
    let res = app.client.get(app.url("/e/open")).send().await.unwrap();
    assert_eq!(res.status(), 200, "a public endpoint needs no token");
}

async fn every_documented_ingest_answer_is_given(app: TestApp) {
    let doc: Value = serde_json::from_str(&portico::api::openapi::document()).unwrap();
    let documented = documented_ingest_answers(&doc);
    let admin = app.admin().await;
    let cast = cast(&app, &admin).await;
    let mut answered = BTreeSet::new();
    access_refusals(&app, &cast, &mut answered).await;
    post_answers(&app, &cast, &mut answered).await;
    read_and_delete_answers(&app, &cast, &mut answered).await;
    token_ways(&app, &admin, &cast).await;
    app.clock.advance(chrono::TimeDelta::minutes(6));
    for (method, template, _) in portico::api::ingest_doc::OPERATIONS {
        let op = (method.to_uppercase(), *template);
        let op = (op.0.as_str(), op.1);
        let res = ask(&app, op, "orders", 1, Some(&cast.expiring), |r| r).await;
        assert_eq!(note(&mut answered, op, res).await["code"], "token_expired");
    }
    let undocumented: Vec<_> = answered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "answered, not documented: {undocumented:#?}"
    );
    let missing: Vec<_> = documented
        .difference(&answered)
        .filter(|(_, _, _, code)| !NOT_PROVOKED_HERE.iter().any(|(c, _)| c == code))
        .collect();
    assert!(
        missing.is_empty(),
        "documented, never answered: {missing:#?}"
    );
}

on_each_backend!(
    ingest_answers_are_as_documented,
    every_documented_ingest_answer_is_given
);
