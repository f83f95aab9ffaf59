//! The registry of organizations (`organizations` in the master database), as named
//! operations. Unique indexes on `name`, `collection_name` and `email` decide every
//! race; every write that moves an operation along is conditional on the operation
//! being where the caller expects it, so that two requests finishing the same
//! operation cannot both apply a step.

use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId, to_bson};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;

use super::{OrgDoc, Pending, PendingOp, Store};

fn op(op: PendingOp) -> Bson {
    Bson::from(op)
}

fn no_pending() -> Document {
    doc! { "$exists": false }
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

/// The organization with this (lowercased) name.
pub async fn by_name(store: &Store, name: &str) -> Result<Option<OrgDoc>, Error> {
    find(store, doc! { "name": name }).await
}

/// The organization whose admin has this (lowercased) email.
pub async fn by_email(store: &Store, email: &str) -> Result<Option<OrgDoc>, Error> {
    find(store, doc! { "email": email }).await
}

/// Inserts a new registry document (error 11000 when a unique value is taken).
pub async fn insert(store: &Store, org: &OrgDoc) -> Result<(), Error> {
    let doc = mongodb::bson::to_document(org).map_err(Error::custom)?;
    store.organizations().insert_one(doc).await.map(|_| ())
}

/// What holds a name, collection or email that an insert or update wanted.
#[derive(Debug)]
pub struct Holder {
    /// The holder, if it is a document this release can read.
    pub org: Option<OrgDoc>,
    /// True when it holds the name or the collection (else the email).
    pub holds_name: bool,
}

/// The document other than `except` that holds `name`, `collection` or `email`.
pub async fn holder(
    store: &Store,
    except: ObjectId,
    name: Option<&str>,
    collection: Option<&str>,
    email: Option<&str>,
) -> Result<Option<Holder>, Error> {
    let mut any = Vec::new();
    if let Some(n) = name {
        any.push(doc! { "name": n });
    }
    if let Some(c) = collection {
        any.push(doc! { "collection_name": c });
    }
    if let Some(e) = email {
        any.push(doc! { "email": e });
    }
    if any.is_empty() {
        return Ok(None);
    }
    let found = store
        .organizations()
        .find_one(doc! { "_id": { "$ne": except }, "$or": any })
        .await?;
    Ok(found.map(|raw| {
        let is =
            |field: &str, value: Option<&str>| value.is_some() && raw.get_str(field).ok() == value;
        let holds_name = is("name", name) || is("collection_name", collection);
        Holder {
            holds_name: holds_name || !is("email", email),
            org: OrgDoc::from_document(raw),
        }
    }))
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
pub async fn complete_create(store: &Store, id: ObjectId) -> Result<bool, Error> {
    let done = store
        .organizations()
        .update_one(
            doc! { "_id": id, "pending.op": op(PendingOp::Create) },
            doc! { "$unset": { "pending": "" } },
        )
        .await?;
    Ok(done.matched_count == 1)
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

/// The registry side of an update: every field optional.
#[derive(Debug, Default)]
pub struct Update<'a> {
    /// New name and collection name.
    pub name: Option<(&'a str, &'a str)>,
    /// The rename to record when the collection changes.
    pub rename: Option<Pending>,
    /// New admin email.
    pub email: Option<&'a str>,
    /// New password hash; bumps the token version.
    pub password_hash: Option<&'a str>,
}

/// Applies an update in one conditional write, only while no operation is in flight.
/// `None` when something is in flight, or (on servers that report a unique index
/// violation of findAndModify as "no document") a value is taken.
pub async fn apply(
    store: &Store,
    id: ObjectId,
    update: &Update<'_>,
) -> Result<Option<OrgDoc>, Error> {
    let mut set = doc! { "updated_at": DateTime::now() };
    let mut write = Document::new();
    if let Some((name, collection)) = update.name {
        set.insert("name", name);
        set.insert("collection_name", collection);
    }
    if let Some(pending) = &update.rename {
        set.insert("pending", to_bson(pending).map_err(Error::custom)?);
    }
    if let Some(email) = update.email {
        set.insert("email", email);
    }
    if let Some(hash) = update.password_hash {
        set.insert("password_hash", hash);
        write.insert("$inc", doc! { "token_version": 1_i64 });
    }
    write.insert("$set", set);
    let updated = store
        .organizations()
        .find_one_and_update(doc! { "_id": id, "pending": no_pending() }, write)
        .return_document(ReturnDocument::After)
        .await?;
    Ok(updated.and_then(OrgDoc::from_document))
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
            doc! { "$set": { "pending.copying": true } },
        )
        .await
        .map(|_| ())
}

/// Whether a rename in flight was copying its data.
pub async fn copying(store: &Store, id: ObjectId) -> Result<bool, Error> {
    let filter = doc! { "_id": id, "pending.copying": true };
    Ok(store.organizations().find_one(filter).await?.is_some())
}

/// Ends a rename whose data is in `to`: the placement follows, the record goes.
pub async fn complete_rename(
    store: &Store,
    id: ObjectId,
    to: &str,
) -> Result<Option<OrgDoc>, Error> {
    let done = store
        .organizations()
        .find_one_and_update(
            doc! { "_id": id, "pending.op": op(PendingOp::Rename), "collection_name": to },
            doc! {
                "$set": { "placement.collection": to, "updated_at": DateTime::now() },
                "$unset": { "pending": "" },
            },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(done.and_then(OrgDoc::from_document))
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
pub async fn mark_delete(store: &Store, id: ObjectId) -> Result<Option<OrgDoc>, Error> {
    let pending = Pending {
        op: PendingOp::Delete,
        from: None,
        from_name: None,
        since: DateTime::now(),
    };
    let marked = store
        .organizations()
        .find_one_and_update(
            doc! { "_id": id, "pending": no_pending() },
            doc! { "$set": { "pending": to_bson(&pending).map_err(Error::custom)? } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(marked.and_then(OrgDoc::from_document))
}

/// Removes a registry document.
pub async fn remove(store: &Store, id: ObjectId) -> Result<(), Error> {
    store
        .organizations()
        .delete_one(doc! { "_id": id })
        .await
        .map(|_| ())
}

/// Revokes every token of the organization's admin issued so far.
pub async fn bump_token_version(store: &Store, id: ObjectId) -> Result<(), Error> {
    store
        .organizations()
        .update_one(
            doc! { "_id": id },
            doc! { "$inc": { "token_version": 1_i64 } },
        )
        .await
        .map(|_| ())
}
