//! Accepting an invitation across crashes: a token is good once.
//!
//! An accept claims the invitation (`accepting`, with the claim's time), makes the
//! membership (the account, then the member map, whose write carries the
//! `invitation.accepted` event), then marks the invitation accepted. A request that dies
//! in between leaves it `accepting`. Whoever meets such a claim after its lease settles
//! it by that event, whose id is the token's own: the event exists exactly when the
//! token made its membership, so the invitation is then accepted and its token used,
//! also when the member has left since; otherwise the claim is given back, and the
//! invitation is pending again.

use mongodb::bson::DateTime;

use crate::core::audit::Event;
use crate::error::ApiResult;
use crate::store::invitations::{self, InvitationDoc, Status};
use crate::store::{self, Store, registry};

/// How long a claim holds before others treat its request as dead.
pub const CLAIM_LEASE_MS: i64 = 60_000;

/// The id of the `invitation.accepted` event of an invitation's current token: one per
/// token, so that the event tells whether the token made its membership (a resent or
/// replaced invitation has a new token, and so a new id).
pub fn accepted_event_id(invitation: &InvitationDoc) -> String {
    Event::id_of(&format!(
        "invitation.accepted|{}|{}",
        invitation.id, invitation.token_hash
    ))
}

/// Whether the token of `claimed` made its membership: its event is in the
/// organization's outbox or in the log.
async fn membership_made(store: &Store, claimed: &InvitationDoc) -> ApiResult<bool> {
    let Some(org) = claimed.org() else {
        return Ok(false);
    };
    let event = accepted_event_id(claimed);
    if let Some(doc) = registry::by_id(store, org).await?
        && doc
            .audit_outbox
            .iter()
            .filter_map(|text| Event::from_outbox(text))
            .any(|e| e.id == event)
    {
        return Ok(true);
    }
    Ok(store::audit::exists(store, org, &event).await?)
}

/// Claims the invitation of a token for accepting it. A claim whose request died is
/// settled first, and taken over only when it made no membership. `None` when no
/// invitation can be accepted with the token (unknown, used, revoked, replaced,
/// expired, or being accepted by a request still running).
pub async fn claim(
    store: &Store,
    token_hash: &str,
    now_ms: i64,
) -> ApiResult<Option<InvitationDoc>> {
    if let Some(claimed) = invitations::claim(store, token_hash, now_ms).await? {
        return Ok(Some(claimed));
    }
    let Some(stuck) = invitations::stuck(store, token_hash, now_ms, CLAIM_LEASE_MS).await? else {
        return Ok(None);
    };
    if membership_made(store, &stuck).await? {
        invitations::accepted(store, &stuck).await?;
        return Ok(None);
    }
    Ok(invitations::take_over(store, &stuck, now_ms).await?)
}

/// Ends the claim `claimed` holds, whose accept did not finish: accepted when it made
/// its membership, else pending again.
pub async fn settle(store: &Store, claimed: &InvitationDoc) -> ApiResult<()> {
    if membership_made(store, claimed).await? {
        invitations::accepted(store, claimed).await?;
    } else {
        invitations::unclaim(store, claimed).await?;
    }
    Ok(())
}

/// The invitation as it stands once a claim on it whose request died is settled:
/// accepted, or pending again. One still within its lease is left alone (its accept
/// may still be running).
pub async fn settled(store: &Store, invitation: InvitationDoc) -> ApiResult<InvitationDoc> {
    let now = DateTime::now().timestamp_millis();
    let stuck = invitation.status == Status::Accepting
        && invitation
            .claimed_ms
            .is_some_and(|at| at < now - CLAIM_LEASE_MS);
    let Some(org) = invitation.org().filter(|_| stuck) else {
        return Ok(invitation);
    };
    settle(store, &invitation).await?;
    Ok(invitations::by_id(store, org, &invitation.id)
        .await?
        .unwrap_or(invitation))
}
