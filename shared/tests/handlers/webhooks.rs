//! (v3) Events and webhooks: the stream's promise under concurrent writers, signed
//! deliveries verified by the receivers' own library, retries on the schedule, leases,
//! disabled endpoints, deleted organizations, and the addresses an endpoint may never
//! reach. Tests that run the dispatcher use a server of their own (it sweeps every
//! organization of its database, and the local server shares collections).

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use lambda_http::http::Method;
use mongodb::bson::{Document, doc};
use serde_json::{Value, json};
use tenant::App;
use tenant::routes::{audit, events, webhooks};

use crate::common::*;

/// Settings of a dispatcher test: loopback receivers allowed, a short retry schedule.
const LOCAL: &[(&str, &str)] = &[("APP_ENV", "local"), ("WEBHOOK_RETRY_SCHEDULE", "1,2,4")];

async fn register(app: &App, token: &str, url: &str, types: Value) -> Res {
    let body = json!({ "url": url, "events": types, "description": "test receiver" });
    call(
        app,
        webhooks::create,
        &Req::post("/org/webhooks", body).token(token),
    )
    .await
}

async fn page(app: &App, token: &str, after: i64) -> Res {
    let req = Req::get("/org/events")
        .query("after", &after.to_string())
        .query("limit", "100")
        .token(token);
    call(app, events::list, &req).await
}

async fn deliveries(app: &App, token: &str, hook: &str) -> Vec<Value> {
    let req = Req::get("/org/webhooks/x/deliveries")
        .param("id", hook)
        .token(token);
    let res = call(app, webhooks::deliveries, &req).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["deliveries"].as_array().unwrap().clone()
}

fn collection(app: &App, name: &str) -> mongodb::Collection<Document> {
    app.store.databases().0.collection(name)
}

/// Runs the dispatcher until `done` holds or `seconds` pass.
async fn dispatch_until(app: &App, seconds: u64, done: impl Fn() -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(seconds);
    while !done() && std::time::Instant::now() < end {
        dispatch(app).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_and_a_poller_see_every_event_exactly_once() {
    let app = std::sync::Arc::new(app().await);
    let o = signup(&app).await;
    let org = o.id.clone();
    let writers = (0..16).map(|w| {
        let (app, token) = (app.clone(), o.token.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..5 {
                ids.push(add_item(&app, &token, json!({ "w": w, "i": i })).await);
            }
            ids
        })
    });
    // A second streamer contends for the lease all along, as the dispatcher would.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let streamer = {
        let (app, stop, org) = (app.clone(), stop.clone(), org.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tenant::core::events::stream(&app.store, &org)
                    .await
                    .unwrap();
            }
        })
    };
    let poller = {
        let (app, token) = (app.clone(), o.token.clone());
        tokio::spawn(async move {
            let (mut after, mut seen) = (0_i64, Vec::<Value>::new());
            for _ in 0..600 {
                let res = page(&app, &token, after).await;
                assert_eq!(res.status, 200, "{}", res.text);
                seen.extend(res.body["events"].as_array().unwrap().iter().cloned());
                after = res.body["next_after"].as_i64().unwrap();
                let items = seen.iter().filter(|e| e["type"] == "item.created").count();
                if items >= 80 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };
    let made: Vec<String> = join_all(writers)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    let mut seen = poller.await.unwrap();
    // And once more, after every writer is done: nothing new was left behind.
    let last = seen.last().map_or(0, |e| e["sequence"].as_i64().unwrap());
    let tail = page(&app, &o.token, last).await;
    seen.extend(tail.body["events"].as_array().unwrap().iter().cloned());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    streamer.await.unwrap();
    let sequences: Vec<i64> = seen
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let ids: Vec<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "an event twice"
    );
    let items: HashSet<String> = seen
        .iter()
        .filter(|e| e["type"] == "item.created")
        .map(|e| e["data"]["targets"][0]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        items,
        made.into_iter().collect::<HashSet<_>>(),
        "every item once"
    );
    assert!(seen.iter().all(|e| e["organization_id"] == org.as_str()));
}

#[tokio::test]
async fn a_holder_that_died_leaves_gaps_never_a_late_event() {
    let app = app().await;
    let o = signup(&app).await;
    let first = page(&app, &o.token, 0).await;
    let committed = first.body["next_after"].as_i64().unwrap();
    // A holder takes two sequences and dies before writing them.
    let ghost = "ghost-holder";
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    let taken = tenant::store::events::lease(&app.store, &o.id, ghost, now, now + 30_000).await;
    assert!(taken.unwrap().is_some());
    assert!(
        tenant::store::events::advance(&app.store, &o.id, ghost, committed + 2, None)
            .await
            .unwrap()
    );
    collection(&app, "event_streams")
        .update_one(
            doc! { "_id": &o.id },
            doc! { "$set": { "lease_until": 0_i64 } },
        )
        .await
        .unwrap();
    add_item(&app, &o.token, json!({ "after": "the ghost" })).await;
    let next = page(&app, &o.token, committed).await;
    let events = next.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", next.text);
    assert_eq!(
        events[0]["sequence"],
        committed + 3,
        "the ghost's two are gaps"
    );
    // The ghost wakes up and writes one of its sequences: refused, never seen.
    let late = tenant::store::events::EventDoc {
        id: format!("late:{}", o.id),
        org: o.id.clone(),
        seq: committed + 1,
        kind: "item.created".into(),
        event_id: "late".into(),
        body: "{}".into(),
        occurred_ms: now,
    };
    tenant::store::events::insert(&app.store, &[late])
        .await
        .unwrap();
    let again = page(&app, &o.token, committed).await;
    assert_eq!(
        again.body["events"].as_array().unwrap().len(),
        1,
        "{}",
        again.text
    );
}

#[tokio::test]
async fn a_change_is_delivered_signed_and_the_receivers_library_verifies_it() {
    let (app, _, _server) = mail_app(LOCAL).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    let made = register(&app, &o.token, &receiver.url, json!(["item.created"])).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let hook = made.body["id"].as_str().unwrap().to_owned();
    let item = add_item(&app, &o.token, json!({ "n": 1 })).await;
    dispatch_until(&app, 10, || !receiver.hits().is_empty()).await;
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1, "only the item event (the types asked for)");
    let hit = &hits[0];
    let body: Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(body["type"], "item.created");
    assert_eq!(body["organization_id"], o.id.as_str());
    assert_eq!(body["data"]["targets"][0]["id"], item.as_str());
    assert!(body["sequence"].as_i64().unwrap() >= 1);
    assert_eq!(
        hit.headers["webhook-id"],
        format!("{hook}.{}", body["id"].as_str().unwrap())
    );
    assert_eq!(hit.headers["content-type"], "application/json");
    verify_with_standardwebhooks(&secret, hit).expect("standardwebhooks verifies the delivery");
    let wrong = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(
        verify_with_standardwebhooks(wrong, hit).is_err(),
        "another secret does not"
    );
    // Our own check of the same header.
    let key = base64_decode(secret.strip_prefix("whsec_").unwrap());
    let ts: i64 = hit.headers["webhook-timestamp"].parse().unwrap();
    let expected =
        tenant::core::webhooks::signature(&[key], &hit.headers["webhook-id"], ts, &hit.body);
    assert_eq!(hit.headers["webhook-signature"], expected);
    // The delivery, as listed.
    let listed = deliveries(&app, &o.token, &hook).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "succeeded");
    assert_eq!(listed[0]["attempts"][0]["status_code"], 200);
    assert!(listed[0]["next_attempt_at"].is_null());
    // The secret is shown once: never in a list, a read, an audit event or a body.
    let list = call(
        &app,
        webhooks::list,
        &Req::get("/org/webhooks").token(&o.token),
    )
    .await;
    let one = call(
        &app,
        webhooks::get,
        &Req::get("/org/webhooks/x")
            .param("id", &hook)
            .token(&o.token),
    )
    .await;
    let log = call(&app, audit::list, &Req::get("/org/audit").token(&o.token)).await;
    let stored: Vec<Document> = futures_util::TryStreamExt::try_collect(
        collection(&app, "webhooks").find(doc! {}).await.unwrap(),
    )
    .await
    .unwrap();
    let secret_b64 = secret.strip_prefix("whsec_").unwrap();
    for text in [
        list.text,
        one.text,
        log.text,
        hit.body.clone(),
        format!("{stored:?}"),
    ] {
        assert!(!text.contains(secret_b64), "the secret is in {text}");
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_same_webhook_id_three_times_on_the_schedule() {
    let (app, _, _server) = mail_app(LOCAL).await;
    let receiver = Receiver::start(&[500, 500]).await;
    let o = signup(&app).await;
    let made = register(&app, &o.token, &receiver.url, json!(["*"])).await;
    let hook = made.body["id"].as_str().unwrap().to_owned();
    // What happened before the endpoint existed is not its: the item is all it gets.
    add_item(&app, &o.token, json!({ "n": 1 })).await;
    dispatch_until(&app, 20, || receiver.hits().len() >= 3).await;
    let hits = receiver.hits();
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits[0].body.contains("item.created"));
    let id = &hits[0].headers["webhook-id"];
    assert!(
        hits.iter().all(|h| &h.headers["webhook-id"] == id),
        "one webhook-id"
    );
    let gaps: Vec<Duration> = hits.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] >= Duration::from_millis(900),
        "{gaps:?}: 1 s, then 2 s"
    );
    assert!(gaps[1] >= Duration::from_millis(1900), "{gaps:?}");
    let listed = deliveries(&app, &o.token, &hook).await;
    let attempts = listed[0]["attempts"].as_array().unwrap();
    assert_eq!(listed[0]["status"], "succeeded");
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(
        attempts[0]["error"], "receiver is down",
        "the receiver's answer is kept"
    );
    // A manual retry: one more attempt now, with the same webhook-id.
    let delivery = listed[0]["id"].as_str().unwrap();
    let retry = Req::new(Method::POST, "/org/webhooks/x/deliveries/y/retry")
        .param("id", &hook)
        .param("delivery_id", delivery)
        .token(&o.token);
    assert_eq!(call(&app, webhooks::retry, &retry).await.status, 202);
    dispatch_until(&app, 10, || receiver.hits().len() >= 4).await;
    assert_eq!(&receiver.hits()[3].headers["webhook-id"], id);
}

#[tokio::test]
async fn a_delivery_taken_by_a_dispatcher_that_died_is_taken_over_after_its_lease() {
    let (app, _, _server) = mail_app(LOCAL).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    register(&app, &o.token, &receiver.url, json!(["item.created"])).await;
    add_item(&app, &o.token, json!({ "n": 1 })).await;
    page(&app, &o.token, 0).await; // streams: the delivery is made
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    let taken = tenant::store::webhooks::take_due(&app.store, now, 60_000)
        .await
        .unwrap();
    let taken = taken.expect("a due delivery");
    // ... and the dispatcher dies. Within the lease, nobody else attempts it.
    dispatch(&app).await;
    assert!(receiver.hits().is_empty());
    // The lease passes.
    collection(&app, "webhook_deliveries")
        .update_one(
            doc! { "_id": &taken.id },
            doc! { "$set": { "due_ms": 0_i64 } },
        )
        .await
        .unwrap();
    dispatch_until(&app, 10, || !receiver.hits().is_empty()).await;
    assert_eq!(receiver.hits()[0].headers["webhook-id"], taken.id);
}

#[tokio::test]
async fn a_disabled_endpoint_gets_nothing_and_a_deleted_organization_stops_deliveries() {
    let (app, _, _server) = mail_app(LOCAL).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    let made = register(&app, &o.token, &receiver.url, json!(["item.created"])).await;
    let hook = made.body["id"].as_str().unwrap().to_owned();
    let off = Req::patch("/org/webhooks/x", json!({ "enabled": false })).param("id", &hook);
    let res = call(&app, webhooks::update, &off.token(&o.token)).await;
    assert_eq!(res.body["enabled"], false, "{}", res.text);
    add_item(&app, &o.token, json!({ "n": 1 })).await;
    dispatch(&app).await;
    let test = Req::new(Method::POST, "/org/webhooks/x/test").param("id", &hook);
    assert_eq!(
        call(&app, webhooks::test, &test.token(&o.token))
            .await
            .status,
        409
    );
    dispatch(&app).await;
    assert!(receiver.hits().is_empty());
    assert!(deliveries(&app, &o.token, &hook).await.is_empty());
    // Enabled again, then the organization is deleted before the dispatcher runs.
    let on = Req::patch("/org/webhooks/x", json!({ "enabled": true })).param("id", &hook);
    call(&app, webhooks::update, &on.token(&o.token)).await;
    add_item(&app, &o.token, json!({ "n": 2 })).await;
    page(&app, &o.token, 0).await;
    assert_eq!(delete_org(&app, &o.token).await.status, 204);
    dispatch(&app).await;
    dispatch(&app).await;
    assert!(receiver.hits().is_empty(), "{:?}", receiver.hits());
    let left = collection(&app, "webhook_deliveries")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_with_an_event() {
    let (app, _, _server) =
        mail_app(&[("APP_ENV", "local"), ("WEBHOOK_DISABLE_AFTER_HOURS", "1")]).await;
    let receiver = Receiver::start(&[500, 500, 500]).await;
    let o = signup(&app).await;
    let made = register(&app, &o.token, &receiver.url, json!(["item.created"])).await;
    let hook = made.body["id"].as_str().unwrap().to_owned();
    // Failing for two hours already.
    let since = mongodb::bson::DateTime::now().timestamp_millis() - 2 * 3600 * 1000;
    collection(&app, "webhooks")
        .update_one(
            doc! { "_id": &hook },
            doc! { "$set": { "failing_since_ms": since } },
        )
        .await
        .unwrap();
    add_item(&app, &o.token, json!({ "n": 1 })).await;
    dispatch_until(&app, 10, || !receiver.hits().is_empty()).await;
    let one = call(
        &app,
        webhooks::get,
        &Req::get("/org/webhooks/x")
            .param("id", &hook)
            .token(&o.token),
    )
    .await;
    assert_eq!(one.body["enabled"], false, "{}", one.text);
    let events = page(&app, &o.token, 0).await;
    assert!(events.text.contains("webhook.disabled"), "{}", events.text);
}

#[tokio::test]
async fn addresses_inside_are_refused_at_registration_and_at_each_attempt() {
    let app = app().await; // not local: https and public addresses only
    let o = signup(&app).await;
    for url in [
        "http://93.184.216.34/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "https://user:pw@93.184.216.34/hook",
    ] {
        let res = register(&app, &o.token, url, json!(["*"])).await;
        assert_eq!(res.status, 422, "{url}: {}", res.text);
        assert_eq!(res.locs(), [r#"["body","url"]"#], "{url}");
    }
    let ok = register(&app, &o.token, "https://93.184.216.34/hook", json!(["*"])).await;
    assert_eq!(ok.status, 201, "{}", ok.text);

    // At an attempt: the host now resolves inside (DNS rebinding, or an edited record).
    let (app, _, _server) = mail_app(&[]).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    let made = register(
        &app,
        &o.token,
        "https://93.184.216.34/hook",
        json!(["item.created"]),
    )
    .await;
    let hook = made.body["id"].as_str().unwrap().to_owned();
    let inside = receiver.url.replace("http://", "https://");
    collection(&app, "webhooks")
        .update_one(doc! { "_id": &hook }, doc! { "$set": { "url": &inside } })
        .await
        .unwrap();
    add_item(&app, &o.token, json!({ "n": 1 })).await;
    page(&app, &o.token, 0).await;
    dispatch(&app).await;
    assert!(receiver.hits().is_empty());
    let listed = deliveries(&app, &o.token, &hook).await;
    let error = listed[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("loopback, private"), "{error}");
    assert_eq!(
        listed[0]["status"], "pending",
        "a failed attempt, retried on the schedule"
    );
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_a_day() {
    let (app, _, _server) = mail_app(LOCAL).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    let made = register(&app, &o.token, &receiver.url, json!(["webhook.test"])).await;
    let (hook, old) = (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    );
    let rotate = Req::new(Method::POST, "/org/webhooks/x/rotate-secret").param("id", &hook);
    let rotated = call(&app, webhooks::rotate, &rotate.token(&o.token)).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let test = Req::new(Method::POST, "/org/webhooks/x/test").param("id", &hook);
    assert_eq!(
        call(&app, webhooks::test, &test.token(&o.token))
            .await
            .status,
        202
    );
    dispatch_until(&app, 10, || !receiver.hits().is_empty()).await;
    let hit = &receiver.hits()[0];
    assert_eq!(hit.headers["webhook-signature"].split(' ').count(), 2);
    assert_eq!(
        serde_json::from_str::<Value>(&hit.body).unwrap()["type"],
        "webhook.test"
    );
    verify_with_standardwebhooks(&new, hit).expect("the new secret verifies");
    verify_with_standardwebhooks(&old, hit).expect("the old one too, for a day");
}

#[tokio::test]
async fn a_change_is_delivered_even_when_its_function_dies_right_after_it() {
    let (app, _, server) = mail_app(LOCAL).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    register(&app, &o.token, &receiver.url, json!(["member.removed"])).await;
    let (_, _, member) = join_as(&app, &o.token, "member").await;
    // The removal is written (its event in the organization's outbox), then the
    // function dies before anything else.
    app.store
        .hooks()
        .arm("leave.after_map", tenant::hooks::Fault::Unavailable);
    let remove = Req::delete("/org/members/x")
        .param("user_id", &member)
        .token(&o.token);
    let res = call(&app, tenant::routes::members::remove, &remove).await;
    app.store.hooks().clear();
    assert_eq!(res.status, 503, "{}", res.text);
    // Another process: the organization's next request (any reader) and the dispatcher.
    let other = App::with_config(config(&[
        ("MONGODB_URI", &server.uri()),
        ("MASTER_DB", app.config.master_db.as_str()),
        ("TENANT_DB", app.config.tenant_db.as_str()),
        ("APP_ENV", "local"),
    ]))
    .await
    .unwrap();
    let events = page(&other, &o.token, 0).await;
    assert!(events.text.contains("member.removed"), "{}", events.text);
    dispatch_until(&other, 10, || !receiver.hits().is_empty()).await;
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].body.contains("member.removed"));
}
