//! PostgreSQL's bulk inserts of the writer: a batch's records, and its call rows,
//! each in one statement of one shape (`INSERT … SELECT * FROM unnest($1, $2, …)`,
//! one array a column), so the connection prepares it once and plans it rarely,
//! where a multi-row `VALUES` list is a new statement for every batch size.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};

use super::calls::Call;
use super::records::NewRecord;
use crate::domain::call::TokenKind;
use crate::domain::endpoint::Method;

/// A statement of fixed text (`push_sql`) and array binds: its text is the same for
/// every batch, so diesel keeps it prepared (its id says so).
trait Columns {
    /// The statement's id: one per table.
    type Id: 'static;
    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

/// One bulk insert, made of its columns.
struct Unnest<C> {
    into: &'static str,
    columns: C,
}

impl<C: Columns> QueryId for Unnest<C> {
    type QueryId = C::Id;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<C: Columns> QueryFragment<Pg> for Unnest<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.into);
        out.push_sql(" SELECT * FROM unnest(");
        self.columns.walk(&mut out)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C: Columns> RunQueryDsl<PgConnection> for Unnest<C> {}

/// Pushes each array as a bind, comma-separated.
macro_rules! binds {
    ($out:expr, $($ty:ty => $value:expr),+ $(,)?) => {{
        let mut first = true;
        $(
            if !std::mem::take(&mut first) {
                $out.push_sql(", ");
            }
            $out.push_bind_param::<Array<$ty>, _>($value)?;
        )+
        let _ = first;
    }};
}

/// The records' columns.
struct RecordColumns<'a> {
    id: Vec<i64>,
    endpoint_id: Vec<i64>,
    received_at: Vec<NaiveDateTime>,
    data: Vec<&'a str>,
}

impl Columns for RecordColumns<'_> {
    type Id = RecordColumns<'static>;
    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        binds!(out,
            BigInt => &self.id,
            BigInt => &self.endpoint_id,
            Timestamp => &self.received_at,
            Text => &self.data,
        );
        Ok(())
    }
}

/// Inserts `rows` in one statement.
pub fn insert_records(c: &mut PgConnection, rows: &[NewRecord<'_>]) -> QueryResult<usize> {
    let columns = RecordColumns {
        id: rows.iter().map(|r| r.id).collect(),
        endpoint_id: rows.iter().map(|r| r.endpoint_id).collect(),
        received_at: rows.iter().map(|r| r.received_at).collect(),
        data: rows.iter().map(|r| r.data).collect(),
    };
    Unnest {
        into: "INSERT INTO records (id, endpoint_id, received_at, data)",
        columns,
    }
    .execute(c)
}

/// The call rows' columns.
struct CallColumns<'a> {
    id: Vec<i64>,
    at: Vec<NaiveDateTime>,
    endpoint_id: Vec<Option<i64>>,
    endpoint_slug: Vec<&'a str>,
    method: Vec<&'a str>,
    path: Vec<&'a str>,
    status: Vec<i32>,
    code: Vec<Option<&'a str>>,
    token_kind: Vec<TokenKind>,
    token_id: Vec<Option<i64>>,
    token_name: Vec<Option<&'a str>>,
    token_method: Vec<Option<Method>>,
    remote_addr: Vec<&'a str>,
    user_agent: Vec<Option<&'a str>>,
    request_bytes: Vec<i64>,
    response_bytes: Vec<i64>,
    duration_us: Vec<i64>,
    record_id: Vec<Option<i64>>,
    repeats: Vec<i64>,
    conforms: Vec<Option<bool>>,
    detail: Vec<Option<&'a str>>,
}

impl Columns for CallColumns<'_> {
    type Id = CallColumns<'static>;
    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        binds!(out,
            BigInt => &self.id,
            Timestamp => &self.at,
            Nullable<BigInt> => &self.endpoint_id,
            Text => &self.endpoint_slug,
            Text => &self.method,
            Text => &self.path,
            Integer => &self.status,
            Nullable<Text> => &self.code,
            Text => &self.token_kind,
            Nullable<BigInt> => &self.token_id,
            Nullable<Text> => &self.token_name,
            Nullable<Text> => &self.token_method,
            Text => &self.remote_addr,
            Nullable<Text> => &self.user_agent,
            BigInt => &self.request_bytes,
            BigInt => &self.response_bytes,
            BigInt => &self.duration_us,
            Nullable<BigInt> => &self.record_id,
            BigInt => &self.repeats,
            Nullable<Bool> => &self.conforms,
            Nullable<Text> => &self.detail,
        );
        Ok(())
    }
}

/// Each call's `field`, in order.
fn each<'a, T>(calls: &'a [Call], field: impl Fn(&'a Call) -> T) -> Vec<T> {
    calls.iter().map(field).collect()
}

/// Inserts `calls` (each with its reserved id) in one statement.
pub fn insert_calls(c: &mut PgConnection, calls: &[Call]) -> QueryResult<usize> {
    let columns = CallColumns {
        id: each(calls, |c| c.id),
        at: each(calls, |c| c.at),
        endpoint_id: each(calls, |c| c.endpoint_id),
        endpoint_slug: each(calls, |c| c.endpoint_slug.as_str()),
        method: each(calls, |c| c.method.as_str()),
        path: each(calls, |c| c.path.as_str()),
        status: each(calls, |c| c.status),
        code: each(calls, |c| c.code.as_deref()),
        token_kind: each(calls, |c| c.token_kind),
        token_id: each(calls, |c| c.token_id),
        token_name: each(calls, |c| c.token_name.as_deref()),
        token_method: each(calls, |c| c.token_method),
        remote_addr: each(calls, |c| c.remote_addr.as_str()),
        user_agent: each(calls, |c| c.user_agent.as_deref()),
        request_bytes: each(calls, |c| c.request_bytes),
        response_bytes: each(calls, |c| c.response_bytes),
        duration_us: each(calls, |c| c.duration_us),
        record_id: each(calls, |c| c.record_id),
        repeats: each(calls, |c| c.repeats),
        conforms: each(calls, |c| c.conforms),
        detail: each(calls, |c| c.detail.as_deref()),
    };
    Unnest {
        into: "INSERT INTO calls (id, at, endpoint_id, endpoint_slug, method, path, status, \
               code, token_kind, token_id, token_name, token_method, remote_addr, user_agent, \
               request_bytes, response_bytes, duration_us, record_id, repeats, conforms, detail)",
        columns,
    }
    .execute(c)
}
