//! The token lifetime policy's test helpers: setting it, and reading expiries.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::Session;

/// Sets the policy as an admin (`null`: none) and returns it.
pub async fn set_policy(admin: &Session, default: Value, max: Value) -> Value {
    let res = admin
        .put(
            "/settings/token-policy",
            json!({"default_expiry_days": default, "max_lifetime_days": max}),
        )
        .await;
    assert_eq!(res.status(), 200, "policy {default} / {max}");
    res.json().await.unwrap()
}

/// A token's expiry (it must have one).
pub fn expiry(t: &Value) -> DateTime<Utc> {
    t["expires_at"]
        .as_str()
        .expect("an expiry")
        .parse()
        .unwrap()
}

/// Whether `t` is `days` days from now, give or take a minute.
pub fn about_days_from_now(t: DateTime<Utc>, days: i64) -> bool {
    let want = Utc::now() + TimeDelta::days(days);
    (t - want).num_seconds().abs() < 60
}

/// `days` days from now, as RFC 3339.
pub fn in_days(days: i64) -> String {
    (Utc::now() + TimeDelta::days(days)).to_rfc3339()
}
