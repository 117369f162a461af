//! SQLite: the payload index in a file of its own (`PATH.search`). Ingest never
//! waits for the index's lock (a search still finds what was just stored), records
//! deleted, one or thousands at once, leave the index too, an index ahead of the
//! records or of an older format is built again, and the index is merged while
//! ingest is quiet. (PostgreSQL keeps its index itself: nothing here.)

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::json;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// `SELECT COUNT(*) AS n ...` on the app's database (the index's file attached).
async fn count(app: &TestApp, sql: &str) -> i64 {
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    let sql = sql.to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let pool = portico::db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let row: Count = diesel::sql_query(sql).get_result(&mut **conn).unwrap();
        row.n
    })
    .await
    .unwrap()
}

/// Records the index names for the trigram `gram` (as the index is given text).
async fn in_index(app: &TestApp, gram: &str) -> i64 {
    in_index_as(app, &portico::db::search_file::index_text(gram)).await
}

/// Records the index names for the FTS5 term `term`, exactly.
async fn in_index_as(app: &TestApp, term: &str) -> i64 {
    count(
        app,
        &format!(
            "SELECT COUNT(*) AS n FROM records_search WHERE records_search MATCH '\"{term}\"'"
        ),
    )
    .await
}

/// Waits (up to 15 s) until `check` holds.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never: {what}");
}

async fn deleted_records_leave_the_index(app: TestApp) {
    if app.backend == Backend::Postgres {
        return;
    }
    let f = app
        .mapped("orders", json!({"allow_delete": true}), &["shop-app"])
        .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let res = app
            .ingest("orders", f.value(0), json!({"ref": format!("qzv-{i}")}))
            .await;
        assert_eq!(res.status(), 201);
        ids.push(
            res.json::<serde_json::Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    until("3 records in the index", async || {
        in_index(&app, "qzv").await == 3
    })
    .await;

    // One deleted through the API.
    let res = app
        .client
        .delete(app.url(&format!("/e/orders/{}", ids[0])))
        .bearer_auth(f.primary("DELETE"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    until("the deleted record left the index", async || {
        in_index(&app, "qzv").await == 2
    })
    .await;

    // Thousands at once (as an endpoint's deletion or retention does): more than a
    // round forgets.
    let endpoint = f.endpoint["id"].as_i64().unwrap();
    app.sql(format!(
        "INSERT INTO records (endpoint_id, received_at, data) \
         WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 12000) \
         SELECT {endpoint}, datetime('now'), '{{\"ref\":\"wkj-' || n || '\"}}' FROM s"
    ))
    .await;
    until("12,000 records in the index", async || {
        in_index(&app, "wkj").await == 12_000
    })
    .await;
    app.sql(format!(
        "DELETE FROM records WHERE endpoint_id = {endpoint}"
    ))
    .await;
    until(
        "every deleted record left the index and the queue",
        async || {
            in_index(&app, "wkj").await + in_index(&app, "qzv").await == 0
                && count(&app, "SELECT COUNT(*) AS n FROM records_search_forgotten").await == 0
        },
    )
    .await;
}

/// Holds the index file's write lock from another connection until told to let go
/// (or 8 s passed); whether it was told.
fn hold_the_index_lock(
    url: portico::db::DatabaseUrl,
    held: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
) -> bool {
    use diesel::RunQueryDsl;
    let pool = portico::db::connect(&url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    diesel::sql_query("BEGIN").execute(&mut **conn).unwrap();
    diesel::sql_query(portico::db::search_file::TAKE_LOCK)
        .execute(&mut **conn)
        .unwrap();
    held.send(()).unwrap();
    let told = release.recv_timeout(Duration::from_secs(8)).is_ok();
    diesel::sql_query("COMMIT").execute(&mut **conn).unwrap();
    told
}

async fn ingest_never_waits_for_the_index(app: TestApp) {
    if app.backend == Backend::Postgres {
        return;
    }
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
    let (held_tx, held_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let holder = std::thread::spawn(move || hold_the_index_lock(url, held_tx, release_rx));
    held_rx.recv().unwrap();
    for i in 0..20 {
        let res = app
            .ingest("orders", f.value(0), json!({"ref": format!("lkq-{i}")}))
            .await;
        assert_eq!(res.status(), 201);
    }
    // Not indexed yet, found all the same (read directly).
    let page = f.admin.read("/calls?limit=50&q=lkq-").await;
    assert_eq!(page["calls"].as_array().unwrap().len(), 20, "{page}");
    // (Gone when the holder gave up waiting: the assertion below says so.)
    let _ = release_tx.send(());
    assert!(
        holder.join().unwrap(),
        "ingest waited for the index file's lock"
    );
    // Let go, the indexer catches up.
    until("the 20 records in the index", async || {
        in_index(&app, "lkq").await == 20
    })
    .await;
}

/// An endpoint with `n` records (`{"ref": "PREFIX-i"}`), once the index holds them.
async fn indexed_orders(app: &TestApp, prefix: &str, n: i64) -> Mapped {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    for i in 0..n {
        let res = app
            .ingest(
                "orders",
                f.value(0),
                json!({"ref": format!("{prefix}-{i}")}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    until("the records in the index", async || {
        in_index(app, prefix).await == n
    })
    .await;
    f
}

/// An index naming ids past the newest ever given (the database put back to an
/// older copy under it) is emptied, and built again from the records.
async fn an_index_ahead_of_the_records_is_built_again(app: TestApp) {
    if app.backend == Backend::Postgres {
        return;
    }
    indexed_orders(&app, "yhb", 5).await;
    let reset = |ahead: bool| {
        let url = portico::db::DatabaseUrl::parse(&app.db_url).unwrap();
        tokio::task::spawn_blocking(move || {
            use diesel::RunQueryDsl;
            let pool = portico::db::connect(&url, 1).unwrap();
            let mut conn = pool.get().unwrap();
            if ahead {
                diesel::sql_query("UPDATE records_search_progress SET indexed_upto = 1000000000")
                    .execute(&mut **conn)
                    .unwrap();
            }
            portico::store::search::reset_if_ahead(&mut conn).unwrap()
        })
    };
    assert!(!reset(false).await.unwrap(), "an index in step was emptied");
    assert!(reset(true).await.unwrap());
    until("the index built again", async || {
        in_index(&app, "yhb").await == 5
    })
    .await;
}

/// An index file of an older format (its text not given as `index_text` gives it)
/// is emptied when a connection attaches it, and built again from the records.
async fn an_index_of_an_older_format_is_built_again(app: TestApp) {
    if app.backend == Backend::Postgres {
        return;
    }
    let f = indexed_orders(&app, "wkp", 4).await;
    // The file as format 1 left it: the payloads as they are, no version.
    let file = portico::db::search_file::path(app.db_url.trim_start_matches("sqlite://"));
    let file2 = file.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::SqliteConnection::establish(&file).unwrap();
        c.batch_execute(
            "PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE; \
             INSERT INTO records_search (records_search) VALUES ('delete-all'); \
             INSERT INTO records_search (rowid, data) VALUES (1, 'wkp-0'), (2, 'wkp-1'); \
             PRAGMA user_version = 1; COMMIT;",
        )
        .unwrap();
    })
    .await
    .unwrap();
    assert_eq!(in_index_as(&app, "wkp").await, 0, "the old text was kept");
    until("the index built again", async || {
        in_index(&app, "wkp").await == 4
    })
    .await;
    let version = tokio::task::spawn_blocking(move || {
        use diesel::{Connection, RunQueryDsl};
        let mut c = diesel::SqliteConnection::establish(&file2).unwrap();
        let row: Count = diesel::sql_query("SELECT user_version AS n FROM pragma_user_version")
            .get_result(&mut c)
            .unwrap();
        row.n
    });
    assert_eq!(
        version.await.unwrap(),
        portico::db::search_file::FORMAT as i64
    );
    let page = f.admin.read("/calls?limit=50&q=wkp-3").await;
    assert_eq!(page["calls"].as_array().unwrap().len(), 1, "{page}");
}

/// While ingest is quiet, the indexer merges the segments its jobs left (each job
/// writes one), and the search still finds every record.
async fn the_index_is_merged_while_ingest_is_quiet(app: TestApp) {
    if app.backend == Backend::Postgres {
        return;
    }
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    for i in 0..6 {
        let res = app
            .ingest("orders", f.value(0), json!({"ref": format!("mgq-{i}")}))
            .await;
        assert_eq!(res.status(), 201);
        // One job, one segment, each.
        until("the record in the index", async || {
            in_index(&app, "mgq").await == i + 1
        })
        .await;
    }
    // FTS5's pages: its averages, its structure and each segment's leaves (one
    // here); 6 segments merged into one leave 3.
    until("the segments merged", async || {
        count(&app, "SELECT COUNT(*) AS n FROM records_search_data").await <= 3
    })
    .await;
    let page = f.admin.read("/calls?limit=50&q=mgq-").await;
    assert_eq!(page["calls"].as_array().unwrap().len(), 6, "{page}");
}

on_each_backend!(
    the_index_is_merged_while_ingest_is_quiet_test,
    the_index_is_merged_while_ingest_is_quiet
);
on_each_backend!(
    an_index_of_an_older_format_is_built_again_test,
    an_index_of_an_older_format_is_built_again
);
on_each_backend!(
    an_index_ahead_of_the_records_is_built_again_test,
    an_index_ahead_of_the_records_is_built_again
);
on_each_backend!(
    deleted_records_leave_the_index_test,
    deleted_records_leave_the_index
);
on_each_backend!(
    ingest_never_waits_for_the_index_test,
    ingest_never_waits_for_the_index
);
