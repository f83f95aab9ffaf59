//! The indexes every collection of the master database needs, made and checked.

use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::error::Error;
use mongodb::options::IndexOptions;

use super::Store;

/// One index the service relies on.
struct Spec {
    collection: &'static str,
    name: &'static str,
    keys: fn() -> Document,
    unique: bool,
    /// Documents without the field are left out (a unique optional field).
    sparse: bool,
    ttl: Option<Duration>,
}

/// Every index, by collection (names are MongoDB's defaults for the keys).
const INDEXES: &[Spec] = &[
    Spec {
        collection: "organizations",
        name: "name_1",
        keys: || doc! { "name": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "organizations",
        name: "collection_name_1",
        keys: || doc! { "collection_name": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    // (v3) The caller's own id of an organization, where it has one.
    Spec {
        collection: "organizations",
        name: "external_id_1",
        keys: || doc! { "external_id": 1 },
        unique: true,
        sparse: true,
        ttl: None,
    },
    // (v3) The operator's list: each filter and order on an index of its own.
    Spec {
        collection: "organizations",
        name: "status_1_created_key_1",
        keys: || doc! { "status": 1, "created_key": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "organizations",
        name: "status_1_name_1",
        keys: || doc! { "status": 1, "name": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    // Operations in flight (few at any time), for the purge's sweep of abandoned ones.
    Spec {
        collection: "organizations",
        name: "pending.since_1",
        keys: || doc! { "pending.since": 1 },
        unique: false,
        sparse: true,
        ttl: None,
    },
    Spec {
        collection: "organizations",
        name: "created_key_1",
        keys: || doc! { "created_key": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    // A first-release admin's email, while its document is not migrated: what login looks
    // up for an email without an account (emptied by the migration).
    Spec {
        collection: "organizations",
        name: "email_1_admin_id_1",
        keys: || doc! { "email": 1, "admin_id": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    // (v3) Deleted organizations in their grace period: the operator's list of them
    // (names and external ids repeat here: a name is free again once deleted) and the
    // purge's due ones.
    Spec {
        collection: "deleted_organizations",
        name: "created_key_1",
        keys: || doc! { "created_key": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "deleted_organizations",
        name: "name_1",
        keys: || doc! { "name": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "deleted_organizations",
        name: "external_id_1",
        keys: || doc! { "external_id": 1 },
        unique: false,
        sparse: true,
        ttl: None,
    },
    Spec {
        collection: "deleted_organizations",
        name: "purge_after_1",
        keys: || doc! { "purge_after": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "users",
        name: "email_1",
        keys: || doc! { "email": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "invitations",
        name: "token_hash_1",
        keys: || doc! { "token_hash": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "invitations",
        name: "org_id_1",
        keys: || doc! { "org_id": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    // Events not yet in their organization's stream (the dispatcher's sweep).
    Spec {
        collection: "audit_events",
        name: "stream_pending_1",
        keys: || doc! { "stream_pending": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "events",
        name: "org_1_seq_1",
        keys: || doc! { "org": 1, "seq": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "events",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        sparse: false,
        ttl: Some(Duration::ZERO),
    },
    Spec {
        collection: "webhooks",
        name: "org_1",
        keys: || doc! { "org": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "webhook_deliveries",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        sparse: false,
        ttl: Some(Duration::ZERO),
    },
    Spec {
        collection: "webhook_deliveries",
        name: "due_ms_1",
        keys: || doc! { "due_ms": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "webhook_deliveries",
        name: "webhook_1_created_ms_-1",
        keys: || doc! { "webhook": 1, "created_ms": -1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "api_keys",
        name: "prefix_1",
        keys: || doc! { "prefix": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "api_keys",
        name: "org_1",
        keys: || doc! { "org": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "account_tokens",
        name: "token_hash_1",
        keys: || doc! { "token_hash": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "mail_outbox",
        name: "due_ms_1",
        keys: || doc! { "due_ms": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "audit_events",
        name: "organization_id_1_occurred_ms_-1_event_id_-1",
        keys: || doc! { "organization_id": 1, "occurred_ms": -1, "event_id": -1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "audit_events",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        sparse: false,
        ttl: Some(Duration::ZERO),
    },
    Spec {
        collection: "idempotency",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        sparse: false,
        ttl: Some(Duration::ZERO),
    },
    Spec {
        collection: "idempotency",
        name: "owner_1",
        keys: || doc! { "owner": 1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "login_attempts",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        sparse: false,
        ttl: Some(Duration::ZERO),
    },
];

/// Indexes that no longer hold: the first release's unique email (an owner's email may
/// now be shared by several organizations), and the audit log's index without
/// `event_id`, which left MongoDB a sort in memory of an organization's every event for
/// a page (the log pages by time, then event id).
const OBSOLETE: &[Spec] = &[
    Spec {
        collection: "organizations",
        name: "email_1",
        keys: || doc! { "email": 1 },
        unique: true,
        sparse: false,
        ttl: None,
    },
    Spec {
        collection: "audit_events",
        name: "organization_id_1_occurred_ms_-1",
        keys: || doc! { "organization_id": 1, "occurred_ms": -1 },
        unique: false,
        sparse: false,
        ttl: None,
    },
];

/// Drops the obsolete indexes and creates every index that is missing (the server
/// leaves existing ones alone); the names of those ensured, as `collection.name`.
pub async fn ensure(store: &Store) -> Result<Vec<String>, Error> {
    for spec in OBSOLETE {
        let coll = store.master_collection(spec.collection);
        let found: Vec<IndexModel> = match coll.list_indexes().await {
            Ok(cursor) => cursor.try_collect().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        for model in found.iter().filter(|m| same_keys(&m.keys, &(spec.keys)())) {
            if let Some(name) = model.options.as_ref().and_then(|o| o.name.clone()) {
                coll.drop_index(name).await?;
            }
        }
    }
    let mut ensured = Vec::new();
    for spec in INDEXES {
        let mut options = IndexOptions::builder().name(spec.name.to_owned()).build();
        options.unique = spec.unique.then_some(true);
        options.sparse = spec.sparse.then_some(true);
        options.expire_after = spec.ttl;
        let model = IndexModel::builder()
            .keys((spec.keys)())
            .options(options)
            .build();
        store
            .master_collection(spec.collection)
            .create_index(model)
            .await?;
        ensured.push(format!("{}.{}", spec.collection, spec.name));
    }
    Ok(ensured)
}

/// What is wrong with the indexes, if anything: the first one missing, or an obsolete
/// one still there (compared by keys: some compatible servers name indexes their own
/// way). A collection that cannot be listed counts as having none; an error is a
/// database that does not answer.
pub async fn wrong(store: &Store) -> Result<Option<String>, Error> {
    let mut collections: Vec<&str> = INDEXES.iter().map(|s| s.collection).collect();
    collections.dedup();
    for collection in collections {
        let keys: Vec<Document> = match store.master_collection(collection).list_indexes().await {
            Ok(cursor) => cursor
                .try_collect::<Vec<_>>()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.keys)
                .collect(),
            Err(e) if crate::error::ApiError::from(e.clone()).status().as_u16() == 503 => {
                return Err(e);
            }
            Err(_) => Vec::new(),
        };
        let has = |wanted: &Document| keys.iter().any(|k| same_keys(k, wanted));
        if let Some(old) = OBSOLETE
            .iter()
            .find(|s| s.collection == collection && has(&(s.keys)()))
        {
            return Ok(Some(format!(
                "obsolete index {collection}.{} is still there",
                old.name
            )));
        }
        if let Some(missing) = INDEXES
            .iter()
            .find(|s| s.collection == collection && !has(&(s.keys)()))
        {
            return Ok(Some(format!(
                "index {collection}.{} is missing",
                missing.name
            )));
        }
    }
    Ok(None)
}

/// Whether two index key documents name the same fields in the same order (the
/// directions are not compared: some compatible servers report every key ascending).
fn same_keys(a: &Document, b: &Document) -> bool {
    a.len() == b.len() && a.keys().zip(b.keys()).all(|(ka, kb)| ka == kb)
}
