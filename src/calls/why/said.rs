//! The rule that refused a call, in plain words: what held *then* (from the call's
//! own columns and the change that caused it), and, apart, whether it still holds now.

use chrono::NaiveDateTime;
use serde_json::Value;

use super::{moment, Now};
use crate::domain::call::TokenKind;
use crate::store::audit::AuditRow;
use crate::store::calls::Call;

/// The sentence for refused `call`; `cause` is the entry that set the refusing state.
pub(in crate::calls) fn why(call: &Call, now: &Now, cause: Option<(&AuditRow, &Value)>) -> String {
    let code = call.code.as_deref().unwrap_or_default();
    let (token, ep, method) = (
        token_name(call),
        format!("/e/{}", call.endpoint_slug),
        &call.method,
    );
    let gone = |what: &str| format!("; {what} has since been deleted");
    match code {
        "mapping_disabled" => {
            let still = match (&now.mapping, &now.token) {
                (Some(m), _) if !m.enabled => "; it is still off".to_owned(),
                (Some(_), _) => "; it has since been switched on".to_owned(),
                (None, Some(_)) if now.endpoint.is_some() => "; it has since been removed".to_owned(),
                (None, Some(_)) => gone("the endpoint"),
                (None, None) => gone("the token"),
            };
            format!("the {method} mapping of {token} onto {ep} was switched off{still}")
        }
        "token_not_mapped" if call.token_kind == TokenKind::Primary => {
            let m = call.token_method.map(|m| m.as_str()).unwrap_or("?");
            format!("the {m} primary token presented is valid only for its own endpoint and method, not for {method} on {ep}")
        }
        "token_not_mapped" if call.token_id.is_some() => {
            let still = match (&now.mapping, &now.token) {
                (Some(_), _) => "; it has since been mapped",
                (None, Some(_)) => "; it still is not",
                (None, None) => "; the token has since been deleted",
            };
            format!("{token} was not mapped onto {ep} for {method}{still}")
        }
        "token_disabled" => {
            let still = match &now.token {
                Some(t) if !t.enabled => "; it is still disabled".to_owned(),
                Some(_) => "; it has since been enabled".to_owned(),
                None => gone("it"),
            };
            format!("token {token} was disabled{still}")
        }
        "endpoint_disabled" => {
            let still = match &now.endpoint {
                Some(e) if !e.enabled => "; it is still disabled".to_owned(),
                Some(_) => "; it has since been enabled".to_owned(),
                None => gone("it"),
            };
            format!("endpoint {} was disabled{still}", call.endpoint_slug)
        }
        "token_expired" => expired(call, now, cause),
        "token_invalid" => invalid(call, now, cause),
        "ip_not_allowed" => ip(call, now, cause),
        "rate_limited" if call.token_kind == TokenKind::Secondary => {
            let limit = match now.token.as_ref().map(|t| t.rate_limit_per_minute) {
                Some(Some(n)) => format!("; its limit is now {n} per minute"),
                Some(None) => "; it now has no limit".to_owned(),
                None => gone("it"),
            };
            format!("token {token} had used up its requests per minute{limit}")
        }
        "rate_limited" => format!(
            "too many requests with an invalid token had come from the caller's address {}",
            call.remote_addr
        ),
        "schema_violation" => format!(
            "the body did not conform to the schema of {ep} (see its violations{})",
            pointers(call)
        ),
        "token_missing" => "no token was presented (neither an Authorization: Bearer header nor an access_token parameter)".to_owned(),
        "endpoint_not_found" => format!("there was no endpoint {ep}"),
        "payload_too_large" => format!("the body was larger than {ep} accepts"),
        "unsupported_media_type" => "the body was not sent as JSON".to_owned(),
        "invalid_json" | "invalid_body" => "the body was not valid JSON".to_owned(),
        "method_not_allowed" => format!("{ep} does not accept {method}"),
        other => format!("the request was refused ({other})"),
    }
}

fn token_name(call: &Call) -> String {
    match (&call.token_name, call.token_id) {
        (Some(n), _) => n.clone(),
        (None, Some(id)) => format!("#{id}"),
        (None, None) => "?".to_owned(),
    }
}

/// `2026-11-20 10:00 UTC`.
fn show(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn expired(call: &Call, now: &Now, cause: Option<(&AuditRow, &Value)>) -> String {
    let token = token_name(call);
    let set = cause
        .and_then(|(_, d)| d.get("expires_at")?.as_str())
        .and_then(moment);
    let current = now.token.as_ref().map(|t| t.expires_at);
    // The expiry then: as the causing change set it, else the current one if it had
    // already passed at the call (a later expiry now says nothing about then).
    let then = set.or(current.flatten().filter(|t| *t <= call.at));
    let mut s = match then {
        Some(t) => format!("token {token} expired at {}", show(t)),
        None => format!("token {token} had expired"),
    };
    match current {
        None => s.push_str("; it has since been deleted"),
        Some(None) => s.push_str("; it now has no expiry"),
        Some(Some(t)) if Some(t) != then => s.push_str(&format!("; it now expires at {}", show(t))),
        Some(Some(_)) => {}
    }
    s
}

fn invalid(call: &Call, now: &Now, cause: Option<(&AuditRow, &Value)>) -> String {
    if call.token_id.is_none() {
        return "the token matched nothing: unknown, malformed or deactivated".to_owned();
    }
    let token = token_name(call);
    let mut s = match cause.map(|(r, _)| r.action.as_str()) {
        Some("token.regenerate") => format!(
            "an old value of token {token} was presented after it was regenerated (and any grace period was over)"
        ),
        Some(_) => format!("token {token} was deactivated"),
        None => format!("the value presented for token {token} was deactivated or replaced"),
    };
    s.push_str(match &now.token {
        Some(t) if t.active => "; the token is active now",
        Some(_) => "; the token is deactivated now",
        None => "; the token has since been deleted",
    });
    s
}

fn ip(call: &Call, now: &Now, cause: Option<(&AuditRow, &Value)>) -> String {
    let addr = &call.remote_addr;
    let token = format!("token {}", token_name(call));
    let endpoint = format!("endpoint {}", call.endpoint_slug);
    if let Some((r, _)) = cause {
        let whose = match r.action.as_str() {
            "token.update" => token,
            _ => endpoint,
        };
        return format!("the caller's address {addr} was not on the IP allowlist of {whose}");
    }
    let ip = addr.parse().ok();
    let excludes = |l: Option<&crate::domain::endpoint::IpAllowlist>| {
        l.is_some_and(|l| ip.is_none_or(|ip| !l.allows(ip)))
    };
    let mut whose = Vec::new();
    if excludes(now.token.as_ref().and_then(|t| t.ip_allowlist.as_ref())) {
        whose.push(token.as_str());
    }
    if excludes(now.endpoint.as_ref().and_then(|e| e.ip_allowlist.as_ref())) {
        whose.push(endpoint.as_str());
    }
    let said = match call.token_kind {
        TokenKind::Secondary => format!("{token} or of {endpoint}"),
        _ => endpoint.clone(),
    };
    let still = match whose.is_empty() {
        true => "neither allowlist excludes it now".to_owned(),
        false => format!(
            "now the allowlist of {} excludes it",
            whose.join(" and of ")
        ),
    };
    format!("the caller's address {addr} was not on the IP allowlist of {said}; {still}")
}

/// `: /qty, /sku`: where the body did not conform, as the call recorded it.
fn pointers(call: &Call) -> String {
    let listed: Vec<String> = call
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<Vec<Value>>(d).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            v.get("pointer")?
                .as_str()
                .map(|p| if p.is_empty() { "/" } else { p }.to_owned())
        })
        .collect();
    match listed.is_empty() {
        true => String::new(),
        false => format!(": {}", listed.join(", ")),
    }
}
