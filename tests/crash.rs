//! Crash safety: the real `portico` binary is killed with SIGKILL at random moments
//! under POST load and restarted. Every record whose `201` a client received must be
//! there, intact, and no `Idempotency-Key` may have stored twice.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, ADMIN_PASSWORD};
use rand::Rng;
use serde_json::{json, Value};

const KILLS: usize = 10;
const CLIENTS: usize = 8;

struct Server {
    child: Option<Child>,
    db_url: String,
    bind: String,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_portico"))
            .args([
                "serve",
                "--database-url",
                &self.db_url,
                "--bind",
                &self.bind,
            ])
            .env("PORTICO_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PORTICO_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start portico");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().unwrap();
        }
    }

    async fn ready(&self, client: &reqwest::Client) {
        for _ in 0..300 {
            if let Ok(r) = client
                .get(format!("http://{}/readyz", self.bind))
                .send()
                .await
            {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("portico did not become ready on {}", self.bind);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What clients were told: key → (record id, body sent).
type Acked = Arc<Mutex<HashMap<String, (i64, Value)>>>;

async fn client_loop(
    base: String,
    token: String,
    client_no: usize,
    acked: Acked,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> usize {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut seq = 0usize;
    let mut retries = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let key = format!("c{client_no}-{seq}");
        let body = json!({"client": client_no, "seq": seq, "pad": "x".repeat(200 + seq % 50)});
        // Retry the same key until a definite answer: the crash may have eaten the response
        // of a request that was stored, and the retry must then return that record.
        loop {
            let res = http
                .post(format!("{base}/e/crash"))
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            match res {
                Ok(r) if r.status() == 201 => {
                    let v: Value = match r.json().await {
                        Ok(v) => v,
                        Err(_) => {
                            retries += 1;
                            continue;
                        }
                    };
                    let id = v["id"].as_i64().expect("id");
                    let mut a = acked.lock().unwrap();
                    if let Some((first, _)) = a.get(&key) {
                        assert_eq!(*first, id, "a repeat of {key} returned another record");
                    }
                    a.insert(key.clone(), (id, body.clone()));
                    break;
                }
                Ok(r) if r.status().is_server_error() => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(r) => panic!("unexpected {} for {key}", r.status()),
                Err(_) => {
                    retries += 1;
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return retries;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        seq += 1;
    }
    retries
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

async fn survive_kills(backend: Backend) {
    let (db_url, _dir) = common::fresh_database(backend).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let base = format!("http://{bind}");
    let mut server = Server {
        child: None,
        db_url,
        bind,
    };
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    server.start();
    server.ready(&http).await;

    // An endpoint with a token mapped for POST and GET.
    let login = json_of(
        http.post(format!("{base}/api/v1/login"))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD})),
    )
    .await;
    let csrf = login["csrf_token"].as_str().unwrap().to_owned();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}/api/v1{path}"))
            .header("X-CSRF-Token", &csrf)
            .json(&body)
    };
    let e = json_of(post("/endpoints", json!({"slug": "crash"}))).await;
    let t = json_of(post("/tokens", json!({"name": "crash-app"}))).await;
    for m in ["POST", "GET"] {
        let r = http
            .put(format!(
                "{base}/api/v1/tokens/{}/mappings/{}/{m}",
                t["id"], e["id"]
            ))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let token = t["token"].as_str().unwrap().to_owned();

    let acked: Acked = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(client_loop(
                base.clone(),
                token.clone(),
                c,
                acked.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let mut acked_at_kill = Vec::new();
    for _ in 0..KILLS {
        let wait = rand::thread_rng().gen_range(150..700);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        server.kill();
        acked_at_kill.push(acked.lock().unwrap().len());
        server.start();
        server.ready(&http).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut retries = 0;
    for c in clients {
        retries += c.await.unwrap();
    }

    // Every acknowledged record is there and intact.
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "the load ran ({} records acknowledged)",
        acked.len()
    );
    let reader = reqwest::Client::new();
    for (key, (id, body)) in &acked {
        let r = reader
            .get(format!("{base}/e/crash/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged record {id} ({key}) is lost");
        let v: Value = r.json().await.unwrap();
        assert_eq!(&v["data"], body, "record {id} ({key}) is not what was sent");
    }
    // And nothing was stored twice under one key.
    let mut stored: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
    let mut after: Option<i64> = None;
    loop {
        let mut url = format!("{base}/e/crash?limit=1000");
        if let Some(a) = after {
            url.push_str(&format!("&after={a}"));
        }
        let page = json_of(reader.get(url).bearer_auth(&token)).await;
        for r in page["records"].as_array().unwrap() {
            let k = (
                r["data"]["client"].as_i64().unwrap(),
                r["data"]["seq"].as_i64().unwrap(),
            );
            stored.entry(k).or_default().push(r["id"].as_i64().unwrap());
        }
        match page["next"].as_i64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let doubles: Vec<_> = stored.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        doubles.is_empty(),
        "stored twice under one Idempotency-Key: {doubles:?}"
    );
    println!(
        "{backend:?}: {KILLS} SIGKILLs survived; {} acknowledged records all present and intact \
         (acknowledged before each kill: {acked_at_kill:?}); {} records stored; {retries} client retries; 0 duplicates",
        acked.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_sigkill() {
    for backend in common::backends() {
        survive_kills(backend).await;
    }
}
