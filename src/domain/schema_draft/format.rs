//! String formats a draft may claim. Each check accepts a strict subset of what JSON
//! Schema's format allows, so a value that passes here also passes a validator that
//! asserts formats; each is a single pass over the string at most.

use chrono::{DateTime, NaiveDate};

/// The formats every string seen so far matched, as a set of bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Formats(u8);

type Check = fn(&str) -> bool;

/// In order of preference, though no string matches two of them.
const FORMATS: [(u8, &str, Check); 5] = [
    (1, "date-time", is_date_time),
    (2, "date", is_date),
    (4, "uuid", is_uuid),
    (8, "email", is_email),
    (16, "uri", is_uri),
];

impl Formats {
    pub fn all() -> Self {
        Self(FORMATS.iter().fold(0, |bits, (bit, _, _)| bits | bit))
    }

    /// Drops the formats `s` does not match; nothing is checked once none is left.
    pub fn keep_matching(&mut self, s: &str) {
        if self.0 == 0 {
            return;
        }
        for (bit, _, check) in FORMATS {
            if self.0 & bit != 0 && !check(s) {
                self.0 &= !bit;
            }
        }
    }

    /// The format every value matched, if any.
    pub fn detected(self) -> Option<&'static str> {
        FORMATS
            .iter()
            .find(|(bit, _, _)| self.0 & bit != 0)
            .map(|(_, name, _)| *name)
    }
}

/// RFC 3339 with a `T` separator, a four-digit year and no leap second.
fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    (20..=40).contains(&b.len())
        && matches!(b[10], b'T' | b't')
        && is_date(&s[..10])
        && b[13] == b':'
        && b[16] == b':'
        && &b[17..19] != b"60"
        && DateTime::parse_from_rfc3339(s).is_ok()
}

/// `YYYY-MM-DD`, a real calendar day.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// The hyphenated 8-4-4-4-12 hexadecimal form.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// `local@domain` with a dot-atom local part and a dotted ASCII host name.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && local.len() <= 64
        && !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
        && domain.contains('.')
        && is_host_name(domain)
        && domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.as_bytes()[0].is_ascii_alphabetic())
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// ASCII labels of letters, digits and inner hyphens.
fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// `scheme://host[:port][path][?query][#fragment]` with only URI characters.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    is_scheme(scheme) && is_authority(authority) && is_uri_tail(tail.as_bytes())
}

fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

fn is_authority(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    is_host_name(host)
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Path, query and fragment: RFC 3986 `pchar`, `/`, `?`, one `#`, valid `%HH`.
fn is_uri_tail(b: &[u8]) -> bool {
    let mut fragment = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if !(i + 2 < b.len()
                    && b[i + 1].is_ascii_hexdigit()
                    && b[i + 2].is_ascii_hexdigit())
                {
                    return false;
                }
                i += 2;
            }
            b'#' if fragment => return false,
            b'#' => fragment = true,
            c if c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&c) => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_accepts_its_own_and_refuses_lookalikes() {
        assert!(is_date_time("2026-11-30T08:15:00Z"));
        assert!(is_date_time("2026-11-30T08:15:00.123+01:00"));
        assert!(!is_date_time("2026-11-30 08:15:00Z"));
        assert!(!is_date_time("2026-02-30T08:15:00Z"));
        assert!(!is_date_time("2026-11-30T23:59:60Z"));
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2024-2-9"));
        assert!(is_uuid("67e55044-10b1-426f-9247-bb680e5fe0c8"));
        assert!(!is_uuid("67e5504410b1426f9247bb680e5fe0c8"));
        assert!(is_email("ana.silva+orders@example.pt"));
        assert!(!is_email("ana@localhost"));
        assert!(!is_email("ana silva@example.pt"));
        assert!(!is_email("ana..silva@example.pt"));
        assert!(is_uri("https://example.com:8443/a/b?c=d&e=%20#top"));
        assert!(!is_uri("https://example.com/a b"));
        assert!(!is_uri("https://example.com/%zz"));
        assert!(!is_uri("note: call back"));
        assert!(!is_uri("https://example.com:/"));
    }

    #[test]
    fn a_set_keeps_only_what_every_value_matched() {
        let mut formats = Formats::all();
        formats.keep_matching("2026-11-30");
        assert_eq!(formats.detected(), Some("date"));
        formats.keep_matching("2026-11-30T08:15:00Z");
        assert_eq!(formats.detected(), None);
    }
}
