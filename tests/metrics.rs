//! The Grafana dashboard (`deploy/grafana/portico.json`) queries only metrics that
//! `/metrics` exposes: after a short run that exercises each of them, every name its
//! panels use is there.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{json, Value};

/// Every `portico_…` metric name the dashboard's queries use.
fn dashboard_metrics() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/portico.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(
            !targets.is_empty(),
            "panel {} queries something",
            panel["title"]
        );
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(i) = rest.find("portico_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                names.insert(name);
            }
        }
    }
    names
}

async fn short_run(app: &TestApp) {
    let f = app
        .mapped("orders", json!({"retention_days": 1}), &["shop-app"])
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.ingest("orders", f.value(0), json!({"n": 1}))
                .await
                .status(),
            201
        );
    }
    for _ in 0..3 {
        app.ingest("orders", &"x".repeat(64), json!({})).await; // refused, folded
    }
    let export = f.admin.get("/calls/export?format=ndjson").await;
    assert_eq!(export.status(), 200);
    export.bytes().await.unwrap();
}

async fn every_dashboard_metric_is_exposed(app: TestApp) {
    short_run(&app).await;
    let text = app.metrics().await;
    let wanted = dashboard_metrics();
    assert!(wanted.len() >= 12, "{wanted:?}");
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|name| {
            !text
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{:?}: the dashboard queries {missing:?}, /metrics lacks them",
        app.backend
    );
    for line in [
        "portico_refused_calls_total{code=\"token_invalid\"} 3",
        "portico_access_cache_lookups_total{result=\"hit\"}",
        "portico_exports_in_flight 0",
        "portico_db_pool_connections{state=\"max\"}",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let folded: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("portico_folded_calls_total "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(folded >= 1.0, "repeated refusals were folded ({folded})");
}

on_each_backend!(
    the_dashboard_queries_only_exposed_metrics,
    every_dashboard_metric_is_exposed
);
