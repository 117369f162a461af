//! The writer's bulk path: records written together in one batch each get their
//! id and their call row; when one of them cannot be written, the batch runs again
//! one job at a time, so that one alone fails and nothing is half-written.

mod common;

use std::time::{Duration, Instant};

use common::*;
use diesel::dsl::count_star;
use diesel::{QueryDsl, RunQueryDsl};
use portico::db::{self, DatabaseUrl, Durability};
use portico::metrics::Metrics;
use portico::store::calls::Call;
use portico::writer::{NewRecord, Writer};
use serde_json::json;

fn record(endpoint_id: i64, n: i64) -> NewRecord {
    NewRecord {
        endpoint_id,
        received_at: chrono::Utc::now().naive_utc(),
        data: format!("{{\"n\":{n}}}"),
        call: Call {
            at: chrono::Utc::now().naive_utc(),
            endpoint_id: Some(endpoint_id),
            endpoint_slug: "orders".into(),
            method: "POST".into(),
            path: "/e/orders".into(),
            status: 201,
            remote_addr: "127.0.0.1".into(),
            repeats: 1,
            ..Call::default()
        },
        started: Instant::now(),
        response_bytes: Box::new(|id| 10 + id.to_string().len() as i64),
        touch: None,
    }
}

async fn a_bad_job_fails_alone(app: TestApp) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("orders", json!({})).await;
    let endpoint_id = endpoint["id"].as_i64().unwrap();
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    let pool = tokio::task::spawn_blocking(move || db::connect(&url, 4).unwrap())
        .await
        .unwrap();
    let writer = Writer::start(pool.clone(), 1, Metrics::new());
    // Keep the writer busy, so the next jobs queue up and go in one batch.
    let busy = writer.write_touching(None, |_| {
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    });
    let jobs = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut outcomes = Vec::new();
        let futures: Vec<_> = (0..6)
            .map(|n| {
                // Record 3 names an endpoint that does not exist: its insert fails.
                let target = if n == 3 {
                    endpoint_id + 1000
                } else {
                    endpoint_id
                };
                writer.store_record(record(target, n))
            })
            .collect();
        for f in futures_util::future::join_all(futures).await {
            outcomes.push(f);
        }
        let refusal = Call {
            at: chrono::Utc::now().naive_utc(),
            status: 401,
            code: Some("token_invalid".into()),
            endpoint_slug: "orders".into(),
            repeats: 3,
            ..Call::default()
        };
        let logged = writer.log_call(refusal, None, Durability::Relaxed).await;
        (outcomes, logged)
    };
    let (busy, (outcomes, logged)) = tokio::join!(busy, jobs);
    busy.unwrap();
    assert!(logged.unwrap() > 0, "the refusal's row id");
    let ids: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().copied())
        .collect();
    assert_eq!(ids.len(), 5, "{:?}: {outcomes:?}", app.backend);
    assert!(outcomes[3].is_err(), "the culprit alone fails");
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "each record its own id");
    let (records, calls) = tokio::task::spawn_blocking(move || {
        use portico::db::schema::{calls, records};
        let mut conn = pool.get().unwrap();
        let r: i64 = records::table
            .select(count_star())
            .get_result(&mut **conn)
            .unwrap();
        let c: Vec<(Option<i64>, i64)> = calls::table
            .select((calls::record_id, calls::repeats))
            .load(&mut **conn)
            .unwrap();
        (r, c)
    })
    .await
    .unwrap();
    assert_eq!(records, 5, "nothing of the culprit is stored");
    for id in &ids {
        assert!(
            calls.iter().any(|(r, _)| *r == Some(*id)),
            "record {id} has its call row"
        );
    }
    assert!(
        calls.iter().any(|(r, n)| r.is_none() && *n == 3),
        "the refusal row counts 3"
    );
}

on_each_backend!(
    a_job_that_cannot_be_written_fails_alone_and_its_batch_commits,
    a_bad_job_fails_alone
);
