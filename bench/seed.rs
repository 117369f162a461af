//! The benchmark's seeding helper (`bench/run` calls it).
//!
//! `bench-seed api BASE TOKENS OUT_DIR` creates, through the management API as
//! `admin` (`PORTICO_ADMIN_PASSWORD`), the endpoint `bench`, an API key and `TOKENS`
//! secondary tokens mapped for POST and GET; it writes `tokens.txt` (one value per
//! line), `unknown.txt` (well-formed values that match nothing), `ids.txt` (the
//! token ids) and `api_key.txt` into `OUT_DIR`.
//!
//! `bench-seed calls DATABASE_URL TOTAL` inserts records and their call rows straight
//! into the database (not over HTTP) until the `bench` endpoint has `TOTAL` calls,
//! spread evenly over the seeded tokens and the last 30 days.
//!
//! `bench-seed health DATABASE_URL CALLS` writes integration health's running
//! aggregates for every mapping (see `seed_health.rs`).

mod seed_health;

use std::path::PathBuf;
use std::sync::Arc;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use portico::db::{DatabaseUrl, DbConn};
use portico::domain::token::TokenValue;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn usage() -> ! {
    eprintln!("usage: bench-seed api BASE TOKENS OUT_DIR | bench-seed calls DATABASE_URL TOTAL | bench-seed health DATABASE_URL CALLS");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["api", base, n, out] => seed_api(base, n.parse()?, PathBuf::from(out)).await,
        ["calls", url, total] => {
            let url = DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
            let total: i64 = total.parse()?;
            tokio::task::spawn_blocking(move || seed_calls(&url, total)).await?
        }
        ["health", url, calls] => {
            let url = DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
            let calls: i64 = calls.parse()?;
            tokio::task::spawn_blocking(move || seed_health::seed(&url, calls)).await?
        }
        _ => usage(),
    }
}

async fn seed_api(base: &str, n: usize, out: PathBuf) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let password = std::env::var("PORTICO_ADMIN_PASSWORD")?;
    let login: Value = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let api = Api {
        http,
        base: base.to_owned(),
        csrf: login["csrf_token"].as_str().unwrap_or_default().to_owned(),
    };
    let endpoint = api
        .call(
            reqwest::Method::POST,
            "/endpoints",
            json!({"slug": "bench", "name": "Benchmark"}),
        )
        .await?;
    let endpoint_id = endpoint["id"].as_i64().unwrap_or_default();
    let key = api
        .call(
            reqwest::Method::POST,
            "/me/api-keys",
            json!({"name": "bench"}),
        )
        .await?;

    let gate = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = gate.clone().acquire_owned().await?;
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let token = api
                .call(
                    reqwest::Method::POST,
                    "/tokens",
                    json!({"name": format!("bench-{i:05}")}),
                )
                .await?;
            let id = token["id"].as_i64().unwrap_or_default();
            for m in ["POST", "GET"] {
                let path = format!("/tokens/{id}/mappings/{endpoint_id}/{m}");
                api.call(reqwest::Method::PUT, &path, json!({"enabled": true}))
                    .await?;
            }
            drop(permit);
            anyhow::Ok((id, token["token"].as_str().unwrap_or_default().to_owned()))
        }));
    }
    let mut ids = String::new();
    let mut values = String::new();
    let mut unknown = String::new();
    for t in tasks {
        let (id, value) = t.await??;
        ids.push_str(&format!("{id}\n"));
        values.push_str(&value);
        values.push('\n');
        unknown.push_str(TokenValue::generate().expose());
        unknown.push('\n');
    }
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("ids.txt"), ids)?;
    std::fs::write(out.join("tokens.txt"), values)?;
    std::fs::write(out.join("unknown.txt"), unknown)?;
    std::fs::write(
        out.join("api_key.txt"),
        key["key"].as_str().unwrap_or_default(),
    )?;
    println!("endpoint {endpoint_id}: {n} tokens mapped for POST and GET");
    Ok(())
}

/// The management API as the logged-in admin.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let res = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .header("X-CSRF-Token", &self.csrf)
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        Ok(res.json().await?)
    }
}

/// One call for each of the `chunk` newest records (which have no call yet), spread
/// over the seeded tokens.
fn calls_from_records(endpoint_id: i64, first: i64, tokens: i64, chunk: i64) -> String {
    format!(
        "INSERT INTO calls (at, endpoint_id, endpoint_slug, method, path, status, code, token_kind, \
         token_id, token_name, token_method, remote_addr, user_agent, request_bytes, response_bytes, \
         duration_us, record_id) \
         SELECT received_at, {endpoint_id}, 'bench', 'POST', '/e/bench', 201, NULL, 'secondary', \
         {first} + (id % {tokens}), 'bench-' || (id % {tokens}), NULL, '127.0.0.1', 'bench-seed', \
         300, 40, 500, id FROM (SELECT id, received_at FROM records WHERE endpoint_id = {endpoint_id} \
         ORDER BY id DESC LIMIT {chunk}) AS newest ORDER BY id"
    )
}

fn seed_calls(url: &DatabaseUrl, total: i64) -> anyhow::Result<()> {
    let pool = portico::db::connect(url, 1)?;
    let mut conn = pool.get()?;
    let count = |conn: &mut DbConn, sql: &str| -> anyhow::Result<i64> {
        Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
    };
    let endpoint_id = count(
        &mut conn,
        "SELECT id AS n FROM endpoints WHERE slug = 'bench'",
    )?;
    let first = count(&mut conn, "SELECT MIN(id) AS n FROM tokens")?;
    let last = count(&mut conn, "SELECT MAX(id) AS n FROM tokens")?;
    let tokens = count(&mut conn, "SELECT COUNT(*) AS n FROM tokens")?;
    anyhow::ensure!(
        tokens > 0 && last - first + 1 == tokens,
        "the seeded tokens' ids are not contiguous"
    );
    let have = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM calls WHERE endpoint_id = {endpoint_id}"),
    )?;
    let mut missing = total - have;
    // Seeded calls reach back a quarter of a second each: on PostgreSQL their days
    // need partitions, made the way Portico makes them ahead of time.
    let today = chrono::Utc::now().date_naive();
    let reach = chrono::TimeDelta::milliseconds(missing.max(0) * 250);
    let first_day = today - chrono::TimeDelta::days(reach.num_days() + 1);
    portico::operations::retention::prepare_days(&mut conn, first_day, today)?;
    let started = std::time::Instant::now();
    while missing > 0 {
        let chunk = missing.min(1_000_000);
        let offset = missing; // seconds before now of the chunk's oldest call
                              // Records first (a small payload each), then one call per record, older than
                              // every live call and oldest first, so ids grow with time as they do live.
        let sql = match url {
            DatabaseUrl::Sqlite(_) => [
                format!(
                    "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {chunk}) \
                     INSERT INTO records (endpoint_id, received_at, data) SELECT {endpoint_id}, \
                     datetime('now', printf('-%.3f seconds', ({offset} - n) * 0.25)), \
                     '{{\"sensor\":\"seed\",\"reading\":' || n || ',\"unit\":\"C\"}}' FROM s"
                ),
                calls_from_records(endpoint_id, first, tokens, chunk),
            ],
            DatabaseUrl::Postgres(_) => [
                format!(
                    "INSERT INTO records (endpoint_id, received_at, data) SELECT {endpoint_id}, \
                     (now() at time zone 'utc') - make_interval(secs => ({offset} - n) * 0.25), \
                     '{{\"sensor\":\"seed\",\"reading\":' || n || ',\"unit\":\"C\"}}' \
                     FROM generate_series(1, {chunk}) AS s(n)"
                ),
                calls_from_records(endpoint_id, first, tokens, chunk),
            ],
        };
        conn.transaction(|conn| {
            for statement in &sql {
                diesel::sql_query(statement).execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        missing -= chunk;
        eprintln!(
            "  {} calls seeded, each with its record ({:.0} s)",
            total - missing,
            started.elapsed().as_secs_f64()
        );
    }
    // As autovacuum leaves a day that filled over its day: counted and vacuumed (its
    // payload index's pending entries merged). Seeded all at once, it would be
    // measured before autovacuum got there: a record's id looked up in each day
    // partition with no statistics is planned as if it were in 1,500 rows of each.
    if let DatabaseUrl::Postgres(_) = url {
        diesel::sql_query("VACUUM (ANALYZE) calls, records").execute(&mut **conn)?;
    }
    Ok(())
}
