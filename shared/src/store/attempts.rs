//! Login-attempt counters (`login_attempts` in the master database): one document per
//! key, `{_id: key, n: count, until: end of its window (ms since the epoch),
//! expires_at: the same as a date, for the TTL index that cleans up on MongoDB}`. The
//! window is decided by `until`, a number, which every server compares alike.

use std::time::Duration;

use mongodb::bson::{DateTime, Document, doc};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;

use super::Store;

/// Counts one attempt under `key` and returns (count, end of the window in ms since
/// the epoch), in one command: `$min` gives a new counter its window end and leaves an
/// existing one's alone. A counter whose window has passed (the expiry is decided here,
/// never left to a TTL monitor) starts a new window of `window`.
pub async fn count(store: &Store, key: &str, window: Duration) -> Result<(i64, i64), Error> {
    let attempts = store.login_attempts();
    let now = DateTime::now().timestamp_millis();
    let until = now + window.as_millis() as i64;
    let counter: Document = attempts
        .find_one_and_update(
            doc! { "_id": key },
            doc! {
                "$inc": { "n": 1_i64 },
                "$min": { "until": until, "expires_at": DateTime::from_millis(until) },
            },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?
        .ok_or_else(|| Error::custom("upsert returned no document"))?;
    let number = |field: &str| {
        counter
            .get_i64(field)
            .or_else(|_| counter.get_i32(field).map(i64::from))
            .ok()
    };
    match number("until") {
        Some(end) if end > now => Ok((number("n").unwrap_or(1), end)),
        stored => {
            let reset = attempts
                .update_one(
                    doc! { "_id": key, "until": stored },
                    doc! { "$set": { "n": 1_i64, "until": until, "expires_at": DateTime::from_millis(until) } },
                )
                .await?;
            if reset.matched_count == 1 {
                Ok((1, until))
            } else {
                Box::pin(count(store, key, window)).await
            }
        }
    }
}

/// After a success: `clear` starts from zero again, each of `give_back` loses the
/// one attempt just counted. One `update` command with one statement per key.
pub async fn forget(store: &Store, clear: &str, give_back: &[&str]) -> Result<(), Error> {
    let mut updates = vec![doc! { "q": { "_id": clear }, "u": { "$set": { "n": 0_i64 } } }];
    for key in give_back {
        updates.push(
            doc! { "q": { "_id": *key, "n": { "$gt": 0 } }, "u": { "$inc": { "n": -1_i64 } } },
        );
    }
    let attempts = store.login_attempts();
    store
        .database(attempts.namespace().db.as_str())
        .run_command(doc! { "update": attempts.name(), "updates": updates, "ordered": false })
        .await
        .map(|_| ())
}
