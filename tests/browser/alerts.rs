//! An alert target in the browser: added by form with its signing secret shown
//! once, then a test event sent in place to a receiver the test starts, whose
//! attempt shows under the target; axe-clean at 1280 and 390 px.

#[path = "../alerts_support/mod.rs"]
mod alerts_support;

use std::time::Duration;

use fantoccini::Locator;

use crate::common::{self, Backend, ADMIN_PASSWORD};
use crate::driver::{enabled, Browser};
use alerts_support::Receiver;

async fn scenario(backend: Backend) {
    let app = common::spawn_app_with(backend, alerts_support::settings()).await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let mut b = Browser::start(&app, backend == Backend::Sqlite).await;
    b.goto("/ui/login").await;
    b.fill("#username", "admin").await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Endpoints").await;

    b.click("a[href='/ui/alerts']").await;
    b.wait_text("h1", "Alerts").await;
    b.wait_text("#alert-targets", "No alert target yet.").await;
    b.shot("alerts-empty").await;
    b.fill("#target-name", "pager").await;
    b.fill("#target-url", &rx.url).await;
    b.click("#create-target").await;

    // The secret, once, after the redirect.
    b.el("#reveal").await;
    b.wait_text(".flash", "Alert target pager added.").await;
    let secret = b.value("#secret-1").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        b.prop("#secret-1", "type").await.as_deref(),
        Some("password")
    );
    b.shot("alert-created-reveal").await;
    b.client.refresh().await.unwrap();
    b.wait_text("h1", "pager").await;
    assert!(b.client.find(Locator::Css("#reveal")).await.is_err());
    b.wait_text("#deliveries", "No delivery yet").await;

    // Send test event: in place, the attempt shows with its status.
    let here = b.path().await;
    b.click("#send-test").await;
    b.wait_text("#inplace-flash", "Test event delivered: answered 204")
        .await;
    b.wait_text("#deliveries", "204").await;
    assert_eq!(b.path().await, here, "no page change");
    assert!(b.text("#deliveries").await.contains("test"));
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].verifies(&secret),
        "the receiver verifies the signature"
    );
    b.shot("alert-test-sent").await;
    b.console_clean("alert test").await;

    b.goto("/ui/alerts").await;
    b.wait_text("#alert-targets", "1 delivered").await;
    b.shot("alerts-list").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_target_with_a_test_event_in_a_real_browser() {
    if !enabled() {
        return;
    }
    for backend in common::backends() {
        scenario(backend).await;
    }
}
