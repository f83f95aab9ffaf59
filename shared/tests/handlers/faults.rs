//! Faults between the steps of create, rename and delete lose nothing and leave no
//! orphan: a failpoint in the store layer fails a step as a dropped connection would,
//! and the next request that meets the operation finishes or rolls it back.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use futures_util::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use serde_json::json;
use tenant::App;
use tenant::hooks::Fault;
use tenant::store::PendingOp;

use crate::common::*;

async fn collection_exists(app: &App, name: &str) -> bool {
    tenant_db(app)
        .list_collection_names()
        .await
        .unwrap()
        .iter()
        .any(|c| c == name)
}

/// `POST /org/create` of `name` with `email` and [`PASSWORD`].
async fn create(app: &App, name: &str, email: &str) -> Res {
    create_org(app, create_body(name, email, PASSWORD)).await
}

#[tokio::test]
async fn a_create_failing_midway_leaves_nothing_behind() {
    for failpoint in ["create.after_insert", "create.after_collection"] {
        let app = app().await;
        let name = unique("half");
        let email = format!("{name}@example.com");
        app.store.hooks().arm(failpoint, Fault::Unavailable);
        let res = create(&app, &name, &email).await;
        assert_eq!(res.status, 503, "{failpoint}: {}", res.text);
        assert!(
            registered(&app, &name).await.is_none(),
            "{failpoint}: orphan registry document"
        );
        assert!(
            !collection_exists(&app, &format!("org_{name}")).await,
            "{failpoint}: orphan collection"
        );
        app.store.hooks().clear();
        let again = create(&app, &name, &email).await;
        assert_eq!(again.status, 201, "{failpoint}: {}", again.text);
    }
}

#[tokio::test]
async fn an_abandoned_or_half_undone_create_is_rolled_back_by_the_next_one_to_meet_it() {
    let long_ago = DateTime::from_millis(DateTime::now().timestamp_millis() - 120_000);
    for (op, since) in [
        (PendingOp::Create, long_ago),
        (PendingOp::RollBack, DateTime::now()),
    ] {
        let app = app().await;
        let name = unique("dead");
        let email = format!("{name}@example.com");
        let collection = format!("org_{name}");
        let stale = half_made_org(&app, &name, op, since);
        registry(&app).insert_one(&stale).await.unwrap();
        tenant_db(&app).create_collection(&collection).await.ok();
        let hidden = get_org(&app, &name).await;
        assert_eq!(
            hidden.status, 404,
            "{op:?}: a half-made organization is visible"
        );
        let res = create(&app, &name, &email).await;
        assert_eq!(res.status, 201, "{op:?}: {}", res.text);
        assert_ne!(res.body["id"], stale.id.to_hex());
        let count = registry(&app)
            .count_documents(doc! { "name": &name })
            .await
            .unwrap();
        assert_eq!(count, 1, "{op:?}");
    }
}

#[tokio::test]
async fn a_fresh_create_in_flight_is_left_alone() {
    let app = app().await;
    let name = unique("busy");
    app.store
        .hooks()
        .arm("create.after_insert", Fault::Unavailable);
    let stuck = half_made_org(&app, &name, PendingOp::Create, DateTime::now());
    registry(&app).insert_one(&stuck).await.unwrap();
    app.store.hooks().clear();
    let res = create(&app, &name, &format!("{name}2@example.com")).await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert!(registered(&app, &name).await.is_some());
}

#[tokio::test]
async fn a_rename_failing_midway_is_finished_by_the_next_request() {
    for failpoint in ["rename.before_move", "rename.after_move"] {
        let app = app().await;
        let o = signup(&app).await;
        for i in 0..3 {
            add_item(&app, &o.token, json!({ "i": i })).await;
        }
        let new = unique("moved");
        app.store.hooks().arm(failpoint, Fault::Unavailable);
        let res = rename_org(&app, &o.token, &new).await;
        assert_eq!(res.status, 503, "{failpoint}: {}", res.text);
        let mid = registered(&app, &new).await.expect("new name reserved");
        assert_eq!(
            mid.pending.as_ref().map(|p| p.op),
            Some(PendingOp::Rename),
            "{failpoint}"
        );
        app.store.hooks().clear();
        assert_eq!(
            item_data(&app, &o.token).await.len(),
            3,
            "{failpoint}: documents lost"
        );
        let done = registered(&app, &new).await.unwrap();
        assert!(done.pending.is_none(), "{failpoint}: rename not finished");
        assert_eq!(done.placement.collection, format!("org_{new}"));
        assert!(
            !collection_exists(&app, &format!("org_{}", o.name)).await,
            "{failpoint}: old collection left"
        );
    }
}

#[tokio::test]
async fn a_delete_failing_midway_is_finished_by_the_next_request() {
    let app = app().await;
    let o = signup(&app).await;
    add_item(&app, &o.token, json!({ "x": 1 })).await;
    app.store
        .hooks()
        .arm("delete.after_move", Fault::Unavailable);
    let res = delete_org(&app, &o.token).await;
    assert_eq!(res.status, 503, "{}", res.text);
    app.store.hooks().clear();
    assert_revoked(
        &app,
        &[&o.token],
        "a half-deleted organization still answers",
    )
    .await;
    assert!(
        registered(&app, &o.name).await.is_none(),
        "orphan registry document"
    );
    assert!(!collection_exists(&app, &format!("org_{}", o.name)).await);
}

fn checksum(docs: &[Document]) -> u64 {
    let mut h = DefaultHasher::new();
    for d in docs {
        d.get_object_id("_id").unwrap().hash(&mut h);
        d.get_document("data").unwrap().to_string().hash(&mut h);
    }
    h.finish()
}

#[tokio::test]
async fn renaming_a_tenant_of_ten_thousand_documents_keeps_all_of_them() {
    let app = app().await;
    let o = signup(&app).await;
    let before_doc = registered(&app, &o.name).await.unwrap();
    let coll = tenant_collection(&app, &before_doc.placement);
    for batch in 0..10 {
        let docs: Vec<Document> = (0..1000)
            .map(|i| doc! { "_id": ObjectId::new(), "data": { "batch": batch, "i": i, "text": format!("item {batch}-{i}") }, "created_at": DateTime::now() })
            .collect();
        coll.insert_many(docs).await.unwrap();
    }
    let all = |c: mongodb::Collection<Document>| async move {
        c.find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    };
    let before = all(coll.clone()).await;
    assert_eq!(before.len(), 10_000);
    let new = unique("big");
    let res = rename_org(&app, &o.token, &new).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let after_doc = registered(&app, &new).await.unwrap();
    let after = all(tenant_collection(&app, &after_doc.placement)).await;
    assert_eq!(after.len(), 10_000);
    assert_eq!(
        checksum(&after),
        checksum(&before),
        "contents changed in the move"
    );
}

/// Found by `make chaos`: a create whose request died, with nobody to meet it since
/// (its client gave up), was left in flight for good, its collection and account with
/// it. The purge's run rolls it back once its lease is over, as the next request would.
#[tokio::test]
async fn a_create_abandoned_with_nobody_to_meet_it_is_rolled_back_by_the_purge() {
    let app = app().await;
    let o = signup(&app).await;
    let long_ago = DateTime::from_millis(DateTime::now().timestamp_millis() - 120_000);
    let pending = doc! { "op": "create", "since": long_ago };
    set_pending(&app, &o.name, Some(pending)).await;
    let report = tenant::jobs::purge::run(&app.store, 50).await.unwrap();
    assert!(report.settled >= 1, "{report:?}");
    assert!(registered(&app, &o.name).await.is_none());
    assert!(!collection_exists(&app, &format!("org_{}", o.name)).await);
    let login = call(
        &app,
        tenant::routes::sessions::login,
        &login_req(&o.email, PASSWORD),
    )
    .await;
    assert_eq!(login.status, 401, "{}", login.text);
    // A second run finds nothing more of it.
    let again = tenant::jobs::purge::run(&app.store, 50).await.unwrap();
    assert!(registered(&app, &o.name).await.is_none(), "{again:?}");
}
