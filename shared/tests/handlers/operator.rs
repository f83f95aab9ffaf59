//! (v3) The operator API: only operators (an IAM principal, or the local token under
//! `APP_ENV=local`), keyset pages that see each organization once, filters, the profile,
//! suspension (403 for every login, token and key; deliveries wait and resume).

use std::collections::HashSet;

use lambda_http::http::Method;
use serde_json::{Value, json};
use tenant::App;
use tenant::routes::{items, operator, organizations, sessions, webhooks};

use crate::common::*;

const ARN: &str = "arn:aws:iam::123456789012:user/ops";

fn op(method: Method, path: &str) -> Req {
    Req::new(method, path).iam(ARN)
}

async fn list(app: &App, pairs: &[(&str, &str)]) -> Res {
    let mut req = op(Method::GET, "/operator/organizations");
    for (k, v) in pairs {
        req = req.query(k, v);
    }
    call(app, operator::list, &req).await
}

async fn create_named(app: &App, name: &str) -> Res {
    let body = create_body(name, &format!("{name}@example.com"), PASSWORD);
    call(app, organizations::create, &Req::post("/org/create", body)).await
}

/// Every page of `pairs` with `limit=7`, running `between` after each page.
async fn all_pages(
    app: &App,
    pairs: &[(&str, &str)],
    mut between: impl AsyncFnMut(usize),
) -> Vec<String> {
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    for page_no in 0.. {
        let mut q: Vec<(&str, &str)> = pairs.to_vec();
        q.push(("limit", "7"));
        if let Some(a) = &after {
            q.push(("after", a));
        }
        let res = list(app, &q).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let page = res.body["organizations"].as_array().unwrap();
        assert!(page.len() <= 7);
        names.extend(
            page.iter()
                .map(|o| o["organization_name"].as_str().unwrap().to_owned()),
        );
        between(page_no).await;
        match res.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    names
}

#[tokio::test]
async fn only_operators_reach_the_operator_routes() {
    let app = app().await;
    let o = signup(&app).await;
    let key = api_key(&app, &o.token, "admin").await;
    let routes: Vec<(Method, &str)> = vec![(Method::GET, "/operator/organizations")];
    for (method, path) in routes {
        let anonymous = call(&app, operator::list, &Req::new(method.clone(), path)).await;
        assert_eq!(anonymous.status, 401, "{}", anonymous.text);
        for bearer in [o.token.as_str(), key.as_str()] {
            let res = call(
                &app,
                operator::list,
                &Req::new(method.clone(), path).token(bearer),
            )
            .await;
            assert_eq!(res.status, 403, "{}", res.text);
        }
        let junk = call(
            &app,
            operator::list,
            &Req::new(method.clone(), path).token(&"x".repeat(43)),
        )
        .await;
        assert_eq!(junk.status, 401, "a token that is nobody's: {}", junk.text);
        assert_eq!(
            call(&app, operator::list, &op(method, path)).await.status,
            200
        );
    }
    // Under APP_ENV=local, the generated token; any other bearer is not an operator.
    let token = "local-operator-token-0123456789abcdefghij";
    let local = app_with(&[("APP_ENV", "local"), ("OPERATOR_TOKEN", token)]).await;
    let by_token = Req::get("/operator/organizations").token(token);
    assert_eq!(call(&local, operator::list, &by_token).await.status, 200);
    let wrong = Req::get("/operator/organizations").token(&format!("{token}x"));
    assert_eq!(call(&local, operator::list, &wrong).await.status, 401);
    // Outside APP_ENV=local the token is refused at start: only IAM decides there.
    let refused = tenant::config::Config::from_vars(&std::collections::HashMap::from([
        ("MONGODB_URI".to_owned(), "mongodb://127.0.0.1:1".to_owned()),
        ("JWT_SECRET".to_owned(), SECRET.to_owned()),
        ("OPERATOR_TOKEN".to_owned(), token.to_owned()),
    ]));
    assert!(refused.unwrap_err().to_string().contains("OPERATOR_TOKEN"));
}

#[tokio::test]
async fn paging_twenty_five_by_seven_sees_each_once_also_while_others_come_and_go() {
    let app = app().await;
    let prefix = unique("pg");
    let mut names: Vec<String> = (0..25).map(|i| format!("{prefix}{i:02}")).collect();
    for name in &names {
        assert_eq!(create_named(&app, name).await.status, 201);
    }
    names.sort();
    for sort in ["created_at", "-created_at", "name"] {
        let seen = all_pages(&app, &[("q", &prefix), ("sort", sort)], async |_| {}).await;
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, names, "{sort}: each exactly once");
        if sort == "name" {
            assert_eq!(seen, names, "in name order");
        }
        if sort == "-created_at" {
            assert_eq!(seen.first().unwrap(), &format!("{prefix}24"));
        }
    }
    // While paging, organizations are created and deleted: none is seen twice, and
    // every one that stayed throughout is seen.
    let doomed = format!("{prefix}03");
    let login = call(
        &app,
        sessions::login,
        &login_req(&format!("{doomed}@example.com"), PASSWORD),
    )
    .await;
    let doomed_token = login.body["access_token"].as_str().unwrap().to_owned();
    let mut doomed_token = Some(doomed_token);
    let app_ref = &app;
    let prefix_ref = &prefix;
    let seen = all_pages(&app, &[("q", &prefix)], async |page_no| {
        if page_no == 1 {
            create_named(app_ref, &format!("{prefix_ref}99")).await;
            if let Some(t) = doomed_token.take() {
                assert_eq!(delete_org(app_ref, &t).await.status, 204);
            }
        }
    })
    .await;
    let unique_seen: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique_seen.len(), seen.len(), "none twice");
    for name in names.iter().filter(|n| **n != doomed) {
        assert!(unique_seen.contains(name), "{name} missed");
    }
}

#[tokio::test]
async fn filters_and_a_bad_query_are_422() {
    let app = app().await;
    let ext = unique("cus_");
    let made = call(
        &app,
        organizations::create,
        &Req::post("/org/create", {
            let name = unique("flt");
            let mut b = create_body(&name, &format!("{name}@example.com"), PASSWORD);
            b["external_id"] = json!(ext);
            b
        }),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let found = list(&app, &[("external_id", &ext)]).await;
    let page = found.body["organizations"].as_array().unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["external_id"], json!(ext));
    assert_eq!(page[0]["members"], 1);
    assert_eq!(page[0]["status"], "active");
    for bad in [
        ("status", "gone"),
        ("sort", "size"),
        ("after", "nope"),
        ("limit", "0"),
        ("q", "a b"),
    ] {
        let res = list(&app, &[bad]).await;
        assert_eq!(res.status, 422, "{bad:?}: {}", res.text);
    }
    let missing = call(
        &app,
        operator::get,
        &op(Method::GET, "/operator/organizations/x").param("id", "0123456789abcdef01234567"),
    )
    .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn an_operator_changes_a_profile_and_it_is_logged_with_the_operator() {
    let app = app().await;
    let o = signup(&app).await;
    let me = call(
        &app,
        organizations::me,
        &Req::get("/org/me").token(&o.token),
    )
    .await;
    let id = me.body["organization"]["id"].as_str().unwrap().to_owned();
    let patch = op(Method::PATCH, "/operator/organizations/x")
        .param("id", &id)
        .json(json!({ "metadata": { "tier": "gold" }, "external_id": unique("op-") }));
    let res = call(&app, operator::update, &patch).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["metadata"]["tier"], "gold");
    assert_eq!(res.body["owners"][0]["email"], json!(o.email));
    let log = call(
        &app,
        tenant::routes::audit::list,
        &Req::get("/org/audit")
            .query("action", "organization.updated")
            .token(&o.token),
    )
    .await;
    let actor = &log.body["events"][0]["actor"];
    assert_eq!(actor["type"], "operator", "{}", log.text);
    assert_eq!(actor["id"], ARN);
}

#[tokio::test]
async fn a_suspended_organization_is_403_everywhere_and_its_deliveries_wait() {
    let (app, _, _server) = mail_app(&[("APP_ENV", "local")]).await;
    let receiver = Receiver::start(&[]).await;
    let o = signup(&app).await;
    let key = api_key(&app, &o.token, "member").await;
    let hook = Req::post(
        "/org/webhooks",
        json!({ "url": receiver.url, "events": ["item.created"] }),
    );
    assert_eq!(
        call(&app, webhooks::create, &hook.token(&o.token))
            .await
            .status,
        201
    );
    let me = call(
        &app,
        organizations::me,
        &Req::get("/org/me").token(&o.token),
    )
    .await;
    let id = me.body["organization"]["id"].as_str().unwrap().to_owned();
    let suspend = |reason: Value| {
        op(Method::POST, "/operator/organizations/x/suspend")
            .param("id", &id)
            .json(json!({ "reason": reason }))
    };
    assert_eq!(
        call(&app, operator::suspend, &suspend(json!("")))
            .await
            .status,
        422
    );
    // An item written just before the suspension: its delivery must wait.
    add_item(&app, &o.token, json!({ "n": 1 })).await;
    let res = call(&app, operator::suspend, &suspend(json!("abuse report 42"))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["status"], "suspended");
    assert_eq!(res.body["suspension"]["reason"], "abuse report 42");
    for bearer in [o.token.as_str(), key.as_str()] {
        let refused = call(&app, items::list, &Req::get("/org/items").token(bearer)).await;
        assert_eq!(refused.status, 403, "{}", refused.text);
        assert_eq!(refused.body["detail"], "Organization suspended");
    }
    let login = call(&app, sessions::login, &login_req(&o.email, PASSWORD)).await;
    assert_eq!(
        (login.status.as_u16(), login.body["detail"].clone()),
        (403, json!("Organization suspended"))
    );
    assert_eq!(
        get_org(&app, &o.name).await.status,
        200,
        "the name stays taken"
    );
    let suspended = list(&app, &[("status", "suspended"), ("q", &o.name)]).await;
    assert_eq!(suspended.body["organizations"].as_array().unwrap().len(), 1);
    let report = dispatch(&app).await;
    assert!(report.waiting >= 1, "{report:?}");
    assert!(
        receiver.hits().is_empty(),
        "nothing is sent while suspended"
    );
    // Resumed: everything works again and the delivery goes out, nothing dropped.
    let resume = op(Method::POST, "/operator/organizations/x/resume").param("id", &id);
    let res = call(&app, operator::resume, &resume).await;
    assert_eq!(res.body["status"], "active", "{}", res.text);
    assert_eq!(
        call(&app, items::list, &Req::get("/org/items").token(&o.token))
            .await
            .status,
        200
    );
    let report = dispatch(&app).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(receiver.hits().len(), 1);
    let log = call(
        &app,
        tenant::routes::audit::list,
        &Req::get("/org/audit").token(&o.token),
    )
    .await;
    for action in ["organization.suspended", "organization.resumed"] {
        assert!(log.text.contains(action), "{action}: {}", log.text);
    }
}
