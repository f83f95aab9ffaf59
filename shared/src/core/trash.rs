//! (v3) Restorable delete: what a delete keeps, the operator's restore, and the purge
//! after the grace period (`DELETE_GRACE_DAYS`).
//!
//! A delete keeps the registry document and its members' accounts in
//! `deleted_organizations` ([`keep`]) before anything is removed, and moves the items
//! into `trash_<id>`, a collection no client can reach. A restore marks the record
//! with the name it restores to, then: the registry document back (`pending: restore`,
//! invisible until done; the unique indexes decide a race for the name), the items
//! back, the accounts back (an email taken meanwhile is reported, not guessed), the
//! member map set and the mark cleared in one write, the record removed. A purge takes
//! a due record no restore has, drops the trash, the keys, endpoints, events and
//! invitations, logs `organization.purged` and removes the record. Every step is
//! idempotent and the record goes last, so a run that dies midway is finished by the
//! next one (the purge function, [`crate::jobs::purge`], also finishes restores older
//! than the lease).

use std::collections::BTreeMap;

use mongodb::bson::{DateTime, oid::ObjectId};

use crate::core::audit::{self, Event};
use crate::domain::{OrganizationName, Role, collection_of};
use crate::error::{ApiError, ApiResult};
use crate::store::trash::{self, DeletedOrg, Restoring};
use crate::store::users::{self, UserDoc};
use crate::store::{
    Member, OrgDoc, Pending, PendingOp, Placement, Store, api_keys, events, failpoint, invitations,
    is_duplicate, registry, tenants, webhooks,
};

/// Where a deleted organization's items wait.
fn trash_of(org: &OrgDoc) -> Placement {
    Placement {
        database: org.placement.database.clone(),
        collection: format!("trash_{}", org.id.to_hex()),
    }
}

/// The first step of a delete: keeps the organization (`full`, its whole registry
/// document) and its members' accounts, then moves its items into the trash. Kept
/// once: a delete finished again after a crash keeps the first record.
pub async fn keep(store: &Store, full: &OrgDoc) -> ApiResult<()> {
    let ids: Vec<ObjectId> = full.member_list().map(|(id, _)| id).collect();
    let accounts = users::by_ids(store, &ids).await?;
    let now = DateTime::now();
    let grace = store.delete_grace().as_millis() as i64;
    let mut org = full.clone();
    org.pending = None;
    org.audit_outbox.clear();
    let deleted = DeletedOrg {
        id: org.id,
        name: org.name.clone(),
        created_key: org.created_key.clone(),
        external_id: org.external_id.clone(),
        deleted_at: now,
        purge_after: DateTime::from_millis(now.timestamp_millis() + grace),
        trash: trash_of(&org),
        accounts,
        restoring: None,
        purging_ms: None,
        org,
    };
    trash::keep(store, &deleted).await?;
    failpoint!(store, "delete.after_keep");
    let Placement {
        database,
        collection,
    } = &full.placement;
    tenants::relocate(store, database, collection, &deleted.trash.collection).await?;
    Ok(())
}

/// The second half of a delete: nothing the organization had can act any more. Its
/// invitations go, its keys are revoked, its endpoints disabled (their deliveries
/// dropped).
pub async fn retire(store: &Store, org: ObjectId) -> ApiResult<()> {
    let hex = org.to_hex();
    invitations::delete_for_org(store, org).await?;
    webhooks::disable_all(store, &hex).await?;
    api_keys::revoke_all(store, &hex, DateTime::now().timestamp_millis()).await?;
    Ok(())
}

/// The answer of a restore.
#[derive(Debug)]
pub struct Restored {
    /// The organization, back.
    pub org: OrgDoc,
    /// (email, reason) of the members whose account could not come back.
    pub not_restored: Vec<(String, String)>,
}

fn conflict(msg: String) -> ApiError {
    ApiError::Conflict(msg)
}

/// Restores the deleted organization `record` under `name` (its own when `None`): 409
/// when the name is taken, when none of its owners' accounts can come back, or when a
/// purge has it. A restore cut short is finished under the name it began with.
pub async fn restore(
    store: &Store,
    record: DeletedOrg,
    name: Option<OrganizationName>,
    event: &Event,
) -> ApiResult<Restored> {
    let id = record.id;
    let not_found = || ApiError::NotFound("Organization not found".into());
    if record.restoring.is_some() {
        return finish_restore(store, record).await;
    }
    // Its delete may still be in flight (kept, not yet gone): finished first.
    if let Some(org) = registry::by_id(store, id).await?
        && !matches!(
            super::lifecycle::settle(store, org).await?,
            super::lifecycle::Settled::Gone
        )
    {
        return Err(conflict("Organization is not deleted".into()));
    }
    let name = match name {
        Some(name) => name.as_str().to_owned(),
        None => record.name.clone(),
    };
    let collection = collection_of(&name);
    if registry::holder(store, id, &name, &collection)
        .await?
        .is_some()
        || !tenants::is_empty(store, &record.trash.database, &collection).await?
    {
        return Err(name_taken(&name));
    }
    let plan = accounts_plan(store, &record).await?;
    if !plan.iter().any(|p| p.back && p.member.role == Role::Owner) {
        return Err(conflict(
            "None of the organization's owners can be restored: their emails belong to other accounts now".into(),
        ));
    }
    let event = event.clone().meta("organization_name", name.as_str());
    let restoring = Restoring {
        name,
        since_ms: DateTime::now().timestamp_millis(),
        event: event.to_outbox(),
    };
    match trash::mark_restoring(store, id, &restoring).await? {
        Some(marked) => finish_restore(store, marked).await,
        None => match trash::by_id(store, id).await? {
            Some(again) if again.restoring.is_some() => finish_restore(store, again).await,
            Some(_) => Err(conflict("The organization is being purged".into())),
            None => Err(not_found()),
        },
    }
}

/// The 409 of a restore under a name another organization holds.
fn name_taken(name: &str) -> ApiError {
    conflict(format!(
        "Organization name '{name}' is taken; restore it under a new organization_name"
    ))
}

/// What becomes of one member's account in a restore.
struct AccountPlan {
    user: ObjectId,
    member: Member,
    /// Its account as it is now, if it exists.
    now: Option<UserDoc>,
    /// Whether it comes back (exists, or its email is free for the kept account).
    back: bool,
}

/// Each member's account: there still (it belonged elsewhere too), free to come back
/// from the record, or its email taken by another account meanwhile.
async fn accounts_plan(store: &Store, record: &DeletedOrg) -> ApiResult<Vec<AccountPlan>> {
    let mut plan = Vec::new();
    for (user, member) in record.org.member_list() {
        let now = users::by_id(store, user).await?;
        let back = match (&now, record.accounts.iter().find(|a| a.id == user)) {
            (Some(_), _) => true,
            (None, Some(kept)) => users::by_email(store, &kept.email).await?.is_none(),
            (None, None) => false,
        };
        plan.push(AccountPlan {
            user,
            member: member.clone(),
            now,
            back,
        });
    }
    Ok(plan)
}

/// Carries a marked restore through: registry document, items, accounts, member map,
/// record.
pub async fn finish_restore(store: &Store, record: DeletedOrg) -> ApiResult<Restored> {
    let Some(restoring) = record.restoring.clone() else {
        return Err(ApiError::internal("restore finished without its mark"));
    };
    let place = Placement {
        database: record.trash.database.clone(),
        collection: collection_of(&restoring.name),
    };
    reinsert(store, &record, &restoring, &place).await?;
    failpoint!(store, "restore.after_insert");
    if tenants::exists(store, &record.trash.database, &record.trash.collection).await? {
        tenants::relocate(
            store,
            &place.database,
            &record.trash.collection,
            &place.collection,
        )
        .await?;
    } else if !tenants::exists(store, &place.database, &place.collection).await? {
        tenants::create(store, &place.database, &place.collection).await?;
    }
    failpoint!(store, "restore.after_move");
    let (members, not_restored) = bring_accounts_back(store, &record).await?;
    failpoint!(store, "restore.after_accounts");
    let mut event = Event::from_outbox(&restoring.event)
        .ok_or_else(|| ApiError::internal("restore event unreadable"))?;
    if !not_restored.is_empty() {
        let emails: Vec<&str> = not_restored.iter().map(|(e, _)| e.as_str()).collect();
        event = event.meta("not_restored", emails);
    }
    let done = registry::complete_arrival(
        store,
        record.id,
        PendingOp::Restore,
        &members,
        &event.to_outbox(),
    )
    .await?;
    let org = match done {
        Some(org) => org,
        // Finished by another run meanwhile.
        None => registry::by_id(store, record.id)
            .await?
            .filter(|o| o.pending.is_none())
            .ok_or_else(|| ApiError::busy("restore finishing elsewhere"))?,
    };
    failpoint!(store, "restore.after_complete");
    audit::drain(store, &org).await?;
    trash::remove(store, record.id).await?;
    tracing::info!(org_id = %org.id, restored = members.len(), not_restored = not_restored.len(), "organization restored");
    Ok(Restored { org, not_restored })
}

/// Puts the registry document back, marked as a restore in flight, under its new name
/// (members' token versions bumped: tokens from before the delete stay revoked). One
/// there already from a run cut short is kept; the name taken by a create meanwhile
/// gives the mark back (409).
async fn reinsert(
    store: &Store,
    record: &DeletedOrg,
    restoring: &Restoring,
    place: &Placement,
) -> ApiResult<()> {
    let mut org = record.org.clone();
    org.name = restoring.name.clone();
    org.collection_name = place.collection.clone();
    org.placement = place.clone();
    org.pending = Some(Pending {
        op: PendingOp::Restore,
        from: None,
        from_name: None,
        since: DateTime::from_millis(restoring.since_ms),
        event: None,
    });
    for member in org.members.values_mut() {
        member.ver += 1;
    }
    if let Some(external_id) = &org.external_id
        && registry::external_id_free(store, org.id, external_id)
            .await
            .is_err()
    {
        tracing::warn!(org_id = %org.id, "external_id taken meanwhile; restored without it");
        org.external_id = None;
    }
    match registry::insert(store, &org).await {
        Ok(()) => Ok(()),
        Err(e) if is_duplicate(&e) => match registry::by_id(store, org.id).await? {
            Some(_) => Ok(()),
            None => {
                trash::unmark_restoring(store, org.id).await?;
                Err(name_taken(&restoring.name))
            }
        },
        Err(e) => Err(e.into()),
    }
}

/// Each member's account back in the organization: an account still there gets it in
/// its list (and its email now in the map); one the delete removed comes back from the
/// record with its password hash, unless its email is another account's now.
async fn bring_accounts_back(
    store: &Store,
    record: &DeletedOrg,
) -> ApiResult<(BTreeMap<String, Member>, Vec<(String, String)>)> {
    let mut members = BTreeMap::new();
    let mut not_restored = Vec::new();
    for mut plan in accounts_plan(store, record).await? {
        if plan.now.is_none()
            && let Some(kept) = record.accounts.iter().find(|a| a.id == plan.user)
        {
            let account = UserDoc {
                orgs: vec![record.id],
                email_sync: false,
                email_event: None,
                pending_email: None,
                password_event: None,
                ..kept.clone()
            };
            match users::insert(store, &account).await {
                Ok(()) => plan.now = Some(account),
                Err(e) if is_duplicate(&e) => plan.now = users::by_id(store, plan.user).await?,
                Err(e) => return Err(e.into()),
            }
        }
        let Some(account) = plan.now else {
            let reason = "Email taken by another account";
            not_restored.push((plan.member.email.clone(), reason.to_owned()));
            continue;
        };
        users::add_org(store, account.id, record.id).await?;
        let mut member = plan.member;
        member.ver += 1;
        member.email = account.email.clone();
        member.verified = account.email_verified;
        members.insert(crate::store::member_key(plan.user), member);
    }
    Ok((members, not_restored))
}

/// Removes a deleted organization for good: its items, keys, endpoints and their
/// deliveries, events, invitations, then the record. Only the audit trail stays.
pub async fn purge(store: &Store, record: &DeletedOrg) -> ApiResult<()> {
    let hex = record.id.to_hex();
    tenants::drop(store, &record.trash.database, &record.trash.collection).await?;
    failpoint!(store, "purge.after_drop");
    api_keys::delete_all(store, &hex).await?;
    webhooks::delete_all(store, &hex).await?;
    events::delete_all(store, &hex).await?;
    invitations::delete_for_org(store, record.id).await?;
    failpoint!(store, "purge.after_data");
    let purged = Event::of_job("purge", "organization.purged", record.id, &record.name);
    audit::record(store, record.id, &[purged]).await?;
    trash::remove(store, record.id).await?;
    tracing::info!(org_id = %record.id, "organization purged");
    Ok(())
}
