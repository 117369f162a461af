//! Users and their roles. A change to a user never touches access to endpoints, so
//! it leaves the ingest caches alone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::field;
use super::{change, read};
use crate::db::DbConn;
use crate::domain::audit::Action;
use crate::domain::password;
use crate::domain::secret::Password;
use crate::domain::user::{Actor, Role, Username};
use crate::error::{missing, AppError, AppResult, Code};
use crate::state::AppState;
use crate::store;
use crate::store::users::UserRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for UserOut {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            role: u.role,
            username: u.username,
            created_at: u.created_at.and_utc(),
            updated_at: u.updated_at.and_utc(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 1 to 64 characters of `[A-Za-z0-9._-]`.
    pub username: String,
    pub role: Role,
    /// At least 12 characters.
    #[schema(value_type = String, format = Password)]
    pub password: Password,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Option<Role>,
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Password>,
}

/// A new user, valid, with the password already hashed.
pub struct UserSpec {
    username: Username,
    role: Role,
    password_hash: String,
}

/// Valid changes to a user.
pub struct UserPatch {
    role: Option<Role>,
    password_hash: Option<String>,
}

/// Checks a new password's strength and hashes it (off the async threads).
async fn hash_password(p: Password) -> AppResult<String> {
    field("password", password::check_strength(&p))?;
    actix_web::web::block(move || password::hash(&p))
        .await?
        .map_err(|_| AppError::Internal)
}

impl CreateUser {
    pub async fn validate(self) -> AppResult<UserSpec> {
        let username = field("username", Username::parse(&self.username))?;
        Ok(UserSpec {
            username,
            role: self.role,
            password_hash: hash_password(self.password).await?,
        })
    }
}

impl UpdateUser {
    pub async fn validate(self) -> AppResult<UserPatch> {
        let password_hash = match self.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        Ok(UserPatch {
            role: self.role,
            password_hash,
        })
    }
}

pub async fn list(state: &AppState) -> AppResult<Vec<UserOut>> {
    let rows = read(state, |conn| Ok(store::users::list(conn)?)).await?;
    Ok(rows.into_iter().map(UserOut::from).collect())
}

pub async fn get(state: &AppState, id: i64) -> AppResult<UserOut> {
    let row = read(state, move |conn| {
        store::users::find(conn, id).map_err(missing("user"))
    })
    .await?;
    Ok(row.into())
}

fn username_taken(e: AppError) -> AppError {
    match e {
        AppError::Refused(Code::Conflict, _) => {
            AppError::refused(Code::UsernameTaken, "a user with this name exists")
        }
        other => other,
    }
}

/// Adds a user.
pub async fn create(state: &AppState, actor: &Actor, spec: UserSpec) -> AppResult<UserOut> {
    let row = change(state, actor, move |tx| {
        let row = store::users::insert(
            tx.conn,
            spec.username.as_str(),
            &spec.password_hash,
            spec.role,
            tx.now,
        )
        .map_err(|e| username_taken(e.into()))?;
        tx.audit(
            Action::UserCreate,
            Some(row.id),
            serde_json::json!({"username": row.username, "role": row.role}),
        )?;
        Ok(row)
    })
    .await?;
    Ok(row.into())
}

/// Changes a user's role or password; a new password ends their sessions. The last
/// admin keeps the admin role.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: UserPatch,
) -> AppResult<UserOut> {
    let row = change(state, actor, move |tx| {
        let before = store::users::find(tx.conn, id).map_err(missing("user"))?;
        if patch.role == Some(Role::Analyst) && before.role == Role::Admin && last_admin(tx.conn)? {
            return Err(AppError::refused(
                Code::LastAdmin,
                "the last admin cannot lose the admin role",
            ));
        }
        let hash = patch.password_hash.as_deref();
        let row = store::users::update(tx.conn, id, patch.role, hash, tx.now)?;
        if hash.is_some() {
            store::users::delete_sessions_of(tx.conn, id)?;
        }
        // Their API keys carry the role: cached keys are dropped.
        tx.access_changed();
        tx.audit(
            Action::UserUpdate,
            Some(id),
            serde_json::json!({"role": patch.role, "password_changed": hash.is_some()}),
        )?;
        Ok(row)
    })
    .await?;
    Ok(row.into())
}

fn last_admin(conn: &mut DbConn) -> AppResult<bool> {
    Ok(store::users::count_admins(conn)? <= 1)
}

/// Removes a user with their sessions and API keys; never oneself or the last admin.
pub async fn delete(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    if id == actor.user_id {
        return Err(AppError::refused(
            Code::CannotDeleteSelf,
            "you cannot delete your own user",
        ));
    }
    change(state, actor, move |tx| {
        let before = store::users::find(tx.conn, id).map_err(missing("user"))?;
        if before.role == Role::Admin && last_admin(tx.conn)? {
            return Err(AppError::refused(
                Code::LastAdmin,
                "the last admin cannot be deleted",
            ));
        }
        store::users::delete(tx.conn, id)?;
        // Their API keys go with them: cached keys are dropped.
        tx.access_changed();
        tx.audit(
            Action::UserDelete,
            Some(id),
            serde_json::json!({"username": before.username}),
        )?;
        Ok(())
    })
    .await
}

/// Adds a user from the command line (before any server runs, so no writer).
pub fn add_offline(
    conn: &mut DbConn,
    name: &str,
    role: Role,
    password: &Password,
) -> anyhow::Result<()> {
    password::check_strength(password).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let username = Username::parse(name).map_err(|e| anyhow::anyhow!("username {e}"))?;
    if store::users::find_by_username(conn, username.as_str())?.is_some() {
        anyhow::bail!("user '{name}' already exists");
    }
    let hash = password::hash(password)?;
    store::users::insert(
        conn,
        username.as_str(),
        &hash,
        role,
        crate::clock::Clock::default().now(),
    )?;
    Ok(())
}
