//! Webhook endpoints (`webhooks` in the master database), at most ten per organization,
//! and their deliveries (`webhook_deliveries`): one per (endpoint, event), whose id is
//! derived from both so that making it twice keeps one, with its attempts. A
//! dispatcher takes a due delivery by moving its due time past a lease.

use mongodb::bson::{DateTime, Document, doc};
use mongodb::error::Error;
use mongodb::options::{InsertManyOptions, ReturnDocument};
use serde::{Deserialize, Serialize};

use super::records::lenient;
use super::{Store, is_duplicate, typed};

/// A webhook endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookDoc {
    /// `wh_` + 24 hex digits.
    #[serde(rename = "_id")]
    pub id: String,
    /// The organization, as hex.
    pub org: String,
    /// Where deliveries go.
    pub url: String,
    /// The event types it gets (`*`: all).
    pub events: Vec<String>,
    /// A note of its owner's.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it gets deliveries.
    #[serde(deserialize_with = "lenient::flag")]
    pub enabled: bool,
    /// Its signing secrets, sealed (JSON text; see `core::webhooks`): never shown again.
    pub secrets: String,
    /// Creation time.
    #[serde(deserialize_with = "lenient::required")]
    pub created_at: DateTime,
    /// Since when every attempt has failed (ms since the epoch), if they do.
    #[serde(default)]
    pub failing_since_ms: Option<i64>,
}

fn parse<T: for<'de> Deserialize<'de>>(doc: Option<Document>) -> Option<T> {
    doc.and_then(|d| mongodb::bson::from_document(d).ok())
}

/// How many endpoints `org` has.
pub async fn count(store: &Store, org: &str) -> Result<u64, Error> {
    store.webhooks().count_documents(doc! { "org": org }).await
}

/// Adds an endpoint.
pub async fn insert(store: &Store, hook: &WebhookDoc) -> Result<(), Error> {
    let doc = mongodb::bson::to_document(hook).map_err(Error::custom)?;
    store.webhooks().insert_one(doc).await.map(|_| ())
}

/// One endpoint of `org`.
pub async fn by_id(store: &Store, org: &str, id: &str) -> Result<Option<WebhookDoc>, Error> {
    Ok(parse(
        store
            .webhooks()
            .find_one(doc! { "_id": id, "org": org })
            .await?,
    ))
}

/// The endpoints of `org`, oldest first.
pub async fn list(store: &Store, org: &str) -> Result<Vec<WebhookDoc>, Error> {
    let cursor = store
        .webhooks()
        .find(doc! { "org": org })
        .sort(doc! { "created_at": 1, "_id": 1 })
        .await?;
    typed(cursor).await
}

/// Sets fields of an endpoint of `org`: the endpoint after, or `None` if it is gone.
pub async fn update(
    store: &Store,
    org: &str,
    id: &str,
    set: Document,
    unset: Document,
) -> Result<Option<WebhookDoc>, Error> {
    let mut update = doc! { "$set": set };
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    let after = store
        .webhooks()
        .find_one_and_update(doc! { "_id": id, "org": org }, update)
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(after))
}

/// Removes an endpoint of `org` and its deliveries; false if there was none.
pub async fn delete(store: &Store, org: &str, id: &str) -> Result<bool, Error> {
    let gone = store
        .webhooks()
        .delete_one(doc! { "_id": id, "org": org })
        .await?;
    store
        .deliveries()
        .delete_many(doc! { "webhook": id })
        .await?;
    Ok(gone.deleted_count == 1)
}

/// Removes every endpoint of `org` and their deliveries (the organization is purged).
pub async fn delete_all(store: &Store, org: &str) -> Result<(), Error> {
    store.webhooks().delete_many(doc! { "org": org }).await?;
    store
        .deliveries()
        .delete_many(doc! { "org": org })
        .await
        .map(|_| ())
}

/// Disables every endpoint of `org` and drops what they were still to get (the
/// organization is deleted: restored, its endpoints come back disabled).
pub async fn disable_all(store: &Store, org: &str) -> Result<(), Error> {
    store
        .webhooks()
        .update_many(doc! { "org": org }, doc! { "$set": { "enabled": false } })
        .await?;
    store
        .deliveries()
        .delete_many(doc! { "org": org })
        .await
        .map(|_| ())
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// To be attempted (again).
    Pending,
    /// A 2xx was received.
    Succeeded,
    /// Every attempt of the schedule failed (or the endpoint was disabled or deleted).
    Failed,
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryDoc {
    /// `<endpoint>.<event id>`: the `webhook-id` of every attempt.
    #[serde(rename = "_id")]
    pub id: String,
    /// The organization, as hex.
    pub org: String,
    /// The endpoint.
    pub webhook: String,
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's sequence (0 for a test event).
    pub seq: i64,
    /// The body sent (the event as JSON).
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// When the next attempt is due (ms since the epoch); `i64::MAX` once settled.
    pub due_ms: i64,
    /// The attempts so far (JSON text of a list, oldest first).
    #[serde(default)]
    pub attempts: String,
    /// When it was made (ms since the epoch).
    pub created_ms: i64,
}

/// Makes deliveries (one command); those made before are kept as they are.
pub async fn create(store: &Store, deliveries: &[DeliveryDoc]) -> Result<(), Error> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let docs = deliveries
        .iter()
        .map(|d| {
            let mut doc = mongodb::bson::to_document(d).map_err(Error::custom)?;
            // Kept as long as the events (the body holds its actor's and targets' names).
            let until = d.created_ms + store.events_retention().as_millis() as i64;
            doc.insert("expires_at", DateTime::from_millis(until));
            Ok(doc)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let unordered = InsertManyOptions::builder().ordered(false).build();
    match store
        .deliveries()
        .insert_many(docs)
        .with_options(unordered)
        .await
    {
        Err(e) if !is_duplicate(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Takes one due delivery for `lease_ms`, or `None` when nothing is due.
pub async fn take_due(
    store: &Store,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Option<DeliveryDoc>, Error> {
    let taken = store
        .deliveries()
        .find_one_and_update(
            doc! { "due_ms": { "$lte": now_ms } },
            doc! { "$set": { "due_ms": now_ms + lease_ms } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(taken))
}

/// (v3) Leaves a delivery of a suspended organization to wait until `due_ms`, marked
/// so that a resume makes it due at once; no attempt is counted.
pub async fn wait(store: &Store, id: &str, due_ms: i64) -> Result<(), Error> {
    store
        .deliveries()
        .update_one(
            doc! { "_id": id },
            doc! { "$set": { "due_ms": due_ms, "waiting": true } },
        )
        .await
        .map(|_| ())
}

/// (v3) Makes the waiting deliveries of `org` (hex) due now: its resume.
pub async fn resume_waiting(store: &Store, org: &str, now_ms: i64) -> Result<(), Error> {
    store
        .deliveries()
        .update_many(
            doc! { "org": org, "waiting": true },
            doc! { "$set": { "due_ms": now_ms }, "$unset": { "waiting": "" } },
        )
        .await
        .map(|_| ())
}

/// Records an attempt's outcome: the attempts so far, where the delivery stands and
/// when it is due next.
pub async fn settle(
    store: &Store,
    id: &str,
    status: DeliveryStatus,
    due_ms: i64,
    attempts: &str,
) -> Result<(), Error> {
    let status = mongodb::bson::to_bson(&status).map_err(Error::custom)?;
    store
        .deliveries()
        .update_one(
            doc! { "_id": id },
            doc! { "$set": { "status": status, "due_ms": due_ms, "attempts": attempts } },
        )
        .await
        .map(|_| ())
}

/// One delivery of endpoint `webhook`.
pub async fn delivery(
    store: &Store,
    webhook: &str,
    id: &str,
) -> Result<Option<DeliveryDoc>, Error> {
    Ok(parse(
        store
            .deliveries()
            .find_one(doc! { "_id": id, "webhook": webhook })
            .await?,
    ))
}

/// Makes a delivery of `webhook` due now (a manual retry); the delivery after.
pub async fn due_now(
    store: &Store,
    webhook: &str,
    id: &str,
    now_ms: i64,
) -> Result<Option<DeliveryDoc>, Error> {
    let after = store
        .deliveries()
        .find_one_and_update(
            doc! { "_id": id, "webhook": webhook },
            doc! { "$set": { "due_ms": now_ms, "status": "pending" } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(parse(after))
}

/// Up to `limit` deliveries of `webhook`, newest first, after the position `after`
/// (created ms, id), of `status` when given.
pub async fn page(
    store: &Store,
    webhook: &str,
    status: Option<DeliveryStatus>,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<DeliveryDoc>, Error> {
    let mut filter = doc! { "webhook": webhook };
    if let Some(status) = status {
        filter.insert(
            "status",
            mongodb::bson::to_bson(&status).map_err(Error::custom)?,
        );
    }
    if let Some((ms, id)) = after {
        filter.insert(
            "$or",
            vec![
                doc! { "created_ms": { "$lt": ms } },
                doc! { "created_ms": ms, "_id": { "$lt": id } },
            ],
        );
    }
    let cursor = store
        .deliveries()
        .find(filter)
        .sort(doc! { "created_ms": -1, "_id": -1 })
        .limit(limit)
        .await?;
    typed(cursor).await
}
