//! Sessions: login (throttled) and logout (revokes every token of the user).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::oid::ObjectId;
use serde::Serialize;

use crate::app::App;
use crate::audit::{Actor, Context, Event, Outcome, Target};
use crate::auth::{Action, authenticate, jwt, password, throttle};
use crate::config::Config;
use crate::domain::{Email, OrganizationName};
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, json, no_content};
use crate::org::lifecycle::{self, Settled};
use crate::org::membership::{self, Memberships};
use crate::store::audit as log;
use crate::store::{Member, OrgDoc, registry, users};

/// One membership of the user, as login shows it.
#[derive(Debug, Serialize)]
struct MembershipView {
    organization_name: String,
    role: &'static str,
}

/// The body of a successful login (and of an accepted invitation).
#[derive(Debug, Serialize)]
pub struct LoginView {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    admin_id: String,
    organization_id: String,
    organization_name: String,
    role: &'static str,
    organizations: Vec<MembershipView>,
}

impl LoginView {
    /// A token for `user` in `org` (where it has `member`), and every membership.
    pub fn issue(
        config: &Config,
        user: ObjectId,
        org: &OrgDoc,
        member: &Member,
        all: &[(OrgDoc, Member)],
    ) -> ApiResult<Self> {
        let token = jwt::issue(&config.jwt, org, user, member).map_err(ApiError::internal)?;
        Ok(Self {
            access_token: token,
            token_type: "bearer",
            expires_in: config.jwt.ttl.as_secs(),
            admin_id: user.to_hex(),
            organization_id: org.id.to_hex(),
            organization_name: org.name.clone(),
            role: member.role.as_str(),
            organizations: all
                .iter()
                .map(|(o, m)| MembershipView {
                    organization_name: o.name.clone(),
                    role: m.role.as_str(),
                })
                .collect(),
        })
    }
}

/// The body of `POST /admin/login`.
pub struct Credentials {
    email: Email,
    password: String,
    organization: Option<OrganizationName>,
}

impl TryFrom<JsonBody> for Credentials {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let email = body.required("email", Email::parse);
        let password = body.required("password", any_password);
        let organization = body.optional("organization_name", OrganizationName::parse);
        body.finish(|| {
            Some(Self {
                email: email?,
                password: password?,
                organization,
            })
        })
    }
}

/// Any string up to a sane length: login does not apply the password rules, it
/// only compares.
pub fn any_password(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.len() > 1024 {
        return Err("Password must be 1 to 1024 bytes long".into());
    }
    Ok(raw.to_owned())
}

/// The user's account if `given` is its password: the same 401 text and the same
/// bcrypt work whether or not the email has an account. Throttled per (email, IP),
/// per email and per IP.
pub async fn check_password(
    app: &App,
    email: &Email,
    given: &str,
    context: &Context,
) -> ApiResult<Memberships> {
    let refused = || ApiError::Unauthorized("Incorrect email or password".into());
    throttle::enter(&app.store, email.as_str(), &context.ip).await?;
    let user = users::by_email(&app.store, email.as_str()).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = password::verify(given, stored, app.config.bcrypt_cost).await?;
    let user = match user {
        Some(user) if ok => user,
        Some(user) => {
            // A failed login for an email that has an account: in each of its
            // organizations' logs, by an anonymous actor.
            let event = Event::new(
                context,
                "user.login_failed",
                Outcome::Success,
                Actor::anonymous(Some(email.as_str())),
            )
            .target(Target::new("user", user.id, Some(email.as_str())));
            log::record_many(&app.store, user.orgs.iter().map(|o| (*o, &event))).await?;
            return Err(refused());
        }
        None => return Err(refused()),
    };
    // Changes a crash cut short: finished, with their events, before the memberships
    // (and the token versions in them) are read.
    if user.email_sync {
        let event = user.email_event.as_deref().and_then(Event::from_outbox);
        membership::sync_email(&app.store, &user, event.as_ref()).await?;
    }
    if let Some(event) = &user.password_event {
        membership::finish_password(&app.store, user.id, event).await?;
    }
    // An account that belongs nowhere (left by a step that did not run) is removed.
    let account = membership::tidy(&app.store, user).await?;
    if account.orgs.is_empty() && !account.creating {
        return Err(refused());
    }
    throttle::succeeded(&app.store, email.as_str(), &context.ip).await?;
    Ok(account)
}

/// `POST /admin/login`: a JWT for the user in the organization it names (or the one it
/// joined first), or 401 with the same text and timing whether or not the email has
/// an account; 403 for an organization it is not a member of; 429 once the throttle
/// closes.
pub async fn login(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let input = Credentials::try_from(JsonBody::parse(&req)?)?;
    let context = Context::of(&req);
    let account = check_password(app, &input.email, &input.password, &context).await?;
    let chosen = match &input.organization {
        Some(name) => match account.orgs.iter().find(|(o, _)| o.name == name.as_str()) {
            Some(chosen) => chosen,
            None => return Err(not_a_member(app, &context, &account, name).await?),
        },
        None => account
            .orgs
            .first()
            .ok_or_else(|| ApiError::Unauthorized("Incorrect email or password".into()))?,
    };
    let (org, member) = match lifecycle::settle(&app.store, chosen.0.clone()).await? {
        Settled::Ready(org) => {
            let member = org.member(account.user.id).cloned();
            (org, member)
        }
        _ => (chosen.0.clone(), None),
    };
    let member =
        member.ok_or_else(|| ApiError::Unauthorized("Incorrect email or password".into()))?;
    let event = Event::new(
        &context,
        "user.login_succeeded",
        Outcome::Success,
        Actor::user(account.user.id, &member.email),
    )
    .target(Target::new("organization", org.id, Some(&org.name)));
    log::record(&app.store, org.id, &[event]).await?;
    tracing::info!(org_id = %org.id, user_id = %account.user.id, "logged in");
    let view = LoginView::issue(&app.config, account.user.id, &org, &member, &account.orgs)?;
    json(StatusCode::OK, &view)
}

/// The 403 for a right password and an organization the user is not a member of; the
/// refusal goes into that organization's log, when it exists.
async fn not_a_member(
    app: &App,
    context: &Context,
    account: &Memberships,
    name: &OrganizationName,
) -> ApiResult<ApiError> {
    if let Some(org) = registry::by_name(&app.store, name.as_str()).await? {
        let event = Event::new(
            context,
            "user.login_failed",
            Outcome::Denied,
            Actor::user(account.user.id, &account.user.email),
        )
        .target(Target::new("organization", org.id, Some(&org.name)));
        log::record(&app.store, org.id, &[event]).await?;
    }
    Ok(ApiError::Forbidden(
        "You are not a member of that organization".into(),
    ))
}

/// `POST /admin/logout`: revokes every token of the user issued so far, in every
/// organization.
pub async fn logout(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let event = caller.event(&req, "user.logged_out").target(Target::new(
        "user",
        caller.user,
        Some(&caller.email),
    ));
    caller
        .authorize(app, Action::ChangeOwnAccount, &event)
        .await?;
    membership::revoke_tokens(&app.store, caller.user, Some(&event)).await?;
    tracing::info!(user_id = %caller.user, "logged out");
    no_content()
}
