//! (v3) Accounts: password resets, verified addresses, invitations sent by the
//! service's own email, and email changes that wait for their link. Messages go to a
//! folder of the test's own (the `make run` transport) and are read back from there,
//! as a person would click them; the dispatcher runs in-process.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use lambda_http::http::Method;
use mongodb::bson::{Document, doc};
use serde_json::json;
use tenant::App;
use tenant::routes::{accounts, audit, invitations, members, sessions};

use crate::common::*;

fn reset_req(email: &str) -> Req {
    Req::post("/auth/password-reset", json!({ "email": email }))
}

fn confirm_req(token: &str, password: &str) -> Req {
    Req::post(
        "/auth/password-reset/confirm",
        json!({ "token": token, "password": password }),
    )
}

fn verify_confirm_req(token: &str) -> Req {
    Req::post("/auth/verify-email/confirm", json!({ "token": token }))
}

/// The one reset link `email` got last.
fn last_link(dir: &std::path::Path, email: &str, fragment: &str) -> String {
    let mails = mail_to(dir, email);
    let mail = mails
        .last()
        .unwrap_or_else(|| panic!("no message to {email}"));
    mail.token(fragment)
        .unwrap_or_else(|| panic!("no #{fragment}= link in {}", mail.text))
}

fn account_tokens(app: &App) -> mongodb::Collection<Document> {
    app.store.databases().0.collection("account_tokens")
}

fn outbox(app: &App) -> mongodb::Collection<Document> {
    app.store.databases().0.collection("mail_outbox")
}

async fn actions(app: &App, token: &str) -> Vec<String> {
    let res = call(
        app,
        audit::list,
        &Req::get("/org/audit").token(token).query("limit", "100"),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_reset_request_answers_the_same_for_known_and_unknown_emails() {
    let (app, dir, _server) = mail_app(&[]).await;
    let o = signup(&app).await;
    let stranger = format!("{}@example.com", unique("nobody"));
    let mut timings = (Vec::new(), Vec::new());
    let mut commands = (Vec::new(), Vec::new());
    for i in 0..12 {
        // Interleaved, each from its own address (the per-IP limit is another test's).
        for (email, times, counts) in [
            (&o.email, &mut timings.0, &mut commands.0),
            (&stranger, &mut timings.1, &mut commands.1),
        ] {
            let before = app.store.hooks().commands();
            let start = Instant::now();
            let res = call(
                &app,
                accounts::request_reset,
                &reset_req(email).ip(&format!("ip-{i}-{}", unique(""))),
            )
            .await;
            times.push(start.elapsed());
            counts.push(app.store.hooks().commands() - before);
            assert_eq!(res.status, 202, "{}", res.text);
            assert_eq!(
                res.body,
                json!({ "detail": "If an account exists for this email, a message is on its way" })
            );
        }
    }
    // The same work, command for command: the account is looked up by the dispatcher.
    assert_eq!(commands.0, commands.1);
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (known, unknown) = (median(&mut timings.0), median(&mut timings.1));
    let (fast, slow) = (known.min(unknown), known.max(unknown));
    assert!(
        slow <= fast * 3 + Duration::from_millis(5),
        "medians {known:?} (known) and {unknown:?} (unknown) are not in one band"
    );
    let report = dispatch(&app).await;
    // Three messages an hour per address; the other nine requests send nothing.
    assert_eq!(report.sent, 3, "{report:?}");
    assert_eq!(mail_to(&dir, &o.email).len(), 3);
    assert!(mail_to(&dir, &stranger).is_empty());
}

#[tokio::test]
async fn a_reset_link_changes_the_password_once_and_ends_every_session() {
    let (app, dir, _server) = mail_app(&[]).await;
    let a = signup(&app).await;
    let b = signup(&app).await;
    // a's owner is also a member of b.
    let invite = call(
        &app,
        invitations::create,
        &invite_req(&b.token, &a.email, "admin"),
    )
    .await;
    let token = invite.body["token"].as_str().unwrap();
    let joined = call(&app, invitations::accept, &accept_req(token, PASSWORD)).await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    let in_b = joined.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &a.token).await.body["email_verified"], false);

    assert_eq!(
        call(&app, accounts::request_reset, &reset_req(&a.email))
            .await
            .status,
        202
    );
    dispatch(&app).await;
    let mail = mail_to(&dir, &a.email).pop().expect("a reset message");
    assert!(mail.subject.contains(&a.name), "{}", mail.subject);
    assert!(mail.text.contains("30 minutes") && mail.text.contains("Ignore this message"));
    let link = mail.token("reset").unwrap();
    assert_eq!(link.len(), 43);

    let done = call(
        &app,
        accounts::confirm_reset,
        &confirm_req(&link, "N3w-passw0rd"),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body, json!({ "detail": "Password changed" }));
    // Good once.
    let again = call(
        &app,
        accounts::confirm_reset,
        &confirm_req(&link, "An0ther-pass"),
    )
    .await;
    assert_eq!(again.status, 404);
    assert_eq!(again.detail(), "Reset link not found or expired");
    // Every earlier token, in every organization, is revoked.
    for old in [&a.token, &in_b] {
        assert_eq!(me(&app, old).await.status, 401);
    }
    let wrong = call(&app, sessions::login, &login_req(&a.email, PASSWORD)).await;
    assert_eq!(wrong.status, 401);
    let fresh = login(&app, &a.email, "N3w-passw0rd").await;
    // The link proved the address.
    assert_eq!(me(&app, &fresh).await.body["email_verified"], true);
    let listed = call(
        &app,
        members::list,
        &Req::get("/org/members").token(&b.token),
    )
    .await;
    let entry = listed.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == a.email.as_str())
        .cloned()
        .unwrap();
    assert_eq!(entry["email_verified"], true);
    // user.password_reset in each organization's log.
    for owner in [&fresh, &b.token] {
        let all = actions(&app, owner).await;
        assert_eq!(
            all.iter().filter(|a| *a == "user.password_reset").count(),
            1,
            "{all:?}"
        );
    }
}

#[tokio::test]
async fn replaced_expired_and_malformed_reset_links_are_refused() {
    let (app, dir, _server) = mail_app(&[]).await;
    let o = signup(&app).await;
    call(&app, accounts::request_reset, &reset_req(&o.email)).await;
    dispatch(&app).await;
    let first = last_link(&dir, &o.email, "reset");
    call(&app, accounts::request_reset, &reset_req(&o.email)).await;
    dispatch(&app).await;
    let second = last_link(&dir, &o.email, "reset");
    assert_ne!(first, second);
    // A newer request replaces the older link.
    let replaced = call(
        &app,
        accounts::confirm_reset,
        &confirm_req(&first, "N3w-passw0rd"),
    )
    .await;
    assert_eq!(replaced.status, 404);
    // Expiry is decided by the stored time (no TTL monitor).
    account_tokens(&app)
        .update_many(doc! {}, doc! { "$set": { "expires_ms": 1_i64 } })
        .await
        .unwrap();
    let expired = call(
        &app,
        accounts::confirm_reset,
        &confirm_req(&second, "N3w-passw0rd"),
    )
    .await;
    assert_eq!(expired.status, 404);
    let weak = call(&app, accounts::confirm_reset, &confirm_req(&second, "weak")).await;
    assert_eq!(weak.status, 422);
    assert_eq!(weak.locs(), [r#"["body","password"]"#]);
    let empty = call(
        &app,
        accounts::confirm_reset,
        &confirm_req("", "N3w-passw0rd"),
    )
    .await;
    assert_eq!(empty.status, 422);
    // The stored token is a hash, never the link's token.
    let stored: Vec<Document> =
        futures_util::TryStreamExt::try_collect(account_tokens(&app).find(doc! {}).await.unwrap())
            .await
            .unwrap();
    let text = format!("{stored:?}");
    assert!(!text.contains(&first) && !text.contains(&second));
}

#[tokio::test]
async fn sixteen_concurrent_confirms_of_one_link_make_one_success() {
    let (app, dir, _server) = mail_app(&[]).await;
    let o = signup(&app).await;
    call(&app, accounts::request_reset, &reset_req(&o.email)).await;
    dispatch(&app).await;
    let link = last_link(&dir, &o.email, "reset");
    let confirm = confirm_req(&link, "N3w-passw0rd");
    let answers = join_all((0..16).map(|_| call(&app, accounts::confirm_reset, &confirm))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [vec![200], vec![404; 15]].concat());
}

#[tokio::test]
async fn one_client_address_may_ask_for_twenty_resets_an_hour() {
    let (app, _dir, _server) = mail_app(&[]).await;
    let ip = format!("ip-{}", unique(""));
    for _ in 0..20 {
        let res = call(
            &app,
            accounts::request_reset,
            &reset_req("a@example.com").ip(&ip),
        )
        .await;
        assert_eq!(res.status, 202);
    }
    let res = call(
        &app,
        accounts::request_reset,
        &reset_req("a@example.com").ip(&ip),
    )
    .await;
    assert_eq!(res.status, 429);
    let wait: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait));
    assert!(res.detail().starts_with("Too many password reset requests"));
}

#[tokio::test]
async fn without_email_the_routes_that_only_send_answer_503() {
    let app = app().await;
    let o = signup(&app).await;
    let reset = call(&app, accounts::request_reset, &reset_req(&o.email)).await;
    let verify = call(
        &app,
        accounts::request_verification,
        &Req::new(Method::POST, "/auth/verify-email").token(&o.token),
    )
    .await;
    let body = json!({ "email": "x@example.com", "send_email": true });
    let invite = call(
        &app,
        invitations::create,
        &Req::post("/org/invitations", body).token(&o.token),
    )
    .await;
    for res in [reset, verify, invite] {
        assert_eq!(res.status, 503, "{}", res.text);
        assert_eq!(res.detail(), "Email is not configured");
    }
    // An invitation whose token the caller delivers needs no email.
    let plain = call(
        &app,
        invitations::create,
        &invite_req(&o.token, "y@example.com", "member"),
    )
    .await;
    assert_eq!(plain.status, 201);
    assert!(plain.body["token"].is_string());
}

#[tokio::test]
async fn an_address_is_verified_by_its_link_once() {
    let (app, dir, _server) = mail_app(&[]).await;
    let o = signup(&app).await;
    let asked = call(
        &app,
        accounts::request_verification,
        &Req::new(Method::POST, "/auth/verify-email").token(&o.token),
    )
    .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    dispatch(&app).await;
    let mail = mail_to(&dir, &o.email)
        .pop()
        .expect("a verification message");
    assert!(mail.subject.contains(&o.name) && mail.text.contains("24 hours"));
    let link = mail.token("verify").unwrap();
    let done = call(
        &app,
        accounts::confirm_verification,
        &verify_confirm_req(&link),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["email"], o.email.as_str());
    let again = call(
        &app,
        accounts::confirm_verification,
        &verify_confirm_req(&link),
    )
    .await;
    assert_eq!(again.status, 404);
    assert_eq!(again.detail(), "Verification link not found or expired");
    // The same token (hash) as a reset link is nothing.
    let crossed = call(
        &app,
        accounts::confirm_reset,
        &confirm_req(&link, "N3w-passw0rd"),
    )
    .await;
    assert_eq!(crossed.status, 404);
    assert_eq!(me(&app, &o.token).await.body["email_verified"], true);
    assert!(
        actions(&app, &o.token)
            .await
            .contains(&"user.email_verified".to_owned())
    );
    // The address it has already: nothing changes, it stays verified.
    let same = update_org(&app, &o.token, json!({ "email": o.email })).await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(me(&app, &o.token).await.body["email_verified"], true);
    // An immediate email change makes the account unverified again.
    let new_email = format!("{}@example.com", unique("moved"));
    let changed = update_org(&app, &o.token, json!({ "email": new_email })).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert!(changed.body.get("pending_email").is_none());
    assert_eq!(me(&app, &o.token).await.body["email_verified"], false);
}

#[tokio::test]
async fn an_invitation_sent_by_email_shows_no_token_and_makes_a_verified_account() {
    let (app, dir, _server) = mail_app(&[]).await;
    let o = signup(&app).await;
    let invitee = format!("{}@example.com", unique("inv"));
    let body = json!({ "email": invitee, "role": "admin", "send_email": true });
    let made = call(
        &app,
        invitations::create,
        &Req::post("/org/invitations", body).token(&o.token),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert!(made.body.get("token").is_none(), "{}", made.text);
    dispatch(&app).await;
    let mail = mail_to(&dir, &invitee)
        .pop()
        .expect("an invitation message");
    assert!(mail.subject.contains(&o.email) && mail.subject.contains(&o.name));
    assert!(mail.text.contains("as admin") && mail.text.contains("7 days"));
    let first = mail.token("accept").unwrap();
    // A resend emails a new link; the first stops working.
    let id = made.body["id"].as_str().unwrap();
    let resent = call(
        &app,
        invitations::resend,
        &Req::new(Method::POST, "/org/invitations/x/resend")
            .param("id", id)
            .token(&o.token),
    )
    .await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    assert!(resent.body.get("token").is_none());
    dispatch(&app).await;
    let second = last_link(&dir, &invitee, "accept");
    assert_ne!(first, second);
    let stale = call(&app, invitations::accept, &accept_req(&first, PASSWORD)).await;
    assert_eq!(stale.status, 404);
    let accepted = call(&app, invitations::accept, &accept_req(&second, PASSWORD)).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let token = accepted.body["access_token"].as_str().unwrap();
    assert_eq!(me(&app, token).await.body["email_verified"], true);
    // A token the inviter delivered proves nothing: that account starts unverified.
    let (_, plain, _) = join_as(&app, &o.token, "member").await;
    assert_eq!(me(&app, &plain).await.body["email_verified"], false);
}

#[tokio::test]
async fn with_change_verification_a_new_email_waits_for_its_link() {
    let (app, dir, _server) = mail_app(&[("EMAIL_CHANGE_VERIFICATION", "true")]).await;
    let o = signup(&app).await;
    let new_email = format!("{}@example.com", unique("next"));
    let res = update_org(&app, &o.token, json!({ "email": new_email })).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["pending_email"], new_email.as_str());
    // Nothing changed yet: the old address still signs in.
    assert_eq!(me(&app, &o.token).await.body["email"], o.email.as_str());
    dispatch(&app).await;
    let notice = mail_to(&dir, &o.email)
        .pop()
        .expect("a notice to the old address");
    assert!(notice.text.contains(&new_email));
    assert!(notice.token("verify").is_none() && notice.token("reset").is_none());
    let link = last_link(&dir, &new_email, "verify");
    let done = call(
        &app,
        accounts::confirm_verification,
        &verify_confirm_req(&link),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["email"], new_email.as_str());
    let token = login(&app, &new_email, PASSWORD).await;
    let now = me(&app, &token).await;
    assert_eq!(now.body["email"], new_email.as_str());
    assert_eq!(now.body["email_verified"], true);
    // The address taken meanwhile by another account: 400 at the request.
    let other = signup(&app).await;
    let taken = update_org(&app, &token, json!({ "email": other.email })).await;
    assert_eq!(taken.status, 400);
}

#[tokio::test]
async fn a_message_that_cannot_be_sent_is_kept_and_retried() {
    // A mail folder that cannot be made: every send fails.
    let (app, _, _server) = mail_app(&[("MAIL_DIR", "/proc/no-such-folder/mail")]).await;
    let o = signup(&app).await;
    call(&app, accounts::request_reset, &reset_req(&o.email)).await;
    let report = dispatch(&app).await;
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    let job = outbox(&app)
        .find_one(doc! {})
        .await
        .unwrap()
        .expect("the job is kept");
    assert_eq!(job.get_i64("attempts").unwrap_or(1), 1);
    assert!(job.get_str("last_error").unwrap().contains("mail folder"));
    let due = job.get_i64("due_ms").unwrap();
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    assert!(due > now + 20_000, "retried later, with backoff");
    // Not due yet: a second run leaves it.
    assert_eq!(dispatch(&app).await.failed, 0);
}
