//! Users, their sessions and their personal API keys.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{api_keys, sessions, users};
use crate::db::DbConn;
use crate::domain::token::TokenHash;
use crate::domain::user::Role;

#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub key_hash: TokenHash,
    pub hint: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i64,
    pub session_hash: TokenHash,
    pub csrf_hash: TokenHash,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// A show-once value waiting for its page, sealed (see `domain::reveal`).
    pub reveal: Option<Vec<u8>>,
}

crate::debug_redacting!(UserRow { id, username, role, created_at, updated_at } secret { password_hash });
crate::debug_redacting!(ApiKeyRow { id, user_id, name, hint, created_at, expires_at, last_used_at } secret { key_hash });
crate::debug_redacting!(SessionRow { id, user_id, created_at, expires_at } secret { session_hash, csrf_hash, reveal });

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn insert(
    conn: &mut DbConn,
    username: &str,
    password_hash: &str,
    role: Role,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    diesel::insert_into(users::table)
        .values((
            users::username.eq(username),
            users::password_hash.eq(password_hash),
            users::role.eq(role),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(users::id)
        .get_result::<i64>(conn)
        .and_then(|id| find(conn, id))
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<UserRow> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    users::table
        .order(users::username.asc())
        .select(UserRow::as_select())
        .load(conn)
}

pub fn count_admins(conn: &mut DbConn) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin))
        .count()
        .get_result(conn)
}

pub fn update(
    conn: &mut DbConn,
    id: i64,
    role: Option<Role>,
    password_hash: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    if let Some(role) = role {
        diesel::update(users::table.find(id))
            .set(users::role.eq(role))
            .execute(conn)?;
    }
    if let Some(hash) = password_hash {
        diesel::update(users::table.find(id))
            .set(users::password_hash.eq(hash))
            .execute(conn)?;
    }
    diesel::update(users::table.find(id))
        .set(users::updated_at.eq(now))
        .execute(conn)?;
    find(conn, id)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(users::table.find(id)).execute(conn)
}

pub fn insert_session(
    conn: &mut DbConn,
    session: &TokenHash,
    csrf: &TokenHash,
    user_id: i64,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::session_hash.eq(session),
            sessions::csrf_hash.eq(csrf),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A live session and its user.
pub fn find_session(
    conn: &mut DbConn,
    session: &TokenHash,
    now: NaiveDateTime,
) -> QueryResult<Option<(SessionRow, UserRow)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::session_hash.eq(session))
        .filter(sessions::expires_at.gt(now))
        .select((SessionRow::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()
}

pub fn delete_session(conn: &mut DbConn, session: &TokenHash) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::session_hash.eq(session))).execute(conn)
}

/// Leaves a sealed show-once value on the session (replacing any earlier one).
pub fn set_reveal(conn: &mut DbConn, session: &TokenHash, sealed: &[u8]) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::session_hash.eq(session)))
        .set(sessions::reveal.eq(Some(sealed)))
        .execute(conn)
}

/// The session's sealed show-once value, if one waits (read without taking it).
pub fn peek_reveal(conn: &mut DbConn, session: &TokenHash) -> QueryResult<bool> {
    sessions::table
        .filter(sessions::session_hash.eq(session))
        .filter(sessions::reveal.is_not_null())
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Takes the session's sealed show-once value: whoever clears it first gets it, so
/// two requests at once cannot both show it.
pub fn take_reveal(conn: &mut DbConn, session: &TokenHash) -> QueryResult<Option<Vec<u8>>> {
    let mine = sessions::table.filter(sessions::session_hash.eq(session));
    let Some(sealed) = mine
        .select(sessions::reveal)
        .first::<Option<Vec<u8>>>(conn)
        .optional()?
        .flatten()
    else {
        return Ok(None);
    };
    let taken = diesel::update(mine.filter(sessions::reveal.eq(&sealed)))
        .set(sessions::reveal.eq(None::<Vec<u8>>))
        .execute(conn)?;
    Ok((taken == 1).then_some(sealed))
}

pub fn delete_sessions_of(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

pub fn purge_sessions(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)
}

pub fn insert_api_key(
    conn: &mut DbConn,
    user_id: i64,
    name: &str,
    hash: &TokenHash,
    hint: &str,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<ApiKeyRow> {
    let id = diesel::insert_into(api_keys::table)
        .values((
            api_keys::user_id.eq(user_id),
            api_keys::name.eq(name),
            api_keys::key_hash.eq(hash),
            api_keys::hint.eq(hint),
            api_keys::created_at.eq(now),
            api_keys::expires_at.eq(expires_at),
        ))
        .returning(api_keys::id)
        .get_result::<i64>(conn)?;
    api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)
}

pub fn api_keys_of(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .order(api_keys::id.asc())
        .select(ApiKeyRow::as_select())
        .load(conn)
}

pub fn delete_api_key(conn: &mut DbConn, user_id: i64, id: i64) -> QueryResult<usize> {
    diesel::delete(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// A key that is not expired, and its user.
pub fn find_api_key(
    conn: &mut DbConn,
    hash: &TokenHash,
    now: NaiveDateTime,
) -> QueryResult<Option<(ApiKeyRow, UserRow)>> {
    api_keys::table
        .inner_join(users::table)
        .filter(api_keys::key_hash.eq(hash))
        .filter(
            api_keys::expires_at
                .is_null()
                .or(api_keys::expires_at.gt(now)),
        )
        .select((ApiKeyRow::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()
}

pub fn touch_api_key(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(now))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_user_row_redacts_the_password_hash() {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        let row = UserRow {
            id: 1,
            username: "ana".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
            role: Role::Admin,
            created_at: at,
            updated_at: at,
        };
        let printed = format!("{row:?}");
        assert!(
            printed.contains("[redacted]") && printed.contains("ana"),
            "{printed}"
        );
        assert!(!printed.contains("argon2"), "{printed}");
    }
}
