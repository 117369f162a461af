//! Audit vocabulary: every kind of change Portico records, and what it touched.

use super::names::names;

/// Serialises as its text.
macro_rules! serialize_as_text {
    ($($name:ident),*) => {$(
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )*};
}

names!(
    /// What an audit entry records.
    pub enum Action refusing "is not a known audit action" {
        EndpointCreate = "endpoint.create",
        EndpointUpdate = "endpoint.update",
        EndpointDelete = "endpoint.delete",
        PrimaryTokenRegenerate = "endpoint.primary_token.regenerate",
        TokenCreate = "token.create",
        TokenUpdate = "token.update",
        TokenDelete = "token.delete",
        TokenRegenerate = "token.regenerate",
        TokenDeactivate = "token.deactivate",
        TokenActivate = "token.activate",
        TokenRenew = "token.renew",
        TokenBulkEnable = "token.bulk.enable",
        TokenBulkDisable = "token.bulk.disable",
        TokenBulkDeactivate = "token.bulk.deactivate",
        TokenBulkActivate = "token.bulk.activate",
        TokenBulkDelete = "token.bulk.delete",
        MappingCreate = "mapping.create",
        MappingUpdate = "mapping.update",
        MappingDelete = "mapping.delete",
        UserCreate = "user.create",
        UserUpdate = "user.update",
        UserDelete = "user.delete",
        ApiKeyCreate = "api_key.create",
        ApiKeyDelete = "api_key.delete",
    }
);

names!(
    /// The kind of thing an audit entry is about.
    pub enum Target refusing "is not a known audit target" {
        Endpoint = "endpoint",
        Token = "token",
        User = "user",
        ApiKey = "api_key",
    }
);

serialize_as_text!(Action, Target);

impl Action {
    /// The kind of thing this action changes.
    pub fn target(self) -> Target {
        let name = self.as_str();
        if name.starts_with("endpoint.") {
            Target::Endpoint
        } else if name.starts_with("user.") {
            Target::User
        } else if name.starts_with("api_key.") {
            Target::ApiKey
        } else {
            Target::Token
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
        }
        assert!("token.explode".parse::<Action>().is_err());
        assert_eq!(Action::MappingDelete.target(), Target::Token);
        assert_eq!(Action::PrimaryTokenRegenerate.target(), Target::Endpoint);
    }
}
