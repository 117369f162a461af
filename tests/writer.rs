//! The writer's bulk path: records written together in one batch each get their
//! id and their call row; when one of them cannot be written, the batch runs again
//! one job at a time, so that one alone fails and nothing is half-written. Every
//! column of a batch's rows reads back as it was written (PostgreSQL sends them as
//! one array a column).

mod common;

use std::time::{Duration, Instant};

use common::*;
use diesel::dsl::count_star;
use diesel::{QueryDsl, RunQueryDsl};
use portico::db::{self, DatabaseUrl, Durability};
use portico::domain::call::TokenKind;
use portico::domain::endpoint::Method;
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

/// The endpoint `orders`, a pool on the app's database and a writer of its own.
async fn orders_writer(app: &TestApp) -> (i64, db::DbPool, Writer) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("orders", json!({})).await;
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    let pool = tokio::task::spawn_blocking(move || db::connect(&url, 4).unwrap())
        .await
        .unwrap();
    let writer = Writer::start(pool.clone(), 1, Metrics::new());
    (endpoint["id"].as_i64().unwrap(), pool, writer)
}

/// Keeps `writer` busy for a while, so the next jobs queue up and go in one batch.
fn busy(writer: &Writer) -> impl std::future::Future<Output = portico::error::AppResult<()>> + '_ {
    writer.write_touching(None, |_| {
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    })
}

async fn a_bad_job_fails_alone(app: TestApp) {
    let (endpoint_id, pool, writer) = orders_writer(&app).await;
    let busy = busy(&writer);
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

/// A call row with every optional column set, and text a database might mangle.
fn full_call(endpoint_id: i64) -> Call {
    Call {
        id: 0,
        at: chrono::Utc::now().naive_utc(),
        endpoint_id: Some(endpoint_id),
        endpoint_slug: "orders".into(),
        method: "POST".into(),
        path: "/e/orders?q=\"{a,b}\"&x=NULL".into(),
        status: 422,
        code: Some("schema_violation".into()),
        token_kind: TokenKind::Primary,
        token_id: Some(7),
        token_name: Some("café, \\ \"app\" {}".into()),
        token_method: Some(Method::Delete),
        remote_addr: "::1".into(),
        user_agent: Some("NULL".into()),
        request_bytes: i64::MAX,
        response_bytes: 0,
        duration_us: 12,
        record_id: None,
        repeats: 1,
        conforms: Some(false),
        detail: Some(r#"[{"pointer":"/a","message":"é"}]"#.into()),
    }
}

async fn rows_read_back(app: TestApp) {
    let (endpoint_id, pool, writer) = orders_writer(&app).await;
    let busy = busy(&writer);
    let empty = Call {
        at: chrono::Utc::now().naive_utc(),
        status: 401,
        token_kind: TokenKind::Unknown,
        repeats: 1,
        ..Call::default()
    };
    let full = full_call(endpoint_id);
    let mut posted = record(endpoint_id, 1);
    posted.data = "{\"k\":\"\\u0000 ☃ 'quoted' \\\"\"}".into();
    let data = posted.data.clone();
    let jobs = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::join!(
            writer.log_call(full.clone(), None, Durability::Relaxed),
            writer.log_call(empty.clone(), None, Durability::Relaxed),
            writer.store_record(posted),
        )
    };
    let (busy, (full_id, empty_id, record_id)) = tokio::join!(busy, jobs);
    busy.unwrap();
    let (full_id, empty_id, record_id) = (full_id.unwrap(), empty_id.unwrap(), record_id.unwrap());
    let (read, none, stored) = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        let find = |conn: &mut db::DbConn, id| portico::store::calls::find(conn, id).unwrap();
        let stored = portico::store::records::find_data(&mut conn, record_id).unwrap();
        (find(&mut conn, full_id), find(&mut conn, empty_id), stored)
    })
    .await
    .unwrap();
    let micros = |c: &Call| c.at.and_utc().timestamp_micros();
    assert_eq!(micros(&read), micros(&full), "{:?}", app.backend);
    let same_time = |c: Call, at| Call { at, ..c };
    assert_eq!(
        same_time(read, full.at),
        Call {
            id: full_id,
            ..full
        }
    );
    assert_eq!(
        same_time(none, empty.at),
        Call {
            id: empty_id,
            ..empty
        }
    );
    assert_eq!(
        stored.as_deref(),
        Some(data.as_str()),
        "the payload as posted"
    );
}

on_each_backend!(
    a_batch_s_rows_read_back_as_they_were_written,
    rows_read_back
);
