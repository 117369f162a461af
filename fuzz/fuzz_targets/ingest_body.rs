//! The ingest request's own parsing: body bytes, Content-Type, Idempotency-Key and
//! the list query string. Nothing panics; an accepted body is valid JSON kept byte
//! for byte (and can be passed on as raw JSON, as the call detail does); an accepted
//! key is 1 to 255 visible ASCII characters.
#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use libfuzzer_sys::fuzz_target;
use portico::ingest;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = ingest::json_body(data) {
        assert_eq!(text.as_bytes(), data);
        // Not necessarily a serde_json::Value: JSON numbers have no range limit.
        serde_json::value::RawValue::from_string(text.to_owned()).expect("accepted body is JSON");
    }
    // The first line doubles as header values, the rest as a query string.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (line, rest) = data.split_at(split);
    if let Ok(value) = HeaderValue::from_bytes(line) {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, value.clone());
        headers.insert(HeaderName::from_static("idempotency-key"), value);
        let _ = ingest::is_json_content_type(&headers);
        if let Ok(Some(key)) = ingest::idempotency_key(&headers) {
            assert!((1..=255).contains(&key.len()));
            assert!(key.bytes().all(|b| b.is_ascii_graphic()));
        }
    }
    if let Ok(query) = std::str::from_utf8(rest) {
        if let Ok(q) = ingest::list_query(query, None) {
            assert!(q.limit >= 2, "a page asks one row beyond its limit");
        }
    }
});
