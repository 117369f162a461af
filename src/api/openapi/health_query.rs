//! The choices of the health page's query, stated in the document.

use serde_json::{json, Value};

/// What `str::trim` takes off (Unicode White_Space): the handler trims each
/// choice, and an empty one is no choice at all.
const SPACE: &str = "[\\u0009-\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*";

/// The rules of the health page's query parameter `name`: one of its choices, or
/// nothing (empty or blank).
pub(super) fn parameter(name: &str) -> Option<Value> {
    let choices: &[&str] = match name {
        "state" => &["silent", "failing", "expiring"],
        "sort" => &["worst", "token", "endpoint", "last_call"],
        "dir" => &["asc", "desc"],
        _ => return None,
    };
    Some(json!({"pattern": format!("^{SPACE}({})?{SPACE}$", choices.join("|"))}))
}
