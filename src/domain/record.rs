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

/// A stored payload (valid JSON) laid out for reading, two spaces a level, with every
/// token exactly as it was sent: key order, number text and string escapes unchanged
/// (a parsed value would sort keys and round numbers beyond what a float holds).
pub fn indent_json(raw: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    }
    let mut out = String::with_capacity(raw.len() + raw.len() / 2);
    let mut depth = 0usize;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    out.push(c);
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {}
                    }
                }
            }
            '{' | '[' => {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                let close = if c == '{' { '}' } else { ']' };
                out.push(c);
                if chars.next_if_eq(&close).is_some() {
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
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

    #[test]
    fn indented_payloads_keep_every_token_as_sent() {
        let raw =
            r#"{"b":1, "a":[12345678901234567890123,1.50,{}], "s":"x\"y,{[:","e":[ ],"n":null}"#;
        let shown = super::indent_json(raw);
        assert_eq!(
            shown,
            "{\n  \"b\": 1,\n  \"a\": [\n    12345678901234567890123,\n    1.50,\n    {}\n  ],\n  \"s\": \"x\\\"y,{[:\",\n  \"e\": [],\n  \"n\": null\n}"
        );
        assert_eq!(super::indent_json("42"), "42");
        assert_eq!(super::indent_json(r#""a b""#), r#""a b""#);
    }
}
