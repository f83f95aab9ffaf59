//! Organization routes: create, get, me, update (rename; one's own email or
//! password), delete.

pub mod lifecycle;
pub mod membership;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::DateTime;
use serde::Serialize;

use crate::app::App;
use crate::auth::{Action, authenticate, password};
use crate::domain::{Email, OrganizationName, Password};
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, json, no_content, query, required_query};
use crate::store::{OrgDoc, PendingOp, registry};
use lifecycle::Settled;

/// The organization as the API shows it (never a hash or secret).
#[derive(Debug, Serialize)]
pub struct OrgView {
    id: String,
    organization_name: String,
    email: String,
    collection_name: String,
    connection_details: String,
    created_at: String,
    updated_at: Option<String>,
}

/// RFC 3339 in UTC, as the contract shows timestamps.
pub fn timestamp(t: DateTime) -> String {
    t.try_to_rfc3339_string()
        .unwrap_or_else(|_| t.timestamp_millis().to_string())
}

impl From<&OrgDoc> for OrgView {
    fn from(org: &OrgDoc) -> Self {
        Self {
            id: org.id.to_hex(),
            organization_name: org.name.clone(),
            email: org.owner_email().to_owned(),
            collection_name: org.collection_name.clone(),
            connection_details: format!("Collection: {}", org.collection_name),
            created_at: timestamp(org.created_at),
            updated_at: org.updated_at.map(timestamp),
        }
    }
}

/// The body of `POST /org/create`.
pub struct NewOrganization {
    name: OrganizationName,
    email: Email,
    password: Password,
}

impl TryFrom<JsonBody> for NewOrganization {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let name = body.required("organization_name", OrganizationName::parse);
        let email = body.required("email", Email::parse);
        let password = body.required("password", Password::parse);
        body.finish(|| {
            Some(Self {
                name: name?,
                email: email?,
                password: password?,
            })
        })
    }
}

/// The body of `PUT /org/update`: at least one field.
pub struct OrganizationChanges {
    name: Option<OrganizationName>,
    email: Option<Email>,
    password: Option<Password>,
}

impl TryFrom<JsonBody> for OrganizationChanges {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let name = body.optional("organization_name", OrganizationName::parse);
        let email = body.optional("email", Email::parse);
        let password = body.optional("password", Password::parse);
        let fields = ["organization_name", "email", "password"];
        if fields.iter().all(|k| body.is_absent(k)) {
            body.reject(
                &["body"],
                "At least one of organization_name, email, password is required",
            );
        }
        body.finish(|| {
            Some(Self {
                name,
                email,
                password,
            })
        })
    }
}

/// `POST /org/create`: registers an organization, its first owner's account and its
/// collection.
pub async fn create(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let input = NewOrganization::try_from(JsonBody::parse(&req)?)?;
    let hash = password::hash(input.password.expose(), app.config.bcrypt_cost).await?;
    let (org, owner) = lifecycle::create(&app.store, &input.name, &input.email, hash).await?;
    tracing::info!(org_id = %org.id, user_id = %owner, "organization created");
    json(StatusCode::CREATED, &OrgView::from(&org))
}

/// `GET /org/get?organization_name=NAME`: the organization, by name (any letter case).
pub async fn get(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let raw = required_query(&req, "organization_name")?;
    let name = OrganizationName::parse(&raw)
        .map_err(|msg| ApiError::invalid(&["query", "organization_name"], msg))?;
    let not_found = || ApiError::NotFound(format!("Organization '{}' not found", name.as_str()));
    let mut org = registry::by_name(&app.store, name.as_str())
        .await?
        .ok_or_else(not_found)?;
    if org.admin_id.is_some() {
        membership::migrate_admin(&app.store, &org).await?;
        org = lifecycle::reload_settled(&app.store, org.id).await?;
    }
    // A rename in flight already shows the new name; anything else is settled.
    let org = match org.pending_op() {
        None | Some(PendingOp::Rename) => org,
        Some(_) => match lifecycle::settle(&app.store, org).await? {
            Settled::Ready(org) => org,
            Settled::Creating(_) | Settled::Gone => return Err(not_found()),
        },
    };
    json(StatusCode::OK, &OrgView::from(&org))
}

/// The body of `GET /org/me`.
#[derive(Debug, Serialize)]
struct MeView {
    user_id: String,
    email: String,
    role: &'static str,
    organization: OrgView,
}

/// `GET /org/me`: who the caller is in its organization, and the organization.
pub async fn me(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    caller.may(Action::ReadOrganization)?;
    let org = lifecycle::reload_settled(&app.store, caller.org.id).await?;
    json(
        StatusCode::OK,
        &MeView {
            user_id: caller.user.to_hex(),
            email: caller.email,
            role: caller.role.as_str(),
            organization: OrgView::from(&org),
        },
    )
}

/// `PUT /org/update`: renames the organization (moving its collection; owners only),
/// changes the caller's own email or password (a password change revokes the caller's
/// tokens in every organization). At least one field.
pub async fn update(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let input = OrganizationChanges::try_from(JsonBody::parse(&req)?)?;
    if input.name.is_some() {
        caller.may(Action::Rename)?;
    }
    if input.email.is_some() || input.password.is_some() {
        caller.may(Action::ChangeOwnAccount)?;
    }
    let password_hash = match &input.password {
        Some(p) => Some(password::hash(p.expose(), app.config.bcrypt_cost).await?),
        None => None,
    };
    let id = caller.org.id;
    let renamed = match &input.name {
        Some(name) => Some(lifecycle::rename(&app.store, caller.org, name).await?),
        None => None,
    };
    if let Some(email) = &input.email {
        membership::change_email(&app.store, caller.user, email.as_str()).await?;
    }
    if let Some(hash) = &password_hash {
        membership::change_password(&app.store, caller.user, hash).await?;
    }
    // The whole organization (its owners' emails): a rename alone answers with it.
    let org = match renamed {
        Some(org) if input.email.is_none() && input.password.is_none() => org,
        _ => lifecycle::reload_settled(&app.store, id).await?,
    };
    tracing::info!(org_id = %org.id, "organization updated");
    json(StatusCode::OK, &OrgView::from(&org))
}

/// `DELETE /org/delete[?organization_name=NAME]`: removes the organization, its
/// memberships, invitations and collection (and the accounts left without any
/// organization); every token of it stops working. Owners only.
pub async fn delete(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    if let Some(named) = query(&req, "organization_name") {
        let same = OrganizationName::parse(&named).is_ok_and(|n| n.as_str() == caller.org.name);
        if !same {
            return Err(ApiError::Forbidden(
                "You may only delete your own organization".into(),
            ));
        }
    }
    caller.may(Action::Delete)?;
    let id = caller.org.id;
    lifecycle::delete(&app.store, caller.org).await?;
    tracing::info!(org_id = %id, "organization deleted");
    no_content()
}
