//! Any string through the token parser: it never panics, and whatever it accepts is
//! exactly one well-formed token (64 characters, checksum right) that reads back
//! as itself and hashes the same way twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::domain::token::TokenValue;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = TokenValue::parse(text) {
        assert_eq!(token.expose(), text);
        assert_eq!(text.len(), 64);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(token.hash(), TokenValue::parse(text).unwrap().hash());
    }
});
