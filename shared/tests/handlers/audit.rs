//! (v2) The audit log: one event per state-changing request and per refusal, at least
//! once (also when the function dies right after the change), never twice for one
//! request id, never for a change that did not happen, and never a secret.

use mongodb::bson::{Document, doc};
use serde_json::{Value, json};
use tenant::hooks::Fault;
use tenant::{
    App,
    routes::{audit, invitations, items, members, organizations, sessions},
};

use crate::common::*;

async fn events(app: &App, token: &str, query: &[(&str, &str)]) -> Res {
    let req = Req::get("/org/audit").token(token).queries(query);
    call(app, audit::list, &req).await
}

async fn actions(app: &App, token: &str) -> Vec<String> {
    let res = events(app, token, &[("limit", "100")]).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

fn count(list: &[String], action: &str) -> usize {
    list.iter().filter(|a| *a == action).count()
}

fn stored_events(app: &App) -> mongodb::Collection<Document> {
    app.store.databases().0.collection("audit_events")
}

#[tokio::test]
async fn a_session_is_logged_in_the_contract_shape_and_never_holds_a_secret() {
    let app = app().await;
    let o = signup(&app).await;
    let item = add_item(&app, &o.token, json!({ "n": 1 })).await;
    let del = Req::delete("/org/items/x")
        .param("id", &item)
        .token(&o.token);
    assert_eq!(call(&app, items::delete, &del).await.status, 204);
    let invite = call(
        &app,
        invitations::create,
        &Req::post(
            "/org/invitations",
            json!({ "email": "new@example.com", "role": "admin" }),
        )
        .token(&o.token)
        .header("user-agent", "audit-test/1.0"),
    )
    .await;
    let token = invite.body["token"].as_str().unwrap().to_owned();
    let accepted = call(&app, invitations::accept, &accept_req(&token, PASSWORD)).await;
    let admin_id = accepted.body["admin_id"].as_str().unwrap().to_owned();
    let role = Req::patch("/org/members/x", json!({ "role": "member" }))
        .param("user_id", &admin_id)
        .token(&o.token);
    assert_eq!(call(&app, members::change_role, &role).await.status, 200);
    let wrong = login_req(&o.email, "Wrong-passw0rd");
    assert_eq!(call(&app, sessions::login, &wrong).await.status, 401);
    let rename = rename_org(&app, &o.token, &unique("renamed")).await;
    assert_eq!(rename.status, 200);
    let password = update_org(&app, &o.token, json!({ "password": "N3wPassword" })).await;
    assert_eq!(password.status, 200);
    let token = login(&app, &o.email, "N3wPassword").await;
    let all = actions(&app, &token).await;
    assert_eq!(count(&all, "user.login_succeeded:success"), 2, "{all:?}");
    for action in [
        "organization.created:success",
        "item.created:success",
        "item.deleted:success",
        "invitation.created:success",
        "invitation.accepted:success",
        "member.role_changed:success",
        "user.login_failed:success",
        "organization.renamed:success",
        "user.password_changed:success",
    ] {
        assert_eq!(count(&all, action), 1, "{action} in {all:?}");
    }
    // Newest first, in the contract's shape.
    let res = events(&app, &token, &[("action", "member.role_changed")]).await;
    let e = &res.body["events"][0];
    assert_eq!(e["organization_id"], o.id);
    assert_eq!(e["actor"]["type"], "user");
    assert_eq!(e["actor"]["email"], o.email);
    assert_eq!(e["targets"][0]["type"], "user");
    assert_eq!(e["targets"][0]["id"], admin_id);
    assert_eq!(e["metadata"], json!({ "from": "admin", "to": "member" }));
    assert!(
        e["context"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req-")
    );
    assert!(e["context"]["ip"].as_str().unwrap().starts_with("ip-"));
    assert!(e["occurred_at"].as_str().unwrap().ends_with('Z'));
    let failed = events(&app, &token, &[("action", "user.login_failed")]).await;
    assert_eq!(failed.body["events"][0]["actor"]["type"], "anonymous");
    // Nothing secret anywhere in what is stored.
    let stored: Vec<Document> = futures_util::TryStreamExt::try_collect(
        stored_events(&app)
            .find(doc! { "organization_id": &o.id })
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let text = format!("{stored:?}");
    for secret in [
        PASSWORD,
        "N3wPassword",
        "Wrong-passw0rd",
        &o.token,
        &token,
        SECRET,
    ] {
        assert!(!text.contains(secret), "a secret is in the audit log");
    }
    assert!(!text.contains("$2b$"), "a bcrypt hash is in the audit log");
    assert!(!text.contains(invite.body["token"].as_str().unwrap()));
}

#[tokio::test]
async fn refusals_are_logged_as_denied() {
    let app = app().await;
    let o = signup(&app).await;
    let (_, member, _) = join_as(&app, &o.token, "member").await;
    let refused = call(
        &app,
        invitations::create,
        &Req::post("/org/invitations", json!({ "email": "x@example.com" })).token(&member),
    )
    .await;
    assert_eq!(refused.status, 403);
    let read = events(&app, &member, &[]).await;
    assert_eq!(read.status, 403, "a member read the audit log");
    let other = signup(&app).await;
    let elsewhere = Req::delete("/org/delete")
        .query("organization_name", &other.name)
        .token(&o.token);
    assert_eq!(
        call(&app, organizations::delete, &elsewhere).await.status,
        403
    );
    let into_other = Req::post(
        "/admin/login",
        json!({ "email": o.email, "password": PASSWORD, "organization_name": other.name }),
    );
    assert_eq!(call(&app, sessions::login, &into_other).await.status, 403);
    assert_eq!(
        count(
            &actions(&app, &other.token).await,
            "user.login_failed:denied"
        ),
        1,
        "a login refused for a non-member is in that organization's log"
    );
    let all = actions(&app, &o.token).await;
    for action in [
        "invitation.created:denied",
        "audit.read:denied",
        "organization.deleted:denied",
    ] {
        assert_eq!(count(&all, action), 1, "{action} in {all:?}");
    }
    assert_eq!(
        count(&all, "invitation.created:success"),
        1,
        "only the member's invitation"
    );
}

#[tokio::test]
async fn the_log_pages_newest_first_filters_and_answers_csv() {
    let app = app().await;
    let o = signup(&app).await;
    for n in 0..5 {
        add_item(&app, &o.token, json!({ "n": n })).await;
    }
    let first = events(
        &app,
        &o.token,
        &[("limit", "3"), ("action", "item.created")],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let page: Vec<&Value> = first.body["events"].as_array().unwrap().iter().collect();
    assert_eq!(page.len(), 3);
    let times: Vec<&str> = page
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {times:?}"
    );
    let next = first.body["next"].as_str().unwrap().to_owned();
    let rest = events(
        &app,
        &o.token,
        &[("limit", "3"), ("action", "item.created"), ("after", &next)],
    )
    .await;
    assert_eq!(rest.body["events"].as_array().unwrap().len(), 2);
    assert!(rest.body["next"].is_null());
    let mine = me(&app, &o.token).await;
    let user = mine.body["user_id"].as_str().unwrap();
    let mine = events(&app, &o.token, &[("actor_id", user), ("limit", "100")]).await;
    assert!(mine.body["events"].as_array().unwrap().len() >= 6);
    let future = events(&app, &o.token, &[("since", "2999-01-01T00:00:00Z")]).await;
    assert!(future.body["events"].as_array().unwrap().is_empty());
    let bad = events(&app, &o.token, &[("since", "yesterday")]).await;
    assert_eq!(bad.status, 422);
    let csv = events(&app, &o.token, &[("format", "csv"), ("limit", "2")]).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(csv.text.starts_with("id,occurred_at,action,outcome,"));
    assert_eq!(csv.text.lines().count(), 3, "{}", csv.text);
    let link = csv.headers["link"].to_str().unwrap();
    assert!(
        link.contains("rel=\"next\"") && link.contains("format=csv") && link.contains("after=")
    );
}

#[tokio::test]
async fn a_retried_request_id_adds_no_second_event_and_a_failed_change_none() {
    let app = app().await;
    let o = signup(&app).await;
    let (_, _, user) = join_as(&app, &o.token, "member").await;
    let role = Req::patch("/org/members/x", json!({ "role": "admin" }))
        .param("user_id", &user)
        .token(&o.token);
    assert_eq!(call(&app, members::change_role, &role).await.status, 200);
    let back = Req::patch("/org/members/x", json!({ "role": "member" }))
        .param("user_id", &user)
        .token(&o.token);
    assert_eq!(call(&app, members::change_role, &back).await.status, 200);
    // The first request again, with its request id (a retry of the same invocation).
    assert_eq!(call(&app, members::change_role, &role).await.status, 200);
    let all = actions(&app, &o.token).await;
    assert_eq!(count(&all, "member.role_changed:success"), 2, "{all:?}");
    // Refused changes leave no success event.
    let taken = signup(&app).await;
    let rename = rename_org(&app, &o.token, &taken.name).await;
    assert_eq!(rename.status, 400);
    app.store.hooks().arm("rename.move", Fault::Codeless);
    let stuck = rename_org(&app, &o.token, &unique("never")).await;
    assert_eq!(stuck.status, 500);
    app.store.hooks().clear();
    let all = actions(&app, &o.token).await;
    assert_eq!(count(&all, "organization.renamed:success"), 0, "{all:?}");
}

#[tokio::test]
async fn a_change_has_its_event_even_when_the_function_dies_right_after_it() {
    let app = app().await;
    // A create that stops after it completed: the event is in the outbox, and the
    // next reading of the log copies it.
    let name = unique("crash");
    let email = format!("{name}@example.com");
    app.store
        .hooks()
        .arm("create.after_complete", Fault::Unavailable);
    let res = create_org(&app, create_body(&name, &email, PASSWORD)).await;
    assert_eq!(res.status, 503, "{}", res.text);
    app.store.hooks().clear();
    let token = login(&app, &email, PASSWORD).await;
    assert_eq!(
        count(&actions(&app, &token).await, "organization.created:success"),
        1
    );
    // A rename, a role change, a removal and an accept that stop right after their change.
    for (step, action) in [
        ("rename.after_complete", "organization.renamed:success"),
        ("join.after_map", "invitation.accepted:success"),
        ("leave.after_map", "member.removed:success"),
    ] {
        let email = format!("{}@example.com", unique("j"));
        let invite = call(
            &app,
            invitations::create,
            &Req::post("/org/invitations", json!({ "email": email })).token(&token),
        )
        .await;
        let invitation = invite.body["token"].as_str().unwrap().to_owned();
        let accept = accept_req(&invitation, PASSWORD);
        if step == "join.after_map" {
            app.store.hooks().arm(step, Fault::Unavailable);
        }
        let joined = call(&app, invitations::accept, &accept).await;
        app.store.hooks().clear();
        let user = account(&app, &email).await.unwrap();
        let user = user.get_object_id("_id").unwrap().to_hex();
        let before = count(&actions(&app, &token).await, action);
        let res = match step {
            "rename.after_complete" => {
                app.store.hooks().arm(step, Fault::Unavailable);
                rename_org(&app, &token, &unique("rn")).await
            }
            "leave.after_map" => {
                app.store.hooks().arm(step, Fault::Unavailable);
                let r = Req::delete("/org/members/x")
                    .param("user_id", &user)
                    .token(&token);
                call(&app, members::remove, &r).await
            }
            _ => joined,
        };
        app.store.hooks().clear();
        assert_eq!(res.status, 503, "{step}: {}", res.text);
        let after = count(&actions(&app, &token).await, action);
        let want = if step == "join.after_map" {
            before
        } else {
            before + 1
        };
        assert_eq!(after, want, "{step}");
    }
    // A delete that stops right after its mark: finished by the next request, and its
    // event outlives the organization (no API shows it any more).
    let mine = me(&app, &token).await;
    let org_id = mine.body["organization"]["id"].as_str().unwrap().to_owned();
    app.store
        .hooks()
        .arm("delete.after_mark", Fault::Unavailable);
    let res = delete_org(&app, &token).await;
    assert_eq!(res.status, 503, "{}", res.text);
    app.store.hooks().clear();
    assert_eq!(me(&app, &token).await.status, 401);
    let kept = stored_events(&app)
        .count_documents(doc! { "organization_id": &org_id, "action": "organization.deleted" })
        .await
        .unwrap();
    assert_eq!(kept, 1);
    let created = stored_events(&app)
        .find_one(doc! { "organization_id": &org_id, "action": "organization.created" })
        .await
        .unwrap()
        .unwrap();
    let expires = created
        .get_datetime("expires_at")
        .unwrap()
        .timestamp_millis();
    let occurred = created.get_i64("occurred_ms").unwrap();
    let days = (expires - occurred) / 86_400_000;
    assert_eq!(days, 365, "AUDIT_RETENTION_DAYS defaults to 365");
}

#[tokio::test]
async fn a_password_or_email_change_cut_short_is_finished_with_its_event_by_the_next_login() {
    let app = app().await;
    let o = signup(&app).await;
    let update = |body: serde_json::Value| Req::put("/org/update", body).token(&o.token);
    // The hash is written, then the function dies.
    app.store
        .hooks()
        .arm("password.after_hash", Fault::Unavailable);
    let res = call(
        &app,
        organizations::update,
        &update(json!({ "password": "N3wPassword" })),
    )
    .await;
    assert_eq!(res.status, 503, "{}", res.text);
    app.store.hooks().clear();
    let me = Req::get("/org/me").token(&o.token);
    assert_eq!(
        call(&app, organizations::me, &me).await.status,
        401,
        "a token from before the change still works"
    );
    let token = login(&app, &o.email, "N3wPassword").await;
    let all = actions(&app, &token).await;
    assert_eq!(count(&all, "user.password_changed:success"), 1, "{all:?}");
    // The account's email is written, then the function dies.
    let email = format!("{}@example.com", unique("moved"));
    app.store
        .hooks()
        .arm("email.after_account", Fault::Unavailable);
    let changed = Req::put("/org/update", json!({ "email": email })).token(&token);
    assert_eq!(
        call(&app, organizations::update, &changed).await.status,
        503
    );
    app.store.hooks().clear();
    let token = login(&app, &email, "N3wPassword").await;
    let all = actions(&app, &token).await;
    assert_eq!(count(&all, "user.email_changed:success"), 1, "{all:?}");
    let me = call(&app, organizations::me, &Req::get("/org/me").token(&token)).await;
    assert_eq!(me.body["email"], email.as_str());
}
