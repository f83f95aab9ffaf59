//! Events (`events` in the master database) and their per-organization streams
//! (`event_streams`). An event is stored once per organization with its `seq`, unique
//! per organization (index `org_1_seq_1`); its body is the JSON the API serves and the
//! webhooks deliver, kept as text so every delivery sends the same bytes. A stream
//! document says which sequences are taken (`reserved`) and which may be served
//! (`committed`), and who may add to it now (a lease): see [`crate::core::events`].

use mongodb::bson::{DateTime, Document, doc};
use mongodb::error::Error;
use mongodb::options::{InsertManyOptions, ReturnDocument};
use serde::{Deserialize, Serialize};

use super::{Store, is_duplicate, typed};

/// An event as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDoc {
    /// `<event id>:<organization>`.
    #[serde(rename = "_id")]
    pub id: String,
    /// The organization, as hex.
    pub org: String,
    /// Its place in the organization's stream.
    pub seq: i64,
    /// E.g. `member.role_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event id (the audit event's id).
    pub event_id: String,
    /// The JSON body, as served and delivered.
    pub body: String,
    /// When it happened (ms since the epoch).
    pub occurred_ms: i64,
}

/// A stream as stored: `reserved` >= `committed`; a holder whose lease has passed may
/// have left sequences between the two taken but unwritten.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    /// Sequences up to this one are taken.
    pub reserved: i64,
    /// Sequences up to this one are settled (written, or fenced off): servable.
    pub committed: i64,
}

fn number(doc: &Document, key: &str) -> i64 {
    doc.get_i64(key)
        .or_else(|_| doc.get_i32(key).map(i64::from))
        .unwrap_or(0)
}

fn stream_of(doc: &Document) -> Stream {
    Stream {
        reserved: number(doc, "reserved"),
        committed: number(doc, "committed"),
    }
}

/// Takes the lease of `org`'s stream for `holder` until `until_ms`: the stream, or
/// `None` while another holder's lease runs.
pub async fn lease(
    store: &Store,
    org: &str,
    holder: &str,
    now_ms: i64,
    until_ms: i64,
) -> Result<Option<Stream>, Error> {
    let taken = store
        .event_streams()
        .find_one_and_update(
            doc! { "_id": org, "lease_until": { "$lt": now_ms } },
            doc! {
                "$set": { "lease_until": until_ms, "holder": holder },
                "$max": { "reserved": 0_i64, "committed": 0_i64 },
            },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await;
    match taken {
        Ok(doc) => Ok(doc.as_ref().map(stream_of)),
        // The upsert of a stream whose lease runs: the `_id` is taken.
        Err(e) if is_duplicate(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The stream of `org` as it is (a new organization's is empty).
pub async fn stream(store: &Store, org: &str) -> Result<Stream, Error> {
    let found = store.event_streams().find_one(doc! { "_id": org }).await?;
    Ok(found.as_ref().map_or(
        Stream {
            reserved: 0,
            committed: 0,
        },
        stream_of,
    ))
}

/// Moves `reserved` (and `committed`, when given) on, while `holder` holds the lease;
/// false when it no longer does.
pub async fn advance(
    store: &Store,
    org: &str,
    holder: &str,
    reserved: i64,
    committed: Option<i64>,
) -> Result<bool, Error> {
    let mut set = doc! { "reserved": reserved };
    if let Some(committed) = committed {
        set.insert("committed", committed);
    }
    let done = store
        .event_streams()
        .update_one(doc! { "_id": org, "holder": holder }, doc! { "$set": set })
        .await?;
    Ok(done.matched_count == 1)
}

/// Ends `holder`'s lease.
pub async fn release(store: &Store, org: &str, holder: &str) -> Result<(), Error> {
    store
        .event_streams()
        .update_one(
            doc! { "_id": org, "holder": holder },
            doc! { "$set": { "lease_until": 0_i64 } },
        )
        .await
        .map(|_| ())
}

/// Writes events (one command), each kept `EVENTS_RETENTION_DAYS`; those already there
/// (by id, or a sequence fenced off) are left as they are.
pub async fn insert(store: &Store, events: &[EventDoc]) -> Result<(), Error> {
    let retention_ms = store.events_retention().as_millis() as i64;
    let docs = events
        .iter()
        .map(|e| {
            let mut d = mongodb::bson::to_document(e).map_err(Error::custom)?;
            d.insert(
                "expires_at",
                DateTime::from_millis(e.occurred_ms + retention_ms),
            );
            Ok(d)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    insert_docs(store, docs).await
}

async fn insert_docs(store: &Store, docs: Vec<Document>) -> Result<(), Error> {
    if docs.is_empty() {
        return Ok(());
    }
    let unordered = InsertManyOptions::builder().ordered(false).build();
    match store
        .events()
        .insert_many(docs)
        .with_options(unordered)
        .await
    {
        Err(e) if !is_duplicate(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Fences off the sequences `from..=to` of `org` that hold no event: a holder that
/// took them and lost its lease can no longer write them.
pub async fn fence(store: &Store, org: &str, from: i64, to: i64) -> Result<(), Error> {
    let docs = (from..=to)
        .map(|seq| doc! { "_id": format!("fence:{org}:{seq}"), "org": org, "seq": seq, "fence": true })
        .collect();
    insert_docs(store, docs).await
}

/// Removes the events and the stream of a purged organization.
pub async fn delete_all(store: &Store, org: &str) -> Result<(), Error> {
    store.events().delete_many(doc! { "org": org }).await?;
    store
        .event_streams()
        .delete_one(doc! { "_id": org })
        .await
        .map(|_| ())
}

/// The events of `org` with these ids.
pub async fn by_ids(store: &Store, org: &str, ids: &[String]) -> Result<Vec<EventDoc>, Error> {
    let cursor = store
        .events()
        .find(doc! { "_id": { "$in": ids }, "org": org })
        .await?;
    typed(cursor).await
}

/// Up to `limit` events of `org` with `after < seq <= upto`, oldest first (fences
/// skipped), of `types` when given.
pub async fn page(
    store: &Store,
    org: &str,
    (after, upto): (i64, i64),
    types: &[String],
    limit: i64,
) -> Result<Vec<EventDoc>, Error> {
    let mut filter = doc! { "org": org, "seq": { "$gt": after, "$lte": upto } };
    if !types.is_empty() {
        filter.insert("type", doc! { "$in": types });
    } else {
        filter.insert("fence", doc! { "$exists": false });
    }
    let cursor = store
        .events()
        .find(filter)
        .sort(doc! { "seq": 1 })
        .limit(limit)
        .await?;
    typed(cursor).await
}
