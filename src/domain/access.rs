//! The access decision: one pure function of what the store knows about the
//! endpoint and the presented token, the caller's address and the time.
//! Ingest, tests and any cache go through [`decide`] and nothing else.

use std::net::IpAddr;

use chrono::NaiveDateTime;

use super::endpoint::{AuthType, IpAllowlist, Method};

/// The endpoint as the decision needs it.
#[derive(Debug, Clone)]
pub struct EndpointAccess<'a> {
    pub id: i64,
    pub auth: AuthType,
    pub enabled: bool,
    pub ip_allowlist: Option<&'a IpAllowlist>,
}

/// What the presented credential turned out to be.
#[derive(Debug, Clone)]
pub enum Presented {
    /// No token in the header or query.
    Missing,
    /// Wrong length, alphabet or checksum: refused without a lookup.
    Malformed,
    /// Well-formed but matches no stored hash.
    Unknown,
    /// A primary token of `endpoint_id` for `method`.
    Primary { endpoint_id: i64, method: Method },
    /// A secondary token and its mapping onto the requested (endpoint, method).
    Secondary(SecondaryAccess),
}

/// A secondary token as the decision needs it.
#[derive(Debug, Clone)]
pub struct SecondaryAccess {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub active: bool,
    pub expires_at: Option<NaiveDateTime>,
    /// Set when the presented value is the one replaced by a rotation: it is
    /// accepted until this moment (the grace period), refused afterwards.
    pub previous_valid_until: Option<NaiveDateTime>,
    pub matched_previous: bool,
    pub ip_allowlist: Option<IpAllowlist>,
    pub rate_limit_per_minute: Option<i32>,
    /// `None`: no mapping onto (endpoint, method); `Some(enabled)` otherwise.
    pub mapping_enabled: Option<bool>,
}

/// Who is allowed through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Public,
    Primary {
        method: Method,
    },
    Secondary {
        id: i64,
        name: String,
        rate_limit_per_minute: Option<i32>,
    },
}

/// Why a request is refused; each maps to one status and stable `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    TokenMissing,
    TokenInvalid,
    TokenExpired,
    TokenDisabled,
    TokenNotMapped,
    MappingDisabled,
    EndpointDisabled,
    IpNotAllowed,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::TokenMissing => "token_missing",
            Denial::TokenInvalid => "token_invalid",
            Denial::TokenExpired => "token_expired",
            Denial::TokenDisabled => "token_disabled",
            Denial::TokenNotMapped => "token_not_mapped",
            Denial::MappingDisabled => "mapping_disabled",
            Denial::EndpointDisabled => "endpoint_disabled",
            Denial::IpNotAllowed => "ip_not_allowed",
        }
    }

    /// 401 for "who are you?", 403 for "known, but not here".
    pub fn status(self) -> u16 {
        match self {
            Denial::TokenMissing | Denial::TokenInvalid | Denial::TokenExpired => 401,
            _ => 403,
        }
    }
}

/// Decides whether `presented` may call `method` on `endpoint` from `remote` at `now`.
pub fn decide(
    endpoint: &EndpointAccess<'_>,
    method: Method,
    presented: &Presented,
    remote: Option<IpAddr>,
    now: NaiveDateTime,
) -> Result<Principal, Denial> {
    let allowed_from = |list: Option<&IpAllowlist>| match (list, remote) {
        (None, _) => true,
        (Some(list), Some(ip)) => list.allows(ip),
        (Some(_), None) => false,
    };

    if endpoint.auth == AuthType::None {
        if !endpoint.enabled {
            return Err(Denial::EndpointDisabled);
        }
        if !allowed_from(endpoint.ip_allowlist) {
            return Err(Denial::IpNotAllowed);
        }
        return Ok(Principal::Public);
    }

    let principal = match presented {
        Presented::Missing => return Err(Denial::TokenMissing),
        Presented::Malformed | Presented::Unknown => return Err(Denial::TokenInvalid),
        Presented::Primary {
            endpoint_id,
            method: token_method,
        } => {
            if !endpoint.enabled {
                return Err(Denial::EndpointDisabled);
            }
            if *endpoint_id != endpoint.id || *token_method != method {
                return Err(Denial::TokenNotMapped);
            }
            Principal::Primary { method }
        }
        Presented::Secondary(t) => {
            if !t.active {
                return Err(Denial::TokenInvalid);
            }
            if t.matched_previous && t.previous_valid_until.is_none_or(|until| now >= until) {
                return Err(Denial::TokenInvalid);
            }
            if t.expires_at.is_some_and(|at| now >= at) {
                return Err(Denial::TokenExpired);
            }
            if !t.enabled {
                return Err(Denial::TokenDisabled);
            }
            if !endpoint.enabled {
                return Err(Denial::EndpointDisabled);
            }
            match t.mapping_enabled {
                None => return Err(Denial::TokenNotMapped),
                Some(false) => return Err(Denial::MappingDisabled),
                Some(true) => {}
            }
            if !allowed_from(t.ip_allowlist.as_ref()) {
                return Err(Denial::IpNotAllowed);
            }
            Principal::Secondary {
                id: t.id,
                name: t.name.clone(),
                rate_limit_per_minute: t.rate_limit_per_minute,
            }
        }
    };
    if !allowed_from(endpoint.ip_allowlist) {
        return Err(Denial::IpNotAllowed);
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn endpoint() -> EndpointAccess<'static> {
        EndpointAccess {
            id: 7,
            auth: AuthType::Token,
            enabled: true,
            ip_allowlist: None,
        }
    }

    fn secondary() -> SecondaryAccess {
        SecondaryAccess {
            id: 3,
            name: "shop-app".into(),
            enabled: true,
            active: true,
            expires_at: None,
            previous_valid_until: None,
            matched_previous: false,
            ip_allowlist: None,
            rate_limit_per_minute: None,
            mapping_enabled: Some(true),
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn check(e: &EndpointAccess<'_>, p: Presented) -> Result<Principal, Denial> {
        decide(e, Method::Post, &p, ip("10.0.0.1"), now())
    }

    #[test]
    fn mapped_enabled_secondary_is_allowed() {
        let got = check(&endpoint(), Presented::Secondary(secondary()));
        assert!(matches!(got, Ok(Principal::Secondary { id: 3, .. })));
    }

    #[test]
    fn primary_token_is_allowed_for_its_own_endpoint_and_method_only() {
        let own = Presented::Primary {
            endpoint_id: 7,
            method: Method::Post,
        };
        assert_eq!(
            check(&endpoint(), own),
            Ok(Principal::Primary {
                method: Method::Post
            })
        );
        let other_method = Presented::Primary {
            endpoint_id: 7,
            method: Method::Get,
        };
        assert_eq!(
            check(&endpoint(), other_method),
            Err(Denial::TokenNotMapped)
        );
        let other_endpoint = Presented::Primary {
            endpoint_id: 8,
            method: Method::Post,
        };
        assert_eq!(
            check(&endpoint(), other_endpoint),
            Err(Denial::TokenNotMapped)
        );
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_unauthenticated() {
        assert_eq!(
            check(&endpoint(), Presented::Missing),
            Err(Denial::TokenMissing)
        );
        assert_eq!(
            check(&endpoint(), Presented::Malformed),
            Err(Denial::TokenInvalid)
        );
        assert_eq!(
            check(&endpoint(), Presented::Unknown),
            Err(Denial::TokenInvalid)
        );
    }

    #[test]
    fn deactivated_token_is_invalid() {
        let t = SecondaryAccess {
            active: false,
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(t)),
            Err(Denial::TokenInvalid)
        );
    }

    #[test]
    fn expired_token_is_refused_from_the_expiry_instant() {
        let t = SecondaryAccess {
            expires_at: Some(now()),
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(t)),
            Err(Denial::TokenExpired)
        );
        let t = SecondaryAccess {
            expires_at: Some(now() + Duration::seconds(1)),
            ..secondary()
        };
        assert!(check(&endpoint(), Presented::Secondary(t)).is_ok());
    }

    #[test]
    fn disabled_token_is_forbidden() {
        let t = SecondaryAccess {
            enabled: false,
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(t)),
            Err(Denial::TokenDisabled)
        );
    }

    #[test]
    fn unmapped_and_disabled_mappings_are_forbidden() {
        let t = SecondaryAccess {
            mapping_enabled: None,
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(t)),
            Err(Denial::TokenNotMapped)
        );
        let t = SecondaryAccess {
            mapping_enabled: Some(false),
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(t)),
            Err(Denial::MappingDisabled)
        );
    }

    #[test]
    fn disabled_endpoint_refuses_every_token() {
        let e = EndpointAccess {
            enabled: false,
            ..endpoint()
        };
        assert_eq!(
            check(&e, Presented::Secondary(secondary())),
            Err(Denial::EndpointDisabled)
        );
        let primary = Presented::Primary {
            endpoint_id: 7,
            method: Method::Post,
        };
        assert_eq!(check(&e, primary), Err(Denial::EndpointDisabled));
        let public = EndpointAccess {
            auth: AuthType::None,
            ..e
        };
        assert_eq!(
            check(&public, Presented::Missing),
            Err(Denial::EndpointDisabled)
        );
    }

    #[test]
    fn rotated_value_works_only_during_its_grace_period() {
        let within = SecondaryAccess {
            matched_previous: true,
            previous_valid_until: Some(now() + Duration::seconds(30)),
            ..secondary()
        };
        assert!(check(&endpoint(), Presented::Secondary(within)).is_ok());
        let over = SecondaryAccess {
            matched_previous: true,
            previous_valid_until: Some(now()),
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(over)),
            Err(Denial::TokenInvalid)
        );
        let no_grace = SecondaryAccess {
            matched_previous: true,
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(no_grace)),
            Err(Denial::TokenInvalid)
        );
    }

    #[test]
    fn allowlists_of_token_and_endpoint_both_apply() {
        let list = Some(IpAllowlist::parse(&["192.168.0.0/16"]).unwrap());
        let t = SecondaryAccess {
            ip_allowlist: list.clone(),
            ..secondary()
        };
        assert_eq!(
            check(&endpoint(), Presented::Secondary(t.clone())),
            Err(Denial::IpNotAllowed)
        );
        let from_inside = decide(
            &endpoint(),
            Method::Post,
            &Presented::Secondary(t),
            ip("192.168.3.4"),
            now(),
        );
        assert!(from_inside.is_ok());
        let e = EndpointAccess {
            ip_allowlist: list.as_ref(),
            ..endpoint()
        };
        assert_eq!(
            check(&e, Presented::Secondary(secondary())),
            Err(Denial::IpNotAllowed)
        );
        let primary = Presented::Primary {
            endpoint_id: 7,
            method: Method::Post,
        };
        assert_eq!(check(&e, primary), Err(Denial::IpNotAllowed));
        let no_addr = decide(&e, Method::Post, &Presented::Missing, None, now());
        assert_eq!(no_addr, Err(Denial::TokenMissing));
    }

    #[test]
    fn public_endpoint_needs_no_token_but_keeps_its_allowlist() {
        let e = EndpointAccess {
            auth: AuthType::None,
            ..endpoint()
        };
        assert_eq!(check(&e, Presented::Missing), Ok(Principal::Public));
        let local = IpAllowlist::parse(&["127.0.0.1"]).unwrap();
        let e = EndpointAccess {
            ip_allowlist: Some(&local),
            ..e
        };
        assert_eq!(check(&e, Presented::Missing), Err(Denial::IpNotAllowed));
    }

    #[test]
    fn statuses_and_codes_follow_the_spec_table() {
        assert_eq!(Denial::TokenMissing.status(), 401);
        assert_eq!(Denial::TokenExpired.status(), 401);
        assert_eq!(Denial::MappingDisabled.status(), 403);
        assert_eq!(Denial::IpNotAllowed.code(), "ip_not_allowed");
    }
}
