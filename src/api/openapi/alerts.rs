//! The rules of the alert target requests, stated in the document.

use serde_json::json;

use crate::domain::alert::MAX_URL;
use crate::domain::event::EventKind;

/// An alert target's name (trimmed, then 1 to 200 characters), address (at most
/// 2048 characters, `http://` or `https://`; that it parses as a URL with a host
/// and no credentials or fragment is beyond a pattern) and at least one event.
pub(super) fn target_properties() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let name = json!({
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$",
    });
    let url = json!({
        "minLength": 1,
        "maxLength": MAX_URL,
        "pattern": "^[\\u0000-\\u0020\\s]*[Hh][Tt][Tt][Pp][Ss]?://",
    });
    let kinds: Vec<&str> = EventKind::subscribable().map(|k| k.as_str()).collect();
    let events = json!({"minItems": 1, "items": {"enum": kinds}});
    ["CreateAlertTarget", "UpdateAlertTarget"]
        .into_iter()
        .flat_map(|s| {
            [
                (s, "name", name.clone()),
                (s, "url", url.clone()),
                (s, "events", events.clone()),
            ]
        })
        .collect()
}
