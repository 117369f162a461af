//! The token lifetime policy: one row (`id = 1`), read afresh by every token change
//! so every instance applies the same policy from the next request.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::token_policy;
use crate::db::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = token_policy)]
pub struct PolicyRow {
    pub default_expiry_days: Option<i32>,
    pub max_lifetime_days: Option<i32>,
    pub updated_by: String,
    pub updated_at: NaiveDateTime,
}

/// The policy as stored (its migration writes the row; `None` only if removed by hand).
pub fn get(conn: &mut DbConn) -> QueryResult<Option<PolicyRow>> {
    token_policy::table
        .filter(token_policy::id.eq(1))
        .select(PolicyRow::as_select())
        .first(conn)
        .optional()
}

/// Stores the policy (replacing the row).
pub fn put(
    conn: &mut DbConn,
    default_expiry_days: Option<i32>,
    max_lifetime_days: Option<i32>,
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<PolicyRow> {
    let values = (
        token_policy::default_expiry_days.eq(default_expiry_days),
        token_policy::max_lifetime_days.eq(max_lifetime_days),
        token_policy::updated_by.eq(actor),
        token_policy::updated_at.eq(now),
    );
    let n = diesel::update(token_policy::table.filter(token_policy::id.eq(1)))
        .set(values)
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(token_policy::table)
            .values((token_policy::id.eq(1), values))
            .execute(conn)?;
    }
    get(conn)?.ok_or(diesel::result::Error::NotFound)
}
