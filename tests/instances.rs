//! Several real instances of the binary on one PostgreSQL database: every limit
//! holds across them as one instance would hold it (SPEC: "N instances together
//! accept no more than one would"), and an access change (a token's, an API key's)
//! through one holds on the next request to another. Runs when
//! `PORTICO_TEST_POSTGRES_URL` is set.

mod common;

use std::time::Duration;

use chrono::Timelike;
use common::binary::Instance;
use common::*;
use serde_json::json;

/// Two instances on a fresh PostgreSQL database (the first migrates it), with `args`.
async fn pair(args: &[&str]) -> Option<(Instance, Instance, TestApp, TestApp)> {
    std::env::var("PORTICO_TEST_POSTGRES_URL").ok()?;
    let db = fresh_postgres();
    let a = Instance::start(&db, args).await;
    let b = Instance::start(&db, args).await;
    let (app_a, app_b) = (
        TestApp::remote(Backend::Postgres, &a.base, &db),
        TestApp::remote(Backend::Postgres, &b.base, &db),
    );
    Some((a, b, app_a, app_b))
}

/// Waits, if needed, until a minute has at least 15 s left (per-minute windows).
async fn early_in_a_minute() {
    let second = chrono::Utc::now().second();
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(u64::from(61 - second))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_requests_per_minute_hold_across_instances() {
    let Some((_a, _b, app_a, app_b)) = pair(&[]).await else {
        return;
    };
    let f = app_a.mapped("orders", json!({}), &["shop-app"]).await;
    let token = format!("/tokens/{}", f.tokens[0]["id"]);
    let res = f
        .admin
        .patch(&token, json!({"rate_limit_per_minute": 30}))
        .await;
    assert_eq!(res.status(), 200);

    early_in_a_minute().await;
    let (mut accepted, mut refused) = (0, 0);
    for n in 0..25 {
        for app in [&app_a, &app_b] {
            match app
                .ingest("orders", f.value(0), json!({ "n": n }))
                .await
                .status()
                .as_u16()
            {
                201 => accepted += 1,
                429 => refused += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(
        (accepted, refused),
        (30, 20),
        "30 a minute over both instances together"
    );

    // An access change through A holds on the next request to B.
    let res = f.admin.patch(&token, json!({"enabled": false})).await;
    assert_eq!(res.status(), 200);
    let res = app_b.ingest("orders", f.value(0), json!({})).await;
    assert_problem(res, 403, "token_disabled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invalid_token_throttle_holds_across_instances() {
    let Some((_a, _b, app_a, app_b)) = pair(&["--failed-token-limit", "10"]).await else {
        return;
    };
    let f = app_a.mapped("orders", json!({}), &["shop-app"]).await;
    early_in_a_minute().await;
    let unknown = "A".repeat(58) + "000000";
    let mut statuses = Vec::new();
    for _ in 0..8 {
        for app in [&app_a, &app_b] {
            statuses.push(
                app.ingest("orders", &unknown, json!({}))
                    .await
                    .status()
                    .as_u16(),
            );
            // Each failure is counted after its answer: let it land.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    // Ten failures over both instances, then blocked. The instance that did not
    // count the tenth learns of the block with its next failure (or its next read
    // of the blocks): one more 401 at most, per other instance.
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    let invalid = statuses.iter().filter(|s| **s == 401).count();
    assert!(invalid <= 11, "{invalid} failures answered: {statuses:?}");
    assert!(statuses[11..].iter().all(|s| *s == 429), "{statuses:?}");

    // Blocked on both, even with a valid token, once the block has been read.
    tokio::time::sleep(limits_poll() * 2).await;
    for app in [&app_a, &app_b] {
        let res = app.ingest("orders", f.value(0), json!({})).await;
        assert_problem(res, 429, "rate_limited").await;
    }
}

fn limits_poll() -> Duration {
    portico::limits::POLL_EVERY
}

/// Signs in as `admin` with `password` on `app`; the status.
async fn sign_in(app: &TestApp, password: &str) -> u16 {
    let res = app
        .client
        .post(app.url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_throttle_holds_across_instances() {
    let Some((_a, _b, app_a, app_b)) = pair(&[]).await else {
        return;
    };
    let mut statuses = Vec::new();
    for n in 0..6 {
        let app = if n % 2 == 0 { &app_a } else { &app_b };
        statuses.push(sign_in(app, "not-the-password").await);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // The user waits on every instance, even with the right password.
    for app in [&app_a, &app_b] {
        assert_eq!(sign_in(app, ADMIN_PASSWORD).await, 429);
    }
}

/// An API key known to both instances (each has it cached) is revoked, and its
/// user's role changed, through one: the other holds to it on the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_changes_through_one_instance_hold_on_the_next_request_to_another() {
    let Some((_a, _b, app_a, app_b)) = pair(&[]).await else {
        return;
    };
    let (admin, analyst) = app_a.analyst().await;
    let mut keys = Vec::new();
    for session in [&admin, &analyst] {
        let res = session.post("/me/api-keys", json!({"name": "ops"})).await;
        let created: serde_json::Value = res.json().await.unwrap();
        keys.push(created);
    }
    let value = |i: usize| keys[i]["key"].as_str().unwrap().to_owned();
    for app in [&app_a, &app_b] {
        assert_eq!(app.me_by_key(&value(0)).await.0, 200);
        assert_eq!(app.me_by_key(&value(1)).await.1["role"], "analyst");
    }
    let users: Vec<serde_json::Value> = admin.get("/users").await.json().await.unwrap();
    let ana = users.iter().find(|u| u["username"] == "ana").unwrap()["id"].clone();
    let res = admin
        .patch(&format!("/users/{ana}"), json!({"role": "admin"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app_b.me_by_key(&value(1)).await.1["role"], "admin");

    // Cached again on B, then revoked through A.
    assert_eq!(app_b.me_by_key(&value(0)).await.0, 200);
    let res = admin
        .delete(&format!("/me/api-keys/{}", keys[0]["id"]))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app_b.me_by_key(&value(0)).await.0, 401);
    assert_eq!(app_a.me_by_key(&value(0)).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_partitions_come_and_go_while_instances_ingest() {
    let Some((_a, _b, app_a, app_b)) = pair(&[]).await else {
        return;
    };
    let f = app_a.mapped("orders", json!({}), &["shop-app"]).await;
    let today = chrono::Utc::now().date_naive();
    // Ten days ago: a day of calls past a five-day retention.
    let old = today - chrono::TimeDelta::days(10);
    app_a.prepare_days(old, old).await;
    app_a
        .sql(format!(
            "INSERT INTO calls (at, endpoint_slug, method, path, status, token_kind, remote_addr, \
             request_bytes, response_bytes, duration_us) SELECT '{old} 12:00:00', 'orders', 'POST', \
             '/e/orders', 201, 'none', '10.0.0.1', 1, 1, 1 FROM generate_series(1, 1000)"
        ))
        .await;
    // The farthest day ahead goes, to be made again under load.
    let ahead = format!(
        "calls_p{}",
        (today + chrono::TimeDelta::days(7)).format("%Y%m%d")
    );
    app_a
        .sql(format!("ALTER TABLE calls DETACH PARTITION {ahead}"))
        .await;
    app_a.sql(format!("DROP TABLE {ahead}")).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for app in [app_a.remote_twin(), app_b.remote_twin()] {
        let (stop, token) = (stop.clone(), f.value(0).to_owned());
        clients.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                statuses.push(
                    app.ingest("orders", &token, json!({}))
                        .await
                        .status()
                        .as_u16(),
                );
            }
            statuses
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = app_a.db_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
            .args(["--database-url", &db, "sweep", "--call-retention-days", "5"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = Vec::new();
    for c in clients {
        answered.extend(c.await.unwrap());
    }
    assert!(answered.len() > 20, "{} requests", answered.len());
    assert!(
        answered.iter().all(|s| *s == 201),
        "every request stored: {answered:?}"
    );
    assert!(printed.contains("1000 calls"), "{printed}");

    let days = app_a
        .partitions(portico::store::partitions::Partitioned::Calls)
        .await;
    assert!(
        !days.iter().any(|d| d.holds(old)),
        "the old day went whole: {days:?}"
    );
    assert!(
        days.iter()
            .any(|d| d.holds(today + chrono::TimeDelta::days(7))),
        "made again: {days:?}"
    );
}
