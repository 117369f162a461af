//! A JSON Schema (draft 2020-12) drafted from an endpoint's recent records, for an admin
//! to review and save as the endpoint's data contract.
//!
//! The draft describes what was seen and nothing stricter: every key seen is a property,
//! a key is required only when every object at that place had it, new keys stay allowed.
//! The work is bounded (depth, keys per object, distinct values per field) so a hostile
//! or huge record cannot exhaust the stack or memory.

mod format;
mod observe;
mod render;

use serde_json::{json, Value};

use observe::Shape;
use render::Notes;

/// The dialect every draft declares.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Containers nested deeper than this are left as `{}` (any value).
pub const MAX_DEPTH: usize = 32;
/// Keys beyond this many per object location are not described (they stay allowed).
pub const MAX_PROPERTIES: usize = 500;
/// A string field with more distinct values than this is never an enum.
pub const MAX_ENUM_VALUES: usize = 10;
/// An enum needs at least this many observations, so a free-text field seen a few
/// times is not frozen into a closed set.
pub const MIN_ENUM_OBSERVATIONS: u64 = 20;
/// Longer strings are not tracked as enum candidates (they are text, not codes).
pub const MAX_ENUM_VALUE_CHARS: usize = 100;

/// A drafted schema with what it was learned from and remarks for the admin.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub schema: Value,
    pub records_read: usize,
    pub notes: Vec<String>,
}

/// Infers a schema that every one of `records` satisfies. The caller picks the records
/// (an endpoint's most recent ones, up to 1,000); all of them are read.
pub fn draft(records: &[Value]) -> Draft {
    if records.is_empty() {
        return Draft {
            schema: json!({ "$schema": DIALECT }),
            records_read: 0,
            notes: vec!["no records to learn from: the draft accepts anything".to_owned()],
        };
    }
    let mut root = Shape::default();
    for record in records {
        root.observe(record, 0);
    }
    let mut notes = Notes::default();
    notes.general(format!(
        "learned from {} record{}",
        records.len(),
        if records.len() == 1 { "" } else { "s" }
    ));
    if root.has_objects() {
        notes.general(
            "objects accept keys not listed here (no additionalProperties: false), so \
             applications may add optional fields without breaking the contract"
                .to_owned(),
        );
    }
    let mut schema = serde_json::Map::new();
    schema.insert("$schema".to_owned(), Value::String(DIALECT.to_owned()));
    schema.extend(render::schema(&root, &mut String::new(), &mut notes));
    Draft {
        schema: Value::Object(schema),
        records_read: records.len(),
        notes: notes.into_vec(),
    }
}

#[cfg(test)]
mod tests;
