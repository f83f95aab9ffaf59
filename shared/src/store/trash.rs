//! (v3) Deleted organizations in their grace period (`deleted_organizations` in the
//! master database): the registry document as it was, the accounts its delete removed
//! (email and password hash), where its data waits (a collection no client can reach),
//! and the marks of a restore or purge in flight. Restore and purge exclude each other:
//! each marks the record only while the other's mark is absent.

use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

use super::records::lenient;
use super::users::UserDoc;
use super::{OrgDoc, Placement, Store, is_duplicate, typed};

/// A restore in flight: the name it restores to and its audit event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restoring {
    /// The organization's name once restored.
    pub name: String,
    /// When it began (milliseconds: a mark older than the lease is finished by the
    /// purge function).
    pub since_ms: i64,
    /// Its audit event (JSON text).
    pub event: String,
}

/// A deleted organization, kept until `purge_after`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedOrg {
    /// The organization's id (it keeps it when restored).
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// The registry document as it was, without its operation in flight or outbox.
    pub org: OrgDoc,
    /// Its name (for the operator's list: names repeat here).
    pub name: String,
    /// Its `created_key` (the list's creation order).
    pub created_key: String,
    /// Its external id, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When it was deleted.
    #[serde(deserialize_with = "lenient::required")]
    pub deleted_at: DateTime,
    /// When the purge may remove it.
    #[serde(deserialize_with = "lenient::required")]
    pub purge_after: DateTime,
    /// Where its items wait.
    pub trash: Placement,
    /// Its members' accounts as they were (those the delete removed come back from
    /// here).
    #[serde(default)]
    pub accounts: Vec<UserDoc>,
    /// A restore in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoring: Option<Restoring>,
    /// When a purge took it (milliseconds), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purging_ms: Option<i64>,
}

fn parse(doc: Option<Document>) -> Option<DeletedOrg> {
    doc.and_then(|d| mongodb::bson::from_document(d).ok())
}

/// Keeps a deleted organization; one kept already (a delete finished twice) stays as
/// it was first kept.
pub async fn keep(store: &Store, deleted: &DeletedOrg) -> Result<(), Error> {
    let doc = mongodb::bson::to_document(deleted).map_err(Error::custom)?;
    match store.deleted_organizations().insert_one(doc).await {
        Err(e) if !is_duplicate(&e) => Err(e),
        _ => Ok(()),
    }
}

/// The deleted organization with this id.
pub async fn by_id(store: &Store, id: ObjectId) -> Result<Option<DeletedOrg>, Error> {
    Ok(parse(
        store
            .deleted_organizations()
            .find_one(doc! { "_id": id })
            .await?,
    ))
}

/// A page of deleted organizations (without accounts and member maps): `filter` and
/// `sort` on the indexes of the registry's list.
pub async fn page(
    store: &Store,
    filter: Document,
    sort: Document,
    limit: i64,
) -> Result<Vec<DeletedOrg>, Error> {
    let cursor = store
        .deleted_organizations()
        .find(filter)
        .sort(sort)
        .limit(limit)
        .projection(doc! { "accounts": 0, "org.members": 0 })
        .await?;
    typed(cursor).await
}

/// Marks a restore, unless a restore or a purge has it: the record after, or `None`.
pub async fn mark_restoring(
    store: &Store,
    id: ObjectId,
    restoring: &Restoring,
) -> Result<Option<DeletedOrg>, Error> {
    let mark = mongodb::bson::to_bson(restoring).map_err(Error::custom)?;
    let absent = doc! { "$exists": false };
    let after = store
        .deleted_organizations()
        .find_one_and_update(
            doc! { "_id": id, "restoring": absent.clone(), "purging_ms": absent },
            doc! { "$set": { "restoring": mark } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(after))
}

/// Takes a restore's mark back (its name was taken before it could hold it).
pub async fn unmark_restoring(store: &Store, id: ObjectId) -> Result<(), Error> {
    store
        .deleted_organizations()
        .update_one(doc! { "_id": id }, doc! { "$unset": { "restoring": "" } })
        .await
        .map(|_| ())
}

/// Restores begun before `before_ms` that have not finished (their request is gone).
pub async fn stalled_restores(store: &Store, before_ms: i64) -> Result<Vec<DeletedOrg>, Error> {
    let cursor = store
        .deleted_organizations()
        .find(doc! { "restoring.since_ms": { "$lt": before_ms } })
        .limit(100)
        .await?;
    typed(cursor).await
}

/// Takes one deleted organization whose grace period is over and that no restore has,
/// for a purge (one a purge took before, and did not finish, is taken again).
pub async fn take_due(store: &Store, now: DateTime) -> Result<Option<DeletedOrg>, Error> {
    let after = store
        .deleted_organizations()
        .find_one_and_update(
            doc! { "purge_after": { "$lte": now }, "restoring": { "$exists": false } },
            doc! { "$set": { "purging_ms": now.timestamp_millis() } },
        )
        .sort(doc! { "purge_after": 1 })
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(after))
}

/// Removes the record (restored, or purged).
pub async fn remove(store: &Store, id: ObjectId) -> Result<(), Error> {
    store
        .deleted_organizations()
        .delete_one(doc! { "_id": id })
        .await
        .map(|_| ())
}
