//! Login-attempt counters (`login_attempts` in the master database): one document per
//! key, `{_id: key, n: count, expires_at: end of its window}`.

use std::time::Duration;

use mongodb::bson::{DateTime, Document, doc};
use mongodb::error::Error;
use mongodb::options::ReturnDocument;

use super::{Store, millis_of};

/// Counts one attempt under `key` and returns (count, end of the window in ms since
/// the epoch). A counter that is new, or whose window has passed (the expiry is
/// decided here, never left to a TTL monitor), starts a new window of `window`.
pub async fn count(store: &Store, key: &str, window: Duration) -> Result<(i64, i64), Error> {
    let attempts = store.login_attempts();
    let counter: Document = attempts
        .find_one_and_update(doc! { "_id": key }, doc! { "$inc": { "n": 1_i64 } })
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?
        .ok_or_else(|| Error::custom("upsert returned no document"))?;
    let n = counter
        .get_i64("n")
        .or_else(|_| counter.get_i32("n").map(i64::from))
        .unwrap_or(1);
    let now = DateTime::now().timestamp_millis();
    let fresh_until = DateTime::from_millis(now + window.as_millis() as i64);
    match counter.get("expires_at") {
        Some(stored) => match millis_of(stored) {
            Some(until) if until > now => Ok((n, until)),
            _ => {
                let reset = attempts
                    .update_one(
                        doc! { "_id": key, "expires_at": stored.clone() },
                        doc! { "$set": { "n": 1_i64, "expires_at": fresh_until } },
                    )
                    .await?;
                if reset.matched_count == 1 {
                    Ok((1, fresh_until.timestamp_millis()))
                } else {
                    Box::pin(count(store, key, window)).await
                }
            }
        },
        None => {
            attempts
                .update_one(
                    doc! { "_id": key, "expires_at": { "$exists": false } },
                    doc! { "$set": { "expires_at": fresh_until } },
                )
                .await?;
            Ok((n, fresh_until.timestamp_millis()))
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
