//! What the alert tests share: a receiver on 127.0.0.1 that records what it is
//! sent (answering 500 to its first `fail_first` requests, after `delay`), events
//! raised straight into the real database, and settings with small waits.
#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use portico::db::{self, DatabaseUrl};
use portico::domain::alert::{AlertSettings, Backoff};
use portico::domain::event::{Event, EventKind};
use portico::domain::sealing::SecretKey;
use portico::state::Settings;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }

    /// Whether the Standard Webhooks verifier accepts it under `secret`.
    pub fn verifies(&self, secret: &str) -> bool {
        let wh = standardwebhooks::Webhook::new(secret).unwrap();
        wh.verify(&self.body, &self.headers).is_ok()
    }
}

pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Got>>>,
    /// Requests answered so far.
    answered: Arc<AtomicUsize>,
    _server: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// Starts a receiver that answers 500 to its first `fail_first` requests and
    /// 204 after, each after `delay`.
    pub async fn start(fail_first: usize, delay: Duration) -> Receiver {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let answered = Arc::new(AtomicUsize::new(0));
        let (g, a) = (got.clone(), answered.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let (g, a) = (g.clone(), a.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, a) = (g.clone(), a.clone());
                async move {
                    let mut headers = http::HeaderMap::new();
                    for (k, v) in req.headers() {
                        headers.insert(
                            http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                            http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                        );
                    }
                    let n = {
                        let mut got = g.lock().unwrap();
                        got.push(Got {
                            headers,
                            body: body.to_vec(),
                        });
                        got.len()
                    };
                    tokio::time::sleep(delay).await;
                    a.fetch_add(1, Ordering::SeqCst);
                    match n <= fail_first {
                        true => HttpResponse::InternalServerError().body("not yet"),
                        false => HttpResponse::NoContent().finish(),
                    }
                }
            }))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/portico"),
            got,
            answered,
            _server: handle,
        }
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits (up to `within`) until it has got `n` requests; what it got.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Got> {
        let until = std::time::Instant::now() + within;
        loop {
            let got = self.got();
            if got.len() >= n || std::time::Instant::now() > until {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Settings with a secret key and small waits: retries after 100 ms (doubling,
/// at most 1 s), a 1 s timeout, a look for work every 50 ms.
pub fn settings() -> Settings {
    Settings {
        secret_key: Some(SecretKey::generate()),
        alerts: AlertSettings {
            backoff: Backoff {
                base: Duration::from_millis(100),
                cap: Duration::from_secs(1),
                give_up_after: Duration::from_secs(3600),
            },
            timeout: Duration::from_secs(1),
            poll: Duration::from_millis(50),
            concurrency: 4,
        },
        ..Settings::default()
    }
}

/// Raises an event of `kind` about `subject` in the database at `db_url`, as the
/// health checks do: its id (`None` when that change was raised already).
pub async fn raise(db_url: &str, kind: EventKind, subject: &str, data: Value) -> Option<i64> {
    let url = DatabaseUrl::parse(db_url).unwrap();
    let event = Event {
        kind,
        subject: subject.to_owned(),
        since: chrono::DateTime::from_timestamp(1_764_000_000, 0)
            .unwrap()
            .naive_utc(),
        data,
    };
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let now = chrono::Utc::now().naive_utc();
        portico::store::events::raise(&mut conn, &event, now).unwrap()
    })
    .await
    .unwrap()
}

/// The one number `sql` selects (as `n`) on the database at `db_url`.
pub async fn count(db_url: &str, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let url = DatabaseUrl::parse(db_url).unwrap();
    let sql = sql.to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let n: N = diesel::sql_query(sql).get_result(&mut **conn).unwrap();
        n.n
    })
    .await
    .unwrap()
}
