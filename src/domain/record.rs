//! Records applications post and read back: the idempotency window and key, and
//! the size of a page of records.

use chrono::TimeDelta;

/// How long an `Idempotency-Key` replays its first response.
pub const IDEMPOTENCY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, &'static str> {
        let key = std::str::from_utf8(raw).map(str::trim).unwrap_or("");
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("Idempotency-Key must be 1 to 255 visible ASCII characters");
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Records per page of `GET /e/{slug}`: 1 to 1000, 100 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListLimit(i64);

impl ListLimit {
    pub const DEFAULT: i64 = 100;
    pub const MAX: i64 = 1000;

    pub fn parse(text: &str) -> Result<Self, String> {
        text.parse::<i64>()
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Self)
            .ok_or_else(|| format!("limit must be an integer from 1 to {}", Self::MAX))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl Default for ListLimit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_limits_parse_strictly() {
        assert!(IdempotencyKey::parse(b"order-42").is_ok());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"has space").is_err());
        assert!(IdempotencyKey::parse(&[b'a'; 256]).is_err());
        assert_eq!(ListLimit::parse("1000").map(ListLimit::get), Ok(1000));
        assert!(ListLimit::parse("0").is_err());
        assert!(ListLimit::parse("x").is_err());
        assert_eq!(ListLimit::default().get(), 100);
    }
}
