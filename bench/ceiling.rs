//! The benchmark's ceiling: a bare actix-web server that reads the request body and
//! answers `201`, nothing else. Portico's figures are reported as ratios to it.
//! `GET /e/{slug}?bytes=N` answers `200` with N bytes from memory: what shipping a
//! page of that size costs with no database behind it (reported beside the GET row).
//!
//! `cargo run --release --example ceiling -- 127.0.0.1:9000`

use actix_web::{web, App, HttpResponse, HttpServer};

async fn accept(body: web::Bytes) -> HttpResponse {
    HttpResponse::Created()
        .content_type("application/json")
        .body(format!("{{\"bytes\":{}}}", body.len()))
}

#[derive(serde::Deserialize)]
struct Size {
    bytes: usize,
}

async fn page(size: web::Query<Size>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(vec![b' '; size.bytes.min(1 << 20)])
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    HttpServer::new(|| {
        App::new()
            .route("/e/{slug}", web::post().to(accept))
            .route("/e/{slug}", web::get().to(page))
    })
    .bind(bind)?
    .run()
    .await
}
