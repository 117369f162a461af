//! `src/db/schema.rs` is written by hand for both backends; this proves it
//! matches what each backend's migrations create, column for column.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use diesel::prelude::*;
use diesel::sql_types::Text;
use portico::db::schema::*;
use portico::db::{self, DatabaseUrl, DbConn};

/// Tables and column names as `schema.rs` declares them.
fn declared() -> BTreeMap<String, BTreeSet<String>> {
    let text = include_str!("../src/db/schema.rs");
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_suffix('{') {
            if let Some((name, _)) = rest.trim().split_once(" (") {
                current = Some(name.to_owned());
                out.insert(name.to_owned(), BTreeSet::new());
            }
        } else if let (Some(table), Some((col, _))) = (&current, line.split_once(" -> ")) {
            out.get_mut(table).unwrap().insert(col.to_owned());
        } else if line == "}" {
            current = None;
        }
    }
    out
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

fn actual(conn: &mut DbConn) -> BTreeMap<String, BTreeSet<String>> {
    let rows: Vec<Column> = match conn {
        // (SQLite's `calls_spans`, kept by triggers, is read by `store::call_order`'s SQL
        // alone; PostgreSQL's `calls_days`, kept by a trigger, is declared beside the
        // code that reads it, `store::call_days`. The payload search's tables, on
        // both, are read by `store::search`'s SQL alone.)
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__diesel%' \
             AND m.name NOT LIKE 'records_search%' AND m.name NOT LIKE 'tokens_search%' \
             AND m.name <> 'calls_spans'",
        )
        .load(c)
        .unwrap(),
        DbConn::Postgres(c) => diesel::sql_query(
            "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '__diesel%' \
             AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition) \
             AND table_name <> 'calls_days' AND table_name NOT LIKE 'records_search%'",
        )
        .load(c)
        .unwrap(),
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        // PostgreSQL's stored search text of a token (its migration) is read by
        // the token search's SQL alone, never through diesel's table.
        if (r.table_name.as_str(), r.column_name.as_str()) == ("tokens", "search_text") {
            continue;
        }
        out.entry(r.table_name).or_default().insert(r.column_name);
    }
    out
}

async fn schema_matches_migrations(app: TestApp) {
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        assert_eq!(
            actual(&mut conn),
            declared(),
            "schema.rs differs from the migrations"
        );
        // Every declared type must load from what the migrations created.
        users::table
            .select(users::all_columns)
            .limit(0)
            .load::<portico::store::users::UserRow>(&mut **conn)
            .unwrap();
        sessions::table
            .select(sessions::all_columns)
            .limit(0)
            .load::<portico::store::users::SessionRow>(&mut **conn)
            .unwrap();
        api_keys::table
            .select(api_keys::all_columns)
            .limit(0)
            .load::<portico::store::users::ApiKeyRow>(&mut **conn)
            .unwrap();
        endpoints::table
            .select(endpoints::all_columns)
            .limit(0)
            .load::<portico::store::endpoints::EndpointRow>(&mut **conn)
            .unwrap();
        primary_tokens::table
            .select(primary_tokens::all_columns)
            .limit(0)
            .load::<portico::store::endpoints::PrimaryTokenRow>(&mut **conn)
            .unwrap();
        tokens::table
            .select(tokens::all_columns)
            .limit(0)
            .load::<portico::store::tokens::TokenRow>(&mut **conn)
            .unwrap();
        mappings::table
            .select(mappings::all_columns)
            .limit(0)
            .load::<portico::store::mappings::MappingRow>(&mut **conn)
            .unwrap();
        records::table
            .select(records::all_columns)
            .limit(0)
            .load::<portico::store::records::RecordRow>(&mut **conn)
            .unwrap();
        idempotency_keys::table
            .select(idempotency_keys::all_columns)
            .limit(0)
            .load::<portico::store::idempotency::IdempotencyRow>(&mut **conn)
            .unwrap();
        calls::table
            .select(calls::all_columns)
            .limit(0)
            .load::<portico::store::calls::Call>(&mut **conn)
            .unwrap();
        audit_log::table
            .select(audit_log::all_columns)
            .limit(0)
            .load::<portico::store::audit::AuditRow>(&mut **conn)
            .unwrap();
        portico::store::access::generation(&mut conn).unwrap();
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        use portico::store::limits;
        assert_eq!(limits::claim(&mut conn, "rpm", "1", t, 3, 4).unwrap(), 3);
        assert_eq!(limits::claim(&mut conn, "rpm", "1", t, 3, 4).unwrap(), 1);
        assert_eq!(limits::claim(&mut conn, "rpm", "1", t, 3, 4).unwrap(), 0);
        limits::block(&mut conn, "failed_token", "10.0.0.1", t).unwrap();
        assert_eq!(
            limits::blocks(&mut conn, t - chrono::TimeDelta::seconds(1))
                .unwrap()
                .len(),
            1
        );
        limits::add_login_failure(&mut conn, &["user:x".into()], t).unwrap();
        assert_eq!(
            limits::login_failures(&mut conn, "user:x", t - chrono::TimeDelta::seconds(1)).unwrap(),
            [t]
        );
        assert_eq!(
            limits::prune(&mut conn, t + chrono::TimeDelta::seconds(1)).unwrap(),
            3
        );
    })
    .await
    .unwrap();
}

on_each_backend!(
    schema_rs_matches_both_backends_migrations,
    schema_matches_migrations
);
