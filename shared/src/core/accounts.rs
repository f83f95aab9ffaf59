//! Accounts a person can recover and prove: password resets, address verification,
//! and email changes that wait for their link. A request only queues mail
//! ([`crate::store::mail`]); the dispatcher ([`crate::jobs::dispatch`]) makes each
//! link's token as it sends it, so a token exists only in its message and, hashed, in
//! [`crate::store::tokens`]. Confirming takes the token in one write (good once).

use mongodb::bson::{DateTime, oid::ObjectId};

use crate::auth::links::hash_of;
use crate::core::audit::{self, Actor, Context, Event, Outcome, Target};
use crate::core::membership;
use crate::email::Kind;
use crate::error::{ApiError, ApiResult};
use crate::store::mail::{self, MailJob};
use crate::store::tokens::{self, Purpose};
use crate::store::{Store, users};

/// How long a reset link works.
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// How long a verification link works.
pub const VERIFY_TTL_MS: i64 = 24 * 3600 * 1000;

/// The account and organization a message is about, and the account's address.
pub type Whose<'a> = (ObjectId, ObjectId, &'a str);

fn job(kind: Kind, to: &str, (user, org, _): Whose, base: &str) -> MailJob {
    let mut job = MailJob::new(kind, to, base);
    job.user = Some(user.to_hex());
    job.org = Some(org.to_hex());
    job
}

/// Queues a reset message for `email` (looked up when it is sent: the request does
/// the same work whether or not the address has an account).
pub async fn request_reset(store: &Store, email: &str, base: &str) -> ApiResult<()> {
    mail::enqueue(store, &[MailJob::new(Kind::Reset, email, base)]).await?;
    Ok(())
}

/// Queues a verification link to the account's address.
pub async fn request_verification(store: &Store, whose: Whose<'_>, base: &str) -> ApiResult<()> {
    mail::enqueue(store, &[job(Kind::Verify, whose.2, whose, base)]).await?;
    Ok(())
}

/// Records `new` as the address the account is changing to (400 when another account
/// has it), and queues its verification link and the notice to the old address.
pub async fn request_email_change(
    store: &Store,
    whose: Whose<'_>,
    new: &str,
    base: &str,
) -> ApiResult<()> {
    if users::by_email(store, new)
        .await?
        .is_some_and(|u| u.id != whose.0)
    {
        return Err(ApiError::Duplicate(format!(
            "Admin with email '{new}' already exists"
        )));
    }
    users::set_pending_email(store, whose.0, new).await?;
    let mut notice = job(Kind::EmailChanged, whose.2, whose, base);
    notice.new_email = Some(new.to_owned());
    mail::enqueue(store, &[job(Kind::Verify, new, whose, base), notice]).await?;
    Ok(())
}

fn reset_gone() -> ApiError {
    ApiError::NotFound("Reset link not found or expired".into())
}

fn verify_gone() -> ApiError {
    ApiError::NotFound("Verification link not found or expired".into())
}

/// Sets the password of the reset link `token` to `hash`: the token is used up, every
/// token of the user is revoked in every organization (with `user.password_reset` in
/// each one's log), and the address the link went to is verified.
pub async fn confirm_reset(
    store: &Store,
    token: &str,
    hash: &str,
    context: &Context,
) -> ApiResult<()> {
    let now = DateTime::now().timestamp_millis();
    let taken = tokens::take(store, Purpose::Reset, &hash_of(token), now)
        .await?
        .ok_or_else(reset_gone)?;
    let user = match taken.user_id() {
        Some(id) => users::by_id(store, id).await?.ok_or_else(reset_gone)?,
        None => return Err(reset_gone()),
    };
    let event = Event::new(
        context,
        "user.password_reset",
        Outcome::Success,
        Actor::user(user.id, &user.email),
    )
    .target(Target::new("user", user.id, Some(&user.email)));
    membership::change_password(store, user.id, hash, &event).await?;
    tokens::forget_user(store, user.id).await?;
    if taken.email == user.email {
        verify(store, user.id, &user.email).await?;
    }
    Ok(())
}

/// Confirms the verification link `token`: the account's address becomes verified
/// (`user.email_verified`), or the address it was changing to takes effect, verified
/// (`user.email_changed`). Answers the account's address now.
pub async fn confirm_verification(
    store: &Store,
    token: &str,
    context: &Context,
) -> ApiResult<String> {
    let now = DateTime::now().timestamp_millis();
    let taken = tokens::take(store, Purpose::Verify, &hash_of(token), now)
        .await?
        .ok_or_else(verify_gone)?;
    let user = match taken.user_id() {
        Some(id) => users::by_id(store, id).await?.ok_or_else(verify_gone)?,
        None => return Err(verify_gone()),
    };
    let event = |action: &str| {
        Event::new(
            context,
            action,
            Outcome::Success,
            Actor::user(user.id, &user.email),
        )
        .target(Target::new("user", user.id, Some(&user.email)))
    };
    if taken.email == user.email {
        verify(store, user.id, &user.email).await?;
        let event = event("user.email_verified");
        audit::record_many(store, user.orgs.iter().map(|o| (*o, &event))).await?;
    } else if user.pending_email.as_deref() == Some(taken.email.as_str()) {
        let event = event("user.email_changed").meta("to", taken.email.as_str());
        membership::change_email(store, user.id, &taken.email, true, &event).await?;
    } else {
        return Err(verify_gone());
    }
    Ok(taken.email)
}

/// Marks the account's address verified, and copies the flag into its organizations.
async fn verify(store: &Store, user: ObjectId, email: &str) -> ApiResult<()> {
    if let Some(account) = users::set_verified(store, user, email).await? {
        membership::sync_email(store, &account, None).await?;
    }
    Ok(())
}
