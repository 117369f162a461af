//! `bench-seed health DATABASE_URL CALLS`: the running aggregates of integration
//! health as the ingest writer would have left them after CALLS calls spread over
//! every mapping and the last 25 hours (the call log itself is not read by the
//! Health page, so its rows are not needed here), plus the states the page sorts
//! by: half the mappings expected hourly (most of those overdue), a tenth failing,
//! a twentieth of the tokens expiring within the week.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use portico::db::{DatabaseUrl, DbConn};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `now` minus `minutes` (an SQL expression of integers) as a timestamp.
fn ago(url: &DatabaseUrl, now: &str, minutes: &str) -> String {
    match url {
        DatabaseUrl::Sqlite(_) => format!("datetime('{now}', '-' || ({minutes}) || ' minutes')"),
        DatabaseUrl::Postgres(_) => {
            format!("(TIMESTAMP '{now}' - make_interval(mins => CAST({minutes} AS INTEGER)))")
        }
    }
}

pub fn seed(url: &DatabaseUrl, calls: i64) -> anyhow::Result<()> {
    let pool = portico::db::connect(url, 1)?;
    let mut conn = pool.get()?;
    let conn: &mut DbConn = &mut conn;
    let mappings = diesel::sql_query("SELECT COUNT(*) AS n FROM mappings")
        .get_result::<Count>(conn)?
        .n;
    anyhow::ensure!(mappings > 0, "no mappings to seed the health of");
    let now = chrono::Utc::now().naive_utc();
    let stamp = now.format("%Y-%m-%d %H:%M:%S").to_string();
    let hour = now.format("%Y-%m-%d %H:00:00").to_string();
    let per_bucket = (calls / (mappings * 25)).max(1);
    let mut sql = vec![
        "DELETE FROM mapping_hours".to_owned(),
        "DELETE FROM mapping_activity".to_owned(),
        "DELETE FROM mapping_refusal_windows".to_owned(),
        format!(
            "UPDATE mappings SET expect_every_seconds = 3600, expect_since = {} WHERE token_id % 2 = 0",
            ago(url, &stamp, "1440")
        ),
        format!(
            "UPDATE tokens SET expires_at = {} WHERE id % 20 = 0",
            ago(url, &stamp, "-10080")
        ),
        format!(
            "INSERT INTO mapping_activity (token_id, endpoint_id, method, last_call_at, last_refusal_at) \
             SELECT token_id, endpoint_id, method, {}, CASE WHEN token_id % 10 = 0 THEN {} END FROM mappings",
            ago(url, &stamp, "token_id % 180"),
            ago(url, &stamp, "30"),
        ),
    ];
    for h in 0..25 {
        sql.push(format!(
            "INSERT INTO mapping_hours (token_id, endpoint_id, method, hour, calls, refusals) \
             SELECT token_id, endpoint_id, method, {}, {per_bucket}, \
             CASE WHEN token_id % 10 = 0 THEN 1 ELSE 0 END FROM mappings",
            ago(url, &hour, &(h * 60).to_string())
        ));
    }
    conn.transaction(|conn| {
        for s in &sql {
            diesel::sql_query(s).execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    if let DatabaseUrl::Postgres(_) = url {
        diesel::sql_query("ANALYZE").execute(conn)?;
    }
    println!("{mappings}");
    eprintln!(
        "  health aggregates of {mappings} mappings: {} calls over 25 hours",
        per_bucket * mappings * 25
    );
    Ok(())
}
