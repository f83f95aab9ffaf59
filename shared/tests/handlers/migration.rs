//! Data written by the first release (one admin embedded in each registry document)
//! keeps working: the migration moves it to accounts and member maps, idempotently and
//! crash-safely, and a document met before it ran is migrated on first touch.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mongodb::IndexModel;
use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use serde_json::json;
use tenant::{App, jobs::migrate, routes::sessions};

use crate::common::*;

/// A registry document as the first release wrote it, with its collection and one item;
/// returns (name, email, org id, admin id).
async fn first_release_org(app: &App) -> (String, String, ObjectId, ObjectId) {
    let name = unique("v1");
    let email = format!("{name}@example.com");
    let (id, admin) = (ObjectId::new(), ObjectId::new());
    let collection = format!("org_{name}");
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let database = app.store.placement_for(&collection).database;
    registry(app)
        .clone_with_type::<Document>()
        .insert_one(doc! {
            "_id": id, "name": &name, "collection_name": &collection,
            "placement": { "database": &database, "collection": &collection },
            "admin_id": admin, "email": &email, "password_hash": hash, "token_version": 0_i64,
            "created_at": DateTime::from_millis(DateTime::now().timestamp_millis() - 60_000),
            "updated_at": null,
        })
        .await
        .unwrap();
    tenant_db(app)
        .collection::<Document>(&collection)
        .insert_one(doc! { "data": { "kept": true }, "created_at": DateTime::now() })
        .await
        .unwrap();
    (name, email, id, admin)
}

/// A token as the first release issued it: no role claim.
fn first_release_token(org: ObjectId, admin: ObjectId, name: &str, email: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let claims = json!({
        "sub": admin.to_hex(), "org_id": org.to_hex(), "organization_name": name,
        "email": email, "ver": 0, "iat": now, "exp": now + 600,
        "iss": "organization-service", "aud": "organization-api",
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// The organization holds no embedded admin any more, and its admin has one account.
async fn assert_migrated(app: &App, id: ObjectId, email: &str) {
    let raw = registry(app)
        .clone_with_type::<Document>()
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap();
    assert!(!raw.contains_key("password_hash") && !raw.contains_key("admin_id"));
    let users = app.store.databases().0.collection::<Document>("users");
    let accounts = users
        .count_documents(doc! { "email": email })
        .await
        .unwrap();
    assert_eq!(accounts, 1);
}

#[tokio::test]
async fn the_migration_moves_first_release_admins_once_and_their_tokens_keep_working() {
    let app = app().await;
    let (name, email, id, admin) = first_release_org(&app).await;
    let token = first_release_token(id, admin, &name, &email);
    // (Other tests' migrations may run at the same time and take some of the work: the
    // outcome is checked in the documents, not in a run's report.)
    for _ in 0..2 {
        migrate::run(&app.store).await.unwrap();
    }
    assert_migrated(&app, id, &email).await;
    let list = list_items(&app, &token).await;
    assert_eq!(
        list.status, 200,
        "a first-release token stopped working: {}",
        list.text
    );
    assert_eq!(list.body["items"][0]["data"]["kept"], true);
    let login = call(&app, sessions::login, &login_req(&email, PASSWORD)).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["role"], "owner");
    assert_eq!(login.body["admin_id"], admin.to_hex());
    let shown = get_org(&app, &name).await;
    assert_eq!(shown.body["email"], email);
}

#[tokio::test]
async fn a_first_release_document_met_before_the_migration_is_migrated_on_first_touch() {
    let app = app().await;
    let (name, email, id, admin) = first_release_org(&app).await;
    let shown = get_org(&app, &name).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body["email"], email);
    let token = first_release_token(id, admin, &name, &email);
    let mine = me(&app, &token).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.body["role"], "owner");
}

#[tokio::test]
async fn a_migration_that_stopped_between_its_steps_is_finished_by_the_next_run() {
    let app = app().await;
    let (name, email, id, admin) = first_release_org(&app).await;
    // The account was made, the registry document not yet changed.
    app.store
        .databases()
        .0
        .collection::<Document>("users")
        .insert_one(doc! {
            "_id": admin, "email": &email, "password_hash": bcrypt::hash(PASSWORD, 4).unwrap(),
            "orgs": [id], "created_at": DateTime::now(),
        })
        .await
        .unwrap();
    migrate::run(&app.store).await.unwrap();
    assert_migrated(&app, id, &email).await;
    let token = first_release_token(id, admin, &name, &email);
    let list = list_items(&app, &token).await;
    assert_eq!(list.status, 200, "{}", list.text);
}

#[tokio::test]
async fn functions_refuse_to_start_without_the_indexes() {
    let server = OwnServer::start();
    let bare = App::with_config(config(&[("MONGODB_URI", &server.uri())]))
        .await
        .unwrap();
    assert!(migrate::check(&bare.store).await.is_err());
    migrate::run(&bare.store).await.unwrap();
    if let Err(e) = migrate::check(&bare.store).await {
        panic!("{e}")
    }
    // An index the service replaced (the audit log's without `event_id`) is refused, then
    // dropped by the next migration.
    let old = IndexModel::builder()
        .keys(doc! { "organization_id": 1, "occurred_ms": -1 })
        .build();
    let audit = bare
        .store
        .databases()
        .0
        .collection::<Document>("audit_events");
    audit.create_index(old).await.unwrap();
    let refused = migrate::check(&bare.store).await.unwrap_err().to_string();
    assert!(refused.contains("obsolete"), "{refused}");
    migrate::run(&bare.store).await.unwrap();
    if let Err(e) = migrate::check(&bare.store).await {
        panic!("{e}")
    }
}

/// Issue 20, case 6: a first-release admin logs in before any other request has met
/// the organization (written by a function of the first release during the rollout).
#[tokio::test]
async fn a_first_release_admin_logs_in_before_anything_touched_the_organization() {
    let app = app().await;
    let (name, email, id, _) = first_release_org(&app).await;
    let res = call(&app, sessions::login, &login_req(&email, PASSWORD)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["organization_name"], name.as_str());
    assert_eq!(res.body["role"], "owner");
    assert_migrated(&app, id, &email).await;
}

/// Issue 20, case 5: a first-release admin whose email already has an account becomes
/// that account's membership (the account keeps its password): logout and a password
/// change then end its tokens, and it logs in to the organization.
#[tokio::test]
async fn a_first_release_admin_with_an_account_already_becomes_that_accounts_owner() {
    // A server of its own: another test's migration (of every first-release document on
    // the shared server) would give the email its account before this test's create.
    let server = OwnServer::start();
    let app = app_with(&[("MONGODB_URI", &server.uri())]).await;
    let (name, email, id, _) = first_release_org(&app).await;
    // The email gets an account of its own first (the v1 document was not migrated yet).
    let other = unique("v2");
    let made = create_org(&app, create_body(&other, &email, "An0therPass")).await;
    assert_eq!(made.status, 201, "{}", made.text);
    migrate::run(&app.store).await.unwrap();
    assert_migrated(&app, id, &email).await;
    let login = Req::post(
        "/admin/login",
        json!({ "email": email, "password": "An0therPass", "organization_name": name }),
    );
    let res = call(&app, sessions::login, &login).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["role"], "owner");
    let token = res.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(list_items(&app, &token).await.status, 200);
    let out = call(&app, sessions::logout, &logout_req(&token)).await;
    assert_eq!(out.status, 204);
    assert_revoked(&app, &[&token], "after logout").await;
    let orgs = res.body["organizations"].as_array().unwrap().len();
    assert_eq!(orgs, 2, "{}", res.text);
}
