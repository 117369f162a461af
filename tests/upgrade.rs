//! Upgrades: a database at every earlier schema version, holding data in every
//! table (`tests/fixtures/upgrade/`), is migrated by the current server on both
//! backends and then serves the core journeys: sign-in by password, session and API
//! key, the lists, ingest with the tokens it held, refusals as before, the viewer
//! and a mapping change. Every migration must have its fixture.

mod common;

use std::path::PathBuf;

use common::*;
use diesel::RunQueryDsl;
use portico::db::{self, DatabaseUrl};
use portico::domain::token::{TokenHash, TokenValue};
use serde_json::{json, Value};

const SHOP: &str = "bBRsk29cztUX1kmObfEjdpyHGfY5PBNaNKNYd7pMCapFTzdbKB1Ga8FPJs2hFxsV";
const ERP: &str = "BnDomtQhA14VqnPa5lwOo0OpGcSDuJZKMvlsbxFHz9GuXlmPvNRB0tR1li2cVBHZ";
const OLD_APP: &str = "rRVzYkBEyhiXUTdSZZqPy7tTKP6RUDLYLvqsKt3sVNrCtNuPBUKibc7Xii0bsY9C";
const PRIMARY_POST: &str = "DvDlr3qBiwBNPBACZMzla6MkXpsaCoKaEF7UV2PUBKiCUbyMJcxDWo7hq53d10Qr";
const SESSION: &str = "hwlCSaIFWhNMDoyrCLi25SVRQWbP0od7fZ7wltnJLXNxGu5sI2hLSZcPE039Nppo";
const API_KEY: &str = "Dso6D0T8vQqyZ1sazuxcyBMgaWPPyOWF74MguQG3JSr3lpxGut6VkYi3EU1gGVnc";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

/// The fixture of `version` with its includes resolved.
fn fixture(version: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join(format!("{version}.sql")))
        .unwrap_or_else(|_| panic!("no upgrade fixture for migration {version}"));
    let mut out = String::new();
    for line in text.lines() {
        match line.strip_prefix("-- include: ") {
            Some(other) => out.push_str(&fixture(other.trim().trim_end_matches(".sql"))),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn binary(hash: &TokenHash, backend: Backend) -> String {
    let hex: String = hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    match backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

/// Replaces `{{hash:V}}` and `{{csrf_hash:S}}` with the backend's literals.
fn substitute(sql: &str, backend: Backend) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let (kind, value) = rest[start + 2..end].split_once(':').unwrap();
        let hash = match kind {
            "hash" => TokenHash::of(value),
            "csrf_hash" => {
                let session = TokenValue::parse(value).unwrap();
                TokenHash::of(&portico::operations::sessions::csrf_token_for(&session))
            }
            other => panic!("unknown placeholder {other}"),
        };
        out.push_str(&binary(&hash, backend));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A database of `backend` at schema `version`, holding the fixture's data and
/// then what `extra` inserts.
async fn database_at(
    backend: Backend,
    version: &'static str,
    extra: &str,
) -> (String, Option<tempdir::TempDir>) {
    let (url, dir) = fresh_database(backend).await;
    let sql = substitute(&format!("{}\n{extra}", fixture(version)), backend);
    let parsed = DatabaseUrl::parse(&url).unwrap();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&parsed, 1).unwrap();
        let mut conn = pool.get().unwrap();
        db::migrate_until(&mut conn, version).unwrap();
        // Partitioned by day from 2026-11-29-000003 on (PostgreSQL): the days the
        // fixtures' rows fall on, as Portico makes them ahead of time.
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        portico::operations::retention::prepare_days(
            &mut conn,
            day(1),
            day(31) + chrono::TimeDelta::days(61),
        )
        .unwrap();
        for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            let statement: String = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if !statement.trim().is_empty() {
                diesel::sql_query(&statement)
                    .execute(&mut **conn)
                    .unwrap_or_else(|e| panic!("{version}: {e}\n{statement}"));
            }
        }
    })
    .await
    .unwrap();
    (url, dir)
}

async fn post(app: &TestApp, slug: &str, token: &str) -> reqwest::Response {
    app.ingest(slug, token, json!({"after": "upgrade"})).await
}

/// The journeys an upgraded database must serve.
async fn journeys(app: &TestApp, version: &str) {
    let admin = app.login_as("admin", "fixture-admin-password").await;
    app.login_as("ana", "fixture-ana-password").await;
    let by_key: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_key["username"], "admin", "{version}: the API key");
    let by_session = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("portico_session={SESSION}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_session.status(), 200, "{version}: the session survives");
    let endpoints: Value = admin.get("/endpoints").await.json().await.unwrap();
    assert_eq!(endpoints.as_array().unwrap().len(), 3, "{version}");
    let tokens: Value = admin.get("/tokens?state=all").await.json().await.unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 3, "{version}");
    let audit: Value = admin.get("/audit").await.json().await.unwrap();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 7, "{version}");
    let calls: Value = admin.get("/calls").await.json().await.unwrap();
    assert!(calls["calls"].as_array().unwrap().len() >= 7, "{version}");
    let refused: Value = admin.get("/calls?status=4xx").await.json().await.unwrap();
    assert!(refused["calls"].as_array().unwrap().len() >= 2, "{version}");

    assert_eq!(
        post(app, "orders", SHOP).await.status(),
        201,
        "{version}: shop-app"
    );
    assert_eq!(
        post(app, "orders", PRIMARY_POST).await.status(),
        201,
        "{version}: primary"
    );
    assert_eq!(
        post(app, "public", "").await.status(),
        201,
        "{version}: public"
    );
    assert_problem(post(app, "orders", ERP).await, 403, "token_disabled").await;
    assert_problem(post(app, "orders", OLD_APP).await, 401, "token_invalid").await;
    let records: Value = app
        .client
        .get(app.url("/e/orders"))
        .bearer_auth(SHOP)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = records["records"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{version}: three held, two posted");
    assert_eq!(
        records[1]["data"]["amount"].to_string(),
        "12345678901234567890"
    );
    let shop: Value = admin.get("/calls?token=1").await.json().await.unwrap();
    // Two held, and this run's POST and GET.
    assert_eq!(
        shop["calls"].as_array().unwrap().len(),
        4,
        "{version}: the viewer by token"
    );
    let res = admin
        .put("/tokens/1/mappings/1/POST", json!({"enabled": false}))
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(post(app, "orders", SHOP).await, 403, "mapping_disabled").await;
}

async fn every_earlier_version_upgrades_and_serves(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let parsed = DatabaseUrl::parse(&url).unwrap();
    let versions = tokio::task::spawn_blocking(move || {
        let pool = db::connect(&parsed, 1).unwrap();
        let status = db::migration_status(&mut pool.get().unwrap()).unwrap();
        status.into_iter().map(|(v, _)| v).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(versions.len() >= 3);
    for version in versions {
        let version: &'static str = Box::leak(version.into_boxed_str());
        let (url, dir) = database_at(backend, version, "").await;
        let app = spawn_app_on(backend, url, dir, Default::default()).await;
        journeys(&app, version).await;
        println!("{backend:?}: upgraded from {version} and served");
        if backend == Backend::Postgres {
            // This server's connections go with its database (see drop_postgres).
            let url = app.db_url.clone();
            tokio::task::spawn_blocking(move || drop_postgres(&url))
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_at_every_schema_version_upgrade_and_serve() {
    for backend in backends() {
        every_earlier_version_upgrades_and_serves(backend).await;
    }
}

/// Names an earlier version allowed twice (ignoring case): the oldest token keeps
/// its name, each later one gets its id appended; then names are unique.
async fn names_taken_twice_are_told_apart(backend: Backend) {
    let twice = "INSERT INTO tokens (name, description, token_hash, hint, enabled, active, created_by, created_at, updated_at) VALUES
  ('Shop-App', '', {{hash:twice-1}}, 'x…x', TRUE, TRUE, 'admin', '2026-11-03 09:00:00', '2026-11-03 09:00:00'),
  ('SHOP-APP', '', {{hash:twice-2}}, 'y…y', TRUE, TRUE, 'admin', '2026-11-03 09:00:00', '2026-11-03 09:00:00');";
    let (url, dir) = database_at(backend, "2026-11-29-000004_payload_search", twice).await;
    let app = spawn_app_on(backend, url, dir, Default::default()).await;
    let admin = app.login_as("admin", "fixture-admin-password").await;
    let tokens: Value = admin.get("/tokens?state=all").await.json().await.unwrap();
    let mut names: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["SHOP-APP (5)", "Shop-App (4)", "erp", "old-app", "shop-app"],
        "{backend:?}"
    );
    let res = admin.post("/tokens", json!({"name": "ERP"})).await;
    assert_problem(res, 409, "name_taken").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_an_earlier_version_allowed_twice_are_told_apart() {
    for backend in backends() {
        names_taken_twice_are_told_apart(backend).await;
    }
}
