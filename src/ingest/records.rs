//! Records: storing a POSTed body (with its call row, in one transaction, and its
//! idempotency key), reading pages and single records, deleting.

use chrono::{NaiveDateTime, TimeDelta};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::request::ListQuery;
use crate::clock::{rfc3339, truncate};
use crate::db::DbConn;
use crate::domain::page::Page;
use crate::domain::record::{IdempotencyKey, IDEMPOTENCY_WINDOW};
use crate::error::{AppError, AppResult, Code};
use crate::state::AppState;
use crate::store;
use crate::store::calls::Call;
use crate::store::idempotency::NewKey;
use crate::store::records::RecordQuery;
use crate::writer::{NewRecord, Touch};

/// What became of a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new record.
    Created { id: i64, at: NaiveDateTime },
    /// The key was used before within the window, with the same body: the first
    /// response stands, nothing new is stored.
    Replayed { id: i64, at: NaiveDateTime },
}

impl Stored {
    pub fn id(self) -> i64 {
        match self {
            Stored::Created { id, .. } | Stored::Replayed { id, .. } => id,
        }
    }

    /// The `201` body: `{"id","received_at"}`.
    pub fn body(self) -> String {
        let (id, at) = match self {
            Stored::Created { id, at } | Stored::Replayed { id, at } => (id, at),
        };
        serde_json::json!({ "id": id, "received_at": rfc3339(truncate(at)) }).to_string()
    }
}

/// A POST to store: the record and, when it is new, its call row.
pub struct Post {
    pub endpoint_id: i64,
    /// Who posted (idempotency keys are per principal).
    pub principal: String,
    pub key: Option<IdempotencyKey>,
    pub data: String,
    pub now: NaiveDateTime,
    /// When the request arrived (the call row's duration runs to its commit batch).
    pub started: std::time::Instant,
    /// The call row, completed with the record id once stored.
    pub call: Call,
}

/// Stores `post` with the next batch, marking `touch` used; answers after commit.
/// Without an Idempotency-Key it cannot fail unless the database does, so it goes
/// into the batch's bulk insert; with one it looks the key up under its own savepoint.
pub async fn store_post(state: &AppState, touch: Touch, post: Post) -> AppResult<Stored> {
    if post.key.is_none() {
        let at = post.now;
        let record = NewRecord {
            endpoint_id: post.endpoint_id,
            received_at: at,
            data: post.data,
            call: post.call,
            started: post.started,
            response_bytes: Box::new(move |id| Stored::Created { id, at }.body().len() as i64),
            touch,
        };
        let id = state.writer.store_record(record).await?;
        return Ok(Stored::Created { id, at });
    }
    let body_hash = Sha256::digest(post.data.as_bytes()).to_vec();
    state
        .writer
        .write_touching(touch, move |conn| store(conn, post, &body_hash))
        .await
}

fn store(conn: &mut DbConn, mut post: Post, body_hash: &[u8]) -> AppResult<Stored> {
    let not_before = post.now - IDEMPOTENCY_WINDOW;
    if let Some(key) = &post.key {
        if let Some(first) = store::idempotency::find(
            conn,
            post.endpoint_id,
            &post.principal,
            key.as_str(),
            not_before,
        )? {
            return replay(&first, body_hash);
        }
        store::idempotency::delete_expired(
            conn,
            post.endpoint_id,
            &post.principal,
            key.as_str(),
            not_before,
        )?;
    }
    let id = store::records::insert(conn, post.endpoint_id, post.now, &post.data)?;
    if let Some(key) = &post.key {
        let new = NewKey {
            endpoint_id: post.endpoint_id,
            principal: &post.principal,
            key: key.as_str(),
            body_hash,
            record_id: id,
            received_at: post.now,
        };
        if !store::idempotency::insert_if_absent(conn, &new)? {
            // Another instance committed the same key first: its response stands.
            store::records::delete(conn, post.endpoint_id, id)?;
            let first = store::idempotency::find(
                conn,
                post.endpoint_id,
                &post.principal,
                key.as_str(),
                not_before,
            )?
            .ok_or(AppError::Internal)?;
            return replay(&first, body_hash);
        }
    }
    let stored = Stored::Created { id, at: post.now };
    post.call.record_id = Some(id);
    post.call.response_bytes = stored.body().len() as i64;
    post.call.duration_us = i64::try_from(post.started.elapsed().as_micros()).unwrap_or(i64::MAX);
    store::calls::insert(conn, &post.call)?;
    Ok(stored)
}

fn replay(first: &store::idempotency::IdempotencyRow, body_hash: &[u8]) -> AppResult<Stored> {
    if first.body_hash != body_hash {
        return Err(AppError::refused(
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was used with a different body in the last 24 hours",
        ));
    }
    Ok(Stored::Replayed {
        id: first.record_id,
        at: first.received_at,
    })
}

/// Reads a body of at most `limit` bytes, counting what arrived in `received`.
pub async fn read_body(
    body: &mut actix_web::web::Payload,
    limit: u64,
    received: &mut i64,
) -> AppResult<actix_web::web::BytesMut> {
    let mut buf = actix_web::web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| {
            AppError::refused(Code::InvalidBody, "the request body could not be read")
        })?;
        *received += chunk.len() as i64;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(AppError::payload_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Bodies of refused calls up to this size are read (and dropped) so the connection
/// can carry the next request; a larger one closes it.
const DRAIN_LIMIT: u64 = 64 * 1024;
/// How long a refused call's body may take to arrive.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads what is left of `body` and drops it, if it is announced (or turns out to
/// be) at most [`DRAIN_LIMIT`] and arrives within [`DRAIN_TIME`]; returns the bytes
/// read. Otherwise the connection is closed after the answer, as HTTP/1.1 requires
/// of a body left unread.
pub async fn drain(body: &mut actix_web::web::Payload, announced: Option<u64>) -> i64 {
    if announced.is_some_and(|len| len > DRAIN_LIMIT) {
        return 0;
    }
    let mut read = 0i64;
    let all = async {
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len() as i64;
            if read as u64 > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, all).await;
    read
}

/// The request body as stored, taken over without a copy: UTF-8 text holding
/// exactly one JSON value (kept byte for byte), or `invalid_json`.
pub fn json_text(bytes: actix_web::web::BytesMut) -> AppResult<String> {
    let text = String::from_utf8(bytes.into()).map_err(|_| AppError::invalid_json("not UTF-8"))?;
    json_body(text.as_bytes())?;
    Ok(text)
}

/// The request body as stored: UTF-8 text holding exactly one JSON value (any
/// JSON, kept byte for byte), or `invalid_json` saying where it broke.
pub fn json_body(bytes: &[u8]) -> AppResult<&str> {
    let text = std::str::from_utf8(bytes).map_err(|_| AppError::invalid_json("not UTF-8"))?;
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Ok(text),
        Err(e) => Err(AppError::invalid_json(format_args!(
            "line {} column {}",
            e.line(),
            e.column()
        ))),
    }
}

/// One stored record as served, `{"id","received_at","data"}`, appended to `out`.
///
/// Written out rather than serialized: `data` is JSON text that was checked when it
/// was stored (`json_body`) and is served byte for byte; parsing it again for every
/// read would only prove that twice. The other two fields are a number and an
/// RFC 3339 time, which need no escaping.
fn write_record(out: &mut String, id: i64, received_at: NaiveDateTime, data: &str) {
    use std::fmt::Write;
    let _ = write!(
        out,
        r#"{{"id":{id},"received_at":"{}","data":"#,
        rfc3339(received_at)
    );
    out.push_str(data);
    out.push('}');
}

/// The page `q` of endpoint `endpoint_id`'s records received since `not_before`, as JSON.
pub async fn page_json(
    state: &AppState,
    endpoint_id: i64,
    q: ListQuery,
    not_before: Option<NaiveDateTime>,
) -> AppResult<String> {
    let limit = q.limit.get();
    let query = RecordQuery {
        after: q.after,
        since: q.since,
        until: q.until,
        not_before,
        limit: Page::<()>::fetch(limit),
    };
    let rows = state
        .db(move |conn| Ok(store::records::page(conn, endpoint_id, &query)?))
        .await?;
    let page = Page::of(rows, limit, |r| r.id);
    let size: usize = page.items.iter().map(|r| r.data.len() + 64).sum();
    let mut out = String::with_capacity(size + 32);
    out.push_str(r#"{"records":["#);
    for (n, r) in page.items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_record(&mut out, r.id, r.received_at, &r.data);
    }
    out.push_str(r#"],"next":"#);
    match page.next {
        Some(next) => out.push_str(&next.to_string()),
        None => out.push_str("null"),
    }
    out.push('}');
    Ok(out)
}

/// Record `id` of the endpoint as JSON, unless it is past `not_before` (retention).
pub async fn one_json(
    state: &AppState,
    endpoint_id: i64,
    id: i64,
    not_before: Option<NaiveDateTime>,
) -> AppResult<String> {
    let row = state
        .db(move |conn| Ok(store::records::find(conn, endpoint_id, id)?))
        .await?
        .filter(|r| not_before.is_none_or(|cut| r.received_at >= cut))
        .ok_or_else(|| AppError::not_found("record"))?;
    let mut out = String::with_capacity(row.data.len() + 64);
    write_record(&mut out, row.id, row.received_at, &row.data);
    Ok(out)
}

/// Deletes record `id` (`None`: every record) of the endpoint; how many went.
pub async fn delete(state: &AppState, endpoint_id: i64, id: Option<i64>) -> AppResult<usize> {
    state
        .writer
        .write_touching(None, move |conn| {
            Ok(match id {
                Some(id) => store::records::delete(conn, endpoint_id, id)?,
                None => store::records::delete_all(conn, endpoint_id)?,
            })
        })
        .await
}

/// The moment before which an endpoint with `retention_days` serves no record.
pub fn retention_cutoff(now: NaiveDateTime, retention_days: Option<i32>) -> Option<NaiveDateTime> {
    retention_days.map(|days| now - TimeDelta::days(i64::from(days)))
}
