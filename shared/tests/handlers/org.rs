//! Organization lifecycle: create, get, update (rename, email, password), delete.

use lambda_http::http::{Method, StatusCode};
use mongodb::bson::doc;
use serde_json::json;
use tenant::{
    App,
    routes::{organizations, sessions},
};

use crate::common::*;

/// `POST /org/create` with a raw body of a content type.
async fn create_raw(app: &App, body: &str, content_type: &str) -> Res {
    let req = Req::new(Method::POST, "/org/create").raw(body, content_type);
    call(app, organizations::create, &req).await
}

/// `DELETE /org/delete` by `token`, confirmed with the organization name `name`.
async fn delete_named(app: &App, token: &str, name: &str) -> Res {
    let req = Req::delete("/org/delete")
        .query("organization_name", name)
        .token(token);
    call(app, organizations::delete, &req).await
}

#[tokio::test]
async fn create_answers_201_in_the_contract_shape() {
    let app = app().await;
    let name = unique("Acme-Corp-");
    let email = format!("Admin-{}@Example.COM", unique(""));
    let res = create_org(&app, create_body(&name, &email, PASSWORD)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let lower = name.to_lowercase();
    let collection = format!("org_{}", lower.replace('-', "_"));
    let b = &res.body;
    assert_eq!(b["organization_name"], lower);
    assert_eq!(b["email"], email.to_lowercase());
    assert_eq!(b["collection_name"], collection);
    assert_eq!(b["connection_details"], format!("Collection: {collection}"));
    assert!(b["updated_at"].is_null());
    assert!(b["created_at"].as_str().unwrap().ends_with('Z'));
    let id = b["id"].as_str().unwrap();
    assert!(id.len() == 24 && id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(b.as_object().unwrap().len(), 7, "unexpected fields: {b}");
    assert!(!res.text.contains("$2b$") && !res.text.contains(PASSWORD));
    assert_eq!(res.headers["content-type"], "application/json");
    assert!(res.headers.contains_key("x-request-id"));
    let names = tenant_db(&app).list_collection_names().await.unwrap();
    assert!(
        names.contains(&collection),
        "collection {collection} not created"
    );
}

#[tokio::test]
async fn create_refuses_bad_input_with_422() {
    let app = app().await;
    let n = unique("v");
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            json!({ "email": "a@b.co", "password": PASSWORD }),
            "organization_name",
        ),
        (
            json!({ "organization_name": n, "password": PASSWORD }),
            "email",
        ),
        (
            json!({ "organization_name": n, "email": "a@b.co" }),
            "password",
        ),
        (create_body("ab", "a@b.co", PASSWORD), "organization_name"),
        (
            create_body(&"a".repeat(51), "a@b.co", PASSWORD),
            "organization_name",
        ),
        (
            create_body("bad name", "a@b.co", PASSWORD),
            "organization_name",
        ),
        (
            create_body("system.x", "a@b.co", PASSWORD),
            "organization_name",
        ),
        (create_body("$cmd", "a@b.co", PASSWORD), "organization_name"),
        (create_body("..", "a@b.co", PASSWORD), "organization_name"),
        (
            create_body("nul\u{0}byte", "a@b.co", PASSWORD),
            "organization_name",
        ),
        (
            create_body("\u{430}cme", "a@b.co", PASSWORD),
            "organization_name",
        ),
        (create_body(&n, "not-an-email", PASSWORD), "email"),
        (create_body(&n, "a@b.co", "Sh0rt"), "password"),
        (create_body(&n, "a@b.co", "nouppercase1"), "password"),
        (create_body(&n, "a@b.co", "NOLOWERCASE1"), "password"),
        (create_body(&n, "a@b.co", "NoDigitsAtAll"), "password"),
        (
            create_body(&n, "a@b.co", &format!("Aa1{}", "x".repeat(70))),
            "password",
        ),
        (
            json!({ "organization_name": n, "email": { "$gt": "" }, "password": PASSWORD }),
            "email",
        ),
        (
            json!({ "organization_name": { "$ne": null }, "email": "a@b.co", "password": PASSWORD }),
            "organization_name",
        ),
        (
            json!({ "organization_name": n, "email": "a@b.co", "password": { "$gt": "" } }),
            "password",
        ),
    ];
    for (body, field) in cases {
        let res = create_org(&app, body.clone()).await;
        assert_eq!(res.status, 422, "{body} -> {}", res.text);
        assert_eq!(
            res.locs(),
            vec![format!("[\"body\",\"{field}\"]")],
            "{body}"
        );
        assert!(!res.text.contains(PASSWORD));
    }
    let raw_cases = [
        ("{not json", "application/json"),
        ("[1,2]", "application/json"),
        ("\"text\"", "application/json"),
        ("", "application/json"),
        (r#"{"organization_name":"x"}"#, "text/plain"),
    ];
    for (body, ct) in raw_cases {
        let res = create_raw(&app, body, ct).await;
        assert_eq!(res.status, 422, "{body:?} as {ct} -> {}", res.text);
        assert!(res.body["detail"].is_array());
    }
    let huge = format!(r#"{{"organization_name":"{}"}}"#, "a".repeat(70_000));
    let res = create_raw(&app, &huge, "application/json").await;
    assert_eq!(res.status, 413);
    let count = registry(&app)
        .count_documents(doc! { "$or": [{ "name": &n }, { "email": "a@b.co" }] })
        .await
        .unwrap();
    assert_eq!(count, 0, "a refused request changed data");
}

#[tokio::test]
async fn duplicate_names_and_emails_are_400_in_any_letter_case() {
    let app = app().await;
    let name = unique("dup-");
    let email = format!("{name}@example.com");
    let first = create_org(&app, create_body(&name, &email, PASSWORD)).await;
    assert_eq!(first.status, 201);
    let same_collection = name.replace('-', "_");
    for (other_name, other_email, why) in [
        (
            name.to_uppercase(),
            "other@example.com".to_owned(),
            "the name in capitals",
        ),
        (
            same_collection.clone(),
            "x@example.com".to_owned(),
            "a-b and a_b share a collection",
        ),
        (
            unique("other"),
            email.to_uppercase(),
            "the email in capitals",
        ),
    ] {
        let res = create_org(&app, create_body(&other_name, &other_email, PASSWORD)).await;
        assert_eq!(res.status, 400, "{why}: {}", res.text);
        assert!(
            res.detail().contains("already exists"),
            "{why}: {}",
            res.text
        );
    }
    let count = registry(&app)
        .count_documents(
            doc! { "$or": [{ "name": &name }, { "email": &email }, { "name": &same_collection }] },
        )
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn get_finds_by_name_in_any_case_and_never_shows_secrets() {
    let app = app().await;
    let o = signup(&app).await;
    let res = get_org(&app, &o.name.to_uppercase()).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["id"], o.id);
    assert!(
        !res.text.contains("password") && !res.text.contains("$2b$") && !res.text.contains("token")
    );
    let missing = get_org(&app, "nosuchorg").await;
    assert_eq!(missing.status, 404);
    assert!(missing.detail().contains("not found"));
    let no_param = call(&app, organizations::get, &Req::get("/org/get")).await;
    assert_eq!(no_param.status, 422);
    assert_eq!(no_param.locs(), vec![r#"["query","organization_name"]"#]);
    let bad = get_org(&app, "{\"$gt\":\"\"}").await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn rename_moves_every_document_and_frees_the_old_name() {
    let app = app().await;
    let o = signup(&app).await;
    for i in 0..5 {
        add_item(&app, &o.token, json!({ "n": i })).await;
    }
    let new = unique("Renamed-");
    let res = update_org(&app, &o.token, json!({ "organization_name": new })).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let new_collection = format!("org_{}", new.to_lowercase().replace('-', "_"));
    assert_eq!(res.body["organization_name"], new.to_lowercase());
    assert_eq!(res.body["collection_name"], new_collection);
    assert!(res.body["updated_at"].is_string());
    let names = tenant_db(&app).list_collection_names().await.unwrap();
    assert!(names.contains(&new_collection));
    assert!(
        !names.contains(&format!("org_{}", o.name)),
        "old collection left behind"
    );
    let list = list_items(&app, &o.token).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        5,
        "{}",
        list.text
    );
    let old = get_org(&app, &o.name).await;
    assert_eq!(old.status, 404);
    let email = format!("{}@example.com", unique("e"));
    let reuse = create_org(&app, create_body(&o.name, &email, PASSWORD)).await;
    assert_eq!(reuse.status, 201, "old name not free: {}", reuse.text);
}

#[tokio::test]
async fn rename_onto_a_taken_name_is_400_and_changes_nothing() {
    let app = app().await;
    let a = signup(&app).await;
    let b = signup(&app).await;
    add_item(&app, &a.token, json!({ "keep": true })).await;
    let res = update_org(
        &app,
        &a.token,
        json!({ "organization_name": b.name.to_uppercase(), "email": "new@example.com" }),
    )
    .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert!(res.detail().contains("already exists"));
    let still = get_org(&app, &a.name).await;
    assert_eq!(still.status, 200);
    assert_eq!(
        still.body["email"], a.email,
        "email changed although the update failed"
    );
    assert_eq!(still.body["collection_name"], format!("org_{}", a.name));
    let list = list_items(&app, &a.token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let b_items = list_items(&app, &b.token).await;
    assert_eq!(b_items.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn email_and_password_changes_and_token_revocation() {
    let app = app().await;
    let a = signup(&app).await;
    let b = signup(&app).await;
    let taken = update_org(&app, &a.token, json!({ "email": b.email })).await;
    assert_eq!(taken.status, 400);
    let new_email = format!("{}@example.org", unique("new"));
    let res = update_org(&app, &a.token, json!({ "email": new_email.to_uppercase() })).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["email"], new_email);
    let res = update_org(&app, &a.token, json!({ "password": "N3wPassword" })).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let old = list_items(&app, &a.token).await;
    assert_eq!(
        old.status, 401,
        "token issued before the password change still works"
    );
    assert_eq!(old.headers["www-authenticate"], "Bearer");
    let wrong = call(&app, sessions::login, &login_req(&new_email, PASSWORD)).await;
    assert_eq!(wrong.status, 401);
    let token = login(&app, &new_email, "N3wPassword").await;
    let ok = list_items(&app, &token).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn update_needs_a_field_and_valid_values() {
    let app = app().await;
    let a = signup(&app).await;
    // No field (none, an unknown one, a null), then values that break the rules.
    for body in [
        json!({}),
        json!({ "unknown": 1 }),
        json!({ "organization_name": null }),
        json!({ "organization_name": "x" }),
        json!({ "email": "nope" }),
        json!({ "password": "weak" }),
        json!({ "email": { "$gt": "" } }),
    ] {
        let res = update_org(&app, &a.token, body.clone()).await;
        assert_eq!(res.status, 422, "{body}: {}", res.text);
    }
    let no_token = call(
        &app,
        organizations::update,
        &Req::put("/org/update", json!({ "email": "a@b.co" })),
    )
    .await;
    assert_eq!(no_token.status, 401);
}

#[tokio::test]
async fn delete_checks_the_name_removes_everything_and_revokes_tokens() {
    let app = app().await;
    let a = signup(&app).await;
    let b = signup(&app).await;
    add_item(&app, &a.token, json!({ "x": 1 })).await;
    let other = delete_named(&app, &a.token, &b.name).await;
    assert_eq!(other.status, 403, "{}", other.text);
    let bogus = delete_named(&app, &a.token, "$where").await;
    assert_eq!(bogus.status, 403);
    let res = delete_named(&app, &a.token, &a.name.to_uppercase()).await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert!(res.text.is_empty());
    let gone = get_org(&app, &a.name).await;
    assert_eq!(gone.status, 404);
    let names = tenant_db(&app).list_collection_names().await.unwrap();
    assert!(!names.contains(&format!("org_{}", a.name)));
    assert_revoked(&app, &[&a.token], "a token outlived its organization").await;
    let login = call(&app, sessions::login, &login_req(&a.email, PASSWORD)).await;
    assert_eq!(login.status, 401);
    let again = delete_org(&app, &b.token).await;
    assert_eq!(again.status, 204);
    let count = registry(&app)
        .count_documents(doc! { "email": { "$in": [&a.email, &b.email] } })
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn binary_bodies_that_are_not_utf8_are_422() {
    let app = app().await;
    let req = Req::new(Method::POST, "/org/create").binary(&[0xff, 0x05, 0xfe], "application/json");
    let res = call(&app, organizations::create, &req).await;
    assert_eq!(res.status, 422, "{}", res.text);
    assert_eq!(res.body["detail"][0]["type"], "json_invalid");
}
