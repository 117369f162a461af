//! SPEC "Token rules" and the ingest failure table: every way of cutting access is
//! refused on the very next request after the management call was acknowledged.

mod common;

use chrono::{TimeDelta, Utc};
use common::*;
use serde_json::{json, Value};

async fn post_ok(app: &TestApp, token: &str) {
    let res = app.ingest("orders", token, json!({"n": 1})).await;
    assert_eq!(res.status(), 201, "{:?}", app.backend);
}

/// The newest call in the log.
async fn last_call(admin: &Session) -> Value {
    let calls: Value = admin.get("/calls?limit=1").await.json().await.unwrap();
    calls["calls"][0].clone()
}

async fn assert_401(res: reqwest::Response, code: &str) {
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        www.as_deref().is_some_and(|v| v.starts_with("Bearer")),
        "401 carries WWW-Authenticate: Bearer"
    );
    assert_problem(res, 401, code).await;
}

async fn disabling_a_token_refuses_its_next_request(app: TestApp) {
    let f = app.two_apps().await;
    post_ok(&app, f.value(0)).await;
    let res = f
        .admin
        .patch(
            &format!("/tokens/{}", f.tokens[0]["id"]),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(
        app.ingest("orders", f.value(0), json!({})).await,
        403,
        "token_disabled",
    )
    .await;
    post_ok(&app, f.value(1)).await;
    f.admin
        .patch(
            &format!("/tokens/{}", f.tokens[0]["id"]),
            json!({"enabled": true}),
        )
        .await;
    post_ok(&app, f.value(0)).await;
}

async fn deactivating_a_token_makes_it_unknown(app: TestApp) {
    let f = app.two_apps().await;
    let res = f
        .admin
        .post(
            &format!("/tokens/{}/deactivate", f.tokens[0]["id"]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_401(
        app.ingest("orders", f.value(0), json!({})).await,
        "token_invalid",
    )
    .await;
    let call = last_call(&f.admin).await;
    assert_eq!(call["token_kind"], "secondary");
    assert_eq!(call["code"], "token_invalid");
    f.admin
        .post(
            &format!("/tokens/{}/activate", f.tokens[0]["id"]),
            json!({}),
        )
        .await;
    post_ok(&app, f.value(0)).await;
}

async fn deleting_a_token_refuses_it_and_keeps_its_name_in_the_log(app: TestApp) {
    let f = app.two_apps().await;
    post_ok(&app, f.value(0)).await;
    assert_eq!(
        f.admin
            .delete(&format!("/tokens/{}", f.tokens[0]["id"]))
            .await
            .status(),
        204
    );
    assert_401(
        app.ingest("orders", f.value(0), json!({})).await,
        "token_invalid",
    )
    .await;
    assert_eq!(last_call(&f.admin).await["token_kind"], "unknown");
    let calls: Value = f
        .admin
        .get(&format!("/calls?token={}", f.tokens[0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        calls["calls"][0]["token_name"], "shop-app",
        "the deleted token's calls keep its name"
    );
    post_ok(&app, f.value(1)).await;
}

async fn unmapping_refuses_the_next_request(app: TestApp) {
    let f = app.two_apps().await;
    let path = format!(
        "/tokens/{}/mappings/{}/POST",
        f.tokens[0]["id"], f.endpoint["id"]
    );
    assert_eq!(f.admin.delete(&path).await.status(), 204);
    assert_problem(
        app.ingest("orders", f.value(0), json!({})).await,
        403,
        "token_not_mapped",
    )
    .await;
    assert_eq!(
        f.admin.delete(&path).await.status(),
        404,
        "already unmapped"
    );
    post_ok(&app, f.value(1)).await;
}

async fn disabled_mapping_cuts_only_that_branch(app: TestApp) {
    let f = app.two_apps().await;
    f.admin
        .map(&f.tokens[0]["id"], &f.endpoint["id"], "POST", false)
        .await;
    assert_problem(
        app.ingest("orders", f.value(0), json!({})).await,
        403,
        "mapping_disabled",
    )
    .await;
    post_ok(&app, f.value(1)).await;
    let get = app
        .client
        .get(app.url("/e/orders"))
        .bearer_auth(f.value(0))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200, "the token's GET mapping is untouched");
    f.admin
        .map(&f.tokens[0]["id"], &f.endpoint["id"], "POST", true)
        .await;
    post_ok(&app, f.value(0)).await;
}

async fn regenerating_without_grace_refuses_the_old_value_at_once(app: TestApp) {
    let f = app.two_apps().await;
    let res = f
        .admin
        .post(
            &format!("/tokens/{}/regenerate", f.tokens[0]["id"]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["token"].as_str().unwrap();
    assert_eq!(new.len(), 64);
    assert_ne!(new, f.value(0));
    assert_401(
        app.ingest("orders", f.value(0), json!({})).await,
        "token_invalid",
    )
    .await;
    post_ok(&app, new).await;
}

async fn regenerating_with_grace_keeps_the_old_value_until_it_ends(app: TestApp) {
    let f = app.two_apps().await;
    let res = f
        .admin
        .post(
            &format!("/tokens/{}/regenerate", f.tokens[0]["id"]),
            json!({"grace_seconds": 60}),
        )
        .await;
    let rotated: Value = res.json().await.unwrap();
    assert_eq!(rotated["status"], "rotating");
    post_ok(&app, f.value(0)).await;
    post_ok(&app, rotated["token"].as_str().unwrap()).await;
    app.clock.advance(TimeDelta::seconds(61));
    assert_401(
        app.ingest("orders", f.value(0), json!({})).await,
        "token_invalid",
    )
    .await;
    post_ok(&app, rotated["token"].as_str().unwrap()).await;
    let shown: Value = f
        .admin
        .get(&format!("/tokens/{}", f.tokens[0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "active");
    assert!(
        shown.get("token").is_none(),
        "the value is never shown again"
    );
}

async fn an_expired_token_is_refused_and_renew_brings_it_back(app: TestApp) {
    let f = app.two_apps().await;
    let soon = (Utc::now() + TimeDelta::minutes(5)).to_rfc3339();
    let res = f
        .admin
        .patch(
            &format!("/tokens/{}", f.tokens[0]["id"]),
            json!({"expires_at": soon}),
        )
        .await;
    assert_eq!(res.status(), 200);
    post_ok(&app, f.value(0)).await;
    app.clock.advance(TimeDelta::minutes(6));
    assert_401(
        app.ingest("orders", f.value(0), json!({})).await,
        "token_expired",
    )
    .await;
    let renewed: Value = f
        .admin
        .post(&format!("/tokens/{}/renew", f.tokens[0]["id"]), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let expires: chrono::DateTime<Utc> = renewed["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires > Utc::now() + TimeDelta::days(364),
        "renew extends by a year"
    );
    post_ok(&app, f.value(0)).await;
}

async fn disabling_the_endpoint_refuses_every_token(app: TestApp) {
    let f = app.two_apps().await;
    let res = f
        .admin
        .patch(
            &format!("/endpoints/{}", f.endpoint["id"]),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(
        app.ingest("orders", f.value(0), json!({})).await,
        403,
        "endpoint_disabled",
    )
    .await;
    assert_problem(
        app.ingest("orders", f.primary("POST"), json!({})).await,
        403,
        "endpoint_disabled",
    )
    .await;
    f.admin
        .patch(
            &format!("/endpoints/{}", f.endpoint["id"]),
            json!({"enabled": true}),
        )
        .await;
    post_ok(&app, f.value(0)).await;
}

async fn primary_tokens_work_per_method_and_regenerate(app: TestApp) {
    let f = app.two_apps().await;
    post_ok(&app, f.primary("POST")).await;
    let get = app
        .client
        .get(app.url("/e/orders"))
        .bearer_auth(f.primary("GET"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let wrong = app
        .client
        .get(app.url("/e/orders"))
        .bearer_auth(f.primary("POST"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 403, "token_not_mapped").await;
    let res = f
        .admin
        .post(
            &format!(
                "/endpoints/{}/primary-tokens/POST/regenerate",
                f.endpoint["id"]
            ),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["method"], "POST");
    assert_401(
        app.ingest("orders", f.primary("POST"), json!({})).await,
        "token_invalid",
    )
    .await;
    post_ok(&app, body["token"].as_str().unwrap()).await;
    let call = last_call(&f.admin).await;
    assert_eq!(
        (call["token_kind"].as_str(), call["token_method"].as_str()),
        (Some("primary"), Some("POST"))
    );
}

async fn missing_malformed_and_unknown_tokens_are_401(app: TestApp) {
    let f = app.two_apps().await;
    let none = app
        .client
        .post(app.url("/e/orders"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_401(none, "token_missing").await;
    assert_eq!(last_call(&f.admin).await["token_kind"], "none");
    let mut typo = f.value(0).to_owned().into_bytes();
    typo[5] = if typo[5] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    assert_401(
        app.ingest("orders", &typo, json!({})).await,
        "token_invalid",
    )
    .await;
    assert_401(
        app.ingest("orders", &f.value(0)[..63], json!({})).await,
        "token_invalid",
    )
    .await;
    assert_eq!(last_call(&f.admin).await["token_kind"], "unknown");
    // Well-formed, right checksum, never issued: a token of another instance.
    let stranger = f.admin.create_token("stranger").await;
    f.admin.delete(&format!("/tokens/{}", stranger["id"])).await;
    assert_401(
        app.ingest("orders", stranger["token"].as_str().unwrap(), json!({}))
            .await,
        "token_invalid",
    )
    .await;
    let basic = app
        .client
        .post(app.url("/e/orders"))
        .basic_auth("a", Some("b"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_401(basic, "token_missing").await;
}

async fn unknown_endpoint_is_404(app: TestApp) {
    let f = app.two_apps().await;
    assert_problem(
        app.ingest("nowhere", f.value(0), json!({})).await,
        404,
        "endpoint_not_found",
    )
    .await;
    let call = last_call(&f.admin).await;
    assert_eq!(
        (call["status"].as_i64(), call["endpoint_slug"].as_str()),
        (Some(404), Some("nowhere"))
    );
}

async fn allowlists_of_token_and_endpoint_refuse_other_addresses(app: TestApp) {
    let f = app.two_apps().await;
    let tok = format!("/tokens/{}", f.tokens[0]["id"]);
    f.admin
        .patch(&tok, json!({"ip_allowlist": ["10.9.9.9"]}))
        .await;
    assert_problem(
        app.ingest("orders", f.value(0), json!({})).await,
        403,
        "ip_not_allowed",
    )
    .await;
    f.admin
        .patch(&tok, json!({"ip_allowlist": ["127.0.0.0/8"]}))
        .await;
    post_ok(&app, f.value(0)).await;
    f.admin.patch(&tok, json!({"ip_allowlist": null})).await;
    let ep = format!("/endpoints/{}", f.endpoint["id"]);
    let res = f
        .admin
        .patch(&ep, json!({"ip_allowlist": ["192.168.0.0/16", "::1"]}))
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(
        app.ingest("orders", f.value(1), json!({})).await,
        403,
        "ip_not_allowed",
    )
    .await;
    assert_problem(
        app.ingest("orders", f.primary("POST"), json!({})).await,
        403,
        "ip_not_allowed",
    )
    .await;
    f.admin
        .patch(&ep, json!({"ip_allowlist": ["127.0.0.1"]}))
        .await;
    post_ok(&app, f.value(1)).await;
}

async fn rate_limited_token_gets_429_with_retry_after(app: TestApp) {
    let f = app.two_apps().await;
    f.admin
        .patch(
            &format!("/tokens/{}", f.tokens[0]["id"]),
            json!({"rate_limit_per_minute": 2}),
        )
        .await;
    post_ok(&app, f.value(0)).await;
    post_ok(&app, f.value(0)).await;
    let res = app.ingest("orders", f.value(0), json!({})).await;
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_problem(res, 429, "rate_limited").await;
    post_ok(&app, f.value(1)).await;
    app.clock.advance(TimeDelta::seconds(61));
    post_ok(&app, f.value(0)).await;
}

async fn bodies_are_checked_for_type_size_and_json(app: TestApp) {
    let f = app.two_apps().await;
    let send = |ct: &'static str, body: &'static str| {
        app.client
            .post(app.url("/e/orders"))
            .bearer_auth(f.value(0))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    assert_problem(
        send("text/plain", "{}").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        send("application/json", "{\"a\":").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        send("application/json", "").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_eq!(
        send("application/vnd.shop+json; charset=utf-8", "[1,2]")
            .await
            .unwrap()
            .status(),
        201
    );
    f.admin
        .patch(
            &format!("/endpoints/{}", f.endpoint["id"]),
            json!({"max_body_bytes": 10}),
        )
        .await;
    assert_problem(
        send("application/json", "{\"abcdefghij\":1}")
            .await
            .unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(
        send("application/json", "{\"a\":1}")
            .await
            .unwrap()
            .status(),
        201
    );
    // A chunked body without Content-Length is cut at the limit too.
    let stream = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>("{\"abc\":".to_owned()),
        Ok("\"defghijk\"}".to_owned()),
    ]);
    let chunked = app
        .client
        .post(app.url("/e/orders"))
        .bearer_auth(f.value(0))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(chunked, 413, "payload_too_large").await;
}

async fn deleting_is_405_until_allowed(app: TestApp) {
    let admin = app.admin().await;
    let ep = admin.create_endpoint("orders", json!({})).await;
    assert!(ep["primary_tokens"].get("DELETE").is_none());
    let post = ep["primary_tokens"]["POST"].as_str().unwrap();
    let created: Value = app
        .ingest("orders", post, json!({"a": 1}))
        .await
        .json()
        .await
        .unwrap();
    let del = app
        .client
        .delete(app.url(&format!("/e/orders/{}", created["id"])))
        .bearer_auth(post)
        .send()
        .await
        .unwrap();
    assert_problem(del, 405, "method_not_allowed").await;
    let res: Value = admin
        .patch(
            &format!("/endpoints/{}", ep["id"]),
            json!({"allow_delete": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let delete_token = res["primary_tokens"]["DELETE"].as_str().unwrap().to_owned();
    let del = app
        .client
        .delete(app.url(&format!("/e/orders/{}", created["id"])))
        .bearer_auth(&delete_token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let again = app
        .client
        .delete(app.url(&format!("/e/orders/{}", created["id"])))
        .bearer_auth(&delete_token)
        .send()
        .await
        .unwrap();
    assert_problem(again, 404, "not_found").await;
    app.ingest("orders", post, json!({"b": 1})).await;
    app.ingest("orders", post, json!({"c": 1})).await;
    let all = app
        .client
        .delete(app.url("/e/orders/all"))
        .bearer_auth(&delete_token)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 200);
    assert_eq!(all.json::<Value>().await.unwrap(), json!({"deleted": 2}));
    admin
        .patch(
            &format!("/endpoints/{}", ep["id"]),
            json!({"allow_delete": false}),
        )
        .await;
    let refused = app
        .client
        .delete(app.url("/e/orders/all"))
        .bearer_auth(&delete_token)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 405, "method_not_allowed").await;
}

on_each_backend!(
    disabling_a_token_refuses_its_next_request_test,
    disabling_a_token_refuses_its_next_request
);
on_each_backend!(
    deactivating_a_token_makes_it_unknown_test,
    deactivating_a_token_makes_it_unknown
);
on_each_backend!(
    deleting_a_token_refuses_it_and_keeps_its_name_in_the_log_test,
    deleting_a_token_refuses_it_and_keeps_its_name_in_the_log
);
on_each_backend!(
    unmapping_refuses_the_next_request_test,
    unmapping_refuses_the_next_request
);
on_each_backend!(
    disabled_mapping_cuts_only_that_branch_test,
    disabled_mapping_cuts_only_that_branch
);
on_each_backend!(
    regenerating_without_grace_refuses_the_old_value_at_once_test,
    regenerating_without_grace_refuses_the_old_value_at_once
);
on_each_backend!(
    regenerating_with_grace_keeps_the_old_value_until_it_ends_test,
    regenerating_with_grace_keeps_the_old_value_until_it_ends
);
on_each_backend!(
    an_expired_token_is_refused_and_renew_brings_it_back_test,
    an_expired_token_is_refused_and_renew_brings_it_back
);
on_each_backend!(
    disabling_the_endpoint_refuses_every_token_test,
    disabling_the_endpoint_refuses_every_token
);
on_each_backend!(
    primary_tokens_work_per_method_and_regenerate_test,
    primary_tokens_work_per_method_and_regenerate
);
on_each_backend!(
    missing_malformed_and_unknown_tokens_are_401_test,
    missing_malformed_and_unknown_tokens_are_401
);
on_each_backend!(unknown_endpoint_is_404_test, unknown_endpoint_is_404);
on_each_backend!(
    allowlists_of_token_and_endpoint_refuse_other_addresses_test,
    allowlists_of_token_and_endpoint_refuse_other_addresses
);
on_each_backend!(
    rate_limited_token_gets_429_with_retry_after_test,
    rate_limited_token_gets_429_with_retry_after
);
on_each_backend!(
    bodies_are_checked_for_type_size_and_json_test,
    bodies_are_checked_for_type_size_and_json
);
on_each_backend!(
    deleting_is_405_until_allowed_test,
    deleting_is_405_until_allowed
);

async fn a_change_on_one_instance_holds_on_the_next_request_to_another(app: TestApp) {
    let f = app.two_apps().await;
    let other = second_instance(&app).await;
    post_ok(&other, f.value(0)).await;
    f.admin
        .patch(
            &format!("/tokens/{}", f.tokens[0]["id"]),
            json!({"enabled": false}),
        )
        .await;
    assert_problem(
        other.ingest("orders", f.value(0), json!({})).await,
        403,
        "token_disabled",
    )
    .await;
    f.admin
        .map(&f.tokens[1]["id"], &f.endpoint["id"], "POST", false)
        .await;
    assert_problem(
        other.ingest("orders", f.value(1), json!({})).await,
        403,
        "mapping_disabled",
    )
    .await;
    let res = f
        .admin
        .post(
            &format!(
                "/endpoints/{}/primary-tokens/POST/regenerate",
                f.endpoint["id"]
            ),
            json!({}),
        )
        .await;
    let fresh: Value = res.json().await.unwrap();
    assert_401(
        other.ingest("orders", f.primary("POST"), json!({})).await,
        "token_invalid",
    )
    .await;
    post_ok(&other, fresh["token"].as_str().unwrap()).await;
}

on_each_backend!(
    a_change_on_one_instance_holds_on_the_next_request_to_another_test,
    a_change_on_one_instance_holds_on_the_next_request_to_another
);

/// A client whose connections come from `address` (any 127.x.y.z reaches the server).
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn post_from(app: &TestApp, client: &reqwest::Client, token: &str) -> reqwest::Response {
    client
        .post(app.url("/e/orders"))
        .bearer_auth(token)
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap()
}

async fn failed_tokens_slow_one_address(app: TestApp) {
    let f = app.two_apps().await;
    let guesser = client_from("127.0.0.2");
    let neighbour = client_from("127.0.0.3");
    let unknown = "A".repeat(64);
    // Five invalid tokens (unknown, then malformed) are refused as usual...
    for token in [
        unknown.as_str(),
        unknown.as_str(),
        unknown.as_str(),
        "short",
        "x y",
    ] {
        let res = post_from(&app, &guesser, token).await;
        assert_problem(res, 401, "token_invalid").await;
    }
    // ...after which every request from that address waits, even with a good token,
    // before any lookup.
    let res = post_from(&app, &guesser, f.value(0)).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let problem = assert_problem(res, 429, "rate_limited").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("invalid token from this address"),
        "{problem}"
    );
    // Another address is untouched: its good token works, its bad one is a plain 401.
    let res = post_from(&app, &neighbour, f.value(0)).await;
    assert_eq!(res.status(), 201, "{:?}", app.backend);
    let res = post_from(&app, &neighbour, &unknown).await;
    assert_problem(res, 401, "token_invalid").await;
    // Refusals while blocked are logged (and counted as calls), not silently dropped.
    let calls: Value = f.admin.get("/calls?status=429").await.json().await.unwrap();
    assert_eq!(calls["calls"][0]["code"], "rate_limited", "{calls}");
    // The block ends after a minute.
    app.clock.advance(TimeDelta::seconds(61));
    let res = post_from(&app, &guesser, f.value(0)).await;
    assert_eq!(res.status(), 201, "{:?}", app.backend);
}

on_each_backend!(
    repeated_invalid_tokens_from_one_address_are_slowed,
    failed_tokens_slow_one_address,
    portico::state::Settings {
        failed_token_limit: 5,
        ..portico::state::Settings::default()
    }
);

/// (hits, misses) of the ingest path's access cache so far, from `/metrics`.
async fn cache_lookups(app: &TestApp) -> (u64, u64) {
    let text = app.metrics().await;
    let count = |result: &str| {
        let prefix = format!("portico_access_cache_lookups_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |n| n.trim().parse().unwrap())
    };
    (count("hit"), count("miss"))
}

async fn changes_not_about_access_keep_the_ingest_cache(app: TestApp) {
    let f = app.mapped("orders", json!({}), &["shop-app"]).await;
    post_ok(&app, f.value(0)).await;
    post_ok(&app, f.value(0)).await;
    let (hits, misses) = cache_lookups(&app).await;
    assert!(hits >= 1 && misses >= 1, "the second request was a hit");
    // A user, an API key, a sign-in: none changes who may call what.
    let res = f
        .admin
        .post(
            "/users",
            json!({"username": "bob", "role": "analyst", "password": "bob-password-1234"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    f.admin.api_key("ci").await;
    app.login_as("bob", "bob-password-1234").await;
    post_ok(&app, f.value(0)).await;
    assert_eq!(
        cache_lookups(&app).await,
        (hits + 1, misses),
        "{:?}: the cache kept its facts",
        app.backend
    );
    // A change to a token does empty it, on the very next request.
    let res = f
        .admin
        .patch(
            &format!("/tokens/{}", f.tokens[0]["id"]),
            json!({"description": "the shop"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    post_ok(&app, f.value(0)).await;
    assert_eq!(
        cache_lookups(&app).await,
        (hits + 1, misses + 1),
        "{:?}",
        app.backend
    );
}

on_each_backend!(
    users_and_api_keys_leave_the_ingest_cache_alone,
    changes_not_about_access_keep_the_ingest_cache
);
