//! Tenant data: create, list (paged), get, delete, isolation and input limits.

use lambda_http::http::Method;
use serde_json::{Value, json};
use tenant::{App, routes::items};

use crate::common::*;

/// `POST /org/items` by `token` with a JSON body.
async fn create_item(app: &App, token: &str, data: Value) -> Res {
    call(
        app,
        items::create,
        &Req::post("/org/items", data).token(token),
    )
    .await
}

/// `POST /org/items` by `token` with a body of JSON text as written (numbers and all).
async fn create_item_raw(app: &App, token: &str, json_text: &str) -> Res {
    let req = Req::new(Method::POST, "/org/items")
        .raw(json_text, "application/json")
        .token(token);
    call(app, items::create, &req).await
}

/// `GET /org/items/{id}` by `token`.
async fn get_item(app: &App, token: &str, id: &str) -> Res {
    let req = Req::get("/org/items/x").param("id", id).token(token);
    call(app, items::get, &req).await
}

/// `DELETE /org/items/{id}` by `token`.
async fn delete_item(app: &App, token: &str, id: &str) -> Res {
    let req = Req::delete("/org/items/x").param("id", id).token(token);
    call(app, items::delete, &req).await
}

/// `GET /org/items` by `token` with query parameters.
async fn list_page(app: &App, token: &str, query: &[(&str, &str)]) -> Res {
    let req = Req::get("/org/items").token(token).queries(query);
    call(app, items::list, &req).await
}

#[tokio::test]
async fn items_round_trip_in_the_contract_shape() {
    let app = app().await;
    let o = signup(&app).await;
    let data = json!({ "name": "widget", "price": 9.5, "tags": ["a", "b"], "nested": { "n": 1, "ok": true, "none": null } });
    let res = create_item(&app, &o.token, data.clone()).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["data"], data);
    assert!(res.body["created_at"].as_str().unwrap().ends_with('Z'));
    let id = res.body["id"].as_str().unwrap();
    let got = get_item(&app, &o.token, id).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["data"], data);
    assert_eq!(got.body["id"], id);
    let del = delete_item(&app, &o.token, id).await;
    assert_eq!(del.status, 204);
    for res in [
        get_item(&app, &o.token, id).await,
        delete_item(&app, &o.token, id).await,
        get_item(&app, &o.token, "not-an-id").await,
    ] {
        assert_eq!(res.status, 404, "{}", res.text);
    }
}

#[tokio::test]
async fn lists_page_in_id_order() {
    let app = app().await;
    let o = signup(&app).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(add_item(&app, &o.token, json!({ "i": i })).await);
    }
    let first = list_page(&app, &o.token, &[("limit", "2")]).await;
    assert_eq!(first.status, 200);
    let page_ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(page_ids(&first.body), ids[..2]);
    assert_eq!(first.body["next"], ids[1]);
    let second = list_page(&app, &o.token, &[("limit", "2"), ("after", &ids[1])]).await;
    assert_eq!(page_ids(&second.body), ids[2..4]);
    let last = list_page(&app, &o.token, &[("limit", "2"), ("after", &ids[3])]).await;
    assert_eq!(page_ids(&last.body), ids[4..]);
    assert!(last.body["next"].is_null());
    let all = list_items(&app, &o.token).await;
    assert_eq!(page_ids(&all.body), ids);
    for (k, v) in [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("limit", "-1"),
        ("after", "zzz"),
    ] {
        let res = list_page(&app, &o.token, &[(k, v)]).await;
        assert_eq!(res.status, 422, "{k}={v}");
        assert_eq!(res.locs(), vec![format!("[\"query\",\"{k}\"]")]);
    }
}

#[tokio::test]
async fn one_tenant_never_sees_anothers_items() {
    let app = app().await;
    let a = signup(&app).await;
    let b = signup(&app).await;
    let secret = add_item(&app, &a.token, json!({ "secret": "a's" })).await;
    let get = get_item(&app, &b.token, &secret).await;
    assert_eq!(get.status, 404);
    assert_eq!(get.detail(), "Item not found");
    let del = delete_item(&app, &b.token, &secret).await;
    assert_eq!(del.status, 404);
    let list = list_items(&app, &b.token).await;
    assert!(!list.text.contains(&secret));
    let still = get_item(&app, &a.token, &secret).await;
    assert_eq!(still.status, 200, "B's delete touched A's item");
}

#[tokio::test]
async fn item_bodies_are_checked() {
    let app = app().await;
    let o = signup(&app).await;
    let mut deep = json!(1);
    for _ in 0..25 {
        deep = json!({ "d": deep });
    }
    let bad: Vec<Value> = vec![
        json!({ "$where": "1" }),
        json!({ "a.b": 1 }),
        json!({ "ok": { "$gt": 1 } }),
        json!({ "list": [{ "x.y": 1 }] }),
        json!({ "nul\u{0}": 1 }),
        json!({ "big": 18446744073709551615u64 }),
        json!({ "big": 9223372036854775808u64 }),
        deep,
        json!([1, 2]),
        json!("text"),
    ];
    for body in bad {
        let res = create_item(&app, &o.token, body.clone()).await;
        assert_eq!(res.status, 422, "{body}: {}", res.text);
    }
    let big = json!({ "blob": "x".repeat(70 * 1024) });
    let res = create_item(&app, &o.token, big).await;
    assert_eq!(res.status, 413);
    let near = json!({ "blob": "x".repeat(60 * 1024) });
    let res = create_item(&app, &o.token, near).await;
    assert_eq!(res.status, 201);
    let list = list_items(&app, &o.token).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "a refused item was stored"
    );
    let anon = call(
        &app,
        items::create,
        &Req::post("/org/items", json!({ "a": 1 })),
    )
    .await;
    assert_eq!(anon.status, 401);
}

#[tokio::test]
async fn numbers_that_cannot_be_stored_exactly_are_422() {
    let app = app().await;
    let o = signup(&app).await;
    for literal in [
        "9223372036854775808",
        "18446744073709551616",
        "-9223372036854775809",
        "1e309",
        "1e-400",
        "0.1000000000000000000001",
    ] {
        let res = create_item_raw(&app, &o.token, &format!(r#"{{"n": {literal}}}"#)).await;
        assert_eq!(res.status, 422, "{literal}: {}", res.text);
    }
    for (literal, back) in [
        ("9223372036854775807", json!(9223372036854775807i64)),
        ("-9223372036854775808", json!(-9223372036854775808i64)),
        ("1e2", json!(100.0)),
        ("0.1", json!(0.1)),
        ("5e-324", json!(5e-324)),
    ] {
        let res = create_item_raw(&app, &o.token, &format!(r#"{{"n": {literal}}}"#)).await;
        assert_eq!(res.status, 201, "{literal}: {}", res.text);
        let id = res.body["id"].as_str().unwrap();
        let got = get_item(&app, &o.token, id).await;
        assert_eq!(got.body["data"]["n"], back, "{literal}");
    }
}

#[tokio::test]
async fn a_page_stops_before_five_megabytes_and_continues_with_next() {
    let app = app().await;
    let o = signup(&app).await;
    // Items of ~64 KiB whose numbers grow on the way out (`1e2` is sent back as
    // `100.0`): 100 of them are ~6.5 MB stored and more once shown.
    let numbers = vec!["1e2"; 15_000].join(",");
    let body = format!(r#"{{"pad": "{}", "n": [{numbers}]}}"#, "x".repeat(4_000));
    assert!(body.len() <= 64 * 1024);
    for _ in 0..100 {
        let res = create_item_raw(&app, &o.token, &body).await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    let mut seen = std::collections::HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("limit", "100")];
        if let Some(a) = &after {
            query.push(("after", a));
        }
        let res = list_page(&app, &o.token, &query).await;
        assert_eq!(res.status, 200);
        assert!(
            res.text.len() <= items::MAX_PAGE_BYTES,
            "a page of {} bytes",
            res.text.len()
        );
        for item in res.body["items"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_owned()));
        }
        pages += 1;
        match res.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 100, "items lost between pages");
    assert!(pages >= 2, "one page held everything");
}
