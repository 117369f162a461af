//! What was seen at one place in the records: counts per JSON type and, for strings,
//! objects and arrays, what is needed to describe them. One pass, bounded memory.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Number, Value};

use super::format::Formats;
use super::{MAX_DEPTH, MAX_ENUM_VALUES, MAX_ENUM_VALUE_CHARS, MAX_PROPERTIES};

/// Everything observed at one location (the root, a property, the items of an array).
#[derive(Debug, Default)]
pub(super) struct Shape {
    pub nulls: u64,
    pub booleans: u64,
    pub integers: u64,
    /// Numbers written with a fraction or an exponent.
    pub floats: u64,
    pub strings: Option<Box<Strings>>,
    pub objects: Option<Box<Objects>>,
    pub arrays: Option<Box<Arrays>>,
    /// Objects or arrays met at [`MAX_DEPTH`], not looked into.
    pub too_deep: u64,
}

#[derive(Debug)]
pub(super) struct Strings {
    pub count: u64,
    /// Formats every string so far matched.
    pub formats: Formats,
    /// Occurrences per distinct value; `None` once the field cannot be an enum.
    pub values: Option<HashMap<String, u64>>,
}

#[derive(Debug, Default)]
pub(super) struct Objects {
    pub count: u64,
    pub properties: BTreeMap<String, Property>,
    /// Occurrences of keys not tracked because [`MAX_PROPERTIES`] were already.
    pub untracked_keys: u64,
}

#[derive(Debug, Default)]
pub(super) struct Property {
    /// Objects that had this key (with any value, null included).
    pub present: u64,
    pub shape: Shape,
}

#[derive(Debug, Default)]
pub(super) struct Arrays {
    pub count: u64,
    /// Every element of every array seen here.
    pub items: Shape,
}

impl Shape {
    /// Adds one value seen at this location, `depth` containers below the root.
    pub fn observe(&mut self, value: &Value, depth: usize) {
        match value {
            Value::Null => self.nulls += 1,
            Value::Bool(_) => self.booleans += 1,
            Value::Number(n) if is_integer(n) => self.integers += 1,
            Value::Number(_) => self.floats += 1,
            Value::String(s) => self
                .strings
                .get_or_insert_with(|| Box::new(Strings::new()))
                .observe(s),
            Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => self.too_deep += 1,
            Value::Array(items) => self
                .arrays
                .get_or_insert_with(Box::default)
                .observe(items, depth),
            Value::Object(map) => self
                .objects
                .get_or_insert_with(Box::default)
                .observe(map, depth),
        }
    }

    /// How many values were seen here, of any type.
    pub fn count(&self) -> u64 {
        self.nulls
            + self.booleans
            + self.integers
            + self.floats
            + self.strings.as_ref().map_or(0, |s| s.count)
            + self.objects.as_ref().map_or(0, |o| o.count)
            + self.arrays.as_ref().map_or(0, |a| a.count)
            + self.too_deep
    }

    /// Whether any object was seen here or below.
    pub fn has_objects(&self) -> bool {
        self.objects.is_some() || self.arrays.as_ref().is_some_and(|a| a.items.has_objects())
    }
}

/// An integer is a number written without fraction or exponent; `2.0` is a number, so
/// a field that carries it is drafted as one (later values like `2.5` stay valid).
fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64()
}

impl Strings {
    fn new() -> Self {
        Self {
            count: 0,
            formats: Formats::all(),
            values: Some(HashMap::new()),
        }
    }

    fn observe(&mut self, s: &str) {
        self.count += 1;
        self.formats.keep_matching(s);
        let Some(values) = &mut self.values else {
            return;
        };
        if let Some(n) = values.get_mut(s) {
            *n += 1;
        } else if values.len() >= MAX_ENUM_VALUES || s.chars().count() > MAX_ENUM_VALUE_CHARS {
            // Too many distinct values or text too long to be a code: stop tracking.
            self.values = None;
        } else {
            values.insert(s.to_owned(), 1);
        }
    }
}

impl Objects {
    fn observe(&mut self, map: &Map<String, Value>, depth: usize) {
        self.count += 1;
        for (key, value) in map {
            if !self.properties.contains_key(key.as_str()) {
                if self.properties.len() >= MAX_PROPERTIES {
                    self.untracked_keys += 1;
                    continue;
                }
                self.properties.insert(key.clone(), Property::default());
            }
            let Some(property) = self.properties.get_mut(key.as_str()) else {
                continue;
            };
            property.present += 1;
            property.shape.observe(value, depth + 1);
        }
    }
}

impl Arrays {
    fn observe(&mut self, items: &[Value], depth: usize) {
        self.count += 1;
        for item in items {
            self.items.observe(item, depth + 1);
        }
    }
}
