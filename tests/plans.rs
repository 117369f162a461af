//! The indexes that remain serve the queries that need them: the database's own
//! plans (`EXPLAIN`) for the viewer's pages and `GET /e/{slug}` on a log of 20,000
//! calls. The SQL is the shape `store::calls::page` and `store::records::page` build.
//! The status filter has only a partial index over refusals (`calls_refused`): a
//! filter on a refusal uses it; a filter on 2xx walks the primary key newest first.

mod common;

use common::*;
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use portico::db::{self, DatabaseUrl, DbConn};
use serde_json::json;

#[derive(QueryableByName)]
struct SqlitePlan {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlan {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    plan: String,
}

/// The plan of `sql` as text.
fn explain(conn: &mut DbConn, sql: &str) -> String {
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqlitePlan>(c)
            .unwrap()
            .into_iter()
            .map(|r| r.detail)
            .collect::<Vec<_>>()
            .join("\n"),
        DbConn::Postgres(c) => diesel::sql_query(format!("EXPLAIN {sql}"))
            .load::<PgPlan>(c)
            .unwrap()
            .into_iter()
            .map(|r| r.plan)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

const COLUMNS: &str = "calls.id, calls.at, calls.endpoint_id, calls.endpoint_slug, calls.method, calls.path, \
    calls.status, calls.code, calls.token_kind, calls.token_id, calls.token_name, calls.token_method, \
    calls.remote_addr, calls.user_agent, calls.request_bytes, calls.response_bytes, calls.duration_us, \
    calls.record_id, calls.repeats";

async fn plans_use_the_indexes_that_remain(app: TestApp) {
    let admin = app.admin().await;
    let endpoint = admin.create_endpoint("orders", json!({})).await;
    let id = endpoint["id"].as_i64().unwrap();
    app.seed_records(id, "orders", 20_000, 20).await;
    // A small endpoint beside the big one: filtering by it is selective.
    let stock = admin.create_endpoint("stock", json!({})).await;
    let small = stock["id"].as_i64().unwrap();
    app.seed_records(small, "stock", 2_000, 20).await;
    // A few refusals among them, as in life.
    app.sql(format!(
        "UPDATE calls SET status = 403, code = 'token_not_mapped', token_id = 7 WHERE id % 20 = 0 AND endpoint_id = {id}"
    ))
    .await;
    // Most records are old: a `since` in the last weeks is selective. (PostgreSQL
    // keeps them in day partitions: the old day's is made first, as Portico would.)
    app.prepare_days(day("2026-01-01"), day("2026-01-01")).await;
    app.sql(format!(
        "UPDATE records SET received_at = '2026-01-01 00:00:00' WHERE id % 1000 <> 0 AND endpoint_id = {id}"
    ))
    .await;
    app.sql("ANALYZE".to_owned()).await;
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    let today = app.clock.now().date();
    let tomorrow = today + chrono::TimeDelta::days(1);
    let plans = tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let page = |filter: &str| format!("SELECT {COLUMNS} FROM calls WHERE {filter} ORDER BY calls.id DESC LIMIT 51");
        [
            ("viewer by token", explain(&mut conn, &page("calls.token_id = 7"))),
            ("viewer by endpoint", explain(&mut conn, &page(&format!("calls.endpoint_id = {small}")))),
            (
                "viewer by token within one day",
                explain(&mut conn, &page(&format!("calls.token_id = 7 AND calls.at >= '{today}' AND calls.at < '{tomorrow}'"))),
            ),
            (
                // As `store::calls::page` asks it on SQLite: the day also as ids.
                "viewer by token within one day, as ids",
                explain(&mut conn, &page(&format!("calls.token_id = 7 AND calls.at >= '{today}' AND calls.at < '{tomorrow}' AND calls.id > 100 AND calls.id < 15000"))),
            ),
            (
                "viewer by a refusal status",
                explain(&mut conn, &page("calls.status = 403 AND calls.status >= 400")),
            ),
            ("viewer by 2xx", explain(&mut conn, &page("calls.status BETWEEN 200 AND 299"))),
            (
                "GET /e/{slug} page",
                explain(
                    &mut conn,
                    &format!("SELECT id, endpoint_id, received_at, data FROM records WHERE endpoint_id = {small} AND id > 100 ORDER BY id ASC LIMIT 101"),
                ),
            ),
            (
                "GET /e/{slug}?since=",
                explain(
                    &mut conn,
                    &format!("SELECT id, endpoint_id, received_at, data FROM records WHERE endpoint_id = {id} AND received_at >= '2026-11-01 00:00:00' ORDER BY id ASC LIMIT 101"),
                ),
            ),
        ]
    })
    .await
    .unwrap();
    // PostgreSQL names each day partition's copy of an index after its columns.
    let expect = match app.backend {
        Backend::Sqlite => [
            ("viewer by token", "calls_token"),
            ("viewer by token within one day", "calls_token"),
            ("viewer by endpoint", "calls_endpoint"),
            ("viewer by a refusal status", "calls_refused"),
            ("GET /e/{slug} page", "records_endpoint_id"),
            ("GET /e/{slug}?since=", "records_received_at"),
        ],
        Backend::Postgres => [
            ("viewer by token", "_token_id_id_idx"),
            ("viewer by token within one day", "_token_id_id_idx"),
            ("viewer by endpoint", "_endpoint_id_id_idx"),
            ("viewer by a refusal status", "_status_id_idx"),
            ("GET /e/{slug} page", "_endpoint_id_id_idx"),
            // The days before `since` are not read at all.
            ("GET /e/{slug}?since=", "records_p2"),
        ],
    };
    for (name, plan) in &plans {
        println!("{:?} {name}:\n{plan}\n", app.backend);
        assert!(!plan.contains("calls_status"), "the dropped index is gone");
        // A page is read in order; only a selective `since` sorts its few matches.
        assert!(
            name.contains("2xx")
                || name.contains("since")
                || !plan.contains("TEMP B-TREE") && !sorts(plan),
            "{name}: no sort of the whole match"
        );
        if let Some((_, index)) = expect.iter().find(|(n, _)| n == name) {
            assert!(
                plan.contains(index),
                "{:?} {name} uses {index}:\n{plan}",
                app.backend
            );
        }
    }
    // SQLite reads the token's calls of that range of ids alone (not all it ever made).
    if app.backend == Backend::Sqlite {
        let as_ids = &plans.iter().find(|(n, _)| n.ends_with("as ids")).unwrap().1;
        assert!(
            as_ids.contains("calls_token (token_id=? AND id>? AND id<?)"),
            "{as_ids}"
        );
    }
    let two_xx = &plans.iter().find(|(n, _)| n.contains("2xx")).unwrap().1;
    let walks_primary_key = match app.backend {
        Backend::Sqlite => two_xx.contains("SCAN calls") && !two_xx.contains("TEMP B-TREE"),
        Backend::Postgres => two_xx.contains("_pkey") && !sorts(two_xx),
    };
    assert!(
        walks_primary_key,
        "{:?}: 2xx walks the primary key in order:\n{two_xx}",
        app.backend
    );
    // A time range reads only its days' partitions.
    if app.backend == Backend::Postgres {
        let since = &plans.iter().find(|(n, _)| n.contains("since")).unwrap().1;
        assert!(!since.contains("records_p20260101"), "{since}");
        let one_day = &plans.iter().find(|(n, _)| n.contains("one day")).unwrap().1;
        let partitions: std::collections::BTreeSet<&str> = one_day
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("calls_p2"))
            .map(|w| &w[..15])
            .collect();
        let only = format!("calls_p{}", today.format("%Y%m%d"));
        assert_eq!(
            partitions.into_iter().collect::<Vec<_>>(),
            [only.as_str()],
            "{one_day}"
        );
    }
}

/// Whether a PostgreSQL plan sorts more than a few hundred rows (a Merge Append of
/// ordered scans sorts nothing; over day partitions the planner may sort a match it
/// expects to be small, which costs as little as reading it in order).
fn sorts(plan: &str) -> bool {
    plan.lines().any(|l| {
        let node = l.trim_start().trim_start_matches("->").trim_start();
        let sort = node.starts_with("Sort  (") || node.starts_with("Incremental Sort  (");
        let rows = node
            .split("rows=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        sort && rows > 500
    })
}

fn day(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

on_each_backend!(
    the_viewer_and_record_pages_use_an_index,
    plans_use_the_indexes_that_remain
);
