//! The handler tests' harness: the shared test support ([`testkit`]), and the calls and
//! checks that several test files make.

pub use testkit::*;

use lambda_http::http::Method;
use mongodb::bson::{Document, doc};
use serde_json::{Value, json};
use tenant::{
    App,
    routes::{items, organizations},
};

/// `POST /admin/logout` with a token.
pub fn logout_req(token: &str) -> Req {
    Req::new(Method::POST, "/admin/logout").token(token)
}

/// `POST /org/create` with a JSON body.
pub async fn create_org(app: &App, body: Value) -> Res {
    call(app, organizations::create, &Req::post("/org/create", body)).await
}

/// `GET /org/get`: an organization found by its name.
pub async fn get_org(app: &App, name: &str) -> Res {
    call(
        app,
        organizations::get,
        &Req::get("/org/get").query("organization_name", name),
    )
    .await
}

/// `GET /org/me`: the organization and role of a token.
pub async fn me(app: &App, token: &str) -> Res {
    call(app, organizations::me, &Req::get("/org/me").token(token)).await
}

/// `PUT /org/update` with a JSON body, by a token.
pub async fn update_org(app: &App, token: &str, body: Value) -> Res {
    call(
        app,
        organizations::update,
        &Req::put("/org/update", body).token(token),
    )
    .await
}

/// `DELETE /org/delete` of the token's own organization (no name to check).
pub async fn delete_org(app: &App, token: &str) -> Res {
    call(
        app,
        organizations::delete,
        &Req::delete("/org/delete").token(token),
    )
    .await
}

/// A new API key of `role` in the organization of `token` (which must be 201).
pub async fn api_key(app: &App, token: &str, role: &str) -> String {
    let body = json!({ "name": format!("{role} robot"), "role": role });
    let req = Req::post("/org/api-keys", body).token(token);
    let res = call(app, tenant::routes::api_keys::create, &req).await;
    assert_eq!(res.status, 201, "{}", res.text);
    res.body["key"].as_str().unwrap().to_owned()
}

/// `GET /org/items`: the first page of the token's items.
pub async fn list_items(app: &App, token: &str) -> Res {
    call(app, items::list, &Req::get("/org/items").token(token)).await
}

/// `PUT /org/update` by a token: a rename to `name`.
pub async fn rename_org(app: &App, token: &str, name: &str) -> Res {
    update_org(app, token, json!({ "organization_name": name })).await
}

/// The data of every item of the token's organization (one page of up to 100).
pub async fn item_data(app: &App, token: &str) -> Vec<Value> {
    let req = Req::get("/org/items").query("limit", "100").token(token);
    let res = call(app, items::list, &req).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["data"].clone())
        .collect()
}

/// Asserts that each token is refused (401) where any token of a member works.
pub async fn assert_revoked(app: &App, tokens: &[&str], why: &str) {
    for (n, token) in tokens.iter().enumerate() {
        let res = list_items(app, token).await;
        assert_eq!(res.status, 401, "token {n}: {why}: {}", res.text);
    }
}

/// The user account of an email in the master database, if there is one.
pub async fn account(app: &App, email: &str) -> Option<Document> {
    app.store
        .databases()
        .0
        .collection::<Document>("users")
        .find_one(doc! { "email": email })
        .await
        .unwrap()
}

/// The claims of a JWT (its payload, decoded; the signature is not checked).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
