//! Sentences of alert target changes: "ana added alert target pager
//! (https://hooks.example.com/portico) for mapping_silent, token_expired".

use serde_json::Value;

use super::{changes, Action, Kind, Lookup, Say};

/// The settings an alert target update may record, with their labels.
const FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("url", "address"),
    ("events", "events"),
    ("enabled", "enabled"),
];

impl<L: Lookup> Say<'_, L> {
    pub(super) fn alert_target(&mut self, action: Action) {
        match action {
            Action::AlertTargetCreate => {
                self.words("added alert target ");
                self.target(Kind::AlertTarget, Some("name"));
                let url = self.text("url").unwrap_or("?").to_owned();
                let events = self.events();
                self.words(&format!(" ({url}) for {events}"));
                if self.e.detail.get("enabled") == Some(&Value::Bool(false)) {
                    self.words(", disabled");
                }
            }
            Action::AlertTargetDelete => {
                self.words("removed alert target ");
                self.target(Kind::AlertTarget, Some("name"));
            }
            Action::AlertTargetRotate => {
                self.words("rotated the signing secret of alert target ");
                self.target(Kind::AlertTarget, Some("name"));
            }
            _ => {
                let changed = changes(self.e.detail, FIELDS);
                self.words("changed alert target ");
                self.target(Kind::AlertTarget, Some("target"));
                match changed.is_empty() {
                    true => self.words(" without changes"),
                    false => self.words(&format!(": {}", changed.join(", "))),
                }
            }
        }
    }

    fn events(&self) -> String {
        let listed: Vec<&str> = self
            .e
            .detail
            .get("events")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match listed.is_empty() {
            true => "no events".to_owned(),
            false => listed.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Entry, Known, Part};

    fn told(action: &str, detail: serde_json::Value) -> String {
        let e = Entry {
            actor: "ana",
            action,
            target_type: "alert_target",
            target_id: Some(4),
            detail: &detail,
        };
        e.tell(&Known::default())
            .into_iter()
            .map(|p| match p {
                Part::Words(w) | Part::Raw(w) => w,
                Part::Thing { name, .. } => name,
            })
            .collect()
    }

    #[test]
    fn alert_target_changes_read_as_sentences() {
        assert_eq!(
            told(
                "alert_target.create",
                json!({"name": "pager", "url": "https://h.example/in", "events": ["mapping_silent", "token_expired"], "enabled": true})
            ),
            "ana added alert target pager (https://h.example/in) for mapping_silent, token_expired"
        );
        assert_eq!(
            told(
                "alert_target.update",
                json!({"target": "pager", "enabled": false, "events": ["token_expired"]})
            ),
            "ana changed alert target pager: events → token_expired, enabled → off"
        );
        assert_eq!(
            told("alert_target.secret.rotate", json!({"name": "pager"})),
            "ana rotated the signing secret of alert target pager"
        );
        assert_eq!(
            told("alert_target.delete", json!({"name": "pager"})),
            "ana removed alert target pager"
        );
    }
}
