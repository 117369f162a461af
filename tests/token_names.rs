//! Secondary token names are unique, ignoring case, so the viewer's token column is
//! never ambiguous: through the API (`409 name_taken`) and through the UI's forms.
//! (What an upgrade does to names an earlier version allowed twice: tests/upgrade.rs.)

mod common;

use common::ui::Ui;
use common::*;
use serde_json::{json, Value};

async fn token_names_are_unique_ignoring_case(app: TestApp) {
    let admin = app.admin().await;
    let shop: Value = admin
        .post("/tokens", json!({"name": "shop-app"}))
        .await
        .json()
        .await
        .unwrap();
    // The same name in other letters' case is taken; nothing is created.
    for name in ["shop-app", "SHOP-APP", "Shop-App"] {
        let res = admin.post("/tokens", json!({"name": name})).await;
        let problem = assert_problem(res, 409, "name_taken").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("ignoring case"),
            "{problem}"
        );
    }
    let all: Value = admin.get("/tokens?state=all").await.json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1, "{:?}", app.backend);

    // Renaming onto another token's name is refused too, and changes nothing.
    let erp: Value = admin
        .post("/tokens", json!({"name": "erp"}))
        .await
        .json()
        .await
        .unwrap();
    let res = admin
        .patch(
            &format!("/tokens/{}", erp["id"]),
            json!({"name": "SHOP-app", "description": "the ERP"}),
        )
        .await;
    assert_problem(res, 409, "name_taken").await;
    let unchanged: Value = admin
        .get(&format!("/tokens/{}", erp["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            unchanged["name"].as_str(),
            unchanged["description"].as_str()
        ),
        (Some("erp"), Some(""))
    );

    // A token may change the case of its own name; the old name is then free.
    let res = admin
        .patch(
            &format!("/tokens/{}", shop["id"]),
            json!({"name": "Shop-App"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = admin
        .patch(&format!("/tokens/{}", shop["id"]), json!({"name": "shop"}))
        .await;
    assert_eq!(res.status(), 200);
    let res = admin.post("/tokens", json!({"name": "shop-app"})).await;
    assert_eq!(
        res.status(),
        201,
        "{:?}: the name is free again",
        app.backend
    );

    // A deactivated token keeps its name: it may come back.
    let res = admin
        .post(&format!("/tokens/{}/deactivate", erp["id"]), json!({}))
        .await;
    assert!(res.status().is_success());
    let res = admin.post("/tokens", json!({"name": "ERP"})).await;
    assert_problem(res, 409, "name_taken").await;

    // The UI's form says so, and creates nothing.
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (status, page) = ui
        .submit_and_follow("/ui/tokens", &[("name", "Erp"), ("enabled", "on")])
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("another token has this name"), "{page}");
    let all: Value = admin.get("/tokens?state=all").await.json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3, "{:?}", app.backend);
}

on_each_backend!(
    token_names_are_unique_ignoring_case_test,
    token_names_are_unique_ignoring_case
);
