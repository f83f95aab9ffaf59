//! API keys (`api_keys` in the master database): one document per key, found by its
//! prefix (the first 12 characters, unique), holding only an HMAC of the key.

use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use mongodb::error::Error;
use serde::{Deserialize, Serialize};

use super::records::lenient;
use super::{Store, typed};
use crate::domain::Role;

/// A key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyDoc {
    /// Key id.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// The organization, as hex.
    pub org: String,
    /// Its owner's name for it.
    pub name: String,
    /// `member` or `admin`.
    pub role: Role,
    /// The first 12 characters of the key (unique): how it is found.
    pub prefix: String,
    /// HMAC-SHA256 (hex) of the whole key, under the service's key-hashing key.
    pub hmac: String,
    /// Who made it (a user id, as hex).
    pub created_by: String,
    /// When.
    #[serde(deserialize_with = "lenient::required")]
    pub created_at: DateTime,
    /// Expiry (ms since the epoch), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    /// When it was revoked (ms since the epoch), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_ms: Option<i64>,
    /// When it was last used (ms since the epoch; 0: never; updated at most once a
    /// minute).
    #[serde(default)]
    pub last_used_ms: i64,
}

impl KeyDoc {
    /// Whether it works at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|e| e > now_ms)
    }
}

/// Stores a new key.
pub async fn insert(store: &Store, key: &KeyDoc) -> Result<(), Error> {
    let doc = mongodb::bson::to_document(key).map_err(Error::custom)?;
    store.api_keys().insert_one(doc).await.map(|_| ())
}

/// The key with this prefix.
pub async fn by_prefix(store: &Store, prefix: &str) -> Result<Option<KeyDoc>, Error> {
    let found: Option<Document> = store.api_keys().find_one(doc! { "prefix": prefix }).await?;
    Ok(found.and_then(|d| mongodb::bson::from_document(d).ok()))
}

/// The keys of `org`, oldest first.
pub async fn list(store: &Store, org: &str) -> Result<Vec<KeyDoc>, Error> {
    let cursor = store
        .api_keys()
        .find(doc! { "org": org })
        .sort(doc! { "created_at": 1, "_id": 1 })
        .await?;
    typed(cursor).await
}

/// Revokes a key of `org` that is not revoked yet: the key, or `None` if there is none.
pub async fn revoke(
    store: &Store,
    org: &str,
    id: ObjectId,
    now_ms: i64,
) -> Result<Option<KeyDoc>, Error> {
    let done = store
        .api_keys()
        .find_one_and_update(
            doc! { "_id": id, "org": org, "revoked_ms": { "$exists": false } },
            doc! { "$set": { "revoked_ms": now_ms } },
        )
        .await?;
    Ok(done.and_then(|d| mongodb::bson::from_document(d).ok()))
}

/// Records a use, unless one was recorded less than a minute ago (one write a minute
/// per key at most, whatever the traffic).
pub async fn touch(store: &Store, id: ObjectId, now_ms: i64) -> Result<(), Error> {
    store
        .api_keys()
        .update_one(
            doc! { "_id": id, "last_used_ms": { "$lt": now_ms - 60_000 } },
            doc! { "$set": { "last_used_ms": now_ms } },
        )
        .await
        .map(|_| ())
}

/// Revokes every key of `org` not revoked yet (the organization is deleted: they stay
/// revoked if it is restored).
pub async fn revoke_all(store: &Store, org: &str, now_ms: i64) -> Result<(), Error> {
    store
        .api_keys()
        .update_many(
            doc! { "org": org, "revoked_ms": { "$exists": false } },
            doc! { "$set": { "revoked_ms": now_ms } },
        )
        .await
        .map(|_| ())
}

/// Removes the keys of a purged organization.
pub async fn delete_all(store: &Store, org: &str) -> Result<(), Error> {
    store
        .api_keys()
        .delete_many(doc! { "org": org })
        .await
        .map(|_| ())
}
