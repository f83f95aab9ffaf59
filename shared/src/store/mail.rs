//! The mail outbox (`mail_outbox` in the master database): one document per message to
//! send, written by the request that wants it (one insert, the request's only cost) and
//! sent by the dispatcher ([`crate::jobs::dispatch`]). A job holds what the message is
//! about, never a token: the dispatcher makes the token when it sends, so the database
//! holds tokens only as hashes. Due times are numbers (ms since the epoch), compared in
//! the query; a dispatcher takes a job by moving its due time past a lease, so one that
//! dies mid-send leaves it to the next after the lease.

use mongodb::bson::{DateTime, doc, oid::ObjectId};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

use super::Store;
use super::records::lenient;
use crate::email::Kind;

/// One message to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailJob {
    /// Job id (also the message's id).
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// What the message is.
    pub kind: Kind,
    /// The address it goes to (a reset: the address asked for, looked up when sent).
    pub to: String,
    /// The base of the message's link (`APP_URL`, or the API's own `/dashboard`).
    pub app_url: String,
    /// The account it is about, as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The organization it is about, as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The invitation it delivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<String>,
    /// The new address (the notice of an email change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// When it may be sent next (ms since the epoch); `i64::MAX` once given up.
    pub due_ms: i64,
    /// Attempts so far.
    #[serde(default)]
    pub attempts: i64,
    /// When it was asked for.
    #[serde(deserialize_with = "lenient::required")]
    pub created_at: DateTime,
}

impl MailJob {
    /// A job of `kind` to `to`, due now.
    pub fn new(kind: Kind, to: &str, app_url: &str) -> Self {
        let now = DateTime::now();
        Self {
            id: ObjectId::new(),
            kind,
            to: to.to_owned(),
            app_url: app_url.to_owned(),
            user: None,
            org: None,
            invitation: None,
            new_email: None,
            due_ms: now.timestamp_millis(),
            attempts: 0,
            created_at: now,
        }
    }
}

/// Queues jobs (one insert command).
pub async fn enqueue(store: &Store, jobs: &[MailJob]) -> Result<(), Error> {
    let docs = jobs
        .iter()
        .map(mongodb::bson::to_document)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::custom)?;
    store.mail_outbox().insert_many(docs).await.map(|_| ())
}

/// Takes one due job for `lease_ms` (its due time moves past the lease, its attempts
/// count one more), or `None` when nothing is due.
pub async fn take_due(store: &Store, now_ms: i64, lease_ms: i64) -> Result<Option<MailJob>, Error> {
    let taken = store
        .mail_outbox()
        .find_one_and_update(
            doc! { "due_ms": { "$lte": now_ms } },
            doc! { "$set": { "due_ms": now_ms + lease_ms }, "$inc": { "attempts": 1_i64 } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(taken.and_then(|d| mongodb::bson::from_document(d).ok()))
}

/// Removes a job that is done (sent, or with nothing left to send).
pub async fn done(store: &Store, id: ObjectId) -> Result<(), Error> {
    store
        .mail_outbox()
        .delete_one(doc! { "_id": id })
        .await
        .map(|_| ())
}

/// Puts a job back for another attempt at `due_ms`, with the reason of the last failure.
pub async fn retry(store: &Store, id: ObjectId, due_ms: i64, error: &str) -> Result<(), Error> {
    store
        .mail_outbox()
        .update_one(
            doc! { "_id": id },
            doc! { "$set": { "due_ms": due_ms, "last_error": error } },
        )
        .await
        .map(|_| ())
}

/// Keeps a job that will not be tried again, with why (operators see it; nothing is
/// dropped silently).
pub async fn give_up(store: &Store, id: ObjectId, error: &str) -> Result<(), Error> {
    store
        .mail_outbox()
        .update_one(
            doc! { "_id": id },
            doc! { "$set": { "due_ms": i64::MAX, "last_error": error, "failed_at": DateTime::now() } },
        )
        .await
        .map(|_| ())
}
