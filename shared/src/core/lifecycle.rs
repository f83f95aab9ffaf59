//! Create, update (rename), delete: multi-step operations made safe without transactions.
//!
//! Each step is idempotent and the registry document records the operation in flight
//! (`pending`). Whoever meets an unfinished operation finishes it (rename, delete) or
//! rolls it back (a create older than [`LEASE`], a rename that cannot move its data)
//! before going on, so no operation can leave an organization unusable.
//!
//! A collection that no organization owns is never handed to a new owner with data in
//! it: a create or rename onto a name whose collection holds documents of no
//! organization is refused (400 "already exists") before anything changes. An empty
//! one is taken over (it holds nothing to leak), and a create that is rolled back
//! drops its collection only when it is empty.

use std::time::Duration;

use mongodb::bson::{Bson, DateTime, oid::ObjectId};

use super::{membership, trash};
use crate::core::audit::{self, Actor, Event, Outcome, Target};
use crate::domain::{Email, OrganizationName, Profile, Role};
use crate::error::{ApiError, ApiResult};
use crate::store::{
    OrgDoc, Pending, PendingOp, Placement, Store, failpoint, idempotency, is_duplicate, registry,
    tenants,
};

/// How long a create may stay in flight before others treat it as abandoned, and how
/// long a rename waits for a write that raced it before it gives up its target.
pub const LEASE: Duration = Duration::from_secs(60);

/// Attempts at an update that keeps meeting operations in flight.
const RETRIES: usize = 3;

/// What [`settle`] found once the operation in flight, if any, was dealt with.
#[derive(Debug)]
pub enum Settled {
    /// Nothing in flight: the organization as it stands.
    Ready(OrgDoc),
    /// A create within its lease: its request is still running, it is not visible yet.
    Creating(OrgDoc),
    /// No such organization: deleted, or a create that was rolled back.
    Gone,
}

fn org_exists(name: &str) -> ApiError {
    ApiError::Duplicate(format!("Organization '{name}' already exists"))
}

fn older_than_lease(since: DateTime) -> bool {
    DateTime::now().timestamp_millis() - since.timestamp_millis() > LEASE.as_millis() as i64
}

/// True for a create being undone, or begun longer ago than the lease (its request is
/// gone).
fn is_abandoned_create(org: &OrgDoc) -> bool {
    match &org.pending {
        Some(p) if p.op == PendingOp::RollBack => true,
        Some(p) if p.op == PendingOp::Create => older_than_lease(p.since),
        _ => false,
    }
}

/// Registers the new organization `id` with its first owner's new account and gives it
/// its collection.
pub async fn create(
    store: &Store,
    id: ObjectId,
    (name, email, profile): (&OrganizationName, &Email, &Profile),
    password_hash: String,
    context: &audit::Context,
) -> ApiResult<OrgDoc> {
    let now = DateTime::now();
    let owner = ObjectId::new();
    let event = Event::new(
        context,
        "organization.created",
        Outcome::Success,
        Actor::user(owner, email.as_str()),
    )
    .target(Target::new(
        "organization",
        id.to_hex(),
        Some(name.as_str()),
    ))
    .to_outbox();
    let member = membership::new_member(Role::Owner, email.as_str(), false, now);
    let place = store.placement_for(&name.collection_name());
    let mut org = OrgDoc::founded(
        (id, name.as_str(), place),
        (owner, member),
        now,
        PendingOp::Create,
    );
    org.external_id = profile.external_id.as_ref().map(|e| e.as_str().to_owned());
    org.metadata = (!profile.metadata.is_empty()).then(|| profile.metadata.to_json());
    insert_registry(store, &org).await?;
    let finished: ApiResult<()> = async {
        failpoint!(store, "create.after_insert");
        membership::create_account(store, owner, email.as_str(), password_hash, false, org.id)
            .await?;
        failpoint!(store, "create.after_account");
        claim_collection(store, &org).await?;
        failpoint!(store, "create.after_collection");
        let done = registry::complete_create(store, org.id, Some(&event))
            .await?
            .ok_or_else(|| ApiError::busy("create was undone while in flight"))?;
        failpoint!(store, "create.after_complete");
        audit::drain(store, &done).await?;
        Ok(())
    }
    .await;
    if let Err(err) = finished {
        if let Err(undo) = roll_back_create(store, &org).await {
            tracing::warn!(org_id = %org.id, error = %undo.chain(), "create left in flight; the next one to meet it rolls it back");
        }
        return Err(err);
    }
    org.pending = None;
    Ok(org)
}

/// The organization a create with this id made already (a retry of the same
/// idempotent request), if any: the organization when it is done, 409 while that
/// create still runs.
pub async fn created_before(store: &Store, id: ObjectId) -> ApiResult<Option<OrgDoc>> {
    match registry::by_id(store, id).await? {
        None => Ok(None),
        Some(org) => match settle(store, org).await? {
            Settled::Ready(org) => Ok(Some(org)),
            Settled::Creating(_) => Err(ApiError::InFlight { retry_after: 1 }),
            Settled::Gone => Ok(None),
        },
    }
}

/// Inserts the registry document; a unique index decides who wins a race.
async fn insert_registry(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    for attempt in 0..2 {
        match registry::insert(store, org).await {
            Ok(()) => return Ok(()),
            Err(e) if is_duplicate(&e) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(external_id) = &org.external_id {
            registry::external_id_free(store, org.id, external_id).await?;
        }
        let holder = registry::holder(store, org.id, &org.name, &org.collection_name).await?;
        match holder {
            Some(Some(other)) if attempt == 0 && is_abandoned_create(&other) => {
                settle(store, other).await?;
            }
            Some(_) => return Err(org_exists(&org.name)),
            None if attempt == 0 => tracing::debug!("duplicate holder vanished; retrying"),
            None => return Err(org_exists(&org.name)),
        }
    }
    Err(org_exists(&org.name))
}

/// Gives a new organization its collection: creates it, or takes over an empty one
/// that no organization owns. One that holds another organization's data mid-rename
/// has that rename finished first; one with documents of no organization is refused.
async fn claim_collection(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    let Placement {
        database,
        collection,
    } = &org.placement;
    for attempt in 0..2 {
        if !tenants::exists(store, database, collection).await?
            && tenants::create(store, database, collection).await?
        {
            return Ok(());
        }
        if let Some(mover) = registry::placed_in(store, database, collection, org.id).await? {
            if attempt == 0 && mover.pending_op() == Some(PendingOp::Rename) {
                Box::pin(settle(store, mover)).await?;
                continue;
            }
            return Err(org_exists(&org.name));
        }
        if tenants::is_empty(store, database, collection).await? {
            tracing::info!(%collection, "taking over an empty collection that no organization owns");
            return Ok(());
        }
        tracing::warn!(%collection, "collection holds documents of no organization; refusing to adopt it");
        return Err(org_exists(&org.name));
    }
    Err(org_exists(&org.name))
}

/// Undoes a create: marks it, then drops its collection (only if empty and no other
/// organization's data is in it) and removes the registry document.
async fn roll_back_create(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    if !registry::mark_rollback(store, org.id).await? {
        // The create completed after all, or someone else is undoing it.
        return Ok(());
    }
    finish_roll_back(store, org).await
}

async fn finish_roll_back(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    let Placement {
        database,
        collection,
    } = &org.placement;
    if registry::placed_in(store, database, collection, org.id)
        .await?
        .is_none()
        && tenants::is_empty(store, database, collection).await?
    {
        tenants::drop(store, database, collection).await?;
    }
    forget_members(store, org).await?;
    registry::remove_rolled_back(store, org.id).await?;
    Ok(())
}

/// The account side of an organization going away: each member's account forgets it,
/// and goes if that was its last. Reads the whole member map (the caller may hold one
/// member's view only).
async fn forget_members(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    let Some(full) = registry::by_id(store, org.id).await? else {
        return Ok(());
    };
    for (user, _) in full.member_list() {
        membership::forget(store, user, org.id).await?;
    }
    Ok(())
}

/// Renames an organization in one conditional write, then moves its collection.
pub async fn rename(
    store: &Store,
    org: OrgDoc,
    name: &OrganizationName,
    event: &Event,
) -> ApiResult<OrgDoc> {
    let event = event
        .clone()
        .meta("from", org.name.as_str())
        .meta("to", name.as_str())
        .to_outbox();
    let collection = name.collection_name();
    let mut current = org;
    // Concurrent renames each move the data once: a loser looks again and goes on.
    for _ in 0..4 * RETRIES {
        let moving = (collection != current.placement.collection).then(|| Pending {
            op: PendingOp::Rename,
            from: Some(current.placement.collection.clone()),
            from_name: Some(current.name.clone()),
            since: DateTime::now(),
            event: Some(event.clone()),
        });
        if moving.is_some() {
            refuse_foreign_collection(store, &current, &collection, name).await?;
        }
        let renaming = registry::Renaming {
            placed: &current.placement.collection,
            name: name.as_str(),
            collection: &collection,
            moving: moving.as_ref(),
            event: Some(&event),
        };
        let renamed = registry::rename(store, current.id, &renaming).await;
        match renamed {
            Ok(Some(updated)) if updated.pending_op() == Some(PendingOp::Rename) => {
                return match finish_rename(store, updated).await? {
                    Renamed::Done(org) => Ok(org),
                    Renamed::RolledBack(_, Refusal::TargetTaken) => Err(org_exists(name.as_str())),
                    Renamed::RolledBack(_, Refusal::Server(e)) => Err(ApiError::internal(e)),
                    Renamed::MovedOn(Settled::Ready(org)) => Ok(org),
                    Renamed::MovedOn(_) => Err(not_found()),
                };
            }
            Ok(Some(updated)) => {
                audit::drain(store, &updated).await?;
                return Ok(updated);
            }
            // No match: an operation is in flight, or (on servers that report a unique
            // index violation of findAndModify as "no document") the name is taken.
            Ok(None) => {
                if registry::holder(store, current.id, name.as_str(), &collection)
                    .await?
                    .is_some()
                {
                    return Err(org_exists(name.as_str()));
                }
                current = reload_settled(store, current.id).await?;
            }
            Err(e) if is_duplicate(&e) => return Err(org_exists(name.as_str())),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::busy("organization busy with another operation"))
}

/// 400 before anything changes when the target collection of a rename holds
/// documents of no organization (an empty one is dropped when the data moves in).
async fn refuse_foreign_collection(
    store: &Store,
    org: &OrgDoc,
    to: &str,
    name: &OrganizationName,
) -> ApiResult<()> {
    let database = &org.placement.database;
    if !tenants::exists(store, database, to).await? {
        return Ok(());
    }
    if let Some(mover) = registry::placed_in(store, database, to, org.id).await? {
        // Another organization is still moving its data out of it.
        if mover.pending_op() == Some(PendingOp::Rename) {
            Box::pin(settle(store, mover)).await?;
            if !tenants::exists(store, database, to).await? {
                return Ok(());
            }
        }
        return Err(org_exists(name.as_str()));
    }
    if tenants::is_empty(store, database, to).await? {
        return Ok(());
    }
    tracing::warn!(collection = %to, "rename target holds documents of no organization; refused");
    Err(org_exists(name.as_str()))
}

fn not_found() -> ApiError {
    ApiError::NotFound("Organization not found".into())
}

/// Loads an organization and finishes whatever is in flight on it; 404 if it is gone.
pub async fn reload_settled(store: &Store, id: ObjectId) -> ApiResult<OrgDoc> {
    let org = registry::by_id(store, id).await?.ok_or_else(not_found)?;
    match settle(store, org).await? {
        Settled::Ready(org) => Ok(org),
        _ => Err(not_found()),
    }
}

/// Deals with the operation in flight on `org`, if any: finishes a rename or delete,
/// rolls back an abandoned create, leaves a create within its lease alone.
pub async fn settle(store: &Store, org: OrgDoc) -> ApiResult<Settled> {
    match org.pending_op() {
        None => Ok(Settled::Ready(org)),
        Some(PendingOp::RollBack) => {
            finish_roll_back(store, &org).await?;
            Ok(Settled::Gone)
        }
        Some(PendingOp::Create) if is_abandoned_create(&org) => {
            roll_back_create(store, &org).await?;
            Ok(Settled::Gone)
        }
        // A create within its lease, a restore or an import: not visible until done.
        Some(PendingOp::Create | PendingOp::Restore | PendingOp::Import) => {
            Ok(Settled::Creating(org))
        }
        Some(PendingOp::Rename) => Ok(match finish_rename(store, org).await? {
            Renamed::Done(org) | Renamed::RolledBack(org, _) => Settled::Ready(org),
            Renamed::MovedOn(settled) => settled,
        }),
        Some(PendingOp::Delete) => {
            finish_delete(store, &org).await?;
            Ok(Settled::Gone)
        }
    }
}

/// Why a rename was rolled back.
#[derive(Debug)]
enum Refusal {
    /// The target collection holds documents of no organization.
    TargetTaken,
    /// The server refused to move the data, again and again (the cause, for the log).
    Server(String),
}

/// How a rename in flight ended.
#[derive(Debug)]
enum Renamed {
    /// The data is in the new collection.
    Done(OrgDoc),
    /// The data stayed where it was; the old name is back.
    RolledBack(OrgDoc, Refusal),
    /// Another request finished it (and the organization may have moved on since).
    MovedOn(Settled),
}

/// Moves the data of a rename in flight to its new collection and clears the record;
/// rolls the rename back when the data cannot move.
async fn finish_rename(store: &Store, org: OrgDoc) -> ApiResult<Renamed> {
    let pending = org.pending.clone();
    let since = pending.as_ref().map_or_else(DateTime::now, |p| p.since);
    let from = pending
        .as_ref()
        .and_then(|p| p.from.clone())
        .unwrap_or_else(|| org.placement.collection.clone());
    let database = org.placement.database.clone();
    let to = org.collection_name.clone();
    failpoint!(store, "rename.before_move");
    let mut refused = None;
    for _ in 0..RETRIES {
        let err = match tenants::rename(store, &database, &from, &to).await {
            Ok(()) => {
                refused = None;
                break;
            }
            Err(e) => e,
        };
        if let ApiError::Unavailable(_) = ApiError::from(err.clone()) {
            return Err(err.into());
        }
        if tenants::is_unsupported(&err) {
            registry::mark_copying(store, org.id, &to).await?;
            tenants::copy(store, &database, &from, &to).await?;
            refused = None;
            break;
        }
        // Refused: the state of both collections says why.
        let source = tenants::exists(store, &database, &from).await?;
        let target = tenants::exists(store, &database, &to).await?;
        match (source, target) {
            // Moved already, by another request.
            (false, true) => {
                refused = None;
                break;
            }
            // Nothing to move: the organization gets an empty collection.
            (false, false) => {
                if !registry::renaming(store, org.id, &to).await? {
                    return Ok(Renamed::MovedOn(Box::pin(settled(store, org.id)).await?));
                }
                tenants::create(store, &database, &to).await?;
                refused = None;
                break;
            }
            (true, false) => refused = Some(Refusal::Server(err.to_string())),
            (true, true) => {
                if registry::copying(store, org.id).await? {
                    tenants::copy(store, &database, &from, &to).await?;
                    refused = None;
                    break;
                }
                if tenants::is_empty(store, &database, &to).await? {
                    tenants::drop(store, &database, &to).await?;
                    continue;
                }
                if !older_than_lease(since) {
                    // A write that raced the rename may have recreated the source;
                    // its request removes what it wrote. Until then, wait.
                    return Err(ApiError::busy(
                        "rename waiting for a concurrent write to settle",
                    ));
                }
                tracing::warn!(org_id = %org.id, %from, %to, "rename target holds documents of no organization; rolling back");
                refused = Some(Refusal::TargetTaken);
                break;
            }
        }
    }
    if let Some(refusal) = refused {
        tracing::warn!(org_id = %org.id, ?refusal, "rename cannot move its data; rolling back");
        return roll_back_rename(store, &org, &from, refusal).await;
    }
    failpoint!(store, "rename.after_move");
    let event = pending.as_ref().and_then(|p| p.event.as_deref());
    match registry::complete_rename(store, org.id, &to, event).await? {
        Some(org) => {
            failpoint!(store, "rename.after_complete");
            audit::drain(store, &org).await?;
            Ok(Renamed::Done(org))
        }
        None => Ok(Renamed::MovedOn(Box::pin(settled(store, org.id)).await?)),
    }
}

/// Gives a rename up: the old name and collection come back.
async fn roll_back_rename(
    store: &Store,
    org: &OrgDoc,
    from: &str,
    refusal: Refusal,
) -> ApiResult<Renamed> {
    let from_name = org
        .pending
        .as_ref()
        .and_then(|p| p.from_name.clone())
        .unwrap_or_else(|| from.strip_prefix("org_").unwrap_or(from).to_owned());
    match registry::roll_back_rename(store, org.id, &org.collection_name, from, &from_name).await? {
        Some(back) => Ok(Renamed::RolledBack(back, refusal)),
        None if registry::renaming(store, org.id, &org.collection_name).await? => {
            // The old name was taken meanwhile by a create, which gives up on meeting
            // this rename; the next request rolls it back.
            Err(ApiError::busy("organization busy with another operation"))
        }
        None => Ok(Renamed::MovedOn(Box::pin(settled(store, org.id)).await?)),
    }
}

/// The organization as it stands, after whatever was in flight on it.
async fn settled(store: &Store, id: ObjectId) -> ApiResult<Settled> {
    match registry::by_id(store, id).await? {
        Some(org) => settle(store, org).await,
        None => Ok(Settled::Gone),
    }
}

/// Where an organization's data is now, once anything in flight is finished; `None`
/// when it is gone.
pub async fn placement_now(store: &Store, id: ObjectId) -> ApiResult<Option<Placement>> {
    Ok(match settled(store, id).await? {
        Settled::Ready(org) => Some(org.placement),
        _ => None,
    })
}

/// Deletes an organization: marks it (with its audit event: from there on the delete
/// is finished, never undone), drops its collection, removes the document.
pub async fn delete(store: &Store, org: OrgDoc, event: &Event) -> ApiResult<()> {
    let event = event.to_outbox();
    let mut current = org;
    for _ in 0..RETRIES {
        match registry::mark_delete(store, current.id, Some(&event)).await? {
            Some(org) => return finish_delete(store, &org).await,
            None => current = reload_settled(store, current.id).await?,
        }
    }
    Err(ApiError::busy("organization busy with another operation"))
}

/// Carries a delete in flight through: the organization and its accounts kept, its
/// items moved to the trash (see [`trash`]), its invitations, keys and endpoints
/// retired, its members' accounts told, the registry document removed (name and
/// emails free from there on). The organization's audit events are copied into the
/// log first (they outlive it). With `DELETE_GRACE_DAYS=0` it is purged at once.
async fn finish_delete(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    failpoint!(store, "delete.after_mark");
    let Some(full) = registry::by_id(store, org.id).await? else {
        return Ok(());
    };
    audit::drain(store, &full).await?;
    trash::keep(store, &full).await?;
    failpoint!(store, "delete.after_move");
    trash::retire(store, org.id).await?;
    idempotency::forget_owner(store, &org.id.to_hex()).await?;
    for (user, _) in full.member_list() {
        membership::forget(store, user, org.id).await?;
    }
    failpoint!(store, "delete.after_members");
    registry::remove(store, org.id).await?;
    if store.delete_grace().is_zero()
        && let Some(record) = crate::store::trash::by_id(store, org.id).await?
        && let Err(e) = trash::purge(store, &record).await
    {
        // Deleted all the same; the purge function's next run finishes it.
        tracing::warn!(org_id = %org.id, error = %e.chain(), "purge after delete cut short");
    }
    Ok(())
}

/// Stores an item of organization `id` in `place`, where its data was when the request
/// began. The organization may have been renamed or deleted since: the write stands
/// only where the data is now; elsewhere it is taken back (and made again at the new
/// place, or refused with 401 when the organization is gone).
pub async fn store_item(
    store: &Store,
    id: ObjectId,
    mut place: Placement,
    item: ObjectId,
    data: Bson,
    created_at: DateTime,
) -> ApiResult<()> {
    for _ in 0..RETRIES {
        tenants::insert_item(store, &place, id, item, data.clone(), created_at).await?;
        let now = registry::bare(store, id).await?;
        if let Some(org) = &now
            && org.pending.is_none()
            && org.placement == place
        {
            return Ok(());
        }
        withdraw_item(store, &place, id, item).await?;
        match placement_now(store, id).await? {
            Some(p) => place = p,
            None => return Err(ApiError::Unauthorized("Token has been revoked".into())),
        }
    }
    Err(ApiError::busy("organization busy with another operation"))
}

/// Takes back an item written to `place` by a request that raced a rename or delete
/// of its organization: removes it, and the collection too when that is left empty
/// and no organization has it as its collection name (the write recreated a
/// collection that was gone, or the source of a rename that has moved its data).
async fn withdraw_item(
    store: &Store,
    place: &Placement,
    org: ObjectId,
    id: ObjectId,
) -> ApiResult<()> {
    tenants::delete_item(store, place, org, id).await?;
    let Placement {
        database,
        collection,
    } = place;
    if tenants::is_empty(store, database, collection).await?
        && !registry::names_collection(store, collection).await?
    {
        tenants::drop(store, database, collection).await?;
    }
    Ok(())
}
