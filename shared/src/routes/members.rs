//! Members: `GET /org/members`, `PATCH /org/members/{user_id}` (a role) and
//! `DELETE /org/members/{user_id}` (remove, or leave).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::oid::ObjectId;
use serde::Serialize;

use crate::app::App;
use crate::auth::{Action, Caller, authenticate};
use crate::core::audit::{self, Target};
use crate::core::{lifecycle, membership, preconditions};
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::http::{JsonBody, if_match, json, no_content, page_limit, path_param, query};
use crate::routes::views::timestamp;
use crate::store::{Member, OrgDoc, gate, registry};

/// A member as the API shows it.
#[derive(Debug, Serialize)]
pub struct MemberView {
    user_id: String,
    email: String,
    role: &'static str,
    joined_at: String,
    email_verified: bool,
}

impl MemberView {
    fn new(user: ObjectId, member: &Member) -> Self {
        Self {
            user_id: user.to_hex(),
            email: member.email.clone(),
            role: member.role.as_str(),
            joined_at: timestamp(member.joined_at),
            email_verified: member.verified,
        }
    }
}

#[derive(Debug, Serialize)]
struct Page {
    members: Vec<MemberView>,
    next: Option<String>,
}

fn not_a_member() -> ApiError {
    ApiError::NotFound("Member not found".into())
}

/// The `{user_id}` of the path.
fn target(req: &Request) -> ApiResult<ObjectId> {
    path_param(req, "user_id")
        .and_then(|raw| ObjectId::parse_str(raw).ok())
        .ok_or_else(not_a_member)
}

/// `GET /org/members?limit=&after=`: the members, by user id.
pub async fn list(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let event = caller.event(&req, "member.listed");
    caller.authorize(app, Action::ListMembers, &event).await?;
    let limit = page_limit(&req)?;
    let after = match query(&req, "after") {
        None => None,
        Some(raw) => Some(
            ObjectId::parse_str(&raw)
                .map_err(|_| ApiError::invalid(&["query", "after"], "after must be a user id"))?,
        ),
    };
    let org = lifecycle::reload_settled(&app.store, caller.org.id).await?;
    let mut members = org
        .member_list()
        .filter(|(id, _)| after.is_none_or(|a| *id > a));
    let page: Vec<MemberView> = members
        .by_ref()
        .take(limit)
        .map(|(id, m)| MemberView::new(id, m))
        .collect();
    let next = members
        .next()
        .and_then(|_| page.last().map(|m| m.user_id.clone()));
    json(
        StatusCode::OK,
        &Page {
            members: page,
            next,
        },
    )
}

/// The body of `PATCH /org/members/{user_id}`.
struct RoleChange {
    role: Role,
}

impl TryFrom<JsonBody> for RoleChange {
    type Error = ApiError;

    fn try_from(mut body: JsonBody) -> ApiResult<Self> {
        let role = body.required("role", Role::parse);
        body.finish(|| Some(Self { role: role? }))
    }
}

/// The member `user` of the organization as it stands now, with the organization.
async fn current(app: &App, caller: &Caller, user: ObjectId) -> ApiResult<(OrgDoc, Member)> {
    let org = lifecycle::reload_settled(&app.store, caller.org.id).await?;
    let member = org.member(user).cloned().ok_or_else(not_a_member)?;
    Ok((org, member))
}

/// An API key never changes members: 403 (recorded) before anything is looked up.
async fn refuse_key(
    app: &App,
    req: &Request,
    caller: &Caller,
    action: &str,
    what: Action,
) -> ApiResult<()> {
    match caller.key {
        Some(_) => {
            caller
                .authorize(app, what, &caller.event(req, action))
                .await
        }
        None => Ok(()),
    }
}

fn last_owner() -> ApiError {
    ApiError::Conflict("The organization must keep at least one owner".into())
}

/// `PATCH /org/members/{user_id}`: changes a member's role. The organization always
/// keeps an owner (409), also when two owners demote each other at once: the write is
/// conditional on another owner remaining. With `If-Match`, nothing changes unless it
/// names the organization's current `ETag` (412): the tag is in the write's own filter,
/// so a refusal leaves the tag as it was, and a change that comes between this
/// request's read and its write makes it 412, never a change applied over another.
pub async fn change_role(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let user = target(&req)?;
    let input = RoleChange::try_from(JsonBody::parse(&req)?)?;
    let change = Action::ChangeRole {
        from: Role::Member,
        to: input.role,
    };
    refuse_key(app, &req, &caller, "member.role_changed", change).await?;
    let condition = if_match(&req);
    for _ in 0..3 {
        let (org, member) = current(app, &caller, user).await?;
        let event = caller
            .event(&req, "member.role_changed")
            .target(Target::new("user", user, Some(&member.email)))
            .roles(member.role, input.role);
        let action = Action::ChangeRole {
            from: member.role,
            to: input.role,
        };
        caller.authorize(app, action, &event).await?;
        preconditions::unchanged(&condition, org.version)?;
        if member.role == input.role {
            return json(StatusCode::OK, &MemberView::new(user, &member));
        }
        let roles = (member.role, input.role);
        let text = event.to_outbox();
        let tagged = condition.versions();
        gate!(app.store, "role.before_write");
        match registry::set_role(&app.store, caller.org.id, user, roles, tagged, Some(&text))
            .await?
        {
            Some(org) => {
                audit::drain(&app.store, &org).await?;
                let member = org.member(user).ok_or_else(not_a_member)?;
                tracing::info!(user_id = %user, role = %input.role, "role changed");
                return json(StatusCode::OK, &MemberView::new(user, member));
            }
            None => {
                // The role or the organization changed meanwhile (412 for a tagged
                // request; else look again), or no owner would be left.
                let (org, now) = current(app, &caller, user).await?;
                preconditions::unchanged(&condition, org.version)?;
                if now.role == member.role && member.role == Role::Owner && org.owners <= 1 {
                    return Err(last_owner());
                }
            }
        }
    }
    Err(ApiError::Conflict(
        "The member's role kept changing; try again".into(),
    ))
}

/// `DELETE /org/members/{user_id}`: removes a member, or, with one's own id, leaves.
/// The organization always keeps an owner (409). The account of a user left without
/// any organization is removed.
pub async fn remove(app: &App, req: Request) -> ApiResult<Response<Body>> {
    let caller = authenticate(app, &req).await?;
    let user = target(&req)?;
    refuse_key(
        app,
        &req,
        &caller,
        "member.removed",
        Action::Remove(Role::Member),
    )
    .await?;
    for _ in 0..3 {
        let (_, member) = current(app, &caller, user).await?;
        let (action, name) = if user == caller.user {
            (Action::Leave, "member.left")
        } else {
            (Action::Remove(member.role), "member.removed")
        };
        let event = caller
            .event(&req, name)
            .target(Target::new("user", user, Some(&member.email)))
            .meta("role", member.role.as_str());
        caller.authorize(app, action, &event).await?;
        if membership::leave(&app.store, caller.org.id, user, member.role, &event).await? {
            tracing::info!(user_id = %user, "member removed");
            return no_content();
        }
        let (org, now) = current(app, &caller, user).await?;
        if now.role == Role::Owner && org.owners <= 1 {
            return Err(last_owner());
        }
    }
    Err(ApiError::Conflict(
        "The member's role kept changing; try again".into(),
    ))
}
