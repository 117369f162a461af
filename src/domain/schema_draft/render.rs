//! Turns what was observed into schema keywords, and says why in notes.
//!
//! Type-specific keywords (`properties`, `items`, `format`) only constrain values of
//! their type, so a place that held several types gets one flat schema with a type
//! list; `anyOf` is needed only when an enum of strings meets other types.

use serde_json::{Map, Value};

use super::observe::{Arrays, Objects, Shape, Strings};
use super::{MAX_DEPTH, MAX_PROPERTIES, MIN_ENUM_OBSERVATIONS};

/// Remarks beyond this many are summed up in one line.
const MAX_NOTES: usize = 100;

/// Remarks for the admin: general ones first, then limits that hid structure, then
/// remarks about single fields.
#[derive(Debug, Default)]
pub(super) struct Notes {
    general: Vec<String>,
    limits: Vec<String>,
    fields: Vec<String>,
    dropped: usize,
}

impl Notes {
    pub fn general(&mut self, note: String) {
        self.general.push(note);
    }

    fn limit(&mut self, note: String) {
        self.limits.push(note);
    }

    fn field(&mut self, note: impl FnOnce() -> String) {
        if self.fields.len() < MAX_NOTES {
            self.fields.push(note());
        } else {
            self.dropped += 1;
        }
    }

    pub fn into_vec(self) -> Vec<String> {
        let mut specific = self.limits;
        specific.extend(self.fields);
        let dropped = self.dropped + specific.len().saturating_sub(MAX_NOTES);
        specific.truncate(MAX_NOTES);
        let mut all = self.general;
        all.extend(specific);
        if dropped > 0 {
            all.push(format!("… and {dropped} more remarks of the same kind"));
        }
        all
    }
}

/// How a note names the place at `path` (`a.b`, `lines[]`, empty for the root).
fn label(path: &str) -> String {
    if path.is_empty() {
        "the record itself".to_owned()
    } else {
        format!("field `{path}`")
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The schema keywords for one place; `path` is restored before returning.
pub(super) fn schema(shape: &Shape, path: &mut String, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    if shape.too_deep > 0 {
        notes.limit(format!(
            "{} is nested deeper than {MAX_DEPTH} levels: it is not described and accepts \
             any value",
            label(path)
        ));
        return out;
    }
    let mut types: Vec<(&str, u64)> = Vec::new();
    if let Some(objects) = &shape.objects {
        types.push(("object", objects.count));
        object_keywords(objects, path, notes, &mut out);
    }
    if let Some(arrays) = &shape.arrays {
        types.push(("array", arrays.count));
        array_keywords(arrays, path, notes, &mut out);
    }
    let mut enum_values = None;
    if let Some(strings) = &shape.strings {
        types.push(("string", strings.count));
        enum_values = string_keywords(strings, path, notes, &mut out);
    }
    number_type(shape, path, notes, &mut types);
    if shape.booleans > 0 {
        types.push(("boolean", shape.booleans));
    }
    if types.len() > 1 {
        notes.field(|| {
            let seen: Vec<String> = types.iter().map(|(t, n)| format!("{t} {n}")).collect();
            format!(
                "{} held several types ({}): each is allowed",
                label(path),
                seen.join(", ")
            )
        });
    }
    if shape.nulls > 0 {
        types.push(("null", shape.nulls));
        let total = shape.count();
        notes.field(|| {
            format!(
                "{} was null in {} of {total} values: nullable",
                label(path),
                shape.nulls
            )
        });
    }
    let types: Vec<&str> = types.into_iter().map(|(t, _)| t).collect();
    match enum_values {
        _ if types.is_empty() => {}
        Some(values) if types.iter().all(|t| matches!(*t, "string" | "null")) => {
            let mut values: Vec<Value> = values.into_iter().map(Value::String).collect();
            if shape.nulls > 0 {
                values.push(Value::Null);
            }
            out.insert("type".to_owned(), type_value(&types));
            out.insert("enum".to_owned(), Value::Array(values));
        }
        Some(values) => return any_of_enum(values, &types, out),
        None => {
            out.insert("type".to_owned(), type_value(&types));
        }
    }
    out
}

fn type_value(types: &[&str]) -> Value {
    match types {
        [one] => Value::String((*one).to_owned()),
        many => Value::Array(
            many.iter()
                .map(|t| Value::String((*t).to_owned()))
                .collect(),
        ),
    }
}

/// A string enum beside other types: the enum must not exclude them.
fn any_of_enum(
    values: Vec<String>,
    types: &[&str],
    mut rest: Map<String, Value>,
) -> Map<String, Value> {
    let others: Vec<&str> = types.iter().copied().filter(|t| *t != "string").collect();
    rest.insert("type".to_owned(), type_value(&others));
    let mut strings = Map::new();
    strings.insert("type".to_owned(), Value::String("string".to_owned()));
    strings.insert(
        "enum".to_owned(),
        Value::Array(values.into_iter().map(Value::String).collect()),
    );
    let mut out = Map::new();
    out.insert(
        "anyOf".to_owned(),
        Value::Array(vec![Value::Object(strings), Value::Object(rest)]),
    );
    out
}

fn number_type(shape: &Shape, path: &str, notes: &mut Notes, types: &mut Vec<(&str, u64)>) {
    match (shape.integers, shape.floats) {
        (0, 0) => {}
        (n, 0) => types.push(("integer", n)),
        (0, n) => types.push(("number", n)),
        (integers, floats) => {
            types.push(("number", integers + floats));
            notes.field(|| {
                format!(
                    "{} was an integer {} and a number with a fraction {}: typed as number",
                    label(path),
                    plural(integers, "time", "times"),
                    plural(floats, "time", "times"),
                )
            });
        }
    }
}

fn object_keywords(
    objects: &Objects,
    path: &mut String,
    notes: &mut Notes,
    out: &mut Map<String, Value>,
) {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (key, property) in &objects.properties {
        let parent = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        let schema = schema(&property.shape, path, notes);
        properties.insert(key.clone(), Value::Object(schema));
        if property.present == objects.count {
            required.push(Value::String(key.clone()));
        } else {
            notes.field(|| {
                format!(
                    "{} was present in {} of {} objects: optional",
                    label(path),
                    property.present,
                    objects.count
                )
            });
        }
        path.truncate(parent);
    }
    if objects.untracked_keys > 0 {
        notes.limit(format!(
            "objects at {} had more than {MAX_PROPERTIES} distinct keys: only the first \
             {MAX_PROPERTIES} are described; {} other keys are not, and stay allowed",
            if path.is_empty() {
                "the top level".to_owned()
            } else {
                format!("`{path}`")
            },
            plural(objects.untracked_keys, "occurrence of", "occurrences of"),
        ));
    }
    if !properties.is_empty() {
        out.insert("properties".to_owned(), Value::Object(properties));
    }
    if !required.is_empty() {
        out.insert("required".to_owned(), Value::Array(required));
    }
}

fn array_keywords(
    arrays: &Arrays,
    path: &mut String,
    notes: &mut Notes,
    out: &mut Map<String, Value>,
) {
    let parent = path.len();
    path.push_str("[]");
    let items = schema(&arrays.items, path, notes);
    path.truncate(parent);
    if arrays.items.count() == 0 {
        notes.field(|| {
            format!(
                "{} was always an empty array: its items are not constrained",
                label(path)
            )
        });
    } else if !items.is_empty() {
        out.insert("items".to_owned(), Value::Object(items));
    }
}

/// Sets `format` when every value had one; otherwise returns the enum's values when
/// the field looks like a small closed set.
fn string_keywords(
    strings: &Strings,
    path: &str,
    notes: &mut Notes,
    out: &mut Map<String, Value>,
) -> Option<Vec<String>> {
    if let Some(format) = strings.formats.detected() {
        out.insert("format".to_owned(), Value::String(format.to_owned()));
        notes.field(|| {
            format!(
                "{} always had format {format} ({}): format {format}",
                label(path),
                plural(strings.count, "value", "values")
            )
        });
        return None;
    }
    let values = strings.values.as_ref()?;
    if strings.count < MIN_ENUM_OBSERVATIONS || values.values().any(|n| *n < 2) {
        return None;
    }
    let mut values: Vec<String> = values.keys().cloned().collect();
    values.sort_unstable();
    notes.field(|| {
        format!(
            "{} took only {}, each seen at least twice in {} values: drafted \
             as an enum; add any other value you know is possible",
            label(path),
            plural(values.len() as u64, "distinct value", "distinct values"),
            strings.count
        )
    });
    Some(values)
}
