//! Database round trips per route: every command a route sends to the server, counted
//! by the driver's command monitor, must match this table. A route that gains a
//! command fails here (the README's "2 round trips for an authenticated read" rests on
//! it), and a count is deterministic where timings are not.

use lambda_http::http::Method;
use serde_json::json;
use tenant::http::Handler;
use tenant::{
    App,
    routes::{
        accounts, audit, dashboard, docs, fallback, items, members, organizations, service,
        sessions,
    },
};

use crate::common::*;

/// (route, case, commands in the table, status in the table, (commands, status) seen).
type Case = (&'static str, &'static str, u64, u16, (u64, u16));

/// Serves one request and returns (commands sent, status).
async fn counted<H>(app: &App, handler: H, req: &Req) -> (u64, u16)
where
    H: for<'a> Handler<'a> + Sync,
{
    let before = app.store.hooks().commands();
    let res = call(app, handler, req).await;
    (app.store.hooks().commands() - before, res.status.as_u16())
}

/// One row of the table: `row!(app; route, case, commands, status; handler, request)`
/// serves the request with the handler and pairs the (commands, status) seen with the
/// ones the table says.
macro_rules! row {
    ($app:expr; $route:literal, $case:literal, $commands:literal, $status:literal;
     $handler:expr, $req:expr) => {
        (
            $route,
            $case,
            $commands,
            $status,
            counted($app, $handler, &$req).await,
        )
    };
}

#[tokio::test]
async fn every_route_sends_exactly_the_commands_in_the_table() {
    // Email configured (the mail folder; nothing here dispatches it).
    let mail = std::env::temp_dir().join(unique("mail-"));
    let app = app_with(&[("MAIL_DIR", &mail.display().to_string())]).await;
    let o = signup(&app).await;
    let item = add_item(&app, &o.token, json!({ "n": 1 })).await;
    let other = signup(&app).await;
    let doomed = signup(&app).await;
    let fresh = unique("rt");
    let new_org = create_body(&fresh, &format!("{fresh}@example.com"), PASSWORD);
    let same_name = create_body(&fresh, &format!("{}@example.com", unique("x")), PASSWORD);
    let stranger = format!("{}@example.com", unique("n"));
    let new_email = json!({ "email": format!("{}@example.com", unique("m")) });
    let rename = json!({ "organization_name": unique("rt") });
    let bearer = |r: Req| r.token(&o.token);
    let one_item = bearer(Req::get("/org/items/x").param("id", &item));
    let del_item = bearer(Req::delete("/org/items/x").param("id", &item));
    // (route, case, commands, status). Every request that changes something (or fails
    // a login) adds one command: its audit event (see `tenant::audit`); and every
    // write but a login one more: its count against the caller's write limit (per
    // user or key; per client IP for create, accept and the password reset routes;
    // a JWT's in the same round trip as its token check). The commands, for the
    // record:
    // - health: ping.
    // - create: registry insert, account insert, collection lookup, create, end of the
    //   create record.
    // - get: registry read.
    // - login: three throttle counters, account read, its organizations, throttle reset
    //   (one update command with a statement per counter); a wrong password: the
    //   counters and the account read; an unknown email: those and the look for a
    //   first-release admin of that email (indexed).
    // - authenticated routes: the token check (one registry read), then the work.
    // - update (email): the account's email (marked), its copy in the organizations,
    //   the mark cleared, then the organization read for the answer; rename: target
    //   lookup, conditional write, renameCollection, end of the rename record.
    // - update (metadata): the profile read, its conditional write with the event in
    //   the outbox, the event copied into the log, the organization read for
    //   the answer.
    // - logout: the account (its organizations), then one update of all of them.
    // - item create: insert, then the registry read that checks the write stands.
    // - delete: mark, the organization read whole, its members' accounts read and kept
    //   with it (v3, restorable), the collection moved to the trash, invitations, the
    //   webhook endpoints disabled and their deliveries dropped, the API keys revoked,
    //   the answers kept for its retried item creates, each member's account (forget
    //   the organization, removed if it was its last), the document.
    // - invitation create: the token check, the pending invitation it may replace (an
    //   owner's may only be replaced by an owner), the member map, the write.
    let mut cases: Vec<Case> = vec![
        row!(&app; "health", "up", 1, 200; service::health, Req::get("/health")),
        row!(&app; "docs", "openapi.json", 0, 200; docs::docs, Req::get("/openapi.json")),
        row!(&app; "dashboard", "page", 0, 200; dashboard::dashboard, Req::get("/dashboard")),
        row!(&app; "fallback", "405", 0, 405; fallback::fallback, Req::get("/org/create")),
        row!(&app; "org_create", "new", 7, 201; organizations::create, Req::post("/org/create", new_org)),
        row!(&app; "org_create", "duplicate name", 3, 400;
            organizations::create, Req::post("/org/create", same_name)),
        row!(&app; "org_create", "invalid body", 0, 422;
            organizations::create, Req::post("/org/create", json!({}))),
        row!(&app; "org_get", "found", 1, 200;
            organizations::get, Req::get("/org/get").query("organization_name", &o.name)),
        row!(&app; "admin_login", "right password", 7, 200;
            sessions::login, login_req(&o.email, PASSWORD)),
        row!(&app; "admin_login", "wrong password", 5, 401;
            sessions::login, login_req(&o.email, "Wrong-passw0rd")),
        row!(&app; "admin_login", "unknown email", 5, 401;
            sessions::login, login_req(&stranger, PASSWORD)),
        row!(&app; "items_list", "page", 2, 200; items::list, bearer(Req::get("/org/items"))),
        row!(&app; "items_get", "found", 2, 200; items::get, one_item),
        row!(&app; "items_create", "new", 5, 201;
            items::create, bearer(Req::post("/org/items", json!({ "a": 1 })))),
        row!(&app; "items_delete", "found", 4, 204; items::delete, del_item),
        row!(&app; "items_list", "no token", 0, 401; items::list, Req::get("/org/items")),
        row!(&app; "org_update", "email", 7, 200;
            organizations::update, bearer(Req::put("/org/update", new_email))),
        row!(&app; "org_update", "rename", 7, 200;
            organizations::update, bearer(Req::put("/org/update", rename))),
        row!(&app; "org_update", "metadata", 6, 200;
            organizations::update,
            bearer(Req::put("/org/update", json!({ "metadata": { "tier": "gold" } })))),
        row!(&app; "admin_logout", "bearer", 5, 204; sessions::logout, logout_req(&other.token)),
        row!(&app; "org_delete", "own", 16, 204;
            organizations::delete, Req::delete("/org/delete").token(&doomed.token)),
    ];
    cases.extend(v2_cases(&app, &o.token).await);
    cases.extend(v3_cases(&app).await);
    cases.extend(webhook_cases(&app).await);
    cases.extend(key_cases(&app).await);
    cases.extend(limited_cases().await);
    cases.extend(operator_cases(&app).await);
    let mut wrong = Vec::new();
    for function in functions() {
        if !cases.iter().any(|(route, ..)| *route == function) {
            wrong.push(format!("{function}: no row in the table"));
        }
    }
    for (route, case, want, status, (got, got_status)) in &cases {
        println!("{route:<13} {case:<15} {got} commands, {got_status}");
        if got != want || got_status != status {
            wrong.push(format!(
                "{route} ({case}): {got} commands and {got_status}, the table says {want} and {status}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every function that serves a route (its binary's name), `migrate`, `dispatcher` and
/// `purge` (no route: a schedule) aside.
fn functions() -> Vec<String> {
    let bins = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions/src/bin");
    let mut names: Vec<String> = std::fs::read_dir(bins)
        .expect("functions/src/bin")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .filter(|name| !["migrate", "dispatcher", "purge"].contains(&name.as_str()))
        .collect();
    names.sort();
    names
}

/// The (v2) routes: members, invitations and the audit log.
async fn v2_cases(app: &App, owner: &str) -> Vec<Case> {
    use tenant::routes::invitations;
    let email = format!("{}@example.com", unique("rt"));
    let (_, member_token, member_id) = join_as(app, owner, "member").await;
    let invite = Req::post("/org/invitations", json!({ "email": email })).token(owner);
    let created = counted(app, invitations::create, &invite).await;
    let listed = call(
        app,
        invitations::list,
        &Req::get("/org/invitations")
            .query("status", "pending")
            .token(owner),
    )
    .await;
    let id = listed.body["invitations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resend = Req::new(Method::POST, "/org/invitations/x/resend")
        .param("id", &id)
        .token(owner);
    let other = Req::post(
        "/org/invitations",
        json!({ "email": format!("{}@example.com", unique("rt")) }),
    )
    .token(owner);
    let made = call(app, invitations::create, &other).await;
    let token = made.body["token"].as_str().unwrap().to_owned();
    let patch = Req::patch("/org/members/x", json!({ "role": "admin" }))
        .param("user_id", &member_id)
        .token(owner);
    let remove = Req::delete("/org/members/x")
        .param("user_id", &member_id)
        .token(owner);
    let revoke = Req::delete("/org/invitations/x")
        .param("id", &id)
        .token(owner);
    // - me, members: the token check, then the organization (one read: its map).
    // - invitation create: the token check, the organization (is the email a member?),
    //   the insert; list: the token check and one query; revoke and resend: the token
    //   check, the invitation, one conditional write.
    // - accept (a new account): the invitation, the account lookup, the claim, the
    //   account insert, the account (again, in join), the member map, the account read
    //   and its organizations (the login answer), the invitation marked accepted.
    // - role change: the token check, the organization, one conditional write.
    // - removal: the token check, the organization, the conditional write (its event in
    //   the outbox), the outbox copy, the account (forget the organization, then removed
    //   as it was its last).
    // - audit log: the token check, the organization with its outbox (the token check
    //   reads no outbox), the outbox copy, the page.
    // Every change adds one command for its audit event (see the first table's comment).
    vec![
        row!(app; "org_me", "member", 2, 200; organizations::me, Req::get("/org/me").token(&member_token)),
        row!(app; "members_list", "page", 2, 200;
            members::list, Req::get("/org/members").token(owner)),
        row!(app; "members_update", "to admin", 5, 200; members::change_role, patch),
        ("invitations_create", "new", 6, 201, created),
        row!(app; "invitations_list", "page", 2, 200;
            invitations::list, Req::get("/org/invitations").token(owner)),
        row!(app; "invitations_resend", "pending", 5, 200; invitations::resend, resend),
        row!(app; "invitations_revoke", "pending", 5, 204; invitations::revoke, revoke),
        row!(app; "members_remove", "member", 7, 204; members::remove, remove),
        row!(app; "audit_list", "page", 4, 200;
            audit::list, Req::get("/org/audit").token(owner)),
        row!(app; "invitations_accept", "new account", 11, 200;
            invitations::accept, accept_req(&token, PASSWORD)),
    ]
}

/// The (v3) account routes. A reset link is planted as the dispatcher stores one (the
/// dispatcher is not run here: the local server's collections are shared by the tests).
async fn v3_cases(app: &App) -> Vec<Case> {
    use tenant::auth::links::{hash_of, new_token};
    use tenant::store::tokens::{self, Purpose};
    let o = signup(app).await;
    let stranger = format!("{}@example.com", unique("n"));
    let me = call(app, organizations::me, &Req::get("/org/me").token(&o.token)).await;
    let user =
        mongodb::bson::oid::ObjectId::parse_str(me.body["user_id"].as_str().unwrap()).unwrap();
    let (_, link) = new_token();
    let far = mongodb::bson::DateTime::now().timestamp_millis() + 600_000;
    tokens::replace(
        &app.store,
        Purpose::Reset,
        user,
        &o.email,
        &hash_of(&link),
        far,
    )
    .await
    .unwrap();
    let reset = |email: &str| Req::post("/auth/password-reset", json!({ "email": email }));
    let confirm = |token: &str| {
        Req::post(
            "/auth/password-reset/confirm",
            json!({ "token": token, "password": "N3w-passw0rd" }),
        )
    };
    let unknown = "no-such-token-000000000000000000000000000";
    // - reset request: the per-IP counters (the hour's, the write limit's) and the
    //   queued job, for any address.
    // - reset confirm: the token taken; the account; the password change (revoke: the
    //   account and its memberships; the hash; revoke again with the event; the event
    //   copied; the mark cleared); the user's other tokens; the address verified and
    //   copied into its organizations, the mark cleared.
    // - verify request: the token check and the queued job; confirm of an unknown link:
    //   one command.
    vec![
        row!(app; "auth_password_reset", "known email", 3, 202;
            accounts::request_reset, reset(&o.email)),
        row!(app; "auth_password_reset", "unknown email", 3, 202;
            accounts::request_reset, reset(&stranger)),
        row!(app; "auth_password_reset_confirm", "link", 14, 200;
            accounts::confirm_reset, confirm(&link)),
        row!(app; "auth_password_reset_confirm", "unknown link", 2, 404;
            accounts::confirm_reset, confirm(unknown)),
        row!(app; "auth_verify_email", "bearer", 3, 202;
            accounts::request_verification,
            Req::new(Method::POST, "/auth/verify-email").token(&other_token(app).await)),
        row!(app; "auth_verify_email_confirm", "unknown link", 1, 404;
            accounts::confirm_verification,
            Req::post("/auth/verify-email/confirm", json!({ "token": unknown }))),
    ]
}

/// The (v3) events and webhooks routes, on a fresh organization with one endpoint.
async fn webhook_cases(app: &App) -> Vec<Case> {
    use tenant::routes::{events, webhooks};
    let o = signup(app).await;
    let url = "https://93.184.216.34/hooks";
    let create = |events: &str| {
        Req::post("/org/webhooks", json!({ "url": url, "events": [events] })).token(&o.token)
    };
    let made = call(app, webhooks::create, &create("item.created")).await;
    let id = made.body["id"].as_str().unwrap().to_owned();
    let on = |method: Method, path: &str| Req::new(method, path).param("id", &id).token(&o.token);
    let test = call(
        app,
        webhooks::test,
        &on(Method::POST, "/org/webhooks/x/test"),
    )
    .await;
    let delivery = test.body["delivery_id"].as_str().unwrap().to_owned();
    let patch = Req::patch("/org/webhooks/x", json!({ "description": "CRM" }))
        .param("id", &id)
        .token(&o.token);
    let retry =
        on(Method::POST, "/org/webhooks/x/deliveries/y/retry").param("delivery_id", &delivery);
    // - events: the token check, the organization with its outbox and its copy, the
    //   stream's lease, its marked events, the lease given back (a stream up to date),
    //   the stream read, the page; with new events, their batch between the lease and
    //   its release: sequences taken, the events, the events read back, the endpoints
    //   (their deliveries: none here, the endpoint takes only items), the events
    //   unmarked, the sequences committed.
    // - create: the token check, the count, the insert, its audit event (the URL's
    //   host is an address: no DNS).
    // - the others: the token check, the endpoint, the work, an audit event for a change.
    vec![
        row!(app; "events_list", "new events", 14, 200;
            events::list, Req::get("/org/events").token(&o.token)),
        row!(app; "events_list", "up to date", 8, 200;
            events::list, Req::get("/org/events").token(&o.token)),
        row!(app; "webhooks_create", "new", 5, 201; webhooks::create, create("item.created")),
        row!(app; "webhooks_list", "page", 2, 200; webhooks::list, Req::get("/org/webhooks").token(&o.token)),
        row!(app; "webhooks_get", "found", 2, 200; webhooks::get, on(Method::GET, "/org/webhooks/x")),
        row!(app; "webhooks_update", "description", 5, 200; webhooks::update, patch),
        row!(app; "webhooks_rotate", "found", 5, 200; webhooks::rotate, on(Method::POST, "/org/webhooks/x/rotate-secret")),
        row!(app; "webhooks_test", "found", 4, 202; webhooks::test, on(Method::POST, "/org/webhooks/x/test")),
        row!(app; "webhooks_deliveries", "page", 3, 200; webhooks::deliveries, on(Method::GET, "/org/webhooks/x/deliveries")),
        row!(app; "webhooks_retry", "found", 4, 202; webhooks::retry, retry),
        row!(app; "webhooks_delete", "found", 6, 204; webhooks::delete, on(Method::DELETE, "/org/webhooks/x")),
    ]
}

/// The (v3) API keys, and a key's cost on an authenticated read.
async fn key_cases(app: &App) -> Vec<Case> {
    use tenant::routes::api_keys;
    let o = signup(app).await;
    let make = |name: &str| {
        Req::post("/org/api-keys", json!({ "name": name, "role": "admin" })).token(&o.token)
    };
    let made = call(app, api_keys::create, &make("reader")).await;
    let key = made.body["key"].as_str().unwrap().to_owned();
    let id = made.body["id"].as_str().unwrap().to_owned();
    let by_key = || Req::get("/org/items").token(&key);
    // - create: the token check, the organization's keys (at most 50 active), the
    //   insert, its audit event; list: the token check and the keys; revoke: the token
    //   check, the conditional write, its audit event.
    // - a key's read: the key (found by its prefix), then its organization, and the
    //   first use a minute records `last_used_at`; once an instance has seen the key,
    //   the key and its organization are read at the same time (two commands, one
    //   round trip, as a JWT's one read), then the page. A key's write counts against
    //   the key's limit once the key is known good: one more command, in a round trip
    //   of its own (a JWT's count goes with its token check).
    vec![
        row!(app; "api_keys_create", "new", 5, 201; api_keys::create, make("writer")),
        row!(app; "api_keys_list", "page", 2, 200;
            api_keys::list, Req::get("/org/api-keys").token(&o.token)),
        row!(app; "items_list", "API key, first use", 4, 200; items::list, by_key()),
        row!(app; "items_list", "API key, warm", 3, 200; items::list, by_key()),
        row!(app; "items_create", "API key", 6, 201;
            items::create, Req::post("/org/items", json!({ "k": 1 })).token(&key)),
        row!(app; "api_keys_revoke", "found", 4, 204;
            api_keys::revoke, Req::delete("/org/api-keys/x").param("id", &id).token(&o.token)),
        row!(app; "items_list", "API key, revoked", 2, 401; items::list, by_key()),
    ]
}

/// Past a write limit: the count, and nothing else (a JWT's token check is read in the
/// same round trip; a key's count comes after the key and its organization).
async fn limited_cases() -> Vec<Case> {
    use tenant::routes::api_keys;
    let app = &app_with(&[
        ("WRITE_LIMIT_PER_MINUTE", "2"),
        ("ANON_WRITE_LIMIT_PER_MINUTE", "1"),
    ])
    .await;
    let o = signup(app).await;
    let made = Req::post("/org/api-keys", json!({ "name": "k", "role": "admin" }));
    let made = call(app, api_keys::create, &made.token(&o.token)).await;
    let key = made.body["key"].as_str().unwrap().to_owned();
    let write = |bearer: &str| Req::post("/org/items", json!({ "a": 1 })).token(bearer);
    call(app, items::create, &write(&o.token)).await;
    call(app, items::create, &write(&key)).await;
    call(app, items::create, &write(&key)).await;
    let ip = &unique("ip-");
    let fresh = |n: &str| create_body(n, &format!("{n}@example.com"), PASSWORD);
    let first = Req::post("/org/create", fresh(&unique("lim"))).ip(ip);
    call(app, organizations::create, &first).await;
    vec![
        row!(app; "items_create", "JWT past its limit", 2, 429; items::create, write(&o.token)),
        row!(app; "items_create", "key past its limit", 3, 429; items::create, write(&key)),
        row!(app; "org_create", "IP past its limit", 1, 429;
            organizations::create, Req::post("/org/create", fresh(&unique("lim"))).ip(ip)),
    ]
}

/// A token of a fresh organization's owner.
async fn other_token(app: &App) -> String {
    signup(app).await.token
}

/// (v3) The operator API, authorized by IAM (no command for the check).
async fn operator_cases(app: &App) -> Vec<Case> {
    use tenant::routes::operator;
    let o = signup(app).await;
    let me = call(app, organizations::me, &Req::get("/org/me").token(&o.token)).await;
    let id = me.body["organization"]["id"].as_str().unwrap().to_owned();
    let on = |method: Method, path: &str| {
        Req::new(method, path)
            .iam("arn:aws:iam::1:user/ops")
            .param("id", &id)
    };
    let patch =
        on(Method::PATCH, "/operator/organizations/x").json(json!({ "metadata": { "k": "v" } }));
    let suspend =
        on(Method::POST, "/operator/organizations/x/suspend").json(json!({ "reason": "test" }));
    let gone = signup(app).await;
    add_item(app, &gone.token, json!({ "n": 1 })).await;
    assert_eq!(delete_org(app, &gone.token).await.status, 204);
    let restore = Req::new(Method::POST, "/operator/organizations/x/restore")
        .iam("arn:aws:iam::1:user/ops")
        .param("id", &gone.id);
    // - list: one query on the index of its filter and order.
    // - get: the organization, its API keys and its webhook endpoints (those two at once).
    // - update: the organization, then as the owners' update (profile read, conditional
    //   write, event copied), the organization again and the counts for the answer.
    // - suspend, resume: the organization, the status written with its event, the event
    //   copied, the counts; a resume also makes the waiting deliveries due.
    // - restore (one member, an owner whose account the delete removed): the record, no
    //   delete in flight, the name free (registry, collection), the owner's account and
    //   email checked, the mark; then the registry document back, the trash found and
    //   moved back, the account and email checked again, the account back and its
    //   organization listed, the member map and mark cleared with the event, the event
    //   copied, the record removed, the counts.
    vec![
        row!(app; "operator_list", "page", 1, 200;
            operator::list, on(Method::GET, "/operator/organizations").query("q", &o.name)),
        row!(app; "operator_get", "found", 3, 200; operator::get, on(Method::GET, "/operator/organizations/x")),
        row!(app; "operator_update", "metadata", 7, 200; operator::update, patch),
        row!(app; "operator_suspend", "active", 5, 200; operator::suspend, suspend),
        row!(app; "operator_resume", "suspended", 6, 200;
            operator::resume, on(Method::POST, "/operator/organizations/x/resume")),
        row!(app; "operator_restore", "deleted", 19, 200; operator::restore, restore),
    ]
}
