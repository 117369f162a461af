//! An audit entry told as a sentence: "ana disabled 2 tokens: shop-app, erp-app".
//!
//! A sentence names things (tokens, endpoints, users, API keys). Their names come
//! from the entry's detail where it recorded them, else from what exists now (the
//! ids of a whole page are gathered first, [`Entry::wanted`], and looked up in one
//! query per kind), else `#id`. A thing that still exists carries its id, for a link.
//! Details never hold a secret; a sentence shows names, methods, roles and settings.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{Action, Target};

/// What a sentence may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Endpoint,
    Token,
    User,
    ApiKey,
    AlertTarget,
}

/// A piece of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Words(String),
    /// A thing by name; `id` only while it still exists.
    Thing {
        kind: Kind,
        name: String,
        id: Option<i64>,
    },
    /// An action this version does not know (a newer one wrote it): as stored.
    Raw(String),
}

/// The ids a page of entries names, by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub endpoints: BTreeSet<i64>,
    pub tokens: BTreeSet<i64>,
    pub users: BTreeSet<i64>,
}

impl Wanted {
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.tokens.is_empty() && self.users.is_empty()
    }
}

/// The current names of the wanted things that still exist, by id.
#[derive(Debug, Default, Clone)]
pub struct Known {
    pub endpoints: HashMap<i64, String>,
    pub tokens: HashMap<i64, String>,
    pub users: HashMap<i64, String>,
}

/// How many things of a bulk action a sentence names before "and N more".
pub const LISTED: usize = 10;

/// One stored entry, as its sentence needs it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub actor: &'a str,
    /// As stored: an action this version may not know.
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<i64>,
    pub detail: &'a Value,
}

/// Where a sentence's things get their names: gathering ids, or naming them.
trait Lookup {
    fn current(&mut self, kind: Kind, id: i64) -> Option<String>;
}

impl Lookup for Wanted {
    fn current(&mut self, kind: Kind, id: i64) -> Option<String> {
        match kind {
            Kind::Endpoint => self.endpoints.insert(id),
            Kind::Token => self.tokens.insert(id),
            Kind::User => self.users.insert(id),
            Kind::ApiKey | Kind::AlertTarget => false,
        };
        None
    }
}

impl Lookup for &Known {
    fn current(&mut self, kind: Kind, id: i64) -> Option<String> {
        match kind {
            Kind::Endpoint => self.endpoints.get(&id).cloned(),
            Kind::Token => self.tokens.get(&id).cloned(),
            Kind::User => self.users.get(&id).cloned(),
            Kind::ApiKey | Kind::AlertTarget => None,
        }
    }
}

impl Entry<'_> {
    /// Adds the ids this entry's sentence names to `wanted`.
    pub fn wanted(&self, wanted: &mut Wanted) {
        self.tell_with(wanted);
    }

    /// The sentence, naming things as `known` (the lookup of [`Entry::wanted`]) says.
    pub fn tell(&self, known: &Known) -> Vec<Part> {
        self.tell_with(&mut &*known)
    }

    fn tell_with(&self, lookup: &mut impl Lookup) -> Vec<Part> {
        let mut s = Say {
            parts: Vec::new(),
            lookup,
            e: *self,
        };
        s.words(self.actor);
        s.words(" ");
        match self.action.parse::<Action>() {
            Ok(action) => match action.target() {
                Target::Endpoint => s.endpoint(action),
                Target::Token if action.as_str().starts_with("token.bulk.") => s.bulk(action),
                Target::Token => s.token(action),
                Target::Mapping => s.mapping(action),
                Target::User => s.user(action),
                Target::ApiKey => s.api_key(action),
                Target::AlertTarget => s.alert_target(action),
                Target::Settings => s.settings(),
            },
            Err(_) => s.unknown(),
        }
        s.parts
    }
}

/// A sentence being written.
struct Say<'l, L> {
    parts: Vec<Part>,
    lookup: &'l mut L,
    e: Entry<'l>,
}

impl<L: Lookup> Say<'_, L> {
    fn words(&mut self, w: &str) {
        match self.parts.last_mut() {
            Some(Part::Words(last)) => last.push_str(w),
            _ => self.parts.push(Part::Words(w.to_owned())),
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.e.detail.get(key).and_then(Value::as_str)
    }

    /// Thing `id` of `kind`, called `recorded` when the entry says so.
    fn thing(&mut self, kind: Kind, id: Option<i64>, recorded: Option<&str>) {
        let current = id.and_then(|id| self.lookup.current(kind, id));
        let exists = current.is_some();
        let name = match (recorded, current, id) {
            (Some(r), _, _) => r.to_owned(),
            (None, Some(c), _) => c,
            (None, None, Some(id)) => format!("#{id}"),
            (None, None, None) => "?".to_owned(),
        };
        self.parts.push(Part::Thing {
            kind,
            name,
            id: id.filter(|_| exists),
        });
    }

    /// The entry's target, by the detail's `key` where it recorded a name.
    fn target(&mut self, kind: Kind, key: Option<&str>) {
        let recorded = key.and_then(|k| self.text(k)).map(str::to_owned);
        self.thing(kind, self.e.target_id, recorded.as_deref());
    }

    fn endpoint(&mut self, action: Action) {
        match action {
            Action::EndpointCreate => self.words("created endpoint "),
            Action::EndpointDelete => self.words("deleted endpoint "),
            Action::PrimaryTokenRegenerate => {
                let method = self.text("method").unwrap_or("?").to_owned();
                self.words(&format!("regenerated the {method} primary token of "));
            }
            Action::EndpointSchemaPut => {
                let version = self.e.detail.get("version").and_then(Value::as_i64);
                let mode = self.text("mode").unwrap_or("?").to_owned();
                let version = version.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
                self.words(&format!(
                    "put schema version {version} ({mode}) in force on endpoint "
                ));
            }
            Action::EndpointSchemaDelete => self.words("took the schema out of force on endpoint "),
            Action::EndpointUpdate => {
                return self.changed(Kind::Endpoint, "endpoint", ENDPOINT_FIELDS)
            }
            _ => return self.generic(action, Kind::Endpoint),
        }
        // A slug recorded by create and delete; the others look the endpoint up.
        let key = matches!(action, Action::EndpointCreate | Action::EndpointDelete);
        self.target(Kind::Endpoint, key.then_some("slug"));
    }

    fn token(&mut self, action: Action) {
        let verb = match action {
            Action::TokenCreate => "created",
            Action::TokenDelete => "deleted",
            Action::TokenRegenerate => "regenerated",
            Action::TokenDeactivate => "deactivated",
            Action::TokenActivate => "activated",
            Action::TokenRenew => "renewed",
            Action::TokenUpdate => return self.changed(Kind::Token, "token", TOKEN_FIELDS),
            _ => return self.generic(action, Kind::Token),
        };
        self.words(&format!("{verb} token "));
        let key = matches!(action, Action::TokenCreate | Action::TokenDelete);
        self.target(Kind::Token, key.then_some("name"));
        let grace = self.e.detail.get("grace_seconds").and_then(Value::as_i64);
        match (action, grace, self.text("expires_at")) {
            (Action::TokenRegenerate, Some(g), _) if g > 0 => {
                self.words(&format!(", the old value working {} more", duration(g)));
            }
            (Action::TokenRenew, _, Some(until)) => {
                self.words(&format!(" until {} UTC", moment(until)));
            }
            _ => {}
        }
    }

    /// An action without a sentence of its own: its label and what it touched.
    fn generic(&mut self, action: Action, kind: Kind) {
        self.words(&format!("— {}: ", action.label()));
        self.target(kind, None);
    }

    /// An update: "disabled token X" when only the switch moved, else the changes.
    fn changed(&mut self, kind: Kind, noun: &str, fields: &[(&str, &str)]) {
        let changes = changes(self.e.detail, fields);
        let switched = self.e.detail.get("enabled").and_then(Value::as_bool);
        match (changes.len(), switched) {
            (1, Some(on)) => {
                self.words(&format!(
                    "{} {noun} ",
                    if on { "enabled" } else { "disabled" }
                ));
                self.target(kind, None);
            }
            (0, _) => {
                self.words(&format!("saved {noun} "));
                self.target(kind, None);
                self.words(" without changes");
            }
            _ => {
                self.words(&format!("changed {noun} "));
                self.target(kind, None);
                self.words(&format!(": {}", changes.join(", ")));
            }
        }
    }

    fn bulk(&mut self, action: Action) {
        let verb = action.as_str().rsplit('.').next().unwrap_or("changed");
        let verb = match verb {
            "enable" => "enabled",
            "disable" => "disabled",
            "activate" => "activated",
            "deactivate" => "deactivated",
            _ => "deleted",
        };
        let ids: Vec<i64> = list(self.e.detail, "ids", Value::as_i64);
        let names: Vec<String> = list(self.e.detail, "names", |v| v.as_str().map(str::to_owned));
        let n = ids.len();
        self.words(&format!(
            "{verb} {n} token{}",
            if n == 1 { "" } else { "s" }
        ));
        for (i, id) in ids.iter().take(LISTED).enumerate() {
            self.words(if i == 0 { ": " } else { ", " });
            let recorded = names.get(i).filter(|_| names.len() == n).cloned();
            self.thing(Kind::Token, Some(*id), recorded.as_deref());
        }
        if n > LISTED {
            self.words(&format!(" and {} more", n - LISTED));
        }
    }

    fn mapping(&mut self, action: Action) {
        let on = self.e.detail.get("enabled").and_then(Value::as_bool);
        match (action, on) {
            (Action::MappingCreate, _) => self.words("mapped "),
            (Action::MappingDelete, _) => self.words("removed the mapping "),
            (_, Some(false)) => self.words("switched off the mapping "),
            _ => self.words("switched on the mapping "),
        }
        self.target(Kind::Token, Some("token"));
        self.words(" → ");
        let endpoint = self.e.detail.get("endpoint_id").and_then(Value::as_i64);
        let slug = self.text("endpoint").map(str::to_owned);
        self.thing(Kind::Endpoint, endpoint, slug.as_deref());
        let method = self.text("method").unwrap_or("?").to_owned();
        self.words(&format!(" ({method})"));
        if action == Action::MappingCreate && on == Some(false) {
            self.words(", switched off");
        }
    }

    fn user(&mut self, action: Action) {
        let role = self.text("role").map(str::to_owned);
        match action {
            Action::UserCreate => {
                self.words("added user ");
                self.target(Kind::User, Some("username"));
                if let Some(role) = role {
                    self.words(&format!(" as an {role}"));
                }
            }
            Action::UserDelete => {
                self.words("removed user ");
                self.target(Kind::User, Some("username"));
            }
            _ => {
                let password = self.e.detail.get("password_changed") == Some(&Value::Bool(true));
                match (role, password) {
                    (Some(role), pw) => {
                        self.words("made user ");
                        self.target(Kind::User, None);
                        self.words(&format!(" an {role}"));
                        if pw {
                            self.words(" and set a new password");
                        }
                    }
                    (None, true) => {
                        self.words("set a new password for user ");
                        self.target(Kind::User, None);
                    }
                    (None, false) => {
                        self.words("saved user ");
                        self.target(Kind::User, None);
                        self.words(" without changes");
                    }
                }
            }
        }
    }

    fn api_key(&mut self, action: Action) {
        self.words(match action {
            Action::ApiKeyCreate => "created API key ",
            _ => "revoked API key ",
        });
        self.target(Kind::ApiKey, Some("name"));
    }

    /// "set the token lifetime policy: default expiry 90 days, maximum lifetime none".
    fn settings(&mut self) {
        let days = |key: &str| match self.e.detail.get(key).and_then(Value::as_i64) {
            Some(1) => "1 day".to_owned(),
            Some(n) => format!("{n} days"),
            None => "none".to_owned(),
        };
        let (default, max) = (days("default_expiry_days"), days("max_lifetime_days"));
        self.words(&format!(
            "set the token lifetime policy: default expiry {default}, maximum lifetime {max}"
        ));
    }

    fn unknown(&mut self) {
        self.parts.push(Part::Raw(self.e.action.to_owned()));
        if let Some(id) = self.e.target_id {
            self.words(&format!(" ({} #{id})", self.e.target_type));
        }
    }
}

/// The settings an endpoint update may record, with their labels.
const ENDPOINT_FIELDS: &[(&str, &str)] = &[
    ("slug", "slug"),
    ("name", "name"),
    ("auth", "authentication"),
    ("allow_delete", "deleting"),
    ("enabled", "enabled"),
    ("max_body_bytes", "body limit (bytes)"),
    ("retention_days", "retention (days)"),
    ("ip_allowlist", "IP allowlist"),
    ("generated", "new primary tokens"),
];

/// The settings a token update may record, with their labels.
const TOKEN_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("description", "description"),
    ("enabled", "enabled"),
    ("expires_at", "expiry"),
    ("rate_limit_per_minute", "rate limit (per minute)"),
    ("ip_allowlist", "IP allowlist"),
];

/// "name → Orders", "enabled → off", "description changed": the recorded changes.
fn changes(detail: &Value, fields: &[(&str, &str)]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(key, label)| {
            let shown = match detail.get(*key)? {
                Value::Null => return None,
                Value::Array(a) if a.is_empty() => return None,
                Value::Bool(b) => if *b { "on" } else { "off" }.to_owned(),
                Value::String(_) if *key == "description" => {
                    return Some(format!("{label} changed"))
                }
                Value::String(s) if *key == "expires_at" => format!("{} UTC", moment(s)),
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            Some(format!("{label} → {shown}"))
        })
        .collect()
}

fn list<T>(detail: &Value, key: &str, item: impl Fn(&Value) -> Option<T>) -> Vec<T> {
    detail
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(item).collect())
        .unwrap_or_default()
}

/// `2026-12-24T10:00:00` → `2026-12-24 10:00`.
fn moment(stored: &str) -> String {
    let t = stored.replacen('T', " ", 1);
    t.get(..16).map_or(t.clone(), str::to_owned)
}

/// Seconds for people: `24 h`, `90 min`, `45 s`.
fn duration(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

mod alert_target;
#[cfg(test)]
mod tests;
