//! `/api/v1/users` (admin only).

use std::str::FromStr;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::auth::{password, Admin, Caller, Role};
use crate::domain::secret::Password;
use crate::error::{missing, AppError, AppResult, Problem};
use crate::store;
use crate::store::audit::Entry;
use crate::store::users::UserRow;
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so another method on a known path is a 405.
    cfg.service(
        web::resource("/users")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(
        web::resource("/users/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

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
            role: Role::from_str(&u.role).unwrap_or(Role::Analyst),
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

fn check_username(name: &str) -> AppResult<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(AppError::validation(
            "username",
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'",
        ));
    }
    Ok(())
}

async fn hash_password(p: Password) -> AppResult<String> {
    password::check_strength(&p).map_err(|e| AppError::validation("password", e))?;
    web::block(move || password::hash(&p))
        .await?
        .map_err(|_| AppError::Internal)
}

/// List users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = [UserOut]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(_admin: Admin, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let rows = state.db(|conn| Ok(store::users::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(UserOut::from).collect::<Vec<_>>()))
}

/// Add a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    body: ApiJson<CreateUser>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created().json(create_user(caller, &state, body.0).await?))
}

/// Adds a user (validated, audited).
pub async fn create_user(caller: Caller, state: &AppState, req: CreateUser) -> AppResult<UserOut> {
    check_username(&req.username)?;
    let hash = hash_password(req.password).await?;
    let now = state.clock.now();
    let row = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let row = store::users::insert(conn, &req.username, &hash, req.role.as_str(), now)
                    .map_err(|e| match AppError::from(e) {
                        AppError::Conflict(..) => AppError::Conflict(
                            "username_taken",
                            "a user with this name exists".into(),
                        ),
                        other => other,
                    })?;
                store::audit::record(
                    conn,
                    Entry {
                        actor: &caller.username,
                        action: "user.create",
                        target_type: "user",
                        target_id: Some(row.id),
                        detail: serde_json::json!({"username": row.username, "role": row.role}),
                    },
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(UserOut::from(row))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let row = state
        .db(move |conn| store::users::find(conn, id).map_err(missing("user")))
        .await?;
    Ok(HttpResponse::Ok().json(UserOut::from(row)))
}

/// Change a user's role or password; a new password ends their sessions.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ApiJson<UpdateUser>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.0;
    let hash = match req.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let role = req.role;
    let now = state.clock.now();
    let row = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let before = store::users::find(conn, id).map_err(missing("user"))?;
                if role == Some(Role::Analyst) && before.role == "admin" && store::users::count_admins(conn)? <= 1 {
                    return Err(AppError::Conflict("last_admin", "the last admin cannot lose the admin role".into()));
                }
                let row = store::users::update(conn, id, role.map(Role::as_str), hash.as_deref(), now)?;
                if hash.is_some() {
                    store::users::delete_sessions_of(conn, id)?;
                }
                store::audit::record(
                    conn,
                    Entry {
                        actor: &caller.username,
                        action: "user.update",
                        target_type: "user",
                        target_id: Some(id),
                        detail: serde_json::json!({"role": role, "password_changed": hash.is_some()}),
                    },
                    now,
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserOut::from(row)))
}

/// Remove a user with their sessions and API keys.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    Admin(caller): Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    delete_user(caller, &state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a user with their sessions and API keys (audited); never oneself or the last admin.
pub async fn delete_user(caller: Caller, state: &AppState, id: i64) -> AppResult<()> {
    if id == caller.user_id {
        return Err(AppError::Conflict(
            "cannot_delete_self",
            "you cannot delete your own user".into(),
        ));
    }
    let now = state.clock.now();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let before = store::users::find(conn, id).map_err(missing("user"))?;
                if before.role == "admin" && store::users::count_admins(conn)? <= 1 {
                    return Err(AppError::Conflict(
                        "last_admin",
                        "the last admin cannot be deleted".into(),
                    ));
                }
                store::users::delete(conn, id)?;
                store::audit::record(
                    conn,
                    Entry {
                        actor: &caller.username,
                        action: "user.delete",
                        target_type: "user",
                        target_id: Some(id),
                        detail: serde_json::json!({"username": before.username}),
                    },
                    now,
                )?;
                Ok(())
            })
        })
        .await
}
