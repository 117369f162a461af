//! Native TLS: `portico serve --tls-cert --tls-key` answers HTTPS (HTTP/2 when the
//! client offers it, HTTP/1.1 otherwise) with Secure session cookies, and a client
//! speaking plain HTTP to that port gets no answer.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::json;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary serving HTTPS on `db_url` with a certificate for 127.0.0.1 it
/// was given: (server, its port, the certificate in PEM).
fn serve_tls(db_url: &str, dir: &std::path::Path) -> (Server, u16, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, &cert_pem).unwrap();
    std::fs::write(&key_file, &key_pem).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args([
            "--database-url",
            db_url,
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .arg("--tls-cert")
        .arg(&cert_file)
        .arg("--tls-key")
        .arg(&key_file)
        .env("PORTICO_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PORTICO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("the server printed where it listens")
            .unwrap();
        if let Some(addr) = line.strip_prefix("Portico listening on https://") {
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    (Server(child), port, cert_pem)
}

fn client(cert_pem: &str, http1: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap());
    let builder = if http1 { builder.http1_only() } else { builder };
    builder.build().unwrap()
}

async fn https_with_secure_cookies_and_no_plain_http(backend: Backend) {
    let (db_url, dir) = fresh_database(backend).await;
    let dir_path = dir.as_ref().map(|d| d.0.clone()).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("portico-tls-{}", rand::random::<u64>()))
    });
    std::fs::create_dir_all(&dir_path).unwrap();
    let (_server, port, pem) = serve_tls(&db_url, &dir_path);
    let base = format!("https://127.0.0.1:{port}");

    let h2 = client(&pem, false)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(h2.status(), 200);
    assert_eq!(
        h2.version(),
        reqwest::Version::HTTP_2,
        "HTTP/2 when the client offers it"
    );
    let h1 = client(&pem, true)
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (h1.status().as_u16(), h1.version()),
        (200, reqwest::Version::HTTP_11)
    );

    let login = client(&pem, false)
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");

    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    // Nor is TLS with a certificate the client does not trust.
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
        .get(format!("{base}/healthz"))
        .send()
        .await;
    assert!(untrusting.is_err());
    if dir.is_none() {
        std::fs::remove_dir_all(&dir_path).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portico_serves_https_with_http2_and_refuses_plain_http() {
    for backend in backends() {
        https_with_secure_cookies_and_no_plain_http(backend).await;
    }
}

#[test]
fn a_key_without_a_certificate_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["serve", "--tls-key", "/nonexistent/key.pem"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-cert"));
}
