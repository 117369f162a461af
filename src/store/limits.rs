//! Limits shared by the instances on one database: window budgets taken in leases,
//! blocks in force, failed sign-ins.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::db::schema::{limit_blocks, limit_windows, login_failures};
use crate::db::DbConn;

#[derive(QueryableByName)]
struct Granted {
    #[diesel(sql_type = BigInt)]
    granted: i64,
}

/// Takes up to `want` units of the window's budget of `limit` for `(scope, key)`, in
/// one statement that no other instance can interleave with; how many it got (0
/// once the budget is spent).
pub fn claim(
    conn: &mut DbConn,
    scope: &str,
    key: &str,
    window_start: NaiveDateTime,
    want: i64,
    limit: i64,
) -> QueryResult<i64> {
    // In the update every expression reads the row as it was: `granted` is what is
    // left of the budget, capped at `want`, and `used` grows by exactly that.
    let (sql, least, greatest) = match conn {
        DbConn::Postgres(_) => ("$", "LEAST", "GREATEST"),
        DbConn::Sqlite(_) => ("?", "MIN", "MAX"),
    };
    let p = |n: u8| format!("{sql}{n}");
    let (want_p, limit_p) = (p(4), p(5));
    let query = format!(
        "INSERT INTO limit_windows AS w (scope, key, window_start, used, granted) \
         VALUES ({}, {}, {}, {greatest}(0, {least}({want_p}, {limit_p})), \
                 {greatest}(0, {least}({want_p}, {limit_p}))) \
         ON CONFLICT (scope, key, window_start) DO UPDATE \
         SET granted = {greatest}(0, {least}({want_p}, {limit_p} - w.used)), \
             used = w.used + {greatest}(0, {least}({want_p}, {limit_p} - w.used)) \
         RETURNING granted",
        p(1),
        p(2),
        p(3),
    );
    let query = diesel::sql_query(query)
        .bind::<Text, _>(scope)
        .bind::<Text, _>(key)
        .bind::<Timestamp, _>(window_start)
        .bind::<BigInt, _>(want)
        .bind::<BigInt, _>(limit);
    let granted: Granted = match conn {
        DbConn::Postgres(c) => query.get_result(c)?,
        DbConn::Sqlite(c) => query.get_result(c)?,
    };
    Ok(granted.granted)
}

/// Blocks `(scope, key)` until `until` (or later, if it already is).
pub fn block(conn: &mut DbConn, scope: &str, key: &str, until: NaiveDateTime) -> QueryResult<()> {
    let (p, greatest) = match conn {
        DbConn::Postgres(_) => ("$", "GREATEST"),
        DbConn::Sqlite(_) => ("?", "MAX"),
    };
    let query = diesel::sql_query(format!(
        "INSERT INTO limit_blocks AS b (scope, key, until) VALUES ({p}1, {p}2, {p}3) \
         ON CONFLICT (scope, key) DO UPDATE SET until = {greatest}(b.until, excluded.until)"
    ))
    .bind::<Text, _>(scope)
    .bind::<Text, _>(key)
    .bind::<Timestamp, _>(until);
    match conn {
        DbConn::Postgres(c) => query.execute(c)?,
        DbConn::Sqlite(c) => query.execute(c)?,
    };
    Ok(())
}

/// Blocks in force at `now`: (scope, key, until).
pub fn blocks(
    conn: &mut DbConn,
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, String, NaiveDateTime)>> {
    use limit_blocks::dsl as b;
    b::limit_blocks
        .filter(b::until.gt(now))
        .select((b::scope, b::key, b::until))
        .load(conn)
}

/// Records a failed sign-in under each of `keys`.
pub fn add_login_failure(conn: &mut DbConn, keys: &[String], at: NaiveDateTime) -> QueryResult<()> {
    use login_failures::dsl as f;
    for key in keys {
        diesel::insert_into(f::login_failures)
            .values((f::key.eq(key), f::at.eq(at)))
            .execute(conn)?;
    }
    Ok(())
}

/// The failed sign-ins under `key` since `since`, oldest first.
pub fn login_failures(
    conn: &mut DbConn,
    key: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<NaiveDateTime>> {
    use login_failures::dsl as f;
    f::login_failures
        .filter(f::key.eq(key).and(f::at.gt(since)))
        .order(f::at.asc())
        .select(f::at)
        .load(conn)
}

/// Forgets the failed sign-ins under `key` (a successful sign-in).
pub fn clear_login_failures(conn: &mut DbConn, key: &str) -> QueryResult<usize> {
    use login_failures::dsl as f;
    diesel::delete(f::login_failures.filter(f::key.eq(key))).execute(conn)
}

/// Deletes windows, blocks and sign-in failures that ended before `before`.
pub fn prune(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    let windows =
        diesel::delete(limit_windows::table.filter(limit_windows::window_start.lt(before)))
            .execute(conn)?;
    let blocks =
        diesel::delete(limit_blocks::table.filter(limit_blocks::until.lt(before))).execute(conn)?;
    let logins = diesel::delete(login_failures::table.filter(login_failures::at.lt(before)))
        .execute(conn)?;
    Ok(windows + blocks + logins)
}
