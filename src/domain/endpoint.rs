//! Endpoint vocabulary: slugs, methods, authentication types and address allowlists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bounded::Bounded;
use super::names::names;

/// The URL segment of an endpoint: `[a-z0-9-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err("must be 1 to 64 characters".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("may contain only a-z, 0-9 and '-'".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

names!(
    /// The methods an endpoint serves, each with its own primary token.
    #[derive(PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "UPPERCASE")]
    pub enum Method refusing "must be one of POST, GET, DELETE" {
        Post = "POST",
        Get = "GET",
        Delete = "DELETE",
    }
);

names!(
    /// How callers of an endpoint authenticate.
    #[derive(Serialize, Deserialize, ToSchema, Default)]
    #[serde(rename_all = "lowercase")]
    pub enum AuthType refusing "must be 'token' or 'none'" {
        /// Primary or mapped secondary token required.
        #[default]
        Token = "token",
        /// Public endpoint: no token.
        None = "none",
    }
);

/// The methods that have a primary token on an endpoint with these settings.
pub fn primary_methods(auth: AuthType, allow_delete: bool) -> Vec<Method> {
    match (auth, allow_delete) {
        (AuthType::None, _) => vec![],
        (AuthType::Token, false) => vec![Method::Post, Method::Get],
        (AuthType::Token, true) => vec![Method::Post, Method::Get, Method::Delete],
    }
}

/// Addresses and networks allowed to call; a plain address means that one host.
/// Stored as a JSON array of its entries (kept beside the parsed form).
#[derive(Debug, Clone, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct IpAllowlist {
    nets: Vec<IpNet>,
    stored: String,
}

impl IpAllowlist {
    /// At most this many entries.
    pub const MAX_ENTRIES: usize = 256;

    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        if entries.len() > Self::MAX_ENTRIES {
            return Err(format!("at most {} entries", Self::MAX_ENTRIES));
        }
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!("'{entry}' is not an IP address or CIDR network"))
                    }
                },
            };
            nets.push(net);
        }
        let shown: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
        let stored = serde_json::to_string(&shown).map_err(|e| e.to_string())?;
        Ok(Self { nets, stored })
    }

    /// Reads the stored JSON form.
    pub fn from_stored(stored: &str) -> Result<Self, String> {
        let entries: Vec<String> = serde_json::from_str(stored)
            .map_err(|_| "an allowlist is stored as a JSON array of strings".to_owned())?;
        Self::parse(&entries)
    }

    /// The stored JSON form.
    pub fn as_str(&self) -> &str {
        &self.stored
    }

    pub fn entries(&self) -> Vec<String> {
        self.nets.iter().map(|n| n.to_string()).collect()
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for IpAllowlist {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::from_stored(s)
    }
}

/// Largest request body an endpoint accepts, 1 byte to 64 MiB.
pub type BodyLimit = Bounded<1, { 64 << 20 }>;
/// The body limit of an endpoint that names none: 1 MiB.
pub const DEFAULT_BODY_LIMIT: i64 = 1 << 20;
/// Days an endpoint keeps its records, 1 to 36500.
pub type RetentionDays = Bounded<1, 36500>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_spec_alphabet() {
        assert!(Slug::parse("orders").is_ok());
        assert!(Slug::parse("a-1").is_ok());
        assert!(Slug::parse(&"a".repeat(64)).is_ok());
        assert!(Slug::parse(&"a".repeat(65)).is_err());
        assert!(Slug::parse("").is_err());
        assert!(Slug::parse("Orders").is_err());
        assert!(Slug::parse("or ders").is_err());
        assert!(Slug::parse("or_ders").is_err());
    }

    #[test]
    fn delete_token_exists_only_while_deleting_is_allowed() {
        assert_eq!(
            primary_methods(AuthType::Token, false),
            vec![Method::Post, Method::Get]
        );
        assert_eq!(primary_methods(AuthType::Token, true).len(), 3);
        assert!(primary_methods(AuthType::None, true).is_empty());
    }

    #[test]
    fn allowlist_matches_hosts_and_networks() {
        let list = IpAllowlist::parse(&["10.0.0.0/8", "192.168.1.7", "::1"]).unwrap();
        assert!(list.allows("10.1.2.3".parse().unwrap()));
        assert!(list.allows("192.168.1.7".parse().unwrap()));
        assert!(!list.allows("192.168.1.8".parse().unwrap()));
        assert!(list.allows("::1".parse().unwrap()));
        assert!(list.allows("::ffff:10.0.0.1".parse().unwrap()));
        assert!(IpAllowlist::parse(&["10.0.0.0/33"]).is_err());
        assert!(IpAllowlist::parse(&["example.com"]).is_err());
        assert_eq!(IpAllowlist::from_stored(list.as_str()), Ok(list));
        assert!(IpAllowlist::from_stored("not json").is_err());
    }
}
