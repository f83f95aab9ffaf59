//! Failed-login throttle kept in MongoDB, so it holds across cold starts and instances.
//!
//! Each attempt atomically increments a counter per email and per client IP
//! (`findOneAndUpdate` + `$inc`, upserted); an attempt that pushes a counter past its
//! limit is refused before the password is checked. A counter lives for one window
//! (`expires_at`, TTL-indexed); a successful login clears the email's counter and gives
//! back its increment of the IP's.

use std::time::Duration;

use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::ReturnDocument;

use crate::error::{ApiError, ApiResult};
use crate::store::{Store, millis_of};

/// Failures allowed per email within a window.
pub const MAX_PER_EMAIL: i64 = 5;
/// Failures allowed per client IP within a window.
pub const MAX_PER_IP: i64 = 50;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

fn email_key(email: &str) -> String {
    format!("email:{email}")
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Counts this attempt against the email and the IP; 429 with `Retry-After` if either
/// is past its limit.
pub async fn enter(store: &Store, email: &str, ip: &str) -> ApiResult<()> {
    store.ensure_indexes().await?;
    let (email_key, ip_key) = (email_key(email), ip_key(ip));
    let (by_email, by_ip) = tokio::join!(count(store, &email_key), count(store, &ip_key));
    let (by_email, by_ip) = (by_email?, by_ip?);
    let now = DateTime::now().timestamp_millis();
    let wait = |(n, until): (i64, i64), limit: i64| {
        (n > limit).then(|| ((until - now).max(1000) as u64).div_ceil(1000))
    };
    match (wait(by_email, MAX_PER_EMAIL), wait(by_ip, MAX_PER_IP)) {
        (None, None) => Ok(()),
        (a, b) => Err(ApiError::TooManyRequests {
            retry_after: a.unwrap_or(0).max(b.unwrap_or(0)),
        }),
    }
}

/// After a successful login: forget the email's failures, give back the IP's count.
pub async fn succeeded(store: &Store, email: &str, ip: &str) -> ApiResult<()> {
    let attempts = store.login_attempts();
    let (a, b) = tokio::join!(
        attempts.delete_one(doc! { "_id": email_key(email) }),
        attempts.update_one(
            doc! { "_id": ip_key(ip), "n": { "$gt": 0 } },
            doc! { "$inc": { "n": -1 } }
        )
    );
    a?;
    b?;
    Ok(())
}

/// Increments a counter and returns (count, window end in ms). Starts a new window
/// when the counter is new or its window has passed but the TTL monitor has not yet
/// removed it.
async fn count(store: &Store, key: &str) -> ApiResult<(i64, i64)> {
    let attempts = store.login_attempts();
    let counter: Document = attempts
        .find_one_and_update(doc! { "_id": key }, doc! { "$inc": { "n": 1_i64 } })
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?
        .ok_or_else(|| ApiError::internal("upsert returned no document"))?;
    let n = counter
        .get_i64("n")
        .or_else(|_| counter.get_i32("n").map(i64::from))
        .unwrap_or(1);
    let now = DateTime::now().timestamp_millis();
    let fresh_until = DateTime::from_millis(now + WINDOW.as_millis() as i64);
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
                    Box::pin(count(store, key)).await
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
