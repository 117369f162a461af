//! Integration health's periodic check (issue 16, point 1): silence raised within
//! one check interval of becoming overdue, recovery after a call, refusal spikes,
//! expiring and expired tokens, each written once however many checks or
//! instances notice it.

mod common;
#[path = "health_support/mod.rs"]
mod support;

use std::time::Duration;

use chrono::TimeDelta;
use common::binary::Instance;
use common::*;
use serde_json::{json, Value};
use support::*;

async fn a_silent_mapping_is_raised_within_one_check_and_its_recovery_after_a_call(app: TestApp) {
    let f = app.two_apps().await;
    let (t, e) = (&f.tokens[0]["id"], &f.endpoint["id"]);
    let path = format!("/tokens/{t}/mappings/{e}/POST");
    let res = f
        .admin
        .put(&path, json!({"enabled": true, "expect_every_seconds": 60}))
        .await;
    assert_eq!(res.status(), 200);
    tokio::time::sleep(INTERVAL * 2).await;
    assert!(events(&app).await.is_empty(), "not overdue yet");
    assert_eq!(f.admin.read("/health?state=silent").await["total"], 0);

    app.clock.advance(TimeDelta::seconds(61));
    let became_overdue = std::time::Instant::now();
    let all = wait_for(&app, "mapping_silent", INTERVAL * 3).await;
    let silent = of_kind(&all, "mapping_silent");
    assert_eq!(
        silent.len(),
        1,
        "raised within one check interval ({:?})",
        became_overdue.elapsed()
    );
    let subject = format!("mapping:{t}:{e}:POST");
    assert!(
        silent[0]
            .key
            .starts_with(&format!("mapping_silent:{subject}:")),
        "{}",
        silent[0].key
    );
    let data: Value = serde_json::from_str(&silent[0].payload).unwrap();
    assert_eq!(data["token"], json!({"id": t, "name": "shop-app"}));
    assert_eq!(data["endpoint"], json!({"id": e, "slug": "orders"}));
    assert_eq!(
        (
            data["method"].as_str(),
            data["expect_every_seconds"].as_i64()
        ),
        (Some("POST"), Some(60))
    );
    assert_eq!(data["last_call_at"], Value::Null);
    assert!(
        !silent[0].payload.contains(f.value(0)),
        "no secret in an event"
    );

    let page = f.admin.read("/health?state=silent").await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["mappings"][0]["silent_since"], data["silent_since"]);
    assert_eq!(page["counts"]["silent"], 1);
    assert_eq!(app.metric("portico_mappings_silent").await, Some(1.0));
    // Noticed again by later checks: still one event, and no recovery without a call.
    tokio::time::sleep(INTERVAL * 3).await;
    let all = events(&app).await;
    assert_eq!(of_kind(&all, "mapping_silent").len(), 1);
    assert!(of_kind(&all, "mapping_recovered").is_empty());

    assert_eq!(
        app.ingest("orders", f.value(0), json!({"back": true}))
            .await
            .status(),
        201
    );
    let all = wait_for(
        &app,
        "mapping_recovered",
        INTERVAL * 3 + Duration::from_secs(1),
    )
    .await;
    let recovered = of_kind(&all, "mapping_recovered");
    assert_eq!(recovered.len(), 1);
    let data: Value = serde_json::from_str(&recovered[0].payload).unwrap();
    assert_eq!(
        data["silent_since"],
        serde_json::from_str::<Value>(&silent[0].payload).unwrap()["silent_since"]
    );
    assert!(data["resumed_at"].is_string());
    assert_eq!(f.admin.read("/health?state=silent").await["total"], 0);
    tokio::time::sleep(INTERVAL * 2).await;
    assert_eq!(app.metric("portico_mappings_silent").await, Some(0.0));
    assert_eq!(of_kind(&events(&app).await, "mapping_recovered").len(), 1);

    // Silent again later: a second silence is a new event.
    app.clock.advance(TimeDelta::seconds(120));
    let all = wait_for(&app, "mapping_silent", INTERVAL * 3).await;
    tokio::time::sleep(INTERVAL).await;
    assert_eq!(
        of_kind(&events(&app).await, "mapping_silent").len(),
        2,
        "{all:?}"
    );
}
on_each_backend!(
    a_silent_mapping_is_raised_within_one_check_and_its_recovery_after_a_call_,
    a_silent_mapping_is_raised_within_one_check_and_its_recovery_after_a_call,
    quick()
);

async fn a_spike_of_refusals_is_one_event(app: TestApp) {
    let f = app.two_apps().await;
    f.admin
        .map(&f.tokens[1]["id"], &f.endpoint["id"], "POST", false)
        .await;
    for n in 0..4 {
        assert_eq!(
            app.ingest("orders", f.value(1), json!({ "n": n }))
                .await
                .status(),
            403
        );
    }
    tokio::time::sleep(INTERVAL * 3).await;
    assert!(
        of_kind(&events(&app).await, "refusals_spike").is_empty(),
        "under the threshold (5)"
    );
    for n in 0..8 {
        assert_eq!(
            app.ingest("orders", f.value(1), json!({ "n": n }))
                .await
                .status(),
            403
        );
    }
    let all = wait_for(&app, "refusals_spike", Duration::from_secs(3)).await;
    tokio::time::sleep(INTERVAL * 3).await;
    let spikes = of_kind(&events(&app).await, "refusals_spike").len();
    let data: Value = serde_json::from_str(&of_kind(&all, "refusals_spike")[0].payload).unwrap();
    // Two windows at most if the calls straddled a 5-minute boundary.
    assert!((1..=2).contains(&spikes), "{spikes}");
    assert_eq!(data["token"]["name"], "erp");
    assert_eq!(
        (data["threshold"].as_i64(), data["window_seconds"].as_i64()),
        (Some(5), Some(300))
    );
    assert!(data["refusals"].as_i64().unwrap() >= 5);
    let start = data["window_start"].as_str().unwrap();
    assert!(
        start.contains(":00:00")
            || start.contains(":05:00")
            || start[14..16].parse::<u32>().unwrap() % 5 == 0,
        "{start}"
    );
}
on_each_backend!(
    a_spike_of_refusals_is_one_event_,
    a_spike_of_refusals_is_one_event,
    quick()
);

async fn expiring_and_expired_tokens_are_raised_once(app: TestApp) {
    let admin = app.admin().await;
    let soon = (chrono::Utc::now() + TimeDelta::days(3)).to_rfc3339();
    let res = admin
        .post("/tokens", json!({"name": "soon-app", "expires_at": soon}))
        .await;
    assert_eq!(res.status(), 201);
    let soon_app: Value = res.json().await.unwrap();
    let hour = (chrono::Utc::now() + TimeDelta::hours(1)).to_rfc3339();
    let res = admin
        .post("/tokens", json!({"name": "hour-app", "expires_at": hour}))
        .await;
    let hour_app: Value = res.json().await.unwrap();
    let all = wait_for(&app, "token_expiring", INTERVAL * 3).await;
    tokio::time::sleep(INTERVAL * 2).await;
    let expiring = of_kind(&all, "token_expiring");
    assert_eq!(expiring.len(), 2, "{all:?}");
    let mine = expiring
        .iter()
        .find(|e| e.key.contains(&format!("token:{}:", soon_app["id"])))
        .unwrap();
    let data: Value = serde_json::from_str(&mine.payload).unwrap();
    assert_eq!(
        data["token"],
        json!({"id": soon_app["id"], "name": "soon-app"})
    );
    assert_eq!(data["days_left"], 2);
    assert!(!mine.payload.contains(soon_app["token"].as_str().unwrap()));
    assert_eq!(
        of_kind(&events(&app).await, "token_expiring").len(),
        2,
        "once per change"
    );
    assert_eq!(app.metric("portico_tokens_expiring").await, Some(2.0));

    app.clock.advance(TimeDelta::hours(2));
    let all = wait_for(&app, "token_expired", INTERVAL * 3).await;
    tokio::time::sleep(INTERVAL * 2).await;
    let expired = of_kind(&all, "token_expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(
        expired[0].key,
        format!(
            "token_expired:token:{}:{}",
            hour_app["id"],
            &hour_app["expires_at"].as_str().unwrap()[..19]
        )
    );
    assert_eq!(of_kind(&events(&app).await, "token_expired").len(), 1);
    assert_eq!(app.metric("portico_tokens_expiring").await, Some(1.0));
}
on_each_backend!(
    expiring_and_expired_tokens_are_raised_once_,
    expiring_and_expired_tokens_are_raised_once,
    quick()
);

/// Two instances on one database: the real binary twice on PostgreSQL; on SQLite
/// (one serving process per file) two servers in this process.
async fn two_instances(backend: Backend) -> (Vec<Instance>, TestApp, TestApp) {
    let args = [
        "--health-check-interval",
        "0.2",
        "--refusals-spike-threshold",
        "5",
    ];
    if backend == Backend::Postgres {
        let db = fresh_postgres();
        let a = Instance::start(&db, &args).await;
        let b = Instance::start(&db, &args).await;
        let (app_a, app_b) = (
            TestApp::remote(backend, &a.base, &db),
            TestApp::remote(backend, &b.base, &db),
        );
        return (vec![a, b], app_a, app_b);
    }
    let app_a = spawn_app_with(backend, quick()).await;
    let app_b = spawn_app_on(backend, app_a.db_url.clone(), None, quick()).await;
    (Vec::new(), app_a, app_b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_raise_each_event_once() {
    for backend in backends() {
        let (_instances, a, b) = two_instances(backend).await;
        let f = a.two_apps().await;
        let (t, e) = (&f.tokens[0]["id"], &f.endpoint["id"]);
        let path = format!("/tokens/{t}/mappings/{e}/POST");
        let res = f
            .admin
            .put(&path, json!({"enabled": true, "expect_every_seconds": 60}))
            .await;
        assert_eq!(res.status(), 200);
        // Expected since two minutes ago: overdue now, for both instances.
        let ago = (chrono::Utc::now() - TimeDelta::minutes(2)).format("%Y-%m-%d %H:%M:%S");
        a.sql(format!("UPDATE mappings SET expect_since = '{ago}' WHERE token_id = {t} AND endpoint_id = {e} AND method = 'POST'")).await;
        let soon = (chrono::Utc::now() + TimeDelta::days(3)).to_rfc3339();
        assert_eq!(
            f.admin
                .post("/tokens", json!({"name": "soon-app", "expires_at": soon}))
                .await
                .status(),
            201
        );
        let brief = (chrono::Utc::now() + TimeDelta::seconds(2)).to_rfc3339();
        assert_eq!(
            f.admin
                .post("/tokens", json!({"name": "brief-app", "expires_at": brief}))
                .await
                .status(),
            201
        );
        f.admin.map(&f.tokens[1]["id"], e, "POST", false).await;
        for n in 0..4 {
            assert_eq!(
                a.ingest("orders", f.value(1), json!({ "n": n }))
                    .await
                    .status(),
                403
            );
            assert_eq!(
                b.ingest("orders", f.value(1), json!({ "n": n }))
                    .await
                    .status(),
                403
            );
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(
            a.ingest("orders", f.value(0), json!({"back": true}))
                .await
                .status(),
            201
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let all = events(&a).await;
        let count = |kind| of_kind(&all, kind).len();
        assert_eq!(count("mapping_silent"), 1, "{backend:?} {all:?}");
        assert_eq!(count("mapping_recovered"), 1, "{backend:?} {all:?}");
        assert_eq!(
            count("token_expiring"),
            2,
            "soon-app, and brief-app before it expired: {all:?}"
        );
        assert_eq!(count("token_expired"), 1, "{all:?}");
        assert!((1..=2).contains(&count("refusals_spike")), "{all:?}");
        let keys: std::collections::BTreeSet<&str> = all.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys.len(), all.len());
        assert_eq!(b.metric("portico_mappings_silent").await, Some(0.0));
    }
}
