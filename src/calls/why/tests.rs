//! Which audit entries cause which refusals, and the sentences, without a database.

use chrono::NaiveDate;
use serde_json::json;

use super::*;

fn at(h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 20)
        .and_then(|d| d.and_hms_opt(h, 0, 0))
        .unwrap()
}

fn refused(code: &str) -> Call {
    Call {
        at: at(12),
        endpoint_id: Some(1),
        endpoint_slug: "orders".into(),
        method: "POST".into(),
        status: 403,
        code: Some(code.into()),
        token_kind: TokenKind::Secondary,
        token_id: Some(6),
        token_name: Some("shop-app".into()),
        remote_addr: "10.1.2.3".into(),
        ..Call::default()
    }
}

fn entry(action: &str, target: Option<i64>, detail: Value) -> (AuditRow, Value) {
    let r = AuditRow {
        id: 9,
        at: at(11),
        actor: "admin".into(),
        action: action.into(),
        target_type: "token".into(),
        target_id: target,
        detail: detail.to_string(),
    };
    (r, detail)
}

fn bearing(call: &Call, action: &str, target: Option<i64>, detail: Value) -> Option<bool> {
    let (r, d) = entry(action, target, detail);
    bears(call, &r, &d)
}

#[test]
fn a_mapping_switched_off_causes_only_its_own_refusals() {
    let c = refused("mapping_disabled");
    let off = json!({"endpoint_id": 1, "method": "POST", "enabled": false});
    assert_eq!(bearing(&c, "mapping.update", Some(6), off), Some(true));
    let on = json!({"endpoint_id": 1, "method": "POST", "enabled": true});
    assert_eq!(bearing(&c, "mapping.update", Some(6), on), Some(false));
    let get = json!({"endpoint_id": 1, "method": "GET", "enabled": false});
    assert_eq!(bearing(&c, "mapping.update", Some(6), get), None);
    let other = json!({"endpoint_id": 1, "method": "POST", "enabled": false});
    assert_eq!(bearing(&c, "mapping.update", Some(7), other), None);
}

#[test]
fn tokens_disabled_in_bulk_and_schemas_observed_are_told_apart() {
    let c = refused("token_disabled");
    let bulk = json!({"ids": [5, 6], "names": ["a", "shop-app"]});
    assert_eq!(bearing(&c, "token.bulk.disable", None, bulk), Some(true));
    let others = json!({"ids": [5]});
    assert_eq!(bearing(&c, "token.bulk.disable", None, others), None);
    let renamed = json!({"name": "x", "enabled": null});
    assert_eq!(bearing(&c, "token.update", Some(6), renamed), None);
    let c = refused("schema_violation");
    let observe = json!({"version": 2, "mode": "observe"});
    assert_eq!(
        bearing(&c, "endpoint.schema.put", Some(1), observe),
        Some(false)
    );
}

#[test]
fn an_expiry_set_after_the_call_did_not_cause_it() {
    let c = refused("token_expired");
    let before = json!({"expires_at": "2026-11-20T10:00:00"});
    assert_eq!(
        bearing(&c, "token.update", Some(6), before.clone()),
        Some(true)
    );
    let after = json!({"expires_at": "2026-11-21T10:00:00"});
    assert_eq!(bearing(&c, "token.update", Some(6), after), Some(false));
    let (r, d) = entry("token.update", Some(6), before);
    let said = said::why(&c, &Now::default(), Some((&r, &d)));
    assert_eq!(
        said,
        "token shop-app expired at 2026-11-20 10:00 UTC; it has since been deleted"
    );
}

#[test]
fn an_unknown_token_and_an_address_are_named() {
    let mut c = refused("token_invalid");
    (c.token_id, c.token_name, c.token_kind) = (None, None, TokenKind::Unknown);
    assert_eq!(
        said::why(&c, &Now::default(), None),
        "the token matched nothing: unknown, malformed or deactivated"
    );
    let c = refused("ip_not_allowed");
    let narrowed = json!({"ip_allowlist": ["192.168.0.0/16"]});
    assert_eq!(
        bearing(&c, "token.update", Some(6), narrowed.clone()),
        Some(true)
    );
    let (r, d) = entry("endpoint.update", Some(1), narrowed);
    assert_eq!(
        said::why(&c, &Now::default(), Some((&r, &d))),
        "the caller's address 10.1.2.3 was not on the IP allowlist of endpoint orders"
    );
}
