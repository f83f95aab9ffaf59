//! Authentication: tokens, passwords, the login throttle, and the bearer check.

pub mod jwt;
pub mod password;
pub mod throttle;

use lambda_http::Request;
use mongodb::bson::oid::ObjectId;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::bearer_token;
use crate::org::lifecycle::{self, Settled};
use crate::store::{OrgDoc, registry};

fn unauthorized(msg: &str) -> ApiError {
    ApiError::Unauthorized(msg.to_owned())
}

/// The organization whose admin holds a valid, unrevoked token: one indexed read.
/// Any operation left in flight on it is finished first.
pub async fn authenticate(app: &App, req: &Request) -> ApiResult<OrgDoc> {
    let token = bearer_token(req).ok_or_else(|| unauthorized("Not authenticated"))?;
    let claims = jwt::verify(&app.config.jwt, token)
        .map_err(|_| unauthorized("Could not validate credentials"))?;
    let org_id = ObjectId::parse_str(&claims.org_id)
        .map_err(|_| unauthorized("Could not validate credentials"))?;
    let org = registry::by_id(&app.store, org_id)
        .await?
        .ok_or_else(|| unauthorized("Token has been revoked"))?;
    if org.admin_id.to_hex() != claims.sub || org.token_version != claims.ver {
        return Err(unauthorized("Token has been revoked"));
    }
    match lifecycle::settle(&app.store, org).await? {
        Settled::Ready(org) => Ok(org),
        Settled::Creating(_) | Settled::Gone => Err(unauthorized("Token has been revoked")),
    }
}
