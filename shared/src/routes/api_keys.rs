//! API keys (owners and admins): `POST` and `GET /org/api-keys`, `DELETE
//! /org/api-keys/{id}`. A key is shown once, in the answer that makes it; it belongs to
//! the organization, not to the member who made it (see [`crate::auth::keys`]).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::{DateTime, oid::ObjectId};
use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::auth::keys::{self, PREFIX_LEN};
use crate::auth::{Action, Caller, authenticate};
use crate::core::audit::{self, Event, Target};
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, json as answer, no_content, path_param};
use crate::routes::views::timestamp;
use crate::store::api_keys::{self, KeyDoc};

/// Active keys an organization may have.
const MAX_ACTIVE: usize = 50;
/// How long a revoked or expired key stays in the list.
const SHOWN_AFTER_MS: i64 = 30 * 24 * 3600 * 1000;
const MS_PER_DAY: i64 = 24 * 3600 * 1000;

/// A key as the API shows it; `key` only in the answer that makes it.
#[derive(Debug, Serialize)]
struct KeyView {
    id: String,
    name: String,
    role: &'static str,
    prefix: String,
    created_at: String,
    created_by: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl KeyView {
    fn new(key: &KeyDoc, secret: Option<String>, now_ms: i64) -> Self {
        let status = match key.revoked_ms {
            Some(_) => "revoked",
            None if !key.active(now_ms) => "expired",
            None => "active",
        };
        let at = |ms: i64| timestamp(DateTime::from_millis(ms));
        Self {
            id: key.id.to_hex(),
            name: key.name.clone(),
            role: key.role.as_str(),
            prefix: key.prefix.clone(),
            created_at: timestamp(key.created_at),
            created_by: key.created_by.clone(),
            expires_at: key.expires_ms.map(at),
            last_used_at: (key.last_used_ms > 0).then(|| at(key.last_used_ms)),
            status,
            key: secret,
        }
    }
}

/// The caller, allowed to manage keys, with the audit event of `action` ready.
async fn manager(app: &App, req: &Request, action: &str) -> ApiResult<(Caller, Event)> {
    let caller = authenticate(app, req).await?;
    let event = caller.event(req, action);
    caller.authorize(app, Action::ManageKeys, &event).await?;
    Ok((caller, event))
}

fn key_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("name must be 1 to 100 characters long".into());
    }
    Ok(name.to_owned())
}

fn key_role(raw: &str) -> Result<Role, String> {
    match Role::parse(raw)? {
        Role::Owner => Err("role must be member or admin".into()),
        role => Ok(role),
    }
}

/// `POST /org/api-keys` body `{"name", "role"?, "expires_in_days"?}`: a new key of the
/// organization, shown once; its role is at most the caller's own; 409 past 50 active.
pub async fn create(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, event) = manager(app, &req, "api_key.created").await?;
    let mut body = JsonBody::parse(&req)?;
    let name = body.required("name", key_name);
    let role = body.optional("role", key_role);
    let days = body.optional_integer("expires_in_days", 1..=365);
    let (name, role, days) = body.finish(|| Some((name?, role.unwrap_or(Role::Member), days)))?;
    if role > caller.role {
        return Err(ApiError::invalid(
            &["body", "role"],
            "role must not be above your own",
        ));
    }
    let org = caller.org.id.to_hex();
    let now = DateTime::now().timestamp_millis();
    let active = api_keys::list(&app.store, &org)
        .await?
        .iter()
        .filter(|k| k.active(now))
        .count();
    if active >= MAX_ACTIVE {
        return Err(ApiError::Conflict(format!(
            "An organization may have at most {MAX_ACTIVE} active API keys"
        )));
    }
    let secret = keys::new_key();
    let key = KeyDoc {
        id: ObjectId::new(),
        org,
        name,
        role,
        prefix: secret[..PREFIX_LEN].to_owned(),
        hmac: keys::digest(&app.config.jwt, &secret),
        created_by: caller.user.to_hex(),
        created_at: DateTime::from_millis(now),
        expires_ms: days.map(|d| now + d * MS_PER_DAY),
        revoked_ms: None,
        last_used_ms: 0,
    };
    api_keys::insert(&app.store, &key).await?;
    let target = Target::new("api_key", key.id, Some(&key.name));
    audit::record(&app.store, caller.org.id, &[event.target(target)]).await?;
    tracing::info!(key = %key.id, prefix = %key.prefix, "API key created");
    answer(StatusCode::CREATED, &KeyView::new(&key, Some(secret), now))
}

/// `GET /org/api-keys`: the keys that work, and those revoked or expired in the last 30
/// days (never a key, nor its HMAC).
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, _) = manager(app, &req, "api_key.listed").await?;
    let now = DateTime::now().timestamp_millis();
    let keys = api_keys::list(&app.store, &caller.org.id.to_hex()).await?;
    let views: Vec<KeyView> = keys
        .iter()
        .filter(|k| {
            let ended = k.revoked_ms.or(k.expires_ms.filter(|e| *e <= now));
            ended.is_none_or(|at| at > now - SHOWN_AFTER_MS)
        })
        .map(|k| KeyView::new(k, None, now))
        .collect();
    answer(StatusCode::OK, &json!({ "api_keys": views }))
}

/// `DELETE /org/api-keys/{id}`: the key stops working at once (204).
pub async fn revoke(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, event) = manager(app, &req, "api_key.revoked").await?;
    let not_found = || ApiError::NotFound("API key not found".into());
    let id = path_param(&req, "id")
        .and_then(|raw| ObjectId::parse_str(raw).ok())
        .ok_or_else(not_found)?;
    let now = DateTime::now().timestamp_millis();
    let key = api_keys::revoke(&app.store, &caller.org.id.to_hex(), id, now)
        .await?
        .ok_or_else(not_found)?;
    let target = Target::new("api_key", id, Some(&key.name));
    audit::record(&app.store, caller.org.id, &[event.target(target)]).await?;
    tracing::info!(key = %id, "API key revoked");
    no_content()
}
