//! Helpers shared by the operations' inputs: values as clients send them become
//! domain values here, or a `422` naming the field.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::domain::endpoint::IpAllowlist;
use crate::domain::text::{Description, Name};
use crate::error::{AppError, AppResult};

/// A domain parse result, as a validation error naming `name` when it failed.
pub fn field<T>(name: &str, parsed: Result<T, String>) -> AppResult<T> {
    parsed.map_err(|e| AppError::validation(name, e))
}

/// An optional allowlist as sent (a list of addresses and networks).
pub fn allowlist(entries: Option<Vec<String>>) -> AppResult<Option<IpAllowlist>> {
    entries
        .map(|e| field("ip_allowlist", IpAllowlist::parse(&e)))
        .transpose()
}

/// A new name, if one was sent.
pub fn name_change(v: Option<String>) -> AppResult<Option<String>> {
    v.map(|n| field("name", Name::parse(&n)).map(Name::into_string))
        .transpose()
}

/// A new description, if one was sent.
pub fn description_change(v: Option<String>) -> AppResult<Option<String>> {
    v.map(|d| field("description", Description::parse(&d)).map(Description::into_string))
        .transpose()
}

/// A time as sent, at the precision both backends store.
pub fn moment(t: DateTime<Utc>) -> NaiveDateTime {
    crate::clock::truncate(t.naive_utc())
}

/// Distinguishes an absent JSON field from an explicit `null` in PATCH bodies.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Serde default for switches that start on.
pub fn default_true() -> bool {
    true
}
