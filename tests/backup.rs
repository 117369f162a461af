//! Backups and restores: `portico backup` of a SQLite database being written keeps
//! every record acknowledged before it started; `portico restore` refuses a
//! database in use and a broken backup, and a restored database serves. On
//! PostgreSQL the README's `pg_dump` / `pg_restore` procedure round-trips.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn portico(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(args)
        .env("PORTICO_LOG", "warn")
        .output()
        .unwrap()
}

/// Posts records until `stop`; every acknowledgement (when, record id) goes to `acked`.
async fn writer(
    app_url: String,
    token: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(Instant, i64)>>>,
) {
    let client = reqwest::Client::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let res = client
            .post(format!("{app_url}/e/orders"))
            .bearer_auth(&token)
            .json(&json!({"n": n}))
            .send()
            .await;
        if let Ok(res) = res {
            if res.status() == 201 {
                let body: Value = res.json().await.unwrap();
                let at = Instant::now();
                acked
                    .lock()
                    .unwrap()
                    .push((at, body["id"].as_i64().unwrap()));
            }
        }
    }
}

/// Record ids in the SQLite database at `path`.
fn record_ids(path: &Path) -> Vec<i64> {
    use diesel::{Connection, QueryDsl, RunQueryDsl};
    let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    portico::db::schema::records::table
        .select(portico::db::schema::records::id)
        .load(&mut conn)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_holds_every_record_acknowledged_before_it() {
    let app = spawn_app(Backend::Sqlite).await;
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let (stop, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let mut clients = Vec::new();
    for _ in 0..4 {
        let args = (
            app.address.clone(),
            f.value(0).to_owned(),
            stop.clone(),
            acked.clone(),
        );
        clients.push(tokio::spawn(writer(args.0, args.1, args.2, args.3)));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let dir = std::env::temp_dir().join(format!("portico-backup-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("backup.db");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let (url, file) = (app.db_url.clone(), file.clone());
        move || portico(&["--database-url", &url, "backup", file.to_str().unwrap()])
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("integrity ok") && said.contains("records"),
        "{said}"
    );
    let before: Vec<i64> = acked
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at < started)
        .map(|(_, id)| *id)
        .collect();
    let after = acked.lock().unwrap().len() - before.len();
    assert!(
        before.len() > 20 && after > 0,
        "load ran before ({}) and during ({after})",
        before.len()
    );
    let saved = record_ids(&file);
    let missing: Vec<&i64> = before.iter().filter(|id| !saved.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, missing from it: {missing:?}"
    );
    println!(
        "backup under load: {} acknowledged before it, all in it ({} records in the copy)",
        before.len(),
        saved.len()
    );

    // Restoring over the database the server has open is refused.
    let refused = portico(&[
        "--database-url",
        &app.db_url,
        "restore",
        file.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use"));
    // Restored where nothing runs, it serves: sign-in, the token, its records.
    let target = format!("sqlite://{}", dir.join("restored.db").display());
    // A payload index's file left there names other records: the restore drops it.
    let stale_index = dir.join("restored.db.search");
    std::fs::write(&stale_index, b"stale").unwrap();
    let restored = portico(&["--database-url", &target, "restore", file.to_str().unwrap()]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(
        !stale_index.exists(),
        "the restore kept a stale payload index"
    );
    let served = spawn_app_on(Backend::Sqlite, target, None, Default::default()).await;
    served.admin().await;
    let page: Value = served
        .client
        .get(served.url("/e/orders?limit=1000"))
        .bearer_auth(f.value(0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["records"].as_array().unwrap().len() >= before.len().min(1000));
    assert_eq!(
        served
            .ingest("orders", f.value(0), json!({"after": "restore"}))
            .await
            .status(),
        201
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_backup_or_an_existing_target_is_refused() {
    let dir = std::env::temp_dir().join(format!("portico-backup-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.db");
    std::fs::write(&junk, b"not a database at all, just bytes").unwrap();
    let target = format!("sqlite://{}", dir.join("p.db").display());
    let out = portico(&["--database-url", &target, "restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SQLite database"));
    let exists = portico(&["--database-url", &target, "backup", junk.to_str().unwrap()]);
    assert!(!exists.status.success());
    assert!(String::from_utf8_lossy(&exists.stderr).contains("exists"));
    let pg = portico(&[
        "--database-url",
        "postgres://u@127.0.0.1:1/x",
        "backup",
        "/tmp/x.db",
    ]);
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_and_pg_restore_round_trip_a_postgres_database() {
    if !backends().contains(&Backend::Postgres) {
        eprintln!("PORTICO_TEST_POSTGRES_URL is not set: the PostgreSQL round trip is skipped");
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    for n in 0..5 {
        assert_eq!(
            app.ingest("orders", f.value(0), json!({"n": n}))
                .await
                .status(),
            201
        );
    }
    let dump = std::env::temp_dir().join(format!("portico-{}.dump", rand::random::<u64>()));
    let out = Command::new("pg_dump")
        .args(["-Fc", "-f", dump.to_str().unwrap(), &app.db_url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = tokio::task::spawn_blocking(fresh_postgres).await.unwrap();
    let out = Command::new("pg_restore")
        .args(["--no-owner", "-d", &target, dump.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&dump).unwrap();
    let served = spawn_app_on(Backend::Postgres, target, None, Default::default()).await;
    served.admin().await;
    let page: Value = served
        .client
        .get(served.url("/e/orders"))
        .bearer_auth(f.value(0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 5);
    assert_eq!(
        served
            .ingest("orders", f.value(0), json!({"n": 5}))
            .await
            .status(),
        201
    );
}
