//! Invitations: `POST` and `GET /org/invitations`, `DELETE /org/invitations/{id}`
//! (revoke), `POST /org/invitations/{id}/resend`, and `POST /invitations/accept` (no
//! bearer: the token is the credential). A token is 32 random bytes, URL-safe base64,
//! shown once and stored only as its SHA-256; it is good once, until it expires, is
//! replaced, resent or revoked.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::{DateTime, oid::ObjectId};
use serde::Serialize;

use crate::app::App;
use crate::auth::links::{hash_of, new_token, token_text};
use crate::auth::login::{Attempt, any_password, check_password};
use crate::auth::{Action, authenticate, password, throttle};
use crate::core::acceptance::{self, CLAIM_LEASE_MS};
use crate::core::audit::{self, Actor, Context, Event, Outcome, Target};
use crate::core::lifecycle;
use crate::core::membership::{self, Memberships};
use crate::domain::{Email, Password, Role};
use crate::email::Kind;
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, app_url, json, no_content, page_limit, path_param, query};
use crate::routes::views::{LoginView, timestamp};
use crate::store::invitations::{self, InvitationDoc, Status, id_for};
use crate::store::mail::{self, MailJob};
use crate::store::users;

/// Days an invitation lasts by default, and the bounds.
const DEFAULT_DAYS: i64 = 7;
const DAYS: std::ops::RangeInclusive<i64> = 1..=30;
const MS_PER_DAY: i64 = 24 * 3600 * 1000;

/// An invitation as the API shows it; `token` only when it was just made.
#[derive(Debug, Serialize)]
struct InvitationView {
    id: String,
    email: String,
    role: &'static str,
    status: &'static str,
    invited_by: String,
    created_at: String,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl InvitationView {
    fn new(inv: &InvitationDoc, token: Option<String>, now_ms: i64) -> Self {
        let status = match inv.status {
            Status::Pending | Status::Accepting if inv.expires_ms <= now_ms => "expired",
            Status::Pending | Status::Accepting => "pending",
            Status::Accepted => "accepted",
            Status::Revoked => "revoked",
        };
        Self {
            id: inv.id.clone(),
            email: inv.email.clone(),
            role: inv.role.as_str(),
            status,
            invited_by: inv.invited_by.clone(),
            created_at: timestamp(inv.created_at),
            expires_at: timestamp(inv.expires_at),
            token,
        }
    }
}

/// The body of `POST /org/invitations`.
struct NewInvitation {
    email: Email,
    role: Role,
    days: i64,
    send_email: bool,
}

impl TryFrom<JsonBody> for NewInvitation {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let email = body.required("email", Email::parse);
        let role = body.optional("role", Role::parse);
        let days = body.optional_integer("expires_in_days", DAYS);
        let send_email = body.optional_bool("send_email");
        body.finish(|| {
            Some(Self {
                email: email?,
                role: role.unwrap_or(Role::Member),
                days: days.unwrap_or(DEFAULT_DAYS),
                send_email: send_email.unwrap_or(false),
            })
        })
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("Invitation not found".into())
}

fn not_pending() -> ApiError {
    ApiError::Conflict("The invitation is not pending".into())
}

fn being_accepted() -> ApiError {
    ApiError::Conflict("The invitation is being accepted; try again in a moment".into())
}

/// The mail job that delivers an invitation, when it goes by the service's email.
fn mail_job(app: &App, req: &Request, org: ObjectId, invitation: &str, to: &str) -> MailJob {
    let mut job = MailJob::new(Kind::Invitation, to, &app_url(&app.config.email, req));
    job.org = Some(org.to_hex());
    job.invitation = Some(invitation.to_owned());
    job
}

/// `POST /org/invitations`: invites an email (replacing its pending invitation, whose
/// token stops working); 409 for a current member. With `send_email`, the service
/// emails the link and the answer holds no token.
pub async fn create(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let input = NewInvitation::try_from(JsonBody::parse(&req)?)?;
    if input.send_email && !app.mailer.settings().configured() {
        return Err(ApiError::EmailNotConfigured);
    }
    let id = id_for(caller.org.id, input.email.as_str());
    let event = caller
        .event(&req, "invitation.created")
        .target(Target::new("invitation", &id, Some(input.email.as_str())))
        .meta("role", input.role.as_str());
    caller
        .authorize(app, Action::Invite(input.role), &event)
        .await?;
    // Replacing a pending invitation ends it: as much as revoking it may, whether or
    // not an accept of it is under way.
    if let Some(current) = invitations::by_id(&app.store, caller.org.id, &id).await? {
        if matches!(current.status, Status::Pending | Status::Accepting) {
            caller
                .authorize(app, Action::Invite(current.role), &event)
                .await?;
        }
        if acceptance::settled(&app.store, current).await?.status == Status::Accepting {
            return Err(being_accepted());
        }
    }
    let org = lifecycle::reload_settled(&app.store, caller.org.id).await?;
    if org
        .member_list()
        .any(|(_, m)| m.email == input.email.as_str())
    {
        return Err(ApiError::Conflict(
            "That email is already a member of the organization".into(),
        ));
    }
    // By email, the dispatcher makes the token the message carries: this one is never
    // shown, so nothing can accept before the message goes.
    let (token_hash, token) = new_token();
    let job = input
        .send_email
        .then(|| mail_job(app, &req, org.id, &id, input.email.as_str()));
    let now = DateTime::now();
    let expires_at = DateTime::from_millis(now.timestamp_millis() + input.days * MS_PER_DAY);
    let invitation = InvitationDoc {
        id,
        org_id: org.id.to_hex(),
        email: input.email.as_str().to_owned(),
        role: input.role,
        status: Status::Pending,
        token_hash,
        invited_by: caller.user.to_hex(),
        created_at: now,
        expires_at,
        expires_ms: expires_at.timestamp_millis(),
        claimed_ms: None,
        send_email: input.send_email,
        mail_job: job.as_ref().map(|j| j.id.to_hex()),
    };
    let saved = invitations::save_pending(&app.store, &invitation).await?;
    if let Some(job) = &job {
        mail::enqueue(&app.store, std::slice::from_ref(job)).await?;
    }
    audit::record(&app.store, org.id, &[event]).await?;
    tracing::info!(invitation = %saved.id, by_email = input.send_email, "invitation created");
    let shown = (!input.send_email).then_some(token);
    json(
        StatusCode::CREATED,
        &InvitationView::new(&saved, shown, now.timestamp_millis()),
    )
}

#[derive(Debug, Serialize)]
struct Page {
    invitations: Vec<InvitationView>,
    next: Option<String>,
}

/// `GET /org/invitations?status=&limit=&after=`: the invitations (never a token).
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let event = caller.event(&req, "invitation.listed");
    caller
        .authorize(app, Action::ListInvitations, &event)
        .await?;
    let status = query(&req, "status");
    if let Some(s) = &status
        && !["pending", "accepted", "revoked", "expired"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            &["query", "status"],
            "status must be one of pending, accepted, revoked, expired",
        ));
    }
    let limit = page_limit(&req)?;
    let after = query(&req, "after");
    let now = DateTime::now().timestamp_millis();
    let mut found = invitations::list(
        &app.store,
        caller.org.id,
        status.as_deref(),
        after.as_deref(),
        limit as i64 + 1,
        now,
    )
    .await?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next = more.then(|| found.last().map(|i| i.id.clone())).flatten();
    // Claims whose request died are settled on the way: accepted, or pending again.
    let mut invitations = Vec::with_capacity(found.len());
    for invitation in found {
        let invitation = acceptance::settled(&app.store, invitation).await?;
        let view = InvitationView::new(&invitation, None, now);
        if status.as_deref().is_none_or(|s| s == view.status) {
            invitations.push(view);
        }
    }
    json(StatusCode::OK, &Page { invitations, next })
}

/// The invitation of the path's `{id}` in the caller's organization, once the caller
/// is allowed to manage invitations for its role, and the audit event of `action` on it.
async fn managed(
    app: &App,
    req: &Request,
    action: &str,
) -> ApiResult<(crate::auth::Caller, InvitationDoc, Event)> {
    let caller = authenticate(app, req).await?;
    let id = path_param(req, "id").ok_or_else(not_found)?;
    let invitation = invitations::by_id(&app.store, caller.org.id, &id)
        .await?
        .ok_or_else(not_found)?;
    let event = caller
        .event(req, action)
        .target(Target::new(
            "invitation",
            &invitation.id,
            Some(&invitation.email),
        ))
        .meta("role", invitation.role.as_str());
    caller
        .authorize(app, Action::Invite(invitation.role), &event)
        .await?;
    let invitation = acceptance::settled(&app.store, invitation).await?;
    if invitation.status == Status::Accepting {
        return Err(being_accepted());
    }
    Ok((caller, invitation, event))
}

/// `DELETE /org/invitations/{id}`: revokes a pending invitation; 409 if it is not.
pub async fn revoke(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, invitation, event) = managed(app, &req, "invitation.revoked").await?;
    invitations::revoke(&app.store, caller.org.id, &invitation.id)
        .await?
        .ok_or_else(not_pending)?;
    audit::record(&app.store, caller.org.id, &[event]).await?;
    tracing::info!(invitation = %invitation.id, "invitation revoked");
    no_content()
}

/// `POST /org/invitations/{id}/resend`: a new token and a fresh expiry (the length it
/// was made with); the old token stops working. 409 if it is not pending. An
/// invitation sent by email is emailed again (the answer holds no token).
pub async fn resend(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, invitation, event) = managed(app, &req, "invitation.resent").await?;
    let by_email = invitation.send_email;
    if by_email && !app.mailer.settings().configured() {
        return Err(ApiError::EmailNotConfigured);
    }
    let (token_hash, token) = new_token();
    let job = by_email.then(|| {
        let org = caller.org.id;
        mail_job(app, &req, org, &invitation.id, &invitation.email)
    });
    let now = DateTime::now();
    let length = (invitation.expires_ms - invitation.created_at.timestamp_millis()).max(MS_PER_DAY);
    let expires_at = DateTime::from_millis(now.timestamp_millis() + length);
    let job_id = job.as_ref().map(|j| j.id.to_hex());
    let saved = invitations::resend(
        &app.store,
        caller.org.id,
        &invitation.id,
        &token_hash,
        (now, expires_at),
        job_id.as_deref(),
    )
    .await?
    .ok_or_else(not_pending)?;
    if let Some(job) = &job {
        mail::enqueue(&app.store, std::slice::from_ref(job)).await?;
    }
    audit::record(&app.store, caller.org.id, &[event]).await?;
    tracing::info!(invitation = %saved.id, by_email, "invitation resent");
    let shown = (!by_email).then_some(token);
    json(
        StatusCode::OK,
        &InvitationView::new(&saved, shown, now.timestamp_millis()),
    )
}

/// The body of `POST /invitations/accept`.
struct Acceptance {
    token: String,
    password: String,
}

impl TryFrom<JsonBody> for Acceptance {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let token = body.required("token", token_text);
        let password = body.required("password", any_password);
        body.finish(|| {
            Some(Self {
                token: token?,
                password: password?,
            })
        })
    }
}

fn gone() -> ApiError {
    ApiError::NotFound("Invitation not found or expired".into())
}

/// `POST /invitations/accept`: the invitation's email gets the membership. Without an
/// account, `password` makes one (the rules of create); with one, it must be its
/// password (401, throttled like login). 200: the login response for the inviting
/// organization. Unknown, used, revoked, replaced or expired tokens are all 404; of
/// concurrent accepts of one token exactly one succeeds.
pub async fn accept(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let input = Acceptance::try_from(JsonBody::parse(&req)?)?;
    throttle::anonymous_write(app, &req).await?;
    let context = Context::of(&req);
    let now = DateTime::now().timestamp_millis();
    let token_hash = hash_of(&input.token);
    let invitation = invitations::pending(&app.store, &token_hash, now, CLAIM_LEASE_MS)
        .await?
        .ok_or_else(gone)?;
    let email = Email::parse(&invitation.email).map_err(|_| gone())?;
    // Who accepts: the account of the email (its password), or a new one.
    let existing = match membership::account(&app.store, email.as_str()).await? {
        Some(_) => {
            let org = invitation.org().ok_or_else(gone)?;
            let attempt = Attempt::Accept(org);
            Some(check_password(app, &email, &input.password, &context, attempt).await?)
        }
        None => None,
    };
    let new_hash = match &existing {
        Some(_) => None,
        None => {
            let password = Password::parse(&input.password)
                .map_err(|msg| ApiError::invalid(&["body", "password"], msg))?;
            Some(password::hash(password.expose(), app.config.bcrypt_cost).await?)
        }
    };
    let claimed = acceptance::claim(&app.store, &token_hash, now)
        .await?
        .ok_or_else(gone)?;
    let org_id = claimed.org().ok_or_else(gone)?;
    let joined = join(app, &claimed, org_id, existing, new_hash, &context).await;
    let account = match joined {
        Ok(account) => account,
        Err(err) => {
            // Accepted if the membership was made before the failure; else pending again.
            acceptance::settle(&app.store, &claimed).await?;
            return Err(err);
        }
    };
    invitations::accepted(&app.store, &claimed).await?;
    let (org, member) = account
        .orgs
        .iter()
        .find(|(o, _)| o.id == org_id)
        .ok_or_else(gone)?;
    tracing::info!(invitation = %claimed.id, user_id = %account.user.id, "invitation accepted");
    let view = LoginView::issue(&app.config, account.user.id, org, member, &account.orgs)?;
    json(StatusCode::OK, &view)
}

/// The membership of a claimed invitation: the account (made when there is none), then
/// the organization's member map. The user's memberships after.
async fn join(
    app: &App,
    invitation: &InvitationDoc,
    org: mongodb::bson::oid::ObjectId,
    existing: Option<Memberships>,
    new_hash: Option<String>,
    context: &Context,
) -> ApiResult<Memberships> {
    // A token that came by the service's email proves the address.
    let verified = invitation.send_email;
    let (user, verified) = match (existing, new_hash) {
        (Some(account), _) => (account.user.id, account.user.email_verified),
        (None, Some(hash)) => {
            let id = mongodb::bson::oid::ObjectId::new();
            let made =
                membership::create_account(&app.store, id, &invitation.email, hash, verified, org)
                    .await
                    .map_err(|err| {
                        match err {
                    ApiError::Duplicate(_) => ApiError::Conflict(
                        "An account for this email was made meanwhile; accept with its password"
                            .into(),
                    ),
                    other => other,
                }
                    })?;
            (made.id, verified)
        }
        (None, None) => return Err(ApiError::internal("no account and no password")),
    };
    let member = membership::new_member(
        invitation.role,
        &invitation.email,
        verified,
        DateTime::now(),
    );
    let mut event = Event::new(
        context,
        "invitation.accepted",
        Outcome::Success,
        Actor::user(user, &invitation.email),
    )
    .target(Target::new(
        "invitation",
        &invitation.id,
        Some(&invitation.email),
    ))
    .target(Target::new("user", user, Some(&invitation.email)))
    .meta("role", invitation.role.as_str());
    // The token's own id: it tells later whether this token made its membership.
    event.id = acceptance::accepted_event_id(invitation);
    membership::join(&app.store, org, user, &member, &event).await?;
    let account = users::by_id(&app.store, user).await?.ok_or_else(gone)?;
    membership::tidy(&app.store, account).await
}
