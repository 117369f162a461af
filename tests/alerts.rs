//! Alerts (issue 16, point 3): targets registered over the API get the events they
//! subscribe to, signed per Standard Webhooks, retried with backoff, every attempt
//! listed; a slow target never holds up ingest; the secret is shown once only.
//! Restarts and several instances: tests/alerts_instances.rs.

mod alerts_support;
mod common;

use std::time::Duration;

use alerts_support::{count, raise, settings, Receiver};
use common::*;
use portico::domain::alert::Backoff;
use portico::domain::event::EventKind;
use serde_json::{json, Value};

/// Registers a target for `events` at `url`: (its JSON, its secret).
async fn target(admin: &Session, name: &str, url: &str, events: &[&str]) -> (Value, String) {
    let res = admin
        .post(
            "/alert-targets",
            json!({"name": name, "url": url, "events": events}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (body, secret)
}

/// Waits until target `id` has a delivery in `state`; its deliveries.
async fn deliveries_once(admin: &Session, id: &Value, state: &str) -> Vec<Value> {
    for _ in 0..300 {
        let page = admin.read(&format!("/alert-targets/{id}/deliveries")).await;
        let list = page["deliveries"].as_array().unwrap().clone();
        if list.iter().any(|d| d["state"] == state) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {state} delivery for target {id}");
}

async fn a_subscribed_target_gets_the_event_signed(app: TestApp) {
    let admin = app.admin().await;
    let (rx_a, rx_b) = (
        Receiver::start(0, Duration::ZERO).await,
        Receiver::start(0, Duration::ZERO).await,
    );
    let (a, secret) = target(
        &admin,
        "pager",
        &rx_a.url,
        &["mapping_silent", "token_expired"],
    )
    .await;
    let (b, _) = target(&admin, "expiry", &rx_b.url, &["token_expiring"]).await;
    let data = json!({"mapping": {"token": "shop-app", "endpoint": "orders", "method": "POST"}});
    let id = raise(
        &app.db_url,
        EventKind::MappingSilent,
        "mapping:1:1:POST",
        data.clone(),
    )
    .await;
    assert!(id.is_some());
    // The same change noticed again is the same event: nothing more is sent.
    assert_eq!(
        raise(
            &app.db_url,
            EventKind::MappingSilent,
            "mapping:1:1:POST",
            data.clone()
        )
        .await,
        None
    );

    let got = rx_a.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].verifies(&secret), "the signature verifies");
    assert!(!got[0].verifies("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"));
    let body = got[0].json();
    assert_eq!(body["type"], "mapping_silent");
    assert_eq!(body["data"], data);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(got[0].headers["content-type"], "application/json");

    let list = deliveries_once(&admin, &a["id"], "delivered").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "mapping_silent");
    let attempts = list[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], 204);
    assert!(attempts[0]["error"].is_null() && attempts[0]["latency_ms"].is_i64());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx_a.got().len(), 1, "sent once");
    assert!(rx_b.got().is_empty(), "not subscribed");
    let page = admin
        .read(&format!("/alert-targets/{}/deliveries", b["id"]))
        .await;
    assert_eq!(page["deliveries"], json!([]));
    let listed = admin.read(&format!("/alert-targets/{}", a["id"])).await;
    assert_eq!(
        listed["deliveries"],
        json!({"pending": 0, "delivered": 1, "failed": 0})
    );
}
on_each_backend!(
    a_subscribed_target_gets_the_event_signed_,
    a_subscribed_target_gets_the_event_signed,
    settings()
);

async fn three_failures_then_one_delivery_after_four_attempts(app: TestApp) {
    let admin = app.admin().await;
    let rx = Receiver::start(3, Duration::ZERO).await;
    let (t, secret) = target(&admin, "flaky", &rx.url, &["token_expired"]).await;
    raise(
        &app.db_url,
        EventKind::TokenExpired,
        "token:7",
        json!({"token": {"id": 7}}),
    )
    .await;

    let list = deliveries_once(&admin, &t["id"], "delivered").await;
    assert_eq!(list.len(), 1, "exactly one delivery");
    let statuses: Vec<&Value> = list[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!(500), &json!(500), &json!(500), &json!(204)]
    );
    let first = &list[0]["attempts"][0];
    assert_eq!(first["error"], "answered 500");
    assert!(list[0]["next_attempt_at"].is_null() && list[0]["finished_at"].is_string());
    let got = rx.got();
    assert_eq!(got.len(), 4);
    // One message: the same webhook-id on every attempt, each signed afresh.
    assert!(got
        .iter()
        .all(|g| g.id() == got[0].id() && g.verifies(&secret)));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.got().len(), 4, "nothing after the delivery");
}
on_each_backend!(
    three_failures_then_one_delivery_after_four_attempts_,
    three_failures_then_one_delivery_after_four_attempts,
    settings()
);

fn giving_up_quickly() -> portico::state::Settings {
    let mut s = settings();
    s.alerts.backoff = Backoff {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(100),
        give_up_after: Duration::from_millis(600),
    };
    s
}

async fn a_target_that_keeps_failing_is_given_up(app: TestApp) {
    let admin = app.admin().await;
    let rx = Receiver::start(usize::MAX, Duration::ZERO).await;
    let (t, _) = target(&admin, "down", &rx.url, &["refusals_spike"]).await;
    raise(
        &app.db_url,
        EventKind::RefusalsSpike,
        "mapping:2:1:POST",
        json!({}),
    )
    .await;
    let list = deliveries_once(&admin, &t["id"], "failed").await;
    let tried = list[0]["attempts"].as_array().unwrap().len();
    assert!(tried >= 2, "retried before giving up ({tried})");
    assert_eq!(rx.got().len(), tried);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got().len(), tried, "no attempt after giving up");
}
on_each_backend!(
    a_target_that_keeps_failing_is_given_up_,
    a_target_that_keeps_failing_is_given_up,
    giving_up_quickly()
);

async fn a_slow_target_does_not_hold_up_ingest(app: TestApp) {
    let admin = app.admin().await;
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    // Answers after 3 s; the timeout is 1 s.
    let rx = Receiver::start(0, Duration::from_secs(3)).await;
    let (t, _) = target(&admin, "slow", &rx.url, &["mapping_recovered"]).await;
    raise(
        &app.db_url,
        EventKind::MappingRecovered,
        "mapping:1:1:POST",
        json!({}),
    )
    .await;
    assert_eq!(rx.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    // The delivery is stuck in the receiver: ingest and the pages still answer.
    for n in 0..5 {
        let res = app.ingest("orders", f.value(0), json!({"n": n})).await;
        assert_eq!(res.status(), 201);
    }
    assert_eq!(admin.get("/alert-targets").await.status(), 200);
    assert_eq!(rx.answered(), 0, "ingest answered before the receiver did");
    let list = deliveries_once(&admin, &t["id"], "pending").await;
    for _ in 0..100 {
        let page = admin
            .read(&format!("/alert-targets/{}/deliveries", t["id"]))
            .await;
        if let Some(a) = page["deliveries"][0]["attempts"]
            .as_array()
            .and_then(|a| a.first())
        {
            assert!(a["status"].is_null());
            assert_eq!(a["error"], "no answer within 1000 ms");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the timed-out attempt was not recorded: {list:?}");
}
on_each_backend!(
    a_slow_target_does_not_hold_up_ingest_,
    a_slow_target_does_not_hold_up_ingest,
    settings()
);

async fn the_test_event_reaches_that_target_only(app: TestApp) {
    let admin = app.admin().await;
    let (ok, failing) = (
        Receiver::start(0, Duration::ZERO).await,
        Receiver::start(usize::MAX, Duration::ZERO).await,
    );
    let (t, secret) = target(&admin, "tested", &ok.url, &["mapping_silent"]).await;
    let (other, _) = target(&admin, "other", &failing.url, &["mapping_silent"]).await;
    let res = admin
        .post(&format!("/alert-targets/{}/test", t["id"]), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let d: Value = res.json().await.unwrap();
    assert_eq!(
        (&d["type"], &d["state"]),
        (&json!("test"), &json!("delivered"))
    );
    assert_eq!(d["attempts"][0]["status"], 204);
    let got = ok.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].verifies(&secret));
    assert_eq!(got[0].json()["type"], "test");
    assert_eq!(got[0].json()["data"]["target"]["name"], "tested");

    // A failing test shows its attempt and is retried like any delivery.
    let res = admin
        .post(&format!("/alert-targets/{}/test", other["id"]), json!({}))
        .await;
    let d: Value = res.json().await.unwrap();
    assert_eq!(
        (&d["state"], &d["attempts"][0]["status"]),
        (&json!("pending"), &json!(500))
    );
    assert!(failing.wait_for(2, Duration::from_secs(10)).await.len() >= 2);
    assert_eq!(
        ok.got().len(),
        1,
        "the other target's test never reached this one"
    );

    // Paging: three more tests, two a page.
    for _ in 0..3 {
        admin
            .post(&format!("/alert-targets/{}/test", t["id"]), json!({}))
            .await;
    }
    let page = admin
        .read(&format!("/alert-targets/{}/deliveries?limit=2", t["id"]))
        .await;
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 2);
    let next = page["next"].as_i64().unwrap();
    let rest = admin
        .read(&format!(
            "/alert-targets/{}/deliveries?limit=2&before={next}",
            t["id"]
        ))
        .await;
    assert_eq!(rest["deliveries"].as_array().unwrap().len(), 2);
    assert!(rest["next"].is_null());
    let res = admin
        .get(&format!("/alert-targets/{}/deliveries?limit=0", t["id"]))
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = admin.post("/alert-targets/999999/test", json!({})).await;
    assert_problem(res, 404, "not_found").await;
}
on_each_backend!(
    the_test_event_reaches_that_target_only_,
    the_test_event_reaches_that_target_only,
    settings()
);

async fn edits_rotation_and_removal(app: TestApp) {
    let admin = app.admin().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let (t, old) = target(&admin, "edited", &rx.url, &["mapping_silent"]).await;
    let path = format!("/alert-targets/{}", t["id"]);
    let res = admin
        .patch(
            &path,
            json!({"events": ["token_expired", "token_expiring"], "enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["events"], json!(["token_expiring", "token_expired"]));
    assert_eq!(body["enabled"], false);
    // A disabled target gets nothing.
    raise(&app.db_url, EventKind::TokenExpired, "token:1", json!({})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(rx.got().is_empty());
    assert_eq!(
        admin.patch(&path, json!({"enabled": true})).await.status(),
        200
    );

    let res = admin
        .post(&format!("{path}/rotate-secret"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let new = res.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    admin.post(&format!("{path}/test"), json!({})).await;
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert!(got[0].verifies(&new) && !got[0].verifies(&old));

    let audit = admin
        .read("/audit?target_type=alert_target")
        .await
        .to_string();
    for action in [
        "alert_target.create",
        "alert_target.update",
        "alert_target.secret.rotate",
    ] {
        assert!(audit.contains(action), "{action} audited: {audit}");
    }
    assert_eq!(admin.delete(&path).await.status(), 204);
    assert_problem(admin.get(&path).await, 404, "not_found").await;
    assert_problem(
        admin.get(&format!("{path}/deliveries")).await,
        404,
        "not_found",
    )
    .await;
    let left = count(&app.db_url, "SELECT COUNT(*) AS n FROM alert_deliveries").await
        + count(&app.db_url, "SELECT COUNT(*) AS n FROM alert_attempts").await;
    assert_eq!(left, 0, "deliveries and attempts went with their target");
    assert!(admin
        .read("/audit")
        .await
        .to_string()
        .contains("alert_target.delete"));
}
on_each_backend!(
    edits_rotation_and_removal_,
    edits_rotation_and_removal,
    settings()
);

async fn the_secret_is_shown_once(app: TestApp) {
    let admin = app.admin().await;
    let rx = Receiver::start(1, Duration::ZERO).await;
    let (t, secret) = target(&admin, "quiet", &rx.url, &["mapping_silent"]).await;
    let body = secret.trim_start_matches("whsec_");
    assert!(t["secret_hint"]
        .as_str()
        .unwrap()
        .starts_with(&secret[..10]));
    admin
        .post(&format!("/alert-targets/{}/test", t["id"]), json!({}))
        .await;
    rx.wait_for(2, Duration::from_secs(5)).await;
    for path in [
        "/alert-targets".to_owned(),
        format!("/alert-targets/{}", t["id"]),
        format!("/alert-targets/{}/deliveries", t["id"]),
        "/audit".to_owned(),
    ] {
        let text = admin.get(&path).await.text().await.unwrap();
        assert!(!text.contains(body), "{path} shows the secret");
    }
    let stored = count(
        &app.db_url,
        &format!("SELECT COUNT(*) AS n FROM alert_attempts WHERE error LIKE '%{body}%'"),
    )
    .await;
    assert_eq!(stored, 0);
}
on_each_backend!(
    the_secret_is_shown_once_,
    the_secret_is_shown_once,
    settings()
);

async fn refusals_name_the_field(app: TestApp) {
    let (admin, analyst) = app.analyst().await;
    let ok =
        json!({"name": "n", "url": "https://hooks.example.com/p", "events": ["mapping_silent"]});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("url", json!("ftp://hooks.example.com/")), "url"),
        (
            with("url", json!("https://user:pw@hooks.example.com/")),
            "url",
        ),
        (with("url", json!("not a url")), "url"),
        (
            with("events", json!(["mapping_silent", "nope"])),
            "events[1]",
        ),
        (with("events", json!(["test"])), "events[0]"),
        (with("events", json!([])), "events"),
        (with("name", json!("")), "name"),
    ] {
        let res = admin.post("/alert-targets", body).await;
        let p = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(p["field"], field);
    }
    assert_problem(
        admin.post("/alert-targets", json!({"name": "n"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        analyst.post("/alert-targets", ok.clone()).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(analyst.get("/alert-targets").await, 403, "forbidden").await;
    assert_eq!(admin.post("/alert-targets", ok.clone()).await.status(), 201);
    assert_problem(
        admin.post("/alert-targets", with("name", json!("N"))).await,
        409,
        "name_taken",
    )
    .await;
    let res = admin
        .patch("/alert-targets/424242", json!({"enabled": false}))
        .await;
    assert_problem(res, 404, "not_found").await;
    let list = admin.read("/alert-targets").await;
    let res = admin
        .patch(
            &format!("/alert-targets/{}", list[0]["id"]),
            json!({"url": "gopher://x"}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
}
on_each_backend!(
    refusals_name_the_field_,
    refusals_name_the_field,
    settings()
);

async fn without_a_secret_key_no_target_is_made(app: TestApp) {
    let admin = app.admin().await;
    let body =
        json!({"name": "n", "url": "https://hooks.example.com/p", "events": ["token_expired"]});
    let p = assert_problem(
        admin.post("/alert-targets", body).await,
        409,
        "secret_key_missing",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("PORTICO_SECRET_KEY"));
}
on_each_backend!(
    without_a_secret_key_no_target_is_made_,
    without_a_secret_key_no_target_is_made
);
