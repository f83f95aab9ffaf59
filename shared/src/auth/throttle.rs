//! Throttles kept in MongoDB, so they hold across cold starts and instances: failed
//! logins, and writes per caller.
//!
//! Writes: every state-changing request counts one (one command) under its API key,
//! its user or, for the unauthenticated writes (`POST /org/create`, `POST
//! /invitations/accept`, the password reset routes), its client IP; past the minute's
//! limit the answer is 429 and nothing is done. Reads are not counted.
//!
//! Logins: each attempt atomically increments three counters before the password is checked:
//! one per (email, client IP), then one per email and one per client IP. An attempt
//! that pushes any of them past its limit is refused (429). The per-(email, IP) limit is the
//! tight one, so that a stranger guessing from one address cannot lock the owner of
//! the email out from everywhere else; the per-email ceiling stops guessing spread over
//! many addresses, the per-IP one an address trying many emails. A successful login
//! clears the (email, IP) count and gives back its increment of the other two.

use std::time::Duration;

use lambda_http::Request;
use lambda_http::http::Method;
use mongodb::bson::DateTime;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::source_ip;
use crate::store::{Store, attempts};

/// Failures allowed per (email, client IP) within a window.
pub const MAX_PER_EMAIL_AND_IP: i64 = 5;
/// Failures allowed per email from all addresses together within a window.
pub const MAX_PER_EMAIL: i64 = 100;
/// Failures allowed per client IP within a window.
pub const MAX_PER_IP: i64 = 50;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The counters of one attempt.
struct Keys {
    pair: String,
    email: String,
    ip: String,
}

impl Keys {
    fn new(email: &str, ip: &str) -> Self {
        Self {
            pair: format!("pair:{email}|{ip}"),
            email: format!("email:{email}"),
            ip: format!("ip:{ip}"),
        }
    }
}

/// Counts this attempt; 429 with `Retry-After` if any counter is past its limit. The
/// (email, IP) counter comes first: an attempt it refuses counts nowhere else, so one
/// address that keeps trying cannot push the email's ceiling and close it everywhere.
pub async fn enter(store: &Store, email: &str, ip: &str) -> ApiResult<()> {
    let keys = Keys::new(email, ip);
    let pair = attempts::count(store, &keys.pair, WINDOW).await?;
    if let Some(retry_after) = past(pair, MAX_PER_EMAIL_AND_IP) {
        return Err(throttled(retry_after));
    }
    let (by_email, by_ip) = tokio::join!(
        attempts::count(store, &keys.email, WINDOW),
        attempts::count(store, &keys.ip, WINDOW),
    );
    let retry_after = [past(by_email?, MAX_PER_EMAIL), past(by_ip?, MAX_PER_IP)]
        .into_iter()
        .flatten()
        .max();
    retry_after.map_or(Ok(()), |retry_after| Err(throttled(retry_after)))
}

/// The 429 of a login the throttle refused, logged (with the metric `LoginsThrottled`).
fn throttled(retry_after: u64) -> ApiError {
    let fields = serde_json::json!({ "retry_after": retry_after });
    crate::metrics::count("login throttled", &["LoginsThrottled"], fields);
    ApiError::TooManyRequests {
        retry_after,
        what: "failed login attempts",
    }
}

/// The seconds to wait when a counter `(n, until)` is past `limit`.
pub fn past((n, until): (i64, i64), limit: i64) -> Option<u64> {
    let now = DateTime::now().timestamp_millis();
    (n > limit).then(|| ((until - now).max(1000) as u64).div_ceil(1000))
}

/// After a successful login: forget the (email, IP) failures, give back the others.
pub async fn succeeded(store: &Store, email: &str, ip: &str) -> ApiResult<()> {
    let keys = Keys::new(email, ip);
    attempts::forget(store, &keys.pair, &[&keys.email, &keys.ip]).await?;
    Ok(())
}

/// The window of the write limits.
const WRITE_WINDOW: Duration = Duration::from_secs(60);

/// Counts `req` against the write limit of its authenticated caller `who` (`key:<id>`
/// or `user:<id>`); a read costs nothing.
pub async fn caller_write(app: &App, req: &Request, who: &str) -> ApiResult<()> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let limit = app.config.write_limits.per_caller;
    write(&app.store, &format!("writes:{who}"), limit).await
}

/// Counts an unauthenticated write against the limit of its client address.
pub async fn anonymous_write(app: &App, req: &Request) -> ApiResult<()> {
    let key = format!("writes:ip:{}", source_ip(req));
    write(&app.store, &key, app.config.write_limits.per_ip).await
}

async fn write(store: &Store, key: &str, limit: i64) -> ApiResult<()> {
    let counted = attempts::count(store, key, WRITE_WINDOW).await?;
    match past(counted, limit) {
        None => Ok(()),
        Some(retry_after) => Err(ApiError::TooManyRequests {
            retry_after,
            what: "writes",
        }),
    }
}
