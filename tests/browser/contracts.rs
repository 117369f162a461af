//! The Schema tab in the browser: draft from recent records, check against them,
//! save in enforce mode; a refused POST then shows in the viewer as
//! `schema_violation`, its detail naming the pointer.

use serde_json::json;

use crate::common::TestApp;
use crate::driver::Browser;

pub async fn schema_tab(b: &mut Browser, app: &TestApp, eid: i64, post_token: &str) {
    b.goto(&format!("/ui/endpoints/{eid}/schema")).await;
    b.wait_text("#schema-mode", "No").await;
    b.shot("schema-tab-empty").await;
    b.click("#draft-schema").await;
    b.wait_text("#draft-note", "Drafted from").await;
    assert!(b.value("#schema-text").await.contains("2020-12"));
    b.shot("schema-drafted").await;

    // An edited, stricter schema: checked against the records before it is saved.
    let strict = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["order"],
        "properties": {"order": {"type": "string"}}
    });
    b.js(&format!(
        "document.getElementById('schema-text').value = {}; return 1;",
        serde_json::to_string(&strict.to_string()).unwrap()
    ))
    .await;
    b.click("#preview-schema").await;
    b.wait_text("#schema-preview", "would have been refused")
        .await;
    b.shot("schema-preview").await;
    b.click("input[name=mode][value=enforce]").await;
    b.click("#save-schema").await;
    b.wait_text(
        ".flash",
        "Schema version 1 saved; it is in force (enforce).",
    )
    .await;
    b.el("#schema-versions .badge.ok").await;

    // A body without `order` is refused, and the viewer says where.
    let res = app.ingest("orders", post_token, json!({"total": 3})).await;
    assert_eq!(res.status(), 422);
    b.goto(&format!("/ui/viewer?endpoint={eid}&conforms=false"))
        .await;
    b.wait_text("#calls-body tr:first-child", "schema_violation")
        .await;
    b.shot("viewer-non-conforming").await;
    b.click("#calls-body tr:first-child a").await;
    b.wait_text("main", "does not conform").await;
    assert!(
        b.text("main").await.contains("required"),
        "names what is missing"
    );
    b.shot("call-schema-violation").await;

    // Out of force again (the rest of the journey posts free-form bodies).
    b.goto(&format!("/ui/endpoints/{eid}/schema")).await;
    b.click("#remove-schema").await;
    b.el("#confirm-dialog[open]").await;
    b.click("#confirm-ok").await;
    b.wait_text(".flash", "Schema taken out of force.").await;
}
