//! The audit log's query: filters, page size and cursor, parsed once for the API
//! (`/api/v1/audit`) and the UI's filter form (`/ui/audit`) alike.

use chrono::NaiveDateTime;
use utoipa::IntoParams;

use crate::calls::filter::{form_time, Syntax};
use crate::clock::parse_rfc3339;
use crate::domain::audit::{Action, Target};
use crate::error::{AppError, AppResult, Code};
use crate::store::audit::AuditFilter;

/// The most entries one page holds.
pub const MAX_LIMIT: i64 = 1000;
/// The longest actor name a filter takes (usernames are at most 64 characters).
const MAX_ACTOR: usize = 64;

/// Filters and paging of `GET /api/v1/audit`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditParams {
    /// The acting user's username, exactly.
    actor: Option<String>,
    /// One action, e.g. `token.bulk.disable`: `endpoint.create`, `endpoint.update`,
    /// `endpoint.delete`, `endpoint.primary_token.regenerate`, `token.create`,
    /// `token.update`, `token.delete`, `token.regenerate`, `token.deactivate`,
    /// `token.activate`, `token.renew`, `token.bulk.enable`, `token.bulk.disable`,
    /// `token.bulk.deactivate`, `token.bulk.activate`, `token.bulk.delete`,
    /// `mapping.create`, `mapping.update`, `mapping.delete`, `user.create`,
    /// `user.update`, `user.delete`, `api_key.create`, `api_key.delete`.
    action: Option<String>,
    /// `endpoint`, `token`, `mapping`, `user` or `api_key`.
    target_type: Option<String>,
    /// RFC 3339; entries at or after.
    from: Option<String>,
    /// RFC 3339; entries before.
    to: Option<String>,
    /// 1 to 1000, default 100.
    limit: Option<i64>,
    /// The `next` of the previous page.
    cursor: Option<i64>,
}

/// The audit log's query, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    pub limit: i64,
    /// Entries older than this id (the previous page's `next`).
    pub before: Option<i64>,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            filter: AuditFilter::default(),
            limit: 100,
            before: None,
        }
    }
}

/// Parses a query string: each parameter at most once, every value checked.
pub fn parse(query: &str, syntax: Syntax) -> AppResult<AuditQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| AppError::refused(Code::InvalidParameter, "the query string is malformed"))?;
    let mut q = AuditQuery::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in pairs {
        let value = match syntax {
            Syntax::Api => value,
            Syntax::Form => value.trim().to_owned(),
        };
        if syntax == Syntax::Form && value.is_empty() {
            continue;
        }
        if seen.contains(&key) {
            return Err(AppError::validation(key, "may be given only once"));
        }
        apply(&mut q, &key, &value, syntax)?;
        seen.push(key);
    }
    if let (Some(from), Some(to)) = (q.filter.from, q.filter.to) {
        if to <= from {
            return Err(AppError::validation("to", "must be later than from"));
        }
    }
    Ok(q)
}

fn apply(q: &mut AuditQuery, key: &str, v: &str, syntax: Syntax) -> AppResult<()> {
    let f = &mut q.filter;
    match key {
        "actor" => {
            if v.is_empty() || v.chars().count() > MAX_ACTOR {
                return Err(AppError::validation(
                    "actor",
                    "must be a username (1 to 64 characters)",
                ));
            }
            f.actor = Some(v.to_owned());
        }
        "action" => {
            f.action = Some(v.parse::<Action>().map_err(|_| {
                AppError::validation(
                    "action",
                    "is not a known audit action, e.g. token.bulk.disable",
                )
            })?)
        }
        "target_type" => {
            f.target = Some(v.parse::<Target>().map_err(|_| {
                let known: Vec<&str> = Target::ALL.iter().map(|t| t.as_str()).collect();
                AppError::validation(
                    "target_type",
                    format!("must be one of {}", known.join(", ")),
                )
            })?)
        }
        "from" => f.from = Some(time("from", v, syntax)?),
        "to" => f.to = Some(time("to", v, syntax)?),
        "limit" => {
            q.limit = int("limit", v)?;
            if !(1..=MAX_LIMIT).contains(&q.limit) {
                return Err(AppError::validation("limit", "must be from 1 to 1000"));
            }
        }
        // The API's cursor; the UI's pager says `before`.
        "cursor" | "before" => q.before = Some(int(key, v)?),
        _ => {}
    }
    Ok(())
}

fn int(field: &str, v: &str) -> AppResult<i64> {
    v.parse::<i64>()
        .map_err(|_| AppError::validation(field, "must be an integer"))
}

fn time(field: &str, v: &str, syntax: Syntax) -> AppResult<NaiveDateTime> {
    match syntax {
        Syntax::Api => parse_rfc3339(v),
        Syntax::Form => form_time(v),
    }
    .map_err(|e| AppError::validation(field, e))
}

/// The filters as a query string the UI's form reads back (times as UTC
/// `datetime-local` values), for links that keep a view: the pager.
pub fn encode(f: &AuditFilter) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if let Some(actor) = &f.actor {
        s.append_pair("actor", actor);
    }
    if let Some(action) = f.action {
        s.append_pair("action", action.as_str());
    }
    if let Some(target) = f.target {
        s.append_pair("target_type", target.as_str());
    }
    if let Some(t) = f.from {
        s.append_pair("from", &form_value(t));
    }
    if let Some(t) = f.to {
        s.append_pair("to", &form_value(t));
    }
    s.finish()
}

/// A time as a `datetime-local` value: minutes, seconds only when there are some.
pub fn form_value(t: NaiveDateTime) -> String {
    use chrono::Timelike;
    let fmt = if t.second() == 0 && t.nanosecond() == 0 {
        "%Y-%m-%dT%H:%M"
    } else {
        "%Y-%m-%dT%H:%M:%S"
    };
    t.format(fmt).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_encode_back() {
        let q = parse(
            "actor=ana&action=token.bulk.disable&target_type=token&from=2026-11-01T00:00&to=2026-11-02T10:30:15",
            Syntax::Form,
        )
        .unwrap();
        assert_eq!(q.filter.actor.as_deref(), Some("ana"));
        assert_eq!(q.filter.action, Some(Action::TokenBulkDisable));
        assert_eq!(q.filter.target, Some(Target::Token));
        let again = parse(&encode(&q.filter), Syntax::Form).unwrap();
        assert_eq!(again.filter, q.filter);
        let empty = parse("actor=&action=&from=", Syntax::Form).unwrap();
        assert_eq!(empty, AuditQuery::default());
    }

    #[test]
    fn bad_values_name_their_field() {
        for (query, syntax, field) in [
            ("action=token.explode", Syntax::Api, "action"),
            ("target_type=planet", Syntax::Api, "target_type"),
            ("from=yesterday", Syntax::Api, "from"),
            ("from=2026-11-01T00:00", Syntax::Api, "from"),
            (
                "to=2026-11-01T00:00:00Z&from=2026-11-02T00:00:00Z",
                Syntax::Api,
                "to",
            ),
            ("actor=", Syntax::Api, "actor"),
            ("actor=a&actor=b", Syntax::Api, "actor"),
            ("limit=0", Syntax::Form, "limit"),
            ("before=x", Syntax::Form, "before"),
        ] {
            match parse(query, syntax) {
                Err(AppError::Validation(f, _)) => assert_eq!(f, field, "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }
}
