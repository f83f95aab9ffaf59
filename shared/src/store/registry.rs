//! The registry of organizations (`organizations` in the master database) and their
//! members, as named operations. Unique indexes on `name` and `collection_name` decide
//! every race; every write that moves an operation along is conditional on the
//! operation being where the caller expects it, so that two requests finishing the same
//! operation cannot both apply a step. Every write bumps `version`, the organization's
//! `ETag`.

use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId, to_bson};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;

use super::{Member, OrgDoc, Pending, PendingOp, Store, member_key};
use crate::domain::Role;

fn op(op: PendingOp) -> Bson {
    Bson::from(op)
}

fn no_pending() -> Document {
    doc! { "$exists": false }
}

/// The projection of a read without the member map and the outbox: its size does not
/// grow with the number of members.
fn without_members() -> Document {
    doc! { "members": 0, "audit_outbox": 0 }
}

/// Every organization a find returns (those that can be read).
async fn all(find: mongodb::action::Find<'_, Document>) -> Result<Vec<OrgDoc>, Error> {
    use futures_util::TryStreamExt;
    let docs: Vec<Document> = find.await?.try_collect().await?;
    Ok(docs.into_iter().filter_map(OrgDoc::from_document).collect())
}

/// How many audit events an organization's outbox keeps (each is copied into the log
/// right after its write; the outbox only bridges a crash in between).
const OUTBOX: i32 = 32;

/// The `$push` of an audit event (JSON text) into the outbox, if there is one.
fn push_event(update: &mut Document, event: Option<&str>) {
    if let Some(event) = event {
        update.insert(
            "$push",
            doc! { "audit_outbox": { "$each": [event], "$slice": -OUTBOX } },
        );
    }
}

/// One conditional write of an organization with its audit event (if any) in the
/// outbox: the document as it is after, or `None` when `filter` matched nothing.
async fn write(
    store: &Store,
    filter: Document,
    mut update: Document,
    event: Option<&str>,
) -> Result<Option<OrgDoc>, Error> {
    push_event(&mut update, event);
    let after = store
        .organizations()
        .find_one_and_update(filter, update)
        .return_document(ReturnDocument::After)
        .await?;
    Ok(after.and_then(OrgDoc::from_document))
}

async fn find(store: &Store, filter: Document) -> Result<Option<OrgDoc>, Error> {
    Ok(store
        .organizations()
        .find_one(filter)
        .await?
        .and_then(OrgDoc::from_document))
}

/// The organization with this id.
pub async fn by_id(store: &Store, id: ObjectId) -> Result<Option<OrgDoc>, Error> {
    find(store, doc! { "_id": id }).await
}

/// The organization with this id without its members and outbox: what a check of its
/// state, placement or operation in flight needs, read in the same time whatever the
/// number of members.
pub async fn bare(store: &Store, id: ObjectId) -> Result<Option<OrgDoc>, Error> {
    Ok(store
        .organizations()
        .find_one(doc! { "_id": id })
        .projection(without_members())
        .await?
        .and_then(OrgDoc::from_document))
}

/// The organization with this (lowercased) name.
pub async fn by_name(store: &Store, name: &str) -> Result<Option<OrgDoc>, Error> {
    find(store, doc! { "name": name }).await
}

/// `Ok` unless an organization other than `id` has `external_id` (400 "already exists").
pub async fn external_id_free(
    store: &Store,
    id: ObjectId,
    external_id: &str,
) -> crate::error::ApiResult<()> {
    let holder = store
        .organizations()
        .find_one(doc! { "external_id": external_id, "_id": { "$ne": id } })
        .projection(doc! { "_id": 1 })
        .await?;
    match holder {
        None => Ok(()),
        Some(_) => Err(crate::error::ApiError::Duplicate(format!(
            "Organization with external_id '{external_id}' already exists"
        ))),
    }
}

/// The organization's `version`, `metadata` and `external_id` only.
pub async fn profile(store: &Store, id: ObjectId) -> Result<Option<Document>, Error> {
    store
        .organizations()
        .find_one(doc! { "_id": id })
        .projection(doc! { "version": 1, "metadata": 1, "external_id": 1 })
        .await
}

/// Sets the organization's profile (`metadata` as JSON text, or none; `external_id`, or
/// none) with its audit event, in one write conditional on `version`, the version it
/// was read at: the organization after, or `None` when it moved on meanwhile.
pub async fn set_profile(
    store: &Store,
    id: ObjectId,
    version: i64,
    (metadata, external_id): (Option<&str>, Option<&str>),
    event: &str,
) -> Result<Option<OrgDoc>, Error> {
    let mut set = doc! { "updated_at": DateTime::now() };
    let mut unset = doc! {};
    for (field, value) in [("metadata", metadata), ("external_id", external_id)] {
        match value {
            Some(v) => set.insert(field, v),
            None => unset.insert(field, ""),
        };
    }
    let mut update = doc! { "$set": set, "$inc": { "version": 1_i64 } };
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    let filter = doc! { "_id": id, "version": version, "pending": no_pending() };
    write(store, filter, update, Some(event)).await
}

/// The organization with this id as `user` sees it: everything but the other members.
pub async fn for_member(
    store: &Store,
    id: ObjectId,
    user: ObjectId,
) -> Result<Option<OrgDoc>, Error> {
    let mut projection = doc! {};
    for field in [
        "name",
        "collection_name",
        "placement",
        "owners",
        "version",
        "created_at",
        "updated_at",
        "pending",
        "admin_id",
        "email",
        "password_hash",
        "token_version",
        "status",
    ] {
        projection.insert(field, 1);
    }
    projection.insert(format!("members.{}", member_key(user)), 1);
    Ok(store
        .organizations()
        .find_one(doc! { "_id": id })
        .projection(projection)
        .await?
        .and_then(OrgDoc::from_document))
}

/// (v3) Up to `limit` organizations with a create, rename or delete in flight since
/// before `before` (ms): abandoned by their requests, for the purge's sweep.
pub async fn stalled(store: &Store, before: i64, limit: i64) -> Result<Vec<OrgDoc>, Error> {
    let filter = doc! {
        "pending.since": { "$lt": DateTime::from_millis(before) },
        "pending.op": { "$nin": ["restore", "import"] },
    };
    all(store.organizations().find(filter).limit(limit)).await
}

/// The organizations with these ids (those that exist and can be read).
pub async fn by_ids(store: &Store, ids: &[ObjectId]) -> Result<Vec<OrgDoc>, Error> {
    all(store.organizations().find(doc! { "_id": { "$in": ids } })).await
}

/// Inserts a new registry document (error 11000 when a unique value is taken).
pub async fn insert(store: &Store, org: &OrgDoc) -> Result<(), Error> {
    let doc = mongodb::bson::to_document(org).map_err(Error::custom)?;
    store.organizations().insert_one(doc).await.map(|_| ())
}

/// The document other than `except` that holds `name` or `collection` (`None` inside
/// when it is one this release cannot read).
pub async fn holder(
    store: &Store,
    except: ObjectId,
    name: &str,
    collection: &str,
) -> Result<Option<Option<OrgDoc>>, Error> {
    let found = store
        .organizations()
        .find_one(doc! {
            "_id": { "$ne": except },
            "$or": [{ "name": name }, { "collection_name": collection }],
        })
        .await?;
    Ok(found.map(OrgDoc::from_document))
}

/// Another organization whose data is in `collection` of `database` (one that is
/// renaming away from it), if any.
pub async fn placed_in(
    store: &Store,
    database: &str,
    collection: &str,
    except: ObjectId,
) -> Result<Option<OrgDoc>, Error> {
    find(
        store,
        doc! {
            "_id": { "$ne": except },
            "placement.database": database,
            "placement.collection": collection,
        },
    )
    .await
}

/// Whether some organization has `collection` as its collection name.
pub async fn names_collection(store: &Store, collection: &str) -> Result<bool, Error> {
    let filter = doc! { "collection_name": collection };
    Ok(store.organizations().find_one(filter).await?.is_some())
}

/// Ends a create: clears its `pending` record. False if it is no longer a create in
/// flight (someone rolled it back).
pub async fn complete_create(
    store: &Store,
    id: ObjectId,
    event: Option<&str>,
) -> Result<Option<OrgDoc>, Error> {
    let update = doc! { "$unset": { "pending": "" } };
    write(
        store,
        doc! { "_id": id, "pending.op": op(PendingOp::Create) },
        update,
        event,
    )
    .await
}

/// Marks a create in flight as being undone. False if it completed after all, or
/// someone else is undoing it.
pub async fn mark_rollback(store: &Store, id: ObjectId) -> Result<bool, Error> {
    let marked = store
        .organizations()
        .update_one(
            doc! { "_id": id, "pending.op": op(PendingOp::Create) },
            doc! { "$set": { "pending.op": op(PendingOp::RollBack) } },
        )
        .await?;
    Ok(marked.matched_count == 1)
}

/// Removes the document of a create being undone.
pub async fn remove_rolled_back(store: &Store, id: ObjectId) -> Result<(), Error> {
    store
        .organizations()
        .delete_one(doc! { "_id": id, "pending.op": op(PendingOp::RollBack) })
        .await
        .map(|_| ())
}

/// Renames an organization in one conditional write, only while no operation is in
/// flight and its data is still where the caller saw it (`placed`, which a rename that
/// moves records as its source); `moving` records the move of its collection when that
/// changes. `None` when something is in flight or moved meanwhile, or (on servers that
/// report a unique index violation of findAndModify as "no document") the name is taken.
pub async fn rename(
    store: &Store,
    id: ObjectId,
    r: &Renaming<'_>,
) -> Result<Option<OrgDoc>, Error> {
    let mut set =
        doc! { "updated_at": DateTime::now(), "name": r.name, "collection_name": r.collection };
    if let Some(pending) = r.moving {
        set.insert("pending", to_bson(pending).map_err(Error::custom)?);
    }
    // A rename that moves data writes its event when the move is done.
    let event = r.event.filter(|_| r.moving.is_none());
    write(
        store,
        doc! { "_id": id, "pending": no_pending(), "placement.collection": r.placed },
        doc! { "$set": set, "$inc": { "version": 1_i64 } },
        event,
    )
    .await
}

/// What a rename writes.
pub struct Renaming<'a> {
    /// The collection the data is in now, as the caller saw it.
    pub placed: &'a str,
    /// The new name.
    pub name: &'a str,
    /// The new collection name.
    pub collection: &'a str,
    /// The move of the data, when the collection changes.
    pub moving: Option<&'a Pending>,
    /// The audit event (JSON text).
    pub event: Option<&'a str>,
}

/// Moves the organization's version on, only if it is one of `versions` (an
/// `If-Match` precondition checked and kept in one write): the version it moved on
/// to, or `None` if it is not one of them.
pub async fn claim_version(
    store: &Store,
    id: ObjectId,
    versions: &[i64],
) -> Result<Option<i64>, Error> {
    let claimed = store
        .organizations()
        .find_one_and_update(
            doc! { "_id": id, "version": { "$in": versions } },
            doc! { "$inc": { "version": 1_i64 } },
        )
        .projection(doc! { "version": 1 })
        .return_document(ReturnDocument::After)
        .await?;
    // (Read as any integer: some compatible servers answer an int64 field as int32.)
    Ok(claimed.and_then(|d| match d.get("version") {
        Some(Bson::Int64(v)) => Some(*v),
        Some(Bson::Int32(v)) => Some(i64::from(*v)),
        _ => None,
    }))
}

/// Gives back a version claimed by [`claim_version`] for a request that then changed
/// nothing, unless the organization has moved on since.
pub async fn release_version(store: &Store, id: ObjectId, claimed: i64) -> Result<(), Error> {
    store
        .organizations()
        .update_one(
            doc! { "_id": id, "version": claimed },
            doc! { "$inc": { "version": -1_i64 } },
        )
        .await
        .map(|_| ())
}

/// Whether the rename of `id` to collection `to` is still in flight.
pub async fn renaming(store: &Store, id: ObjectId, to: &str) -> Result<bool, Error> {
    let filter = doc! { "_id": id, "pending.op": op(PendingOp::Rename), "collection_name": to };
    Ok(store.organizations().find_one(filter).await?.is_some())
}

/// Records that a rename falls back to copying (so that a crash midway resumes the
/// copy instead of taking the half-filled target for a stranger's collection).
pub async fn mark_copying(store: &Store, id: ObjectId, to: &str) -> Result<(), Error> {
    store
        .organizations()
        .update_one(
            doc! { "_id": id, "pending.op": op(PendingOp::Rename), "collection_name": to },
            doc! { "$set": { "pending.copying": 1_i32 } },
        )
        .await
        .map(|_| ())
}

/// Whether a rename in flight was copying its data.
pub async fn copying(store: &Store, id: ObjectId) -> Result<bool, Error> {
    let filter = doc! { "_id": id, "pending.copying": 1_i32 };
    Ok(store.organizations().find_one(filter).await?.is_some())
}

/// Ends a rename whose data is in `to`: the placement follows, the record goes.
pub async fn complete_rename(
    store: &Store,
    id: ObjectId,
    to: &str,
    event: Option<&str>,
) -> Result<Option<OrgDoc>, Error> {
    let update = doc! {
        "$set": { "placement.collection": to, "updated_at": DateTime::now() },
        "$unset": { "pending": "" },
    };
    write(
        store,
        doc! { "_id": id, "pending.op": op(PendingOp::Rename), "collection_name": to },
        update,
        event,
    )
    .await
}

/// Undoes a rename whose data never left `from`: the old name and collection name
/// come back. `None` if the rename is no longer in flight, or the old name was taken
/// meanwhile (by a create that meets this rename and gives up).
pub async fn roll_back_rename(
    store: &Store,
    id: ObjectId,
    to: &str,
    from: &str,
    from_name: &str,
) -> Result<Option<OrgDoc>, Error> {
    let undone = store
        .organizations()
        .find_one_and_update(
            doc! { "_id": id, "pending.op": op(PendingOp::Rename), "collection_name": to },
            doc! {
                "$set": { "name": from_name, "collection_name": from, "updated_at": DateTime::now() },
                "$unset": { "pending": "" },
                "$inc": { "version": 1_i64 },
            },
        )
        .return_document(ReturnDocument::After)
        .await;
    match undone {
        Ok(org) => Ok(org.and_then(OrgDoc::from_document)),
        Err(e) if super::is_duplicate(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Marks an organization as being deleted, while nothing else is in flight.
pub async fn mark_delete(
    store: &Store,
    id: ObjectId,
    event: Option<&str>,
) -> Result<Option<OrgDoc>, Error> {
    let pending = Pending {
        op: PendingOp::Delete,
        from: None,
        from_name: None,
        since: DateTime::now(),
        event: None,
    };
    let update = doc! { "$set": { "pending": to_bson(&pending).map_err(Error::custom)? } };
    write(
        store,
        doc! { "_id": id, "pending": no_pending() },
        update,
        event,
    )
    .await
}

/// (v3) Ends a restore or an import in flight (`pending`): its members as they came in
/// (those whose account could not are left out), with its audit event. `None` when no
/// such operation is in flight.
pub async fn complete_arrival(
    store: &Store,
    id: ObjectId,
    pending: PendingOp,
    members: &std::collections::BTreeMap<String, Member>,
    event: &str,
) -> Result<Option<OrgDoc>, Error> {
    let owners = members.values().filter(|m| m.role == Role::Owner).count() as i64;
    let update = doc! {
        "$set": {
            "members": to_bson(members).map_err(Error::custom)?,
            "owners": owners,
            "member_count": members.len() as i64,
            "updated_at": DateTime::now(),
        },
        "$unset": { "pending": "" },
        "$inc": { "version": 1_i64 },
    };
    let filter = doc! { "_id": id, "pending.op": op(pending) };
    write(store, filter, update, Some(event)).await
}

/// Removes a registry document.
pub async fn remove(store: &Store, id: ObjectId) -> Result<(), Error> {
    store
        .organizations()
        .delete_one(doc! { "_id": id })
        .await
        .map(|_| ())
}

fn member_path(user: ObjectId) -> String {
    format!("members.{}", member_key(user))
}

/// Adds a member, unless the user is one already (false then) or the organization is
/// gone or busy with an operation.
pub async fn add_member(
    store: &Store,
    org: ObjectId,
    user: ObjectId,
    member: &Member,
    event: Option<&str>,
) -> Result<Option<OrgDoc>, Error> {
    let path = member_path(user);
    let owners = i64::from(member.role == Role::Owner);
    let update = doc! {
        "$set": { &path: to_bson(member).map_err(Error::custom)?, "updated_at": DateTime::now() },
        "$inc": { "owners": owners, "version": 1_i64, "member_count": 1_i64 },
    };
    write(
        store,
        doc! { "_id": org, &path: { "$exists": false }, "pending": no_pending() },
        update,
        event,
    )
    .await
}

/// The filter that holds a member to `role`, and, when an owner stops being one, the
/// organization to at least one other owner (the last-owner rule, in the write itself).
fn holding(org: ObjectId, user: ObjectId, role: Role, loses_owner: bool) -> Document {
    let mut filter = doc! { "_id": org, format!("{}.r", member_path(user)): role.as_str() };
    if loses_owner {
        filter.insert("owners", doc! { "$gt": 1_i64 });
    }
    filter
}

/// Changes a member's role from `from` to `to` in one conditional write, while the
/// organization's version is one of `versions` (an `If-Match`), if given; `None` when
/// the member no longer has `from`, the version moved on, or the organization would be
/// left without an owner.
pub async fn set_role(
    store: &Store,
    org: ObjectId,
    user: ObjectId,
    (from, to): (Role, Role),
    versions: Option<&[i64]>,
    event: Option<&str>,
) -> Result<Option<OrgDoc>, Error> {
    let owners = i64::from(to == Role::Owner) - i64::from(from == Role::Owner);
    let update = doc! {
        "$set": { format!("{}.r", member_path(user)): to.as_str(), "updated_at": DateTime::now() },
        "$inc": { "owners": owners, "version": 1_i64 },
    };
    let mut filter = holding(org, user, from, owners < 0);
    if let Some(versions) = versions {
        filter.insert("version", doc! { "$in": versions });
    }
    write(store, filter, update, event).await
}

/// Removes a member who has `role`, in one conditional write; false when the member no
/// longer has it, or the organization would be left without an owner.
pub async fn remove_member(
    store: &Store,
    org: ObjectId,
    user: ObjectId,
    role: Role,
    event: Option<&str>,
) -> Result<Option<OrgDoc>, Error> {
    let owners = -i64::from(role == Role::Owner);
    let update = doc! {
        "$unset": { member_path(user): "" },
        "$set": { "updated_at": DateTime::now() },
        "$inc": { "owners": owners, "version": 1_i64, "member_count": -1_i64 },
    };
    write(store, holding(org, user, role, owners < 0), update, event).await
}

/// Revokes every token of `user` in these organizations.
pub async fn bump_member_versions(
    store: &Store,
    orgs: &[ObjectId],
    user: ObjectId,
    event: Option<&str>,
) -> Result<(), Error> {
    let update = doc! { "$inc": { format!("{}.v", member_path(user)): 1_i64 } };
    write_memberships(store, orgs, user, update, event).await
}

/// Copies a user's email, and whether it is verified, into these organizations' member
/// maps.
pub async fn set_member_email(
    store: &Store,
    orgs: &[ObjectId],
    user: ObjectId,
    (email, verified): (&str, bool),
    event: Option<&str>,
) -> Result<(), Error> {
    let path = member_path(user);
    let update = doc! {
        "$set": {
            format!("{path}.e"): email,
            format!("{path}.ev"): verified,
            "updated_at": DateTime::now(),
        },
        "$inc": { "version": 1_i64 },
    };
    write_memberships(store, orgs, user, update, event).await
}

/// One write of `user`'s entry in each of these organizations that still has it, with
/// the event (if any) in each one's outbox.
async fn write_memberships(
    store: &Store,
    orgs: &[ObjectId],
    user: ObjectId,
    mut update: Document,
    event: Option<&str>,
) -> Result<(), Error> {
    push_event(&mut update, event);
    let filter = doc! { "_id": { "$in": orgs }, member_path(user): { "$exists": true } };
    store
        .organizations()
        .update_many(filter, update)
        .await
        .map(|_| ())
}

/// Moves a first-release document's admin into the member map (the user document is
/// made first, with the admin's id): one conditional write, done once.
pub async fn migrate_admin(
    store: &Store,
    org: &OrgDoc,
    owner: ObjectId,
    member: &Member,
) -> Result<(), Error> {
    // (Not `admin_id: admin`: some compatible servers cannot query an ObjectId field.)
    store
        .organizations()
        .update_one(
            doc! { "_id": org.id, "admin_id": { "$exists": true } },
            doc! {
                "$set": {
                    member_path(owner): to_bson(member).map_err(Error::custom)?,
                    "owners": 1_i64,
                    "member_count": 1_i64,
                    "status": "active",
                    "created_key": OrgDoc::creation_key(org.created_at, org.id),
                },
                "$unset": { "admin_id": "", "email": "", "password_hash": "", "token_version": "" },
            },
        )
        .await
        .map(|_| ())
}

/// (v3) The order of the operator's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgOrder {
    /// Oldest first (`created_at`).
    Created,
    /// Newest first (`-created_at`).
    CreatedDesc,
    /// By name (`name`).
    Name,
}

/// (v3) Where a page of the operator's list starts: after this organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Its `created_key`, in a creation order.
    Created(String),
    /// Its name, in the name order.
    Name(String),
}

/// (v3) A page of the operator's list: filters, order, where it starts, how long.
#[derive(Debug, Clone)]
pub struct OrgQuery {
    /// Names starting with this.
    pub name_prefix: Option<String>,
    /// This external id.
    pub external_id: Option<String>,
    /// This status.
    pub status: Option<super::OrgStatus>,
    /// The order.
    pub order: OrgOrder,
    /// Where the page starts.
    pub after: Option<After>,
    /// At most this many (one more is read to know whether a next page exists).
    pub limit: usize,
}

/// (v3) The filter and sort of a page of the operator's list (`status` is left to the
/// caller: the deleted ones have a collection of their own).
pub fn page_query(query: &OrgQuery) -> (Document, Document) {
    let mut filter = doc! {};
    if let Some(external_id) = &query.external_id {
        filter.insert("external_id", external_id);
    }
    let mut name = doc! {};
    if let Some(prefix) = &query.name_prefix {
        name.insert("$gte", prefix);
        name.insert("$lt", format!("{prefix}\u{7f}"));
    }
    let descending = query.order == OrgOrder::CreatedDesc;
    match &query.after {
        Some(After::Name(last)) => {
            name.insert("$gt", last);
        }
        Some(After::Created(key)) => {
            let op = if descending { "$lt" } else { "$gt" };
            filter.insert("created_key", doc! { op: key });
        }
        None => {}
    }
    if !name.is_empty() {
        filter.insert("name", name);
    }
    let sort = match query.order {
        OrgOrder::Created => doc! { "created_key": 1 },
        OrgOrder::CreatedDesc => doc! { "created_key": -1 },
        OrgOrder::Name => doc! { "name": 1 },
    };
    (filter, sort)
}

/// (v3) A page of organizations without their member maps and outboxes, on the index of
/// its filter and order (`status_1_created_key_1`, `status_1_name_1`, `created_key_1`,
/// `name_1`, `external_id_1`): keyset paging, so a page costs the
/// same however many organizations there are, and none is seen twice.
pub async fn page(store: &Store, query: &OrgQuery) -> Result<Vec<OrgDoc>, Error> {
    let (mut filter, sort) = page_query(query);
    if let Some(status) = query.status {
        filter.insert("status", status.as_str());
    }
    all(store
        .organizations()
        .find(filter)
        .sort(sort)
        .limit(query.limit as i64 + 1)
        .projection(without_members()))
    .await
}

/// Whether the organization (its id as hex) is suspended.
pub async fn suspended(store: &Store, org: &str) -> Result<bool, Error> {
    let Ok(id) = ObjectId::parse_str(org) else {
        return Ok(false);
    };
    let found = store
        .organizations()
        .find_one(doc! { "_id": id, "status": "suspended" })
        .projection(doc! { "_id": 1 })
        .await?;
    Ok(found.is_some())
}

/// Sets the organization's status (suspended with `suspension`, or active without),
/// with its audit event: the organization after, or `None` when it is gone.
pub async fn set_status(
    store: &Store,
    id: ObjectId,
    suspension: Option<&super::Suspension>,
    event: &str,
) -> Result<Option<OrgDoc>, Error> {
    let update = match suspension {
        Some(s) => doc! {
            "$set": { "status": "suspended", "suspension": to_bson(s).map_err(Error::custom)?, "updated_at": DateTime::now() },
            "$inc": { "version": 1_i64 },
        },
        None => doc! {
            "$set": { "status": "active", "updated_at": DateTime::now() },
            "$unset": { "suspension": "" },
            "$inc": { "version": 1_i64 },
        },
    };
    write(store, doc! { "_id": id }, update, Some(event)).await
}

/// Fills in what documents written before v3 lack, `status`, `created_key` and
/// `member_count` (from the member map), once per database (a `migrations` record says
/// it is done): the number filled in. Documents written since have them, and so does a
/// first-release document when [`migrate_admin`] moves it on. A member added to a
/// document while its count is filled in may be missed by the count: run it right
/// after the deploy (the migrate function does).
pub async fn backfill(store: &Store) -> Result<usize, Error> {
    use futures_util::TryStreamExt;
    let done = doc! { "_id": "v3-organization-fields" };
    let migrations = store.master_collection("migrations");
    if migrations.find_one(done.clone()).await?.is_some() {
        return Ok(0);
    }
    let missing = doc! { "$or": [
        { "status": { "$exists": false } },
        { "member_count": { "$exists": false } },
        { "created_key": { "$exists": false } },
    ] };
    let docs: Vec<Document> = store
        .organizations()
        .find(missing)
        .projection(doc! { "members": 1, "created_at": 1, "status": 1, "member_count": 1, "created_key": 1 })
        .await?
        .try_collect()
        .await?;
    for org in &docs {
        let Ok(id) = org.get_object_id("_id") else {
            continue;
        };
        let count = org.get_document("members").map(|m| m.len()).unwrap_or(0) as i64;
        let created = org
            .get_datetime("created_at")
            .copied()
            .unwrap_or(DateTime::MIN);
        let fields = [
            ("member_count", Bson::Int64(count)),
            ("status", Bson::String("active".into())),
            (
                "created_key",
                Bson::String(OrgDoc::creation_key(created, id)),
            ),
        ];
        for (field, value) in fields {
            if !org.contains_key(field) {
                store
                    .organizations()
                    .update_one(
                        doc! { "_id": id, field: { "$exists": false } },
                        doc! { "$set": { field: value } },
                    )
                    .await?;
            }
        }
    }
    migrations
        .update_one(done, doc! { "$set": { "at": DateTime::now() } })
        .upsert(true)
        .await?;
    Ok(docs.len())
}

/// The first-release document whose admin has this (lowercased) email, if one is not
/// migrated yet (on the index of `email` and `admin_id`).
pub async fn legacy_of(store: &Store, email: &str) -> Result<Option<OrgDoc>, Error> {
    find(
        store,
        doc! { "email": email, "admin_id": { "$exists": true } },
    )
    .await
}

/// The first-release documents not migrated yet.
pub async fn legacy(store: &Store) -> Result<Vec<OrgDoc>, Error> {
    all(store
        .organizations()
        .find(doc! { "admin_id": { "$exists": true } }))
    .await
}
