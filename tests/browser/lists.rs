//! The token list with 200+ tokens in the browser: search, sort, pages, a toolbar
//! that stays in view, bulk actions on "all N matching", one state model, and the
//! phone layout (stacked cards, a navigation that reaches every page).

use serde_json::{json, Value};

use crate::common::Session;
use crate::driver::Browser;

async fn count(b: &Browser) -> String {
    b.text("#token-count").await
}

pub async fn many_tokens(b: &mut Browser, api: &Session) {
    let soon = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    for i in 0..210 {
        let mut body = json!({"name": format!("app-{i:03}")});
        if i % 50 == 7 {
            body["expires_at"] = json!(soon);
        }
        let res = api.post("/tokens", body).await;
        assert_eq!(res.status(), 201);
    }
    let all: Value = api.get("/tokens").await.json().await.unwrap();
    let total = all.as_array().unwrap().len();
    assert!(total >= 211, "{total}");

    b.goto("/ui/tokens").await;
    assert_eq!(count(b).await, format!("1–50 of {total} tokens"));
    b.shot("tokens-many").await;
    // The toolbar stays in view while the list scrolls.
    b.js("window.scrollTo(0, 3000); return 1;").await;
    let top = b
        .js("return document.querySelector('.sticky-tools').getBoundingClientRect().top;")
        .await;
    assert!(top.as_f64().unwrap().abs() < 2.0, "toolbar at {top}");
    b.js("window.scrollTo(0, 0); return 1;").await;

    // Search, sort and page, each kept in the address.
    b.fill("#token-search", "app-1").await;
    b.click("#apply-filters").await;
    b.wait_text("#token-count", "of 100 tokens").await;
    assert!(b.path().await.contains("q=app-1"));
    b.click("#sort-name").await;
    b.wait_text("#token-count", "of 100").await;
    assert_eq!(
        b.attr("th[aria-sort=descending] a", "id").await.as_deref(),
        Some("sort-name")
    );
    assert!(b
        .text("#token-table tbody tr:first-child")
        .await
        .contains("app-199"));
    b.click("#page-next").await;
    b.wait_text("#token-count", "51–100 of 100").await;
    let here = b.path().await;
    assert!(here.contains("page=2") && here.contains("dir=desc") && here.contains("q=app-1"));
    b.shot("tokens-searched-page-2").await;

    // "All N matching": disable the ten app-2xx tokens at once.
    b.goto("/ui/tokens?q=app-2").await;
    b.wait_text("#token-count", "of 10 tokens").await;
    b.click("#scope-matching").await;
    b.el("#bulk-action")
        .await
        .select_by_value("disable")
        .await
        .unwrap();
    b.click("#bulk button[type=submit]").await;
    b.el("#confirm-dialog[open]").await;
    assert!(b
        .text("#confirm-text")
        .await
        .contains("Disable all 10 matching tokens?"));
    b.click("#confirm-ok").await;
    b.wait_text(".flash", "10 token(s) disabled.").await;
    b.goto("/ui/tokens?enabled=off").await;
    b.wait_text("#token-count", "of 10 tokens").await;

    // One state model: an inactive token shows "Inactive" and no enabled switch.
    b.goto("/ui/tokens?q=app-150").await;
    b.click("button[aria-label='Deactivate app-150']").await;
    b.el("#confirm-dialog[open]").await;
    b.click("#confirm-ok").await;
    b.wait_text(".flash", "app-150 deactivated.").await;
    b.goto("/ui/tokens?q=app-150&show=all").await;
    let row = b.text("#token-table tbody tr:first-child").await;
    assert!(row.contains("Inactive"), "{row}");
    assert!(b
        .client
        .find(fantoccini::Locator::Css(
            "#token-table tbody tr:first-child .switch"
        ))
        .await
        .is_err());
    b.goto("/ui/tokens?expiry=soon").await;
    b.wait_text("#token-table", "Expiring").await;
    b.shot("tokens-expiring").await;

    // On a phone: rows are cards (no sideways scrolling) and every page is in reach.
    b.goto("/ui/tokens").await;
    b.phone(true).await;
    let fits = b
        .js("return document.getElementById('token-table').scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, json!(true), "token cards fit a 390 px screen");
    let off_screen = b
        .js("return Array.from(document.querySelectorAll('.side nav a')).filter(function (a) { var r = a.getBoundingClientRect(); return r.right > window.innerWidth || r.left < 0; }).map(function (a) { return a.textContent; });")
        .await;
    assert_eq!(off_screen, json!([]), "navigation links off screen");
    b.phone(false).await;
}

/// On a phone the viewer's rows show time, token and status, all on screen.
pub async fn phone_viewer(b: &Browser) {
    b.goto("/ui/viewer").await;
    b.phone(true).await;
    let seen = b
        .js(
            "var row = document.querySelector('#calls-body tr'); var w = window.innerWidth;
             return ['td:first-child', '.token-cell', '.status'].map(function (css) {
               var r = row.querySelector(css).getBoundingClientRect();
               return r.width > 0 && r.left >= 0 && r.right <= w;
             });",
        )
        .await;
    assert_eq!(
        seen,
        json!([true, true, true]),
        "time, token, status on a 390 px screen"
    );
    b.phone(false).await;
}
