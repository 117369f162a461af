//! The call log: every request to `/e/...`, and the viewer's queries over it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use crate::db::schema::{calls, records};
use crate::db::DbConn;
use crate::domain::call::TokenKind;
use crate::domain::endpoint::Method;
#[allow(unused_imports)] // named by the OpenAPI schema of `at`
use chrono::{DateTime, Utc};

// One call in the log: what the ingest path writes, what the store reads back, what
// the API, the UI and exports show (as `CallOut`). `id` is assigned by the writer
// (`store::ids::reserve`) when it inserts the row.
// (A line comment: a doc comment would become the schema's description.)
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Hash,
    Queryable,
    Selectable,
    Insertable,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[diesel(table_name = calls)]
#[schema(as = CallOut)]
pub struct Call {
    pub id: i64,
    #[serde(serialize_with = "crate::clock::serialize_utc")]
    #[schema(value_type = DateTime<Utc>)]
    #[diesel(deserialize_as = crate::db::types::Instant)]
    pub at: NaiveDateTime,
    pub endpoint_id: Option<i64>,
    pub endpoint_slug: String,
    pub method: String,
    /// Path and query, with any `access_token` value redacted.
    pub path: String,
    pub status: i32,
    /// The problem `code` of a refused call.
    pub code: Option<String>,
    /// `primary`, `secondary`, `none` or `unknown`.
    #[schema(value_type = String)]
    pub token_kind: TokenKind,
    pub token_id: Option<i64>,
    pub token_name: Option<String>,
    /// The method of the primary token used.
    #[schema(value_type = Option<String>)]
    pub token_method: Option<Method>,
    pub remote_addr: String,
    pub user_agent: Option<String>,
    pub request_bytes: i64,
    pub response_bytes: i64,
    pub duration_us: i64,
    pub record_id: Option<i64>,
    /// How many calls this row stands for: refused calls that repeat (same endpoint,
    /// path, status, code, credential, address and user agent within one second) are
    /// folded into one row. `request_bytes` and `response_bytes` are their sums.
    pub repeats: i64,
}

/// The viewer's filters; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub token_ids: Vec<i64>,
    pub token_kind: Option<TokenKind>,
    pub endpoint_id: Option<i64>,
    pub method: Option<String>,
    /// Inclusive range of statuses (`201` is 201..=201, `4xx` is 400..=499).
    pub status: Option<(i32, i32)>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Case-insensitive text in the call's record payload.
    pub q: Option<String>,
    /// Only calls newer than this id (the viewer's live tail).
    pub after_id: Option<i64>,
}

diesel::define_sql_function!(fn lower(x: Text) -> Text);

/// Inserts `call` under a fresh id; returns it.
pub fn insert(conn: &mut DbConn, call: &Call) -> QueryResult<i64> {
    let id = super::ids::reserve(conn, super::ids::Numbered::Calls, 1)?[0];
    let call = Call { id, ..call.clone() };
    diesel::insert_into(calls::table)
        .values(&call)
        .execute(conn)?;
    Ok(id)
}

/// Inserts `calls` (each with its reserved id) in one statement.
pub fn insert_many(conn: &mut DbConn, calls: &[Call]) -> QueryResult<usize> {
    if calls.is_empty() {
        return Ok(0);
    }
    // Per backend: diesel's batch insert is not on the connection enum.
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(calls::table).values(calls).execute(c),
        DbConn::Postgres(c) => diesel::insert_into(calls::table).values(calls).execute(c),
    }
}

/// Folds `repeats` more refused calls into row `id`, which stands for them all.
pub fn add_repeats(
    conn: &mut DbConn,
    id: i64,
    repeats: i64,
    request_bytes: i64,
    response_bytes: i64,
) -> QueryResult<usize> {
    diesel::update(calls::table.find(id))
        .set((
            calls::repeats.eq(calls::repeats + repeats),
            calls::request_bytes.eq(calls::request_bytes + request_bytes),
            calls::response_bytes.eq(calls::response_bytes + response_bytes),
        ))
        .execute(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Call> {
    calls::table.find(id).select(Call::as_select()).first(conn)
}

/// Matching records looked up in the payload index at most; beyond, the page is
/// found by walking the calls.
const SEARCH_CANDIDATES: i64 = 5_000;

/// Newest first; `before` is the keyset cursor (the last id of the previous page).
pub fn page(
    conn: &mut DbConn,
    f: &CallFilter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Call>> {
    let mut q = calls::table.select(Call::as_select()).into_boxed();
    // One token is an equality, so PostgreSQL walks (token_id, id) newest first and
    // stops at the page's end; `= ANY(array)` made it scan the whole id index instead.
    match f.token_ids.as_slice() {
        [] => {}
        [one] => q = q.filter(calls::token_id.eq(*one)),
        many => q = q.filter(calls::token_id.eq_any(many.to_vec())),
    }
    if let Some(kind) = &f.token_kind {
        q = q.filter(calls::token_kind.eq(*kind));
    }
    if let Some(endpoint) = f.endpoint_id {
        q = q.filter(calls::endpoint_id.eq(endpoint));
    }
    if let Some(method) = &f.method {
        q = q.filter(calls::method.eq(method.clone()));
    }
    if let Some((lo, hi)) = f.status {
        // One status is an equality, so (status, id) yields the page in order.
        q = match lo == hi {
            true => q.filter(calls::status.eq(lo)),
            false => q.filter(calls::status.between(lo, hi)),
        };
        if lo >= 400 {
            // Implied, and said so the partial index of refusals (calls_refused) serves it.
            q = q.filter(calls::status.ge(400));
        }
    }
    if let Some(since) = f.since {
        q = q.filter(calls::at.ge(since));
    }
    if let Some(until) = f.until {
        q = q.filter(calls::at.lt(until));
    }
    if let Some(text) = &f.q {
        let needle = text.to_lowercase();
        let pattern = super::like_pattern(&needle);
        // The index finds the matching records; when they are few, the page is
        // their calls. When they are many (or the needle is too short for the
        // index), the calls are walked newest first, each checked against its
        // record's payload, until the page is full.
        let found = super::search::matching_records(conn, &needle, &pattern, SEARCH_CANDIDATES)?;
        match found {
            Some(ids) if (ids.len() as i64) < SEARCH_CANDIDATES => {
                q = q.filter(calls::record_id.assume_not_null().eq_any(ids));
            }
            _ => {
                // Many matches: the page walks the log newest first and checks each
                // call's record by its id. (`OFFSET 0` keeps PostgreSQL from joining
                // with every matching record, `|| ''` from asking the trigram index.)
                let payload_matches = records::table
                    .filter(records::id.nullable().eq(calls::record_id))
                    .filter(lower(records::data).concat("").like(pattern).escape('\\'))
                    .select(records::id)
                    .offset(0);
                q = q.filter(diesel::dsl::exists(payload_matches));
            }
        }
    }
    if let Some(before) = before {
        q = q.filter(calls::id.lt(before));
    }
    if let Some(after) = f.after_id {
        q = q.filter(calls::id.gt(after));
    }
    q.order(calls::id.desc()).limit(limit).load(conn)
}

pub fn count_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
) -> QueryResult<Vec<(Option<i64>, i64)>> {
    calls::table
        .filter(calls::at.ge(since))
        .group_by(calls::endpoint_id)
        .select((
            calls::endpoint_id,
            diesel::dsl::sql::<BigInt>("CAST(COALESCE(SUM(repeats), 0) AS BIGINT)"),
        ))
        .load(conn)
}

/// What a stats series is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsBy {
    Token,
    Endpoint,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct StatsRow {
    #[diesel(sql_type = BigInt)]
    pub bucket: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub key_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub key_kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub key_name: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = BigInt)]
    pub errors: i64,
}

/// Calls per key and time bucket (`bucket_secs` wide, starting at epoch multiples).
pub fn stats(
    conn: &mut DbConn,
    by: StatsBy,
    bucket_secs: i64,
    since: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<StatsRow>> {
    let (key_id, key_kind, key_name) = match by {
        StatsBy::Token => ("token_id", "token_kind", "MAX(token_name)"),
        StatsBy::Endpoint => ("endpoint_id", "'endpoint'", "MAX(endpoint_slug)"),
    };
    // The bucket expression is the only backend difference: epoch seconds from a timestamp.
    let epoch = match conn {
        DbConn::Sqlite(_) => "CAST(strftime('%s', at) AS BIGINT)",
        DbConn::Postgres(_) => "CAST(floor(extract(epoch FROM at)) AS BIGINT)",
    };
    let (p1, p2, p3) = match conn {
        DbConn::Sqlite(_) => ("?1", "?2", "?3"),
        DbConn::Postgres(_) => ("$1", "$2", "$3"),
    };
    let sql = format!(
        "SELECT ({epoch} / {p1}) * {p1} AS bucket, {key_id} AS key_id, {key_kind} AS key_kind, \
         {key_name} AS key_name, CAST(SUM(repeats) AS BIGINT) AS calls, \
         CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN repeats ELSE 0 END), 0) AS BIGINT) AS errors \
         FROM calls WHERE at >= {p2} AND at < {p3} \
         GROUP BY bucket, {key_id}, key_kind ORDER BY bucket, key_id"
    );
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql)
            .bind::<BigInt, _>(bucket_secs)
            .bind::<Timestamp, _>(since)
            .bind::<Timestamp, _>(until)
            .load(c),
        DbConn::Postgres(c) => diesel::sql_query(sql)
            .bind::<BigInt, _>(bucket_secs)
            .bind::<Timestamp, _>(since)
            .bind::<Timestamp, _>(until)
            .load(c),
    }
}

/// Deletes up to `limit` calls made before `cutoff`, oldest first.
pub fn delete_before(conn: &mut DbConn, cutoff: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let batch: Vec<i64> = calls::table
        .filter(calls::at.lt(cutoff))
        .order(calls::id.asc())
        .select(calls::id)
        .limit(limit)
        .load(conn)?;
    if batch.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        calls::table
            .filter(calls::at.lt(cutoff))
            .filter(calls::id.eq_any(batch)),
    )
    .execute(conn)
}
