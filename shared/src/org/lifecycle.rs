//! Create, update (rename), delete: multi-step operations made safe without transactions.
//!
//! Each step is idempotent and the registry document records the operation in flight
//! (`pending`). Whoever meets an unfinished operation finishes it (rename, delete) or
//! rolls it back (a create older than [`LEASE`]) before going on.

use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc, oid::ObjectId, to_bson};
use mongodb::options::{InsertManyOptions, ReturnDocument};

use crate::domain::{Email, OrganizationName};
use crate::error::{ApiError, ApiResult};
use crate::store::{OrgDoc, Pending, PendingOp, Store, codes, error_code, is_duplicate};

/// How long a create may stay in flight before others treat it as abandoned.
pub const LEASE: Duration = Duration::from_secs(60);

/// Attempts at an update that keeps meeting operations in flight.
const RETRIES: usize = 3;

fn not_pending() -> Document {
    doc! { "$exists": false }
}

fn org_exists(name: &str) -> ApiError {
    ApiError::Duplicate(format!("Organization '{name}' already exists"))
}

fn email_exists(email: &str) -> ApiError {
    ApiError::Duplicate(format!("Admin with email '{email}' already exists"))
}

/// True for a create being undone, or begun longer ago than the lease (its request is
/// gone).
fn is_abandoned_create(org: &OrgDoc) -> bool {
    match &org.pending {
        Some(p) if p.op == PendingOp::RollBack => true,
        Some(p) if p.op == PendingOp::Create => {
            let age = DateTime::now().timestamp_millis() - p.since.timestamp_millis();
            age > LEASE.as_millis() as i64
        }
        _ => false,
    }
}

/// Registers a new organization with its admin and creates its collection.
pub async fn create(
    store: &Store,
    name: &OrganizationName,
    email: &Email,
    password_hash: String,
) -> ApiResult<OrgDoc> {
    store.ensure_indexes().await?;
    let now = DateTime::now();
    let collection = name.collection_name();
    let mut org = OrgDoc {
        id: ObjectId::new(),
        name: name.as_str().to_owned(),
        placement: store.placement_for(&collection),
        collection_name: collection,
        admin_id: ObjectId::new(),
        email: email.as_str().to_owned(),
        password_hash,
        token_version: 0,
        created_at: now,
        updated_at: None,
        pending: Some(Pending {
            op: PendingOp::Create,
            from: None,
            since: now,
        }),
    };
    insert_registry(store, &org).await?;
    let finished = async {
        store.failpoint("create.after_insert")?;
        create_collection(store, &org).await?;
        store.failpoint("create.after_collection")?;
        let done = store
            .organizations()
            .update_one(
                doc! { "_id": org.id, "pending.op": "create" },
                doc! { "$unset": { "pending": "" } },
            )
            .await?;
        if done.matched_count == 0 {
            return Err(ApiError::Unavailable(
                "create was undone while in flight".into(),
            ));
        }
        Ok(())
    }
    .await;
    if let Err(err) = finished {
        if let Err(undo) = roll_back_create(store, &org).await {
            tracing::warn!(org_id = %org.id, error = %undo, "create left in flight; the next one to meet it rolls it back");
        }
        return Err(err);
    }
    org.pending = None;
    Ok(org)
}

/// Inserts the registry document; a unique index decides who wins a race.
async fn insert_registry(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    for attempt in 0..2 {
        let err = match store.organizations().insert_one(org).await {
            Ok(_) => return Ok(()),
            Err(e) if is_duplicate(&e) => e,
            Err(e) => return Err(e.into()),
        };
        let holder = store
            .organizations()
            .find_one(doc! { "$or": [
                { "collection_name": &org.collection_name },
                { "name": &org.name },
                { "email": &org.email },
            ] })
            .await?;
        match holder {
            Some(other) if attempt == 0 && is_abandoned_create(&other) => {
                settle(store, other).await?;
            }
            Some(other)
                if other.collection_name == org.collection_name || other.name == org.name =>
            {
                return Err(org_exists(&org.name));
            }
            Some(_) => return Err(email_exists(&org.email)),
            None if attempt == 0 => {
                tracing::debug!(error = %err, "duplicate holder vanished; retrying")
            }
            None => return Err(org_exists(&org.name)),
        }
    }
    Err(org_exists(&org.name))
}

/// Creates the tenant collection. If one of that name still holds another
/// organization's data mid-rename, that rename is finished first.
async fn create_collection(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    let db = store.tenant_db();
    for _ in 0..2 {
        match db.create_collection(&org.placement.collection).await {
            Ok(()) => return Ok(()),
            Err(e) if error_code(&e) == Some(codes::NAMESPACE_EXISTS) => {
                let mover = store
                    .organizations()
                    .find_one(doc! {
                        "_id": { "$ne": org.id },
                        "placement.collection": &org.placement.collection,
                    })
                    .await?;
                match mover {
                    Some(other) if matches!(&other.pending, Some(p) if p.op == PendingOp::Rename) =>
                    {
                        finish_rename(store, other).await?;
                    }
                    _ => {
                        tracing::warn!(collection = %org.placement.collection, "collection exists without an owner; refusing to adopt it");
                        return Err(org_exists(&org.name));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(org_exists(&org.name))
}

/// Undoes a create: drops its collection unless another organization's data is in it,
/// then removes the registry document if it is still that create.
async fn roll_back_create(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    let marked = store
        .organizations()
        .update_one(
            doc! { "_id": org.id, "pending.op": "create" },
            doc! { "$set": { "pending.op": "rollback" } },
        )
        .await?;
    if marked.matched_count == 0 {
        // The create completed after all, or someone else is undoing it.
        return Ok(());
    }
    finish_roll_back(store, org).await
}

/// Drops the collection of a create being undone (unless another organization's data
/// is in it), then removes the registry document.
async fn finish_roll_back(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    let shared = store
        .organizations()
        .find_one(
            doc! { "_id": { "$ne": org.id }, "placement.collection": &org.placement.collection },
        )
        .await?;
    if shared.is_none() {
        drop_collection(store, &org.placement.database, &org.placement.collection).await?;
    }
    store
        .organizations()
        .delete_one(doc! { "_id": org.id, "pending.op": "rollback" })
        .await?;
    Ok(())
}

async fn drop_collection(store: &Store, database: &str, name: &str) -> ApiResult<()> {
    let coll = store.tenant(&crate::store::Placement {
        database: database.to_owned(),
        collection: name.to_owned(),
    });
    match coll.drop().await {
        Err(e) if error_code(&e) != Some(codes::NAMESPACE_NOT_FOUND) => Err(e.into()),
        _ => Ok(()),
    }
}

/// What an update changes; every field optional.
#[derive(Debug, Default)]
pub struct Changes {
    /// New organization name (renames the collection).
    pub name: Option<OrganizationName>,
    /// New admin email.
    pub email: Option<Email>,
    /// New password hash (revokes every token issued before).
    pub password_hash: Option<String>,
}

/// Applies changes in one conditional write (all or nothing), then moves the
/// collection if the name changed.
pub async fn update(store: &Store, org: OrgDoc, changes: Changes) -> ApiResult<OrgDoc> {
    store.ensure_indexes().await?;
    let mut current = org;
    for _ in 0..RETRIES {
        let now = DateTime::now();
        let mut set = doc! { "updated_at": now };
        let mut update = Document::new();
        if let Some(email) = &changes.email {
            set.insert("email", email.as_str());
        }
        if let Some(hash) = &changes.password_hash {
            set.insert("password_hash", hash.as_str());
            update.insert("$inc", doc! { "token_version": 1_i64 });
        }
        if let Some(name) = &changes.name {
            let collection = name.collection_name();
            set.insert("name", name.as_str());
            if collection != current.placement.collection {
                let pending = Pending {
                    op: PendingOp::Rename,
                    from: Some(current.placement.collection.clone()),
                    since: now,
                };
                set.insert("collection_name", &collection);
                set.insert("pending", to_bson(&pending).map_err(ApiError::internal)?);
            }
        }
        update.insert("$set", set);
        let result = store
            .organizations()
            .find_one_and_update(doc! { "_id": current.id, "pending": not_pending() }, update)
            .return_document(ReturnDocument::After)
            .await;
        match result {
            Ok(Some(updated)) => return finish_pending(store, updated).await,
            // No match: an operation is in flight, or (on servers that report a unique
            // index violation of findAndModify as "no document") a value is taken.
            Ok(None) => {
                if let Some(taken) = which_duplicate(store, current.id, &changes).await? {
                    return Err(taken);
                }
                current = reload_settled(store, current.id).await?;
            }
            Err(e) if is_duplicate(&e) => {
                let taken = which_duplicate(store, current.id, &changes).await?;
                return Err(taken
                    .unwrap_or_else(|| ApiError::Duplicate("Organization already exists".into())));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(
        "organization busy with another operation".into(),
    ))
}

/// Finds which of the requested values another organization holds, if any.
async fn which_duplicate(
    store: &Store,
    id: ObjectId,
    changes: &Changes,
) -> ApiResult<Option<ApiError>> {
    let others = |filter: Document| async move {
        let mut filter = filter;
        filter.insert("_id", doc! { "$ne": id });
        store.organizations().find_one(filter).await
    };
    if let Some(name) = &changes.name {
        let filter = doc! { "$or": [{ "name": name.as_str() }, { "collection_name": name.collection_name() }] };
        if others(filter).await?.is_some() {
            return Ok(Some(org_exists(name.as_str())));
        }
    }
    if let Some(email) = &changes.email
        && others(doc! { "email": email.as_str() }).await?.is_some()
    {
        return Ok(Some(email_exists(email.as_str())));
    }
    Ok(None)
}

/// Loads an organization and finishes whatever is in flight on it; 404 if it is gone.
async fn reload_settled(store: &Store, id: ObjectId) -> ApiResult<OrgDoc> {
    let org = store
        .organizations()
        .find_one(doc! { "_id": id })
        .await?
        .ok_or_else(|| ApiError::NotFound("Organization not found".into()))?;
    match settle(store, org).await? {
        Some(org) if org.pending.is_none() => Ok(org),
        _ => Err(ApiError::NotFound("Organization not found".into())),
    }
}

/// Finishes the operation in flight on `org`, if any: returns the organization as it
/// stands after, or `None` if it no longer exists. A create still within its lease is
/// left alone (its request is still running).
pub async fn settle(store: &Store, org: OrgDoc) -> ApiResult<Option<OrgDoc>> {
    match org.pending.as_ref().map(|p| p.op) {
        None => Ok(Some(org)),
        Some(PendingOp::RollBack) => finish_roll_back(store, &org).await.map(|()| None),
        Some(PendingOp::Create) if is_abandoned_create(&org) => {
            roll_back_create(store, &org).await?;
            Ok(None)
        }
        Some(PendingOp::Create) => Ok(Some(org)),
        Some(PendingOp::Rename) => finish_rename(store, org).await.map(Some),
        Some(PendingOp::Delete) => finish_delete(store, &org).await.map(|()| None),
    }
}

async fn finish_pending(store: &Store, org: OrgDoc) -> ApiResult<OrgDoc> {
    match settle(store, org).await? {
        Some(org) => Ok(org),
        None => Err(ApiError::NotFound("Organization not found".into())),
    }
}

/// Moves the data of a rename in flight to its new collection and clears the record.
pub async fn finish_rename(store: &Store, org: OrgDoc) -> ApiResult<OrgDoc> {
    let Some(from) = org.pending.as_ref().and_then(|p| p.from.clone()) else {
        return Err(ApiError::internal("rename in flight without a source"));
    };
    let db = org.placement.database.clone();
    let to = org.collection_name.clone();
    store.failpoint("rename.before_move")?;
    if store.collection_exists(&db, &from).await? {
        match store.rename_collection(&db, &from, &to).await {
            Ok(()) => {}
            Err(e) => match error_code(&e) {
                // Another request moved it between our look and our move.
                Some(codes::NAMESPACE_NOT_FOUND) => {}
                Some(codes::COMMAND_NOT_FOUND) => copy_collection(store, &db, &from, &to).await?,
                _ => return Err(e.into()),
            },
        }
    } else if !store.collection_exists(&db, &to).await? {
        // Neither name exists: either another request finished this rename and the
        // organization has moved on since (nothing to create), or the source never
        // existed (create the target, so the organization has its collection).
        let still = store
            .organizations()
            .find_one(doc! { "_id": org.id, "pending.op": "rename", "collection_name": &to })
            .await?;
        if still.is_none() {
            return Box::pin(reload_settled(store, org.id)).await;
        }
        ensure_collection(store, &db, &to).await?;
    }
    store.failpoint("rename.after_move")?;
    let done = store
        .organizations()
        .find_one_and_update(
            doc! { "_id": org.id, "pending.op": "rename", "collection_name": &to },
            doc! { "$set": { "placement.collection": &to, "updated_at": DateTime::now() }, "$unset": { "pending": "" } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    match done {
        Some(org) => Ok(org),
        None => Box::pin(reload_settled(store, org.id)).await,
    }
}

async fn ensure_collection(store: &Store, database: &str, name: &str) -> ApiResult<()> {
    match store.database(database).create_collection(name).await {
        Err(e) if error_code(&e) != Some(codes::NAMESPACE_EXISTS) => Err(e.into()),
        _ => Ok(()),
    }
}

/// Fallback for servers without `renameCollection`: copy in batches (idempotent),
/// verify the count, then drop the source.
async fn copy_collection(store: &Store, database: &str, from: &str, to: &str) -> ApiResult<()> {
    let place = |c: &str| crate::store::Placement {
        database: database.to_owned(),
        collection: c.to_owned(),
    };
    let (source, target) = (store.tenant(&place(from)), store.tenant(&place(to)));
    let mut cursor = source.find(doc! {}).await?;
    let mut batch = Vec::with_capacity(500);
    let unordered = InsertManyOptions::builder().ordered(false).build();
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
                Err(e) if !is_duplicate(&e) => return Err(e.into()),
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
        return Err(ApiError::internal(format!(
            "copy of {from} incomplete: {copied} of {original}"
        )));
    }
    source.drop().await?;
    Ok(())
}

/// Deletes an organization: marks it, drops its collection, removes the document.
pub async fn delete(store: &Store, org: OrgDoc) -> ApiResult<()> {
    let mut current = org;
    for _ in 0..RETRIES {
        let pending = Pending {
            op: PendingOp::Delete,
            from: None,
            since: DateTime::now(),
        };
        let marked = store
            .organizations()
            .find_one_and_update(
                doc! { "_id": current.id, "pending": not_pending() },
                doc! { "$set": { "pending": to_bson(&pending).map_err(ApiError::internal)? } },
            )
            .return_document(ReturnDocument::After)
            .await?;
        match marked {
            Some(org) => return finish_delete(store, &org).await,
            None => current = reload_settled(store, current.id).await?,
        }
    }
    Err(ApiError::Unavailable(
        "organization busy with another operation".into(),
    ))
}

/// Drops the collection of a delete in flight, then the registry document.
async fn finish_delete(store: &Store, org: &OrgDoc) -> ApiResult<()> {
    drop_collection(store, &org.placement.database, &org.placement.collection).await?;
    store.failpoint("delete.after_drop")?;
    store
        .organizations()
        .delete_one(doc! { "_id": org.id })
        .await?;
    Ok(())
}
