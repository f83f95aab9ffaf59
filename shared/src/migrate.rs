//! The deploy-time step: the indexes every collection needs, and the move of
//! first-release documents (an organization with its single admin embedded) to accounts
//! and member maps. Run by the `migrate` function after each deploy (and by `make run`
//! and the tests before anything else); each step is idempotent, so running it again
//! changes nothing, and a crash midway is finished by the next run. Request paths never
//! create indexes: each function checks once per cold start that they are there, and
//! refuses to start when they are not. (A first-release document written meanwhile by
//! an older function still serving is migrated when a request first touches it.)

use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use serde::Serialize;

use crate::config::ConfigError;
use crate::store::Store;

/// One index the service relies on.
struct Spec {
    collection: &'static str,
    name: &'static str,
    keys: fn() -> Document,
    unique: bool,
    ttl: Option<Duration>,
}

/// Every index, by collection (names are MongoDB's defaults for the keys).
const INDEXES: &[Spec] = &[
    Spec {
        collection: "organizations",
        name: "name_1",
        keys: || doc! { "name": 1 },
        unique: true,
        ttl: None,
    },
    Spec {
        collection: "organizations",
        name: "collection_name_1",
        keys: || doc! { "collection_name": 1 },
        unique: true,
        ttl: None,
    },
    Spec {
        collection: "users",
        name: "email_1",
        keys: || doc! { "email": 1 },
        unique: true,
        ttl: None,
    },
    Spec {
        collection: "invitations",
        name: "token_hash_1",
        keys: || doc! { "token_hash": 1 },
        unique: true,
        ttl: None,
    },
    Spec {
        collection: "invitations",
        name: "org_id_1",
        keys: || doc! { "org_id": 1 },
        unique: false,
        ttl: None,
    },
    Spec {
        collection: "audit_events",
        name: "organization_id_1_occurred_ms_-1",
        keys: || doc! { "organization_id": 1, "occurred_ms": -1 },
        unique: false,
        ttl: None,
    },
    Spec {
        collection: "audit_events",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        ttl: Some(Duration::ZERO),
    },
    Spec {
        collection: "idempotency",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        ttl: Some(Duration::ZERO),
    },
    Spec {
        collection: "login_attempts",
        name: "expires_at_1",
        keys: || doc! { "expires_at": 1 },
        unique: false,
        ttl: Some(Duration::ZERO),
    },
];

/// Indexes of the first release that no longer hold (an owner's email may now be
/// shared by several organizations).
const OBSOLETE: &[Spec] = &[Spec {
    collection: "organizations",
    name: "email_1",
    keys: || doc! { "email": 1 },
    unique: true,
    ttl: None,
}];

/// What a migration run did.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The indexes ensured, as `collection.name`.
    pub indexes: Vec<String>,
    /// First-release organizations moved to accounts and member maps.
    pub migrated: usize,
}

/// Drops the obsolete indexes, creates every index that is missing (the server leaves
/// existing ones alone) and migrates first-release organizations.
pub async fn run(store: &Store) -> Result<Report, crate::error::ApiError> {
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
    let mut indexes = Vec::new();
    for spec in INDEXES {
        let mut options = IndexOptions::builder().name(spec.name.to_owned()).build();
        options.unique = spec.unique.then_some(true);
        options.expire_after = spec.ttl;
        let model = IndexModel::builder()
            .keys((spec.keys)())
            .options(options)
            .build();
        store
            .master_collection(spec.collection)
            .create_index(model)
            .await?;
        indexes.push(format!("{}.{}", spec.collection, spec.name));
    }
    let legacy = crate::store::registry::legacy(store).await?;
    for org in &legacy {
        crate::org::membership::migrate_admin(store, org).await?;
    }
    Ok(Report {
        indexes,
        migrated: legacy.len(),
    })
}

/// Checks that the indexes are there (by their keys: some compatible servers name
/// indexes their own way) and the first release's obsolete ones gone: an error names
/// the first one wrong. A database that does not answer is not an error here (the
/// requests answer 503 until it does); a warning is logged and the check is skipped.
pub async fn check(store: &Store) -> Result<(), ConfigError> {
    let mut collections: Vec<&str> = INDEXES.iter().map(|s| s.collection).collect();
    collections.dedup();
    let fail = |why: String| ConfigError::Invalid {
        name: "MASTER_DB",
        why: format!("{why}: run the migrate function (make migrate locally)"),
    };
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
                tracing::warn!(error = %e, "index check skipped: the database does not answer");
                return Ok(());
            }
            Err(_) => Vec::new(),
        };
        let has = |wanted: &Document| keys.iter().any(|k| same_keys(k, wanted));
        if let Some(old) = OBSOLETE
            .iter()
            .find(|s| s.collection == collection && has(&(s.keys)()))
        {
            return Err(fail(format!(
                "index {collection}.{} of the first release is still there",
                old.name
            )));
        }
        if let Some(missing) = INDEXES
            .iter()
            .find(|s| s.collection == collection && !has(&(s.keys)()))
        {
            return Err(fail(format!(
                "index {collection}.{} is missing",
                missing.name
            )));
        }
    }
    Ok(())
}

/// Whether two index key documents name the same fields in the same order (the
/// directions are not compared: some compatible servers report every key ascending).
fn same_keys(a: &Document, b: &Document) -> bool {
    a.len() == b.len() && a.keys().zip(b.keys()).all(|(ka, kb)| ka == kb)
}
