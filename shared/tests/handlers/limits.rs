//! (v3) Write limits per caller: past `WRITE_LIMIT_PER_MINUTE` (per user or key) or
//! `ANON_WRITE_LIMIT_PER_MINUTE` (per client IP, for the unauthenticated writes) the
//! answer is 429 with `Retry-After` and nothing is written; reads and other callers go on.

use futures_util::future::join_all;
use serde_json::json;
use tenant::App;
use tenant::auth::keys;
use tenant::routes::{accounts, invitations, items, organizations};

use crate::common::*;

async fn write_item(app: &App, bearer: &str) -> Res {
    let req = Req::post("/org/items", json!({ "n": 1 })).token(bearer);
    call(app, items::create, &req).await
}

async fn item_count(app: &App, bearer: &str) -> usize {
    let res = call(app, items::list, &Req::get("/org/items").token(bearer)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["items"].as_array().unwrap().len()
}

/// Seconds of a 429's `Retry-After`, checked to be within the minute's window.
fn retry_after(res: &Res) -> u64 {
    assert_eq!(res.status, 429, "{}", res.text);
    let secs: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
    assert!(res.body["detail"].as_str().unwrap().contains("writes"));
    secs
}

#[tokio::test]
async fn a_user_past_the_write_limit_gets_429_and_nothing_is_written() {
    let app = app_with(&[("WRITE_LIMIT_PER_MINUTE", "3")]).await;
    let a = signup(&app).await;
    let b = signup(&app).await;
    for _ in 0..3 {
        assert_eq!(write_item(&app, &a.token).await.status, 201);
    }
    retry_after(&write_item(&app, &a.token).await);
    let rename = json!({ "organization_name": unique("renamed") });
    let refused = call(
        &app,
        organizations::update,
        &Req::put("/org/update", rename).token(&a.token),
    )
    .await;
    retry_after(&refused);
    assert_eq!(get_org(&app, &a.name).await.status, 200, "not renamed");
    // Reads are not counted; another caller is unaffected.
    assert_eq!(item_count(&app, &a.token).await, 3);
    assert_eq!(write_item(&app, &b.token).await.status, 201);
}

#[tokio::test]
async fn a_key_has_a_limit_of_its_own_and_a_forged_key_never_spends_it() {
    let app = app_with(&[("WRITE_LIMIT_PER_MINUTE", "2")]).await;
    let o = signup(&app).await;
    let key = api_key(&app, &o.token, "admin").await;
    // A key of the right form and checksum with the real key's prefix: 401, uncounted.
    let forged = forged_with_prefix(&key);
    assert!(keys::well_formed(&forged) && forged[..12] == key[..12]);
    for _ in 0..5 {
        assert_eq!(write_item(&app, &forged).await.status, 401);
    }
    for _ in 0..2 {
        assert_eq!(write_item(&app, &key).await.status, 201);
    }
    retry_after(&write_item(&app, &key).await);
    // The owner who made the key (the creation was one write) still has one left.
    assert_eq!(write_item(&app, &o.token).await.status, 201);
    assert_eq!(item_count(&app, &key).await, 3);
}

/// Concurrent writes from one caller: exactly the limit goes through.
#[tokio::test]
async fn sixteen_concurrent_writes_past_a_limit_of_five_make_five_items() {
    let app = app_with(&[("WRITE_LIMIT_PER_MINUTE", "5")]).await;
    let o = signup(&app).await;
    let answers = join_all((0..16).map(|_| write_item(&app, &o.token))).await;
    let made = answers.iter().filter(|r| r.status == 201).count();
    let refused = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!((made, refused), (5, 11));
    assert_eq!(item_count(&app, &o.token).await, 5);
}

#[tokio::test]
async fn one_address_past_the_anonymous_limit_creates_nothing_more() {
    let app = app_with(&[("ANON_WRITE_LIMIT_PER_MINUTE", "2")]).await;
    let ip = unique("ip-");
    let body = |name: &str| create_body(name, &format!("{name}@example.com"), PASSWORD);
    let names: Vec<String> = (0..3).map(|_| unique("anon")).collect();
    let mut statuses = Vec::new();
    for name in &names {
        let req = Req::post("/org/create", body(name)).ip(&ip);
        statuses.push(call(&app, organizations::create, &req).await);
    }
    assert_eq!(statuses[0].status, 201);
    assert_eq!(statuses[1].status, 201);
    retry_after(&statuses[2]);
    assert_eq!(
        get_org(&app, &names[2]).await.status,
        404,
        "nothing written"
    );
    // The other unauthenticated writes share the address's count.
    let accept = accept_req("no-such-invitation-000000000000000000000", PASSWORD).ip(&ip);
    retry_after(&call(&app, invitations::accept, &accept).await);
    let confirm = Req::post(
        "/auth/password-reset/confirm",
        json!({ "token": "no-such-token-000000000000000000000000000", "password": "N3w-passw0rd" }),
    )
    .ip(&ip);
    retry_after(&call(&app, accounts::confirm_reset, &confirm).await);
    // Another address is unaffected.
    let other = Req::post("/org/create", body(&names[2]));
    assert_eq!(call(&app, organizations::create, &other).await.status, 201);
}

/// A key with `key`'s prefix, the right length and a valid checksum, but another
/// secret part.
fn forged_with_prefix(key: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let head = format!("{}{}", &key[..12], "Z".repeat(key.len() - 12 - 6));
    let mut crc = u64::from(crc32fast::hash(head.as_bytes()));
    let mut check = [b'0'; 6];
    for digit in check.iter_mut().rev() {
        *digit = ALPHABET[(crc % 62) as usize];
        crc /= 62;
    }
    format!("{head}{}", String::from_utf8(check.to_vec()).unwrap())
}
