//! The ingest request's own parsing: body bytes, Content-Type, Idempotency-Key and
//! the list query string. Nothing panics; an accepted body is valid JSON kept byte
//! for byte (and can be passed on as raw JSON, as the call detail does); an accepted
//! key is 1 to 255 visible ASCII characters; an accepted page size is 1 to 1000.
#![no_main]

use actix_web::http::header::HeaderValue;
use libfuzzer_sys::fuzz_target;
use portico::domain::record::IdempotencyKey;
use portico::ingest::{records, request};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = records::json_body(data) {
        assert_eq!(text.as_bytes(), data);
        // Not necessarily a serde_json::Value: JSON numbers have no range limit.
        serde_json::value::RawValue::from_string(text.to_owned()).expect("accepted body is JSON");
    }
    // The first line doubles as header values, the rest as a query string.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (line, rest) = data.split_at(split);
    if let Ok(value) = HeaderValue::from_bytes(line) {
        let _ = request::is_json(Some(&value));
        if let Ok(key) = IdempotencyKey::parse(value.as_bytes()) {
            assert!((1..=255).contains(&key.as_str().len()));
            assert!(key.as_str().bytes().all(|b| b.is_ascii_graphic()));
        }
    }
    if let Ok(query) = std::str::from_utf8(rest) {
        if let Ok(q) = request::list_query(query) {
            assert!((1..=1000).contains(&q.limit.get()), "a page holds 1 to 1000 records");
        }
    }
});
