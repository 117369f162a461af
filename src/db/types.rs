//! Column types: domain values stored as text or bytes on both backends.
//!
//! A stored value is parsed once, here, when a row is read; one that does not parse
//! is a deserialization error (reported as an internal error), never replaced by a
//! default.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Binary, Text, Timestamp};

use crate::domain::alert::{DeliveryState, EventSet};
use crate::domain::audit::{Action, Target};
use crate::domain::call::TokenKind;
use crate::domain::contract::SchemaMode;
use crate::domain::endpoint::{AuthType, IpAllowlist, Method};
use crate::domain::event::EventKind;
use crate::domain::token::TokenHash;
use crate::domain::user::Role;

/// `ToSql`/`FromSql` for types stored as their `as_str()` and read back with `FromStr`.
macro_rules! text_columns {
    ($($ty:ty),* $(,)?) => {$(
        impl<DB: Backend> ToSql<Text, DB> for $ty
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $ty
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse::<$ty>().map_err(|e| {
                    format!("stored {} is not one: {e}", stringify!($ty)).into()
                })
            }
        }
    )*};
}

text_columns!(
    SchemaMode,
    Method,
    AuthType,
    Role,
    TokenKind,
    IpAllowlist,
    Action,
    Target,
    EventKind,
    DeliveryState,
    EventSet
);

impl<DB: Backend> ToSql<Binary, DB> for TokenHash
where
    [u8]: ToSql<Binary, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.as_bytes().to_sql(out)
    }
}

impl<DB: Backend> FromSql<Binary, DB> for TokenHash
where
    Vec<u8>: FromSql<Binary, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let bytes = Vec::<u8>::from_sql(bytes)?;
        TokenHash::from_stored(&bytes).ok_or_else(|| "a stored hash is not 32 bytes".into())
    }
}

/// A timestamp as read from a row: `#[diesel(deserialize_as = Instant)]` on a
/// `NaiveDateTime` field read often (record pages, call pages). SQLite keeps
/// timestamps as text, and diesel's reader tries its formats one by one, compiling
/// each; the form Portico writes (`YYYY-MM-DD HH:MM:SS.ffffff`) is read here with
/// chrono's precompiled ISO readers, anything else as diesel reads it.
#[derive(Debug, Clone, Copy, diesel::deserialize::FromSqlRow)]
pub struct Instant(pub chrono::NaiveDateTime);

impl From<Instant> for chrono::NaiveDateTime {
    fn from(at: Instant) -> Self {
        at.0
    }
}

/// The form Portico writes, read without compiling a format.
fn written_form(text: &str) -> Option<chrono::NaiveDateTime> {
    let (date, time) = (text.get(..10)?, text.get(11..)?);
    if text.as_bytes()[10] != b' ' {
        return None;
    }
    Some(chrono::NaiveDateTime::new(
        date.parse().ok()?,
        time.parse().ok()?,
    ))
}

impl FromSql<Timestamp, diesel::sqlite::Sqlite> for Instant {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(at) = written_form(value.read_text()) {
            return Ok(Instant(at));
        }
        <chrono::NaiveDateTime as FromSql<Timestamp, diesel::sqlite::Sqlite>>::from_sql(value)
            .map(Instant)
    }
}

impl FromSql<Timestamp, diesel::pg::Pg> for Instant {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <chrono::NaiveDateTime as FromSql<Timestamp, diesel::pg::Pg>>::from_sql(value).map(Instant)
    }
}

impl FromSql<Timestamp, super::MultiBackend> for Instant {
    fn from_sql(
        value: <super::MultiBackend as Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

#[cfg(test)]
mod tests {
    use super::written_form;
    use chrono::Timelike;

    #[test]
    fn the_written_form_reads_as_diesel_reads_it() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .unwrap()
            .and_hms_micro_opt(3, 8, 6, 496_998)
            .unwrap();
        assert_eq!(written_form("2026-11-29 03:08:06.496998"), Some(at));
        assert_eq!(
            written_form("2026-11-29 03:08:06"),
            Some(at.with_nanosecond(0).unwrap())
        );
        for other in [
            "2026-11-29T03:08:06",
            "2026-11-29",
            "",
            "2026-11-29 25:00:00",
            "2026-11-29 03:08:06 junk",
        ] {
            assert_eq!(written_form(other), None, "{other}");
        }
    }
}
