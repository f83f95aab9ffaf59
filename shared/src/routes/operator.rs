//! (v3) The operator API, across organizations: list and search, one organization in
//! detail, its profile, suspension and resumption, the restore of a deleted one. Only operators (see
//! [`crate::auth::operator`]); every change is in the organization's audit log with the
//! actor `{"type": "operator", "id": "<IAM principal ARN, or local>"}`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::oid::ObjectId;
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::operator::{self, Operator};
use crate::core::audit::{self, Actor, Context, Event, Outcome, Target};
use crate::core::profile::{self, ProfileChanges};
use crate::core::trash;
use crate::domain::{ExternalId, Metadata, OrganizationName, Role};
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, body_bytes, json, page_limit, path_param, query};
use crate::routes::views::timestamp;
use crate::store::registry::{After, OrgOrder, OrgQuery};
use crate::store::trash::DeletedOrg;
use crate::store::{OrgDoc, OrgStatus, Suspension, api_keys, registry, webhooks};

fn not_found() -> ApiError {
    ApiError::NotFound("Organization not found".into())
}

/// The path's `{id}` (404 when it cannot be an organization's).
fn target_id(req: &Request) -> ApiResult<ObjectId> {
    path_param(req, "id")
        .and_then(|raw| ObjectId::parse_str(raw).ok())
        .ok_or_else(not_found)
}

/// The organization of the path's `{id}`, whole (a deleted one is 404).
async fn target(app: &App, req: &Request) -> ApiResult<OrgDoc> {
    let id = target_id(req)?;
    registry::by_id(&app.store, id).await?.ok_or_else(not_found)
}

fn event(op: &Operator, req: &Request, action: &str, org: &OrgDoc) -> Event {
    Event::new(
        &Context::of(req),
        action,
        Outcome::Success,
        Actor::operator(&op.id),
    )
    .target(Target::new("organization", org.id, Some(&org.name)))
}

/// An organization as the operator's list shows it.
fn summary(org: &OrgDoc) -> Value {
    json!({
        "id": org.id.to_hex(),
        "organization_name": org.name,
        "external_id": org.external_id,
        "metadata": Metadata::from_json(org.metadata.as_deref()).to_value(),
        "status": org.status.as_str(),
        "members": org.member_count,
        "created_at": timestamp(org.created_at),
        "updated_at": org.updated_at.map(timestamp),
        "deleted_at": Value::Null,
        "purge_after": Value::Null,
        "suspension": org.suspension.as_ref().map(|s| json!({
            "reason": s.reason, "at": timestamp(s.at), "by": s.by,
        })),
    })
}

/// A deleted organization as the list shows it: as it was, `status: deleted`, with
/// when it was deleted and when it is purged.
fn deleted_summary(deleted: &DeletedOrg) -> Value {
    let mut view = summary(&deleted.org);
    view["status"] = json!("deleted");
    view["deleted_at"] = json!(timestamp(deleted.deleted_at));
    view["purge_after"] = json!(timestamp(deleted.purge_after));
    view
}

/// The list's query: `q`, `external_id`, `status`, `sort`, `limit`, `after`; and
/// whether it asks for the deleted organizations.
fn list_query(req: &Request) -> ApiResult<(OrgQuery, bool)> {
    let invalid = |field: &str, msg: &str| ApiError::invalid(&["query", field], msg);
    let name_prefix = match query(req, "q") {
        Some(q) => {
            let q = q.to_ascii_lowercase();
            let ok = q.len() <= 50
                && q.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(invalid("q", "q must be 1-50 of [A-Za-z0-9_-]"));
            }
            Some(q)
        }
        None => None,
    };
    let external_id = match query(req, "external_id") {
        Some(raw) => Some(
            ExternalId::parse(&raw)
                .map_err(|m| invalid("external_id", &m))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let (status, deleted) = match query(req, "status").as_deref() {
        None => (None, false),
        Some("active") => (Some(OrgStatus::Active), false),
        Some("suspended") => (Some(OrgStatus::Suspended), false),
        Some("deleted") => (None, true),
        Some(_) => {
            return Err(invalid(
                "status",
                "status must be active, suspended or deleted",
            ));
        }
    };
    let order = match query(req, "sort").as_deref() {
        None | Some("created_at") => OrgOrder::Created,
        Some("-created_at") => OrgOrder::CreatedDesc,
        Some("name") => OrgOrder::Name,
        Some(_) => {
            return Err(invalid(
                "sort",
                "sort must be created_at, -created_at or name",
            ));
        }
    };
    let after = match query(req, "after") {
        None => None,
        Some(raw) => Some(parse_after(&raw, order).ok_or_else(|| {
            invalid(
                "after",
                "after must be the next value of a page in this order",
            )
        })?),
    };
    let query = OrgQuery {
        name_prefix,
        external_id,
        status,
        order,
        after,
        limit: page_limit(req)?,
    };
    Ok((query, deleted))
}

/// A page's `next`: the last one's `created_key` in a creation order, its name in the
/// name order.
fn next_of(org: &OrgDoc, order: OrgOrder) -> String {
    match order {
        OrgOrder::Name => org.name.clone(),
        _ => org.created_key.clone(),
    }
}

/// A page of the list: `limit` of the organizations read (one more is read to know
/// whether there is a next page), as `view` shows them.
fn page_of<T>(
    mut found: Vec<T>,
    query: &OrgQuery,
    org: fn(&T) -> &OrgDoc,
    view: fn(&T) -> Value,
) -> Value {
    let next = (found.len() > query.limit).then(|| {
        found.truncate(query.limit);
        found.last().map(|o| next_of(org(o), query.order))
    });
    let page: Vec<Value> = found.iter().map(view).collect();
    json!({ "organizations": page, "next": next.flatten() })
}

fn parse_after(raw: &str, order: OrgOrder) -> Option<After> {
    match order {
        OrgOrder::Name => Some(After::Name(raw.to_owned())),
        _ => {
            let (ms, id) = raw.split_once('.')?;
            let ok = ms.len() == 13 && ms.bytes().all(|b| b.is_ascii_digit());
            (ok && ObjectId::parse_str(id).is_ok()).then(|| After::Created(raw.to_owned()))
        }
    }
}

/// `GET /operator/organizations`: a page of organizations, filtered by name prefix
/// (`q`), `external_id` and `status`, in `sort` order, from `after`.
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    operator::authenticate(app, &req)?;
    let (query, deleted) = list_query(&req)?;
    let page = if deleted {
        let (filter, sort) = registry::page_query(&query);
        let found =
            crate::store::trash::page(&app.store, filter, sort, query.limit as i64 + 1).await?;
        page_of(found, &query, |d| &d.org, deleted_summary)
    } else {
        let found = registry::page(&app.store, &query).await?;
        page_of(found, &query, |o| o, summary)
    };
    json(StatusCode::OK, &page)
}

/// `GET /operator/organizations/{id}`: the list's shape, plus its owners and how many
/// active API keys and webhook endpoints it has.
pub async fn get(app: &App, req: Request) -> ApiResult<Response<Body>> {
    operator::authenticate(app, &req)?;
    let id = target_id(&req)?;
    if let Some(org) = registry::by_id(&app.store, id).await? {
        return json(StatusCode::OK, &detail(app, &org).await?);
    }
    let deleted = crate::store::trash::by_id(&app.store, id)
        .await?
        .ok_or_else(not_found)?;
    let mut view = detail(app, &deleted.org).await?;
    for field in ["status", "deleted_at", "purge_after"] {
        view[field] = deleted_summary(&deleted)[field].clone();
    }
    json(StatusCode::OK, &view)
}

async fn detail(app: &App, org: &OrgDoc) -> ApiResult<Value> {
    let hex = org.id.to_hex();
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    let (keys, hooks) = tokio::join!(
        api_keys::list(&app.store, &hex),
        webhooks::list(&app.store, &hex)
    );
    let owners: Vec<Value> = org
        .members
        .iter()
        .filter(|(_, m)| m.role == Role::Owner)
        .map(|(key, m)| json!({ "user_id": key.trim_start_matches('u'), "email": m.email }))
        .collect();
    let mut view = summary(org);
    view["members"] = json!(org.members.len());
    view["owners"] = json!(owners);
    view["api_keys"] = json!(keys?.iter().filter(|k| k.active(now)).count());
    view["webhooks"] = json!(hooks?.iter().filter(|h| h.enabled).count());
    Ok(view)
}

/// `PATCH /operator/organizations/{id}` body `{"metadata"?, "external_id"?}`: the
/// profile, as `PUT /org/update` changes it.
pub async fn update(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let op = operator::authenticate(app, &req)?;
    let mut body = JsonBody::parse(&req)?;
    let changes = ProfileChanges::read(&mut body);
    if changes.is_empty() {
        body.reject(
            &["body"],
            "At least one of metadata, external_id is required",
        );
    }
    body.finish(|| Some(()))?;
    let org = target(app, &req).await?;
    let event = event(&op, &req, "organization.updated", &org);
    profile::update(&app.store, org.id, &changes, &event).await?;
    let org = registry::by_id(&app.store, org.id)
        .await?
        .ok_or_else(not_found)?;
    json(StatusCode::OK, &detail(app, &org).await?)
}

/// `POST /operator/organizations/{id}/suspend` body `{"reason"}` (1–500 characters):
/// every login, token and key of it is 403 from now on; its deliveries wait.
pub async fn suspend(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let op = operator::authenticate(app, &req)?;
    let mut body = JsonBody::parse(&req)?;
    let reason = body.required("reason", |raw| {
        let n = raw.trim().chars().count();
        if (1..=500).contains(&n) {
            Ok(raw.trim().to_owned())
        } else {
            Err("Reason must be 1-500 characters".into())
        }
    });
    let reason = body.finish(|| reason)?;
    let org = target(app, &req).await?;
    let suspension = Suspension {
        at: mongodb::bson::DateTime::now(),
        reason,
        by: op.id.clone(),
    };
    let event =
        event(&op, &req, "organization.suspended", &org).meta("reason", suspension.reason.as_str());
    set_status(app, &org, Some(&suspension), &event).await
}

/// `POST /operator/organizations/{id}/resume`: active again; deliveries resume.
pub async fn resume(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let op = operator::authenticate(app, &req)?;
    let org = target(app, &req).await?;
    let event = event(&op, &req, "organization.resumed", &org);
    set_status(app, &org, None, &event).await
}

async fn set_status(
    app: &App,
    org: &OrgDoc,
    suspension: Option<&Suspension>,
    event: &Event,
) -> ApiResult<Response<Body>> {
    let changed = registry::set_status(&app.store, org.id, suspension, &event.to_outbox())
        .await?
        .ok_or_else(not_found)?;
    audit::drain(&app.store, &changed).await?;
    if suspension.is_none() {
        let now = mongodb::bson::DateTime::now().timestamp_millis();
        webhooks::resume_waiting(&app.store, &org.id.to_hex(), now).await?;
    }
    tracing::info!(org_id = %org.id, status = changed.status.as_str(), "organization status set");
    json(StatusCode::OK, &detail(app, &changed).await?)
}

/// `POST /operator/organizations/{id}/restore` body `{"organization_name"?}` (optional,
/// and so is the body): a deleted organization back, within its grace period, under its
/// name or the one given (409 when that is taken), with `not_restored` listing the
/// members whose email another account took meanwhile.
pub async fn restore(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let op = operator::authenticate(app, &req)?;
    let name = if body_bytes(&req).iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let mut body = JsonBody::parse(&req)?;
        let name = body.optional("organization_name", OrganizationName::parse);
        body.finish(|| Some(name))?
    };
    let id = target_id(&req)?;
    let Some(kept) = crate::store::trash::by_id(&app.store, id).await? else {
        return Err(match registry::by_id(&app.store, id).await? {
            Some(_) => ApiError::Conflict("Organization is not deleted".into()),
            None => not_found(),
        });
    };
    let event = event(&op, &req, "organization.restored", &kept.org);
    let restored = trash::restore(&app.store, kept, name, &event).await?;
    let mut view = detail(app, &restored.org).await?;
    view["not_restored"] = restored
        .not_restored
        .iter()
        .map(|(email, reason)| json!({ "email": email, "reason": reason }))
        .collect();
    json(StatusCode::OK, &view)
}
