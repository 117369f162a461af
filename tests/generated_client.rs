//! A client generated from the OpenAPI document works against the server: the
//! Python generator `openapi-python-client` builds a package from the served
//! `/api/openapi.json`, and `fixtures/generated_client.py` posts records to
//! `/e/{slug}` with a secondary token and pages through them with it.
//!
//! Runs when the generator is installed (`python3 -m openapi_python_client`); else
//! it says why it did not and passes, unless `PORTICO_TEST_GENERATED_CLIENT=1`
//! (CI) demands it.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use serde_json::json;
use tokio::process::Command;

const SCRIPT: &str = "tests/fixtures/generated_client.py";

fn output_text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether the generator can run; with `PORTICO_TEST_GENERATED_CLIENT=1` it must.
async fn generator_installed() -> bool {
    let demanded = std::env::var("PORTICO_TEST_GENERATED_CLIENT").is_ok_and(|v| v == "1");
    let version = Command::new("python3")
        .args(["-m", "openapi_python_client", "--version"])
        .output()
        .await;
    match version {
        Ok(out) if out.status.success() => true,
        Ok(out) if demanded => panic!(
            "PORTICO_TEST_GENERATED_CLIENT=1 but openapi-python-client does not run:\n{}",
            output_text(&out)
        ),
        Err(e) if demanded => {
            panic!("PORTICO_TEST_GENERATED_CLIENT=1 but python3 does not run: {e}")
        }
        _ => {
            println!(
                "skipped: openapi-python-client is not installed (python3 -m pip install \
                 openapi-python-client); set PORTICO_TEST_GENERATED_CLIENT=1 to require it"
            );
            false
        }
    }
}

/// Generates the package `portico_client` in `dir` from the document `app` serves.
async fn generate(app: &TestApp, dir: &Path) {
    let out = Command::new("python3")
        .args(["-m", "openapi_python_client", "generate", "--meta", "none"])
        .arg("--url")
        .arg(app.url("/api/openapi.json"))
        .arg("--output-path")
        .arg(dir.join("portico_client"))
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "the generator failed:\n{text}");
    // What it could not generate it names, with the operation: none of the ingest API.
    assert!(
        !text.contains(" /e/"),
        "the generator skipped ingest parts:\n{text}"
    );
    assert!(
        dir.join("portico_client/api/ingest/ingest_post_record.py")
            .exists(),
        "{text}"
    );
}

async fn a_generated_client_posts_and_pages_records(app: TestApp) {
    if !generator_installed().await {
        return;
    }
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let dir = std::env::temp_dir().join(format!("portico_client_{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = tempdir::TempDir(dir.clone());
    generate(&app, &dir).await;
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT))
        .args([app.address.as_str(), "orders", f.value(0)])
        .env("PYTHONPATH", &dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "{:?}: the client script failed:\n{text}",
        app.backend
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("posted 9 records and read them back in 3 pages"),
        "{text}"
    );
    println!("{:?}: the generated client {}", app.backend, said.trim());
}

on_each_backend!(
    a_generated_python_client_works,
    a_generated_client_posts_and_pages_records
);
