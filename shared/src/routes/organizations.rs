//! Organizations: `POST /org/create`, `GET /org/get`, `GET /org/me`, `PUT /org/update`
//! (rename; one's own email or password) and `DELETE /org/delete`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::oid::ObjectId;
use serde::Serialize;

use crate::app::App;
use crate::auth::{Action, authenticate, password, throttle};
use crate::core::audit::{self, Context, Outcome, Target};
use crate::core::lifecycle::{self, Settled};
use crate::core::profile::{self, ProfileChanges};
use crate::core::{accounts, idempotency, membership, preconditions};
use crate::domain::{Email, ExternalId, Metadata, OrganizationName, Password, Profile};
use crate::error::{ApiError, ApiResult};
use crate::http::{
    JsonBody, app_url, if_match, json, json_tagged, no_content, query, required_query,
};
use crate::routes::views::{self, OrgView};
use crate::store::{PendingOp, registry};

/// The body of `POST /org/create`.
pub struct NewOrganization {
    name: OrganizationName,
    email: Email,
    password: Password,
    profile: Profile,
}

impl TryFrom<JsonBody> for NewOrganization {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let name = body.required("organization_name", OrganizationName::parse);
        let email = body.required("email", Email::parse);
        let password = body.required("password", Password::parse);
        let metadata = body.nullable("metadata", Metadata::parse).flatten();
        let external_id = body.optional("external_id", ExternalId::parse);
        body.finish(|| {
            Some(Self {
                name: name?,
                email: email?,
                password: password?,
                profile: Profile {
                    metadata: metadata.unwrap_or_default(),
                    external_id,
                },
            })
        })
    }
}

/// The body of `PUT /org/update`: at least one field.
pub struct OrganizationChanges {
    name: Option<OrganizationName>,
    email: Option<Email>,
    password: Option<Password>,
    profile: ProfileChanges,
}

impl TryFrom<JsonBody> for OrganizationChanges {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let name = body.optional("organization_name", OrganizationName::parse);
        let email = body.optional("email", Email::parse);
        let password = body.optional("password", Password::parse);
        let profile = ProfileChanges::read(&mut body);
        let fields = ["organization_name", "email", "password"];
        if fields.iter().all(|k| body.is_absent(k)) && profile.is_empty() {
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
                profile,
            })
        })
    }
}

/// `POST /org/create`: registers an organization, its first owner's account and its
/// collection.
pub async fn create(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let input = NewOrganization::try_from(JsonBody::parse(&req)?)?;
    let key = idempotency::key(&req)?;
    throttle::anonymous_write(app, &req).await?;
    let scope = ("org.create", None);
    let (req, input) = (&req, &input);
    idempotency::once(app, req, scope, key.as_deref(), |derived| async move {
        let id = match derived {
            Some(id) => {
                if let Some(org) = lifecycle::created_before(&app.store, id).await? {
                    return json(StatusCode::CREATED, &views::created(&org));
                }
                id
            }
            None => ObjectId::new(),
        };
        let hash = password::hash(input.password.expose(), app.config.bcrypt_cost).await?;
        let context = Context::of(req);
        let fields = (&input.name, &input.email, &input.profile);
        let org = lifecycle::create(&app.store, id, fields, hash, &context).await?;
        tracing::info!(org_id = %org.id, "organization created");
        json(StatusCode::CREATED, &views::created(&org))
    })
    .await
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
    json_tagged(StatusCode::OK, &OrgView::from(&org), org.version)
}

/// The body of `GET /org/me`.
#[derive(Debug, Serialize)]
struct MeView {
    user_id: String,
    email: String,
    email_verified: bool,
    role: &'static str,
    organization: serde_json::Value,
}

/// The body of `PUT /org/update`: the organization, and the address the caller is
/// changing to while its link is not confirmed (`EMAIL_CHANGE_VERIFICATION=true`).
#[derive(Debug, Serialize)]
struct UpdatedView {
    #[serde(flatten)]
    organization: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_email: Option<String>,
}

/// `GET /org/me`: who the caller is in its organization (a member, or an API key), and
/// the organization.
pub async fn me(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let event = caller.event(&req, "organization.read");
    caller
        .authorize(app, Action::ReadOrganization, &event)
        .await?;
    let org = lifecycle::reload_settled(&app.store, caller.org.id).await?;
    if let Some(name) = &caller.key {
        let key = serde_json::json!({
            "id": caller.user.to_hex(), "name": name, "role": caller.role.as_str(),
        });
        let body = serde_json::json!({ "api_key": key, "organization": views::profiled(&org) });
        return json_tagged(StatusCode::OK, &body, org.version);
    }
    json_tagged(
        StatusCode::OK,
        &MeView {
            user_id: caller.user.to_hex(),
            email: caller.email,
            email_verified: caller.verified,
            role: caller.role.as_str(),
            organization: views::profiled(&org),
        },
        org.version,
    )
}

/// `PUT /org/update`: renames the organization (moving its collection; owners only),
/// changes the caller's own email or password (a password change revokes the caller's
/// tokens in every organization). At least one field. With `If-Match`, nothing changes
/// unless it names the current `ETag` (412). A new email takes effect at once and is
/// unverified; with `EMAIL_CHANGE_VERIFICATION=true` it takes effect once the link sent
/// to it is confirmed, and the old address gets a notice.
pub async fn update(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let input = OrganizationChanges::try_from(JsonBody::parse(&req)?)?;
    let org_target = Target::new("organization", caller.org.id, Some(&caller.org.name));
    let renamed_event = caller
        .event(&req, "organization.renamed")
        .target(org_target.clone());
    let profile_event = caller
        .event(&req, "organization.updated")
        .target(org_target);
    if !input.profile.is_empty() {
        caller
            .authorize(app, Action::ChangeProfile, &profile_event)
            .await?;
    }
    if input.name.is_some() {
        caller
            .authorize(app, Action::Rename, &renamed_event)
            .await?;
    }
    if input.email.is_some() || input.password.is_some() {
        // A person's own account: never an API key's.
        let own = caller.event(&req, "user.account_changed");
        caller
            .authorize(app, Action::ChangeOwnAccount, &own)
            .await?;
    }
    let password_hash = match &input.password {
        Some(p) => Some(password::hash(p.expose(), app.config.bcrypt_cost).await?),
        None => None,
    };
    let id = caller.org.id;
    let claimed = preconditions::claim(&app.store, id, &if_match(&req)).await?;
    let me = Target::new("user", caller.user, Some(&caller.email));
    let verify_first = app.config.email.change_verification;
    let mut changed = false;
    let mut pending_email = None;
    let steps: ApiResult<_> = async {
        if !input.profile.is_empty() {
            profile::update(&app.store, id, &input.profile, &profile_event).await?;
            changed = true;
        }
        let renamed = match &input.name {
            Some(name) => {
                let org = lifecycle::rename(&app.store, caller.org.clone(), name, &renamed_event);
                Some(org.await?)
            }
            None => None,
        };
        changed |= renamed.is_some();
        match &input.email {
            // The address it has already: nothing to change (nor to unverify).
            Some(email) if email.as_str() == caller.email => {}
            Some(email) if verify_first => {
                let event = caller
                    .event(&req, "user.email_change_requested")
                    .target(me.clone())
                    .meta("to", email.as_str());
                let base = app_url(&app.config.email, &req);
                let whose = (caller.user, caller.org.id, caller.email.as_str());
                accounts::request_email_change(&app.store, whose, email.as_str(), &base).await?;
                audit::record(&app.store, caller.org.id, &[event]).await?;
                pending_email = Some(email.as_str().to_owned());
            }
            Some(email) => {
                let event = caller
                    .event(&req, "user.email_changed")
                    .target(me.clone())
                    .meta("to", email.as_str());
                let user = caller.user;
                membership::change_email(&app.store, user, email.as_str(), false, &event).await?;
                changed = true;
            }
            None => {}
        }
        if let Some(hash) = &password_hash {
            let event = caller.event(&req, "user.password_changed").target(me);
            membership::change_password(&app.store, caller.user, hash, &event).await?;
        }
        Ok(renamed)
    }
    .await;
    let renamed = match steps {
        Ok(renamed) => renamed,
        Err(err) => {
            // Refused before anything changed (a name or email taken): only a change
            // moves the ETag on.
            if !changed && err.status().is_client_error() {
                preconditions::release(&app.store, id, claimed).await?;
            }
            return Err(err);
        }
    };
    // The whole organization (its owners' emails): a rename alone answers with it.
    let org = match renamed {
        Some(org) if input.email.is_none() && input.password.is_none() => org,
        _ => lifecycle::reload_settled(&app.store, id).await?,
    };
    tracing::info!(org_id = %org.id, "organization updated");
    let view = UpdatedView {
        organization: views::profiled(&org),
        pending_email,
    };
    json_tagged(StatusCode::OK, &view, org.version)
}

/// `DELETE /org/delete[?organization_name=NAME]`: removes the organization, its
/// memberships, invitations and collection (and the accounts left without any
/// organization); every token of it stops working. Owners only.
pub async fn delete(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let target = Target::new("organization", caller.org.id, Some(&caller.org.name));
    let event = caller.event(&req, "organization.deleted").target(target);
    if let Some(named) = query(&req, "organization_name") {
        let same = OrganizationName::parse(&named).is_ok_and(|n| n.as_str() == caller.org.name);
        if !same {
            let mut denied = event.clone();
            denied.outcome = Outcome::Denied;
            audit::record(&app.store, caller.org.id, &[denied]).await?;
            return Err(ApiError::Forbidden(
                "You may only delete your own organization".into(),
            ));
        }
    }
    caller.authorize(app, Action::Delete, &event).await?;
    let id = caller.org.id;
    lifecycle::delete(&app.store, caller.org, &event).await?;
    tracing::info!(org_id = %id, "organization deleted");
    no_content()
}
