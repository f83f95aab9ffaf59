//! Passwords at the door: the login's check (throttled, the same answer and timing
//! whether or not the email has an account), shared by login and by accepting an
//! invitation with an existing account.

use mongodb::bson::oid::ObjectId;

use crate::app::App;
use crate::auth::{password, throttle};
use crate::core::audit::{self, Actor, Context, Event, Outcome, Target};
use crate::core::membership::{self, Memberships};
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::store::{registry, users};

/// Any string up to a sane length: login does not apply the password rules, it
/// only compares.
pub fn any_password(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.len() > 1024 {
        return Err("Password must be 1 to 1024 bytes long".into());
    }
    Ok(raw.to_owned())
}

/// What a password is given for: a login, or accepting an invitation of an
/// organization.
#[derive(Debug, Clone, Copy)]
pub enum Attempt {
    /// `POST /admin/login`: a failure is in the log of every organization of the account.
    Login,
    /// `POST /invitations/accept` for this organization: a failure is in its log only if
    /// the account belongs to it. (Whoever accepts may not be the account's owner: an
    /// account can hold the invitee's email, and its organizations must not see the
    /// invitee's address and user agent.)
    Accept(ObjectId),
}

/// The user's account if `given` is its password: the same 401 text and the same
/// bcrypt work whether or not the email has an account. Throttled per (email, IP),
/// per email and per IP.
pub async fn check_password(
    app: &App,
    email: &Email,
    given: &str,
    context: &Context,
    attempt: Attempt,
) -> ApiResult<Memberships> {
    let refused = || ApiError::Unauthorized("Incorrect email or password".into());
    throttle::enter(&app.store, email.as_str(), &context.ip).await?;
    let mut user = users::by_email(&app.store, email.as_str()).await?;
    if user.is_none()
        && let Some(legacy) = registry::legacy_of(&app.store, email.as_str()).await?
    {
        // A first-release admin whose document no request has met since the migration
        // (written by a function of the first release while the new one rolled out).
        membership::migrate_admin(&app.store, &legacy).await?;
        user = users::by_email(&app.store, email.as_str()).await?;
    }
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = password::verify(given, stored, app.config.bcrypt_cost).await?;
    let user = match user {
        Some(user) if ok => user,
        Some(user) => {
            // A failed login for an email that has an account: in its organizations'
            // logs (see `Attempt`), by an anonymous actor.
            let event = Event::new(
                context,
                "user.login_failed",
                Outcome::Success,
                Actor::anonymous(Some(email.as_str())),
            )
            .target(Target::new("user", user.id, Some(email.as_str())));
            let logs = user.orgs.iter().filter(|o| match attempt {
                Attempt::Login => true,
                Attempt::Accept(org) => **o == org,
            });
            audit::record_many(&app.store, logs.map(|o| (*o, &event))).await?;
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
    // A hash of another cost (an older BCRYPT_COST, an imported one) is made again at
    // today's, now that the password is known right. Best effort: the login stands
    // whether or not the new hash is stored.
    if password::needs_rehash(&account.user.password_hash, app.config.bcrypt_cost) {
        let user = &account.user;
        let rehashed = match password::hash(given, app.config.bcrypt_cost).await {
            Ok(hash) => users::rehash(&app.store, user.id, &user.password_hash, &hash)
                .await
                .map_err(ApiError::from),
            Err(err) => Err(err),
        };
        if let Err(err) = rehashed {
            tracing::warn!(user_id = %user.id, error = %err.chain(), "password hash not renewed");
        }
    }
    Ok(account)
}
