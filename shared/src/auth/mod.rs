//! Authentication: tokens, passwords and their check at login, the login throttle, the
//! bearer check, and who may do what.

pub mod jwt;
pub mod keys;
pub mod links;
pub mod login;
pub mod operator;
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
use crate::store::{OrgDoc, OrgStatus, registry};
pub use permissions::{Action, require, require_for_key};

fn unauthorized(msg: &str) -> ApiError {
    ApiError::Unauthorized(msg.to_owned())
}

/// (v3) 403 for every login, token and key of a suspended organization.
pub fn suspended(org: &OrgDoc) -> ApiResult<()> {
    match org.status {
        OrgStatus::Active => Ok(()),
        OrgStatus::Suspended => Err(ApiError::Forbidden("Organization suspended".into())),
    }
}

/// The member behind a valid token, with its organization as it stands now.
#[derive(Debug)]
pub struct Caller {
    /// The organization (for a member: with its own member entry only; for an API key:
    /// the whole document).
    pub org: OrgDoc,
    /// The user.
    pub user: ObjectId,
    /// The role stored now (not the token's claim).
    pub role: Role,
    /// The user's email.
    pub email: String,
    /// Whether the user has proved the address.
    pub verified: bool,
    /// For an API key: its name (`user` is then the key's id, and `email` empty).
    pub key: Option<String>,
}

impl Caller {
    /// An audit event of `action` by the caller, in the request `req`.
    pub fn event(&self, req: &Request, action: &str) -> Event {
        let actor = match &self.key {
            Some(name) => Actor::api_key(self.user, name),
            None => Actor::user(self.user, &self.email),
        };
        Event::new(&Context::of(req), action, Outcome::Success, actor)
    }

    /// `Ok` when the caller's role allows `action`; else the refusal goes into the
    /// audit log (as `event`, denied) and the answer is 403.
    pub async fn authorize(&self, app: &App, action: Action, event: &Event) -> ApiResult<()> {
        let allowed = match self.key {
            Some(_) => require_for_key(self.role, action),
            None => require(self.role, action),
        };
        let Err(refused) = allowed else {
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
/// or version, and a deleted organization are 401. A write is counted against the
/// caller's limit (429 past it) in the same round trip as the read.
pub async fn authenticate(app: &App, req: &Request) -> ApiResult<Caller> {
    let token = bearer_token(req).ok_or_else(|| unauthorized("Not authenticated"))?;
    if token.starts_with(keys::KEY_PREFIX) {
        return authenticate_key(app, req, token).await;
    }
    let claims = jwt::verify(&app.config.jwt, token)
        .map_err(|_| unauthorized("Could not validate credentials"))?;
    let invalid = || unauthorized("Could not validate credentials");
    let org_id = ObjectId::parse_str(&claims.org_id).map_err(|_| invalid())?;
    let user = ObjectId::parse_str(&claims.sub).map_err(|_| invalid())?;
    let revoked = || unauthorized("Token has been revoked");
    let who = format!("user:{user}");
    let (org, counted) = tokio::join!(
        registry::for_member(&app.store, org_id, user),
        throttle::caller_write(app, req, &who),
    );
    let mut org = org?.ok_or_else(revoked)?;
    counted?;
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
    suspended(&org)?;
    let member = org.member(user).ok_or_else(revoked)?;
    let joined = member.joined_at.timestamp_millis() / 1000;
    if member.ver != claims.ver || claims.iat < joined {
        return Err(revoked());
    }
    Ok(Caller {
        role: member.role,
        email: member.email.clone(),
        verified: member.verified,
        key: None,
        user,
        org,
    })
}

/// The organization's API key behind `token`: the key and its organization read at
/// the same time once this instance has seen the key (its organization never changes),
/// one after the other before. A key of a deleted organization is 401. A write is
/// counted against the key's limit once the key is known good, so that a forged key
/// never spends a real one's.
async fn authenticate_key(app: &App, req: &Request, token: &str) -> ApiResult<Caller> {
    let (store, jwt) = (&app.store, &app.config.jwt);
    if !keys::well_formed(token) {
        return Err(unauthorized("Malformed API key"));
    }
    let known =
        keys::known_org(&token[..keys::PREFIX_LEN]).and_then(|hex| ObjectId::parse_str(hex).ok());
    let (key, org) = match known {
        Some(org_id) => {
            let (key, org) = tokio::join!(
                keys::check(store, jwt, token),
                registry::bare(store, org_id)
            );
            (key?, org?)
        }
        None => {
            let key = keys::check(store, jwt, token).await?;
            let org = registry::bare(store, keys::org_id(&key)?).await?;
            (key, org)
        }
    };
    let revoked = || unauthorized("Invalid, revoked or expired API key");
    let org = org
        .filter(|o| o.id.to_hex() == key.org)
        .ok_or_else(revoked)?;
    let org = match lifecycle::settle(store, org).await? {
        Settled::Ready(org) => org,
        Settled::Creating(_) | Settled::Gone => return Err(revoked()),
    };
    suspended(&org)?;
    throttle::caller_write(app, req, &format!("key:{}", key.id)).await?;
    keys::used(store, &key).await;
    Ok(Caller {
        role: key.role,
        email: String::new(),
        verified: false,
        key: Some(key.name),
        user: key.id,
        org,
    })
}
