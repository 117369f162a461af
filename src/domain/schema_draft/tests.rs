use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::*;

/// A deterministic xorshift generator: the same records on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];
const NAMES: [&str; 6] = [
    "Zoë Ødegaard",
    "José Ñúñez",
    "Łukasz Żółw",
    "李雷",
    "Ана Иванова",
    "Ahmed 🚀",
];
const CITIES: [&str; 4] = ["Lisboa", "Kraków", "東京", "São Paulo"];
const SOURCES: [&str; 2] = ["web", "app"];
const WORDS: [&str; 8] = [
    "call", "before", "delivery", "gate", "code", "leave", "porch", "façade",
];

fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next(), rng.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

fn date_time(i: usize, rng: &mut Rng) -> String {
    let (day, hour, minute, second) = (1 + i % 28, rng.below(24), rng.below(60), rng.below(60));
    let base = format!("2026-11-{day:02}T{hour:02}:{minute:02}:{second:02}");
    match i % 3 {
        0 => format!("{base}Z"),
        1 => format!("{base}.{:03}+01:00", rng.below(1000)),
        _ => format!("{base}-03:30"),
    }
}

fn customer(i: usize, rng: &mut Rng) -> Value {
    let mut customer = json!({
        "name": format!("{} {i}", NAMES[rng.below(NAMES.len())]),
        "email": format!("client.{i}+shop@example.com"),
        "phone": if i.is_multiple_of(11) { Value::Null } else { json!(format!("+351 91{i:07}")) },
        "address": {
            "city": CITIES[rng.below(CITIES.len())],
            "zip": format!("{:04}-{:03}", 1000 + i, i % 1000),
            "geo": { "lat": 38.7 + i as f64 / 1000.0, "lon": -9.1 - i as f64 / 997.0 },
        },
    });
    if i.is_multiple_of(7) {
        customer["vip"] = json!(i.is_multiple_of(14));
    }
    customer
}

fn lines(rng: &mut Rng, max: usize) -> Value {
    let lines: Vec<Value> = (0..rng.below(max + 1))
        .map(|_| {
            let mut line = json!({
                "sku": format!("SKU-{}", rng.below(50)),
                "qty": 1 + rng.below(5),
                "price": if rng.below(3) == 0 { json!(5) } else { json!(4.99) },
            });
            if rng.below(4) == 0 {
                line["discount"] = json!({ "code": "TEN", "percent": 10 });
            }
            line
        })
        .collect();
    Value::Array(lines)
}

fn record(i: usize, rng: &mut Rng) -> Value {
    let tags: Vec<&str> = (0..rng.below(3))
        .map(|_| ["gift", "fragile", "express"][rng.below(3)])
        .collect();
    let mut record = json!({
        "id": uuid(rng),
        "seq": i,
        "total": if i % 500 == 7 { json!(i as f64 + 0.25) } else { json!(i * 3) },
        "status": STATUSES[rng.below(STATUSES.len())],
        "note": format!("{} {} #{i}", WORDS[rng.below(8)], WORDS[rng.below(8)]),
        "created_at": date_time(i, rng),
        "customer": customer(i, rng),
        "lines": lines(rng, 4),
        "tags": tags,
        "meta": if i.is_multiple_of(10) {
            json!("legacy")
        } else {
            json!({ "source": SOURCES[i % 2], "version": 1 + i % 3 })
        },
    });
    if i.is_multiple_of(3) {
        record["coupon"] = if i.is_multiple_of(6) {
            Value::Null
        } else {
            json!(format!("SAVE{}", i % 7))
        };
    }
    if i % 4 == 1 {
        record["website"] = json!(format!(
            "https://shop{}.example.com/o/{i}?ref=mail#top",
            i % 9
        ));
    }
    if i % 5 == 2 {
        record["delivery_date"] = json!(format!("2026-12-{:02}", 1 + i % 28));
    }
    record
}

fn records(n: usize) -> Vec<Value> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n).map(|i| record(i, &mut rng)).collect()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("the draft is a valid 2020-12 schema")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_draft_accepts_every_record_it_was_learned_from() {
    let records = records(1_000);
    let draft = draft(&records);
    assert_eq!(draft.records_read, 1_000);
    assert_eq!(draft.schema["$schema"], DIALECT);
    let plain = jsonschema::draft202012::new(&draft.schema).expect("valid schema");
    let formats = validator(&draft.schema);
    for (i, record) in records.iter().enumerate() {
        let errors: Vec<String> = formats.iter_errors(record).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "record {i} fails its own draft: {errors:?}"
        );
        assert!(plain.is_valid(record));
    }
}

#[test]
fn required_means_present_in_every_record_and_new_fields_stay_allowed() {
    let draft = draft(&records(1_000));
    let schema = &draft.schema;
    let required = strings(&schema["required"]);
    for key in [
        "id",
        "seq",
        "total",
        "status",
        "note",
        "created_at",
        "customer",
        "lines",
    ] {
        assert!(required.contains(&key), "{key} should be required");
    }
    for key in ["coupon", "website", "delivery_date"] {
        assert!(!required.contains(&key), "{key} should be optional");
        assert!(schema["properties"][key].is_object());
    }
    let customer = &schema["properties"]["customer"];
    assert!(strings(&customer["required"]).contains(&"phone"));
    assert!(!strings(&customer["required"]).contains(&"vip"));
    let line = &schema["properties"]["lines"]["items"];
    assert_eq!(strings(&line["required"]), ["price", "qty", "sku"]);
    assert!(!schema.to_string().contains("additionalProperties"));
    assert!(draft.notes.iter().any(|n| n.contains("optional fields")));
    assert!(draft
        .notes
        .iter()
        .any(|n| n == "field `coupon` was present in 334 of 1000 objects: optional"));
}

#[test]
fn types_merge_across_records() {
    let draft = draft(&records(1_000));
    let p = &draft.schema["properties"];
    assert_eq!(p["seq"]["type"], "integer");
    assert_eq!(p["total"]["type"], "number");
    assert!(draft.notes.iter().any(|n| n
        == "field `total` was an integer 998 times and a number with a fraction 2 times: \
            typed as number"));
    assert_eq!(
        p["customer"]["properties"]["phone"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(p["customer"]["properties"]["vip"]["type"], "boolean");
    assert_eq!(p["lines"]["items"]["properties"]["price"]["type"], "number");
    assert_eq!(p["lines"]["items"]["properties"]["qty"]["type"], "integer");
    assert_eq!(p["tags"]["items"]["type"], "string");
}

#[test]
fn small_closed_sets_become_enums_and_free_text_does_not() {
    let draft = draft(&records(1_000));
    let p = &draft.schema["properties"];
    assert_eq!(p["status"]["type"], "string");
    assert_eq!(
        strings(&p["status"]["enum"]),
        ["cancelled", "new", "paid", "shipped"]
    );
    assert!(p["note"].get("enum").is_none());
    assert!(p["lines"]["items"]["properties"]["sku"]
        .get("enum")
        .is_none());
    assert!(p["seq"].get("enum").is_none(), "numbers are never enums");
    let coupon = &p["coupon"];
    assert_eq!(coupon["type"], json!(["string", "null"]));
    assert_eq!(
        coupon["enum"].as_array().map(Vec::len),
        Some(8),
        "7 codes and null"
    );
    assert!(coupon["enum"]
        .as_array()
        .is_some_and(|e| e.contains(&Value::Null)));
    // `meta` is an object or the string "legacy": the enum must not exclude objects.
    let meta = &p["meta"]["anyOf"];
    assert_eq!(meta[0], json!({ "type": "string", "enum": ["legacy"] }));
    assert_eq!(meta[1]["type"], "object");
}

#[test]
fn an_enum_needs_twenty_observations_each_value_twice() {
    let field = |values: &[&str]| {
        let records: Vec<Value> = values.iter().map(|v| json!({ "kind": v })).collect();
        draft(&records).schema["properties"]["kind"]
            .get("enum")
            .cloned()
    };
    assert_eq!(field(&["ok", "ok", "fine"]), None);
    let mut twenty = vec!["a"; 18];
    twenty.extend(["b", "b"]);
    assert_eq!(field(&twenty), Some(json!(["a", "b"])));
    twenty[19] = "c";
    twenty.push("a");
    assert_eq!(field(&twenty), None, "b and c were seen once");
    let eleven: Vec<String> = (0..44).map(|i| format!("v{}", i % 11)).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    assert_eq!(field(&eleven), None, "more than ten distinct values");
}

#[test]
fn formats_are_claimed_only_when_every_value_has_them() {
    let draft = draft(&records(1_000));
    let p = &draft.schema["properties"];
    assert_eq!(p["id"]["format"], "uuid");
    assert_eq!(p["created_at"]["format"], "date-time");
    assert_eq!(p["delivery_date"]["format"], "date");
    assert_eq!(p["website"]["format"], "uri");
    assert_eq!(p["customer"]["properties"]["email"]["format"], "email");
    assert!(p["note"].get("format").is_none());
    assert!(p["customer"]["properties"]["name"].get("format").is_none());
    let mixed = super::draft(&[json!("2026-11-30"), json!("2026-11-30T10:00:00Z")]);
    assert!(mixed.schema.get("format").is_none());
}

#[test]
fn records_breaking_the_draft_fail_it() {
    let records = records(1_000);
    let validator = validator(&draft(&records).schema);
    let base = records[1].clone();
    let broken = |change: &dyn Fn(&mut Map<String, Value>)| {
        let mut record = base.clone();
        change(record.as_object_mut().expect("records are objects"));
        record
    };
    assert!(validator.is_valid(&base));
    let missing = broken(&|r| {
        r.remove("status");
    });
    assert!(!validator.is_valid(&missing), "a required field is missing");
    let wrong_type = broken(&|r| {
        r.insert("seq".to_owned(), json!("12"));
    });
    assert!(!validator.is_valid(&wrong_type), "seq must be an integer");
    let not_in_enum = broken(&|r| {
        r.insert("status".to_owned(), json!("lost"));
    });
    assert!(!validator.is_valid(&not_in_enum));
    let nested = broken(&|r| {
        r.insert("customer".to_owned(), json!({ "name": "x" }));
    });
    assert!(
        !validator.is_valid(&nested),
        "customer lacks email, phone, address"
    );
    let new_field = broken(&|r| {
        r.insert("gift_wrap".to_owned(), json!(true));
    });
    assert!(
        validator.is_valid(&new_field),
        "new optional fields are accepted"
    );
    assert!(!validator.is_valid(&json!([1, 2])));
}

#[test]
fn deep_records_are_cut_at_the_depth_limit() {
    let mut deep = json!("bottom");
    for level in 0..200 {
        deep = if level % 2 == 0 {
            json!({ "child": deep })
        } else {
            json!([deep])
        };
    }
    let started = Instant::now();
    let draft = draft(std::slice::from_ref(&deep));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(draft
        .notes
        .iter()
        .any(|n| n.contains("deeper than 32 levels")));
    let text = draft.schema.to_string();
    assert!(
        text.matches("\"items\"").count() + text.matches("\"properties\"").count() <= MAX_DEPTH
    );
    assert!(validator(&draft.schema).is_valid(&deep));
}

#[test]
fn wide_records_describe_only_the_first_keys() {
    let wide: Map<String, Value> = (0..5_000).map(|i| (format!("k{i:05}"), json!(i))).collect();
    let wide = Value::Object(wide);
    let started = Instant::now();
    let draft = draft(std::slice::from_ref(&wide));
    assert!(started.elapsed() < Duration::from_secs(1));
    let properties = draft.schema["properties"].as_object().map(Map::len);
    assert_eq!(properties, Some(MAX_PROPERTIES));
    assert!(draft
        .notes
        .iter()
        .any(|n| n.contains("more than 500 distinct keys")));
    assert!(validator(&draft.schema).is_valid(&wide));
}

#[test]
fn no_records_accept_anything() {
    let draft = draft(&[]);
    assert_eq!(draft.schema, json!({ "$schema": DIALECT }));
    assert_eq!(draft.records_read, 0);
    assert!(draft.notes[0].starts_with("no records to learn from"));
}

#[test]
fn records_need_not_be_objects() {
    let records = [json!(1), json!(2.5), json!("x"), json!(null), json!([true])];
    let draft = draft(&records);
    assert_eq!(
        draft.schema["type"],
        json!(["array", "string", "number", "null"])
    );
    assert_eq!(draft.schema["items"]["type"], "boolean");
    let validator = validator(&draft.schema);
    assert!(records.iter().all(|r| validator.is_valid(r)));
    assert!(!validator.is_valid(&json!({})));
}

#[test]
fn a_thousand_records_of_a_few_kilobytes_draft_quickly() {
    let mut rng = Rng(42);
    let records: Vec<Value> = (0..1_000)
        .map(|i| {
            let mut r = record(i, &mut rng);
            r["history"] = lines(&mut rng, 80);
            r
        })
        .collect();
    let bytes: usize = records.iter().map(|r| r.to_string().len()).sum();
    assert!(
        bytes / records.len() > 2_000,
        "records average {} bytes",
        bytes / 1_000
    );
    let started = Instant::now();
    let draft = draft(&records);
    let elapsed = started.elapsed();
    eprintln!("drafted 1,000 records ({bytes} bytes) in {elapsed:?}");
    let limit = if cfg!(debug_assertions) { 2_000 } else { 100 };
    assert!(elapsed < Duration::from_millis(limit), "took {elapsed:?}");
    assert!(draft.schema["properties"]["history"]["items"].is_object());
}
