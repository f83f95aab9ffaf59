//! Safe retries with `Idempotency-Key` (`POST /org/create`, `POST /org/items`).
//!
//! A key is scoped to the route and the caller (the organization of the token; for
//! create, the key alone) and kept 24 hours. The first request claims it; the same key
//! with the same request then replays the stored answer (`Idempotent-Replayed: true`),
//! with another request is 422, and while the first still runs is 409 with
//! `Retry-After`. A server error is not stored (a retry runs again); a 4xx after the
//! work started is. A request whose function died is taken over after a lease.
//!
//! The work itself is made safe to run twice: the id of what it creates is derived from
//! the key and the record's random nonce, so a retry after a crash between the work and
//! the stored answer finds the organization or item it made instead of making another
//! (or answering "already exists"), while the same key used again after its record
//! expired makes something new. Fingerprints are keyed hashes (HMAC with the service's
//! secret): a create's body holds a password, which must not be stored under a fast,
//! unkeyed hash. Their key is derived from the service's secret for this use alone
//! ([`crate::config::JwtSettings::derived_key`]), never the JWT key itself.

use aws_lc_rs::hmac;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use mongodb::bson::oid::ObjectId;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{body_bytes, route_path};
use crate::store::idempotency::{Answer, Claim};
use crate::store::{self, failpoint};

/// How long a running request holds its key before a retry may take it over.
const LEASE_MS: i64 = 30_000;
/// How long a key is kept.
const TTL_MS: i64 = 24 * 3600 * 1000;

/// The `Idempotency-Key` of a request, if it has one: 1–255 printable ASCII, else 422.
pub fn key(req: &Request) -> ApiResult<Option<String>> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(ApiError::invalid(
            &["header", "idempotency-key"],
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// The id of what the request with `key` in `scope` creates, under the claim's nonce:
/// the same for every retry of it.
fn derived_id(scope: &str, key: &str, nonce: &str) -> ObjectId {
    let seed = format!("{scope}|{key}|{nonce}");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, seed.as_bytes());
    let mut bytes = [0u8; 12];
    bytes.copy_from_slice(&digest.as_ref()[..12]);
    ObjectId::from_bytes(bytes)
}

/// What makes two requests "the same": method, route (with or without `/api/v1`)
/// and body, under a keyed hash.
fn fingerprint(app: &App, req: &Request) -> String {
    let path = route_path(req);
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let key = hmac::Key::new(
        hmac::HMAC_SHA256,
        &app.config.jwt.derived_key("idempotency-fingerprint"),
    );
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(format!("idempotency\n{} {path}\n", req.method()).as_bytes());
    ctx.update(body_bytes(req));
    crate::store::invitations::hex(ctx.sign().as_ref())
}

/// Runs `work` once per (`scope`, `key`): see the module. Without a key, just runs it.
/// `work` gets the id for what it creates (derived for a key, else `None`); `owner` is
/// the organization whose data the answer may hold.
pub async fn once<F, Fut>(
    app: &App,
    req: &Request,
    (scope, owner): (&str, Option<&str>),
    key: Option<&str>,
    work: F,
) -> ApiResult<Response<Body>>
where
    F: FnOnce(Option<ObjectId>) -> Fut,
    Fut: Future<Output = ApiResult<Response<Body>>>,
{
    let Some(key) = key else {
        return work(None).await;
    };
    let id = format!("{scope}|{key}");
    let fingerprint = fingerprint(app, req);
    let claimed =
        store::idempotency::claim(&app.store, &id, owner, &fingerprint, LEASE_MS, TTL_MS).await?;
    let nonce = match claimed {
        Claim::Done(answer) => return replay(&answer),
        Claim::InFlight(retry_after) => return Err(ApiError::InFlight { retry_after }),
        Claim::Mismatch => {
            return Err(ApiError::invalid(
                &["header", "idempotency-key"],
                "Idempotency-Key reused with a different request",
            ));
        }
        Claim::Fresh(nonce) => nonce,
    };
    let result = work(Some(derived_id(scope, key, &nonce))).await;
    let status = match &result {
        Ok(resp) => resp.status(),
        Err(err) => err.status(),
    };
    // A server error or "still in flight" (an earlier try's work not finished yet) is
    // no answer to keep: a retry runs the request again.
    if status.is_server_error() || matches!(result, Err(ApiError::InFlight { .. })) {
        store::idempotency::abandon(&app.store, &id).await?;
        return result;
    }
    let stored: ApiResult<()> = async {
        failpoint!(app.store, "idempotency.before_store");
        store::idempotency::finish(&app.store, &id, &answer_of(&result)).await?;
        Ok(())
    }
    .await;
    if let Err(err) = stored {
        // The work is done but its answer is not kept: a retry runs it again, and finds
        // what it made (see `derived_id`).
        let _ = store::idempotency::abandon(&app.store, &id).await;
        return Err(err);
    }
    result
}

/// The answer to keep for a result.
fn answer_of(result: &ApiResult<Response<Body>>) -> Answer {
    match result {
        Ok(resp) => Answer {
            status: resp.status().as_u16(),
            body: match resp.body() {
                Body::Text(t) => t.clone(),
                Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            },
            etag: resp
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        },
        Err(err) => Answer {
            status: err.status().as_u16(),
            body: serde_json::json!({ "detail": err.detail() }).to_string(),
            etag: None,
        },
    }
}

/// A stored answer, given again.
fn replay(answer: &Answer) -> ApiResult<Response<Body>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(answer.status).map_err(ApiError::internal)?)
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(etag) = &answer.etag {
        builder = builder.header(header::ETAG, etag.as_str());
    }
    builder
        .body(Body::Text(answer.body.clone()))
        .map_err(ApiError::internal)
}
