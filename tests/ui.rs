//! The admin web UI over real HTTP, as a browser without JavaScript would use it:
//! forms, redirects, cookies, CSRF, confirmations, roles and escaping.

mod common;

use common::ui::{find, location, revealed_values, switch_on, Ui};
use common::{TestApp, ADMIN_PASSWORD};
use serde_json::{json, Value};

async fn sign_in_and_out(app: TestApp) {
    let ui = Ui::new(&app);
    let res = ui
        .client
        .get(app.url("/ui/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/ui/login?next=%2Fui%2Fendpoints");

    let res = ui
        .form_raw(
            "/ui/login",
            &[
                ("username", "admin"),
                ("password", "wrong-password-1"),
                ("next", "/ui/endpoints"),
            ],
        )
        .await;
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    assert!(html.contains("Wrong username or password."));
    assert!(
        !html.contains("wrong-password-1"),
        "the password is not echoed"
    );

    let res = ui
        .form_raw(
            "/ui/login",
            &[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("next", "/ui/endpoints"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/ui/endpoints");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let res = ui
        .client
        .get(app.url("/ui/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");

    let session = cookie.split(';').next().unwrap().to_owned();
    let res = ui.submit("/ui/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/ui/login");
    // The old cookie is dead on the server, not only forgotten by the browser.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/ui/endpoints"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}
on_each_backend!(
    sign_in_and_out_ends_the_session_on_the_server,
    sign_in_and_out
);

async fn no_open_redirect(app: TestApp) {
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/ui//evil.example",
        "/e/x",
    ] {
        let ui = Ui::new(&app);
        let res = ui
            .form_raw(
                "/ui/login",
                &[
                    ("username", "admin"),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/ui/", "next={next}");
    }
}
on_each_backend!(login_never_redirects_off_site, no_open_redirect);

async fn cross_site_login(app: TestApp) {
    let ui = Ui::new(&app);
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = ui
            .client
            .post(app.url("/ui/login"))
            .header(name, value)
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{name}: {value}");
        assert!(res.headers().get("set-cookie").is_none());
    }
    let same = app.address.trim_start_matches("http://").to_owned();
    let res = ui
        .client
        .post(app.url("/ui/login"))
        .header("origin", format!("http://{same}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}
on_each_backend!(
    a_login_posted_from_another_site_is_refused,
    cross_site_login
);

async fn csrf_required(app: TestApp) {
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    for fields in [vec![], vec![("_csrf", "0".repeat(64))]] {
        let mut f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        f.extend([("name", "sneaky"), ("enabled", "on")]);
        let res = ui.form_raw("/ui/tokens", &f).await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("Form expired"));
    }
    let admin = app.admin().await;
    let tokens: Value = admin.get("/tokens?state=all").await.json().await.unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 0, "nothing was created");
}
on_each_backend!(
    forms_without_the_session_csrf_token_change_nothing,
    csrf_required
);

async fn journey(app: TestApp) {
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    // Create an endpoint: its primary tokens are shown once, on the page that follows.
    let res = ui
        .submit(
            "/ui/endpoints",
            &[
                ("slug", "orders"),
                ("name", "Orders"),
                ("auth", "token"),
                ("enabled", "on"),
            ],
        )
        .await;
    // Post/redirect/get: a reload of the page that follows sends nothing again.
    assert_eq!(res.status(), 303);
    let shown_at = location(&res);
    assert!(shown_at.ends_with("/tokens"), "{shown_at}");
    let (_, html) = ui.get(&shown_at).await;
    assert!(html.contains("Endpoint Orders created."));
    let primaries = revealed_values(&html);
    assert_eq!(primaries.len(), 2, "POST and GET primary tokens revealed");
    let api = app.admin().await;
    let endpoints: Value = api.get("/endpoints").await.json().await.unwrap();
    let endpoint_id = endpoints[0]["id"].to_string();
    let res = app
        .ingest("orders", &primaries[0], json!({"via": "primary"}))
        .await;
    assert_eq!(res.status(), 201, "the revealed POST primary token works");
    let (_, again) = ui.get(&format!("/ui/endpoints/{endpoint_id}/tokens")).await;
    assert!(
        revealed_values(&again).is_empty(),
        "values are never shown again"
    );
    assert!(!again.contains(&primaries[0]));

    // Add a token: its value is shown once.
    let res = ui
        .submit(
            "/ui/tokens",
            &[
                ("name", "shop-app"),
                ("description", "the shop"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = ui.get(&location(&res)).await;
    let value = revealed_values(&html).pop().expect("token value revealed");
    let (_, reloaded) = ui.get(&location(&res)).await;
    assert!(revealed_values(&reloaded).is_empty(), "shown once");
    let tokens: Value = api.get("/tokens").await.json().await.unwrap();
    let token_id = tokens[0]["id"].to_string();

    // Not mapped yet; the endpoint's Tokens tab hides it under "Hide unassigned".
    assert_eq!(
        app.ingest("orders", &value, json!({"n": 1})).await.status(),
        403
    );
    let (_, tab) = ui
        .get(&format!(
            "/ui/endpoints/{endpoint_id}/tokens?endpoint={endpoint_id}"
        ))
        .await;
    assert!(!tab.contains("shop-app"));

    // Map it onto POST with the switch.
    let (_, tab) = ui
        .submit_and_follow(
            &format!("/ui/endpoints/{endpoint_id}/mappings"),
            &[
                ("_back", &format!("/ui/endpoints/{endpoint_id}/tokens")),
                ("token_id", &token_id),
                ("method", "POST"),
                ("action", "on"),
            ],
        )
        .await;
    assert!(tab
        .replace("&#x2F;", "/")
        .contains("POST mapping of shop-app onto /e/orders switched on."));
    assert_eq!(switch_on(&tab, &format!("map-{token_id}-POST")), Some(true));
    let (status, assign) = ui.get(&format!("/ui/tokens/{token_id}/assign")).await;
    assert_eq!(status, 200);
    assert_eq!(
        switch_on(&assign, &format!("assign-{endpoint_id}-POST")),
        Some(true)
    );
    assert_eq!(
        switch_on(&assign, &format!("assign-{endpoint_id}-GET")),
        Some(false)
    );
    let res = app.ingest("orders", &value, json!({"order": "A-1"})).await;
    assert_eq!(res.status(), 201);

    // The viewer shows the call under the token's name, also when filtered by it.
    let (status, viewer) = ui.get(&format!("/ui/viewer?token={token_id}")).await;
    assert_eq!(status, 200);
    assert!(viewer.contains("shop-app"));
    assert!(viewer.contains("class=\"status ok\">201<"));
    assert!(
        !viewer.contains("primary POST"),
        "the primary token's call is filtered out"
    );

    // Switch the mapping off (it asks first, naming it): the next POST is refused
    // and the viewer shows the 403.
    let back = format!("/ui/endpoints/{endpoint_id}/tokens");
    let off = [
        ("_back", back.as_str()),
        ("token_id", &token_id),
        ("method", "POST"),
        ("action", "off"),
    ];
    let ask = ui
        .submit(&format!("/ui/endpoints/{endpoint_id}/mappings"), &off)
        .await;
    assert_eq!(ask.status(), 200);
    let ask = ask.text().await.unwrap().replace("&#x2F;", "/");
    assert!(ask.contains("Switch off the POST mapping of shop-app onto /e/orders?"));
    let mut confirmed = off.to_vec();
    confirmed.push(("_confirmed", "1"));
    ui.submit_and_follow(&format!("/ui/endpoints/{endpoint_id}/mappings"), &confirmed)
        .await;
    let res = app.ingest("orders", &value, json!({"order": "A-2"})).await;
    assert_eq!(res.status(), 403);
    let (_, viewer) = ui
        .get(&format!("/ui/viewer?token={token_id}&status=403"))
        .await;
    assert!(viewer.contains("mapping_disabled"));
    assert!(!viewer.contains("class=\"status ok\">201<"));

    // The CSV export of the current filter is reachable with the session.
    let export = find(&viewer, "href=\"/api/v1/calls/export", "\"")
        .unwrap()
        .replace("&amp;", "&");
    let csv = ui
        .client
        .get(app.url(&format!("/api/v1/calls/export{export}")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.contains("mapping_disabled") && !csv.contains(",201,"),
        "{csv}"
    );
}
on_each_backend!(admin_journey_from_endpoint_to_refused_call, journey);

async fn analyst_only_views(app: TestApp) {
    let admin = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = admin
        .submit_and_follow(
            "/ui/users",
            &[
                ("_back", "/ui/users"),
                ("username", "ana"),
                ("password", "analyst-password-1"),
                ("role", "analyst"),
            ],
        )
        .await;
    assert!(page.contains("ana added as analyst."));
    let ana = Ui::login(&app, "ana", "analyst-password-1").await;
    let res = ana.client.get(app.url("/ui/")).send().await.unwrap();
    assert_eq!(location(&res), "/ui/viewer");
    let (status, viewer) = ana.get("/ui/viewer").await;
    assert_eq!(status, 200);
    assert!(
        !viewer.contains("href=\"/ui/endpoints\""),
        "no admin navigation"
    );
    for path in [
        "/ui/endpoints",
        "/ui/endpoints/new",
        "/ui/tokens",
        "/ui/tokens/new",
        "/ui/users",
        "/ui/audit",
        "/ui/endpoints/1",
        "/ui/tokens/1",
        "/ui/tokens/1/assign",
    ] {
        let (status, html) = ana.get(path).await;
        assert_eq!(status, 403, "{path}");
        assert!(html.contains("Admins only"));
    }
    let res = ana
        .submit("/ui/tokens", &[("name", "x"), ("enabled", "on")])
        .await;
    assert_eq!(res.status(), 403);
    let res = ana
        .submit(
            "/ui/users",
            &[
                ("username", "eve"),
                ("password", "eve-password-123"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let users: Value = app.admin().await.get("/users").await.json().await.unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
}
on_each_backend!(analyst_reaches_only_the_data_viewer, analyst_only_views);

async fn inert(app: TestApp) {
    let api = app.admin().await;
    let e = api.create_endpoint("inert", json!({})).await;
    let hostile = "<script>alert(1)</script>";
    let t = api
        .post(
            "/tokens",
            json!({"name": hostile, "description": "<img src=x onerror=alert(2)>"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    api.map(&t["id"], &e["id"], "POST", true).await;
    let res = app
        .ingest(
            "inert",
            t["token"].as_str().unwrap(),
            json!({"html": "<img src=x onerror=alert(3)>", "s": "</pre><script>alert(4)</script>"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let calls: Value = api.get("/calls").await.json().await.unwrap();
    let call_id = calls["calls"][0]["id"].as_i64().unwrap();
    for path in [
        "/ui/tokens".to_owned(),
        format!("/ui/tokens/{}", t["id"]),
        format!("/ui/endpoints/{}/tokens", e["id"]),
        "/ui/viewer".to_owned(),
        format!("/ui/viewer/calls/{call_id}"),
        "/ui/audit".to_owned(),
    ] {
        let (status, html) = ui.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains("<script>alert"),
            "{path} renders a script tag"
        );
        assert!(!html.contains("<img src=x"), "{path} renders an img tag");
    }
    let (_, detail) = ui.get(&format!("/ui/viewer/calls/{call_id}")).await;
    assert!(
        detail.contains("&lt;img src=x onerror=alert(3)&gt;"),
        "payload shown as text"
    );
    assert!(
        detail.contains("&quot;html&quot;: "),
        "payload pretty-printed"
    );
}
on_each_backend!(hostile_names_and_payloads_render_as_text, inert);

async fn confirmations(app: TestApp) {
    let api = app.admin().await;
    let t = api.create_token("to-delete").await;
    let id = t["id"].to_string();
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let path = format!("/ui/tokens/{id}/delete");
    let res = ui.submit(&path, &[("_back", "/ui/tokens")]).await;
    assert_eq!(res.status(), 200, "asks first");
    let html = res.text().await.unwrap().replace("&#x2F;", "/");
    assert!(html.contains("Please confirm") && html.contains("name=\"_confirmed\" value=\"1\""));
    assert!(html.contains(&format!("action=\"{path}\"")));
    assert_eq!(
        api.get(&format!("/tokens/{id}")).await.status(),
        200,
        "still there"
    );
    let res = ui
        .submit(&path, &[("_back", "/ui/tokens"), ("_confirmed", "1")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        api.get(&format!("/tokens/{id}")).await.status(),
        404,
        "gone once confirmed"
    );

    // Disabling an endpoint and bulk-deleting tokens ask as well.
    let e = api.create_endpoint("confirm-me", json!({})).await;
    let res = ui
        .submit(
            &format!("/ui/endpoints/{}/enabled", e["id"]),
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let ep: Value = api
        .get(&format!("/endpoints/{}", e["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ep["enabled"], true);
    let t2 = api.create_token("bulk-one").await;
    let res = ui
        .submit(
            "/ui/tokens/bulk",
            &[("action", "delete"), ("ids", &t2["id"].to_string())],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        api.get(&format!("/tokens/{}", t2["id"])).await.status(),
        200
    );
    let (_, page) = ui
        .submit_and_follow(
            "/ui/tokens/bulk",
            &[
                ("action", "delete"),
                ("ids", &t2["id"].to_string()),
                ("_confirmed", "1"),
            ],
        )
        .await;
    assert!(page.contains("1 token(s) deleted."), "{page}");
}
on_each_backend!(destructive_actions_ask_for_confirmation, confirmations);

async fn messages(app: TestApp) {
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = ui
        .submit_and_follow(
            "/ui/endpoints",
            &[
                ("_back", "/ui/endpoints"),
                ("slug", "Bad Slug!"),
                ("auth", "token"),
            ],
        )
        .await;
    assert!(page.contains("class=\"flash error\""), "{page}");
    assert!(page.contains("slug: "));
    let (_, page) = ui.get("/ui/endpoints").await;
    assert!(
        !page.contains("class=\"flash error\""),
        "a message is shown once"
    );
    let (status, page) = ui.get("/ui/viewer?since=yesterday").await;
    assert_eq!(status, 422);
    assert!(page.contains("since: "));
    let (status, _) = ui.get("/ui/endpoints/999999").await;
    assert_eq!(status, 404);
}
on_each_backend!(mistakes_come_back_as_messages, messages);

async fn live_tail(app: TestApp) {
    let api = app.admin().await;
    let e = api.create_endpoint("tail", json!({})).await;
    let t = api.create_token("tail-app").await;
    api.map(&t["id"], &e["id"], "POST", true).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let mut res = ui
        .client
        .get(app.url(&format!("/ui/viewer/stream?token={}&after=0", t["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(
        app.ingest("tail", t["token"].as_str().unwrap(), json!({"n": 1}))
            .await
            .status(),
        201
    );
    let mut seen = String::new();
    let found = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(chunk) = res.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: call") && seen.contains("tail-app") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    assert!(seen.contains("data: <tr data-call="));

    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = anonymous
        .get(app.url("/ui/viewer/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the stream needs a session");
}
on_each_backend!(live_tail_streams_new_calls, live_tail);

async fn token_picker(app: TestApp) {
    let api = app.admin().await;
    for i in 0..55 {
        api.create_token(&format!("alpha-{i:02}")).await;
    }
    let zeta = api.create_token("zeta-app").await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, viewer) = ui.get("/ui/viewer").await;
    assert!(viewer.contains("alpha-00"));
    assert!(
        !viewer.contains("zeta-app"),
        "only the first tokens are listed"
    );
    assert!(viewer.contains("More tokens exist"));
    let (status, options) = ui.get("/ui/viewer/token-options?q=ZETA").await;
    assert_eq!(status, 200);
    assert!(options.contains("zeta-app") && !options.contains("alpha-00"));
    let (_, options) = ui
        .get(&format!(
            "/ui/viewer/token-options?q=alpha-0&token={}",
            zeta["id"]
        ))
        .await;
    assert!(
        options.contains(&format!("value=\"{}\" checked", zeta["id"])),
        "a chosen token stays listed and checked"
    );
    assert!(options.contains("alpha-09") && !options.contains("alpha-10"));
    let (_, viewer) = ui.get(&format!("/ui/viewer?token={}", zeta["id"])).await;
    assert!(viewer.contains(&format!("value=\"{}\" checked", zeta["id"])));
    let (status, _) = ui.get("/ui/viewer/token-options?token=x").await;
    assert_eq!(status, 422);
}
on_each_backend!(the_token_picker_narrows_thousands_of_tokens, token_picker);
