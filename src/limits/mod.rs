//! Request limits: a token's requests per minute, and the throttle on addresses
//! that send invalid tokens. (Failed sign-ins are counted by `operations::sessions`
//! in the database.)
//!
//! Where one process serves the database (SQLite) they are counted in its memory
//! ([`local`]). On PostgreSQL, where instances share the database, every instance
//! takes shares of each budget from it ([`shared`]), so N instances together
//! accept no more than one would; blocks are written there too, and every instance
//! reads the blocks in force every [`POLL_EVERY`].

pub mod local;
pub mod shared;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, Timelike};

use crate::clock::Clock;
use crate::db::DbPool;
use crate::error::AppResult;
use local::{FailedTokenThrottle, RateLimiter};
use shared::{minute_of, Scope, Shared};

/// How often an instance reads the blocks other instances decided.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

pub struct Limits {
    rpm: RateLimiter,
    /// Counts (alone) or applies blocks (shared).
    failed: FailedTokenThrottle,
    shared: Option<Arc<Shared>>,
}

/// Seconds until the minute of `now` ends (a `Retry-After`).
fn rest_of_minute(now: NaiveDateTime) -> u64 {
    u64::from(60 - now.second()).max(1)
}

impl Limits {
    /// Limits counted in this process.
    pub fn local(failed_token_limit: u32) -> Self {
        Self {
            rpm: RateLimiter::default(),
            failed: FailedTokenThrottle::new(failed_token_limit),
            shared: None,
        }
    }

    /// Limits counted in the database of `pool`, with every instance on it.
    pub fn shared(failed_token_limit: u32, pool: DbPool) -> Self {
        Self {
            shared: Some(Arc::new(Shared::new(pool))),
            ..Self::local(failed_token_limit)
        }
    }

    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Counts a request of token `token_id` against its `per_minute`; `Ok(Err(s))`
    /// when the minute's budget is spent (retry after `s` seconds).
    pub async fn admit(
        &self,
        token_id: i64,
        per_minute: u32,
        now: NaiveDateTime,
    ) -> AppResult<Result<(), u64>> {
        let Some(shared) = &self.shared else {
            return Ok(self.rpm.check(token_id, per_minute, now));
        };
        let limit = i64::from(per_minute);
        let admitted = shared
            .take(Scope::Rpm, token_id.to_string(), minute_of(now), limit)
            .await?;
        Ok(if admitted {
            Ok(())
        } else {
            Err(rest_of_minute(now))
        })
    }

    /// `Err(seconds)` while `address` is blocked for invalid tokens (memory only).
    pub fn check_address(&self, address: Option<IpAddr>, now: NaiveDateTime) -> Result<(), u64> {
        self.failed.check(address, now)
    }

    /// Counts a request with an invalid token from `address`. Shared: the failure
    /// takes a unit of the address's budget for the minute (`limit - 1` units, so
    /// the `limit`-th failure finds none and blocks, as one process counts); a
    /// block is applied here at once and written for the other instances. A round
    /// trip only when this instance's share is spent; a database error is logged
    /// (the failure then goes uncounted) and never changes the answer.
    pub async fn failed_token(&self, address: Option<IpAddr>, now: NaiveDateTime) {
        let Some(shared) = &self.shared else {
            self.failed.failed(address, now);
            return;
        };
        let Some(address) = address.filter(|_| self.failed.enabled()) else {
            return;
        };
        let budget = i64::from(self.failed.limit()) - 1;
        let until = now + FailedTokenThrottle::BLOCK;
        let key = address.to_string();
        let counted = async {
            let left = shared
                .take(Scope::FailedToken, key.clone(), minute_of(now), budget)
                .await?;
            if !left {
                self.failed.block(address, until);
                shared.block(Scope::FailedToken, key, until).await?;
            }
            AppResult::Ok(())
        };
        if let Err(e) = counted.await {
            tracing::warn!(error = %e, "could not count an invalid token");
        }
    }

    /// Applies the blocks in force in the database (shared limits only).
    pub async fn refresh_blocks(&self, now: NaiveDateTime) -> AppResult<()> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        for (scope, key, until) in shared.blocks(now).await? {
            if scope == Scope::FailedToken.as_str() {
                if let Ok(address) = key.parse::<IpAddr>() {
                    self.failed.block(address, until);
                }
            }
        }
        Ok(())
    }
}

/// Reads the blocks other instances decided every [`POLL_EVERY`], for as long as
/// the server runs (shared limits only).
pub async fn poll_forever(limits: Arc<Limits>, clock: Clock) {
    if !limits.is_shared() {
        return;
    }
    let mut tick = tokio::time::interval(POLL_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = limits.refresh_blocks(clock.now()).await {
            tracing::warn!(error = %e, "could not read the limits' blocks");
        }
    }
}
