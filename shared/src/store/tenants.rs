//! Tenant collections and the items in them, as named operations.
//!
//! Every item holds its organization's id (`organization_id`, hex), and every read,
//! list and delete of items asks for it: a request that read its organization's
//! placement before a rename, and reaches the old collection after a new organization
//! took the old name, finds nothing of the newcomer's. (Items of earlier releases and
//! imported documents, without the field, stay their collection's.)

use futures_util::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use mongodb::error::Error;
use mongodb::options::InsertManyOptions;

use super::{Placement, Store, codes, error_code, is_duplicate};

/// Whether a collection exists.
pub async fn exists(store: &Store, database: &str, name: &str) -> Result<bool, Error> {
    let names = store
        .database(database)
        .list_collection_names()
        .filter(doc! { "name": name })
        .await?;
    Ok(names.iter().any(|n| n == name))
}

/// Whether a collection holds no document (true also when it does not exist).
pub async fn is_empty(store: &Store, database: &str, name: &str) -> Result<bool, Error> {
    let one = store
        .collection(database, name)
        .find_one(doc! {})
        .projection(doc! { "_id": 1 })
        .await?;
    Ok(one.is_none())
}

/// Creates a collection: false when the server says it exists already. Some servers
/// answer ok instead, so callers look first and do not rely on the answer alone.
pub async fn create(store: &Store, database: &str, name: &str) -> Result<bool, Error> {
    match store.database(database).create_collection(name).await {
        Ok(()) => Ok(true),
        Err(e) if error_code(&e) == Some(codes::NAMESPACE_EXISTS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Drops a collection (nothing to do when it does not exist).
pub async fn drop(store: &Store, database: &str, name: &str) -> Result<(), Error> {
    match store.collection(database, name).drop().await {
        Err(e) if error_code(&e) != Some(codes::NAMESPACE_NOT_FOUND) => Err(e),
        _ => Ok(()),
    }
}

/// Renames a collection within one database (server-side `renameCollection`, which
/// refuses an existing target).
pub async fn rename(store: &Store, database: &str, from: &str, to: &str) -> Result<(), Error> {
    super::failpoint!(store, "rename.move");
    store
        .database("admin")
        .run_command(doc! {
            "renameCollection": format!("{database}.{from}"),
            "to": format!("{database}.{to}"),
            "dropTarget": false,
        })
        .await
        .map(|_| ())
}

/// Fallback for servers without `renameCollection`: copies in batches (idempotent:
/// documents already copied are skipped), verifies the count, then drops the source.
pub async fn copy(store: &Store, database: &str, from: &str, to: &str) -> Result<(), Error> {
    copy_between(
        &store.collection(database, from),
        &store.collection(database, to),
        |_| {},
    )
    .await
    .map(|_| ())
}

/// Copies every document of `source` into `target` (which may be on another server) in
/// batches of 500, documents already there skipped, showing each to `inspect`; checks
/// that `target` has at least as many, then drops `source`. The documents copied.
pub async fn copy_between(
    source: &Collection<Document>,
    target: &Collection<Document>,
    mut inspect: impl FnMut(&Document),
) -> Result<u64, Error> {
    let (from, to) = (source.name(), target.name());
    let mut cursor = source.find(doc! {}).await?;
    let unordered = InsertManyOptions::builder().ordered(false).build();
    let mut batch = Vec::with_capacity(500);
    loop {
        let next = cursor.try_next().await?;
        let done = next.is_none();
        if let Some(doc) = &next {
            inspect(doc);
        }
        batch.extend(next);
        if batch.len() >= 500 || (done && !batch.is_empty()) {
            match target
                .insert_many(std::mem::take(&mut batch))
                .with_options(unordered.clone())
                .await
            {
                Err(e) if !is_duplicate(&e) => return Err(e),
                _ => {}
            }
        }
        if done {
            break;
        }
    }
    let (copied, original) = (
        target.count_documents(doc! {}).await?,
        source.count_documents(doc! {}).await?,
    );
    if copied < original {
        return Err(Error::custom(format!(
            "copy of {from} to {to} incomplete: {copied} of {original}"
        )));
    }
    source.drop().await?;
    Ok(original)
}

/// Moves a collection to a name of its own (a deleted organization's data into the
/// trash, or back): `renameCollection`, or a copy where the server lacks it or a copy
/// was cut short. Done when the source is gone; nothing to do when neither exists.
pub async fn relocate(store: &Store, database: &str, from: &str, to: &str) -> Result<(), Error> {
    let err = match rename(store, database, from, to).await {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if is_unsupported(&err) {
        return copy(store, database, from, to).await;
    }
    match (
        exists(store, database, from).await?,
        exists(store, database, to).await?,
    ) {
        (false, _) => Ok(()),
        (true, true) => copy(store, database, from, to).await,
        (true, false) => Err(err),
    }
}

/// Whether the error means the server lacks `renameCollection`.
pub fn is_unsupported(err: &Error) -> bool {
    error_code(err) == Some(codes::COMMAND_NOT_FOUND)
}

/// The filter of `org`'s items: its own, or of no organization (written before items
/// held one).
fn of_org(org: ObjectId) -> Document {
    doc! { "organization_id": { "$in": [org.to_hex(), Bson::Null] } }
}

/// Stores an item of `org`. An item already there with this id is this one: its id is
/// new or derived from the request's idempotency key, and an earlier try (or a rename
/// that moved the collection under a try) put it there.
pub async fn insert_item(
    store: &Store,
    place: &Placement,
    org: ObjectId,
    id: ObjectId,
    data: Bson,
    created_at: DateTime,
) -> Result<(), Error> {
    let item =
        doc! { "_id": id, "organization_id": org.to_hex(), "data": data, "created_at": created_at };
    match store
        .collection(&place.database, &place.collection)
        .insert_one(item)
        .await
    {
        Err(e) if !is_duplicate(&e) => Err(e),
        _ => Ok(()),
    }
}

/// One item of `org` by id.
pub async fn find_item(
    store: &Store,
    place: &Placement,
    org: ObjectId,
    id: ObjectId,
) -> Result<Option<Document>, Error> {
    let mut filter = of_org(org);
    filter.insert("_id", id);
    store
        .collection(&place.database, &place.collection)
        .find_one(filter)
        .await
}

/// Removes one item of `org`; false if there was none.
pub async fn delete_item(
    store: &Store,
    place: &Placement,
    org: ObjectId,
    id: ObjectId,
) -> Result<bool, Error> {
    let mut filter = of_org(org);
    filter.insert("_id", id);
    let gone = store
        .collection(&place.database, &place.collection)
        .delete_one(filter)
        .await?;
    Ok(gone.deleted_count == 1)
}

/// Up to `limit` items of `org` after `after`, in id order.
pub async fn items_after(
    store: &Store,
    place: &Placement,
    org: ObjectId,
    after: Option<ObjectId>,
    limit: i64,
) -> Result<Vec<Document>, Error> {
    let mut filter = of_org(org);
    // Only ObjectId ids (an imported document may have another kind, which the items API
    // cannot name): from the smallest, or after `after`.
    match after {
        Some(id) => filter.insert("_id", doc! { "$gt": id }),
        None => filter.insert("_id", doc! { "$gte": ObjectId::from_bytes([0; 12]) }),
    };
    store
        .collection(&place.database, &place.collection)
        .find(filter)
        .sort(doc! { "_id": 1 })
        .limit(limit)
        .await?
        .try_collect()
        .await
}
