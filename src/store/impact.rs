//! What a cut would have refused: the accepted calls of a token, a mapping or an
//! endpoint over a recent period, per credential. Read through the call log's
//! indexes on (token_id, id) and (endpoint_id, …), for one token or endpoint.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::db::schema::calls;
use crate::db::DbConn;
use crate::domain::endpoint::Method;

#[derive(Debug, Clone, Queryable)]
pub struct ImpactRow {
    pub token_id: Option<i64>,
    pub token_kind: String,
    pub token_name: Option<String>,
    pub calls: i64,
    /// The last of them, in seconds since the epoch.
    pub last: i64,
}

/// Accepted calls (status below 400) since `since`, of token `token_id` and/or on
/// endpoint `endpoint_id` (and `method`), per credential, the most calls first.
pub fn accepted_since(
    conn: &mut DbConn,
    token_id: Option<i64>,
    endpoint_id: Option<i64>,
    method: Option<Method>,
    since: NaiveDateTime,
) -> QueryResult<Vec<ImpactRow>> {
    let epoch = last_epoch(conn);
    let mut q = calls::table
        .filter(calls::at.ge(since))
        .filter(calls::status.lt(400))
        .group_by(sql::<BigInt>("token_id, token_kind"))
        .select((
            sql::<Nullable<BigInt>>("token_id"),
            sql::<Text>("token_kind"),
            sql::<Nullable<Text>>("MAX(token_name)"),
            sql::<BigInt>("CAST(SUM(repeats) AS BIGINT)"),
            sql::<BigInt>(epoch),
        ))
        .into_boxed();
    if let Some(t) = token_id {
        q = q.filter(calls::token_id.eq(t));
    }
    if let Some(e) = endpoint_id {
        q = q.filter(calls::endpoint_id.eq(e));
    }
    if let Some(m) = method {
        q = q.filter(calls::method.eq(m.as_str()));
    }
    q.order(sql::<BigInt>("4 DESC")).limit(1000).load(conn)
}

/// The last call of a group, in seconds since the epoch.
fn last_epoch(conn: &DbConn) -> &'static str {
    match conn {
        DbConn::Sqlite(_) => "CAST(strftime('%s', MAX(at)) AS BIGINT)",
        DbConn::Postgres(_) => "CAST(floor(extract(epoch FROM MAX(at))) AS BIGINT)",
    }
}

/// The most (credential, address) groups an allowlist's impact reads.
const MAX_ADDRESS_GROUPS: i64 = 100_000;

/// Accepted calls since `since` of token `token_id` or on endpoint `endpoint_id`,
/// per credential and client address (as logged): what a new allowlist is held
/// against.
pub fn accepted_by_address(
    conn: &mut DbConn,
    token_id: Option<i64>,
    endpoint_id: Option<i64>,
    since: NaiveDateTime,
) -> QueryResult<Vec<(ImpactRow, String)>> {
    let epoch = last_epoch(conn);
    let mut q = calls::table
        .filter(calls::at.ge(since))
        .filter(calls::status.lt(400))
        .group_by(sql::<BigInt>("token_id, token_kind, remote_addr"))
        .select((
            (
                sql::<Nullable<BigInt>>("token_id"),
                sql::<Text>("token_kind"),
                sql::<Nullable<Text>>("MAX(token_name)"),
                sql::<BigInt>("CAST(SUM(repeats) AS BIGINT)"),
                sql::<BigInt>(epoch),
            ),
            sql::<Text>("remote_addr"),
        ))
        .into_boxed();
    if let Some(t) = token_id {
        q = q.filter(calls::token_id.eq(t));
    }
    if let Some(e) = endpoint_id {
        q = q.filter(calls::endpoint_id.eq(e));
    }
    q.limit(MAX_ADDRESS_GROUPS).load(conn)
}
