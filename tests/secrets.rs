//! No secret ever reaches a log line or a response other than the one that
//! reveals it once, and none is stored in clear.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use serde_json::{json, Value};

/// Everything the server logged during this test binary's run.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

/// Responses seen, minus the one reveal each secret is allowed.
#[derive(Default)]
struct Transcript {
    secrets: Vec<String>,
    seen: Vec<String>,
}

impl Transcript {
    async fn keep(&mut self, res: reqwest::Response) -> Value {
        let mut text = format!("{}\n", res.status());
        for (k, v) in res.headers() {
            text.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("")));
        }
        let body = res.text().await.unwrap();
        text.push_str(&body);
        self.seen.push(text);
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// A response that reveals secrets once: remembered as secrets, not scanned.
    async fn reveal(&mut self, res: reqwest::Response, fields: &[&str]) -> Value {
        let body: Value = res.json().await.unwrap();
        for f in fields {
            collect(&body[*f], &mut self.secrets);
        }
        body
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Object(m) => m.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// An analyst, an endpoint and a token mapped onto it: (endpoint id, token id, token).
async fn arrange(t: &mut Transcript, admin: &Session) -> (Value, Value, String) {
    let analyst_password = ANALYST_SECRET;
    t.secrets.push(analyst_password.to_owned());
    t.keep(
        admin
            .post(
                "/users",
                json!({"username": "ana", "role": "analyst", "password": analyst_password}),
            )
            .await,
    )
    .await;

    let ep = t
        .reveal(
            admin
                .post(
                    "/endpoints",
                    json!({"slug": "orders", "allow_delete": true}),
                )
                .await,
            &["primary_tokens"],
        )
        .await;
    let tok = t
        .reveal(
            admin.post("/tokens", json!({"name": "shop-app"})).await,
            &["token"],
        )
        .await;
    let token = tok["token"].as_str().unwrap().to_owned();
    let (ep_id, tok_id) = (ep["id"].clone(), tok["id"].clone());
    t.keep(
        admin
            .put(
                &format!("/tokens/{tok_id}/mappings/{ep_id}/POST"),
                json!({"enabled": true}),
            )
            .await,
    )
    .await;
    t.keep(
        admin
            .put(
                &format!("/tokens/{tok_id}/mappings/{ep_id}/GET"),
                json!({"enabled": true}),
            )
            .await,
    )
    .await;

    (ep_id, tok_id, token)
}

/// The token used by header and by query, well and badly.
async fn use_token(t: &mut Transcript, app: &TestApp, token: &str) {
    // Use the token by header and by query, well and badly.
    t.keep(app.ingest("orders", token, json!({"order": 1})).await)
        .await;
    t.keep(
        app.client
            .get(app.url(&format!("/e/orders?access_token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let typo = format!("{}x", &token[..63]);
    t.keep(app.ingest("orders", &typo, json!({"order": 2})).await)
        .await;
    t.keep(app.ingest("nowhere", token, json!({"order": 3})).await)
        .await;
}

/// Rotate with grace, use the old value, regenerate a primary, disable.
async fn rotate_and_disable(
    t: &mut Transcript,
    app: &TestApp,
    admin: &Session,
    ids: (&Value, &Value),
    token: &str,
) {
    let (ep_id, tok_id) = ids;
    // Rotate with grace, use the old value, regenerate a primary, disable.
    let rotated = t
        .reveal(
            admin
                .post(
                    &format!("/tokens/{tok_id}/regenerate"),
                    json!({"grace_seconds": 60}),
                )
                .await,
            &["token"],
        )
        .await;
    t.keep(app.ingest("orders", token, json!({"order": 4})).await)
        .await;
    t.keep(
        app.ingest(
            "orders",
            rotated["token"].as_str().unwrap(),
            json!({"order": 5}),
        )
        .await,
    )
    .await;
    t.reveal(
        admin
            .post(
                &format!("/endpoints/{ep_id}/primary-tokens/POST/regenerate"),
                json!({}),
            )
            .await,
        &["token"],
    )
    .await;
    t.keep(
        admin
            .patch(&format!("/tokens/{tok_id}"), json!({"enabled": false}))
            .await,
    )
    .await;
    t.keep(
        app.ingest(
            "orders",
            rotated["token"].as_str().unwrap(),
            json!({"order": 6}),
        )
        .await,
    )
    .await;
}

/// API keys created and used; everything an admin or analyst can read back.
async fn read_everything(
    t: &mut Transcript,
    app: &TestApp,
    admin: &Session,
    ids: (&Value, &Value),
) {
    let (ep_id, tok_id) = ids;
    // API keys: create, use, revoke.
    let key = t
        .reveal(
            admin.post("/me/api-keys", json!({"name": "ci"})).await,
            &["key"],
        )
        .await;
    let by_key = app
        .client
        .get(app.url("/api/v1/tokens"))
        .bearer_auth(key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    t.keep(by_key).await;

    // Everything an admin or analyst can read back.
    for path in [
        "/tokens?state=all",
        "/endpoints",
        &format!("/endpoints/{ep_id}"),
        &format!("/tokens/{tok_id}"),
        "/calls",
        "/audit",
        "/me/api-keys",
        "/users",
    ] {
        t.keep(admin.get(path).await).await;
    }
    t.keep(admin.get("/calls/export?format=csv").await).await;
    t.keep(admin.get("/calls/export?format=ndjson").await).await;
    let ana = app.login_as("ana", ANALYST_SECRET).await;
    t.secrets.push(ana.csrf.clone());
    t.keep(ana.get("/calls").await).await;
    t.keep(ana.post("/tokens", json!({"name": "nope"})).await)
        .await;
    t.keep(
        app.client
            .post(app.url("/api/v1/login"))
            .json(&json!({"username": "admin", "password": "wrong-password-guess"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    t.keep(app.client.get(app.url("/metrics")).send().await.unwrap())
        .await;
}

/// The web UI: a form login, a token created in a form, every page read back.
async fn use_the_ui(t: &mut Transcript, app: &TestApp, ids: (&Value, &Value)) {
    let (ep_id, tok_id) = ids;
    // The web UI: a form login, a token created in a form, every page read back.
    let ui = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let wrong = "wrong-ui-password-guess";
    t.secrets.push(wrong.to_owned());
    t.keep(
        ui.post(app.url("/ui/login"))
            .form(&[("username", "admin"), ("password", wrong)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let login = ui
        .post(app.url("/ui/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    assert_eq!(session.len(), 64);
    t.secrets.push(session);
    let page = ui
        .get(app.url("/ui/viewer"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = ui
        .post(app.url("/ui/tokens"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "ui-app"),
            ("enabled", "on"),
        ])
        .send()
        .await
        .unwrap();
    // The form redirects; the page it names shows the value once.
    let shown_at = res.headers()["location"].to_str().unwrap().to_owned();
    let created = ui
        .get(app.url(&shown_at))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let revealed = created.split("data-secret").next().unwrap();
    let value = revealed
        .rsplit("value=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(value.len(), 64, "the UI revealed the new token");
    t.secrets.push(value.to_owned());
    for path in [
        "/ui/endpoints".to_owned(),
        format!("/ui/endpoints/{ep_id}"),
        format!("/ui/endpoints/{ep_id}/tokens"),
        "/ui/tokens".to_owned(),
        format!("/ui/tokens/{tok_id}"),
        "/ui/viewer".to_owned(),
        "/ui/viewer/calls/1".to_owned(),
        "/ui/users".to_owned(),
        "/ui/audit".to_owned(),
    ] {
        let res = ui.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        t.keep(res).await;
    }
}

/// No secret in the logs, in any response kept, or (SQLite) in the database file.
fn assert_nothing_leaked(t: &Transcript, app: &TestApp) {
    assert!(
        t.secrets.len() >= 10,
        "the run revealed {} secrets",
        t.secrets.len()
    );
    let log_text = String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned();
    assert!(log_text.contains("handled"), "logs were captured");
    for secret in &t.secrets {
        assert!(
            !log_text.contains(secret.as_str()),
            "a secret reached the logs"
        );
        for (i, response) in t.seen.iter().enumerate() {
            assert!(
                !response.contains(secret.as_str()),
                "a secret reached response #{i}"
            );
        }
    }

    // At rest: neither token values nor passwords are stored in clear.
    if app.backend == Backend::Sqlite {
        let path = app.db_url.trim_start_matches("sqlite://").to_owned();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        let raw = String::from_utf8_lossy(&bytes);
        for secret in &t.secrets {
            assert!(
                !raw.contains(secret.as_str()),
                "a secret is stored in clear"
            );
        }
    }
}

const ANALYST_SECRET: &str = "analyst-password-secret-1";

async fn full_run_leaks_nothing(app: TestApp) {
    logs();
    let mut t = Transcript {
        secrets: vec![ADMIN_PASSWORD.to_owned(), ANALYST_SECRET.to_owned()],
        ..Default::default()
    };
    let admin = app.admin().await;
    t.secrets.push(admin.csrf.clone());
    let (ep_id, tok_id, token) = arrange(&mut t, &admin).await;
    let ids = (&ep_id, &tok_id);
    use_token(&mut t, &app, &token).await;
    rotate_and_disable(&mut t, &app, &admin, ids, &token).await;
    read_everything(&mut t, &app, &admin, ids).await;
    use_the_ui(&mut t, &app, ids).await;
    t.keep(admin.post("/logout", json!({})).await).await;
    assert_nothing_leaked(&t, &app);
}

on_each_backend!(
    no_secret_reaches_logs_responses_or_storage,
    full_run_leaks_nothing
);

/// `Debug` of every type that holds a secret prints a redaction, never the value
/// (a value that reaches a `tracing` field or a panic message through `{:?}` stays hidden).
#[test]
fn debug_of_every_secret_type_redacts() {
    use portico::db::DatabaseUrl;
    use portico::domain::secret::Password;
    use portico::domain::token::TokenValue;
    use portico::store::endpoints::PrimaryTokenRow;
    use portico::store::tokens::{NewToken, TokenRow};
    use portico::store::users::{ApiKeyRow, SessionRow, UserRow};

    let now = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let token = TokenValue::generate();
    let hash = token.hash();
    // 0xA7 prints as 167 in a byte list: it must appear nowhere.
    let secret_bytes = portico::domain::token::TokenHash::from_stored(&[0xA7u8; 32]).unwrap();
    let printed = [
        format!("{:?}", Password::new("hunter2-correct-horse".into())),
        format!("{token:?}"),
        format!("{hash:?}"),
        format!(
            "{:?}",
            DatabaseUrl::parse("postgres://portico:hunter2-correct-horse@db/portico").unwrap()
        ),
        format!(
            "{:?}",
            UserRow {
                id: 1,
                username: "admin".into(),
                password_hash: "$argon2id$v=19$hunter2-correct-horse".into(),
                role: portico::domain::user::Role::Admin,
                created_at: now,
                updated_at: now,
            }
        ),
        format!(
            "{:?}",
            ApiKeyRow {
                id: 1,
                user_id: 1,
                name: "ci".into(),
                key_hash: secret_bytes.clone(),
                hint: "abcd…wxyz".into(),
                created_at: now,
                expires_at: None,
                last_used_at: None,
            }
        ),
        format!(
            "{:?}",
            SessionRow {
                id: 1,
                session_hash: secret_bytes.clone(),
                csrf_hash: secret_bytes.clone(),
                user_id: 1,
                created_at: now,
                expires_at: now,
                reveal: Some(vec![0xA7; 48]),
            }
        ),
        format!(
            "{:?}",
            PrimaryTokenRow {
                id: 1,
                endpoint_id: 1,
                method: portico::domain::endpoint::Method::Post,
                token_hash: secret_bytes.clone(),
                hint: "abcd…wxyz".into(),
                created_at: now,
                last_used_at: None,
            }
        ),
        format!(
            "{:?}",
            TokenRow {
                id: 1,
                name: "shop".into(),
                description: String::new(),
                token_hash: secret_bytes.clone(),
                hint: "abcd…wxyz".into(),
                previous_hash: Some(secret_bytes.clone()),
                previous_valid_until: None,
                enabled: true,
                active: true,
                expires_at: None,
                rate_limit_per_minute: None,
                ip_allowlist: None,
                created_by: "admin".into(),
                created_at: now,
                updated_at: now,
                last_used_at: None,
            }
        ),
        format!(
            "{:?}",
            NewToken {
                name: "shop",
                description: "",
                token_hash: &secret_bytes,
                hint: "abcd…wxyz",
                enabled: true,
                active: true,
                expires_at: None,
                rate_limit_per_minute: None,
                ip_allowlist: None,
                created_by: "admin",
                created_at: now,
                updated_at: now,
            }
        ),
    ];
    let hex: String = hash.to_array().iter().map(|b| format!("{b:02x}")).collect();
    for p in &printed {
        assert!(p.contains("redacted"), "{p}");
        for secret in ["hunter2", token.expose(), "167", &hex, "argon2"] {
            assert!(!p.contains(secret), "{p} shows a secret");
        }
    }
}
