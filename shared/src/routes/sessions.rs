//! Sessions: `POST /admin/login` (throttled) and `POST /admin/logout` (revokes every
//! token of the user).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::login::{Attempt, any_password, check_password};
use crate::auth::{Action, authenticate, throttle};
use crate::core::audit::{self, Actor, Context, Event, Outcome, Target};
use crate::core::lifecycle::{self, Settled};
use crate::core::membership::{self, Memberships};
use crate::domain::{Email, OrganizationName};
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, json, no_content};
use crate::routes::views::LoginView;
use crate::store::registry;

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

/// `POST /admin/login`: a JWT for the user in the organization it names (or the one it
/// joined first), or 401 with the same text and timing whether or not the email has
/// an account; 403 for an organization it is not a member of; 429 once the throttle
/// closes.
pub async fn login(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let input = Credentials::try_from(JsonBody::parse(&req)?)?;
    let context = Context::of(&req);
    let account =
        check_password(app, &input.email, &input.password, &context, Attempt::Login).await?;
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
    crate::auth::suspended(&org)?;
    let event = Event::new(
        &context,
        "user.login_succeeded",
        Outcome::Success,
        Actor::user(account.user.id, &member.email),
    )
    .target(Target::new("organization", org.id, Some(&org.name)));
    audit::record(&app.store, org.id, &[event]).await?;
    tracing::info!(org_id = %org.id, user_id = %account.user.id, "logged in");
    let view = LoginView::issue(&app.config, account.user.id, &org, &member, &account.orgs)?;
    json(StatusCode::OK, &view)
}

/// The 403 for a right password and an organization the user is not a member of; the
/// refusal goes into that organization's log, when it exists, at most once per user,
/// organization and throttle window (its id is theirs): a right password resets the
/// login throttle, so nothing else would bound how often a stranger writes there.
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
        let window = event.at_ms / throttle::WINDOW.as_millis() as i64;
        let event = Event {
            id: Event::id_of(&format!(
                "user.login_failed|{}|{}|{window}",
                account.user.id, org.id
            )),
            ..event
        };
        audit::record(&app.store, org.id, &[event]).await?;
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
