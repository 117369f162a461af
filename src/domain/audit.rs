//! Audit vocabulary: every kind of change Portico records, and what it touched.
//! [`story`] tells an entry as a sentence.

pub mod story;

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
        EndpointSchemaPut = "endpoint.schema.put",
        EndpointSchemaDelete = "endpoint.schema.delete",
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
        AlertTargetCreate = "alert_target.create",
        AlertTargetUpdate = "alert_target.update",
        AlertTargetDelete = "alert_target.delete",
        AlertTargetRotate = "alert_target.secret.rotate",
        SettingsTokenPolicy = "settings.token_policy",
    }
);

names!(
    /// The kind of thing an audit entry is about.
    pub enum Target refusing "is not a known audit target" {
        Endpoint = "endpoint",
        Token = "token",
        /// A token's mapping onto an endpoint and method (`target_id` is the token's).
        Mapping = "mapping",
        User = "user",
        ApiKey = "api_key",
        AlertTarget = "alert_target",
        /// An instance-wide setting (no `target_id`).
        Settings = "settings",
    }
);

serialize_as_text!(Action, Target);

impl Action {
    /// The kind of thing this action changes.
    pub fn target(self) -> Target {
        let name = self.as_str();
        if name.starts_with("endpoint.") {
            Target::Endpoint
        } else if name.starts_with("mapping.") {
            Target::Mapping
        } else if name.starts_with("user.") {
            Target::User
        } else if name.starts_with("api_key.") {
            Target::ApiKey
        } else if name.starts_with("alert_target.") {
            Target::AlertTarget
        } else if name.starts_with("settings.") {
            Target::Settings
        } else {
            Target::Token
        }
    }

    /// A label for people, read on its own (filters list it under its target).
    pub fn label(self) -> &'static str {
        match self {
            Action::EndpointCreate => "Endpoint created",
            Action::EndpointUpdate => "Endpoint changed",
            Action::EndpointDelete => "Endpoint deleted",
            Action::PrimaryTokenRegenerate => "Primary token regenerated",
            Action::EndpointSchemaPut => "Endpoint schema put in force",
            Action::EndpointSchemaDelete => "Endpoint schema taken out of force",
            Action::TokenCreate => "Token created",
            Action::TokenUpdate => "Token changed",
            Action::TokenDelete => "Token deleted",
            Action::TokenRegenerate => "Token regenerated",
            Action::TokenDeactivate => "Token deactivated",
            Action::TokenActivate => "Token activated",
            Action::TokenRenew => "Token renewed",
            Action::TokenBulkEnable => "Tokens enabled (bulk)",
            Action::TokenBulkDisable => "Tokens disabled (bulk)",
            Action::TokenBulkDeactivate => "Tokens deactivated (bulk)",
            Action::TokenBulkActivate => "Tokens activated (bulk)",
            Action::TokenBulkDelete => "Tokens deleted (bulk)",
            Action::MappingCreate => "Mapping created",
            Action::MappingUpdate => "Mapping switched on or off",
            Action::MappingDelete => "Mapping removed",
            Action::UserCreate => "User added",
            Action::UserUpdate => "User changed",
            Action::UserDelete => "User removed",
            Action::ApiKeyCreate => "API key created",
            Action::ApiKeyDelete => "API key revoked",
            Action::AlertTargetCreate => "Alert target added",
            Action::AlertTargetUpdate => "Alert target changed",
            Action::AlertTargetDelete => "Alert target removed",
            Action::AlertTargetRotate => "Alert target's secret rotated",
            Action::SettingsTokenPolicy => "Token lifetime policy changed",
        }
    }
}

impl Target {
    /// A plural label for people: the filter's choices and the action groups.
    pub fn label(self) -> &'static str {
        match self {
            Target::Endpoint => "Endpoints",
            Target::Token => "Tokens",
            Target::Mapping => "Mappings",
            Target::User => "Users",
            Target::ApiKey => "API keys",
            Target::AlertTarget => "Alert targets",
            Target::Settings => "Settings",
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
        assert_eq!(Action::MappingDelete.target(), Target::Mapping);
        assert_eq!(Action::TokenBulkDisable.target(), Target::Token);
        assert_eq!(Action::PrimaryTokenRegenerate.target(), Target::Endpoint);
        assert_eq!(Action::AlertTargetRotate.target(), Target::AlertTarget);
    }
}
