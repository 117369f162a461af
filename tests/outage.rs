//! The database goes away under a running server: every request that needs it gets a
//! clear 503 problem+json (no driver text), nothing is half-written, and the server
//! recovers by itself when the database returns.
//!
//! PostgreSQL: the server reaches the database through a TCP relay that the test cuts
//! (every open connection reset, new ones refused) and restores, as when PostgreSQL
//! stops and starts again. SQLite: the database lives on a small tmpfs that the test
//! fills to the last byte and then frees (needs root to mount; `.ci/run` sets
//! `PORTICO_TEST_DISK_FULL=1`), and a file another process keeps locked past the
//! busy timeout.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP relay to `upstream` that can be cut and restored.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, links) = (up.clone(), links.clone());
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Relay {
            port,
            up,
            links,
            accept,
        }
    }

    /// The database is gone: open connections are reset, new ones closed at once.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn post(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    client()
        .post(app.url("/e/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A 503 the way a client should see it: problem+json, Retry-After, our own words.
async fn assert_unavailable(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 503, "{what}");
    assert!(res.headers().contains_key("retry-after"), "{what}");
    let body = assert_problem(res, 503, "service_unavailable").await;
    assert_eq!(
        body["detail"], "the database is unavailable; try again shortly",
        "{what}: {body}"
    );
}

/// Every stored record of `orders`, by id → data.
async fn stored(app: &TestApp, token: &str) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let res = client()
            .get(app.url(&format!("/e/orders?limit=100{after}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        for r in page["records"].as_array().unwrap() {
            out.push((r["id"].as_i64().unwrap(), r["data"].clone()));
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return out,
        }
    }
}

/// Retries `key` until it is stored (the server recovers without a restart).
async fn post_until_stored(app: &TestApp, token: &str, key: &str, body: &Value) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = post(app, token, key, body).await;
        match res.status().as_u16() {
            201 | 200 => {
                let v: Value = res.json().await.unwrap();
                return v["id"].as_i64().unwrap();
            }
            503 => {
                assert!(Instant::now() < deadline, "no recovery within a minute");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => panic!("{other}: {}", res.text().await.unwrap()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_answers_503_and_recovers_without_restart() {
    if !backends().contains(&Backend::Postgres) {
        return; // PostgreSQL tests run when PORTICO_TEST_POSTGRES_URL is set (.ci/run does).
    }
    let real = fresh_postgres();
    let mut via_relay = url::Url::parse(&real).unwrap();
    let upstream = format!(
        "{}:{}",
        via_relay.host_str().unwrap(),
        via_relay.port().unwrap_or(5432)
    );
    let relay = Relay::start(upstream).await;
    via_relay.set_host(Some("127.0.0.1")).unwrap();
    via_relay.set_port(Some(relay.port)).unwrap();
    let app = spawn_app_on(
        Backend::Postgres,
        via_relay.to_string(),
        None,
        portico::state::Settings::default(),
    )
    .await;
    let f = app.mapped("orders", json!({}), &["shop"]).await;
    let first = post_until_stored(&app, f.value(0), "before", &json!({"n": 0})).await;

    relay.cut();
    let started = Instant::now();
    let res = post(&app, f.value(0), "during", &json!({"n": 1})).await;
    assert_unavailable(res, "POST while PostgreSQL is away").await;
    let res = client()
        .get(app.url("/e/orders"))
        .bearer_auth(f.value(0))
        .send()
        .await
        .unwrap();
    assert_unavailable(res, "GET while PostgreSQL is away").await;
    assert_unavailable(f.admin.get("/endpoints").await, "management API").await;
    let ready = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness follows the database");
    assert_eq!(
        client()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the process itself is fine"
    );
    println!("postgres away: four refusals in {:?}", started.elapsed());

    relay.restore();
    let during = post_until_stored(&app, f.value(0), "during", &json!({"n": 1})).await;
    let again = post_until_stored(&app, f.value(0), "during", &json!({"n": 1})).await;
    assert_eq!(during, again, "a retried key is stored once");
    let records = stored(&app, f.value(0)).await;
    assert_eq!(
        records,
        vec![(first, json!({"n": 0})), (during, json!({"n": 1}))],
        "nothing half-written while the database was away"
    );
    let res = f.admin.get("/endpoints").await;
    assert_eq!(res.status(), 200, "management recovered too");
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(bytes: u64) -> Self {
        let dir = std::env::temp_dir().join(format!("portico-full-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root; unset PORTICO_TEST_DISK_FULL to leave this test out"
        );
        SmallDisk(dir)
    }

    /// Writes a filler file until the disk has no byte left.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        while file.write_all(&chunk[..1]).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: the server's connections may still hold the database open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_answers_503_and_recovers_when_space_returns() {
    if std::env::var("PORTICO_TEST_DISK_FULL").is_err() {
        return; // needs root to mount a tmpfs; .ci/run sets PORTICO_TEST_DISK_FULL=1
    }
    let disk = SmallDisk::mount(4 << 20);
    let db_url = format!("sqlite://{}/portico.db", disk.0.display());
    let app = spawn_app_on(
        Backend::Sqlite,
        db_url,
        None,
        portico::state::Settings::default(),
    )
    .await;
    let f = app.mapped("orders", json!({}), &["shop"]).await;
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let body = json!({"before": i});
        let id = post_until_stored(&app, f.value(0), &format!("b{i}"), &body).await;
        acknowledged.push((id, body));
    }
    let filler = disk.fill();

    // Keep posting 8 KiB records until the disk refuses; every answer is 201 or 503.
    let padding = "x".repeat(8 << 10);
    let mut refused = None;
    for i in 0..2_000 {
        let key = format!("k{i}");
        let body = json!({"i": i, "padding": padding});
        let res = post(&app, f.value(0), &key, &body).await;
        match res.status().as_u16() {
            201 => {
                let v: Value = res.json().await.unwrap();
                acknowledged.push((v["id"].as_i64().unwrap(), body));
            }
            503 => {
                assert_unavailable(res, "POST on a full disk").await;
                refused = Some((key, body));
                break;
            }
            other => panic!("{other}: {}", res.text().await.unwrap()),
        }
    }
    let (key, body) = refused.expect("the full disk never refused a write");
    // Reads still work while writes cannot.
    let records = stored(&app, f.value(0)).await;
    assert_eq!(records, acknowledged, "nothing half-written on a full disk");

    std::fs::remove_file(filler).unwrap();
    let id = post_until_stored(&app, f.value(0), &key, &body).await;
    acknowledged.push((id, body));
    let records = stored(&app, f.value(0)).await;
    assert_eq!(
        records.len(),
        acknowledged.len(),
        "every acknowledged record, once"
    );
    assert_eq!(records, acknowledged);
    println!(
        "sqlite full disk: {} records acknowledged before the disk was full, then 503; \
         after space returned the refused one was stored and all {} are intact",
        acknowledged.len() - 1,
        acknowledged.len()
    );
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_process_answers_503_and_recovers() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let (db_url, dir) = fresh_database(Backend::Sqlite).await;
    let path = db_url.trim_start_matches("sqlite://").to_owned();
    let app = spawn_app_on(
        Backend::Sqlite,
        db_url,
        dir,
        portico::state::Settings::default(),
    )
    .await;
    let f = app.mapped("orders", json!({}), &["shop"]).await;
    let first = post_until_stored(&app, f.value(0), "before", &json!({"n": 0})).await;

    // Another program takes the write lock and keeps it past the busy timeout.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut other = SqliteConnection::establish(&path).unwrap();
        diesel::sql_query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        diesel::sql_query("COMMIT").execute(&mut other).unwrap();
    });
    locked_rx.recv().unwrap();
    let res = post(&app, f.value(0), "during", &json!({"n": 1})).await;
    assert_unavailable(res, "POST while another process holds the lock").await;
    // Reads go on meanwhile (write-ahead log).
    assert_eq!(
        stored(&app, f.value(0)).await,
        vec![(first, json!({"n": 0}))]
    );

    release_tx.send(()).unwrap();
    holder.join().unwrap();
    let during = post_until_stored(&app, f.value(0), "during", &json!({"n": 1})).await;
    assert_eq!(
        stored(&app, f.value(0)).await,
        vec![(first, json!({"n": 0})), (during, json!({"n": 1}))],
        "nothing half-written while locked"
    );
}
