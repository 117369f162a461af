//! What clients send to create and change tokens, and its validation.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::domain::endpoint::IpAllowlist;
use crate::domain::text::{Description, Name};
use crate::domain::token::{Grace, RateLimit};
use crate::domain::token_policy::PolicyDays;
use crate::error::{AppError, AppResult};
use crate::operations::input::{
    allowlist, description_change, double_option, field, moment, name_change,
};
use crate::store::tokens::{StateFilter, TokenChanges};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Recommended: the name of the application that will use it.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "crate::operations::input::default_true")]
    pub enabled: bool,
    /// Absent: the lifetime policy's default expiry (`GET /api/v1/settings/token-policy`);
    /// `null`: never expires. Beyond the policy's maximum lifetime (or `null` while
    /// there is one) is `422 lifetime_exceeded`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// 1 to 1,000,000 requests per minute; absent means unlimited.
    pub rate_limit_per_minute: Option<i32>,
    pub ip_allowlist: Option<Vec<String>>,
}

/// A new token, every value valid.
pub struct TokenSpec {
    pub(super) name: Name,
    pub(super) description: Description,
    pub(super) enabled: bool,
    /// `None`: the policy's default; `Some(None)`: never.
    pub(super) expires_at: Option<Option<NaiveDateTime>>,
    pub(super) rate_limit: Option<RateLimit>,
    pub(super) ip_allowlist: Option<IpAllowlist>,
}

fn rate(v: i32) -> AppResult<RateLimit> {
    field("rate_limit_per_minute", RateLimit::parse(v))
}

impl CreateToken {
    pub fn validate(self) -> AppResult<TokenSpec> {
        Ok(TokenSpec {
            name: field("name", Name::parse(&self.name))?,
            description: field("description", Description::parse(&self.description))?,
            enabled: self.enabled,
            expires_at: self.expires_at.map(|e| e.map(moment)),
            rate_limit: self.rate_limit_per_minute.map(rate).transpose()?,
            ip_allowlist: allowlist(self.ip_allowlist)?,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateToken {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// `null` removes the expiry. A changed expiry beyond the lifetime policy's
    /// maximum (or `null` while there is one) is `422 lifetime_exceeded`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub rate_limit_per_minute: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub ip_allowlist: Option<Option<Vec<String>>>,
}

/// Valid changes to a token (fields left out stay as they are).
pub struct TokenPatch(pub(super) TokenChanges);

impl UpdateToken {
    pub fn validate(self) -> AppResult<TokenPatch> {
        Ok(TokenPatch(TokenChanges {
            name: name_change(self.name)?,
            description: description_change(self.description)?,
            enabled: self.enabled,
            active: None,
            expires_at: self.expires_at.map(|e| e.map(moment)),
            rate_limit_per_minute: self
                .rate_limit_per_minute
                .map(|r| r.map(|n| rate(n).map(RateLimit::as_i32)).transpose())
                .transpose()?,
            ip_allowlist: self.ip_allowlist.map(allowlist).transpose()?,
            updated_at: None,
        }))
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateToken {
    /// Seconds the old value keeps working (default 0: it stops at once).
    #[serde(default)]
    pub grace_seconds: i64,
    /// A new expiry with the new value (absent: the expiry stays; `null`: never).
    /// Beyond the lifetime policy's maximum is `422 lifetime_exceeded`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// A valid regeneration: the grace of the old value and any new expiry.
pub struct Regeneration {
    pub(super) grace: Grace,
    pub(super) expires_at: Option<Option<NaiveDateTime>>,
}

impl RegenerateToken {
    pub fn validate(self) -> AppResult<Regeneration> {
        Ok(Regeneration {
            grace: field("grace_seconds", Grace::parse(self.grace_seconds))?,
            expires_at: self.expires_at.map(|e| e.map(moment)),
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewToken {
    /// Days from now (1 to 3650). Absent: the lifetime policy's default expiry (a
    /// year without one), never beyond its maximum. Beyond the maximum is
    /// `422 lifetime_exceeded`.
    pub days: Option<i64>,
}

impl RenewToken {
    pub fn validate(self) -> AppResult<Option<i64>> {
        self.days
            .map(|d| field("days", PolicyDays::parse(d)).map(PolicyDays::get))
            .transpose()
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StateParam {
    /// `active` (default), `inactive` or `all`.
    pub state: Option<String>,
}

/// `GET /api/v1/tokens`: which tokens.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListParams {
    /// `active` (default), `inactive` or `all`.
    pub state: Option<String>,
    /// `soon` (expiring within 14 days), `expired`, or `beyond_max`: beyond the
    /// lifetime policy's maximum (expiring later than it allows, or never).
    pub expiry: Option<String>,
}

impl StateParam {
    pub fn validate(&self) -> AppResult<StateFilter> {
        match self.state.as_deref() {
            None | Some("active") => Ok(StateFilter::Active),
            Some("inactive") => Ok(StateFilter::Inactive),
            Some("all") => Ok(StateFilter::All),
            Some(_) => Err(AppError::validation(
                "state",
                "must be active, inactive or all",
            )),
        }
    }
}
