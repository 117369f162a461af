//! Token values: generation, checksum, hashing and hints.
//!
//! A value is 64 characters of `[A-Za-z0-9]`: 58 drawn from the operating
//! system's CSPRNG and a 6-character base62 CRC32 of those 58. The checksum lets
//! a mistyped or truncated value be refused before any lookup, and lets secret
//! scanners recognise a leaked one. At rest only [`TokenHash`] and a hint are kept.

use std::fmt;

use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const TOKEN_LEN: usize = 64;
/// How precise a credential's `last_used_at` is: it is written at most this often
/// (a busy token would otherwise cost a row update with every batch).
pub const LAST_USED_PRECISION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
const RANDOM_LEN: usize = 58;
const CHECKSUM_LEN: usize = TOKEN_LEN - RANDOM_LEN;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token value in clear. Exists only between generation and the response that
/// shows it once, or while a presented value is checked.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenValue(String);

/// Why a presented string is not a token value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedToken {
    Length,
    Alphabet,
    Checksum,
}

impl TokenValue {
    /// Draws a fresh value from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut value: String = OsRng
            .sample_iter(&Alphanumeric)
            .take(RANDOM_LEN)
            .map(char::from)
            .collect();
        value.push_str(&checksum(value.as_bytes()));
        Self(value)
    }

    /// Parses a presented value, refusing any whose form or checksum is wrong.
    pub fn parse(presented: &str) -> Result<Self, MalformedToken> {
        if presented.len() != TOKEN_LEN {
            return Err(MalformedToken::Length);
        }
        if !presented.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MalformedToken::Alphabet);
        }
        let (body, sum) = presented.split_at(RANDOM_LEN);
        let expected = checksum(body.as_bytes());
        if !bool::from(expected.as_bytes().ct_eq(sum.as_bytes())) {
            return Err(MalformedToken::Checksum);
        }
        Ok(Self(presented.to_owned()))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// First four and last four characters: enough to recognise, too little to use.
    pub fn hint(&self) -> String {
        format!("{}…{}", &self.0[..4], &self.0[TOKEN_LEN - 4..])
    }

    /// The clear value, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenValue([redacted])")
    }
}

impl fmt::Display for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Base62 of the CRC32 of `body`, left-padded to six characters (62^6 > 2^32).
fn checksum(body: &[u8]) -> String {
    let mut n = crc32fast::hash(body);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SHA-256 of a secret value: the only form in which secrets are stored (a
/// `Binary` column on both backends).
#[derive(Clone, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Binary)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// A stored hash; `None` unless it is 32 bytes.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The 32 bytes by value (a cache key).
    pub fn to_array(&self) -> [u8; 32] {
        self.0
    }

    /// Constant-time comparison with a stored hash.
    pub fn matches(&self, stored: &TokenHash) -> bool {
        bool::from(self.0.as_slice().ct_eq(stored.0.as_slice()))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash([redacted])")
    }
}

/// Requests per minute a secondary token may make: 1 to 1,000,000.
pub type RateLimit = super::bounded::Bounded<1, 1_000_000>;
/// Seconds a value replaced by a rotation keeps working: 0 (it stops at once) to 30 days.
pub type Grace = super::bounded::Bounded<0, { 30 * 24 * 3600 }>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_have_the_documented_form() {
        for _ in 0..200 {
            let t = TokenValue::generate();
            assert_eq!(t.expose().len(), 64);
            assert!(t.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(TokenValue::parse(t.expose()), Ok(t.clone()));
        }
    }

    #[test]
    fn generated_values_differ() {
        let a = TokenValue::generate();
        let b = TokenValue::generate();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let t = TokenValue::generate();
        let mut bytes = t.expose().as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert_eq!(TokenValue::parse(&typo), Err(MalformedToken::Checksum));
    }

    #[test]
    fn truncated_and_foreign_values_are_refused() {
        let t = TokenValue::generate();
        assert_eq!(
            TokenValue::parse(&t.expose()[..63]),
            Err(MalformedToken::Length)
        );
        let with_dash = format!("{}-{}", &t.expose()[..31], &t.expose()[32..]);
        assert_eq!(TokenValue::parse(&with_dash), Err(MalformedToken::Alphabet));
        assert_eq!(TokenValue::parse(""), Err(MalformedToken::Length));
    }

    #[test]
    fn checksum_is_six_base62_characters_of_crc32() {
        assert_eq!(checksum(b""), "000000");
        // CRC32("123456789") = 0xCBF43926 = 3421780262 → base62 "3jZRME".
        assert_eq!(checksum(b"123456789"), "3jZRME");
    }

    #[test]
    fn hint_shows_four_and_four() {
        let t = TokenValue::generate();
        let hint = t.hint();
        assert!(hint.starts_with(&t.expose()[..4]));
        assert!(hint.ends_with(&t.expose()[60..]));
        assert_eq!(hint.chars().count(), 9);
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let t = TokenValue::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
        assert!(!format!("{t}").contains(t.expose()));
        assert!(!format!("{:?}", t.hash()).contains(&hex::encode(t.hash().as_bytes())));
    }

    #[test]
    fn hash_matches_only_its_own_value() {
        let t = TokenValue::generate();
        let h = t.hash();
        assert!(h.matches(&t.hash()));
        assert!(!h.matches(&TokenValue::generate().hash()));
        assert!(TokenHash::from_stored(&h.as_bytes()[..31]).is_none());
        assert_eq!(TokenHash::from_stored(h.as_bytes()), Some(h));
    }
}
