//! Idempotency records (`idempotency` in the master database): one per (scope, key),
//! holding the request's fingerprint, its state, a lease while it runs, and the answer
//! once it is done. Kept 24 hours; expiry is decided by comparing `expires_ms` in the
//! code (the TTL index only cleans up, on MongoDB).

use mongodb::bson::{DateTime, Document, doc};
use mongodb::error::Error;
use serde::{Deserialize, Serialize};

use super::{Store, is_duplicate};

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// The key is this request's now: run it. The record's nonce, random when the
    /// record was made, seeds the ids of what the request creates, so that a retry
    /// finds them and a reuse of the key after the record expired does not.
    Fresh(String),
    /// The same request finished before: its answer.
    Done(Answer),
    /// The same request is still running: retry after this many seconds.
    InFlight(u64),
    /// The key was used with another request.
    Mismatch,
}

/// A stored answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body (JSON text).
    pub body: String,
    /// `ETag`, when the answer had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Record {
    fingerprint: String,
    state: String,
    lease_ms: i64,
    expires_ms: i64,
    #[serde(default)]
    answer: Option<Answer>,
    #[serde(default)]
    nonce: String,
}

/// Claims `id` for a request with `fingerprint`, or says why not. A record past its
/// expiry is replaced; a running one whose lease has passed (its function died) is
/// taken over. `owner` is the organization whose data the answer may hold (removed
/// with it, see [`forget_owner`]).
pub async fn claim(
    store: &Store,
    id: &str,
    owner: Option<&str>,
    fingerprint: &str,
    lease_ms: i64,
    ttl_ms: i64,
) -> Result<Claim, Error> {
    let records = store.idempotency();
    for _ in 0..3 {
        let now = DateTime::now().timestamp_millis();
        let nonce = format!("{:032x}", rand::random::<u128>());
        let fresh = doc! {
            "_id": id,
            "owner": owner,
            "nonce": &nonce,
            "fingerprint": fingerprint,
            "state": "running",
            "lease_ms": now + lease_ms,
            "expires_ms": now + ttl_ms,
            "expires_at": DateTime::from_millis(now + ttl_ms),
        };
        match records.insert_one(fresh).await {
            Ok(_) => return Ok(Claim::Fresh(nonce)),
            Err(e) if !is_duplicate(&e) => return Err(e),
            Err(_) => {}
        }
        let Some(raw) = records.find_one(doc! { "_id": id }).await? else {
            continue;
        };
        let Ok(record) = mongodb::bson::from_document::<Record>(raw) else {
            records.delete_one(doc! { "_id": id }).await?;
            continue;
        };
        if record.expires_ms <= now {
            records
                .delete_one(doc! { "_id": id, "expires_ms": record.expires_ms })
                .await?;
            continue;
        }
        if record.fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if let (Some(answer), "done") = (record.answer, record.state.as_str()) {
            return Ok(Claim::Done(answer));
        }
        if record.lease_ms > now {
            return Ok(Claim::InFlight(
                ((record.lease_ms - now) as u64).div_ceil(1000),
            ));
        }
        let taken = records
            .update_one(
                doc! { "_id": id, "state": "running", "lease_ms": record.lease_ms },
                doc! { "$set": { "lease_ms": now + lease_ms } },
            )
            .await?;
        if taken.matched_count == 1 {
            return Ok(Claim::Fresh(record.nonce));
        }
    }
    Ok(Claim::InFlight(1))
}

/// Stores the answer of a finished request.
pub async fn finish(store: &Store, id: &str, answer: &Answer) -> Result<(), Error> {
    let answer: Document = mongodb::bson::to_document(answer).map_err(Error::custom)?;
    store
        .idempotency()
        .update_one(
            doc! { "_id": id },
            doc! { "$set": { "state": "done", "answer": answer } },
        )
        .await
        .map(|_| ())
}

/// Gives up a request that ended in a server error: its lease ends now, so a retry
/// takes it over at once and runs it again, under the same nonce (it finds what this
/// try made).
pub async fn abandon(store: &Store, id: &str) -> Result<(), Error> {
    store
        .idempotency()
        .update_one(
            doc! { "_id": id, "state": "running" },
            doc! { "$set": { "lease_ms": 0_i64 } },
        )
        .await
        .map(|_| ())
}

/// Removes the records whose answers may hold an organization's data (its items'), when
/// the organization is deleted.
pub async fn forget_owner(store: &Store, owner: &str) -> Result<(), Error> {
    store
        .idempotency()
        .delete_many(doc! { "owner": owner })
        .await
        .map(|_| ())
}
