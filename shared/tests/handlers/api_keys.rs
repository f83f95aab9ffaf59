//! (v3) API keys: made by owners and admins, shown once, stored as an HMAC, used as a
//! bearer on what their role allows, refused (401) when malformed, unknown, revoked,
//! expired or of a deleted organization, named as the actor of what they do.

use std::time::Instant;

use futures_util::future::join_all;
use mongodb::bson::{Document, doc};
use serde_json::{Value, json};
use tenant::App;
use tenant::routes::{api_keys, audit, events, items, members, organizations};

use crate::common::*;

async fn make_key(app: &App, token: &str, role: &str) -> Res {
    let body = json!({ "name": format!("{role} robot"), "role": role });
    call(
        app,
        api_keys::create,
        &Req::post("/org/api-keys", body).token(token),
    )
    .await
}

fn key_of(res: &Res) -> (String, String) {
    (
        res.body["key"].as_str().unwrap().to_owned(),
        res.body["id"].as_str().unwrap().to_owned(),
    )
}

async fn items_with(app: &App, bearer: &str) -> Res {
    call(app, items::list, &Req::get("/org/items").token(bearer)).await
}

fn keys_collection(app: &App) -> mongodb::Collection<Document> {
    app.store.databases().0.collection("api_keys")
}

#[tokio::test]
async fn a_key_is_shown_once_and_works_as_its_organization() {
    let app = app().await;
    let o = signup(&app).await;
    let made = make_key(&app, &o.token, "admin").await;
    assert_eq!(made.status, 201, "{}", made.text);
    let (key, id) = key_of(&made);
    assert!(key.starts_with("osk_") && key.len() == 53, "{key}");
    assert_eq!(made.body["prefix"], &key[..12]);
    assert!(made.body["last_used_at"].is_null() && made.body["expires_at"].is_null());
    // Its reads and writes, as the organization.
    assert_eq!(items_with(&app, &key).await.status, 200);
    let added = call(
        &app,
        items::create,
        &Req::post("/org/items", json!({ "by": "key" })).token(&key),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let me = call(&app, organizations::me, &Req::get("/org/me").token(&key)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.body["api_key"],
        json!({ "id": id, "name": "admin robot", "role": "admin" })
    );
    assert_eq!(me.body["organization"]["id"], o.id.as_str());
    // The actor of what it did, in the audit log and the events.
    let log = call(&app, audit::list, &Req::get("/org/audit").token(&o.token)).await;
    let created = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "item.created")
        .cloned()
        .unwrap();
    assert_eq!(
        created["actor"],
        json!({ "type": "api_key", "id": id, "name": "admin robot" })
    );
    let stream = call(&app, events::list, &Req::get("/org/events").token(&key)).await;
    assert_eq!(
        stream.status, 200,
        "an admin key reads events: {}",
        stream.text
    );
    assert!(stream.text.contains(r#""type":"api_key""#));
    // Listed without the key, nor its HMAC; last used is set.
    let list = call(
        &app,
        api_keys::list,
        &Req::get("/org/api-keys").token(&o.token),
    )
    .await;
    let stored = keys_collection(&app)
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    let hmac = stored.get_str("hmac").unwrap().to_owned();
    assert_eq!(list.body["api_keys"][0]["status"], "active");
    assert!(list.body["api_keys"][0]["last_used_at"].is_string());
    for text in [&list.text, &log.text, &stream.text, &me.text] {
        assert!(!text.contains(&key) && !text.contains(&hmac), "{text}");
    }
    assert!(
        !format!("{stored:?}").contains(&key[12..]),
        "only the prefix is stored in clear"
    );
}

#[tokio::test]
async fn malformed_unknown_revoked_expired_and_orphaned_keys_are_401() {
    let app = app().await;
    let o = signup(&app).await;
    let (key, id) = key_of(&make_key(&app, &o.token, "member").await);
    // One character changed: the checksum says so, before any read.
    let mut changed = key.clone().into_bytes();
    changed[20] = if changed[20] == b'a' { b'b' } else { b'a' };
    let changed = String::from_utf8(changed).unwrap();
    let before = app.store.hooks().commands();
    let res = items_with(&app, &changed).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.detail(), "Malformed API key");
    assert_eq!(
        app.store.hooks().commands(),
        before,
        "no database read for junk"
    );
    // Well formed, unknown.
    let unknown = tenant::auth::keys::new_key();
    let res = items_with(&app, &unknown).await;
    assert_eq!(
        (res.status.as_u16(), res.detail()),
        (401, "Invalid, revoked or expired API key")
    );
    // Expired.
    let oid = mongodb::bson::oid::ObjectId::parse_str(&id).unwrap();
    let a_second_ago = mongodb::bson::DateTime::now().timestamp_millis() - 1000;
    keys_collection(&app)
        .update_one(
            doc! { "_id": oid },
            doc! { "$set": { "expires_ms": a_second_ago } },
        )
        .await
        .unwrap();
    assert_eq!(items_with(&app, &key).await.status, 401);
    // Revoked (a fresh key).
    let (second, second_id) = key_of(&make_key(&app, &o.token, "member").await);
    assert_eq!(items_with(&app, &second).await.status, 200);
    let revoke = Req::delete("/org/api-keys/x")
        .param("id", &second_id)
        .token(&o.token);
    assert_eq!(call(&app, api_keys::revoke, &revoke).await.status, 204);
    assert_eq!(items_with(&app, &second).await.status, 401);
    assert_eq!(call(&app, api_keys::revoke, &revoke).await.status, 404);
    let list = call(
        &app,
        api_keys::list,
        &Req::get("/org/api-keys").token(&o.token),
    )
    .await;
    let statuses: Vec<(&str, &str)> = list.body["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert!(
        statuses.contains(&(id.as_str(), "expired"))
            && statuses.contains(&(second_id.as_str(), "revoked")),
        "{statuses:?}"
    );
    // Of a deleted organization.
    let (third, _) = key_of(&make_key(&app, &o.token, "member").await);
    assert_eq!(items_with(&app, &third).await.status, 200);
    assert_eq!(delete_org(&app, &o.token).await.status, 204);
    let live = keys_collection(&app)
        .count_documents(doc! { "org": &o.id, "revoked_ms": { "$exists": false } })
        .await
        .unwrap();
    assert_eq!(
        live, 0,
        "the organization's keys are revoked with it (its purge removes them)"
    );
    let res = items_with(&app, &third).await;
    assert_eq!(res.status, 401, "{}", res.text);
}

#[tokio::test]
async fn a_key_outlives_its_maker_and_never_reaches_another_organization() {
    let app = app().await;
    let a = signup(&app).await;
    let b = signup(&app).await;
    let (_, admin_token, admin_id) = join_as(&app, &a.token, "admin").await;
    let (key, _) = key_of(&make_key(&app, &admin_token, "member").await);
    // Its maker is removed: the key belongs to the organization and goes on working.
    let remove = Req::delete("/org/members/x")
        .param("user_id", &admin_id)
        .token(&a.token);
    assert_eq!(call(&app, members::remove, &remove).await.status, 204);
    assert_eq!(items_with(&app, &key).await.status, 200);
    // B's item through A's key: not found, as with tokens.
    let theirs = add_item(&app, &b.token, json!({ "secret": 1 })).await;
    let get = Req::get("/org/items/x").param("id", &theirs).token(&key);
    assert_eq!(call(&app, items::get, &get).await.status, 404);
    // A member may not make keys; an admin no key above its own role; no owner keys.
    let (_, member_token, _) = join_as(&app, &a.token, "member").await;
    assert_eq!(make_key(&app, &member_token, "member").await.status, 403);
    assert_eq!(make_key(&app, &a.token, "owner").await.status, 422);
}

#[tokio::test]
async fn after_a_revocation_has_answered_no_use_succeeds() {
    let app = std::sync::Arc::new(app().await);
    let o = signup(&app).await;
    let (key, id) = key_of(&make_key(&app, &o.token, "member").await);
    assert_eq!(items_with(&app, &key).await.status, 200);
    let uses = (0..16).map(|_| {
        let (app, key) = (app.clone(), key.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                let status = items_with(&app, &key).await.status.as_u16();
                seen.push((start, status));
            }
            seen
        })
    });
    let revoker = {
        let (app, token) = (app.clone(), o.token.clone());
        tokio::spawn(async move {
            let revoke = Req::delete("/org/api-keys/x")
                .param("id", &id)
                .token(&token);
            let status = call(&app, api_keys::revoke, &revoke).await.status;
            (status.as_u16(), Instant::now())
        })
    };
    let results: Vec<Vec<(Instant, u16)>> = join_all(uses)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let (status, answered) = revoker.await.unwrap();
    assert_eq!(status, 204);
    let late: Vec<u16> = results
        .iter()
        .flatten()
        .filter(|(start, _)| *start > answered)
        .map(|(_, s)| *s)
        .collect();
    assert!(late.iter().all(|s| *s == 401), "{late:?}");
    assert_eq!(items_with(&app, &key).await.status, 401);
}

#[tokio::test]
async fn fifty_active_keys_at_most() {
    let app = app().await;
    let o = signup(&app).await;
    let made: Vec<Res> = join_all((0..50).map(|_| make_key(&app, &o.token, "member"))).await;
    assert!(made.iter().all(|r| r.status == 201));
    let over = make_key(&app, &o.token, "member").await;
    assert_eq!(over.status, 409, "{}", over.text);
    let body: Value = over.body.clone();
    assert!(body["detail"].as_str().unwrap().contains("50"));
}
