//! Impact before a cut: `GET /api/v1/impact` says what disabling a token, a mapping
//! or an endpoint, or narrowing an allowlist, would have refused over the last
//! days, from the call log; the confirmation page without JavaScript says it too.

mod common;

use common::ui::{find, Ui};
use common::*;
use serde_json::{json, Value};

async fn impact(admin: &Session, q: &str) -> Value {
    let res = admin.get(&format!("/impact?{q}")).await;
    assert_eq!(res.status(), 200, "{q}");
    res.json().await.unwrap()
}

async fn figures_match_the_call_log(app: TestApp) {
    let m = app.two_apps().await;
    let (shop, erp) = (
        m.tokens[0]["id"].as_i64().unwrap(),
        m.tokens[1]["id"].as_i64().unwrap(),
    );
    let e = m.endpoint["id"].as_i64().unwrap();
    for n in 0..3 {
        assert_eq!(
            app.ingest("orders", m.value(0), json!({"n": n}))
                .await
                .status(),
            201
        );
    }
    for n in 0..2 {
        assert_eq!(
            app.ingest("orders", m.value(1), json!({"n": n}))
                .await
                .status(),
            201
        );
    }
    // A refusal is not something a cut would take away.
    m.admin.map(&json!(shop), &json!(e), "POST", false).await;
    assert_eq!(
        app.ingest("orders", m.value(0), json!({"late": 1}))
            .await
            .status(),
        403
    );
    m.admin.map(&json!(shop), &json!(e), "POST", true).await;

    let t = impact(&m.admin, &format!("token={shop}")).await;
    assert_eq!(
        (t["calls"].as_i64(), t["distinct_applications"].as_i64()),
        (Some(3), Some(1))
    );
    let summary = t["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(
            "would have refused 3 calls from shop-app in the last 7 days, the last one "
        ),
        "{summary}"
    );
    // The same figure the call log gives.
    let log: Value = m
        .admin
        .get(&format!("/calls?token={shop}&status=2xx&limit=1000"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["calls"].as_array().unwrap().len(), 3);

    let ep = impact(&m.admin, &format!("endpoint={e}&days=1")).await;
    assert_eq!(
        (ep["calls"].as_i64(), ep["distinct_applications"].as_i64()),
        (Some(5), Some(2))
    );
    assert!(ep["summary"]
        .as_str()
        .unwrap()
        .contains("5 calls from 2 applications in the last day"));
    let names: Vec<&str> = ep["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["shop-app", "erp"], "the most calls first");

    let mapping = impact(&m.admin, &format!("token={erp}&endpoint={e}&method=GET")).await;
    assert_eq!(mapping["calls"], 0);
    assert_eq!(
        mapping["summary"],
        "would have refused no call in the last 7 days"
    );

    for (q, status, code) in [
        ("", 422, "validation_failed"),
        ("token=1&method=GET", 422, "validation_failed"),
        ("token=1&days=0", 422, "validation_failed"),
        ("endpoint=1&method=PATCH", 422, "validation_failed"),
        ("token=99999", 404, "not_found"),
        ("token=x", 422, "validation_failed"),
    ] {
        let res = m.admin.get(&format!("/impact?{q}")).await;
        assert_problem(res, status, code).await;
    }
    let (_, analyst) = app.analyst().await;
    assert_eq!(
        analyst.get(&format!("/impact?token={shop}")).await.status(),
        403
    );
}

on_each_backend!(
    figures_match_the_call_log_on_each_backend,
    figures_match_the_call_log
);

/// POSTs to `/e/orders` with `token` as if from `addr` (the server trusts proxy headers).
async fn ingest_from(app: &TestApp, token: &str, addr: &str) {
    let res = app
        .client
        .post(app.url("/e/orders"))
        .bearer_auth(token)
        .header("X-Forwarded-For", addr)
        .json(&json!({"from": addr}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{addr}");
}

/// The accepted calls of `query` whose address `outside` says is outside.
async fn logged_outside(admin: &Session, query: &str, outside: impl Fn(&str) -> bool) -> usize {
    let log: Value = admin
        .get(&format!("/calls?{query}&status=2xx&limit=1000"))
        .await
        .json()
        .await
        .unwrap();
    log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| outside(c["remote_addr"].as_str().unwrap()))
        .count()
}

async fn narrowing_an_allowlist_matches_the_call_log(app: TestApp) {
    let m = app.two_apps().await;
    let shop = m.tokens[0]["id"].clone();
    let e = m.endpoint["id"].clone();
    for addr in [
        "10.0.0.5",
        "10.0.0.5",
        "10.0.0.5",
        "10.0.0.6",
        "10.0.0.6",
        "192.168.1.9",
    ] {
        ingest_from(&app, m.value(0), addr).await;
    }
    for addr in ["172.16.0.1", "172.16.0.1", "10.0.0.7"] {
        ingest_from(&app, m.value(1), addr).await;
    }

    // A token's allowlist: its calls from other addresses.
    let t = impact(&m.admin, &format!("token={shop}&allowlist=10.0.0.0/24")).await;
    let want = logged_outside(&m.admin, &format!("token={shop}"), |a| {
        !a.starts_with("10.0.0.")
    })
    .await;
    assert_eq!((t["calls"].as_i64(), want), (Some(1), 1));
    let summary = t["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(
            "would have refused 1 call from shop-app in the last 7 days, the last one "
        ),
        "{summary}"
    );
    let t = impact(
        &m.admin,
        &format!("token={shop}&allowlist=10.0.0.5,%20192.168.1.0/24"),
    )
    .await;
    assert_eq!(t["calls"], 2, "the two calls from 10.0.0.6");
    let wide = impact(&m.admin, &format!("token={shop}&allowlist=0.0.0.0/0")).await;
    assert_eq!(
        wide["summary"],
        "would have refused no call in the last 7 days"
    );

    // An endpoint's allowlist: every credential's calls to it from other addresses.
    let ep = impact(&m.admin, &format!("endpoint={e}&allowlist=10.0.0.0/8")).await;
    let want = logged_outside(&m.admin, &format!("endpoint={e}"), |a| {
        !a.starts_with("10.")
    })
    .await;
    assert_eq!((ep["calls"].as_i64(), want), (Some(3), 3));
    assert_eq!(ep["distinct_applications"], 2);
    let names: Vec<(&str, i64)> = ep["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["calls"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        names,
        vec![("erp", 2), ("shop-app", 1)],
        "the most calls first"
    );

    for q in [
        format!("token={shop}&endpoint={e}&allowlist=10.0.0.0/8"),
        format!("endpoint={e}&method=POST&allowlist=10.0.0.0/8"),
        format!("token={shop}&allowlist=example.com"),
        format!("token={shop}&allowlist=,%20"),
    ] {
        assert_problem(
            m.admin.get(&format!("/impact?{q}")).await,
            422,
            "validation_failed",
        )
        .await;
    }
}

on_each_backend!(
    narrowing_an_allowlist_matches_the_call_log_on_each_backend,
    narrowing_an_allowlist_matches_the_call_log,
    portico::state::Settings {
        trust_proxy_headers: true,
        ..Default::default()
    }
);

async fn a_narrower_allowlist_is_confirmed_with_its_figure(app: TestApp) {
    let m = app.two_apps().await;
    let erp = m.tokens[1]["id"].clone();
    for addr in ["172.16.0.1", "172.16.0.1", "10.0.0.7"] {
        ingest_from(&app, m.value(1), addr).await;
    }
    // The token's settings form asks first, saying what the new allowlist would
    // have refused; confirmed, it saves.
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let fields = [
        ("_back", format!("/ui/tokens/{erp}")),
        ("name", "erp".into()),
        ("description", String::new()),
        ("expires_was", String::new()),
        ("expires_at", String::new()),
        ("rate_limit_per_minute", String::new()),
        ("ip_allowlist", "10.0.0.0/8".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = ui.submit(&format!("/ui/tokens/{erp}"), &fields).await;
    assert_eq!(res.status(), 200, "a confirmation page, nothing saved yet");
    let page = res.text().await.unwrap();
    let figure = find(&page, "id=\"confirm-figure\">", "</p>").unwrap();
    assert!(
        figure.starts_with(
            "In the call log, this would have refused 2 calls from erp in the last 7 days"
        ),
        "{figure}"
    );
    assert_eq!(
        m.admin.read(&format!("/tokens/{erp}")).await["ip_allowlist"],
        Value::Null
    );
    let mut confirmed = fields.clone();
    confirmed.push(("_confirmed", "1"));
    let res = ui.submit(&format!("/ui/tokens/{erp}"), &confirmed).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        m.admin.read(&format!("/tokens/{erp}")).await["ip_allowlist"],
        json!(["10.0.0.0/8"])
    );
    // The same allowlist again is no narrowing: saved without a question.
    assert_eq!(
        ui.submit(&format!("/ui/tokens/{erp}"), &fields)
            .await
            .status(),
        303
    );
}

on_each_backend!(
    a_narrower_allowlist_is_confirmed_with_its_figure_on_each_backend,
    a_narrower_allowlist_is_confirmed_with_its_figure,
    portico::state::Settings {
        trust_proxy_headers: true,
        ..Default::default()
    }
);

async fn the_confirmation_page_without_javascript_shows_the_figure(app: TestApp) {
    let m = app.two_apps().await;
    let (shop, e) = (m.tokens[0]["id"].clone(), m.endpoint["id"].clone());
    for n in 0..3 {
        app.ingest("orders", m.value(0), json!({"n": n})).await;
    }
    app.ingest("orders", m.value(1), json!({"n": 9})).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let shop_figure = "In the call log, this would have refused 3 calls from shop-app in the last 7 days, the last one ";
    for (path, fields, want) in [
        (format!("/ui/tokens/{shop}/enabled"), vec![("enabled", "false")], shop_figure),
        (format!("/ui/tokens/{shop}/lifecycle"), vec![("action", "deactivate")], shop_figure),
        (format!("/ui/tokens/{shop}/delete"), vec![], shop_figure),
        (format!("/ui/tokens/{shop}/rotate"), vec![("grace_seconds", "0")], shop_figure),
        (
            format!("/ui/endpoints/{e}/mappings"),
            vec![("token_id", "SHOP"), ("method", "POST"), ("action", "off")],
            shop_figure,
        ),
        (
            format!("/ui/endpoints/{e}/enabled"),
            vec![("enabled", "false")],
            "In the call log, this would have refused 4 calls from 2 applications in the last 7 days",
        ),
        (
            format!("/ui/endpoints/{e}/delete"),
            vec![],
            "In the call log, this would have refused 4 calls from 2 applications",
        ),
    ] {
        let shop_id = shop.to_string();
        let fields: Vec<(&str, &str)> = fields
            .into_iter()
            .map(|(k, v)| (k, if v == "SHOP" { shop_id.as_str() } else { v }))
            .collect();
        let res = ui.submit(&path, &fields).await;
        assert_eq!(res.status(), 200, "{path} asks first");
        let page = res.text().await.unwrap();
        assert!(page.contains("Please confirm"), "{path}");
        let figure = find(&page, "id=\"confirm-figure\">", "</p>").unwrap_or_default();
        assert!(figure.starts_with(want), "{path}: {figure}");
    }
    // Nothing was cut.
    assert_eq!(
        app.ingest("orders", m.value(0), json!({})).await.status(),
        201
    );
    // Switching on is no cut: no question, no figure.
    let res = ui
        .submit(
            &format!("/ui/tokens/{shop}/enabled"),
            &[("enabled", "true")],
        )
        .await;
    assert_eq!(res.status(), 303);
}

on_each_backend!(
    the_confirmation_page_without_javascript_shows_the_figure_on_each_backend,
    the_confirmation_page_without_javascript_shows_the_figure
);
