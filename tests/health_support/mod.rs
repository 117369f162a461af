//! What the health tests share: quick check settings, the events written, a
//! mapping of a Health page.
#![allow(dead_code)]

use std::time::Duration;

use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use portico::db::{self, DatabaseUrl};
use portico::state::Settings;
use serde_json::Value;

use crate::common::TestApp;

pub const INTERVAL: Duration = Duration::from_millis(200);

pub fn quick() -> Settings {
    Settings {
        health_check_interval: INTERVAL,
        refusals_spike_threshold: 5,
        ..Settings::default()
    }
}

#[derive(QueryableByName, Debug, Clone)]
pub struct EventRow {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = Text)]
    pub payload: String,
}

/// Every event written, oldest first.
pub async fn events(app: &TestApp) -> Vec<EventRow> {
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        diesel::sql_query("SELECT kind, key, payload FROM events ORDER BY id")
            .load::<EventRow>(&mut **conn)
            .unwrap()
    })
    .await
    .unwrap()
}

pub fn of_kind<'a>(all: &'a [EventRow], kind: &str) -> Vec<&'a EventRow> {
    all.iter().filter(|e| e.kind == kind).collect()
}

/// Waits up to `within` until an event of `kind` is written; the events then.
pub async fn wait_for(app: &TestApp, kind: &str, within: Duration) -> Vec<EventRow> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let all = events(app).await;
        if !of_kind(&all, kind).is_empty() || std::time::Instant::now() > deadline {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn find<'a>(page: &'a Value, token: &str, method: &str) -> &'a Value {
    page["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["token"]["name"] == token && m["method"] == method)
        .unwrap_or_else(|| panic!("no {token} {method} in {page}"))
}
