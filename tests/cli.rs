//! The `portico` binary: help, migrate, user add, and a first start that prints
//! the generated admin password once (and never logs it).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

fn portico(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portico"));
    cmd.env_remove("PORTICO_ADMIN_PASSWORD")
        .env_remove("PORTICO_BIND")
        .env("PORTICO_DATABASE_URL", db_url)
        .env("PORTICO_LOG", "info");
    cmd
}

fn add_user(db_url: &str, name: &str, role: &str, password: &str) -> std::process::Output {
    let mut child = portico(db_url)
        .args(["user", "add", name, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn help_documents_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "PORTICO_BIND",
        "PORTICO_DATABASE_URL",
        "PORTICO_ADMIN_PASSWORD",
        "--database-url",
        "--bind",
    ] {
        assert!(text.contains(needle), "serve --help lacks {needle}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["serve", "migrate", "user"] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn a_database_url_without_a_known_scheme_is_refused() {
    let out = portico("mysql://x/y").arg("migrate").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite://"));
}

/// A database URL nobody has used yet on `backend`.
fn fresh_db_url(backend: Backend) -> String {
    let name = format!("portico_test_cli_{:016x}", rand::random::<u64>());
    match backend {
        Backend::Sqlite => format!(
            "sqlite://{}",
            std::env::temp_dir().join(name).join("portico.db").display()
        ),
        Backend::Postgres => {
            let base = std::env::var("PORTICO_TEST_POSTGRES_URL").unwrap();
            let ok = Command::new("psql")
                .arg(&base)
                .args(["-qc", &format!("CREATE DATABASE {name}")])
                .status()
                .unwrap();
            assert!(
                ok.success(),
                "psql could not create a database on PORTICO_TEST_POSTGRES_URL"
            );
            format!("{}/{name}", base.rsplit_once('/').unwrap().0)
        }
    }
}

#[tokio::test]
async fn cli_adds_users_and_first_start_prints_the_admin_password_once() {
    for backend in backends() {
        first_start_scenario(&fresh_db_url(backend), &fresh_db_url(backend)).await;
    }
}

async fn first_start_scenario(db_url: &str, empty: &str) {
    let db_url = db_url.to_owned();
    let status = |url: &str| {
        let out = portico(url).args(["migrate", "--status"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = status(&db_url);
    assert!(
        before.contains("pending 2026-11-22-000001_init"),
        "{before}"
    );
    assert!(
        !before.contains("applied "),
        "--status changes nothing: {before}"
    );
    let migrate = portico(&db_url).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let after = status(&db_url);
    assert!(after.contains("applied 2026-11-22-000001_init"), "{after}");
    assert!(after.contains("0 pending migration(s)"), "{after}");

    let short = add_user(&db_url, "ana", "analyst", "short");
    assert!(!short.status.success(), "a short password is refused");
    let added = add_user(&db_url, "ana", "analyst", "analyst-password-1");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let again = add_user(&db_url, "ana", "analyst", "analyst-password-1");
    assert!(!again.status.success(), "a duplicate user is refused");

    // A database with no users: serve creates the admin and prints its password once.
    let mut server = portico(empty)
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut password = None;
    let mut address = None;
    for _ in 0..10 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(p) = line.strip_prefix("Created user 'admin' with password: ") {
            password = Some(p.trim().to_owned());
        }
        if let Some(a) = line.strip_prefix("Portico listening on ") {
            address = Some(a.trim().to_owned());
            break;
        }
    }
    let (password, address) = (
        password.expect("generated password printed"),
        address.expect("address printed"),
    );
    assert!(password.len() >= 16);
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{address}/api/v1/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the printed password logs in");
    if empty.starts_with("sqlite://") {
        // SQLite is served by one process: a second one on the file is refused.
        let second = portico(empty)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!second.status.success());
        let said = String::from_utf8_lossy(&second.stderr);
        assert!(said.contains("another Portico serves"), "{said}");
    }
    server.kill().unwrap();
    let out = server.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.contains("portico listening"),
        "logs were captured: {logs}"
    );
    assert!(
        !logs.contains(&password),
        "the generated password never reaches the log"
    );
}

#[tokio::test]
async fn a_read_replica_needs_postgresql() {
    let (db, _dir) = fresh_database(Backend::Sqlite).await;
    let out = portico(&db)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-read-url",
            "postgres://reader@127.0.0.1:5433/portico",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--database-read-url needs PostgreSQL"),
        "{err}"
    );
}
