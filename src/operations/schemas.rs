//! Data contracts: an endpoint's JSON Schema, its versions, a draft learned from the
//! records it holds, and a preview of what a schema would have refused.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{change, read};
use crate::domain::audit::Action;
use crate::domain::contract::{self, Contract, SchemaMode, Violation};
use crate::domain::schema_draft;
use crate::domain::user::Actor;
use crate::error::{missing, AppError, AppResult, Code};
use crate::state::AppState;
use crate::store;
use crate::store::schemas::SchemaRow;

/// How many of the newest records a draft is learned from, and a preview checks.
pub const SAMPLE: i64 = 1_000;
/// How many refused records a preview shows.
const EXAMPLES: usize = 5;

/// `PUT /api/v1/endpoints/{id}/schema`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaIn {
    /// `enforce` (refuse a non-conforming body) or `observe` (store it, marked).
    #[schema(value_type = String)]
    pub mode: SchemaMode,
    /// A JSON Schema, draft 2020-12.
    #[schema(value_type = Object)]
    pub schema: Value,
}

/// A version of an endpoint's schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaOut {
    pub endpoint_id: i64,
    /// 1, 2, ...: every change is a new version; earlier ones are kept.
    pub version: i32,
    #[schema(value_type = String)]
    pub mode: SchemaMode,
    #[schema(value_type = Object)]
    pub schema: Value,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Whether this version is in force.
    pub current: bool,
}

impl SchemaOut {
    fn of(row: SchemaRow, current: Option<i64>) -> AppResult<Self> {
        Ok(Self {
            current: current == Some(row.id),
            endpoint_id: row.endpoint_id,
            version: row.version,
            mode: row.mode,
            schema: serde_json::from_str(&row.schema).map_err(|_| AppError::Internal)?,
            created_by: row.created_by,
            created_at: row.created_at.and_utc(),
        })
    }
}

/// A schema learned from an endpoint's newest records, for an admin to review.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftOut {
    #[schema(value_type = Object)]
    pub schema: Value,
    /// How many records it was learned from.
    pub records_read: usize,
    /// What the admin should know about it.
    pub notes: Vec<String>,
}

/// What a schema would have done to an endpoint's newest records.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    pub records_checked: usize,
    pub would_refuse: usize,
    /// A few of the records it would refuse, with why.
    pub examples: Vec<RefusedExample>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedExample {
    pub record_id: i64,
    pub errors: Vec<Violation>,
}

/// Compiles `schema`, naming what is wrong with it as a `422` on `schema`.
fn compiles(schema: &Value) -> AppResult<()> {
    contract::compile(schema)
        .map(drop)
        .map_err(|e| AppError::validation("schema", e))
}

/// The schema in force on endpoint `id` (`404` when it has none).
pub async fn get(state: &AppState, id: i64) -> AppResult<SchemaOut> {
    read(state, move |conn| {
        let e = store::endpoints::find(conn, id).map_err(missing("endpoint"))?;
        let current = e
            .schema_id
            .ok_or_else(|| AppError::refused(Code::NotFound, "this endpoint has no schema"))?;
        SchemaOut::of(store::schemas::find(conn, current)?, Some(current))
    })
    .await
}

/// Every version of endpoint `id`'s schema, newest first.
pub async fn history(state: &AppState, id: i64) -> AppResult<Vec<SchemaOut>> {
    read(state, move |conn| {
        let e = store::endpoints::find(conn, id).map_err(missing("endpoint"))?;
        store::schemas::history(conn, id)?
            .into_iter()
            .map(|row| SchemaOut::of(row, e.schema_id))
            .collect()
    })
    .await
}

/// Puts a new version of endpoint `id`'s schema in force, on every instance from
/// the next request on.
pub async fn put(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: SchemaIn,
) -> AppResult<SchemaOut> {
    compiles(&input.schema)?;
    let text = serde_json::to_string(&input.schema).map_err(|_| AppError::Internal)?;
    change(state, actor, move |tx| {
        store::endpoints::find(tx.conn, id).map_err(missing("endpoint"))?;
        let actor = tx.actor().to_owned();
        let row = store::schemas::put(tx.conn, id, input.mode, &text, &actor, tx.now)?;
        tx.audit(
            Action::EndpointSchemaPut,
            Some(id),
            serde_json::json!({"version": row.version, "mode": row.mode.as_str()}),
        )?;
        tx.access_changed();
        let current = row.id;
        SchemaOut::of(row, Some(current))
    })
    .await
}

/// Takes endpoint `id`'s schema out of force (its versions are kept).
pub async fn delete(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    change(state, actor, move |tx| {
        let e = store::endpoints::find(tx.conn, id).map_err(missing("endpoint"))?;
        let Some(current) = e.schema_id else {
            return Err(AppError::refused(
                Code::NotFound,
                "this endpoint has no schema",
            ));
        };
        let row = store::schemas::find(tx.conn, current)?;
        store::schemas::set_current(tx.conn, id, None)?;
        tx.audit(
            Action::EndpointSchemaDelete,
            Some(id),
            serde_json::json!({"version": row.version}),
        )?;
        tx.access_changed();
        Ok(())
    })
    .await
}

/// The newest records of endpoint `id`, parsed (at most `limit`).
async fn newest(state: &AppState, id: i64, limit: i64) -> AppResult<Vec<(i64, Value)>> {
    let rows = read(state, move |conn| {
        store::endpoints::find(conn, id).map_err(missing("endpoint"))?;
        Ok(store::records::newest_data(conn, id, limit)?)
    })
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, text)| serde_json::from_str(&text).ok().map(|v| (id, v)))
        .collect())
}

/// A schema learned from endpoint `id`'s `limit` newest records.
pub async fn draft(state: &AppState, id: i64, limit: Option<i64>) -> AppResult<DraftOut> {
    let limit = limit.unwrap_or(SAMPLE);
    if !(1..=10_000).contains(&limit) {
        return Err(AppError::validation("limit", "must be 1 to 10000"));
    }
    let records: Vec<Value> = newest(state, id, limit)
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let d = actix_web::web::block(move || schema_draft::draft(&records)).await?;
    Ok(DraftOut {
        schema: d.schema,
        records_read: d.records_read,
        notes: d.notes,
    })
}

/// How many of endpoint `id`'s newest records `schema` would have refused.
pub async fn preview(state: &AppState, id: i64, schema: Value) -> AppResult<PreviewOut> {
    let contract = Contract::new(0, SchemaMode::Enforce, &schema)
        .map_err(|e| AppError::validation("schema", e))?;
    let records = newest(state, id, SAMPLE).await?;
    actix_web::web::block(move || {
        let mut out = PreviewOut {
            records_checked: records.len(),
            would_refuse: 0,
            examples: Vec::new(),
        };
        for (record_id, v) in &records {
            let errors = contract.check(v);
            if !errors.is_empty() {
                out.would_refuse += 1;
                if out.examples.len() < EXAMPLES {
                    out.examples.push(RefusedExample {
                        record_id: *record_id,
                        errors,
                    });
                }
            }
        }
        out
    })
    .await
    .map_err(AppError::from)
}
