//! The sentences of every known action, and the ids a page gathers.

use serde_json::json;

use super::*;

/// The sentence as text, things in brackets with their link id.
fn told(action: &str, target_id: Option<i64>, detail: Value, known: &Known) -> String {
    let e = Entry {
        actor: "ana",
        action,
        target_type: "token",
        target_id,
        detail: &detail,
    };
    let mut wanted = Wanted::default();
    e.wanted(&mut wanted);
    e.tell(known)
        .into_iter()
        .map(|p| match p {
            Part::Words(w) => w,
            Part::Raw(r) => format!("`{r}`"),
            Part::Thing {
                name, id: Some(id), ..
            } => format!("[{name}#{id}]"),
            Part::Thing { name, id: None, .. } => format!("[{name}]"),
        })
        .collect()
}

fn known() -> Known {
    let mut k = Known::default();
    k.tokens.insert(6, "shop-app".into());
    k.tokens.insert(7, "erp-app".into());
    k.endpoints.insert(1, "orders".into());
    k.users.insert(2, "bob".into());
    k
}

/// (action, target id, detail, sentence): every action Portico writes, and one it does not know.
#[rustfmt::skip]
const SENTENCES: &[(&str, Option<i64>, &str, &str)] = &[
    ("token.bulk.disable", None, r#"{"ids": [6, 7]}"#, "ana disabled 2 tokens: [shop-app#6], [erp-app#7]"),
    ("token.bulk.delete", None, r#"{"ids": [6, 9], "names": ["shop-app", "old"]}"#, "ana deleted 2 tokens: [shop-app#6], [old]"),
    ("token.bulk.enable", None, r#"{"ids": [9]}"#, "ana enabled 1 token: [#9]"),
    ("token.bulk.activate", None, r#"{"ids": [6]}"#, "ana activated 1 token: [shop-app#6]"),
    ("token.bulk.deactivate", None, r#"{"ids": [6]}"#, "ana deactivated 1 token: [shop-app#6]"),
    ("endpoint.create", Some(1), r#"{"slug": "orders"}"#, "ana created endpoint [orders#1]"),
    ("endpoint.delete", Some(3), r#"{"slug": "gone"}"#, "ana deleted endpoint [gone]"),
    ("endpoint.update", Some(1), r#"{"enabled": false, "name": null}"#, "ana disabled endpoint [orders#1]"),
    ("endpoint.update", Some(1), r#"{"name": "Orders", "enabled": true, "generated": []}"#, "ana changed endpoint [orders#1]: name → Orders, enabled → on"),
    ("endpoint.update", Some(1), r#"{"name": null}"#, "ana saved endpoint [orders#1] without changes"),
    ("endpoint.primary_token.regenerate", Some(1), r#"{"method": "POST", "hint": "abcd…wxyz"}"#, "ana regenerated the POST primary token of [orders#1]"),
    ("endpoint.schema.put", Some(1), r#"{"version": 2, "mode": "enforce"}"#, "ana put schema version 2 (enforce) in force on endpoint [orders#1]"),
    ("endpoint.schema.delete", Some(1), r#"{"version": 2}"#, "ana took the schema out of force on endpoint [orders#1]"),
    ("token.create", Some(6), r#"{"name": "shop-app"}"#, "ana created token [shop-app#6]"),
    ("token.update", Some(6), r#"{"description": "x", "expires_at": "2026-12-24T10:00:00"}"#, "ana changed token [shop-app#6]: description changed, expiry → 2026-12-24 10:00 UTC"),
    ("token.update", Some(6), r#"{"enabled": true}"#, "ana enabled token [shop-app#6]"),
    ("token.delete", Some(8), r#"{"name": "old", "hint": "abcd…wxyz"}"#, "ana deleted token [old]"),
    ("token.regenerate", Some(6), r#"{"grace_seconds": 86400}"#, "ana regenerated token [shop-app#6], the old value working 1 d more"),
    ("token.regenerate", Some(6), r#"{"grace_seconds": 0}"#, "ana regenerated token [shop-app#6]"),
    ("token.renew", Some(6), r#"{"expires_at": "2027-01-01T00:00:00"}"#, "ana renewed token [shop-app#6] until 2027-01-01 00:00 UTC"),
    ("token.deactivate", Some(8), r#"{"expires_at": null}"#, "ana deactivated token [#8]"),
    ("token.activate", Some(6), r#"{"expires_at": null}"#, "ana activated token [shop-app#6]"),
    ("mapping.update", Some(6), r#"{"endpoint_id": 1, "method": "POST", "enabled": false}"#, "ana switched off the mapping [shop-app#6] → [orders#1] (POST)"),
    ("mapping.update", Some(6), r#"{"endpoint_id": 1, "method": "POST", "enabled": true}"#, "ana switched on the mapping [shop-app#6] → [orders#1] (POST)"),
    ("mapping.create", Some(6), r#"{"endpoint_id": 1, "method": "GET", "enabled": true}"#, "ana mapped [shop-app#6] → [orders#1] (GET)"),
    ("mapping.create", Some(6), r#"{"endpoint_id": 1, "method": "GET", "enabled": false}"#, "ana mapped [shop-app#6] → [orders#1] (GET), switched off"),
    ("mapping.delete", Some(8), r#"{"endpoint_id": 4, "method": "GET", "token": "old", "endpoint": "stock"}"#, "ana removed the mapping [old] → [stock] (GET)"),
    ("user.create", Some(2), r#"{"username": "bob", "role": "analyst"}"#, "ana added user [bob#2] as an analyst"),
    ("user.update", Some(2), r#"{"role": "admin", "password_changed": true}"#, "ana made user [bob#2] an admin and set a new password"),
    ("user.update", Some(2), r#"{"role": null, "password_changed": true}"#, "ana set a new password for user [bob#2]"),
    ("user.delete", Some(5), r#"{"username": "carl"}"#, "ana removed user [carl]"),
    ("api_key.create", Some(1), r#"{"name": "ci", "hint": "abcd…wxyz"}"#, "ana created API key [ci]"),
    ("api_key.delete", Some(1), r#"{}"#, "ana revoked API key [#1]"),
    ("alert_target.create", Some(4), r#"{"name": "pager", "url": "https://h.example/in", "events": ["token_expired"], "enabled": false}"#, "ana added alert target [pager] (https://h.example/in) for token_expired, disabled"),
    ("alert_target.update", Some(4), r#"{"target": "pager", "url": "https://h.example/v2"}"#, "ana changed alert target [pager]: address → https://h.example/v2"),
    ("alert_target.delete", Some(4), r#"{"name": "pager"}"#, "ana removed alert target [pager]"),
    ("alert_target.secret.rotate", Some(4), r#"{"name": "pager"}"#, "ana rotated the signing secret of alert target [pager]"),
    ("settings.token_policy", None, r#"{"default_expiry_days": 90, "max_lifetime_days": null}"#, "ana set the token lifetime policy: default expiry 90 days, maximum lifetime none"),
    ("token.explode", Some(3), r#"{}"#, "ana `token.explode` (token #3)"),
];

#[test]
fn every_known_action_is_a_sentence() {
    let k = known();
    for (action, id, detail, want) in SENTENCES {
        let detail: Value = serde_json::from_str(detail).unwrap();
        assert_eq!(told(action, *id, detail, &k), *want, "{action}");
    }
    for action in Action::ALL {
        assert!(
            SENTENCES.iter().any(|(a, ..)| a == &action.as_str()),
            "{action} has no sentence here"
        );
    }
}

#[test]
fn a_page_gathers_the_ids_it_names_and_lists_at_most_ten() {
    let ids: Vec<i64> = (1..=25).collect();
    let detail = json!({"ids": ids});
    let e = Entry {
        actor: "a",
        action: "token.bulk.disable",
        target_type: "token",
        target_id: None,
        detail: &detail,
    };
    let mut wanted = Wanted::default();
    e.wanted(&mut wanted);
    assert_eq!(wanted.tokens.len(), LISTED);
    assert!(
        told("token.bulk.disable", None, detail, &Known::default()).ends_with("[#10] and 15 more")
    );
    let detail = json!({"endpoint_id": 4, "method": "GET"});
    let e = Entry {
        actor: "a",
        action: "mapping.delete",
        target_type: "mapping",
        target_id: Some(8),
        detail: &detail,
    };
    let mut wanted = Wanted::default();
    e.wanted(&mut wanted);
    assert_eq!((wanted.tokens.len(), wanted.endpoints.len()), (1, 1));
}
