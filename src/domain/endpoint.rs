//! Endpoint vocabulary: slugs, methods, authentication types and address allowlists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// The methods an endpoint serves, each with its own primary token.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Post,
    Get,
    Delete,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Post, Method::Get, Method::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Get => "GET",
            Method::Delete => "DELETE",
        }
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "POST" => Ok(Method::Post),
            "GET" => Ok(Method::Get),
            "DELETE" => Ok(Method::Delete),
            _ => Err("must be one of POST, GET, DELETE".into()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How callers of an endpoint authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    /// Primary or mapped secondary token required.
    #[default]
    Token,
    /// Public endpoint: no token.
    None,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Token => "token",
            AuthType::None => "none",
        }
    }
}

impl FromStr for AuthType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "token" => Ok(AuthType::Token),
            "none" => Ok(AuthType::None),
            _ => Err("must be 'token' or 'none'".into()),
        }
    }
}

/// The methods that have a primary token on an endpoint with these settings.
pub fn primary_methods(auth: AuthType, allow_delete: bool) -> Vec<Method> {
    match (auth, allow_delete) {
        (AuthType::None, _) => vec![],
        (AuthType::Token, false) => vec![Method::Post, Method::Get],
        (AuthType::Token, true) => vec![Method::Post, Method::Get, Method::Delete],
    }
}

/// Addresses and networks allowed to call; a plain address means that one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
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
        Ok(Self(nets))
    }

    /// Reads the stored JSON form; an unreadable value allows nobody.
    pub fn from_stored(stored: &str) -> Self {
        serde_json::from_str::<Vec<String>>(stored)
            .ok()
            .and_then(|v| Self::parse(&v).ok())
            .unwrap_or(Self(vec![]))
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.entries()).unwrap_or_else(|_| "[]".into())
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(|n| n.to_string()).collect()
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

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
        let stored = list.to_stored();
        assert_eq!(IpAllowlist::from_stored(&stored), list);
    }
}
