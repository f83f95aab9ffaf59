//! (v3) An organization's profile: `metadata` (merged, within its limits) and
//! `external_id` (unique), given at creation or changed by owners and admins, shown to
//! the organization's members and never on the public `GET /org/get`.

use futures_util::future::join_all;
use serde_json::{Value, json};
use tenant::App;
use tenant::routes::organizations;

use crate::common::*;

async fn create_with(app: &App, extra: Value) -> Res {
    let name = unique("prof");
    let mut body = create_body(&name, &format!("{name}@example.com"), PASSWORD);
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    call(app, organizations::create, &Req::post("/org/create", body)).await
}

async fn profile_of(app: &App, token: &str) -> Value {
    let res = me(app, token).await;
    assert_eq!(res.status, 200, "{}", res.text);
    json!({
        "metadata": res.body["organization"]["metadata"],
        "external_id": res.body["organization"]["external_id"],
    })
}

#[tokio::test]
async fn a_profile_given_at_creation_is_shown_to_members_and_never_publicly() {
    let app = app().await;
    let ext = unique("cus_");
    let made = create_with(
        &app,
        json!({ "metadata": { "plan": "pro", "crm.id": "0015g" }, "external_id": ext }),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(
        made.body["metadata"],
        json!({ "plan": "pro", "crm.id": "0015g" })
    );
    assert_eq!(made.body["external_id"], json!(ext));
    let name = made.body["organization_name"].as_str().unwrap().to_owned();
    let public = get_org(&app, &name).await;
    assert_eq!(public.status, 200);
    assert!(public.body.get("metadata").is_none() && public.body.get("external_id").is_none());
    assert!(!public.text.contains("0015g") && !public.text.contains(&ext));
    let login = call(
        &app,
        tenant::routes::sessions::login,
        &login_req(made.body["email"].as_str().unwrap(), PASSWORD),
    )
    .await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let shown = profile_of(&app, &token).await;
    assert_eq!(shown["metadata"]["plan"], "pro");
    assert_eq!(shown["external_id"], json!(ext));
    // Without a profile, the create answer is the first releases' and /org/me shows
    // empty metadata and a null external id.
    let plain = signup(&app).await;
    assert_eq!(
        profile_of(&app, &plain.token).await,
        json!({ "metadata": {}, "external_id": null })
    );
}

#[tokio::test]
async fn metadata_merge_and_a_null_removes_a_key() {
    let app = app().await;
    let o = signup(&app).await;
    let put = |body: Value| Req::put("/org/update", body).token(&o.token);
    let first = call(
        &app,
        organizations::update,
        &put(json!({ "metadata": { "a": "1", "b": "2" } })),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["metadata"], json!({ "a": "1", "b": "2" }));
    let second = call(
        &app,
        organizations::update,
        &put(json!({ "metadata": { "a": null, "c": "3" }, "external_id": "acct-1" })),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text);
    let ext = second.body["external_id"].clone();
    assert_eq!(
        profile_of(&app, &o.token).await,
        json!({ "metadata": { "b": "2", "c": "3" }, "external_id": ext })
    );
    let cleared = call(
        &app,
        organizations::update,
        &put(json!({ "external_id": null, "metadata": { "b": null, "c": null } })),
    )
    .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(
        profile_of(&app, &o.token).await,
        json!({ "metadata": {}, "external_id": null })
    );
    // The change is in the audit log.
    let log = call(
        &app,
        tenant::routes::audit::list,
        &Req::get("/org/audit")
            .query("action", "organization.updated")
            .token(&o.token),
    )
    .await;
    assert_eq!(
        log.body["events"].as_array().unwrap().len(),
        3,
        "{}",
        log.text
    );
}

#[tokio::test]
async fn metadata_past_its_limits_is_422_and_changes_nothing() {
    let app = app().await;
    let o = signup(&app).await;
    let put = |body: Value| Req::put("/org/update", body).token(&o.token);
    let many: serde_json::Map<String, Value> =
        (0..45).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(
        call(
            &app,
            organizations::update,
            &put(json!({ "metadata": many }))
        )
        .await
        .status,
        200
    );
    let before = profile_of(&app, &o.token).await;
    let more: serde_json::Map<String, Value> =
        (0..6).map(|i| (format!("n{i}"), json!("v"))).collect();
    let long = "x".repeat(450);
    let big: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("k{i}"), json!(long))).collect();
    let fifty_one: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("z{i}"), json!("v"))).collect();
    for bad in [
        json!({ "metadata": more }),        // 51 keys once merged
        json!({ "metadata": big.clone() }), // 45 keys, over 8 KB once merged
        json!({ "metadata": fifty_one }),   // 51 keys in the request
        json!({ "metadata": { "bad key": "v" } }),
        json!({ "metadata": { "k": "x".repeat(501) } }),
        json!({ "metadata": { "k": 1 } }),
        json!({ "metadata": ["k"] }),
        json!({ "external_id": "" }),
        json!({ "external_id": "x".repeat(65) }),
        json!({ "external_id": "tab\there" }),
    ] {
        let res = call(&app, organizations::update, &put(bad.clone())).await;
        assert_eq!(res.status, 422, "{bad}: {}", res.text);
    }
    assert_eq!(profile_of(&app, &o.token).await, before);
    let bad_create = create_with(&app, json!({ "metadata": { "k": null } })).await;
    assert_eq!(bad_create.status, 422, "{}", bad_create.text);
}

#[tokio::test]
async fn an_external_id_belongs_to_one_organization() {
    let app = app().await;
    let ext = unique("billing-");
    let first = create_with(&app, json!({ "external_id": ext })).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let name = unique("prof");
    let mut body = create_body(&name, &format!("{name}@example.com"), PASSWORD);
    body["external_id"] = json!(ext);
    let second = call(
        &app,
        organizations::create,
        &Req::post("/org/create", body.clone()),
    )
    .await;
    assert_eq!(second.status, 400, "{}", second.text);
    assert!(second.text.contains("already exists"), "{}", second.text);
    assert_eq!(
        get_org(&app, &name).await.status,
        404,
        "nothing was created"
    );
    // Its name and email are free: the same create without the taken id goes through.
    body.as_object_mut().unwrap().remove("external_id");
    let third = call(&app, organizations::create, &Req::post("/org/create", body)).await;
    assert_eq!(third.status, 201, "{}", third.text);
    let o = signup(&app).await;
    let taken = Req::put("/org/update", json!({ "external_id": ext })).token(&o.token);
    let res = call(&app, organizations::update, &taken).await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_eq!(profile_of(&app, &o.token).await["external_id"], Value::Null);
}

#[tokio::test]
async fn sixteen_concurrent_merges_keep_every_key() {
    let app = app().await;
    let o = signup(&app).await;
    let puts = (0..16).map(|i| {
        let req = Req::put(
            "/org/update",
            json!({ "metadata": { format!("k{i}"): "v" } }),
        )
        .token(&o.token);
        let app = &app;
        async move { call(app, organizations::update, &req).await.status }
    });
    let statuses = join_all(puts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let shown = profile_of(&app, &o.token).await;
    assert_eq!(shown["metadata"].as_object().unwrap().len(), 16, "{shown}");
}
