//! The call log: every request to `/e/...`, and the viewer's queries over it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::db::schema::{calls, records};
use crate::db::{DbConn, MultiBackend};
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
    /// Whether the body conformed to the endpoint's JSON Schema: `null` when the
    /// endpoint had none (or the call sent no body to check).
    pub conforms: Option<bool>,
    /// Why it was refused where `code` alone does not say: for `schema_violation`,
    /// the violations as JSON (`[{"pointer","message"}]`, never the body's values).
    pub detail: Option<String>,
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
    /// Whether the body conformed to the endpoint's schema.
    pub conforms: Option<bool>,
}

diesel::define_sql_function!(fn lower(x: Text) -> Text);

mod pages;
pub use pages::page;

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
    // SQLite: a multi-row `VALUES`. PostgreSQL: one array a column, so one prepared
    // statement serves every batch size (`store::bulk`).
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(calls::table).values(calls).execute(c),
        DbConn::Postgres(c) => super::bulk::insert_calls(c, calls),
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

/// Matching records looked up in the payload index at most; beyond, the calls are
/// walked and each checked against its record.
const SEARCH_CANDIDATES: i64 = 5_000;
/// How much earlier than its record a call of it may be stamped: an instance whose
/// clock is behind the one that stored the record may read it.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A condition on calls, boxed so the page, the extent and the statistics of one
/// view apply the very same one.
type Predicate<'f> =
    Box<dyn BoxableExpression<calls::table, MultiBackend, SqlType = Nullable<Bool>> + 'f>;

/// How the payload search of a filter is answered.
#[derive(Debug, Clone)]
enum TextMatch {
    /// The calls of these records (the index found them all), made at or after
    /// `since` when that is known.
    Records {
        ids: Vec<i64>,
        since: Option<NaiveDateTime>,
    },
    /// Each call's record checked against this `LIKE` pattern.
    Check(String),
}

/// A [`CallFilter`] made ready for SQL: its payload search is looked up once, so
/// every query of one view (its page, its period, its counts) asks the same thing.
#[derive(Debug, Clone)]
pub struct Matching<'f> {
    filter: &'f CallFilter,
    text: Option<TextMatch>,
    /// The ids its time range's calls lie between (SQLite: see `call_order`).
    ids: super::call_order::IdRange,
    /// The same as runs of blocks, newest first, that a page reads in turn.
    runs: Vec<super::call_order::IdRange>,
}

impl<'f> Matching<'f> {
    /// Resolves `filter`'s payload search (if it has one) in the index, and where its
    /// time range lies among the ids.
    pub fn resolve(conn: &mut DbConn, filter: &'f CallFilter) -> QueryResult<Self> {
        let text = match &filter.q {
            None => None,
            // No payload holds a NUL (JSON writes it `\u0000`), and PostgreSQL
            // refuses it in any text it is sent: nothing matches.
            Some(text) if text.contains('\0') => Some(TextMatch::Records {
                ids: Vec::new(),
                since: None,
            }),
            Some(text) => {
                let needle = text.to_lowercase();
                let pattern = super::like_pattern(&needle);
                // When the index finds few records, the calls are theirs; when many
                // (or the needle is too short for the index), each call's record is
                // checked as the calls are read.
                let found =
                    super::search::matching_records(conn, &needle, &pattern, SEARCH_CANDIDATES)?;
                Some(match found {
                    Some(found) if (found.ids.len() as i64) < SEARCH_CANDIDATES => {
                        TextMatch::Records {
                            ids: found.ids,
                            since: found.oldest.map(|at| at - CLOCK_SKEW),
                        }
                    }
                    _ => TextMatch::Check(pattern),
                })
            }
        };
        let placed = super::call_order::placed(conn, filter.since, filter.until)?;
        Ok(Self {
            filter,
            text,
            ids: placed.hull,
            runs: placed.runs,
        })
    }

    /// How many records the payload search found, when the index found them all
    /// (the calls are theirs).
    pub fn records_found(&self) -> Option<usize> {
        match &self.text {
            Some(TextMatch::Records { ids, .. }) => Some(ids.len()),
            _ => None,
        }
    }

    /// The filter as one condition (`None`: every call matches).
    fn predicate(&self) -> Option<Predicate<'f>> {
        let f = self.filter;
        let mut all: Vec<Predicate<'f>> = Vec::new();
        // One token is an equality, so PostgreSQL walks (token_id, id) newest first and
        // stops at the page's end; `= ANY(array)` made it scan the whole id index instead.
        match f.token_ids.as_slice() {
            [] => {}
            [one] => all.push(Box::new(calls::token_id.eq(*one))),
            many => all.push(Box::new(calls::token_id.eq_any(many.to_vec()))),
        }
        if let Some(kind) = f.token_kind {
            all.push(Box::new(calls::token_kind.eq(kind).nullable()));
        }
        if let Some(endpoint) = f.endpoint_id {
            all.push(Box::new(calls::endpoint_id.eq(endpoint)));
        }
        if let Some(method) = &f.method {
            all.push(Box::new(calls::method.eq(method.clone()).nullable()));
        }
        if let Some((lo, hi)) = f.status {
            // One status is an equality, so (status, id) yields the page in order.
            match lo == hi {
                true => all.push(Box::new(calls::status.eq(lo).nullable())),
                false => all.push(Box::new(calls::status.between(lo, hi).nullable())),
            }
            if lo >= 400 {
                // Implied, and said so the partial index of refusals (calls_refused) serves it.
                all.push(Box::new(calls::status.ge(400).nullable()));
            }
        }
        if let Some(conforms) = f.conforms {
            all.push(Box::new(calls::conforms.eq(conforms)));
        }
        if let Some(since) = f.since {
            all.push(Box::new(calls::at.ge(since).nullable()));
        }
        if let Some(until) = f.until {
            all.push(Box::new(calls::at.lt(until).nullable()));
        }
        // The same range as ids, so (token_id, id) and its kind read only that range.
        if let Some(above) = self.ids.above {
            all.push(Box::new(calls::id.gt(above).nullable()));
        }
        if let Some(below) = self.ids.below {
            all.push(Box::new(calls::id.lt(below).nullable()));
        }
        all.extend(self.text_predicate());
        if let Some(after) = f.after_id {
            all.push(Box::new(calls::id.gt(after).nullable()));
        }
        all.into_iter().reduce(|a, b| Box::new(a.and(b)))
    }

    /// The payload search as a condition (`None`: there is none).
    fn text_predicate(&self) -> Option<Predicate<'f>> {
        match &self.text {
            None => None,
            // No record matches: said so, and the database reads no call at all.
            Some(TextMatch::Records { ids, .. }) if ids.is_empty() => {
                Some(Box::new(diesel::dsl::sql::<Nullable<Bool>>("FALSE")))
            }
            Some(TextMatch::Records { ids, since }) => {
                let theirs = calls::record_id.assume_not_null().eq_any(ids.clone());
                Some(match since {
                    // PostgreSQL: only the days since the oldest record are read.
                    Some(since) => Box::new(theirs.and(calls::at.ge(*since)).nullable()),
                    None => Box::new(theirs.nullable()),
                })
            }
            Some(TextMatch::Check(pattern)) => {
                // (`OFFSET 0` keeps PostgreSQL from joining with every matching
                // record, `|| ''` from asking the trigram index.)
                let payload_matches = records::table
                    .filter(records::id.nullable().eq(calls::record_id))
                    .filter(
                        lower(records::data)
                            .concat("")
                            .like(pattern.clone())
                            .escape('\\'),
                    )
                    .select(records::id)
                    .offset(0);
                Some(Box::new(diesel::dsl::exists(payload_matches).nullable()))
            }
        }
    }
}

/// When the first and the last call `matching` were made (`None`: no call matches).
pub fn extent(
    conn: &mut DbConn,
    matching: &Matching,
) -> QueryResult<Option<(NaiveDateTime, NaiveDateTime)>> {
    // Two queries, not one: each is a walk of the index on `at` from one end.
    let mut first = calls::table
        .select(diesel::dsl::min(calls::at))
        .into_boxed();
    let mut last = calls::table
        .select(diesel::dsl::max(calls::at))
        .into_boxed();
    if let (Some(p), Some(q)) = (matching.predicate(), matching.predicate()) {
        first = first.filter(p);
        last = last.filter(q);
    }
    let first: Option<NaiveDateTime> = first.first(conn)?;
    let last: Option<NaiveDateTime> = last.first(conn)?;
    Ok(first.zip(last))
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

#[derive(Debug, Clone, Queryable)]
pub struct StatsRow {
    /// Start of the bucket, in seconds since the epoch.
    pub bucket: i64,
    pub key_id: Option<i64>,
    pub key_kind: String,
    pub key_name: Option<String>,
    pub calls: i64,
    pub errors: i64,
}

/// Calls `matching`, per key and time bucket (`bucket_secs` wide, starting at epoch
/// multiples): one `GROUP BY` over the calls the view's filter selects, so it reads
/// what the page's query reads, through the same indexes.
pub fn stats(
    conn: &mut DbConn,
    matching: &Matching,
    by: StatsBy,
    bucket_secs: i64,
) -> QueryResult<Vec<StatsRow>> {
    use diesel::dsl::sql;
    let (key_id, key_kind, key_name, group) = match by {
        StatsBy::Token => (
            "token_id",
            "token_kind",
            "MAX(token_name)",
            "bucket, token_id, token_kind",
        ),
        StatsBy::Endpoint => (
            "endpoint_id",
            "'endpoint'",
            "MAX(endpoint_slug)",
            "bucket, endpoint_id",
        ),
    };
    // The bucket expression is the only backend difference: epoch seconds from a timestamp.
    let epoch = match conn {
        DbConn::Sqlite(_) => "CAST(strftime('%s', at) AS BIGINT)",
        DbConn::Postgres(_) => "CAST(floor(extract(epoch FROM at)) AS BIGINT)",
    };
    // An integer, written into the text: the bucket is a number, never user text.
    let width = bucket_secs.max(1);
    let mut q = calls::table
        .group_by(sql::<BigInt>(group))
        .select((
            sql::<BigInt>(&format!("({epoch} / {width}) * {width} AS bucket")),
            sql::<Nullable<BigInt>>(key_id),
            sql::<Text>(key_kind),
            sql::<Nullable<Text>>(key_name),
            sql::<BigInt>("CAST(SUM(repeats) AS BIGINT)"),
            sql::<BigInt>(
                "CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN repeats ELSE 0 END), 0) AS BIGINT)",
            ),
        ))
        .into_boxed();
    if let Some(p) = matching.predicate() {
        q = q.filter(p);
    }
    q.order(sql::<BigInt>("bucket")).load(conn)
}

/// Per credential: how many calls `matching` had their body checked against a schema,
/// how many did not conform, and when the first and last of those were made (epoch
/// seconds). Only calls that were checked count.
#[derive(Debug, Clone, Queryable)]
pub struct ConformanceRow {
    pub token_id: Option<i64>,
    pub token_kind: String,
    pub token_name: Option<String>,
    pub checked: i64,
    pub failing: i64,
    pub first_failing: Option<i64>,
    pub last_failing: Option<i64>,
}

pub fn conformance_by_token(
    conn: &mut DbConn,
    matching: &Matching,
) -> QueryResult<Vec<ConformanceRow>> {
    use diesel::dsl::sql;
    let epoch = match conn {
        DbConn::Sqlite(_) => "CAST(strftime('%s', at) AS BIGINT)",
        DbConn::Postgres(_) => "CAST(floor(extract(epoch FROM at)) AS BIGINT)",
    };
    let mut q = calls::table
        .filter(calls::conforms.is_not_null())
        .group_by(sql::<BigInt>("token_id, token_kind"))
        .select((
            sql::<Nullable<BigInt>>("token_id"),
            sql::<Text>("token_kind"),
            sql::<Nullable<Text>>("MAX(token_name)"),
            sql::<BigInt>("CAST(SUM(repeats) AS BIGINT)"),
            sql::<BigInt>(
                "CAST(COALESCE(SUM(CASE WHEN NOT conforms THEN repeats ELSE 0 END), 0) AS BIGINT)",
            ),
            sql::<Nullable<BigInt>>(&format!("MIN(CASE WHEN NOT conforms THEN {epoch} END)")),
            sql::<Nullable<BigInt>>(&format!("MAX(CASE WHEN NOT conforms THEN {epoch} END)")),
        ))
        .into_boxed();
    if let Some(p) = matching.predicate() {
        q = q.filter(p);
    }
    q.load(conn)
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
