//! Each organization's stream of events, and the promise it keeps: a consumer that asks
//! again with `after=<the last sequence it saw>` never misses an event.
//!
//! A change costs nothing more than its audit event: an audit event of an action that
//! took effect is written marked `stream_pending` ([`crate::store::audit`]). Moving
//! marked events into the stream is the work of one holder at a time per organization
//! (a 30 s lease on its stream document): it takes the next sequences (`reserved`),
//! writes the events with them (unique per organization), makes their webhook
//! deliveries, unmarks them, and only then moves `committed` on. Readers serve only
//! sequences up to `committed`, so an event never appears below one already served.
//!
//! A holder that dies (or stalls past its lease) may have taken sequences it did not
//! write. The next holder first fences them off (a placeholder under each sequence not
//! written; the unique index then refuses a late write of the stalled holder), commits
//! them, and goes on: those sequences are gaps, which the contract allows. Its events
//! are still marked, so they are streamed again with new sequences (an event already
//! written keeps its own: its id is taken).
//!
//! The dispatcher streams every marked organization about once a second; a reader of
//! `GET /org/events` streams its own organization first, so it never waits for that.

use mongodb::bson::{Bson, Document, oid::ObjectId};

use crate::error::ApiResult;
use crate::routes::views::timestamp;
use crate::store::events::{self, EventDoc};
use crate::store::webhooks::{self, DeliveryDoc, DeliveryStatus, WebhookDoc};
use crate::store::{Store, audit};

/// How long a holder may take to stream a batch.
const LEASE_MS: i64 = 30_000;
/// Events streamed per batch.
const BATCH: i64 = 100;

fn json(value: Option<&Bson>) -> serde_json::Value {
    value
        .cloned()
        .map(Bson::into_relaxed_extjson)
        .unwrap_or(serde_json::Value::Null)
}

/// The event of an audit event of `org`, with its sequence.
fn event_of(org: &str, audit: &Document, seq: i64) -> Option<EventDoc> {
    let event_id = audit.get_str("event_id").ok()?.to_owned();
    let kind = audit.get_str("action").ok()?.to_owned();
    let occurred_ms = audit
        .get_i64("occurred_ms")
        .or_else(|_| audit.get_i32("occurred_ms").map(i64::from))
        .ok()?;
    let body = serde_json::json!({
        "id": event_id,
        "type": kind,
        "sequence": seq,
        "occurred_at": timestamp(mongodb::bson::DateTime::from_millis(occurred_ms)),
        "organization_id": org,
        "data": {
            "actor": json(audit.get("actor")),
            "targets": json(audit.get("targets")),
            "metadata": json(audit.get("metadata")),
        },
    });
    Some(EventDoc {
        id: format!("{event_id}:{org}"),
        org: org.to_owned(),
        seq,
        kind,
        event_id,
        body: body.to_string(),
        occurred_ms,
    })
}

/// Whether `hook` gets `event`: enabled, of a type it asked for, and later than the
/// endpoint's registration (its own `webhook.created` is its start: not delivered).
pub fn wants(hook: &WebhookDoc, event: &EventDoc) -> bool {
    hook.enabled
        && hook.created_at.timestamp_millis() < event.occurred_ms
        && hook.events.iter().any(|e| e == "*" || *e == event.kind)
}

/// The delivery of `event` to `hook`, due now.
pub fn delivery(hook: &WebhookDoc, event: &EventDoc, now_ms: i64) -> DeliveryDoc {
    DeliveryDoc {
        // A dot, not a colon: the id travels as a path segment (retry) unencoded.
        id: format!("{}.{}", hook.id, event.event_id),
        org: hook.org.clone(),
        webhook: hook.id.clone(),
        event_id: event.event_id.clone(),
        kind: event.kind.clone(),
        seq: event.seq,
        body: event.body.clone(),
        status: DeliveryStatus::Pending,
        due_ms: now_ms,
        attempts: "[]".into(),
        created_ms: now_ms,
    }
}

/// Moves `org`'s marked audit events into its stream, batch by batch, unless another
/// holder is at it. The events written (for the count of a report).
pub async fn stream(store: &Store, org: &str) -> ApiResult<usize> {
    let holder = ObjectId::new().to_hex();
    let mut written = 0;
    loop {
        let now = mongodb::bson::DateTime::now().timestamp_millis();
        let Some(state) = events::lease(store, org, &holder, now, now + LEASE_MS).await? else {
            return Ok(written);
        };
        let result = batch(store, org, &holder, state).await;
        events::release(store, org, &holder).await?;
        let n = result?;
        written += n;
        // A batch short of full: nothing was left to stream.
        if n < BATCH as usize {
            return Ok(written);
        }
    }
}

/// One batch under the lease: fences a dead holder's sequences, then streams up to
/// [`BATCH`] events. How many it streamed.
async fn batch(
    store: &Store,
    org: &str,
    holder: &str,
    mut state: events::Stream,
) -> ApiResult<usize> {
    if state.reserved > state.committed {
        events::fence(store, org, state.committed + 1, state.reserved).await?;
        if !events::advance(store, org, holder, state.reserved, Some(state.reserved)).await? {
            return Ok(0);
        }
        state.committed = state.reserved;
    }
    let marked = audit::unstreamed(store, org, BATCH).await?;
    if marked.is_empty() {
        return Ok(0);
    }
    let first = state.committed + 1;
    let last = state.committed + marked.len() as i64;
    if !events::advance(store, org, holder, last, None).await? {
        return Ok(0);
    }
    let fresh: Vec<EventDoc> = marked
        .iter()
        .zip(first..)
        .filter_map(|(a, seq)| event_of(org, a, seq))
        .collect();
    events::insert(store, &fresh).await?;
    // An event a dead holder wrote keeps its sequence: its deliveries use that one.
    let ids: Vec<String> = fresh.iter().map(|e| e.id.clone()).collect();
    let written = events::by_ids(store, org, &ids).await?;
    let hooks = webhooks::list(store, org).await?;
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    let deliveries: Vec<DeliveryDoc> = written
        .iter()
        .flat_map(|e| {
            hooks
                .iter()
                .filter(|h| wants(h, e))
                .map(|h| delivery(h, e, now))
        })
        .collect();
    webhooks::create(store, &deliveries).await?;
    let audit_ids: Vec<String> = marked
        .iter()
        .filter_map(|a| a.get_str("_id").ok().map(str::to_owned))
        .collect();
    audit::streamed(store, &audit_ids).await?;
    events::advance(store, org, holder, last, Some(last)).await?;
    Ok(marked.len())
}
