//! Every row of the permission table, for every role: each authenticated route is
//! called by an owner, an admin and a member of a fresh organization, and must answer
//! 403 exactly where the contract's table says the role may not. A route of the OpenAPI
//! document that needs a token and has no row here fails the test.

use futures_util::future::join_all;
use lambda_http::http::Method;
use serde_json::json;
use tenant::{
    App,
    routes::{
        accounts, api_keys, events, invitations, items, members, operator, organizations, sessions,
        webhooks,
    },
};

use crate::common::*;

/// An organization with one member of each role to act, and one of each to act upon.
struct Fixture {
    app: App,
    /// Bearers of the acting owner, admin and member, then an admin and a member API
    /// key of the organization.
    tokens: [String; 5],
    /// Their ids (user ids, then key ids), in the same order.
    ids: [String; 5],
    target_member: String,
    target_admin: String,
    target_owner: String,
    member_invitation: String,
    owner_invitation: String,
    item: String,
    webhook: String,
}

async fn fixture() -> Fixture {
    // Email configured (nothing here dispatches it): the routes that send answer.
    let mail = std::env::temp_dir().join(unique("mail-"));
    let app = app_with(&[("MAIL_DIR", &mail.display().to_string())]).await;
    let o = signup(&app).await;
    let me = call(
        &app,
        organizations::me,
        &Req::get("/org/me").token(&o.token),
    )
    .await;
    let (_, admin, admin_id) = join_as(&app, &o.token, "admin").await;
    let (_, member, member_id) = join_as(&app, &o.token, "member").await;
    let (_, _, target_member) = join_as(&app, &o.token, "member").await;
    let (_, _, target_admin) = join_as(&app, &o.token, "admin").await;
    let (_, _, target_owner) = join_as(&app, &o.token, "owner").await;
    let invite = |role: &str| {
        Req::post(
            "/org/invitations",
            json!({ "email": format!("{}@example.com", unique("p")), "role": role }),
        )
        .token(&o.token)
    };
    let member_invitation = call(&app, invitations::create, &invite("member")).await;
    let owner_invitation = call(&app, invitations::create, &invite("owner")).await;
    let item = add_item(&app, &o.token, json!({ "n": 1 })).await;
    let hook = call(
        &app,
        webhooks::create,
        &Req::post(
            "/org/webhooks",
            json!({ "url": PUBLIC_HOOK, "events": ["*"] }),
        )
        .token(&o.token),
    )
    .await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    let key = |role: &'static str| {
        let req = Req::post(
            "/org/api-keys",
            json!({ "name": format!("{role} key"), "role": role }),
        )
        .token(&o.token);
        let app = &app;
        async move { call(app, api_keys::create, &req).await }
    };
    let (admin_key, member_key) = (key("admin").await, key("member").await);
    let bearer = |res: &Res| res.body["key"].as_str().unwrap().to_owned();
    let key_id = |res: &Res| res.body["id"].as_str().unwrap().to_owned();
    Fixture {
        webhook: hook.body["id"].as_str().unwrap().to_owned(),
        tokens: [
            o.token.clone(),
            admin,
            member,
            bearer(&admin_key),
            bearer(&member_key),
        ],
        ids: [
            me.body["user_id"].as_str().unwrap().to_owned(),
            admin_id,
            member_id,
            key_id(&admin_key),
            key_id(&member_key),
        ],
        target_member,
        target_admin,
        target_owner,
        member_invitation: member_invitation.body["id"].as_str().unwrap().to_owned(),
        owner_invitation: owner_invitation.body["id"].as_str().unwrap().to_owned(),
        item,
        app,
    }
}

/// The rows: (route as `METHOD path`, case, allowed for [owner, admin, member, admin
/// API key, member API key]).
const ROWS: &[(&str, &str, [bool; 5])] = &[
    (
        "GET /org/me",
        "read the organization",
        [true, true, true, true, true],
    ),
    (
        "GET /org/members",
        "list members",
        [true, true, true, true, true],
    ),
    ("POST /org/items", "items", [true, true, true, true, true]),
    ("GET /org/items", "items", [true, true, true, true, true]),
    (
        "GET /org/items/{id}",
        "items",
        [true, true, true, true, true],
    ),
    (
        "DELETE /org/items/{id}",
        "items",
        [true, true, true, true, true],
    ),
    (
        "PUT /org/update",
        "own email",
        [true, true, true, false, false],
    ),
    (
        "PUT /org/update",
        "own password",
        [true, true, true, false, false],
    ),
    (
        "POST /admin/logout",
        "own session",
        [true, true, true, false, false],
    ),
    (
        "DELETE /org/members/{user_id}",
        "leave",
        [true, true, true, false, false],
    ),
    (
        "POST /org/invitations",
        "as member",
        [true, true, false, true, false],
    ),
    (
        "POST /org/invitations",
        "as admin",
        [true, true, false, true, false],
    ),
    (
        "POST /org/invitations",
        "as owner",
        [true, false, false, false, false],
    ),
    (
        "GET /org/invitations",
        "list",
        [true, true, false, true, false],
    ),
    (
        "DELETE /org/invitations/{id}",
        "a member's",
        [true, true, false, true, false],
    ),
    (
        "DELETE /org/invitations/{id}",
        "an owner's",
        [true, false, false, false, false],
    ),
    (
        "POST /org/invitations/{id}/resend",
        "a member's",
        [true, true, false, true, false],
    ),
    (
        "POST /org/invitations/{id}/resend",
        "an owner's",
        [true, false, false, false, false],
    ),
    (
        "PATCH /org/members/{user_id}",
        "member to admin",
        [true, true, false, false, false],
    ),
    (
        "PATCH /org/members/{user_id}",
        "admin to member",
        [true, true, false, false, false],
    ),
    (
        "PATCH /org/members/{user_id}",
        "admin to owner",
        [true, false, false, false, false],
    ),
    (
        "PATCH /org/members/{user_id}",
        "owner to admin",
        [true, false, false, false, false],
    ),
    (
        "DELETE /org/members/{user_id}",
        "remove a member",
        [true, true, false, false, false],
    ),
    (
        "DELETE /org/members/{user_id}",
        "remove an admin",
        [true, true, false, false, false],
    ),
    (
        "DELETE /org/members/{user_id}",
        "remove an owner",
        [true, false, false, false, false],
    ),
    (
        "PUT /org/update",
        "rename",
        [true, false, false, false, false],
    ),
    (
        "PUT /org/update",
        "metadata and external_id",
        [true, true, false, false, false],
    ),
    (
        "DELETE /org/delete",
        "delete",
        [true, false, false, false, false],
    ),
    (
        "GET /org/audit",
        "read the audit log",
        [true, true, false, true, false],
    ),
    (
        "POST /auth/verify-email",
        "own address",
        [true, true, true, false, false],
    ),
    (
        "POST /org/api-keys",
        "keys",
        [true, true, false, false, false],
    ),
    (
        "GET /org/api-keys",
        "keys",
        [true, true, false, false, false],
    ),
    (
        "DELETE /org/api-keys/{id}",
        "keys",
        [true, true, false, false, false],
    ),
    (
        "GET /org/events",
        "read events",
        [true, true, false, true, false],
    ),
    (
        "GET /operator/organizations",
        "operators only",
        [false, false, false, false, false],
    ),
    (
        "GET /operator/organizations/{id}",
        "operators only",
        [false, false, false, false, false],
    ),
    (
        "PATCH /operator/organizations/{id}",
        "operators only",
        [false, false, false, false, false],
    ),
    (
        "POST /operator/organizations/{id}/suspend",
        "operators only",
        [false, false, false, false, false],
    ),
    (
        "POST /operator/organizations/{id}/resume",
        "operators only",
        [false, false, false, false, false],
    ),
    (
        "POST /operator/organizations/{id}/restore",
        "operators only",
        [false, false, false, false, false],
    ),
    (
        "POST /org/webhooks",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "GET /org/webhooks",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "GET /org/webhooks/{id}",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "PATCH /org/webhooks/{id}",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "DELETE /org/webhooks/{id}",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "POST /org/webhooks/{id}/rotate-secret",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "POST /org/webhooks/{id}/test",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "GET /org/webhooks/{id}/deliveries",
        "webhooks",
        [true, true, false, false, false],
    ),
    (
        "POST /org/webhooks/{id}/deliveries/{delivery_id}/retry",
        "webhooks",
        [true, true, false, false, false],
    ),
];

/// A receiver's URL that passes the checks without DNS (a public address literal).
const PUBLIC_HOOK: &str = "https://93.184.216.34/hooks";

impl Fixture {
    /// A request by the organization's owner.
    fn owner(&self, req: Req) -> Req {
        req.token(&self.tokens[0])
    }
}

/// Calls the route of a row as the acting member `who` (0 owner, 1 admin, 2 member).
async fn run(f: &Fixture, route: &str, case: &str, who: usize) -> Res {
    let token = &f.tokens[who];
    let app = &f.app;
    let with = |r: Req| r.token(token);
    let role = |user: &str, to: &str| {
        with(Req::patch("/org/members/x", json!({ "role": to })).param("user_id", user))
    };
    let remove = |user: &str| with(Req::delete("/org/members/x").param("user_id", user));
    // The invitation of the row's case ("a member's" or an owner's), revoked or resent.
    let invitation = |case: &str, resend: bool| {
        let id = if case == "a member's" {
            &f.member_invitation
        } else {
            &f.owner_invitation
        };
        let r = if resend {
            Req::new(Method::POST, "/org/invitations/x/resend")
        } else {
            Req::delete("/org/invitations/x")
        };
        with(r.param("id", id))
    };
    let invite = |role: &str| {
        with(Req::post(
            "/org/invitations",
            json!({ "email": format!("{}@example.com", unique("n")), "role": role }),
        ))
    };
    match (route, case) {
        ("GET /org/me", _) => call(app, organizations::me, &with(Req::get("/org/me"))).await,
        ("GET /org/members", _) => call(app, members::list, &with(Req::get("/org/members"))).await,
        ("POST /org/items", _) => {
            call(
                app,
                items::create,
                &with(Req::post("/org/items", json!({ "a": 1 }))),
            )
            .await
        }
        ("GET /org/items", _) => call(app, items::list, &with(Req::get("/org/items"))).await,
        ("GET /org/items/{id}", _) => {
            call(
                app,
                items::get,
                &with(Req::get("/org/items/x").param("id", &f.item)),
            )
            .await
        }
        ("DELETE /org/items/{id}", _) => {
            let r = with(Req::delete("/org/items/x").param("id", &f.item));
            call(app, items::delete, &r).await
        }
        ("PUT /org/update", "own email") => {
            let email = format!("{}@example.com", unique("ch"));
            let r = with(Req::put("/org/update", json!({ "email": email })));
            call(app, organizations::update, &r).await
        }
        ("PUT /org/update", "own password") => {
            let r = with(Req::put(
                "/org/update",
                json!({ "password": "N3wPassword" }),
            ));
            call(app, organizations::update, &r).await
        }
        ("PUT /org/update", "metadata and external_id") => {
            let body = json!({ "metadata": { "tier": "gold" }, "external_id": unique("ext") });
            call(
                app,
                organizations::update,
                &with(Req::put("/org/update", body)),
            )
            .await
        }
        ("PUT /org/update", _) => {
            let r = with(Req::put(
                "/org/update",
                json!({ "organization_name": unique("rn") }),
            ));
            call(app, organizations::update, &r).await
        }
        ("POST /admin/logout", _) => {
            call(
                app,
                sessions::logout,
                &with(Req::new(Method::POST, "/admin/logout")),
            )
            .await
        }
        ("DELETE /org/members/{user_id}", "leave") => {
            call(app, members::remove, &remove(&f.ids[who])).await
        }
        ("DELETE /org/members/{user_id}", "remove a member") => {
            call(app, members::remove, &remove(&f.target_member)).await
        }
        ("DELETE /org/members/{user_id}", "remove an admin") => {
            call(app, members::remove, &remove(&f.target_admin)).await
        }
        ("DELETE /org/members/{user_id}", _) => {
            call(app, members::remove, &remove(&f.target_owner)).await
        }
        ("POST /org/invitations", "as member") => {
            call(app, invitations::create, &invite("member")).await
        }
        ("POST /org/invitations", "as admin") => {
            call(app, invitations::create, &invite("admin")).await
        }
        ("POST /org/invitations", _) => call(app, invitations::create, &invite("owner")).await,
        ("GET /org/invitations", _) => {
            call(app, invitations::list, &with(Req::get("/org/invitations"))).await
        }
        ("DELETE /org/invitations/{id}", _) => {
            call(app, invitations::revoke, &invitation(case, false)).await
        }
        ("POST /org/invitations/{id}/resend", _) => {
            call(app, invitations::resend, &invitation(case, true)).await
        }
        ("PATCH /org/members/{user_id}", "member to admin") => {
            call(app, members::change_role, &role(&f.target_member, "admin")).await
        }
        ("PATCH /org/members/{user_id}", "admin to member") => {
            call(app, members::change_role, &role(&f.target_admin, "member")).await
        }
        ("PATCH /org/members/{user_id}", "admin to owner") => {
            call(app, members::change_role, &role(&f.target_admin, "owner")).await
        }
        ("PATCH /org/members/{user_id}", _) => {
            call(app, members::change_role, &role(&f.target_owner, "admin")).await
        }
        ("GET /org/audit", _) => {
            call(
                app,
                tenant::routes::audit::list,
                &with(Req::get("/org/audit")),
            )
            .await
        }
        ("DELETE /org/delete", _) => {
            call(
                app,
                organizations::delete,
                &with(Req::delete("/org/delete")),
            )
            .await
        }
        ("GET /org/events", _) => call(app, events::list, &with(Req::get("/org/events"))).await,
        ("POST /org/webhooks", _) => {
            let body = json!({ "url": PUBLIC_HOOK, "events": ["item.created"] });
            call(
                app,
                webhooks::create,
                &with(Req::post("/org/webhooks", body)),
            )
            .await
        }
        ("GET /org/webhooks", _) => {
            call(app, webhooks::list, &with(Req::get("/org/webhooks"))).await
        }
        ("GET /org/webhooks/{id}", _) => {
            let req = with(Req::get("/org/webhooks/x").param("id", &f.webhook));
            call(app, webhooks::get, &req).await
        }
        ("PATCH /org/webhooks/{id}", _) => {
            let req = Req::patch("/org/webhooks/x", json!({ "description": "d" }));
            call(app, webhooks::update, &with(req.param("id", &f.webhook))).await
        }
        ("DELETE /org/webhooks/{id}", _) => {
            let req = with(Req::delete("/org/webhooks/x").param("id", &f.webhook));
            call(app, webhooks::delete, &req).await
        }
        ("POST /org/webhooks/{id}/rotate-secret", _) => {
            let req = Req::new(Method::POST, "/org/webhooks/x/rotate-secret");
            call(app, webhooks::rotate, &with(req.param("id", &f.webhook))).await
        }
        ("POST /org/webhooks/{id}/test", _) => {
            let req = Req::new(Method::POST, "/org/webhooks/x/test");
            call(app, webhooks::test, &with(req.param("id", &f.webhook))).await
        }
        ("GET /org/webhooks/{id}/deliveries", _) => {
            let req = Req::get("/org/webhooks/x/deliveries").param("id", &f.webhook);
            call(app, webhooks::deliveries, &with(req)).await
        }
        ("POST /org/webhooks/{id}/deliveries/{delivery_id}/retry", _) => {
            // A delivery of the endpoint: its test event's.
            let test = Req::new(Method::POST, "/org/webhooks/x/test").param("id", &f.webhook);
            let made = call(app, webhooks::test, &f.owner(test)).await;
            assert_eq!(made.status, 202, "{}", made.text);
            let delivery = made.body["delivery_id"].as_str().unwrap();
            let req = Req::new(Method::POST, "/org/webhooks/x/deliveries/y/retry")
                .param("id", &f.webhook)
                .param("delivery_id", delivery);
            call(app, webhooks::retry, &with(req)).await
        }
        ("POST /org/api-keys", _) => {
            let body = json!({ "name": "made in a test" });
            call(
                app,
                api_keys::create,
                &with(Req::post("/org/api-keys", body)),
            )
            .await
        }
        ("GET /org/api-keys", _) => {
            call(app, api_keys::list, &with(Req::get("/org/api-keys"))).await
        }
        ("DELETE /org/api-keys/{id}", _) => {
            // The fixture's member key.
            let req = Req::delete("/org/api-keys/x").param("id", &f.ids[4]);
            call(app, api_keys::revoke, &with(req)).await
        }
        ("POST /auth/verify-email", _) => {
            let req = with(Req::new(Method::POST, "/auth/verify-email"));
            call(app, accounts::request_verification, &req).await
        }
        ("GET /operator/organizations", _) => {
            call(
                app,
                operator::list,
                &with(Req::get("/operator/organizations")),
            )
            .await
        }
        ("GET /operator/organizations/{id}", _) => {
            let req = Req::get("/operator/organizations/x").param("id", &f.ids[0]);
            call(app, operator::get, &with(req)).await
        }
        ("PATCH /operator/organizations/{id}", _) => {
            let body = json!({ "metadata": { "k": "v" } });
            let req = Req::patch("/operator/organizations/x", body).param("id", &f.ids[0]);
            call(app, operator::update, &with(req)).await
        }
        ("POST /operator/organizations/{id}/suspend", _) => {
            let body = json!({ "reason": "a test" });
            let req = Req::post("/operator/organizations/x/suspend", body).param("id", &f.ids[0]);
            call(app, operator::suspend, &with(req)).await
        }
        ("POST /operator/organizations/{id}/resume", _) => {
            let req =
                Req::new(Method::POST, "/operator/organizations/x/resume").param("id", &f.ids[0]);
            call(app, operator::resume, &with(req)).await
        }
        ("POST /operator/organizations/{id}/restore", _) => {
            let req =
                Req::new(Method::POST, "/operator/organizations/x/restore").param("id", &f.ids[0]);
            call(app, operator::restore, &with(req)).await
        }
        _ => panic!("no request for the row {route} ({case})"),
    }
}

#[tokio::test]
async fn every_row_of_the_table_for_every_role() {
    let cases: Vec<(&str, &str, usize, bool)> = ROWS
        .iter()
        .flat_map(|(route, case, allowed)| {
            (0..5).map(move |who| (*route, *case, who, allowed[who]))
        })
        .collect();
    let mut wrong = Vec::new();
    for chunk in cases.chunks(9) {
        let results = join_all(chunk.iter().map(|(route, case, who, allowed)| async move {
            let f = fixture().await;
            let res = run(&f, route, case, *who).await;
            (*route, *case, *who, *allowed, res)
        }))
        .await;
        for (route, case, who, allowed, res) in results {
            let role = ["owner", "admin", "member", "admin key", "member key"][who];
            let refused = res.status == 403;
            if refused == allowed || res.status.is_server_error() || res.status == 401 {
                wrong.push(format!(
                    "{route} ({case}) as {role}: {} {}",
                    res.status, res.text
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn every_route_that_needs_a_token_has_a_row() {
    let doc: serde_json::Value = serde_json::from_str(tenant::routes::docs::OPENAPI).unwrap();
    let mut missing = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            let route = format!("{} {path}", method.to_uppercase());
            if !ROWS.iter().any(|(r, _, _)| *r == route) {
                missing.push(route);
            }
        }
    }
    assert!(missing.is_empty(), "routes without a row: {missing:?}");
}
