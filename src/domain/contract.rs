//! Data contracts: an endpoint's JSON Schema (draft 2020-12) for the bodies posted to
//! it, in `enforce` or `observe` mode. Compiled once per schema version by the
//! `jsonschema` crate, offline (a `$ref` never fetches anything) and with the linear
//! `regex` engine for `pattern` (no catastrophic backtracking), so a hostile schema or
//! body can cost at most a bounded walk of a body that is itself size-limited.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::names::names;

/// At most this many violations are reported for one body.
pub const MAX_VIOLATIONS: usize = 10;
/// A schema's own size, as JSON text.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;
/// How deep a schema may nest (objects and arrays).
pub const MAX_SCHEMA_DEPTH: usize = 64;
/// The compiled size of one `pattern` (bytes of the regex program).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

names!(
    /// `enforce`: a body that does not conform is refused (`422 schema_violation`) and
    /// stored nowhere. `observe`: it is stored and its call marked `conforms: false`.
    #[derive(Serialize, serde::Deserialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum SchemaMode refusing "must be enforce or observe" {
        Enforce = "enforce",
        Observe = "observe",
    }
);

/// One way a body breaks the schema: where (a JSON Pointer into the body) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
}

/// A schema version compiled for validation.
pub struct Contract {
    /// The schema version's id.
    pub id: i64,
    pub mode: SchemaMode,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Contract({}, {})", self.id, self.mode)
    }
}

fn depth(v: &Value) -> usize {
    // Iterative, so a deep schema cannot exhaust the stack while it is measured.
    let mut deepest = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        if d > MAX_SCHEMA_DEPTH {
            break;
        }
        match v {
            Value::Object(m) => stack.extend(m.values().map(|c| (c, d + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    deepest
}

/// Compiles `schema`, or says in plain words what is wrong with it.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    if !matches!(schema, Value::Object(_) | Value::Bool(_)) {
        return Err("a JSON Schema is an object (or true/false)".into());
    }
    // Depth first: measuring the size serialises, which recurses.
    if depth(schema) > MAX_SCHEMA_DEPTH {
        return Err(format!(
            "the schema nests deeper than {MAX_SCHEMA_DEPTH} levels"
        ));
    }
    let size = serde_json::to_vec(schema)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        return Err(format!(
            "the schema is {size} bytes; at most {MAX_SCHEMA_BYTES} are accepted"
        ));
    }
    if let Some(declared) = schema.get("$schema").and_then(Value::as_str) {
        if !declared.starts_with("https://json-schema.org/draft/2020-12/") {
            return Err(format!(
                "$schema is {declared}; Portico validates draft 2020-12 \
                 (https://json-schema.org/draft/2020-12/schema)"
            ));
        }
    }
    if let Err(e) = jsonschema::meta::validate(schema) {
        return Err(format!(
            "not a valid draft 2020-12 schema at {}: {}",
            pointer_or_root(&e.instance_path().to_string()),
            e.masked()
        ));
    }
    jsonschema::draft202012::options()
        .offline()
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(PATTERN_SIZE_LIMIT))
        .build(schema)
        .map_err(|e| {
            format!(
                "the schema does not compile at {}: {}",
                pointer_or_root(&e.schema_path().to_string()),
                e.masked()
            )
        })
}

fn pointer_or_root(p: &str) -> String {
    if p.is_empty() {
        "the root".into()
    } else {
        p.to_owned()
    }
}

impl Contract {
    /// `schema` compiled for version `id` in `mode`.
    pub fn new(id: i64, mode: SchemaMode, schema: &Value) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Self {
            id,
            mode,
            validator: compile(schema)?,
        }))
    }

    /// How `body` breaks the schema (empty: it conforms), at most [`MAX_VIOLATIONS`].
    /// Messages say what was expected without repeating the body's values.
    pub fn check(&self, body: &Value) -> Vec<Violation> {
        // The common case first: a yes/no walk that stops early and collects nothing.
        if self.validator.is_valid(body) {
            return Vec::new();
        }
        self.validator
            .iter_errors(body)
            .take(MAX_VIOLATIONS)
            .map(|e| Violation {
                pointer: e.instance_path().to_string(),
                message: e.masked().to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn orders() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["order", "total"],
            "properties": {
                "order": {"type": "string", "pattern": "^A-[0-9]+$"},
                "total": {"type": "number", "minimum": 0},
                "lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}}
            }
        })
    }

    #[test]
    fn reports_where_and_what_without_the_values() {
        let c = Contract::new(1, SchemaMode::Enforce, &orders()).unwrap();
        assert!(c.check(&json!({"order": "A-1", "total": 3.5})).is_empty());
        let v = c.check(&json!({"order": "secret-value", "total": -1, "lines": [{}]}));
        let pointers: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
        assert!(pointers.contains(&"/order"), "{v:?}");
        assert!(pointers.contains(&"/total"), "{v:?}");
        assert!(pointers.contains(&"/lines/0"), "{v:?}");
        assert!(
            v.iter().all(|v| !v.message.contains("secret-value")),
            "{v:?}"
        );
    }

    #[test]
    fn at_most_ten_violations() {
        let schema = json!({"type": "array", "items": {"type": "string"}});
        let c = Contract::new(1, SchemaMode::Observe, &schema).unwrap();
        let body = Value::Array((0..1000).map(|n| json!(n)).collect());
        assert_eq!(c.check(&body).len(), MAX_VIOLATIONS);
    }

    #[test]
    fn a_bad_schema_is_named() {
        for (schema, needle) in [
            (
                json!({"type": "whole number"}),
                "not a valid draft 2020-12 schema",
            ),
            (json!([1, 2]), "is an object"),
            (
                json!({"$schema": "http://json-schema.org/draft-04/schema#"}),
                "draft 2020-12",
            ),
            (
                json!({"$ref": "https://example.com/elsewhere.json"}),
                "does not compile",
            ),
            (
                json!({"type": "string", "pattern": "(?<=a)b"}),
                "does not compile",
            ),
        ] {
            let e = compile(&schema).unwrap_err();
            assert!(e.contains(needle), "{schema}: {e}");
        }
    }

    #[test]
    fn hostile_schemas_and_bodies_are_bounded() {
        // A schema nested 1,000 levels deep is refused before it is compiled.
        let mut deep = json!({"type": "object"});
        for _ in 0..1_000 {
            deep = json!({"properties": {"a": deep}});
        }
        assert!(compile(&deep).unwrap_err().contains("deeper"));
        // The classic catastrophic pattern runs in linear time on a long input.
        let c = Contract::new(
            1,
            SchemaMode::Enforce,
            &json!({"type": "string", "pattern": "^(a+)+$"}),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let body = json!(format!("{}!", "a".repeat(100_000)));
        assert_eq!(c.check(&body).len(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // A huge array is walked once and reports ten violations.
        let huge = Value::Array(vec![json!(null); 200_000]);
        let c = Contract::new(
            1,
            SchemaMode::Enforce,
            &json!({"items": {"type": "string"}}),
        )
        .unwrap();
        assert_eq!(c.check(&huge).len(), MAX_VIOLATIONS);
    }
}
