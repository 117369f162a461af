//! Alerts across restarts and instances, with the real binary: a delivery waiting
//! out its backoff when the server stops is completed by the next one on the same
//! database (SQLite and PostgreSQL); two instances on one PostgreSQL database send
//! each event once; neither log ever holds a target's secret.

mod alerts_support;
mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alerts_support::{count, raise, Receiver};
use common::binary::free_port;
use common::*;
use portico::domain::event::EventKind;
use serde_json::{json, Value};

/// A running `portico serve` whose log goes to a file; killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Server {
    async fn start(db_url: &str, key: Option<&str>, args: &[&str]) -> Server {
        let bind = format!("127.0.0.1:{}", free_port());
        let log =
            std::env::temp_dir().join(format!("portico-alerts-{}.log", rand::random::<u64>()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portico"));
        cmd.args(["serve", "--database-url", db_url, "--bind", &bind])
            .args(args)
            .env("PORTICO_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PORTICO_LOG", "debug")
            .env_remove("PORTICO_SECRET_KEY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(key) = key {
            cmd.env("PORTICO_SECRET_KEY", key);
        }
        let server = Server {
            child: cmd.spawn().expect("start portico"),
            base: format!("http://{bind}"),
            log,
        };
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{}/readyz", server.base)).await {
                if r.status() == 200 {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("portico did not become ready at {}", server.base);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

async fn create_target(admin: &Session, url: &str) -> (Value, String) {
    let res = admin
        .post(
            "/alert-targets",
            json!({"name": "pager", "url": url, "events": ["token_expired"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    (body, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_backoff_loses_nothing() {
    for backend in backends() {
        let (db, _dir) = fresh_database(backend).await;
        // PostgreSQL: the operator gives the key; SQLite keeps one beside the database.
        let key = (backend == Backend::Postgres)
            .then(|| portico::domain::sealing::SecretKey::generate().encode());
        let args = ["--alert-backoff-seconds", "4"];
        let first = Server::start(&db, key.as_deref(), &args).await;
        let rx = Receiver::start(1, Duration::ZERO).await;
        let admin = TestApp::remote(backend, &first.base, &db).admin().await;
        let (t, secret) = create_target(&admin, &rx.url).await;
        raise(
            &db,
            EventKind::TokenExpired,
            "token:3",
            json!({"token": {"id": 3}}),
        )
        .await;
        assert_eq!(rx.wait_for(1, Duration::from_secs(10)).await.len(), 1);
        // Stopped while the delivery waits out its backoff (about 4 s).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut logs = first.log();
        drop(first);
        let pending =
            "SELECT COUNT(*) AS n FROM alert_deliveries WHERE state = 'pending' AND attempts = 1";
        assert_eq!(
            count(&db, pending).await,
            1,
            "{backend:?}: waiting in the database"
        );

        let second = Server::start(&db, key.as_deref(), &args).await;
        let got = rx.wait_for(2, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 2, "{backend:?}: the next server sent it");
        assert!(got[1].verifies(&secret) && got[0].id() == got[1].id());
        let admin = TestApp::remote(backend, &second.base, &db).admin().await;
        let mut page = Value::Null;
        for _ in 0..100 {
            page = admin
                .read(&format!("/alert-targets/{}/deliveries", t["id"]))
                .await;
            if page["deliveries"][0]["state"] == "delivered" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let d = &page["deliveries"][0];
        assert_eq!(d["state"], "delivered", "{page}");
        assert_eq!(d["attempts"].as_array().unwrap().len(), 2);
        logs.push_str(&second.log());
        assert!(
            logs.contains("alert delivery attempt failed"),
            "the failure is logged"
        );
        let body = secret.trim_start_matches("whsec_");
        assert!(!logs.contains(body), "{backend:?}: a log holds the secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_event_once() {
    let Ok(_) = std::env::var("PORTICO_TEST_POSTGRES_URL") else {
        return;
    };
    let db = fresh_postgres();
    let key = portico::domain::sealing::SecretKey::generate().encode();
    let args = ["--alert-backoff-seconds", "0.2"];
    let a = Server::start(&db, Some(&key), &args).await;
    let b = Server::start(&db, Some(&key), &args).await;
    // The first five requests fail, so retries run across the instances too.
    let rx = Receiver::start(5, Duration::ZERO).await;
    let admin = TestApp::remote(Backend::Postgres, &a.base, &db)
        .admin()
        .await;
    let (_, secret) = create_target(&admin, &rx.url).await;
    for i in 0..20 {
        raise(
            &db,
            EventKind::TokenExpired,
            &format!("token:{i}"),
            json!({"token": {"id": i}}),
        )
        .await;
    }
    let got = rx.wait_for(25, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_all = rx.got();
    assert_eq!(got_all.len(), 25, "20 events, 5 retries: {}", got.len());
    let mut ids: Vec<String> = got_all.iter().map(|g| g.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert!(got_all.iter().all(|g| g.verifies(&secret)));
    let delivered = "SELECT COUNT(*) AS n FROM alert_deliveries WHERE state = 'delivered'";
    assert_eq!(count(&db, delivered).await, 20);
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM alert_attempts").await,
        25
    );
    let body = secret.trim_start_matches("whsec_");
    for s in [&a, &b] {
        assert!(!s.log().contains(body));
    }
}
