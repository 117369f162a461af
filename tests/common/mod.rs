//! Test harness: starts the real server on a random port against a fresh
//! database, on SQLite and, when `PORTICO_TEST_POSTGRES_URL` is set, on PostgreSQL.
#![allow(dead_code)]

pub mod binary;
pub mod policy;
pub mod ui;

use std::net::TcpListener;

use actix_web::web;
use diesel::{Connection, PgConnection, RunQueryDsl};
use portico::clock::Clock;
use portico::db::{self, DatabaseUrl};
use portico::domain::secret::Password;
use portico::state::{AppState, Settings};
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends this run covers.
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if std::env::var("PORTICO_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty()) {
        b.push(Backend::Postgres);
    }
    b
}

/// Runs `$body` (an async fn taking `TestApp`) once per backend.
#[macro_export]
macro_rules! on_each_backend {
    ($name:ident, $scenario:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for backend in common::backends() {
                let app = common::spawn_app(backend).await;
                $scenario(app).await;
            }
        }
    };
    ($name:ident, $scenario:expr, $settings:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for backend in common::backends() {
                let app = common::spawn_app_with(backend, $settings).await;
                $scenario(app).await;
            }
        }
    };
}

pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub clock: Clock,
    pub client: reqwest::Client,
    pub db_url: String,
    _dir: Option<tempdir::TempDir>,
}

pub mod tempdir {
    /// A directory removed when dropped.
    pub struct TempDir(pub std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn unique_name() -> String {
    format!("portico_test_{:016x}", rand::random::<u64>())
}

/// Drops the test database at `url` (made by [`fresh_postgres`]), closing every
/// connection still open on it: a test that starts many servers in one process
/// (the upgrade test, a server per schema version) frees each one's connections so
/// they never add up past the server's `max_connections`.
pub fn drop_postgres(url: &str) {
    let base = std::env::var("PORTICO_TEST_POSTGRES_URL").expect("PORTICO_TEST_POSTGRES_URL");
    let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert!(name.starts_with("portico_test_"), "not a test database");
    let mut admin = PgConnection::establish(&base).expect("PostgreSQL is unreachable");
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .expect("drop test database");
}

pub fn fresh_postgres() -> String {
    let base = std::env::var("PORTICO_TEST_POSTGRES_URL").expect("PORTICO_TEST_POSTGRES_URL");
    let name = unique_name();
    let mut admin = PgConnection::establish(&base)
        .expect("PostgreSQL at PORTICO_TEST_POSTGRES_URL is unreachable");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .expect("create test database");
    match base.rfind('/') {
        Some(i) if base[..i].contains("://") && i > base.find("://").unwrap() + 2 => {
            let (head, tail) = base.split_at(i);
            let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
            format!("{head}/{name}{query}")
        }
        _ => format!("{base}/{name}"),
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Settings::default()).await
}

/// A fresh, empty database on `backend`: its URL, and for SQLite the directory
/// that holds it (removed when dropped).
pub async fn fresh_database(backend: Backend) -> (String, Option<tempdir::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(unique_name());
            std::fs::create_dir_all(&dir).unwrap();
            (
                format!("sqlite://{}", dir.join("portico.db").display()),
                Some(tempdir::TempDir(dir)),
            )
        }
        Backend::Postgres => (
            tokio::task::spawn_blocking(fresh_postgres).await.unwrap(),
            None,
        ),
    }
}

pub async fn spawn_app_with(backend: Backend, settings: Settings) -> TestApp {
    let (db_url, dir) = fresh_database(backend).await;
    spawn_app_on(backend, db_url, dir, settings).await
}

/// A server on the database at `db_url` (migrated and given its admin here).
pub async fn spawn_app_on(
    backend: Backend,
    db_url: String,
    dir: Option<tempdir::TempDir>,
    settings: Settings,
) -> TestApp {
    let url = DatabaseUrl::parse(&db_url).unwrap();
    let clock = Clock::default();
    let pool = {
        let (url, clock) = (url.clone(), clock.clone());
        tokio::task::spawn_blocking(move || {
            let pool = db::connect(&url, 8).unwrap();
            portico::operations::upkeep::prepare_database(
                &pool,
                Some(Password::new(ADMIN_PASSWORD.into())),
                &clock,
            )
            .unwrap();
            pool
        })
        .await
        .unwrap()
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = web::Data::new(AppState::new(pool, clock.clone(), settings));
    let server = portico::serve(listener, state, Some(2)).unwrap();
    tokio::spawn(server);
    TestApp {
        backend,
        address: format!("http://127.0.0.1:{port}"),
        clock,
        client: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
        db_url,
        _dir: dir,
    }
}

/// Another server on the same database, as a second instance behind a load balancer.
pub async fn second_instance(app: &TestApp) -> TestApp {
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    let pool = tokio::task::spawn_blocking(move || db::connect(&url, 8).unwrap())
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let clock = app.clock.clone();
    let state = web::Data::new(AppState::new(pool, clock.clone(), Settings::default()));
    tokio::spawn(portico::serve(listener, state, Some(2)).unwrap());
    TestApp {
        backend: app.backend,
        address: format!("http://127.0.0.1:{port}"),
        clock,
        client: reqwest::Client::new(),
        db_url: app.db_url.clone(),
        _dir: None,
    }
}

/// The preset most scenarios start from: an admin session, an endpoint, and
/// secondary tokens (one per application) mapped onto its POST and GET.
pub struct Mapped {
    pub admin: Session,
    /// The endpoint as created (with its `primary_tokens`, shown once).
    pub endpoint: Value,
    /// The tokens as created (each with its `token` value, shown once).
    pub tokens: Vec<Value>,
}

impl Mapped {
    /// The value of token `i`.
    pub fn value(&self, i: usize) -> &str {
        self.tokens[i]["token"].as_str().unwrap()
    }

    /// The endpoint's primary token for `method`.
    pub fn primary(&self, method: &str) -> &str {
        self.endpoint["primary_tokens"][method].as_str().unwrap()
    }
}

pub const ANALYST_PASSWORD: &str = "analyst-password-123";

/// A logged-in management session (cookie in its own client, CSRF token kept).
pub struct Session {
    pub client: reqwest::Client,
    pub csrf: String,
    pub base: String,
}

impl TestApp {
    /// A server started elsewhere (the real binary) at `base`, on `db_url`.
    pub fn remote(backend: Backend, base: &str, db_url: &str) -> TestApp {
        TestApp {
            backend,
            address: base.to_owned(),
            clock: Clock::default(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            db_url: db_url.to_owned(),
            _dir: None,
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let res = self.client.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// The value of the metric line that starts with `series` (name and labels).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.metrics().await;
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// Another handle on the same server (for a task of its own).
    pub fn remote_twin(&self) -> TestApp {
        TestApp::remote(self.backend, &self.address, &self.db_url)
    }

    /// Runs `sql` on this app's database (for seeding beyond what HTTP does quickly).
    pub async fn sql(&self, sql: String) {
        let url = DatabaseUrl::parse(&self.db_url).unwrap();
        tokio::task::spawn_blocking(move || {
            let pool = db::connect(&url, 1).unwrap();
            let mut conn = pool.get().unwrap();
            diesel::sql_query(sql).execute(&mut **conn).unwrap();
        })
        .await
        .unwrap();
    }

    /// The partitions of `table` (none on SQLite), oldest first.
    pub async fn partitions(
        &self,
        table: portico::store::partitions::Partitioned,
    ) -> Vec<portico::store::partitions::Span> {
        let url = DatabaseUrl::parse(&self.db_url).unwrap();
        tokio::task::spawn_blocking(move || {
            let pool = db::connect(&url, 1).unwrap();
            let mut conn = pool.get().unwrap();
            portico::store::partitions::spans(&mut conn, table).unwrap()
        })
        .await
        .unwrap()
    }

    /// Makes the partitions the days of `[from, to]` lack (PostgreSQL; Portico makes
    /// those around today itself).
    pub async fn prepare_days(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) {
        let url = DatabaseUrl::parse(&self.db_url).unwrap();
        tokio::task::spawn_blocking(move || {
            let pool = db::connect(&url, 1).unwrap();
            let mut conn = pool.get().unwrap();
            portico::operations::retention::prepare_days(&mut conn, from, to).unwrap();
        })
        .await
        .unwrap();
    }

    /// `n` records of about `pad` bytes each posted to endpoint `endpoint_id` (slug
    /// `slug`), with a call each, straight into the database (`{"n":…,"pad":"xx…"}`).
    pub async fn seed_records(&self, endpoint_id: i64, slug: &str, n: i64, pad: i64) {
        let records = match self.backend {
            Backend::Sqlite => format!(
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) \
                 INSERT INTO records (endpoint_id, received_at, data) SELECT {endpoint_id}, \
                 datetime('now'), '{{\"n\":' || n || ',\"pad\":\"' || replace(hex(zeroblob({half})), '0', 'x') || '\"}}' FROM s",
                half = pad / 2
            ),
            Backend::Postgres => format!(
                "INSERT INTO records (endpoint_id, received_at, data) SELECT {endpoint_id}, \
                 now() at time zone 'utc', '{{\"n\":' || n || ',\"pad\":\"' || repeat('x', {pad}) || '\"}}' \
                 FROM generate_series(1, {n}) AS s(n)"
            ),
        };
        self.sql(records).await;
        self.seed_calls_of_records(endpoint_id, slug).await;
    }

    /// A `201` POST call for every record of `endpoint_id`, at its time, in id order.
    pub async fn seed_calls_of_records(&self, endpoint_id: i64, slug: &str) {
        self.sql(format!(
            "INSERT INTO calls (at, endpoint_id, endpoint_slug, method, path, status, token_kind, \
             remote_addr, request_bytes, response_bytes, duration_us, record_id) \
             SELECT received_at, endpoint_id, '{slug}', 'POST', '/e/{slug}', 201, 'none', \
             '127.0.0.1', 100, 40, 500, id FROM records WHERE endpoint_id = {endpoint_id} ORDER BY id"
        ))
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET /api/v1/me` with the API key `key`: its status and body.
    pub async fn me_by_key(&self, key: &str) -> (u16, Value) {
        let res = reqwest::Client::new()
            .get(self.url("/api/v1/me"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Logs in as `username` with `password`.
    pub async fn login_as(&self, username: &str, password: &str) -> Session {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let res = client
            .post(self.url("/api/v1/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login as {username}");
        let body: Value = res.json().await.unwrap();
        Session {
            client,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            base: self.address.clone(),
        }
    }

    pub async fn admin(&self) -> Session {
        self.login_as("admin", ADMIN_PASSWORD).await
    }

    /// An admin session and a session of `ana`, an analyst the admin added.
    pub async fn analyst(&self) -> (Session, Session) {
        let admin = self.admin().await;
        let res = admin
            .post(
                "/users",
                json!({"username": "ana", "role": "analyst", "password": ANALYST_PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let analyst = self.login_as("ana", ANALYST_PASSWORD).await;
        (admin, analyst)
    }

    /// Two endpoints (`orders`, `stock`), two applications (`shop-app`, `erp`) and
    /// some traffic including refusals: (admin, orders, stock, shop, erp).
    pub async fn traffic(&self) -> (Session, Value, Value, Value, Value) {
        let admin = self.admin().await;
        let orders = admin.create_endpoint("orders", json!({})).await;
        let stock = admin.create_endpoint("stock", json!({})).await;
        let shop = admin.create_token("shop-app").await;
        let erp = admin.create_token("erp").await;
        admin.map(&shop["id"], &orders["id"], "POST", true).await;
        admin.map(&erp["id"], &orders["id"], "POST", true).await;
        admin.map(&erp["id"], &stock["id"], "POST", true).await;
        let (s, e) = (
            shop["token"].as_str().unwrap(),
            erp["token"].as_str().unwrap(),
        );
        self.ingest("orders", s, json!({"customer": "Alice Smith"}))
            .await;
        self.ingest("orders", s, json!({"customer": "Bob"})).await;
        self.ingest("orders", e, json!({"sku": "X-1"})).await;
        self.ingest("stock", e, json!({"sku": "X-1", "qty": 3}))
            .await;
        self.ingest("stock", s, json!({"sku": "nope"})).await; // 403: not mapped
        self.ingest("orders", &"a".repeat(64), json!({})).await; // 401: unknown
        (admin, orders, stock, shop, erp)
    }

    /// `orders` (deleting allowed) with two applications, `shop-app` and `erp`,
    /// each mapped onto its POST and GET.
    pub async fn two_apps(&self) -> Mapped {
        self.mapped(
            "orders",
            json!({"allow_delete": true}),
            &["shop-app", "erp"],
        )
        .await
    }

    /// Endpoint `slug` (with `settings` over the defaults) and one token per name in
    /// `tokens`, each mapped onto its POST and GET.
    pub async fn mapped(&self, slug: &str, settings: Value, tokens: &[&str]) -> Mapped {
        let admin = self.admin().await;
        let endpoint = admin.create_endpoint(slug, settings).await;
        let mut created = Vec::new();
        for name in tokens {
            let t = admin.create_token(name).await;
            for m in ["POST", "GET"] {
                admin.map(&t["id"], &endpoint["id"], m, true).await;
            }
            created.push(t);
        }
        Mapped {
            admin,
            endpoint,
            tokens: created,
        }
    }

    /// POSTs a JSON body to `/e/{slug}` with `token`.
    pub async fn ingest(&self, slug: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/e/{slug}")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

impl Session {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET `path` and its JSON body.
    pub async fn read(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("X-CSRF-Token", &self.csrf);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates an endpoint and returns its JSON (with `primary_tokens`).
    pub async fn create_endpoint(&self, slug: &str, extra: Value) -> Value {
        let mut body = json!({"slug": slug, "name": slug, "description": "", "auth": "token", "allow_delete": false, "enabled": true});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let res = self.post("/endpoints", body).await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    /// Creates a secondary token and returns its JSON (with `token`).
    pub async fn create_token(&self, name: &str) -> Value {
        let res = self
            .post(
                "/tokens",
                json!({"name": name, "description": "", "enabled": true, "expires_at": null}),
            )
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    /// A personal API key of this session's user (its value).
    pub async fn api_key(&self, name: &str) -> String {
        let res = self.post("/me/api-keys", json!({"name": name})).await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        body["key"].as_str().unwrap().to_owned()
    }

    pub async fn map(&self, token_id: &Value, endpoint_id: &Value, method: &str, enabled: bool) {
        let res = self
            .put(
                &format!("/tokens/{token_id}/mappings/{endpoint_id}/{method}"),
                json!({"enabled": enabled}),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "map token {token_id} onto {endpoint_id} {method}"
        );
    }
}

/// Asserts a problem+json response with `status` and `code`.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(
        res.status().as_u16(),
        status,
        "status for expected code {code}"
    );
    let ct = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    body
}
