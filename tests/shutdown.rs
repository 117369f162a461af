//! Graceful shutdown: SIGTERM under load from 16 clients. The server stops taking
//! connections, answers every request it took, and exits cleanly; every record it
//! acknowledged is stored, and no record is stored that its client was not told
//! about (each request carries an Idempotency-Key: one that failed is sent again
//! after a restart, and must not be a replay of something stored unanswered).

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const CLIENTS: usize = 16;

fn start(db_url: &str, bind: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["--database-url", db_url, "serve", "--bind", bind])
        .env("PORTICO_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PORTICO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn ready(base: &str) {
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("portico did not become ready at {base}");
}

#[derive(Default)]
struct Outcomes {
    /// Idempotency-Key → record id, for every 201.
    acked: Vec<(String, i64)>,
    /// Keys whose request failed after connecting (sent, unanswered or cut).
    cut: Vec<String>,
    refused_connections: usize,
}

async fn load(
    base: String,
    token: String,
    n: usize,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Outcomes>>,
) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0) // a connection per request: no race on a closing idle one
        .build()
        .unwrap();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("c{n}-{i}");
        let res = client
            .post(format!("{base}/e/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .json(&json!({"client": n, "i": i}))
            .send()
            .await;
        match res {
            Ok(r) if r.status() == 201 => {
                let body: Value = r.json().await.unwrap();
                out.lock()
                    .unwrap()
                    .acked
                    .push((key, body["id"].as_i64().unwrap()));
            }
            Ok(r) => panic!("unexpected {}", r.status()),
            Err(e) if e.is_connect() => {
                out.lock().unwrap().refused_connections += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => out.lock().unwrap().cut.push(key),
        }
    }
}

async fn sigterm_under_load(backend: Backend) {
    let (db_url, _dir) = fresh_database(backend).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (bind, base) = (
        format!("127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}"),
    );
    let mut server = start(&db_url, &bind);
    ready(&base).await;
    let app = TestApp::remote(backend, &base, &db_url);
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let (stop, out) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Outcomes::default())),
    );
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            tokio::spawn(load(
                base.clone(),
                f.value(0).to_owned(),
                n,
                stop.clone(),
                out.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exited = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(
        exited.success(),
        "{backend:?}: a clean exit after SIGTERM ({exited})"
    );

    // Restarted: every acknowledged record is there; a cut request was never stored.
    let mut server = start(&db_url, &bind);
    ready(&base).await;
    let out = std::mem::take(&mut *out.lock().unwrap());
    let client = reqwest::Client::new();
    for (key, id) in &out.acked {
        let r = client
            .get(format!("{base}/e/orders/{id}"))
            .bearer_auth(f.value(0))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{backend:?}: acknowledged record {id} ({key}) is stored"
        );
    }
    for key in &out.cut {
        let r = client
            .post(format!("{base}/e/orders"))
            .bearer_auth(f.value(0))
            .header("Idempotency-Key", key)
            .json(&json!({"retry": key}))
            .send()
            .await
            .unwrap();
        assert!(
            r.headers().get("idempotent-replayed").is_none(),
            "{backend:?}: request {key} was stored but never answered"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.acked.len() > 100,
        "the load ran ({} acknowledged)",
        out.acked.len()
    );
    println!(
        "{backend:?}: SIGTERM under load from {CLIENTS} clients: {} acknowledged and stored, {} cut \
         before being taken, {} connections refused after the listener closed; exit {exited}",
        out.acked.len(),
        out.cut.len(),
        out.refused_connections
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_answers_every_accepted_request() {
    for backend in backends() {
        sigterm_under_load(backend).await;
    }
}
