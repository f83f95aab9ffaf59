//! Tenant collections and the items in them, as named operations.

use futures_util::TryStreamExt;
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
    let (source, target) = (
        store.collection(database, from),
        store.collection(database, to),
    );
    let mut cursor = source.find(doc! {}).await?;
    let unordered = InsertManyOptions::builder().ordered(false).build();
    let mut batch = Vec::with_capacity(500);
    loop {
        let next = cursor.try_next().await?;
        let done = next.is_none();
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
            "copy of {from} incomplete: {copied} of {original}"
        )));
    }
    source.drop().await
}

/// Whether the error means the server lacks `renameCollection`.
pub fn is_unsupported(err: &Error) -> bool {
    error_code(err) == Some(codes::COMMAND_NOT_FOUND)
}

/// Stores an item.
pub async fn insert_item(
    store: &Store,
    place: &Placement,
    id: ObjectId,
    data: Bson,
    created_at: DateTime,
) -> Result<(), Error> {
    store
        .collection(&place.database, &place.collection)
        .insert_one(doc! { "_id": id, "data": data, "created_at": created_at })
        .await
        .map(|_| ())
}

/// One item by id.
pub async fn find_item(
    store: &Store,
    place: &Placement,
    id: ObjectId,
) -> Result<Option<Document>, Error> {
    store
        .collection(&place.database, &place.collection)
        .find_one(doc! { "_id": id })
        .await
}

/// Removes one item; false if there was none.
pub async fn delete_item(store: &Store, place: &Placement, id: ObjectId) -> Result<bool, Error> {
    let gone = store
        .collection(&place.database, &place.collection)
        .delete_one(doc! { "_id": id })
        .await?;
    Ok(gone.deleted_count == 1)
}

/// Up to `limit` items after `after`, in id order.
pub async fn items_after(
    store: &Store,
    place: &Placement,
    after: Option<ObjectId>,
    limit: i64,
) -> Result<Vec<Document>, Error> {
    let filter = match after {
        Some(id) => doc! { "_id": { "$gt": id } },
        None => doc! {},
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
