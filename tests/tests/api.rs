//! End-to-end tests: real HTTP against the function binaries running under
//! `cargo lambda watch` (started by `make test`, which sets `API_URL`), on the real
//! MongoDB-compatible server.

use std::collections::HashMap;

use futures_util::future::join_all;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use testkit::{PASSWORD, unique};

fn base() -> String {
    std::env::var("API_URL").expect("API_URL is unset: run the end-to-end tests with `make test`")
}

struct Api {
    http: Client,
    base: String,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Api {
    fn new() -> Self {
        Self::under("")
    }

    /// An API whose every path starts with `prefix` (such as `/api/v1`).
    fn under(prefix: &str) -> Self {
        Self {
            http: Client::new(),
            base: format!("{}{prefix}", base()),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let url = format!("{}{}", self.base, path);
        let route = url.strip_prefix(&base()).unwrap_or(path).to_owned();
        let verb = method.to_string();
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        testkit::openapi::check(&verb, &route, status.as_u16(), content_type, &text);
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// GET, with a token if given.
    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// POST of a JSON body, with a token if given.
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// PUT of a JSON body, by a token.
    async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    /// DELETE, by a token.
    async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    async fn create(&self, name: &str, email: &str) -> Reply {
        let body = json!({ "organization_name": name, "email": email, "password": PASSWORD });
        self.post("/org/create", None, body).await
    }

    async fn login(&self, email: &str, password: &str) -> Reply {
        let body = json!({ "email": email, "password": password });
        self.post("/admin/login", None, body).await
    }

    async fn get_org(&self, name: &str) -> Reply {
        self.get(&format!("/org/get?organization_name={name}"), None)
            .await
    }

    /// `POST /org/items` of `data`, by a token.
    async fn add_item(&self, token: &str, data: Value) -> Reply {
        self.post("/org/items", Some(token), data).await
    }

    /// `PUT /org/update`: a rename of the token's organization to `name`.
    async fn rename(&self, token: &str, name: &str) -> Reply {
        self.put("/org/update", token, json!({ "organization_name": name }))
            .await
    }

    /// A new organization; returns (name, email, token).
    async fn signup(&self) -> (String, String, String) {
        let name = unique("e2e");
        let email = format!("{name}@example.com");
        let res = self.create(&name, &email).await;
        assert_eq!(res.status, 201, "{}", res.text);
        let login = self.login(&email, PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.text);
        (
            name,
            email,
            login.body["access_token"].as_str().unwrap().to_owned(),
        )
    }
}

fn statuses(replies: &[Reply]) -> HashMap<u16, usize> {
    let mut counts = HashMap::new();
    for r in replies {
        *counts.entry(r.status.as_u16()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn every_route_answers_at_the_root_and_under_api_v1() {
    for prefix in ["", "/api/v1"] {
        let api = Api::under(prefix);
        let health = api.get("/health", None).await;
        assert_eq!(health.status, 200, "{prefix}");
        assert_eq!(health.body["status"], "healthy");
        let root = Api::new()
            .get(if prefix.is_empty() { "/" } else { prefix }, None)
            .await;
        assert_eq!(root.body["docs"], "/docs", "{prefix}");
        let spec = api.get("/openapi.json", None).await;
        assert!(spec.body["paths"].is_object(), "{prefix}");
        for page in ["/docs", "/redoc"] {
            let r = api.get(page, None).await;
            assert_eq!(r.status, 200, "{prefix}{page}");
        }
        let name = unique("v1");
        let email = format!("{name}@example.com");
        let created = api.create(&name, &email).await;
        assert_eq!(created.status, 201, "{prefix}: {}", created.text);
        let got = api.get_org(&name).await;
        assert_eq!(got.status, 200, "{prefix}");
        let login = api.login(&email, PASSWORD).await;
        assert_eq!(login.status, 200, "{prefix}");
        let token = login.body["access_token"].as_str().unwrap().to_owned();
        let t = Some(token.as_str());
        let item = api.add_item(&token, json!({ "k": "v" })).await;
        assert_eq!(item.status, 201, "{prefix}: {}", item.text);
        let id = item.body["id"].as_str().unwrap().to_owned();
        let list = api.get("/org/items?limit=5", t).await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{prefix}");
        let one = api.get(&format!("/org/items/{id}"), t).await;
        assert_eq!(one.body["data"]["k"], "v", "{prefix}: {}", one.text);
        let del = api.delete(&format!("/org/items/{id}"), &token).await;
        assert_eq!(del.status, 204, "{prefix}");
        let renamed = unique("v1r");
        let upd = api.rename(&token, &renamed).await;
        assert_eq!(upd.status, 200, "{prefix}: {}", upd.text);
        let out = api.call(Method::POST, "/admin/logout", t, None).await;
        assert_eq!(out.status, 204, "{prefix}");
        let revoked = api.get("/org/items", t).await;
        assert_eq!(revoked.status, 401, "{prefix}");
        let token = api.login(&email, PASSWORD).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let gone = api
            .delete(&format!("/org/delete?organization_name={renamed}"), &token)
            .await;
        assert_eq!(gone.status, 204, "{prefix}: {}", gone.text);
    }
}

#[tokio::test]
async fn responses_carry_json_and_a_request_id_and_unknown_paths_are_json_404() {
    let api = Api::new();
    let missing = api.get("/no/such/route", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["detail"], "Not Found");
    let bad = api
        .post("/org/create", None, json!({ "organization_name": "x" }))
        .await;
    assert_eq!(bad.status, 422);
    for r in [&missing, &bad] {
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(!r.headers["x-request-id"].is_empty());
    }
    let no_token = api.get("/org/items", None).await;
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn a_known_path_with_another_method_is_json_405_with_allow() {
    let api = Api::new();
    let query = Method::from_bytes(b"QUERY").unwrap();
    for (method, path, allow) in [
        (Method::GET, "/org/create", "POST"),
        (Method::PATCH, "/org/create", "POST"),
        (Method::DELETE, "/api/v1/org/items", "GET, POST"),
        (
            Method::PUT,
            "/org/items/0123456789abcdef01234567",
            "GET, DELETE",
        ),
        (query, "/admin/login", "POST"),
    ] {
        let r = api.call(method.clone(), path, None, None).await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        assert_eq!(r.body["detail"], "Method Not Allowed", "{method} {path}");
        assert_eq!(r.headers["allow"], allow, "{method} {path}");
        assert_eq!(r.headers["content-type"], "application/json");
    }
    let index = api.get("/api/v1/", None).await;
    assert_eq!(index.status, 200, "{}", index.text);
    assert_eq!(index.body["docs"], "/docs");
}

#[tokio::test]
async fn concurrent_creates_of_one_name_have_exactly_one_winner() {
    let api = Api::new();
    let name = unique("race");
    let replies = join_all((0..16).map(|i| {
        let (api, name) = (&api, &name);
        async move { api.create(name, &format!("{name}-{i}@example.com")).await }
    }))
    .await;
    let counts = statuses(&replies);
    assert_eq!(counts.get(&201), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&400), Some(&15), "{counts:?}");
    let winner = replies.iter().find(|r| r.status == 201).unwrap();
    let got = api.get_org(&name).await;
    assert_eq!(got.body["id"], winner.body["id"]);
}

#[tokio::test]
async fn concurrent_creates_of_one_email_have_exactly_one_winner() {
    let api = Api::new();
    let email = format!("{}@example.com", unique("mail"));
    let names: Vec<String> = (0..16).map(|i| unique(&format!("m{i}x"))).collect();
    let replies = join_all(names.iter().map(|n| api.create(n, &email))).await;
    let counts = statuses(&replies);
    assert_eq!(counts.get(&201), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&400), Some(&15), "{counts:?}");
    let mut found = 0;
    for n in &names {
        let r = api.get_org(n).await;
        found += usize::from(r.status == 200);
    }
    assert_eq!(found, 1, "losers left organizations behind");
}

#[tokio::test]
async fn organizations_renaming_to_one_name_have_one_winner_and_lose_nothing() {
    let api = Api::new();
    let target = unique("target");
    let mut orgs = Vec::new();
    for _ in 0..16 {
        let (name, _, token) = api.signup().await;
        let item = api.add_item(&token, json!({ "owner": name })).await;
        assert_eq!(item.status, 201);
        orgs.push((name, token));
    }
    let replies = join_all(orgs.iter().map(|(_, t)| api.rename(t, &target))).await;
    let counts = statuses(&replies);
    assert_eq!(counts.get(&200), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&400), Some(&15), "{counts:?}");
    for ((name, token), reply) in orgs.iter().zip(&replies) {
        let items = api.get("/org/items", Some(token)).await;
        assert_eq!(
            items.body["items"][0]["data"]["owner"],
            name.as_str(),
            "documents lost"
        );
        let expect = if reply.status == 200 { &target } else { name };
        let got = api.get_org(expect).await;
        assert_eq!(got.status, 200);
    }
}

#[tokio::test]
async fn rename_racing_delete_ends_deleted_with_nothing_left() {
    let api = Api::new();
    let (name, email, token) = api.signup().await;
    let new_names: Vec<String> = (0..8).map(|i| unique(&format!("rr{i}x"))).collect();
    let renames = new_names.iter().map(|n| api.rename(&token, n));
    let deletes = (0..8).map(|_| api.delete("/org/delete", &token));
    let (renamed, deleted) = tokio::join!(join_all(renames), join_all(deletes));
    let del_counts = statuses(&deleted);
    assert!(
        del_counts.get(&204).copied().unwrap_or(0) >= 1,
        "no delete won: {del_counts:?}"
    );
    for r in renamed.iter().chain(&deleted) {
        assert!(
            [200, 204, 401, 404].contains(&r.status.as_u16()),
            "unexpected {}: {}",
            r.status,
            r.text
        );
    }
    for n in new_names.iter().chain([&name]) {
        let got = api.get_org(n).await;
        assert_eq!(got.status, 404, "{n} still registered after the delete");
    }
    assert_eq!(api.login(&email, PASSWORD).await.status, 401);
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI");
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let db = std::env::var("TENANT_DB").expect("TENANT_DB");
    let left = client.database(&db).list_collection_names().await.unwrap();
    for n in new_names.iter().chain([&name]) {
        assert!(
            !left.contains(&format!("org_{n}")),
            "orphan collection org_{n}"
        );
    }
}

#[tokio::test]
async fn concurrent_wrong_logins_never_get_past_the_throttle() {
    let api = Api::new();
    let (_, email, _) = api.signup().await;
    let replies = join_all((0..16).map(|_| api.login(&email, "Wrong-passw0rd"))).await;
    let counts = statuses(&replies);
    assert_eq!(counts.get(&401), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&11), "{counts:?}");
    assert!(
        replies
            .iter()
            .filter(|r| r.status == 429)
            .all(|r| r.headers.contains_key("retry-after"))
    );
    assert_eq!(api.login(&email, PASSWORD).await.status, 429);
}

#[tokio::test]
async fn a_token_of_one_tenant_never_reaches_anothers_items() {
    let api = Api::new();
    let (_, _, a) = api.signup().await;
    let (_, _, b) = api.signup().await;
    let item = api.add_item(&a, json!({ "secret": 42 })).await;
    let id = item.body["id"].as_str().unwrap();
    for method in [Method::GET, Method::DELETE] {
        let r = api
            .call(method, &format!("/org/items/{id}"), Some(&b), None)
            .await;
        assert_eq!(r.status, 404);
    }
    let list = api.get("/org/items", Some(&b)).await;
    assert_eq!(list.body["items"], json!([]));
    let still = api.get(&format!("/org/items/{id}"), Some(&a)).await;
    assert_eq!(still.body["data"]["secret"], 42);
}

#[tokio::test]
async fn logs_carry_request_ids_and_never_a_secret() {
    let api = Api::new();
    let (name, email, token) = api.signup().await;
    let wrong = api.login(&email, "Wrong-Secret-9").await;
    assert_eq!(wrong.status, 401);
    let item = api.add_item(&token, json!({ "note": "x" })).await;
    let request_id = item.headers["x-request-id"].to_str().unwrap().to_owned();
    let new_password = "Rotated-Passw0rd";
    let body = json!({ "password": new_password, "organization_name": format!("{name}-b") });
    let upd = api.put("/org/update", &token, body).await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = std::fs::read_to_string(std::env::var("API_LOG").expect("API_LOG")).unwrap();
    assert!(
        log.contains(&request_id),
        "request id {request_id} not in the log"
    );
    let jwt_secret = std::env::var("JWT_SECRET").expect("JWT_SECRET");
    let signature = token.rsplit('.').next().unwrap();
    for secret in [
        PASSWORD,
        "Wrong-Secret-9",
        new_password,
        &token,
        signature,
        &jwt_secret,
        "$2b$",
    ] {
        assert!(
            !log.contains(secret),
            "the log contains a secret ({} chars)",
            secret.len()
        );
    }
}

#[tokio::test]
async fn a_team_forms_by_invitation_and_roles_hold() {
    let api = Api::new();
    let (_, _, owner) = api.signup().await;
    let invite = |token: String, email: String, role: &'static str| {
        let api = &api;
        async move {
            let body = json!({ "email": email, "role": role });
            api.post("/org/invitations", Some(&token), body).await
        }
    };
    let accept = |token: String| {
        let api = &api;
        async move {
            let body = json!({ "token": token, "password": PASSWORD });
            api.post("/api/v1/invitations/accept", None, body).await
        }
    };
    let admin_email = format!("{}@example.com", unique("adm"));
    let res = invite(owner.clone(), admin_email.clone(), "admin").await;
    assert_eq!(res.status, 201, "{}", res.text);
    let admin = accept(res.body["token"].as_str().unwrap().to_owned()).await;
    assert_eq!(admin.status, 200, "{}", admin.text);
    assert_eq!(admin.body["role"], "admin");
    let admin_token = admin.body["access_token"].as_str().unwrap().to_owned();
    let admin_id = admin.body["admin_id"].as_str().unwrap().to_owned();
    let res = invite(
        admin_token.clone(),
        format!("{}@example.com", unique("mem")),
        "member",
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let member = accept(res.body["token"].as_str().unwrap().to_owned()).await;
    let member_token = member.body["access_token"].as_str().unwrap().to_owned();
    let refused = invite(member_token, "x@example.com".into(), "member").await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let demote = api
        .call(
            Method::PATCH,
            &format!("/org/members/{admin_id}"),
            Some(&owner),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert_eq!(demote.status, 200, "{}", demote.text);
    let after = invite(admin_token, "y@example.com".into(), "member").await;
    assert_eq!(after.status, 403, "a demoted admin kept its rights");
    let me = api.get("/org/me", Some(&owner)).await;
    let owner_id = me.body["user_id"].as_str().unwrap().to_owned();
    let leave = api
        .delete(&format!("/org/members/{owner_id}"), &owner)
        .await;
    assert_eq!(leave.status, 409, "the last owner left: {}", leave.text);
    let list = api.get("/org/members", Some(&owner)).await;
    assert_eq!(list.body["members"].as_array().unwrap().len(), 3);
}

/// The link token of the first message to `to` with a `#<fragment>=` link that is not
/// one of `seen`, as a person would open it from the mail folder of the stack (the
/// stack's dispatcher sends within about a second).
async fn link_in_mail(to: &str, fragment: &str, seen: &[String]) -> String {
    let dir = std::path::PathBuf::from(std::env::var("MAIL_DIR").expect("MAIL_DIR"));
    for _ in 0..150 {
        let found = testkit::mail_to(&dir, to)
            .iter()
            .filter_map(|m| m.token(fragment))
            .find(|t| !seen.contains(t));
        if let Some(token) = found {
            return token;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no #{fragment}= message to {to} within 15 s");
}

#[tokio::test]
async fn accounts_recover_and_verify_by_email_and_no_token_leaks() {
    let api = Api::new();
    let (name, email, token) = api.signup().await;
    // A forgotten password.
    let asked = api
        .post("/auth/password-reset", None, json!({ "email": email }))
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let reset = link_in_mail(&email, "reset", &[]).await;
    let new_password = "Rec0vered-pass";
    let body = json!({ "token": reset, "password": new_password });
    let done = api
        .post("/auth/password-reset/confirm", None, body.clone())
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(api.get("/org/me", Some(&token)).await.status, 401);
    let again = api.post("/auth/password-reset/confirm", None, body).await;
    assert_eq!(again.status, 404);
    let login = api.login(&email, new_password).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get("/org/me", Some(&token)).await.body["email_verified"],
        true
    );
    // An invitation the service delivers.
    let invitee = format!("{}@example.com", unique("inv"));
    let body = json!({ "email": invitee, "send_email": true });
    let invited = api.post("/org/invitations", Some(&token), body).await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    assert!(invited.body.get("token").is_none());
    let accept = link_in_mail(&invitee, "accept", &[]).await;
    let body = json!({ "token": accept, "password": PASSWORD });
    let joined = api.post("/invitations/accept", None, body).await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    let member = joined.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get("/org/me", Some(&member)).await.body["email_verified"],
        true
    );
    // A verification link, asked for by a member whose address is not verified yet.
    let (_, other_email, other) = api.signup().await;
    let asked = api
        .post("/auth/verify-email", Some(&other), json!({}))
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let verify = link_in_mail(&other_email, "verify", &[]).await;
    let body = json!({ "token": verify });
    let verified = api.post("/auth/verify-email/confirm", None, body).await;
    assert_eq!(verified.status, 200, "{}", verified.text);

    // A token is in the one message that carries it, and nowhere else: not in a log
    // line, not in the audit log.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = std::fs::read_to_string(std::env::var("API_LOG").expect("API_LOG")).unwrap();
    let audit = api.get("/org/audit?limit=100", Some(&token)).await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(
        audit.text.contains("user.password_reset"),
        "{name}: {}",
        audit.text
    );
    let dir = std::path::PathBuf::from(std::env::var("MAIL_DIR").unwrap());
    let mails = testkit::mailbox(&dir);
    for secret in [&reset, &accept, &verify] {
        assert!(!log.contains(secret.as_str()), "a token is in the log");
        assert!(
            !audit.text.contains(secret.as_str()),
            "a token is in the audit log"
        );
        let carriers = mails
            .iter()
            .filter(|m| m.text.contains(secret.as_str()) || m.html.contains(secret.as_str()))
            .count();
        assert_eq!(carriers, 1, "a token is in {carriers} messages");
    }
    for secret in [new_password, PASSWORD, "$2b$"] {
        assert!(!log.contains(secret), "a password or hash is in the log");
        assert!(
            mails
                .iter()
                .all(|m| !m.text.contains(secret) && !m.html.contains(secret))
        );
    }
}

#[tokio::test]
async fn events_resume_and_webhook_secrets_never_reach_a_log() {
    let api = Api::new();
    let (_, _, token) = api.signup().await;
    // An endpoint on a public address literal (no DNS); this machine cannot reach it,
    // so its deliveries fail and are retried: only the secret's travels matter here.
    let body = json!({ "url": "https://93.184.216.34/hooks", "events": ["*"] });
    let made = api.post("/org/webhooks", Some(&token), body).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let id = made.body["id"].as_str().unwrap().to_owned();
    let rotated = api
        .post(
            &format!("/org/webhooks/{id}/rotate-secret"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let second = rotated.body["secret"].as_str().unwrap().to_owned();
    let inside = json!({ "url": "https://169.254.169.254/latest", "events": ["*"] });
    assert_eq!(
        api.post("/org/webhooks", Some(&token), inside).await.status,
        422
    );
    for n in 0..3 {
        assert_eq!(api.add_item(&token, json!({ "n": n })).await.status, 201);
    }
    // Resuming from each page's next_after sees every event once, in order.
    let (mut after, mut seen) = (0_i64, Vec::new());
    loop {
        let page = api
            .get(&format!("/org/events?after={after}&limit=2"), Some(&token))
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        let events = page.body["events"].as_array().unwrap().clone();
        if events.is_empty() {
            break;
        }
        after = page.body["next_after"].as_i64().unwrap();
        seen.extend(events);
    }
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "item.created").count(),
        3,
        "{types:?}"
    );
    let sequences: Vec<i64> = seen
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let only = api
        .get("/org/events?types=item.created", Some(&token))
        .await;
    assert_eq!(only.body["events"].as_array().unwrap().len(), 3);
    // The secrets: in their one answer each, never in a list, the audit log or a log line.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = std::fs::read_to_string(std::env::var("API_LOG").expect("API_LOG")).unwrap();
    let list = api.get("/org/webhooks", Some(&token)).await;
    let audit = api.get("/org/audit?limit=100", Some(&token)).await;
    for s in [&secret, &second] {
        let raw = s.strip_prefix("whsec_").unwrap();
        assert!(!log.contains(raw), "a secret is in the log");
        assert!(!list.text.contains(raw) && !audit.text.contains(raw));
    }
}

#[tokio::test]
async fn an_api_key_works_over_http_and_neither_it_nor_its_hmac_reaches_a_log() {
    let api = Api::new();
    let (_, _, token) = api.signup().await;
    let body = json!({ "name": "ci", "role": "admin", "expires_in_days": 7 });
    let made = api.post("/org/api-keys", Some(&token), body).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let key = made.body["key"].as_str().unwrap().to_owned();
    let id = made.body["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(api.get("/org/items", Some(&key)).await.status, 200);
    }
    assert_eq!(api.add_item(&key, json!({ "by": "ci" })).await.status, 201);
    let me = api.get("/org/me", Some(&key)).await;
    assert_eq!(me.body["api_key"]["name"], "ci");
    // What a key may not do: 403, recorded.
    let rename = api
        .put(
            "/org/update",
            &key,
            json!({ "organization_name": unique("k") }),
        )
        .await;
    assert_eq!(rename.status, 403, "{}", rename.text);
    assert_eq!(api.get("/org/api-keys", Some(&key)).await.status, 403);
    assert_eq!(
        api.delete(&format!("/org/api-keys/{id}"), &token)
            .await
            .status,
        204
    );
    assert_eq!(api.get("/org/items", Some(&key)).await.status, 401);
    let mut junk = key.clone();
    junk.replace_range(20..21, if &key[20..21] == "a" { "b" } else { "a" });
    let refused = api.get("/org/items", Some(&junk)).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["detail"], "Malformed API key");
    // Neither the key nor its stored HMAC in a log line, a list or the audit log.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = std::fs::read_to_string(std::env::var("API_LOG").expect("API_LOG")).unwrap();
    let jwt = tenant::config::JwtSettings {
        secret: std::env::var("JWT_SECRET").expect("JWT_SECRET").into(),
        issuer: String::new(),
        audience: String::new(),
        ttl: std::time::Duration::from_secs(60),
    };
    let hmac = tenant::auth::keys::digest(&jwt, &key);
    let list = api.get("/org/api-keys", Some(&token)).await;
    let audit = api.get("/org/audit?limit=100", Some(&token)).await;
    assert!(audit.text.contains(r#""type":"api_key""#), "{}", audit.text);
    for text in [&log, &list.text, &audit.text] {
        assert!(
            !text.contains(&key) && !text.contains(&key[12..]),
            "the key is out"
        );
        assert!(!text.contains(&hmac), "its HMAC is out");
    }
}

/// The write limit holds across function processes (4 per function here): of 60
/// concurrent writes by one user, exactly the stack's `WRITE_LIMIT_PER_MINUTE` go
/// through, the rest are 429 with `Retry-After`, and another user writes on.
#[tokio::test]
async fn a_users_write_limit_holds_across_function_processes() {
    let limit: usize = std::env::var("WRITE_LIMIT_PER_MINUTE")
        .expect("WRITE_LIMIT_PER_MINUTE (the e2e stack's): run with `make test`")
        .parse()
        .unwrap();
    let api = Api::new();
    let (_, _, token) = api.signup().await;
    let (_, _, other) = api.signup().await;
    let writes = (0..limit + 20).map(|i| api.add_item(&token, json!({ "i": i })));
    let replies = join_all(writes).await;
    let made = replies.iter().filter(|r| r.status == 201).count();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!((made, refused.len()), (limit, 20));
    for reply in refused {
        let secs: u64 = reply.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
    }
    let items = api.get("/org/items?limit=100", Some(&token)).await;
    assert_eq!(items.status, 200, "reads are not counted");
    assert_eq!(items.body["items"].as_array().unwrap().len(), limit);
    assert_eq!(api.add_item(&other, json!({})).await.status, 201);
}
