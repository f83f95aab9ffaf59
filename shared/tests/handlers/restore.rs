//! (v3) Restorable delete: a deleted organization is gone for every client at once
//! (name and emails free), the operator brings it back whole within the grace period,
//! the purge removes it for good after it; delete, restore and purge finish whatever a
//! crash cut short.

use lambda_http::http::Method;
use mongodb::bson::{DateTime, Document, doc};
use serde_json::{Value, json};
use tenant::App;
use tenant::hooks::Fault;
use tenant::routes::{audit, operator, organizations};

use crate::common::*;

fn op(method: Method, path: &str) -> Req {
    Req::new(method, path).iam("arn:aws:iam::123456789012:user/ops")
}

/// `POST /operator/organizations/{id}/restore`, with `body` if given.
async fn restore(app: &App, id: &str, body: Option<Value>) -> Res {
    let mut req = op(Method::POST, "/operator/organizations/x/restore").param("id", id);
    if let Some(body) = body {
        req = req.json(body);
    }
    call(app, operator::restore, &req).await
}

/// The deleted organizations whose name starts with `name`.
async fn deleted(app: &App, name: &str) -> Vec<Value> {
    let req = op(Method::GET, "/operator/organizations")
        .query("status", "deleted")
        .query("q", name);
    let res = call(app, operator::list, &req).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["organizations"].as_array().unwrap().clone()
}

/// How many documents of the master collection `name` match `filter`.
async fn count(app: &App, name: &str, filter: Document) -> u64 {
    let master = app.store.databases().0;
    master
        .collection::<Document>(name)
        .count_documents(filter)
        .await
        .unwrap()
}

/// An organization with three items and a member, deleted: (it, the member's email).
async fn deleted_org(app: &App) -> (Org, String) {
    let o = signup(app).await;
    for n in 0..3 {
        add_item(app, &o.token, json!({ "n": n })).await;
    }
    let (member, _, _) = join_as(app, &o.token, "member").await;
    assert_eq!(delete_org(app, &o.token).await.status, 204);
    (o, member)
}

/// Asserts that `o` is back whole: its owner's old password logs in, its three items
/// and both members are there (the member with its role), and the restore is logged.
async fn assert_back(app: &App, o: &Org, member: &str) -> String {
    let token = login(app, &o.email, PASSWORD).await;
    let mut data = item_data(app, &token).await;
    data.sort_by_key(|d| d["n"].as_i64());
    assert_eq!(
        data,
        vec![json!({ "n": 0 }), json!({ "n": 1 }), json!({ "n": 2 })]
    );
    let member_token = login(app, member, PASSWORD).await;
    let me = me(app, &member_token).await;
    assert_eq!(me.body["role"], "member", "{}", me.text);
    let log = call(app, audit::list, &Req::get("/org/audit").token(&token)).await;
    for action in ["organization.deleted", "organization.restored"] {
        assert!(log.text.contains(action), "{action}: {}", log.text);
    }
    token
}

#[tokio::test]
async fn delete_recreate_delete_then_restore_the_first_brings_it_back_whole() {
    let app = app().await;
    let o = signup(&app).await;
    for n in 0..3 {
        add_item(&app, &o.token, json!({ "n": n })).await;
    }
    let (member, member_token, _) = join_as(&app, &o.token, "member").await;
    let key = api_key(&app, &o.token, "admin").await;
    assert_eq!(delete_org(&app, &o.token).await.status, 204);
    // Gone for every client at once.
    assert_eq!(get_org(&app, &o.name).await.status, 404);
    assert_revoked(&app, &[&o.token, &member_token, &key], "deleted").await;
    let listed = deleted(&app, &o.name).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "deleted");
    assert!(listed[0]["deleted_at"].is_string() && listed[0]["purge_after"].is_string());
    // The same name and email again, as a client that deletes and re-creates sees it.
    let second = create_org(&app, create_body(&o.name, &o.email, PASSWORD)).await;
    assert_eq!(second.status, 201, "{}", second.text);
    let second_id = second.body["id"].as_str().unwrap().to_owned();
    let second_token = login(&app, &o.email, PASSWORD).await;
    add_item(&app, &second_token, json!({ "second": true })).await;
    assert_eq!(item_data(&app, &second_token).await.len(), 1);
    assert_eq!(delete_org(&app, &second_token).await.status, 204);
    assert_eq!(deleted(&app, &o.name).await.len(), 2);

    let res = restore(&app, &o.id, None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["organization_name"], o.name.as_str());
    assert_eq!(res.body["status"], "active");
    assert_eq!(res.body["members"], 2);
    assert_eq!(res.body["api_keys"], 0, "keys stay revoked");
    assert_eq!(res.body["not_restored"], json!([]));
    assert_back(&app, &o, &member).await;
    assert_revoked(
        &app,
        &[&o.token, &member_token, &key],
        "from before the delete",
    )
    .await;
    assert_eq!(restore(&app, &o.id, None).await.status, 409, "not deleted");

    // The second is still kept, untouched: its owner's email is the first's account's
    // now, so it has no owner to come back with (409), and its data waits.
    let left = deleted(&app, &o.name).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], second_id.as_str());
    let again = restore(
        &app,
        &second_id,
        Some(json!({ "organization_name": unique("n") })),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.text);
    let trash = app
        .store
        .databases()
        .1
        .collection::<Document>(&format!("trash_{second_id}"));
    assert_eq!(trash.count_documents(doc! {}).await.unwrap(), 1);
}

#[tokio::test]
async fn a_restore_whose_name_was_taken_is_409_unless_given_a_new_name() {
    let app = app().await;
    let (o, member) = deleted_org(&app).await;
    let taker = format!("{}@example.com", unique("t"));
    let res = create_org(&app, create_body(&o.name, &taker, PASSWORD)).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let taken = restore(&app, &o.id, None).await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert!(
        taken.body["detail"]
            .as_str()
            .unwrap()
            .contains("organization_name")
    );
    let bad = restore(
        &app,
        &o.id,
        Some(json!({ "organization_name": "no spaces" })),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let new_name = format!("{}-b", unique("renamed"));
    let res = restore(&app, &o.id, Some(json!({ "organization_name": new_name }))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["organization_name"], new_name.as_str());
    assert_back(&app, &o, &member).await;
    // Its collection is named as a create's would be (`-` as `_`).
    let placement = registered(&app, &new_name).await.unwrap().placement;
    assert_eq!(
        placement.collection,
        format!("org_{}", new_name.replace('-', "_"))
    );
    assert_eq!(get_org(&app, &new_name).await.status, 200);
    // The taker's organization is its own still.
    let taker_token = login(&app, &taker, PASSWORD).await;
    assert!(item_data(&app, &taker_token).await.is_empty());
}

#[tokio::test]
async fn an_account_whose_email_was_taken_meanwhile_is_reported_not_guessed() {
    let app = app().await;
    let (o, member) = deleted_org(&app).await;
    // The member's email gets a new account of another organization.
    let other = create_org(&app, create_body(&unique("o"), &member, "Other-passw0rd")).await;
    assert_eq!(other.status, 201, "{}", other.text);
    let res = restore(&app, &o.id, None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.body["not_restored"],
        json!([{ "email": member, "reason": "Email taken by another account" }])
    );
    assert_eq!(res.body["members"], 1);
    // The other account keeps its own password and organization.
    assert_eq!(login_status(&app, &member, PASSWORD).await, 401);
    assert_eq!(login_status(&app, &member, "Other-passw0rd").await, 200);
}

async fn login_status(app: &App, email: &str, password: &str) -> u16 {
    let res = call(
        app,
        tenant::routes::sessions::login,
        &login_req(email, password),
    )
    .await;
    res.status.as_u16()
}

#[tokio::test]
async fn a_delete_or_restore_dying_between_any_two_steps_is_finished_by_the_next_request() {
    let app = app().await;
    let deletes = [
        "delete.after_mark",
        "delete.after_keep",
        "delete.after_move",
        "delete.after_members",
    ];
    for failpoint in deletes {
        let o = signup(&app).await;
        add_item(&app, &o.token, json!({ "n": 0 })).await;
        app.store.hooks().arm(failpoint, Fault::Unavailable);
        let res = delete_org(&app, &o.token).await;
        assert_eq!(res.status, 503, "{failpoint}: {}", res.text);
        app.store.hooks().clear();
        // The next request to meet it finishes the delete.
        assert_revoked(&app, &[&o.token], failpoint).await;
        assert_eq!(get_org(&app, &o.name).await.status, 404, "{failpoint}");
        let res = restore(&app, &o.id, None).await;
        assert_eq!(res.status, 200, "{failpoint}: {}", res.text);
        let token = login(&app, &o.email, PASSWORD).await;
        assert_eq!(item_data(&app, &token).await, vec![json!({ "n": 0 })]);
    }
    let restores = [
        "restore.after_insert",
        "restore.after_move",
        "restore.after_accounts",
        "restore.after_complete",
    ];
    for failpoint in restores {
        let (o, member) = deleted_org(&app).await;
        app.store.hooks().arm(failpoint, Fault::Unavailable);
        let res = restore(&app, &o.id, None).await;
        assert_eq!(res.status, 503, "{failpoint}: {}", res.text);
        app.store.hooks().clear();
        if failpoint != "restore.after_complete" {
            assert_eq!(
                get_org(&app, &o.name).await.status,
                404,
                "{failpoint}: half restored, visible"
            );
        }
        let res = restore(&app, &o.id, None).await;
        assert_eq!(res.status, 200, "{failpoint}: {}", res.text);
        assert_back(&app, &o, &member).await;
        assert!(deleted(&app, &o.name).await.is_empty(), "{failpoint}");
    }
}

#[tokio::test]
async fn a_purge_dying_midway_is_finished_by_the_next_run_and_leaves_only_the_audit_trail() {
    let (app, _, _server) = mail_app(&[("APP_ENV", "local")]).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    add_item(&app, &o.token, json!({ "n": 0 })).await;
    let (member, _, _) = join_as(&app, &o.token, "member").await;
    let hook = Req::post(
        "/org/webhooks",
        json!({ "url": receiver.url, "events": ["*"] }),
    );
    let res = call(
        &app,
        tenant::routes::webhooks::create,
        &hook.token(&o.token),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    api_key(&app, &o.token, "member").await;
    dispatch(&app).await;
    assert_eq!(delete_org(&app, &o.token).await.status, 204);
    // Not due yet: nothing happens.
    let report = tenant::jobs::purge::run(&app.store, 50).await.unwrap();
    assert_eq!(report.purged, 0);
    let kept = app
        .store
        .databases()
        .0
        .collection::<Document>("deleted_organizations");
    let id = mongodb::bson::oid::ObjectId::parse_str(&o.id).unwrap();
    kept.update_one(
        doc! { "_id": id },
        doc! { "$set": { "purge_after": DateTime::from_millis(0) } },
    )
    .await
    .unwrap();
    for failpoint in ["purge.after_drop", "purge.after_data"] {
        app.store.hooks().arm(failpoint, Fault::Unavailable);
        assert!(
            tenant::jobs::purge::run(&app.store, 50).await.is_err(),
            "{failpoint}"
        );
        app.store.hooks().clear();
        assert_eq!(
            restore(&app, &o.id, None).await.status,
            409,
            "the purge has it"
        );
    }
    let report = tenant::jobs::purge::run(&app.store, 50).await.unwrap();
    assert_eq!(report.purged, 1);
    assert_eq!(restore(&app, &o.id, None).await.status, 404);
    assert!(deleted(&app, &o.name).await.is_empty());
    let hex = o.id.as_str();
    for (collection, filter) in [
        ("organizations", doc! { "_id": id }),
        ("deleted_organizations", doc! { "_id": id }),
        ("api_keys", doc! { "org": hex }),
        ("webhooks", doc! { "org": hex }),
        ("webhook_deliveries", doc! { "org": hex }),
        ("events", doc! { "org": hex }),
        ("event_streams", doc! { "_id": hex }),
        ("invitations", doc! { "org_id": hex }),
        ("users", doc! { "email": { "$in": [&o.email, &member] } }),
    ] {
        assert_eq!(
            count(&app, collection, filter).await,
            0,
            "{collection} left"
        );
    }
    let tenants = app.store.databases().1;
    let names = tenants.list_collection_names().await.unwrap();
    assert!(!names.contains(&format!("trash_{hex}")), "{names:?}");
    assert!(!names.contains(&format!("org_{}", o.name)), "{names:?}");
    // The audit trail stays, with one purge event however many runs it took.
    let purged = doc! { "organization_id": hex, "action": "organization.purged" };
    let trail = count(&app, "audit_events", doc! { "organization_id": hex }).await;
    assert!(trail >= 3, "the audit trail stays: {trail}");
    assert_eq!(count(&app, "audit_events", purged).await, 1);
}

#[tokio::test]
async fn with_no_grace_period_a_delete_purges_at_once() {
    let app = app_with(&[("DELETE_GRACE_DAYS", "0")]).await;
    let o = signup(&app).await;
    add_item(&app, &o.token, json!({ "n": 0 })).await;
    assert_eq!(delete_org(&app, &o.token).await.status, 204);
    assert!(deleted(&app, &o.name).await.is_empty());
    assert_eq!(restore(&app, &o.id, None).await.status, 404);
    let names = app
        .store
        .databases()
        .1
        .list_collection_names()
        .await
        .unwrap();
    assert!(!names.contains(&format!("org_{}", o.name)), "{names:?}");
    assert!(!names.contains(&format!("trash_{}", o.id)), "{names:?}");
    let get = call(
        &app,
        organizations::get,
        &Req::get("/org/get").query("organization_name", &o.name),
    )
    .await;
    assert_eq!(get.status, 404);
}
