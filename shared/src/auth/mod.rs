//! Authentication: tokens, passwords and their check at login, the login throttle, the
//! bearer check, and who may do what.

pub mod jwt;
pub mod links;
pub mod login;
pub mod password;
pub mod permissions;
pub mod throttle;

use lambda_http::Request;
use mongodb::bson::oid::ObjectId;

use crate::app::App;
use crate::core::audit::{self, Actor, Context, Event, Outcome};
use crate::core::lifecycle::{self, Settled};
use crate::core::membership;
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::http::bearer_token;
use crate::store::{OrgDoc, registry};
pub use permissions::{Action, require};

fn unauthorized(msg: &str) -> ApiError {
    ApiError::Unauthorized(msg.to_owned())
}

/// The member behind a valid token, with its organization as it stands now.
#[derive(Debug)]
pub struct Caller {
    /// The organization (with the caller's own member entry only).
    pub org: OrgDoc,
    /// The user.
    pub user: ObjectId,
    /// The role stored now (not the token's claim).
    pub role: Role,
    /// The user's email.
    pub email: String,
    /// Whether the user has proved the address.
    pub verified: bool,
}

impl Caller {
    /// An audit event of `action` by the caller, in the request `req`.
    pub fn event(&self, req: &Request, action: &str) -> Event {
        Event::new(
            &Context::of(req),
            action,
            Outcome::Success,
            Actor::user(self.user, &self.email),
        )
    }

    /// `Ok` when the caller's role allows `action`; else the refusal goes into the
    /// audit log (as `event`, denied) and the answer is 403.
    pub async fn authorize(&self, app: &App, action: Action, event: &Event) -> ApiResult<()> {
        let Err(refused) = require(self.role, action) else {
            return Ok(());
        };
        let mut denied = event.clone();
        denied.outcome = Outcome::Denied;
        audit::record(&app.store, self.org.id, &[denied]).await?;
        Err(refused)
    }
}

/// The member behind a valid, unrevoked token: one indexed read of its organization,
/// which holds the caller's member entry. Any operation left in flight on the
/// organization is finished first; a removed member, a token of an earlier membership
/// or version, and a deleted organization are 401.
pub async fn authenticate(app: &App, req: &Request) -> ApiResult<Caller> {
    let token = bearer_token(req).ok_or_else(|| unauthorized("Not authenticated"))?;
    let claims = jwt::verify(&app.config.jwt, token)
        .map_err(|_| unauthorized("Could not validate credentials"))?;
    let invalid = || unauthorized("Could not validate credentials");
    let org_id = ObjectId::parse_str(&claims.org_id).map_err(|_| invalid())?;
    let user = ObjectId::parse_str(&claims.sub).map_err(|_| invalid())?;
    let revoked = || unauthorized("Token has been revoked");
    let mut org = registry::for_member(&app.store, org_id, user)
        .await?
        .ok_or_else(revoked)?;
    if org.admin_id.is_some() {
        membership::migrate_admin(&app.store, &org).await?;
        org = registry::for_member(&app.store, org_id, user)
            .await?
            .ok_or_else(revoked)?;
    }
    let org = match lifecycle::settle(&app.store, org).await? {
        Settled::Ready(org) => org,
        Settled::Creating(_) | Settled::Gone => return Err(revoked()),
    };
    let member = org.member(user).ok_or_else(revoked)?;
    let joined = member.joined_at.timestamp_millis() / 1000;
    if member.ver != claims.ver || claims.iat < joined {
        return Err(revoked());
    }
    Ok(Caller {
        role: member.role,
        email: member.email.clone(),
        verified: member.verified,
        user,
        org,
    })
}
