//! Login, logout, tokens and the throttle.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tenant::{
    App,
    routes::{items, sessions},
};

use crate::common::*;

/// `POST /admin/login` from the client address `ip`.
async fn login_from(app: &App, ip: &str, email: &str, password: &str) -> Res {
    call(app, sessions::login, &login_req(email, password).ip(ip)).await
}

/// The seconds of a 429's `Retry-After`.
fn retry_after(res: &Res) -> u64 {
    res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn login_issues_an_hs256_token_with_the_contract_claims() {
    let app = app().await;
    let o = signup(&app).await;
    let res = call(
        &app,
        sessions::login,
        &login_req(&o.email.to_uppercase(), PASSWORD),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let b = &res.body;
    assert_eq!(b["token_type"], "bearer");
    assert_eq!(b["expires_in"], 3600);
    assert_eq!(b["organization_id"], o.id);
    assert_eq!(b["organization_name"], o.name);
    let token = b["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let c = jwt_claims(token);
    assert_eq!(c["sub"], b["admin_id"]);
    assert_eq!(c["org_id"], o.id);
    assert_eq!(c["organization_name"], o.name);
    assert_eq!(c["email"], o.email);
    assert_eq!(c["ver"], 0);
    assert_eq!(c["iss"], "organization-service");
    assert_eq!(c["aud"], "organization-api");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let app = app().await;
    let o = signup(&app).await;
    let wrong = call(
        &app,
        sessions::login,
        &login_req(&o.email, "Wrong-passw0rd"),
    )
    .await;
    let unknown = call(
        &app,
        sessions::login,
        &login_req(&format!("{}@nowhere.example", unique("u")), PASSWORD),
    )
    .await;
    for res in [&wrong, &unknown] {
        assert_eq!(res.status, 401);
        assert_eq!(res.detail(), "Incorrect email or password");
        assert_eq!(res.headers["www-authenticate"], "Bearer");
    }
    let bad = call(
        &app,
        sessions::login,
        &Req::post(
            "/admin/login",
            json!({ "email": { "$gt": "" }, "password": { "$gt": "" } }),
        ),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.locs().len(), 2);
}

#[tokio::test]
async fn five_failures_from_one_address_close_it_there_but_not_for_the_owner_elsewhere() {
    let app = app().await;
    let o = signup(&app).await;
    let attacker = unique("ip-");
    for _ in 0..5 {
        let res = login_from(&app, &attacker, &o.email, "Wrong-passw0rd").await;
        assert_eq!(res.status, 401);
    }
    let res = login_from(&app, &attacker, &o.email, PASSWORD).await;
    assert_eq!(res.status, 429, "{}", res.text);
    let retry = retry_after(&res);
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    let owner = login_from(&app, "203.0.113.9", &o.email, PASSWORD).await;
    assert_eq!(
        owner.status, 200,
        "five wrong passwords from one address locked the owner out everywhere: {}",
        owner.text
    );
}

#[tokio::test]
async fn one_address_that_keeps_trying_never_closes_the_email_elsewhere() {
    let app = app().await;
    let o = signup(&app).await;
    let attacker = unique("ip-");
    let mut refused = 0;
    for _ in 0..120 {
        let res = call(
            &app,
            sessions::login,
            &login_req(&o.email, "Wrong-passw0rd").ip(&attacker),
        )
        .await;
        refused += usize::from(res.status == 429);
    }
    assert_eq!(refused, 115, "five 401s, then 429s");
    let owner = call(
        &app,
        sessions::login,
        &login_req(&o.email, PASSWORD).ip("203.0.113.10"),
    )
    .await;
    assert_eq!(
        owner.status, 200,
        "one address's refused attempts closed the email everywhere: {}",
        owner.text
    );
}

#[tokio::test]
async fn a_hundred_failures_from_many_addresses_close_the_email_everywhere() {
    let app = app().await;
    let o = signup(&app).await;
    for i in 0..100 {
        let ip = format!("198.51.100.{}", i % 25);
        let res = login_from(&app, &ip, &o.email, "Wrong-passw0rd").await;
        assert_eq!(res.status, 401, "attempt {i}: {}", res.text);
    }
    let res = login_from(&app, "203.0.113.77", &o.email, PASSWORD).await;
    assert_eq!(res.status, 429, "{}", res.text);
    assert!(res.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_successful_login_clears_the_count_for_that_email_and_address() {
    let app = app().await;
    let o = signup(&app).await;
    let ip = unique("ip-");
    for round in 0..2 {
        for _ in 0..4 {
            let res = login_from(&app, &ip, &o.email, "Wrong-passw0rd").await;
            assert_eq!(res.status, 401, "round {round}");
        }
        let ok = login_from(&app, &ip, &o.email, PASSWORD).await;
        assert_eq!(ok.status, 200, "round {round}: {}", ok.text);
    }
}

#[tokio::test]
async fn fifty_failures_from_one_address_close_it_for_every_email() {
    let app = app().await;
    let o = signup(&app).await;
    let ip = &unique("ip-");
    for i in 0..50 {
        let email = format!("{}@example.com", unique(&format!("x{i}")));
        let res = login_from(&app, ip, &email, "Wrong-passw0rd").await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = login_from(&app, ip, &o.email, PASSWORD).await;
    assert_eq!(res.status, 429);
    assert!(res.headers.contains_key("retry-after"));
    let elsewhere = login_from(&app, &unique("ip-"), &o.email, PASSWORD).await;
    assert_eq!(elsewhere.status, 200);
}

#[tokio::test]
async fn logout_revokes_every_token_issued_so_far() {
    let app = app().await;
    let o = signup(&app).await;
    let second = login(&app, &o.email, PASSWORD).await;
    let res = call(&app, sessions::logout, &logout_req(&o.token)).await;
    assert_eq!(res.status, 204);
    assert_revoked(&app, &[&o.token, &second], "a token survived logout").await;
    let again = call(&app, sessions::logout, &logout_req(&o.token)).await;
    assert_eq!(again.status, 401);
    let fresh = login(&app, &o.email, PASSWORD).await;
    assert_eq!(list_items(&app, &fresh).await.status, 200);
}

fn forge(claims: &Value, alg: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

#[tokio::test]
async fn every_kind_of_bad_token_is_401() {
    let app = app().await;
    let o = signup(&app).await;
    let good = jwt_claims(&o.token);
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let none_token = {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(good.to_string());
        format!("{h}.{p}.")
    };
    let key = SECRET.as_bytes();
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none_token),
        (
            "other key",
            forge(
                &good,
                Algorithm::HS256,
                b"another-secret-of-enough-length-0123456789",
            ),
        ),
        (
            "HS512 with the right key",
            forge(&good, Algorithm::HS512, key),
        ),
        (
            "HS384 with the right key",
            forge(&good, Algorithm::HS384, key),
        ),
        (
            "expired",
            forge(&with("exp", json!(now - 120)), Algorithm::HS256, key),
        ),
        (
            "not yet valid",
            forge(&with("nbf", json!(now + 3600)), Algorithm::HS256, key),
        ),
        (
            "wrong issuer",
            forge(&with("iss", json!("someone-else")), Algorithm::HS256, key),
        ),
        ("no issuer", forge(&without("iss"), Algorithm::HS256, key)),
        (
            "wrong audience",
            forge(&with("aud", json!("other-api")), Algorithm::HS256, key),
        ),
        ("no audience", forge(&without("aud"), Algorithm::HS256, key)),
        ("no exp", forge(&without("exp"), Algorithm::HS256, key)),
        (
            "old version",
            forge(&with("ver", json!(-1)), Algorithm::HS256, key),
        ),
        ("no version", forge(&without("ver"), Algorithm::HS256, key)),
        (
            "other admin",
            forge(
                &with("sub", json!("000000000000000000000000")),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "unknown org",
            forge(
                &with("org_id", json!("000000000000000000000000")),
                Algorithm::HS256,
                key,
            ),
        ),
        (
            "org id injection",
            forge(&with("org_id", json!({ "$ne": "" })), Algorithm::HS256, key),
        ),
        ("garbage", "not.a.token".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        let res = list_items(&app, &token).await;
        assert_eq!(res.status, 401, "{what}: {}", res.text);
        assert_eq!(res.headers["www-authenticate"], "Bearer", "{what}");
    }
    let ok = list_items(&app, &forge(&good, Algorithm::HS256, key)).await;
    assert_eq!(ok.status, 200, "the control token must pass");
    let basic = Req::get("/org/items").header("authorization", &format!("Basic {}", o.token));
    let scheme = call(&app, items::list, &basic).await;
    assert_eq!(scheme.status, 401);
}

#[tokio::test]
async fn a_window_that_has_passed_counts_from_zero_again() {
    use mongodb::bson::{DateTime, Document, doc};
    let app = app().await;
    let o = signup(&app).await;
    let ip = unique("ip-");
    let attempts = app
        .store
        .databases()
        .0
        .collection::<Document>("login_attempts");
    let past = DateTime::from_millis(DateTime::now().timestamp_millis() - 1_000);
    attempts
        .insert_one(
            doc! { "_id": format!("pair:{}|{ip}", o.email), "n": 50_i64, "until": past.timestamp_millis(), "expires_at": past },
        )
        .await
        .unwrap();
    let res = login_from(&app, &ip, &o.email, PASSWORD).await;
    assert_eq!(
        res.status, 200,
        "an expired window still counted: {}",
        res.text
    );
    // A window still running counts on.
    let future = DateTime::from_millis(DateTime::now().timestamp_millis() + 60_000);
    let ip2 = unique("ip-");
    attempts
        .insert_one(
            doc! { "_id": format!("pair:{}|{ip2}", o.email), "n": 5_i64, "until": future.timestamp_millis(), "expires_at": future },
        )
        .await
        .unwrap();
    let res = login_from(&app, &ip2, &o.email, PASSWORD).await;
    assert_eq!(res.status, 429, "{}", res.text);
    let retry = retry_after(&res);
    assert!((55..=60).contains(&retry), "Retry-After {retry}");
}
