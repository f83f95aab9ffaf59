//! Memberships across documents: a user's account lists its organizations, and each
//! organization's member map grants access. Joining writes the account first and the
//! map last; leaving writes the map first and the account last; so the map is always
//! the truth, and an account entry without a map entry (left by a step that did not
//! run) grants nothing and is cleaned up by whoever meets it ([`tidy`]). An account
//! left without any organization is removed: no orphan accounts.

use mongodb::bson::{DateTime, oid::ObjectId};

use crate::core::audit::{self, Event};
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::store::users::{self, UserDoc};
use crate::store::{Member, OrgDoc, PendingOp, Store, failpoint, is_duplicate, registry};

/// A user's memberships as they stand: the organizations whose map holds the user,
/// not being created or deleted, by join date.
pub struct Memberships {
    /// The account.
    pub user: UserDoc,
    /// (organization, the user's entry), earliest joined first.
    pub orgs: Vec<(OrgDoc, Member)>,
    /// Whether an organization of the user is being created (its request still runs).
    pub creating: bool,
}

/// Reads a user's organizations, drops the account's entries that grant nothing (no
/// map entry, or no such organization), and removes the account if that leaves it
/// without any.
pub async fn tidy(store: &Store, user: UserDoc) -> ApiResult<Memberships> {
    let found = registry::by_ids(store, &user.orgs).await?;
    let mut orgs = Vec::new();
    let mut creating = false;
    for id in &user.orgs {
        let entry = found
            .iter()
            .find(|o| o.id == *id)
            .and_then(|o| o.member(user.id).map(|m| (o, m)));
        match entry {
            None => users::remove_org(store, user.id, *id).await?,
            Some((o, m)) => match o.pending_op() {
                Some(PendingOp::Create | PendingOp::Restore | PendingOp::Import) => creating = true,
                Some(PendingOp::Delete | PendingOp::RollBack) => {}
                _ => orgs.push((o.clone(), m.clone())),
            },
        }
    }
    if orgs.is_empty() && !creating {
        users::delete_if_orphan(store, user.id).await?;
    }
    orgs.sort_by_key(|(_, m)| m.joined_at);
    Ok(Memberships {
        user,
        orgs,
        creating,
    })
}

/// The account of `email`, if it belongs to an organization (an orphan one is removed
/// on the way and counts as none).
pub async fn account(store: &Store, email: &str) -> ApiResult<Option<Memberships>> {
    let Some(user) = users::by_email(store, email).await? else {
        return Ok(None);
    };
    let memberships = tidy(store, user).await?;
    Ok((!memberships.orgs.is_empty() || memberships.creating).then_some(memberships))
}

/// A new member's entry.
pub fn new_member(role: Role, email: &str, verified: bool, now: DateTime) -> Member {
    Member {
        role,
        ver: 0,
        joined_at: now,
        email: email.to_owned(),
        verified,
    }
}

/// Makes an account for `email` that belongs to `org`; 400 "already exists" when the
/// email has an account that belongs somewhere (an orphan one is replaced).
pub async fn create_account(
    store: &Store,
    id: ObjectId,
    email: &str,
    password_hash: String,
    verified: bool,
    org: ObjectId,
) -> ApiResult<UserDoc> {
    let user = UserDoc {
        id,
        email: email.to_owned(),
        password_hash,
        orgs: vec![org],
        created_at: DateTime::now(),
        email_sync: false,
        email_event: None,
        email_verified: verified,
        pending_email: None,
        password_event: None,
    };
    failpoint!(store, "account.insert");
    for attempt in 0..2 {
        match users::insert(store, &user).await {
            Ok(()) => return Ok(user),
            Err(e) if is_duplicate(&e) && attempt == 0 => {
                if account(store, email).await?.is_some() {
                    break;
                }
            }
            Err(e) if is_duplicate(&e) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Duplicate(format!(
        "Admin with email '{email}' already exists"
    )))
}

/// Adds `user` to `org` with `member`: the account first, then the map. False when the
/// user is a member already; 404 when the organization is gone.
pub async fn join(
    store: &Store,
    org: ObjectId,
    user: ObjectId,
    member: &Member,
    event: &Event,
) -> ApiResult<bool> {
    users::add_org(store, user, org).await?;
    failpoint!(store, "join.after_account");
    let event = event.to_outbox();
    for _ in 0..3 {
        if let Some(joined) = registry::add_member(store, org, user, member, Some(&event)).await? {
            failpoint!(store, "join.after_map");
            audit::drain(store, &joined).await?;
            return Ok(true);
        }
        // Already a member, or an operation is in flight: look.
        let current = crate::core::lifecycle::reload_settled(store, org).await?;
        if current.member(user).is_some() {
            return Ok(false);
        }
    }
    Err(ApiError::busy("organization busy with another operation"))
}

/// Takes `user`, who has `role`, out of `org`: the map first (refused, false, when that
/// would leave no owner or the role changed meanwhile), then the account, which is
/// removed when it belongs nowhere else.
pub async fn leave(
    store: &Store,
    org: ObjectId,
    user: ObjectId,
    role: Role,
    event: &Event,
) -> ApiResult<bool> {
    let text = event.to_outbox();
    let Some(left) = registry::remove_member(store, org, user, role, Some(&text)).await? else {
        return Ok(false);
    };
    failpoint!(store, "leave.after_map");
    audit::drain(store, &left).await?;
    forget(store, user, org).await?;
    Ok(true)
}

/// The account side of leaving: the organization goes from its list, and the account
/// goes if that was its last.
pub async fn forget(store: &Store, user: ObjectId, org: ObjectId) -> ApiResult<()> {
    users::remove_org(store, user, org).await?;
    failpoint!(store, "leave.after_account");
    users::delete_if_orphan(store, user).await?;
    Ok(())
}

/// Revokes every token of `user`, in every organization, with `event` (if any) in
/// each organization's log, in the same write as the revocation.
pub async fn revoke_tokens(store: &Store, user: ObjectId, event: Option<&Event>) -> ApiResult<()> {
    if let Some(account) = users::by_id(store, user).await? {
        let text = event.map(Event::to_outbox);
        registry::bump_member_versions(store, &account.orgs, user, text.as_deref()).await?;
        if let Some(event) = event {
            audit::record_many(store, account.orgs.iter().map(|o| (*o, event))).await?;
        }
    }
    Ok(())
}

/// Changes `user`'s password: every token is revoked, the hash changes (marked with the
/// event), then every token is revoked again with the event in each organization's
/// outbox (the same write). The first revocation means a crash after the hash leaves no
/// token of the old password; the second ends the tokens of a login with the old
/// password that got in between; the mark lets the next login finish a change cut short.
pub async fn change_password(
    store: &Store,
    user: ObjectId,
    hash: &str,
    event: &Event,
) -> ApiResult<()> {
    revoke_tokens(store, user, None).await?;
    let text = event.to_outbox();
    users::set_password(store, user, hash, &text).await?;
    failpoint!(store, "password.after_hash");
    finish_password(store, user, &text).await
}

/// Ends a password change whose hash is written: its tokens revoked with its event
/// (again, when a crash left it to whoever meets the mark), then the mark cleared.
pub async fn finish_password(store: &Store, user: ObjectId, event: &str) -> ApiResult<()> {
    revoke_tokens(store, user, Event::from_outbox(event).as_ref()).await?;
    users::password_logged(store, user, event).await?;
    Ok(())
}

/// Changes `user`'s email (400 when another account has it), proved by a link
/// (`verified`) or not, then copies it into every organization's member map; the
/// account stays marked until that is done, and [`sync_email`] finishes it for whoever
/// meets the mark.
pub async fn change_email(
    store: &Store,
    user: ObjectId,
    email: &str,
    verified: bool,
    event: &Event,
) -> ApiResult<()> {
    let taken = || ApiError::Duplicate(format!("Admin with email '{email}' already exists"));
    let updated = users::set_email(store, user, email, verified, &event.to_outbox()).await;
    let updated = match updated {
        Ok(updated) => updated,
        Err(e) if is_duplicate(&e) => return Err(taken()),
        Err(e) => return Err(e.into()),
    };
    let Some(account) = updated else {
        // On servers that answer a unique index violation of findAndModify with "no
        // document": is the email someone else's?
        return match users::by_email(store, email).await? {
            Some(other) if other.id != user => Err(taken()),
            _ => Err(ApiError::Unauthorized("Token has been revoked".into())),
        };
    };
    failpoint!(store, "email.after_account");
    sync_email(store, &account, Some(event)).await
}

/// Copies an account's email and whether it is verified into its organizations' member
/// maps (with `event` in each one's log), and clears its mark.
pub async fn sync_email(store: &Store, account: &UserDoc, event: Option<&Event>) -> ApiResult<()> {
    let text = event.map(Event::to_outbox);
    registry::set_member_email(
        store,
        &account.orgs,
        account.id,
        (&account.email, account.email_verified),
        text.as_deref(),
    )
    .await?;
    if let Some(event) = event {
        audit::record_many(store, account.orgs.iter().map(|o| (*o, event))).await?;
    }
    users::email_synced(store, account.id, &account.email).await?;
    Ok(())
}

/// Moves a first-release organization's embedded admin into `users` and the member
/// map (idempotent; each step conditional). The admin's account is the one of its
/// email: a new one with the admin's id and hash, or, when the email has an account
/// already, that account, which keeps its own password (the first release's hash of
/// that email is dropped, and its tokens, of another user id, end).
pub async fn migrate_admin(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    let (Some(admin), Some(email), Some(hash)) =
        (org.admin_id, org.email.clone(), org.password_hash.clone())
    else {
        return Ok(());
    };
    let user = UserDoc {
        id: admin,
        email: email.clone(),
        password_hash: hash,
        orgs: vec![org.id],
        created_at: org.created_at,
        email_sync: false,
        email_event: None,
        email_verified: false,
        pending_email: None,
        password_event: None,
    };
    let owner = match users::insert(store, &user).await {
        Ok(()) => admin,
        // The admin's id (a run before this one made it) or the email (an account of
        // its own): the account of the email decides.
        Err(e) if is_duplicate(&e) => match users::by_email(store, &email).await? {
            Some(account) => account.id,
            None => admin,
        },
        Err(e) => return Err(e.into()),
    };
    users::add_org(store, owner, org.id).await?;
    let member = Member {
        role: Role::Owner,
        ver: org.token_version.unwrap_or(0),
        joined_at: org.created_at,
        email,
        verified: false,
    };
    registry::migrate_admin(store, org, owner, &member).await?;
    Ok(())
}
