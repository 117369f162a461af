//! Expiring tokens and the lifetime policy in the browser: the token list filtered
//! to expiring tokens renews one in place (announced, the filter kept, the row
//! gone), the Settings page refuses a default beyond the maximum and counts the
//! tokens beyond it, and narrowing a token's allowlist asks first with its impact;
//! axe-core at 1280 and 390 px on each state.

use serde_json::{json, Value};

use crate::common::Session;
use crate::driver::Browser;

/// Renews an expiring token in place from the list filtered to them; its id.
pub async fn renew_in_place(b: &mut Browser, api: &Session) -> i64 {
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let res = api
        .post("/tokens", json!({"name": "renew-me", "expires_at": soon}))
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    b.goto("/ui/tokens?expiry=soon&q=renew-me").await;
    b.wait_text("#token-count", "1–1 of 1 token").await;
    assert!(b.text("#token-table").await.contains("Expiring"));
    b.shot("tokens-expiring-renew").await;
    b.click(&format!("#renew-{id}")).await;
    b.wait_text("#inplace-flash", "renew-me renewed until")
        .await;
    b.wait_text("#token-results", "No token matches these choices.")
        .await;
    assert!(b.path().await.contains("expiry=soon"));
    b.shot("tokens-renewed-in-place").await;
    let renewed: Value = api
        .get(&format!("/tokens/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renewed["expiring"], false);
    id
}

/// The Settings page refuses a default beyond the maximum and links the tokens
/// beyond it; narrowing token `id`'s allowlist asks first with its impact.
pub async fn policy_page(b: &mut Browser, api: &Session, id: i64) {
    // The policy page refuses a default beyond the maximum, saying why; then counts
    // the tokens beyond the one saved (one that never expires).
    let res = api
        .post(
            "/tokens",
            json!({"name": "forever-app", "expires_at": null}),
        )
        .await;
    assert_eq!(res.status(), 201);
    b.goto("/ui/settings").await;
    b.shot("settings").await;
    b.fill("#default-expiry-days", "400").await;
    b.fill("#max-lifetime-days", "365").await;
    b.click("#save-policy").await;
    b.wait_text(".flash.error", "at most the maximum lifetime (365 days)")
        .await;
    b.shot("settings-refused").await;
    b.fill("#default-expiry-days", "90").await;
    b.fill("#max-lifetime-days", "365").await;
    b.click("#save-policy").await;
    b.wait_text(".flash", "Token lifetime policy saved").await;
    b.wait_text(
        "#beyond-max",
        "1 active token is beyond the maximum lifetime",
    )
    .await;
    b.shot("settings-saved").await;
    b.click("#beyond-max-link").await;
    b.wait_text("#token-count", "1–1 of 1 token").await;
    assert!(b.path().await.contains("expiry=beyond_max"));
    assert!(b.text("#token-table").await.contains("forever-app"));

    // Narrowing the token's allowlist asks first, with what it would have refused.
    b.goto(&format!("/ui/tokens/{id}")).await;
    b.fill("textarea[name=ip_allowlist]", "10.0.0.0/8").await;
    b.click("#save-token").await;
    b.el("#confirm-dialog[open]").await;
    b.wait_text("#confirm-impact", "would have refused").await;
    b.shot("allowlist-impact").await;
    b.click("#confirm-ok").await;
    b.wait_text(".flash", "Saved.").await;
    let saved: Value = api
        .get(&format!("/tokens/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(saved["ip_allowlist"], json!(["10.0.0.0/8"]));

    // The rest of the journey keeps the initial policy.
    let res = api
        .put(
            "/settings/token-policy",
            json!({"default_expiry_days": 365, "max_lifetime_days": null}),
        )
        .await;
    assert_eq!(res.status(), 200);
}
