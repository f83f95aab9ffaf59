//! (v2) Safe retries with `Idempotency-Key`, and conditional updates with `ETag` /
//! `If-Match`.

use futures_util::future::join_all;
use mongodb::bson::{DateTime, Document, doc};
use serde_json::json;
use tenant::hooks::Fault;
use tenant::{
    App,
    routes::{items, members, organizations},
};

use crate::common::*;

fn create_with_key(name: &str, key: &str) -> Req {
    Req::post(
        "/org/create",
        create_body(name, &format!("{name}@example.com"), PASSWORD),
    )
    .header("idempotency-key", key)
}

async fn organizations_named(app: &App, name: &str) -> u64 {
    registry(app)
        .count_documents(doc! { "name": name })
        .await
        .unwrap()
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_answer() {
    let app = app().await;
    let name = unique("idem");
    let key = unique("key-");
    let first = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    let again = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    assert_eq!(organizations_named(&app, &name).await, 1);
    // The same key with another body.
    let other = call(
        &app,
        organizations::create,
        &create_with_key(&unique("other"), &key),
    )
    .await;
    assert_eq!(other.status, 422, "{}", other.text);
    assert!(
        other
            .text
            .contains("Idempotency-Key reused with a different request")
    );
    // A 4xx after the work started is kept and replayed as such.
    let dup_key = unique("dup-");
    let dup = call(
        &app,
        organizations::create,
        &create_with_key(&name, &dup_key),
    )
    .await;
    assert_eq!(dup.status, 400);
    let dup_again = call(
        &app,
        organizations::create,
        &create_with_key(&name, &dup_key),
    )
    .await;
    assert_eq!(dup_again.status, 400);
    assert_eq!(dup_again.headers["idempotent-replayed"], "true");
    // Keys are 1-255 printable ASCII.
    for bad in ["x".repeat(256), "tab\there".into()] {
        let res = call(
            &app,
            organizations::create,
            &create_with_key(&unique("k"), &bad),
        )
        .await;
        assert_eq!(res.status, 422, "{bad:?}: {}", res.text);
    }
}

#[tokio::test]
async fn sixteen_concurrent_requests_with_one_key_make_one_organization_or_item() {
    let app = app().await;
    let name = unique("race");
    let key = unique("key-");
    let req = create_with_key(&name, &key);
    let answers = join_all((0..16).map(|_| call(&app, organizations::create, &req))).await;
    for a in &answers {
        assert!(
            a.status == 201 || (a.status == 409 && a.headers.contains_key("retry-after")),
            "{}: {}",
            a.status,
            a.text
        );
    }
    assert!(answers.iter().any(|a| a.status == 201));
    assert_eq!(organizations_named(&app, &name).await, 1);

    let o = signup(&app).await;
    let item = Req::post("/org/items", json!({ "once": true }))
        .token(&o.token)
        .header("idempotency-key", "item-key");
    let answers = join_all((0..16).map(|_| call(&app, items::create, &item))).await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| a.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|a| a.status == 201 || a.status == 409));
    let list = list_items(&app, &o.token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    // Keys are per organization: the same key elsewhere is another item.
    let other = signup(&app).await;
    let theirs = Req::post("/org/items", json!({ "once": true }))
        .token(&other.token)
        .header("idempotency-key", "item-key");
    let res = call(&app, items::create, &theirs).await;
    assert_eq!(res.status, 201);
    assert!(!res.headers.contains_key("idempotent-replayed"));
}

#[tokio::test]
async fn a_crash_after_the_work_before_the_answer_is_kept_still_gives_one_organization_and_201() {
    let app = app().await;
    let name = unique("lost");
    let key = unique("key-");
    app.store
        .hooks()
        .arm("idempotency.before_store", Fault::Unavailable);
    let first = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(first.status, 503, "{}", first.text);
    app.store.hooks().clear();
    let retry = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(
        retry.status, 201,
        "a retry of a create whose answer was lost: {}",
        retry.text
    );
    assert_eq!(organizations_named(&app, &name).await, 1);
    // Items too.
    let o = signup(&app).await;
    let item = Req::post("/org/items", json!({ "n": 1 }))
        .token(&o.token)
        .header("idempotency-key", "lost-item");
    app.store
        .hooks()
        .arm("idempotency.before_store", Fault::Unavailable);
    assert_eq!(call(&app, items::create, &item).await.status, 503);
    app.store.hooks().clear();
    assert_eq!(call(&app, items::create, &item).await.status, 201);
    let list = list_items(&app, &o.token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_request_in_flight_whose_function_died_is_taken_over_after_its_lease() {
    let app = app().await;
    let name = unique("dead");
    let key = unique("key-");
    let records = app
        .store
        .databases()
        .0
        .collection::<Document>("idempotency");
    let first = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(first.status, 201);
    // As if the first request were still running: 409 with Retry-After.
    records
        .update_one(
            doc! { "_id": format!("org.create|{key}") },
            doc! { "$set": { "state": "running", "lease_ms": DateTime::now().timestamp_millis() + 20_000 } },
        )
        .await
        .unwrap();
    let busy = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(busy.status, 409, "{}", busy.text);
    let retry_after: u64 = busy.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after));
    // Its function died: after the lease, a retry takes over and finds what it made.
    records
        .update_one(
            doc! { "_id": format!("org.create|{key}") },
            doc! { "$set": { "lease_ms": 1_i64 } },
        )
        .await
        .unwrap();
    let taken = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(taken.status, 201, "{}", taken.text);
    assert_eq!(taken.body["id"], first.body["id"]);
    assert_eq!(organizations_named(&app, &name).await, 1);
}

/// Found by `make chaos`: a retry that took over a create's key after the key's lease
/// (30 s) while the create itself was still within its own (60 s) got "still in flight",
/// and that 409 was kept as the key's answer: every later retry was 409 for a day.
#[tokio::test]
async fn a_takeover_that_finds_the_create_still_running_is_409_and_not_kept() {
    let app = app().await;
    let name = unique("slow");
    let key = unique("key-");
    let first = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    // As if the first request still ran, past its key's lease, within its create's.
    idempotency_records(&app)
        .update_one(
            doc! { "_id": format!("org.create|{key}") },
            doc! { "$set": { "state": "running", "lease_ms": 1_i64 } },
        )
        .await
        .unwrap();
    let pending = doc! { "op": "create", "since": DateTime::now() };
    set_pending(&app, &name, Some(pending)).await;
    let busy = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(busy.status, 409, "{}", busy.text);
    // The first request finishes; the next retry gets its answer.
    set_pending(&app, &name, None).await;
    let done = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(done.status, 201, "{}", done.text);
    assert_eq!(done.body["id"], first.body["id"]);
    assert_eq!(organizations_named(&app, &name).await, 1);
}

#[tokio::test]
async fn etags_change_with_the_organization_and_if_match_guards_updates() {
    let app = app().await;
    let o = signup(&app).await;
    let get = get_org(&app, &o.name).await;
    let tag = get.headers["etag"].to_str().unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    let mine = me(&app, &o.token).await;
    assert_eq!(mine.headers["etag"], tag.as_str());
    let stale = Req::put(
        "/org/update",
        json!({ "organization_name": unique("nope") }),
    )
    .token(&o.token)
    .header("if-match", "\"999999\"");
    let refused = call(&app, organizations::update, &stale).await;
    assert_eq!(refused.status, 412, "{}", refused.text);
    let still = get_org(&app, &o.name).await;
    assert_eq!(still.status, 200, "a refused update changed the name");
    assert_eq!(
        still.headers["etag"],
        tag.as_str(),
        "a refused update changed the version"
    );
    let new_name = unique("tagged");
    let ok = Req::put("/org/update", json!({ "organization_name": new_name }))
        .token(&o.token)
        .header("if-match", &tag);
    let updated = call(&app, organizations::update, &ok).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let new_tag = updated.headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    // Two updates with the same If-Match at once: one goes through.
    let a = Req::put(
        "/org/update",
        json!({ "email": format!("{}@example.com", unique("a")) }),
    )
    .token(&o.token)
    .header("if-match", &new_tag);
    let b = Req::put(
        "/org/update",
        json!({ "email": format!("{}@example.com", unique("b")) }),
    )
    .token(&o.token)
    .header("if-match", &new_tag);
    let (ra, rb) = tokio::join!(
        call(&app, organizations::update, &a),
        call(&app, organizations::update, &b)
    );
    let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    // A role change with a stale If-Match changes nothing.
    let (_, _, user) = join_as(&app, &o.token, "member").await;
    let patch = Req::patch("/org/members/x", json!({ "role": "admin" }))
        .param("user_id", &user)
        .token(&o.token)
        .header("if-match", &new_tag);
    assert_eq!(call(&app, members::change_role, &patch).await.status, 412);
    let current = me(&app, &o.token).await;
    let current_tag = current.headers["etag"].to_str().unwrap().to_owned();
    let patch = Req::patch("/org/members/x", json!({ "role": "admin" }))
        .param("user_id", &user)
        .token(&o.token)
        .header("if-match", &current_tag);
    assert_eq!(call(&app, members::change_role, &patch).await.status, 200);
    // Asking for the role the member has now: still 412 with a stale tag.
    let same = Req::patch("/org/members/x", json!({ "role": "admin" }))
        .param("user_id", &user)
        .token(&o.token)
        .header("if-match", &current_tag);
    assert_eq!(call(&app, members::change_role, &same).await.status, 412);
}

fn idempotency_records(app: &App) -> mongodb::Collection<Document> {
    app.store.databases().0.collection("idempotency")
}

#[tokio::test]
async fn a_key_used_again_after_its_record_expired_makes_something_new() {
    let app = app().await;
    let key = unique("key-");
    let first = call(
        &app,
        organizations::create,
        &create_with_key(&unique("old"), &key),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text);
    idempotency_records(&app)
        .update_one(
            doc! { "_id": format!("org.create|{key}") },
            doc! { "$set": { "expires_ms": 1_i64 } },
        )
        .await
        .unwrap();
    let name = unique("new");
    let second = call(&app, organizations::create, &create_with_key(&name, &key)).await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.body["organization_name"], name.as_str());
    assert_ne!(second.body["id"], first.body["id"]);
    assert_eq!(organizations_named(&app, &name).await, 1);
}

#[tokio::test]
async fn fingerprints_are_keyed_by_the_service_secret() {
    let app = app().await;
    let key = unique("key-");
    let request = create_with_key(&unique("fp"), &key);
    assert_eq!(
        call(&app, organizations::create, &request).await.status,
        201
    );
    let stored = idempotency_records(&app)
        .find_one(doc! { "_id": format!("org.create|{key}") })
        .await
        .unwrap()
        .unwrap();
    // The same request under another secret does not match what was stored: the
    // password in the body is not kept under a hash anyone could recompute.
    let other = App::with_config(config(&[
        (
            "JWT_SECRET",
            "another-secret-of-at-least-thirty-two-bytes-long",
        ),
        ("MASTER_DB", &app.config.master_db),
        ("TENANT_DB", &app.config.tenant_db),
    ]))
    .await
    .unwrap();
    let res = call(&other, organizations::create, &request).await;
    assert_eq!(res.status, 422, "{}", res.text);
    assert!(!format!("{stored:?}").contains(PASSWORD));
}

#[tokio::test]
async fn item_answers_kept_for_retries_go_with_their_organization() {
    let app = app().await;
    let o = signup(&app).await;
    let item = Req::post("/org/items", json!({ "secret": "tenant data" }))
        .token(&o.token)
        .header("idempotency-key", "kept");
    assert_eq!(call(&app, items::create, &item).await.status, 201);
    let owned = doc! { "owner": &o.id };
    let records = idempotency_records(&app);
    assert_eq!(records.count_documents(owned.clone()).await.unwrap(), 1);
    let delete = Req::delete("/org/delete").token(&o.token);
    assert_eq!(call(&app, organizations::delete, &delete).await.status, 204);
    assert_eq!(
        records.count_documents(owned).await.unwrap(),
        0,
        "a deleted organization's item answers outlived it"
    );
}

#[tokio::test]
async fn a_retry_of_an_item_create_that_died_before_its_event_writes_it_once() {
    let app = app().await;
    let o = signup(&app).await;
    let item = Req::post("/org/items", json!({ "n": 1 }))
        .token(&o.token)
        .header("idempotency-key", "evented");
    app.store
        .hooks()
        .arm("item.before_event", Fault::Unavailable);
    assert_eq!(call(&app, items::create, &item).await.status, 503);
    app.store.hooks().clear();
    let retry = call(&app, items::create, &item).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    // Once more with the answer lost, then a replay: still one event.
    let again = Req::post("/org/items", json!({ "n": 2 }))
        .token(&o.token)
        .header("idempotency-key", "evented-2");
    app.store
        .hooks()
        .arm("idempotency.before_store", Fault::Unavailable);
    assert_eq!(call(&app, items::create, &again).await.status, 503);
    app.store.hooks().clear();
    assert_eq!(call(&app, items::create, &again).await.status, 201);
    assert_eq!(call(&app, items::create, &again).await.status, 201);
    let log = call(
        &app,
        tenant::routes::audit::list,
        &Req::get("/org/audit")
            .query("action", "item.created")
            .token(&o.token),
    )
    .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let events = log.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "one event per item: {events:?}");
}
