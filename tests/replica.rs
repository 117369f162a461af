//! The read replica: the real binary with `--database-read-url` on a streaming
//! replica of the test PostgreSQL (`.ci/replica` starts one; the test runs when
//! `PORTICO_TEST_POSTGRES_URL` and `PORTICO_TEST_REPLICA_URL` are set). Viewer reads
//! go to the replica while it keeps up; with its replay paused they fall back to the
//! primary; access decisions and writes never leave the primary.

mod common;

use std::time::Duration;

use common::binary::Instance;
use common::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};

/// The database of `db_url` on the server of `replica` (a URL, with or without a
/// database name).
fn on_replica(db_url: &str, replica: &str) -> String {
    let name = db_url.rsplit('/').next().unwrap();
    let hosts = replica.find("://").unwrap() + 3;
    let end = replica[hosts..]
        .find('/')
        .map_or(replica.len(), |i| hosts + i);
    format!("{}/{name}", &replica[..end])
}

fn replica_sql(url: &str, sql: &str) {
    let mut conn = PgConnection::establish(url).expect("replica reachable");
    diesel::sql_query(sql).execute(&mut conn).unwrap();
}

/// Resumes the replica's replay however the test ends.
struct Resume(String);

impl Drop for Resume {
    fn drop(&mut self) {
        replica_sql(&self.0, "SELECT pg_wal_replay_resume()");
    }
}

async fn readyz(app: &TestApp) -> Value {
    app.client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits (up to 20 s) until `/readyz` says the replica is or is not in use.
async fn until_in_use(app: &TestApp, wanted: bool) -> Value {
    for _ in 0..200 {
        let r = readyz(app).await;
        if r["replica"]["in_use"] == wanted {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the replica never became in_use = {wanted}: {}",
        readyz(app).await
    );
}

/// Reads of the call log by source, from `/metrics`.
async fn viewer_reads(app: &TestApp, source: &str) -> u64 {
    let series = format!("portico_viewer_reads_total{{source=\"{source}\"}}");
    app.metric(&series).await.unwrap_or(0.0) as u64
}

/// The viewer's calls of the token, waiting (up to 10 s) until there are `n`.
async fn calls_of(f: &Mapped, n: usize) -> Value {
    let path = format!("/calls?token={}", f.tokens[0]["id"]);
    for _ in 0..100 {
        let calls = f.admin.read(&path).await;
        if calls["calls"].as_array().unwrap().len() >= n {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the viewer never showed {n} calls: {}",
        f.admin.read(&path).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_reads_follow_the_replica_and_fall_back_when_it_lags() {
    let (Ok(_), Ok(replica)) = (
        std::env::var("PORTICO_TEST_POSTGRES_URL"),
        std::env::var("PORTICO_TEST_REPLICA_URL"),
    ) else {
        return;
    };
    let db = fresh_postgres();
    let read_url = on_replica(&db, &replica);
    // The new database reaches the replica by streaming.
    for _ in 0..100 {
        if PgConnection::establish(&read_url).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = Instance::start(
        &db,
        &["--database-read-url", &read_url, "--max-replica-lag", "1"],
    )
    .await;
    let app = TestApp::remote(Backend::Postgres, &server.base, &db);
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    for n in 0..3 {
        let res = app.ingest("orders", f.value(0), json!({ "n": n })).await;
        assert_eq!(res.status(), 201);
    }

    // Caught up: the viewer reads the replica.
    let ready = until_in_use(&app, true).await;
    assert!(
        ready["replica"]["lag_seconds"].as_f64().unwrap() <= 1.0,
        "{ready}"
    );
    let before = viewer_reads(&app, "replica").await;
    calls_of(&f, 3).await;
    assert!(viewer_reads(&app, "replica").await > before);

    // Replay paused while the primary keeps writing: past the allowed lag the viewer
    // reads the primary, and sees every call at once.
    replica_sql(&read_url, "SELECT pg_wal_replay_pause()");
    let _resume = Resume(read_url.clone());
    for n in 3..5 {
        let res = app.ingest("orders", f.value(0), json!({ "n": n })).await;
        assert_eq!(res.status(), 201, "writes go to the primary");
    }
    let lagging = until_in_use(&app, false).await;
    assert!(
        lagging["replica"]["lag_seconds"].is_null()
            || lagging["replica"]["lag_seconds"].as_f64().unwrap() > 1.0,
        "{lagging}"
    );
    let before = viewer_reads(&app, "primary").await;
    let calls = f
        .admin
        .read(&format!("/calls?token={}", f.tokens[0]["id"]))
        .await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 5, "{calls}");
    assert!(viewer_reads(&app, "primary").await > before);

    // Access decisions are the primary's: a token disabled now is refused at once,
    // though the replica still has it enabled.
    let token = format!("/tokens/{}", f.tokens[0]["id"]);
    assert_eq!(
        f.admin
            .patch(&token, json!({"enabled": false}))
            .await
            .status(),
        200
    );
    let res = app.ingest("orders", f.value(0), json!({})).await;
    assert_problem(res, 403, "token_disabled").await;

    // Resumed: back on the replica.
    drop(_resume);
    until_in_use(&app, true).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("portico_replica_lag_seconds "),
        "{metrics}"
    );
    assert!(metrics.contains("portico_replica_in_use 1"), "{metrics}");
}
