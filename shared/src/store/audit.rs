//! The audit trail's queries (`audit_events` in the master database): one document per
//! event and organization, kept `AUDIT_RETENTION_DAYS` by a TTL index (also after the
//! organization is gone; the API no longer shows them then). Ids are derived from the
//! request, so writing an event twice keeps one. The event type and its writer are
//! [`crate::core::audit`].

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use mongodb::error::Error;
use mongodb::options::InsertManyOptions;

use super::{Store, is_duplicate};
use crate::core::audit::Event;

fn bson<T: serde::Serialize>(value: &T) -> Result<Bson, Error> {
    mongodb::bson::to_bson(value).map_err(Error::custom)
}

fn document(store: &Store, org: ObjectId, event: &Event) -> Result<Document, Error> {
    let expires = DateTime::from_millis(event.at_ms + store.audit_retention().as_millis() as i64);
    let mut doc = doc! {
        "_id": format!("{}:{}", event.id, org.to_hex()),
        "event_id": &event.id,
        "organization_id": org.to_hex(),
        "occurred_at": DateTime::from_millis(event.at_ms),
        "occurred_ms": event.at_ms,
        "action": &event.action,
        "outcome": bson(&event.outcome)?,
        "actor": bson(&event.actor)?,
        "targets": bson(&event.targets)?,
        "context": bson(&event.context)?,
        "metadata": bson(&event.metadata)?,
        "expires_at": expires,
    };
    // An action that took effect is also an event of the organization's stream: marked
    // here, in the same write, and moved into the stream by `core::events::stream`.
    if event.is_streamed() {
        doc.insert("stream_pending", true);
    }
    Ok(doc)
}

/// Stores events, each for its organization, in one command (those stored before are
/// kept as they are: ids are derived from the request).
pub async fn insert<'a>(
    store: &Store,
    events: impl IntoIterator<Item = (ObjectId, &'a Event)>,
) -> Result<(), Error> {
    let docs = events
        .into_iter()
        .map(|(org, e)| document(store, org, e))
        .collect::<Result<Vec<_>, _>>()?;
    if docs.is_empty() {
        return Ok(());
    }
    let unordered = InsertManyOptions::builder().ordered(false).build();
    match store
        .audit_events()
        .insert_many(docs)
        .with_options(unordered)
        .await
    {
        Err(e) if !is_duplicate(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Organizations with events not yet in their stream (up to `limit` events looked at).
pub async fn unstreamed_orgs(store: &Store, limit: i64) -> Result<Vec<String>, Error> {
    let docs: Vec<Document> = store
        .audit_events()
        .find(doc! { "stream_pending": true })
        .projection(doc! { "organization_id": 1 })
        .limit(limit)
        .await?
        .try_collect()
        .await?;
    let mut orgs: Vec<String> = docs
        .iter()
        .filter_map(|d| d.get_str("organization_id").ok().map(str::to_owned))
        .collect();
    orgs.sort();
    orgs.dedup();
    Ok(orgs)
}

/// Up to `limit` events of `org` not yet in its stream, oldest first.
pub async fn unstreamed(store: &Store, org: &str, limit: i64) -> Result<Vec<Document>, Error> {
    store
        .audit_events()
        .find(doc! { "organization_id": org, "stream_pending": true })
        .sort(doc! { "occurred_ms": 1, "event_id": 1 })
        .limit(limit)
        .await?
        .try_collect()
        .await
}

/// Marks events as in their stream.
pub async fn streamed(store: &Store, ids: &[String]) -> Result<(), Error> {
    store
        .audit_events()
        .update_many(
            doc! { "_id": { "$in": ids } },
            doc! { "$unset": { "stream_pending": "" } },
        )
        .await
        .map(|_| ())
}

/// Whether the event `event_id` is in the log of `org`.
pub async fn exists(store: &Store, org: ObjectId, event_id: &str) -> Result<bool, Error> {
    let found = store
        .audit_events()
        .find_one(doc! { "_id": format!("{event_id}:{}", org.to_hex()) })
        .projection(doc! { "_id": 1 })
        .await?;
    Ok(found.is_some())
}

/// What `GET /org/audit` asks for.
#[derive(Debug, Default)]
pub struct Query {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor_id: Option<String>,
    /// From this time on (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Up to this time (ms since the epoch).
    pub until_ms: Option<i64>,
    /// After this position (the `next` of the previous page): (time, event id).
    pub after: Option<(i64, String)>,
}

/// Up to `limit` events of `org`, newest first.
pub async fn page(
    store: &Store,
    org: ObjectId,
    query: &Query,
    limit: i64,
) -> Result<Vec<Document>, Error> {
    let mut filter = doc! { "organization_id": org.to_hex() };
    if let Some(action) = &query.action {
        filter.insert("action", action);
    }
    if let Some(actor) = &query.actor_id {
        filter.insert("actor.id", actor);
    }
    let mut time = Document::new();
    if let Some(since) = query.since_ms {
        time.insert("$gte", since);
    }
    if let Some(until) = query.until_ms {
        time.insert("$lte", until);
    }
    if !time.is_empty() {
        filter.insert("occurred_ms", time);
    }
    if let Some((ms, id)) = &query.after {
        filter.insert(
            "$or",
            vec![
                doc! { "occurred_ms": { "$lt": ms } },
                doc! { "occurred_ms": ms, "event_id": { "$lt": id } },
            ],
        );
    }
    store
        .audit_events()
        .find(filter)
        .sort(doc! { "occurred_ms": -1, "event_id": -1 })
        .limit(limit)
        .await?
        .try_collect()
        .await
}
