//! The Alerts pages over HTTP: a target added by form shows its secret once after
//! the redirect, the test event is sent with or without JavaScript and its attempt
//! shows under the target, settings, rotation and removal post/redirect/get.

mod alerts_support;
mod common;

use std::time::Duration;

use alerts_support::{settings, Receiver};
use common::ui::{find, location, Ui};
use common::*;

/// A page's text as a browser reads it (tera escapes `/` and quotes).
fn unescape(html: &str) -> String {
    html.replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The signing secret shown on a page, if any.
fn shown_secret(html: &str) -> Option<String> {
    let html = unescape(html);
    let chunk = html.split("data-secret").next()?;
    let v = &chunk[chunk.rfind("value=\"")? + 7..];
    let v = &v[..v.find('"')?];
    v.starts_with("whsec_").then(|| v.to_owned())
}

async fn a_target_made_in_the_ui_is_tried_from_its_page(app: TestApp) {
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let (status, html) = ui.get("/ui/alerts").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/ui/alerts\" aria-current=\"page\""));
    assert!(html.contains("No alert target yet."));

    let res = ui
        .submit(
            "/ui/alerts",
            &[
                ("name", "pager"),
                ("url", &rx.url),
                ("events", "mapping_silent"),
                ("events", "token_expired"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = location(&res);
    assert!(page.starts_with("/ui/alerts/"), "{page}");
    let (_, html) = ui.get(&page).await;
    let secret = shown_secret(&html).expect("the secret is shown after the redirect");
    // Once: a reload shows the hint only.
    let (_, again) = ui.get(&page).await;
    let again = unescape(&again);
    assert!(shown_secret(&again).is_none());
    assert!(!again.contains(secret.trim_start_matches("whsec_")));
    assert!(again.contains(&secret[..10]), "the hint");

    // Without JavaScript: post, redirect, the attempt is listed.
    let test = format!("{page}/test");
    let res = ui.submit(&test, &[("_back", &page)]).await;
    assert_eq!((res.status().as_u16(), location(&res)), (303, page.clone()));
    let (_, html) = ui.get(&page).await;
    assert!(
        html.contains("Test event delivered: answered 204"),
        "{html}"
    );
    let table = find(&html, "<table id=\"deliveries\"", "</table>").unwrap();
    assert!(table.contains("<code>test</code>") && table.contains(">204</span>"));
    assert!(rx.got()[0].verifies(&secret));

    // With JavaScript: the outcome comes back as JSON.
    let csrf = ui.csrf().await;
    let res = ui
        .client
        .post(format!("{}{test}", ui.base))
        .header("X-Portico-Inplace", "1")
        .form(&[("_csrf", csrf.as_str()), ("_back", page.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Test event delivered"));
    assert_eq!(rx.got().len(), 2);
    let (_, list) = ui.get("/ui/alerts").await;
    assert!(list.contains("2 delivered"));
}
on_each_backend!(
    a_target_made_in_the_ui_is_tried_from_its_page_,
    a_target_made_in_the_ui_is_tried_from_its_page,
    settings()
);

async fn settings_rotation_and_removal(app: TestApp) {
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let fields = [
        ("name", "ops"),
        ("url", "https://hooks.example.com/a"),
        ("events", "refusals_spike"),
    ];
    let page = location(&ui.submit("/ui/alerts", &fields).await);
    let _ = ui.get(&page).await;

    // A refusal goes back to the form as a message.
    let (_, html) = ui
        .submit_and_follow(
            &page,
            &[
                ("name", "ops"),
                ("url", "ftp://x"),
                ("events", "refusals_spike"),
            ],
        )
        .await;
    assert!(
        unescape(&html).contains("url: must start with http:// or https://"),
        "{html}"
    );
    let (_, html) = ui
        .submit_and_follow(&page, &[("name", "ops"), ("url", "https://h.example/b")])
        .await;
    assert!(html.contains("events: must name at least one"), "{html}");
    let (_, html) = ui
        .submit_and_follow(
            &page,
            &[
                ("name", "ops2"),
                ("url", "https://h.example/b"),
                ("events", "token_expiring"),
            ],
        )
        .await;
    assert!(html.contains("Saved ops2.") && html.contains("badge inactive"));
    assert!(html.contains("value=\"token_expiring\" checked"));

    // Rotation and removal ask first without JavaScript.
    let res = ui.submit(&format!("{page}/rotate"), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Rotate the signing secret?"));
    let res = ui
        .submit(&format!("{page}/rotate"), &[("_confirmed", "1")])
        .await;
    assert_eq!(location(&res), page);
    let (_, html) = ui.get(&page).await;
    assert!(shown_secret(&html).is_some(), "the new secret, once");
    let res = ui
        .submit(&format!("{page}/delete"), &[("_confirmed", "1")])
        .await;
    assert_eq!(location(&res), "/ui/alerts");
    let (status, _) = ui.get(&page).await;
    assert_eq!(status, 404);

    // Analysts have no Alerts page.
    let (admin, _) = app.analyst().await;
    drop(admin);
    let analyst = Ui::login(&app, "ana", ANALYST_PASSWORD).await;
    let (status, html) = analyst.get("/ui/alerts").await;
    assert_eq!(status, 403);
    assert!(!html.contains("href=\"/ui/alerts\""));
}
on_each_backend!(
    settings_rotation_and_removal_,
    settings_rotation_and_removal,
    settings()
);
