//! Sign-in: a username and password become a server-side session (only its hash is
//! stored) with a CSRF token derived from it; sign-out deletes it.

use std::net::IpAddr;

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::read;
use crate::domain::reveal::{self, Shown};
use crate::domain::secret::Password;
use crate::domain::token::{TokenHash, TokenValue};
use crate::domain::user::{Actor, Role};
use crate::domain::{password, throttle};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSummary {
    pub username: String,
    pub role: Role,
}

/// The CSRF token of a session. It is derived from the session value (which only
/// the browser holds), so pages can embed it while the server stores only hashes.
pub fn csrf_token_for(session: &TokenValue) -> String {
    let mut h = Sha256::new();
    h.update(b"portico-csrf\0");
    h.update(session.expose().as_bytes());
    hex::encode(h.finalize())
}

/// How long a sign-in for `username` from `address` must wait, from the failures
/// every instance recorded in the database (`None`: it may try now).
async fn login_wait(
    state: &AppState,
    username: &str,
    address: Option<IpAddr>,
    now: chrono::NaiveDateTime,
) -> AppResult<Option<u64>> {
    let keys = throttle::login_keys(username, address);
    let since = now - throttle::LOGIN_WINDOW;
    read(state, move |conn| {
        let mut wait = None;
        for (key, max) in keys {
            let failures = store::limits::login_failures(conn, &key, since)?;
            wait = wait.max(throttle::login_wait(&failures, max, now));
        }
        Ok(wait)
    })
    .await
}

async fn login_failed(
    state: &AppState,
    username: &str,
    address: Option<IpAddr>,
    now: chrono::NaiveDateTime,
) -> AppResult<()> {
    let keys: Vec<String> = throttle::login_keys(username, address)
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    state
        .writer
        .write(move |conn| Ok(store::limits::add_login_failure(conn, &keys, now)?))
        .await
}

/// A successful sign-in forgets its user's failures (not its address's).
async fn login_succeeded(state: &AppState, username: &str) -> AppResult<()> {
    let [(user_key, _), _] = throttle::login_keys(username, None);
    state
        .writer
        .write(move |conn| Ok(store::limits::clear_login_failures(conn, &user_key).map(drop)?))
        .await
}

/// Checks a username and password (throttled per user and address) and opens a
/// session. Its value goes into the session cookie and nowhere else.
pub async fn start(
    state: &AppState,
    address: Option<IpAddr>,
    username: String,
    presented: Password,
) -> AppResult<(TokenValue, UserSummary)> {
    if username.len() > 64 || presented.expose().len() > 1024 {
        return Err(AppError::login_failed());
    }
    let now = state.clock.now();
    if let Some(retry_after_secs) = login_wait(state, &username, address, now).await? {
        return Err(AppError::RateLimited {
            retry_after_secs,
            reason: "too many failed sign-ins for this user or address",
        });
    }
    let user = {
        let username = username.clone();
        read(state, move |conn| {
            Ok(store::users::find_by_username(conn, &username)?)
        })
        .await?
    };
    let known = user.is_some();
    let user = actix_web::web::block(move || match user {
        Some(u) if password::verify(&presented, &u.password_hash) => Some(u),
        Some(_) => None,
        None => {
            password::verify_dummy(&presented);
            None
        }
    })
    .await?;
    let Some(user) = user else {
        login_failed(state, &username, address, now).await?;
        // An unknown name is not logged: people type passwords into the wrong field.
        if known {
            tracing::info!(%username, "login failed: wrong password");
        } else {
            tracing::info!("login failed: unknown user");
        }
        return Err(AppError::login_failed());
    };
    login_succeeded(state, &username).await?;
    let session = TokenValue::generate();
    let ttl = state.settings.session_ttl;
    let csrf_hash = TokenHash::of(&csrf_token_for(&session));
    let (session_hash, user_id) = (session.hash(), user.id);
    state
        .writer
        .write(move |conn| {
            Ok(store::users::insert_session(
                conn,
                &session_hash,
                &csrf_hash,
                user_id,
                now,
                now + ttl,
            )?)
        })
        .await?;
    tracing::info!(username = %user.username, "login");
    Ok((
        session,
        UserSummary {
            username: user.username,
            role: user.role,
        },
    ))
}

/// Deletes the session `value` (signing out).
pub async fn end(state: &AppState, value: &TokenValue) -> AppResult<()> {
    let hash = value.hash();
    state
        .writer
        .write(move |conn| Ok(store::users::delete_session(conn, &hash)?))
        .await?;
    Ok(())
}

/// The user behind a live session. `csrf` is `None` for safe methods, else the
/// hash of the presented CSRF token (`Some(None)` when none was presented).
pub async fn authenticate(
    state: &AppState,
    session: &TokenValue,
    csrf: Option<Option<TokenHash>>,
) -> AppResult<Actor> {
    let now = state.clock.now();
    let hash = session.hash();
    read(state, move |conn| {
        let (row, user) = store::users::find_session(conn, &hash, now)?
            .filter(|(row, _)| hash.matches(&row.session_hash))
            .ok_or_else(AppError::unauthenticated)?;
        match csrf {
            None => {}
            Some(Some(presented)) if presented.matches(&row.csrf_hash) => {}
            Some(_) => return Err(AppError::csrf_failed()),
        }
        Ok(Actor {
            user_id: user.id,
            username: user.username,
            role: user.role,
        })
    })
    .await
}

/// Leaves `shown` for the one view of `page` this session is redirected to; the
/// database stores it sealed with a key only the session's cookie gives.
pub async fn stash_reveal(
    state: &AppState,
    session: &TokenValue,
    page: &str,
    shown: Vec<Shown>,
) -> AppResult<()> {
    let at = state.clock.now().and_utc().timestamp();
    let sealed = reveal::seal(session, page, at, shown);
    let hash = session.hash();
    state
        .writer
        .write(move |conn| Ok(store::users::set_reveal(conn, &hash, &sealed).map(drop)?))
        .await
}

/// The show-once values waiting for `page`, taken so that a reload shows none.
/// A page without any pays one indexed read and no write.
pub async fn take_reveal(
    state: &AppState,
    session: &TokenValue,
    page: &str,
) -> AppResult<Vec<Shown>> {
    let hash = session.hash();
    let waiting = {
        let hash = hash.clone();
        read(state, move |conn| {
            Ok(store::users::peek_reveal(conn, &hash)?)
        })
        .await?
    };
    if !waiting {
        return Ok(Vec::new());
    }
    let sealed = state
        .writer
        .write(move |conn| Ok(store::users::take_reveal(conn, &hash)?))
        .await?;
    let now = state.clock.now().and_utc().timestamp();
    Ok(sealed
        .and_then(|s| reveal::open(session, page, now, &s))
        .unwrap_or_default())
}
