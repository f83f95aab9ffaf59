//! Webhook endpoints (owners and admins): `POST` and `GET /org/webhooks`, `GET`,
//! `PATCH` and `DELETE /org/webhooks/{id}`, `POST /org/webhooks/{id}/rotate-secret`
//! and `/test`, `GET /org/webhooks/{id}/deliveries` and `POST
//! /org/webhooks/{id}/deliveries/{delivery_id}/retry`. A secret is shown once, in the
//! answer that makes it; the dispatcher delivers (see [`crate::core::webhooks`]).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::{Action, Caller, authenticate};
use crate::core::audit::{self, Event, Target};
use crate::core::events::delivery;
use crate::core::webhooks::{self as hooks, Attempt, StoredSecret};
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, json as answer, no_content, page_limit, path_param, query};
use crate::routes::views::timestamp;
use crate::store::events::EventDoc;
use crate::store::webhooks::{self, DeliveryDoc, DeliveryStatus, WebhookDoc};

/// Endpoints an organization may have.
const MAX_ENDPOINTS: u64 = 10;

/// An endpoint as the API shows it; `secret` only in the answer that makes it.
#[derive(Debug, Serialize)]
struct WebhookView {
    id: String,
    url: String,
    events: Vec<String>,
    description: Option<String>,
    enabled: bool,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl WebhookView {
    fn new(hook: &WebhookDoc, secret: Option<String>) -> Self {
        Self {
            id: hook.id.clone(),
            url: hook.url.clone(),
            events: hook.events.clone(),
            description: hook.description.clone(),
            enabled: hook.enabled,
            created_at: timestamp(hook.created_at),
            secret,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("Webhook not found".into())
}

/// The caller, allowed to manage webhooks, with the audit event of `action` ready.
async fn manager(app: &App, req: &Request, action: &str) -> ApiResult<(Caller, Event)> {
    let caller = authenticate(app, req).await?;
    let event = caller.event(req, action);
    caller
        .authorize(app, Action::ManageWebhooks, &event)
        .await?;
    Ok((caller, event))
}

/// The endpoint `{id}` of the caller's organization.
async fn endpoint(app: &App, req: &Request, caller: &Caller) -> ApiResult<WebhookDoc> {
    let id = path_param(req, "id").ok_or_else(not_found)?;
    webhooks::by_id(&app.store, &caller.org.id.to_hex(), &id)
        .await?
        .ok_or_else(not_found)
}

fn target(hook: &WebhookDoc) -> Target {
    Target::new("webhook", &hook.id, Some(&hook.url))
}

/// An endpoint URL: its form, then its host's addresses (422 for either).
async fn url(app: &App, raw: &str) -> Result<String, String> {
    let url = hooks::check_url(raw, app.config.local)?;
    hooks::safe_address(&url, app.config.local).await?;
    Ok(raw.to_owned())
}

/// An event type list: `["*"]` or 1 to 50 types.
fn event_types(value: &Value) -> Result<Vec<String>, String> {
    let bad = || "events must be [\"*\"] or a list of 1 to 50 event types".to_owned();
    let list = value.as_array().ok_or_else(bad)?;
    let types: Vec<String> = list
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let valid = |t: &String| {
        t == "*"
            || (t.len() <= 100
                && t.contains('.')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
    };
    if types.is_empty() || types.len() > 50 || !types.iter().all(valid) {
        return Err(bad());
    }
    Ok(types)
}

fn description(raw: &str) -> Result<String, String> {
    if raw.chars().count() > 500 {
        return Err("description must be at most 500 characters".into());
    }
    Ok(raw.to_owned())
}

/// The fields of a create or an update, each checked.
struct Fields {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
}

async fn fields(app: &App, req: &Request, creating: bool) -> ApiResult<Fields> {
    let mut body = JsonBody::parse(req)?;
    let raw_url = if creating {
        body.required("url", |s| Ok(s.to_owned()))
    } else {
        body.optional("url", |s| Ok(s.to_owned()))
    };
    let events_value = body.value("events");
    let description = body.optional("description", description);
    let enabled = if creating {
        None
    } else {
        body.optional_bool("enabled")
    };
    let events = match (&events_value, creating) {
        (None, true) => {
            body.reject(&["body", "events"], "Field required");
            None
        }
        (None, false) => None,
        (Some(v), _) => match event_types(v) {
            Ok(types) => Some(types),
            Err(msg) => {
                body.reject(&["body", "events"], &msg);
                None
            }
        },
    };
    let url = match &raw_url {
        Some(raw) => match url(app, raw).await {
            Ok(url) => Some(url),
            Err(msg) => {
                body.reject(&["body", "url"], &msg);
                None
            }
        },
        None => None,
    };
    body.finish(|| {
        Some(Fields {
            url,
            events,
            description,
            enabled,
        })
    })
}

/// `POST /org/webhooks`: registers an endpoint (at most ten); the answer shows its
/// secret, once.
pub async fn create(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, event) = manager(app, &req, "webhook.created").await?;
    let input = fields(app, &req, true).await?;
    let org = caller.org.id.to_hex();
    if webhooks::count(&app.store, &org).await? >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict(format!(
            "An organization may have at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let (secret, stored) = hooks::new_secret(&app.config.jwt);
    let hook = WebhookDoc {
        id: format!("wh_{}", ObjectId::new().to_hex()),
        org,
        url: input.url.unwrap_or_default(),
        events: input.events.unwrap_or_default(),
        description: input.description,
        enabled: true,
        secrets: serde_json::to_string(&[stored]).unwrap_or_default(),
        // The time of its creation event: what happens later is the endpoint's.
        created_at: DateTime::from_millis(event.at_ms),
        failing_since_ms: None,
    };
    webhooks::insert(&app.store, &hook).await?;
    audit::record(&app.store, caller.org.id, &[event.target(target(&hook))]).await?;
    tracing::info!(webhook = %hook.id, "webhook created");
    answer(StatusCode::CREATED, &WebhookView::new(&hook, Some(secret)))
}

/// `GET /org/webhooks`: the endpoints (never a secret).
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, _) = manager(app, &req, "webhook.listed").await?;
    let hooks = webhooks::list(&app.store, &caller.org.id.to_hex()).await?;
    let views: Vec<WebhookView> = hooks.iter().map(|h| WebhookView::new(h, None)).collect();
    answer(StatusCode::OK, &json!({ "webhooks": views }))
}

/// `GET /org/webhooks/{id}`.
pub async fn get(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, _) = manager(app, &req, "webhook.read").await?;
    let hook = endpoint(app, &req, &caller).await?;
    answer(StatusCode::OK, &WebhookView::new(&hook, None))
}

/// `PATCH /org/webhooks/{id}`: `url`, `events`, `description`, `enabled` (enabling
/// starts its failure clock afresh).
pub async fn update(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, event) = manager(app, &req, "webhook.updated").await?;
    let hook = endpoint(app, &req, &caller).await?;
    let input = fields(app, &req, false).await?;
    let mut set = Document::new();
    let mut unset = Document::new();
    if let Some(url) = &input.url {
        set.insert("url", url);
    }
    if let Some(events) = &input.events {
        set.insert("events", events);
    }
    if let Some(description) = &input.description {
        set.insert("description", description);
    }
    if let Some(enabled) = input.enabled {
        set.insert("enabled", enabled);
        if enabled {
            unset.insert("failing_since_ms", "");
        }
    }
    if set.is_empty() {
        return Err(ApiError::invalid(
            &["body"],
            "Give at least one of url, events, description, enabled",
        ));
    }
    let org = caller.org.id.to_hex();
    let after = webhooks::update(&app.store, &org, &hook.id, set, unset)
        .await?
        .ok_or_else(not_found)?;
    audit::record(&app.store, caller.org.id, &[event.target(target(&after))]).await?;
    answer(StatusCode::OK, &WebhookView::new(&after, None))
}

/// `DELETE /org/webhooks/{id}`: the endpoint and its deliveries.
pub async fn delete(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, event) = manager(app, &req, "webhook.deleted").await?;
    let hook = endpoint(app, &req, &caller).await?;
    if !webhooks::delete(&app.store, &caller.org.id.to_hex(), &hook.id).await? {
        return Err(not_found());
    }
    audit::record(&app.store, caller.org.id, &[event.target(target(&hook))]).await?;
    no_content()
}

/// `POST /org/webhooks/{id}/rotate-secret`: a new secret, shown once; the old one
/// signs too for 24 hours.
pub async fn rotate(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, event) = manager(app, &req, "webhook.secret_rotated").await?;
    let hook = endpoint(app, &req, &caller).await?;
    let (secret, fresh): (String, StoredSecret) = hooks::new_secret(&app.config.jwt);
    let now = DateTime::now().timestamp_millis();
    let secrets = hooks::rotated(&hook.secrets, fresh, now);
    let org = caller.org.id.to_hex();
    webhooks::update(
        &app.store,
        &org,
        &hook.id,
        doc! { "secrets": secrets },
        doc! {},
    )
    .await?
    .ok_or_else(not_found)?;
    audit::record(&app.store, caller.org.id, &[event.target(target(&hook))]).await?;
    answer(StatusCode::OK, &json!({ "secret": secret }))
}

/// `POST /org/webhooks/{id}/test`: a `webhook.test` event, delivered to this endpoint
/// alone (202). A disabled endpoint gets nothing: 409.
pub async fn test(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, _) = manager(app, &req, "webhook.tested").await?;
    let hook = endpoint(app, &req, &caller).await?;
    if !hook.enabled {
        return Err(ApiError::Conflict(
            "The endpoint is disabled: enable it first".into(),
        ));
    }
    let now = DateTime::now();
    let id = format!("test_{}", ObjectId::new().to_hex());
    let body = json!({
        "id": id,
        "type": "webhook.test",
        "sequence": 0,
        "occurred_at": timestamp(now),
        "organization_id": hook.org,
        "data": { "webhook_id": hook.id },
    });
    let event = EventDoc {
        id: format!("{id}:{}", hook.org),
        org: hook.org.clone(),
        seq: 0,
        kind: "webhook.test".into(),
        event_id: id,
        body: body.to_string(),
        occurred_ms: now.timestamp_millis(),
    };
    let made = delivery(&hook, &event, now.timestamp_millis());
    webhooks::create(&app.store, std::slice::from_ref(&made)).await?;
    answer(
        StatusCode::ACCEPTED,
        &json!({ "detail": "A test event is on its way", "delivery_id": made.id }),
    )
}

/// A delivery as the API shows it.
#[derive(Debug, Serialize)]
struct DeliveryView {
    id: String,
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    sequence: i64,
    status: DeliveryStatus,
    next_attempt_at: Option<String>,
    attempts: Vec<Attempt>,
}

impl DeliveryView {
    fn new(d: &DeliveryDoc) -> Self {
        let pending = d.status == DeliveryStatus::Pending && d.due_ms != i64::MAX;
        Self {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            kind: d.kind.clone(),
            sequence: d.seq,
            status: d.status,
            next_attempt_at: pending.then(|| timestamp(DateTime::from_millis(d.due_ms))),
            attempts: serde_json::from_str(&d.attempts).unwrap_or_default(),
        }
    }
}

fn cursor(d: &DeliveryDoc) -> String {
    format!("{}.{}", d.created_ms, d.id)
}

/// `GET /org/webhooks/{id}/deliveries?status=&limit=&after=`: newest first.
pub async fn deliveries(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, _) = manager(app, &req, "webhook.deliveries_listed").await?;
    let hook = endpoint(app, &req, &caller).await?;
    let limit = page_limit(&req)?;
    let status = match query(&req, "status").as_deref() {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("succeeded") => Some(DeliveryStatus::Succeeded),
        Some("failed") => Some(DeliveryStatus::Failed),
        Some(_) => {
            return Err(ApiError::invalid(
                &["query", "status"],
                "status must be pending, succeeded or failed",
            ));
        }
    };
    let after = match query(&req, "after") {
        None => None,
        Some(raw) => Some(
            raw.split_once('.')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| {
                    ApiError::invalid(&["query", "after"], "after must be a `next` value")
                })?,
        ),
    };
    let mut page = webhooks::page(&app.store, &hook.id, status, after, limit as i64 + 1).await?;
    let next = (page.len() > limit).then(|| {
        page.truncate(limit);
        page.last().map(cursor)
    });
    let views: Vec<DeliveryView> = page.iter().map(DeliveryView::new).collect();
    answer(
        StatusCode::OK,
        &json!({ "deliveries": views, "next": next.flatten() }),
    )
}

/// `POST /org/webhooks/{id}/deliveries/{delivery_id}/retry`: one more attempt now, with
/// the same `webhook-id` (202).
pub async fn retry(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let (caller, _) = manager(app, &req, "webhook.delivery_retried").await?;
    let hook = endpoint(app, &req, &caller).await?;
    if !hook.enabled {
        return Err(ApiError::Conflict(
            "The endpoint is disabled: enable it first".into(),
        ));
    }
    let id = path_param(&req, "delivery_id")
        .ok_or_else(|| ApiError::NotFound("Delivery not found".into()))?;
    let now = DateTime::now().timestamp_millis();
    let retried = webhooks::due_now(&app.store, &hook.id, &id, now)
        .await?
        .ok_or_else(|| ApiError::NotFound("Delivery not found".into()))?;
    answer(
        StatusCode::ACCEPTED,
        &json!({ "detail": "One more attempt is on its way", "delivery_id": retried.id }),
    )
}
