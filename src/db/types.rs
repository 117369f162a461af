//! Column types: domain values stored as text or bytes on both backends.
//!
//! A stored value is parsed once, here, when a row is read; one that does not parse
//! is a deserialization error (reported as an internal error), never replaced by a
//! default.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Binary, Text};

use crate::domain::audit::{Action, Target};
use crate::domain::call::TokenKind;
use crate::domain::endpoint::{AuthType, IpAllowlist, Method};
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
    Method,
    AuthType,
    Role,
    TokenKind,
    IpAllowlist,
    Action,
    Target
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
