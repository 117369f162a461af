//! Integration health (issue 16, point 1): the expected cadence of a mapping and
//! the Health list, read from the running aggregates, which agree with the call
//! log (folded repeats included). The check's events: tests/health_events.rs.

mod common;
#[path = "health_support/mod.rs"]
mod support;

use std::time::Duration;

use chrono::NaiveDateTime;
use common::*;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};
use portico::db::{self, DatabaseUrl};
use serde_json::{json, Value};
use support::*;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What the call log counts for (token, endpoint, method) since `since`: calls and
/// refusals, a folded row by its repeats.
async fn logged(
    app: &TestApp,
    token: i64,
    endpoint: i64,
    method: &str,
    since: NaiveDateTime,
) -> (i64, i64) {
    let url = DatabaseUrl::parse(&app.db_url).unwrap();
    let since = since.format("%Y-%m-%d %H:%M:%S").to_string();
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let mut count = |refused: &str| {
            let sql = format!(
                "SELECT CAST(COALESCE(SUM(repeats), 0) AS BIGINT) AS n FROM calls WHERE token_id = {token} \
                 AND endpoint_id = {endpoint} AND method = '{method}' AND at >= '{since}' {refused}"
            );
            diesel::sql_query(sql).get_result::<Count>(&mut **conn).unwrap().n
        };
        (count(""), count("AND status >= 400"))
    })
    .await
    .unwrap()
}

async fn health_lists_every_mapping_with_its_figures(app: TestApp) {
    let f = app.two_apps().await;
    let (shop, erp) = (f.tokens[0]["id"].clone(), f.tokens[1]["id"].clone());
    let endpoint = f.endpoint["id"].clone();
    f.admin.map(&erp, &endpoint, "POST", false).await;
    for n in 0..3 {
        assert_eq!(
            app.ingest("orders", f.value(0), json!({ "n": n }))
                .await
                .status(),
            201
        );
    }
    for n in 0..2 {
        assert_eq!(
            app.ingest("orders", f.value(1), json!({ "n": n }))
                .await
                .status(),
            403
        );
    }
    let page = f.admin.read("/health").await;
    assert_eq!(page["total"], 4, "{page}");
    assert_eq!(
        page["counts"],
        json!({"all": 4, "silent": 0, "failing": 1, "expiring": 0})
    );
    // The worst first: the failing mapping.
    assert_eq!(page["mappings"][0]["token"]["name"], "erp");
    assert_eq!(page["mappings"][0]["failing"], true);
    let shop_post = find(&page, "shop-app", "POST");
    assert_eq!(shop_post["calls_24h"], 3);
    assert_eq!(shop_post["refusals_24h"], 0);
    assert_eq!(
        shop_post["endpoint"],
        json!({"id": endpoint, "slug": "orders"})
    );
    assert!(shop_post["last_call_at"].is_string());
    assert_eq!(shop_post["silent_since"], Value::Null);
    assert_eq!(shop_post["expect_every_seconds"], Value::Null);
    let erp_post = find(&page, "erp", "POST");
    assert_eq!(
        (
            erp_post["calls_24h"].as_i64(),
            erp_post["refusals_24h"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(erp_post["enabled"], false);
    let never = find(&page, "shop-app", "GET");
    assert_eq!(never["last_call_at"], Value::Null);
    assert_eq!(never["calls_24h"], 0);

    let failing = f.admin.read("/health?state=failing").await;
    assert_eq!(failing["total"], 1);
    assert_eq!(failing["mappings"].as_array().unwrap().len(), 1);
    let searched = f.admin.read("/health?q=SHOP").await;
    assert_eq!(searched["total"], 2);
    assert!(searched["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["token"]["id"] == shop));
    assert_eq!(f.admin.read("/health?q=orders").await["total"], 4);
    assert_eq!(f.admin.read("/health?q=nobody").await["total"], 0);
    // Pages with counts, in a stable order.
    let by_token = f.admin.read("/health?sort=token&per=3").await;
    assert_eq!(
        (
            by_token["pages"].as_i64(),
            by_token["first"].as_i64(),
            by_token["last"].as_i64()
        ),
        (Some(2), Some(1), Some(3))
    );
    assert_eq!(by_token["mappings"][0]["token"]["name"], "erp");
    let second = f.admin.read("/health?sort=token&per=3&page=2").await;
    assert_eq!(second["mappings"].as_array().unwrap().len(), 1);
    assert_eq!(second["mappings"][0]["token"]["name"], "shop-app");
    let desc = f.admin.read("/health?sort=token&dir=desc&per=1").await;
    assert_eq!(desc["mappings"][0]["token"]["name"], "shop-app");
    assert_eq!(
        f.admin.read("/health?sort=last_call&dir=desc").await["mappings"][0]["token"]["name"],
        "erp"
    );
    assert_eq!(f.admin.read("/health?sort=endpoint").await["total"], 4);
}
on_each_backend!(
    health_lists_every_mapping_with_its_figures_,
    health_lists_every_mapping_with_its_figures
);

async fn health_refuses_bad_choices_and_strangers(app: TestApp) {
    let (admin, analyst) = app.analyst().await;
    for (query, field) in [
        ("state=quiet", "state"),
        ("sort=size", "sort"),
        ("dir=up", "dir"),
        ("per=0", "per"),
        ("per=201", "per"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("colour=red", "colour"),
    ] {
        let res = admin.get(&format!("/health?{query}")).await;
        let body = assert_problem(res, 422, "validation_failed").await;
        assert!(body.to_string().contains(field), "{query}: {body}");
    }
    let long = "x".repeat(201);
    assert_problem(
        admin.get(&format!("/health?q={long}")).await,
        422,
        "validation_failed",
    )
    .await;
    // Analysts read it; nobody else does.
    assert_eq!(analyst.get("/health").await.status(), 200);
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
}
on_each_backend!(
    health_refuses_bad_choices_and_strangers_,
    health_refuses_bad_choices_and_strangers
);

async fn the_expected_cadence_is_set_checked_returned_and_audited(app: TestApp) {
    let f = app.two_apps().await;
    let (t, e) = (&f.tokens[0]["id"], &f.endpoint["id"]);
    let path = format!("/tokens/{t}/mappings/{e}/POST");
    let res = f
        .admin
        .put(&path, json!({"enabled": true, "expect_every_seconds": 300}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["expect_every_seconds"],
        300
    );
    // Absent keeps it; listed with the token's mappings and on the Health list.
    let res = f.admin.put(&path, json!({"enabled": true})).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["expect_every_seconds"],
        300
    );
    let listed = f.admin.read(&format!("/tokens/{t}/mappings")).await;
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["method"] == "POST" && m["expect_every_seconds"] == 300));
    assert_eq!(
        find(&f.admin.read("/health").await, "shop-app", "POST")["expect_every_seconds"],
        300
    );
    for bad in [
        json!(59),
        json!(31 * 86_400 + 1),
        json!("often"),
        json!(1.5),
    ] {
        let res = f
            .admin
            .put(&path, json!({"enabled": true, "expect_every_seconds": bad}))
            .await;
        assert_problem(res, 422, "validation_failed").await;
    }
    let res = f
        .admin
        .put(
            &path,
            json!({"enabled": true, "expect_every_seconds": null}),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["expect_every_seconds"],
        Value::Null
    );
    let audit = f.admin.read("/audit?action=mapping.update").await;
    let text = audit.to_string();
    assert!(text.contains("\"expect_every_seconds\":300"), "{text}");
}
on_each_backend!(
    the_expected_cadence_is_set_checked_returned_and_audited_,
    the_expected_cadence_is_set_checked_returned_and_audited
);

async fn the_aggregates_agree_with_the_call_log_with_folded_repeats(app: TestApp) {
    let f = app.two_apps().await;
    let (shop, erp, e) = (
        f.tokens[0]["id"].as_i64().unwrap(),
        f.tokens[1]["id"].as_i64().unwrap(),
        f.endpoint["id"].as_i64().unwrap(),
    );
    f.admin
        .map(&f.tokens[1]["id"], &f.endpoint["id"], "POST", false)
        .await;
    // Repeated refusals within a second fold into few rows of the call log.
    let sends = (0..60).map(|n| {
        let app = app.remote_twin();
        let token = f.value(1).to_owned();
        async move {
            app.ingest("orders", &token, json!({ "n": n }))
                .await
                .status()
        }
    });
    for status in futures_util::future::join_all(sends).await {
        assert_eq!(status, 403);
    }
    for n in 0..5 {
        assert_eq!(
            app.ingest("orders", f.value(0), json!({ "n": n }))
                .await
                .status(),
            201
        );
        let res = app
            .client
            .get(app.url("/e/orders"))
            .bearer_auth(f.value(0))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{n}");
    }
    let since = portico::domain::health::day_start(app.clock.now());
    // The call log takes the counted repeats within a moment.
    let mut agreed = false;
    for _ in 0..100 {
        let page = f.admin.read("/health").await;
        let mut all = true;
        for (token, name, method) in [
            (erp, "erp", "POST"),
            (shop, "shop-app", "POST"),
            (shop, "shop-app", "GET"),
        ] {
            let m = find(&page, name, method);
            let seen = (
                m["calls_24h"].as_i64().unwrap(),
                m["refusals_24h"].as_i64().unwrap(),
            );
            all &= seen == logged(&app, token, e, method, since).await;
        }
        if all {
            agreed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(agreed, "the Health figures match a count over the call log");
    let erp_post = find(&f.admin.read("/health").await, "erp", "POST").clone();
    assert_eq!(erp_post["refusals_24h"], 60);
    let folded = f
        .admin
        .read(&format!("/calls?token={erp}&limit=1000"))
        .await;
    assert!(
        folded["calls"].as_array().unwrap().len() < 60,
        "some repeats were folded: {}",
        folded["calls"].as_array().unwrap().len()
    );
    assert_eq!(
        find(&f.admin.read("/health").await, "shop-app", "GET")["calls_24h"],
        5
    );
}
on_each_backend!(
    the_aggregates_agree_with_the_call_log_with_folded_repeats_,
    the_aggregates_agree_with_the_call_log_with_folded_repeats
);

async fn the_health_page_shows_silence_and_renews_without_javascript(app: TestApp) {
    let f = app.two_apps().await;
    let (t, e) = (&f.tokens[0]["id"], &f.endpoint["id"]);
    let soon = (chrono::Utc::now() + chrono::TimeDelta::days(5)).to_rfc3339();
    let res = f
        .admin
        .patch(&format!("/tokens/{t}"), json!({"expires_at": soon}))
        .await;
    assert_eq!(res.status(), 200);
    let path = format!("/tokens/{t}/mappings/{e}/POST");
    let res = f
        .admin
        .put(&path, json!({"enabled": true, "expect_every_seconds": 60}))
        .await;
    assert_eq!(res.status(), 200);
    app.clock.advance(chrono::TimeDelta::seconds(90));

    let ui = common::ui::Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = ui.get("/ui/health?state=silent").await;
    assert_eq!(status, 200);
    assert!(html.contains("silent since "), "{html}");
    assert!(html.contains("1–1 of 1 mapping"), "{html}");
    assert!(
        html.contains("href=\"/ui/health\""),
        "linked in the navigation"
    );
    let renew = format!("id=\"renew-{t}-{e}-POST\"");
    assert!(html.contains(&renew), "Renew offered for an expiring token");
    // Without JavaScript: post, then back to the Health page as it was.
    let back = "/ui/health?state=silent";
    let res = ui
        .submit(
            &format!("/ui/tokens/{t}/lifecycle"),
            &[("action", "renew"), ("_back", back)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(common::ui::location(&res), back);
    let (_, html) = ui.get(back).await;
    assert!(html.contains("renewed until"), "the outcome is told");
    assert!(!html.contains(&renew), "no longer expiring");
    let page = f.admin.read("/health").await;
    assert_eq!(find(&page, "shop-app", "POST")["token"]["expiring"], false);
    // A bad choice is told on the page, not ignored.
    let (status, _) = ui.get("/ui/health?state=quiet").await;
    assert_eq!(status, 422);

    // Analysts see the page without Renew.
    let (_, analyst) = app.analyst().await;
    drop(analyst);
    let ana = common::ui::Ui::login(&app, "ana", ANALYST_PASSWORD).await;
    let (status, html) = ana.get("/ui/health").await;
    assert_eq!(status, 200);
    assert!(html.contains("shop-app") && !html.contains("renew-"));
}
on_each_backend!(
    the_health_page_shows_silence_and_renews_without_javascript_,
    the_health_page_shows_silence_and_renews_without_javascript
);

async fn the_cadence_is_set_from_the_health_page(app: TestApp) {
    let f = app.two_apps().await;
    let (t, e) = (f.tokens[0]["id"].to_string(), f.endpoint["id"].to_string());
    let ui = common::ui::Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, html) = ui.get("/ui/health").await;
    assert!(html.contains(&format!("id=\"every-{t}-{e}-POST\"")));
    let fields = |every: &'static str| {
        vec![
            ("token_id", t.clone()),
            ("endpoint_id", e.clone()),
            ("method", "POST".to_owned()),
            ("every", every.to_owned()),
            ("_back", "/ui/health?sort=token".to_owned()),
        ]
    };
    let post = |every: &'static str| {
        let fields = fields(every);
        let ui = &ui;
        async move {
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ui.submit("/ui/health/cadence", &borrowed).await
        }
    };
    let res = post("900").await;
    assert_eq!(res.status(), 303);
    assert_eq!(common::ui::location(&res), "/ui/health?sort=token");
    let m = find(&f.admin.read("/health").await, "shop-app", "POST").clone();
    assert_eq!(
        (m["expect_every_seconds"].as_i64(), m["enabled"].as_bool()),
        (Some(900), Some(true))
    );
    let (_, html) = ui.get("/ui/health?sort=token").await;
    assert!(
        html.contains("expected to call every 15 min"),
        "told: {}",
        common::ui::find(&html, "<main", "</h1>").unwrap_or("")
    );
    // Out of bounds: told, nothing changed.
    post("30").await;
    let (_, html) = ui.get("/ui/health?sort=token").await;
    assert!(html.contains("from 60 to"), "the bound is named");
    assert_eq!(
        find(&f.admin.read("/health").await, "shop-app", "POST")["expect_every_seconds"],
        900
    );
    post("").await;
    assert_eq!(
        find(&f.admin.read("/health").await, "shop-app", "POST")["expect_every_seconds"],
        Value::Null
    );
    // Analysts may not.
    let (_, _analyst) = app.analyst().await;
    let ana = common::ui::Ui::login(&app, "ana", ANALYST_PASSWORD).await;
    let res = ana
        .submit(
            "/ui/health/cadence",
            &[
                ("token_id", t.as_str()),
                ("endpoint_id", e.as_str()),
                ("method", "POST"),
                ("every", "900"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
}
on_each_backend!(
    the_cadence_is_set_from_the_health_page_,
    the_cadence_is_set_from_the_health_page
);
