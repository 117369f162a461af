//! Instant revocation under load: while clients POST as fast as they can, access is cut
//! by each management path in turn. Not one request sent after the management call was
//! acknowledged may be accepted, whatever the write path batches or caches.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const CLIENTS: usize = 12;

/// When a request was sent and what it got.
type Outcomes = Arc<Mutex<Vec<(Instant, u16)>>>;

async fn load(app_url: String, token: String, stop: Arc<AtomicBool>, out: Outcomes) {
    let http = reqwest::Client::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let sent = Instant::now();
        let res = http
            .post(&app_url)
            .bearer_auth(&token)
            .json(&json!({"n": n}))
            .send()
            .await
            .unwrap();
        out.lock().unwrap().push((sent, res.status().as_u16()));
    }
}

/// One way of cutting access: what it does and the statuses it may give afterwards.
struct Cut {
    name: &'static str,
    refused: &'static [u16],
}

async fn apply(cut: &Cut, admin: &Session, endpoint: &Value, token: &Value) -> reqwest::Response {
    let (t, e) = (&token["id"], &endpoint["id"]);
    match cut.name {
        "disable token" => {
            admin
                .patch(&format!("/tokens/{t}"), json!({"enabled": false}))
                .await
        }
        "deactivate token" => {
            admin
                .post(&format!("/tokens/{t}/deactivate"), json!({}))
                .await
        }
        "bulk deactivate" => {
            admin
                .post("/tokens/bulk", json!({"ids": [t], "action": "deactivate"}))
                .await
        }
        "delete token" => admin.delete(&format!("/tokens/{t}")).await,
        "regenerate token" => {
            admin
                .post(&format!("/tokens/{t}/regenerate"), json!({}))
                .await
        }
        "unmap" => {
            admin
                .delete(&format!("/tokens/{t}/mappings/{e}/POST"))
                .await
        }
        "mapping off" => {
            admin
                .put(
                    &format!("/tokens/{t}/mappings/{e}/POST"),
                    json!({"enabled": false}),
                )
                .await
        }
        "disable endpoint" => {
            admin
                .patch(&format!("/endpoints/{e}"), json!({"enabled": false}))
                .await
        }
        "delete endpoint" => admin.delete(&format!("/endpoints/{e}")).await,
        other => panic!("no cut named {other}"),
    }
}

const CUTS: &[Cut] = &[
    Cut {
        name: "disable token",
        refused: &[403],
    },
    Cut {
        name: "deactivate token",
        refused: &[401],
    },
    Cut {
        name: "bulk deactivate",
        refused: &[401],
    },
    Cut {
        name: "delete token",
        refused: &[401],
    },
    Cut {
        name: "regenerate token",
        refused: &[401],
    },
    Cut {
        name: "unmap",
        refused: &[403],
    },
    Cut {
        name: "mapping off",
        refused: &[403],
    },
    Cut {
        name: "disable endpoint",
        refused: &[403],
    },
    Cut {
        name: "delete endpoint",
        refused: &[404],
    },
];

async fn revoke_under_load(app: TestApp) {
    let admin = app.admin().await;
    for (i, cut) in CUTS.iter().enumerate() {
        let slug = format!("load-{i}");
        let endpoint = admin.create_endpoint(&slug, json!({})).await;
        let token = admin.create_token(&format!("loaded-{i}")).await;
        admin.map(&token["id"], &endpoint["id"], "POST", true).await;

        let stop = Arc::new(AtomicBool::new(false));
        let out: Outcomes = Arc::default();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                tokio::spawn(load(
                    app.url(&format!("/e/{slug}")),
                    token["token"].as_str().unwrap().to_owned(),
                    stop.clone(),
                    out.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let res = apply(cut, &admin, &endpoint, &token).await;
        assert!(res.status().is_success(), "{}: {}", cut.name, res.status());
        let acknowledged = Instant::now();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }

        let out = out.lock().unwrap();
        let before = out
            .iter()
            .filter(|(at, s)| *at < acknowledged && *s == 201)
            .count();
        let after: Vec<u16> = out
            .iter()
            .filter(|(at, _)| *at > acknowledged)
            .map(|(_, s)| *s)
            .collect();
        assert!(
            before > 10,
            "{:?} {}: the load ran ({before} accepted)",
            app.backend,
            cut.name
        );
        assert!(
            after.len() > 10,
            "{:?} {}: the load went on ({} after)",
            app.backend,
            cut.name,
            after.len()
        );
        let accepted = after.iter().filter(|s| !cut.refused.contains(s)).count();
        assert_eq!(
            accepted, 0,
            "{:?} {}: {accepted} of {} requests sent after the acknowledgement were not refused: {:?}",
            app.backend,
            cut.name,
            after.len(),
            after.iter().filter(|s| !cut.refused.contains(s)).take(5).collect::<Vec<_>>()
        );
        println!(
            "{:?} {}: {before} accepted before, {} refused after, 0 accepted after",
            app.backend,
            cut.name,
            after.len()
        );
    }
}

// Every client here shares 127.0.0.1 and most cuts answer 401 for good, so the
// failed-token throttle (tested in access.rs) is off: each refusal must be the cut's own.
on_each_backend!(
    revoking_under_load_refuses_every_later_request,
    revoke_under_load,
    portico::state::Settings {
        failed_token_limit: 0,
        ..portico::state::Settings::default()
    }
);
