//! Limits counted in the database, for instances that share it (PostgreSQL).
//!
//! A window's budget (a token's requests in a minute, an address's invalid-token
//! requests in a minute) lives in one row. An instance takes a share of it — a
//! lease, [`lease`] units — in one statement, and spends the share in memory: a
//! request costs a round trip only when its instance's share is spent. The database
//! never grants more than the budget, so N instances together accept no more than
//! the limit; a share one instance took and did not spend is lost to the others
//! until the window ends (at most `lease` units each).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{NaiveDateTime, Timelike};

use crate::db::DbPool;
use crate::domain::throttle::lease;
use crate::error::AppResult;
use crate::store;

/// What a budget limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A token's requests per minute (key: the token id).
    Rpm,
    /// An address's requests with an invalid token per minute (key: the address).
    FailedToken,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Rpm => "rpm",
            Scope::FailedToken => "failed_token",
        }
    }
}

/// This instance's unspent share of one window's budget.
#[derive(Debug, Clone, Copy)]
struct Share {
    window: NaiveDateTime,
    left: i64,
}

/// Shares held per budget, and the pool claims run on.
pub struct Shared {
    pool: DbPool,
    shares: Mutex<HashMap<(Scope, String), Share>>,
}

/// Budgets remembered at most; beyond, the shares of past windows are forgotten.
const MAX_SHARES: usize = 100_000;

/// The minute `now` falls in.
pub fn minute_of(now: NaiveDateTime) -> NaiveDateTime {
    now.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now)
}

impl Shared {
    pub fn new(pool: DbPool) -> Self {
        Self {
            pool,
            shares: Mutex::default(),
        }
    }

    /// Spends one unit of this instance's share of `(scope, key)` in `window`, if
    /// any is left.
    fn spend(&self, scope: Scope, key: &str, window: NaiveDateTime) -> bool {
        let mut shares = self.shares.lock().unwrap_or_else(|e| e.into_inner());
        match shares.get_mut(&(scope, key.to_owned())) {
            Some(s) if s.window == window && s.left > 0 => {
                s.left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Adds `units` to this instance's share of `(scope, key)` in `window`.
    fn keep(&self, scope: Scope, key: String, window: NaiveDateTime, units: i64) {
        let mut shares = self.shares.lock().unwrap_or_else(|e| e.into_inner());
        if shares.len() >= MAX_SHARES {
            shares.retain(|_, s| s.window >= window);
        }
        let share = shares
            .entry((scope, key))
            .or_insert(Share { window, left: 0 });
        if share.window != window {
            *share = Share { window, left: 0 };
        }
        share.left += units;
    }

    /// Takes one unit of the budget of `limit` for `(scope, key)` in `window`: from
    /// this instance's share, or from the database (then a share for later too).
    /// `false` once the budget is spent.
    pub async fn take(
        &self,
        scope: Scope,
        key: String,
        window: NaiveDateTime,
        limit: i64,
    ) -> AppResult<bool> {
        if limit <= 0 {
            return Ok(false);
        }
        if self.spend(scope, &key, window) {
            return Ok(true);
        }
        let pool = self.pool.clone();
        let want = lease(limit);
        let claim_key = key.clone();
        let granted = actix_web::web::block(move || -> AppResult<i64> {
            let mut conn = pool.get()?;
            Ok(store::limits::claim(
                &mut conn,
                scope.as_str(),
                &claim_key,
                window,
                want,
                limit,
            )?)
        })
        .await??;
        if granted == 0 {
            return Ok(false);
        }
        self.keep(scope, key, window, granted - 1);
        Ok(true)
    }

    /// Records a block every instance will apply.
    pub async fn block(&self, scope: Scope, key: String, until: NaiveDateTime) -> AppResult<()> {
        let pool = self.pool.clone();
        actix_web::web::block(move || -> AppResult<()> {
            let mut conn = pool.get()?;
            Ok(store::limits::block(
                &mut conn,
                scope.as_str(),
                &key,
                until,
            )?)
        })
        .await?
    }

    /// The blocks in force at `now`: (scope, key, until).
    pub async fn blocks(
        &self,
        now: NaiveDateTime,
    ) -> AppResult<Vec<(String, String, NaiveDateTime)>> {
        let pool = self.pool.clone();
        actix_web::web::block(move || -> AppResult<_> {
            let mut conn = pool.get()?;
            Ok(store::limits::blocks(&mut conn, now)?)
        })
        .await?
    }
}
