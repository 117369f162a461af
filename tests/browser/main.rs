//! The admin UI in a real headless Chromium, driven over WebDriver (chromedriver).
//!
//! Runs when `PORTICO_BROWSER_TESTS=1` (`.ci/run` installs Debian's `chromium` and
//! `chromium-driver` and sets it). Paths: `PORTICO_CHROMEDRIVER` (default
//! `/usr/bin/chromedriver`) and `PORTICO_CHROMIUM` (default `/usr/bin/chromium`).
//! Every page visited is saved at 1280 and 390 pixels wide under `target/screenshots/`,
//! and the browser console is checked for errors after every step; axe-core checks
//! each saved state at both widths and fails on a serious or critical violation.

mod alerts;
#[path = "../common/mod.rs"]
mod common;
mod contracts;
mod driver;
mod health;
mod lists;
mod renew;

use std::time::Duration;

use common::{Backend, TestApp, ADMIN_PASSWORD};
use driver::{enabled, Browser};
use fantoccini::Locator;
use serde_json::{json, Value};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

async fn journey(app: TestApp) {
    let api = app.admin().await;
    let mut b = Browser::start(&app, app.backend == Backend::Sqlite).await;

    // The console check itself works: a deliberate error is seen, then drained.
    b.goto("/ui/login").await;
    b.js("console.error('portico-probe'); return 1;").await;
    let probe = b.console().await;
    assert!(
        probe.iter().any(|e| e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("portico-probe")),
        "{probe:?}"
    );

    // Log in with the keyboard only.
    b.shot("login").await;
    b.el("#username")
        .await
        .send_keys(&format!("admin{TAB}{ADMIN_PASSWORD}{ENTER}"))
        .await
        .unwrap();
    b.wait_text("h1", "Endpoints").await;
    assert_eq!(b.path().await, "/ui/endpoints");
    b.shot("endpoints-empty").await;

    // Create an endpoint in the dialog; the primary tokens are revealed once.
    b.click("#add-endpoint").await;
    b.el("#new-endpoint[open]").await;
    b.shot("endpoint-new-dialog").await;
    b.fill("#new-slug", "orders").await;
    b.fill("#new-name", "Orders").await;
    b.click("#create-endpoint").await;
    b.el("#reveal").await;
    b.console_clean("create endpoint").await;
    let label = b.text("label[for=secret-1]").await;
    assert!(label.contains("POST"), "{label}");
    assert_eq!(
        b.prop("#secret-1", "type").await.as_deref(),
        Some("password")
    );
    b.click("[data-reveal=secret-1]").await;
    assert_eq!(b.prop("#secret-1", "type").await.as_deref(), Some("text"));
    b.click("[data-copy=secret-1]").await;
    b.el("[data-copy=secret-1].copied").await;
    let first_post = b.value("#secret-1").await;
    assert_eq!(first_post.len(), 64);
    b.shot("endpoint-created-reveal").await;
    // The page was reached by a redirect: a reload sends nothing and shows no secret.
    assert!(b.path().await.ends_with("/tokens"));
    b.client.refresh().await.unwrap();
    b.wait_text("h1", "Orders").await;
    assert!(b.client.find(Locator::Css("#reveal")).await.is_err());
    let endpoints: Value = api.get("/endpoints").await.json().await.unwrap();
    let eid = endpoints[0]["id"].as_i64().unwrap();

    // Generate a new POST primary token: confirm in the dialog, copy the new value.
    b.click("#generate-POST").await;
    b.el("#confirm-dialog[open]").await;
    b.shot("confirm-dialog").await;
    b.click("#confirm-ok").await;
    b.wait_text(".flash", "New POST primary token generated.")
        .await;
    b.click("[data-copy=secret-1]").await;
    b.el("[data-copy=secret-1].copied").await;
    let post = b.value("#secret-1").await;
    assert_ne!(post, first_post);
    assert_eq!(
        app.ingest("orders", &first_post, json!({"old": true}))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.ingest("orders", &post, json!({"via": "primary"}))
            .await
            .status(),
        201
    );

    // Add an endpoint token in the dialog; its value is shown once.
    b.goto("/ui/tokens").await;
    b.shot("tokens-empty").await;
    b.click("#add-token").await;
    b.el("#new-token[open]").await;
    b.fill("#new-token-name", "shop-app").await;
    b.shot("token-new-dialog").await;
    b.click("#create-token").await;
    b.el("#reveal").await;
    b.console_clean("create token").await;
    let value = b.value("#secret-1").await;
    assert_eq!(value.len(), 64);
    let tokens: Value = api.get("/tokens").await.json().await.unwrap();
    let tid = tokens[0]["id"].as_i64().unwrap();
    b.shot("token-created-reveal").await;
    assert_eq!(b.path().await, format!("/ui/tokens/{tid}"));
    b.client.refresh().await.unwrap();
    b.wait_text("h1", "shop-app").await;
    assert!(b.client.find(Locator::Css("#reveal")).await.is_err());
    let tokens: Value = api.get("/tokens").await.json().await.unwrap();
    assert_eq!(
        tokens.as_array().unwrap().len(),
        1,
        "a reload created nothing"
    );

    // Assign it to POST of the endpoint; an HTTP POST with it is then stored.
    assert_eq!(
        app.ingest("orders", &value, json!({"n": 0})).await.status(),
        403
    );
    // In the "Assign endpoint tokens" dialog of the token list.
    b.goto("/ui/tokens").await;
    b.shot("tokens-one").await;
    b.click(&format!("#assign-{tid}")).await;
    b.el("#remote-dialog[open]").await;
    b.console_clean("assign dialog").await;
    b.shot("assign-dialog").await;
    // The switch changes in place: the dialog stays open and says what changed.
    b.click(&format!("#remote-dialog #assign-{eid}-POST")).await;
    b.wait_text(
        "#remote-dialog .dialog-flash",
        "POST mapping of shop-app onto /e/orders switched on.",
    )
    .await;
    assert_eq!(
        b.attr(
            &format!("#remote-dialog #assign-{eid}-POST"),
            "aria-checked"
        )
        .await
        .as_deref(),
        Some("true")
    );
    b.shot("assign-dialog-in-place").await;
    // Switching off asks first, like the token and endpoint switches.
    b.click(&format!("#remote-dialog #assign-{eid}-POST")).await;
    b.el("#confirm-dialog[open]").await;
    assert!(b
        .text("#confirm-text")
        .await
        .contains("Switch off the POST mapping of shop-app onto /e/orders?"));
    b.click("#confirm-ok").await;
    b.wait_text("#remote-dialog .dialog-flash", "switched off.")
        .await;
    b.click(&format!("#remote-dialog #assign-{eid}-POST")).await;
    b.wait_text("#remote-dialog .dialog-flash", "switched on.")
        .await;
    assert!(
        b.js("return document.getElementById('remote-dialog').open;")
            .await
            == json!(true)
    );
    assert_eq!(b.path().await, "/ui/tokens");
    b.goto(&format!("/ui/tokens/{tid}/assign")).await;
    assert_eq!(
        b.attr(&format!("#assign-{eid}-POST"), "aria-checked")
            .await
            .as_deref(),
        Some("true")
    );
    b.shot("token-assigned").await;
    let res = app
        .ingest("orders", &value, json!({"order": "A-1", "total": 12.5}))
        .await;
    assert_eq!(res.status(), 201);

    // The viewer shows the call under the token's name; filter by that token.
    b.goto("/ui/viewer").await;
    b.wait_text("#calls-body tr", "shop-app").await;
    b.shot("viewer").await;
    b.click("#token-filter summary").await;
    b.fill("#token-search", "no-such-app").await;
    b.wait_text("#token-options", "No matching tokens.").await;
    b.fill("#token-search", "shop").await;
    b.wait_text("#token-options", "shop-app").await;
    b.click(&format!("#token-filter input[value='{tid}']"))
        .await;
    b.shot("viewer-token-filter-open").await;
    b.click("#apply-filters").await;
    b.wait_text("#token-filter summary", "1 selected").await;
    assert!(b.path().await.contains(&format!("token={tid}")));
    let rows = b
        .client
        .find_all(Locator::Css("#calls-body tr"))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        2,
        "the refused and the stored call of shop-app, not the primary's"
    );
    for r in rows {
        assert!(r.text().await.unwrap().contains("shop-app"));
    }
    b.shot("viewer-filtered").await;

    // Switch the mapping off on the endpoint's Tokens tab: the next POST is refused.
    b.goto(&format!("/ui/endpoints/{eid}/tokens")).await;
    b.click(&format!("#map-{tid}-POST")).await;
    b.el("#confirm-dialog[open]").await;
    // The dialog says what the cut would have refused, from the call log.
    b.wait_text("#confirm-impact", "this would have refused")
        .await;
    let impact = b.text("#confirm-impact").await;
    assert!(
        impact.contains(
            "this would have refused 1 call from shop-app in the last 7 days, the last one"
        ),
        "{impact}"
    );
    b.shot("confirm-with-impact").await;
    b.click("#confirm-ok").await;
    b.wait_text(
        "#inplace-flash",
        "POST mapping of shop-app onto /e/orders switched off.",
    )
    .await;
    assert_eq!(
        b.attr(&format!("#map-{tid}-POST"), "aria-checked")
            .await
            .as_deref(),
        Some("false")
    );
    b.shot("endpoint-tokens-tab").await;
    let res = app.ingest("orders", &value, json!({"order": "A-2"})).await;
    assert_eq!(res.status(), 403);
    b.goto(&format!("/ui/viewer?token={tid}")).await;
    b.wait_text("#calls-body tr:first-child", "403").await;
    assert!(b
        .text("#calls-body tr:first-child")
        .await
        .contains("mapping_disabled"));
    b.shot("viewer-refused").await;
    b.click("#calls-body tr:nth-child(2) a").await;
    b.wait_text("#payload", "A-1").await;
    b.shot("call-detail").await;

    // Hide unassigned on the Tokens tab, the General tab, the token list.
    b.goto(&format!("/ui/endpoints/{eid}/tokens")).await;
    b.click("#hide-unassigned").await;
    b.wait_text("#hide-unassigned", "Hide unassigned").await;
    assert_eq!(
        b.attr("#hide-unassigned", "aria-checked").await.as_deref(),
        Some("true")
    );
    health::health_page(&mut b, &app, &api, eid).await;
    lists::many_tokens(&mut b, &api).await;
    lists::phone_viewer(&b).await;
    contracts::schema_tab(&mut b, &app, eid, &post).await;
    let renewed = renew::renew_in_place(&mut b, &api).await;
    renew::policy_page(&mut b, &api, renewed).await;
    b.goto("/ui/endpoints").await;
    b.wait_text("table", "orders").await;
    b.shot("endpoints").await;
    b.goto(&format!("/ui/endpoints/{eid}")).await;
    b.shot("endpoint-general").await;
    b.goto("/ui/tokens").await;
    b.shot("tokens").await;
    b.goto(&format!("/ui/tokens/{tid}")).await;
    b.shot("token-page").await;

    // Live tail prepends a new call without a reload.
    b.goto("/ui/viewer").await;
    b.click("#live-toggle").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.ingest("orders", &post, json!({"live": "yes"}))
            .await
            .status(),
        201
    );
    b.el("#calls-body tr.fresh").await;
    b.console_clean("live tail").await;
    b.shot("viewer-live").await;

    // Users and audit.
    b.goto("/ui/users").await;
    b.fill("#add-user input[name=username]", "ana").await;
    b.fill("#add-user input[name=password]", "analyst-password-1")
        .await;
    b.click("#add-user button[type=submit]").await;
    b.wait_text(".flash", "ana added as analyst.").await;
    b.shot("users").await;
    b.goto("/ui/audit").await;
    b.wait_text("#audit", "ana").await;
    b.shot("audit").await;

    // Hostile names and payloads render as text and run nothing.
    let hostile = api
        .post("/tokens", json!({"name": "<script>window.__xss=1</script>", "description": "<img src=x onerror=\"window.__xss=2\">"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    api.map(&hostile["id"], &json!(eid), "POST", true).await;
    let res = app
        .ingest(
            "orders",
            hostile["token"].as_str().unwrap(),
            json!({"x": "<img src=x onerror=\"window.__xss=3\">"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for path in [
        "/ui/tokens".to_owned(),
        format!("/ui/endpoints/{eid}/tokens"),
        "/ui/audit".to_owned(),
        "/ui/viewer".to_owned(),
    ] {
        b.goto(&path).await;
        assert_eq!(
            b.js("return window.__xss === undefined;").await,
            json!(true),
            "{path}"
        );
        let body = b.text("main").await;
        assert!(
            body.contains("<script>window.__xss=1</script>"),
            "{path} shows the name as text"
        );
    }
    b.click("#calls-body tr:first-child a").await;
    b.wait_text("#payload", "onerror").await;
    assert_eq!(
        b.js("return window.__xss === undefined;").await,
        json!(true)
    );
    b.shot("call-detail-hostile").await;
    // Back to the viewer it came from.
    b.click("#back-to-viewer").await;
    b.wait_text("h1", "Data viewer").await;

    // The API explorer renders the document from the binary, within its CSP.
    b.goto("/api/docs").await;
    b.wait_text(".opblock-summary-path", "/api/v1/tokens/{id}/regenerate")
        .await;
    b.console_clean("api explorer").await;
    // (No screenshot: Swagger UI's own layout is wider than a phone.)
    b.goto("/ui/viewer").await;

    // Sign out; an analyst reaches the viewer and is refused the admin pages.
    b.click(".me button[type=submit]").await;
    b.wait_text("h1", "Sign in").await;
    b.fill("#username", "ana").await;
    b.fill("#password", "analyst-password-1").await;
    b.click("form button[type=submit]").await;
    b.wait_text("h1", "Data viewer").await;
    assert!(
        b.client
            .find(Locator::Css("nav a[href='/ui/endpoints']"))
            .await
            .is_err(),
        "no admin navigation"
    );
    b.shot("analyst-viewer").await;
    for path in [
        "/ui/endpoints",
        "/ui/tokens",
        "/ui/users",
        "/ui/audit",
        &format!("/ui/endpoints/{eid}/tokens"),
    ] {
        b.client.goto(&format!("{}{path}", b.base)).await.unwrap();
        b.wait_text("h1", "Admins only").await;
        // The 403 of the page itself is the one console entry expected here.
        let _ = b.console().await;
    }
    b.shot("analyst-refused").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_journey_in_a_real_browser() {
    if !enabled() {
        return;
    }
    for backend in common::backends() {
        journey(common::spawn_app(backend).await).await;
    }
}
