//! Who acts on Portico: users, their roles, and the acting user of an operation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::names::names;

names!(
    // What a user may do: admins everything, analysts read calls and statistics.
    // (A line comment: a doc comment would become the schema description.)
    #[derive(Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Role refusing "must be 'admin' or 'analyst'" {
        Admin = "admin",
        Analyst = "analyst",
    }
);

/// The signed-in user an operation acts for (audited by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A username: 1 to 64 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err("must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_usernames_parse_strictly() {
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("Admin".parse::<Role>().is_err());
        assert!(Username::parse("ana.b-1_x").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }
}
