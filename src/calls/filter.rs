//! The viewer's query: filters, page size, cursor and export format, parsed once
//! for the API, the UI and exports alike.

use chrono::NaiveDateTime;
use utoipa::IntoParams;

use crate::clock::parse_rfc3339;
use crate::domain::call::TokenKind;
use crate::error::{AppError, AppResult};
use crate::store::calls::CallFilter;

/// The most calls one page holds.
pub const MAX_LIMIT: i64 = 1000;
/// The most tokens one filter names.
pub const MAX_TOKENS: usize = 100;
/// HTTP methods a call may have been made with.
const METHODS: [&str; 7] = ["POST", "GET", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"];

/// Filters of the call list and export. `token` may be repeated.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FilterParams {
    /// Secondary token id; repeat for several (`token=1&token=2`).
    #[param(explode = true)]
    token: Option<Vec<i64>>,
    /// `primary`, `secondary`, `none` or `unknown`.
    token_kind: Option<String>,
    /// Endpoint id.
    endpoint: Option<i64>,
    /// `POST`, `GET` or `DELETE`.
    method: Option<String>,
    /// A status (`201`) or a class (`4xx`).
    status: Option<String>,
    /// RFC 3339; calls at or after.
    since: Option<String>,
    /// RFC 3339; calls before.
    until: Option<String>,
    /// Case-insensitive text in the record payload.
    q: Option<String>,
}

/// A page of the call list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// 1 to 1000, default 100.
    limit: Option<i64>,
    /// The `next` of the previous page.
    cursor: Option<i64>,
}

/// How a query was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// The API: times in RFC 3339, every parameter as sent.
    Api,
    /// The UI's filter form: values trimmed, empty fields ignored, times as a
    /// `datetime-local` (UTC) or RFC 3339.
    Form,
}

/// The viewer's query, parsed and validated.
#[derive(Debug, Clone)]
pub struct CallQuery {
    pub filter: CallFilter,
    pub limit: i64,
    pub cursor: Option<i64>,
    pub format: Option<String>,
}

impl Default for CallQuery {
    fn default() -> Self {
        Self {
            filter: CallFilter::default(),
            limit: 100,
            cursor: None,
            format: None,
        }
    }
}

/// Parses a query string (`token` may repeat).
pub fn parse(query: &str, syntax: Syntax) -> AppResult<CallQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| AppError::validation("query", "the query string is malformed"))?;
    parse_pairs(pairs, syntax)
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

/// A `datetime-local` value (taken as UTC) or RFC 3339.
pub fn form_time(v: &str) -> Result<NaiveDateTime, String> {
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(t);
        }
    }
    parse_rfc3339(v).map_err(|_| "must be a date and time like 2026-11-24T10:00".to_owned())
}

/// Parses the viewer's parameters from query pairs.
pub fn parse_pairs(pairs: Vec<(String, String)>, syntax: Syntax) -> AppResult<CallQuery> {
    let mut p = CallQuery::default();
    for (k, v) in pairs {
        let v = match syntax {
            Syntax::Api => v,
            Syntax::Form => v.trim().to_owned(),
        };
        if syntax == Syntax::Form && v.is_empty() {
            continue;
        }
        apply(&mut p, &k, v, syntax)?;
    }
    if p.filter.token_ids.len() > MAX_TOKENS {
        return Err(AppError::validation("token", "at most 100 tokens"));
    }
    Ok(p)
}

fn apply(p: &mut CallQuery, key: &str, v: String, syntax: Syntax) -> AppResult<()> {
    let f = &mut p.filter;
    match key {
        "token" => f.token_ids.push(int("token", &v)?),
        "token_kind" => {
            f.token_kind = Some(
                v.parse::<TokenKind>()
                    .map_err(|e| AppError::validation("token_kind", e))?,
            )
        }
        "endpoint" => f.endpoint_id = Some(int("endpoint", &v)?),
        "method" => {
            let m = v.to_ascii_uppercase();
            if !METHODS.contains(&m.as_str()) {
                return Err(AppError::validation(
                    "method",
                    "must be an HTTP method such as POST, GET or DELETE",
                ));
            }
            f.method = Some(m);
        }
        "status" => f.status = Some(parse_status(&v)?),
        "conforms" => {
            f.conforms = match v.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                "" => None,
                _ => return Err(AppError::validation("conforms", "must be true or false")),
            }
        }
        "since" => f.since = Some(time("since", &v, syntax)?),
        "until" => f.until = Some(time("until", &v, syntax)?),
        "q" => {
            if v.chars().count() > 200 {
                return Err(AppError::validation("q", "must be at most 200 characters"));
            }
            if !v.is_empty() {
                f.q = Some(v);
            }
        }
        "limit" => {
            p.limit = int("limit", &v)?;
            if !(1..=MAX_LIMIT).contains(&p.limit) {
                return Err(AppError::validation("limit", "must be from 1 to 1000"));
            }
        }
        "cursor" => p.cursor = Some(int("cursor", &v)?),
        "format" => p.format = Some(v),
        _ => {}
    }
    Ok(())
}

/// The filters of `q` as a query string the API and the UI both read back (times
/// in RFC 3339), for links that keep a view: paging, export, live tail.
pub fn encode(q: &CallQuery) -> String {
    let f = &q.filter;
    let mut s = form_urlencoded::Serializer::new(String::new());
    for id in &f.token_ids {
        s.append_pair("token", &id.to_string());
    }
    if let Some(kind) = f.token_kind {
        s.append_pair("token_kind", kind.as_str());
    }
    if let Some(e) = f.endpoint_id {
        s.append_pair("endpoint", &e.to_string());
    }
    if let Some(m) = &f.method {
        s.append_pair("method", m);
    }
    if let Some(status) = f.status {
        s.append_pair("status", &status_text(status));
    }
    if let Some(t) = f.since {
        s.append_pair("since", &crate::clock::rfc3339(t));
    }
    if let Some(t) = f.until {
        s.append_pair("until", &crate::clock::rfc3339(t));
    }
    if let Some(text) = &f.q {
        s.append_pair("q", text);
    }
    if let Some(c) = f.conforms {
        s.append_pair("conforms", if c { "true" } else { "false" });
    }
    s.finish()
}

/// A status range as written: `201` or `4xx`.
pub fn status_text((lo, hi): (i32, i32)) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{}xx", lo / 100)
    }
}

/// A status (`201`) or a class (`4xx`) as an inclusive range.
fn parse_status(v: &str) -> AppResult<(i32, i32)> {
    let bad = || {
        AppError::validation(
            "status",
            "must be a status from 100 to 599 or a class like 4xx",
        )
    };
    if let Some(class) = v.strip_suffix("xx") {
        let c: i32 = class.parse().map_err(|_| bad())?;
        if !(1..=5).contains(&c) {
            return Err(bad());
        }
        return Ok((c * 100, c * 100 + 99));
    }
    let s: i32 = v.parse().map_err(|_| bad())?;
    if !(100..=599).contains(&s) {
        return Err(bad());
    }
    Ok((s, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_and_the_form_read_the_same_filters() {
        let api = parse(
            "token=3&token=4&status=4xx&since=2026-11-24T10:00:00Z",
            Syntax::Api,
        )
        .unwrap();
        let form = parse(
            "token=3&token=4&status=4xx&since=2026-11-24T10:00&q=+",
            Syntax::Form,
        )
        .unwrap();
        assert_eq!(api.filter.token_ids, form.filter.token_ids);
        assert_eq!(api.filter.status, Some((400, 499)));
        assert_eq!(api.filter.since, form.filter.since);
        assert_eq!(form.filter.q, None);
        assert!(parse("since=2026-11-24T10:00", Syntax::Api).is_err());
        assert!(parse("token_kind=other", Syntax::Api).is_err());
        assert!(parse("limit=1001", Syntax::Api).is_err());
    }

    #[test]
    fn an_encoded_filter_reads_back_the_same() {
        let q = parse(
            "token=3&status=4xx&since=2026-11-24T10:00&method=post&q=a%26b",
            Syntax::Form,
        )
        .unwrap();
        let again = parse(&encode(&q), Syntax::Api).unwrap();
        assert_eq!(again.filter.token_ids, vec![3]);
        assert_eq!(again.filter.status, Some((400, 499)));
        assert_eq!(again.filter.since, q.filter.since);
        assert_eq!(again.filter.method.as_deref(), Some("POST"));
        assert_eq!(again.filter.q.as_deref(), Some("a&b"));
    }
}
